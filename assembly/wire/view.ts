// MessageView: one pass over a received message, no copies (picohttpparser's spans, smoltcp's
// Packet). It records the start line and a fixed-capacity index of header values, frames the message
// by Content-Length, and records the first error it meets (sticky). Typed decoding of the headers the
// core acts on happens afterwards (validate.ts and the decoders in headers/), only on this index.
//
// Framing (RFC 3261 §18.3, §7.5):
//   datagram  the message is the datagram; with Content-Length the body is exactly that many bytes
//             and trailing octets are ignored (RFC 4475 dblreq); a Content-Length beyond the
//             datagram is an error (RFC 4475 clerr); without one the body is the rest.
//   stream    Content-Length is required; until the headers and the body are complete the parser
//             answers NEED_MORE (0) and records nothing the caller should use.
// Leading CRLFs before the start line are skipped (RFC 3261 §7.5).
//
// Header index: one entry per header VALUE. Headers whose grammar is a comma-separated list (Via,
// Contact, Route, ... see hdr.ts) get one entry per element, split at commas outside quoted strings
// and angle brackets. Each entry, 20 bytes (12 where MAX_MSG < 65,535: the offsets are u16 at +4,
// +6, +8, +10):
//
//   +0  u8   Hdr id            +4  u32 line start (offset of the header name)
//   +1  u8   flags (FIRST/LAST element of its line)
//   +2  u16  name length       +8  u32 line end (offset after the line's CRLF, folds included)
//                              +12 u32 value offset   +16 u32 value length (LWS trimmed both sides)
//
// Offsets are relative to `base`, the first byte of the start line. A folded value keeps its inner
// CRLF SP bytes; decoders treat CR and LF as LWS (scan.ts).

import { MEDIA_RELAY } from "../config";
import { MAX_HEADERS, MAX_MSG } from "../config";
import { Ch, Cls, is, isAny } from "../util/chars";
import { WireError } from "./errors";
import { Hdr, HdrFlag, hdrFlags, hdrId } from "./hdr";
import { Method, methodId } from "./method";
import { eqText, parseUint, skipClass, skipLws, skipToken, skipUntil, textIs, trimLwsEnd } from "./scan";
import { T_K_SIP_SLASH } from "./tables";
import { tableAlloc } from "../util/alloc";

/** Offsets fit in 16 bits when messages do (the micro board: 4 KB): 12-byte entries instead of 20. */
const NARROW: bool = MAX_MSG < 0xffff;
export const ENTRY_SIZE: u32 = NARROW ? 12 : 20;

/** Read the k-th 16- or 32-bit offset field of entry e (line start, line end, value offset, length). */
// @ts-ignore: decorator
@inline function field(e: usize, k: u32): u32 {
  return NARROW ? <u32>load<u16>(e + 4 + (<usize>k << 1)) : load<u32>(e + 4 + (<usize>k << 2));
}

// @ts-ignore: decorator
@inline function setField(e: usize, k: u32, v: u32): void {
  if (NARROW) store<u16>(e + 4 + (<usize>k << 1), <u16>v);
  else store<u32>(e + 4 + (<usize>k << 2), v);
}

/** Entry flags. */
export const enum EntryFlag { FIRST = 1, LAST = 2 }

/** Parser result for "incomplete stream message": not an error, not a message yet. */
export const NEED_MORE: i32 = 0;

export class MessageView {
  /** Address of the first byte of the start line. */
  base: usize = 0;
  /** Bytes skipped before the start line (leading CRLFs). */
  skipped: u32 = 0;
  /** Length of the message (start line, headers, blank line, body) from `base`. */
  len: u32 = 0;
  isRequest: bool = false;
  method: Method = Method.Unknown;
  methodLen: u32 = 0;
  uriOff: u32 = 0;
  uriLen: u32 = 0;
  /** Status code of a response. */
  status: i32 = 0;
  reasonOff: u32 = 0;
  reasonLen: u32 = 0;
  /** Offset of the first header line (just after the start line). */
  headersOff: u32 = 0;
  /** Offset of the blank line that ends the headers. */
  headersEnd: u32 = 0;
  bodyOff: u32 = 0;
  bodyLen: u32 = 0;
  /** A body written for this message's next hop in place of its own (the media relay's SDP), or 0:
   * its own. Set by the transaction user that forwards it; cleared with the view. */
  altBody: usize = 0;
  altBodyLen: u32 = 0;
  /** Decoded Content-Length, -1 when absent. */
  contentLength: i32 = -1;
  /** Number of index entries. */
  count: i32 = 0;
  /** First error met (sticky), WireError.None when the message is well framed. */
  error: WireError = WireError.None;
  /** Entries: MAX_HEADERS × ENTRY_SIZE bytes, allocated once. */
  readonly entries: usize = tableAlloc(<usize>MAX_HEADERS * ENTRY_SIZE);
  /** First entry index per Hdr id (i16, -1 = none): Hdr.Count × 2 bytes, allocated once. */
  readonly firsts: usize = tableAlloc(<usize>Hdr.Count << 1);

  // Entry accessors. `i` must be in [0, count): the index is only ever read back by code that got
  // `i` from `first`/`next`/a loop bounded by `count`.
  hdr(i: i32): Hdr { return <Hdr>load<u8>(this.entries + <usize>i * ENTRY_SIZE); }
  flags(i: i32): u32 { return <u32>load<u8>(this.entries + <usize>i * ENTRY_SIZE, 1); }
  nameLen(i: i32): u32 { return <u32>load<u16>(this.entries + <usize>i * ENTRY_SIZE, 2); }
  lineOff(i: i32): u32 { return field(this.entries + <usize>i * ENTRY_SIZE, 0); }
  lineEnd(i: i32): u32 { return field(this.entries + <usize>i * ENTRY_SIZE, 1); }
  valOff(i: i32): u32 { return field(this.entries + <usize>i * ENTRY_SIZE, 2); }
  valLen(i: i32): u32 { return field(this.entries + <usize>i * ENTRY_SIZE, 3); }
  /** Absolute address of entry i's value. */
  valPtr(i: i32): usize { return this.base + <usize>this.valOff(i); }

  /** Index of the first value of header `h`, or -1. */
  first(h: Hdr): i32 { return <i32>load<i16>(this.firsts + (<usize>h << 1)); }

  /** Index of the next value of the same header after entry `i`, or -1. */
  next(i: i32): i32 {
    const h = this.hdr(i);
    for (let j = i + 1; j < this.count; j++) if (this.hdr(j) == h) return j;
    return -1;
  }

  /** Index of the first value of the header we have no name for (Hdr.Other) named `name` (any case), or -1. */
  other(name: string): i32 {
    for (let i = 0; i < this.count; i++) {
      if (this.hdr(i) == Hdr.Other && textIs(this.base + <usize>this.lineOff(i), this.nameLen(i), name)) return i;
    }
    return -1;
  }

  /** Number of values of header `h`. */
  countOf(h: Hdr): i32 {
    let n = 0;
    for (let i = this.first(h); i >= 0; i = this.next(i)) n++;
    return n;
  }

  /** Forget the previous message. */
  reset(): void {
    // every field from `skipped` to `error` is zero when fresh (Unknown, None, false) but
    // contentLength: one fill, `base` and the tables' addresses kept
    const s = offsetof<MessageView>("skipped");
    memory.fill(changetype<usize>(this) + s, 0, offsetof<MessageView>("entries") - s);
    this.contentLength = -1;
    memory.fill(this.firsts, 0xff, <usize>Hdr.Count << 1);
  }

  /** Record the first error only (errors are sticky). */
  fail(e: WireError): void {
    if (this.error == WireError.None) this.error = e;
  }

  private add(h: Hdr, flags: u32, nameLen: u32, lineOff: u32, lineEnd: u32, vOff: u32, vLen: u32): void {
    const i = this.count;
    if (i >= MAX_HEADERS) {
      this.fail(WireError.TooManyHeaders);
      return;
    }
    const e = this.entries + <usize>i * ENTRY_SIZE;
    store<u8>(e, <u8>h);
    store<u8>(e, <u8>flags, 1);
    store<u16>(e, <u16>nameLen, 2);
    setField(e, 0, lineOff);
    setField(e, 1, lineEnd);
    setField(e, 2, vOff);
    setField(e, 3, vLen);
    if (this.first(h) < 0) store<i16>(this.firsts + (<usize>h << 1), <i16>i);
    else if (hdrFlags(h) & HdrFlag.SINGLE) this.fail(WireError.DuplicateHeader);
    this.count = i + 1;
  }

  /**
   * Index the value [vs, ve) of one header line, LWS trimmed on both sides (parseMessage), splitting
   * list headers at top-level commas. Offsets are relative to base.
   */
  indexValue(h: Hdr, nameLen: u32, lineOff: u32, lineEnd: u32, vs: u32, ve: u32): void {
    const base = this.base;
    let flags: u32 = EntryFlag.FIRST;
    let s = vs;
    // A header that is no list is one element: [vs, ve) is trimmed already, so its addElement trims
    // nothing more.
    let q = hdrFlags(h) & HdrFlag.LIST ? vs : ve;
    let inQuote = false;
    let angle = 0;
    while (q < ve) {
      const c = <u32>load<u8>(base + q); // q < ve <= len: inside the message
      if (!isAny(c, Cls.LSPECIAL)) {
        q++;
        continue;
      }
      if (inQuote) {
        if (c == Ch.BACKSLASH) q++;
        else if (c == Ch.DQUOTE) inQuote = false;
      } else if (c == Ch.DQUOTE) {
        inQuote = true;
      } else if (c == Ch.LT) {
        angle++;
      } else if (c == Ch.GT) {
        if (angle > 0) angle--;
      } else if (c == Ch.COMMA && angle == 0) {
        this.addElement(h, flags, nameLen, lineOff, lineEnd, s, q);
        flags = 0;
        s = q + 1;
      }
      q++;
    }
    this.addElement(h, flags | EntryFlag.LAST, nameLen, lineOff, lineEnd, s, ve);
  }

  private addElement(h: Hdr, flags: u32, nameLen: u32, lineOff: u32, lineEnd: u32, s: u32, e: u32): void {
    const base = this.base;
    const vs = skipLws(base + <usize>s, base + <usize>e);
    const ve = trimLwsEnd(vs, base + <usize>e);
    this.add(h, flags, nameLen, lineOff, lineEnd, <u32>(vs - base), <u32>(ve - vs));
  }
}

/**
 * Parse the message at [buf, buf+avail). Returns the bytes it occupies from `buf` (> 0), NEED_MORE
 * (stream only), or a negated WireError; on an error the view still holds what was indexed so a
 * response can be built from it. Reads stay inside [buf, buf+avail).
 */
export function parseMessage(v: MessageView, buf: usize, avail: u32, stream: bool): i32 {
  v.reset();
  const end = buf + <usize>avail;
  let p = buf;
  while (p < end && (load<u8>(p) == Ch.CR || load<u8>(p) == Ch.LF)) p++;
  if (p == end) return stream ? NEED_MORE : -WireError.Empty;
  v.base = p;
  v.skipped = <u32>(p - buf);
  const limit = <u32>(end - p); // bytes available from base

  // Start line.
  let eol = findLf(p, end);
  if (eol == 0) return incomplete(v, stream, limit);
  const r = parseStartLine(v, p, eol);
  if (r != WireError.None) {
    v.fail(r);
    if (r == WireError.StartLine) return -r; // nothing further can be trusted
  }
  let q = eol + 1;
  v.headersOff = <u32>(q - p);

  // Header lines.
  while (true) {
    if (q >= end) return incomplete(v, stream, limit);
    let c = <u32>load<u8>(q);
    if (c == Ch.CR) {
      if (q + 1 >= end) return incomplete(v, stream, limit);
      if (load<u8>(q + 1) != Ch.LF) return fatal(v, WireError.HeaderLine);
      v.headersEnd = <u32>(q - p);
      q += 2;
      break;
    }
    if (c == Ch.LF) {
      v.headersEnd = <u32>(q - p);
      q += 1;
      break;
    }
    // name ":"
    const ns = q;
    q = skipToken(q, end);
    const nameLen = <u32>(q - ns);
    q = skipClass(q, end, Cls.WS);
    if (q >= end) return incomplete(v, stream, limit);
    if (nameLen == 0 || load<u8>(q) != Ch.COLON) return fatal(v, WireError.HeaderLine);
    q++;
    // value: up to a line end not followed by SP/HT (a fold). The inner loop runs over plain bytes
    // with one table load each; it stops at CTLs, DQUOTE, "\\" and DEL (Cls.VSPECIAL).
    let vs = q;
    let inQuote = false;
    let lineEnd: usize = 0;
    let lt: usize = 0; // the CR (or bare LF) that terminates the line
    while (true) {
      q = skipPlain(q, end);
      if (q >= end) return incomplete(v, stream, limit);
      c = <u32>load<u8>(q);
      if (c == Ch.LF || c == Ch.CR) {
        let le = q + 1;
        if (c == Ch.CR) {
          if (le >= end) return incomplete(v, stream, limit);
          if (load<u8>(le) != Ch.LF) return fatal(v, WireError.ControlChar); // bare CR
          le++;
        }
        if (le >= end) return incomplete(v, stream, limit);
        const n = <u32>load<u8>(le);
        if (n == Ch.SP || n == Ch.HT) { q = le; continue; } // folded line: the value goes on
        lt = q;
        lineEnd = le;
        break;
      }
      if (c == Ch.DQUOTE) {
        inQuote = !inQuote;
      } else if (c == Ch.BACKSLASH) {
        // quoted-pair: the escaped byte (a CTL included) is part of the string
        if (inQuote && q + 1 < end) {
          const n = <u32>load<u8>(q + 1);
          if (n != Ch.CR && n != Ch.LF) q++;
        }
      } else if (!inQuote) {
        v.fail(WireError.ControlChar); // NUL, other CTLs or DEL outside a quoted-pair
      }
      q++;
    }
    // trim LWS (folds included) on both sides of the value
    vs = skipLws(vs, lt);
    const ve = trimLwsEnd(vs, lt);
    const h = hdrId(ns, nameLen);
    const lineOff = <u32>(ns - p);
    const le32 = <u32>(lineEnd - p);
    v.indexValue(h, nameLen, lineOff, le32, <u32>(vs - p), <u32>(ve - p));
    if (h == Hdr.ContentLength) noteContentLength(v, vs, ve);
    q = lineEnd;
  }

  // Body, framed by Content-Length.
  const bodyOff = <u32>(q - p);
  v.bodyOff = bodyOff;
  const cl = v.contentLength;
  const e = v.error;
  if (e == WireError.ContentLength || e == WireError.ContentLengthConflict || (cl < 0 && stream)) {
    if (cl < 0 && e == WireError.None) v.fail(WireError.ContentLengthMissing);
    // Framing is lost: a datagram ends here, a stream connection must be closed by the caller.
    v.len = stream ? bodyOff : limit;
    v.bodyLen = v.len - bodyOff;
    return -v.error;
  }
  if (cl < 0) {
    v.len = limit;
  } else {
    const total = <u64>bodyOff + <u64>cl;
    if (total > <u64>limit) {
      if (stream) return total > <u64>MAX_MSG ? fatal(v, WireError.TooLarge) : NEED_MORE;
      v.len = limit;
      v.bodyLen = limit - bodyOff;
      v.fail(WireError.ContentLengthTooBig);
      return -v.error;
    }
    v.len = <u32>total;
  }
  v.bodyLen = v.len - bodyOff;
  if (v.error != WireError.None) return -v.error;
  return <i32>(v.skipped + v.len);
}

// SWAR constants: eight copies of one byte value.
const ONES: u64 = 0x0101010101010101;
const HIGHS: u64 = 0x8080808080808080;

/** Any byte of x is zero. */
function hasZero(x: u64): u64 {
  return (x - ONES) & ~x & HIGHS;
}

/**
 * Cursor at the first byte in [p, end) of class VSPECIAL (a CTL but HT, DQUOTE, "\\", DEL), or end.
 * Eight bytes at a time while no byte of the word can be special, then one at a time. A word with an
 * HT (below 0x20) drops to the byte loop, which skips it as plain: correct, only slower.
 */
function skipPlain(p: usize, end: usize): usize {
  // Boards built for size (shrinkLevel 2: micro, gateway) take the byte loop alone: same cursor.
  if (ASC_SHRINK_LEVEL < 2) while (p + 8 <= end) {
    const x = load<u64>(p); // p + 8 <= end: inside the range
    const ctl = (x - ONES * 0x20) & ~x & HIGHS; // some byte < 0x20
    const special = ctl | hasZero(x ^ (ONES * 0x22)) | hasZero(x ^ (ONES * 0x5c)) | hasZero(x ^ (ONES * 0x7f));
    if (special != 0) break;
    p += 8;
  }
  return skipUntil(p, end, Cls.VSPECIAL);
}

/** End of the message reached before its framing completed. */
function incomplete(v: MessageView, stream: bool, limit: u32): i32 {
  if (stream) {
    // A header section that cannot fit the board's buffer will never complete.
    if (limit >= <u32>MAX_MSG) return fatal(v, WireError.TooLarge);
    return NEED_MORE;
  }
  v.len = limit;
  return fatal(v, WireError.HeadersUnterminated);
}

function fatal(v: MessageView, e: WireError): i32 {
  v.fail(e);
  return -v.error;
}

/** Address of the LF ending the line that starts at p, or 0 when there is none before end. */
function findLf(p: usize, end: usize): usize {
  while (p < end) {
    if (load<u8>(p) == Ch.LF) return p;
    p++;
  }
  return 0;
}

function noteContentLength(v: MessageView, vs: usize, ve: usize): void {
  const n = parseUint(vs, ve, 0x7fffffff);
  if (n < 0) {
    v.fail(WireError.ContentLength);
    return;
  }
  if (v.contentLength >= 0 && <i64>v.contentLength != n) {
    v.fail(WireError.ContentLengthConflict);
    return;
  }
  v.contentLength = <i32>n;
}

/**
 * Request-Line = Method SP Request-URI SP SIP-Version CRLF; Status-Line = SIP-Version SP Status-Code
 * SP Reason-Phrase CRLF. [p, lf) is the line without its LF.
 *
 * Liberal on purpose: runs of SP/HT between the request-line elements and trailing SP before the
 * CRLF (RFC 4475 lwsstart, trws) are accepted, because the writer always emits a fresh canonical
 * Request-Line, so the defect is never forwarded. LWS inside the Request-URI (lwsruri) or anything
 * after the version is refused.
 */
function parseStartLine(v: MessageView, p: usize, lf: usize): WireError {
  let e = lf;
  if (e > p && load<u8>(e - 1) == Ch.CR) e--;
  if (e - p >= 4 && eqText(p, 4, T_K_SIP_SLASH)) return parseStatusLine(v, p, e);
  v.isRequest = true;
  let q = skipToken(p, e);
  const mlen = <u32>(q - p);
  if (mlen == 0 || q >= e || !isWs(<u32>load<u8>(q))) return WireError.StartLine;
  v.methodLen = mlen;
  v.method = methodId(p, mlen);
  q = skipWs(q, e);
  const us = q;
  q = skipUntil(q, e, Cls.WS);
  v.uriOff = <u32>(us - p);
  v.uriLen = <u32>(q - us);
  if (v.uriLen == 0 || q >= e) return WireError.StartLine;
  q = skipWs(q, e);
  const vs = q;
  q = skipUntil(q, e, Cls.WS);
  const ve = q;
  q = skipWs(q, e);
  if (q < e) return WireError.RequestUri; // a fourth element: LWS inside the Request-URI
  return checkVersion(vs, ve);
}

function parseStatusLine(v: MessageView, p: usize, e: usize): WireError {
  v.isRequest = false;
  let q = p;
  q = skipUntil(q, e, Cls.WS);
  const ver = checkVersion(p, q);
  if (ver != WireError.None) return ver;
  if (q >= e || load<u8>(q) != Ch.SP) return WireError.StartLine;
  q++;
  // Status-Code = 3DIGIT, 100-699 (RFC 3261 §21; RFC 4475 bigcode: 700+ is dropped).
  if (e - q < 3) return WireError.StatusCode;
  const code = parseUint(q, q + 3, 999);
  if (code < 100 || code > 699) return WireError.StatusCode;
  v.status = <i32>code;
  q += 3;
  if (q < e) {
    if (load<u8>(q) != Ch.SP) return WireError.StatusCode;
    q++;
  }
  v.reasonOff = <u32>(q - p);
  v.reasonLen = <u32>(e - q);
  for (let r = q; r < e; r++) {
    const c = <u32>load<u8>(r);
    if ((c < 0x20 && c != Ch.HT) || c == Ch.DEL) return WireError.StartLine;
  }
  return WireError.None;
}

/** SIP-Version = "SIP/" 1*DIGIT "." 1*DIGIT ("SIP" case-insensitive); only 2.0 is supported. */
function checkVersion(s: usize, e: usize): WireError {
  if (e - s < 7 || !eqText(s, 4, T_K_SIP_SLASH)) return WireError.Version;
  let q = s + 4;
  const ms = q;
  q = skipClass(q, e, Cls.DIGIT);
  const major = parseUint(ms, q, 0xffff);
  if (q == ms || q >= e || load<u8>(q) != Ch.DOT) return WireError.Version;
  q++;
  const ns = q;
  q = skipClass(q, e, Cls.DIGIT);
  if (q == ns || q != e) return WireError.Version;
  const minor = parseUint(ns, q, 0xffff);
  if (major != 2 || minor != 0) return WireError.VersionUnsupported;
  return WireError.None;
}

function isWs(c: u32): bool {
  return is(c, Cls.WS);
}

function skipWs(p: usize, e: usize): usize {
  return skipClass(p, e, Cls.WS);
}
