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

import { MAX_TXN } from "../config";

export const CTX_SIZE: u32 = 40;

/** NoRoom: a branch could not start for want of a transaction record or pool block (our overload). */
export const enum CtxFlag { Cancelled = 1, Finalised = 2, Invite = 4, RecordRouted = 8, Answered = 16, InDialog = 32, Hidden = 64, NoRoom = 128 }

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
}

const table: usize = heap.alloc(<usize>MAX_TXN * CTX_SIZE);

export function ctxReset(): void {
  memory.fill(table, 0, <usize>MAX_TXN * CTX_SIZE);
}
ctxReset();

// @ts-ignore: decorator
@inline export function ctx(idx: u32): Ctx {
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
