// The user agent's client core (RFC 3261 §8.1, §13.2, §17.1): a request of ours sent through a client
// transaction the user agent owns (Owner.UserAgent; the record's `user` is the caller's handle), its
// responses handed back by host/dispatch.ts, the ACK for a non-2xx final written by the transaction's
// rules (§17.1.1.3) and the ACK for a 2xx written from the dialog (§13.2.2.4: its own request, no
// transaction). What the caller learns is kept per transaction user handle in a small result table
// (the last status, the dialog a response made), read back with uacStatus/uacDialog.
//
// Buffers (wire/buffers.ts): a request is written in the work slot and kept in the message pool for
// retransmission; a stored request is re-read in the stored-message slot to write its ACK or CANCEL.
// Nothing is allocated after start-up.

import { UA_DIALOGS, USER_AGENT } from "../config";
import { MessageView, parseMessage } from "../wire/view";
import { Decoded, validateMessage } from "../wire/validate";
import { Hdr } from "../wire/hdr";
import { Method, methodId, methodEntry } from "../wire/method";
import { Writer } from "../wire/writer";
import { writeAck, writeCancel } from "../wire/emit";
import { STORE_BUF, WORK_BUF, WORK_CAP, storedView, storedDecoded } from "../wire/buffers";
import { Peer } from "../net/peer";
import { transportById, Transport, protoParam } from "../net/transports";
import { T_TRANSPORT } from "../wire/tables";
import { prngNext } from "../util/prng";
import {
  rec, idxOf, handleOf, txnNextHandle, msgPool, txSend, clientInviteCreate, clientNonInviteCreate, clientInviteOnResponse,
  clientNonInviteOnResponse, clientInviteSendAck, clientInviteCancelled, Verdict, TxnKind, TxnUp, ClientTimerOut,
  txnRelease, writeVia, recPeer, TxnFlag,
} from "../txn";
import { Owner } from "../tu/owner";
import {
  OutRequest, uaWriteOut, uaDialogFromResponse, uaDialogConfirm, uaWriteRequest, DlgState, uaDialogState, uaDialogEnd,
  uaDialogLocalCseq, uaDialogRefreshTarget, uaDialogOfResponse, uaDialogTextPtr, uaDialogTextLen, DlgText,
  uaDialogRseq, uaDialogSetRseq, uaDialogLink, uaDialogSetLink, uaDialogFlags, DlgFlag,
} from "./ua";
import { eqBytes, parseUint } from "../wire/scan";
import { has100rel } from "./uas";
import { tableAlloc } from "../util/alloc";

/** Client requests in flight or answered whose outcome a caller may read (one per caller handle). */
export const UAC_SLOTS: i32 = UA_DIALOGS * 2;
// per slot: +0 u32 caller handle (0 = free), +4 u32 last status (0 none yet, 408 timeout), +8 i32 dialog,
// +12 u32 the client transaction's handle, +16 u32 flags (SlotFlag), +20 u32 our ACK of a late offer's
// 2xx (pool; 0 none), sent again for each retransmitted 2xx, +24 u32 that INVITE's CSeq number, +28 u32
// the first of the other forks' early dialogs whose reliable provisionals we PRACK ourselves (prackFork:
// index + 1, 0 none), each linking the next (uaDialogLink). Only the client core ends those dialogs
// (DlgFlag.Fork), so an index on the list always names one of them.
const SLOT: usize = 32;
const enum SlotFlag { CancelPending = 1, Cancelled = 2, DeferAck = 4 }
// The slots are an open-addressed table keyed by caller handle (linear probing, deletion by backward
// shift: no tombstones), at most half full: UAC_SLOTS in use of HASH_SIZE (a power of two), so a lookup
// is a probe or two instead of a scan of every slot (the B2BUA looks up several per call).
const HASH_SIZE: i32 = USER_AGENT ? <i32>(1 << (32 - clz<u32>(<u32>UAC_SLOTS * 2 - 1))) : 1;
const MASK: u32 = <u32>HASH_SIZE - 1;
const slots: usize = USER_AGENT ? tableAlloc(<usize>HASH_SIZE * SLOT) : 0;
let slotsUsed: i32 = 0;

function home(user: u32): u32 { return (user * 0x9e3779b1) >>> (32 - <u32>ctz<u32>(<u32>HASH_SIZE)) & MASK; }

const VIA: usize = USER_AGENT ? tableAlloc(256) : 0;
// (nothing of the user agent core is allocated where USER_AGENT is off: the proxy boards)
const vw = USER_AGENT ? new Writer() : changetype<Writer>(0);
const aw = USER_AGENT ? new Writer() : changetype<Writer>(0);
const cw = USER_AGENT ? new Writer() : changetype<Writer>(0);
const CONTACT: usize = USER_AGENT ? tableAlloc(160) : 0;

/** Caller `user`'s slot (made, cleared, when `make` and there is room), or 0. */
function slotOf(user: u32, make: bool): usize {
  let h = home(user);
  for (let n: u32 = 0; n <= MASK; n++) {
    const s = slots + <usize>h * SLOT;
    const u = load<u32>(s);
    if (u == user) return s;
    if (u == 0) {
      if (!make || slotsUsed >= UAC_SLOTS) return 0;
      slotsUsed++;
      store<u32>(s, user);
      store<u32>(s, 0, 4);
      store<i32>(s, -1, 8);
      store<u32>(s, 0, 12);
      store<u32>(s, 0, 16);
      store<u32>(s, 0, 20);
      store<u32>(s, 0, 24);
      store<u32>(s, 0, 28);
      return s;
    }
    h = (h + 1) & MASK;
  }
  return 0;
}

/** Empty slot s, moving back the ones after it that probed past it (so every lookup still finds them). */
function slotFree(s: usize): void {
  let i = <u32>((s - slots) / SLOT);
  let j = i;
  slotsUsed--;
  store<u32>(s, 0);
  for (let n: u32 = 0; n < MASK; n++) {
    j = (j + 1) & MASK;
    const sj = slots + <usize>j * SLOT;
    const u = load<u32>(sj);
    if (u == 0) return;
    const k = home(u);
    // j stays when its home lies cyclically in (i, j]
    const stays = i <= j ? (k > i && k <= j) : (k > i || k <= j);
    if (stays) continue;
    memory.copy(slots + <usize>i * SLOT, sj, SLOT);
    store<u32>(sj, 0);
    i = j;
  }
}

/** Forget every outcome. */
export function uacReset(): void {
  memory.fill(slots, 0, <usize>HASH_SIZE * SLOT);
  slotsUsed = 0;
}

/** Slots in use (tests). */
export function uacSlotsInUse(): i32 { return slotsUsed; }

/** The last status a response (or a timeout: 408) gave the request of caller `user`; 0 none yet, -1 unknown. */
export function uacStatus(user: u32): i32 {
  const s = slotOf(user, false);
  return s == 0 ? -1 : <i32>load<u32>(s, 4);
}

/** The dialog a response to caller `user`'s INVITE made (early or confirmed), or -1. */
export function uacDialog(user: u32): i32 {
  const s = slotOf(user, false);
  return s == 0 ? -1 : load<i32>(s, 8);
}

/** The CSeq number of caller `user`'s request while its transaction lasts, when it is an INVITE (the one
 * whose reliable provisionals a PRACK acknowledges: RFC 3262 §7.2's RAck names it), or 0. */
export function uacInviteCseq(user: u32): u32 {
  const s = callerSlot(user);
  if (s == 0) return 0;
  const ci = idxOf(load<u32>(s, 12));
  return ci >= 0 && rec(<u32>ci).kind == TxnKind.ClientInvite ? rec(<u32>ci).cseq : 0;
}

/** Caller `user`'s slot, or 0 (user 0 is no caller: the transactions of our CANCELs carry it). */
function callerSlot(user: u32): usize { return user == 0 ? 0 : slotOf(user, false); }

/** Release caller `user`'s slot (its outcome read). */
export function uacForget(user: u32): void {
  const s = slotOf(user, false);
  if (s == 0) return;
  const ack = load<u32>(s, 20);
  if (ack != 0) msgPool.release(ack);
  endForks(s);
  slotFree(s);
}

/**
 * Caller `user`'s INVITE went without an offer (a late offer, RFC 3264 §5: the 2xx will carry one, the
 * ACK the answer): the 2xx is not ACKed here but by the caller, with uacAckLate, once it has the answer
 * (a B2BUA: from the other leg's ACK).
 */
export function uacDeferAck(user: u32): void {
  const s = slotOf(user, false);
  if (s != 0) store<u32>(s, load<u32>(s, 16) | SlotFlag.DeferAck, 16);
}

/**
 * The ACK of caller `user`'s 2xx whose ACK was deferred (uacDeferAck), carrying what `pass` carries
 * across (its headers and body: the answer; null: none, when the call ends before one came), sent to
 * `dest` and kept to be sent again for each retransmission of the 2xx (§13.2.2.4). False when there is
 * nothing to ACK (no deferred 2xx, or ACKed already).
 */
export function uacAckLate(user: u32, dest: Peer, pass: MessageView | null = null, drop: usize = 0): bool {
  const s = slotOf(user, false);
  if (s == 0 || (load<u32>(s, 16) & SlotFlag.DeferAck) == 0 || load<u32>(s, 20) != 0) return false;
  const dlg = load<i32>(s, 8);
  const status = load<u32>(s, 4);
  if (dlg < 0 || status < 200 || status >= 300) return false;
  const n = sendAck(dlg, load<u32>(s, 24), dest, pass, drop);
  if (n == 0) return false;
  store<u32>(s, msgPool.store(WORK_BUF, n), 20);
  return true;
}


/**
 * Send request `out` (outside a dialog, §8.1.1; its Via is written here) to `dest` through a new client
 * transaction owned by the user agent, for caller `user` (its low 15 bits nonzero: handles with them 0 are
 * the client core's own, isStray). Returns the transaction's handle, or 0 when it cannot go (no transport for dest, no room in the
 * transaction table, the pool or the result table, or the request does not fit): nothing was sent then.
 */
export function uacSend(out: OutRequest, dest: Peer, now: i64, user: u32): u32 {
  const t = prepare(sc, dest, user);
  if (t == null) return 0;
  out.via = VIA;
  out.viaLen = sc.viaLen;
  const n = uaWriteOut(out, aw.begin(WORK_BUF, WORK_CAP));
  const m = methodId(out.method, out.methodLen);
  return start(sc, m, dest, t, n != 0 ? msgPool.store(WORK_BUF, n) : 0, out.cseq, now, user, -1);
}

/** The context of one request being sent (what uacSend and uacSendInDialog share between prepare and
 * start): its client transaction's nonce, and the length of its Via (written in VIA). */
class SendCtx {
  nonce: u32 = 0;
  viaLen: u32 = 0;
}
const sc = USER_AGENT ? new SendCtx() : changetype<SendCtx>(0);

/** The caller's slot, the next client transaction's handle and nonce, its Via: into `c`; the transport. */
function prepare(c: SendCtx, dest: Peer, user: u32): Transport | null {
  if (user == 0) return null;
  const t = transportById(dest.transport);
  if (t == null) return null;
  const handle = txnNextHandle();
  if (handle == 0 || slotOf(user, true) == 0) return null;
  c.nonce = <u32>prngNext();
  vw.begin(VIA, 256);
  writeVia(vw, t, handle, c.nonce, 0);
  c.viaLen = vw.finish();
  return t;
}

/** Start the client transaction of `c` for stored request `msg` (0: it could not be written or stored). */
function start(c: SendCtx, m: Method, dest: Peer, t: Transport, msg: u32, cseq: u32, now: i64, user: u32, dlg: i32): u32 {
  if (msg == 0) { uacForget(user); return 0; }
  const h = m == Method.INVITE
    ? clientInviteCreate(dest, t.reliable, msg, cseq, <u64>c.nonce, now, Owner.UserAgent)
    : clientNonInviteCreate(m, dest, t.reliable, msg, cseq, <u64>c.nonce, now, Owner.UserAgent);
  msgPool.release(msg);
  if (h == 0) { uacForget(user); return 0; }
  const t0 = rec(h & 0xffffff);
  t0.user = user;
  if (dlg >= 0) t0.flags |= <u8>TxnFlag.InDialog;
  const s = slotOf(user, false);
  store<u32>(s, 0, 4);
  store<i32>(s, dlg, 8);
  store<u32>(s, h, 12);
  store<u32>(s, 0, 16);
  return h;
}

/**
 * Send request `method` (BYE, INFO, UPDATE, a re-INVITE ...: not ACK or CANCEL) within dialog `dlg` to
 * `dest` (the dialog's next hop, as for uacAck) through a new client transaction the user agent owns,
 * for caller `user` (nonzero); CSeq is the dialog's local CSeq plus one (§12.2.1.1); an INVITE or UPDATE
 * carries our Contact (a target refresh). `pass`: another leg's request whose headers and body this one
 * carries (a B2BUA), or null; `drop`: the drop list of its header names not carried (wire/emit.ts), or
 * 0; [extra, extra+extraLen): whole header lines of the caller's (a PRACK's RAck). A BYE's final
 * response, whatever it is, or its timeout ends the dialog (§15.1.1). Returns the transaction's handle,
 * or 0 (nothing sent: no such dialog, no transport, no room).
 */
export function uacSendInDialog(dlg: i32, method: Method, dest: Peer, now: i64, user: u32, pass: MessageView | null = null, drop: usize = 0,
                                extra: usize = 0, extraLen: u32 = 0): u32 {
  if (method == Method.ACK || method == Method.CANCEL || method == Method.Unknown) return 0;
  if (dlg < 0 || dlg >= UA_DIALOGS || uaDialogState(dlg) == DlgState.Free) return 0; // no such dialog
  const t = prepare(sc, dest, user);
  if (t == null) return 0;
  const e = methodEntry(method);
  let cl: u32 = 0;
  if (method == Method.INVITE || method == Method.UPDATE) {
    cw.begin(CONTACT, 160);
    cw.lit("<sip:");
    cw.bytes(t.addr, t.addrLen);
    if (t.reliable) { cw.text(T_TRANSPORT); cw.text(protoParam(t.proto)); } // tcp, tls, ws, wss
    cw.byte(0x3e);
    cl = cw.finish();
  }
  const n = uaWriteRequest(dlg, e + 1, <u32>load<u8>(e), 0, VIA, sc.viaLen, CONTACT, cl, aw.begin(WORK_BUF, WORK_CAP), pass, drop, extra, extraLen);
  return start(sc, method, dest, t, n != 0 ? msgPool.store(WORK_BUF, n) : 0, uaDialogLocalCseq(dlg), now, user, dlg);
}

/**
 * Cancel caller `user`'s INVITE (§9.1): a CANCEL with the INVITE's Request-URI, Call-ID, From, To,
 * CSeq number and top Via (so its branch), through a client transaction of its own. Before any
 * provisional response it waits for one (§9.1: a CANCEL must not be sent earlier) and goes with the
 * first; after a final response there is nothing to cancel. The INVITE's transaction then ends 64·T1
 * later at the latest (Timer C's rule), answered or not. Returns false when there is nothing to cancel.
 */
export function uacCancel(user: u32, now: i64): bool {
  const s = callerSlot(user);
  if (s == 0 || load<u32>(s, 4) >= 200 || (load<u32>(s, 16) & (SlotFlag.CancelPending | SlotFlag.Cancelled)) != 0) return false;
  const ci = idxOf(load<u32>(s, 12));
  if (ci < 0 || rec(<u32>ci).kind != TxnKind.ClientInvite) return false;
  if (load<u32>(s, 4) == 0) {
    store<u32>(s, SlotFlag.CancelPending, 16);
    return true;
  }
  sendCancel(s, <u32>ci, now);
  return true;
}

function sendCancel(s: usize, ci: u32, now: i64): void {
  if (s != 0) store<u32>(s, SlotFlag.Cancelled, 16);
  const r = rec(ci);
  clientInviteCancelled(ci, now);
  const n0 = msgPool.copyOut(r.msg, STORE_BUF);
  if (parseMessage(storedView, STORE_BUF, n0, false) <= 0 || validateMessage(storedView, storedDecoded) != 0) return;
  const n = writeCancel(storedView, r.cseq, WORK_BUF, WORK_CAP);
  const m = n != 0 ? msgPool.store(WORK_BUF, n) : 0;
  if (m == 0) return; // no room: the INVITE's Timer C still ends it
  // responses to the CANCEL carry the INVITE's branch: uacResponse hands them to this one (aux)
  r.aux = clientNonInviteCreate(Method.CANCEL, recPeer(r), (r.flags & TxnFlag.Reliable) != 0, m, r.cseq, 0, now, Owner.UserAgent);
  msgPool.release(m);
}

/**
 * A response matched to the user agent's client transaction ci (host/dispatch.ts). Returns the status
 * reported to the transaction's caller (uacStatus then reads it too), or 0 when there is nothing new for
 * it: the transaction absorbed the response (a retransmission), it answers our CANCEL, or the caller
 * forgot the request.
 */
export function uacResponse(v: MessageView, d: Decoded, ci: u32, now: i64): u32 {
  const r = rec(ci);
  const status = <u32>v.status;
  const user = r.user;
  const invite = r.kind == TxnKind.ClientInvite;
  if (invite && d.cseq.methodId == Method.CANCEL) {
    // the response to our CANCEL (it carries the INVITE's branch): it ends the CANCEL's transaction
    const cc = idxOf(r.aux);
    if (cc >= 0 && rec(<u32>cc).kind == TxnKind.ClientNonInvite) clientNonInviteOnResponse(<u32>cc, status, now);
    return 0;
  }
  const verdict = invite ? clientInviteOnResponse(ci, status, now) : clientNonInviteOnResponse(ci, status, now);
  if (verdict == Verdict.Absorb) return 0;
  if (verdict == Verdict.PassUpNeedAck) {
    // §17.1.1.3: the ACK of a non-2xx final is the transaction's, built from the request it sent
    const n = msgPool.copyOut(r.msg, STORE_BUF);
    if (parseMessage(storedView, STORE_BUF, n, false) > 0 && validateMessage(storedView, storedDecoded) == 0) {
      const to = v.first(Hdr.To);
      const an = writeAck(storedView, v.valPtr(to), v.valLen(to), r.cseq, WORK_BUF, WORK_CAP);
      const am = an != 0 ? msgPool.store(WORK_BUF, an) : 0;
      if (am != 0) {
        clientInviteSendAck(ci, am);
        msgPool.release(am);
      }
    }
  }
  if (isStray(user)) {
    // the final of a request of our own: a PRACK of another fork's provisional (its dialog stays), or
    // a BYE for a stray 2xx's dialog (below; the dialog ends with it): nothing for any caller
    if (status >= 200) {
      const sd = slotOf(user, false);
      if (!isPrack(user) && sd != 0 && load<i32>(sd, 8) >= 0) uaDialogEnd(load<i32>(sd, 8));
      uacForget(user);
    }
    return 0;
  }
  const s = callerSlot(user);
  if (s == 0) {
    // the caller forgot it: nothing to report; a 2xx still makes a dialog that must be ACKed and ended
    // (not a re-INVITE's: its dialog is the caller's, which ended it or lets it be ACKed above)
    if (invite && status >= 200 && status < 300 && (r.flags & TxnFlag.InDialog) == 0) strayAnswer(v, d, r.cseq, recDest(ci), now);
    return 0;
  }
  if (load<u32>(s, 12) != handleOf(ci)) {
    // a late response to an earlier request of the same caller, whose slot a later request took (a
    // B2BUA's next relayed re-INVITE on that leg): not this one's answer. A 2xx, our ACK lost, is ACKed
    // again while its dialog lasts (§13.2.2.4); nothing is reported.
    const od = load<i32>(s, 8);
    if (invite && status >= 200 && status < 300 && od >= 0 && uaDialogState(od) == DlgState.Confirmed) uacAck(od, r.cseq, recDest(ci));
    return 0;
  }
  store<u32>(s, status, 4);
  if (invite && status < 200 && (load<u32>(s, 16) & SlotFlag.CancelPending) != 0) sendCancel(s, ci, now); // §9.1
  if (r.method == <u8>Method.BYE && status >= 200) {
    // §15.1.1: the dialog ends with the BYE's final response (a 481 or any other too)
    const bd = load<i32>(s, 8);
    if (bd >= 0) uaDialogEnd(bd);
    return status;
  }
  if (invite && status >= 300) {
    // an early dialog ends with a non-2xx final (§12.3), another fork's we PRACKed too; a confirmed one
    // (a re-INVITE's) stays
    const ed = load<i32>(s, 8);
    if (ed >= 0 && uaDialogState(ed) == DlgState.Early) {
      uaDialogEnd(ed);
      store<i32>(s, -1, 8);
    }
    endForks(s);
    return status;
  }
  if (!invite || status < 101 || status >= 300 || !d.to.hasTag) return status;
  // §13.2.2.4: a 1xx with a To tag makes an early dialog, a 2xx confirms it (the first 2xx of a fork)
  let dlg = load<i32>(s, 8);
  if (dlg >= 0 && uaDialogState(dlg) != DlgState.Free && !sameRemoteTag(dlg, d)) {
    // another fork's response (its own To tag, §12.1.2): a provisional is reported but makes no second
    // early dialog, unless it is reliable (we PRACK it ourselves: prackFork); a 2xx, while the dialog is
    // early, is the call (the early one ends; the fork's own early dialog, if we PRACKed in it, goes on);
    // after the call is confirmed, another fork's 2xx is ACKed and ended with a BYE of ours (§13.2.2.4)
    if (status < 200) return uaDialogState(dlg) == DlgState.Early && prackFork(v, d, r.cseq, s, recDest(ci), now) ? 0 : status;
    const fork = uaDialogOfResponse(d);
    const forkAnswers = fork >= 0 && forkTake(s, fork); // that fork's dialog is the call's or the stray's now
    if (uaDialogState(dlg) == DlgState.Confirmed) {
      strayAnswer(v, d, r.cseq, recDest(ci), now);
      return 0;
    }
    uaDialogEnd(dlg);
    dlg = forkAnswers ? fork : -1;
    store<i32>(s, dlg, 8);
  }
  if (dlg < 0 || uaDialogState(dlg) == DlgState.Free) {
    dlg = uaDialogFromResponse(v, d, r.cseq);
    store<i32>(s, dlg < 0 ? -1 : dlg, 8);
    if (dlg < 0) return status; // no dialog (no Contact, texts too long): the caller sees uacDialog -1
  } else if (status >= 200) {
    // a 2xx refreshes the target (§12.2.1.2): a re-INVITE's, and the initial INVITE's in its early dialog
    uaDialogRefreshTarget(dlg, v);
    uaDialogConfirm(dlg);
  }
  if (status >= 200) {
    if ((load<u32>(s, 16) & SlotFlag.DeferAck) == 0) uacAck(dlg, r.cseq, recDest(ci));
    else {
      // a late offer: the caller ACKs with the answer (uacAckLate); a 2xx retransmitted after that
      // gets the same ACK again
      store<u32>(s, status, 4);
      store<u32>(s, r.cseq, 24);
      const kept = load<u32>(s, 20);
      if (kept != 0) {
        const n = msgPool.copyOut(kept, WORK_BUF);
        if (n != 0) txSend(WORK_BUF, n, recDest(ci));
      }
    }
  }
  return status;
}

/** Whether response d's To tag is dialog dlg's remote tag (the same fork). */
function sameRemoteTag(dlg: i32, d: Decoded): bool {
  return eqBytes(d.to.tag, d.to.tagLen, uaDialogTextPtr(dlg, DlgText.RemoteTag), uaDialogTextLen(dlg, DlgText.RemoteTag));
}

// Caller handles of the client core's own: the BYEs ending stray dialogs, and the PRACKs of other forks'
// reliable provisionals (bit 15 set). Their low 15 bits are 0 (a transaction user's handles never are:
// see uacSend), a count from 1 to 65,535 above them.
let strays: u32 = 0;
function isStray(user: u32): bool { return user != 0 && (user & 0x7fff) == 0; }
function isPrack(user: u32): bool { return (user & 0x8000) != 0; }
function ownHandle(prack: bool): u32 {
  strays = strays % 0xffff + 1;
  return strays << 16 | (prack ? 0x8000 : 0);
}

/**
 * A 2xx to an INVITE of ours that no caller takes: another fork's after the call was confirmed with the
 * first, or one for a request its caller gave up (§13.2.2.4). Its dialog is made, ACKed, and ended with
 * a BYE of ours (the dialog ends with that BYE's final, or at once when there is no room to send it). A
 * retransmission of such a 2xx, while its BYE is in flight, is ACKed again.
 */
function strayAnswer(v: MessageView, d: Decoded, cseq: u32, dest: Peer, now: i64): void {
  let dlg = uaDialogOfResponse(d);
  if (dlg >= 0 && uaDialogState(dlg) != DlgState.Early) {
    uacAck(dlg, cseq, dest); // a retransmission: its BYE is in flight
    return;
  }
  // a fork's early dialog we PRACKed in goes on (its CSeq past the PRACK's), or a new one
  if (dlg >= 0) {
    uaDialogRefreshTarget(dlg, v);
    uaDialogConfirm(dlg);
  } else dlg = uaDialogFromResponse(v, d, cseq);
  if (dlg < 0) return; // no room for its dialog: the far end's 2xx goes unanswered (it gives up, §13.3.1.4)
  uacAck(dlg, cseq, dest);
  if (uacSendInDialog(dlg, Method.BYE, dest, now, ownHandle(false)) == 0) uaDialogEnd(dlg);
}

const RACK: usize = USER_AGENT ? tableAlloc(48) : 0;
const kw = USER_AGENT ? new Writer() : changetype<Writer>(0);

/**
 * RFC 3262 §4 for another fork's provisional (v, d) to our INVITE with CSeq `cseq` (slot s, which follows
 * one early dialog: the caller relays the PRACKs of that one's): when it is reliable (Require: 100rel,
 * an RSeq), we PRACK it ourselves, in that fork's own early dialog, made for it and kept on the slot's
 * list of forks, so that the fork's 2xx continues it (its CSeq past the PRACK's: forkTake), ended with
 * the INVITE otherwise (endForks). A retransmission (an RSeq not one more than the last we PRACKed) gets
 * no second PRACK. True when we took it (nothing for the caller: its early dialog is not this fork's).
 */
function prackFork(v: MessageView, d: Decoded, cseq: u32, s: usize, dest: Peer, now: i64): bool {
  if (!has100rel(v, Hdr.Require)) return false;
  const rseq = rseqOf(v);
  if (rseq == 0) return false;
  let k = uaDialogOfResponse(d);
  if (k < 0) {
    k = uaDialogFromResponse(v, d, cseq);
    if (k < 0) return false; // no room: the fork retransmits until it gives up
    uaDialogSetLink(k, load<u32>(s, 28), true);
    store<u32>(s, <u32>k + 1, 28);
  } else if ((uaDialogFlags(k) & DlgFlag.Fork) == 0) return false; // (not one of this list's)
  const last = uaDialogRseq(k);
  if (last != 0 && rseq != last + 1) return true; // §4: not the next one (a retransmission): not PRACKed
  uaDialogSetRseq(k, rseq);
  kw.begin(RACK, 48);
  kw.lit("RAck: ");
  kw.u32(rseq);
  kw.byte(0x20);
  kw.u32(cseq);
  kw.lit(" INVITE\r\n");
  uacSendInDialog(k, Method.PRACK, dest, now, ownHandle(true), null, 0, RACK, kw.finish());
  return true;
}

/** Fork dialog k off slot s's list (its 2xx came: it is the call's, or a stray to end); false when k is not on it. */
function forkTake(s: usize, k: i32): bool {
  let prev = -1;
  for (let e = load<u32>(s, 28), n = 0; e != 0 && n < UA_DIALOGS; n++) {
    const j = <i32>e - 1;
    const next = uaDialogLink(j);
    if (j == k) {
      if (prev < 0) store<u32>(s, next, 28);
      else uaDialogSetLink(prev, next, true);
      uaDialogSetLink(k, 0, false);
      return true;
    }
    prev = j;
    e = next;
  }
  return false;
}

/** The RSeq of reliable provisional v (RFC 3262 §7.1: 1 to 2**31 - 1), 0 when it has none that parses. */
function rseqOf(v: MessageView): u32 {
  const e = v.other("RSeq");
  if (e < 0) return 0;
  const x = parseUint(v.valPtr(e), v.valPtr(e) + <usize>v.valLen(e), 0x7fffffff);
  return x > 0 ? <u32>x : 0;
}

/** The early dialogs of the other forks on slot s's list (prackFork) end: the INVITE failed, or its
 * caller is done (a fork that answered was taken off it). */
function endForks(s: usize): void {
  let e = load<u32>(s, 28);
  store<u32>(s, 0, 28);
  for (let n = 0; e != 0 && n < UA_DIALOGS; n++) {
    const j = <i32>e - 1;
    e = uaDialogLink(j);
    uaDialogSetLink(j, 0, false);
    if (uaDialogState(j) == DlgState.Early) uaDialogEnd(j);
  }
}

/** Where client transaction ci sends (its peer record). */
function recDest(ci: u32): Peer {
  return changetype<Peer>(changetype<usize>(rec(ci)) + 48);
}

/**
 * The ACK for a 2xx (§13.2.2.4): a request of the dialog with the INVITE's CSeq number (Request-URI and
 * Route from the dialog, §12.2.1.1), sent on its own, without a transaction, to `dest`: the peer the
 * INVITE went to — a B2BUA leg's next hop is its side's configured peer, as SBCs send toward a trunk —
 * and again for each retransmitted 2xx (uacResponse calls this once per 2xx received).
 */
export function uacAck(dlg: i32, cseq: u32, dest: Peer): bool {
  return sendAck(dlg, cseq, dest, null, 0) != 0;
}

/** Write (in WORK_BUF) and send dialog dlg's ACK with CSeq `cseq` to `dest`, carrying what `pass` carries;
 * its length, 0 when nothing was sent. */
function sendAck(dlg: i32, cseq: u32, dest: Peer, pass: MessageView | null, drop: usize): u32 {
  const t = transportById(dest.transport);
  if (t == null) return 0;
  vw.begin(VIA, 256);
  writeVia(vw, t, 0, <u32>prngNext(), 0);
  const viaLen = vw.finish();
  const ack = methodEntry(Method.ACK);
  const n = uaWriteRequest(dlg, ack + 1, <u32>load<u8>(ack), cseq, VIA, viaLen, 0, 0, aw.begin(WORK_BUF, WORK_CAP), pass, drop);
  if (n != 0) txSend(WORK_BUF, n, dest);
  return n;
}

/**
 * A timer of the user agent's client transaction (host/dispatch.ts): a timeout is a 408 for the caller.
 * Returns true when it reported one (uacStatus reads 408).
 */
export function uacTimer(up: TxnUp, now: i64): bool {
  if (up.kind != ClientTimerOut.Timeout && up.kind != ClientTimerOut.TimerC) return false;
  const r = rec(up.idx);
  const s = callerSlot(r.user);
  if (isStray(r.user)) {
    // our BYE of a stray dialog timed out: the dialog ends with it (§15.1.1), no caller to tell (our
    // PRACK of another fork's provisional that timed out: its dialog ends with the INVITE)
    if (!isPrack(r.user) && s != 0 && load<i32>(s, 8) >= 0) uaDialogEnd(load<i32>(s, 8));
    uacForget(r.user);
    if (up.kind == ClientTimerOut.Timeout) txnRelease(up.idx);
    return false;
  }
  const report = s != 0 && load<u32>(s, 4) < 200;
  if (up.kind == ClientTimerOut.TimerC && (r.flags & TxnFlag.GotProvisional) != 0 && (s == 0 || (load<u32>(s, 16) & SlotFlag.Cancelled) == 0)) {
    // Timer C (§16.8's rule, which a B2BUA's leg follows as a proxy's branch does): the INVITE rang too
    // long; it is cancelled, so that the far end stops ringing and the transaction ends (64·T1 at most)
    sendCancel(s, up.idx, now);
  }
  if (report) {
    store<u32>(s, 408, 4);
    // §15.1.1: a BYE that times out ends its dialog; an INVITE that times out ends its early one
    const dl = load<i32>(s, 8);
    if (dl >= 0 && (r.method == <u8>Method.BYE || uaDialogState(dl) == DlgState.Early)) {
      uaDialogEnd(dl);
      store<i32>(s, -1, 8);
    }
    if (r.kind == TxnKind.ClientInvite) endForks(s);
  }
  if (up.kind == ClientTimerOut.Timeout) txnRelease(up.idx);
  return report;
}
