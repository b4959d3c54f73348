// Reason phrases for the responses the core generates (RFC 3261 §21), from the packed table of
// tables.ts: no string objects, no allocation.

import { REASONS, REASON_COUNT } from "./tables";

/** Address of the phrase for `code` (its length at the address minus one), or 0 when the table has
 * none: the caller then writes a generic phrase by class. */
export function reasonEntry(code: u32): usize {
  let e = REASONS;
  for (let i: u32 = 0; i < REASON_COUNT; i++) {
    const n = <usize>load<u8>(e + 2);
    if (<u32>load<u16>(e) == code) return e + 3;
    e += 3 + n;
  }
  return 0;
}
