// Open-addressing hash indexes over fixed record tables: linear probing, backward-shift deletion (no
// tombstones, so a probe sequence never grows with churn). A slot holds a record index + 1 (0 =
// empty); the record's u64 key lives at byte `keyAt` of its `size`-byte record in the table at
// `records`. The transaction table's server match index (table.ts) and the proxy's dialog index
// (proxy/dialog.ts) are both one: one copy of the code for the two.

/** Enter record r under `key` in the index of `mask` + 1 slots at `slots` (a free slot always
 * exists: the index has at least twice the records' slots). */
export function probeInsert(slots: usize, mask: u32, key: u64, r: u32): void {
  let i = <u32>key & mask;
  while (load<u32>(slots + (<usize>i << 2)) != 0) i = (i + 1) & mask;
  store<u32>(slots + (<usize>i << 2), r + 1);
}

/** Remove record r, entered under `key`, from the index (nothing when it is not there). */
export function probeRemove(slots: usize, mask: u32, records: usize, size: usize, keyAt: usize, key: u64, r: u32): void {
  let i = <u32>key & mask;
  while (true) {
    const s = load<u32>(slots + (<usize>i << 2));
    if (s == 0) return; // not indexed
    if (s == r + 1) break;
    i = (i + 1) & mask;
  }
  // backward-shift deletion keeps every probe sequence unbroken
  let hole = i;
  let j = (i + 1) & mask;
  while (true) {
    const s = load<u32>(slots + (<usize>j << 2));
    if (s == 0) break;
    const home = <u32>load<u64>(records + <usize>(s - 1) * size + keyAt) & mask;
    // move s into the hole when its home is not in (hole, j] cyclically
    if (((j - home) & mask) >= ((j - hole) & mask)) {
      store<u32>(slots + (<usize>hole << 2), s);
      hole = j;
    }
    j = (j + 1) & mask;
  }
  store<u32>(slots + (<usize>hole << 2), 0);
}

/** Slots for an index of n entries: the power of two at least n (at least 8). */
export function nextPow2(n: u32): u32 {
  let c: u32 = 8;
  while (c < n) c <<= 1;
  return c;
}
