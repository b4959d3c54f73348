// URI parsing and comparison for the wire layer: SIP / SIPS (RFC 3261 §19.1, ABNF §25.1, IPv6
// references per RFC 5118), tel (RFC 3966 telephone-subscriber, leniently) and any other
// absoluteURI, which is only delimited.
//
// Contract (two levels, no copying, STYLE.md point 4):
//  - `parseUri(p, end, out)` decodes exactly the range [p, end) into a caller-owned `UriRepr`,
//    allocated once at start-up and reused. Every span in the record is an absolute address into
//    that range plus a byte length; nothing is unescaped or copied. Returns false when the range is
//    not one URI (surrounding LWS, `<>` brackets or trailing bytes included). Never allocates,
//    never traps: every load below is of an address in [p, end), checked before the load.
//  - `uriEquals(a, b)` is the RFC 3261 §19.1.4 comparison of two records filled by `parseUri`;
//    it assumes their spans still point at the bytes that were parsed (validated escapes).
//
// Presence of an optional parameter span (transport, maddr, method, user) is `ptr != 0`: a parsed
// span is never at address 0 (no data segment starts there), and a `;transport` without value has
// a non-zero ptr and length 0.
//
//   sip-uri   = scheme ":" [ user [ ":" password ] "@" ] host [ ":" port ]
//               *( ";" pname [ "=" pvalue ] ) [ "?" hname "=" hvalue *( "&" hname "=" hvalue ) ]
//   host      = hostname / IPv4address / "[" IPv6address "]"

import { Ch, Cls, hexValue, is, isAny, lower } from "../util/chars";
import { eqBytes, eqBytesI, eqText, parseUint } from "./scan";
import { TEXT } from "./tables";
import { MAX_PARAMS } from "../config";
import { HostPort, scanHostPort } from "./host";
import { T_K_DLG, T_K_LR, T_K_MADDR, T_K_METHOD, T_K_SIP, T_K_SIPS, T_K_TEL, T_K_TRANSPORT, T_K_TTL, T_K_USER } from "./tables";

export const enum UriScheme { None = 0, Sip = 1, Sips = 2, Tel = 3, Other = 4 }
export const enum HostKind { None = 0, Name = 1, IPv4 = 2, IPv6 = 3 }

/** One decoded URI: spans into the parsed bytes (see the file header for the contract). */
@unmanaged export class UriRepr {
  /** The whole URI. */
  start: usize = 0; len: u32 = 0;
  /** Scheme text is at `start`. */
  scheme: UriScheme = UriScheme.None; schemeLen: u32 = 0;
  /** Raw (still %-escaped) user; for tel, the telephone number. */
  user: usize = 0; userLen: u32 = 0; hasUser: bool = false;
  password: usize = 0; passwordLen: u32 = 0; hasPassword: bool = false;
  /** IPv6: the span includes the brackets. */
  host: usize = 0; hostLen: u32 = 0; hostKind: HostKind = HostKind.None;
  /** -1 when absent. */
  port: i32 = -1;
  /** uri-parameters after the first ';' (excluded), up to '?' or the end. */
  params: usize = 0; paramsLen: u32 = 0;
  /** Headers after '?' (excluded). */
  headers: usize = 0; headersLen: u32 = 0;
  transport: usize = 0; transportLen: u32 = 0;
  maddr: usize = 0; maddrLen: u32 = 0;
  method: usize = 0; methodLen: u32 = 0;
  /** The `user=` parameter (user=phone, user=ip...). */
  userParam: usize = 0; userParamLen: u32 = 0;
  /** -1 when absent. */
  ttl: i32 = -1;
  lr: bool = false;
  /** Our dialog MAC parameter `dlg=` on our own Record-Route values (proxy/rrmac.ts). */
  dlg: usize = 0; dlgLen: u32 = 0;

  /** Every field as initialised above: all zero (None, false, no span) but port and ttl. One fill
   * instead of a store per field. */
  reset(): void {
    memory.fill(changetype<usize>(this), 0, offsetof<UriRepr>());
    this.port = -1;
    this.ttl = -1;
  }
}

// ---------------------------------------------------------------------------------------------
// Scanning helpers. Scanners return the new cursor, or 0 on a syntax error (as scan.ts does).

/** True when [p, end) starts with a valid escape `%` HEX HEX. */
function isEscape(p: usize, end: usize): bool {
  // p < end is the caller's; p + 3 <= end guards both hex loads.
  return p + 3 <= end &&
    is(<u32>load<u8>(p + 1), Cls.HEX) && is(<u32>load<u8>(p + 2), Cls.HEX);
}

/** Skip a run of bytes of class `cls` or escapes. 0 on a bad escape. */
function skipEsc(p: usize, end: usize, cls: u32): usize {
  while (p < end) {
    const c = <u32>load<u8>(p); // p < end
    if (c == Ch.PERCENT) {
      if (!isEscape(p, end)) return 0;
      p += 3;
    } else if (is(c, cls)) {
      p++;
    } else break;
  }
  return p;
}

/** Set by `decodeAt`: bytes consumed by the last decoded character (1 or 3). */
let decStep: usize = 1;

/** The decoded byte at `p` (< end): an escape yields its value, anything else itself. */
function decodeAt(p: usize, end: usize): u32 {
  const c = <u32>load<u8>(p); // p < end is the caller's
  if (c == Ch.PERCENT && isEscape(p, end)) {
    decStep = 3;
    // isEscape checked p + 2 < end
    return (hexValue(<u32>load<u8>(p + 1)) << 4) | hexValue(<u32>load<u8>(p + 2));
  }
  decStep = 1;
  return c;
}

/** Compare two escaped spans after unescaping, optionally ASCII case-insensitively. */
function eqDecoded(a: usize, alen: u32, b: usize, blen: u32, ci: bool): bool {
  const ae = a + alen, be = b + blen;
  while (a < ae && b < be) {
    let x = decodeAt(a, ae); a += decStep;
    let y = decodeAt(b, be); b += decStep;
    if (ci) { x = lower(x); y = lower(y); }
    if (x != y) return false;
  }
  return a == ae && b == be;
}

/** Case-insensitive compare of an escaped span with a lower-case ASCII literal, after unescaping. */
function eqDecodedText(p: usize, len: u32, code: u32): bool {
  // the names compared so (tables.ts T_K_*) hold no '%': each decodes to itself
  return eqDecoded(p, len, TEXT + <usize>(code >> 8), code & 0xff, true);
}

// ---------------------------------------------------------------------------------------------
// Parameters and headers.

// The uri-parameters parseParams records: five spans (an address, then its u32 length declared just
// after it in UriRepr, at the offsets of URI_PARAM_AT), then lr and ttl, decoded apart.
const URI_PARAM_COUNT: u32 = 7;
const URI_PARAMS: usize = memory.data<u32>([T_K_TRANSPORT, T_K_MADDR, T_K_METHOD, T_K_USER, T_K_DLG, T_K_LR, T_K_TTL]);
const URI_PARAM_AT: usize = memory.data<u8>([
  <u8>offsetof<UriRepr>("transport"), <u8>offsetof<UriRepr>("maddr"), <u8>offsetof<UriRepr>("method"),
  <u8>offsetof<UriRepr>("userParam"), <u8>offsetof<UriRepr>("dlg"),
]);

/**
 * `*( ";" pname [ "=" pvalue ] )` starting at the ';' at `p`, up to '?' or `end`. Records the
 * parameters the core acts on. An empty value (`;lr=`) is accepted. Returns the cursor, 0 on error.
 */
function parseParams(p: usize, end: usize, out: UriRepr): usize {
  out.params = p + 1;
  let count = 0;
  while (p < end && <u32>load<u8>(p) == Ch.SEMI) { // p < end
    if (++count > MAX_PARAMS) return 0;
    const n = p + 1;
    p = skipEsc(n, end, Cls.PARAM);
    if (p == 0 || p == n) return 0;
    const nlen = <u32>(p - n);
    let v = p, vlen: u32 = 0;
    if (p < end && <u32>load<u8>(p) == Ch.EQ) { // p < end
      v = p + 1;
      p = skipEsc(v, end, Cls.PARAM);
      if (p == 0) return 0;
      vlen = <u32>(p - v);
    }
    let k: u32 = 0;
    while (k < URI_PARAM_COUNT && !eqDecodedText(n, nlen, load<u32>(URI_PARAMS + (<usize>k << 2)))) k++; // k < count
    if (k < 5) {
      // the first value of the parameter: its span, where none is yet (a later repeat is ignored)
      const at = changetype<usize>(out) + <usize>load<u8>(URI_PARAM_AT + <usize>k); // k < 5
      if (load<usize>(at) == 0) { store<usize>(at, v); store<u32>(at + sizeof<usize>(), vlen); }
    } else if (k == 5) {
      out.lr = true;
    } else if (k == 6) {
      const t = parseUint(v, v + vlen, 255);
      if (t < 0) return 0;
      if (out.ttl < 0) out.ttl = <i32>t;
    }
  }
  out.paramsLen = <u32>(p - out.params);
  return p;
}

/** `"?" hname "=" hvalue *( "&" hname "=" hvalue )` starting at the '?' at `p`, up to `end`. */
function parseHeaders(p: usize, end: usize, out: UriRepr): usize {
  out.headers = p + 1;
  let count = 0;
  while (true) {
    if (++count > MAX_PARAMS) return 0;
    const n = p + 1;
    p = skipEsc(n, end, Cls.HNV);
    if (p == 0 || p == n || p == end || <u32>load<u8>(p) != Ch.EQ) return 0; // p < end after check
    p = skipEsc(p + 1, end, Cls.HNV);
    if (p == 0) return 0;
    if (p == end) break;
    if (<u32>load<u8>(p) != Ch.AMP) return 0; // p < end
  }
  out.headersLen = <u32>(end - out.headers);
  return end;
}

// ---------------------------------------------------------------------------------------------
// Per-scheme parsers. Each takes the cursor after the scheme ':' and returns true on success.

function parseSip(p: usize, end: usize, out: UriRepr): bool {
  // userinfo may contain ';' and '?', so look for its '@' before anything else.
  let q = p;
  while (q < end) {
    const c = <u32>load<u8>(q); // q < end
    if (!isAny(c, Cls.USER | Cls.PASSWORD) && c != Ch.COLON && c != Ch.PERCENT) break;
    q++;
  }
  if (q < end && <u32>load<u8>(q) == Ch.AT) { // q < end
    const u = p;
    p = skipEsc(u, q, Cls.USER);
    if (p == 0 || p == u) return false;
    out.user = u; out.userLen = <u32>(p - u); out.hasUser = true;
    if (p < q) {
      if (<u32>load<u8>(p) != Ch.COLON) return false; // p < q < end
      const w = p + 1;
      p = skipEsc(w, q, Cls.PASSWORD);
      if (p != q) return false; // bad escape or a second ':'
      out.password = w; out.passwordLen = <u32>(q - w); out.hasPassword = true;
    }
    p = q + 1;
  }

  // hostport: the Via sent-by scanner without LWS (hostname, IPv4, [IPv6]; a numeric host that is not
  // an IPv4address fails, as isHostname wants a toplabel that starts with ALPHA)
  // scanned in place: UriRepr's host, hostLen, hostKind and port are laid out as a HostPort
  p = scanHostPort(p, end, changetype<HostPort>(changetype<usize>(out) + offsetof<UriRepr>("host")), false);
  if (p == 0) return false;

  if (p < end && <u32>load<u8>(p) == Ch.SEMI) { // p < end
    p = parseParams(p, end, out);
    if (p == 0) return false;
  }
  if (p < end && <u32>load<u8>(p) == Ch.QUESTION) { // p < end
    p = parseHeaders(p, end, out);
    if (p == 0) return false;
  }
  return p == end;
}

/** True for a tel visual separator (RFC 3966: "-" / "." / "(" / ")"). */
function isVisual(c: u32): bool {
  return c == Ch.MINUS || c == Ch.DOT || c == Ch.LPAREN || c == Ch.RPAREN;
}

function parseTel(p: usize, end: usize, out: UriRepr): bool {
  const n = p;
  let global = false;
  if (p < end && <u32>load<u8>(p) == Ch.PLUS) { global = true; p++; } // p < end
  let digits = 0;
  while (p < end) { // p < end
    const c = <u32>load<u8>(p);
    // a global number takes DIGITs only; a local one HEXDIG (DIGITs included), "*" and "#"
    if (global ? is(c, Cls.DIGIT) : is(c, Cls.HEX) || c == Ch.STAR || c == Ch.HASH) digits++;
    else if (!isVisual(c)) break;
    p++;
  }
  if (digits == 0) return false;
  out.user = n; out.userLen = <u32>(p - n); out.hasUser = true;
  if (p < end && <u32>load<u8>(p) == Ch.SEMI) { // p < end
    p = parseParams(p, end, out);
    if (p == 0) return false;
  }
  return p == end;
}

/** absoluteURI, only delimited: a non-empty rest without SP, HT, CR, LF, '<', '>', DQUOTE or CTL. */
function parseOther(p: usize, end: usize): bool {
  if (p == end) return false;
  while (p < end) { // p < end
    const c = <u32>load<u8>(p);
    if (c <= <u32>Ch.SP || c == Ch.DEL || c == Ch.LT || c == Ch.GT || c == Ch.DQUOTE) return false;
    p++;
  }
  return true;
}

/** Parses exactly the range [p, end) as one URI (no surrounding LWS or brackets). false = malformed. */
export function parseUri(p: usize, end: usize, out: UriRepr): bool {
  out.reset();
  if (p >= end) return false;
  out.start = p; out.len = <u32>(end - p);
  // scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ), then ':'
  if (!is(<u32>load<u8>(p), Cls.ALPHA)) return false; // p < end
  let q = p + 1;
  while (q < end) { // q < end
    const c = <u32>load<u8>(q);
    if (!isAny(c, Cls.ALPHA | Cls.DIGIT) && c != Ch.PLUS && c != Ch.MINUS && c != Ch.DOT) break;
    q++;
  }
  if (q == end || <u32>load<u8>(q) != Ch.COLON) return false; // q < end after check
  const slen = <u32>(q - p);
  out.schemeLen = slen;
  q++;
  if (eqText(p, slen, T_K_SIP)) { out.scheme = UriScheme.Sip; return parseSip(q, end, out); }
  if (eqText(p, slen, T_K_SIPS)) { out.scheme = UriScheme.Sips; return parseSip(q, end, out); }
  if (eqText(p, slen, T_K_TEL)) { out.scheme = UriScheme.Tel; return parseTel(q, end, out); }
  out.scheme = UriScheme.Other;
  return parseOther(q, end);
}

// ---------------------------------------------------------------------------------------------
// Comparison (RFC 3261 §19.1.4). Inputs are records filled by parseUri: every list below was
// validated there, so a raw '=' or separator byte inside a list is always structural.

// Set by `nextItem`: the last item read from a parameter or header list.
let itName: usize = 0;
let itNameLen: u32 = 0;
let itVal: usize = 0;
let itValLen: u32 = 0;
// Set by `findItem`: the value of the item found.
let fVal: usize = 0;
let fValLen: u32 = 0;

/** Reads the `name[=value]` item at `p` of a list in [p, end) separated by `sep`; returns the cursor
 *  after the item and its separator. */
function nextItem(p: usize, end: usize, sep: u32): usize {
  const n = p;
  while (p < end) { // p < end
    const c = <u32>load<u8>(p);
    if (c == sep || c == Ch.EQ) break;
    p++;
  }
  itName = n; itNameLen = <u32>(p - n); itVal = p; itValLen = 0;
  if (p < end && <u32>load<u8>(p) == Ch.EQ) { // p < end
    p++;
    const v = p;
    while (p < end && <u32>load<u8>(p) != sep) p++; // p < end
    itVal = v; itValLen = <u32>(p - v);
  }
  return p < end ? p + 1 : end;
}

/** First item of the list [p, p+len) whose name equals [n, n+nlen) (unescaped, case-insensitive);
 *  its value goes to fVal/fValLen. */
function findItem(p: usize, len: u32, sep: u32, n: usize, nlen: u32): bool {
  const end = p + len;
  while (p < end) {
    p = nextItem(p, end, sep);
    if (eqDecoded(itName, itNameLen, n, nlen, true)) { fVal = itVal; fValLen = itValLen; return true; }
  }
  return false;
}

/** Number of items of the header list [p, p+len) equal to name n (case-insensitive) and value v
 *  (case-sensitive), both unescaped. */
function countHeader(p: usize, len: u32, n: usize, nlen: u32, v: usize, vlen: u32): i32 {
  const end = p + len;
  let k = 0;
  while (p < end) {
    p = nextItem(p, end, Ch.AMP);
    if (eqDecoded(itName, itNameLen, n, nlen, true) && eqDecoded(itVal, itValLen, v, vlen, false)) k++;
  }
  return k;
}

/** Number of items in a list of `len` bytes at p. */
function countItems(p: usize, len: u32, sep: u32): i32 {
  const end = p + len;
  let k = 0;
  while (p < end) { p = nextItem(p, end, sep); k++; }
  return k;
}

/** `user`, `ttl`, `method`, `maddr`, `transport` must be in both or neither; any parameter in
 *  both must have equal values (unescaped, case-insensitive); one in only one URI is ignored. */
function paramsEqual(a: UriRepr, b: UriRepr): bool {
  if ((a.ttl >= 0) != (b.ttl >= 0)) return false;
  for (let k: usize = 0; k < 4; k++) { // transport, maddr, method, user: the first four of URI_PARAM_AT
    const at = <usize>load<u8>(URI_PARAM_AT + k);
    if ((load<usize>(changetype<usize>(a) + at) != 0) != (load<usize>(changetype<usize>(b) + at) != 0)) return false;
  }
  let p = a.params;
  const end = a.params + a.paramsLen;
  while (p < end) {
    p = nextItem(p, end, Ch.SEMI);
    const n = itName, nlen = itNameLen, v = itVal, vlen = itValLen;
    if (!findItem(b.params, b.paramsLen, Ch.SEMI, n, nlen)) continue;
    if (eqDecodedText(n, nlen, T_K_LR)) continue; // `lr` and `lr=on` are one flag (§19.1.1)
    if (!eqDecoded(v, vlen, fVal, fValLen, true)) return false;
  }
  return true;
}

/** The two header lists hold the same multiset of `name=value` items, in any order. */
function headersEqual(a: UriRepr, b: UriRepr): bool {
  if (countItems(a.headers, a.headersLen, Ch.AMP) != countItems(b.headers, b.headersLen, Ch.AMP)) return false;
  let p = a.headers;
  const end = a.headers + a.headersLen;
  while (p < end) {
    p = nextItem(p, end, Ch.AMP);
    const n = itName, nlen = itNameLen, v = itVal, vlen = itValLen;
    // the count in a is at least 1 (the item itself), so equal counts put it in b as well
    if (countHeader(b.headers, b.headersLen, n, nlen, v, vlen) != countHeader(a.headers, a.headersLen, n, nlen, v, vlen)) return false;
  }
  return true;
}

/** tel numbers compared ignoring visual separators, hex digits case-insensitively. */
function telNumberEqual(a: usize, alen: u32, b: usize, blen: u32): bool {
  const ae = a + alen, be = b + blen;
  while (true) {
    while (a < ae && isVisual(<u32>load<u8>(a))) a++; // a < ae
    while (b < be && isVisual(<u32>load<u8>(b))) b++; // b < be
    if (a == ae || b == be) return a == ae && b == be;
    if (lower(<u32>load<u8>(a)) != lower(<u32>load<u8>(b))) return false; // a < ae, b < be
    a++; b++;
  }
  return false;
}

/** RFC 3261 §19.1.4 comparison of two parsed URIs. */
export function uriEquals(a: UriRepr, b: UriRepr): bool {
  if (a.scheme != b.scheme || a.scheme == UriScheme.None) return false;
  if (a.scheme == UriScheme.Other) {
    // scheme case-insensitive, the rest byte for byte
    if (!eqBytesI(a.start, a.schemeLen, b.start, b.schemeLen)) return false;
    return eqBytes(a.start + a.schemeLen, a.len - a.schemeLen, b.start + b.schemeLen, b.len - b.schemeLen);
  }
  if (a.scheme == UriScheme.Tel) {
    return telNumberEqual(a.user, a.userLen, b.user, b.userLen) && paramsEqual(a, b);
  }
  if (a.hasUser != b.hasUser || a.hasPassword != b.hasPassword) return false;
  if (!eqDecoded(a.user, a.userLen, b.user, b.userLen, false)) return false;
  if (!eqDecoded(a.password, a.passwordLen, b.password, b.passwordLen, false)) return false;
  if (!eqBytesI(a.host, a.hostLen, b.host, b.hostLen)) return false;
  if (a.port != b.port) return false;
  return paramsEqual(a, b) && headersEqual(a, b);
}
