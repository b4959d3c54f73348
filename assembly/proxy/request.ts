// Requests (RFC 3261 §16.2–§16.6, §16.10, §16.11 for ACK). In order:
//   ACK      absorbed by its INVITE server transaction (non-2xx), else routed statelessly (2xx ACK)
//   CANCEL   §16.10: 200, then the INVITE's branches are cancelled (481 when no INVITE matches)
//   retransmission of a request we hold a server transaction for: the transaction absorbs it
//   §16.3    validation: Max-Forwards 0 → 483 (OPTIONS to us answered), loop → 482, Proxy-Require → 420
//            (except `gin`, RFC 6140: our registrar implements it)
//   §16.4    our Route values popped (a dialog MAC proves the route set ours; flow tokens are honoured
//            only on a proven Route), strict-route fix-up
//            OPTIONS to the server itself (no user part, no further hop): 200 before authentication
//   admission (admit.ts): policy, then who may go where (never relay for strangers)
//   §16.5    targets: the next Route; else for our domains the registrar (REGISTER handled there,
//            a number of an RFC 6140 block to its account's template contacts, registrar/gin.ts;
//            unknown user 480); else the Request-URI (or outbound proxy)
//   §16.6    forwarding, statefully, one branch per target; q-value groups in sequence (response.ts)
// Refusals before a server transaction exists are stateless: the same request always gets the same
// answer (and the same To tag), so retransmissions need no state. The request being processed is an
// explicit context (Req, proxy/req.ts) handed down to every step.

import { Owner } from "../tu/owner";
import { MAX_FORK } from "../config";
import { MessageView } from "../wire/view";
import { Decoded, viaScratch } from "../wire/validate";
import { Hdr } from "../wire/hdr";
import { Method } from "../wire/method";
import { UriRepr, parseUri } from "../wire/uri";
import { NameAddrRepr, NameAddrKind, decodeNameAddr } from "../wire/headers/nameaddr";
import { ViaRepr, decodeVia } from "../wire/headers/via";
import { writeForward, writeResponse, dropMap } from "../wire/emit";
import { Writer } from "../wire/writer";
import { hashBytes, hashMix } from "../util/hash";
import { prngNext } from "../util/prng";
import { Peer, Family } from "../net/peer";
import { peerFromHost } from "../net/addr";
import { Proto, transportById, defaultPortOf } from "../net/transports";
import { EventKind, eventBegin, eventText, eventTextT } from "../events";
import {
  TxnKind, TxnFlag, rec, recPeer, idxOf, handleOf, indexFind, serverKey, msgPool, txnRelease, txnKeep,
  serverCreate, serverInviteOnRequest, serverInviteOnAck, serverInviteRespond, SIState,
  serverNonInviteOnRequest, txSend, CIState,
} from "../txn/index";
import { handleRegister, registrarLookup, bindingTarget, ginLookup, targets, TargetSet } from "../registrar/index";
import { WORK_BUF, EXTRA_BUF, EXTRA_CAP, storeWork } from "./buffers";
import { proxyConfig } from "./config";
import { ctx, CtxFlag, CTX_SIZE } from "./context";
import { answer, reply, replyBusy, responseDest, isOurStatelessTag } from "./send";
import { loopHash } from "./branch";
import { parseBranch, OurBranch, writeStatelessBranch, writeViaHead } from "../txn/branch";
import { isOurAddress, ourTransport, isForUs, destFromUri, transportOpen, flowToken, regRouteToken, protoName } from "./route";
import { prepareEdits, prepareVia, forwardBranch, wantsRecordRoute, VIA_BUF } from "./forward";
import { cancelBranches, startTargets, finishIfDone, storeTargets, release, keepLess, callEvent } from "./response";
import { MAX_MSG, MEDIA_RELAY, PARK_CAP } from "../config";
import { park, parkDrop } from "./park";
import { OPTIONS_LINES, OPTIONS_LINES_LEN } from "../wire/tables";
import { Admit, admitSource, admitRequest, authFailed } from "./admit";
import { AuthVerdict } from "../auth/digest";
import { dialogFind, dialogKey, dialogAnswered, dialogCallerTag, dialogClose, tagHash } from "./dialog";
import { TOPOLOGY_HIDING, GIN_PROVIDER, LOCATION_API, HISTOGRAMS } from "../config";
import { parseToken, looksLikeToken, realContact, CONTACT_BUF, CALLER, CALLEE, hidesToward, markHidden, unmarkHidden } from "./topology";
import { Req } from "./req";
import { ctxKeepEdits } from "./context";
import { rrMacValid } from "./rrmac";
import { relayRequest } from "./media";
import { T_BRANCH, T_COMMA_SP, T_SIP20_SLASH, T_UNSUPPORTED, T_BYE_CALLER, T_BYE_CALLEE } from "../wire/tables";

const routeNa = new NameAddrRepr();
const ob = new OurBranch();
const dest = new Peer();
const srvPeer = new Peer();
/** The writer of a 420's Unsupported line and of a stateless ACK's Via: each written in one step. */
const xw = new Writer();

/**
 * §16.4 route pre-processing of request q into q.pops, q.proven, q.flow, q.next, q.strict. A Route of
 * ours is popped whether or not it proves anything (a preloaded outbound-proxy Route names us without
 * a MAC); its dialog MAC, checked against the request's Call-ID and tags, makes the request proven,
 * and only a proven Route's flow token is honoured (anyone can write "ft…" into a Route naming us).
 */
function preprocessRoutes(q: Req): void {
  const v = q.v;
  const d = q.d;
  // the route fields start as q.begin() left them: nothing popped, no next hop
  const first = v.first(Hdr.Route);
  // Strict-route fix-up: the Request-URI is a Record-Route value of ours (a strict router upstream
  // put it there): the last Route value is the real Request-URI.
  if (first >= 0 && isOurAddress(d.ruri) && d.ruri.lr) {
    let last = first;
    for (let i = v.next(first); i >= 0; i = v.next(i)) last = i;
    q.strict = last;
    q.proven = macOk(d.ruri, 0, d);
  }
  for (let i = first; i >= 0; i = v.next(i)) {
    if (i == q.strict) break;
    if (!decodeRoute(v, i)) { q.next = i; return; }
    const t = ourTransport(routeNa.uri);
    if (t == null) { q.next = i; return; }
    q.pops++;
    // a binding's route token (registrar/location.ts): another instance sends us a new request for a
    // registration we hold; honoured only when the Request-URI is that binding's contact (route())
    if (LOCATION_API && !d.to.hasTag) {
      const rb = regRouteToken(routeNa.uri);
      if (rb >= 0) q.bind = rb;
    }
    // a flow token is ours only on a Record-Route of a stream transport (on our UDP transport it is
    // somebody's user part: UDP has no connection to name), and only with this dialog's MAC over it
    const ft = t.reliable ? flowToken(routeNa.uri) : 0;
    if (!macOk(routeNa.uri, ft, d)) continue;
    q.proven = true;
    if (ft != 0 && ft != q.src.conn) {
      q.flow = ft;
      q.flowTransport = t.id;
    }
  }
}

/** Decode Route entry i of v into routeNa. */
function decodeRoute(v: MessageView, i: i32): bool {
  const p = v.valPtr(i);
  return decodeNameAddr(p, p + <usize>v.valLen(i), routeNa, NameAddrKind.Route);
}

/** Does URI u of ours carry the dialog MAC of request d's dialog for flow `ft`? */
function macOk(u: UriRepr, ft: u32, d: Decoded): bool {
  return d.to.hasTag && rrMacValid(u.dlg, u.dlgLen, ft, d.callId, d.callIdLen, d.from.tag, d.from.tagLen, d.to.tag, d.to.tagLen);
}

/** The connection a proven flow token named; its address from the Request-URI (the UA's contact),
 * for a host that must reconnect when the connection is gone: without a port, the default one of the
 * flow's transport (5061 for TLS, RFC 3263 §4.2). */
function flowDest(q: Req, u: UriRepr): void {
  dest.clear();
  const t = transportById(q.flowTransport);
  if (u.hostLen != 0) peerFromHost(dest, u.host, u.hostLen, u.port > 0 ? <u32>u.port : defaultPortOf(t != null ? t.proto : Proto.UDP));
  dest.conn = q.flow;
  dest.transport = <u8>q.flowTransport;
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

/** Whether [p, p+n) is the option tag `gin` (RFC 6140), any case. */
function isGin(p: usize, n: u32): bool {
  // "gi" as one little-endian u16, each byte folded to lower case by | 0x20
  return n == 3 && (<u32>load<u16>(p) | 0x2020) == 0x6967 && (<u32>load<u8>(p + 2) | 0x20) == 0x6e;
}

/**
 * 420 with Unsupported listing every Proxy-Require tag we do not implement (§16.3 step 5, §8.2.2.3);
 * false (nothing sent) when every tag is one we implement.
 */
function refuseExtensions(q: Req): bool {
  const v = q.v;
  xw.begin(EXTRA_BUF, EXTRA_CAP);
  let first = true;
  for (let i = v.first(Hdr.ProxyRequire); i >= 0; i = v.next(i)) {
    if (v.valLen(i) == 0 || isGin(v.valPtr(i), v.valLen(i))) continue;
    xw.text(first ? T_UNSUPPORTED : T_COMMA_SP);
    first = false;
    xw.bytes(v.valPtr(i), v.valLen(i));
  }
  if (first) return false;
  xw.crlf();
  answer(q, 420, EXTRA_BUF, xw.finish());
  return true;
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
function refuseFull(q: Req): void {
  replyBusy(q);
  noteFull(q);
}

function noteFull(q: Req): void {
  refusedFull++;
  eventBegin(EventKind.TableFull, 503, q.now, 0, q.src);
  eventText(2, q.d.callId, q.d.callIdLen);
}

/** 200 to an OPTIONS for the proxy itself, with Allow, Accept and Supported (tables.ts OPTIONS_LINES). */
function answerOptions(q: Req): void {
  answer(q, 200, OPTIONS_LINES, OPTIONS_LINES_LEN);
}

/** Entry point for the validated request in q (its view, decoded headers and source). */
export function proxyRequest(q: Req, now: i64): void {
  q.begin(now);
  route(q);
  if (q.closeAfter >= 0) dialogClose(q.closeAfter);
}

/** The dialog record of an in-dialog request's Call-ID and tags, or -1. */
function knownDialog(d: Decoded): i32 {
  return dialogFind(dialogKey(d.callId, d.callIdLen, d.from.tag, d.from.tagLen, d.to.tag, d.to.tagLen));
}

/** The live topology-hiding token the Request-URI of q names ((record << 1) | side), or -1. */
function tokenOf(q: Req): i32 {
  const u = q.d.ruri;
  if (!TOPOLOGY_HIDING || q.next >= 0 || !u.hasUser || !isOurAddress(u)) return -1;
  return parseToken(u.user, u.userLen);
}

function route(q: Req): void {
  const v = q.v;
  const d = q.d;
  const src = q.src;
  const now = q.now;
  const m = v.method;
  if (admitSource(q) == Admit.Done) return; // access lists, flood protection
  if (m == Method.ACK) { handleAck(q); return; }
  if (m == Method.CANCEL) { handleCancel(q); return; }

  // A retransmission of a request we hold a server transaction for.
  const invite = m == Method.INVITE;
  const key = serverKey(v, d, m);
  const found = indexFind(key, invite ? TxnKind.ServerInvite : TxnKind.ServerNonInvite);
  if (found >= 0) {
    const r = rec(<u32>found);
    if (invite && r.state == SIState.Proceeding && r.msg == 0) send100(q, <u32>found); // not kept
    else if (invite) serverInviteOnRequest(<u32>found);
    else serverNonInviteOnRequest(<u32>found);
    return;
  }

  // Local overload (the host's measure, proxyConfig.shed): refuse a share of new out-of-dialog work
  // with 503 + Retry-After before it costs a transaction. Retransmissions (above), ACK, CANCEL,
  // in-dialog requests, REGISTER and OPTIONS are still served: calls in progress finish.
  if (proxyConfig.shed != 0 && !d.to.hasTag && m != Method.REGISTER && m != Method.OPTIONS &&
      <u32>(prngNext() % 1000) < proxyConfig.shed) {
    shed++;
    replyBusy(q);
    return;
  }

  // §16.3 validation (syntax, scheme and CSeq were checked by the wire layer).
  const forUs = isForUs(d.ruri);
  if (d.maxForwards == 0) {
    if (m == Method.OPTIONS && forUs && !d.ruri.hasUser) answerOptions(q);
    else reply(q, 483);
    return;
  }
  const loop = loopHash(v, d);
  if (isLoop(v, loop)) { reply(q, 482); return; }
  if (refuseExtensions(q)) return;

  // §16.4 route information pre-processing.
  preprocessRoutes(q);
  const routed = q.next < 0 && q.flow == 0 && q.strict < 0;
  // a request for one of our bindings, from the instance that learned it through the shared location
  // service: it goes to that binding (its flow, its NAT address) as a request to our domain would
  const held = LOCATION_API && routed && q.bind >= 0 && m != Method.REGISTER;
  const local = (forUs || held) && routed;
  // OPTIONS to the server itself: a keepalive or health check (load balancers, trunks), answered
  // before authentication like Kamailio's default configuration does (unless optionsBeforeAuth is off:
  // then it is answered below, once admitted)
  const ping = local && forUs && !held && m == Method.OPTIONS && !d.ruri.hasUser && !d.to.hasTag;
  if (ping && proxyConfig.optionsBeforeAuth) { answerOptions(q); return; }
  const token = tokenOf(q);
  let known = false;
  if (d.to.hasTag) {
    known = q.proven || token >= 0 || (m == Method.BYE && knownDialog(d) >= 0);
  }
  if (admitRequest(q, local, known) == Admit.Done) return; // policy, who may go where, authentication
  if (m == Method.BYE && d.to.hasTag) callEnded(q);

  let ruri: usize = 0;
  let ruriLen: u32 = 0;
  let target: UriRepr = d.ruri;
  if (q.strict >= 0) {
    if (!decodeRoute(v, q.strict)) {
      reply(q, 400);
      return;
    }
    ruri = routeNa.uri.start;
    ruriLen = routeNa.uri.len;
    target = routeNa.uri;
  }

  // Topology hiding: a Request-URI that is one of our dialog tokens stands for a real contact.
  if (token >= 0) { routeToken(q, token, loop); return; }
  if (TOPOLOGY_HIDING && q.next < 0 && d.ruri.hasUser && looksLikeToken(d.ruri.user, d.ruri.userLen) && isOurAddress(d.ruri)) {
    reply(q, 481); // a dialog we no longer know
    return;
  }

  // §16.5 targets: a request for our domain with no further hop (local implies no next Route and no
  // flow) goes to the registrar's bindings; any other goes on by nextHop.
  if (local) {
    if (held) {
      if (bindingTarget(q.bind, d.ruri, now, targets) == 0) { reply(q, 480); return; }
      forwardToTargets(q, loop);
      return;
    }
    if (m == Method.REGISTER) {
      const r = handleRegister(v, d, src, now, EXTRA_BUF, EXTRA_CAP, q.replayed);
      if (r.status == 0) authFailed(q, AuthVerdict.Replay, true, true); // a replay that would change bindings
      else if (r.status == 503) refuseFull(q); // the registrar's tables or pool are full
      else answer(q, r.status, EXTRA_BUF, r.extraLen);
      return;
    }
    if (ping) { answerOptions(q); return; } // admitted (optionsBeforeAuth off)
    if (!d.ruri.hasUser) {
      // addressed to the proxy itself, not an OPTIONS
      reply(q, 404);
      return;
    }
    let n = registrarLookup(d.ruri, now, targets);
    if (GIN_PROVIDER && n == 0) n = ginLookup(d.ruri, now, targets); // a number of an RFC 6140 block
    if (n == 0) { reply(q, 480); return; }
    forwardToTargets(q, loop);
    return;
  }
  if (!nextHop(q, target)) { reply(q, 503); return; }
  forwardOne(q, ruri, ruriLen, dest, loop, hopOpen);
}

/** nextHop's URI names no transport (transportOpen): the host may choose it (boards with PARK_CAP). */
let hopOpen = false;

/**
 * `dest` for request q going on beyond us: loose routing to the next Route (the Request-URI stays);
 * else the UA at the end of a flow we record-routed; else, for another domain, the outbound proxy or
 * `target` (the Request-URI's host). False when that URI names nothing we can reach.
 */
function nextHop(q: Req, target: UriRepr): bool {
  hopOpen = false;
  let u = proxyConfig.outboundLen != 0 ? proxyConfig.outboundUri : target;
  if (q.next >= 0) {
    decodeRoute(q.v, q.next);
    u = routeNa.uri;
  } else if (q.flow != 0) {
    flowDest(q, q.d.ruri);
    return true;
  }
  if (!destFromUri(u, dest)) return false;
  hopOpen = PARK_CAP > 0 && transportOpen(u);
  return true;
}

/**
 * Create the server transaction and its response context for request q; returns its index, or -1
 * after answering 503 (table or pool full). INVITE gets its 100 Trying here (§16.2).
 */
function openContext(q: Req): i32 {
  const v = q.v;
  const d = q.d;
  const src = q.src;
  const now = q.now;
  const invite = v.method == Method.INVITE;
  // Room for what the request needs until its final response is out — its copy, a 100, a forwarded
  // copy per branch, the final response — on top of the reserve kept for stateless answers: work the
  // pool cannot finish is refused now with a 503, not accepted and left silent halfway (a final
  // response that cannot be stored is never sent).
  if (msgPool.available < msgPool.reserve + 3 * msgPool.blocksFor(v.len) + 2) {
    refuseFull(q);
    return -1;
  }
  const t = transportById(src.transport);
  const reliable = t != null && t.reliable;
  responseDest(src, d.via, srvPeer);
  const key = serverKey(v, d, v.method);
  const h = serverCreate(key, v.method, srvPeer, reliable, d.cseq.seq, now, Owner.Proxy);
  if (h == 0) { refuseFull(q); return -1; }
  const idx = h & 0xffffff;
  const request = msgPool.store(v.base, v.len);
  if (request == 0) {
    txnRelease(idx);
    refuseFull(q);
    return -1;
  }
  release(idx); // a context left behind by a transaction that ended early
  const c = ctx(idx);
  memory.fill(changetype<usize>(c), 0, CTX_SIZE);
  c.request = request;
  if (HISTOGRAMS) c.started = now; // read by the response-time histograms only
  c.flags = (invite ? CtxFlag.Invite : 0) | (d.to.hasTag ? CtxFlag.InDialog : 0);
  ctxKeepEdits(c, q);
  if (invite) {
    send100(q, idx);
    if (!d.to.hasTag) {
      callEvent(EventKind.CallAttempt, 0, v, src, now, 0);
    }
  }
  return <i32>idx;
}

/**
 * Our 100 Trying to INVITE q of server transaction idx (§16.2), sent and not kept: a retransmission of
 * the INVITE before any other provisional gets it written again from that retransmission (route), so
 * an INVITE in progress holds no pool block for it.
 */
function send100(q: Req, idx: u32): void {
  prepareVia(q.edits, q.v, q.d, q.src); // RFC 3581 on the 100's Via
  const n = writeResponse(q.v, 100, 0, 0, 0, 0, WORK_BUF, <u32>MAX_MSG, q.edits);
  const m = storeWork(n);
  if (m == 0) return;
  serverInviteRespond(idx, m, 100, q.now);
  msgPool.release(m);
  txnKeep(rec(idx), 0);
}

/**
 * Forward request q statefully to a single destination (Route, flow, other domain, token). `open`: the
 * URI it goes to named no transport (transportOpen), so to a name without a port the host chooses it
 * by RFC 3263 §4.1 first, where it answers for names (proxy/park.ts).
 */
function forwardOne(q: Req, ruri: usize, ruriLen: u32, to: Peer, loop: u32, open: bool = false): void {
  const idx = openContext(q);
  if (idx < 0) return;
  prepareEdits(q);
  if (MEDIA_RELAY && finishWith(q, idx, relayRequest(q, idx, to.family, null, false, to))) return;
  const srv = handleOf(<u32>idx);
  const rr = wantsRecordRoute(q.v, q.d);
  // RFC 3263 §4.3 failover: possible when the branch goes to a name without a port and the stored
  // request, forwarded again, makes the same branch (its Request-URI not rewritten)
  if (to.family == <u8>Family.Name && to.port == 0 && ruriLen == 0) {
    ctx(<u32>idx).flags |= CtxFlag.Failover;
    if (PARK_CAP > 0 && open && proxyConfig.nameTransport && park(<u32>idx, to)) return;
  }
  if (!finishWith(q, idx, forwardBranch(q, srv, ruri, ruriLen, 0, 0, to, loop, rr))) keepLess(<u32>idx, q.v);
}

/** Request q of context idx could not go on (`status`: a branch that did not start, 503 no room or 500
 * no transport, or the media relay's 488 / 503): the context answers it (our 503 with Retry-After).
 * False when status is 0 (it goes on). */
function finishWith(q: Req, idx: i32, status: u32): bool {
  if (status == 0) return false;
  const c = ctx(<u32>idx);
  c.bestStatus = <u16>status;
  if (status == 503) { c.flags |= CtxFlag.NoRoom; noteFull(q); }
  finishIfDone(<u32>idx, q.now);
  return true;
}

/** Fork request q to the registrar's targets: q-value groups in sequence, each group in parallel. */
function forwardToTargets(q: Req, loop: u32): void {
  const idx = openContext(q);
  if (idx < 0) return;
  if (MEDIA_RELAY) {
    const first = targets.count > 0 ? targets.source(0).family : q.src.family;
    if (finishWith(q, idx, relayRequest(q, idx, first, targets))) return;
  }
  if (!storeTargets(<u32>idx, targets)) {
    finishWith(q, idx, 503); // our own 503, with Retry-After (§21.5.4)
    return;
  }
  prepareEdits(q);
  if (startTargets(<u32>idx, q, loop) > 0) { keepLess(<u32>idx, q.v); return; }
  // no branch of the first group started: a later group, or the final answer now
  const c = ctx(<u32>idx);
  if (c.flags & CtxFlag.NoRoom) noteFull(q);
  if (c.bestStatus == 0) c.bestStatus = 480; // no usable contact
  finishIfDone(<u32>idx, q.now);
}

const tokUri = new UriRepr();

/**
 * Route request q, whose Request-URI is our live token `token` ((record << 1) | side, tokenOf), to the
 * real contact it stands for; 481 when the contact is gone.
 */
function routeToken(q: Req, token: i32, loop: u32): void {
  const v = q.v;
  const d = q.d;
  const record = token >> 1;
  const side = <u32>(token & 1);
  const n = realContact(record, side);
  if (n == 0 || !parseUri(CONTACT_BUF, CONTACT_BUF + <usize>n, tokUri)) {
    if (v.method != Method.ACK) reply(q, 481);
    return;
  }
  if (q.flow != 0) {
    flowDest(q, tokUri);
  } else if (!destFromUri(tokUri, dest)) {
    if (v.method != Method.ACK) reply(q, 503);
    return;
  }
  q.hidRecord = record;
  q.hidSender = side == CALLER ? CALLEE : CALLER;
  if (v.method == Method.ACK) ackTo(q, CONTACT_BUF, n);
  else forwardOne(q, CONTACT_BUF, n, dest, loop);
}

/** A BYE ends a dialog we saw answered: report the call's end with its duration (usage records). */
function callEnded(q: Req): void {
  const v = q.v;
  const d = q.d;
  const r = knownDialog(d);
  if (r < 0) return;
  const ms = q.now - dialogAnswered(r);
  callEvent(EventKind.CallEnd, 0, q.v, q.src, q.now, <u32>(ms > 0 ? ms : 0));
  const byCaller = tagHash(d.from.tag, d.from.tagLen) == dialogCallerTag(r);
  eventTextT(3, byCaller ? T_BYE_CALLER : T_BYE_CALLEE);
  q.closeAfter = r;
}

// ---- ACK -------------------------------------------------------------------------------------------

// forward.ts's Via buffer: a stateless ACK (ackTo) and a branch (forwardBranch) are never written at once
const ACK_VIA: usize = VIA_BUF;

/**
 * ACK: of a non-2xx final, absorbed by its INVITE server transaction; of one of our stateless answers,
 * absorbed; of a 2xx, its own transaction, routed statelessly (§16.11) — but only with the proofs of
 * any in-dialog request (a Route with this dialog's MAC, a live token, a dialog we know, or a trusted
 * source). Anything else is dropped: an ACK is never answered.
 */
function handleAck(q: Req): void {
  const v = q.v;
  const d = q.d;
  const found = indexFind(serverKey(v, d, Method.INVITE), TxnKind.ServerInvite);
  if (found >= 0 && serverInviteOnAck(<u32>found, q.now)) return; // ACK of a non-2xx: absorbed
  if (isOurStatelessTag(v, d)) return; // the ACK of our own stateless answer (503, 483, 480…): ours
  if (d.maxForwards == 0) return;
  preprocessRoutes(q);
  const token = tokenOf(q);
  if (!q.trusted && !q.proven && token < 0 && knownDialog(d) < 0) return; // proves nothing: dropped
  if (token >= 0) { routeToken(q, token, 0); return; }
  // for us with no Route of ours: an ACK for our own stateless answer (404, 480...), nothing to route
  if (q.next < 0 && q.flow == 0 && q.pops == 0 && isForUs(d.ruri)) return;
  // else on like every other request (toward another domain: the outbound proxy when there is one)
  if (nextHop(q, d.ruri)) ackTo(q, 0, 0);
}

/** Send the ACK in q to `dest` statelessly, with a Request-URI replaced when ruriLen != 0. */
function ackTo(q: Req, ruri: usize, ruriLen: u32): void {
  const v = q.v;
  const d = q.d;
  const t = transportById(dest.transport);
  if (t == null) return;
  // deterministic branch: a retransmitted ACK must look the same
  let h = hashBytes(d.via.branch, d.via.branchLen, 0xac4);
  h = hashMix(h, hashBytes(v.base + <usize>v.uriOff, v.uriLen, 0xac4));
  xw.begin(ACK_VIA, 256);
  writeViaHead(xw, t);
  writeStatelessBranch(xw, h);
  q.strict = -1;
  prepareEdits(q);
  const edits = q.edits;
  edits.via = ACK_VIA;
  edits.viaLen = xw.finish();
  if (ruriLen != 0) { edits.ruri = ruri; edits.ruriLen = ruriLen; }
  const hide = TOPOLOGY_HIDING && hidesToward(dest);
  if (hide) {
    // an ACK is no target refresh: its Vias and any Contact simply go (nothing to map back)
    if (edits.drop == 0) edits.drop = dropMap(v.count);
    markHidden(v, edits.drop, true);
  }
  if (MEDIA_RELAY) relayRequest(q, -1, dest.family, null); // an ACK's SDP (a late offer's answer); never refused
  const n = writeForward(v, edits, WORK_BUF, <u32>MAX_MSG);
  if (hide) unmarkHidden(v, edits.drop);
  if (n != 0) txSend(WORK_BUF, n, dest);
}

// ---- CANCEL (§16.10) -------------------------------------------------------------------------------

/**
 * CANCEL: hop by hop, for an INVITE server transaction of ours from the same source address (§9.1:
 * a CANCEL follows the INVITE's path; a CANCEL from elsewhere is somebody guessing a branch). 481
 * otherwise.
 */
function handleCancel(q: Req): void {
  const v = q.v;
  const d = q.d;
  const src = q.src;
  const now = q.now;
  const found = indexFind(serverKey(v, d, Method.INVITE), TxnKind.ServerInvite);
  if (found < 0 || !recPeer(rec(<u32>found)).sameAddress(src)) {
    reply(q, 481);
    return;
  }
  reply(q, 200);
  const idx = <u32>found;
  const r = rec(idx);
  if (r.state != SIState.Proceeding) return; // a final response is already on its way
  r.flags |= <u8>TxnFlag.CancelReceived;
  const c = ctx(idx);
  c.flags |= CtxFlag.Cancelled;
  parkDrop(idx); // a request still waiting for its transport never goes out
  cancelBranches(idx, now);
  finishIfDone(idx, now);
}


