// A fixed pool of equal blocks that stores variable-length byte strings as chains of blocks (the mbuf
// idea): no fragmentation, O(blocks) store and free, one allocation at start-up. Stored messages of
// transactions and the registrar's strings live here; when the pool has no room, `store` returns 0 and
// the caller refuses the work (503) instead of failing later.
//
//   data   blocks × blockSize bytes
//   next   u32 per block (u16 where NARROW): index of the next block of the chain + 1, all ones for
//          NONE, 0 for a block never linked (read as the next block: a fresh pool's free list is
//          every block in order, so a reset writes nothing, util/zero.ts); free blocks chain the
//          free list
//   len    u32 per block (u16 where NARROW): total length of the string (head blocks only)
//   refs   u16 per block: reference count (head blocks only)
//
// A handle is the head block's index + 1 (0 = no string).

import { MAX_MSG, BOARD_MSG_BLOCKS, BOARD_REG_BLOCKS, BOARD_DLG_BLOCKS, SPARSE_TABLES } from "../config";
import { zeroTable } from "./zero";
import { tableAlloc } from "./alloc";
import { sameBytes } from "./bytes";

const NONE: u32 = 0xffffffff;

// The bookkeeping in 16 bits where every pool's block count and every string's length fit (boards
// whose messages are at most 64 KB and whose pools hold fewer than 65,535 blocks): 6 bytes a block
// instead of 10. A string longer than 65,534 bytes is then refused like one the pool has no room for.
const NARROW: bool = MAX_MSG < 0xffff && BOARD_MSG_BLOCKS < 0xffff && BOARD_REG_BLOCKS < 0xffff && BOARD_DLG_BLOCKS < 0xffff;
const SHIFT: usize = NARROW ? 1 : 2;

export class Pool {
  readonly blockSize: u32;
  readonly blocks: u32;
  used: u32 = 0;
  private data: usize;
  private nextA: usize;
  private lenA: usize;
  private refsA: usize;
  private free: u32 = 0;

  constructor(blockSize: u32, blocks: u32) {
    this.blockSize = blockSize;
    this.blocks = blocks;
    this.data = tableAlloc(<usize>blockSize * <usize>blocks);
    this.nextA = tableAlloc(<usize>blocks << SHIFT);
    this.lenA = tableAlloc(<usize>blocks << SHIFT);
    this.refsA = tableAlloc(<usize>blocks << 1);
    this.reset();
  }

  /** Forget every string. */
  reset(): void {
    zeroTable(this.nextA, <usize>this.blocks << SHIFT);
    this.free = this.blocks > 0 ? 0 : NONE;
    this.limit = this.blocks;
    this.used = 0;
  }

  private nextOf(b: u32): u32 {
    const n = NARROW ? <u32>load<u16>(this.nextA + (<usize>b << 1)) : load<u32>(this.nextA + (<usize>b << 2));
    if (n == 0) return b + 1 < this.blocks ? b + 1 : NONE;
    return n == (NARROW ? 0xffff : NONE) ? NONE : n - 1;
  }
  private setNext(b: u32, n: u32): void {
    const v = n == NONE ? (NARROW ? 0xffff : NONE) : n + 1;
    if (NARROW) store<u16>(this.nextA + (<usize>b << 1), <u16>v);
    else store<u32>(this.nextA + (<usize>b << 2), v);
  }
  private setLen(b: u32, len: u32): void {
    if (NARROW) store<u16>(this.lenA + (<usize>b << 1), <u16>len);
    else store<u32>(this.lenA + (<usize>b << 2), len);
  }
  private blockPtr(b: u32): usize { return this.data + <usize>b * <usize>this.blockSize; }

  /** Blocks needed to store len bytes. */
  blocksFor(len: u32): u32 {
    return len == 0 ? 1 : (len + this.blockSize - 1) / this.blockSize;
  }

  /** Blocks that may be in use at once (configured, at most `blocks`: CfgKey.MaxMessageBlocks for the
   * message pool); the memory the pool makes resident is bounded by it (util/zero.ts). */
  limit: u32 = 0;

  /** Free blocks left. */
  get available(): u32 {
    const cap = SPARSE_TABLES ? this.limit : this.blocks; // a configured capacity where tables are sparse
    return cap > this.used ? cap - this.used : 0;
  }

  /** Blocks only `store(…, true)` may take: room kept for stateless answers (a 503 when full). */
  reserve: u32 = 0;

  /**
   * Store [p, p+len); returns a handle, or 0 when the pool lacks room (the reserve counts as no room
   * unless `useReserve`). Reference count 1.
   */
  store(p: usize, len: u32, useReserve: bool = false): u32 {
    const h = this.alloc(len, useReserve);
    if (h != 0) this.move(h, 0, p, len, true);
    return h;
  }

  /** Room for a string of len bytes, written later with `write`: a handle, or 0 as for `store`. */
  alloc(len: u32, useReserve: bool = false): u32 {
    if (NARROW && len >= 0xffff) return 0;
    const need = this.blocksFor(len);
    if (need + (useReserve ? 0 : this.reserve) > this.available) return 0;
    const head = this.free;
    let b = head;
    for (let i: u32 = 1; i < need; i++) b = this.nextOf(b);
    this.free = this.nextOf(b);
    this.setNext(b, NONE);
    this.used += need;
    this.setLen(head, len);
    store<u16>(this.refsA + (<usize>head << 1), 1);
    return head + 1;
  }

  /** Copy [p, p+n) into string h at offset off (off + n <= len(h) is the caller's). */
  write(h: u32, off: u32, p: usize, n: u32): void {
    this.move(h, off, p, n, true);
  }

  /** Copy n bytes of string h from offset off to dst (off + n <= len(h) is the caller's). */
  read(h: u32, off: u32, dst: usize, n: u32): void {
    this.move(h, off, dst, n, false);
  }

  /** Copy n bytes between [p, p+n) and string h from offset off: into the pool when `into`. */
  private move(h: u32, off: u32, p: usize, n: u32, into: bool): void {
    let b = h - 1;
    while (off >= this.blockSize) {
      b = this.nextOf(b);
      off -= this.blockSize;
    }
    while (n > 0) {
      const room = this.blockSize - off;
      const k = n < room ? n : room;
      const at = this.blockPtr(b) + <usize>off;
      memory.copy(into ? at : p, into ? p : at, k);
      p += k;
      n -= k;
      off = 0;
      b = this.nextOf(b); // after the last block too: b is a block, its next is only read
    }
  }

  /** Length of the string behind handle h. */
  len(h: u32): u32 {
    const b = <usize>(h - 1);
    return NARROW ? <u32>load<u16>(this.lenA + (b << 1)) : load<u32>(this.lenA + (b << 2));
  }

  /** Copy the string to dst (room for len(h) bytes is the caller's); returns its length. */
  copyOut(h: u32, dst: usize): u32 {
    const len = this.len(h);
    this.move(h, 0, dst, len, false);
    return len;
  }

  /** Byte-exact comparison of the stored string with [p, p+len). */
  equals(h: u32, p: usize, len: u32): bool {
    if (this.len(h) != len) return false;
    let b = h - 1;
    let left = len;
    while (left > 0) {
      const n = left < this.blockSize ? left : this.blockSize;
      if (!sameBytes(this.blockPtr(b), p, n)) return false;
      p += n;
      left -= n;
      b = this.nextOf(b);
    }
    return true;
  }

  /** One more reference to h. */
  retain(h: u32): void {
    const r = this.refsA + (<usize>(h - 1) << 1);
    store<u16>(r, load<u16>(r) + 1);
  }

  /** Drop a reference; the chain is freed with the last one. h = 0 is ignored. */
  release(h: u32): void {
    if (h == 0) return;
    const head = h - 1;
    const r = this.refsA + (<usize>head << 1);
    const refs = load<u16>(r);
    if (refs > 1) {
      store<u16>(r, refs - 1);
      return;
    }
    store<u16>(r, 0);
    let b = head;
    let n: u32 = 1;
    while (this.nextOf(b) != NONE) {
      b = this.nextOf(b);
      n++;
    }
    this.setNext(b, this.free);
    this.free = head;
    this.used -= n;
  }
}
