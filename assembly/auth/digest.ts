// Digest credentials (RFC 3261 §22.4, RFC 2617 §3.2.2, RFC 8760): parse an Authorization /
// Proxy-Authorization value and check it against the user table, the nonce MAC and the nonce-count
// table. Assumes a view built by wire/view.ts (every value span lies inside the received message);
// all reads stay inside the value span, nothing allocates, nothing traps.
//
//   credentials = "Digest" LWS digest-response *(COMMA digest-response)
//   digest-response = param-name EQUAL ( quoted-string / token-ish )
//
// Known params: username realm nonce uri response algorithm cnonce opaque qop nc; unknown ones are
// ignored, a known one twice makes the value Malformed. Empty list elements (", ,") are skipped.
// Quoted values are kept as spans of their content (quotes stripped); a quoted-pair "\c" stands for
// c when the value is hashed or compared.
//
// The expected response (RFC 2617 §3.2.2.1, RFC 8760 §3):
//   HA1 = table (H(username ":" realm ":" password), precomputed)
//   HA2 = H(method ":" digest-uri)                     method = the request's method token
//   qop=auth:  H(HA1 ":" nonce ":" nc ":" cnonce ":" qop ":" HA2)
//   no qop:    H(HA1 ":" nonce ":" HA2)                 (RFC 2069 compatibility, no replay check)
// digest-uri is taken as sent (RFC 3261 §22.4 wants it to equal the Request-URI; we only require it).
//
// Order of checks, so the verdict tells the caller what to answer: syntax → realm → user → nonce MAC
// → response → nonce age → nonce count. Stale is only reported for a correct response (RFC 2617
// §3.2.1 "stale"), so a client that knows the password can retry without prompting.

import { Ch, lower } from "../util/chars";
import { Hdr } from "../wire/hdr";
import { eqText, skipLws, skipQuoted, skipToken } from "../wire/scan";
import { MessageView } from "../wire/view";
import { hexDecode, hexEncode } from "../crypto";
import { Alg, hByte, hFinalHex, hInit, hUnquoted, hUpdate, hexLen, rawLen } from "./hash";
import { eqUnquoted, realmLength, realmPtr, userFindQuoted, userHa1 } from "./credentials";
import { NcResult, NonceState, ncCheck, nonceVerify, verifiedTag, verifiedTs } from "./nonce";
import { algorithmOffered } from "./challenge";
import { T_K_ALGORITHM, T_K_AUTH, T_K_CNONCE, T_K_DIGEST, T_K_MD5, T_K_NC, T_K_NONCE, T_K_OPAQUE, T_K_QOP, T_K_REALM, T_K_RESPONSE, T_K_SHA256, T_K_STALE, T_K_URI, T_K_USERNAME } from "../wire/tables";

/** authCheck verdicts (stable numbers). */
export const enum AuthVerdict {
  Ok = 0,
  /** No Digest credentials of the kind asked for: challenge. */
  NoCredentials = 1,
  /** No such user, or the user has no HA1 for the algorithm used: challenge (401/407). */
  UnknownUser = 2,
  /** Wrong response, or a nonce we did not issue (bad MAC, foreign format): challenge. */
  BadResponse = 3,
  /** Correct response on an expired nonce (or a count we can no longer vouch for): stale=true. */
  Stale = 4,
  /** nc did not increase for this nonce: refuse (and challenge afresh). */
  Replay = 5,
  /** Credentials that do not parse or lack a required param: 400, or challenge. */
  Malformed = 6,
  /** Well-formed credentials, none for our realm: challenge. */
  WrongRealm = 7,
}

/** Known params, as bit positions in `seen` and slots in SPANS (a challenge's too: client.ts). */
export const enum P {
  Username = 0, Realm = 1, Nonce = 2, Uri = 3, Response = 4, Algorithm = 5, Cnonce = 6, Opaque = 7,
  Qop = 8, Nc = 9, Stale = 10, Count = 11,
}

/** Spans of the params of the credentials being checked: P.Count × (u32 ptr, u32 len) = 88 bytes. */
const SPANS: usize = memory.data(88);
let seen: u32 = 0;

/** HA1 hex, HA2 hex and the expected response hex: 3 × 64 bytes. */
const HA1HEX: usize = memory.data(64);
const HA2HEX: usize = memory.data(64);
const EXPECT: usize = memory.data(64);

/** What the last authCheck found. The username span points into the checked message (quoted-string
 * content as sent); userIndex is the table row (-1 when unknown). Never holds a secret. */
export class AuthResult {
  verdict: AuthVerdict = AuthVerdict.NoCredentials;
  user: usize = 0;
  userLen: u32 = 0;
  userIndex: i32 = -1;
  alg: Alg = Alg.None;
  /** Index of the header entry that was checked, -1 when none. */
  entry: i32 = -1;

  reset(): void {
    this.verdict = AuthVerdict.NoCredentials;
    this.user = 0;
    this.userLen = 0;
    this.userIndex = -1;
    this.alg = Alg.None;
    this.entry = -1;
  }
}

export const authResult = new AuthResult();

function sp(k: P): usize { return load<usize>(SPANS + (<usize>k << 3)); }
function sl(k: P): u32 { return load<u32>(SPANS + (<usize>k << 3), 4); }
function has(k: P): bool { return (seen & (1 << <u32>k)) != 0; }

function isLws(c: u32): bool {
  return c == Ch.SP || c == Ch.HT || c == Ch.CR || c == Ch.LF;
}

/** Byte allowed in an unquoted param value: printable ASCII but LWS, COMMA, DQUOTE, backslash. */
function isValueByte(c: u32): bool {
  return c > <u32>Ch.SP && c < <u32>Ch.DEL && c != Ch.COMMA && c != Ch.DQUOTE && c != Ch.BACKSLASH;
}

/** The names of the known params in P order (packed-table codes, wire/tables.ts): P.Count × u32. */
const PARAM_NAMES: usize = memory.data<u32>([
  T_K_USERNAME, T_K_REALM, T_K_NONCE, T_K_URI, T_K_RESPONSE, T_K_ALGORITHM, T_K_CNONCE, T_K_OPAQUE,
  T_K_QOP, T_K_NC, T_K_STALE,
]);

/** The P of param name [p, p+len) (any case), -1 when not a known one. */
function paramId(p: usize, len: u32): i32 {
  for (let k = 0; k < P.Count; k++) {
    if (eqText(p, len, load<u32>(PARAM_NAMES + (<usize>k << 2)))) return k; // k < P.Count: inside the table
  }
  return -1;
}

/** Scheme of the value [p, end): 1 Digest, 0 another scheme, -1 no scheme token at all. */
function scheme(p: usize, end: usize): i32 {
  const q = skipToken(p, end);
  if (q == p) return -1;
  return eqText(p, <u32>(q - p), T_K_DIGEST) ? 1 : 0;
}

/**
 * Parse a Digest credentials value [p, p+len) into SPANS / seen. False on any syntax error, a
 * duplicate known param, or no param at all.
 */
export function parseDigest(p: usize, len: u32): bool {
  seen = 0;
  memory.fill(SPANS, 0, 88);
  const end = p + <usize>len;
  let q = skipToken(p, end);
  if (q == p || !eqText(p, <u32>(q - p), T_K_DIGEST)) return false;
  if (q >= end || !isLws(<u32>load<u8>(q))) return false;
  let params = 0;
  while (true) {
    q = skipLws(q, end);
    while (q < end && load<u8>(q) == Ch.COMMA) q = skipLws(q + 1, end);
    if (q >= end) break;
    const ns = q;
    q = skipToken(q, end);
    if (q == ns) return false;
    const id = paramId(ns, <u32>(q - ns));
    q = skipLws(q, end);
    if (q >= end || load<u8>(q) != Ch.EQ) return false;
    q = skipLws(q + 1, end);
    if (q >= end) return false;
    let vs: usize;
    let vl: u32;
    if (load<u8>(q) == Ch.DQUOTE) {
      const e = skipQuoted(q, end);
      if (e == 0) return false;
      vs = q + 1;
      vl = <u32>(e - 1 - vs);
      q = e;
    } else {
      vs = q;
      while (q < end && isValueByte(<u32>load<u8>(q))) q++;
      if (q == vs) return false;
      vl = <u32>(q - vs);
    }
    if (id >= 0) {
      const bit: u32 = 1 << <u32>id;
      if (seen & bit) return false;
      seen |= bit;
      store<usize>(SPANS + (<usize>id << 3), vs);
      store<u32>(SPANS + (<usize>id << 3), vl, 4);
    }
    params++;
    q = skipLws(q, end);
    if (q < end && load<u8>(q) != Ch.COMMA) return false;
  }
  return params > 0;
}

/** The span of param k of the last parseDigest (0 / 0 when absent): for the client side (client.ts). */
export function paramPtr(k: P): usize { return sp(k); }
export function paramLen(k: P): u32 { return sl(k); }
export function paramSeen(k: P): bool { return has(k); }

/** The nc value decoded: 4 bytes. */
const NC_RAW: usize = memory.data(4);

/** 8LHEX nc value, or -1 (either case accepted; 0 is refused: counts start at 1). */
function parseNc(p: usize, len: u32): i64 {
  if (len != 8 || !hexDecode(p, 4, NC_RAW)) return -1;
  const v = bswap<u32>(load<u32>(NC_RAW)); // the 4 bytes decoded, most significant first
  return v == 0 ? -1 : <i64>v;
}

/**
 * Check the credentials of request `v` (validated by wire/: spans inside the message) for our realm:
 * Authorization when !proxy (the registrar), Proxy-Authorization when proxy. `now` in ms. Fills
 * authResult and returns its verdict. Of several header lines the first Digest one for our realm is
 * checked; lines of other schemes are ignored.
 */
export function authCheck(v: MessageView, proxy: bool, now: i64): AuthVerdict {
  const r = authResult;
  r.reset();
  if (!v.isRequest) return AuthVerdict.NoCredentials;
  const h = proxy ? Hdr.ProxyAuthorization : Hdr.Authorization;
  let malformed = false;
  let digest = false;
  for (let i = v.first(h); i >= 0; i = v.next(i)) {
    const p = v.valPtr(i);
    const len = v.valLen(i);
    const s = scheme(p, p + <usize>len);
    if (s == 0) continue; // Basic and friends: not ours to judge
    digest = true;
    if (!parseDigest(p, len)) {
      malformed = true;
      continue;
    }
    if (!has(P.Realm)) {
      malformed = true;
      continue;
    }
    if (!eqUnquoted(sp(P.Realm), sl(P.Realm), realmPtr(), realmLength()) || realmLength() == 0) continue;
    r.entry = i;
    r.verdict = verify(v, now);
    return r.verdict;
  }
  r.verdict = !digest ? AuthVerdict.NoCredentials : malformed ? AuthVerdict.Malformed : AuthVerdict.WrongRealm;
  return r.verdict;
}

/** Param k's unquoted value and ":" into the hash. */
function hPart(alg: Alg, k: P): void {
  hUnquoted(alg, sp(k), sl(k));
  hByte(alg, Ch.COLON);
}

function verify(v: MessageView, now: i64): AuthVerdict {
  const r = authResult;
  const required: u32 = (1 << P.Username) | (1 << P.Nonce) | (1 << P.Uri) | (1 << P.Response);
  if ((seen & required) != required) return AuthVerdict.Malformed;
  r.user = sp(P.Username);
  r.userLen = sl(P.Username);
  // algorithm: absent means MD5 (RFC 2617 §3.2.2)
  let alg = Alg.MD5;
  if (has(P.Algorithm)) {
    const a = sp(P.Algorithm);
    const al = sl(P.Algorithm);
    if (eqText(a, al, T_K_SHA256)) alg = Alg.SHA256;
    else if (!eqText(a, al, T_K_MD5)) return AuthVerdict.Malformed;
  }
  r.alg = alg;
  // an algorithm we do not offer (config key 22): challenged afresh, as if no credentials came
  if (!algorithmOffered(alg)) return AuthVerdict.NoCredentials;
  // qop: only "auth" is offered; with it, nc and cnonce are required
  const qop = has(P.Qop);
  let nc: u32 = 0;
  if (qop) {
    if (!eqText(sp(P.Qop), sl(P.Qop), T_K_AUTH)) return AuthVerdict.Malformed;
    const withQop: u32 = (1 << P.Cnonce) | (1 << P.Nc);
    if ((seen & withQop) != withQop) return AuthVerdict.Malformed;
    const n = parseNc(sp(P.Nc), sl(P.Nc));
    if (n < 0) return AuthVerdict.Malformed;
    nc = <u32>n;
  }
  const hl = hexLen(alg);
  if (sl(P.Response) != hl) return AuthVerdict.Malformed;

  const row = userFindQuoted(r.user, r.userLen);
  if (row < 0) return AuthVerdict.UnknownUser;
  r.userIndex = row;
  const ha1 = userHa1(row, alg);
  if (ha1 == 0) return AuthVerdict.UnknownUser;

  const ns = nonceVerify(sp(P.Nonce), sl(P.Nonce), now);
  if (ns == NonceState.Invalid) return AuthVerdict.BadResponse;
  const ts = verifiedTs;
  const tag = verifiedTag;

  // HA2 = H(method ":" digest-uri); the method token starts the request line at v.base
  hInit(alg);
  hUpdate(alg, v.base, v.methodLen);
  hByte(alg, Ch.COLON);
  hUnquoted(alg, sp(P.Uri), sl(P.Uri));
  hFinalHex(alg, HA2HEX);
  // response = H(HA1 ":" nonce ":" [nc ":" cnonce ":" qop ":"] HA2)
  hexEncode(ha1, rawLen(alg), HA1HEX);
  hInit(alg);
  hUpdate(alg, HA1HEX, hl);
  hByte(alg, Ch.COLON);
  hPart(alg, P.Nonce);
  if (qop) {
    hPart(alg, P.Nc); // 8 hex digits (parseNc): unquoting leaves them as they are
    hPart(alg, P.Cnonce);
    hPart(alg, P.Qop);
  }
  hUpdate(alg, HA2HEX, hl);
  hFinalHex(alg, EXPECT);
  memory.fill(HA1HEX, 0, 64);

  // constant-time compare, hex digits either case (length already equal)
  const resp = sp(P.Response);
  let diff: u32 = 0;
  for (let i: usize = 0; i < <usize>hl; i++) diff |= lower(<u32>load<u8>(resp + i)) ^ <u32>load<u8>(EXPECT + i);
  if (diff != 0) return AuthVerdict.BadResponse;

  if (ns == NonceState.Stale) return AuthVerdict.Stale;
  if (qop) {
    const c = ncCheck(ts, tag, nc);
    if (c == NcResult.Replay) return AuthVerdict.Replay;
    if (c == NcResult.Unknown) return AuthVerdict.Stale;
  }
  return AuthVerdict.Ok;
}
