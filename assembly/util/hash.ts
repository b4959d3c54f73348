// Keyed 64-bit hashing of byte ranges for the fixed hash tables (registrar AORs, transactions) and for
// the loop-detection part of our branch ids. The key (seed) comes from the host's random seed at init,
// so a peer cannot choose inputs that collide in our tables (hash flooding). Eight bytes per step,
// then murmur3's fmix64 finaliser for avalanche.

import { lower } from "./chars";

const M: u64 = 0x9e3779b97f4a7c15;

function fmix(h: u64): u64 {
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccd;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53;
  h ^= h >> 33;
  return h;
}

/** Hash of [p, p+len) under `seed`. */
export function hashBytes(p: usize, len: u32, seed: u64): u64 {
  return hashRun(p, len, seed, false);
}

/** Hash of [p, p+len) with ASCII letters folded to lower case (host names, header names). */
export function hashBytesLower(p: usize, len: u32, seed: u64): u64 {
  return hashRun(p, len, seed, true);
}

/**
 * Both hashes: each whole little-endian eight-byte word of the (folded) bytes is mixed in, then the
 * tail's. Unfolded words are read eight bytes at a time, except on boards built for size
 * (shrinkLevel 2: micro, gateway), where the byte loop folds each eighth byte's word the same way and
 * the one function serves both hashes: the same hash either way.
 */
function hashRun(p: usize, len: u32, seed: u64, fold: bool): u64 {
  let h = seed ^ (<u64>len * M);
  const end = p + <usize>len;
  if (ASC_SHRINK_LEVEL < 2 && !fold) while (p + 8 <= end) {
    h = rotl<u64>((h ^ load<u64>(p)) * M, 29); // p + 8 <= end: inside the range
    p += 8;
  }
  let t: u64 = 0;
  let s: u64 = 0;
  while (p < end) {
    let c = <u32>load<u8>(p);
    if (fold) c = lower(c);
    t |= <u64>c << s;
    s += 8;
    p++;
    if (s == 64) { // a whole word (never after the word loop above: fewer than eight bytes are left)
      h = rotl<u64>((h ^ t) * M, 29);
      t = 0;
      s = 0;
    }
  }
  return fmix(h ^ t ^ (t * M));
}

/** Fold one more 64-bit value into a hash. */
export function hashMix(h: u64, v: u64): u64 {
  return fmix(rotl<u64>((h ^ v) * M, 29));
}
