// Numeric IP addresses <-> the 16 address bytes of a peer record, on byte ranges in linear memory.
// No allocation: parsing writes into a caller's buffer, formatting goes straight to the output.

import { putByte, putU64, putHex16 } from "./out";

const WORDS: usize = memory.data(16, 2);

/** Dotted quad in [p, p+n) -> 4 bytes at out. */
export function parse4(p: usize, n: u32, out: usize): bool {
  let part: u32 = 0;
  let val: u32 = 0;
  let digits: u32 = 0;
  for (let i: u32 = 0; i < n; i++) {
    const c = <u32>load<u8>(p + i);
    if (c >= 48 && c <= 57) {
      val = val * 10 + (c - 48);
      if (++digits > 3 || val > 255) return false;
    } else if (c == 46 && digits > 0 && part < 3) {
      store<u8>(out + part++, <u8>val);
      val = 0;
      digits = 0;
    } else return false;
  }
  if (part != 3 || digits == 0) return false;
  store<u8>(out + 3, <u8>val);
  return true;
}

function hexVal(c: u32): i32 {
  if (c >= 48 && c <= 57) return <i32>(c - 48);
  if (c >= 97 && c <= 102) return <i32>(c - 87);
  if (c >= 65 && c <= 70) return <i32>(c - 55);
  return -1;
}

/** IPv6 text in [p, p+n) (no brackets, no zone; optional dotted-quad tail) -> 16 bytes at out. */
export function parse6(p: usize, n: u32, out: usize): bool {
  let count: u32 = 0; // words written to WORDS
  let gap: i32 = -1; // word index where "::" stands
  let i: u32 = 0;
  if (n >= 2 && load<u8>(p) == 58 && load<u8>(p + 1) == 58) {
    gap = 0;
    i = 2;
  } else if (n > 0 && load<u8>(p) == 58) return false;
  while (i < n) {
    let j = i;
    while (j < n && load<u8>(p + j) != 58 && load<u8>(p + j) != 46) j++;
    if (j < n && load<u8>(p + j) == 46) {
      // dotted-quad tail: the rest of the text
      if (count > 6) return false;
      if (!parse4(p + i, n - i, WORDS + (count << 1))) return false;
      // keep the byte order: store as two words in network order, fixed below
      const a = <u32>load<u8>(WORDS + (count << 1));
      const b = <u32>load<u8>(WORDS + (count << 1) + 1);
      const c = <u32>load<u8>(WORDS + (count << 1) + 2);
      const d = <u32>load<u8>(WORDS + (count << 1) + 3);
      store<u16>(WORDS + (count << 1), <u16>((a << 8) | b));
      store<u16>(WORDS + ((count + 1) << 1), <u16>((c << 8) | d));
      count += 2;
      i = n;
      break;
    }
    if (j == i || j - i > 4 || count >= 8) return false;
    let w: u32 = 0;
    for (let k = i; k < j; k++) {
      const h = hexVal(<u32>load<u8>(p + k));
      if (h < 0) return false;
      w = (w << 4) | <u32>h;
    }
    store<u16>(WORDS + (count << 1), <u16>w);
    count++;
    i = j;
    if (i < n) {
      // at a ':'
      i++;
      if (i < n && load<u8>(p + i) == 58) {
        if (gap >= 0) return false;
        gap = <i32>count;
        i++;
      } else if (i == n) return false; // trailing single ':'
    }
  }
  if (gap < 0 && count != 8) return false;
  if (gap >= 0 && count > 7) return false;
  const fill: u32 = 8 - count;
  let o: u32 = 0;
  for (let k: u32 = 0; k < count; k++) {
    if (gap >= 0 && k == <u32>gap) for (let z: u32 = 0; z < fill; z++) store<u16>(out + ((o++) << 1), 0);
    const w = <u32>load<u16>(WORDS + (k << 1));
    store<u8>(out + (o << 1), <u8>(w >> 8));
    store<u8>(out + (o << 1) + 1, <u8>w);
    o++;
  }
  if (gap >= 0 && <u32>gap == count) for (let z: u32 = 0; z < fill; z++) store<u16>(out + ((o++) << 1), 0);
  return true;
}

/** Is the 16-byte address an IPv4-mapped IPv6 address (::ffff:a.b.c.d)? */
export function isMapped(a: usize): bool {
  return load<u64>(a) == 0 && load<u16>(a + 8) == 0 && load<u16>(a + 10) == 0xffff;
}

export function put4(a: usize): void {
  for (let i: u32 = 0; i < 4; i++) {
    if (i) putByte(46);
    putU64(<u64>load<u8>(a + i));
  }
}

/** RFC 5952 text: lowercase, the longest run (>= 2) of zero words compressed. */
export function put6(a: usize): void {
  let bestAt: i32 = -1;
  let bestLen: i32 = 1;
  for (let k: i32 = 0; k < 8; ) {
    if (load<u16>(a + (k << 1)) != 0) {
      k++;
      continue;
    }
    let e = k;
    while (e < 8 && load<u16>(a + (e << 1)) == 0) e++;
    if (e - k > bestLen) {
      bestAt = k;
      bestLen = e - k;
    }
    k = e;
  }
  for (let k: i32 = 0; k < 8; k++) {
    if (k == bestAt) {
      putByte(58);
      putByte(58);
      k += bestLen - 1;
      continue;
    }
    if (k > 0 && k != bestAt + bestLen) putByte(58);
    putHex16(((<u32>load<u8>(a + (k << 1))) << 8) | <u32>load<u8>(a + (k << 1) + 1));
  }
}

/** "udp:1.2.3.4:5060" / "udp:[::1]:5060" */
export function putPeer(family: u32, a: usize, port: u32): void { putPeerOn(false, family, a, port); }

/** proto:addr:port, proto udp or tcp. */
export function putPeerOn(tcp: bool, family: u32, a: usize, port: u32): void {
  if (tcp) {
    putByte(116); putByte(99); putByte(112); putByte(58); // tcp:
  } else {
    putByte(117); putByte(100); putByte(112); putByte(58); // udp:
  }
  if (family == 6) {
    putByte(91);
    put6(a);
    putByte(93);
  } else put4(a);
  putByte(58);
  putU64(<u64>port);
}
