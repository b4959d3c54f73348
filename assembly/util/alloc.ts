// Table allocation at start-up (config.ts "capacities laid out at start"). The runtime is AssemblyScript's
// stub: a bump allocator that grows memory when an allocation passes its end, and then grows it by at
// least as much as it has (it doubles). On the boards whose tables are laid out from the host's
// capacities (SPARSE_TABLES: their memory starts at the static data, asconfig.json initialMemory) that
// doubling would leave up to as much memory again unused; so each table grows memory itself first, by
// exactly what the table needs plus one page, and the stub finds room: the small objects start-up
// allocates between tables (views, scratch buffers, a few KB in all) come out of that page. A core's
// memory is then its static data and tables, plus at most a page. The other boards' memory is fixed
// (initialMemory = maximumMemory): a plain allocation.

import { SPARSE_TABLES } from "../config";

/** `size` bytes of a table, allocated once at start-up. */
// @ts-ignore: decorator
@inline export function tableAlloc(size: usize): usize {
  return SPARSE_TABLES ? grownAlloc(size) : heap.alloc(size);
}

/** tableAlloc where memory grows from the static data: grown first by what the table needs. */
function grownAlloc(size: usize): usize {
  // where the stub's next block will end: a probe block (16 bytes with its header) ends where the next
  // block's header starts; the payload is rounded as the stub rounds it (rt/stub.ts computeSize)
  const probe = heap.alloc(0);
  const end = probe + 16 + (((size + 4 + 15) & ~<usize>15) - 4);
  const have = <usize>memory.size() << 16;
  if (end + 65536 > have && memory.grow(<i32>((end + 65536 - have + 0xffff) >>> 16)) < 0 && end > have) {
    memory.grow(<i32>((end - have + 0xffff) >>> 16)); // no room for the spare page: exactly the table
  }
  return heap.alloc(size);
}
