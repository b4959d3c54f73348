// The proxy's media relay (issue 14; the legs and the SDP rewriting are media/relay.ts's): which calls
// the proxy anchors, and the SDP of their messages rewritten as they pass. CfgKey.MediaRelay decides:
// never (0), always (1), or only when a party is behind NAT (2): a private address in the caller's SDP,
// the caller's Contact naming another address than the request came from (or, on UDP, another port),
// or a registered target whose contact differs likewise from where it registered from (Kamailio's
// nat_uac_test 1, 2, 8 and 32 in one rule; decided at the initial INVITE, for both directions: a relay
// added at the answer alone would give one-way audio).
//
// A relayed call is a dialog record of proxy/dialog.ts (taken at the initial INVITE, bound at its 2xx,
// the same one topology hiding uses), whose index is the relay session (RELAY_PROXY_BASE + record): the
// caller is party 0, the callee party 1. Only an INVITE we Record-Route is relayed (without it the BYE
// would not come through us and the legs would stay open until their idle time); a full dialog table
// refuses the call with 503 rather than evicting a live relayed call. The SDP of the INVITE, its 18x and
// 2xx, and of an in-dialog re-INVITE, UPDATE, PRACK or ACK (a late offer's answer) and their responses is
// rewritten (the relay's address and the other party's legs' ports); a BYE, a failed or cancelled
// INVITE or the hand's reuse of the record closes the legs. Forks: each 18x's SDP points the callee's
// legs at its fork (early media from the last one to answer), the first 2xx at the fork that answered,
// for good (a 2xx without SDP, its answer in a reliable 18x: at that fork's last early SDP, kept with
// its branch, proxy/response.ts keepBranchLess): after it, another fork's 18x is not forwarded and its 2xx passes unrewritten (the caller
// ends that dialog; its media never touch the call's legs). A stream idle for its time (the host's
// report) ends the relay of the call and its record with a call-end event, cause media-idle: a proxy is
// no user agent and sends no BYE (Kamailio with rtpengine's timeout does the same).

import { MEDIA_RELAY, RELAY_PROXY_BASE } from "../config";
import { MessageView } from "../wire/view";
import { Decoded } from "../wire/validate";
import { Hdr } from "../wire/hdr";
import { Method } from "../wire/method";
import { UriRepr, parseUri } from "../wire/uri";
import { NameAddrRepr, NameAddrKind, decodeNameAddr } from "../wire/headers/nameaddr";
import { T_MEDIA_IDLE } from "../wire/tables";
import { Peer, Family } from "../net/peer";
import { parseIPv4, parseIPv6, privateAddress } from "../net/addr";
import { transportById } from "../net/transports";
import { EventKind, eventBegin, eventText, eventTextT } from "../events";
import { sdpBody, sdpParse, sdpPrivate } from "../media/sdp";
import { relaySdp, relayIfaceOf, relayConfig, relayLegSession, relayLegCallId, relayLegCallIdLen, SDP_OUT, SDP_BAD } from "../media/relay";
import { TargetSet } from "../registrar/index";
import { Req } from "./req";
import { ctx, CtxFlag } from "./context";
import { wantsRecordRoute } from "./forward";
import { rec, recPeer } from "../txn/index";
import {
  dialogFind, dialogKey, dialogPending, dialogRoom, dialogSetRelayed, dialogRelayed, dialogRelayIfaces, dialogCallerTag, tagHash,
  dialogAnswered, dialogClose, dialogIndexEarly,
} from "./dialog";

const na = MEDIA_RELAY ? new NameAddrRepr() : changetype<NameAddrRepr>(0);
const uri = MEDIA_RELAY ? new UriRepr() : changetype<UriRepr>(0);
const host = MEDIA_RELAY ? new Peer() : changetype<Peer>(0);

/**
 * Is the party at URI host u (a Contact) behind NAT, its messages coming from `src`: u names a private
 * address, or another address than src, or (`udp`) another port. A host name says nothing (false).
 */
function natted(u: UriRepr, src: Peer, udp: bool): bool {
  host.a0 = 0;
  host.a1 = 0;
  if (parseIPv4(u.host, u.hostLen, host.addr)) host.family = <u8>Family.V4;
  else if (parseIPv6(u.host, u.hostLen, host.addr)) host.family = <u8>Family.V6;
  else return false;
  if (privateAddress(host.family, host.addr)) return true;
  if (src.family != <u8>Family.V4 && src.family != <u8>Family.V6) return false;
  if (!host.sameAddress(src)) return true;
  return udp && <u32>(u.port < 0 ? 5060 : u.port) != <u32>src.port;
}

function udpPeer(p: Peer): bool {
  const t = transportById(p.transport);
  return t != null && !t.reliable;
}

/** Mode 2: is a party of initial INVITE q behind NAT (its SDP already parsed when `parsed`)? */
function behindNat(q: Req, parsed: bool, tset: TargetSet | null): bool {
  if (parsed && sdpPrivate()) return true;
  const v = q.v;
  const h = v.first(Hdr.Contact);
  if (h >= 0) {
    const p = v.valPtr(h);
    if (decodeNameAddr(p, p + <usize>v.valLen(h), na, NameAddrKind.Contact) && natted(na.uri, q.src, udpPeer(q.src))) return true;
  }
  if (tset == null) return false;
  for (let i = 0; i < tset.count; i++) {
    const u = tset.uri(i);
    const src = tset.source(i);
    if (u != 0 && parseUri(u, u + <usize>tset.uriLen(i), uri) && natted(uri, src, udpPeer(src))) return true;
  }
  return false;
}

/** The SDP of v from party `side` of relayed record r, rewritten as v's altBody; 0, or 488 / 503. */
function rewrite(r: i32, side: i32, v: MessageView, toFamily: u8, callId: usize, callIdLen: u32): u32 {
  const n = relaySdp(RELAY_PROXY_BASE + r, side, v.base + <usize>v.bodyOff, v.bodyLen, toFamily, callId, callIdLen, dialogRelayIfaces(r));
  if (n < 0) return n == SDP_BAD ? 488 : 503;
  v.altBody = SDP_OUT;
  v.altBodyLen = <u32>n;
  return 0;
}

/** The relayed dialog record of in-dialog message (v, d), or -1; `fromCaller` set to who wrote From. An
 * early dialog's PRACK or UPDATE finds its call's record by the INVITE's early key (dialogIndexEarly):
 * the caller's tag is its From tag (the caller sent it) or its To tag (the callee did). */
let fromCaller = false;
function relayedDialog(d: Decoded): i32 {
  let r = dialogFind(dialogKey(d.callId, d.callIdLen, d.from.tag, d.from.tagLen, d.to.tag, d.to.tagLen));
  if (r < 0) r = dialogFind(dialogKey(d.callId, d.callIdLen, d.from.tag, d.from.tagLen, 0, 0));
  if (r < 0) r = dialogFind(dialogKey(d.callId, d.callIdLen, d.to.tag, d.to.tagLen, 0, 0));
  if (r < 0 || !dialogRelayed(r)) return -1;
  fromCaller = tagHash(d.from.tag, d.from.tagLen) == dialogCallerTag(r);
  return r;
}

/**
 * Request q, about to be forwarded under server context idx (-1 for an ACK) toward a party whose
 * signalling has family `toFamily`, with `tset` the registrar's targets it forks to (null: one
 * destination): for an initial INVITE, whether its call is relayed (a dialog record taken and marked),
 * and for a relayed call's request with SDP, that SDP rewritten as q.v's altBody. Returns 0, or the
 * status to answer instead: 488 (SDP that does not parse), 503 (no relay leg or dialog record free).
 * `again`: the stored copy of an INVITE forwarded once already (a later q-value group, a failover
 * branch): rewritten only when its call was relayed the first time, never decided anew. `to`: the
 * single destination (its network gives the callee's relay interface; `tset`'s first source otherwise).
 */
export function relayRequest(q: Req, idx: i32, toFamily: u8, tset: TargetSet | null, again: bool = false, to: Peer | null = null): u32 {
  if (!MEDIA_RELAY || relayConfig.mode == 0) return 0;
  const v = q.v;
  const d = q.d;
  const body = sdpBody(v);
  if (d.to.hasTag) {
    if (!body) return 0;
    const r = relayedDialog(d);
    return r < 0 ? 0 : rewrite(r, fromCaller ? 0 : 1, v, toFamily, d.callId, d.callIdLen);
  }
  if (v.method != Method.INVITE || idx < 0) return 0;
  const c = ctx(<u32>idx);
  let r = c.hidden != 0 ? <i32>c.hidden - 1 : -1;
  if (!dialogRelayed(r)) {
    if (again) return 0;
    // the first time this INVITE is forwarded (a later q-value group finds its record marked)
    if (!wantsRecordRoute(v, d)) return 0;
    const parsed = body && sdpParse(v.base + <usize>v.bodyOff, v.bodyLen);
    if (relayConfig.mode == 2 && !(body && !parsed) && !behindNat(q, parsed, tset)) return 0;
    if (r < 0) {
      if (!dialogRoom()) return 503;
      r = dialogPending(q.now);
      c.hidden = <u32>r + 1;
    }
    // each party's legs on the relay interface of its network (RelayAddress `net`): the caller where its
    // INVITE comes from, the callee where it goes (the first target's source when forking)
    const callee = tset != null && tset.count > 0 ? tset.source(0) : to;
    dialogSetRelayed(r, <u32>relayIfaceOf(q.src) | (callee != null ? <u32>relayIfaceOf(callee) << 8 : 0));
    // its early dialogs' PRACKs and UPDATEs find it before the 2xx binds it (relayedDialog)
    dialogIndexEarly(r, dialogKey(d.callId, d.callIdLen, d.from.tag, d.from.tagLen, 0, 0), tagHash(d.from.tag, d.from.tagLen));
  }
  return body ? rewrite(r, 0, v, toFamily, d.callId, d.callIdLen) : 0; // no SDP: a late offer (the 2xx)
}

/**
 * A 1xx/2xx response (v, d) about to be forwarded to `toFamily` for server context idx (-1: none left,
 * a 2xx forwarded statelessly): a relayed call's SDP rewritten as v's altBody. The initial INVITE's
 * responses come from the callee (its record is the context's); an in-dialog one from the party that
 * did not send the request. SDP the relay cannot take goes on as the party wrote it (a response cannot
 * be refused; the call's media then bypass the relay or fail, as they would without it).
 */
export function relayResponse(v: MessageView, d: Decoded, idx: i32, toFamily: u8): void {
  if (!MEDIA_RELAY || relayConfig.mode == 0 || !sdpBody(v)) return;
  if (idx >= 0) {
    const c = ctx(<u32>idx);
    if ((c.flags & (CtxFlag.Invite | CtxFlag.InDialog)) == CtxFlag.Invite && c.hidden != 0) {
      const r = <i32>c.hidden - 1;
      // once a 2xx has answered (and bound the record to its dialog), only that dialog's messages (its
      // 2xx retransmitted) are the call's: another fork's 18x or 2xx passes with its SDP as written
      // (the caller ends that dialog) and the legs stay with the answering fork's media
      if (dialogRelayed(r) && ((c.flags & CtxFlag.Answered) == 0 || dialogFind(dialogKey(d.callId, d.callIdLen, d.from.tag, d.from.tagLen, d.to.tag, d.to.tagLen)) == r)) {
        rewrite(r, 1, v, toFamily, d.callId, d.callIdLen);
      }
      return;
    }
  }
  if (!d.to.hasTag) return;
  const r = relayedDialog(d);
  if (r >= 0) rewrite(r, fromCaller ? 1 : 0, v, toFamily, d.callId, d.callIdLen);
}

/** Is server context idx (-1: none) a relayed initial INVITE not yet answered, whose forks' SDP
 * points the callee's legs? */
export function relayEarly(idx: i32): bool {
  if (!MEDIA_RELAY || relayConfig.mode == 0 || idx < 0) return false;
  const c = ctx(<u32>idx);
  return (c.flags & (CtxFlag.Invite | CtxFlag.InDialog | CtxFlag.Answered)) == CtxFlag.Invite && dialogRelayed(<i32>c.hidden - 1);
}

/**
 * The fork of relayed context idx whose early SDP `kept` carries (its branch's kept request, whose body
 * is the SDP of its last 18x as it wrote it) answered with a 2xx without SDP: its answer was in a
 * reliable 18x (RFC 3262, RFC 3264 §4) and stands, so the callee's legs point at it again, whatever
 * another fork's later 18x made of them (one-way audio otherwise).
 */
export function relayForkAnswer(idx: i32, kept: MessageView, d: Decoded): void {
  // a kept request with a Content-Type is the whole forwarded INVITE (its branch had no provisional, or
  // its shorter copy found no room): its body is the caller's offer as we rewrote it, never the fork's
  if (!MEDIA_RELAY || kept.bodyLen == 0 || kept.first(Hdr.ContentType) >= 0) return;
  const r = <i32>ctx(<u32>idx).hidden - 1;
  relaySdp(RELAY_PROXY_BASE + r, 1, kept.base + <usize>kept.bodyOff, kept.bodyLen, recPeer(rec(<u32>idx)).family, d.callId, d.callIdLen, dialogRelayIfaces(r));
}

/** The host reported relay leg `leg` of a proxy call idle (or its port unbindable): the relay of the
 * call ends with its dialog record, reported as the call's end (cause media-idle). */
export function proxyRelayReport(leg: i32, now: i64): void {
  if (!MEDIA_RELAY) return;
  const s = relayLegSession(leg);
  if (s < RELAY_PROXY_BASE) return;
  const r = s - RELAY_PROXY_BASE;
  if (!dialogRelayed(r)) return;
  const ms = now - dialogAnswered(r);
  eventBegin(EventKind.CallEnd, 0, now, <u32>(ms > 0 ? ms : 0), null);
  eventText(2, relayLegCallId(leg), relayLegCallIdLen(leg));
  eventTextT(3, T_MEDIA_IDLE);
  dialogClose(r);
}
