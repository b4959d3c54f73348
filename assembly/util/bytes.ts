// Byte-exact comparison of two memory ranges, in one function. The standard library's memory.compare
// is @inline (its memcmp loop copied into every caller) and orders the ranges, where the core only asks
// whether they are equal: a plain byte loop, which the core's comparisons all go through.

/** Whether [a, a+n) and [b, b+n) hold the same bytes. */
export function sameBytes(a: usize, b: usize, n: usize): bool {
  for (let i: usize = 0; i < n; i++) if (load<u8>(a + i) != load<u8>(b + i)) return false;
  return true;
}
