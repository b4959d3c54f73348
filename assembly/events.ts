// Events the core hands the host to log (registrations, calls, refusals): a fixed ring of records in
// the ABI's layout (docs/ABI.md). When the host does not drain it in time the oldest record is
// overwritten and counted as lost; events are for logging and auditing, they never hold up SIP.

import { Peer, PEER_SIZE } from "./net/peer";
import { MAX_EVENTS } from "./config";
import { TEXT } from "./wire/tables";
import { WORK_BUF } from "./wire/buffers";
import { EventKind } from "./host/numbers";

// The kinds are numbered in host/shared/abi.json (generated into ./host/numbers.ts, with every host's
// names, log levels and field labels): 11 auth-fail (code = AuthVerdict; text0 = user as sent),
// 12 policy-refusal (code = status, 0 when dropped; text3 = which rule), 13 flood-blocked (code = 503,
// or 0 when dropping).
export { EventKind };

export const EVENT_SIZE: u32 = 512;
const TEXT_OFF: u32 = 64;
const TEXT_CAP: u32 = EVENT_SIZE - TEXT_OFF;
const RING: u32 = <u32>MAX_EVENTS;

const ring: usize = memory.data(EVENT_SIZE * RING);
/** The record the host reads after sip_poll_event: the first EVENT_SIZE bytes of the work slot
 * (wire/buffers.ts), which only an input or a timer being processed writes; the host reads each record
 * before its next call into the core (docs/ABI.md). */
export const EVENT_OUT: usize = WORK_BUF;
let head: u32 = 0; // next to read
let tail: u32 = 0; // next to write
let lost: u32 = 0;
let lostTotal: u32 = 0;

let cur: usize = 0;
let textAt: u32 = 0;

export function eventsReset(): void {
  head = tail = lost = lostTotal = 0;
}

export function eventsLost(): u32 {
  return lostTotal;
}

/** Start an event; add up to four text fields with eventText, in order. */
export function eventBegin(kind: EventKind, code: i32, now: i64, value: u32, src: Peer | null): void {
  if (tail - head >= RING) {
    head++; // overwrite the oldest
    lost++;
    lostTotal++;
  }
  cur = ring + <usize>((tail % RING) * EVENT_SIZE);
  tail++;
  memory.fill(cur, 0, TEXT_OFF);
  store<u32>(cur, <u32>kind);
  store<i32>(cur, code, 4);
  store<f64>(cur, <f64>now, 8);
  store<u32>(cur, value, 16);
  if (src != null) memory.copy(cur + 24, changetype<usize>(src), PEER_SIZE);
  textAt = 0;
}

/** Append text field `i` (0..3) of the current event, truncated to the room left. */
export function eventText(i: u32, p: usize, len: u32): void {
  if (i > 3) return;
  const room = TEXT_CAP - textAt;
  const n = len < room ? len : room;
  memory.copy(cur + TEXT_OFF + textAt, p, n);
  store<u16>(cur + 56 + (<usize>i << 1), <u16>n);
  textAt += n;
}

/** Append text field `i` from a text of the packed table (wire/tables.ts). */
export function eventTextT(i: u32, code: u32): void {
  eventText(i, TEXT + <usize>(code >> 8), code & 0xff);
}

/** Move the oldest event to EVENT_OUT; returns its kind, 0 when none. */
export function eventPoll(): u32 {
  if (head == tail) return 0;
  const src = ring + <usize>((head % RING) * EVENT_SIZE);
  head++;
  memory.copy(EVENT_OUT, src, EVENT_SIZE);
  store<u32>(EVENT_OUT, lost, 20);
  lost = 0;
  return load<u32>(EVENT_OUT);
}
