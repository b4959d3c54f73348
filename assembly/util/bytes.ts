// Byte-exact comparison of two memory ranges, in one function. The standard library's memory.compare
// is @inline (its memcmp loop copied into every caller); the core's comparisons all go through here.

/** Whether [a, a+n) and [b, b+n) hold the same bytes. */
export function sameBytes(a: usize, b: usize, n: usize): bool {
  return memory.compare(a, b, n) == 0;
}
