// Host names and IP address literals (RFC 3261 §25.1, RFC 5118): one set of recognisers for every
// decoder (URIs, Via sent-by and received). Each checks exactly [p, end) and reads nothing outside it.

import { Ch, Cls, is, isAny } from "../util/chars";
import { parseUint, skipClass, skipLws } from "./scan";
import { HostKind } from "./uri";

/** Port value for "absent" in `HostPort.port` / `ViaRepr.port`. */
export const PORT_ABSENT: i32 = -1;

/** Result of `scanHostPort`: host span (brackets included for an IPv6 reference), kind, port. UriRepr
 * and ViaRepr declare these four fields in this order and types, so a scan fills them in place. */
@unmanaged export class HostPort {
  host: usize = 0;
  hostLen: u32 = 0;
  kind: HostKind = HostKind.None;
  /** 0-65535, or -1 when absent. */
  port: i32 = -1;
}

/** Dotted quad in [p, end), each part 1-3 digits <= 255. */
export function isIPv4(p: usize, end: usize): bool {
  let parts = 0;
  while (true) {
    const s = p;
    p = skipClass(p, end, Cls.DIGIT);
    if (p == s || p - s > 3 || parseUint(s, p, 255) < 0) return false;
    parts++;
    if (p == end) return parts == 4;
    if (<u32>load<u8>(p) != Ch.DOT || parts == 4) return false; // p < end
    p++;
  }
  return false;
}

/**
 * IPv6address (RFC 4291 §2.2, IPv4 tail allowed), brackets excluded: hex groups of 1–4 digits, "::" at
 * most once, eight groups without it. RFC 5118 §4.10a: a ":::" (an RFC 3261 ABNF bug lets it through)
 * is read as "::" — accepted, as robust implementations may.
 */
export function isIPv6(p: usize, end: usize): bool {
  if (end - p < 2) return false;
  let groups = 0;
  let dbl = false;
  if (load<u8>(p) == Ch.COLON) { // end - p >= 2
    if (load<u8>(p + 1) != Ch.COLON) return false; // a leading colon must start "::"
    dbl = true;
    p += 2;
    if (p < end && load<u8>(p) == Ch.COLON) p++; // ":::" (RFC 5118 §4.10a)
    if (p == end) return true;
  }
  while (true) {
    const s = p;
    p = skipClass(p, end, Cls.HEX);
    if (p == s) return false;
    if (p < end && load<u8>(p) == Ch.DOT) { // p < end: an IPv4 tail takes the rest, as two groups
      if (!isIPv4(s, end)) return false;
      groups += 2;
      break;
    }
    if (p - s > 4) return false;
    groups++;
    if (p == end) break;
    if (load<u8>(p) != Ch.COLON) return false; // p < end
    p++;
    if (p == end) return false; // a trailing single colon
    if (load<u8>(p) == Ch.COLON) { // p < end
      if (dbl) return false; // "::" at most once
      dbl = true;
      p++;
      if (p < end && load<u8>(p) == Ch.COLON) p++; // ":::" (RFC 5118 §4.10a)
      if (p == end) break;
    }
  }
  return dbl ? groups <= 7 : groups == 8;
}

/** hostname = *( domainlabel "." ) toplabel [ "." ], labels alphanum with inner '-', toplabel
 *  starting with ALPHA. */
export function isHostname(p: usize, end: usize): bool {
  let top: u32 = 0;
  while (p < end) {
    const s = p;
    while (p < end) { // p < end
      const c = <u32>load<u8>(p);
      if (!isAny(c, Cls.ALPHA | Cls.DIGIT) && c != Ch.MINUS) break;
      p++;
    }
    if (p == s) return false; // empty label
    // s < p <= end: both loads inside
    if (<u32>load<u8>(s) == Ch.MINUS || <u32>load<u8>(p - 1) == Ch.MINUS) return false;
    top = <u32>load<u8>(s);
    if (p == end) break;
    p++; // the '.' (only ALPHA/DIGIT/'-'/'.' reach here)
  }
  return is(top, Cls.ALPHA);
}

/**
 * Scan `host [ ":" port ]` at `p`: hostname, IPv4address or `[` IPv6address `]`. With `lws` set, SWS
 * is allowed around the colon (Via sent-by, RFC 3261 COLON = SWS ":" SWS); without, it is a SIP URI's
 * hostport (parseSip). Fills `out` and returns the cursor after the host or port (before any trailing LWS), 0 on a syntax error.
 */
export function scanHostPort(p: usize, end: usize, out: HostPort, lws: bool): usize {
  memory.fill(changetype<usize>(out), 0, offsetof<HostPort>()); // no host (HostKind.None) ...
  out.port = PORT_ABSENT; // ... and no port
  if (p >= end) return 0;
  if (load<u8>(p) == Ch.LBRACKET) { // p < end
    let q = p + 1;
    while (q < end && load<u8>(q) != Ch.RBRACKET) q++; // q < end
    if (q >= end || !isIPv6(p + 1, q)) return 0;
    out.host = p;
    out.hostLen = <u32>(q + 1 - p);
    out.kind = HostKind.IPv6;
    p = q + 1;
  } else {
    let q = p;
    while (q < end) {
      const c = <u32>load<u8>(q); // q < end
      if (!isAny(c, Cls.ALPHA | Cls.DIGIT) && c != Ch.MINUS && c != Ch.DOT) break;
      q++;
    }
    if (q == p) return 0;
    if (isIPv4(p, q)) out.kind = HostKind.IPv4;
    else if (isHostname(p, q)) out.kind = HostKind.Name;
    else return 0;
    out.host = p;
    out.hostLen = <u32>(q - p);
    p = q;
  }
  let r = lws ? skipLws(p, end) : p;
  if (r < end && load<u8>(r) == Ch.COLON) { // r < end
    r = lws ? skipLws(r + 1, end) : r + 1;
    const d = r;
    r = skipClass(r, end, Cls.DIGIT);
    const v = parseUint(d, r, 65535);
    if (v < 0) return 0;
    out.port = <i32>v;
    p = r;
  }
  return p;
}
