// Dialog MACs on our Record-Route values (and the nonces of our branches): what proves that an
// in-dialog request follows a route set we recorded, so that nobody can have us relay a request by adding a To tag and a Route naming us
// (the classic toll-fraud hole of proxies that trust any Route naming them).
//
//   <sip:[ftCCCCCCCC@]host:port[;transport=x];lr;dlg=MMMMMMMMMMMMMMMM>
//
// M = first 8 bytes of SHA-256(key || flow as 4 bytes big-endian || Call-ID || 0x00 || caller's tag),
// as 16 lowercase hex digits. The caller's tag is the From tag of the dialog-creating request; an
// in-dialog request carries it as its From tag (caller to callee) or its To tag (callee to caller),
// so the check tries both. The flow (the connection id of a flow token, 0 without one) is covered, so
// a flow token is honoured only on a Route we wrote for this dialog. A Call-ID and tag are tokens
// (no NUL), so the input cannot be shifted between fields.
//
// The key is 32 bytes: random at start-up, or derived from the configured nonce secret (config kind
// 12), so that instances sharing a secret — or one instance restarted — keep accepting the Record-
// Routes of dialogs set up before.

import { Alg, hInit, hUpdate, hByte, hFinal } from "../auth/hash";
import { Writer } from "../wire/writer";
import { prngNext } from "../util/prng";
import { hex8, hexAt } from "../txn/branch";
import { T_DLG_EQ } from "../wire/tables";

const KEY: usize = memory.data(32);
const FLOW: usize = memory.data(4);
const OUT: usize = memory.data(32);
/** Hex digits of a MAC. */
export const MAC_HEX: u32 = 16;

/** A random key (start-up). */
export function rrKeyReset(): void {
  for (let i: usize = 0; i < 32; i += 8) store<u64>(KEY + i, prngNext());
}

/** The key from a configured secret [p, p+len): SHA-256("sipling-rr" || secret). */
export function rrKeyFromSecret(p: usize, len: u32): void {
  hInit(Alg.SHA256);
  hUpdate(Alg.SHA256, changetype<usize>(KEY_LABEL), KEY_LABEL_LEN);
  hUpdate(Alg.SHA256, p, len);
  hFinal(Alg.SHA256, KEY);
}
const KEY_LABEL: usize = memory.data<u8>([0x73, 0x69, 0x70, 0x6c, 0x69, 0x6e, 0x67, 0x2d, 0x72, 0x72]); // "sipling-rr"
const KEY_LABEL_LEN: u32 = 10;

function mac(flow: u32, callId: usize, callIdLen: u32, tag: usize, tagLen: u32): void {
  store<u32>(FLOW, bswap<u32>(flow));
  hInit(Alg.SHA256);
  hUpdate(Alg.SHA256, KEY, 32);
  hUpdate(Alg.SHA256, FLOW, 4);
  hUpdate(Alg.SHA256, callId, callIdLen);
  hByte(Alg.SHA256, 0);
  hUpdate(Alg.SHA256, tag, tagLen);
  hFinal(Alg.SHA256, OUT);
}

/**
 * The nonce of a branch of ours (proxy/branch.ts): the first 4 bytes of SHA-256(key || "br" || handle ||
 * loop), so a response whose transaction is gone can still be told ours (a forged branch of the right
 * shape is not: it must not make us forward a stranger's 2xx to where its next Via points).
 */
export function branchNonce(handle: u32, loop: u32): u32 {
  store<u32>(FLOW, handle);
  store<u32>(FLOW2, loop);
  hInit(Alg.SHA256);
  hUpdate(Alg.SHA256, KEY, 32);
  hUpdate(Alg.SHA256, BR, 2);
  hUpdate(Alg.SHA256, FLOW, 4);
  hUpdate(Alg.SHA256, FLOW2, 4);
  hFinal(Alg.SHA256, OUT);
  return load<u32>(OUT);
}
const FLOW2: usize = memory.data(4);
const BR: usize = memory.data<u8>([0x62, 0x72]); // "br"

/** Append ";dlg=" and the MAC for this dialog and flow. */
export function writeRrMac(w: Writer, flow: u32, callId: usize, callIdLen: u32, tag: usize, tagLen: u32): void {
  mac(flow, callId, callIdLen, tag, tagLen);
  w.text(T_DLG_EQ);
  // the MAC's first 8 bytes in order, two hex digits each (MAC_HEX)
  hex8(w, bswap<u32>(load<u32>(OUT)));
  hex8(w, bswap<u32>(load<u32>(OUT + 4)));
}

/** Does the MAC text [m, m+len) match this dialog (either tag as the caller's) and flow? */
export function rrMacValid(m: usize, len: u32, flow: u32, callId: usize, callIdLen: u32, a: usize, al: u32, b: usize, bl: u32): bool {
  if (len != MAC_HEX) return false;
  return same(m, flow, callId, callIdLen, a, al) || (bl != 0 && same(m, flow, callId, callIdLen, b, bl));
}

function same(m: usize, flow: u32, callId: usize, callIdLen: u32, tag: usize, tagLen: u32): bool {
  mac(flow, callId, callIdLen, tag, tagLen);
  // MAC_HEX digits as two 32-bit numbers (the bytes in order, big-endian), compared without an early
  // exit on the first difference
  const h0 = hexAt(m);
  const h1 = hexAt(m + 8);
  if (h0 < 0 || h1 < 0) return false;
  return ((<u32>h0 ^ bswap<u32>(load<u32>(OUT))) | (<u32>h1 ^ bswap<u32>(load<u32>(OUT + 4)))) == 0;
}
