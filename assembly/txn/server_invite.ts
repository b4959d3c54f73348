// Server INVITE transaction: RFC 3261 §17.2.1, Figure 7, with RFC 6026's Accepted state.
//
//                      |INVITE (create)
//                      V                      send 1xx
//                 +-----------+ <------------+
//                 |Proceeding |--------------+
//                 +-----------+
//     send 300-699 |        | send 2xx (RFC 6026)
//                  V        V
//           +-----------+  +-----------+  send 2xx: forwarded again
//   Timer G |Completed  |  | Accepted  |  INVITE: absorbed
//   resend  +-----------+  +-----------+
//     ACK   |     |Timer H       |Timer L
//           V     V              V
//    +-----------+          Terminated
//    | Confirmed |--Timer I-->
//    +-----------+
//
// Differences from the figure: none in behaviour. A request retransmission in Proceeding resends the
// latest provisional (§17.2.1). Timer G runs only on unreliable transports; Timer I is 0 on reliable.

import { TxnRec, TxnKind, TxnFlag, at, linger, rec, recPeer, txnAlloc, txnRelease, due, txnKeep, txnRearm, indexInsert, msgPool } from "./table";
import { txPush, txResend } from "./output";
import { timers } from "./timers";
import { Peer } from "../net/peer";
import { Method } from "../wire/method";

export const enum SIState { Proceeding = 1, Completed = 2, Confirmed = 3, Accepted = 4 }

function setState(r: TxnRec, s: SIState): void {
  r.state = <u8>s;
}

/** Create for a new INVITE; returns the handle, or 0 when the table is full. */
export function serverInviteCreate(key: u64, respondTo: Peer, reliable: bool, cseq: u32, now: i64 = -1, owner: u32 = 0): u32 {
  return serverCreate(key, Method.INVITE, respondTo, reliable, cseq, now, owner);
}

/**
 * Create a server transaction for a new request of `method` under match key `key`: an INVITE one for
 * INVITE, else a non-INVITE one. Returns the handle, or 0 when the table is full.
 */
export function serverCreate(key: u64, method: u32, respondTo: Peer, reliable: bool, cseq: u32, now: i64, owner: u32): u32 {
  const invite = method == Method.INVITE;
  const h = txnAlloc(invite ? TxnKind.ServerInvite : TxnKind.ServerNonInvite, method, respondTo, reliable, owner);
  if (h == 0) return 0;
  const idx = h & 0xffffff;
  const r = rec(idx);
  r.key = key;
  r.cseq = cseq;
  r.state = 1; // SIState.Proceeding, SNState.Trying
  indexInsert(key, idx);
  // Guard: a server transaction never outlives its branches' own bounds (INVITE: Timer C + 64·T1;
  // other methods: Timer F + 64·T1). Sending a final response re-arms this with the RFC timer; if
  // none is ever sent (a TU bug or a branch result that cannot be used), the record still ends
  // instead of leaking.
  if (now >= 0) r.timeoutAt = at(now + (invite ? timers.timerC + timers.t64 : timers.t64 * 2));
  txnRearm(idx);
  return h;
}

/** The TU sends a response `msg` (pool handle; the transaction takes its own reference). */
export function serverInviteRespond(idx: u32, msg: u32, status: u32, now: i64): void {
  const r = rec(idx);
  switch (r.state) {
    case SIState.Proceeding: {
      msgPool.retain(msg);
      txnKeep(r, msg);
      r.lastStatus = <u16>status;
      txPush(msg, recPeer(r));
      if (status < 200) break;
      if (status < 300) {
        // 2xx: the UAS core retransmits it end to end; we only absorb INVITE retransmissions.
        setState(r, SIState.Accepted);
        txnKeep(r, 0);
        r.timeoutAt = at(now + linger(timers.t64)); // Timer L
      } else {
        setState(r, SIState.Completed);
        if (!(r.flags & TxnFlag.Reliable)) {
          r.interval = <u32>timers.t1;
          r.retransmitAt = at(now + timers.t1); // Timer G
        }
        r.timeoutAt = at(now + timers.t64); // Timer H
      }
      txnRearm(idx);
      break;
    }
    case SIState.Accepted: {
      // more 2xx (other forks, retransmissions) pass through to the client
      if (status >= 200 && status < 300) txPush(msg, recPeer(r));
      break;
    }
    default:
      break; // absorb: a final response was already sent
  }
}

/** A retransmission of the INVITE. */
export function serverInviteOnRequest(idx: u32): void {
  const r = rec(idx);
  switch (r.state) {
    case SIState.Proceeding:
    case SIState.Completed:
      txPush(r.msg, recPeer(r)); // none kept yet: nothing
      break;
    default:
      break; // Confirmed, Accepted: absorb
  }
}

/** An ACK matching this transaction. Returns true when absorbed (a non-2xx ACK), false when the
 * proxy must route it (an ACK for a 2xx that RFC 2543 matching brought here). */
export function serverInviteOnAck(idx: u32, now: i64): bool {
  const r = rec(idx);
  switch (r.state) {
    case SIState.Completed: {
      setState(r, SIState.Confirmed);
      r.retransmitAt = 0;
      r.timeoutAt = at(now + (r.flags & TxnFlag.Reliable ? 0 : timers.t4)); // Timer I
      txnKeep(r, 0);
      txnRearm(idx);
      return true;
    }
    case SIState.Confirmed:
      return true;
    case SIState.Accepted:
      return false;
    default:
      return true; // Proceeding: an ACK before any final response is meaningless: absorb
  }
}

/** A due timer. Returns true when the transaction ended (record released). */
export function serverInviteOnTimer(idx: u32, now: i64): bool {
  const r = rec(idx);
  if (due(r.timeoutAt, now)) {
    txnRelease(idx); // Timer H (no ACK), I or L
    return true;
  }
  if (due(r.retransmitAt, now) && r.state == SIState.Completed) {
    const next = <i64>r.interval * 2;
    txResend(r, now, next < timers.t2 ? next : timers.t2); // Timer G
  }
  txnRearm(idx);
  return false;
}

/** Kind check used by the dispatcher. */
export function isServerInvite(r: TxnRec): bool {
  return r.kind == TxnKind.ServerInvite;
}
