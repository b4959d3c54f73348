// Our listening transports, as the host declared them (sip_transport_add): an id chosen by the host,
// a protocol, and the address this socket advertises in Via and Record-Route. The core knows
// transports only so: it never touches a socket.

import { MAX_TRANSPORTS_CFG } from "../config";
import { Family } from "./peer";
import { Ch } from "../util/chars";
import { T_K_SCTP, T_K_TCP, T_K_TLS, T_K_UDP, T_K_WS, T_K_WSS, T_UDP, T_TCP, T_TLS, T_SCTP, T_WS, T_WSS } from "../wire/tables";
import { tableAlloc } from "../util/alloc";
import { parseUint } from "../wire/scan";

export const MAX_TRANSPORTS: i32 = MAX_TRANSPORTS_CFG;
const ADDR_CAP: u32 = 64;

export const enum Proto { None = 0, UDP = 1, TCP = 2, TLS = 3, SCTP = 4, WS = 5, WSS = 6 }

/** The port a SIP address without one means on protocol p (RFC 3261 §19.1.2, RFC 3263 §4.2): 5061 for
 * TLS, 5060 otherwise. */
// @ts-ignore: decorator
@inline export function defaultPortOf(p: Proto): u32 {
  return p == Proto.TLS ? 5061 : 5060;
}

export class Transport {
  id: u32 = 0;
  proto: Proto = Proto.None;
  family: Family = Family.V4;
  /** Advertised "host:port" (IPv6 in brackets). */
  readonly addr: usize = tableAlloc(ADDR_CAP);
  addrLen: u32 = 0;
  /** Host part of addr (without port) and the port. */
  hostLen: u32 = 0;
  port: u32 = 0;

  get reliable(): bool {
    return this.proto != Proto.UDP;
  }
}

const table = new StaticArray<Transport>(MAX_TRANSPORTS);
for (let i = 0; i < MAX_TRANSPORTS; i++) unchecked((table[i] = new Transport()));
let count = 0;

export function transportsReset(): void {
  count = 0;
}

/** Declare a transport; returns 0, or -1 (bad arguments), -2 (table full). */
export function transportAdd(id: u32, proto: u32, p: usize, len: u32): i32 {
  if (id == 0 || id > 255 || proto == 0 || proto > 6 || len == 0 || len > ADDR_CAP) return -1;
  if (transportById(id) != null) return -1;
  if (count >= MAX_TRANSPORTS) return -2;
  // split host:port (the port is required)
  let colon: i32 = -1;
  for (let i = <i32>len - 1; i >= 0; i--) {
    const c = load<u8>(p + <usize>i);
    if (c == Ch.COLON) { colon = i; break; }
    if (c == Ch.RBRACKET) break;
  }
  if (colon <= 0) return -1;
  const port = parseUint(p + <usize>colon + 1, p + <usize>len, 65535); // -1: empty, not digits, > 65535
  if (port <= 0) return -1;
  const t = unchecked(table[count]);
  t.id = id;
  t.proto = <Proto>proto;
  t.family = load<u8>(p) == Ch.LBRACKET ? Family.V6 : Family.V4;
  memory.copy(t.addr, p, len);
  t.addrLen = len;
  t.hostLen = <u32>colon;
  t.port = <u32>port;
  count++;
  return 0;
}

export function transportCount(): i32 {
  return count;
}

export function transportAt(i: i32): Transport {
  return unchecked(table[i]);
}

export function transportById(id: u32): Transport | null {
  for (let i = 0; i < count; i++) {
    const t = unchecked(table[i]);
    if (t.id == id) return t;
  }
  return null;
}

/**
 * A transport of protocol `proto` that can reach address family `family` (Family.Name: any of that
 * protocol, the host resolves the name); null when we have none.
 */
export function transportFor(proto: Proto, family: Family): Transport | null {
  for (let i = 0; i < count; i++) {
    const t = unchecked(table[i]);
    if (t.proto == proto && (t.family == family || family == Family.Name)) return t;
  }
  return null;
}

/** The Via tokens of protocols None..WSS (None as UDP): 7 × u32 codes of the packed table. */
const PROTO_NAMES: usize = memory.data<u32>([T_UDP, T_UDP, T_TCP, T_TLS, T_SCTP, T_WS, T_WSS]);

/** Upper-case token of a protocol for Via (a text of the packed table, Writer.text). */
export function protoName(p: Proto): u32 {
  return <u32>p <= <u32>Proto.WSS ? load<u32>(PROTO_NAMES + (<usize>p << 2)) : T_UDP; // p <= WSS: inside the table
}

/** Lower-case token of a protocol for transport parameters (a text of the packed table). */
export function protoParam(p: Proto): u32 {
  switch (p) {
    case Proto.TCP: return T_K_TCP;
    case Proto.TLS: return T_K_TLS;
    case Proto.SCTP: return T_K_SCTP;
    case Proto.WS: return T_K_WS;
    case Proto.WSS: return T_K_WSS;
  }
  return T_K_UDP;
}
