// Topology hiding (Kamailio-topos-like, state kept in the core): toward a peer that is not trusted
// (access list "trusted"), what leaves this proxy names no address of the other side.
//
//   requests   the received Via values are removed (ours is the only one; the response context keeps
//              them and puts them back on the responses, §16.7 step 9 unchanged otherwise), and the
//              Contact is replaced by a token URI of ours: <sip:tC|tE + record + nonce @ our address>
//   responses  the Contact of a 1xx/2xx to an INVITE is replaced the same way (the callee's side)
//   in-dialog  a request whose Request-URI is one of our tokens is sent to the real contact the token
//              stands for (the dialog record), and hidden again on its way
// Record-Route values of other proxies are passed as they are (only ours are added). Compiled in per
// board (config.ts TOPOLOGY_HIDING): the micro board leaves it out to keep within its 64 KB.

import { TOPOLOGY_HIDING } from "../config";
import { MessageView } from "../wire/view";
import { Hdr } from "../wire/hdr";
import { Writer } from "../wire/writer";
import { eqText } from "../wire/scan";
import { NameAddrRepr, NameAddrKind, decodeNameAddr } from "../wire/headers/nameaddr";
import { Peer } from "../net/peer";
import { Transport, Proto } from "../net/transports";
import { AclList, aclMatch } from "../policy/index";
import { proxyConfig } from "./config";
import { hex8, hexAt } from "../txn/branch";
import { protoParam } from "./route";
import { dialogContact, dialogNonce, dialogSetContact, dialogValid, dlgPool } from "./dialog";
import { msgPool } from "../txn/table";
import { T_TRANSPORT, T_K_HEADER, T_K_ID, T_K_USER, T_TOKEN_C, T_TOKEN_E, T_ANON_FROM, T_TAG } from "../wire/tables";

/** Sides of a hidden dialog: the caller's contact (side 0, token "tC") and the callee's ("tE"). */
export const CALLER: u32 = 0;
export const CALLEE: u32 = 1;

/** Does what goes to `dst` need hiding? */
export function hidesToward(dst: Peer): bool {
  return TOPOLOGY_HIDING && proxyConfig.hideTopology && !aclMatch(AclList.Trusted, dst);
}

const tw = new Writer();
export const TOKEN_BUF: usize = memory.data(TOPOLOGY_HIDING ? 128 : 8); // (written only where hiding is built)
export let tokenLen: u32 = 0;

/** Our token URI for side `side` of dialog record r, on transport t (in TOKEN_BUF, tokenLen). */
export function tokenContact(t: Transport, r: i32, side: u32): void {
  tw.begin(TOKEN_BUF, 128);
  tw.text(side == CALLER ? T_TOKEN_C : T_TOKEN_E);
  hex8(tw, <u32>r);
  hex8(tw, dialogNonce(r));
  tw.byte(0x40);
  tw.bytes(t.addr, t.addrLen);
  if (t.proto != Proto.UDP) {
    tw.text(T_TRANSPORT);
    tw.text(protoParam(t.proto));
  }
  tw.byte(0x3e);
  tokenLen = tw.finish();
}

/**
 * Parse a Request-URI user part [p, p+len) as a token of ours: (record << 1) | side of a live hidden
 * dialog, or -1 when it is not one (or is stale: its nonce no longer matches the record).
 */
export function parseToken(p: usize, len: u32): i32 {
  if (!TOPOLOGY_HIDING || len != 18 || load<u8>(p) != 0x74) return -1; // "t"
  const s = <u32>load<u8>(p + 1);
  if (s != 0x43 && s != 0x45) return -1; // "C" / "E"
  const r = hexAt(p + 2);
  const n = hexAt(p + 10);
  if (r < 0 || n < 0 || !dialogValid(<u32>r, <u32>n)) return -1;
  return (<i32>r << 1) | (s == 0x43 ? <i32>CALLER : <i32>CALLEE);
}

/** Does a user part [p, p+len) look like one of our tokens (live or not)? */
export function looksLikeToken(p: usize, len: u32): bool {
  return TOPOLOGY_HIDING && len == 18 && load<u8>(p) == 0x74 && (load<u8>(p + 1) == 0x43 || load<u8>(p + 1) == 0x45);
}

const na = new NameAddrRepr();

/** Keep the URI of the view's first Contact as side `side`'s real contact of record r. */
export function keepContact(v: MessageView, r: i32, side: u32): bool {
  const i = v.first(Hdr.Contact);
  if (i < 0) return false;
  const p = v.valPtr(i);
  if (!decodeNameAddr(p, p + <usize>v.valLen(i), na, NameAddrKind.Contact) || na.star) return false;
  return dialogSetContact(r, side, na.uri.start, na.uri.len);
}

/** Mark the view's Via values and (when `contact`) Contact values dropped in `map`; value 2. */
export function markHidden(v: MessageView, map: usize, contact: bool): void {
  for (let i = 0; i < v.count; i++) {
    const h = v.hdr(i);
    if (h == Hdr.Via || (contact && h == Hdr.Contact)) store<u8>(map + <usize>i, 2);
  }
}

/** Undo markHidden (the map's other marks stay). */
export function unmarkHidden(v: MessageView, map: usize): void {
  for (let i = 0; i < v.count; i++) if (load<u8>(map + <usize>i) == 2) store<u8>(map + <usize>i, 0);
}

/** The view's Via lines, stored in the message pool (to restore them on responses); 0 when full. */
export function storeVias(v: MessageView, scratch: usize, cap: u32): u32 {
  let n: u32 = 0;
  for (let i = 0; i < v.count; i++) {
    if (v.hdr(i) != Hdr.Via || (v.flags(i) & 1) == 0) continue; // one copy per line
    const s = v.lineOff(i);
    const l = v.lineEnd(i) - s;
    if (n + l > cap) return 0;
    memory.copy(scratch + <usize>n, v.base + <usize>s, l);
    n += l;
  }
  return n == 0 ? 0 : msgPool.store(scratch, n);
}

export const CONTACT_BUF: usize = memory.data(TOPOLOGY_HIDING ? 512 : 8);

/** The stored real contact of side `side` of record r, copied to CONTACT_BUF; its length (0: none). */
export function realContact(r: i32, side: u32): u32 {
  const h = dialogContact(r, side);
  if (h == 0 || dlgPool.len(h) > 512) return 0;
  return dlgPool.copyOut(h, CONTACT_BUF);
}

// ---- privacy (RFC 3323 §5.1, RFC 3325 §9.1) ------------------------------------------------------

export const enum Priv { Id = 1, Header = 2 }

/** Privacy values the request asks for: `id` (RFC 3325), `header` or `user` (RFC 3323). */
export function privacyOf(v: MessageView): u32 {
  let f: u32 = 0;
  for (let i = v.first(Hdr.Privacy); i >= 0; i = v.next(i)) {
    const p = v.valPtr(i);
    const end = p + <usize>v.valLen(i);
    let s = p;
    for (let q = p; q <= end; q++) {
      if (q < end && load<u8>(q) != 0x3b) continue; // ";" separates priv-values
      let a = s;
      let b = q;
      while (a < b && (load<u8>(a) == 0x20 || load<u8>(a) == 0x09)) a++;
      while (b > a && (load<u8>(b - 1) == 0x20 || load<u8>(b - 1) == 0x09)) b--;
      const n = <u32>(b - a);
      if (eqText(a, n, T_K_ID)) f |= Priv.Id;
      else if (eqText(a, n, T_K_HEADER) || eqText(a, n, T_K_USER)) f |= Priv.Header;
      s = q + 1;
    }
  }
  return f;
}

const ANON: usize = memory.data(160);
const aw = new Writer();

/**
 * Privacy toward an untrusted peer: P-Asserted-Identity removed for `Privacy: id` (RFC 3325 §9.1);
 * for `Privacy: header`/`user` the From becomes anonymous (RFC 3323 §4.1.1.3) with its tag kept, so
 * the dialog is unchanged. Marks the drop map (value 2) and returns the extra From line's length in
 * ANON (0 when none), for the forward writer.
 */
export function applyPrivacy(v: MessageView, map: usize, fromTag: usize, fromTagLen: u32): u32 {
  const f = privacyOf(v);
  if (f == 0) return 0;
  if (f & Priv.Id) {
    for (let i = v.first(Hdr.PAssertedIdentity); i >= 0; i = v.next(i)) store<u8>(map + <usize>i, 2);
  }
  if ((f & Priv.Header) == 0 || fromTagLen > 100) return 0;
  const from = v.first(Hdr.From);
  if (from < 0) return 0;
  store<u8>(map + <usize>from, 2);
  aw.begin(ANON, 160);
  aw.text(T_ANON_FROM);
  if (fromTagLen != 0) {
    aw.text(T_TAG);
    aw.bytes(fromTag, fromTagLen);
  }
  aw.crlf();
  return aw.finish();
}

export { ANON };
