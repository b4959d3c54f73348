// Requests (RFC 3261 §16.2–§16.6, §16.10, §16.11 for ACK). In order:
//   ACK      absorbed by its INVITE server transaction (non-2xx), else routed statelessly (2xx ACK)
//   CANCEL   §16.10: 200, then the INVITE's branches are cancelled (481 when no INVITE matches)
//   retransmission of a request we hold a server transaction for: the transaction absorbs it
//   §16.3    validation: Max-Forwards 0 → 483 (OPTIONS to us answered), loop → 482, Proxy-Require → 420
//   §16.4    our Route values popped (flow tokens noted), strict-route fix-up
//   §16.5    targets: the next Route; else for our domains the registrar (REGISTER handled there,
//            OPTIONS to us answered 200, unknown user 480); else the Request-URI (or outbound proxy)
//   §16.6    forwarding, statefully, one branch per target; q-value groups in sequence (response.ts)
// Refusals before a server transaction exists are stateless: the same request always gets the same
// answer (and the same To tag), so retransmissions need no state.

import { MAX_FORK } from "../config";
import { MessageView } from "../wire/view";
import { Decoded } from "../wire/validate";
import { Hdr } from "../wire/hdr";
import { Method } from "../wire/method";
import { UriRepr, parseUri } from "../wire/uri";
import { NameAddrRepr, NameAddrKind, decodeNameAddr } from "../wire/headers/nameaddr";
import { ViaRepr, decodeVia } from "../wire/headers/via";
import { writeForward, writeResponse, dropMap } from "../wire/emit";
import { Writer } from "../wire/writer";
import { hashBytes, hashMix } from "../util/hash";
import { prngNext } from "../util/prng";
import { Peer } from "../net/peer";
import { peerFromHost } from "../net/addr";
import { transportById } from "../net/transports";
import { EventKind, eventBegin, eventText } from "../events";
import {
  TxnKind, TxnFlag, rec, recPeer, idxOf, handleOf, indexFind, serverKey, msgPool, txnRelease,
  serverInviteCreate, serverInviteOnRequest, serverInviteOnAck, serverInviteRespond, SIState,
  serverNonInviteCreate, serverNonInviteOnRequest, txSend, CIState,
} from "../txn/index";
import { handleRegister, registrarLookup, targets, TargetSet } from "../registrar/index";
import { WORK_BUF, EXTRA_BUF, EXTRA_CAP } from "./buffers";
import { proxyConfig } from "./config";
import { ctx, CtxFlag, CTX_SIZE } from "./context";
import { respondStateless, responseDest, retryAfter, isOurStatelessTag } from "./send";
import { loopHash, parseBranch, OurBranch, writeStatelessBranch } from "./branch";
import { isOurAddress, ourTransport, isForUs, destFromUri, flowToken } from "./route";
import { edits, prepareEdits, forwardBranch, wantsRecordRoute } from "./forward";
import { cancelBranches, startTargets, finishIfDone, storeTargets, release } from "./response";
import { MAX_MSG } from "../config";
import { OPTIONS_LINES, OPTIONS_LINES_LEN } from "../wire/tables";
import { Admit, admitSource, admitRequest } from "./admit";
import { dialogFind, dialogKey, dialogAnswered, dialogCallerTag, dialogClose, tagHash } from "./dialog";
import { TOPOLOGY_HIDING } from "../config";
import { parseToken, tokenRecord, tokenSide, realContact, CONTACT_BUF, CALLER, CALLEE, hidesToward, markHidden, unmarkHidden } from "./topology";
import { hideIn } from "./forward";
import { T_BRANCH, T_COMMA_SP, T_SIP20_SLASH, T_UNSUPPORTED } from "../wire/tables";

const routeNa = new NameAddrRepr();
const viaScratch = new ViaRepr();
const ob = new OurBranch();
const dest = new Peer();
const srvPeer = new Peer();
const xw = new Writer();

/** Result of §16.4 route pre-processing. */
class RouteInfo {
  /** Route values of ours popped from the top. */
  pops: i32 = 0;
  /** A connection named by a popped flow token (not the one the request came on), or 0. */
  flow: u32 = 0;
  /** Transport of the popped route that carried the flow token. */
  flowTransport: u32 = 0;
  /** Index of the first Route value not ours (the next hop), or -1. */
  next: i32 = -1;
  /** Strict-route fix-up: the Route entry that becomes the Request-URI, or -1. */
  strict: i32 = -1;
}
const ri = new RouteInfo();

function preprocessRoutes(v: MessageView, d: Decoded, src: Peer): void {
  ri.pops = 0;
  ri.flow = 0;
  ri.flowTransport = 0;
  ri.next = -1;
  ri.strict = -1;
  const first = v.first(Hdr.Route);
  // Strict-route fix-up: the Request-URI is a Record-Route value of ours (a strict router upstream
  // put it there): the last Route value is the real Request-URI.
  if (first >= 0 && isOurAddress(d.ruri) && d.ruri.lr) {
    let last = first;
    for (let i = v.next(first); i >= 0; i = v.next(i)) last = i;
    ri.strict = last;
  }
  for (let i = first; i >= 0; i = v.next(i)) {
    if (i == ri.strict) break;
    const p = v.valPtr(i);
    if (!decodeNameAddr(p, p + <usize>v.valLen(i), routeNa, NameAddrKind.Route)) { ri.next = i; return; }
    const t = ourTransport(routeNa.uri);
    if (t == null) { ri.next = i; return; }
    ri.pops++;
    // a flow token is ours only on a Record-Route of a stream transport; on a URI naming our UDP
    // transport it is somebody's user part, and UDP has no connection to name
    const ft = t.reliable ? flowToken(routeNa.uri) : 0;
    if (ft != 0 && ft != src.conn) {
      ri.flow = ft;
      ri.flowTransport = t.id;
    }
  }
}

/** The connection a popped flow token named; its address from the Request-URI (the UA's contact),
 * for a host that must reconnect when the connection is gone. */
function flowDest(u: UriRepr): void {
  dest.clear();
  if (u.hostLen != 0) peerFromHost(dest, u.host, u.hostLen, u.port > 0 ? <u32>u.port : 5060);
  dest.conn = ri.flow;
  dest.transport = <u8>ri.flowTransport;
}

/** §16.3 step 4: a Via of ours whose branch carries this request's loop hash. */
function isLoop(v: MessageView, loop: u32): bool {
  const top = v.first(Hdr.Via);
  for (let i = top; i >= 0; i = v.next(i)) {
    const p = v.valPtr(i);
    if (!decodeVia(p, p + <usize>v.valLen(i), viaScratch)) continue;
    if (!viaScratch.hasBranch || !parseBranch(viaScratch.branch, viaScratch.branchLen, ob)) continue;
    if (ob.loop == loop) return true;
  }
  return false;
}

/** 420 with Unsupported listing every Proxy-Require tag (§16.3 step 5, §8.2.2.3). */
function refuseExtensions(v: MessageView, d: Decoded, src: Peer): void {
  xw.begin(EXTRA_BUF, EXTRA_CAP);
  xw.text(T_UNSUPPORTED);
  let first = true;
  for (let i = v.first(Hdr.ProxyRequire); i >= 0; i = v.next(i)) {
    if (v.valLen(i) == 0) continue;
    if (!first) xw.text(T_COMMA_SP);
    first = false;
    xw.bytes(v.valPtr(i), v.valLen(i));
  }
  xw.crlf();
  respondStateless(v, d, true, 420, EXTRA_BUF, xw.finish(), src);
}

let refusedFull: u32 = 0;
let shed: u32 = 0;

/** New requests refused with 503 for local overload (proxyConfig.shed), since start-up. */
export function shedCount(): u32 {
  return shed;
}

/** Requests refused with 503 because a table or a pool was full, since start-up. */
export function refusedFullCount(): u32 {
  return refusedFull;
}

export function refusedFullReset(): void {
  refusedFull = 0;
  shed = 0;
}

/** 503 with Retry-After: a table or the pool is full. */
export function refuseFull(v: MessageView, d: Decoded, src: Peer, now: i64): void {
  respondStateless(v, d, true, 503, EXTRA_BUF, retryAfter(), src);
  noteFull(d, src, now);
}

function noteFull(d: Decoded, src: Peer, now: i64): void {
  refusedFull++;
  eventBegin(EventKind.TableFull, 503, now, 0, src);
  eventText(2, d.callId, d.callIdLen);
}

/** 200 to an OPTIONS for the proxy itself, with Allow and Accept (tables.ts OPTIONS_LINES). */
function answerOptions(v: MessageView, d: Decoded, src: Peer): void {
  respondStateless(v, d, true, 200, OPTIONS_LINES, OPTIONS_LINES_LEN, src);
}

/** A dialog a BYE ended: closed once the BYE has been routed (its token may still be needed). */
let closeAfter: i32 = -1;

/** Entry point for a validated request from `src`. */
export function proxyRequest(v: MessageView, d: Decoded, src: Peer, now: i64): void {
  closeAfter = -1;
  route(v, d, src, now);
  if (closeAfter >= 0) dialogClose(closeAfter);
  closeAfter = -1;
}

function route(v: MessageView, d: Decoded, src: Peer, now: i64): void {
  const m = v.method;
  if (admitSource(v, d, src, now) == Admit.Done) return; // access lists, flood protection
  if (m == Method.ACK) { handleAck(v, d, src, now); return; }
  if (m == Method.CANCEL) { handleCancel(v, d, src, now); return; }

  // A retransmission of a request we hold a server transaction for.
  const invite = m == Method.INVITE;
  const key = serverKey(v, d, m);
  const found = indexFind(key, invite ? TxnKind.ServerInvite : TxnKind.ServerNonInvite);
  if (found >= 0) {
    if (invite) serverInviteOnRequest(<u32>found);
    else serverNonInviteOnRequest(<u32>found);
    return;
  }

  // Local overload (the host's measure, proxyConfig.shed): refuse a share of new out-of-dialog work
  // with 503 + Retry-After before it costs a transaction. Retransmissions (above), ACK, CANCEL,
  // in-dialog requests, REGISTER and OPTIONS are still served: calls in progress finish.
  if (proxyConfig.shed != 0 && !d.to.hasTag && m != Method.REGISTER && m != Method.OPTIONS &&
      <u32>(prngNext() % 1000) < proxyConfig.shed) {
    shed++;
    respondStateless(v, d, true, 503, EXTRA_BUF, retryAfter(), src);
    return;
  }

  // §16.3 validation (syntax, scheme and CSeq were checked by the wire layer).
  const forUs = isForUs(d.ruri);
  if (d.maxForwards == 0) {
    if (m == Method.OPTIONS && forUs && !d.ruri.hasUser) answerOptions(v, d, src);
    else respondStateless(v, d, true, 483, 0, 0, src);
    return;
  }
  const loop = loopHash(v, d);
  if (isLoop(v, loop)) { respondStateless(v, d, true, 482, 0, 0, src); return; }
  if (v.first(Hdr.ProxyRequire) >= 0) { refuseExtensions(v, d, src); return; }
  if (admitRequest(v, d, src, now, forUs) == Admit.Done) return; // policy, authentication
  if (m == Method.BYE && d.to.hasTag) callEnded(v, d, src, now);

  // §16.4 route information pre-processing.
  preprocessRoutes(v, d, src);
  let ruri: usize = 0;
  let ruriLen: u32 = 0;
  let target: UriRepr = d.ruri;
  if (ri.strict >= 0) {
    const p = v.valPtr(ri.strict);
    if (!decodeNameAddr(p, p + <usize>v.valLen(ri.strict), routeNa, NameAddrKind.Route)) {
      respondStateless(v, d, true, 400, 0, 0, src);
      return;
    }
    ruri = routeNa.uri.start;
    ruriLen = routeNa.uri.len;
    target = routeNa.uri;
  }

  // Topology hiding: a Request-URI that is one of our dialog tokens stands for a real contact.
  if (TOPOLOGY_HIDING && ri.next < 0 && d.ruri.hasUser && isOurAddress(d.ruri) && routeToken(v, d, src, loop, now)) return;

  // §16.5 targets.
  if (ri.next >= 0) {
    // loose routing: the Request-URI stays, the request goes to the next Route
    const p = v.valPtr(ri.next);
    decodeNameAddr(p, p + <usize>v.valLen(ri.next), routeNa, NameAddrKind.Route);
    if (!destFromUri(routeNa.uri, dest)) { respondStateless(v, d, true, 503, 0, 0, src); return; }
    forwardOne(v, d, src, ruri, ruriLen, dest, loop, now);
    return;
  }
  if (ri.flow != 0) {
    // the next hop is the UA at the end of a flow we record-routed
    flowDest(d.ruri);
    forwardOne(v, d, src, ruri, ruriLen, dest, loop, now);
    return;
  }
  if (forUs && ri.strict < 0) {
    if (m == Method.REGISTER) {
      const r = handleRegister(v, d, src, now, EXTRA_BUF, EXTRA_CAP);
      respondStateless(v, d, true, r.status, EXTRA_BUF, r.extraLen, src);
      if (r.status == 503) noteFull(d, src, now); // the registrar's tables or pool are full
      return;
    }
    if (!d.ruri.hasUser) {
      // addressed to the proxy itself
      if (m == Method.OPTIONS) answerOptions(v, d, src);
      else respondStateless(v, d, true, 404, 0, 0, src);
      return;
    }
    const n = registrarLookup(d.ruri, now, targets);
    if (n == 0) { respondStateless(v, d, true, 480, 0, 0, src); return; }
    forwardToTargets(v, d, src, loop, now);
    return;
  }
  // another domain: the outbound proxy, or the Request-URI's host
  if (proxyConfig.outboundLen != 0) {
    if (!destFromUri(proxyConfig.outboundUri, dest)) { respondStateless(v, d, true, 503, 0, 0, src); return; }
  } else if (!destFromUri(target, dest)) {
    respondStateless(v, d, true, 503, 0, 0, src);
    return;
  }
  forwardOne(v, d, src, ruri, ruriLen, dest, loop, now);
}

/**
 * Create the server transaction and its response context; returns its index, or -1 after answering
 * 503 (table or pool full). INVITE gets its 100 Trying here (§16.2).
 */
function openContext(v: MessageView, d: Decoded, src: Peer, now: i64): i32 {
  const invite = v.method == Method.INVITE;
  const t = transportById(src.transport);
  const reliable = t != null && t.reliable;
  responseDest(src, d.via, srvPeer);
  const key = serverKey(v, d, v.method);
  const h = invite
    ? serverInviteCreate(key, srvPeer, reliable, d.cseq.seq, now)
    : serverNonInviteCreate(key, v.method, srvPeer, reliable, d.cseq.seq, now);
  if (h == 0) { refuseFull(v, d, src, now); return -1; }
  const idx = h & 0xffffff;
  const request = msgPool.store(v.base, v.len);
  if (request == 0) {
    txnRelease(idx);
    refuseFull(v, d, src, now);
    return -1;
  }
  release(idx); // a context left behind by a transaction that ended early
  const c = ctx(idx);
  memory.fill(changetype<usize>(c), 0, CTX_SIZE);
  c.request = request;
  c.started = now;
  c.flags = (invite ? CtxFlag.Invite : 0) | (d.to.hasTag ? CtxFlag.InDialog : 0);
  if (invite) {
    prepareEdits(v, d, src, 0, -1); // RFC 3581 on the 100's Via
    const n = writeResponse(v, 100, 0, 0, 0, 0, WORK_BUF, <u32>MAX_MSG, edits);
    const m100 = n != 0 ? msgPool.store(WORK_BUF, n) : 0;
    if (m100 != 0) {
      serverInviteRespond(idx, m100, 100, now);
      msgPool.release(m100);
    }
    if (!d.to.hasTag) {
      eventBegin(EventKind.CallAttempt, 0, now, 0, src);
      eventText(0, v.valPtr(v.first(Hdr.From)), v.valLen(v.first(Hdr.From)));
      eventText(1, v.valPtr(v.first(Hdr.To)), v.valLen(v.first(Hdr.To)));
      eventText(2, d.callId, d.callIdLen);
    }
  }
  return <i32>idx;
}

/** Forward statefully to a single destination (Route, flow, other domain). */
function forwardOne(v: MessageView, d: Decoded, src: Peer, ruri: usize, ruriLen: u32, to: Peer, loop: u32, now: i64): void {
  const idx = openContext(v, d, src, now);
  if (idx < 0) return;
  prepareEdits(v, d, src, ri.pops, ri.strict);
  const srv = handleOf(<u32>idx);
  const rr = wantsRecordRoute(v, d);
  const fail = forwardBranch(v, d, srv, src.transport, src.conn, ruri, ruriLen, 0, 0, to, loop, rr, now);
  if (fail != 0) {
    const c = ctx(<u32>idx);
    c.bestStatus = <u16>fail;
    if (fail == 503) { c.flags |= CtxFlag.NoRoom; noteFull(d, src, now); }
    finishIfDone(<u32>idx, now);
  }
}

/** Fork to the registrar's targets: q-value groups in sequence, each group in parallel. */
function forwardToTargets(v: MessageView, d: Decoded, src: Peer, loop: u32, now: i64): void {
  const idx = openContext(v, d, src, now);
  if (idx < 0) return;
  if (!storeTargets(<u32>idx, targets)) {
    const c = ctx(<u32>idx);
    c.bestStatus = 503;
    finishIfDone(<u32>idx, now);
    return;
  }
  prepareEdits(v, d, src, ri.pops, ri.strict);
  if (startTargets(<u32>idx, v, d, src.transport, src.conn, loop, now) > 0) return;
  // no branch of the first group started: a later group, or the final answer now
  const c = ctx(<u32>idx);
  if (c.flags & CtxFlag.NoRoom) noteFull(d, src, now);
  if (c.bestStatus == 0) c.bestStatus = 480; // no usable contact
  finishIfDone(<u32>idx, now);
}

const tokUri = new UriRepr();

/**
 * Route a request whose Request-URI user is one of our topology-hiding tokens to the real contact it
 * stands for. Returns false when the user is not a token of ours; answers 481 for a stale one.
 */
function routeToken(v: MessageView, d: Decoded, src: Peer, loop: u32, now: i64): bool {
  const u = d.ruri;
  if (!parseToken(u.user, u.userLen)) {
    const looks = u.userLen == 18 && load<u8>(u.user) == 0x74 && (load<u8>(u.user + 1) == 0x43 || load<u8>(u.user + 1) == 0x45);
    if (!looks) return false;
    respondStateless(v, d, true, 481, 0, 0, src); // a dialog we no longer know
    return true;
  }
  const n = realContact(tokenRecord, tokenSide);
  if (n == 0 || !parseUri(CONTACT_BUF, CONTACT_BUF + <usize>n, tokUri)) {
    respondStateless(v, d, true, 481, 0, 0, src);
    return true;
  }
  if (ri.flow != 0) {
    flowDest(tokUri);
  } else if (!destFromUri(tokUri, dest)) {
    respondStateless(v, d, true, 503, 0, 0, src);
    return true;
  }
  hideIn(tokenRecord, tokenSide == CALLER ? CALLEE : CALLER);
  if (v.method == Method.ACK) ackTo(v, d, src, CONTACT_BUF, n);
  else forwardOne(v, d, src, CONTACT_BUF, n, dest, loop, now);
  hideIn(-1, 0);
  return true;
}

/** A BYE ends a dialog we saw answered: report the call's end with its duration (usage records). */
function callEnded(v: MessageView, d: Decoded, src: Peer, now: i64): void {
  const r = dialogFind(dialogKey(d.callId, d.callIdLen, d.from.tag, d.from.tagLen, d.to.tag, d.to.tagLen));
  if (r < 0) return;
  const ms = now - dialogAnswered(r);
  eventBegin(EventKind.CallEnd, 0, now, <u32>(ms > 0 ? ms : 0), src);
  eventText(0, v.valPtr(v.first(Hdr.From)), v.valLen(v.first(Hdr.From)));
  eventText(1, v.valPtr(v.first(Hdr.To)), v.valLen(v.first(Hdr.To)));
  eventText(2, d.callId, d.callIdLen);
  const byCaller = tagHash(d.from.tag, d.from.tagLen) == dialogCallerTag(r);
  const cause = byCaller ? "bye-caller" : "bye-callee";
  const s = changetype<usize>(cause);
  for (let i = 0; i < cause.length; i++) store<u8>(CAUSE + <usize>i, <u8>load<u16>(s + (<usize>i << 1)));
  eventText(3, CAUSE, <u32>cause.length);
  closeAfter = r;
}
const CAUSE: usize = memory.data(16);

// ---- ACK -------------------------------------------------------------------------------------------

const ackW = new Writer();
const ACK_VIA: usize = memory.data(256);

function handleAck(v: MessageView, d: Decoded, src: Peer, now: i64): void {
  const found = indexFind(serverKey(v, d, Method.INVITE), TxnKind.ServerInvite);
  if (found >= 0 && serverInviteOnAck(<u32>found, now)) return; // ACK of a non-2xx: absorbed
  if (isOurStatelessTag(v, d)) return; // the ACK of our own stateless answer (503, 483, 480…): ours
  // An ACK for a 2xx is its own transaction: route it statelessly (§16.11), never answer it.
  if (d.maxForwards == 0) return;
  preprocessRoutes(v, d, src);
  if (TOPOLOGY_HIDING && ri.next < 0 && d.ruri.hasUser && isOurAddress(d.ruri) && routeToken(v, d, src, 0, now)) return;
  if (ri.next >= 0) {
    const p = v.valPtr(ri.next);
    decodeNameAddr(p, p + <usize>v.valLen(ri.next), routeNa, NameAddrKind.Route);
    if (!destFromUri(routeNa.uri, dest)) return;
  } else if (ri.flow != 0) {
    flowDest(d.ruri);
  } else if (ri.pops > 0 || !isForUs(d.ruri)) {
    if (!destFromUri(d.ruri, dest)) return;
  } else {
    return; // an ACK for our own stateless answer (404, 480...): nothing to route
  }
  ackTo(v, d, src, 0, 0);
}

/** Send the ACK in `v` to `dest` statelessly, with a Request-URI replaced when ruriLen != 0. */
function ackTo(v: MessageView, d: Decoded, src: Peer, ruri: usize, ruriLen: u32): void {
  const t = transportById(dest.transport);
  if (t == null) return;
  // deterministic branch: a retransmitted ACK must look the same
  let h = hashBytes(d.via.branch, d.via.branchLen, 0xac4);
  h = hashMix(h, hashBytes(v.base + <usize>v.uriOff, v.uriLen, 0xac4));
  ackW.begin(ACK_VIA, 256);
  ackW.text(T_SIP20_SLASH);
  ackW.lit(t.proto == 1 ? "UDP" : t.proto == 2 ? "TCP" : "TLS");
  ackW.byte(0x20);
  ackW.bytes(t.addr, t.addrLen);
  ackW.text(T_BRANCH);
  writeStatelessBranch(ackW, h);
  prepareEdits(v, d, src, ri.pops, -1);
  edits.via = ACK_VIA;
  edits.viaLen = ackW.finish();
  if (ruriLen != 0) { edits.ruri = ruri; edits.ruriLen = ruriLen; }
  const hide = TOPOLOGY_HIDING && hidesToward(dest);
  if (hide) {
    // an ACK is no target refresh: its Vias and any Contact simply go (nothing to map back)
    if (edits.drop == 0) edits.drop = dropMap(v.count);
    markHidden(v, edits.drop, true);
  }
  const n = writeForward(v, edits, WORK_BUF, <u32>MAX_MSG);
  if (hide) unmarkHidden(v, edits.drop);
  if (n != 0) txSend(WORK_BUF, n, dest);
}

// ---- CANCEL (§16.10) -------------------------------------------------------------------------------

function handleCancel(v: MessageView, d: Decoded, src: Peer, now: i64): void {
  const found = indexFind(serverKey(v, d, Method.INVITE), TxnKind.ServerInvite);
  if (found < 0) {
    respondStateless(v, d, true, 481, 0, 0, src);
    return;
  }
  respondStateless(v, d, true, 200, 0, 0, src);
  const idx = <u32>found;
  const r = rec(idx);
  if (r.state != SIState.Proceeding) return; // a final response is already on its way
  r.flags |= <u8>TxnFlag.CancelReceived;
  const c = ctx(idx);
  c.flags |= CtxFlag.Cancelled;
  cancelBranches(idx, now);
  finishIfDone(idx, now);
}


