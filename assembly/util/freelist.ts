// The free records of a fixed table as a stack of their indices: the record freed last is the one taken
// next (LIFO), so taking one is O(1) and the records in use stay few and hot (a table of many thousand
// records touches only as many pages as were ever in use at once). Each free index is in the stack
// exactly once: give() only what take() handed out. Nothing is allocated after start-up.

@final export class FreeList {
  private base: usize;
  private top: i32 = 0;
  private cap: i32;

  constructor(cap: i32) {
    this.cap = cap;
    this.base = cap > 0 ? heap.alloc(<usize>cap * 4) : 0;
    this.reset();
  }

  /** Every record free; the lowest index is taken first. */
  reset(): void {
    for (let k = 0; k < this.cap; k++) store<i32>(this.base + <usize>k * 4, this.cap - 1 - k);
    this.top = this.cap;
  }

  /** A free record's index, now not free; -1 when none is. */
  take(): i32 {
    if (this.top == 0) return -1;
    this.top--;
    return load<i32>(this.base + <usize>this.top * 4);
  }

  /** Record i is free again (it was taken). */
  give(i: i32): void {
    if (this.top >= this.cap) return; // never more than the table: a second give of one index is dropped
    store<i32>(this.base + <usize>this.top * 4, i);
    this.top++;
  }

  get free(): i32 { return this.top; }

  /** Tests: free record i is taken next (the ones before it in the stack are taken last instead: a
   * rotation, in place). False when i is not free. */
  next(i: i32): bool {
    for (let p = 0; p < this.top; p++) {
      if (load<i32>(this.base + <usize>p * 4) != i) continue;
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
      const px = this.base + <usize>x * 4;
      const py = this.base + <usize>y * 4;
      const t = load<i32>(px);
      store<i32>(px, load<i32>(py));
      store<i32>(py, t);
    }
  }
}
