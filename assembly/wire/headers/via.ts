// Via header decoder (RFC 3261 §20.42 / §25.1, RFC 3581 rport, RFC 5118 IPv6 forms).
//
//   via-parm      = sent-protocol LWS sent-by *( SEMI via-params )
//   sent-protocol = protocol-name SLASH protocol-version SLASH transport    (SLASH = SWS "/" SWS)
//   sent-by       = host [ COLON port ]                                      (COLON = SWS ":" SWS)
//
// Input contract: [p, end) is ONE via-parm (the message view splits the header on commas and trims
// the surrounding LWS). Inner LWS may hold folded CRLFs: CR and LF count as LWS (scan.ts). Every read
// is a `load<u8>` of an address in [p, end), guarded by an explicit `< end` test; nothing allocates
// and nothing traps. Spans are absolute addresses + lengths into the same buffer.
//
// Strictness, chosen once here:
//   - protocol name/version are kept as spans and flagged (`isSip20`), not rejected: the message
//     layer decides what a non-SIP/2.0 Via means;
//   - any transport token is valid (RFC 4475 transports: `SIP/2.0/UNKNOWN`), `transportKind` says
//     which one we know;
//   - an empty parameter (`;;`, a trailing `;`) is an error (RFC 4475 badinv01);
//   - the known parameters must be well formed and appear once: branch (token), received
//     (IPv4 / IPv6, bracketed or not: RFC 5118 §4.5), rport (RFC 3581), maddr (host), ttl (0-255).
//     Any other parameter, quoted value included, is kept untouched in the `params` span.

import { Ch, Cls, is, isAny } from "../../util/chars";
import { isIPv4, isIPv6, HostPort, PORT_ABSENT, scanHostPort } from "../host";
import { skipLws, skipSlash, skipToken, tokenAt, eqText, eqTextExact, parseUint, ParamSpan, claimValue } from "../scan";
import { HostKind } from "../uri";
import { ParamOwner, walkParams } from "./params";
import { T_K_BRANCH, T_K_COOKIE, T_K_MADDR, T_K_RECEIVED, T_K_RPORT, T_K_SCTP, T_K_SIP, T_K_TCP, T_K_TLS, T_K_TTL, T_K_UDP, T_K_V20, T_K_WS, T_K_WSS } from "../tables";

/** Transports the core knows by name; any other token is `Other` and still valid. */
export const enum Transport { None = 0, UDP = 1, TCP = 2, TLS = 3, SCTP = 4, WS = 5, WSS = 6, Other = 7 }

/** `ViaRepr.rport` when there is no rport parameter. */
export const RPORT_ABSENT: i32 = -2;
/** `ViaRepr.rport` when the parameter is present without a value (RFC 3581 request form). */
export const RPORT_EMPTY: i32 = -1;

/**
 * One decoded via-parm. Allocated once by its owner and reused: `decodeVia` resets every field.
 *
 *   SIP / 2.0 / UDP  host.example.com:5060 ;branch=z9hG4bK77;received=192.0.2.1;rport=5061
 *   ^proto ^ver  ^transport ^host      ^port ^params ........................................
 */
export class ViaRepr {
  protoName: usize = 0;
  protoNameLen: u32 = 0;
  protoVersion: usize = 0;
  protoVersionLen: u32 = 0;
  /** Protocol name is `SIP` (any case) and version is `2.0`. */
  isSip20: bool = false;
  transport: usize = 0;
  transportLen: u32 = 0;
  transportKind: Transport = Transport.None;
  host: usize = 0;
  hostLen: u32 = 0;
  hostKind: HostKind = HostKind.None;
  /** 0-65535, or -1 when absent. */
  port: i32 = -1;
  /** Whole parameter list after the first `;` (pass-through), 0/0 when none. */
  params: usize = 0;
  paramsLen: u32 = 0;
  branch: usize = 0;
  branchLen: u32 = 0;
  hasBranch: bool = false;
  /** Branch starts with the RFC 3261 magic cookie `z9hG4bK` (case-sensitive) and has more after it. */
  branchRfc3261: bool = false;
  /** received value as written (brackets kept when present, RFC 5118 §4.5a). */
  received: usize = 0;
  receivedLen: u32 = 0;
  hasReceived: bool = false;
  receivedKind: HostKind = HostKind.None;
  /** -2 absent, -1 present without value, else the port (RFC 3581). */
  rport: i32 = -2;
  maddr: usize = 0;
  maddrLen: u32 = 0;
  hasMaddr: bool = false;
  /** -1 absent, else 0-255. */
  ttl: i32 = -1;

  /** Every field as initialised above: all zero (None, false, no span) but port, rport and ttl. One
   * fill instead of a store per field. */
  reset(): void {
    memory.fill(changetype<usize>(this), 0, offsetof<ViaRepr>());
    this.port = PORT_ABSENT;
    this.rport = RPORT_ABSENT;
    this.ttl = -1;
  }
}

// claimValue() reads each span as address, length (+4), has-flag (+8).
if (offsetof<ViaRepr>("hasBranch") != offsetof<ViaRepr>("branch") + 8 || offsetof<ViaRepr>("branchLen") != offsetof<ViaRepr>("branch") + 4) ERROR("ViaRepr branch layout");
if (offsetof<ViaRepr>("hasReceived") != offsetof<ViaRepr>("received") + 8 || offsetof<ViaRepr>("receivedLen") != offsetof<ViaRepr>("received") + 4) ERROR("ViaRepr received layout");
if (offsetof<ViaRepr>("hasMaddr") != offsetof<ViaRepr>("maddr") + 8 || offsetof<ViaRepr>("maddrLen") != offsetof<ViaRepr>("maddr") + 4) ERROR("ViaRepr maddr layout");

// Scratch of the sent-by and maddr scans: decoders run one at a time (single-threaded core), no re-entry.
const HP = new HostPort();

/** Kind of an IP address value (received=): IPv4, IPv6 with or without brackets; None if neither. */
function ipKind(p: usize, end: usize): HostKind {
  if (isIPv4(p, end)) return HostKind.IPv4;
  if (end - p >= 2 && load<u8>(p) == Ch.LBRACKET && load<u8>(end - 1) == Ch.RBRACKET) { // end - p >= 2
    p++; // an IPv6 reference: the address inside the brackets
    end--;
  }
  return isIPv6(p, end) ? HostKind.IPv6 : HostKind.None;
}

function transportOf(p: usize, len: u32): Transport {
  if (eqText(p, len, T_K_UDP)) return Transport.UDP;
  if (eqText(p, len, T_K_TCP)) return Transport.TCP;
  if (eqText(p, len, T_K_TLS)) return Transport.TLS;
  if (eqText(p, len, T_K_SCTP)) return Transport.SCTP;
  if (eqText(p, len, T_K_WS)) return Transport.WS;
  if (eqText(p, len, T_K_WSS)) return Transport.WSS;
  return Transport.Other;
}

/** Apply one Via parameter (walkParams). False when a known parameter is malformed or repeated. */
export function viaParam(ps: ParamSpan, out: ViaRepr): bool {
  const n = ps.name;
  const nl = ps.nameLen;
  const v = ps.value;
  const vl = ps.valueLen;
  const ve = v + <usize>vl;
  const o = changetype<usize>(out);
  if (eqText(n, nl, T_K_BRANCH)) {
    // via-branch = "branch" EQUAL token
    if (skipToken(v, ve) != ve || !claimValue(o + offsetof<ViaRepr>("branch"), ps)) return false;
    out.branchRfc3261 = vl > 7 && eqTextExact(v, 7, T_K_COOKIE);
  } else if (eqText(n, nl, T_K_RECEIVED)) {
    // via-received = "received" EQUAL (IPv4address / IPv6address); [IPv6] accepted (RFC 5118 §4.5)
    const k = ipKind(v, ve);
    if (k == HostKind.None || !claimValue(o + offsetof<ViaRepr>("received"), ps)) return false;
    out.receivedKind = k;
  } else if (eqText(n, nl, T_K_RPORT)) {
    // RFC 3581: response-port = "rport" [EQUAL 1*DIGIT]
    if (out.rport != RPORT_ABSENT) return false;
    if (!ps.hasValue) { out.rport = RPORT_EMPTY; return true; }
    const r = parseUint(v, ve, 65535);
    if (r < 0) return false;
    out.rport = <i32>r;
  } else if (eqText(n, nl, T_K_MADDR)) {
    // via-maddr = "maddr" EQUAL host
    if (scanHostPort(v, ve, HP, false) != ve || HP.port != PORT_ABSENT || !claimValue(o + offsetof<ViaRepr>("maddr"), ps)) return false;
  } else if (eqText(n, nl, T_K_TTL)) {
    // via-ttl = "ttl" EQUAL ttl, ttl = 1*3DIGIT ; 0 to 255
    if (out.ttl >= 0 || !ps.hasValue || vl > 3) return false;
    const t = parseUint(v, ve, 255);
    if (t < 0) return false;
    out.ttl = <i32>t;
  }
  // Any other parameter (quoted value included) stays in the pass-through span.
  return true;
}

/**
 * Decode one via-parm at [p, end) into `out`. Returns false on any syntax error (then `out` holds
 * partial data and must not be used).
 */
export function decodeVia(p: usize, end: usize, out: ViaRepr): bool {
  out.reset();
  // sent-protocol: three tokens, each span stored in place
  const o = changetype<usize>(out);
  let q = tokenAt(p, end, o + offsetof<ViaRepr>("protoName"));
  if (q == 0) return false;
  p = skipSlash(q, end);
  if (p == 0) return false;
  q = tokenAt(p, end, o + offsetof<ViaRepr>("protoVersion"));
  if (q == 0) return false;
  out.isSip20 = eqText(out.protoName, out.protoNameLen, T_K_SIP) && eqText(p, out.protoVersionLen, T_K_V20);
  p = skipSlash(q, end);
  if (p == 0) return false;
  q = tokenAt(p, end, o + offsetof<ViaRepr>("transport"));
  if (q == 0) return false;
  out.transportKind = transportOf(p, out.transportLen);
  // LWS sent-by: at least one LWS byte.
  p = skipLws(q, end);
  if (p == q) return false;
  // scanned in place: ViaRepr's host, hostLen, hostKind and port are laid out as a HostPort
  q = scanHostPort(p, end, changetype<HostPort>(changetype<usize>(out) + offsetof<ViaRepr>("host")), true);
  if (q == 0) return false;
  return walkParams(q, end, ParamOwner.Via, changetype<usize>(out), changetype<usize>(out) + offsetof<ViaRepr>("params"));
}
