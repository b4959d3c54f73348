// Source-address access lists (the "permissions"/"ipfilter" idea): three fixed lists of CIDR
// prefixes, filled from configuration text at start-up and read per request. Decisions only: the
// proxy maps a Deny verdict to a silent drop or a 403, and passes Trusted as `exempt` to pike.ts.
//
// Entry text (aclAdd): `10.0.0.0/8`, `192.0.2.7` (= /32), `2001:db8::/32`, `::1` (= /128),
// `[2001:db8::1]/128`. Host bits below the prefix are ignored (masked off when stored).
// An IPv6 entry in v4-mapped form (`::ffff:10.0.0.0/104`, prefix >= 96) is stored as the IPv4 entry
// it names; an IPv4-mapped IPv6 source (::ffff:a.b.c.d, what a dual-stack socket reports) is matched
// as the IPv4 address a.b.c.d. So IPv4 entries match both forms of an IPv4 client, and IPv6 entries
// (including `::/0`) match only real IPv6 sources.
//
// Memory (static data, nothing on the heap):
//   3 lists × ACL_CAP (32) entries × ACL_ENTRY (20 bytes) = 1,920 bytes, + 3 × u32 counts = 12 bytes.
//
//   entry: +0 u8 family (4, 6)  +1 u8 prefix bits  +2 u16 unused  +4 u8[16] network (masked;
//          IPv4 in the first 4 bytes)

import { ACL_CAP_CFG } from "../config";
import { Ch } from "../util/chars";
import { eqBytes, parseUint } from "../wire/scan";
import { parseIPv4, parseIPv6 } from "../net/addr";
import { Peer, Family } from "../net/peer";

/** Which list. Numbers are stable (config and probes use them). */
export const enum AclList { Allow = 0, Deny = 1, Trusted = 2 }

/** Decision for one source address. */
export const enum AclVerdict { Allow = 0, Deny = 1, Trusted = 2 }

/** Entries per list. */
export const ACL_CAP: u32 = <u32>ACL_CAP_CFG;
/** Bytes per entry. */
export const ACL_ENTRY: u32 = 20;
const LISTS: u32 = 3;

const table: usize = memory.data(<i32>(LISTS * ACL_CAP * ACL_ENTRY));
const counts: usize = memory.data(<i32>(LISTS * 4));
/** Scratch: a parsed entry (20 bytes, aclAdd) or, at +16, a normalised source (16 bytes, sourceOf). */
const scratch: usize = memory.data(32);

/** Forget every entry of every list. */
export function aclReset(): void {
  memory.fill(counts, 0, LISTS * 4);
  memory.fill(table, 0, LISTS * ACL_CAP * ACL_ENTRY);
}

/** Entries in `list`. */
export function aclCount(list: AclList): u32 {
  if (<u32>list >= LISTS) return 0;
  return load<u32>(counts + (<usize>list << 2));
}

/** Zero the bits of the 16-byte address at `a` below `bits`. */
function maskTo(a: usize, bits: u32): void {
  for (let i: u32 = 0; i < 16; i++) {
    const keep: i32 = <i32>bits - <i32>(i << 3);
    if (keep >= 8) continue;
    // i < 16: inside the 16-byte address
    store<u8>(a + <usize>i, keep <= 0 ? <u8>0 : load<u8>(a + <usize>i) & <u8>(<u32>0xff << <u32>(8 - keep)));
  }
}

/** True when the 16 bytes at `a` are ::ffff:0:0/96 (an IPv4-mapped IPv6 address). */
function isMapped(a: usize): bool {
  return load<u64>(a) == 0 && load<u32>(a + 8) == 0xffff0000; // little-endian: bytes 00 00 ff ff
}

/**
 * Add a CIDR prefix (text [p, p+len)) to `list`. False when the text is not an address with an
 * optional `/bits` (bits <= 32 for IPv4, <= 128 for IPv6), or the list is full. Adding an entry
 * already present is a no-op that returns true.
 */
export function aclAdd(list: AclList, p: usize, len: u32): bool {
  if (<u32>list >= LISTS) return false;
  if (!cidrParse(p, len, scratch)) return false;
  store<u16>(scratch, 0, 2); // the unused half-word as stored: the entry compares and copies whole
  const n = aclCount(list);
  const base = table + <usize>(<u32>list * ACL_CAP * ACL_ENTRY);
  for (let i: u32 = 0; i < n; i++) {
    if (eqBytes(base + <usize>(i * ACL_ENTRY), ACL_ENTRY, scratch, ACL_ENTRY)) return true; // i < n <= ACL_CAP
  }
  if (n >= ACL_CAP) return false;
  memory.copy(base + <usize>(n * ACL_ENTRY), scratch, ACL_ENTRY);
  store<u32>(counts + (<usize>list << 2), n + 1);
  return true;
}

/**
 * CIDR text [p, p+len) into the 20-byte entry at e (the layout above; +2 not written): false when it is
 * not an address with an optional `/bits` (bits <= 32 for IPv4, <= 128 for IPv6). Also the media
 * relay's networks (media/relay.ts).
 */
export function cidrParse(p: usize, len: u32, e: usize): bool {
  if (len == 0 || len > 64) return false;
  // split at '/'; a ':' before it makes it IPv6
  let alen: u32 = len;
  let colon = false;
  for (let i: u32 = 0; i < len; i++) {
    const c = load<u8>(p + <usize>i); // i < len
    if (c == Ch.SLASH) { alen = i; break; }
    if (c == Ch.COLON) colon = true;
  }
  const a = e + 4;
  memory.fill(a, 0, 16);
  let fam: u32;
  let max: u32;
  if (colon) {
    if (!parseIPv6(p, alen, a)) return false;
    fam = Family.V6; max = 128;
  } else {
    if (!parseIPv4(p, alen, a)) return false;
    fam = Family.V4; max = 32;
  }
  let bits = max;
  if (alen < len) {
    const d = p + <usize>alen + 1;
    const dl = len - alen - 1;
    if (dl == 0 || dl > 3) return false;
    const b = parseUint(d, d + <usize>dl, max); // digits only, <= max; inside [p, p+len)
    if (b < 0) return false;
    bits = <u32>b;
  }
  if (fam == Family.V6 && bits >= 96 && isMapped(a)) {
    memory.copy(a, a + 12, 4);
    memory.fill(a + 4, 0, 12);
    fam = Family.V4;
    bits -= 96;
  }
  maskTo(a, bits);
  store<u8>(e, <u8>fam);
  store<u8>(e, <u8>bits, 1);
  return true;
}

/** Whether the peer's address is inside the entry at e (cidrParse; an IPv4-mapped source as IPv4). */
export function cidrHolds(e: usize, peer: Peer): bool {
  const fam = sourceOf(peer);
  return fam != 0 && <u32>load<u8>(e) == fam && prefixEq(e + 4, scratch + 16, <u32>load<u8>(e, 1));
}

/** Prefix match of the first `bits` bits of the 16-byte addresses at x and y. */
function prefixEq(x: usize, y: usize, bits: u32): bool {
  const whole = bits >> 3;
  if (!eqBytes(x, whole, y, whole)) return false;
  const rest = bits & 7;
  if (rest == 0) return true;
  const m = <u32>(0xff << (8 - rest)) & 0xff;
  // whole < 16 here (rest != 0 means bits < 128): inside both addresses
  return ((<u32>load<u8>(x + <usize>whole) ^ <u32>load<u8>(y + <usize>whole)) & m) == 0;
}

/** Normalise the source into scratch+16; returns its family (0 = no IP address). */
function sourceOf(peer: Peer): u32 {
  const s = scratch + 16;
  const fam = <u32>peer.family;
  if (fam != Family.V4 && fam != Family.V6) return 0;
  if (fam == Family.V6 && !isMapped(peer.addr)) {
    memory.copy(s, peer.addr, 16);
    return Family.V6;
  }
  // IPv4, or the last 4 bytes of an IPv4-mapped IPv6 address
  memory.copy(s, peer.addr + (fam == Family.V6 ? 12 : 0), 4);
  memory.fill(s + 4, 0, 12);
  return Family.V4;
}

function matchNormalised(list: AclList, fam: u32): bool {
  const n = aclCount(list);
  const base = table + <usize>(<u32>list * ACL_CAP * ACL_ENTRY);
  const s = scratch + 16;
  for (let i: u32 = 0; i < n; i++) {
    const e = base + <usize>(i * ACL_ENTRY); // i < count <= ACL_CAP
    if (<u32>load<u8>(e) == fam && prefixEq(e + 4, s, <u32>load<u8>(e, 1))) return true;
  }
  return false;
}

/** True when the peer's address is inside some prefix of `list` (name peers never match). */
export function aclMatch(list: AclList, peer: Peer): bool {
  if (<u32>list >= LISTS) return false;
  return matchNormalised(list, sourceOf(peer)); // family 0 (a name) equals no entry's (4 or 6)
}

/**
 * The decision for a source: Trusted when it matches the trusted list (wins over everything);
 * otherwise Deny when it matches the deny list; otherwise, when the allow list is non-empty, Allow
 * only if it matches it (else Deny); an empty allow list allows everyone.
 */
export function aclVerdict(peer: Peer): AclVerdict {
  const fam = sourceOf(peer); // 0 (a name peer) matches no entry: every stored family is 4 or 6
  if (matchNormalised(AclList.Trusted, fam)) return AclVerdict.Trusted;
  if (matchNormalised(AclList.Deny, fam)) return AclVerdict.Deny;
  if (aclCount(AclList.Allow) != 0) {
    return matchNormalised(AclList.Allow, fam) ? AclVerdict.Allow : AclVerdict.Deny;
  }
  return AclVerdict.Allow;
}
