// Client non-INVITE transaction: RFC 3261 §17.1.2, Figure 6.
//
//                    |Request sent (create); Timer E (unreliable), F
//                    V
//              +-----------+ Timer E: resend, E = min(2E, T2)
//              |  Trying   |------------------+ Timer F: timeout (TU sees 408)
//              +-----------+                  |
//           1xx |        | 200-699            |
//               V        |                    |
//        +-----------+   | Timer E: resend, E = T2
//        |Proceeding |---+ 200-699
//        +-----------+   |
//                        V
//                  +-----------+ responses absorbed
//                  | Completed |
//                  +-----------+
//                        |Timer K (T4 unreliable, 0 reliable)
//                        V
//                    Terminated
//
// Differences: none.

import { TxnRec, TxnKind, TxnFlag, at, rec, recPeer, txnAlloc, txnRelease, due, txnKeep, txnRearm, msgPool } from "./table";
import { txPush, txResend } from "./output";
import { timers } from "./timers";
import { Peer } from "../net/peer";
import { Verdict, ClientTimerOut, clientCreate } from "./client_invite";

export const enum CNState { Trying = 1, Proceeding = 2, Completed = 3 }

function setState(r: TxnRec, s: CNState): void {
  r.state = <u8>s;
}

/** Create and send `msg`; 0 when the table is full. */
export function clientNonInviteCreate(method: u32, to: Peer, reliable: bool, msg: u32, cseq: u32, nonce: u64, now: i64, owner: u32 = 0): u32 {
  return clientCreate(method, to, reliable, msg, cseq, nonce, now, owner);
}

/** A response matched to this transaction. */
export function clientNonInviteOnResponse(idx: u32, status: u32, now: i64): Verdict {
  const r = rec(idx);
  switch (r.state) {
    case CNState.Trying:
    case CNState.Proceeding: {
      r.lastStatus = <u16>status;
      if (status < 200) {
        setState(r, CNState.Proceeding);
        return Verdict.PassUp;
      }
      setState(r, CNState.Completed);
      r.retransmitAt = 0;
      txnKeep(r, 0);
      r.timeoutAt = at(now + (r.flags & TxnFlag.Reliable ? 0 : timers.t4)); // Timer K
      txnRearm(idx);
      return Verdict.PassUp;
    }
    default:
      return Verdict.Absorb; // Completed: retransmitted finals
  }
}

/** A due timer. */
export function clientNonInviteOnTimer(idx: u32, now: i64): ClientTimerOut {
  const r = rec(idx);
  if (due(r.timeoutAt, now)) {
    if (r.state != CNState.Completed) return ClientTimerOut.Timeout; // Timer F: the TU ends it
    txnRelease(idx); // Timer K
    return ClientTimerOut.Ended;
  }
  if (due(r.retransmitAt, now)) {
    const next = r.state == CNState.Trying ? <i64>r.interval * 2 : timers.t2;
    txResend(r, now, next < timers.t2 ? next : timers.t2); // Timer E
  }
  txnRearm(idx);
  return ClientTimerOut.None;
}

export function isClientNonInvite(r: TxnRec): bool {
  return r.kind == TxnKind.ClientNonInvite;
}
