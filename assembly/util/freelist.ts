// The free records of a fixed table as a stack of their indices: the record freed last is the one taken
// next (LIFO), so taking one is O(1) and the records in use stay few and hot (a table of many thousand
// records touches only as many pages as were ever in use at once). Each free index is in the stack
// exactly once: give() only what take() handed out. Nothing is allocated after start-up.
import { zeroTable } from "./zero";
import { tableAlloc } from "./alloc";

@final export class FreeList {
  private base: usize;
  private top: i32 = 0;
  private cap: i32;

  constructor(cap: i32) {
    this.cap = cap;
    this.base = cap > 0 ? tableAlloc(<usize>cap * 4) : 0;
    this.reset();
  }

  /** Every record free; the lowest index is taken first. */
  reset(): void {
    zeroTable(this.base, <usize>this.cap * 4);
    this.top = this.cap;
  }

  /** A free record's index, now not free; -1 when none is. */
  take(): i32 {
    if (this.top == 0) return -1;
    this.top--;
    return this.at(this.top);
  }

  /** Record i is free again (it was taken). */
  give(i: i32): void {
    if (this.top >= this.cap) return; // never more than the table: a second give of one index is dropped
    store<i32>(this.base + <usize>this.top * 4, i + 1);
    this.top++;
  }

  get free(): i32 { return this.top; }

  /** The index at stack position p: entries hold an index + 1, and 0 (never written) stands for what a
   * fresh stack holds there, cap-1 .. 0 from the bottom (so a reset writes nothing: util/zero.ts). */
  private at(p: i32): i32 {
    const v = load<i32>(this.base + <usize>p * 4);
    return v != 0 ? v - 1 : this.cap - 1 - p;
  }

  /** Tests: free record i is taken next (the ones before it in the stack are taken last instead: a
   * rotation, in place). False when i is not free. */
  next(i: i32): bool {
    for (let p = 0; p < this.top; p++) {
      if (this.at(p) != i) continue;
      this.defer(this.top - 1 - p);
      return true;
    }
    return false;
  }

  private defer(k: i32): void {
    if (k <= 0 || k >= this.top) return;
    this.reverse(0, this.top);
    this.reverse(0, k);
    this.reverse(k, this.top);
  }

  private reverse(a: i32, b: i32): void {
    for (let x = a, y = b - 1; x < y; x++, y--) {
      const t = this.at(x);
      store<i32>(this.base + <usize>x * 4, this.at(y) + 1);
      store<i32>(this.base + <usize>y * 4, t + 1);
    }
  }
}
