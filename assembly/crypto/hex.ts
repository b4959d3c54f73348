// Lowercase hexadecimal (RFC 2617 LHEX) over linear memory: no allocation, no traps.

import { Ch, Cls, hexValue, is } from "../util/chars";

/** Write 2·n lowercase hex digits of the bytes [src, src+n) at out. Returns 2·n. */
export function hexEncode(src: usize, n: u32, out: usize): u32 {
  for (let i: usize = 0; i < <usize>n; i++) {
    const b = <u32>load<u8>(src + i);
    store<u8>(out + (i << 1), <u8>hexDigit(b >> 4));
    store<u8>(out + (i << 1) + 1, <u8>hexDigit(b & 0xf));
  }
  return n << 1;
}

/**
 * Decode 2·n hex digits (either case) at src into n bytes at out. Returns false, with out partly
 * written, when a byte is not a hex digit.
 */
export function hexDecode(src: usize, n: u32, out: usize): bool {
  for (let i: usize = 0; i < <usize>n; i++) {
    const h = <u32>load<u8>(src + (i << 1));
    const l = <u32>load<u8>(src + (i << 1) + 1);
    if (!is(h, Cls.HEX) || !is(l, Cls.HEX)) return false;
    store<u8>(out + i, <u8>((hexValue(h) << 4) | hexValue(l)));
  }
  return true;
}

/** The lowercase hex digit of d (0..15). */
export function hexDigit(d: u32): u32 {
  return d < 10 ? <u32>Ch.D0 + d : <u32>Ch.a + d - 10;
}
