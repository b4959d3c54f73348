// Challenges (RFC 3261 §22.1 / §22.3, RFC 8760 §2.4): one header line per algorithm, the preferred
// first, each with a fresh nonce for `now`:
//
//   WWW-Authenticate: Digest realm="R", nonce="N", algorithm=SHA-256, qop="auth"[, stale=true]\r\n
//   WWW-Authenticate: Digest realm="R", nonce="N", algorithm=MD5, qop="auth"[, stale=true]\r\n
//
// (Proxy-Authenticate when `proxy`). Both lines carry the same nonce: it is algorithm-independent
// (nonce.ts). The realm was checked at authSetRealm to need no escaping inside the quotes.

import { Writer } from "../wire/writer";
import { realmLength, realmPtr } from "./credentials";
import { NONCE_LEN, nonceMake } from "./nonce";
import { T_STALE } from "../wire/tables";

/** The nonce of the challenge being written: NONCE_LEN bytes. */
const NONCE: usize = memory.data(<i32>NONCE_LEN);

/** Append both challenge lines to `w` (a failed put marks w failed, as with every writer). */
export function writeChallenge(w: Writer, proxy: bool, stale: bool, now: i64): void {
  nonceMake(now, NONCE);
  line(w, proxy, stale, true);
  line(w, proxy, stale, false);
}

function line(w: Writer, proxy: bool, stale: bool, sha256: bool): void {
  w.lit(proxy ? "Proxy-Authenticate: Digest realm=\"" : "WWW-Authenticate: Digest realm=\"");
  w.bytes(realmPtr(), realmLength());
  w.lit("\", nonce=\"");
  w.bytes(NONCE, NONCE_LEN);
  w.lit(sha256 ? "\", algorithm=SHA-256, qop=\"auth\"" : "\", algorithm=MD5, qop=\"auth\"");
  if (stale) w.text(T_STALE);
  w.crlf();
}
