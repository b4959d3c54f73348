// Flood protection per source address, in the manner of Kamailio's pike module, with the fix for
// its most reported problem: in pike a blocked address stays blocked for as long as it keeps
// sending (every request while blocked is still counted and keeps the address "hot"), so a chatty
// but legitimate client that bursts once can be locked out indefinitely. Here a block lasts exactly
// `blockSeconds` from the moment it is imposed; requests during the block are answered Blocked and
// are NOT counted; when the block expires the source starts again with a full bucket.
//
// Rate measure: a token bucket per source, in milli-tokens (integer, exact). Capacity = limit tokens
// (one second's worth of burst), refilled continuously at `limit` tokens per second; each request
// takes one token. A request that finds less than one token blocks the source (NewlyBlocked).
// So a source may send `limit` requests at once, and `limit` per second sustained, and no more.
// Authentication failures are counted separately (pikeFail): `authFailLimit` failures within a window
// of `authFailWindow` seconds, counted from the first failure of the window, block the source too.
//
// Key: the source address only (not port, not transport), IPv4 stored as ::ffff:a.b.c.d so both
// forms of one IPv4 client are one key. Sources the caller marks `exempt` (trusted / allow-listed,
// see acl.ts) are never counted and never blocked. `now` is milliseconds (the core's clock, i64).
//
// Table: MAX_PIKE records, preallocated, never grown. It is set-associative: a keyed hash of the
// address picks a set of PIKE_WAYS records (all of them when MAX_PIKE <= 16, i.e. fully associative
// LRU on small boards), so a request costs at most PIKE_WAYS record compares however large the table.
// A new source takes a free record of its set, else the least recently seen record of the set that is
// not blocked; a blocked record is never evicted, and when every record of the set is blocked the new
// source is not tracked at all (Pass: refusing to track is the only bounded choice, and the blocked
// ones are the ones worth remembering).
//
// Memory: MAX_PIKE × PIKE_RECORD (48 bytes) on the heap at start-up (64 → 3,072 bytes).
//
//   record: +0  u8[16] address (v6 or v4-mapped)     +16 i64 last seen (ms)
//           +24 i64 blocked until (ms; 0 = not blocked)
//           +32 i64 start of the auth-failure window (ms)
//           +40 u32 milli-tokens   +44 u16 auth failures in window   +46 u8 in use   +47 u8 unused

import { eqBytes } from "../wire/scan";
import { MAX_PIKE } from "../config";
import { Peer, Family } from "../net/peer";
import { hashBytes } from "../util/hash";
import { zeroTable } from "../util/zero";
import { tableAlloc } from "../util/alloc";

/** Records in the table (build-time: --use SIP_MAX_PIKE=N; a multiple of 16 above 16). */
export { MAX_PIKE };
/** Bytes per record. */
export const PIKE_RECORD: u32 = 48;
/** Records per set. */
export const PIKE_WAYS: u32 = MAX_PIKE <= 16 ? <u32>MAX_PIKE : 16;
const SETS: u32 = <u32>MAX_PIKE / PIKE_WAYS;
/** Milli-tokens per request. */
const MILLI: u64 = 1000;
/** Largest accepted limit, requests per second (keeps milli-token arithmetic inside u32). */
const LIMIT_MAX: u32 = 1000000;

export const enum PikeVerdict { Pass = 0, Blocked = 1, NewlyBlocked = 2 }

/** When pikeCheck last answered Blocked or NewlyBlocked: the end of that block (ms), for Retry-After. */
export let pikeUntil: i64 = 0;

const table: usize = tableAlloc(<usize>MAX_PIKE * <usize>PIKE_RECORD);
const key: usize = memory.data(16);

let limit: u32 = 0;
let blockMs: i64 = 0;
let authFailLimit: u32 = 0;
let authFailWindowMs: i64 = 60000;
let seed: u64 = 0x5851f42d4c957f2d;

/** Set the rate limit (requests per second per source; 0 = rate check off) and block time (seconds;
 *  0 = never block, which turns both checks off). */
export function pikeSetLimit(reqPerSecond: u32, blockSeconds: u32): void {
  limit = reqPerSecond > LIMIT_MAX ? LIMIT_MAX : reqPerSecond;
  blockMs = <i64>blockSeconds * 1000;
}

/** Block a source after `n` authentication failures (0 = off) within `windowSeconds`. */
export function pikeSetAuthFailLimit(n: u32, windowSeconds: u32 = 60): void {
  authFailLimit = n > 0xffff ? 0xffff : n;
  authFailWindowMs = <i64>(windowSeconds == 0 ? 1 : windowSeconds) * 1000;
}

/** Key the set choice (call once at init with a random value, so a peer cannot aim at one set). */
export function pikeSetSeed(s: u64): void { seed = s; }

/** Forget every source (configuration is kept). */
export function pikeReset(): void {
  zeroTable(table, <usize>MAX_PIKE * <usize>PIKE_RECORD);
}

/** Forget every source and the configuration (everything off). */
export function pikeResetAll(): void {
  pikeReset();
  limit = 0;
  blockMs = 0;
  authFailLimit = 0;
  authFailWindowMs = 60000;
}

function rec(i: u32): usize { return table + <usize>i * <usize>PIKE_RECORD; }

/** Write the source's key into `key`; false for a peer without an IP address. */
function makeKey(peer: Peer): bool {
  const fam = <u32>peer.family;
  if (fam == Family.V6) {
    memory.copy(key, peer.addr, 16);
    return true;
  }
  if (fam == Family.V4) {
    store<u64>(key, 0);
    store<u32>(key + 8, 0xffff0000); // bytes 00 00 ff ff (little-endian)
    memory.copy(key + 12, peer.addr, 4);
    return true;
  }
  return false;
}

/** First record of the key's set. */
function setOf(): u32 {
  return SETS <= 1 ? 0 : <u32>(hashBytes(key, 16, seed) % <u64>SETS) * PIKE_WAYS;
}

/** Index of the key's record, or -1. */
function find(first: u32): i32 {
  for (let i = first; i < first + PIKE_WAYS; i++) {
    const r = rec(i); // i < first + WAYS <= MAX_PIKE
    if (load<u8>(r, 46) != 0 && eqBytes(r, 16, key, 16)) return <i32>i;
  }
  return -1;
}

/** Take a record for the key (free, else LRU not blocked); -1 when every record is blocked. */
function claim(first: u32, now: i64): i32 {
  let best: i32 = -1;
  let bestSeen: i64 = i64.MAX_VALUE;
  for (let i = first; i < first + PIKE_WAYS; i++) {
    const r = rec(i); // i < first + WAYS <= MAX_PIKE
    if (load<u8>(r, 46) == 0) { best = <i32>i; break; }
    if (load<i64>(r, 24) > now) continue; // blocked: never evicted
    const seen = load<i64>(r, 16);
    if (seen < bestSeen) { bestSeen = seen; best = <i32>i; }
  }
  if (best < 0) return -1;
  const r = rec(<u32>best);
  memory.copy(r, key, 16);
  store<u8>(r, 1, 46);
  fresh(r, now);
  return best;
}

/** A fresh start at `now`: not blocked, a full bucket, no failures, the window and last request now. */
function fresh(r: usize, now: i64): void {
  store<i64>(r, now, 16);
  store<i64>(r, 0, 24);
  store<i64>(r, now, 32);
  store<u32>(r, <u32>(<u64>limit * MILLI), 40);
  store<u16>(r, 0, 44);
}

/** Clear an expired block: the source starts again with a full bucket and no failures. */
function expire(r: usize, now: i64): void {
  const until = load<i64>(r, 24);
  if (until != 0 && until <= now) fresh(r, now);
}

/**
 * Account one request from `peer` at `now` (ms). Exempt sources are neither counted nor blocked.
 * Pass: go on. Blocked: the source is inside a block (this request was not counted). NewlyBlocked:
 * this request took the source over the limit (the caller may log/emit an event once).
 */
export function pikeCheck(peer: Peer, now: i64, exempt: bool): PikeVerdict {
  if (exempt || blockMs <= 0 || (limit == 0 && authFailLimit == 0)) return PikeVerdict.Pass;
  if (!makeKey(peer)) return PikeVerdict.Pass;
  const first = setOf();
  let i = find(first);
  if (i >= 0) {
    const r = rec(<u32>i);
    pikeUntil = load<i64>(r, 24);
    if (pikeUntil > now) return PikeVerdict.Blocked;
    expire(r, now);
  }
  if (limit == 0) return PikeVerdict.Pass; // only auth failures count: nothing to track here
  let claimed = false;
  if (i < 0) {
    i = claim(first, now);
    if (i < 0) return PikeVerdict.Pass; // every record of the set is blocked: not tracked
    claimed = true;
  }
  const r = rec(<u32>i);
  const cap = <u64>limit * MILLI;
  let tokens = <u64>load<u32>(r, 40);
  if (!claimed) {
    let dt = now - load<i64>(r, 16);
    if (dt < 0) dt = 0; // a clock that goes back refills nothing
    if (dt > 1000) dt = 1000; // one second refills a full bucket
    tokens += <u64>dt * <u64>limit;
    if (tokens > cap) tokens = cap;
  }
  store<i64>(r, now, 16);
  if (tokens >= MILLI) {
    store<u32>(r, <u32>(tokens - MILLI), 40);
    return PikeVerdict.Pass;
  }
  store<u32>(r, <u32>tokens, 40);
  pikeUntil = now + blockMs;
  store<i64>(r, pikeUntil, 24);
  return PikeVerdict.NewlyBlocked;
}

/**
 * Count one authentication failure from `peer` at `now` (ms). Returns NewlyBlocked when this failure
 * reaches the limit, Blocked when the source is already blocked, else Pass.
 */
export function pikeFail(peer: Peer, now: i64): PikeVerdict {
  if (authFailLimit == 0 || blockMs <= 0) return PikeVerdict.Pass;
  if (!makeKey(peer)) return PikeVerdict.Pass;
  const first = setOf();
  let i = find(first);
  if (i < 0) {
    i = claim(first, now);
    if (i < 0) return PikeVerdict.Pass;
  }
  const r = rec(<u32>i);
  if (load<i64>(r, 24) > now) return PikeVerdict.Blocked;
  expire(r, now);
  if (now - load<i64>(r, 32) >= authFailWindowMs || load<u16>(r, 44) == 0) {
    store<i64>(r, now, 32); // a new window starts at this failure
    store<u16>(r, 0, 44);
  }
  const n = <u32>load<u16>(r, 44) + 1;
  store<u16>(r, <u16>n, 44);
  if (n >= authFailLimit) {
    store<i64>(r, now + blockMs, 24);
    return PikeVerdict.NewlyBlocked;
  }
  return PikeVerdict.Pass;
}

/** True when `peer` is blocked at `now` (a lookup only: nothing counted). */
export function pikeIsBlocked(peer: Peer, now: i64): bool {
  if (!makeKey(peer)) return false;
  const i = find(setOf());
  return i >= 0 && load<i64>(rec(<u32>i), 24) > now;
}

/** Records in use (sources tracked, blocked or not). */
export function pikeTracked(): u32 {
  let n: u32 = 0;
  for (let i: u32 = 0; i < <u32>MAX_PIKE; i++) if (load<u8>(rec(i), 46) != 0) n++;
  return n;
}

/** Sources blocked at `now`. */
export function pikeBlocked(now: i64): u32 {
  let n: u32 = 0;
  for (let i: u32 = 0; i < <u32>MAX_PIKE; i++) {
    const r = rec(i);
    if (load<u8>(r, 46) != 0 && load<i64>(r, 24) > now) n++;
  }
  return n;
}
