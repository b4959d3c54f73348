// Branch ids of the requests this core sends (RFC 3261 §8.1.1.7, §17.1.3, §16.6 step 8), for every
// transaction user (TU): the transaction layer's own codec, so a response finds its client transaction
// whoever owns it (tu/dispatch.ts).
//
//   stateful   z9hG4bK sL hhhhhhhh nnnnnnnn llllllll   (33 bytes)
//              h = handle of the client transaction (so a response finds its record directly),
//              n = a random nonce kept in the record (a stale or forged handle is refused),
//              l = 32 bits of the owner's: the proxy's loop hash (proxy/branch.ts), 0 for a user agent
//   stateless  z9hG4bK sS xxxxxxxxxxxxxxxx            (25 bytes): a hash given by the TU (the proxy's
//              stateless forwarding: the received top Via branch and Request-URI, so a retransmitted
//              ACK or CANCEL gets the same branch)

import { Writer } from "../wire/writer";
import { Cls, is, hexValue } from "../util/chars";
import { hexDigit } from "../crypto/hex";
import { T_COOKIE_SL, T_COOKIE_SS, T_SIP20_SLASH, T_BRANCH } from "../wire/tables";
import { Transport, protoName } from "../net/transports";

export const STATEFUL_LEN: u32 = 33;

export function hex8(w: Writer, v: u32): void {
  for (let i = 28; i >= 0; i -= 4) w.byte(hexDigit((v >> <u32>i) & 15));
}

/** Write a stateful branch. */
export function writeBranch(w: Writer, handle: u32, nonce: u32, loop: u32): void {
  w.text(T_COOKIE_SL);
  hex8(w, handle);
  hex8(w, nonce);
  hex8(w, loop);
}

/**
 * The Via value of a request sent on client transaction `handle` through transport t (§18.1.1: its
 * advertised sent-by; §8.1.1.7: our stateful branch): "SIP/2.0/UDP host:port;branch=z9hG4bKsL...".
 */
export function writeVia(w: Writer, t: Transport, handle: u32, nonce: u32, loop: u32): void {
  writeViaHead(w, t);
  writeBranch(w, handle, nonce, loop);
}

/** A Via value through transport t up to its branch's value: "SIP/2.0/UDP host:port;branch=". */
export function writeViaHead(w: Writer, t: Transport): void {
  w.text(T_SIP20_SLASH);
  w.text(protoName(t.proto));
  w.byte(0x20);
  w.bytes(t.addr, t.addrLen);
  w.text(T_BRANCH);
}

/** Write a stateless branch from a hash. */
export function writeStatelessBranch(w: Writer, h: u64): void {
  w.text(T_COOKIE_SS);
  hex8(w, <u32>(h >> 32));
  hex8(w, <u32>h);
}

/** Eight hex digits at p as a number, or -1. */
export function hexAt(p: usize): i64 {
  let v: u32 = 0;
  for (let i: usize = 0; i < 8; i++) {
    const c = <u32>load<u8>(p + i);
    if (!is(c, Cls.HEX)) return -1;
    v = (v << 4) | hexValue(c);
  }
  return <i64>v;
}

/** Parsed parts of one of our stateful branches. */
export class OurBranch {
  handle: u32 = 0;
  nonce: u32 = 0;
  loop: u32 = 0;
}

/** Parse a stateful branch of ours at [p, p+len); false when it is not one. */
export function parseBranch(p: usize, len: u32, out: OurBranch): bool {
  if (len != STATEFUL_LEN) return false;
  if (load<u8>(p + 7) != 0x73 || load<u8>(p + 8) != 0x4c) return false; // "sL"
  const h = hexAt(p + 9);
  const n = hexAt(p + 17);
  const l = hexAt(p + 25);
  if (h < 0 || n < 0 || l < 0) return false;
  out.handle = <u32>h;
  out.nonce = <u32>n;
  out.loop = <u32>l;
  return true;
}
