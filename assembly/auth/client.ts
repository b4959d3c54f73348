// Client digest (RFC 3261 §22.2–22.4, RFC 2617 §3.2.1–3.2.2, RFC 7616 / RFC 8760): answer a 401/407
// challenge of a provider's registrar or proxy, as a B2BUA leg or a registrant must. The challenge
// value (WWW-Authenticate or Proxy-Authenticate) is parsed by the same parser as credentials
// (digest.ts parseDigest: quoted-strings, duplicates refused, unknown params ignored); the answer is
// written into a Writer:
//
//   Digest username="U", realm="R", nonce="N", uri="URI", response="H", algorithm=A
//          [, cnonce="C", qop=auth, nc=XXXXXXXX] [, opaque="O"]
//
//   HA1 = H(username ":" realm ":" password)   (clientHa1, or a stored HA1 for that realm)
//   HA2 = H(method ":" uri)
//   qop=auth offered:  response = H(HA1 ":" nonce ":" nc ":" cnonce ":" "auth" ":" HA2)
//   no qop (RFC 2069): response = H(HA1 ":" nonce ":" HA2)
//
// Algorithms: MD5 (also when absent) and SHA-256; "-sess" variants and others are refused (the caller
// then takes another challenge of the response, or fails the request). qop: "auth" when the
// challenge offers it (a list such as "auth,auth-int" is fine), none when the challenge has no qop;
// a qop list without "auth" is refused (auth-int needs the body hash, which we do not offer).
// Nothing allocates; spans point into the message holding the challenge, which must stay put until
// writeCredentials has run.

import { Ch } from "../util/chars";
import { USER_AGENT } from "../config";
import { eqText, skipLws, skipToken } from "../wire/scan";
import { Writer } from "../wire/writer";
import { Alg, hByte, hFinalHex, hInit, hUnquoted, hUpdate, hexLen } from "./hash";
import { P, paramLen, paramPtr, paramSeen, parseDigest } from "./digest";
import { TEXT, T_K_AUTH, T_K_MD5, T_K_SHA256 } from "../wire/tables";
import { tableAlloc } from "../util/alloc";

/** The challenge being answered (spans into its message; see parseChallenge). */
export class DigestChallenge {
  realm: usize = 0;
  realmLen: u32 = 0;
  nonce: usize = 0;
  nonceLen: u32 = 0;
  opaque: usize = 0;
  opaqueLen: u32 = 0;
  /** opaque present (it may be empty and must then be echoed empty) */
  hasOpaque: bool = false;
  alg: Alg = Alg.None;
  /** qop=auth is offered: the answer carries qop, nc and cnonce */
  qopAuth: bool = false;
  /** stale=true: the nonce expired but our previous answer was right (retry without counting a failure) */
  stale: bool = false;
}

// the user agent's (a B2BUA leg, a registrant): nothing of it where config.ts USER_AGENT is off
export const challenge = USER_AGENT ? new DigestChallenge() : changetype<DigestChallenge>(0);

/** HA2 and a scratch hex value: 2 × 64 bytes. */
const HA2HEX: usize = USER_AGENT ? tableAlloc(64) : 0;
const RESP: usize = USER_AGENT ? tableAlloc(64) : 0;

/** "auth" is one of the tokens of the qop list [p, p+len) (RFC 2617: qop-options = 1#qop-value). */
function offersAuth(p: usize, len: u32): bool {
  const end = p + <usize>len;
  let q = p;
  while (q < end) {
    q = skipLws(q, end);
    const s = q;
    q = skipToken(q, end);
    if (q == s) return false; // not a token list
    if (eqText(s, <u32>(q - s), T_K_AUTH)) return true;
    q = skipLws(q, end);
    if (q < end) {
      if (load<u8>(q) != Ch.COMMA) return false;
      q++;
    }
  }
  return false;
}

/**
 * Parses a challenge value [p, p+len) into `challenge`. False when it is not Digest, does not parse,
 * lacks realm or nonce, names an algorithm we do not have, or offers qop without "auth".
 */
export function parseChallenge(p: usize, len: u32): bool {
  const c = challenge;
  c.alg = Alg.None;
  c.qopAuth = false;
  c.stale = false;
  c.hasOpaque = false;
  if (!parseDigest(p, len) || !paramSeen(P.Realm) || !paramSeen(P.Nonce)) return false;
  let alg = Alg.MD5;
  if (paramSeen(P.Algorithm)) {
    const a = paramPtr(P.Algorithm);
    const al = paramLen(P.Algorithm);
    if (eqText(a, al, T_K_SHA256)) alg = Alg.SHA256;
    else if (!eqText(a, al, T_K_MD5)) return false;
  }
  if (paramSeen(P.Qop)) {
    if (!offersAuth(paramPtr(P.Qop), paramLen(P.Qop))) return false;
    c.qopAuth = true;
  }
  if (paramSeen(P.Stale)) {
    const s = paramPtr(P.Stale);
    const sl = paramLen(P.Stale);
    // "true", any case (RFC 2617 §3.2.1)
    c.stale = sl == 4 && (load<u32>(s) | 0x20202020) == 0x65757274;
  }
  c.realm = paramPtr(P.Realm);
  c.realmLen = paramLen(P.Realm);
  c.nonce = paramPtr(P.Nonce);
  c.nonceLen = paramLen(P.Nonce);
  c.hasOpaque = paramSeen(P.Opaque);
  c.opaque = paramPtr(P.Opaque);
  c.opaqueLen = paramLen(P.Opaque);
  c.alg = alg;
  return true;
}

/** HA1 = H(user ":" realm ":" password) for the parsed challenge, as hex at out; returns its length. */
export function clientHa1(user: usize, userLen: u32, password: usize, passwordLen: u32, out: usize): u32 {
  const alg = challenge.alg;
  hInit(alg);
  hUpdate(alg, user, userLen);
  hByte(alg, Ch.COLON);
  hUnquoted(alg, challenge.realm, challenge.realmLen);
  hByte(alg, Ch.COLON);
  hUpdate(alg, password, passwordLen);
  return hFinalHex(alg, out);
}

/** nc as eight lowercase hex digits: 8 bytes. */
const NC8: usize = USER_AGENT ? tableAlloc(8) : 0;

function hex8(n: u32): void {
  for (let i: u32 = 0; i < 8; i++) {
    const d = (n >>> (28 - (i << 2))) & 15;
    store<u8>(NC8 + <usize>i, <u8>(d < 10 ? 48 + d : 87 + d));
  }
}

/**
 * Writes the credentials value answering the parsed challenge for request `method` to `uri`, as
 * `user` with HA1 hex `ha1` (hexLen(alg) bytes), client nonce `cnonce` (a token: the caller's random
 * hex) and nonce count `nc` (from 1, per nonce). The caller writes the header name before it.
 */
export function writeCredentials(
  w: Writer, method: usize, methodLen: u32, uri: usize, uriLen: u32, user: usize, userLen: u32,
  ha1: usize, cnonce: usize, cnonceLen: u32, nc: u32,
): void {
  const c = challenge;
  const alg = c.alg;
  const hl = hexLen(alg);
  const auth = TEXT + <usize>(T_K_AUTH >> 8);
  hInit(alg);
  hUpdate(alg, method, methodLen);
  hByte(alg, Ch.COLON);
  hUpdate(alg, uri, uriLen);
  hFinalHex(alg, HA2HEX);
  hex8(nc);
  hInit(alg);
  hUpdate(alg, ha1, hl);
  hByte(alg, Ch.COLON);
  hUnquoted(alg, c.nonce, c.nonceLen);
  hByte(alg, Ch.COLON);
  if (c.qopAuth) {
    hUpdate(alg, NC8, 8);
    hByte(alg, Ch.COLON);
    hUpdate(alg, cnonce, cnonceLen);
    hByte(alg, Ch.COLON);
    hUpdate(alg, auth, 4);
    hByte(alg, Ch.COLON);
  }
  hUpdate(alg, HA2HEX, hl);
  hFinalHex(alg, RESP);

  w.lit("Digest username=\"");
  w.bytes(user, userLen);
  w.lit("\", realm=\"");
  w.bytes(c.realm, c.realmLen);
  w.lit("\", nonce=\"");
  w.bytes(c.nonce, c.nonceLen);
  w.lit("\", uri=\"");
  w.bytes(uri, uriLen);
  w.lit("\", response=\"");
  w.bytes(RESP, hl);
  w.lit(alg == Alg.SHA256 ? "\", algorithm=SHA-256" : "\", algorithm=MD5");
  if (c.qopAuth) {
    w.lit(", cnonce=\"");
    w.bytes(cnonce, cnonceLen);
    w.lit("\", qop=auth, nc=");
    w.bytes(NC8, 8);
  }
  if (c.hasOpaque) {
    w.lit(", opaque=\"");
    w.bytes(c.opaque, c.opaqueLen);
    w.byte(Ch.DQUOTE);
  }
  memory.fill(RESP, 0, 64);
  memory.fill(HA2HEX, 0, 64);
}

/** HA1 hex then the client nonce: the scratch of authorizationLine (wiped after each use). */
const SECRET: usize = USER_AGENT ? tableAlloc(72) : 0;

/**
 * A whole credentials line answering the challenge parsed last (a 401's as Authorization, a 407's as
 * Proxy-Authorization, RFC 3261 §22.2/22.3) for request `method` to `uri`, as `user` with `password`,
 * a fresh client nonce from `random`, nonce count `nc` (1 for a nonce's first use; a later request
 * reusing the nonce counts on, RFC 7616 §3.4); ends with CRLF. The HA1 is wiped after use.
 */
export function authorizationLine(
  w: Writer, status: u32, method: usize, methodLen: u32, uri: usize, uriLen: u32, user: usize, userLen: u32,
  password: usize, passwordLen: u32, random: u32, nc: u32 = 1,
): void {
  w.lit(status == 407 ? "Proxy-Authorization: " : "Authorization: ");
  hex8(random);
  memory.copy(SECRET + 64, NC8, 8); // the client nonce: 8 hex digits
  clientHa1(user, userLen, password, passwordLen, SECRET);
  writeCredentials(w, method, methodLen, uri, uriLen, user, userLen, SECRET, SECRET + 64, 8, nc);
  memory.fill(SECRET, 0, 72);
  w.lit("\r\n");
}
