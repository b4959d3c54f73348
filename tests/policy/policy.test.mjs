// policy/: source ACLs, pike flood protection, method blocking, Request-URI deny list and body policy,
// through the probe_pol_* exports of the probe build (assembly/testing/probe_policy.ts).
import { test, beforeEach } from "node:test";
import assert from "node:assert/strict";
import { loadProbe } from "../lib/core.mjs";

const P = loadProbe();
const { ex } = P;
const SCR = ex.probe_scratch_ptr();
const List = { Allow: 0, Deny: 1, Trusted: 2 };
const Acl = { Allow: 0, Deny: 1, Trusted: 2 };
const Pike = { Pass: 0, Blocked: 1, NewlyBlocked: 2 };
const Body = { Ok: 0, TooLarge: 1, TypeNotAllowed: 2, PatternMatched: 3 };

/** Writes bytes to the scratch area; returns [ptr, len]. */
function scratch(s, off = 0) {
  const b = typeof s === "string" ? Buffer.from(s, "latin1") : Buffer.from(s);
  P.mem().set(b, SCR + off);
  return [SCR + off, b.length];
}
const ip4 = (s) => s.split(".").reduce((a, x) => ((a << 8) | Number(x)) >>> 0, 0);
function v6bytes(s) {
  // small expander for test addresses (no IPv4 tail)
  const [h, t] = s.includes("::") ? s.split("::") : [s, null];
  const hs = h ? h.split(":") : [];
  const ts = t ? t.split(":") : [];
  const groups = t === null ? hs : [...hs, ...Array(8 - hs.length - ts.length).fill("0"), ...ts];
  const b = Buffer.alloc(16);
  groups.forEach((g, i) => b.writeUInt16BE(parseInt(g, 16), i * 2));
  return b;
}
function mapped(a) {
  const b = Buffer.alloc(16);
  b[10] = 0xff; b[11] = 0xff;
  a.split(".").forEach((x, i) => (b[12 + i] = Number(x)));
  return b;
}
const src4 = (a, port = 5060) => ex.probe_pol_peer4(ip4(a), port);
function src6(bytes, port = 5060) {
  P.mem().set(bytes, SCR + 2048);
  ex.probe_pol_peer6(SCR + 2048, port);
}
const aclAdd = (list, text) => ex.probe_pol_acl_add(list, ...scratch(text));
const parse = (msg) => {
  const r = ex.probe_parse(P.put(msg), 0);
  assert.ok(r > 0, `parse failed ${r}`);
};
function request(method, { ct, body = "", extra = "" } = {}) {
  return `${method} sip:bob@example.com SIP/2.0\r\n` +
    "Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK776asdhds\r\n" +
    "Max-Forwards: 70\r\nTo: <sip:bob@example.com>\r\nFrom: <sip:alice@example.com>;tag=1928301774\r\n" +
    `Call-ID: a84b4c76e66710\r\nCSeq: 1 ${method}\r\n` +
    (ct ? `Content-Type: ${ct}\r\n` : "") + extra +
    `Content-Length: ${Buffer.byteLength(body, "latin1")}\r\n\r\n${body}`;
}

beforeEach(() => ex.probe_pol_reset());

// ---- acl ---------------------------------------------------------------------------------------

test("acl_cidr_parsing_good_and_bad", () => {
  for (const good of ["10.0.0.0/8", "192.0.2.7", "0.0.0.0/0", "2001:db8::/32", "::1", "::/0",
    "[2001:db8::1]/128", "192.0.2.7/32", "10.1.2.3/8", "::ffff:10.0.0.0/104", "fe80::1/10"]) {
    assert.equal(aclAdd(List.Deny, good), 1, good);
  }
  for (const bad of ["", "/8", "10.0.0.0/", "10.0.0.0/33", "10.0.0/8", "256.0.0.1", "10.0.0.0/8x",
    "2001:db8::/129", "2001:db8:::1", "host.example.com", "10.0.0.0/-1", "1.2.3.4/0008", "::1/", ":::"]) {
    assert.equal(aclAdd(List.Deny, bad), 0, JSON.stringify(bad));
  }
  assert.equal(aclAdd(7, "10.0.0.0/8"), 0, "unknown list");
});

test("acl_duplicates_and_capacity", () => {
  assert.equal(aclAdd(List.Allow, "10.0.0.0/8"), 1);
  assert.equal(aclAdd(List.Allow, "10.9.9.9/8"), 1, "same network after masking");
  assert.equal(ex.probe_pol_acl_count(List.Allow), 1);
  for (let i = 1; i < 32; i++) assert.equal(aclAdd(List.Allow, `192.0.2.${i}`), 1);
  assert.equal(ex.probe_pol_acl_count(List.Allow), 32);
  assert.equal(aclAdd(List.Allow, "192.0.2.200"), 0, "list full");
});

test("acl_match_v4_v6_and_mapped", () => {
  aclAdd(List.Deny, "10.0.0.0/8");
  aclAdd(List.Deny, "192.0.2.7");
  aclAdd(List.Deny, "2001:db8::/32");
  aclAdd(List.Deny, "172.16.0.0/12");
  src4("10.200.3.4"); assert.equal(ex.probe_pol_acl_match(List.Deny), 1);
  src4("11.0.0.1"); assert.equal(ex.probe_pol_acl_match(List.Deny), 0);
  src4("192.0.2.7"); assert.equal(ex.probe_pol_acl_match(List.Deny), 1);
  src4("192.0.2.8"); assert.equal(ex.probe_pol_acl_match(List.Deny), 0);
  src4("172.31.255.255"); assert.equal(ex.probe_pol_acl_match(List.Deny), 1);
  src4("172.32.0.0"); assert.equal(ex.probe_pol_acl_match(List.Deny), 0);
  src6(v6bytes("2001:db8:1234::5")); assert.equal(ex.probe_pol_acl_match(List.Deny), 1);
  src6(v6bytes("2001:db9::5")); assert.equal(ex.probe_pol_acl_match(List.Deny), 0);
  // v4-mapped sources match IPv4 entries
  src6(mapped("10.1.1.1")); assert.equal(ex.probe_pol_acl_match(List.Deny), 1);
  src6(mapped("192.0.2.7")); assert.equal(ex.probe_pol_acl_match(List.Deny), 1);
  src6(mapped("192.0.2.9")); assert.equal(ex.probe_pol_acl_match(List.Deny), 0);
  // an entry written in mapped form matches plain IPv4 sources
  aclAdd(List.Trusted, "::ffff:198.51.100.0/120");
  src4("198.51.100.77"); assert.equal(ex.probe_pol_acl_match(List.Trusted), 1);
  src4("198.51.101.77"); assert.equal(ex.probe_pol_acl_match(List.Trusted), 0);
  // ::1 exactly
  aclAdd(List.Allow, "::1");
  src6(v6bytes("::1")); assert.equal(ex.probe_pol_acl_match(List.Allow), 1);
  src6(v6bytes("::2")); assert.equal(ex.probe_pol_acl_match(List.Allow), 0);
  // IPv6 ::/0 does not capture IPv4 sources; 0.0.0.0/0 does not capture IPv6
  aclAdd(List.Allow, "::/0");
  src4("8.8.8.8"); assert.equal(ex.probe_pol_acl_match(List.Allow), 0);
  ex.probe_pol_peer_name(); assert.equal(ex.probe_pol_acl_match(List.Allow), 0);
});

test("acl_verdict_precedence", () => {
  src4("203.0.113.5");
  assert.equal(ex.probe_pol_acl_verdict(), Acl.Allow, "empty lists allow");
  aclAdd(List.Deny, "203.0.113.0/24");
  assert.equal(ex.probe_pol_acl_verdict(), Acl.Deny);
  aclAdd(List.Trusted, "203.0.113.5");
  assert.equal(ex.probe_pol_acl_verdict(), Acl.Trusted, "trusted wins over deny");
  src4("203.0.113.6");
  assert.equal(ex.probe_pol_acl_verdict(), Acl.Deny);
  src4("198.51.100.1");
  assert.equal(ex.probe_pol_acl_verdict(), Acl.Allow);
  aclAdd(List.Allow, "192.0.2.0/24");
  assert.equal(ex.probe_pol_acl_verdict(), Acl.Deny, "non-empty allow list must match");
  src4("192.0.2.1");
  assert.equal(ex.probe_pol_acl_verdict(), Acl.Allow);
  aclAdd(List.Deny, "192.0.2.1");
  assert.equal(ex.probe_pol_acl_verdict(), Acl.Deny, "deny wins over allow");
  src4("203.0.113.5");
  assert.equal(ex.probe_pol_acl_verdict(), Acl.Trusted, "trusted needs no allow entry");
  ex.probe_pol_peer_name();
  assert.equal(ex.probe_pol_acl_verdict(), Acl.Deny, "no address, allow list set");
});

// ---- pike --------------------------------------------------------------------------------------

test("pike_under_limit_passes", () => {
  ex.probe_pol_pike_limit(10, 30);
  src4("192.0.2.10");
  // a burst of exactly the limit at once, then 5/s for a minute
  for (let i = 0; i < 10; i++) assert.equal(ex.probe_pol_pike_check(1000, 0), Pike.Pass);
  for (let t = 2000; t < 62000; t += 200) assert.equal(ex.probe_pol_pike_check(t, 0), Pike.Pass, `t=${t}`);
  assert.equal(ex.probe_pol_pike_blocked(62000), 0);
});

test("pike_ten_times_limit_blocks_and_block_expires", () => {
  ex.probe_pol_pike_limit(10, 30);
  src4("192.0.2.11", 1111);
  const seen = [];
  // 100 requests in one second
  for (let i = 0; i < 100; i++) seen.push(ex.probe_pol_pike_check(1000 + i * 10, 0));
  const first = seen.indexOf(Pike.NewlyBlocked);
  assert.ok(first > 0 && first <= 20, `blocked at request ${first}`);
  assert.equal(seen.filter((v) => v === Pike.NewlyBlocked).length, 1);
  assert.ok(seen.slice(first + 1).every((v) => v === Pike.Blocked));
  const blockedAt = 1000 + first * 10;
  // other port, same address: same source
  src4("192.0.2.11", 2222);
  assert.equal(ex.probe_pol_pike_check(blockedAt + 1000, 0), Pike.Blocked);
  // continued traffic does not extend the block
  for (let t = blockedAt; t < blockedAt + 30000; t += 50) assert.equal(ex.probe_pol_pike_check(t, 0), Pike.Blocked);
  assert.equal(ex.probe_pol_pike_blocked(blockedAt + 29999), 1);
  assert.equal(ex.probe_pol_pike_check(blockedAt + 30000, 0), Pike.Pass, "expired after blockSeconds");
  assert.equal(ex.probe_pol_pike_blocked(blockedAt + 30000), 0);
  // a fresh full bucket after expiry
  for (let i = 1; i < 10; i++) assert.equal(ex.probe_pol_pike_check(blockedAt + 30000, 0), Pike.Pass);
  assert.equal(ex.probe_pol_pike_check(blockedAt + 30000, 0), Pike.NewlyBlocked);
  // another source is unaffected
  src4("192.0.2.12");
  assert.equal(ex.probe_pol_pike_check(blockedAt + 30001, 0), Pike.Pass);
});

test("pike_ipv4_and_mapped_are_one_source", () => {
  ex.probe_pol_pike_limit(2, 10);
  src4("198.51.100.9");
  ex.probe_pol_pike_check(0, 0); ex.probe_pol_pike_check(0, 0);
  src6(mapped("198.51.100.9"));
  assert.equal(ex.probe_pol_pike_check(0, 0), Pike.NewlyBlocked);
  src6(v6bytes("2001:db8::9"));
  assert.equal(ex.probe_pol_pike_check(0, 0), Pike.Pass);
});

test("pike_exempt_never_counted_or_blocked", () => {
  ex.probe_pol_pike_limit(5, 60);
  src4("192.0.2.20");
  for (let i = 0; i < 10000; i++) assert.equal(ex.probe_pol_pike_check(1000, 1), Pike.Pass);
  assert.equal(ex.probe_pol_pike_tracked(), 0, "exempt sources are not even tracked");
  // the same source, not exempt, starts from a full bucket
  for (let i = 0; i < 5; i++) assert.equal(ex.probe_pol_pike_check(1000, 0), Pike.Pass);
  assert.equal(ex.probe_pol_pike_check(1000, 0), Pike.NewlyBlocked);
  assert.equal(ex.probe_pol_pike_check(1000, 1), Pike.Pass, "exempt passes even while blocked");
});

test("pike_off_tracks_nothing", () => {
  src4("192.0.2.21");
  for (let i = 0; i < 1000; i++) assert.equal(ex.probe_pol_pike_check(0, 0), Pike.Pass);
  assert.equal(ex.probe_pol_pike_tracked(), 0);
  ex.probe_pol_pike_limit(0, 60);
  for (let i = 0; i < 1000; i++) assert.equal(ex.probe_pol_pike_check(0, 0), Pike.Pass);
  assert.equal(ex.probe_pol_pike_tracked(), 0);
});

test("pike_auth_failures_block", () => {
  ex.probe_pol_pike_limit(0, 20);
  ex.probe_pol_pike_fail_limit(3, 60);
  src4("192.0.2.30");
  assert.equal(ex.probe_pol_pike_fail(1000), Pike.Pass);
  assert.equal(ex.probe_pol_pike_fail(2000), Pike.Pass);
  assert.equal(ex.probe_pol_pike_check(2500, 0), Pike.Pass, "requests are not failures");
  assert.equal(ex.probe_pol_pike_fail(3000), Pike.NewlyBlocked);
  assert.equal(ex.probe_pol_pike_check(3001, 0), Pike.Blocked);
  assert.equal(ex.probe_pol_pike_fail(4000), Pike.Blocked);
  assert.equal(ex.probe_pol_pike_check(23000, 0), Pike.Pass, "block expired");
  // failures spread wider than the window do not block
  src4("192.0.2.31");
  for (let i = 0; i < 10; i++) assert.equal(ex.probe_pol_pike_fail(100000 + i * 31000), Pike.Pass);
});

test("pike_full_table_evicts_lru_but_keeps_blocked", () => {
  const cap = ex.probe_pol_pike_capacity();
  ex.probe_pol_pike_limit(2, 3600);
  // block 4 sources
  const bad = ["203.0.113.1", "203.0.113.2", "203.0.113.3", "203.0.113.4"];
  for (const a of bad) {
    src4(a);
    ex.probe_pol_pike_check(0, 0); ex.probe_pol_pike_check(0, 0);
    assert.equal(ex.probe_pol_pike_check(0, 0), Pike.NewlyBlocked);
  }
  // flood of distinct new sources, 20 × capacity
  const n = cap * 20;
  assert.equal(ex.probe_pol_pike_bulk(ip4("10.0.0.1"), n, 1000), 0, "each new source passes once");
  assert.equal(ex.probe_pol_pike_tracked(), cap, "table full, not grown");
  for (const a of bad) {
    src4(a);
    assert.equal(ex.probe_pol_pike_check(2000, 0), Pike.Blocked, `${a} survived eviction`);
  }
  assert.equal(ex.probe_pol_pike_blocked(2000), bad.length);
  src4("10.0.0.1"); // long evicted: comes back with a full bucket
  assert.equal(ex.probe_pol_pike_check(2000, 0), Pike.Pass);
});

test("pike_all_blocked_refuses_to_track_new_sources", () => {
  const cap = ex.probe_pol_pike_capacity();
  ex.probe_pol_pike_limit(1, 3600);
  // block sources until every record is blocked (blocked records are never evicted)
  let a = ip4("10.0.0.1");
  for (let guard = 0; ex.probe_pol_pike_blocked(0) < cap && guard < cap * 200; guard++, a++) {
    ex.probe_pol_peer4(a, 5060);
    ex.probe_pol_pike_check(0, 0);
    ex.probe_pol_pike_check(0, 0);
  }
  assert.equal(ex.probe_pol_pike_blocked(0), cap);
  // a new flooding source can no longer be tracked: it passes, the blocked ones stay blocked
  src4("198.51.100.200");
  for (let i = 0; i < 50; i++) assert.equal(ex.probe_pol_pike_check(1, 0), Pike.Pass);
  assert.equal(ex.probe_pol_pike_tracked(), cap);
  assert.equal(ex.probe_pol_pike_blocked(1), cap);
  // when the blocks expire, records are reusable
  src4("198.51.100.200");
  ex.probe_pol_pike_check(3600001, 0);
  assert.equal(ex.probe_pol_pike_check(3600001, 0), Pike.NewlyBlocked);
});

test("pike_memory_flat_over_100k_random_sources", () => {
  ex.probe_pol_pike_limit(3, 10);
  ex.probe_pol_pike_fail_limit(5, 60);
  let seed = 12345;
  const rnd = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0);
  const v6 = Buffer.alloc(16);
  // warm-up
  src4("192.0.2.1"); ex.probe_pol_pike_check(0, 0);
  const before = ex.probe_heap_mark();
  const after0 = ex.probe_heap_mark();
  let blocked = 0;
  for (let i = 0; i < 100000; i++) {
    const now = i * 2; // 100k checks over 200 s
    if (i % 3 === 0) {
      v6.writeUInt32BE(0x20010db8, 0); v6.writeUInt32BE(rnd(), 12); src6(v6);
    } else {
      ex.probe_pol_peer4(0x0a000000 + (rnd() % 4), 5060); // a small hot population: these get blocked
    }
    if (ex.probe_pol_pike_check(now, 0) !== Pike.Pass) blocked++;
    if (i % 7 === 0) ex.probe_pol_pike_fail(now);
  }
  const after = ex.probe_heap_mark();
  assert.equal(after - after0, after0 - before, "no allocation during 100,000 checks");
  assert.ok(blocked > 0);
  assert.ok(ex.probe_pol_pike_tracked() <= ex.probe_pol_pike_capacity());
});

// ---- methods -----------------------------------------------------------------------------------

test("method_block_known_and_extension_tokens", () => {
  const block = (m) => ex.probe_pol_method_block(...scratch(m));
  assert.equal(block("MESSAGE"), 1);
  assert.equal(block("SUBSCRIBE"), 1);
  assert.equal(block("FOOBAR"), 1, "unknown methods are tokens too");
  assert.equal(block(""), 0);
  assert.equal(block("BAD METHOD"), 0);
  assert.equal(block("X".repeat(33)), 0);
  const blocked = (m) => { parse(request(m)); return ex.probe_pol_method_blocked(); };
  assert.equal(blocked("MESSAGE"), 1);
  assert.equal(blocked("SUBSCRIBE"), 1);
  assert.equal(blocked("FOOBAR"), 1);
  assert.equal(blocked("INVITE"), 0);
  assert.equal(blocked("OPTIONS"), 0);
  assert.equal(blocked("FOOBA"), 0);
  assert.equal(blocked("FOOBARX"), 0);
  // case-sensitive
  assert.equal(block("notify"), 1);
  assert.equal(blocked("NOTIFY"), 0);
  // responses are never blocked
  parse("SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1\r\nTo: <sip:a@b>;tag=1\r\n" +
    "From: <sip:c@d>;tag=2\r\nCall-ID: x\r\nCSeq: 1 MESSAGE\r\nContent-Length: 0\r\n\r\n");
  assert.equal(ex.probe_pol_method_blocked(), 0);
  ex.probe_pol_method_reset();
  assert.equal(blocked("MESSAGE"), 0);
});

// ---- deny list ---------------------------------------------------------------------------------

test("deny_list_forms", () => {
  const add = (e) => ex.probe_pol_deny_add(...scratch(e));
  const denied = (u) => ex.probe_pol_denied(...scratch(u, 1024));
  for (const bad of ["", "@", "nobody", "@.", "a@b@c"]) assert.equal(add(bad), 0, JSON.stringify(bad));
  assert.equal(add("alice@example.com"), 1);
  assert.equal(add("@spam.example"), 1);
  assert.equal(add("@.evil.test"), 1);
  assert.equal(add("%2B15550100@"), 1);
  assert.equal(denied("sip:alice@example.com"), 1);
  assert.equal(denied("sip:alice@EXAMPLE.COM;transport=tcp"), 1, "domain case-insensitive, params ignored");
  assert.equal(denied("sip:%61lice@example.com"), 1, "user compared unescaped");
  assert.equal(denied("sip:Alice@example.com"), 0, "user case-sensitive");
  assert.equal(denied("sip:bob@example.com"), 0);
  assert.equal(denied("sip:alice@example.org"), 0);
  assert.equal(denied("sips:anyone@spam.example:5061"), 1);
  assert.equal(denied("sip:spam.example"), 1, "no user, domain entry");
  assert.equal(denied("sip:x@sub.spam.example"), 0, "@domain is exact");
  assert.equal(denied("sip:x@evil.test"), 1);
  assert.equal(denied("sip:x@a.b.EVIL.test"), 1, "@.domain covers subdomains");
  assert.equal(denied("sip:x@notevil.test"), 0);
  assert.equal(denied("sip:x@evil.test."), 1, "trailing dot");
  assert.equal(denied("sip:+15550100@anywhere.net"), 1, "user@ anywhere");
  assert.equal(denied("tel:+15550100"), 1);
  assert.equal(denied("tel:+15550101"), 0);
  assert.equal(denied("sip:+15550100x@anywhere.net"), 0);
  assert.equal(denied("mailto:alice@example.com"), 0, "other schemes never");
  for (let i = 4; i < ex.probe_pol_deny_capacity(); i++) assert.equal(add(`u${i}@`), 1);
  assert.equal(add("full@"), 0, "list full");
});

// ---- body --------------------------------------------------------------------------------------

test("body_size_limit", () => {
  ex.probe_pol_body_max(100);
  parse(request("INVITE", { ct: "application/sdp", body: "v=0\r\n".repeat(20) }));
  assert.equal(ex.probe_pol_body_verdict(), Body.Ok);
  parse(request("INVITE", { ct: "application/sdp", body: "v=0\r\n".repeat(21) }));
  assert.equal(ex.probe_pol_body_verdict(), Body.TooLarge);
  ex.probe_pol_body_max(0);
  assert.equal(ex.probe_pol_body_verdict(), Body.Ok, "0 = no limit");
});

test("body_type_allow_list_per_method", () => {
  const allow = (t) => ex.probe_pol_body_allow(...scratch(t));
  assert.equal(allow("INVITE application/sdp\r\nMESSAGE text/plain\n\nMESSAGE message/cpim\n"), 1);
  assert.equal(allow("INVITE"), 0);
  assert.equal(allow("INVITE application"), 0);
  assert.equal(allow("INVITE application/sdp extra"), 0);
  assert.equal(allow("PUBLISH application/pidf+xml\nBAD LINE HERE"), 0, "all or nothing");
  const v = (m, ct, body = "hello") => { parse(request(m, { ct, body })); return ex.probe_pol_body_verdict(); };
  assert.equal(v("INVITE", "application/sdp"), Body.Ok);
  assert.equal(v("INVITE", "Application/SDP"), Body.Ok, "types compare case-insensitively");
  assert.equal(v("INVITE", "application/sdp;charset=utf-8"), Body.Ok, "parameters ignored");
  assert.equal(v("INVITE", "text/plain"), Body.TypeNotAllowed);
  assert.equal(v("INVITE", undefined), Body.TypeNotAllowed, "body without Content-Type");
  assert.equal(v("INVITE", undefined, ""), Body.Ok, "no body");
  assert.equal(v("MESSAGE", "text/plain"), Body.Ok);
  assert.equal(v("MESSAGE", "message/cpim"), Body.Ok);
  assert.equal(v("MESSAGE", "text/html"), Body.TypeNotAllowed);
  assert.equal(v("PUBLISH", "application/pidf+xml"), Body.Ok, "method without entries: any type");
  assert.equal(v("INFO", "application/whatever"), Body.Ok);
  assert.equal(allow("* application/json\nINFO application/dtmf-relay\nNOTIFY text/*"), 1);
  assert.equal(v("PUBLISH", "application/pidf+xml"), Body.TypeNotAllowed, "* applies to every method");
  assert.equal(v("PUBLISH", "application/json"), Body.Ok);
  assert.equal(v("INVITE", "application/json"), Body.Ok, "* entry also allowed for INVITE");
  assert.equal(v("INFO", "application/dtmf-relay"), Body.Ok);
  assert.equal(v("NOTIFY", "text/anything"), Body.Ok, "subtype wildcard");
  assert.equal(v("NOTIFY", "image/png"), Body.TypeNotAllowed);
});

test("body_pattern_in_message_not_in_invite", () => {
  assert.equal(ex.probe_pol_body_pattern(...scratch("SECRET-PROJECT")), 1);
  assert.equal(ex.probe_pol_body_pattern(...scratch(Buffer.from([0xde, 0xad, 0xbe, 0xef]))), 1);
  assert.equal(ex.probe_pol_body_pattern(...scratch("4111111111111111")), 1);
  assert.equal(ex.probe_pol_body_pattern(...scratch("")), 0);
  assert.equal(ex.probe_pol_body_pattern(...scratch("x".repeat(65))), 0);
  const v = (m, body, extra = "") => { parse(request(m, { ct: "text/plain", body, extra })); return ex.probe_pol_body_verdict(); };
  assert.equal(v("MESSAGE", "the SECRET-PROJECT is late"), Body.PatternMatched);
  assert.equal(ex.probe_pol_body_matched(), 0);
  assert.equal(v("MESSAGE", "card 4111111111111111."), Body.PatternMatched);
  assert.equal(ex.probe_pol_body_matched(), 2);
  assert.equal(v("MESSAGE", "bin \xde\xad\xbe\xef"), Body.PatternMatched);
  assert.equal(ex.probe_pol_body_matched(), 1);
  assert.equal(v("MESSAGE", "SECRET-PROJECT"), Body.PatternMatched, "whole body");
  assert.equal(v("MESSAGE", "SECRET-PROJEC"), Body.Ok);
  assert.equal(ex.probe_pol_body_matched(), -1);
  assert.equal(v("MESSAGE", "secret-project"), Body.Ok, "raw bytes: case matters");
  assert.equal(v("INVITE", "the SECRET-PROJECT is late"), Body.Ok, "patterns apply to MESSAGE only");
  assert.equal(v("MESSAGE", "x", "Content-Encoding: gzip\r\n"), Body.TypeNotAllowed, "unscannable encoding");
  assert.equal(v("MESSAGE", "x", "Content-Encoding: identity\r\n"), Body.Ok);
});

test("body_scan_agrees_with_indexOf", () => {
  const pats = ["abc", "aab", "a", "zzzzzzzz", "ab".repeat(32)];
  pats.forEach((p) => ex.probe_pol_body_pattern(...scratch(p)));
  let seed = 7;
  const rnd = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0);
  for (let t = 0; t < 300; t++) {
    const n = rnd() % 200;
    const s = Array.from({ length: n }, () => "abz"[rnd() % 3]).join("").replace(/a/g, (c) => (rnd() % 4 ? "b" : c));
    const [ptr, len] = scratch(s);
    // expected: earliest end position, then lowest index
    let best = -1, bestEnd = Infinity;
    pats.forEach((p, i) => { const k = s.indexOf(p); if (k >= 0 && k + p.length < bestEnd) { bestEnd = k + p.length; best = i; } });
    assert.equal(ex.probe_pol_body_scan(ptr, len), best, s);
  }
});

test("body_no_trap_on_random_messages", () => {
  ex.probe_pol_body_allow(...scratch("MESSAGE text/plain\n* application/sdp"));
  ex.probe_pol_body_max(3000);
  for (let i = 0; i < 16; i++) ex.probe_pol_body_pattern(...scratch(`pat${i}-${"q".repeat(i * 3)}`));
  ex.probe_pol_method_block(...scratch("MESSAGE"));
  let seed = 99;
  const rnd = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0);
  const cts = ["text/plain", "application/sdp", "x/y;a=b", "", "garbage", "text/plain;;", "*/*"];
  for (let t = 0; t < 2000; t++) {
    const n = rnd() % (P.rxCap - 400);
    const body = Buffer.alloc(n);
    for (let k = 0; k < n; k++) body[k] = rnd() & 0xff;
    const m = ["MESSAGE", "INVITE", "FOO"][t % 3];
    const ct = cts[rnd() % cts.length];
    const msg = Buffer.concat([Buffer.from(request(m, { ct: ct || undefined }).replace(/Content-Length: 0\r\n\r\n$/, `Content-Length: ${n}\r\n\r\n`), "latin1"), body]);
    const r = ex.probe_parse(P.put(msg), 0);
    if (r <= 0) continue;
    const v = ex.probe_pol_body_verdict();
    assert.ok(v >= 0 && v <= 3);
    ex.probe_pol_method_blocked();
  }
});

test("policy_reset_clears_everything", () => {
  aclAdd(List.Deny, "0.0.0.0/0");
  ex.probe_pol_pike_limit(1, 60);
  ex.probe_pol_method_block(...scratch("INVITE"));
  ex.probe_pol_deny_add(...scratch("@example.com"));
  ex.probe_pol_body_max(1);
  ex.probe_pol_reset();
  src4("192.0.2.1");
  assert.equal(ex.probe_pol_acl_verdict(), Acl.Allow);
  for (let i = 0; i < 10; i++) assert.equal(ex.probe_pol_pike_check(0, 0), Pike.Pass);
  parse(request("INVITE", { ct: "application/sdp", body: "v=0" }));
  assert.equal(ex.probe_pol_method_blocked(), 0);
  assert.equal(ex.probe_pol_body_verdict(), Body.Ok);
  assert.equal(ex.probe_pol_denied(...scratch("sip:bob@example.com")), 0);
});

test("policy_memory_report", () => {
  const cap = ex.probe_pol_pike_capacity();
  const rec = ex.probe_pol_pike_record();
  console.log(`# policy memory: acl 1932 B, pike ${cap} × ${rec} = ${cap * rec} B (${ex.probe_pol_pike_ways()}-way), ` +
    "methods 268 B, denylist 4228 B, body 3296 B");
  assert.equal(rec, 48);
});
