// MD5 (RFC 1321). Kept only because RFC 2617 / RFC 3261 §22 digest needs it; nothing in the core
// relies on it for collision resistance (the nonce MAC is SHA-256, nonce.ts).
//
// The block function and constants; the context (buffering, padding) is md.ts's, shared with SHA-256.
// Words of a block are little-endian (RFC 1321 §3.4), which is wasm's own order: plain load<u32>.

/** Digest length, bytes. */
export const MD5_LEN: u32 = 16;

/** K[i] = floor(|sin(i + 1)| · 2^32) (RFC 1321 §3.4): 64 × u32 = 256 bytes of data. */
const K: usize = memory.data<u32>([
  0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf, 0x4787c62a, 0xa8304613, 0xfd469501,
  0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be, 0x6b901122, 0xfd987193, 0xa679438e, 0x49b40821,
  0xf61e2562, 0xc040b340, 0x265e5a51, 0xe9b6c7aa, 0xd62f105d, 0x02441453, 0xd8a1e681, 0xe7d3fbc8,
  0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed, 0xa9e3e905, 0xfcefa3f8, 0x676f02d9, 0x8d2a4c8a,
  0xfffa3942, 0x8771f681, 0x6d9d6122, 0xfde5380c, 0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70,
  0x289b7ec6, 0xeaa127fa, 0xd4ef3085, 0x04881d05, 0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665,
  0xf4292244, 0x432aff97, 0xab9423a7, 0xfc93a039, 0x655b59c3, 0x8f0ccc92, 0xffeff47d, 0x85845dd1,
  0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1, 0xf7537e82, 0xbd3af235, 0x2ad7d2bb, 0xeb86d391,
]);

/** Per-step left-rotation amounts (RFC 1321 §3.4): each round repeats its 4 amounts 4 times, so step i
 * takes S[(i >> 4) << 2 | (i & 3)]: 16 bytes of data. */
const S: usize = memory.data<u8>([
  7, 12, 17, 22,
  5, 9, 14, 20,
  4, 11, 16, 23,
  6, 10, 15, 21,
]);

/** Initial a b c d (RFC 1321 §3.3): 16 bytes of data. */
export const MD5_IV: usize = memory.data<u32>([0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476]);

/** One 64-byte block at m into the chaining value a b c d at h (RFC 1321 §3.4). */
export function md5Block(h: usize, m: usize): void {
  let a = load<u32>(h);
  let b = load<u32>(h, 4);
  let c = load<u32>(h, 8);
  let d = load<u32>(h, 12);
  for (let i: u32 = 0; i < 64; i++) {
    let f: u32;
    let g: u32;
    if (i < 16) {
      f = (b & c) | (~b & d);
      g = i;
    } else if (i < 32) {
      f = (d & b) | (~d & c);
      g = (5 * i + 1) & 15;
    } else if (i < 48) {
      f = b ^ c ^ d;
      g = (3 * i + 5) & 15;
    } else {
      f = c ^ (b | ~d);
      g = (7 * i) & 15;
    }
    // i < 64 and g < 16: inside the K table and the block
    const x = a + f + load<u32>(K + (<usize>i << 2)) + load<u32>(m + (<usize>g << 2));
    a = d;
    d = c;
    c = b;
    b = b + rotl<u32>(x, <u32>load<u8>(S + <usize>((i >> 4) << 2 | (i & 3)))); // < 16: inside S
  }
  store<u32>(h, load<u32>(h) + a);
  store<u32>(h, load<u32>(h, 4) + b, 4);
  store<u32>(h, load<u32>(h, 8) + c, 8);
  store<u32>(h, load<u32>(h, 12) + d, 12);
}
