// The free-record stack (util/freelist.ts) the user agent's tables take records from: lowest index
// first from a fresh table, the record freed last taken next, -1 when every record is taken, and
// next(i) (tests) reorders without losing or doubling any index.

import { FreeList } from "../util/freelist";

describe("FreeList", () => {
  test("a fresh list hands out 0, 1, 2 ... then -1; a freed record is the next taken", () => {
    const f = new FreeList(5);
    for (let i = 0; i < 5; i++) expect(f.take()).toBe(i);
    expect(f.take()).toBe(-1);
    expect(f.free).toBe(0);
    f.give(3);
    f.give(1);
    expect(f.take()).toBe(1);
    expect(f.take()).toBe(3);
    expect(f.take()).toBe(-1);
  });

  test("a give beyond the table's size is dropped, never written past the stack", () => {
    const f = new FreeList(2);
    f.give(0);
    f.give(1);
    expect(f.free).toBe(2);
  });

  test("next(i) makes a free record the next taken; every index still comes out exactly once", () => {
    const f = new FreeList(100);
    expect(f.take()).toBe(0);
    expect(f.next(0)).toBe(false); // taken: not free
    expect(f.next(73)).toBe(true);
    expect(f.take()).toBe(73);
    expect(f.next(99)).toBe(true);
    const seen = new StaticArray<u8>(100);
    seen[0] = 1;
    seen[73] = 1;
    let n = 2;
    for (let i = f.take(); i >= 0; i = f.take()) {
      expect(seen[i]).toBe(0);
      seen[i] = 1;
      n++;
    }
    expect(n).toBe(100);
  });

  test("reset: every record free again, lowest first", () => {
    const f = new FreeList(3);
    f.take();
    f.take();
    f.reset();
    expect(f.free).toBe(3);
    expect(f.take()).toBe(0);
  });
});
