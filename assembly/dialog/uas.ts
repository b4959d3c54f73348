// The user agent's server core (RFC 3261 §8.2, §13.3, §15.1.2): requests the user agent takes (a B2BUA
// leg's side; the probe build in the tests), each INVITE a call in a fixed table with its server
// transaction (owned by the user agent), its kept request (to write later responses from) and, once a
// 2xx is sent, the dialog and the 2xx itself, which the UAS core — not the transaction — retransmits at
// T1 doubling to T2 until the ACK arrives, and gives up after 64·T1 (§13.3.1.4: the dialog then ends;
// the caller would send BYE). ACK and BYE are matched to the dialog by Call-ID and tags; CANCEL to its
// INVITE by the server transaction (200 to the CANCEL, 487 to the INVITE, §9.2). What the owner of a
// call does next (answer, ring, reject) is its own: uasRespond.

import { UA_DIALOGS, USER_AGENT } from "../config";
import { MessageView, parseMessage } from "../wire/view";
import { Decoded, validateMessage } from "../wire/validate";
import { STORE_BUF, WORK_BUF, WORK_CAP, storedView, storedDecoded } from "../wire/buffers";
import { Method } from "../wire/method";
import { Writer } from "../wire/writer";
import { writeResponse, writeResponseRelay } from "../wire/emit";
import { Peer, PEER_SIZE } from "../net/peer";
import { transportById, protoParam } from "../net/transports";
import { T_TRANSPORT } from "../wire/tables";
import { prngNext } from "../util/prng";
import {
  rec, idxOf, handleOf, msgPool, txSend, txPush, serverKey, indexFind, TxnKind, serverInviteCreate,
  serverInviteRespond, serverInviteOnRequest, serverInviteOnAck, serverNonInviteCreate, serverNonInviteRespond,
  serverNonInviteOnRequest, timers, hex8, responseDest, TxnUp, ClientTimerOut,
} from "../txn";
import { Owner } from "../tu/owner";
import { tuTimerSet, tuTimerCancel } from "../tu/timers";
import {
  uaDialogFromRequest, uaDialogEnd, uaDialogOf, uaDialogCheckCseq, uaDialogRefreshTarget, uaDialogState, uaDialogConfirm, DlgState,
  uaDialogFlags, DlgFlag,
} from "./ua";
import { Hdr } from "../wire/hdr";
import { FreeList } from "../util/freelist";
import { zeroTable } from "../util/zero";
import { tableAlloc } from "../util/alloc";

export const UAS_CALLS: i32 = UA_DIALOGS;
export const enum UasState { Free = 0, Proceeding = 1, Answered = 2, Confirmed = 3, Ended = 4 }

/** What a request taken by uasRequest means for the owner of its call or dialog. */
export const enum UasEvent {
  /** Nothing for the owner (a retransmission, an ACK, a refusal, an answered stray). */
  None = 0,
  /** A new INVITE: call `call` is proceeding (100 sent); the owner answers it with uasRespond. */
  NewCall = 1,
  /** A CANCEL ended call `call`'s INVITE with 487 (the call is free again). */
  Cancelled = 2,
  /** A BYE ended dialog `dlg` (answered 200; the dialog is free again; `call` is its call if it had
   * one, now free, or -1 for a dialog of the user agent's client side). */
  Bye = 3,
  /** A request within dialog `dlg` (not ACK, BYE or CANCEL) for the owner to answer with uasRespond:
   * `call` is its record (100 sent for an INVITE). Only where the owner takes them (uasRequest). */
  InDialog = 4,
  /** An OPTIONS outside any dialog, unanswered: the owner answers it with uasAnswerOptions. Only where
   * the owner takes them (uasRequest). */
  Options = 5,
  /** The first ACK of our 2xx to call `call`'s INVITE (dialog `dlg`): the owner may need its body (the
   * answer to a late offer, RFC 3264 §5). Only where the owner takes requests within dialogs. */
  Ack = 6,
}

/** The outcome of one request (the caller's record: no per-request state is kept here). */
export class UasIn {
  kind: UasEvent = UasEvent.None;
  call: i32 = -1;
  dlg: i32 = -1;
  set(kind: UasEvent, call: i32, dlg: i32): void { this.kind = kind; this.call = call; this.dlg = dlg; }
}

// Call record (CALL_SIZE bytes): +0 u8 state, +1 u8 tag length, +2 u8 flags (CallFlag), +4 u32 server
// transaction handle, +8 u32 request (pool), +12 u32 2xx (pool), +16 i32 dialog, +20 u32 retransmit
// interval (ms), +24 i64 give-up time, +32 Peer (where responses go), +64 tag (16 bytes; a request
// within a dialog: its CSeq number instead). A request within a dialog that the owner relays (a
// B2BUA: a re-INVITE, UPDATE, INFO ...) takes a record of its own while it is answered.
const CALL_SIZE: usize = 80;
const enum CallFlag { InDialog = 1, NonInvite = 2 }
const calls: usize = USER_AGENT ? tableAlloc(<usize>UAS_CALLS * CALL_SIZE) : 0;
function call(i: i32): usize { return calls + <usize>i * CALL_SIZE; }
// Per dialog: the call (index + 1, 0 none) whose INVITE made it (u32), and how many records of requests
// within it are open (u16): a request within a dialog finds its call without a scan of the table, and
// a BYE scans for the dialog's open requests only when there are some.
const dlgCall: usize = USER_AGENT ? tableAlloc(<usize>UA_DIALOGS * 4) : 0;
const dlgOpen: usize = USER_AGENT ? tableAlloc(<usize>UA_DIALOGS * 2) : 0;
const freeRecs = USER_AGENT ? new FreeList(UAS_CALLS) : changetype<FreeList>(0); // the free records

/** Call i's (an INVITE's record) dialog is now dlg (-1: none). */
function linkDialog(i: i32, dlg: i32): void {
  const c = call(i);
  const old = load<i32>(c, 16);
  if (old >= 0 && load<u32>(dlgCall + <usize>old * 4) == <u32>i + 1) store<u32>(dlgCall + <usize>old * 4, 0);
  store<i32>(c, dlg, 16);
  if (dlg >= 0) store<u32>(dlgCall + <usize>dlg * 4, <u32>i + 1);
}

/** The record of the INVITE whose dialog is dlg (in whatever state), or -1. */
function callOf(dlg: i32): i32 {
  const i = <i32>load<u32>(dlgCall + <usize>dlg * 4) - 1;
  return i >= 0 && load<i32>(call(i), 16) == dlg && (load<u8>(call(i), 2) & CallFlag.InDialog) == 0 && load<u8>(call(i)) != UasState.Free ? i : -1;
}

// (nothing of the user agent core is allocated where USER_AGENT is off: the proxy boards)
const tw = USER_AGENT ? new Writer() : changetype<Writer>(0);
const cw = USER_AGENT ? new Writer() : changetype<Writer>(0);
const CONTACT_CAP: u32 = 320;
const CONTACT: usize = USER_AGENT ? tableAlloc(CONTACT_CAP) : 0;
const respDest = USER_AGENT ? new Peer() : changetype<Peer>(0);

/** Forget every call (their pool blocks go with the pool's own reset). */
export function uasReset(): void {
  zeroTable(calls, <usize>UAS_CALLS * CALL_SIZE);
  zeroTable(dlgCall, <usize>UA_DIALOGS * 4);
  zeroTable(dlgOpen, <usize>UA_DIALOGS * 2);
  freeRecs.reset();
}

export function uasState(i: i32): UasState { return <UasState>load<u8>(call(i)); }
/** Where call i's responses go (and the first hop of requests back to its caller). */
export function uasPeer(i: i32): Peer { return changetype<Peer>(call(i) + 32); }
export function uasDialog(i: i32): i32 { return load<i32>(call(i), 16); }
export function uasCallsInUse(): i32 {
  let n = 0;
  for (let i = 0; i < UAS_CALLS; i++) if (load<u8>(call(i)) != 0) n++;
  return n;
}

function freeCall(i: i32): void {
  const c = call(i);
  if (load<u8>(c) == UasState.Free) return; // freed already
  // an INVITE's early dialog (our 1xx made it) ends with the call unanswered (§12.1.1, §12.3)
  const dlg = load<i32>(c, 16);
  if ((load<u8>(c, 2) & CallFlag.InDialog) == 0) {
    if (dlg >= 0 && uaDialogState(dlg) == DlgState.Early) uaDialogEnd(dlg);
    linkDialog(i, -1);
  } else if (dlg >= 0) {
    const o = dlgOpen + <usize>dlg * 2;
    if (load<u16>(o) > 0) store<u16>(o, load<u16>(o) - 1);
  }
  msgPool.release(load<u32>(c, 8));
  msgPool.release(load<u32>(c, 12));
  tuTimerCancel(Owner.UserAgent, <u32>i + 1);
  memory.fill(c, 0, CALL_SIZE);
  freeRecs.give(i);
}

/** "Contact: <sip:host:port;transport=...>\r\n" of the transport the request came in on, into CONTACT;
 * with `reliable`, "Require: 100rel\r\n" after it (a reliable provisional relayed: RFC 3262 §3). */
function contactLine(src: Peer, reliable: bool = false): u32 {
  const t = transportById(src.transport);
  cw.begin(CONTACT, CONTACT_CAP);
  if (t == null) return 0;
  cw.lit("Contact: <sip:");
  cw.bytes(t.addr, t.addrLen);
  if (t.reliable) { cw.text(T_TRANSPORT); cw.text(protoParam(t.proto)); } // tcp, tls, ws, wss
  cw.lit(">\r\n");
  if (reliable) cw.lit("Require: 100rel\r\n");
  return cw.finish();
}

/** "Retry-After: N" (0-10 s, random) into CONTACT: RFC 3261 §14.2's 500 for a request that met one in progress. */
function retryAfterLine(): u32 {
  cw.begin(CONTACT, CONTACT_CAP);
  cw.lit("Retry-After: ");
  cw.u32(<u32>(prngNext() % 11));
  cw.lit("\r\n");
  return cw.finish();
}

/** A response to (v, d) written and sent without a transaction (481, 501: nothing to retransmit), with
 * the header lines in CONTACT when `extraLen` is nonzero. */
function answerStateless(v: MessageView, d: Decoded, src: Peer, status: u32, extraLen: u32 = 0): void {
  responseDest(src, d.via, respDest);
  const n = writeResponse(v, status, 0, 0, CONTACT, extraLen, WORK_BUF, WORK_CAP);
  if (n != 0) txSend(WORK_BUF, n, respDest);
}

// The extensions the user agent implements (RFC 3261 §8.2.2.3): 100rel, relayed end to end by its owner
// (RFC 3262: a B2BUA carries reliable provisionals, PRACK and RSeq/RAck from leg to leg).
/** Whether option tag [p, p+len) is one we implement (letters in any case). */
function implemented(p: usize, len: u32): bool {
  // "100r" and "el" (little-endian), the letters in either case
  return len == 6 && (load<u32>(p) | 0x20000000) == 0x72303031 && (load<u16>(p, 4) | 0x2020) == 0x6c65;
}

/** The option tags of v's Require that we do not implement, as "Unsupported: a, b\r\n" in CONTACT; its length, 0 when none. */
function unsupportedLine(v: MessageView): u32 {
  cw.begin(CONTACT, CONTACT_CAP);
  let n = 0;
  for (let e = v.first(Hdr.Require); e >= 0; e = v.next(e)) {
    const p = v.valPtr(e);
    const len = v.valLen(e);
    if (len == 0 || implemented(p, len)) continue;
    cw.lit(n++ == 0 ? "Unsupported: " : ", ");
    cw.bytes(p, len);
  }
  if (n == 0) return 0;
  cw.lit("\r\n");
  return cw.ok ? cw.finish() : 0;
}

/**
 * The owner's answer to an OPTIONS outside a dialog (UasEvent.Options) from `src`: `status`, a 200 with
 * what the user agent implements (RFC 3261 §11.2: Allow, Accept, Supported), through a server
 * transaction of its own.
 */
export function uasAnswerOptions(v: MessageView, d: Decoded, src: Peer, status: u32, now: i64): void {
  const t = transportById(src.transport);
  responseDest(src, d.via, respDest);
  let n: u32 = 0;
  if (status == 200) {
    cw.begin(CONTACT, CONTACT_CAP);
    cw.lit("Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, PRACK, UPDATE, INFO, REGISTER\r\nAccept: application/sdp\r\nSupported: 100rel\r\n");
    n = cw.finish();
  }
  answerNonInvite(v, d, serverKey(v, d, v.method), t != null && t.reliable, status, now, CONTACT, n);
}

/** Whether header h of v lists the option tag 100rel (RFC 3262). */
export function has100rel(v: MessageView, h: Hdr): bool {
  for (let e = v.first(h); e >= 0; e = v.next(e)) if (implemented(v.valPtr(e), v.valLen(e))) return true;
  return false;
}

/** The call whose dialog (Call-ID, our tag in To, theirs in From) request d is in, or -1. */
function callOfDialog(d: Decoded): i32 {
  const dlg = uaDialogOf(d);
  if (dlg < 0) return -1;
  const i = callOf(dlg);
  if (i < 0) return -1;
  const st = load<u8>(call(i));
  return st == UasState.Answered || st == UasState.Confirmed ? i : -1;
}

/** The record waiting for the ACK of our 2xx to re-INVITE `seq` in dialog dlg, or -1. */
function reInviteOf(dlg: i32, seq: u32): i32 {
  if (load<u16>(dlgOpen + <usize>dlg * 2) == 0) return -1;
  for (let i = 0; i < UAS_CALLS; i++) {
    const c = call(i);
    if (load<u8>(c) == UasState.Answered && (load<u8>(c, 2) & CallFlag.InDialog) != 0 && load<i32>(c, 16) == dlg && load<u32>(c, 64) == seq) return i;
  }
  return -1;
}

/**
 * A validated request for the user agent, from `src`. What it means for the owner goes in `out`
 * (UasEvent: a new call to answer with uasRespond, a call cancelled, a dialog ended by BYE). Returns
 * the call a new INVITE opened, or -1. Responses are written in the work slot (wire/buffers.ts).
 */
export function uasRequest(v: MessageView, d: Decoded, src: Peer, now: i64, out: UasIn, takeInDialog: bool = false): i32 {
  out.set(UasEvent.None, -1, -1);
  const m = v.method;
  if (m == Method.ACK) {
    // the ACK of a non-2xx final belongs to the INVITE's transaction (same branch, §17.2.1)
    const si = indexFind(serverKey(v, d, Method.INVITE), TxnKind.ServerInvite);
    if (si >= 0 && serverInviteOnAck(<u32>si, now)) return -1;
    const i = callOfDialog(d);
    if (i >= 0 && load<u8>(call(i)) == UasState.Answered) {
      // §13.3.1.4: the ACK for our 2xx ends its retransmission
      store<u8>(call(i), <u8>UasState.Confirmed);
      tuTimerCancel(Owner.UserAgent, <u32>i + 1);
      msgPool.release(load<u32>(call(i), 12));
      store<u32>(call(i), 0, 12);
      if (takeInDialog) out.set(UasEvent.Ack, i, load<i32>(call(i), 16));
    } else {
      // the ACK of our 2xx to a re-INVITE: that request's record is done
      const dlg = uaDialogOf(d);
      const r = dlg >= 0 ? reInviteOf(dlg, d.cseq.seq) : -1;
      if (r >= 0) freeCall(r);
    }
    return -1; // an ACK is never answered
  }
  const key = serverKey(v, d, m);
  const found = indexFind(key, m == Method.INVITE ? TxnKind.ServerInvite : TxnKind.ServerNonInvite);
  if (found >= 0) {
    // a retransmission: the transaction answers it with its last response
    if (m == Method.INVITE) serverInviteOnRequest(<u32>found);
    else serverNonInviteOnRequest(<u32>found);
    return -1;
  }
  const t = transportById(src.transport);
  const reliable = t != null && t.reliable;
  responseDest(src, d.via, respDest);
  if (m != Method.CANCEL) {
    // §8.2.2.3: a Require we do not implement is refused, 420 naming what we lack
    const ul = unsupportedLine(v);
    if (ul != 0) { answerStateless(v, d, src, 420, ul); return -1; }
  }
  if (m == Method.INVITE && !d.to.hasTag) {
    const i = newCall(v, d, src, key, reliable, now);
    if (i >= 0) out.set(UasEvent.NewCall, i, -1);
    return i;
  }
  if (m == Method.CANCEL) {
    const si = indexFind(serverKey(v, d, Method.INVITE), TxnKind.ServerInvite);
    answerNonInvite(v, d, key, reliable, si >= 0 ? 200 : 481, now);
    if (si >= 0) {
      const owner = rec(<u32>si).user;
      if (owner > 0 && load<u8>(call(<i32>owner - 1)) == UasState.Proceeding && uasRespond(<i32>owner - 1, 487, now)) {
        out.set(UasEvent.Cancelled, <i32>owner - 1, -1);
      }
    }
    return -1;
  }
  if (m == Method.BYE) {
    // a dialog of a call we answered, or one of the user agent's client side (a B2BUA's other leg)
    const dlg = uaDialogOf(d);
    answerNonInvite(v, d, key, reliable, dlg >= 0 ? 200 : 481, now);
    if (dlg >= 0) {
      const i = callOfDialog(d);
      // §15.1.2: requests of the dialog still unanswered get 487 (the INVITE itself, for a BYE in its
      // early dialog: §15); the dialog and its records end
      const first = callOf(dlg);
      if (first >= 0 && load<u8>(call(first)) == UasState.Proceeding && !uasRespond(first, 487, now)) freeCall(first);
      for (let k = 0; k < UAS_CALLS && load<u16>(dlgOpen + <usize>dlg * 2) > 0; k++) {
        const c = call(k);
        if (load<i32>(c, 16) != dlg || load<u8>(c) == UasState.Free || (load<u8>(c, 2) & CallFlag.InDialog) == 0) continue;
        if (load<u8>(c) != UasState.Proceeding || !uasRespond(k, 487, now)) freeCall(k);
      }
      if ((uaDialogFlags(dlg) & DlgFlag.Fork) == 0) uaDialogEnd(dlg); // (a fork's: the client core's to end)
      if (i >= 0) freeCall(i);
      out.set(UasEvent.Bye, i, dlg);
    }
    return -1;
  }
  const dlg = d.to.hasTag ? uaDialogOf(d) : -1;
  if (dlg >= 0 && takeInDialog) {
    // a request within a dialog of ours for the owner to answer (§12.2.2: its CSeq must be in order)
    const bad = uaDialogCheckCseq(dlg, d.cseq.seq, false);
    if (bad != 0) { answerStateless(v, d, src, <u32>bad); return -1; }
    const i = newInDialog(v, d, src, key, reliable, dlg, now);
    if (i >= 0) out.set(UasEvent.InDialog, i, dlg);
    return -1;
  }
  if (m == Method.OPTIONS && !d.to.hasTag && takeInDialog) { out.set(UasEvent.Options, -1, -1); return -1; }
  // any other request: in a dialog we do not know, 481 (§12.2.2); otherwise not implemented here
  answerStateless(v, d, src, d.to.hasTag && dlg < 0 ? 481 : 501);
  return -1;
}

/** A record for request (v, d) within dialog dlg, with its server transaction; -1 (503 sent) if no room. */
function newInDialog(v: MessageView, d: Decoded, src: Peer, key: u64, reliable: bool, dlg: i32, now: i64): i32 {
  const m = v.method;
  const invite = m == Method.INVITE;
  const i = freeRecs.take();
  const request = i >= 0 ? msgPool.store(v.base, v.len) : 0;
  const h = request == 0 ? 0 : invite
    ? serverInviteCreate(key, respDest, reliable, d.cseq.seq, now, Owner.UserAgent)
    : serverNonInviteCreate(key, m, respDest, reliable, d.cseq.seq, now, Owner.UserAgent);
  if (h == 0) {
    msgPool.release(request);
    if (i >= 0) freeRecs.give(i);
    if (invite) answerStateless(v, d, src, 503);
    else answerNonInvite(v, d, key, reliable, 503, now);
    return -1;
  }
  if (invite || m == Method.UPDATE) uaDialogRefreshTarget(dlg, v); // §12.2.2: a target refresh
  const c = call(i);
  memory.fill(c, 0, CALL_SIZE);
  store<u8>(c, <u8>UasState.Proceeding);
  store<u8>(c, <u8>(CallFlag.InDialog | (invite ? 0 : CallFlag.NonInvite)), 2);
  store<u32>(c, h, 4);
  store<u32>(c, request, 8);
  store<i32>(c, dlg, 16);
  store<u16>(dlgOpen + <usize>dlg * 2, load<u16>(dlgOpen + <usize>dlg * 2) + 1);
  memory.copy(c + 32, changetype<usize>(respDest), PEER_SIZE);
  store<u32>(c, d.cseq.seq, 64);
  rec(h & 0xffffff).user = <u32>i + 1;
  if (invite) uasRespond(i, 100, now);
  return i;
}

/** A non-INVITE answered at once through its own server transaction (so retransmissions get it again),
 * with the header lines [extra, extra+extraLen). */
function answerNonInvite(v: MessageView, d: Decoded, key: u64, reliable: bool, status: u32, now: i64, extra: usize = 0, extraLen: u32 = 0): void {
  const h = serverNonInviteCreate(key, v.method, respDest, reliable, d.cseq.seq, now, Owner.UserAgent);
  const n = writeResponse(v, status, 0, 0, extra, extraLen, WORK_BUF, WORK_CAP);
  if (h == 0 || n == 0) { if (n != 0) txSend(WORK_BUF, n, respDest); return; }
  const msg = msgPool.store(WORK_BUF, n);
  if (msg == 0) { txSend(WORK_BUF, n, respDest); return; }
  serverNonInviteRespond(h & 0xffffff, msg, status, now);
  msgPool.release(msg);
}

function newCall(v: MessageView, d: Decoded, src: Peer, key: u64, reliable: bool, now: i64): i32 {
  const i = freeRecs.take();
  const request = i >= 0 ? msgPool.store(v.base, v.len) : 0;
  const h = request != 0 ? serverInviteCreate(key, respDest, reliable, d.cseq.seq, now, Owner.UserAgent) : 0;
  if (h == 0) {
    msgPool.release(request);
    if (i >= 0) freeRecs.give(i);
    answerStateless(v, d, src, 503); // no room: refused, never half accepted
    return -1;
  }
  const c = call(i);
  memory.fill(c, 0, CALL_SIZE);
  store<u8>(c, <u8>UasState.Proceeding);
  store<u32>(c, h, 4);
  store<u32>(c, request, 8);
  store<i32>(c, -1, 16);
  memory.copy(c + 32, changetype<usize>(respDest), PEER_SIZE);
  tw.begin(c + 64, 16);
  hex8(tw, <u32>prngNext());
  store<u8>(c, <u8>tw.finish(), 1);
  rec(h & 0xffffff).user = <u32>i + 1;
  uasRespond(i, 100, now);
  return i;
}

/** Call i's INVITE, kept since it came, read again into the stored-message slot (storedView,
 * storedDecoded); false when there is no such call or it does not parse. */
export function uasStoredRequest(i: i32): bool {
  if (i < 0 || i >= UAS_CALLS || load<u8>(call(i)) == UasState.Free) return false;
  const n0 = msgPool.copyOut(load<u32>(call(i), 8), STORE_BUF);
  return parseMessage(storedView, STORE_BUF, n0, false) > 0 && validateMessage(storedView, storedDecoded) == 0;
}

/**
 * Answer call i's INVITE with `status` (100–699): a 1xx other than 100 and a 2xx carry our To tag and
 * Contact, a 2xx makes the dialog and starts its retransmission until the ACK. `pass`: another leg's
 * response whose headers (those a leg does not write itself) and body this one carries (a B2BUA), or
 * null (no body); `drop`: the drop list of its header names not carried (wire/emit.ts), or 0;
 * [extra, extra+extraLen): whole header lines of the owner's (a B2BUA's P-Asserted-Identity). False when
 * the request could not be re-read or the response not stored (the transaction then times out upstream).
 */
export function uasRespond(i: i32, status: u32, now: i64, pass: MessageView | null = null, drop: usize = 0,
                           extra: usize = 0, extraLen: u32 = 0): bool {
  const c = call(i);
  if (load<u8>(c) != UasState.Proceeding) return false;
  const idx = idxOf(load<u32>(c, 4));
  if (idx < 0) return false;
  // the kept request, re-read in the stored-message slot; the response is written in the work slot
  if (!uasStoredRequest(i)) return false;
  const flags = <u32>load<u8>(c, 2);
  const inDialog = (flags & CallFlag.InDialog) != 0;
  // our tag on a call's first answers (a request within a dialog carries it already); our Contact on
  // 1xx/2xx to an INVITE and a 2xx to UPDATE (target refresh, RFC 3311 §5.2)
  const tagged = status > 100 && !inDialog;
  const refresh = storedView.method == Method.INVITE || (storedView.method == Method.UPDATE && status >= 200);
  // a 500 of our own (nothing relayed: a relayed one says what its sender said) tells when to retry
  let lines = status == 500 && pass == null ? retryAfterLine()
    : status > 100 && status < 300 && refresh ? contactLine(changetype<Peer>(c + 32), status < 200 && pass != null && has100rel(pass, Hdr.Require)) : 0;
  if (extraLen > CONTACT_CAP - lines) return false; // never cut
  memory.copy(CONTACT + <usize>lines, extra, extraLen);
  lines += extraLen;
  const tag = tagged ? c + 64 : 0;
  const tagLen = tagged ? <u32>load<u8>(c, 1) : 0;
  const n = pass != null
    ? writeResponseRelay(storedView, status, tag, tagLen, CONTACT, lines, pass, WORK_BUF, WORK_CAP, drop)
    : writeResponse(storedView, status, tag, tagLen, CONTACT, lines, WORK_BUF, WORK_CAP);
  const msg = n != 0 ? msgPool.store(WORK_BUF, n) : 0;
  if (msg == 0) return false;
  if ((flags & CallFlag.NonInvite) != 0) {
    // a non-INVITE within a dialog: its transaction keeps the final for retransmissions
    serverNonInviteRespond(<u32>idx, msg, status, now);
    msgPool.release(msg);
    if (status >= 200) freeCall(i);
    return true;
  }
  serverInviteRespond(<u32>idx, msg, status, now);
  if (tagged && status < 300) {
    // §12.1.1: our first 1xx with a tag makes the early dialog, the 2xx confirms it (or makes it)
    const dlg = load<i32>(c, 16);
    if (dlg >= 0 && uaDialogState(dlg) == DlgState.Early) {
      if (status >= 200) uaDialogConfirm(dlg);
    } else {
      const made = uaDialogFromRequest(storedView, storedDecoded, c + 64, <u32>load<u8>(c, 1), status < 200);
      linkDialog(i, made < 0 ? -1 : made);
    }
  }
  if (status >= 200 && status < 300) {
    store<u8>(c, <u8>UasState.Answered);
    store<u32>(c, msg, 12); // kept (the pool's reference passes to the call) for retransmission
    store<u32>(c, <u32>timers.t1, 20);
    store<i64>(c, now + timers.t64, 24);
    tuTimerSet(Owner.UserAgent, <u32>i + 1, now + timers.t1);
    return true;
  }
  msgPool.release(msg);
  if (status >= 300) freeCall(i);
  return true;
}

/**
 * The user agent's TU timer for call `user - 1`: retransmit the 2xx (T1 doubling to T2), or give up at
 * 64·T1. Returns the dialog that ended by giving up (its call is free; the owner ends what it linked
 * to it), or -1.
 */
export function uasTimer(user: u32, now: i64): i32 {
  const i = <i32>user - 1;
  if (i < 0 || i >= UAS_CALLS) return -1;
  const c = call(i);
  if (load<u8>(c) != UasState.Answered) return -1;
  if (now >= load<i64>(c, 24)) {
    // §13.3.1.4: no ACK within 64·T1: the dialog is over (its owner sends the BYE); for a re-INVITE
    // the session should end too, which is the owner's (its BYE ends the dialog)
    const dlg = load<i32>(c, 16);
    const inDialog = (load<u8>(c, 2) & CallFlag.InDialog) != 0;
    if (!inDialog) uaDialogEnd(dlg);
    freeCall(i);
    return inDialog ? -1 : dlg;
  }
  txPush(load<u32>(c, 12), changetype<Peer>(c + 32));
  let iv = load<u32>(c, 20) * 2;
  if (<i64>iv > timers.t2) iv = <u32>timers.t2;
  store<u32>(c, iv, 20);
  // the next retransmission, or the end of the wait if that comes first
  const next = now + <i64>iv;
  const end = load<i64>(c, 24);
  tuTimerSet(Owner.UserAgent, user, next < end ? next : end);
  return -1;
}

/** Call i's record freed, its dialog left to the owner (which ends it with a BYE of its own). */
export function uasRelease(i: i32): void {
  if (i < 0 || i >= UAS_CALLS) return;
  linkDialog(i, -1);
  freeCall(i);
}

/**
 * A server transaction of the user agent's ended (its last timer ran): a call still waiting for its
 * answer (the owner never answered within the transaction's life) goes with it.
 */
export function uasTxnEnded(up: TxnUp): void {
  if (up.kind != ClientTimerOut.Ended || up.user == 0 || up.user > <u32>UAS_CALLS) return;
  const i = <i32>up.user - 1;
  const c = call(i);
  if (load<u8>(c) == UasState.Proceeding && load<u32>(c, 4) == up.handle) freeCall(i);
}
