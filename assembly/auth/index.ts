// Authentication layer: SIP digest authentication (RFC 3261 §22 with RFC 2617 qop=auth and RFC 8760
// SHA-256; algorithms MD5 and SHA-256, no "-sess", no auth-int). Contract: the registrar / proxy call
// `authCheck(view, proxy, now)` on a validated request and, on any verdict but Ok, answer 401/407
// with `writeChallenge` (stale=true on AuthVerdict.Stale). Configuration comes from the host:
// `authSetRealm` first, then `authUserAdd` per user line, `authSetSecret` with random bytes, and
// optionally `authSetNonceExpiry`. Time is always an argument (ms); nothing allocates after start-up
// and nothing traps on network input. Depends on wire/, util/ and crypto/ only.
//
//   hash.ts         MD5 / SHA-256 behind one switch
//   credentials.ts  realm and user table (HA1s only; 7,232 bytes)
//   nonce.ts        stateless nonces (MAC, expiry) and the nonce-count table (4,352 bytes)
//   digest.ts       Authorization parsing and the response check
//   challenge.ts    WWW-Authenticate / Proxy-Authenticate lines

export { Alg } from "./hash";
export {
  MAX_USERS, USER_NAME_MAX, REALM_MAX, AuthConfigResult, authSetRealm, authUserAdd, authUserCount,
} from "./credentials";
export { NONCE_LEN, NC_SLOTS, authSetSecret, authSetNonceExpiry } from "./nonce";
export { AuthVerdict, AuthResult, authResult, authCheck } from "./digest";
export { writeChallenge, authSetAlgorithms } from "./challenge";

import { credentialsReset } from "./credentials";
import { nonceReset } from "./nonce";
import { authAlgorithmsReset } from "./challenge";

/** Back to the start-up state: no realm, no users, no secret, default expiry, empty nc table. */
export function authReset(): void {
  credentialsReset();
  nonceReset();
  authAlgorithmsReset();
}
