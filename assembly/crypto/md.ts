// The Merkle–Damgård frame MD5 and SHA-256 share (RFC 1321 §3.1-3.2, FIPS 180-4 §5.1.1): 64-byte
// blocks, a partial block buffered between updates, padding 0x80, zeros and the 64-bit length in bits.
// They differ only in the block function, the initial value and the byte order of the length and the
// digest, so one context type carries both and picks by `sha`; update / final / wipe exist once in the
// core instead of once per hash.
//
// A context is one record (fields below) plus one buffer allocated once:
//
//   +0    chaining value: MD5 a b c d (16 bytes, little-endian words), SHA-256 H0..H7 (32 bytes)
//   +32   partial block                                      64 bytes
//   +96   SHA-256 only: message schedule, the last 16 words W(t-16)..W(t-1)   64 bytes
//
// 96 bytes for MD5, 160 for SHA-256.

import { tableAlloc } from "../util/alloc";
import { md5Block, MD5_IV, MD5_LEN } from "./md5";
import { sha256Block, SHA256_IV, SHA256_LEN } from "./sha256";
import { hexEncode } from "./hex";

export class MdHash {
  /** Bytes hashed so far (message length for the padding). */
  total: u64 = 0;
  /** Bytes waiting in `buf` (< 64). */
  fill: u32 = 0;
  /** Chaining value, then the partial block, then (SHA-256) the schedule: the layout above. */
  readonly h: usize;
  readonly buf: usize;

  constructor(readonly sha: bool) {
    this.h = tableAlloc(sha ? 160 : 96);
    this.buf = this.h + 32;
  }

  init(): MdHash {
    memory.copy(this.h, this.sha ? SHA256_IV : MD5_IV, this.sha ? 32 : 16);
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

  /** Pad, write the digest (16 bytes MD5, 32 SHA-256) at out, and clear the context. */
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
    // length in bits: little-endian for MD5 (RFC 1321 §3.2), big-endian for SHA-256
    store<u64>(this.buf, this.sha ? bswap<u64>(bits) : bits, 56);
    this.block(this.buf);
    if (this.sha) {
      for (let i: usize = 0; i < 32; i += 4) store<u32>(out + i, bswap<u32>(load<u32>(this.h + i)));
    } else {
      memory.copy(out, this.h, 16);
    }
    this.wipe();
  }

  /** Forget everything hashed: chaining value, partial block and schedule (which holds input words). */
  wipe(): void {
    memory.fill(this.h, 0, this.sha ? 160 : 96);
    this.fill = 0;
    this.total = 0;
  }

  private block(m: usize): void {
    if (this.sha) sha256Block(this.h, this.h + 96, m);
    else md5Block(this.h, m);
  }
}

/** An MD5 context (RFC 1321). */
@final export class Md5 extends MdHash {
  constructor() { super(false); }
}

/** A SHA-256 context (FIPS 180-4). */
@final export class Sha256 extends MdHash {
  constructor() { super(true); }
}

/** The shared contexts of the one-shot helpers. */
const md5Ctx = new Md5();
const shaCtx = new Sha256();
/** Scratch for the hex helpers: 32 bytes. */
const RAW: usize = memory.data(32);

/** MD5 of [p, p+len) into 16 bytes at out. */
export function md5(p: usize, len: u32, out: usize): void {
  md5Ctx.init().update(p, len);
  md5Ctx.final(out);
}

/** MD5 of [p, p+len) as 32 lowercase hex digits at out. Returns 32. */
export function md5Hex(p: usize, len: u32, out: usize): u32 {
  md5(p, len, RAW);
  return hexEncode(RAW, MD5_LEN, out);
}

/** SHA-256 of [p, p+len) into 32 bytes at out. */
export function sha256(p: usize, len: u32, out: usize): void {
  shaCtx.init().update(p, len);
  shaCtx.final(out);
}

/** SHA-256 of [p, p+len) as 64 lowercase hex digits at out. Returns 64. */
export function sha256Hex(p: usize, len: u32, out: usize): u32 {
  sha256(p, len, RAW);
  return hexEncode(RAW, SHA256_LEN, out);
}
