// Message builders over a parsed MessageView: copy spans of the received message into the transmit
// buffer and edit only what RFC 3261 tells the element to edit. Every header line not edited is copied
// byte for byte (unknown headers, their parameters, folding, case and spacing included): the
// transparent pass-through a proxy owes (§16.6: "the proxy MUST NOT ... modify other headers").
//
// Each builder returns the message length, or 0 when it does not fit `cap` (never a truncated
// message). The view must be one that parsed without a framing error (its index complete).

import { MEDIA_RELAY } from "../config";
import { Writer } from "./writer";
import { MAX_HEADERS, B2B_DROP_NAME_CAP } from "../config";
import { MessageView, EntryFlag } from "./view";
import { Hdr, hdrId } from "./hdr";
import { isAny, lower, Cls } from "../util/chars";
import { eqBytesI, parseUint } from "./scan";
import { reasonEntry } from "./reason";
import { Method } from "./method";
import { T_CL, T_CL0, T_COLON_SP, T_COMMA_SP, T_CONTACT, T_CSEQ, T_MF, T_MF70, T_RECORD_ROUTE, T_ROUTE, T_SIP20_SP, T_SP_SIP20, T_TAG, T_TO, T_VIA, T_PROGRESS, T_OK, T_ERROR, T_ACK, T_CANCEL } from "./tables";

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
  /** Header values to remove (a byte per view entry, nonzero = drop), or 0: our Route values
   * (§16.4; two after double Record-Route, RFC 5658), the strict-route fix-up's last Route, and under
   * topology hiding the received Vias, Record-Routes and Contact. See dropMap(). */
  drop: usize = 0;
  /** Complete header lines (CRLF-terminated) to add on top, or 0 (e.g. an anonymised From). */
  extra: usize = 0;
  extraLen: u32 = 0;
  /** A Contact line's value replacing the received ones (topology hiding), or 0. */
  contact: usize = 0;
  contactLen: u32 = 0;
  /** A route set to insert above the received Route values (RFC 3327 Path of the target), or 0. */
  routeSet: usize = 0;
  routeSetLen: u32 = 0;
  /** RFC 3581 / §18.2.1 on the received top Via: text appended to its value (";received=..."),
   * and, when `rportAt` is not 0, "=port" inserted at that address (just after ";rport"). */
  viaAppend: usize = 0;
  viaAppendLen: u32 = 0;
  rportAt: usize = 0;
  rportPort: u32 = 0;
  /** Max-Forwards to add when the request has none (step 3). */
  defaultMaxForwards: u32 = 70;

  /** Every field as initialised above: all zero but defaultMaxForwards (one fill). */
  reset(): void {
    memory.fill(changetype<usize>(this), 0, offsetof<ForwardEdits>());
    this.defaultMaxForwards = 70;
  }
}

const w = new Writer();
/** The drop map the proxy fills: one byte per view entry (MAX_HEADERS), nonzero = drop. */
export const DROP_MAP: usize = memory.data(MAX_HEADERS);

/** Clear the drop map for a view of `count` entries and return it. */
export function dropMap(count: i32): usize {
  memory.fill(DROP_MAP, 0, <usize>count);
  return DROP_MAP;
}

/** Via, From, To, Call-ID or CSeq: the ids 1 to 5 (hdr.ts numbers are stable), one range test. */
function isViaToCSeq(h: Hdr): bool {
  return <u32>h - <u32>Hdr.Via <= <u32>Hdr.CSeq - <u32>Hdr.Via;
}

/** A header line from a name text (with its ": ") and a value: one call for each of the builders. */
function line(name: u32, p: usize, len: u32): void {
  w.text(name);
  w.bytes(p, len);
  w.crlf();
}

function dropped(map: usize, i: i32): bool {
  return map != 0 && load<u8>(map + <usize>i) != 0;
}

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
  w.text(T_SP_SIP20);
  w.crlf();
  line(T_VIA, ed.via, ed.viaLen);
  if (ed.recordRoute != 0) {
    line(T_RECORD_ROUTE, ed.recordRoute, ed.recordRouteLen);
  }
  if (v.first(Hdr.MaxForwards) < 0) {
    w.text(T_MF);
    w.u32(ed.defaultMaxForwards);
    w.crlf();
  }
  if (ed.routeSetLen != 0) {
    line(T_ROUTE, ed.routeSet, ed.routeSetLen);
  }
  if (ed.extraLen != 0) w.bytes(ed.extra, ed.extraLen);
  if (ed.contactLen != 0) {
    line(T_CONTACT, ed.contact, ed.contactLen);
  }
  const topVia = v.first(Hdr.Via);
  for (let i = 0; i < v.count; i++) {
    if (!(v.flags(i) & EntryFlag.FIRST)) continue; // one pass per line, at its first value
    const h = v.hdr(i);
    if (h == Hdr.MaxForwards) {
      const vp = v.valPtr(i);
      const mf = parseUint(vp, vp + v.valLen(i), 255); // validated before forwarding
      w.bytes(base + <usize>v.lineOff(i), v.nameLen(i));
      w.text(T_COLON_SP);
      w.u32(mf > 0 ? <u32>mf - 1 : 0);
      w.crlf();
    } else if (MEDIA_RELAY && h == Hdr.ContentLength && v.altBody != 0) {
      continue; // the relay's SDP goes instead: endHeadersAndBody writes its length
    } else if (i == topVia && !dropped(ed.drop, i) && (ed.viaAppendLen != 0 || ed.rportAt != 0)) {
      copyViaEdited(v, i, ed);
    } else {
      copyLineDropping(v, i, ed.drop);
    }
  }
  endHeadersAndBody(v);
  return w.finish();
}

/**
 * A response to the request of `v` (RFC 3261 §8.2.6.2): status line, every Via line, From, To (with
 * `toTag` appended when the request's To had no tag and a tag is given), Call-ID, CSeq, Timestamp on a
 * 100 (§8.2.6.1), then `extra` (complete header lines, CRLF-terminated, may be 0) and an empty body.
 * `via`, when given, carries the received/rport edits of the top Via (RFC 3581 §4, §18.2.1).
 */
export function writeResponse(
  v: MessageView, status: u32,
  toTag: usize, toTagLen: u32,
  extra: usize, extraLen: u32,
  out: usize, cap: u32,
  via: ForwardEdits | null = null,
): u32 {
  responseHead(v, status, toTag, toTagLen, extra, extraLen, out, cap, via);
  w.text(T_CL0);
  w.crlf();
  w.crlf();
  return w.finish();
}

/**
 * A user agent's response to the request of `v` that carries another leg's response `pass` across (a
 * B2BUA): as writeResponse, then every header line of `pass` that a leg does not write for itself
 * (legOwned) nor the drop list `drop` names (0: none), and its body with its own Content-Length.
 */
export function writeResponseRelay(
  v: MessageView, status: u32,
  toTag: usize, toTagLen: u32,
  extra: usize, extraLen: u32,
  pass: MessageView,
  out: usize, cap: u32,
  drop: usize = 0,
): u32 {
  responseHead(v, status, toTag, toTagLen, extra, extraLen, out, cap, null);
  passThrough(w, pass, drop);
  bodyOf(w, pass);
  return w.finish();
}

/** writeResponse up to the end of `extra`: the status line and the lines copied from the request.
 * Inlined: the proxy boards have writeResponse only, and one copy costs them nothing. */
// @ts-ignore: decorator
@inline function responseHead(
  v: MessageView, status: u32, toTag: usize, toTagLen: u32, extra: usize, extraLen: u32,
  out: usize, cap: u32, via: ForwardEdits | null,
): void {
  const topVia = v.first(Hdr.Via);
  w.begin(out, cap);
  w.text(T_SIP20_SP);
  w.u32(status);
  w.byte(0x20);
  const r = reasonEntry(status);
  if (r != 0) w.bytes(r, <u32>load<u8>(r - 1));
  else w.text(status < 200 ? T_PROGRESS : status < 300 ? T_OK : T_ERROR);
  w.crlf();
  // §12.1.1: a response that makes a dialog (a 1xx other than 100 or a 2xx to INVITE) carries the
  // request's Record-Route values, in order, as received (only a user agent answers so: a proxy's own
  // responses are 100 and finals ≥ 300)
  const dialog = status > 100 && status < 300 && v.method == Method.INVITE;
  for (let i = 0; i < v.count; i++) {
    if (!(v.flags(i) & EntryFlag.FIRST)) continue;
    const h = v.hdr(i);
    if (h == Hdr.To && toTagLen != 0) {
      // name, colon and value as received, then ";tag=..." after the value, then the line's rest
      const valEnd = v.base + <usize>v.valOff(i) + <usize>v.valLen(i);
      const lineStart = v.base + <usize>v.lineOff(i);
      w.bytes(lineStart, <u32>(valEnd - lineStart));
      w.text(T_TAG);
      w.bytes(toTag, toTagLen);
      w.bytes(valEnd, <u32>(v.base + <usize>v.lineEnd(i) - valEnd));
    } else if (i == topVia && via != null && (via.viaAppendLen != 0 || via.rportAt != 0)) {
      copyViaEdited(v, i, via); // RFC 3581: the Via as the server saw it, received and rport filled
    } else if (
      isViaToCSeq(h) || (h == Hdr.Timestamp && status == 100) || (h == Hdr.RecordRoute && dialog)
    ) {
      copyLine(v, i);
    }
  }
  if (extraLen != 0) w.bytes(extra, extraLen);
}

// ---- a B2BUA's two legs ---------------------------------------------------------------------------

/**
 * The headers each leg of a B2BUA writes for itself, never carried from one leg to the other: the
 * transaction and dialog identifiers (Via, From, To, Call-ID, CSeq, Max-Forwards), the leg's addresses
 * and routes (Contact, Route, Record-Route, Path: none of one side's addresses crosses), credentials
 * and challenges (each leg authenticates on its own), the extension negotiation the B2BUA terminates
 * (Require, Proxy-Require, Supported, Unsupported: it offers only what it implements) and the framing
 * (Content-Length). Everything else, unknown headers included, passes through byte for byte.
 */
function legOwned(h: Hdr): bool {
  return isViaToCSeq(h) ||
    h == Hdr.MaxForwards || h == Hdr.Contact || h == Hdr.ContentLength || h == Hdr.Route ||
    h == Hdr.RecordRoute || h == Hdr.Path || h == Hdr.Authorization || h == Hdr.ProxyAuthorization ||
    h == Hdr.WwwAuthenticate || h == Hdr.ProxyAuthenticate || h == Hdr.Require || h == Hdr.ProxyRequire ||
    h == Hdr.Supported || h == Hdr.Unsupported || h == Hdr.Timestamp;
}

/**
 * Every header line of `v` that is not legOwned nor named in the drop list `drop` (0: none), byte for
 * byte (folds, case and parameters kept), into `into`.
 */
export function passThrough(into: Writer, v: MessageView, drop: usize = 0): void {
  const base = v.base;
  for (let i = 0; i < v.count; i++) {
    if (!(v.flags(i) & EntryFlag.FIRST) || legOwned(v.hdr(i)) || (drop != 0 && inDropList(v, i, drop))) continue;
    const s = v.lineOff(i);
    into.bytes(base + <usize>s, v.lineEnd(i) - s);
  }
}

// A drop list: header names whose lines do not pass from one leg to the other (a B2BUA side's, plus
// what its identity rules remove: b2bua/call.ts). Layout, DROP_ENTRY bytes an entry:
//   +0 u8 count | entry 0 | entry 1 | ...      entry: +0 u8 Hdr id | +1 u8 name length | +2 name, lower case
// A name the core knows (compact forms included: "s" is Subject) is matched by its id, so every form and
// case of it is; any other by its bytes, case-insensitively (RFC 3261 §7.3.1).
export const DROP_ENTRY: usize = 2 + <usize>B2B_DROP_NAME_CAP;

/**
 * Add the header name [p, p+len) to the drop list `list` that holds `cap` entries at most. False when
 * the list is full, the name is not a token of 1..B2B_DROP_NAME_CAP bytes, or it names a header each leg
 * writes itself (legOwned: nothing of it passes, so there is nothing to drop).
 */
export function dropListAdd(list: usize, cap: i32, p: usize, len: u32): bool {
  const n = <i32>load<u8>(list);
  if (n >= cap || len == 0 || len > B2B_DROP_NAME_CAP) return false;
  for (let k: u32 = 0; k < len; k++) if (!isAny(<u32>load<u8>(p + <usize>k), Cls.TOKEN)) return false;
  const h = hdrId(p, len);
  if (legOwned(h)) return false;
  const e = list + 1 + <usize>n * DROP_ENTRY;
  store<u8>(e, <u8>h);
  store<u8>(e, <u8>len, 1);
  for (let k: u32 = 0; k < len; k++) store<u8>(e + 2 + <usize>k, <u8>lower(<u32>load<u8>(p + <usize>k)));
  store<u8>(list, <u8>(n + 1));
  return true;
}

/** Whether the header line at entry i of `v` is named in the drop list `list`. */
function inDropList(v: MessageView, i: i32, list: usize): bool {
  const h = v.hdr(i);
  const name = v.base + <usize>v.lineOff(i);
  const len = v.nameLen(i);
  const n = <i32>load<u8>(list);
  for (let k = 0; k < n; k++) {
    const e = list + 1 + <usize>k * DROP_ENTRY;
    const id = <Hdr>load<u8>(e);
    if (id != Hdr.Other) {
      if (id == h) return true;
    } else if (h == Hdr.Other && eqBytesI(name, len, e + 2, <u32>load<u8>(e, 1))) {
      return true; // the entry's name is lower case (dropListAdd)
    }
  }
  return false;
}

/** "Content-Length: n", the blank line and the body of `v` (its altBody when set; n = 0 and no body when
 * `v` is null). */
export function bodyOf(into: Writer, v: MessageView | null): void {
  let p: usize = 0;
  let n: u32 = 0;
  if (v != null) {
    p = v.base + <usize>v.bodyOff;
    n = v.bodyLen;
    if (MEDIA_RELAY && v.altBody != 0) { p = v.altBody; n = v.altBodyLen; }
  }
  into.text(T_CL);
  into.u32(n);
  into.crlf();
  into.crlf();
  if (n != 0) into.bytes(p, n);
}

/**
 * Copy the header line that entry i starts, without the values the drop map marks: byte for byte when
 * none is dropped; from the first kept value on (still byte for byte) when only leading values go;
 * rebuilt from the kept values otherwise; not at all when every value goes. Entries of one line are
 * consecutive.
 */
function copyLineDropping(v: MessageView, i: i32, map: usize): void {
  if (map == 0) { copyLine(v, i); return; }
  let last = i;
  while (!(v.flags(last) & EntryFlag.LAST) && last + 1 < v.count) last++;
  let kept = 0;
  let firstKept = -1;
  let gap = false; // a dropped value after a kept one
  for (let j = i; j <= last; j++) {
    if (dropped(map, j)) {
      if (firstKept >= 0) gap = true;
    } else {
      kept++;
      if (firstKept < 0) firstKept = j;
    }
  }
  if (kept == 0) return;
  if (firstKept == i && !gap) { copyLine(v, i); return; }
  if (!gap) { copyLineFrom(v, i, firstKept); return; }
  w.bytes(v.base + <usize>v.lineOff(i), v.nameLen(i));
  w.text(T_COLON_SP);
  for (let j = i; j <= last; j++) {
    if (dropped(map, j)) continue;
    if (j != firstKept) w.text(T_COMMA_SP);
    w.bytes(v.valPtr(j), v.valLen(j));
  }
  w.crlf();
}

/** Copy the whole header line that entry i starts (folds and CRLF included). */
function copyLine(v: MessageView, i: i32): void {
  const s = v.lineOff(i);
  w.bytes(v.base + <usize>s, v.lineEnd(i) - s);
}

/**
 * Copy the header line of entry i (a line's first value) starting at its value j (same line): the
 * name is kept and values j.. follow byte for byte. Entries of one line are consecutive.
 */
function copyLineFrom(v: MessageView, i: i32, j: i32): void {
  const base = v.base;
  w.bytes(base + <usize>v.lineOff(i), v.nameLen(i));
  w.text(T_COLON_SP);
  const rest = v.valOff(j);
  w.bytes(base + <usize>rest, v.lineEnd(i) - rest);
}

/** The top Via line with received/rport filled in (RFC 3581, §18.2.1). */
function copyViaEdited(v: MessageView, i: i32, ed: ForwardEdits): void {
  const base = v.base;
  const start = base + <usize>v.lineOff(i);
  const valEnd = base + <usize>v.valOff(i) + <usize>v.valLen(i);
  let at = start;
  if (ed.rportAt != 0 && ed.rportAt > start && ed.rportAt <= valEnd) {
    w.bytes(at, <u32>(ed.rportAt - at));
    w.byte(0x3d); // "="
    w.u32(ed.rportPort);
    at = ed.rportAt;
  }
  w.bytes(at, <u32>(valEnd - at));
  if (ed.viaAppendLen != 0) w.bytes(ed.viaAppend, ed.viaAppendLen);
  w.bytes(valEnd, <u32>(base + <usize>v.lineEnd(i) - valEnd));
}

/**
 * A response forwarded by a proxy (§16.7 step 9): the status line and every header line as received,
 * except the top Via value (ours), which is removed; the body as received. Under topology hiding,
 * `viaBlock` (complete Via lines, kept from the request) replaces every received Via, the drop map
 * removes values, and `contact` replaces the Contact.
 */
export function writeResponseForward(
  v: MessageView, out: usize, cap: u32,
  viaBlock: usize = 0, viaBlockLen: u32 = 0, drop: usize = 0, contact: usize = 0, contactLen: u32 = 0,
): u32 {
  const base = v.base;
  w.begin(out, cap);
  w.bytes(base, v.headersOff); // status line, CRLF included
  if (viaBlockLen != 0) w.bytes(viaBlock, viaBlockLen);
  if (contactLen != 0) {
    line(T_CONTACT, contact, contactLen);
  }
  const top = v.first(Hdr.Via);
  for (let i = 0; i < v.count; i++) {
    if (!(v.flags(i) & EntryFlag.FIRST)) continue;
    const h = v.hdr(i);
    if (h == Hdr.Via && viaBlockLen != 0) continue;
    if (h == Hdr.Contact && contactLen != 0) continue;
    if (MEDIA_RELAY && h == Hdr.ContentLength && v.altBody != 0) continue; // see endHeadersAndBody
    if (i == top) {
      if (!(v.flags(i) & EntryFlag.LAST)) copyLineFrom(v, i, i + 1);
    } else {
      copyLineDropping(v, i, drop);
    }
  }
  endHeadersAndBody(v);
  return w.finish();
}

/**
 * The ACK a client INVITE transaction sends for a non-2xx final response (§17.1.1.3), built from
 * the request it sent (`req`) and the response's To value [to, to+toLen): same Request-URI, Call-ID,
 * From, top Via and Route set; CSeq number with method ACK; Max-Forwards 70.
 */
export function writeAck(req: MessageView, to: usize, toLen: u32, cseq: u32, out: usize, cap: u32): u32 {
  return writeSibling(req, T_ACK, to, toLen, cseq, out, cap);
}

/**
 * The CANCEL for a request this proxy forwarded (§9.1): Request-URI, Call-ID, To, From, the top Via
 * and the Route set of `req`; CSeq number with method CANCEL; Max-Forwards 70.
 */
export function writeCancel(req: MessageView, cseq: u32, out: usize, cap: u32): u32 {
  return writeSibling(req, T_CANCEL, 0, 0, cseq, out, cap);
}

const KEPT: u64 = (1 << Hdr.Via) | (1 << Hdr.From) | (1 << Hdr.To) | (1 << Hdr.CallId) | (1 << Hdr.CSeq) |
  (1 << Hdr.MaxForwards) | (1 << Hdr.Route);

/**
 * What a request is kept as once only its own responses, ACK and CANCEL are written from it: the
 * request line and every Via, From, To, Call-ID, CSeq, Max-Forwards and Route line as they are, and
 * `body` (none by default; a proxy's relay keeps a fork's early SDP there). A proxy keeps a request so
 * while its transactions last: writeResponse, writeAck and writeCancel read nothing else of it, and it
 * is a third of a request with an SDP offer.
 */
export function writeKept(req: MessageView, out: usize, cap: u32, body: usize = 0, bodyLen: u32 = 0): u32 {
  w.begin(out, cap);
  if (req.count > 0) w.bytes(req.base, req.lineOff(0));
  for (let i = 0; i < req.count; i++) {
    if (!(req.flags(i) & EntryFlag.FIRST)) continue;
    if (((<u64>1 << <u64>req.hdr(i)) & KEPT) != 0) copyLine(req, i);
  }
  if (MEDIA_RELAY) {
    w.text(T_CL);
    w.u32(bodyLen);
  } else {
    w.text(T_CL0);
  }
  w.crlf();
  w.crlf();
  if (MEDIA_RELAY) w.bytes(body, bodyLen);
  return w.finish();
}

function writeSibling(req: MessageView, method: u32, to: usize, toLen: u32, cseq: u32, out: usize, cap: u32): u32 {
  const base = req.base;
  w.begin(out, cap);
  w.text(method);
  w.byte(0x20);
  w.bytes(base + <usize>req.uriOff, req.uriLen);
  w.text(T_SP_SIP20);
  w.crlf();
  const top = req.first(Hdr.Via);
  if (top >= 0) {
    line(T_VIA, req.valPtr(top), req.valLen(top));
  }
  w.text(T_MF70);
  w.crlf();
  for (let i = 0; i < req.count; i++) {
    if (!(req.flags(i) & EntryFlag.FIRST)) continue;
    const h = req.hdr(i);
    if (h == Hdr.To && toLen != 0) {
      line(T_TO, to, toLen);
    } else if (h == Hdr.From || h == Hdr.To || h == Hdr.CallId || h == Hdr.Route) {
      copyLine(req, i);
    }
  }
  w.text(T_CSEQ);
  w.u32(cseq);
  w.byte(0x20);
  w.text(method);
  w.crlf();
  w.text(T_CL0);
  w.crlf();
  w.crlf();
  return w.finish();
}

/** Content-Length when the message had none, then the blank line and the body as received; or, when
 * the media relay rewrote its SDP (v's altBody), that body with its own Content-Length (the received
 * one was left out). */
function endHeadersAndBody(v: MessageView): void {
  if (MEDIA_RELAY && v.altBody != 0) {
    bodyOf(w, v);
    return;
  }
  if (v.contentLength < 0) {
    w.text(T_CL);
    w.u32(v.bodyLen);
    w.crlf();
  }
  const he = v.headersEnd;
  w.bytes(v.base + <usize>he, v.bodyOff + v.bodyLen - he);
}
