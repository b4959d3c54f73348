// Responses and the life of a response context (RFC 3261 §16.7, §16.8, §16.10).
//
//   1xx (not 100)   forwarded at once through the server transaction; a branch owed a CANCEL gets it
//   2xx             forwarded at once (every one of them: forks may answer twice); for INVITE the
//                   other branches are cancelled (§16.7 step 10)
//   3xx–6xx         kept if best so far (§16.7 step 6: any 6xx, else the lowest class); a 6xx cancels
//                   the other branches; when no branch is pending the next q-value group starts, or
//                   the best response goes out (503 becomes 500, a CANCEL makes it 487)
//   timeouts        a branch that times out counts as a 408 (Timer B/F); Timer C cancels a branch
//                   that had a provisional, and counts as a 408 for one that had none (§16.8)
// A response with no client transaction is forwarded statelessly when its next Via can be reached;
// one whose top Via is not ours is dropped (§18.1.2).

import { HISTOGRAMS } from "../config";
import { histObserve } from "../util/histogram";
import { Hist } from "../host/numbers";
import { Owner } from "../tu/owner";
import { MAX_MSG, MAX_TARGET_URI, MAX_TARGET_PATH } from "../config";
import { MessageView, parseMessage } from "../wire/view";
import { Decoded, validateMessage } from "../wire/validate";
import { Hdr } from "../wire/hdr";
import { Method } from "../wire/method";
import { writeResponseForward, writeAck, writeCancel, writeKept } from "../wire/emit";
import { ViaRepr, decodeVia, Transport as ViaT } from "../wire/headers/via";
import { UriRepr, parseUri } from "../wire/uri";
import { NameAddrRepr, NameAddrKind, decodeNameAddr } from "../wire/headers/nameaddr";
import { Peer, PEER_SIZE, Family } from "../net/peer";
import { Proto, transportFor, transportById } from "../net/transports";
import { EventKind, eventBegin, eventText } from "../events";
import { loopHash } from "./branch";
import {
  TxnKind, TxnFlag, TxnUp, TxnRec, rec, recPeer, idxOf, handleOf, msgPool, txnRelease, txnKeep, txSend,
  serverInviteRespond, serverNonInviteRespond, SIState, SNState,
  clientInviteOnResponse, clientInviteSendAck, clientInviteCancelled, CIState, Verdict, ClientTimerOut,
  clientNonInviteOnResponse, clientNonInviteCreate, CNState,
} from "../txn/index";
import { TargetSet } from "../registrar/index";
import { TARGET_SCRATCH } from "../registrar/lookup";
import { WORK_BUF, STORE_BUF, storedView, storedDecoded, storeWork } from "./buffers";
import { ctx, CtxFlag, rank } from "./context";
import { SRV_TARGETS } from "../host/numbers";
import { dialogOpen, dialogBind, dialogClose, dialogKey, tagHash } from "./dialog";
import { TOPOLOGY_HIDING, MEDIA_RELAY, PARK_CAP } from "../config";
import { parkTake, parkDrop } from "./park";
import { CALLEE, keepContact, tokenContact, TOKEN_BUF, tokenLen, hidesToward } from "./topology";
import { dialogPending } from "./dialog";
import { generatedResponse, viaDest, retryAfter, RETRY_BUF } from "./send";
import { OurBranch } from "../txn/branch";
import { isForbiddenDest, destFromUri, protoOf } from "./route";
import { prepareEdits, forwardBranch, wantsRecordRoute } from "./forward";
import { branchNonce } from "./rrmac";
import { Req } from "./req";
import { relayRequest, relayResponse, relayEarly, relayForkAnswer } from "./media";
import { sdpBody } from "../media/sdp";
import { ctxLoadEdits } from "./context";

/** Whether a context's dialog record (Ctx.hidden) can be set: by topology hiding or the media relay. */
const HIDES = TOPOLOGY_HIDING || MEDIA_RELAY;

const nextVia = new ViaRepr();
const fwdPeer = new Peer();
const pathNa = new NameAddrRepr();
const uriScratch = new UriRepr();
const dst = new Peer();

// ---- stored messages -------------------------------------------------------------------------------

/** Parse the pool message h into the stored view; false when it is not there or does not parse. */
function loadStored(h: u32): bool {
  if (h == 0) return false;
  const n = msgPool.copyOut(h, STORE_BUF);
  if (parseMessage(storedView, STORE_BUF, n, false) <= 0) return false;
  return validateMessage(storedView, storedDecoded) == 0;
}

/**
 * Pool handle of request `v` as writeKept makes it (with `body`), or 0 when that would not take fewer
 * blocks without a body (or finds no room: the copy kept before stays). Written in WORK_BUF.
 */
function keptCopy(v: MessageView, body: usize = 0, bodyLen: u32 = 0): u32 {
  const n = writeKept(v, WORK_BUF, <u32>MAX_MSG, body, bodyLen);
  return n != 0 && (bodyLen != 0 || msgPool.blocksFor(n) < msgPool.blocksFor(v.len)) ? msgPool.store(WORK_BUF, n) : 0;
}

/**
 * Request `v` of context idx (the one just forwarded) is kept as writeKept makes it once no other
 * branch can be forwarded from it (no later q-value group, no RFC 3263 failover): the context's own
 * responses and call events read nothing more. A request with an SDP offer then holds one pool block
 * instead of two or three for as long as its transaction lasts.
 */
export function keepLess(idx: u32, v: MessageView): void {
  const c = ctx(idx);
  if (c.request == 0 || c.targets != 0 || (c.flags & CtxFlag.Failover) != 0) return;
  const m = keptCopy(v);
  if (m == 0) return;
  msgPool.release(c.request);
  c.request = m;
}

/** A client INVITE transaction's first provisional: its request is never sent again (§17.1.1.2), only
 * its ACK and CANCEL are written from it, so it is kept as writeKept makes it; with the media relay,
 * also at each provisional with SDP, whose SDP (`body`, as the fork wrote it) it keeps as its body:
 * that fork's 2xx may carry none (its answer was in a reliable 18x), and the legs must go back to it. */
function keepBranchLess(r: TxnRec, body: usize, bodyLen: u32): void {
  if (!loadStored(r.msg)) return;
  const m = keptCopy(storedView, body, bodyLen);
  if (m != 0) txnKeep(r, m);
}

// ---- targets of later q-value groups -----------------------------------------------------------------
//
// Serialised in the message pool: per target u16 uriLen, uri, u16 pathLen, path, u16 q, Peer (32).
// Read back one target at a time into TGT (its URI, its Path, then q and the Peer): no buffer for
// the whole set.

// the registrar's target scratch (registrar/lookup.ts): storeTargets has read the set when startTargets reads back
const TGT_URI: usize = TARGET_SCRATCH;
const TGT_PATH: usize = TGT_URI + <usize>MAX_TARGET_URI;
const TGT_META: usize = TGT_PATH + <usize>MAX_TARGET_PATH;

/** Append [p, p+n) to pool string h at *off, after a u16 length when `counted`; the new offset. */
function put(h: u32, off: u32, p: usize, n: u32, counted: bool): u32 {
  if (counted) {
    store<u16>(TGT_META, <u16>n);
    msgPool.write(h, off, TGT_META, 2);
    off += 2;
  }
  msgPool.write(h, off, p, n);
  return off + n;
}

/** Keep the registrar's targets in the context of server idx. */
export function storeTargets(idx: u32, t: TargetSet): bool {
  let len: u32 = 0;
  for (let i = 0; i < t.count; i++) len += 6 + t.uriLen(i) + t.pathLen(i) + <u32>PEER_SIZE;
  const h = msgPool.alloc(len);
  if (h == 0) return false;
  let at: u32 = 0;
  for (let i = 0; i < t.count; i++) {
    at = put(h, at, t.uri(i), t.uriLen(i), true);
    at = put(h, at, t.path(i), t.pathLen(i), true);
    store<u16>(TGT_META, <u16>t.q(i));
    memory.copy(TGT_META + 2, changetype<usize>(t.source(i)), PEER_SIZE);
    at = put(h, at, TGT_META, 2 + <u32>PEER_SIZE, false);
  }
  const c = ctx(idx);
  c.targets = h;
  c.cursor = 0;
  return true;
}

/** Read a u16 length and the bytes it counts (at most cap) from pool string h at offset off into dst. */
function take(h: u32, off: u32, dst: usize, cap: u32): u32 {
  msgPool.read(h, off, TGT_META, 2);
  const n = <u32>load<u16>(TGT_META);
  if (n <= cap) msgPool.read(h, off + 2, dst, n);
  return n;
}

/**
 * Start the next q-value group of server idx's targets (all targets with the best q left), forwarding
 * request q (whose edits prepareEdits(q) made). Returns the number of branches started.
 */
export function startTargets(idx: u32, q: Req, loop: u32): i32 {
  const c = ctx(idx);
  const h = c.targets;
  if (h == 0) return 0;
  const end = msgPool.len(h);
  let at = c.cursor;
  let groupQ: i32 = -1;
  let started = 0;
  const srv = handleOf(idx);
  const rr = wantsRecordRoute(q.v, q.d);
  const uri = TGT_URI;
  const path = TGT_PATH;
  const source = changetype<Peer>(TGT_META + 2);
  while (at < end) {
    // storeTargets wrote lengths within MAX_TARGET_URI and MAX_TARGET_PATH (TargetSet's bounds)
    const ul = take(h, at, uri, <u32>MAX_TARGET_URI);
    const pl = take(h, at + 2 + ul, path, <u32>MAX_TARGET_PATH);
    msgPool.read(h, at + 4 + ul + pl, TGT_META, 2 + <u32>PEER_SIZE);
    const qv = <i32>load<u16>(TGT_META);
    if (groupQ >= 0 && qv != groupQ) break;
    groupQ = qv;
    at += 6 + ul + pl + <u32>PEER_SIZE;
    if (ul > <u32>MAX_TARGET_URI || pl > <u32>MAX_TARGET_PATH) continue; // not read (never written)
    // where the branch goes: the first Path hop, else the address the UA registered from
    // the Request-URI is the contact without URI headers (RFC 4475 regescrt keeps them in the binding)
    let ruriLen = ul;
    for (let k: u32 = 0; k < ul; k++) if (load<u8>(uri + <usize>k) == 0x3f) { ruriLen = k; break; }
    if (!parseUri(uri, uri + <usize>ruriLen, uriScratch)) continue;
    // where the branch goes: the first Path hop; else the address the UA registered from (NAT,
    // RFC 3581), over its connection when it registered on one — unless the contact asks for another
    // transport, or the connection it registered over has closed (then the contact's own address)
    let ok = true;
    if (pl != 0) {
      let e = path;
      while (e < path + <usize>pl && load<u8>(e) != 0x3e) e++; // first '>'
      ok = decodeNameAddr(path, e + 1, pathNa, NameAddrKind.Route) && destFromUri(pathNa.uri, dst);
    } else {
      const st = transportById(source.transport);
      const flowLost = st != null && st.reliable && source.conn == 0;
      if (st == null || protoOf(uriScratch) != st.proto || flowLost) ok = destFromUri(uriScratch, dst);
      else dst.copyFrom(source);
    }
    if (!ok) continue;
    const fail = forwardBranch(q, srv, uri, ruriLen, path, pl, dst, loop, rr);
    if (fail == 0) started++;
    else {
      if (fail == 503) c.flags |= CtxFlag.NoRoom;
      if (c.bestStatus == 0 || rank(fail) < rank(c.bestStatus)) c.bestStatus = <u16>fail;
    }
  }
  c.cursor = at;
  if (at >= end) {
    msgPool.release(h);
    c.targets = 0;
  }
  return started;
}

// ---- cancelling ----------------------------------------------------------------------------------------

/** Send a CANCEL for client INVITE idx (§9.1): same Request-URI, Call-ID, To, From, top Via, Route. */
function sendCancel(cidx: u32, now: i64): void {
  const r = rec(cidx);
  r.flags = (r.flags & ~(<u8>TxnFlag.CancelPending)) | <u8>TxnFlag.Cancelled;
  clientInviteCancelled(cidx, now); // §9.1: the branch ends 64·T1 after the CANCEL, answered or not
  if (!loadStored(r.msg)) return;
  const n = writeCancel(storedView, r.cseq, WORK_BUF, <u32>MAX_MSG);
  const m = storeWork(n);
  if (m == 0) return;
  const h = clientNonInviteCreate(Method.CANCEL, recPeer(r), (r.flags & TxnFlag.Reliable) != 0, m, r.cseq, 0, now, Owner.Proxy);
  msgPool.release(m);
  r.aux = h; // responses to the CANCEL carry the INVITE's branch: they are routed through here
}

/** Cancel every pending INVITE branch of server idx (§16.10, §16.7 step 10). */
export function cancelBranches(idx: u32, now: i64): void {
  const c = ctx(idx);
  if (c.targets != 0) { msgPool.release(c.targets); c.targets = 0; } // no further groups
  let h = rec(idx).user;
  let guard = 0;
  while (h != 0 && guard++ < 64) {
    const ci = idxOf(h);
    if (ci < 0) break;
    const r = rec(<u32>ci);
    h = r.sibling;
    if (r.kind != TxnKind.ClientInvite) continue;
    if (r.state != CIState.Calling && r.state != CIState.Proceeding) continue;
    if (r.flags & (TxnFlag.Cancelled | TxnFlag.CancelPending)) continue;
    if (r.flags & TxnFlag.GotProvisional) sendCancel(<u32>ci, now);
    else r.flags |= <u8>TxnFlag.CancelPending; // §9.1: wait for a provisional
  }
}

// ---- finishing a context -------------------------------------------------------------------------------

/** Release what the context of slot idx needed to decide its final response. */
function releaseWork(idx: u32): void {
  const c = ctx(idx);
  msgPool.release(c.best);
  msgPool.release(c.request);
  msgPool.release(c.targets);
  c.best = 0;
  c.request = 0;
  c.targets = 0;
  // only topology hiding and the media relay ever set c.hidden: without them it stays 0, nothing to release
  if (!HIDES) return;
  if (c.hidden != 0 && (c.flags & CtxFlag.Answered) == 0) dialogClose(<i32>c.hidden - 1); // never set up
  c.hidden = 0;
}

/** Release everything the context of slot idx holds (its transaction ended; safe when empty). */
export function release(idx: u32): void {
  parkDrop(idx);
  releaseWork(idx);
  if (!TOPOLOGY_HIDING) return; // nothing else sets c.vias (forward.ts hideRequest)
  const c = ctx(idx);
  msgPool.release(c.vias);
  c.vias = 0;
}

function serverRespond(idx: u32, msg: u32, status: u32, now: i64): void {
  const r = rec(idx);
  const invite = r.kind == TxnKind.ServerInvite;
  if (invite) serverInviteRespond(idx, msg, status, now);
  else serverNonInviteRespond(idx, msg, status, now);
  // the response time (util/histogram.ts): the first response upstream, for INVITE any but 100 (ours
  // goes out at once, not through here), for other methods the final one
  if (!HISTOGRAMS) return;
  const c = ctx(idx);
  if ((c.flags & CtxFlag.Timed) != 0 || (!invite && status < 200)) return;
  c.flags |= CtxFlag.Timed;
  histObserve(invite ? Hist.Invite : Hist.Other, now - c.started);
}

/** Call event from a view holding From, To and Call-ID (each at most once: wire/hdr.ts SINGLE). */
export function callEvent(kind: EventKind, code: i32, v: MessageView, peer: Peer, now: i64, value: u32): void {
  eventBegin(kind, code, now, value, peer);
  const f = v.first(Hdr.From);
  const t = v.first(Hdr.To);
  const i = v.first(Hdr.CallId);
  if (f >= 0) eventText(0, v.valPtr(f), v.valLen(f));
  if (t >= 0) eventText(1, v.valPtr(t), v.valLen(t));
  if (i >= 0) eventText(2, v.valPtr(i), v.valLen(i));
}

/** The stored request a later q-value group is forwarded from (its own context, never the one of
 * the request being received). */
const storedReq = new Req(storedView, storedDecoded, new Peer());

/** The loop hash of the request reload() put in storedReq: every branch of one request carries the same. */
let storedLoop: u32 = 0;

/**
 * The request of server idx, for another branch: its stored copy parsed into storedReq, from the
 * transaction's peer, dropping what the first branch's edits dropped (our Routes, our credentials),
 * and its loop hash in storedLoop. False when the copy is gone or no longer parses.
 */
function reload(idx: u32, now: i64): bool {
  const c = ctx(idx);
  if (!loadStored(c.request)) return false;
  const q = storedReq;
  q.begin(now);
  q.src.copyFrom(recPeer(rec(idx)));
  ctxLoadEdits(c, q);
  prepareEdits(q);
  storedLoop = loopHash(storedView, storedDecoded);
  return true;
}

/**
 * When no branch of server idx is pending: start the next q-value group, or send the best final
 * response (§16.7 step 6) and release the context.
 */
export function finishIfDone(idx: u32, now: i64): void {
  const c = ctx(idx);
  if (c.active > 0) return;
  if (c.flags & CtxFlag.Answered) { releaseWork(idx); return; }
  if (c.flags & CtxFlag.Finalised) return;
  if (!(c.flags & CtxFlag.Cancelled) && c.targets != 0 && reload(idx, now)) {
    // serial forking: the next q-value group, from the stored request
    const q = storedReq;
    if ((!MEDIA_RELAY || relayRequest(q, <i32>idx, q.src.family, null, true) == 0) && startTargets(idx, q, storedLoop) > 0) return;
  }
  c.flags |= CtxFlag.Finalised;
  let status = <u32>c.bestStatus;
  let msg = c.best;
  if (c.flags & CtxFlag.Cancelled && (msg == 0 || status < 300)) { status = 487; msg = 0; }
  if (status == 0) status = 408;
  // §16.7 step 6: a 503 from downstream never goes upstream; one for our own full table does, with
  // Retry-After (§21.5.4)
  const ours = status == 503 && (c.flags & CtxFlag.NoRoom) != 0;
  if (status == 503) { if (!ours) status = 500; msg = 0; }
  let out = msg;
  if (msg == 0 && loadStored(c.request)) out = generatedResponse(storedView, status, ours ? RETRY_BUF : 0, ours ? retryAfter() : 0);
  if (out != 0) {
    serverRespond(idx, out, status, now);
    if (out != msg) msgPool.release(out);
  }
  if ((c.flags & CtxFlag.Invite) && loadStored(c.request)) callEvent(EventKind.CallFail, <i32>status, storedView, recPeer(rec(idx)), now, 0);
  releaseWork(idx);
}

const failPeer = new Peer();

/**
 * RFC 3263 §4.3: a branch to a name without a port (peer `to`, its SRV target index k in the low byte
 * of `reserved`, docs/ABI.md) timed out (408) or got a 503: the request goes on to target k+1 of the
 * same order (the host keeps the seed), from the stored request as serial forking does, unless the
 * caller cancelled, a branch answered, or the last of SRV_TARGETS was tried (past the host's last
 * target it drops the message, and that branch times out). True when the new branch started.
 */
function failover(idx: u32, to: Peer, status: u32, now: i64): bool {
  if (status != 408 && status != 503) return false;
  const c = ctx(idx);
  if ((c.flags & CtxFlag.Failover) == 0 || (c.flags & (CtxFlag.Cancelled | CtxFlag.Answered | CtxFlag.Finalised)) != 0) return false;
  if (to.family != <u8>Family.Name || to.port != 0 || (to.reserved & 0xff) + 1 >= SRV_TARGETS) return false;
  dst.copyFrom(to);
  dst.reserved = to.reserved + 1;
  return forwardStored(idx, dst, now) == 0;
}

/**
 * A branch of server idx to `to` (a name without a port: its failover branch, or its first branch once
 * the host chose its transport), forwarded from the stored request as serial forking does. 0 when it
 * started, else the status that stands for its failure (forwardBranch's, the media relay's, 500 for a
 * stored request that no longer parses).
 */
function forwardStored(idx: u32, to: Peer, now: i64): u32 {
  if (!reload(idx, now)) return 500;
  const q = storedReq;
  const loop = storedLoop; // the same as the first branch's: the same seed
  if (MEDIA_RELAY) {
    const s = relayRequest(q, <i32>idx, to.family, null, true);
    if (s != 0) return s;
  }
  return forwardBranch(q, handleOf(idx), 0, 0, 0, 0, to, loop, wantsRecordRoute(q.v, q.d));
}

/**
 * The host's answer for the request of server handle h held for its transport (proxy/park.ts): `proto`
 * (abi.json protos) is the one RFC 3263 §4.1 chose among the transports we listen on, 0 none (DNS named
 * none, or no transport of ours has it: the URI's default stays, UDP). Its branch goes out now; one that
 * cannot start answers the request as forwardOne's would (503 no room, 500 no transport). An answer for
 * a request cancelled or ended meanwhile, or given twice, changes nothing.
 */
export function proxyResolved(h: u32, proto: u32, now: i64): void {
  if (PARK_CAP == 0) return;
  const r = parkTake(h, dst);
  if (r < 0) return;
  const idx = <u32>r;
  if (proto != 0) {
    const t = transportFor(<Proto>proto, Family.Name);
    if (t != null) dst.transport = <u8>t.id;
  }
  const status = forwardStored(idx, dst, now);
  if (status == 0) return;
  const c = ctx(idx);
  c.bestStatus = <u16>status;
  if (status == 503) c.flags |= CtxFlag.NoRoom;
  finishIfDone(idx, now);
}

/** A final non-2xx (or a timeout as 408, msg = 0) on a branch of server idx. */
function branchFailed(idx: u32, status: u32, msg: u32, now: i64): void {
  const c = ctx(idx);
  if (c.active > 0) c.active--;
  if (status >= 600) {
    cancelBranches(idx, now);
  }
  if (c.bestStatus == 0 || rank(status) < rank(<u32>c.bestStatus)) {
    msgPool.release(c.best);
    c.best = msg;
    if (msg != 0) msgPool.retain(msg);
    c.bestStatus = <u16>status;
  }
  if (status >= 600 && c.active > 0) return;
  finishIfDone(idx, now);
}

// ---- responses ---------------------------------------------------------------------------------------

/** Topology hiding of a response about to be forwarded: set by hideResponse for the writer. A board
 * built without topology hiding never writes it (8 bytes, not 4 KB). */
const VIAB: usize = memory.data(TOPOLOGY_HIDING ? 4096 : 8);
let hidVias: u32 = 0;
let hidContact: usize = 0;
let hidContactLen: u32 = 0;

/**
 * Topology hiding of a response on its way to the caller (the server transaction's peer), when that
 * peer is not trusted: the request's own Vias go back in place of the received ones when the request
 * was hidden downstream, and the callee's Contact of a 1xx/2xx to an INVITE becomes our token (its real
 * value kept by the dialog record, created here when the request itself was not hidden).
 */
function hideResponse(v: MessageView, d: Decoded, idx: u32, status: u32, now: i64): void {
  hidVias = 0;
  hidContact = 0;
  hidContactLen = 0;
  if (!TOPOLOGY_HIDING) return;
  const c = ctx(idx);
  const caller = recPeer(rec(idx));
  if ((c.flags & CtxFlag.Hidden) != 0 && c.vias != 0 && msgPool.len(c.vias) <= 4096) {
    hidVias = msgPool.copyOut(c.vias, VIAB);
  }
  if (!hidesToward(caller)) return;
  if (d.cseq.methodId != Method.INVITE || status <= 100 || status >= 300 || v.first(Hdr.Contact) < 0) return;
  if ((c.flags & CtxFlag.InDialog) != 0 && c.hidden == 0) return; // a re-INVITE outside hiding
  if (c.hidden == 0) c.hidden = <u32>dialogPending(now) + 1;
  const r = <i32>c.hidden - 1;
  const t = transportById(caller.transport);
  if (t == null || !keepContact(v, r, CALLEE)) return;
  tokenContact(t, r, CALLEE);
  hidContact = TOKEN_BUF;
  hidContactLen = tokenLen;
}

/** Forward a response with no transaction: pop our Via, send by the next one (§16.7, §18.2.2). */
function forwardStateless(v: MessageView, d: Decoded): void {
  const top = v.first(Hdr.Via);
  const second = v.next(top);
  // a response is only ever forwarded when its top Via is ours (sent-by names one of our transports)
  if (second < 0) return;
  const p = v.valPtr(second);
  if (!decodeVia(p, p + <usize>v.valLen(second), nextVia)) return;
  if (!viaDest(nextVia, fwdPeer) || isForbiddenDest(fwdPeer)) return; // RFC 4475 bcast: dropped
  const proto = nextVia.transportKind == ViaT.TCP ? Proto.TCP : nextVia.transportKind == ViaT.TLS ? Proto.TLS : Proto.UDP;
  const t = transportFor(proto, <Family>fwdPeer.family);
  if (t == null) return;
  fwdPeer.transport = <u8>t.id;
  if (MEDIA_RELAY && v.altBody == 0) relayResponse(v, d, -1, fwdPeer.family); // a 2xx retransmitted after its transaction
  const n = writeResponseForward(v, WORK_BUF, <u32>MAX_MSG);
  if (n != 0) txSend(WORK_BUF, n, fwdPeer);
}

/**
 * A response whose branch is one of ours but names no live client transaction (host/dispatch.ts): a
 * 2xx to an INVITE goes on statelessly (a UAS retransmits it until the ACK) — if the branch is really
 * one we wrote; a forged one would steer us to any address, or to a name to resolve, given in its next
 * Via.
 */
export function proxyStrayResponse(v: MessageView, d: Decoded, ob: OurBranch): void {
  const status = <u32>v.status;
  if (status >= 200 && status < 300 && d.cseq.methodId == Method.INVITE && ob.nonce == branchNonce(ob.handle, ob.loop)) {
    forwardStateless(v, d);
  }
}

/** A validated response for the proxy's client transaction at index ci (host/dispatch.ts matched it). */
export function proxyResponse(v: MessageView, d: Decoded, ci: u32, now: i64): void {
  const status = <u32>v.status;
  let r = rec(<u32>ci);
  if (d.cseq.methodId == Method.CANCEL && r.kind == TxnKind.ClientInvite) {
    // the response to our CANCEL: it ends the CANCEL transaction, nothing goes upstream
    const cc = idxOf(r.aux);
    if (cc >= 0) clientNonInviteOnResponse(<u32>cc, status, now);
    return;
  }
  const invite = r.kind == TxnKind.ClientInvite;
  // a branch ends (for the context's count) when its transaction takes its first final response
  const wasPending = invite
    ? r.state == CIState.Calling || r.state == CIState.Proceeding
    : r.state == CNState.Trying || r.state == CNState.Proceeding;
  const calling = invite && r.state == CIState.Calling;
  const early = MEDIA_RELAY && invite && status < 300 && relayEarly(idxOf(r.user));
  // a relayed fork's 2xx without SDP: the legs go back to its early SDP, kept with its branch, before
  // its transaction lets that go
  if (early && status >= 200 && !sdpBody(v) && loadStored(r.msg)) relayForkAnswer(idxOf(r.user), storedView, d);
  const verdict = invite ? clientInviteOnResponse(<u32>ci, status, now) : clientNonInviteOnResponse(<u32>ci, status, now);
  const sdp = early && status < 200 && sdpBody(v);
  if (status < 200 && (calling || sdp)) keepBranchLess(r, sdp ? v.base + <usize>v.bodyOff : 0, sdp ? v.bodyLen : 0);
  if (verdict == Verdict.Absorb) return;
  if (verdict == Verdict.PassUpNeedAck) {
    // the client INVITE transaction ACKs a non-2xx final itself (§17.1.1.3)
    const to = v.first(Hdr.To);
    if (loadStored(r.msg)) {
      const n = writeAck(storedView, v.valPtr(to), v.valLen(to), r.cseq, WORK_BUF, <u32>MAX_MSG);
      const m = storeWork(n);
      if (m != 0) {
        clientInviteSendAck(<u32>ci, m);
        msgPool.release(m);
      }
    }
  }
  const si = idxOf(r.user);
  if (si < 0) {
    if (status >= 200 && status < 300) forwardStateless(v, d); // the server side is gone
    return;
  }
  const idx = <u32>si;
  const c = ctx(idx);
  if (status < 200) {
    if (r.flags & TxnFlag.CancelPending) sendCancel(<u32>ci, now);
    if (status == 100) return; // §16.7 step 5: 100 is not forwarded
    // nothing after the final, nor after a 2xx (RFC 6026: a server transaction that has sent a 2xx sends
    // no provisional; another fork's late 18x must not touch the call's relay legs either)
    if (c.flags & (CtxFlag.Finalised | CtxFlag.Answered)) return;
  }
  // §16.7 step 3: with no Via left after ours the response was meant for us: a provisional goes no
  // further; a final one counts for the context but is never forwarded (a response is then generated
  // from the request if it wins). Under topology hiding the request's Vias come back from the context.
  hideResponse(v, d, idx, status, now);
  const forwardable = hidVias != 0 || v.next(v.first(Hdr.Via)) >= 0;
  if (status < 200 && !forwardable) return;
  if (MEDIA_RELAY && status < 300) relayResponse(v, d, <i32>idx, recPeer(rec(idx)).family);
  const n = forwardable ? writeResponseForward(v, WORK_BUF, <u32>MAX_MSG, VIAB, hidVias, 0, hidContact, hidContactLen) : 0;
  const m = storeWork(n);
  if (status < 200) {
    if (m != 0) serverRespond(idx, m, status, now);
    msgPool.release(m);
    return;
  }
  if (status < 300 && m == 0 && wasPending) {
    // a 2xx that cannot go upstream (meant for us, §16.7 step 3, or no room): the branch is over,
    // and the caller must still get a final response from the context
    branchFailed(idx, 500, 0, now);
    return;
  }
  if (status < 300) {
    // 2xx: forwarded at once, every one of them
    const first = (c.flags & CtxFlag.Answered) == 0;
    if (wasPending && c.active > 0) c.active--;
    c.flags |= CtxFlag.Answered;
    const s = rec(idx);
    if (s.kind == TxnKind.ServerInvite && s.state != SIState.Proceeding && s.state != SIState.Accepted) {
      forwardStateless(v, d); // a late 2xx after our final response still reaches the caller (RFC 6026)
    } else if (m != 0) {
      serverRespond(idx, m, status, now);
    }
    if (first) {
      if (c.flags & CtxFlag.Invite) {
        cancelBranches(idx, now);
        callEvent(EventKind.CallAnswer, <i32>status, v, recPeer(rec(idx)), now, 0);
        // an initial INVITE answered: a dialog starts (its end is reported with its duration)
        if (d.to.hasTag && (c.flags & CtxFlag.InDialog) == 0) {
          const key = dialogKey(d.callId, d.callIdLen, d.from.tag, d.from.tagLen, d.to.tag, d.to.tagLen);
          const caller = tagHash(d.from.tag, d.from.tagLen);
          if (HIDES && c.hidden != 0) dialogBind(<i32>c.hidden - 1, key, caller, now);
          else dialogOpen(key, caller, now);
        }
      }
      finishIfDone(idx, now);
    }
    msgPool.release(m);
    return;
  }
  if (wasPending && status == 503) failover(idx, recPeer(r), status, now); // counted before this branch ends
  branchFailed(idx, status, m, now);
  msgPool.release(m);
}

/** A transaction timer reported to the TU (txnTick). */
export function proxyTimer(up: TxnUp, now: i64): void {
  if (up.kind == ClientTimerOut.Ended) {
    release(up.idx); // a server transaction ended: what its context still held goes with it
    return;
  }
  if (up.kind == ClientTimerOut.None) return;
  const r = rec(up.idx);
  const srv = r.user;
  if (up.kind == ClientTimerOut.TimerC) {
    if ((r.flags & TxnFlag.GotProvisional) && !(r.flags & TxnFlag.Cancelled)) {
      sendCancel(up.idx, now);
      return;
    }
    // no provisional, or cancelled already and still no final: as if a 408 arrived (§16.8)
  }
  // Timer B/F (or C without a provisional): the branch ends with a 408
  const isCancel = r.kind == TxnKind.ClientNonInvite && r.method == <u8>Method.CANCEL;
  failPeer.copyFrom(recPeer(r));
  txnRelease(up.idx);
  if (isCancel) return;
  const si = idxOf(srv);
  if (si < 0) return;
  failover(<u32>si, failPeer, 408, now); // the new branch counts before this one ends
  branchFailed(<u32>si, 408, 0, now);
}


