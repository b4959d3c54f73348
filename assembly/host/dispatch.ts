// The dispatcher: hands each validated input to the transaction user (TU) it belongs to. A response or a
// timer belongs to the owner its transaction record names (TxnRec.owner, tu/owner.ts); a TU timer
// (tu/timers.ts) to the owner it was set for; a new request goes to the build's request TU — the proxy,
// or the user agent where it takes requests (dispatchRequestsToUserAgent; the B2BUA's sides will decide
// per request). The transaction layer below knows no TU; the TUs know nothing of each other. The user
// agent's parts compile only where config.ts USER_AGENT is on.

import { MessageView } from "../wire/view";
import { Decoded } from "../wire/validate";
import { idxOf, rec, TxnUp, parseBranch, OurBranch } from "../txn";
import { Owner } from "../tu/owner";
import { USER_AGENT } from "../config";
import { STORE_BUF, TX_CAP, WORK_BUF, WORK_CAP, storedView, storedDecoded } from "../wire/buffers";
import { tuTimerPop, tuTimerNext, tuTimersReset, TuTimerUp } from "../tu/timers";
import { uacResponse, uacTimer, uacReset } from "../dialog/uac";
import { uasRequest, uasTimer, uasTxnEnded, uasReset } from "../dialog/uas";
import { uaDialogsReset } from "../dialog/ua";
import { Req } from "../proxy/req";
import { admitSource, Admit } from "../proxy/admit";
import { proxyRequest } from "../proxy/request";
import { proxyResponse, proxyStrayResponse, proxyTimer } from "../proxy/response";

/** The branch of the response being dispatched, decoded (read by the TU it is handed to). */
const branch = new OurBranch();
const tup = USER_AGENT ? new TuTimerUp() : changetype<TuTimerUp>(0);
let toUserAgent = false;

/** Hand new requests to the user agent instead of the proxy (a build with USER_AGENT). */
export function dispatchRequestsToUserAgent(on: bool): void {
  toUserAgent = USER_AGENT && on;
}

/** Forget the state of the TUs other than the proxy's (sip_init). */
export function dispatchReset(): void {
  if (!USER_AGENT) return;
  toUserAgent = false;
  tuTimersReset();
  uacReset();
  uasReset();
  uaDialogsReset();
}

/** A validated request. */
export function dispatchRequest(q: Req, now: i64): void {
  if (USER_AGENT && toUserAgent) {
    q.begin(now);
    // the same access policy as the proxy's (access lists, blocking, flood protection) comes first
    if (admitSource(q) == Admit.Done) return;
    uasRequest(q.v, q.d, q.src, now);
    return;
  }
  proxyRequest(q, now);
}

/**
 * A validated response. Its top Via branch must be one we wrote (§18.1.2: otherwise it is not for us
 * and is dropped); when the branch names a live client transaction, its owner takes it; when not (the
 * transaction has ended), the request TU decides (the proxy forwards a late 2xx statelessly).
 */
export function dispatchResponse(v: MessageView, d: Decoded, now: i64): void {
  const via = d.via;
  if (!via.hasBranch || !parseBranch(via.branch, via.branchLen, branch)) return;
  const ci = idxOf(branch.handle);
  if (ci < 0 || rec(<u32>ci).key != <u64>branch.nonce) {
    proxyStrayResponse(v, d, branch);
    return;
  }
  switch (rec(<u32>ci).owner) {
    case Owner.Proxy: proxyResponse(v, d, <u32>ci, now); break;
    case Owner.UserAgent:
      if (USER_AGENT) uacResponse(v, d, <u32>ci, now, storedView, storedDecoded, STORE_BUF, TX_CAP, WORK_BUF, WORK_CAP);
      break;
    default: break; // an owner this build does not have: no record is ever created for one
  }
}

/** A transaction timer that fired (txnTick's report). */
export function dispatchTimer(up: TxnUp, now: i64): void {
  switch (up.owner) {
    case Owner.Proxy: proxyTimer(up, now); break;
    case Owner.UserAgent:
      if (USER_AGENT) {
        uacTimer(up);
        uasTxnEnded(up);
      }
      break;
    default: break;
  }
}

/** Run the TU timers due at `now` (after the transactions'); false when none was due. */
export function dispatchTuTimer(now: i64): bool {
  if (!USER_AGENT || !tuTimerPop(now, tup)) return false;
  if (tup.owner == Owner.UserAgent) uasTimer(tup.user, now);
  return true;
}

/** The earliest TU deadline, or -1. */
export function dispatchNextDeadline(): i64 {
  return USER_AGENT ? tuTimerNext() : -1;
}
