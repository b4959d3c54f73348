// The transaction layer (RFC 3261 §17, RFC 6026). Contract: it knows messages only through the wire
// layer's views, keeps one record per transaction in a fixed table (table.ts), retransmits and times
// out on its own, and queues what it sends on the transmit queue (output.ts). It never decides
// routing: the TU that owns a transaction creates it, hands them responses to send, and is told of
// responses that pass the state machine and of timeouts (`txnTick` results). Nothing here calls up.
//
// Matching (§17.2.3): a request whose top Via branch carries the RFC 3261 magic cookie and something
// after it is matched on (branch, sent-by, method class). Otherwise — an RFC 2543 peer (RFC 4475
// inv2543) or a bare cookie (RFC 4475 badbranch) — we fall back to RFC 2543 matching: Request-URI,
// From tag, Call-ID, CSeq number, the whole top Via, and the To tag (not for INVITE/ACK, whose To tag
// differs between the INVITE and the ACK of a non-2xx). RFC 4475 §3.2.1 allows this or a 400; we
// choose to serve old and sloppy peers. Keys are keyed 64-bit hashes (the host's seed), so a peer
// cannot aim collisions at the index.
//
// Responses to our client transactions are matched by the branch we generated (branch.ts), which names
// the record's handle directly; the record's nonce and the CSeq method confirm it.
//
// Every record carries its owner (a TU kind, tu/owner.ts) and the owner's handle: the layer stores both
// and reads neither; host/dispatch.ts hands a record's responses and timers to its owner.

export * from "./table";
export * from "./output";
export * from "./timers";
export * from "./server_invite";
export * from "./server_noninvite";
export * from "./client_invite";
export * from "./client_noninvite";
export * from "./branch";

import { MessageView } from "../wire/view";
import { Decoded } from "../wire/validate";
import { Hdr } from "../wire/hdr";
import { Method } from "../wire/method";
import { hashBytes, hashBytesLower, hashMix } from "../util/hash";
import { TxnKind, rec, txnTimers, handleOf } from "./table";
import { serverInviteOnTimer } from "./server_invite";
import { serverNonInviteOnTimer } from "./server_noninvite";
import { ClientTimerOut, clientInviteOnTimer } from "./client_invite";
import { clientNonInviteOnTimer } from "./client_noninvite";

let keySeed: u64 = 0x243f6a8885a308d3;

export function txnSeed(seed: u64): void {
  keySeed = seed;
}

/**
 * Server-side match key of the request in `v`, for transactions of method class `method`
 * (INVITE for INVITE and ACK — and for the CANCEL looking for its INVITE —, the method otherwise).
 */
export function serverKey(v: MessageView, d: Decoded, method: Method): u64 {
  const via = d.via;
  let h = hashMix(keySeed, <u64>method);
  if (method == Method.Unknown) h = mixBytes(h, v.base, v.methodLen);
  if (via.branchRfc3261) {
    h = mixBytes(h, via.branch, via.branchLen);
    h = hashMix(h, hashBytesLower(via.host, via.hostLen, keySeed));
    return hashMix(h, <u64>(via.port + 1));
  }
  // RFC 2543 matching (§17.2.3, second part)
  h = hashMix(h, 0x2543);
  h = mixBytes(h, v.base + <usize>v.uriOff, v.uriLen);
  h = mixBytes(h, d.from.tag, d.from.tagLen);
  h = mixBytes(h, d.callId, d.callIdLen);
  h = hashMix(h, <u64>d.cseq.seq);
  const top = v.first(Hdr.Via);
  h = mixBytes(h, v.valPtr(top), v.valLen(top));
  if (method != Method.INVITE) h = mixBytes(h, d.to.tag, d.to.tagLen);
  return h;
}

/** h with the keyed hash of [p, p+n) folded in. */
function mixBytes(h: u64, p: usize, n: u32): u64 {
  return hashMix(h, hashBytes(p, n, keySeed));
}

/** What a timer pass reports to the TU. */
export class TxnUp {
  /** ClientTimerOut: Timeout (Timer B/F: the TU answers 408 for the branch and then calls txnRelease),
   * TimerC (§16.8), Ended (the record was released: a server's last timer, or Timer D/K/M), or None. */
  kind: ClientTimerOut = ClientTimerOut.None;
  idx: u32 = 0;
  handle: u32 = 0;
  /** The record's owner and its handle (TxnRec.owner, .user), read before the timer ran (an Ended
   * record is free after). */
  owner: u8 = 0;
  user: u32 = 0;
}

/**
 * Run the earliest due timer, if any. Returns false when nothing is due at `now`. Safe to call early
 * or repeatedly (timers are absolute deadlines).
 */
export function txnTick(now: i64, up: TxnUp): bool {
  const id = txnTimers.peek();
  if (id < 0 || txnTimers.peekKey() > now) return false;
  const idx = <u32>id;
  const r = rec(idx);
  up.kind = ClientTimerOut.None;
  up.idx = idx;
  up.handle = handleOf(idx);
  up.owner = r.owner;
  up.user = r.user;
  switch (r.kind) {
    case TxnKind.ServerInvite:
      if (serverInviteOnTimer(idx, now)) up.kind = ClientTimerOut.Ended;
      break;
    case TxnKind.ServerNonInvite:
      if (serverNonInviteOnTimer(idx, now)) up.kind = ClientTimerOut.Ended;
      break;
    case TxnKind.ClientInvite:
      up.kind = clientInviteOnTimer(idx, now);
      break;
    case TxnKind.ClientNonInvite:
      up.kind = clientNonInviteOnTimer(idx, now);
      break;
    default:
      txnTimers.remove(id); // a free record is never queued; drop it defensively
  }
  return true;
}

/** Earliest transaction deadline (ms), or -1. */
export function txnNextDeadline(): i64 {
  return txnTimers.peekKey();
}
