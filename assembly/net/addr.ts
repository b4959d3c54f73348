// IP address text <-> the peer record's 16 address bytes, and a small table of host names that the
// host resolves (family 0 destinations). No allocation.

import { Ch, Cls, is, hexValue } from "../util/chars";
import { Peer, Family } from "./peer";
import { MAX_NAMES, NAME_CAP, USER_AGENT } from "../config";
import { eqBytesI, parseUint } from "../wire/scan";
import { Writer } from "../wire/writer";
import { hexDigit } from "../crypto/hex";

/** Parse dotted IPv4 [p, p+len) into 4 bytes at out. */
export function parseIPv4(p: usize, len: u32, out: usize): bool {
  const end = p + <usize>len;
  let part: u32 = 0;
  let digits = 0;
  let n = 0;
  for (let q = p; q <= end; q++) {
    const c = q < end ? <u32>load<u8>(q) : <u32>Ch.DOT;
    if (c == Ch.DOT) {
      if (digits == 0 || n >= 4) return false;
      store<u8>(out + <usize>n, <u8>part);
      n++;
      part = 0;
      digits = 0;
    } else {
      const d = c - Ch.D0;
      if (d > 9 || ++digits > 3) return false;
      part = part * 10 + d;
      if (part > 255) return false;
    }
  }
  return n == 4;
}

/** Parse an IPv6 address (brackets allowed, IPv4 tail allowed) into 16 bytes at out. */
export function parseIPv6(p: usize, len: u32, out: usize): bool {
  let end = p + <usize>len;
  if (len >= 2 && load<u8>(p) == Ch.LBRACKET && load<u8>(end - 1) == Ch.RBRACKET) {
    p++;
    end--;
  }
  memory.fill(out, 0, 16);
  let n = 0; // groups written
  let gap = -1; // group index of "::"
  let q = p;
  if (q + 1 < end && load<u8>(q) == Ch.COLON && load<u8>(q + 1) == Ch.COLON) {
    gap = 0;
    q += 2;
  }
  while (q < end) {
    const g = q;
    let v: u32 = 0;
    let digits = 0;
    while (q < end && is(<u32>load<u8>(q), Cls.HEX)) {
      v = (v << 4) | hexValue(<u32>load<u8>(q));
      if (++digits > 4) return false;
      q++;
    }
    // a '.' after the digits: an IPv4 tail from g to the end (its first part is decimal digits, which
    // are hex digits, so the loop above stops at its first '.')
    if (q < end && load<u8>(q) == Ch.DOT) {
      if (n > 6 || !parseIPv4(g, <u32>(end - g), out + <usize>(n * 2))) return false;
      n += 2;
      break;
    }
    if (digits == 0 || n >= 8) return false;
    store<u8>(out + <usize>(n * 2), <u8>(v >> 8));
    store<u8>(out + <usize>(n * 2 + 1), <u8>v);
    n++;
    if (q == end) break;
    if (load<u8>(q) != Ch.COLON) return false;
    q++;
    if (q < end && load<u8>(q) == Ch.COLON) {
      if (gap >= 0) return false;
      gap = n;
      q++;
    }
  }
  if (gap < 0) return n == 8;
  if (n > 7) return false;
  // move the groups after the gap to the end, zeros in their place (n < 8: shift >= 2 bytes)
  const at = out + <usize>(gap * 2);
  const shift = <usize>((8 - n) * 2);
  memory.copy(at + shift, at, <usize>((n - gap) * 2));
  memory.fill(at, 0, shift);
  return true;
}

/**
 * Set the peer's address from host text (IPv4, [IPv6] or a name) and port. False for a name the core
 * cannot keep (empty, or longer than NAME_CAP): the peer is then no destination.
 */
export function peerFromHost(peer: Peer, host: usize, hostLen: u32, port: u32): bool {
  peer.port = <u16>port;
  peer.a0 = 0;
  peer.a1 = 0;
  if (parseIPv4(host, hostLen, peer.addr)) {
    peer.family = <u8>Family.V4;
  } else if (hostLen > 0 && hasColon(host, hostLen) && parseIPv6(host, hostLen, peer.addr)) {
    peer.family = <u8>Family.V6;
  } else {
    peer.family = <u8>Family.Name;
    peer.a0 = nameIntern(host, hostLen);
    return peer.a0 != 0;
  }
  return true;
}

/**
 * A configured address "IPv4:port" or "[IPv6]:port" [p, p+len) into peer (transport 0: the sender picks
 * one of its family); false when it is neither (names are not taken here: the host resolves them).
 */
export function peerFromText(peer: Peer, p: usize, len: u32): bool {
  let colon = -1;
  for (let k = <i32>len - 1; k >= 0; k--) if (load<u8>(p + <usize>k) == Ch.COLON) { colon = k; break; }
  if (colon <= 0) return false;
  const port = parseUint(p + <usize>colon + 1, p + <usize>len, 65535);
  if (port <= 0) return false;
  peer.clear();
  peer.port = <u16>port;
  if (parseIPv4(p, <u32>colon, peer.addr)) peer.family = <u8>Family.V4;
  else if (load<u8>(p) == Ch.LBRACKET && parseIPv6(p, <u32>colon, peer.addr)) peer.family = <u8>Family.V6;
  else return false;
  return true;
}

function hasColon(p: usize, len: u32): bool {
  for (let i: u32 = 0; i < len; i++) if (load<u8>(p + <usize>i) == Ch.COLON) return true;
  return false;
}

// ---- names the host must resolve ---------------------------------------------------------------
// A destination that is a host name lives in this table; the peer record holds a reference to it: the
// slot + 1 in the low 32 bits, the slot's generation in the high 32 (0 = none). With every slot taken a
// new name replaces the least recently used one and the slot's generation changes, so a message whose
// name was replaced (a retransmission, an ACK or CANCEL of an old transaction) is not sent at all —
// nameCopy answers 0 — instead of going to the name that took its slot.

const names: usize = memory.data(MAX_NAMES * NAME_CAP);
const nameLens: usize = memory.data(MAX_NAMES);
const nameGens: usize = memory.data(MAX_NAMES * 4);
const nameUsed: usize = memory.data(MAX_NAMES * 4);
let nameClock: u32 = 0;

export function namesReset(): void {
  memory.fill(nameLens, 0, MAX_NAMES);
  memory.fill(nameUsed, 0, MAX_NAMES * 4);
  nameClock = 0;
}

// a slot whose use mark is PINNED (a configured name: peerFromConfig, only where the user agent
// configures destinations) is never the least recently used
const PINNED: u32 = 0xffffffff;

function nameRef(i: u32): u64 {
  const u = nameUsed + <usize>(i * 4);
  if (!USER_AGENT || load<u32>(u) != PINNED) store<u32>(u, ++nameClock);
  return (<u64>load<u32>(nameGens + <usize>(i * 4)) << 32) | <u64>(i + 1);
}

/** A reference to the name (case-insensitive), entering it when new; 0 when it cannot be kept. */
export function nameIntern(p: usize, len: u32): u64 {
  if (len == 0 || len > <u32>NAME_CAP) return 0;
  let victim: u32 = 0;
  for (let i: u32 = 0; i < <u32>MAX_NAMES; i++) {
    if (eqBytesI(names + <usize>(i * NAME_CAP), <u32>load<u8>(nameLens + <usize>i), p, len)) return nameRef(i);
    if (load<u32>(nameUsed + <usize>(i * 4)) < load<u32>(nameUsed + <usize>(victim * 4))) victim = i;
  }
  if (USER_AGENT && load<u32>(nameUsed + <usize>(victim * 4)) == PINNED) return 0; // every slot holds a configured name
  const g = nameGens + <usize>(victim * 4);
  store<u32>(g, load<u32>(g) + 1);
  memory.copy(names + <usize>(victim * NAME_CAP), p, len);
  store<u8>(nameLens + <usize>victim, <u8>len);
  return nameRef(victim);
}

/**
 * A configured destination "IPv4:port", "[IPv6]:port", or a host name with or without ":port" (letters,
 * digits, '-' and '.', at least one letter) into peer: a name is entered in the table for good (never
 * replaced by the names messages bring), the host resolves it at each send (RFC 3263 without a port).
 * False when it is none of these, or when the table holds only configured names.
 */
export function peerFromConfig(peer: Peer, p: usize, len: u32): bool {
  if (peerFromText(peer, p, len)) return true;
  let n = len;
  let letter = false;
  for (let k: u32 = 0; k < len; k++) {
    const c = <u32>load<u8>(p + <usize>k);
    if (c == Ch.COLON) { n = k; break; }
    if (is(c, Cls.ALPHA)) letter = true;
    else if (!is(c, Cls.DIGIT) && c != Ch.DOT && c != 0x2d) return false;
  }
  let port: i64 = 0;
  if (n < len) {
    port = parseUint(p + <usize>n + 1, p + <usize>len, 65535);
    if (port <= 0) return false;
  }
  peer.clear();
  if (!letter || !peerFromHost(peer, p, n, <u32>port)) return false;
  store<u32>(nameUsed + <usize>((<u32>peer.a0 - 1) * 4), PINNED);
  return true;
}

/** Copy the name `ref` refers to to out; its length, or 0 when that name is no longer kept. */
export function nameCopy(ref: u64, out: usize): u32 {
  const i = <u32>ref - 1;
  if (i >= <u32>MAX_NAMES || <u32>(ref >> 32) != load<u32>(nameGens + <usize>(i * 4))) return 0;
  const len = <u32>load<u8>(nameLens + <usize>i);
  memory.copy(out, names + <usize>(i * NAME_CAP), len);
  nameRef(i);
  return len;
}

/**
 * A private, shared or link-local address (`a`: the 16 address bytes of a peer record, IPv4 in the
 * first 4): where a party behind NAT sits (RFC 1918 10/8, 172.16/12, 192.168/16; RFC 6598 100.64/10;
 * 169.254/16; RFC 4193 fc00::/7; fe80::/10; and those IPv4 ranges as IPv4-mapped IPv6). Loopback is
 * not one (a concrete address).
 */
export function privateAddress(family: u8, a: usize): bool {
  if (family == <u8>Family.V6) {
    const b0 = <u32>load<u8>(a);
    if ((b0 & 0xfe) == 0xfc) return true;
    if (b0 == 0xfe && (<u32>load<u8>(a, 1) & 0xc0) == 0x80) return true;
    // ::ffff:a.b.c.d
    if (load<u64>(a) != 0 || load<u16>(a, 8) != 0 || load<u16>(a, 10) != 0xffff) return false;
    a += 12;
  } else if (family != <u8>Family.V4) {
    return false;
  }
  const x = <u32>load<u8>(a);
  const y = <u32>load<u8>(a, 1);
  return x == 10 || (x == 172 && (y & 0xf0) == 16) || (x == 192 && y == 168) ||
    (x == 100 && (y & 0xc0) == 64) || (x == 169 && y == 254);
}

/** Write the source address as text (IPv4 dotted, IPv6 hex groups). */
export function writeIp(w: Writer, p: Peer): void {
  const a = p.addr;
  if (p.family == Family.V4) {
    for (let i: usize = 0; i < 4; i++) {
      if (i > 0) w.byte(Ch.DOT);
      w.u32(<u32>load<u8>(a + i));
    }
    return;
  }
  w.byte(Ch.LBRACKET);
  for (let i: usize = 0; i < 8; i++) {
    if (i > 0) w.byte(Ch.COLON);
    const g = (<u32>load<u8>(a + i * 2) << 8) | <u32>load<u8>(a + i * 2 + 1);
    writeHex(w, g);
  }
  w.byte(Ch.RBRACKET);
}

function writeHex(w: Writer, v: u32): void {
  let started = false;
  for (let s = 12; s >= 0; s -= 4) {
    const d = (v >> <u32>s) & 15;
    if (d == 0 && !started && s > 0) continue;
    started = true;
    w.byte(hexDigit(d));
  }
}
