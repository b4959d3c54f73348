// User-agent dialogs (RFC 3261 §12): the state a user agent keeps for each dialog it is in, and the
// requests it writes from that state (§12.2.1.1). The B2BUA's legs and the registrant build on it; the
// proxy does not use it (a proxy is not a party to dialogs), so no board links it until a transaction
// user does. Layer: above wire/ (views, decoders, the writer), below the transaction users.
//
// A dialog is a fixed record plus a fixed text area of its own (TEXT_CAP bytes) holding copies of what
// it must remember: Call-ID, local URI and tag, remote URI and tag, remote target, and the route set
// (each Record-Route value whole, so its parameters go back out untouched). Nothing is allocated after
// start-up; a dialog whose texts do not fit is refused (DlgError.TooLong) rather than truncated.
//
//   UAC (§12.1.2), from a response with a To tag to our request: route set = the response's
//   Record-Route values in reverse order; remote target = its Contact URI; local URI/tag = From's;
//   remote URI/tag = To's; local CSeq = the request's; remote CSeq empty. 1xx → early, 2xx → confirmed.
//   UAS (§12.1.1), from a request we answer with a To tag of ours: route set = the request's
//   Record-Route values in order; remote target = its Contact URI; remote CSeq = the request's;
//   local CSeq empty (the first request we send uses 1); local URI = To's, remote URI/tag = From's.
//
// Requests within the dialog (§12.2.1.1): To = remote URI + remote tag, From = local URI + local tag,
// Call-ID, CSeq = the local CSeq + 1 (ACK and CANCEL pass their INVITE's), Max-Forwards 70. With an
// empty route set, or a first route with `lr`, the Request-URI is the remote target (without URI
// headers, §19.1.5) and the route set goes in Route as it is; with a strict first route (no `lr`), the
// Request-URI is that route's URI and Route is the rest of the set followed by the remote target.

import { UA_DIALOGS, USER_AGENT } from "../config";
import { MessageView } from "../wire/view";
import { Decoded } from "../wire/validate";
import { Hdr } from "../wire/hdr";
import { NameAddrRepr, NameAddrKind, decodeNameAddr } from "../wire/headers/nameaddr";
import { UriRepr } from "../wire/uri";
import { Writer } from "../wire/writer";
import { passThrough, bodyOf } from "../wire/emit";
import { eqBytes } from "../wire/scan";
import { FreeList } from "../util/freelist";
import { zeroTable } from "../util/zero";
import { tableAlloc } from "../util/alloc";

export const enum DlgState { Free = 0, Early = 1, Confirmed = 2, Terminated = 3 }
export const enum DlgError { NoTag = -1, NoContact = -2, TooLong = -3, Full = -4, BadRoute = -5, Bad = -6 }
/** The texts of a dialog, by index into its span table (routes follow, from SPAN_ROUTES). */
export const enum DlgText { CallId = 0, LocalUri = 1, LocalTag = 2, RemoteUri = 3, RemoteTag = 4, RemoteTarget = 5 }

/** Per-dialog flags (record byte 3). */
export const enum DlgFlag {
  /** We made the Call-ID (we sent the dialog-creating request): the longer glare wait (§14.1). */
  CallIdOwner = 1,
  /** An INVITE (initial or re-INVITE) of ours is in progress within the dialog. */
  OurInvite = 2,
  /** An INVITE of the peer's is in progress within the dialog. */
  TheirInvite = 4,
  /** Another fork's early dialog the client core PRACKs in (uac.ts prackFork), on its list: the client
   * core ends it (a BYE from its far end, which a callee must not send in an early dialog, does not). */
  Fork = 8,
}

export const MAX_ROUTES: u32 = 8;
export const TEXT_CAP: u32 = 1024;
const SPAN_ROUTES: u32 = 6;
const SPANS: u32 = SPAN_ROUTES + MAX_ROUTES;
// Record: +0 u8 state, +1 u8 routes, +2 u8 remote CSeq set, +3 u8 flags (DlgFlag), +4 u32 local CSeq,
// +8 u32 remote CSeq, +12 u32 text bytes used, +16 spans (u16 offset, u16 length) × SPANS, then u32 the
// RSeq of the last reliable provisional we PRACKed in it (RFC 3262 §4; 0: none yet), u32 the next dialog
// on the list it is on (index + 1, 0 none: the client core's list of an INVITE's other forks).
const RSEQ_AT: usize = 16 + <usize>SPANS * 4;
const LINK_AT: usize = RSEQ_AT + 4;
const REC_SIZE: usize = LINK_AT + 4;

const recs: usize = USER_AGENT ? tableAlloc(<usize>UA_DIALOGS * REC_SIZE) : 0;
const texts: usize = USER_AGENT ? tableAlloc(<usize>UA_DIALOGS * <usize>TEXT_CAP) : 0;
// The dialogs in use, found by Call-ID and local tag (§12.2.2's match, our side of it) through an
// open-addressed table at most half full (u32 per entry: dialog index + 1, 0 empty; linear probing,
// deletion by backward shift): a request within a dialog is a probe or two, not a scan of the table.
const IDX_SIZE: u32 = USER_AGENT ? <u32>1 << (32 - clz<u32>(<u32>UA_DIALOGS * 2 - 1)) : 1;
const IDX_MASK: u32 = IDX_SIZE - 1;
const idx: usize = USER_AGENT ? tableAlloc(<usize>IDX_SIZE * 4) : 0;
const freeRecs = USER_AGENT ? new FreeList(UA_DIALOGS) : changetype<FreeList>(0); // the free records
const na = USER_AGENT ? new NameAddrRepr() : changetype<NameAddrRepr>(0); // none where USER_AGENT is off

function rec(i: i32): usize { return recs + <usize>i * REC_SIZE; }
function text(i: i32): usize { return texts + <usize>i * <usize>TEXT_CAP; }

/** Forget every dialog. */
export function uaDialogsReset(): void {
  zeroTable(recs, <usize>UA_DIALOGS * REC_SIZE);
  zeroTable(idx, <usize>IDX_SIZE * 4);
  freeRecs.reset();
}

/** FNV-1a of a Call-ID and a tag: the index's key. */
function keyHash(cid: usize, cidLen: u32, tag: usize, tagLen: u32): u32 {
  let h: u32 = 0x811c9dc5;
  for (let k: u32 = 0; k < cidLen; k++) h = (h ^ <u32>load<u8>(cid + <usize>k)) * 0x01000193;
  h = (h ^ 0x20) * 0x01000193;
  for (let k: u32 = 0; k < tagLen; k++) h = (h ^ <u32>load<u8>(tag + <usize>k)) * 0x01000193;
  return h;
}
function homeOf(i: i32): u32 {
  return keyHash(uaDialogTextPtr(i, DlgText.CallId), uaDialogTextLen(i, DlgText.CallId),
    uaDialogTextPtr(i, DlgText.LocalTag), uaDialogTextLen(i, DlgText.LocalTag)) & IDX_MASK;
}
function slotAt(k: u32): usize { return idx + <usize>k * 4; }

/** Dialog i (its texts kept) into the index, and in use as `state`. */
function publish(i: i32, state: DlgState): void {
  let k = homeOf(i);
  while (load<u32>(slotAt(k)) != 0) k = (k + 1) & IDX_MASK;
  store<u32>(slotAt(k), <u32>i + 1);
  store<u8>(rec(i), <u8>state);
}

/** Dialog i out of the index (backward shift: every other entry stays reachable from its home). */
function unpublish(i: i32): void {
  let k = homeOf(i);
  for (let n: u32 = 0; n < IDX_SIZE && load<u32>(slotAt(k)) != <u32>i + 1; n++) k = (k + 1) & IDX_MASK;
  if (load<u32>(slotAt(k)) != <u32>i + 1) return; // not in it
  store<u32>(slotAt(k), 0);
  let j = k;
  for (let n: u32 = 0; n < IDX_MASK; n++) {
    j = (j + 1) & IDX_MASK;
    const e = load<u32>(slotAt(j));
    if (e == 0) return;
    const h = homeOf(<i32>e - 1);
    // j stays when its home lies cyclically in (k, j]
    if (k <= j ? (h > k && h <= j) : (h > k || h <= j)) continue;
    store<u32>(slotAt(k), e);
    store<u32>(slotAt(j), 0);
    k = j;
  }
}

export function uaDialogState(i: i32): DlgState { return <DlgState>load<u8>(rec(i)); }
export function uaDialogRoutes(i: i32): u32 { return <u32>load<u8>(rec(i), 1); }
export function uaDialogLocalCseq(i: i32): u32 { return load<u32>(rec(i), 4); }
/** The RSeq of the last reliable provisional PRACKed in dialog i (RFC 3262 §4), 0 none. */
export function uaDialogRseq(i: i32): u32 { return load<u32>(rec(i) + RSEQ_AT); }
export function uaDialogSetRseq(i: i32, rseq: u32): void { store<u32>(rec(i) + RSEQ_AT, rseq); }
/** The next dialog (index + 1) on the list dialog i is on, 0 none; setting it marks i DlgFlag.Fork
 * (`fork`) or clears that. */
export function uaDialogLink(i: i32): u32 { return load<u32>(rec(i) + LINK_AT); }
export function uaDialogSetLink(i: i32, next: u32, fork: bool): void {
  store<u32>(rec(i) + LINK_AT, next);
  setFlag(i, DlgFlag.Fork, fork);
}
/** The remote CSeq, or -1 while it is empty. */
export function uaDialogRemoteCseq(i: i32): i64 { return load<u8>(rec(i), 2) != 0 ? <i64>load<u32>(rec(i), 8) : -1; }
export function uaDialogsInUse(): i32 {
  let n = 0;
  for (let i = 0; i < UA_DIALOGS; i++) if (uaDialogState(i) != DlgState.Free) n++;
  return n;
}

/** Address and length of text `k` (a DlgText, or SPAN_ROUTES + r for route r) of dialog i. */
export function uaDialogTextPtr(i: i32, k: u32): usize { return text(i) + <usize>load<u16>(rec(i) + 16 + <usize>k * 4); }
export function uaDialogTextLen(i: i32, k: u32): u32 { return <u32>load<u16>(rec(i) + 16 + <usize>k * 4, 2); }
export function uaDialogRoutePtr(i: i32, r: u32): usize { return uaDialogTextPtr(i, SPAN_ROUTES + r); }
export function uaDialogRouteLen(i: i32, r: u32): u32 { return uaDialogTextLen(i, SPAN_ROUTES + r); }

/** Copies [p, p+len) into dialog i's text area as text k; false when the area is full. */
function keep(i: i32, k: u32, p: usize, len: u32): bool {
  const r = rec(i);
  const used = load<u32>(r, 12);
  if (len > TEXT_CAP - used) return false;
  memory.copy(text(i) + <usize>used, p, len);
  store<u16>(r + 16 + <usize>k * 4, <u16>used);
  store<u16>(r + 16 + <usize>k * 4, <u16>len, 2);
  store<u32>(r, used + len, 12);
  return true;
}

/** A free record, cleared; -1 when none is free. */
function claim(): i32 {
  const i = freeRecs.take();
  if (i >= 0) memory.fill(rec(i), 0, REC_SIZE);
  return i;
}

/** The URI of the first Contact value of v into na (a name-addr or a bare URI); false if none. */
function contactUri(v: MessageView): bool {
  const c = v.first(Hdr.Contact);
  if (c < 0) return false;
  const p = v.valPtr(c);
  return decodeNameAddr(p, p + <usize>v.valLen(c), na, NameAddrKind.Contact) && !na.star;
}

/** Keeps the Record-Route values of v, in order or reversed; false if there are too many or too long. */
function keepRoutes(i: i32, v: MessageView, reversed: bool): bool {
  const n = v.countOf(Hdr.RecordRoute);
  if (<u32>n > MAX_ROUTES) return false;
  let k: u32 = reversed ? <u32>n : 0;
  for (let e = v.first(Hdr.RecordRoute); e >= 0; e = v.next(e)) {
    const slot = reversed ? --k : k++;
    if (!keep(i, SPAN_ROUTES + slot, v.valPtr(e), v.valLen(e))) return false;
  }
  store<u8>(rec(i), <u8>n, 1);
  return true;
}

/** The parts both roles keep; `local`/`remote` are the From/To name-addrs in the role's order. */
function keepCommon(i: i32, v: MessageView, d: Decoded, local: NameAddrRepr, remote: NameAddrRepr, reversed: bool): i32 {
  if (!contactUri(v)) return DlgError.NoContact;
  const ok = keep(i, DlgText.CallId, d.callId, d.callIdLen) &&
    keep(i, DlgText.LocalUri, local.uri.start, local.uri.len) &&
    keep(i, DlgText.RemoteUri, remote.uri.start, remote.uri.len) &&
    keep(i, DlgText.RemoteTarget, na.uri.start, na.uri.len) &&
    keepRoutes(i, v, reversed);
  return ok ? 0 : DlgError.TooLong;
}

/**
 * UAC side: a dialog from response (v, d) to a request of ours with CSeq `cseq` (§12.1.2). Returns its
 * index, or a DlgError (the record is left free).
 */
export function uaDialogFromResponse(v: MessageView, d: Decoded, cseq: u32): i32 {
  if (v.isRequest || v.status < 101 || v.status > 299) return DlgError.Bad;
  if (!d.to.hasTag || !d.from.hasTag) return DlgError.NoTag;
  const i = claim();
  if (i < 0) return DlgError.Full;
  let r = keepCommon(i, v, d, d.from, d.to, true);
  if (r == 0 && !(keep(i, DlgText.LocalTag, d.from.tag, d.from.tagLen) && keep(i, DlgText.RemoteTag, d.to.tag, d.to.tagLen))) r = DlgError.TooLong;
  if (r != 0) { freeRecs.give(i); return r; } // never marked in use
  store<u32>(rec(i), cseq, 4);
  store<u8>(rec(i), <u8>DlgFlag.CallIdOwner, 3);
  publish(i, v.status >= 200 ? DlgState.Confirmed : DlgState.Early);
  return i;
}

/**
 * UAS side: a dialog from request (v, d) that we answer with To tag [tag, tag+tagLen) (§12.1.1).
 * Returns its index, or a DlgError.
 */
export function uaDialogFromRequest(v: MessageView, d: Decoded, tag: usize, tagLen: u32, early: bool): i32 {
  if (!v.isRequest) return DlgError.Bad;
  if (!d.from.hasTag || tagLen == 0) return DlgError.NoTag;
  const i = claim();
  if (i < 0) return DlgError.Full;
  let r = keepCommon(i, v, d, d.to, d.from, false);
  if (r == 0 && !(keep(i, DlgText.LocalTag, tag, tagLen) && keep(i, DlgText.RemoteTag, d.from.tag, d.from.tagLen))) r = DlgError.TooLong;
  if (r != 0) { freeRecs.give(i); return r; }
  store<u32>(rec(i), d.cseq.seq, 8);
  store<u8>(rec(i), 1, 2);
  publish(i, early ? DlgState.Early : DlgState.Confirmed);
  return i;
}

/**
 * The dialog a request (d) from the peer is in (§12.2.2): its Call-ID, our tag in To, theirs in From;
 * -1 when none (or the request has no To tag).
 */
export function uaDialogOf(d: Decoded): i32 {
  return d.to.hasTag ? find(d, d.to.tag, d.to.tagLen, d.from.tag, d.from.tagLen) : -1;
}

/** The dialog of ours a response (d) to our request is in: its Call-ID, our tag in From, theirs in To; or -1. */
export function uaDialogOfResponse(d: Decoded): i32 {
  return d.to.hasTag ? find(d, d.from.tag, d.from.tagLen, d.to.tag, d.to.tagLen) : -1;
}

/** The dialog with d's Call-ID, local tag [lt, lt+ltLen) and remote tag [rt, rt+rtLen), or -1. */
function find(d: Decoded, lt: usize, ltLen: u32, rt: usize, rtLen: u32): i32 {
  let k = keyHash(d.callId, d.callIdLen, lt, ltLen) & IDX_MASK;
  for (let n: u32 = 0; n < IDX_SIZE; n++, k = (k + 1) & IDX_MASK) {
    const e = load<u32>(slotAt(k));
    if (e == 0) return -1;
    const i = <i32>e - 1;
    if (eqBytes(d.callId, d.callIdLen, uaDialogTextPtr(i, DlgText.CallId), uaDialogTextLen(i, DlgText.CallId)) &&
        eqBytes(lt, ltLen, uaDialogTextPtr(i, DlgText.LocalTag), uaDialogTextLen(i, DlgText.LocalTag)) &&
        eqBytes(rt, rtLen, uaDialogTextPtr(i, DlgText.RemoteTag), uaDialogTextLen(i, DlgText.RemoteTag))) {
      return i;
    }
  }
  return -1;
}

/** An early dialog confirmed (its 2xx sent or received). */
export function uaDialogConfirm(i: i32): void {
  if (uaDialogState(i) == DlgState.Early) store<u8>(rec(i), <u8>DlgState.Confirmed);
}

/** The dialog ends; its record is free again. */
export function uaDialogEnd(i: i32): void {
  if (uaDialogState(i) == DlgState.Free) return;
  unpublish(i);
  store<u8>(rec(i), <u8>DlgState.Free);
  freeRecs.give(i);
}

/**
 * A request within dialog i into w (§12.2.1.1): method [mp, mp+ml), CSeq `cseq` (0: the local CSeq
 * plus one, kept; ACK and CANCEL pass their INVITE's), the whole Via value [via, via+viaLen) (the
 * transaction layer's sent-by and branch), a Contact value [contact, contact+contactLen) (none when 0
 * bytes), whole header lines [extra, extra+extraLen) of the caller's (each ending CRLF), and what `pass`
 * carries across from another leg's request (its headers, but those the drop list `drop` names
 * (wire/emit.ts; 0: none), and body; null: no body). Returns the bytes written, 0 if w ran out of room
 * or a route is malformed.
 */
export function uaWriteRequest(i: i32, mp: usize, ml: u32, cseq: u32, via: usize, viaLen: u32,
                               contact: usize, contactLen: u32, w: Writer, pass: MessageView | null = null, drop: usize = 0,
                               extra: usize = 0, extraLen: u32 = 0): u32 {
  const routes = uaDialogRoutes(i);
  // where the request goes first: a strict first route takes the Request-URI (§12.2.1.1)
  let strict = false;
  if (routes > 0) {
    const p = uaDialogRoutePtr(i, 0);
    if (!decodeNameAddr(p, p + <usize>uaDialogRouteLen(i, 0), na, NameAddrKind.Route)) return 0;
    strict = !na.uri.lr;
  }
  if (cseq == 0) {
    cseq = uaDialogLocalCseq(i) + 1;
    store<u32>(rec(i), cseq, 4);
  }
  w.bytes(mp, ml);
  w.byte(0x20);
  if (strict) writeUriOnly(w, na.uri); // the route's URI, its parameters kept (§12.2.1.1)
  else writeTargetUri(w, uaDialogTextPtr(i, DlgText.RemoteTarget), uaDialogTextLen(i, DlgText.RemoteTarget));
  w.lit(" SIP/2.0\r\nVia: ");
  w.bytes(via, viaLen);
  w.lit("\r\nMax-Forwards: 70\r\n");
  for (let r: u32 = strict ? 1 : 0; r < routes; r++) {
    w.lit("Route: ");
    w.bytes(uaDialogRoutePtr(i, r), uaDialogRouteLen(i, r));
    w.lit("\r\n");
  }
  if (strict) {
    w.lit("Route: <");
    w.bytes(uaDialogTextPtr(i, DlgText.RemoteTarget), uaDialogTextLen(i, DlgText.RemoteTarget));
    w.lit(">\r\n");
  }
  w.lit("From: <");
  w.bytes(uaDialogTextPtr(i, DlgText.LocalUri), uaDialogTextLen(i, DlgText.LocalUri));
  w.lit(">;tag=");
  w.bytes(uaDialogTextPtr(i, DlgText.LocalTag), uaDialogTextLen(i, DlgText.LocalTag));
  w.lit("\r\nTo: <");
  w.bytes(uaDialogTextPtr(i, DlgText.RemoteUri), uaDialogTextLen(i, DlgText.RemoteUri));
  w.lit(">;tag=");
  w.bytes(uaDialogTextPtr(i, DlgText.RemoteTag), uaDialogTextLen(i, DlgText.RemoteTag));
  w.lit("\r\nCall-ID: ");
  w.bytes(uaDialogTextPtr(i, DlgText.CallId), uaDialogTextLen(i, DlgText.CallId));
  w.lit("\r\nCSeq: ");
  w.u32(cseq);
  w.byte(0x20);
  w.bytes(mp, ml);
  w.lit("\r\n");
  if (contactLen > 0) {
    w.lit("Contact: ");
    w.bytes(contact, contactLen);
    w.lit("\r\n");
  }
  w.bytes(extra, extraLen);
  if (pass != null) passThrough(w, pass, drop);
  bodyOf(w, pass);
  return w.finish();
}

/** The remote target as a Request-URI: without URI headers (`?...`, not allowed there: §19.1.5). */
function writeTargetUri(w: Writer, p: usize, len: u32): void {
  let n = len;
  for (let k: u32 = 0; k < len; k++) if (load<u8>(p + <usize>k) == 0x3f) { n = k; break; }
  w.bytes(p, n);
}

function writeUriOnly(w: Writer, u: UriRepr): void {
  writeTargetUri(w, u.start, u.len);
}

// ---- requests within a dialog (§12.2.2, §14) --------------------------------------------------------

export function uaDialogFlags(i: i32): u32 { return <u32>load<u8>(rec(i), 3); }
function setFlag(i: i32, f: DlgFlag, on: bool): void {
  const b = load<u8>(rec(i), 3);
  store<u8>(rec(i), on ? b | <u8>f : b & ~(<u8>f), 3);
}

/**
 * A request of the peer's within dialog i (§12.2.2): its CSeq against the remote CSeq. Returns 0 when
 * it is in order (the remote CSeq then moves to it), or the status to answer: 500 for a CSeq lower than
 * one already seen (out of order). ACK and CANCEL carry their INVITE's number and are not checked.
 */
export function uaDialogCheckCseq(i: i32, seq: u32, ackOrCancel: bool): i32 {
  if (ackOrCancel) return 0;
  const r = rec(i);
  if (load<u8>(r, 2) != 0 && seq <= load<u32>(r, 8)) return seq == load<u32>(r, 8) ? 0 : 500;
  store<u32>(r, seq, 8);
  store<u8>(r, 1, 2);
  return 0;
}

/**
 * An INVITE is starting within dialog i, ours (`ours`) or the peer's (§14.1). Returns 0, or 491 when
 * an INVITE in the other direction is still in progress (glare: the peer's is answered 491; for ours the
 * caller waits uaGlareDelay() and tries again), or 500 when the peer sends a second INVITE while its
 * first is in progress (§14.2).
 */
export function uaDialogInviteBegin(i: i32, ours: bool): i32 {
  const f = uaDialogFlags(i);
  if (ours) {
    if ((f & DlgFlag.TheirInvite) != 0) return 491;
    setFlag(i, DlgFlag.OurInvite, true);
  } else {
    if ((f & DlgFlag.OurInvite) != 0) return 491;
    if ((f & DlgFlag.TheirInvite) != 0) return 500;
    setFlag(i, DlgFlag.TheirInvite, true);
  }
  return 0;
}

/** The INVITE in progress in one direction has ended (final response sent or received). */
export function uaDialogInviteEnd(i: i32, ours: bool): void {
  setFlag(i, ours ? DlgFlag.OurInvite : DlgFlag.TheirInvite, false);
}

/**
 * How long to wait before trying our re-INVITE again after a 491 (§14.1): the owner of the Call-ID
 * waits 2.1 to 4 s, the other party 0 to 2 s, in units of 10 ms, drawn from `random` (any u32).
 */
export function uaGlareDelay(i: i32, random: u32): u32 {
  return (uaDialogFlags(i) & DlgFlag.CallIdOwner) != 0 ? 2100 + (random % 191) * 10 : (random % 201) * 10;
}

/**
 * A target refresh (§12.2.1.2, §12.2.2): the Contact of a re-INVITE, UPDATE or their 2xx in view v
 * becomes the remote target. Returns 0, DlgError.NoContact, or DlgError.TooLong (the old target stays).
 * The text area is compacted when the new target does not fit after what it holds.
 */
export function uaDialogRefreshTarget(i: i32, v: MessageView): i32 {
  if (!contactUri(v)) return DlgError.NoContact;
  const r = rec(i);
  if (na.uri.len > TEXT_CAP - load<u32>(r, 12)) compact(i);
  return keep(i, DlgText.RemoteTarget, na.uri.start, na.uri.len) ? 0 : DlgError.TooLong;
}

/** Rewrites dialog i's texts without the gaps left by replaced ones: text by text from the lowest
 * offset, each moved down to the end of the previous one, so no move overwrites a text not yet moved. */
function compact(i: i32): void {
  const r = rec(i);
  const base = text(i);
  let at: u32 = 0;
  // texts in increasing offset order: selection of the next lowest each round (SPANS is small)
  let done: u32 = 0; // bit k: text k moved
  const n = SPAN_ROUTES + uaDialogRoutes(i);
  for (let round: u32 = 0; round < n; round++) {
    let best: i32 = -1;
    let bestOff: u32 = 0xffffffff;
    for (let k: u32 = 0; k < n; k++) {
      if ((done & (1 << k)) != 0) continue;
      const off = <u32>load<u16>(r + 16 + <usize>k * 4);
      if (off < bestOff) { bestOff = off; best = <i32>k; }
    }
    if (best < 0) break;
    done |= 1 << <u32>best;
    const len = <u32>load<u16>(r + 16 + <usize>best * 4, 2);
    memory.copy(base + <usize>at, base + <usize>bestOff, len);
    store<u16>(r + 16 + <usize>best * 4, <u16>at);
    at += len;
  }
  store<u32>(r, at, 12);
}

// ---- requests outside a dialog (§8.1.1) ---------------------------------------------------------------

/** The parts of a request outside any dialog (INVITE, REGISTER, OPTIONS, ...): spans set by the
 * transaction user; `extra` is zero or more whole header lines (each ending CRLF) it adds, such as
 * Authorization, Route toward an outbound proxy, Expires, Supported. */
export class OutRequest {
  method: usize = 0; methodLen: u32 = 0;
  ruri: usize = 0; ruriLen: u32 = 0;
  /** From's display name as written (with its quotes), or 0 bytes: none. */
  fromName: usize = 0; fromNameLen: u32 = 0;
  fromUri: usize = 0; fromUriLen: u32 = 0;
  fromTag: usize = 0; fromTagLen: u32 = 0;
  toUri: usize = 0; toUriLen: u32 = 0;
  callId: usize = 0; callIdLen: u32 = 0;
  cseq: u32 = 1;
  via: usize = 0; viaLen: u32 = 0;
  contact: usize = 0; contactLen: u32 = 0;
  extra: usize = 0; extraLen: u32 = 0;
  maxForwards: u32 = 70;
  /** Another leg's request whose header lines (those a leg does not write itself: wire/emit.ts
   * legOwned) and body this one carries across (a B2BUA), or null: no body. */
  pass: MessageView | null = null;
  /** A drop list (wire/emit.ts: header names of `pass` not carried), or 0: none. */
  drop: usize = 0;
}

/**
 * A request outside a dialog (§8.1.1): Request-URI, Via, Max-Forwards, From (its display name when
 * given) with our tag, To without
 * a tag, Call-ID, CSeq, Contact when given, the extra lines, then what `pass` carries across (its
 * headers and body), or no body. Returns the bytes written, 0 if w ran out of room or a mandatory part
 * is empty.
 */
export function uaWriteOut(r: OutRequest, w: Writer): u32 {
  if (r.methodLen == 0 || r.ruriLen == 0 || r.fromUriLen == 0 || r.fromTagLen == 0 || r.toUriLen == 0 ||
      r.callIdLen == 0 || r.viaLen == 0) return 0;
  w.bytes(r.method, r.methodLen);
  w.byte(0x20);
  w.bytes(r.ruri, r.ruriLen);
  w.lit(" SIP/2.0\r\nVia: ");
  w.bytes(r.via, r.viaLen);
  w.lit("\r\nMax-Forwards: ");
  w.u32(r.maxForwards);
  w.lit("\r\nFrom: ");
  if (r.fromNameLen != 0) {
    w.bytes(r.fromName, r.fromNameLen);
    w.byte(0x20);
  }
  w.byte(0x3c);
  w.bytes(r.fromUri, r.fromUriLen);
  w.lit(">;tag=");
  w.bytes(r.fromTag, r.fromTagLen);
  w.lit("\r\nTo: <");
  w.bytes(r.toUri, r.toUriLen);
  w.lit(">\r\nCall-ID: ");
  w.bytes(r.callId, r.callIdLen);
  w.lit("\r\nCSeq: ");
  w.u32(r.cseq);
  w.byte(0x20);
  w.bytes(r.method, r.methodLen);
  w.lit("\r\n");
  if (r.contactLen > 0) {
    w.lit("Contact: ");
    w.bytes(r.contact, r.contactLen);
    w.lit("\r\n");
  }
  w.bytes(r.extra, r.extraLen);
  const pass = r.pass;
  if (pass != null) passThrough(w, pass, r.drop);
  bodyOf(w, pass);
  return w.finish();
}
