// Test-only probes of crypto/ and auth/: numbers-only exports prefixed `probe_auth_`. Arguments are
// bytes the test wrote into the scratch area (probe_scratch_ptr); hash output goes to AUTH_OUT.
// A test parses a request into view slot 0 with probe_parse, then calls probe_auth_check.

import { MAX_USERS } from "../config";
import { Md5, Sha256, md5Hex, sha256Hex, hexEncode } from "../crypto";
import {
  authReset, authSetRealm, authUserAdd, authUserCount, authSetSecret, authSetNonceExpiry, authCheck,
  authResult, writeChallenge, authSetAlgorithms,
} from "../auth";
import { nonceMake } from "../auth/nonce";
import { parseChallenge, challenge, clientHa1, writeCredentials } from "../auth/client";
import { Writer } from "../wire/writer";
import { TX_BUF, TX_CAP } from "../wire/buffers";
import { probe_view_at } from "./probe_view";

/** Hash output: 64 bytes. */
const AUTH_OUT: usize = memory.data(64);
const RAW: usize = memory.data(32);
const pm = new Md5();
const ps = new Sha256();
const pw = new Writer();

export function probe_auth_out_ptr(): usize { return AUTH_OUT; }
/** One-shot hashes of [p, p+len) as hex at AUTH_OUT; return the hex length. */
export function probe_auth_md5(p: usize, len: u32): u32 { return md5Hex(p, len, AUTH_OUT); }
export function probe_auth_sha256(p: usize, len: u32): u32 { return sha256Hex(p, len, AUTH_OUT); }
/** Streaming: alg 1 = MD5, 2 = SHA-256 (separate contexts from the one-shot helpers). */
export function probe_auth_h_init(alg: i32): void { if (alg == 2) ps.init(); else pm.init(); }
export function probe_auth_h_update(alg: i32, p: usize, len: u32): void {
  if (alg == 2) ps.update(p, len); else pm.update(p, len);
}
export function probe_auth_h_final(alg: i32): u32 {
  if (alg == 2) { ps.final(RAW); return hexEncode(RAW, 32, AUTH_OUT); }
  pm.final(RAW);
  return hexEncode(RAW, 16, AUTH_OUT);
}

export function probe_auth_reset(): void { authReset(); }
export function probe_auth_set_realm(p: usize, len: u32): i32 { return authSetRealm(p, len); }
export function probe_auth_set_secret(p: usize, len: u32): i32 { return authSetSecret(p, len); }
export function probe_auth_set_expiry(s: u32): void { authSetNonceExpiry(s); }
/** Config key 22: the algorithms offered (base-4 digits); 1 when accepted. */
export function probe_auth_set_algorithms(code: u32): i32 { return authSetAlgorithms(code) ? 1 : 0; }
export function probe_auth_user_add(p: usize, len: u32): i32 { return authUserAdd(p, len); }
export function probe_auth_user_count(): i32 { return authUserCount(); }

/** Check the request in view slot 0; returns the AuthVerdict. */
export function probe_auth_check(proxy: bool, now: f64): i32 { return authCheck(probe_view_at(0), proxy, <i64>now); }
export function probe_auth_user_ptr(): usize { return authResult.user; }
export function probe_auth_user_len(): u32 { return authResult.userLen; }
export function probe_auth_user_index(): i32 { return authResult.userIndex; }
export function probe_auth_alg(): i32 { return authResult.alg; }
export function probe_auth_entry(): i32 { return authResult.entry; }

/** Challenge lines into the TX buffer (cap bytes at most); returns their length, 0 when they do not fit. */
export function probe_auth_challenge(proxy: bool, stale: bool, now: f64, cap: u32): u32 {
  pw.begin(TX_BUF, cap < TX_CAP ? cap : TX_CAP);
  writeChallenge(pw, proxy, stale, <i64>now);
  return pw.finish();
}
/** A nonce for `now` at AUTH_OUT (40 bytes). */
export function probe_auth_nonce(now: f64): u32 { nonceMake(<i64>now, AUTH_OUT); return 40; }

/** Capacity of the user table on this board. */
export function probe_auth_max_users(): i32 { return MAX_USERS; }

// ---- client digest (auth/client.ts) -----------------------------------------------------------------

/** Parse the challenge value [p, p+len); 1 when it can be answered. */
export function probe_auth_parse_challenge(p: usize, len: u32): i32 { return parseChallenge(p, len) ? 1 : 0; }
export function probe_auth_challenge_alg(): i32 { return challenge.alg; }
export function probe_auth_challenge_qop(): i32 { return challenge.qopAuth ? 1 : 0; }
export function probe_auth_challenge_stale(): i32 { return challenge.stale ? 1 : 0; }
/** HA1 hex of user [u, u+ul) and password [pw, pw+pl) for the parsed challenge, at AUTH_OUT. */
export function probe_auth_client_ha1(u: usize, ul: u32, pw_: usize, pl: u32): u32 { return clientHa1(u, ul, pw_, pl, AUTH_OUT); }
/**
 * The credentials value into the TX buffer (at most cap bytes): method, uri, user, cnonce given as
 * spans, HA1 hex at ha1; returns its length (0 when it does not fit).
 */
export function probe_auth_answer(m: usize, ml: u32, uri: usize, ul: u32, user: usize, usl: u32, ha1: usize,
  cn: usize, cnl: u32, nc: u32, cap: u32): u32 {
  pw.begin(TX_BUF, cap < TX_CAP ? cap : TX_CAP);
  writeCredentials(pw, m, ml, uri, ul, user, usl, ha1, cn, cnl, nc);
  return pw.finish();
}
