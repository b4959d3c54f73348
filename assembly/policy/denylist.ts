// Request-URI deny list ("blocking sites"): requests whose Request-URI names a listed user, domain or
// user at a domain are refused (the proxy answers 403). Entry forms:
//
//   alice@example.com   that user at that domain
//   @example.com        any user at example.com (the domain exactly)
//   @.example.com       any user at example.com or at any subdomain of it (a.b.example.com)
//   alice@              that user at any domain (also a tel: number written `+15551234@`)
//
// Comparison: the domain case-insensitively (one trailing dot ignored on both sides); the user
// case-sensitively after %-unescaping both sides (RFC 3261 §19.1.4), so `%61lice@` blocks `alice`.
// A user with a `;` parameter part (tel-style `+1555;phone-context=x`) is compared whole.
//
// Memory (static data): DENY_CAP (config.ts, per board) entries × DENY_ENTRY (132 bytes) = 4,224 bytes.
//   entry: +0 u8 user length  +1 u8 domain length  +2 u8 flags (HAS_USER, HAS_DOMAIN, SUBDOMAINS)
//          +3 u8 unused  +4 u8[64] user (unescaped)  +68 u8[64] domain (no dots at the ends)

import { DENY_CAP as DENY_CAP_CFG } from "../config";
import { Ch } from "../util/chars";
import { hexDecode } from "../crypto/hex";
import { HostKind, UriRepr, UriScheme } from "../wire/uri";
import { eqBytesI } from "../wire/scan";

export const DENY_CAP: u32 = <u32>DENY_CAP_CFG;
export const DENY_ENTRY: u32 = 132;
/** Longest user (after unescaping) and domain, bytes. */
export const DENY_PART: u32 = 64;

const enum DenyFlag { HAS_USER = 1, HAS_DOMAIN = 2, SUBDOMAINS = 4 }

const table: usize = memory.data(<i32>(DENY_CAP * DENY_ENTRY));
let count: u32 = 0;

export function denyReset(): void {
  count = 0;
  memory.fill(table, 0, DENY_CAP * DENY_ENTRY);
}

export function denyCount(): u32 { return count; }

/** Set by `decodeAt`: bytes consumed by the last decoded character (1 or 3). */
let step: usize = 1;

/** The byte an escape decodes to: 1 byte. */
const DECODED: usize = memory.data(1);

/** The byte at p (< end), an escape `%HH` decoded. */
function decodeAt(p: usize, end: usize): u32 {
  const c = <u32>load<u8>(p); // p < end is the caller's
  if (c == Ch.PERCENT && p + 3 <= end && hexDecode(p + 1, 1, DECODED)) { // p + 2 < end
    step = 3;
    return <u32>load<u8>(DECODED);
  }
  step = 1;
  return c;
}

/** Add an entry (text [p, p+len), forms in the header). False when malformed or the list is full. */
export function denyAdd(p: usize, len: u32): bool {
  if (count >= DENY_CAP || len == 0) return false;
  const end = p + <usize>len;
  let at = end;
  for (let q = p; q < end; q++) if (load<u8>(q) == Ch.AT) { at = q; break; } // q < end
  if (at == end) return false;
  const e = table + <usize>(count * DENY_ENTRY);
  let flags: u32 = 0;
  // user, unescaped
  let ul: u32 = 0;
  let q = p;
  while (q < at) {
    const c = decodeAt(q, at);
    q += step;
    if (ul >= DENY_PART) return false;
    store<u8>(e + 4 + <usize>ul, <u8>c); // ul < DENY_PART
    ul++;
  }
  if (ul > 0) flags |= DenyFlag.HAS_USER;
  // domain, as given (domainMatch's eqBytesI folds both sides), without a leading '.' (= subdomains too) or a trailing '.'
  let ds = at + 1;
  let de = end;
  if (ds < de && load<u8>(ds) == Ch.DOT) { ds++; flags |= DenyFlag.SUBDOMAINS; }
  if (de > ds && load<u8>(de - 1) == Ch.DOT) de--;
  const dl = <u32>(de - ds);
  if (dl > DENY_PART) return false;
  if (dl == 0 && (flags & DenyFlag.SUBDOMAINS) != 0) return false;
  for (let i: u32 = 0; i < dl; i++) {
    const c = <u32>load<u8>(ds + <usize>i); // i < dl
    if (c == Ch.AT || c <= <u32>Ch.SP) return false;
    store<u8>(e + 68 + <usize>i, <u8>c);
  }
  if (dl > 0) flags |= DenyFlag.HAS_DOMAIN;
  if (flags == 0) return false; // a bare "@"
  store<u8>(e, <u8>ul);
  store<u8>(e, <u8>dl, 1);
  store<u8>(e, <u8>flags, 2);
  count++;
  return true;
}

/** The URI's user, unescaped, equals the entry's user. */
function userEq(u: usize, ulen: u32, ent: usize, elen: u32): bool {
  const end = u + <usize>ulen;
  let i: u32 = 0;
  while (u < end) {
    if (i >= elen) return false;
    const c = decodeAt(u, end);
    u += step;
    if (c != <u32>load<u8>(ent + <usize>i)) return false; // i < elen <= DENY_PART
    i++;
  }
  return i == elen;
}

/** Host [h, h+hl) (case-insensitive) equals the domain, or (subdomains) ends with "." + domain. */
function domainMatch(h: usize, hl: u32, d: usize, dl: u32, sub: bool): bool {
  if (hl > 0 && load<u8>(h + <usize>hl - 1) == Ch.DOT) hl--; // hl > 0
  if (hl < dl) return false;
  const off = hl - dl;
  if (off != 0) {
    if (!sub || load<u8>(h + <usize>off - 1) != Ch.DOT) return false; // off - 1 < hl
  }
  return eqBytesI(h + <usize>off, dl, d, dl); // off + dl == hl; both sides folded
}

/**
 * True when the URI (filled by parseUri, spans still valid) is denied. SIP/SIPS URIs are compared
 * by user and host; a tel URI only by its number against user-only entries; other schemes never.
 */
export function isDenied(uri: UriRepr): bool {
  const sch = uri.scheme;
  if (sch != UriScheme.Sip && sch != UriScheme.Sips && sch != UriScheme.Tel) return false;
  const hasHost = sch != UriScheme.Tel && uri.hostKind != HostKind.None;
  const hasUser = sch == UriScheme.Tel || uri.hasUser;
  for (let i: u32 = 0; i < count; i++) {
    const e = table + <usize>(i * DENY_ENTRY); // i < count <= DENY_CAP
    const flags = <u32>load<u8>(e, 2);
    if (flags & DenyFlag.HAS_USER) {
      if (!hasUser || !userEq(uri.user, uri.userLen, e + 4, <u32>load<u8>(e))) continue;
    }
    if (flags & DenyFlag.HAS_DOMAIN) {
      if (!hasHost) continue;
      if (!domainMatch(uri.host, uri.hostLen, e + 68, <u32>load<u8>(e, 1), (flags & DenyFlag.SUBDOMAINS) != 0)) continue;
    }
    return true;
  }
  return false;
}
