// The user table of the digest authenticator: username → HA1 for MD5 and/or SHA-256 (RFC 2617
// §3.2.2.2, RFC 8760 §3): HA1 = H(username ":" realm ":" password). Plaintext passwords are never
// kept: a `password=` line is hashed at add time under the realm set beforehand, and the password
// bytes of the caller's line are zeroed (so are `ha1=` / `ha1sha256=` values, which are
// password-equivalent). Lookups compare the username exactly (RFC 2617: case-sensitive).
//
// Config line grammar (one user per call, trailing CR/LF ignored):
//   username ":" "password=" SECRET        both HA1s from the plaintext (realm must be set)
//   username ":" "ha1=" 32HEXDIG           MD5 HA1
//   username ":" "ha1sha256=" 64HEXDIG     SHA-256 HA1
// Adding an existing user again updates only the HA1(s) the line gives, so `ha1=` and `ha1sha256=`
// lines for one user combine.
//
// Memory: MAX_USERS (config.ts, per board) × USER_SIZE (112) bytes, plus the realm (REALM_MAX = 64 bytes).
// One record (USER_SIZE = 112 bytes):
//
//   +0 u8 nameLen (0 = free)   +1 u8 flags (HAS_MD5 | HAS_SHA256)   +2 u16 reserved
//   +4   u8[60] username
//   +64  u8[16] HA1 MD5 (raw)
//   +80  u8[32] HA1 SHA-256 (raw)

import { MAX_USERS } from "../config";
import { hexDecode } from "../crypto";
import { Ch } from "../util/chars";
import { eqBytes, eqText } from "../wire/scan";
import { Alg, hByte, hFinal, hInit, hUpdate } from "./hash";
import { T_K_HA1, T_K_HA1SHA256, T_K_PASSWORD } from "../wire/tables";
import { tableAlloc } from "../util/alloc";

/** Users held at once (the same on every board: the table is 7 KB). */
export { MAX_USERS };
/** Longest username, bytes (RFC 3261 user parts are short; 60 fills the record to 112 bytes). */
export const USER_NAME_MAX: u32 = 60;
/** Longest realm, bytes. */
export const REALM_MAX: u32 = 64;
export const USER_SIZE: u32 = 112;

const U_NAME: usize = 4;
const U_MD5: usize = 64;
const U_SHA256: usize = 80;

export const enum UserFlag { HAS_MD5 = 1, HAS_SHA256 = 2 }

/** authUserAdd / authSetRealm results (stable numbers). */
export const enum AuthConfigResult {
  Ok = 0,
  /** The line (or realm) does not follow the grammar. */
  Malformed = -1,
  /** A `password=` line before authSetRealm. */
  NoRealm = -2,
  /** Username over USER_NAME_MAX or realm over REALM_MAX. */
  TooLong = -3,
  /** MAX_USERS users already. */
  TableFull = -4,
}

const USERS: usize = tableAlloc(<usize>MAX_USERS * USER_SIZE);
const REALM: usize = memory.data(64);
let realmLen: u32 = 0;
/** Scratch for HA1s being computed or decoded before they are committed: 48 bytes. */
const NEW_HA1: usize = memory.data(48);

// USERS starts zero (fresh memory: util/alloc.ts) and credentialsReset (sip_init) clears it again

function rec(i: i32): usize { return USERS + <usize>i * USER_SIZE; }

/** Forget every user and the realm. */
export function credentialsReset(): void {
  memory.fill(USERS, 0, <usize>MAX_USERS * USER_SIZE);
  memory.fill(REALM, 0, REALM_MAX);
  realmLen = 0;
}

/**
 * Set the realm (RFC 3261 §22.1). It must be 1..REALM_MAX bytes of printable ASCII without DQUOTE or
 * backslash, so it is written into challenges as a quoted-string verbatim. HA1s are bound to the
 * realm, so a realm change forgets every user: set the realm first, then add users.
 */
export function authSetRealm(p: usize, len: u32): i32 {
  if (len == 0) return AuthConfigResult.Malformed;
  if (len > REALM_MAX) return AuthConfigResult.TooLong;
  for (let i: usize = 0; i < <usize>len; i++) {
    const c = <u32>load<u8>(p + i);
    if (c < <u32>Ch.SP || c >= <u32>Ch.DEL || c == Ch.DQUOTE || c == Ch.BACKSLASH) return AuthConfigResult.Malformed;
  }
  const same = eqBytes(p, len, REALM, realmLen);
  if (!same) {
    memory.fill(USERS, 0, <usize>MAX_USERS * USER_SIZE);
    memory.copy(REALM, p, len);
    realmLen = len;
  }
  return AuthConfigResult.Ok;
}

export function realmPtr(): usize { return REALM; }
export function realmLength(): u32 { return realmLen; }

/** Number of users in the table. */
export function authUserCount(): i32 {
  let n = 0;
  for (let i = 0; i < MAX_USERS; i++) if (load<u8>(rec(i)) != 0) n++;
  return n;
}

/**
 * Add or update one user from a config line at [p, p+len) (grammar above). Returns
 * AuthConfigResult. The secret part of the line is zeroed whatever the outcome, once it is found.
 */
export function authUserAdd(p: usize, len: u32): i32 {
  let end = p + <usize>len;
  while (end > p && (load<u8>(end - 1) == Ch.CR || load<u8>(end - 1) == Ch.LF)) end--;
  // username: up to the first ":" (a SIP user part has no bare ":"), no CTLs
  let q = p;
  while (q < end && load<u8>(q) != Ch.COLON) {
    const c = <u32>load<u8>(q);
    if (c <= <u32>Ch.SP || c >= <u32>Ch.DEL) return AuthConfigResult.Malformed;
    q++;
  }
  if (q >= end || q == p) return AuthConfigResult.Malformed;
  const name = p;
  const nameLen = <u32>(q - p);
  q++;
  // key "="
  const ks = q;
  while (q < end && load<u8>(q) != Ch.EQ) q++;
  if (q >= end) return AuthConfigResult.Malformed;
  const keyLen = <u32>(q - ks);
  const s = q + 1;
  const sLen = <u32>(end - s);
  const r = addSecret(name, nameLen, ks, keyLen, s, sLen);
  memory.fill(s, 0, sLen); // the secret never outlives this call
  memory.fill(NEW_HA1, 0, 48);
  return r;
}

function addSecret(name: usize, nameLen: u32, key: usize, keyLen: u32, s: usize, sLen: u32): i32 {
  let flags: u32 = 0;
  if (eqText(key, keyLen, T_K_PASSWORD)) {
    if (sLen == 0) return AuthConfigResult.Malformed;
    if (realmLen == 0) return AuthConfigResult.NoRealm;
    ha1(Alg.MD5, name, nameLen, s, sLen, NEW_HA1);
    ha1(Alg.SHA256, name, nameLen, s, sLen, NEW_HA1 + 16);
    flags = UserFlag.HAS_MD5 | UserFlag.HAS_SHA256;
  } else if (eqText(key, keyLen, T_K_HA1)) {
    if (sLen != 32 || !hexDecode(s, 16, NEW_HA1)) return AuthConfigResult.Malformed;
    flags = UserFlag.HAS_MD5;
  } else if (eqText(key, keyLen, T_K_HA1SHA256)) {
    if (sLen != 64 || !hexDecode(s, 32, NEW_HA1 + 16)) return AuthConfigResult.Malformed;
    flags = UserFlag.HAS_SHA256;
  } else {
    return AuthConfigResult.Malformed;
  }
  if (nameLen > USER_NAME_MAX) return AuthConfigResult.TooLong;
  let i = userFind(name, nameLen);
  if (i < 0) {
    for (let j = 0; j < MAX_USERS; j++) {
      if (load<u8>(rec(j)) == 0) {
        i = j;
        break;
      }
    }
    if (i < 0) return AuthConfigResult.TableFull;
    const r = rec(i);
    memory.fill(r, 0, USER_SIZE);
    store<u8>(r, <u8>nameLen);
    memory.copy(r + U_NAME, name, nameLen);
  }
  const r = rec(i);
  // NEW_HA1 is laid out as the record's HA1s (MD5 at +0, SHA-256 at +16): copy the ones given, one range
  const from: usize = flags & UserFlag.HAS_MD5 ? 0 : 16;
  const to: usize = flags & UserFlag.HAS_SHA256 ? 48 : 16;
  memory.copy(r + U_MD5 + from, NEW_HA1 + from, to - from);
  store<u8>(r, <u8>(load<u8>(r, 1) | flags), 1);
  return AuthConfigResult.Ok;
}

/** HA1 = H(username ":" realm ":" password), raw, into out; the hash context is wiped by final. */
function ha1(alg: Alg, name: usize, nameLen: u32, pw: usize, pwLen: u32, out: usize): void {
  hInit(alg);
  hUpdate(alg, name, nameLen);
  hByte(alg, Ch.COLON);
  hUpdate(alg, REALM, realmLen);
  hByte(alg, Ch.COLON);
  hUpdate(alg, pw, pwLen);
  hFinal(alg, out);
}

/** Row of the user named exactly [p, p+len), or -1. */
export function userFind(p: usize, len: u32): i32 {
  if (len == 0 || len > USER_NAME_MAX) return -1;
  for (let i = 0; i < MAX_USERS; i++) {
    const r = rec(i);
    if (eqBytes(r + U_NAME, <u32>load<u8>(r), p, len)) return i;
  }
  return -1;
}

/**
 * Row of the user whose name equals the unquoted value of quoted-string content [p, p+len) (each
 * "\" c stands for c), or -1.
 */
export function userFindQuoted(p: usize, len: u32): i32 {
  for (let i = 0; i < MAX_USERS; i++) {
    const r = rec(i);
    const n = <u32>load<u8>(r);
    if (n != 0 && eqUnquoted(p, len, r + U_NAME, n)) return i;
  }
  return -1;
}

/** Quoted-string content [p, p+len) unquoted equals the plain bytes [s, s+n)? (also digest.ts's realm) */
export function eqUnquoted(p: usize, len: u32, s: usize, n: u32): bool {
  const end = p + <usize>len;
  let q = p;
  let k: u32 = 0;
  while (q < end && k < n) {
    if (load<u8>(q) == Ch.BACKSLASH && q + 1 < end) q++;
    if (load<u8>(q) != load<u8>(s + <usize>k)) return false;
    q++;
    k++;
  }
  return q == end && k == n;
}

/** Raw HA1 of row i for `alg`, or 0 when the user has none for that algorithm. i must be a row. */
export function userHa1(i: i32, alg: Alg): usize {
  const r = rec(i);
  const f = <u32>load<u8>(r, 1);
  if (alg == Alg.SHA256) return f & UserFlag.HAS_SHA256 ? r + U_SHA256 : 0;
  return f & UserFlag.HAS_MD5 ? r + U_MD5 : 0;
}
