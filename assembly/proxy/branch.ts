// Branch ids of the requests we send (RFC 3261 §8.1.1.7, §16.6 step 8, §16.11).
//
//   stateful   z9hG4bK sL hhhhhhhh nnnnnnnn llllllll   (33 bytes)
//              h = handle of the client transaction (so a response finds its record directly),
//              n = a random nonce kept in the record (a stale or forged handle is refused),
//              l = the loop hash of the request (§16.3 step 4: the same request coming back to us
//                  with the same hash is a loop, a different hash is a spiral)
//   stateless  z9hG4bK sS xxxxxxxxxxxxxxxx            (25 bytes): a hash of the received top Via
//              branch and Request-URI, so a retransmitted ACK or CANCEL gets the same branch.
//
// The loop hash covers what decides routing: Request-URI, From tag, To tag, Call-ID, CSeq number and
// Proxy-Require. §16.6 also names the topmost Via; we leave it out, because on a loop through another
// proxy the topmost Via is necessarily that proxy's, which would hide every loop.

import { MessageView } from "../wire/view";
import { Decoded } from "../wire/validate";
import { Hdr } from "../wire/hdr";
import { hashBytes, hashMix } from "../util/hash";
import { Writer } from "../wire/writer";
import { Cls, is, hexValue } from "../util/chars";
import { hexDigit } from "../crypto/hex";
import { T_COOKIE_SL, T_COOKIE_SS } from "../wire/tables";

export const STATEFUL_LEN: u32 = 33;

let seed: u64 = 0x13198a2e03707344;
export function branchSeed(s: u64): void {
  seed = s;
}

/** The loop hash of a request (32 bits). */
export function loopHash(v: MessageView, d: Decoded): u32 {
  let h = hashBytes(v.base + <usize>v.uriOff, v.uriLen, seed);
  h = hashMix(h, hashBytes(d.from.tag, d.from.tagLen, seed));
  h = hashMix(h, hashBytes(d.to.tag, d.to.tagLen, seed));
  h = hashMix(h, hashBytes(d.callId, d.callIdLen, seed));
  h = hashMix(h, <u64>d.cseq.seq);
  for (let i = v.first(Hdr.ProxyRequire); i >= 0; i = v.next(i)) h = hashMix(h, hashBytes(v.valPtr(i), v.valLen(i), seed));
  return <u32>h;
}

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
