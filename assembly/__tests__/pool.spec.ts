// The block pool (util/pool.ts): strings stored as chains of blocks, read and written at any offset
// (the proxy keeps a fork's later targets this way and reads them back one at a time), the reserve,
// and that a full pool refuses instead of overwriting.

import { Pool } from "../util/pool";

const SRC = memory.data(1300);
const DST = memory.data(1300);

function fill(n: i32): void {
  for (let i = 0; i < n; i++) store<u8>(SRC + <usize>i, <u8>(i * 7 + 3));
}

describe("Pool", () => {
  test("a string across blocks reads back whole and from any offset", () => {
    const p = new Pool(64, 40);
    fill(1300);
    const h = p.store(SRC, 1300);
    expect(h).not.toBe(0);
    expect(p.used).toBe(21); // 1300 / 64, rounded up
    expect(p.copyOut(h, DST)).toBe(1300);
    expect(memory.compare(SRC, DST, 1300)).toBe(0);
    // offsets at, before and after block edges, lengths within one block and across several
    const offs: u32[] = [0, 1, 63, 64, 65, 127, 128, 700, 1235, 1299];
    const lens: u32[] = [1, 2, 64, 65, 130, 1];
    for (let i = 0; i < offs.length; i++) {
      for (let j = 0; j < lens.length; j++) {
        const off = offs[i];
        const n = off + lens[j] <= 1300 ? lens[j] : 1300 - off;
        memory.fill(DST, 0, 1300);
        p.read(h, off, DST, n);
        expect(memory.compare(SRC + <usize>off, DST, n)).toBe(0);
      }
    }
  });

  test("alloc then write in pieces equals store", () => {
    const p = new Pool(64, 40);
    fill(300);
    const h = p.alloc(300);
    expect(h).not.toBe(0);
    expect(p.len(h)).toBe(300);
    p.write(h, 0, SRC, 10);
    p.write(h, 10, SRC + 10, 100); // crosses the first block's edge
    p.write(h, 110, SRC + 110, 190);
    expect(p.copyOut(h, DST)).toBe(300);
    expect(memory.compare(SRC, DST, 300)).toBe(0);
    expect(p.equals(h, SRC, 300)).toBe(true);
  });

  test("a full pool refuses, the reserve only for who may use it, and releases give the blocks back", () => {
    const p = new Pool(64, 4);
    p.reserve = 1;
    fill(200);
    const a = p.alloc(192); // 3 blocks: the reserve's one is left
    expect(a).not.toBe(0);
    expect(p.alloc(1)).toBe(0);
    expect(p.store(SRC, 1)).toBe(0);
    const b = p.store(SRC, 64, true);
    expect(b).not.toBe(0);
    expect(p.available).toBe(0);
    expect(p.alloc(0, true)).toBe(0);
    p.release(a);
    p.release(b);
    expect(p.available).toBe(4);
    expect(p.store(SRC, 200)).toBe(0); // 4 blocks: one of them is the reserve
    const c = p.store(SRC, 200, true);
    expect(c).not.toBe(0);
    expect(p.copyOut(c, DST)).toBe(200);
    expect(memory.compare(SRC, DST, 200)).toBe(0);
  });
});
