// The media relay's sessions and legs (docs/ABI.md "Media relay"): which ports of the host forward
// between which parties, decided here; the host binds and forwards. A session is a call's media (the
// B2BUA's call record index); each of its streams (m= line) has two legs, one facing each party. A
// party sends to the port of the leg facing it, and that leg's peer is where the party receives (the
// address and port of its SDP; the host latches the source of its packets). So an SDP from party X sets
// the peers of X's legs and is written for the other party with the ports of the other party's legs
// (relaySdp): the same rule for offers and answers, in INVITE, 18x, 2xx, ACK, UPDATE and re-INVITE.
//
// Legs are taken from a first-in first-out ring (a port pair freed last is reused last: stray packets
// of a call that ended do not reach the next); each leg's port pair is RelayPortMin + 2 × index. The host
// learns of changes by polling (sip_poll_relay): a leg that changed is queued once (a pending flag), so
// the queue of changes never overflows and nothing is lost between two polls. A leg closed stays taken
// until its Close has been polled. Every table is fixed at start-up; an offer that finds no free leg is
// refused (the caller answers 503), never passed through unrelayed.
//
// Interfaces (rtpengine's interface=): the relay has up to RELAY_IFACES, each with an address of each
// family that SDP advertises (which may differ from the address the host binds: 1:1 NAT). Each party of
// a session has one (relaySdp's ifaces: a B2BUA side's, a proxy party's by its network, RelayAddress `net`;
// interface 0 by default): its legs are bound on it (the record's iface) and the SDP it receives names
// it. A configuration with one interface behaves as the relay always did.

import { MEDIA_RELAY, RELAY_LEGS, RELAY_SESSIONS, RELAY_IFACES, RELAY_NETS, MAX_MSG } from "../config";
import { RelayOp, RelayFlag } from "../host/numbers";
import { parseIPv4, parseIPv6 } from "../net/addr";
import { Family, Peer } from "../net/peer";
import { sdp, sdpParse, sdpRewrite, RW_PORTS, SDP_STREAMS } from "./sdp";
import { zeroTable } from "../util/zero";
import { cidrParse, cidrHolds } from "../policy/acl";
import { tableAlloc } from "../util/alloc";

/** What relaySdp returns when the SDP does not parse (the caller answers 488, RFC 3261 §21.4.26). */
export const SDP_BAD: i32 = -488;
/** What relaySdp returns when no leg is free (the caller answers 503). */
export const SDP_FULL: i32 = -503;

// configuration (sip_cfg_set / sip_cfg_add)
@final class RelayConfig {
  mode: u32 = 0; // CfgKey.MediaRelay: 0 never, 1 always, 2 behind NAT (the proxy)
  portMin: u32 = 0;
  legs: i32 = 0; // usable: min(RELAY_LEGS, range / 2)
  idle: u32 = 60;
  holdIdle: u32 = 3600;
  keepIce: bool = false;
}
export const relayConfig = MEDIA_RELAY ? new RelayConfig() : changetype<RelayConfig>(0);
const ADDR_CAP: u32 = 46;
// each interface's advertised addresses as text (for SDP): 128 B per interface, +0 IPv4, +64 IPv6,
// each +0 u8 length, +1 text
const addrs: usize = MEDIA_RELAY ? tableAlloc(<usize>RELAY_IFACES * 128) : 0;
function addrText(iface: i32, six: bool): usize { return addrs + <usize>iface * 128 + (six ? 64 : 0); }
// networks (RelayAddress `net IFACE CIDR`), 20 B each, as the access lists' entries (policy/acl.ts): +0 u8
// family (0 unused), +1 u8 prefix bits, +2 u8 interface, +4 u8[16] address (masked)
const NET_SIZE: usize = 20;
const nets: usize = MEDIA_RELAY ? tableAlloc(<usize>RELAY_NETS * NET_SIZE) : 0;

// Leg record: +0 u8 state (LegState), +1 u8 queued, +2 u16 flags (RelayFlag), +4 u32 partner,
// +8 u8 peer family (0 unknown), +9 u8 local family, +10 u16 peer port, +12 u16 peer RTCP port,
// +14 u8 held by its party, +15 u8 interface, +16 u8[16] peer address, +32 u32 session, +36 u8 Call-ID length, +40 Call-ID.
const CALLID_CAP: u32 = 64;
const LEG_SIZE: usize = 40 + <usize>CALLID_CAP;
const enum LegState { Free = 0, Open = 1, Closing = 2 }
const legs: usize = MEDIA_RELAY ? tableAlloc(<usize>RELAY_LEGS * LEG_SIZE) : 0;
function leg(l: i32): usize { return legs + <usize>l * LEG_SIZE; }
// free legs, first in first out; changed legs to report (each at most once: its queued flag)
const freeRing: usize = MEDIA_RELAY ? tableAlloc(<usize>RELAY_LEGS * 4) : 0;
let freeHead: u32 = 0;
let freeCount: u32 = 0;
const dirtyRing: usize = MEDIA_RELAY ? tableAlloc(<usize>RELAY_LEGS * 4) : 0;
let dirtyHead: u32 = 0;
let dirtyCount: u32 = 0;
// Session record: u32 × 2 × SDP_STREAMS, leg index + 1 of each stream's side 0 (A) and side 1 (B) legs.
const SESSION_SIZE: usize = <usize>SDP_STREAMS * 8;
const sessions: usize = MEDIA_RELAY ? tableAlloc(<usize>RELAY_SESSIONS * SESSION_SIZE) : 0;
function slot(s: i32, k: i32, side: i32): usize { return sessions + <usize>s * SESSION_SIZE + <usize>(k * 2 + side) * 4; }

/** The record the host reads after sip_poll_relay (docs/ABI.md). */
export const RELAY_OUT: usize = MEDIA_RELAY ? tableAlloc(48 + 128) : 0;
/** Where relaySdp writes the rewritten SDP (its length returned). */
export const SDP_OUT_CAP: u32 = MAX_MSG < 8192 ? <u32>MAX_MSG : 8192; // a body larger than a message cannot be sent
export const SDP_OUT: usize = MEDIA_RELAY ? tableAlloc(SDP_OUT_CAP) : 0;
let inUse: i32 = 0;

/** Forget every leg and session (sip_init); the ports configured stay. */
export function relayReset(): void {
  if (!MEDIA_RELAY) return;
  zeroTable(legs, <usize>RELAY_LEGS * LEG_SIZE);
  zeroTable(sessions, <usize>RELAY_SESSIONS * SESSION_SIZE);
  memory.fill(nets, 0, <usize>RELAY_NETS * NET_SIZE);
  dirtyHead = dirtyCount = 0;
  inUse = 0;
  relayConfig.mode = 0;
  relayConfig.idle = 60;
  relayConfig.holdIdle = 3600;
  relayConfig.keepIce = false;
  relayConfig.portMin = 0;
  memory.fill(addrs, 0, <usize>RELAY_IFACES * 128);
  relayPorts(0, 0);
}

/** The port range (sip_cfg_set RelayPortMin/Max): the usable legs are rebuilt. False: a bad range. */
export function relayPorts(lo: u32, hi: u32): bool {
  if (lo != 0 && ((lo & 1) != 0 || hi < lo + 1 || hi > 65535)) return false;
  relayConfig.portMin = lo;
  const pairs = lo == 0 ? 0 : (hi - lo + 1) >> 1;
  relayConfig.legs = <i32>min<u32>(pairs, <u32>RELAY_LEGS);
  freeHead = 0;
  freeCount = 0;
  for (let l = 0; l < relayConfig.legs; l++) if (load<u8>(leg(l)) == LegState.Free) freeGive(l);
  return true;
}

/** The interface number `N ` that starts text [p, p+len) (one digit and a space), or -1: none. */
function ifacePrefix(p: usize, len: u32): i32 {
  if (len < 3 || load<u8>(p, 1) != 0x20) return -1;
  return <i32>load<u8>(p) - 0x30;
}

/** An advertised address of the relay (cfg kind RelayAddress): `[IFACE ]ADDRESS`, IFACE 0 ..
 * RELAY_IFACES - 1 (default 0), ADDRESS IPv4 or IPv6 text; or `net IFACE CIDR` (relayNetwork). False
 * when it does not parse. */
export function relayAddress(p: usize, len: u32): bool {
  if (len > 4 && load<u32>(p) == 0x2074656e) return relayNetwork(p + 4, len - 4); // "net "
  let iface = ifacePrefix(p, len);
  if (iface >= 0) { p += 2; len -= 2; } else iface = 0;
  if (len == 0 || len > ADDR_CAP || iface >= RELAY_IFACES) return false;
  const tmp = RELAY_OUT; // scratch: nothing is queued during configuration
  const six = parseIPv6(p, len, tmp);
  if (!six && !parseIPv4(p, len, tmp)) return false;
  const a = addrText(iface, six);
  store<u8>(a, <u8>len);
  memory.copy(a + 1, p, len);
  return true;
}

/** A network of the relay's parties (cfg kind RelayAddress `net IFACE CIDR`): `IFACE CIDR`, a proxy leg toward a party
 * whose signalling address is inside CIDR (IPv4 or IPv6, /bits optional) is on interface IFACE (the
 * first network that matches). False when it does not parse, or the table is full. */
export function relayNetwork(p: usize, len: u32): bool {
  const iface = ifacePrefix(p, len);
  if (iface < 0 || iface >= RELAY_IFACES) return false;
  let n = 0;
  while (n < RELAY_NETS && load<u8>(nets + <usize>n * NET_SIZE) != 0) n++;
  if (n == RELAY_NETS) return false;
  // the entry as the access lists' (policy/acl.ts cidrParse), its interface in their unused byte
  const e = nets + <usize>n * NET_SIZE;
  if (!cidrParse(p + 2, len - 2, e)) { store<u8>(e, 0); return false; }
  store<u8>(e, <u8>iface, 2);
  return true;
}

/** The interface of a party reached at `peer` (the first network, RelayAddress `net`, holding its address), or 0. */
export function relayIfaceOf(peer: Peer): u8 {
  if (!MEDIA_RELAY) return 0;
  for (let n = 0; n < RELAY_NETS; n++) {
    const e = nets + <usize>n * NET_SIZE;
    if (load<u8>(e) == 0) break;
    if (cidrHolds(e, peer)) return load<u8>(e, 2);
  }
  return 0;
}

/** The relay can take calls: an address of the first interface and a port range configured. */
export function relayReady(): bool {
  return MEDIA_RELAY && relayConfig.legs > 0 && (load<u8>(addrText(0, false)) != 0 || load<u8>(addrText(0, true)) != 0);
}

export function relayLegsInUse(): i32 { return inUse; }
export function relayLegCapacity(): i32 { return MEDIA_RELAY ? relayConfig.legs : 0; }

function freeGive(l: i32): void {
  store<u32>(freeRing + <usize>((freeHead + freeCount) % <u32>RELAY_LEGS) * 4, <u32>l);
  freeCount++;
}

function freeTake(): i32 {
  if (freeCount == 0) return -1;
  const l = <i32>load<u32>(freeRing + <usize>freeHead * 4);
  freeHead = (freeHead + 1) % <u32>RELAY_LEGS;
  freeCount--;
  return l;
}

function queue(l: i32): void {
  const r = leg(l);
  if (load<u8>(r, 1) != 0) return;
  store<u8>(r, 1, 1);
  store<u32>(dirtyRing + <usize>((dirtyHead + dirtyCount) % <u32>RELAY_LEGS) * 4, <u32>l);
  dirtyCount++;
}

/** The family of interface iface's address written for a party whose signalling comes over `family`:
 * that family's address when the interface has one, else the other. */
function localFamily(iface: i32, family: u8): u8 {
  const want6 = family == Family.V6;
  return <u8>(load<u8>(addrText(iface, want6)) != 0 ? (want6 ? Family.V6 : Family.V4) : (want6 ? Family.V4 : Family.V6));
}

/** The interface of party `side` in `ifaces` (party 0's | party 1's << 8): it when it has an address, else 0. */
function partyIface(ifaces: u32, side: i32): i32 {
  const i = <i32>(ifaces >> (<u32>side << 3)) & 0xff;
  return i < RELAY_IFACES && (load<u8>(addrText(i, false)) != 0 || load<u8>(addrText(i, true)) != 0) ? i : 0;
}

/**
 * An SDP from party `side` (0: A, the caller; 1: B) of session `s` (the body at [p, p+len)), which goes
 * to the other party, whose signalling address has family `toFamily`: the peers of `side`'s legs set
 * from it (legs taken for new streams; both legs of each), and the SDP rewritten in SDP_OUT with the
 * other party's legs' ports and the relay's address. Returns the rewritten length, SDP_BAD (488) when
 * it does not parse, SDP_FULL (503) when no leg is free or the result does not fit. `callId` names the
 * call in the host's usage records; `ifaces` the relay interfaces of party 0 and party 1 (<< 8), of the
 * legs taken for new streams and of the address written.
 */
export function relaySdp(s: i32, side: i32, p: usize, len: u32, toFamily: u8, callId: usize, callIdLen: u32, ifaces: u32): i32 {
  if (!MEDIA_RELAY || s < 0 || s >= RELAY_SESSIONS) return SDP_FULL;
  if (!sdpParse(p, len)) return SDP_BAD;
  const v = sdp;
  const fromFamily = v.streams > 0 ? v.family_(0) : <u8>Family.V4;
  // legs for streams new to the session: both sides, or none (refused whole)
  let need = 0;
  for (let k = 0; k < v.streams; k++) if (load<u32>(slot(s, k, 0)) == 0 && v.port(k) != 0) need += 2;
  if (<u32>need > freeCount) return SDP_FULL;
  const other = 1 - side;
  const fromIface = partyIface(ifaces, side);
  const toIface = partyIface(ifaces, other);
  for (let k = 0; k < v.streams; k++) {
    let mine = <i32>load<u32>(slot(s, k, side)) - 1;
    let theirs = <i32>load<u32>(slot(s, k, other)) - 1;
    if (mine < 0 && v.port(k) == 0) { store<u32>(RW_PORTS + <usize>k * 4, 0); continue; }
    if (mine < 0) {
      mine = take(s, k, side, fromIface, callId, callIdLen);
      theirs = take(s, k, other, toIface, callId, callIdLen);
      store<u32>(leg(mine), <u32>theirs, 4);
      store<u32>(leg(theirs), <u32>mine, 4);
      // the leg facing the party that wrote this SDP binds on that party's family; the other on the
      // family of the address we write for the receiver
      store<u8>(leg(mine), localFamily(fromIface, fromFamily), 9);
      store<u8>(leg(theirs), localFamily(toIface, toFamily), 9);
    }
    const r = leg(mine);
    if (v.port(k) == 0 || v.holdAddr(k)) {
      store<u8>(r, 0, 8); // nothing goes to a party that rejected the stream, or holds with 0.0.0.0
      store<u16>(r, 0, 10);
    } else {
      store<u8>(r, v.family_(k), 8);
      memory.copy(r + 16, v.addrOf(k), 16);
      store<u16>(r, <u16>v.port(k), 10);
      const rtcp = v.rtcpPort(k);
      store<u16>(r, <u16>(v.mux(k) ? v.port(k) : rtcp != 0 ? rtcp : v.port(k) + 1), 12);
    }
    store<u8>(r, v.held(k) ? 1 : 0, 14);
    const t = leg(theirs);
    const flags: u16 = (v.mux(k) ? <u16>RelayFlag.RtcpMux : 0) | (v.audio(k) ? 0 : <u16>RelayFlag.Video) |
      (load<u8>(r, 14) != 0 || load<u8>(t, 14) != 0 ? <u16>RelayFlag.Held : 0);
    store<u16>(r, flags, 2);
    store<u16>(t, flags, 2);
    queue(mine);
    queue(theirs);
    store<u32>(RW_PORTS + <usize>k * 4, relayConfig.portMin + 2 * <u32>theirs);
  }
  const six = localFamily(toIface, toFamily) == Family.V6;
  const a = addrText(toIface, six);
  const n = sdpRewrite(SDP_OUT, SDP_OUT_CAP, a + 1, <u32>load<u8>(a), six, !relayConfig.keepIce);
  return n == 0 ? SDP_FULL : <i32>n;
}

function take(s: i32, k: i32, side: i32, iface: i32, callId: usize, callIdLen: u32): i32 {
  const l = freeTake();
  const r = leg(l);
  memory.fill(r, 0, LEG_SIZE);
  store<u8>(r, LegState.Open);
  store<u8>(r, <u8>iface, 15);
  store<u32>(r, <u32>s, 32);
  const n = min<u32>(callIdLen, CALLID_CAP);
  store<u8>(r, <u8>n, 36);
  memory.copy(r + 40, callId, n);
  store<u32>(slot(s, k, side), <u32>l + 1);
  inUse++;
  return l;
}

/** Session s is over: every leg of it closed (the host is told; the legs are free once it polled). */
export function relayEnd(s: i32): void {
  if (!MEDIA_RELAY || s < 0 || s >= RELAY_SESSIONS) return;
  for (let k = 0; k < SDP_STREAMS; k++) {
    for (let side = 0; side < 2; side++) {
      const l = <i32>load<u32>(slot(s, k, side)) - 1;
      store<u32>(slot(s, k, side), 0);
      if (l < 0) continue;
      store<u8>(leg(l), LegState.Closing);
      queue(l);
    }
  }
}

/** Whether session s relays anything (a leg taken). */
export function relayActive(s: i32): bool {
  return MEDIA_RELAY && s >= 0 && s < RELAY_SESSIONS && load<u32>(slot(s, 0, 0)) != 0;
}

/** The session of leg l while it is open, or -1 (a report for a leg already closed). */
export function relayLegSession(l: i32): i32 {
  if (!MEDIA_RELAY || l < 0 || l >= relayConfig.legs || load<u8>(leg(l)) != LegState.Open) return -1;
  return <i32>load<u32>(leg(l), 32);
}

/** The Call-ID leg l was opened for (its first CALLID_CAP bytes; relayLegCallIdLen of them). */
export function relayLegCallId(l: i32): usize { return leg(l) + 40; }
export function relayLegCallIdLen(l: i32): u32 { return MEDIA_RELAY && l >= 0 && l < RELAY_LEGS ? <u32>load<u8>(leg(l), 36) : 0; }

/** The next change for the host, written at RELAY_OUT: its op (0 none). */
export function relayPoll(): u32 {
  if (!MEDIA_RELAY || dirtyCount == 0) return 0;
  const l = <i32>load<u32>(dirtyRing + <usize>dirtyHead * 4);
  dirtyHead = (dirtyHead + 1) % <u32>RELAY_LEGS;
  dirtyCount--;
  const r = leg(l);
  store<u8>(r, 0, 1);
  const closing = load<u8>(r) == LegState.Closing;
  const o = RELAY_OUT;
  memory.fill(o, 0, 48);
  store<u32>(o, closing ? RelayOp.Close : RelayOp.Open);
  store<u32>(o, <u32>l, 4);
  store<u32>(o, load<u32>(r, 4), 8);
  store<u16>(o, <u16>(relayConfig.portMin + 2 * <u32>l), 12);
  store<u16>(o, load<u16>(r, 2), 14);
  store<u8>(o, load<u8>(r, 8), 16);
  store<u8>(o, load<u8>(r, 9), 17);
  store<u16>(o, load<u16>(r, 10), 18);
  store<u16>(o, load<u16>(r, 12), 20);
  const held = (load<u16>(r, 2) & <u16>RelayFlag.Held) != 0;
  store<u16>(o, <u16>min<u32>(held ? relayConfig.holdIdle : relayConfig.idle, 65535), 22);
  memory.copy(o + 24, r + 16, 16);
  store<u32>(o, load<u32>(r, 32), 40);
  const n = <u32>load<u8>(r, 36);
  store<u16>(o, <u16>n, 44);
  store<u8>(o, load<u8>(r, 15), 46);
  memory.copy(o + 48, r + 40, n);
  if (closing) {
    store<u8>(r, LegState.Free);
    inUse--;
    if (l < relayConfig.legs) freeGive(l);
  }
  return closing ? RelayOp.Close : RelayOp.Open;
}
