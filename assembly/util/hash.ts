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
  let h = seed ^ (<u64>len * M);
  const end = p + <usize>len;
  while (p + 8 <= end) {
    h = rotl<u64>((h ^ load<u64>(p)) * M, 29); // p + 8 <= end: inside the range
    p += 8;
  }
  let t: u64 = 0;
  let s: u64 = 0;
  while (p < end) {
    t |= <u64>load<u8>(p) << s;
    s += 8;
    p++;
  }
  return fmix(h ^ t ^ (t * M));
}

/** Hash of [p, p+len) with ASCII letters folded to lower case (host names, header names). */
export function hashBytesLower(p: usize, len: u32, seed: u64): u64 {
  let h = seed ^ (<u64>len * M);
  const end = p + <usize>len;
  let t: u64 = 0;
  let s: u64 = 0;
  while (p < end) {
    t |= <u64>lower(<u32>load<u8>(p)) << s;
    s += 8;
    p++;
    if (s == 64) {
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
