// The core's only source of randomness (tags, branch ids, Call-IDs, nonces later): xoshiro128**-style
// generator over 64-bit state (splitmix64 for seeding), seeded once by the host at sip_init. The same
// seed and inputs give the same output bytes, which keeps the core deterministic under test.

let s0: u64 = 0x9e3779b97f4a7c15;
let s1: u64 = 0xbf58476d1ce4e5b9;

function splitmix(x: u64): u64 {
  x += 0x9e3779b97f4a7c15;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9;
  x = (x ^ (x >> 27)) * 0x94d049bb133111eb;
  return x ^ (x >> 31);
}

/** Seed from the host's 64 random bits. */
export function prngSeed(lo: u32, hi: u32): void {
  const x = (<u64>hi << 32) | <u64>lo;
  s0 = splitmix(x);
  s1 = splitmix(s0 ^ 0x6a09e667f3bcc909);
  if ((s0 | s1) == 0) s1 = 1;
}

/** Next 64 random bits (xorshift128+). */
export function prngNext(): u64 {
  let a = s0;
  const b = s1;
  s0 = b;
  a ^= a << 23;
  s1 = a ^ b ^ (a >> 17) ^ (b >> 26);
  return s1 + b;
}
