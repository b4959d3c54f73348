// Messages the proxy itself produces: stateless responses (§8.2.6, §16.3 errors, the registrar's and
// OPTIONS' answers, 503 for a full table), responses generated inside a response context (408, 480,
// 487, 500), and where responses go (§18.2.2 with RFC 3581).

import { MAX_MSG } from "../config";
import { WORK_BUF } from "./buffers";
import { proxyConfig } from "./config";
import { T_RETRY_AFTER } from "../wire/tables";
import { MessageView } from "../wire/view";
import { Decoded, naScratch, viaScratch } from "../wire/validate";
import { Hdr } from "../wire/hdr";
import { writeResponse } from "../wire/emit";
import { NameAddrRepr, NameAddrKind, decodeNameAddr } from "../wire/headers/nameaddr";
import { ViaRepr, decodeVia, Transport as ViaTransport, RPORT_ABSENT } from "../wire/headers/via";
import { Writer } from "../wire/writer";
import { hashBytes, hashMix } from "../util/hash";
import { prngNext } from "../util/prng";
import { Peer } from "../net/peer";
import { peerFromHost } from "../net/addr";
import { Proto, transportById, defaultPortOf } from "../net/transports";
import { txSend, responseDest } from "../txn/output";
export { responseDest };
import { msgPool } from "../txn/table";
import { hex8 } from "../txn/branch";
import { prepareVia } from "./forward";
import { ForwardEdits } from "../wire/emit";
import { Req } from "./req";

const tagW = new Writer();
const TAG: usize = memory.data(16);
export const respPeer = new Peer();
/** The Via edits of a stateless response (its own: a response may be written while a request's
 * edits are in use). */
const respEdits = new ForwardEdits();

/** A deterministic To tag for a stateless response: the same request always gets the same tag. */
function statelessTag(v: MessageView, d: Decoded): u32 {
  let h = hashBytes(d.callId, d.callIdLen, 0x5eed);
  h = hashMix(h, hashBytes(d.from.tag, d.from.tagLen, 0x5eed));
  h = hashMix(h, <u64>d.cseq.seq);
  h = hashMix(h, hashBytes(d.via.branch, d.via.branchLen, 0x5eed));
  return <u32>h;
}

/** Is the request's To tag the one our stateless answer to it carried? (an ACK for that answer has
 * the INVITE's Call-ID, From tag, CSeq number and branch, §17.1.1.3) */
export function isOurStatelessTag(v: MessageView, d: Decoded): bool {
  if (d.to.tagLen != 8) return false;
  tagText(statelessTag(v, d));
  return load<u64>(d.to.tag) == load<u64>(TAG);
}

/** Write 8 hex digits of `v` into the tag scratch; returns its length. */
function tagText(v: u32): u32 {
  tagW.begin(TAG, 16);
  hex8(tagW, v);
  return tagW.finish();
}

/** A fresh random tag (stateful responses). */
export function newTag(): u32 {
  return tagText(<u32>prngNext());
}

/** Does the request's To carry a tag? Decodes it when validation did not (parse errors). */
function toHasTag(v: MessageView, d: Decoded, validated: bool): i32 {
  if (validated) return d.to.hasTag ? 1 : 0;
  const i = v.first(Hdr.To);
  if (i < 0) return -1;
  const p = v.valPtr(i);
  if (!decodeNameAddr(p, p + <usize>v.valLen(i), naScratch, NameAddrKind.FromTo)) return -1;
  return naScratch.hasTag ? 1 : 0;
}

/**
 * Answer the request in `v` statelessly with `status` and the header lines [extra, extra+extraLen).
 * `validated`: whether `d` holds the request's decoded headers (false after a parse error: only the
 * view's index is trusted). Returns false when nothing could be sent (no Via, queue or pool full).
 */
export function respondStateless(
  v: MessageView, d: Decoded, validated: bool, status: u32, extra: usize, extraLen: u32, src: Peer,
): bool {
  const top = v.first(Hdr.Via);
  if (top < 0) return false;
  let via: ViaRepr | null = null;
  if (validated) {
    via = d.via;
  } else {
    const p = v.valPtr(top);
    if (decodeVia(p, p + <usize>v.valLen(top), viaScratch)) via = viaScratch;
  }
  responseDest(src, via, respPeer);
  let tagLen: u32 = 0;
  if (status > 100 && toHasTag(v, d, validated) == 0) tagLen = tagText(validated ? statelessTag(v, d) : <u32>hashBytes(v.base, v.len, 0x5eed));
  // RFC 3581 §4: the top Via of the response says where the request came from
  if (validated) prepareVia(respEdits, v, d, src);
  const n = writeResponse(v, status, TAG, tagLen, extra, extraLen, WORK_BUF, <u32>MAX_MSG, validated ? respEdits : null);
  if (n == 0) return false;
  return txSend(WORK_BUF, n, respPeer);
}

/** respondStateless for the validated request q, with the header lines [extra, extra+extraLen). */
export function answer(q: Req, status: u32, extra: usize, extraLen: u32): void {
  respondStateless(q.v, q.d, true, status, extra, extraLen, q.src);
}

/** respondStateless for the validated request q, no header lines added (most refusals). */
export function reply(q: Req, status: u32): void {
  answer(q, status, 0, 0);
}

/** 503 with Retry-After for the validated request q (a table full, local overload). */
export function replyBusy(q: Req): void {
  answer(q, 503, RETRY_BUF, retryAfter());
}

const rw = new Writer();

/** Where retryAfter writes: a buffer of its own, since a 503 inside a response context is written from
 * the stored request, in the slot EXTRA_BUF shares (buffers.ts). */
export const RETRY_BUF: usize = memory.data(32);

/** "Retry-After: N" (proxyConfig.retryAfter) into RETRY_BUF, for a 503 of our own; its length. */
export function retryAfter(): u32 {
  rw.begin(RETRY_BUF, 32);
  rw.text(T_RETRY_AFTER);
  rw.u32(proxyConfig.retryAfter);
  rw.crlf();
  return rw.finish();
}

/**
 * A response generated by the proxy inside a response context, from the stored request view `req`:
 * stored in the pool and returned as a handle (0 when it does not fit), for the server transaction.
 * It may take from the reserve: a final response ends a transaction, and one that cannot be stored is
 * never sent.
 */
export function generatedResponse(req: MessageView, status: u32, extra: usize, extraLen: u32): u32 {
  const tagLen = newTag();
  const n = writeResponse(req, status, TAG, tagLen, extra, extraLen, WORK_BUF, <u32>MAX_MSG);
  if (n == 0) return 0;
  return msgPool.store(WORK_BUF, n, true);
}

/**
 * Destination of a response forwarded statelessly: the (new) top Via's received/rport/sent-by, at the
 * default port of its transport when sent-by has none (5061 for TLS, §18.2.2). A
 * `maddr` is not followed (RFC 3261 §18.2.2 lists it first, for multicast): a Via is whatever the
 * request's sender wrote, and a response must go back where the request came from, never to an
 * address or a name to resolve that a stranger chose.
 */
export function viaDest(via: ViaRepr, out: Peer): bool {
  out.clear();
  let host = via.host;
  let hostLen = via.hostLen;
  if (via.hasReceived) { host = via.received; hostLen = via.receivedLen; }
  const port = via.rport > 0 ? <u32>via.rport : via.port > 0 ? <u32>via.port : defaultPortOf(via.transportKind == ViaTransport.TLS ? Proto.TLS : Proto.UDP);
  if (!peerFromHost(out, host, hostLen, port)) return false;
  return via.transportKind == ViaTransport.UDP || via.transportKind == ViaTransport.TCP ||
    via.transportKind == ViaTransport.TLS;
}
