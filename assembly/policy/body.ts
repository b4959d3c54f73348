// Body policy ("content scanning", "data leak protection"): a size ceiling for every request body, a
// per-method Content-Type allow-list, and byte patterns that refuse a MESSAGE (RFC 3428) body.
// Decisions only; the proxy answers with the status each verdict names.
//
// Checks, in order, on a request (responses are always Ok):
//   1. size      bodyLen > bodySetMax(bytes) (0 = no limit)                      → TooLarge (413)
//   2. type      the method has allow-list entries (its own or `*`) and the body is non-empty:
//                Content-Type must be present and match one of them; types compare
//                case-insensitively, `type/*` and `*/*` are wildcards; parameters are ignored.
//                A method without entries (and no `*` line) allows any type.      → TypeNotAllowed (415)
//   3. patterns  MESSAGE only, when patterns are configured: the body holds one of them as raw
//                bytes → PatternMatched (403), index in bodyMatchedPattern(). A MESSAGE whose body
//                has a Content-Encoding other than `identity` cannot be scanned, so it is refused as
//                TypeNotAllowed (415, the RFC 3261 §8.2.3 answer to an unsupported encoding).
//
// Pattern search is Rabin–Karp with one rolling hash per pattern: O(body × patterns) hash steps
// (≤ 16 per body byte) plus a ≤ 64-byte compare on a hash hit — linear in the body, whatever the
// content (no backtracking, no quadratic case). Multipart bodies and transfer encodings (base64) are
// scanned as they stand, undecoded.
//
// Memory (static data):
//   types    BODY_TYPES (16) × BODY_TYPE_ENTRY (128) = 2,048 bytes
//            entry: +0 u8 method length (0 = `*`)  +1 u8 type length  +2 u8 subtype length
//                   +3 unused  +4 u8[28] method  +32 u8[32] type  +64 u8[64] subtype (as given)
//   patterns BODY_PATTERNS (16) × BODY_PATTERN_MAX (64) = 1,024 bytes
//            + 16 × (u32 length + u32 hash + u32 base^(len-1)) = 192 bytes

import { BODY_TYPES_CFG } from "../config";
import { Ch, Cls, is } from "../util/chars";
import { Hdr } from "../wire/hdr";
import { Method } from "../wire/method";
import { MessageView } from "../wire/view";
import { ContentTypeRepr, decodeContentType } from "../wire/headers/scalar";
import { eqBytes, eqBytesI, eqText, skipToken } from "../wire/scan";
import { T_K_IDENTITY } from "../wire/tables";

export const enum BodyVerdict { Ok = 0, TooLarge = 1, TypeNotAllowed = 2, PatternMatched = 3 }

export const BODY_TYPES: u32 = <u32>BODY_TYPES_CFG;
export const BODY_TYPE_ENTRY: u32 = 128;
const M_CAP: u32 = 28;
const T_CAP: u32 = 32;
const S_CAP: u32 = 64;
export const BODY_PATTERNS: u32 = 16;
export const BODY_PATTERN_MAX: u32 = 64;
/** Rolling-hash base (odd; arithmetic mod 2^32). */
const BASE: u32 = 0x01000193;

const types: usize = memory.data(<i32>(BODY_TYPES * BODY_TYPE_ENTRY));
let typeCount: u32 = 0;
const pats: usize = memory.data(<i32>(BODY_PATTERNS * BODY_PATTERN_MAX));
const patMeta: usize = memory.data(<i32>(BODY_PATTERNS * 12));
/** Running hashes during one scan. */
const running: usize = memory.data(<i32>(BODY_PATTERNS * 4));
let patCount: u32 = 0;
let maxBody: u32 = 0;
let matched: i32 = -1;

const CT = new ContentTypeRepr();

export function bodyReset(): void {
  typeCount = 0;
  patCount = 0;
  maxBody = 0;
  matched = -1;
}

/** Largest request body accepted, bytes (0 = no limit). */
export function bodySetMax(bytes: u32): void { maxBody = bytes; }

/** Index of the pattern the last PatternMatched verdict found (-1 when none). */
export function bodyMatchedPattern(): i32 { return matched; }

export function bodyTypeCount(): u32 { return typeCount; }
export function bodyPatternCount(): u32 { return patCount; }

// ---- Content-Type allow-list -------------------------------------------------------------------

function isWsByte(c: u32): bool { return c == Ch.SP || c == Ch.HT; }

/** Cursor after the SP / HT bytes from p (never past e). */
function skipWs(p: usize, e: usize): usize {
  while (p < e && isWsByte(<u32>load<u8>(p))) p++; // p < e
  return p;
}

/** Parse one line [p, e); store it at entry `slot` when `commit`. False when malformed. */
function typeLine(p: usize, e: usize, slot: u32, commit: bool): bool {
  p = skipWs(p, e);
  while (e > p && isWsByte(<u32>load<u8>(e - 1))) e--; // e - 1 >= p
  // method token
  let q = skipToken(p, e);
  const ml = <u32>(q - p);
  if (ml == 0 || ml > M_CAP || q >= e || !isWsByte(<u32>load<u8>(q))) return false; // q < e
  const star = ml == 1 && load<u8>(p) == Ch.STAR;
  q = skipWs(q, e);
  // type "/" subtype, tokens (`*` is a token character)
  const ts = q;
  q = skipToken(q, e);
  const tl = <u32>(q - ts);
  if (tl == 0 || tl > T_CAP || q >= e || load<u8>(q) != Ch.SLASH) return false; // q < e
  q++;
  const ss = q;
  q = skipToken(q, e);
  const sl = <u32>(q - ss);
  if (sl == 0 || sl > S_CAP || q != e) return false;
  if (!commit) return true;
  const ent = types + <usize>(slot * BODY_TYPE_ENTRY);
  store<u8>(ent, <u8>(star ? 0 : ml));
  store<u8>(ent, <u8>tl, 1);
  store<u8>(ent, <u8>sl, 2);
  memory.copy(ent + 4, p, ml);
  memory.copy(ent + 32, ts, tl); // tl <= T_CAP
  memory.copy(ent + 64, ss, sl); // sl <= S_CAP
  return true;
}

/**
 * Add allow-list lines from text [p, p+len): one `METHOD type/subtype` per line (LF or CRLF; blank
 * lines skipped). All or nothing: false (and nothing added) when a line is malformed or the lines do
 * not fit in BODY_TYPES.
 */
export function bodyAllowType(p: usize, len: u32): bool {
  const end = p + <usize>len;
  for (let pass = 0; pass < 2; pass++) {
    const commit = pass == 1;
    let slot = typeCount;
    let s = p;
    while (s < end) {
      let e = s;
      while (e < end && load<u8>(e) != Ch.LF) e++; // e < end
      let le = e;
      if (le > s && load<u8>(le - 1) == Ch.CR) le--; // le - 1 >= s
      if (skipWs(s, le) < le) { // not blank
        if (slot >= BODY_TYPES) return false;
        if (!typeLine(s, le, slot, commit)) return false;
        slot++;
      }
      s = e + 1;
    }
    if (commit) typeCount = slot;
  }
  return true;
}

/** 1 = allowed, 0 = restricted and not matched, -1 = no entry applies to this method. */
function typeAllowed(v: MessageView): i32 {
  const mp = v.base; // the method token of a parsed request is [base, base + methodLen)
  const ml = v.methodLen;
  let applies = false;
  let haveCt = false;
  for (let i: u32 = 0; i < typeCount; i++) {
    const ent = types + <usize>(i * BODY_TYPE_ENTRY); // i < typeCount <= BODY_TYPES
    const el = <u32>load<u8>(ent);
    if (el != 0 && !eqBytes(ent + 4, el, mp, ml)) continue;
    if (!applies) {
      applies = true;
      const h = v.first(Hdr.ContentType);
      if (h >= 0) haveCt = decodeContentType(v.valPtr(h), v.valPtr(h) + <usize>v.valLen(h), CT);
    }
    if (!haveCt) return 0;
    const tl = <u32>load<u8>(ent, 1);
    const sl = <u32>load<u8>(ent, 2);
    const tStar = tl == 1 && load<u8>(ent, 32) == Ch.STAR;
    const sStar = sl == 1 && load<u8>(ent, 64) == Ch.STAR;
    // type and subtype compare case-insensitively (eqBytesI folds both sides), as stored
    if ((tStar || eqBytesI(CT.type, CT.typeLen, ent + 32, tl)) &&
        (sStar || eqBytesI(CT.subtype, CT.subtypeLen, ent + 64, sl))) return 1;
  }
  return applies ? 0 : -1;
}

// ---- patterns ----------------------------------------------------------------------------------

/** Add a refused byte pattern (raw bytes [p, p+len), 1..64). False when empty, too long or full. */
export function bodyAddPattern(p: usize, len: u32): bool {
  if (len == 0 || len > BODY_PATTERN_MAX || patCount >= BODY_PATTERNS) return false;
  const i = patCount;
  memory.copy(pats + <usize>(i * BODY_PATTERN_MAX), p, len);
  let h: u32 = 0;
  let pow: u32 = 1;
  for (let k: u32 = 0; k < len; k++) {
    h = h * BASE + <u32>load<u8>(p + <usize>k); // k < len
    if (k > 0) pow *= BASE;
  }
  const m = patMeta + <usize>(i * 12);
  store<u32>(m, len);
  store<u32>(m, h, 4);
  store<u32>(m, pow, 8); // BASE^(len-1): weight of the byte leaving the window
  patCount = i + 1;
  return true;
}

/** Index of the first pattern found in [p, p+n) (earliest end position), or -1. */
export function bodyScan(p: usize, n: u32): i32 {
  const k = patCount;
  if (k == 0) return -1;
  memory.fill(running, 0, k << 2);
  for (let j: u32 = 0; j < n; j++) {
    const c = <u32>load<u8>(p + <usize>j); // j < n
    for (let i: u32 = 0; i < k; i++) {
      const m = patMeta + <usize>(i * 12);
      const len = load<u32>(m);
      let h = load<u32>(running + <usize>(i << 2));
      if (j >= len) h -= <u32>load<u8>(p + <usize>(j - len)) * load<u32>(m, 8); // j - len < j < n
      h = h * BASE + c;
      store<u32>(running + <usize>(i << 2), h);
      if (j + 1 >= len && h == load<u32>(m, 4) &&
          eqBytes(p + <usize>(j + 1 - len), len, pats + <usize>(i * BODY_PATTERN_MAX), len)) {
        return <i32>i; // [j+1-len, j+1) is inside [p, p+n)
      }
    }
  }
  return -1;
}

// ---- the decision ------------------------------------------------------------------------------

/** The body verdict for the request in `v` (a parsed view; body span checked by the parser). */
export function bodyVerdict(v: MessageView): BodyVerdict {
  matched = -1;
  if (!v.isRequest) return BodyVerdict.Ok;
  const n = v.bodyLen;
  if (maxBody != 0 && n > maxBody) return BodyVerdict.TooLarge;
  if (n == 0) return BodyVerdict.Ok;
  if (typeCount != 0 && typeAllowed(v) == 0) return BodyVerdict.TypeNotAllowed;
  if (v.method == Method.MESSAGE && patCount != 0) {
    for (let h = v.first(Hdr.ContentEncoding); h >= 0; h = v.next(h)) {
      if (!eqText(v.valPtr(h), v.valLen(h), T_K_IDENTITY)) return BodyVerdict.TypeNotAllowed;
    }
    const i = bodyScan(v.base + <usize>v.bodyOff, n);
    if (i >= 0) {
      matched = i;
      return BodyVerdict.PatternMatched;
    }
  }
  return BodyVerdict.Ok;
}
