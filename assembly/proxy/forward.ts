// Forwarding one branch of a request (RFC 3261 §16.6): a copy with our Via (a branch naming the new
// client transaction), our Record-Route when the request may create a dialog, Max-Forwards
// decremented, our Route values removed, the target's Request-URI and route set; stored in the
// message pool and handed to a new client transaction that sends and retransmits it.

import { Owner } from "../tu/owner";
import { MAX_MSG } from "../config";
import { MessageView } from "../wire/view";
import { Decoded } from "../wire/validate";
import { Method } from "../wire/method";
import { ForwardEdits, writeForward, dropMap } from "../wire/emit";
import { Hdr } from "../wire/hdr";
import { Writer } from "../wire/writer";
import { ParamSpan, scanHeaderParam, eqText, eqBytesI } from "../wire/scan";
import { RPORT_ABSENT } from "../wire/headers/via";
import { Ch } from "../util/chars";
import { Peer, Family } from "../net/peer";
import { writeIp } from "../net/addr";
export { writeIp };
import { Proto, Transport, transportById } from "../net/transports";
import {
  rec, txnNextHandle, msgPool, clientCreate, idxOf,
} from "../txn/index";
import { WORK_BUF, storeWork } from "./buffers";
import { writeVia, hex8 } from "../txn/branch";
import { protoParam } from "./route";
import { proxyConfig } from "./config";
import { ctx, CtxFlag } from "./context";
import { TOPOLOGY_HIDING } from "../config";
import {
  CALLER, hidesToward, storeVias, applyPrivacy, ANON, keepContact, tokenContact, TOKEN_BUF, tokenLen, markHidden, unmarkHidden,
} from "./topology";
import { dialogPending } from "./dialog";
import { Req } from "./req";
import { writeRrMac, branchNonce } from "./rrmac";
import { T_COMMA_SP, T_RECEIVED, T_SIP_LT, T_TRANSPORT, T_K_RPORT, T_FT, T_LR } from "../wire/tables";

/** The writer of this file's lines (a Via, the Record-Route values, received=): each one begun and
 * finished in one step, never two at once. */
const fw = new Writer();
/** The Via of the branch being written (256 bytes); also request.ts's stateless ACK's: each written and used in one step. */
export const VIA_BUF: usize = memory.data(256);
const RR_BUF: usize = memory.data(512);
const RECV_BUF: usize = memory.data(96);
const param = new ParamSpan();

/** Does this request get our Record-Route (a dialog-creating request outside a dialog)? */
export function wantsRecordRoute(v: MessageView, d: Decoded): bool {
  if (!proxyConfig.recordRoute || d.to.hasTag) return false;
  const m = v.method;
  return m == Method.INVITE || m == Method.SUBSCRIBE || m == Method.REFER || m == Method.NOTIFY;
}

/**
 * The per-request part of the edits of request q (the same for every branch): the Via edits below,
 * our Route values popped (§16.4), the strict-route fix-up's last Route, and the credentials that
 * were for us (§22.3). Everything comes from q: a later q-value group forwarded from the stored copy
 * drops exactly what the first group dropped (entry indices are the same in the copy).
 */
export function prepareEdits(q: Req): void {
  const v = q.v;
  const edits = q.edits;
  prepareVia(edits, v, q.d, q.src);
  const pops = q.pops;
  const strict = q.strict;
  const creds = q.creds;
  if (pops > 0 || strict >= 0 || creds >= 0) {
    const map = dropMap(v.count);
    let i = v.first(Hdr.Route);
    for (let k = 0; k < pops && i >= 0; k++) {
      store<u8>(map + <usize>i, 1);
      i = v.next(i);
    }
    if (strict >= 0) store<u8>(map + <usize>strict, 1);
    if (creds >= 0 && creds < v.count && v.hdr(creds) == Hdr.ProxyAuthorization) store<u8>(map + <usize>creds, 1);
    edits.drop = map;
  }
}

/**
 * RFC 3581 / §18.2.1 on the received top Via, into `edits`, reset first: `;received=` when the source
 * address differs from sent-by or rport was asked for, and the rport value filled in. Also what a
 * stateless response's top Via gets.
 */
export function prepareVia(edits: ForwardEdits, v: MessageView, d: Decoded, src: Peer): void {
  edits.reset();
  const via = d.via;
  fw.begin(RECV_BUF, 96);
  if ((src.family == Family.V4 || src.family == Family.V6) && !via.hasReceived) {
    // §18.2.1: received when sent-by is not the source address; RFC 3581 §4: always with rport
    fw.text(T_RECEIVED);
    const ip = fw.length;
    writeIp(fw, src);
    const ipLen = fw.length - ip;
    const n = fw.finish();
    if (via.rport != RPORT_ABSENT || !eqBytesI(RECV_BUF + <usize>ip, ipLen, via.host, via.hostLen)) {
      edits.viaAppend = RECV_BUF;
      edits.viaAppendLen = n;
    }
  }
  if (via.rport == -1) {
    // ";rport" without a value: find where to put "=port"
    let p = via.params;
    const end = p + <usize>via.paramsLen;
    while (p < end) {
      const q = scanHeaderParam(p, end, param);
      if (q == 0) break;
      if (eqText(param.name, param.nameLen, T_K_RPORT) && !param.hasValue) {
        edits.rportAt = param.name + <usize>param.nameLen;
        edits.rportPort = src.port;
        break;
      }
      p = q;
      while (p < end && load<u8>(p) != Ch.SEMI) p++;
      p++;
    }
  }
}

/** Our Record-Route URI for transport t, with a flow token when `flow` is a connection id, and the
 * dialog MAC of request q (proxy/rrmac.ts). */
function writeRrUri(w: Writer, t: Transport, flow: u32, q: Req): void {
  w.text(T_SIP_LT);
  if (flow != 0) {
    w.text(T_FT);
    hex8(w, flow);
    w.byte(Ch.AT);
  }
  w.bytes(t.addr, t.addrLen);
  if (t.proto != Proto.UDP) {
    w.text(T_TRANSPORT);
    w.text(protoParam(t.proto));
  }
  w.text(T_LR);
  const d = q.d;
  writeRrMac(w, flow, d.callId, d.callIdLen, d.from.tag, d.from.tagLen);
  w.byte(0x3e); // '>'
}

/**
 * Prepare the edits that hide this request's side from the branch's destination (proxy/topology.ts):
 * its Vias dropped (kept by the response context to restore), its Contact replaced by our token.
 * Returns false when nothing could be hidden (no context).
 */
function hideRequest(q: Req, srvHandle: u32, t: Transport, dialogForming: bool): bool {
  const v = q.v;
  const edits = q.edits;
  const now = q.now;
  const si = idxOf(srvHandle);
  if (si < 0) return false;
  const c = ctx(<u32>si);
  if (c.vias == 0) c.vias = storeVias(v, WORK_BUF, 4096);
  c.flags |= CtxFlag.Hidden;
  let r = q.hidRecord;
  let side = q.hidSender;
  if (r < 0 && c.hidden != 0) { r = <i32>c.hidden - 1; side = CALLER; }
  if (r < 0 && dialogForming && v.first(Hdr.Contact) >= 0) {
    r = dialogPending(now);
    side = CALLER;
    c.hidden = <u32>r + 1;
  }
  let replaced = false;
  if (r >= 0 && v.first(Hdr.Contact) >= 0 && keepContact(v, r, side)) {
    tokenContact(t, r, side);
    edits.contact = TOKEN_BUF;
    edits.contactLen = tokenLen;
    replaced = true;
  }
  if (edits.drop == 0) edits.drop = dropMap(v.count);
  markHidden(v, edits.drop, replaced);
  return true;
}

/**
 * Forward one branch of request q, whose edits prepareEdits(q) made. q.src is the request's source
 * (for the inbound Record-Route), `dst` the destination (transport id set). Returns 0 when the
 * branch started, or the status that stands for its failure (503 no room: a transaction record or a
 * pool block; 500 no transport for the destination, a transport error that §16.7 step 6 would turn
 * into 500 anyway; 513 too large).
 */
export function forwardBranch(
  q: Req, srvHandle: u32, ruri: usize, ruriLen: u32, routeSet: usize, routeSetLen: u32, dst: Peer, loop: u32, recordRoute: bool,
): u32 {
  const v = q.v;
  const d = q.d;
  const now = q.now;
  const edits = q.edits;
  const t = transportById(dst.transport);
  if (t == null) return 500;
  // A name without a port (RFC 3263, docs/ABI.md "Peer record"): the host orders its SRV targets by a
  // draw seeded with this request's loop hash (the top 24 bits; the low byte is the target index k,
  // kept), so the branch's retransmissions, its CANCEL and ACK, and a failover branch to target k+1
  // all see the same order, and different requests share the load by the weights.
  if (dst.family == <u8>Family.Name && dst.port == 0) dst.reserved = (loop & 0xffffff00) | (dst.reserved & 0xff);
  const handle = txnNextHandle();
  if (handle == 0) return 503;
  const nonce = branchNonce(handle, loop);
  fw.begin(VIA_BUF, 256);
  writeVia(fw, t, handle, nonce, loop);
  const viaLen = fw.finish();
  edits.ruri = ruriLen != 0 ? ruri : 0;
  edits.ruriLen = ruriLen;
  edits.via = VIA_BUF;
  edits.viaLen = viaLen;
  edits.routeSet = routeSet;
  edits.routeSetLen = routeSetLen;
  edits.recordRoute = 0;
  edits.recordRouteLen = 0;
  if (recordRoute) {
    // One Record-Route when both sides are the same UDP transport; otherwise two (RFC 5658): the top
    // one faces the target, the second faces the caller and carries its flow on a reliable transport.
    // The top one carries the target's flow when the target is on a WebSocket (RFC 7118): its Contact
    // names a .invalid host, so in-dialog requests reach it only on the connection it registered on.
    const inT = transportById(q.src.transport);
    fw.begin(RR_BUF, 512);
    writeRrUri(fw, t, t.proto == Proto.WS || t.proto == Proto.WSS ? dst.conn : 0, q);
    if (inT != null && (inT.id != t.id || t.reliable)) {
      fw.text(T_COMMA_SP);
      writeRrUri(fw, inT, inT.reliable ? q.src.conn : 0, q);
    }
    edits.recordRoute = RR_BUF;
    edits.recordRouteLen = fw.finish();
  }
  const untrusted = TOPOLOGY_HIDING && hidesToward(dst);
  if (untrusted) {
    hideRequest(q, srvHandle, t, recordRoute);
    // RFC 3323 / RFC 3325 privacy toward an untrusted peer
    if (edits.drop == 0) edits.drop = dropMap(v.count);
    const n = applyPrivacy(v, edits.drop, d.from.tag, d.from.tagLen);
    if (n != 0) { edits.extra = ANON; edits.extraLen = n; }
  }
  const n = writeForward(v, edits, WORK_BUF, <u32>MAX_MSG);
  if (untrusted) {
    unmarkHidden(v, edits.drop);
    edits.contact = 0;
    edits.contactLen = 0;
    edits.extra = 0;
    edits.extraLen = 0;
  }
  if (n == 0) return 513;
  const msg = storeWork(n);
  if (msg == 0) return 503;
  const reliable = t.reliable;
  const h = clientCreate(v.method, dst, reliable, msg, d.cseq.seq, <u64>nonce, now, Owner.Proxy);
  msgPool.release(msg);
  if (h == 0) return 503;
  // link the branch into its server transaction's context
  const c = rec(h & 0xffffff);
  c.user = srvHandle;
  const si = idxOf(srvHandle);
  if (si >= 0) {
    const s = rec(<u32>si);
    c.sibling = s.user;
    s.user = h;
    ctx(<u32>si).active++;
  }
  return 0;
}
