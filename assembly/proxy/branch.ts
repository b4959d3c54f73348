// The proxy's part of its branch ids (the codec is the transaction layer's: txn/branch.ts): the loop
// hash it writes in the third field (RFC 3261 §16.3 step 4: the same request coming back to us with the
// same hash is a loop, a different hash is a spiral).
//
// The loop hash covers what decides routing: Request-URI, From tag, To tag, Call-ID, CSeq number and
// Proxy-Require. §16.6 also names the topmost Via; we leave it out, because on a loop through another
// proxy the topmost Via is necessarily that proxy's, which would hide every loop.

import { MessageView } from "../wire/view";
import { Decoded } from "../wire/validate";
import { Hdr } from "../wire/hdr";
import { hashBytes, hashMix } from "../util/hash";

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
