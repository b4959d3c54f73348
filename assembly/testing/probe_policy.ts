// Test-only probes for assembly/policy/: numbers-only exports, prefixed `probe_pol_`. Text arguments
// are written by the test into the probe scratch area (probe_scratch_ptr) and passed as (ptr, len);
// a source address is set with probe_pol_peer4 / probe_pol_peer6 into one static Peer record.

import { DENY_CAP } from "../policy/denylist";
import { Peer, Family } from "../net/peer";
import { parseUri, UriRepr } from "../wire/uri";
import { probe_view_at } from "./probe_view";
import {
  policyReset, aclAdd, aclReset, aclMatch, aclVerdict, aclCount, AclList,
  pikeSetLimit, pikeSetAuthFailLimit, pikeSetSeed, pikeCheck, pikeFail, pikeIsBlocked, pikeTracked,
  pikeBlocked, pikeReset, MAX_PIKE, PIKE_WAYS, PIKE_RECORD,
  methodBlock, isMethodBlocked, methodReset,
  denyAdd, isDenied, denyReset,
  bodyAllowType, bodySetMax, bodyAddPattern, bodyVerdict, bodyMatchedPattern, bodyReset, bodyScan,
} from "../policy/index";

const PEER = new Peer();
const URI = new UriRepr();

export function probe_pol_reset(): void { policyReset(); }

/** Source = IPv4 a.b.c.d (as one u32, a in the top byte), port. */
export function probe_pol_peer4(a: u32, port: u32): void {
  PEER.clear();
  PEER.family = <u8>Family.V4;
  PEER.port = <u16>port;
  store<u8>(PEER.addr, <u8>(a >> 24));
  store<u8>(PEER.addr + 1, <u8>(a >> 16));
  store<u8>(PEER.addr + 2, <u8>(a >> 8));
  store<u8>(PEER.addr + 3, <u8>a);
}
/** Source = the 16 IPv6 bytes at ptr. */
export function probe_pol_peer6(ptr: usize, port: u32): void {
  PEER.clear();
  PEER.family = <u8>Family.V6;
  PEER.port = <u16>port;
  memory.copy(PEER.addr, ptr, 16);
}
/** Source = a host name (family 0). */
export function probe_pol_peer_name(): void {
  PEER.clear();
  PEER.family = <u8>Family.Name;
}

// acl
export function probe_pol_acl_add(list: i32, ptr: usize, len: u32): i32 { return aclAdd(<AclList>list, ptr, len) ? 1 : 0; }
export function probe_pol_acl_reset(): void { aclReset(); }
export function probe_pol_acl_match(list: i32): i32 { return aclMatch(<AclList>list, PEER) ? 1 : 0; }
export function probe_pol_acl_verdict(): i32 { return <i32>aclVerdict(PEER); }
export function probe_pol_acl_count(list: i32): u32 { return aclCount(<AclList>list); }

// pike (now in ms as f64, like the ABI)
export function probe_pol_pike_limit(rps: u32, block: u32): void { pikeSetLimit(rps, block); }
export function probe_pol_pike_fail_limit(n: u32, window: u32): void { pikeSetAuthFailLimit(n, window); }
export function probe_pol_pike_seed(lo: u32, hi: u32): void { pikeSetSeed((<u64>hi << 32) | <u64>lo); }
export function probe_pol_pike_check(now: f64, exempt: i32): i32 { return <i32>pikeCheck(PEER, <i64>now, exempt != 0); }
export function probe_pol_pike_fail(now: f64): i32 { return <i32>pikeFail(PEER, <i64>now); }
export function probe_pol_pike_is_blocked(now: f64): i32 { return pikeIsBlocked(PEER, <i64>now) ? 1 : 0; }
export function probe_pol_pike_tracked(): u32 { return pikeTracked(); }
export function probe_pol_pike_blocked(now: f64): u32 { return pikeBlocked(<i64>now); }
export function probe_pol_pike_reset(): void { pikeReset(); }
export function probe_pol_pike_capacity(): i32 { return MAX_PIKE; }
export function probe_pol_pike_ways(): u32 { return PIKE_WAYS; }
export function probe_pol_pike_record(): u32 { return PIKE_RECORD; }
/** 4-byte big-endian IPv4 from a u32, checked `n` times from sources base..base+n-1 (bulk driver). */
export function probe_pol_pike_bulk(base: u32, n: u32, now: f64): u32 {
  let blocked: u32 = 0;
  for (let i: u32 = 0; i < n; i++) {
    probe_pol_peer4(base + i, 5060);
    if (pikeCheck(PEER, <i64>now, false) != 0) blocked++;
  }
  return blocked;
}

// methods
export function probe_pol_method_block(ptr: usize, len: u32): i32 { return methodBlock(ptr, len) ? 1 : 0; }
export function probe_pol_method_reset(): void { methodReset(); }
/** On the message parsed into view 0. */
export function probe_pol_method_blocked(): i32 { return isMethodBlocked(probe_view_at(0)) ? 1 : 0; }

// deny list
export function probe_pol_deny_add(ptr: usize, len: u32): i32 { return denyAdd(ptr, len) ? 1 : 0; }
export function probe_pol_deny_reset(): void { denyReset(); }
export function probe_pol_deny_capacity(): i32 { return <i32>DENY_CAP; }
/** Parses the URI [ptr, ptr+len) and checks it: 1 denied, 0 not, -1 not a URI. */
export function probe_pol_denied(ptr: usize, len: u32): i32 {
  if (!parseUri(ptr, ptr + len, URI)) return -1;
  return isDenied(URI) ? 1 : 0;
}

// body
export function probe_pol_body_allow(ptr: usize, len: u32): i32 { return bodyAllowType(ptr, len) ? 1 : 0; }
export function probe_pol_body_max(n: u32): void { bodySetMax(n); }
export function probe_pol_body_pattern(ptr: usize, len: u32): i32 { return bodyAddPattern(ptr, len) ? 1 : 0; }
export function probe_pol_body_reset(): void { bodyReset(); }
/** On the message parsed into view 0. */
export function probe_pol_body_verdict(): i32 { return <i32>bodyVerdict(probe_view_at(0)); }
export function probe_pol_body_matched(): i32 { return bodyMatchedPattern(); }
export function probe_pol_body_scan(ptr: usize, len: u32): i32 { return bodyScan(ptr, len); }
