// SDP (RFC 4566) as the media relay reads and rewrites it (RFC 3264 offer/answer; rtpengine's and
// rtpproxy's practice). sdpParse checks a body against the grammar the relay depends on and records, per
// media section (m= line), where its port, connection address, a=rtcp and direction are; sdpRewrite then
// writes the body again with the relay's address and ports in c= (session and media level), m= and
// a=rtcp, the o= line's address replaced (what a relay hides, as rtpengine's replace-origin), ICE
// attributes removed when asked (candidates would let media bypass the relay), and every other byte —
// codecs, a=crypto, a=fingerprint, attributes we do not know, the o= version — as it came. A stream the
// offerer rejected or disabled (port 0) stays at 0; a hold address (c=0.0.0.0, RFC 2543 §B.5 / RFC 3264
// §8.4) stays as it is. The rewrite is a function of its input and the call's ports, which stay the
// same for the call: the same SDP gives the same bytes, and ours changes (its o= version with it) only
// when the party's does (RFC 3264 §8: a new version for a changed SDP).
//
// Lines end with CRLF; a lone LF is taken too (RFC 4566 §5: "parsers SHOULD be tolerant"), and written
// back as it came. Nothing is allocated: the view is a fixed record, the output a caller's buffer.

import { parseIPv4, parseIPv6, privateAddress } from "../net/addr";
import { Family } from "../net/peer";
import { MEDIA_RELAY } from "../config";
import { Writer } from "../wire/writer";
import { MessageView } from "../wire/view";
import { Hdr } from "../wire/hdr";
import { ContentTypeRepr, decodeContentType } from "../wire/headers/scalar";
import { textIs } from "../wire/scan";
import { tableAlloc } from "../util/alloc";

/** m= lines a relayed SDP may have (audio, video, a second audio ...); more is refused (488). */
export const SDP_STREAMS: i32 = 8;

export const enum SdpDir { SendRecv = 0, SendOnly = 1, RecvOnly = 2, Inactive = 3 }

// A stream (media section) record: +0 u32 m= line offset, +4 u32 port offset, +8 u16 port length,
// +10 u16 port (0: disabled), +12 u8 family of its address (media c=, else the session's; 0 none),
// +13 u8 SdpDir (media level, else the session's), +14 u8 a=rtcp-mux, +15 u8 audio, +16 u16 a=rtcp port
// (0 none), +18 u8 hold address (0.0.0.0 / ::), +20 u8[16] address.
const STREAM_SIZE: usize = 36;

@final export class SdpView {
  base: usize = 0;
  len: u32 = 0;
  streams: i32 = 0;
  /** session-level c= family (0 none), direction, hold address */
  family: u8 = 0;
  dir: u8 = 0;
  hold: bool = false;
  addr: usize = MEDIA_RELAY ? tableAlloc(16) : 0;
  recs: usize = MEDIA_RELAY ? tableAlloc(STREAM_SIZE * <usize>SDP_STREAMS) : 0;

  rec(k: i32): usize { return this.recs + <usize>k * STREAM_SIZE; }
  port(k: i32): u32 { return <u32>load<u16>(this.rec(k), 10); }
  family_(k: i32): u8 { return load<u8>(this.rec(k), 12); }
  dir_(k: i32): SdpDir { return <SdpDir>load<u8>(this.rec(k), 13); }
  mux(k: i32): bool { return load<u8>(this.rec(k), 14) != 0; }
  audio(k: i32): bool { return load<u8>(this.rec(k), 15) != 0; }
  rtcpPort(k: i32): u32 { return <u32>load<u16>(this.rec(k), 16); }
  holdAddr(k: i32): bool { return load<u8>(this.rec(k), 18) != 0; }
  addrOf(k: i32): usize { return this.rec(k) + 20; }
  /** Held or inactive: no media flows toward the party that wrote it one way or both (hold, RFC 3264 §8.4). */
  held(k: i32): bool { return this.dir_(k) != SdpDir.SendRecv || this.holdAddr(k) || this.port(k) == 0; }
}

/** The view of the SDP parsed last. */
export const sdp = MEDIA_RELAY ? new SdpView() : changetype<SdpView>(0);

function lit(p: usize, end: usize, s: string): bool {
  const n = <usize>s.length;
  if (end - p < n) return false;
  for (let i: usize = 0; i < n; i++) if (<u32>load<u8>(p + i) != <u32>s.charCodeAt(<i32>i)) return false;
  return true;
}

/** Where the line at p ends (its CR or LF), within [p, end). */
function eol(p: usize, end: usize): usize {
  while (p < end) {
    const c = load<u8>(p);
    if (c == 0x0d || c == 0x0a) return p;
    p++;
  }
  return p;
}

/** Past the line terminator at q (CRLF or LF); 0 if q is not a terminator (a lone CR, or the end). */
function nextLine(q: usize, end: usize): usize {
  if (q >= end) return 0;
  if (load<u8>(q) == 0x0a) return q + 1;
  if (q + 1 < end && load<u8>(q + 1) == 0x0a) return q + 2;
  return 0;
}

/** The next space-separated field in [p, end): its end (p when empty). */
function field(p: usize, end: usize): usize {
  while (p < end && load<u8>(p) != 0x20) p++;
  return p;
}

/** A decimal number of 1..5 digits in [p, e) below 65536, or -1. */
function port16(p: usize, e: usize): i32 {
  if (e <= p || e - p > 5) return -1;
  let v = 0;
  for (let q = p; q < e; q++) {
    const c = <i32>load<u8>(q) - 0x30;
    if (c < 0 || c > 9) return -1;
    v = v * 10 + c;
  }
  return v < 65536 ? v : -1;
}

/**
 * "IN IP4 ADDR[/TTL[/N]]" or "IN IP6 ADDR[/N]" in [p, end) (c=, and the tail of a=rtcp): the address's
 * family (4, 6; 0: it does not parse; a multicast TTL is refused: the relay is unicast), its bytes in
 * `out`, and whether it is a hold address (0.0.0.0, ::) at out+16.
 */
function connection(p: usize, end: usize, out: usize): u8 {
  if (!lit(p, end, "IN IP")) return 0;
  const v = load<u8>(p + 5);
  if ((v != 0x34 && v != 0x36) || p + 7 > end || load<u8>(p + 6) != 0x20) return 0;
  const a = p + 7;
  let e = a;
  while (e < end && load<u8>(e) != 0x2f && load<u8>(e) != 0x20) e++;
  if (e != end) return 0; // a TTL or address count (multicast), or trailing text
  memory.fill(out, 0, 16); // an IPv4 address leaves bytes 4..15 zero, whatever an IPv6 one left there
  const ok = v == 0x34 ? parseIPv4(a, <u32>(e - a), out) : parseIPv6(a, <u32>(e - a), out);
  if (!ok) return 0;
  store<u8>(out, load<u64>(out) == 0 && (v == 0x34 || load<u64>(out, 8) == 0) ? 1 : 0, 16);
  return v == 0x34 ? <u8>Family.V4 : <u8>Family.V6;
}
const CONN: usize = MEDIA_RELAY ? tableAlloc(17) : 0;

function direction(p: usize, end: usize): i32 {
  if (lit(p, end, "a=sendrecv") && end - p == 10) return SdpDir.SendRecv;
  if (lit(p, end, "a=sendonly") && end - p == 10) return SdpDir.SendOnly;
  if (lit(p, end, "a=recvonly") && end - p == 10) return SdpDir.RecvOnly;
  if (lit(p, end, "a=inactive") && end - p == 10) return SdpDir.Inactive;
  return -1;
}

/** An ICE attribute (RFC 8839 §5): candidate, remote-candidates, ice-ufrag, ice-pwd, ice-options,
 * ice-lite, ice-mismatch, ice-pacing, end-of-candidates. */
export function iceLine(p: usize, end: usize): bool {
  return lit(p, end, "a=candidate:") || lit(p, end, "a=remote-candidates") || lit(p, end, "a=ice-") ||
    lit(p, end, "a=end-of-candidates");
}

/**
 * Parse the SDP at [p, p+len) into `sdp`. True when it is one the relay can rewrite: v=0 first, then
 * o= (six fields, IN IP4/IP6), s=, at least one t=, every line "x=..." with a lower-case type letter, each
 * m= line "media port[/n] proto fmt...", at most SDP_STREAMS of them, each with a unicast c= of its own
 * or the session's when its port is not 0 (RFC 4566 §5.7), a=rtcp a port (RFC 3605).
 */
export function sdpParse(p: usize, len: u32): bool {
  const v = sdp;
  v.base = p;
  v.len = len;
  v.streams = 0;
  v.family = 0;
  v.dir = <u8>SdpDir.SendRecv;
  v.hold = false;
  const end = p + <usize>len;
  let n = 0; // lines
  let times = 0;
  let k = -1; // the stream the lines belong to (-1: session level)
  let q = p;
  while (q < end) {
    const e = eol(q, end);
    const next = nextLine(e, end);
    if (next == 0) return false; // the last line has no terminator, or a lone CR
    if (e - q < 2 || load<u8>(q + 1) != 0x3d) return false; // "x=" and a value
    const t = <u32>load<u8>(q);
    if (t < 0x61 || t > 0x7a) return false;
    if (n == 0 && !(t == 0x76 && e - q == 3 && load<u8>(q + 2) == 0x30)) return false; // v=0
    if (n == 1 && t != 0x6f) return false;
    if (n == 2 && t != 0x73) return false;
    if (t == 0x6f) {
      if (n != 1) return false;
      let f = q + 2;
      for (let i = 0; i < 4; i++) { // username, sess-id, sess-version, nettype
        const fe = field(f, e);
        if (fe == f || fe >= e) return false;
        f = fe + 1;
      }
      if (!lit(f - 3, e, "IN ")) return false;
      if (!lit(f, e, "IP4 ") && !lit(f, e, "IP6 ")) return false;
    } else if (t == 0x74) {
      if (k >= 0) return false;
      times++;
    } else if (t == 0x6d) {
      if (times == 0 || ++k >= SDP_STREAMS) return false;
      const r = v.rec(k);
      memory.fill(r, 0, STREAM_SIZE);
      store<u32>(r, <u32>(q - p));
      const mt = q + 2;
      const me = field(mt, e);
      if (me == mt || me >= e) return false;
      store<u8>(r, lit(mt, e, "audio ") ? 1 : 0, 15);
      const pp = me + 1;
      let pe = pp;
      while (pe < e && load<u8>(pe) != 0x20 && load<u8>(pe) != 0x2f) pe++;
      const port = port16(pp, pe);
      if (port < 0) return false;
      if (pe < e && load<u8>(pe) == 0x2f) { // port/number of ports
        const ne = field(pe, e);
        if (port16(pe + 1, ne) < 1) return false;
        pe = ne;
      }
      store<u32>(r, <u32>(pp - p), 4);
      store<u16>(r, <u16>(pe - pp), 8);
      store<u16>(r, <u16>port, 10);
      store<u8>(r, v.dir, 13);
      if (pe >= e) return false;
      const pr = pe + 1; // proto and at least one format
      const pre = field(pr, e);
      if (pre == pr || pre >= e || pre + 1 >= e) return false;
      v.streams = k + 1;
    } else if (t == 0x63) {
      const fam = connection(q + 2, e, CONN);
      if (fam == 0) return false;
      if (k < 0) {
        v.family = fam;
        memory.copy(v.addr, CONN, 16);
        v.hold = load<u8>(CONN, 16) != 0;
      } else {
        const r = v.rec(k);
        store<u8>(r, fam, 12);
        store<u8>(r, load<u8>(CONN, 16), 18);
        memory.copy(r + 20, CONN, 16);
      }
    } else if (t == 0x61) {
      const d = direction(q, e);
      if (d >= 0) {
        if (k < 0) v.dir = <u8>d;
        else store<u8>(v.rec(k), <u8>d, 13);
      } else if (k >= 0 && lit(q, e, "a=rtcp-mux") && e - q == 10) {
        store<u8>(v.rec(k), 1, 14);
      } else if (k >= 0 && lit(q, e, "a=rtcp:")) {
        const pe = field(q + 7, e);
        const port = port16(q + 7, pe);
        if (port <= 0) return false;
        store<u16>(v.rec(k), <u16>port, 16);
      }
    }
    n++;
    q = next;
  }
  if (n < 3 || times == 0) return false;
  for (let s = 0; s < v.streams; s++) {
    const r = v.rec(s);
    if (load<u8>(r, 12) == 0) {
      if (v.family == 0) { if (load<u16>(r, 10) != 0) return false; continue; } // no address for a live stream
      store<u8>(r, v.family, 12);
      store<u8>(r, v.hold ? 1 : 0, 18);
      memory.copy(r + 20, v.addr, 16);
    }
  }
  return true;
}

/** What sdpRewrite writes for stream k: its relay port (0: keep the party's, a disabled stream's 0). */
export const RW_PORTS: usize = MEDIA_RELAY ? tableAlloc(<usize>SDP_STREAMS * 4) : 0;

/**
 * The SDP parsed last (sdp) written to [out, out+cap) for the other party: the relay's address `addr`
 * (text, addrLen bytes; `six` for IPv6) in every c= that is not a hold address and in the o= line, each
 * stream's port from RW_PORTS (a stream whose port is 0 stays 0) in its m= line and in a=rtcp (port + 1,
 * or the port itself under rtcp-mux; "IN IP4 addr" after it replaced too), ICE lines dropped when
 * `dropIce`, every other byte as it came. Returns the bytes written, 0 when they do not fit (Writer).
 */
export function sdpRewrite(out: usize, cap: u32, addr: usize, addrLen: u32, six: bool, dropIce: bool): u32 {
  const v = sdp;
  const p = v.base;
  const end = p + <usize>v.len;
  const w = sw.begin(out, cap);
  let k = -1;
  let q = p;
  while (q < end) {
    const e = eol(q, end);
    const next = nextLine(e, end);
    const t = load<u8>(q);
    let from = q; // the bytes of the line still to copy as they are: [from, next)
    if (t == 0x6d) k++;
    if (t == 0x61 && dropIce && iceLine(q, e)) { q = next; continue; }
    const port: u32 = k >= 0 ? load<u32>(RW_PORTS + <usize>k * 4) : 0;
    const live = k >= 0 && port != 0 && v.port(k) != 0;
    if (t == 0x6d && live) {
      const r = v.rec(k);
      const pp = p + <usize>load<u32>(r, 4);
      w.bytes(q, <u32>(pp - q));
      w.u32(port);
      from = pp + <usize>load<u16>(r, 8);
    } else if (t == 0x63 && (k < 0 || v.port(k) != 0)) {
      // a hold address stays; so does a disabled stream's
      if (!(k < 0 ? v.hold : v.holdAddr(k)) && (k >= 0 ? live : true)) {
        w.bytes(q, 2);
        connText(w, addr, addrLen, six);
        from = e;
      }
    } else if (t == 0x6f) {
      // o=user id version IN IPx ADDR: the address is the relay's
      let f = q + 2;
      for (let i = 0; i < 4; i++) f = field(f, e) + 1;
      w.bytes(q, <u32>(f - q));
      connText(w, addr, addrLen, six, false);
      from = e;
    } else if (t == 0x61 && live && lit(q, e, "a=rtcp:")) {
      w.bytes(q, 7);
      w.u32(v.mux(k) ? port : port + 1);
      const pe = field(q + 7, e);
      if (pe < e) { // "a=rtcp:port IN IP4 addr"
        w.bytes(pe, 1);
        connText(w, addr, addrLen, six);
      }
      from = e;
    }
    w.bytes(from, <u32>(next - from));
    q = next;
  }
  return w.finish();
}
const sw = MEDIA_RELAY ? new Writer() : changetype<Writer>(0);

/** "IN IP4 addr" (or just "IP4 addr" after the o= line's nettype when `net` is false). */
function connText(w: Writer, addr: usize, addrLen: u32, six: bool, net: bool = true): void {
  if (net) w.lit("IN ");
  w.lit(six ? "IP6 " : "IP4 ");
  w.bytes(addr, addrLen);
}

const CT = MEDIA_RELAY ? new ContentTypeRepr() : changetype<ContentTypeRepr>(0);

/** Whether message v carries SDP: a body, and a Content-Type application/sdp (any case, parameters
 * allowed, RFC 3261 §20.15). */
export function sdpBody(v: MessageView): bool {
  const h = v.first(Hdr.ContentType);
  if (!MEDIA_RELAY || v.bodyLen == 0 || h < 0) return false;
  const p = v.valPtr(h);
  return decodeContentType(p, p + <usize>v.valLen(h), CT) && textIs(CT.type, CT.typeLen, "application") &&
    textIs(CT.subtype, CT.subtypeLen, "sdp");
}

/** The SDP parsed last names a private address (net/addr.ts privateAddress) for a live stream: its
 * party is behind NAT. */
export function sdpPrivate(): bool {
  const v = sdp;
  for (let k = 0; k < v.streams; k++) {
    if (v.port(k) != 0 && !v.holdAddr(k) && privateAddress(v.family_(k), v.addrOf(k))) return true;
  }
  return false;
}
