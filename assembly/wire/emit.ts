// Message builders over a parsed MessageView: copy spans of the received message into the transmit
// buffer and edit only what RFC 3261 tells the element to edit. Every header line not edited is copied
// byte for byte (unknown headers, their parameters, folding, case and spacing included): the
// transparent pass-through a proxy owes (§16.6: "the proxy MUST NOT ... modify other headers").
//
// Each builder returns the message length, or 0 when it does not fit `cap` (never a truncated
// message). The view must be one that parsed without a framing error (its index complete).

import { Writer } from "./writer";
import { MessageView, EntryFlag } from "./view";
import { Hdr } from "./hdr";
import { parseUint } from "./scan";
import { reasonPhrase } from "./reason";

/** What a proxy changes in a request it forwards (RFC 3261 §16.6). */
export class ForwardEdits {
  /** New Request-URI (step 2), or 0 to keep the received one. */
  ruri: usize = 0;
  ruriLen: u32 = 0;
  /** The Via value to insert on top (step 8), without name and CRLF; required. */
  via: usize = 0;
  viaLen: u32 = 0;
  /** A Record-Route value to insert (step 4), or 0 for none. */
  recordRoute: usize = 0;
  recordRouteLen: u32 = 0;
  /** Remove the first Route value (§16.4 loose routing: it named this proxy). */
  popRoute: bool = false;
  /** Max-Forwards to add when the request has none (step 3). */
  defaultMaxForwards: u32 = 70;

  reset(): void {
    this.ruri = 0;
    this.ruriLen = 0;
    this.via = 0;
    this.viaLen = 0;
    this.recordRoute = 0;
    this.recordRouteLen = 0;
    this.popRoute = false;
    this.defaultMaxForwards = 70;
  }
}

const w = new Writer();

/**
 * The request of `v` as this proxy forwards it: a canonical Request-Line (new Request-URI when
 * given), our Via on top, our Record-Route, Max-Forwards decremented (or added), the top Route
 * removed when asked; all other lines and the body as received. Content-Length is added when the
 * datagram had none, so the copy is framed on any transport.
 */
export function writeForward(v: MessageView, ed: ForwardEdits, out: usize, cap: u32): u32 {
  const base = v.base;
  w.begin(out, cap);
  w.bytes(base, v.methodLen);
  w.byte(0x20);
  if (ed.ruri != 0) w.bytes(ed.ruri, ed.ruriLen);
  else w.bytes(base + <usize>v.uriOff, v.uriLen);
  w.lit(" SIP/2.0");
  w.crlf();
  w.lit("Via: ");
  w.bytes(ed.via, ed.viaLen);
  w.crlf();
  if (ed.recordRoute != 0) {
    w.lit("Record-Route: ");
    w.bytes(ed.recordRoute, ed.recordRouteLen);
    w.crlf();
  }
  if (v.first(Hdr.MaxForwards) < 0) {
    w.lit("Max-Forwards: ");
    w.u32(ed.defaultMaxForwards);
    w.crlf();
  }
  const route = ed.popRoute ? v.first(Hdr.Route) : -1;
  for (let i = 0; i < v.count; i++) {
    if (!(v.flags(i) & EntryFlag.FIRST)) continue; // one pass per line, at its first value
    const h = v.hdr(i);
    if (h == Hdr.MaxForwards) {
      const vp = v.valPtr(i);
      const mf = parseUint(vp, vp + v.valLen(i), 255); // validated before forwarding
      w.bytes(base + <usize>v.lineOff(i), v.nameLen(i));
      w.lit(": ");
      w.u32(mf > 0 ? <u32>mf - 1 : 0);
      w.crlf();
    } else if (i == route) {
      copyLineWithoutFirst(v, i);
    } else {
      copyLine(v, i);
    }
  }
  endHeadersAndBody(v);
  return w.finish();
}

/**
 * A response to the request of `v` (RFC 3261 §8.2.6.2): status line, every Via line, From, To (with
 * `toTag` appended when the request's To had no tag and a tag is given), Call-ID, CSeq, Timestamp on a
 * 100 (§8.2.6.1), then `extra` (complete header lines, CRLF-terminated, may be 0) and an empty body.
 */
export function writeResponse(
  v: MessageView, status: u32,
  toTag: usize, toTagLen: u32,
  extra: usize, extraLen: u32,
  out: usize, cap: u32,
): u32 {
  w.begin(out, cap);
  w.lit("SIP/2.0 ");
  w.u32(status);
  w.byte(0x20);
  w.lit(reasonPhrase(status));
  w.crlf();
  for (let i = 0; i < v.count; i++) {
    if (!(v.flags(i) & EntryFlag.FIRST)) continue;
    const h = v.hdr(i);
    if (h == Hdr.To && toTagLen != 0) {
      // name, colon and value as received, then ";tag=..." after the value, then the line's rest
      const valEnd = v.base + <usize>v.valOff(i) + <usize>v.valLen(i);
      const lineStart = v.base + <usize>v.lineOff(i);
      w.bytes(lineStart, <u32>(valEnd - lineStart));
      w.lit(";tag=");
      w.bytes(toTag, toTagLen);
      w.bytes(valEnd, <u32>(v.base + <usize>v.lineEnd(i) - valEnd));
    } else if (
      h == Hdr.Via || h == Hdr.From || h == Hdr.To || h == Hdr.CallId || h == Hdr.CSeq ||
      (h == Hdr.Timestamp && status == 100)
    ) {
      copyLine(v, i);
    }
  }
  if (extraLen != 0) w.bytes(extra, extraLen);
  w.lit("Content-Length: 0");
  w.crlf();
  w.crlf();
  return w.finish();
}

/** Copy the whole header line that entry i starts (folds and CRLF included). */
function copyLine(v: MessageView, i: i32): void {
  const s = v.lineOff(i);
  w.bytes(v.base + <usize>s, v.lineEnd(i) - s);
}

/**
 * Copy the header line of entry i without its first value: the line is dropped when that value was
 * its only one; otherwise the name is kept and the remaining values follow byte for byte.
 */
function copyLineWithoutFirst(v: MessageView, i: i32): void {
  if (v.flags(i) & EntryFlag.LAST) return;
  const base = v.base;
  w.bytes(base + <usize>v.lineOff(i), v.nameLen(i));
  w.lit(": ");
  const rest = v.valOff(i + 1); // the line's next value: entries of one line are consecutive
  w.bytes(base + <usize>rest, v.lineEnd(i) - rest);
}

/** Content-Length when the message had none, then the blank line and the body as received. */
function endHeadersAndBody(v: MessageView): void {
  if (v.contentLength < 0) {
    w.lit("Content-Length: ");
    w.u32(v.bodyLen);
    w.crlf();
  }
  const he = v.headersEnd;
  w.bytes(v.base + <usize>he, v.bodyOff + v.bodyLen - he);
}
