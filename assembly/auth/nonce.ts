// Stateless nonces (RFC 2617 §3.2.1 "nonce" suggestion, RFC 7616 §5.4) and the nonce-count table.
//
// Nonce format, 48 lowercase hex digits, nothing stored per nonce issued:
//
//   +0  8 hex   T    issue time, seconds (now / 1000 plus a random base drawn at reset, as u32),
//                    big-endian: `now` starts near 0 at a host's start, and a nonce must not tell a
//                    stranger how long the server has been up
//   +8  8 hex   R    32 random bits (every challenge gets its own nonce, even within one second:
//                    two clients challenged together never share a nonce-count record)
//   +16 32 hex  MAC  first 16 bytes of SHA-256(secret || T as 4 bytes big-endian || R || realm)
//
// The secret is host-provided random bytes (authSetSecret). Verification recomputes the MAC and
// compares in constant time: a bad MAC (or a nonce of another format) is Invalid; a good MAC older
// than `nonceExpiry` seconds (or from the future, a clock stepped back) is Stale. Until a secret is
// set every nonce is Invalid, so an unconfigured core cannot be fooled with guessable nonces.
//
// Nonce-count replay table (RFC 2617 §3.2.2 "nc"): the highest nc accepted per nonce, NC_SLOTS = 256
// entries in NC_SETS = 64 sets of NC_WAYS = 4, indexed by MAC bits (the MAC is keyed, so a peer
// cannot aim at a set except by asking for many challenges). Entry, 16 bytes:
//
//   +0 u64 tag (first 8 MAC bytes)   +8 u32 T   +12 u32 highest nc (0 = free)
//
// plus one u32 per set, `mark`: one more than the largest T ever evicted from the set (0 = none). Memory: 256 × 16 + 64 × 4
// = 4,352 bytes. A nonce not in its set is new only when its T is at least the set's mark; otherwise it
// may have been evicted, and the answer is Unknown, which the checker turns into a false "stale"
// (the client retries with a fresh nonce). So eviction can cost a re-challenge, never accept a
// replay. The victim is a free way, else the way with the oldest T (an expired one first by nature).
// Only nonces whose response already verified are entered, so a peer cannot fill the table with
// forged counts.

import { NC_SLOTS } from "../config";
import { SHA256_LEN, hexDecode, hexEncode } from "../crypto";
import { sh } from "./hash";
import { realmLength, realmPtr } from "./credentials";
import { prngNext } from "../util/prng";
import { tableAlloc } from "../util/alloc";

export const NONCE_LEN: u32 = 48;
/** Longest secret accepted, bytes. */
export const SECRET_MAX: u32 = 64;
/** Default nonce lifetime, seconds. */
export const NONCE_EXPIRY_DEFAULT: u32 = 300;
export { NC_SLOTS };
export const NC_WAYS: i32 = 4;
export const NC_SETS: i32 = NC_SLOTS / NC_WAYS;
const NC_ENTRY: usize = 16;

export const enum NonceState { Fresh = 0, Stale = 1, Invalid = 2 }
export const enum NcResult { Ok = 0, Replay = 1, Unknown = 2 }

const SECRET: usize = memory.data(64);
let secretLen: u32 = 0;
let nonceExpiry: u32 = NONCE_EXPIRY_DEFAULT;
/** Added to every T (random below 2^30, so T never wraps in practice). */
let tBase: u32 = 0;
const NC: usize = tableAlloc(<usize>NC_SLOTS * NC_ENTRY);
const MARK: usize = tableAlloc(<usize>NC_SETS << 2);
/** The MAC being built or checked: 32 bytes; the decoded nonce: 24 bytes. */
const MAC: usize = memory.data(32);
const GOT: usize = memory.data(24);
const TS: usize = memory.data(8); // T (4 bytes, big-endian) then R (4 bytes)

/** Time and tag of the last nonce nonceVerify accepted as Fresh or Stale (the key for ncCheck). */
export let verifiedTs: u32 = 0;
export let verifiedTag: u64 = 0;

// NC and MARK start zero (fresh memory: util/alloc.ts) and nonceReset (sip_init) clears them again

/** Forget the secret, the expiry setting and every nonce count. */
export function nonceReset(): void {
  memory.fill(SECRET, 0, SECRET_MAX);
  secretLen = 0;
  nonceExpiry = NONCE_EXPIRY_DEFAULT;
  memory.fill(NC, 0, <usize>NC_SLOTS * NC_ENTRY);
  memory.fill(MARK, 0, <usize>NC_SETS << 2);
  verifiedTs = 0;
  verifiedTag = 0;
  tBase = <u32>prngNext() & 0x3fffffff;
}

/** Set the MAC key: 1..SECRET_MAX host-provided random bytes. Returns 0, or -1 for a bad length. */
export function authSetSecret(p: usize, len: u32): i32 {
  if (len == 0 || len > SECRET_MAX) return -1;
  memory.fill(SECRET, 0, SECRET_MAX);
  memory.copy(SECRET, p, len);
  secretLen = len;
  return 0;
}

/** Nonce lifetime in seconds (default 300). */
export function authSetNonceExpiry(s: u32): void {
  nonceExpiry = s;
}

export function authNonceExpiry(): u32 { return nonceExpiry; }

function seconds(now: i64): u32 {
  return tBase + (now <= 0 ? 0 : <u32>(now / 1000));
}

/** MAC of time t into MAC (32 bytes; the first 16 are used). */
function macOf(t: u32, r: u32): void {
  store<u32>(TS, bswap<u32>(t));
  store<u32>(TS, r, 4);
  // hash.ts's SHA-256 context: init .. final here without calling out, as its other callers do
  sh.init();
  sh.update(SECRET, secretLen);
  sh.update(TS, 8);
  sh.update(realmPtr(), realmLength());
  sh.final(MAC);
}

/** Write a fresh nonce for time `now` (ms) at out: NONCE_LEN bytes. */
export function nonceMake(now: i64, out: usize): void {
  const t = seconds(now);
  macOf(t, <u32>prngNext());
  hexEncode(TS, 8, out);
  hexEncode(MAC, 16, out + 16);
}

/**
 * Check a nonce as received at [p, p+len) against time `now` (ms). Fresh or Stale mean the MAC is
 * ours; both set verifiedTs / verifiedTag for ncCheck.
 */
export function nonceVerify(p: usize, len: u32, now: i64): NonceState {
  if (secretLen == 0 || len != NONCE_LEN) return NonceState.Invalid;
  if (!hexDecode(p, 24, GOT)) return NonceState.Invalid;
  const t = bswap<u32>(load<u32>(GOT));
  macOf(t, load<u32>(GOT, 4));
  // constant time: the 16 MAC bytes as two 64-bit words, differences or-ed, one test
  const diff = (load<u64>(MAC) ^ load<u64>(GOT, 8)) | (load<u64>(MAC, 8) ^ load<u64>(GOT, 16));
  if (diff != 0) return NonceState.Invalid;
  verifiedTs = t;
  verifiedTag = load<u64>(GOT, 8);
  const nowS = seconds(now);
  if (t > nowS || nowS - t > nonceExpiry) return NonceState.Stale;
  return NonceState.Fresh;
}

/**
 * Accept nonce-count `nc` for the nonce (ts, tag) if it is above every count accepted before for it.
 * Ok records it; Replay means nc did not increase; Unknown means the nonce may have been evicted.
 */
export function ncCheck(ts: u32, tag: u64, nc: u32): NcResult {
  const set = <usize>(<u32>tag & <u32>(NC_SETS - 1));
  const base = NC + set * <usize>NC_WAYS * NC_ENTRY;
  let victim = base;
  let free = false;
  let oldest: u32 = 0xffffffff;
  for (let w: usize = 0; w < <usize>NC_WAYS; w++) {
    const e = base + w * NC_ENTRY; // set < NC_SETS, w < NC_WAYS: inside the table
    const seen = load<u32>(e, 12);
    if (seen == 0) {
      if (!free) {
        victim = e;
        free = true;
      }
      continue;
    }
    const ets = load<u32>(e, 8);
    if (ets == ts && load<u64>(e) == tag) {
      if (nc <= seen) return NcResult.Replay;
      store<u32>(e, nc, 12);
      return NcResult.Ok;
    }
    if (!free && ets <= oldest) {
      victim = e;
      oldest = ets;
    }
  }
  // mark holds (largest evicted T) + 1, 0 when the set never evicted
  const markP = MARK + (set << 2);
  if (ts < load<u32>(markP)) return NcResult.Unknown;
  if (!free) {
    const m = oldest == 0xffffffff ? oldest : oldest + 1;
    if (m > load<u32>(markP)) store<u32>(markP, m);
  }
  store<u64>(victim, tag);
  store<u32>(victim, ts, 8);
  store<u32>(victim, nc, 12);
  return NcResult.Ok;
}
