// Response contexts (RFC 3261 §16.7): per proxied request, the state that outlives one branch — the
// best final response so far, the branches still pending, the targets of later q-value groups, and
// the received request (kept while responses may still have to be generated from it). One entry per
// transaction-table slot, used by server transactions only: the context of server record idx is
// entry idx. Cost: MAX_TXN × CTX_SIZE bytes.
//
//   +0 u16 best status   +2 u16 active branches   +4 u32 best response (pool; our Via already removed)
//   +8 u32 request (pool)   +12 u32 targets (pool: serialized later targets)   +16 u32 cursor
//   +20 u32 flags          +24 i64 started (ms, for call events)
//   +32 u32 vias (pool: the request's Via lines, restored on responses under topology hiding)
//   +36 u32 hidden (dialog record + 1 of a hidden dialog being set up, 0 = none)
//   +40 u16 pops, +42 i16 strict, +44 i16 creds: what the request's own edits dropped (our Route
//       values, the strict-route fix-up's Route entry, our credentials' entry; -1 = none), so that a
//       later q-value group forwarded from the stored copy drops the same (proxy/req.ts)
//   +46 u16 reserved

import { MAX_TXN } from "../config";
import { Req } from "./req";
import { zeroTable } from "../util/zero";
import { tableAlloc } from "../util/alloc";

export const CTX_SIZE: u32 = 48;

/** NoRoom: a branch could not start for want of a transaction record or pool block (our overload).
 * Failover: the request went to one name without a port, its Request-URI unchanged, so a branch that
 * times out or gets a 503 may be followed by one to the name's next SRV target (proxy/response.ts).
 * Parked: its branch waits for the host to choose its transport (proxy/park.ts; cursor = slot + 1). */
export const enum CtxFlag { Cancelled = 1, Finalised = 2, Invite = 4, RecordRouted = 8, Answered = 16, InDialog = 32, Hidden = 64, NoRoom = 128, Failover = 256, Timed = 512, Parked = 1024 }

@unmanaged export class Ctx {
  bestStatus: u16;
  active: u16;
  best: u32;
  request: u32;
  targets: u32;
  cursor: u32;
  flags: u32;
  started: i64;
  vias: u32;
  hidden: u32;
  pops: u16;
  strict: i16;
  creds: i16;
  reserved: u16;
}

/** Keep what request q's edits drop in context c (for later q-value groups). */
export function ctxKeepEdits(c: Ctx, q: Req): void {
  c.pops = <u16>q.pops;
  c.strict = <i16>q.strict;
  c.creds = <i16>q.creds;
}

/** Request q (the stored copy of c's request, just parsed) drops what the original dropped. */
export function ctxLoadEdits(c: Ctx, q: Req): void {
  q.pops = <i32>c.pops;
  q.strict = <i32>c.strict;
  q.creds = <i32>c.creds;
}

const table: usize = tableAlloc(<usize>MAX_TXN * CTX_SIZE);

export function ctxReset(): void {
  zeroTable(table, <usize>MAX_TXN * CTX_SIZE);
}
ctxReset();

export function ctx(idx: u32): Ctx {
  return changetype<Ctx>(table + <usize>idx * CTX_SIZE);
}

/**
 * Rank of a final response for §16.7 step 6 (lower is better): any 6xx first, then the lowest class;
 * within a class the first received is kept (ties do not replace).
 */
export function rank(status: u32): u32 {
  if (status >= 600) return 0;
  return status / 100; // 2 (never ranked: 2xx are forwarded at once), 3, 4, 5
}
