// A binary min-heap of item ids keyed by i64 deadlines, with a position index so that an item's key
// can be changed or the item removed in O(log n). Fixed capacity, allocated once at start-up: the
// timer queue of the transaction table and of the registrar (quinn keeps one per connection; a wheel
// would cost a wake-up per tick even when idle, which a microcontroller should not pay).
//
//   heap[0..size)  item ids, heap-ordered by key[id]
//   pos[id]        index of id in heap + 1, or 0 when absent (a fresh queue is all zero: util/zero.ts)
//   key[id]        the item's deadline

import { zeroTable } from "./zero";
import { tableAlloc } from "./alloc";

export class MinHeap {
  size: i32 = 0;
  readonly cap: i32;
  private heap: usize;
  private pos: usize;
  private key: usize;

  constructor(cap: i32) {
    this.cap = cap;
    this.heap = tableAlloc(<usize>cap << 2);
    this.pos = tableAlloc(<usize>cap << 2);
    this.key = tableAlloc(<usize>cap << 3);
  }

  // Accessors: ids are < cap (checked at set/remove), heap slots < size.
  private hAt(i: i32): i32 { return load<i32>(this.heap + (<usize>i << 2)); }
  private kOf(id: i32): i64 { return load<i64>(this.key + (<usize>id << 3)); }
  private place(i: i32, id: i32): void {
    store<i32>(this.heap + (<usize>i << 2), id);
    store<i32>(this.pos + (<usize>id << 2), i + 1);
  }
  /** Index of id in heap, or -1 when absent. */
  private posOf(id: i32): i32 { return load<i32>(this.pos + (<usize>id << 2)) - 1; }

  /** Is id queued? */
  has(id: i32): bool {
    return <u32>id < <u32>this.cap && this.posOf(id) >= 0;
  }

  /** Insert id with deadline k, or move it to k. */
  set(id: i32, k: i64): void {
    if (<u32>id >= <u32>this.cap) return;
    let p = this.posOf(id);
    store<i64>(this.key + (<usize>id << 3), k);
    // A new id goes in at the end and up; the down after that moves nothing (each key up moved down
    // has no smaller key below it), so insert and move share the two steps.
    if (p < 0) {
      p = this.size++;
      this.place(p, id);
    }
    this.up(p);
    this.down(this.posOf(id));
  }

  /** Remove id if queued. */
  remove(id: i32): void {
    if (<u32>id >= <u32>this.cap) return;
    const p = this.posOf(id);
    if (p < 0) return; // not queued
    store<i32>(this.pos + (<usize>id << 2), 0);
    const last = --this.size;
    if (p != last) {
      this.place(p, this.hAt(last));
      this.up(p);
      this.down(this.posOf(this.hAt(p)));
    }
  }

  /** Id with the smallest deadline, or -1 when empty. */
  peek(): i32 {
    return this.size > 0 ? this.hAt(0) : -1;
  }

  /** Smallest deadline, or -1 when empty. */
  peekKey(): i64 {
    return this.size > 0 ? this.kOf(this.hAt(0)) : -1;
  }

  /** Remove every item. */
  clear(): void {
    this.size = 0;
    zeroTable(this.pos, <usize>this.cap << 2);
  }

  private up(i: i32): void {
    const id = this.hAt(i);
    const k = this.kOf(id);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const pid = this.hAt(parent);
      if (this.kOf(pid) <= k) break;
      this.place(i, pid);
      i = parent;
    }
    this.place(i, id);
  }

  private down(i: i32): void {
    const n = this.size;
    const id = this.hAt(i);
    const k = this.kOf(id);
    while (true) {
      let c = 2 * i + 1;
      if (c >= n) break;
      if (c + 1 < n && this.kOf(this.hAt(c + 1)) < this.kOf(this.hAt(c))) c++;
      const cid = this.hAt(c);
      if (this.kOf(cid) >= k) break;
      this.place(i, cid);
      i = c;
    }
    this.place(i, id);
  }
}
