// Challenges (RFC 3261 §22.1 / §22.3, RFC 8760 §2.4): one header line per algorithm offered, in the
// configured order (config key 22, authSetAlgorithms; default MD5 only), each with the nonce for
// `now`:
//
//   WWW-Authenticate: Digest realm="R", nonce="N", algorithm=MD5, qop="auth"[, stale=true]\r\n
//   WWW-Authenticate: Digest realm="R", nonce="N", algorithm=SHA-256, qop="auth"[, stale=true]\r\n
//
// (Proxy-Authenticate when `proxy`). Every line carries the same nonce: it is algorithm-independent
// (nonce.ts). The realm was checked at authSetRealm to need no escaping inside the quotes.
//
// Why MD5 only by default: RFC 8760 §2.4 has clients take the topmost challenge they support, but the
// installed base does not: SIPp 3.6 answers only the first line (and gives up when it is SHA-256),
// and baresip 1.0 (libre 1.1) refuses the whole challenge when any line is not MD5, in any order
// (tests/peers/baresip-digest.test.mjs). Kamailio and Asterisk offer MD5 only by default too.
// Deployments whose phones all do RFC 8760 set ["SHA-256", "MD5"] or ["MD5", "SHA-256"].

import { Writer } from "../wire/writer";
import { realmLength, realmPtr } from "./credentials";
import { NONCE_LEN, nonceMake } from "./nonce";
import { Alg } from "./hash";
import { T_STALE, T_PROXY_AUTHN, T_WWW_AUTHN, T_NONCE_EQ, T_ALG_SHA256, T_ALG_MD5 } from "../wire/tables";

/** The nonce of the challenge being written: NONCE_LEN bytes. */
const NONCE: usize = memory.data(<i32>NONCE_LEN);

/** The algorithms offered, in order: base-4 digits (1 MD5, 2 SHA-256), least significant first. */
let offered: u32 = 1;

/**
 * Set the algorithms offered (config key 22): base-4 digits of Alg ids, least significant first, each
 * algorithm at most once (9 = MD5 then SHA-256, 6 = SHA-256 then MD5, 1, 2). False otherwise.
 */
export function authSetAlgorithms(code: u32): bool {
  if (code != 1 && code != 2 && code != 9 && code != 6) return false;
  offered = code;
  return true;
}

export function authAlgorithmsReset(): void {
  offered = 1;
}

/** Is `alg` one of the algorithms offered in challenges? */
export function algorithmOffered(alg: Alg): bool {
  return (offered & 3) == <u32>alg || (offered >> 2) == <u32>alg;
}

/** Append the challenge lines to `w`, one per algorithm offered (a failed put marks w failed). */
export function writeChallenge(w: Writer, proxy: bool, stale: bool, now: i64): void {
  nonceMake(now, NONCE);
  for (let c = offered; c != 0; c >>= 2) line(w, proxy, stale, (c & 3) == <u32>Alg.SHA256);
}

function line(w: Writer, proxy: bool, stale: bool, sha256: bool): void {
  w.text(proxy ? T_PROXY_AUTHN : T_WWW_AUTHN);
  w.bytes(realmPtr(), realmLength());
  w.text(T_NONCE_EQ);
  w.bytes(NONCE, NONCE_LEN);
  w.text(sha256 ? T_ALG_SHA256 : T_ALG_MD5);
  if (stale) w.text(T_STALE);
  w.crlf();
}
