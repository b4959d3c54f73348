// Timers of the transaction users, beside the transaction layer's own (txn/): one deadline per
// (owner, user handle), for what RFC 3261 gives the TU rather than a transaction — the UAS core's 2xx
// retransmission until the ACK (§13.3.1.4), and later a registration's refresh or an OPTIONS ping. A
// fixed table (TU_TIMERS slots) with one heap over it, sized at build time; setting a timer when every
// slot is taken fails (the caller refuses the work), nothing is allocated after start-up.
// host/dispatch.ts runs the due ones after the transactions' and hands each to its owner.

import { UA_DIALOGS, USER_AGENT, REG_ACCOUNTS } from "../config";
import { MinHeap } from "../util/minheap";
import { tableAlloc } from "../util/alloc";

/** Slots: two per user agent dialog (a 2xx retransmission and one more of the call's), and one per
 * registrant account (its refresh or its retry). */
export const TU_TIMERS: i32 = UA_DIALOGS * 2 + REG_ACCOUNTS;
// per slot: +0 u32 owner (0 = free), +4 u32 user handle
const slots: usize = USER_AGENT ? tableAlloc(<usize>TU_TIMERS * 8) : 0;
const due = USER_AGENT ? new MinHeap(TU_TIMERS) : changetype<MinHeap>(0); // none where USER_AGENT is off

/** A due TU timer, as tuTimerPop reports it (the slot is free again when it is reported). */
export class TuTimerUp {
  owner: u32 = 0;
  user: u32 = 0;
}

/** Forget every timer. */
export function tuTimersReset(): void {
  memory.fill(slots, 0, <usize>TU_TIMERS * 8);
  due.clear();
}

function find(owner: u32, user: u32): i32 {
  for (let i = 0; i < TU_TIMERS; i++) {
    const s = slots + (<usize>i << 3);
    if (load<u32>(s) == owner && load<u32>(s, 4) == user) return i;
  }
  return -1;
}

/** Arm (or move) the one timer of (owner, user) at time `at`. False when every slot is taken. */
export function tuTimerSet(owner: u32, user: u32, at: i64): bool {
  let i = find(owner, user);
  if (i < 0) i = find(0, 0);
  if (i < 0) return false;
  const s = slots + (<usize>i << 3);
  store<u32>(s, owner);
  store<u32>(s, user, 4);
  due.set(i, at > 0 ? at : 1);
  return true;
}

/** Disarm the timer of (owner, user), if armed. */
export function tuTimerCancel(owner: u32, user: u32): void {
  const i = find(owner, user);
  if (i < 0) return;
  store<u64>(slots + (<usize>i << 3), 0);
  due.remove(i);
}

/** The earliest TU deadline, or -1. */
export function tuTimerNext(): i64 {
  return due.peekKey();
}

/** Timers in use (a stat). */
export function tuTimersInUse(): i32 {
  let n = 0;
  for (let i = 0; i < TU_TIMERS; i++) if (load<u32>(slots + (<usize>i << 3)) != 0) n++;
  return n;
}

/** Take the earliest timer due at `now` into `up` (its slot is freed); false when none is due. */
export function tuTimerPop(now: i64, up: TuTimerUp): bool {
  const i = due.peek();
  if (i < 0 || due.peekKey() > now) return false;
  const s = slots + (<usize>i << 3);
  up.owner = load<u32>(s);
  up.user = load<u32>(s, 4);
  store<u64>(s, 0);
  due.remove(i);
  return true;
}
