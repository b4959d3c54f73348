// Where requests go (RFC 3261 §16.4–§16.6, RFC 3263 without DNS): is a URI ours, which transport and
// address a URI names, and flow tokens — the connection ids we put in the user part of a Record-Route
// on a reliable transport (RFC 5626 §5.3 style), so that in-dialog requests reach a TCP client over
// the connection it opened.

import { UriRepr, UriScheme } from "../wire/uri";
import { eqBytesI, eqText } from "../wire/scan";
import { Peer, Family } from "../net/peer";
import { peerFromHost } from "../net/addr";
import { Proto, transportCount, transportAt, transportFor, Transport, defaultPortOf } from "../net/transports";
export { protoName, protoParam } from "../net/transports";
import { isLocalDomain } from "./config";
import { hexAt } from "../txn/branch";
import { T_K_SCTP, T_K_TCP, T_K_TLS, T_K_UDP, T_K_WS, T_K_WSS } from "../wire/tables";

/** Default port of a URI (§19.1.2, RFC 3263 §4.2): 5061 for TLS (sips, or transport=tls), else 5060. */
export function defaultPort(u: UriRepr): u32 {
  return defaultPortOf(protoOf(u));
}

/** The transport parameter's names (tables.ts codes), in Proto order: entry i is Proto i + 1. */
const PROTO_NAMES: usize = memory.data<u32>([T_K_UDP, T_K_TCP, T_K_TLS, T_K_SCTP, T_K_WS, T_K_WSS]);

/** Protocol a URI asks for: its transport parameter (TCP in a sips: URI is TLS), TLS for sips, UDP
 * otherwise; None for a transport we do not know. */
export function protoOf(u: UriRepr): Proto {
  const sips = u.scheme == UriScheme.Sips;
  if (u.transport == 0) return sips ? Proto.TLS : Proto.UDP;
  for (let i: u32 = 0; i < 6; i++) {
    if (!eqText(u.transport, u.transportLen, load<u32>(PROTO_NAMES + (<usize>i << 2)))) continue;
    const p = <Proto>(i + 1);
    return p == Proto.TCP && sips ? Proto.TLS : p;
  }
  return Proto.None;
}

/** A sip: URI without a transport parameter: which transport reaches it is for RFC 3263 §4.1 to say
 * (NAPTR; protoOf's UDP is its last resort). A sips: URI is TLS whatever DNS says. */
export function transportOpen(u: UriRepr): bool {
  return u.scheme == UriScheme.Sip && u.transport == 0;
}

/** The transport, if any, whose advertised host:port the URI names. */
export function ourTransport(u: UriRepr): Transport | null {
  if (u.hostLen == 0) return null;
  const port = u.port < 0 ? defaultPort(u) : <u32>u.port;
  // the transport of the URI's protocol first (UDP and TCP often share host:port), then any
  const proto = protoOf(u);
  let any: Transport | null = null;
  for (let i = 0; i < transportCount(); i++) {
    const t = transportAt(i);
    if (t.port != port || !eqBytesI(u.host, u.hostLen, t.addr, t.hostLen)) continue;
    if (t.proto == proto) return t;
    if (any == null) any = t;
  }
  return any;
}

/** Does the URI name this server (one of our transports' addresses)? */
export function isOurAddress(u: UriRepr): bool {
  return ourTransport(u) != null;
}

/**
 * Is a Request-URI for a domain we are responsible for (§16.5)? Its host is one of our domains and its
 * port is absent or one we listen on: a UA on the same machine has its own port, and is not us.
 */
export function isForUs(u: UriRepr): bool {
  if (u.scheme != UriScheme.Sip && u.scheme != UriScheme.Sips) return false;
  if (!isLocalDomain(u.host, u.hostLen) && !isOurAddress(u)) return false;
  if (u.port < 0) return true;
  for (let i = 0; i < transportCount(); i++) if (transportAt(i).port == <u32>u.port) return true;
  return false;
}

/**
 * Destination named by a URI (host, port, transport); false when we have no transport for it or the
 * URI names port 0 (parsable, but nothing listens there: the caller answers 503, RFC 3263 §4.3).
 * A host name with no port goes out with port 0 (docs/ABI.md "Peer record"): the host locates the
 * server by RFC 3263 §4.2 (SRV for the transport, else the name's address on the default port), which
 * only a URI without a port asks for; an IP address without one gets the default port here.
 */
export function destFromUri(u: UriRepr, out: Peer): bool {
  out.clear();
  if (u.scheme != UriScheme.Sip && u.scheme != UriScheme.Sips) return false;
  if (u.port == 0) return false;
  const proto = protoOf(u);
  if (proto == Proto.None) return false;
  let host = u.host;
  let hostLen = u.hostLen;
  if (u.maddr != 0 && u.maddrLen != 0) { host = u.maddr; hostLen = u.maddrLen; }
  if (!peerFromHost(out, host, hostLen, u.port < 0 ? defaultPort(u) : <u32>u.port)) return false;
  if (out.family == Family.Name && u.port < 0) out.port = 0;
  const t = transportFor(proto, <Family>out.family);
  if (t == null) return false;
  out.transport = <u8>t.id;
  return true;
}

/** The 32-bit number of a user part that is `c0 c1` + 8 hex digits, or -1. */
function tokenUser(u: UriRepr, c0: u32, c1: u32): i64 {
  if (!u.hasUser || u.userLen != 10) return -1;
  const p = u.user;
  if (<u32>load<u8>(p) != c0 || <u32>load<u8>(p + 1) != c1) return -1;
  return hexAt(p + 2);
}

/** The connection id in a flow-token user part ("ft" + 8 hex digits), or 0. */
export function flowToken(u: UriRepr): u32 {
  const v = tokenUser(u, 0x66, 0x74); // "ft"
  return v < 0 ? 0 : <u32>v;
}

/** The binding index in a route-token user part ("rb" + 8 hex digits, registrar/location.ts), or -1. */
export function regRouteToken(u: UriRepr): i32 {
  const v = tokenUser(u, 0x72, 0x62); // "rb"
  return v > 0x7fffffff ? -1 : <i32>v;
}

/** Is the address a broadcast or unspecified one we must never send to (RFC 4475 bcast)? */
export function isForbiddenDest(p: Peer): bool {
  if (p.family == Family.V4) {
    const a = load<u32>(p.addr);
    return a == 0xffffffff || a == 0;
  }
  if (p.family == Family.V6) return p.a0 == 0 && p.a1 == 0;
  return false;
}
