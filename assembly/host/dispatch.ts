// The dispatcher: hands each validated input to the transaction user (TU) it belongs to. A response or a
// timer belongs to the owner its transaction record names (TxnRec.owner, tu/owner.ts); a TU timer
// (tu/timers.ts) to the owner it was set for; a new request goes to the build's request TU — the proxy,
// or the user agent where it takes requests (dispatchRequestsToUserAgent), or, in B2BUA mode, the user
// agent with the B2BUA (b2bua/call.ts) as the owner of what it reports, REGISTER excepted (our
// registrar takes it, through the proxy's registrar path). The transaction layer below knows no TU; the
// TUs know nothing of each other. The user agent's parts compile only where config.ts USER_AGENT is on.

import { MessageView } from "../wire/view";
import { Decoded } from "../wire/validate";
import { idxOf, rec, TxnUp, parseBranch, OurBranch } from "../txn";
import { Owner } from "../tu/owner";
import { USER_AGENT } from "../config";
import { tuTimerPop, tuTimerNext, tuTimersReset, TuTimerUp } from "../tu/timers";
import { uacResponse, uacTimer, uacReset } from "../dialog/uac";
import { uasRequest, uasTimer, uasTxnEnded, uasReset, UasIn } from "../dialog/uas";
import { b2buaReset, b2buaServerEvent, b2buaClientResponse, b2buaClientTimeout, b2buaDialogLost, b2buaPing } from "../b2bua/call";
import { Method } from "../wire/method";
import { uaDialogsReset } from "../dialog/ua";
import { regReset, regResponse, regTxnTimer, regTimer, regFollow } from "../registrant/registrant";
import { Req } from "../proxy/req";
import { admitSource, Admit } from "../proxy/admit";
import { proxyRequest } from "../proxy/request";
import { proxyResponse, proxyStrayResponse, proxyTimer } from "../proxy/response";
import { registrarExpired } from "../registrar";

/** The branch of the response being dispatched, decoded (read by the TU it is handed to). */
const branch = new OurBranch();
const tup = USER_AGENT ? new TuTimerUp() : changetype<TuTimerUp>(0);
const uin = USER_AGENT ? new UasIn() : changetype<UasIn>(0);
let toUserAgent = false;
let b2bua = false;

/** Hand new requests to the user agent instead of the proxy (a build with USER_AGENT). */
export function dispatchRequestsToUserAgent(on: bool): void {
  toUserAgent = USER_AGENT && on;
}

/** B2BUA mode: the user agent takes new requests (REGISTER excepted) and the B2BUA owns its calls. */
export function dispatchB2bua(on: bool): void {
  b2bua = USER_AGENT && on;
  toUserAgent = b2bua;
}

/** Forget the state of the TUs other than the proxy's (sip_init). */
export function dispatchReset(): void {
  if (!USER_AGENT) return;
  toUserAgent = false;
  b2bua = false;
  b2buaReset();
  tuTimersReset();
  uacReset();
  uasReset();
  uaDialogsReset();
  regReset();
}

/** A validated request. */
export function dispatchRequest(q: Req, now: i64): void {
  if (USER_AGENT && toUserAgent && !(b2bua && q.v.method == Method.REGISTER)) {
    q.begin(now);
    // the same access policy as the proxy's (access lists, blocking, flood protection) comes first
    if (admitSource(q) == Admit.Done) return;
    uasRequest(q.v, q.d, q.src, now, uin, b2bua);
    if (b2bua && uin.kind != 0) b2buaServerEvent(uin, q.v, q.d, q.src, now);
    return;
  }
  proxyRequest(q, now);
  // a phone's registration changed, perhaps: the pass-through accounts that follow its user follow it
  if (USER_AGENT && b2bua && q.v.method == Method.REGISTER) regFollow(q.d.to.uri.user, q.d.to.uri.userLen, now);
  dispatchExpired(now);
}

/** Bindings expired (the registrar's tick, on a timer or before a REGISTER): in B2BUA mode, each
 * pass-through account whose phone has none left is taken back at once (registrant.ts regFollow). */
export function dispatchExpired(now: i64): void {
  if (USER_AGENT && registrarExpired() && b2bua) regFollow(0, 0, now);
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
      if (USER_AGENT) {
        const user = rec(<u32>ci).user;
        const status = uacResponse(v, d, <u32>ci, now);
        if (b2bua && status != 0) b2buaClientResponse(user, status, v, now);
      }
      break;
    default:
      // the registrant's (an owner the proxy boards do not have: no record is ever made for one there)
      if (USER_AGENT && rec(<u32>ci).owner == Owner.Registrant) regResponse(v, d, <u32>ci, now);
      break;
  }
}

/** A transaction timer that fired (txnTick's report). */
export function dispatchTimer(up: TxnUp, now: i64): void {
  switch (up.owner) {
    case Owner.Proxy: proxyTimer(up, now); break;
    case Owner.UserAgent:
      if (USER_AGENT) {
        if (uacTimer(up, now) && b2bua) b2buaClientTimeout(up.user, now);
        uasTxnEnded(up);
      }
      break;
    default:
      if (USER_AGENT && up.owner == Owner.Registrant) regTxnTimer(up, now);
      break;
  }
}

/** Run the TU timers due at `now` (after the transactions'); false when none was due. */
export function dispatchTuTimer(now: i64): bool {
  if (!USER_AGENT || !tuTimerPop(now, tup)) return false;
  if (tup.owner == Owner.UserAgent) {
    const lost = uasTimer(tup.user, now);
    if (b2bua && lost >= 0) b2buaDialogLost(lost, now);
  } else if (tup.owner == Owner.Registrant) regTimer(tup.user, now);
  else if (tup.owner == Owner.Monitor && b2bua) b2buaPing(tup.user, now);
  return true;
}

/** The earliest TU deadline, or -1. */
export function dispatchNextDeadline(): i64 {
  return USER_AGENT ? tuTimerNext() : -1;
}
