// Server non-INVITE transaction: RFC 3261 §17.2.2, Figure 8.
//
//                  |Request received (create)
//                  V
//            +-----------+  request: absorbed
//            |  Trying   |-------------+ send 1xx
//            +-----------+             V
//     send 200-699 |            +-----------+ request: resend 1xx
//                  |            |Proceeding |--+ send 1xx
//                  |            +-----------+
//                  V      send 200-699 |
//            +-----------+ <-----------+
//            | Completed | request: resend final
//            +-----------+
//                  |Timer J (64·T1 unreliable, 0 reliable)
//                  V
//              Terminated
//
// Differences: none.

import { TxnRec, TxnKind, TxnFlag, at, linger, rec, recPeer, txnAlloc, txnRelease, due, txnKeep, txnRearm, indexInsert, msgPool } from "./table";
import { txPush } from "./output";
import { serverCreate } from "./server_invite";
import { timers } from "./timers";
import { Peer } from "../net/peer";

export const enum SNState { Trying = 1, Proceeding = 2, Completed = 3 }

function setState(r: TxnRec, s: SNState): void {
  r.state = <u8>s;
}

/** Create for a new non-INVITE request; returns the handle, or 0 when the table is full. */
export function serverNonInviteCreate(key: u64, method: u32, respondTo: Peer, reliable: bool, cseq: u32, now: i64 = -1, owner: u32 = 0): u32 {
  return serverCreate(key, method, respondTo, reliable, cseq, now, owner);
}

/** The TU sends a response. */
export function serverNonInviteRespond(idx: u32, msg: u32, status: u32, now: i64): void {
  const r = rec(idx);
  switch (r.state) {
    case SNState.Trying:
    case SNState.Proceeding: {
      msgPool.retain(msg);
      txnKeep(r, msg);
      r.lastStatus = <u16>status;
      txPush(msg, recPeer(r));
      if (status < 200) {
        setState(r, SNState.Proceeding);
        break;
      }
      setState(r, SNState.Completed);
      // Timer J; on a reliable transport it is 0: the record ends at the next timer pass
      r.timeoutAt = at(now + (r.flags & TxnFlag.Reliable ? 0 : linger(timers.t64)));
      txnRearm(idx);
      break;
    }
    default:
      break; // Completed: absorb further responses from the TU
  }
}

/** A retransmission of the request. */
export function serverNonInviteOnRequest(idx: u32): void {
  const r = rec(idx);
  switch (r.state) {
    case SNState.Proceeding:
    case SNState.Completed:
      txPush(r.msg, recPeer(r));
      break;
    default:
      break; // Trying: absorb (the TU has not answered yet)
  }
}

/** A due timer (Timer J). Returns true when the transaction ended. */
export function serverNonInviteOnTimer(idx: u32, now: i64): bool {
  const r = rec(idx);
  if (due(r.timeoutAt, now)) {
    txnRelease(idx);
    return true;
  }
  txnRearm(idx);
  return false;
}

export function isServerNonInvite(r: TxnRec): bool {
  return r.kind == TxnKind.ServerNonInvite;
}
