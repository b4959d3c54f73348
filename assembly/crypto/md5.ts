// MD5 (RFC 1321). Kept only because RFC 2617 / RFC 3261 §22 digest needs it; nothing in the core
// relies on it for collision resistance (the nonce MAC is SHA-256, nonce.ts).
//
// A context is one record (fields below) plus a 64-byte block buffer allocated once: 88 bytes.
// Words of a block are little-endian (RFC 1321 §3.4), which is wasm's own order: plain load<u32>.
// update() hashes whole blocks straight from the input and buffers only a partial block.

import { hexEncode } from "./hex";
import { tableAlloc } from "../util/alloc";

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

/** Per-step left-rotation amounts (RFC 1321 §3.4): 64 bytes of data. */
const S: usize = memory.data<u8>([
  7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22,
  5, 9, 14, 20, 5, 9, 14, 20, 5, 9, 14, 20, 5, 9, 14, 20,
  4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23,
  6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21,
]);

@final export class Md5 {
  a: u32 = 0;
  b: u32 = 0;
  c: u32 = 0;
  d: u32 = 0;
  /** Bytes hashed so far (message length for the padding). */
  total: u64 = 0;
  /** Bytes waiting in `buf` (< 64). */
  fill: u32 = 0;
  /** Partial block: 64 bytes, allocated once. */
  readonly buf: usize = tableAlloc(64);

  init(): Md5 {
    this.a = 0x67452301;
    this.b = 0xefcdab89;
    this.c = 0x98badcfe;
    this.d = 0x10325476;
    this.total = 0;
    this.fill = 0;
    return this;
  }

  update(p: usize, len: u32): void {
    this.total += <u64>len;
    let n = <usize>len;
    if (this.fill != 0) {
      const take = min<usize>(64 - <usize>this.fill, n);
      memory.copy(this.buf + this.fill, p, take);
      this.fill += <u32>take;
      p += take;
      n -= take;
      if (this.fill < 64) return;
      this.block(this.buf);
      this.fill = 0;
    }
    while (n >= 64) {
      this.block(p); // n >= 64: the whole block lies in the caller's range
      p += 64;
      n -= 64;
    }
    if (n != 0) {
      memory.copy(this.buf, p, n);
      this.fill = <u32>n;
    }
  }

  /** Pad, write the 16-byte digest at out, and clear the block buffer. */
  final(out: usize): void {
    const bits = this.total << 3;
    let f = <usize>this.fill;
    store<u8>(this.buf + f, 0x80);
    f++;
    if (f > 56) {
      memory.fill(this.buf + f, 0, 64 - f);
      this.block(this.buf);
      f = 0;
    }
    memory.fill(this.buf + f, 0, 56 - f);
    store<u64>(this.buf, bits, 56); // length in bits, little-endian (RFC 1321 §3.2)
    this.block(this.buf);
    store<u32>(out, this.a);
    store<u32>(out, this.b, 4);
    store<u32>(out, this.c, 8);
    store<u32>(out, this.d, 12);
    this.wipe();
  }

  /** Forget everything hashed (used after hashing a password). */
  wipe(): void {
    memory.fill(this.buf, 0, 64);
    this.a = 0;
    this.b = 0;
    this.c = 0;
    this.d = 0;
    this.fill = 0;
    this.total = 0;
  }

  /** One 64-byte block at m (RFC 1321 §3.4). */
  private block(m: usize): void {
    let a = this.a;
    let b = this.b;
    let c = this.c;
    let d = this.d;
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
      // i < 64 and g < 16: inside the K / S tables and the block
      const x = a + f + load<u32>(K + (<usize>i << 2)) + load<u32>(m + (<usize>g << 2));
      a = d;
      d = c;
      c = b;
      b = b + rotl<u32>(x, <u32>load<u8>(S + <usize>i));
    }
    this.a += a;
    this.b += b;
    this.c += c;
    this.d += d;
  }
}

/** The shared context of the one-shot helpers. */
const ctx = new Md5();

/** MD5 of [p, p+len) into 16 bytes at out. */
export function md5(p: usize, len: u32, out: usize): void {
  ctx.init().update(p, len);
  ctx.final(out);
}

/** Scratch for the hex helper: 16 bytes. */
const RAW: usize = memory.data(16);

/** MD5 of [p, p+len) as 32 lowercase hex digits at out. Returns 32. */
export function md5Hex(p: usize, len: u32, out: usize): u32 {
  md5(p, len, RAW);
  return hexEncode(RAW, MD5_LEN, out);
}
