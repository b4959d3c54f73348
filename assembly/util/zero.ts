// Zeroing a table without touching memory that is zero already. A core's tables are laid out once at
// start-up in memory the host maps zero-filled (wasm memory: every byte zero at instantiation, beyond
// the static data), and the operating system backs a page with RAM only once it is written. A table
// reset (sip_init, and each table's own reset at module start) that wrote every byte would make the
// whole of every table resident at start: the server board's 249 MiB would cost ~90 MB before its
// first message. zeroTable writes only the pages that hold something: a table costs memory in
// proportion to the part of it that has been used, and a fresh core is almost all untouched. Free lists
// (txn/table.ts, util/pool.ts, util/freelist.ts, registrar/table.ts) read a never-written 0 as "the next
// record in order", and index tables store ids + 1, so an empty table is all zero. Boards whose tables
// are small (config.ts SPARSE_TABLES off) fill them whole: less code.

import { SPARSE_TABLES } from "../config";

/** Zero [p, p+n): each 4 KiB page of it that is not all zero already is filled, the others are only
 * read (a read of an untouched page maps the shared zero page: no memory of our own). */
export function zeroTable(p: usize, n: usize): void {
  if (!SPARSE_TABLES) {
    memory.fill(p, 0, n);
    return;
  }
  const end = p + n;
  while (p < end) {
    let stop = (p | 4095) + 1;
    if (stop > end) stop = end;
    let q = p;
    let dirty = false;
    while (q < stop && (q & 7) != 0) { if (load<u8>(q) != 0) { dirty = true; break; } q++; }
    while (!dirty && q + 8 <= stop) { if (load<u64>(q) != 0) dirty = true; q += 8; }
    while (!dirty && q < stop) { if (load<u8>(q) != 0) dirty = true; q++; }
    if (dirty) memory.fill(p, 0, stop - p);
    p = stop;
  }
}
