// Pointer-range scanners shared by every decoder of the wire layer.
//
// Contract: each scanner takes a cursor `p` and an exclusive `end` into linear memory and returns the
// new cursor; a scanner that finds nothing returns `p` unchanged, and one that finds a syntax error
// returns 0 (no valid message byte lives at address 0: the first data segment starts above it).
// All reads are `load<u8>` of addresses in [p, end): callers pass ranges inside one validated
// message view, so no read leaves the receive buffer.
//
// Inside a header value, line folding has already been recognised by the view (a CRLF inside a value
// span is always followed by SP/HT), so LWS here is any run of SP, HT, CR and LF.

import { Ch, Cls, is, isAny, lower } from "../util/chars";
import { TEXT } from "./tables";
import { sameBytes } from "../util/bytes";

/** An LWS byte: SP, HT, or the CR / LF of a fold (the one test of it in the wire layer). */
export function isLws(c: u32): bool {
  return c == Ch.SP || c == Ch.HT || c == Ch.CR || c == Ch.LF;
}

/** Skip LWS (SP / HT / folded CRLF). */
export function skipLws(p: usize, end: usize): usize {
  while (p < end && isLws(<u32>load<u8>(p))) p++;
  return p;
}

/** Cursor after trimming LWS backwards from `end` (never below `start`). */
export function trimLwsEnd(start: usize, end: usize): usize {
  while (end > start && isLws(<u32>load<u8>(end - 1))) end--;
  return end;
}

/** Skip a run of bytes of class `cls`. */
export function skipClass(p: usize, end: usize, cls: u32): usize {
  while (p < end && is(<u32>load<u8>(p), cls)) p++;
  return p;
}

/** Skip to the first byte of any class of `cls` (or to `end`). */
export function skipUntil(p: usize, end: usize, cls: u32): usize {
  while (p < end && !isAny(<u32>load<u8>(p), cls)) p++;
  return p;
}

/** Skip a token (RFC 3261 §25.1). Returns `p` when no token byte is there. */
export function skipToken(p: usize, end: usize): usize {
  return skipClass(p, end, Cls.TOKEN);
}

/**
 * A token at `p`, its span stored at `at`: a Repr's `usize` address field and the `u32` length field
 * declared just after it. Returns the cursor after the token, 0 when no token is there.
 */
export function tokenAt(p: usize, end: usize, at: usize): usize {
  const q = skipToken(p, end);
  if (q == p) return 0;
  store<usize>(at, p);
  store<u32>(at + sizeof<usize>(), <u32>(q - p));
  return q;
}

/** Cursor after `SWS "/" SWS` at `p`, or 0 when the slash is missing. */
export function skipSlash(p: usize, end: usize): usize {
  p = skipLws(p, end);
  if (p >= end || load<u8>(p) != Ch.SLASH) return 0; // p < end
  return skipLws(p + 1, end);
}

/**
 * Skip a quoted-string starting at the DQUOTE at `p` (RFC 3261 §25.1: qdtext / quoted-pair).
 * Returns the cursor after the closing DQUOTE, or 0 if the string is unterminated or holds a byte
 * that qdtext forbids (a CTL other than folded LWS) outside a quoted-pair.
 */
export function skipQuoted(p: usize, end: usize): usize {
  p++; // opening DQUOTE
  while (p < end) {
    const c = <u32>load<u8>(p);
    if (c == Ch.DQUOTE) return p + 1;
    if (c == Ch.BACKSLASH) {
      // quoted-pair = "\" (%x00-09 / %x0B-0C / %x0E-7F)
      if (p + 1 >= end) return 0;
      const q = <u32>load<u8>(p + 1);
      if (q == Ch.LF || q == Ch.CR || q > 0x7f) return 0;
      p += 2;
      continue;
    }
    if (c < 0x20 && c != Ch.HT && c != Ch.CR && c != Ch.LF) return 0;
    if (c == Ch.DEL) return 0;
    p++;
  }
  return 0;
}

/** Skip a comment `( ... )` with nesting and quoted-pairs (RFC 3261 §25.1). 0 if unterminated. */
export function skipComment(p: usize, end: usize): usize {
  let depth = 0;
  while (p < end) {
    const c = <u32>load<u8>(p);
    if (c == Ch.BACKSLASH) { p += 2; continue; }
    if (c == Ch.LPAREN) depth++;
    else if (c == Ch.RPAREN) { if (--depth == 0) return p + 1; }
    p++;
  }
  return 0;
}

/** Case-insensitive (ASCII) compare of memory [p, p+len) with a lower-case text of the packed table. */
export function eqText(p: usize, len: u32, code: u32): bool {
  // the texts compared so (tables.ts T_K_*) are lower case: lower() leaves them as they are
  return eqBytesI(p, len, TEXT + <usize>(code >> 8), code & 0xff);
}

/** Case-sensitive compare of memory [p, p+len) with a text of the packed table. */
export function eqTextExact(p: usize, len: u32, code: u32): bool {
  return len == (code & 0xff) && sameBytes(p, TEXT + <usize>(code >> 8), len);
}

/** Byte-exact compare of two memory ranges. */
export function eqBytes(a: usize, alen: u32, b: usize, blen: u32): bool {
  return alen == blen && sameBytes(a, b, alen);
}

/** Whether [p, p+len) is the ASCII text `lit`, letters in any case (a literal: no allocation). */
export function textIs(p: usize, len: u32, lit: string): bool {
  if (<i32>len != lit.length) return false;
  for (let k = 0; k < lit.length; k++) if (lower(<u32>load<u8>(p + <usize>k)) != lower(<u32>lit.charCodeAt(k))) return false;
  return true;
}

/** Case-insensitive (ASCII) compare of two memory ranges. */
export function eqBytesI(a: usize, alen: u32, b: usize, blen: u32): bool {
  if (alen != blen) return false;
  for (let i: usize = 0; i < <usize>alen; i++) {
    if (lower(<u32>load<u8>(a + i)) != lower(<u32>load<u8>(b + i))) return false;
  }
  return true;
}

/**
 * Parse 1*DIGIT at [p, end) as an unsigned number. Returns the value, or -1 when the range is empty,
 * holds a non-digit, or the value exceeds `max` (overflow is caught before it can wrap).
 */
export function parseUint(p: usize, end: usize, max: u64): i64 {
  if (p >= end) return -1;
  let v: u64 = 0;
  while (p < end) {
    const d = <u32>load<u8>(p) - Ch.D0;
    if (d > 9) return -1;
    v = v * 10 + d;
    if (v > max) return -1;
    p++;
  }
  return <i64>v;
}

/** One parameter found by `scanHeaderParam`: name and value spans (value 0/0 when absent). */
@unmanaged export class ParamSpan {
  name: usize = 0;
  nameLen: u32 = 0;
  value: usize = 0;
  valueLen: u32 = 0;
  /** True when `=` was present (a `;lr=` has an empty value, a `;lr` has none). */
  hasValue: bool = false;
}

/**
 * Claim a decoded record's span field at `f` (address, length at +4, has-flag at +8: Via branch,
 * received, maddr; name-addr tag) for the parameter's value: false when the parameter has no value or
 * its field was claimed already. Called once the value is known good, so a refused parameter leaves
 * the fields as they were.
 */
export function claimValue(f: usize, ps: ParamSpan): bool {
  if (load<bool>(f, 8) || !ps.hasValue) return false;
  store<usize>(f, ps.value);
  store<u32>(f, ps.valueLen, 4);
  store<bool>(f, true, 8);
  return true;
}

/**
 * One header parameter starting at `p` (just after its `;`), shared by Via, Contact, From/To and auth:
 * generic-param = token [ EQUAL gen-value ], gen-value = token / host / quoted-string, LWS allowed
 * around `=`. A bracketed IPv6 value is accepted for any parameter (RFC 5118 §4.5 received=[...]):
 * decoders that need a token-only value check it themselves. Returns the cursor after the parameter,
 * 0 on a syntax error (empty name, empty or unterminated value).
 */
export function scanHeaderParam(p: usize, end: usize, out: ParamSpan): usize {
  p = skipLws(p, end);
  const n = p;
  p = skipToken(p, end);
  if (p == n) return 0;
  memory.fill(changetype<usize>(out), 0, offsetof<ParamSpan>()); // no value until one is read
  out.name = n;
  out.nameLen = <u32>(p - n);
  let q = skipLws(p, end);
  if (q < end && load<u8>(q) == Ch.EQ) {
    q = skipLws(q + 1, end);
    out.hasValue = true;
    if (q < end && load<u8>(q) == Ch.DQUOTE) {
      const e = skipQuoted(q, end);
      if (e == 0) return 0;
      out.value = q;
      out.valueLen = <u32>(e - q);
      return e;
    }
    // token / host (IPv6 reference included: RFC 5118 §4.5 received=[...] is accepted leniently)
    const v = q;
    while (q < end) {
      const c = <u32>load<u8>(q);
      // TOKEN or HOST: a token byte, ":", "[" or "]" (HOST's other bytes are token bytes)
      if (!isAny(c, Cls.TOKEN | Cls.HOST)) break;
      q++;
    }
    if (q == v) return 0;
    out.value = v;
    out.valueLen = <u32>(q - v);
    return q;
  }
  return p;
}
