// The transmit queue: messages waiting for the host's sip_poll_transmit, each a pool handle (one
// reference held by the queue) and a destination. Fixed ring. Work that may queue several messages
// checks `txRoom()` first; the host drains the queue after every call, so it starts each call empty.

import { MAX_TXQ } from "../config";
import { Peer, PEER_SIZE } from "../net/peer";
import { msgPool, TxnRec, recPeer, at } from "./table";
import { transportById } from "../net/transports";
import { ViaRepr, RPORT_ABSENT } from "../wire/headers/via";
import { tableAlloc } from "../util/alloc";

const ENTRY: u32 = 4 + PEER_SIZE;
const ring: usize = tableAlloc(<usize>MAX_TXQ * ENTRY);
let head: u32 = 0;
let tail: u32 = 0;
let dropped: u32 = 0;

export function txReset(): void {
  while (head != tail) {
    msgPool.release(load<u32>(ring + <usize>((head % <u32>MAX_TXQ) * ENTRY)));
    head++;
  }
  head = tail = 0;
}

/** Free queue entries. */
export function txRoom(): u32 {
  return <u32>MAX_TXQ - (tail - head);
}

/** Messages that could not be queued (queue full) since start-up. */
export function txDropped(): u32 {
  return dropped;
}

/** Queue message `h` (the queue takes its own reference) for `to`. False when the queue is full. */
export function txPush(h: u32, to: Peer): bool {
  if (h == 0) return false;
  if (tail - head >= <u32>MAX_TXQ) {
    dropped++;
    return false;
  }
  const e = ring + <usize>((tail % <u32>MAX_TXQ) * ENTRY);
  msgPool.retain(h);
  store<u32>(e, h);
  memory.copy(e + 4, changetype<usize>(to), PEER_SIZE);
  tail++;
  return true;
}

/** Send record r's kept message again (none: nothing), and wait `next` ms for the following time
 * (Timers A, E and G). */
export function txResend(r: TxnRec, now: i64, next: i64): void {
  txPush(r.msg, recPeer(r));
  r.interval = <u32>next;
  r.retransmitAt = at(now + <i64>r.interval);
}

/** Store [p, p+len) and queue it for `to` (stateless messages). False when the pool or queue is full. */
export function txSend(p: usize, len: u32, to: Peer): bool {
  if (len == 0 || txRoom() == 0) {
    dropped++;
    return false;
  }
  const h = msgPool.store(p, len, true); // stateless: may use the reserve, so a full pool still answers
  if (h == 0) {
    dropped++;
    return false;
  }
  txPush(h, to);
  msgPool.release(h);
  return true;
}

/** Pop the oldest message into [out, out+cap) and its destination into `meta`; returns its length. */
export function txPop(out: usize, cap: u32, meta: usize): u32 {
  while (head != tail) {
    const e = ring + <usize>((head % <u32>MAX_TXQ) * ENTRY);
    head++;
    const h = load<u32>(e);
    const len = msgPool.len(h);
    if (len <= cap) {
      msgPool.copyOut(h, out);
      memory.copy(meta, e + 4, PEER_SIZE);
      msgPool.release(h);
      return len;
    }
    msgPool.release(h); // cannot happen: nothing larger than the buffers is ever stored
    dropped++;
  }
  return 0;
}

/**
 * Where responses to the request go (§18.2.2, RFC 3581): over the same connection on a reliable
 * transport; otherwise to the source address, at the source port when the top Via asked for rport and
 * at the sent-by port (or 5060) when it did not. `via` may be null when the Via did not decode.
 */
export function responseDest(src: Peer, via: ViaRepr | null, out: Peer): void {
  out.copyFrom(src);
  const t = transportById(src.transport);
  if (t != null && t.reliable) return;
  // sent-by port 0 is no port: answer where the request came from
  if (via != null && via.rport == RPORT_ABSENT && via.port != 0) out.port = <u16>(via.port > 0 ? via.port : 5060);
}
