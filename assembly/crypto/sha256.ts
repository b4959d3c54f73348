// SHA-256 (FIPS 180-4 §6.2). Used for RFC 8760 digest and for the nonce MAC (auth/nonce.ts).
//
// The block function and constants; the context (buffering, padding) is md.ts's, shared with MD5.
// The message schedule W is kept as the last 16 words W(t-16)..W(t-1) (FIPS 180-4 §6.2.2 step 1,
// computed as the rounds need them: W(t) only depends on the 16 before it).
// Words are big-endian (FIPS 180-4 §3.1): loads and stores go through bswap.

/** Digest length, bytes. */
export const SHA256_LEN: u32 = 32;

/** K0..K63: first 32 bits of the fractional parts of the cube roots of the first 64 primes
 * (FIPS 180-4 §4.2.2): 256 bytes of data. */
const K: usize = memory.data<u32>([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);

/** Initial hash value H(0) (FIPS 180-4 §5.3.3): 32 bytes of data. */
export const SHA256_IV: usize = memory.data<u32>([
  0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
]);

/** One 64-byte block at m into the chaining value H0..H7 at h, with the 64-byte schedule at w
 * (FIPS 180-4 §6.2.2). */
export function sha256Block(h: usize, w: usize, m: usize): void {
  // W as a ring of 16 words: W(t) at w + 4·(t mod 16), over W(t-16) once that is used (t mod 16 and
  // every index below < 16: inside W (64 bytes); i < 64: inside K (256 bytes) and the block (64 bytes))
  for (let i: usize = 0; i < 16; i++) store<u32>(w + (i << 2), bswap<u32>(load<u32>(m + (i << 2))));
  let a = load<u32>(h);
  let b = load<u32>(h, 4);
  let c = load<u32>(h, 8);
  let d = load<u32>(h, 12);
  let e = load<u32>(h, 16);
  let f = load<u32>(h, 20);
  let g = load<u32>(h, 24);
  let hh = load<u32>(h, 28);
  for (let i: usize = 0; i < 64; i++) {
    const wi = w + ((i & 15) << 2);
    if (i >= 16) {
      const w15 = load<u32>(w + (((i - 15) & 15) << 2));
      const w2 = load<u32>(w + (((i - 2) & 15) << 2));
      const s0 = rotr<u32>(w15, 7) ^ rotr<u32>(w15, 18) ^ (w15 >> 3);
      const s1 = rotr<u32>(w2, 17) ^ rotr<u32>(w2, 19) ^ (w2 >> 10);
      store<u32>(wi, load<u32>(wi) + s0 + load<u32>(w + (((i - 7) & 15) << 2)) + s1); // W(t-16) is at wi
    }
    const S1 = rotr<u32>(e, 6) ^ rotr<u32>(e, 11) ^ rotr<u32>(e, 25);
    const ch = (e & f) ^ (~e & g);
    const t1 = hh + S1 + ch + load<u32>(K + (i << 2)) + load<u32>(wi);
    const S0 = rotr<u32>(a, 2) ^ rotr<u32>(a, 13) ^ rotr<u32>(a, 22);
    const maj = (a & b) ^ (a & c) ^ (b & c);
    const t2 = S0 + maj;
    hh = g;
    g = f;
    f = e;
    e = d + t1;
    d = c;
    c = b;
    b = a;
    a = t1 + t2;
  }
  store<u32>(h, load<u32>(h) + a);
  store<u32>(h, load<u32>(h, 4) + b, 4);
  store<u32>(h, load<u32>(h, 8) + c, 8);
  store<u32>(h, load<u32>(h, 12) + d, 12);
  store<u32>(h, load<u32>(h, 16) + e, 16);
  store<u32>(h, load<u32>(h, 20) + f, 20);
  store<u32>(h, load<u32>(h, 24) + g, 24);
  store<u32>(h, load<u32>(h, 28) + hh, 28);
}
