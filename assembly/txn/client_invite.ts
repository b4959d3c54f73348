// Client INVITE transaction: RFC 3261 §17.1.1, Figure 5, with RFC 6026's Accepted state, plus the
// proxy's Timer C (§16.8) kept on the same record.
//
//                    |INVITE sent (create); Timer A (unreliable), B, C
//                    V
//               +-----------+ Timer A: resend INVITE, A doubles
//               |  Calling  |----------------------+ Timer B: timeout (TU sees 408)
//               +-----------+                      |
//             1xx |   \ 2xx        300-699         |
//                 V    \___________________        |
//               +-----------+  1xx: to TU   \      |
//               |Proceeding | (Timer C reset)\     |
//               +-----------+                 \    |
//        300-699 |        | 2xx                \   |
//   (TU sends ACK)V        V                    V  V
//        +-----------+ +-----------+
//        | Completed | | Accepted  | 2xx: to TU (forwarded); Timer M: end
//        +-----------+ +-----------+
//  300-699: resend ACK |Timer D: end
//
// Differences: B stops once a provisional arrives (as in the RFC); Timer C (proxy only) restarts on
// each provisional and, when it fires, is reported to the TU, which cancels the branch (§16.8).

import { TxnRec, TxnKind, TxnFlag, at, linger, rec, recPeer, txnAlloc, txnRelease, due, txnKeep, txnRearm, msgPool } from "./table";
import { txPush, txResend } from "./output";
import { timers } from "./timers";
import { Peer } from "../net/peer";
import { Method } from "../wire/method";

export const enum CIState { Calling = 1, Proceeding = 2, Completed = 3, Accepted = 4 }

/** What the TU must do with a response the transaction let through. */
export const enum Verdict { Absorb = 0, PassUp = 1, PassUpNeedAck = 2 }

function setState(r: TxnRec, s: CIState): void {
  r.state = <u8>s;
}

/** Create and send `msg` (the INVITE, pool handle; the transaction takes a reference). 0 = table full. */
export function clientInviteCreate(to: Peer, reliable: bool, msg: u32, cseq: u32, nonce: u64, now: i64, owner: u32 = 0): u32 {
  return clientCreate(Method.INVITE, to, reliable, msg, cseq, nonce, now, owner);
}

/**
 * Create and send `msg` (pool handle; the transaction takes a reference) as a client transaction of
 * `method`: an INVITE one (Timers A, B and C) for INVITE, else a non-INVITE one (Timers E and F; the
 * same first interval and timeout, no Timer C). 0 = table full.
 */
export function clientCreate(method: u32, to: Peer, reliable: bool, msg: u32, cseq: u32, nonce: u64, now: i64, owner: u32): u32 {
  const invite = method == Method.INVITE;
  const h = txnAlloc(invite ? TxnKind.ClientInvite : TxnKind.ClientNonInvite, method, to, reliable, owner);
  if (h == 0) return 0;
  const idx = h & 0xffffff;
  const r = rec(idx);
  r.key = nonce;
  r.cseq = cseq;
  msgPool.retain(msg);
  r.msg = msg;
  r.state = 1; // CIState.Calling, CNState.Trying
  txPush(msg, to);
  if (!reliable) {
    r.interval = <u32>timers.t1;
    r.retransmitAt = at(now + timers.t1); // Timer A or E
  }
  r.timeoutAt = at(now + timers.t64); // Timer B or F
  if (invite) r.timerCAt = at(now + timers.timerC); // Timer C
  txnRearm(idx);
  return h;
}

/** A response matched to this transaction. */
export function clientInviteOnResponse(idx: u32, status: u32, now: i64): Verdict {
  const r = rec(idx);
  switch (r.state) {
    case CIState.Calling:
    case CIState.Proceeding: {
      r.lastStatus = <u16>status;
      r.retransmitAt = 0; // the INVITE is not retransmitted after any response (Timer A ends)
      if (status < 200) {
        setState(r, CIState.Proceeding);
        r.flags |= <u8>TxnFlag.GotProvisional;
        r.timeoutAt = 0;
        r.timerCAt = at(now + timers.timerC);
        txnRearm(idx);
        return Verdict.PassUp;
      }
      r.timerCAt = 0;
      // the INVITE is never sent again; after a non-2xx it stays until the TU has built the ACK from
      // it (clientInviteSendAck replaces it with the ACK)
      if (status < 300) {
        txnKeep(r, 0);
        setState(r, CIState.Accepted);
        r.timeoutAt = at(now + linger(timers.t64)); // Timer M
        txnRearm(idx);
        return Verdict.PassUp;
      }
      setState(r, CIState.Completed);
      r.timeoutAt = at(now + linger(timers.timerD(r.flags & TxnFlag.Reliable ? true : false))); // Timer D
      txnRearm(idx);
      return Verdict.PassUpNeedAck;
    }
    case CIState.Completed: {
      if (status >= 300 && (r.flags & TxnFlag.AckReady)) txPush(r.msg, recPeer(r)); // resend our ACK
      return Verdict.Absorb;
    }
    case CIState.Accepted:
      return status >= 200 && status < 300 ? Verdict.PassUp : Verdict.Absorb;
    default:
      return Verdict.Absorb;
  }
}

/** The TU built the ACK for a non-2xx final: send it and keep it for retransmitted finals. */
export function clientInviteSendAck(idx: u32, ack: u32): void {
  const r = rec(idx);
  msgPool.retain(ack);
  txnKeep(r, ack);
  r.flags |= <u8>TxnFlag.AckReady;
  txPush(ack, recPeer(r));
}

/**
 * The TU sent a CANCEL for this transaction (§9.1): if no final response arrives within 64·T1, the
 * transaction ends as if it timed out.
 */
export function clientInviteCancelled(idx: u32, now: i64): void {
  const r = rec(idx);
  if (r.state != CIState.Proceeding) return; // Calling keeps its Timer B
  r.timeoutAt = at(now + timers.t64);
  txnRearm(idx);
}

/** Timer outcome for the TU. */
export const enum ClientTimerOut { None = 0, Timeout = 1, TimerC = 2, Ended = 3 }

/** A due timer. */
export function clientInviteOnTimer(idx: u32, now: i64): ClientTimerOut {
  const r = rec(idx);
  if (due(r.timerCAt, now) && (r.state == CIState.Calling || r.state == CIState.Proceeding)) {
    r.timerCAt = 0;
    txnRearm(idx);
    return ClientTimerOut.TimerC;
  }
  if (due(r.timeoutAt, now)) {
    // Timer B, or the 64·T1 after a CANCEL in Proceeding (§9.1): the TU ends it as a 408
    if (r.state == CIState.Calling || r.state == CIState.Proceeding) return ClientTimerOut.Timeout;
    txnRelease(idx); // Timer D or M
    return ClientTimerOut.Ended;
  }
  if (due(r.retransmitAt, now) && r.state == CIState.Calling) {
    txResend(r, now, <i64>r.interval * 2); // Timer A (doubling without a cap)
  }
  txnRearm(idx);
  return ClientTimerOut.None;
}

export function isClientInvite(r: TxnRec): bool {
  return r.kind == TxnKind.ClientInvite;
}
