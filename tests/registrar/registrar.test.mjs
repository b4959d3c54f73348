// registrar/: REGISTER processing (RFC 3261 §10.3, RFC 3327 Path, RFC 3581 source), lookup, expiry,
// limits and the no-allocation oracle, through the probe_reg_* exports of the probe build.
import { test, beforeEach } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { loadProbe, root } from "../lib/core.mjs";

const corpus = (f) => readFileSync(join(root, "tests", "corpus", "rfc4475", f)).toString("latin1");

const P = loadProbe();
const { ex } = P;
const Ev = { RegAdd: 1, RegRefresh: 2, RegRemove: 3, RegExpire: 4 };

function drainEvents(p = P) {
  const out = [];
  for (let k = p.ex.probe_reg_event(); k !== 0; k = p.ex.probe_reg_event()) {
    const e = p.ex.probe_reg_ev_ptr();
    const m = Buffer.from(p.ex.memory.buffer, e, 512);
    const lens = [0, 1, 2, 3].map((i) => m.readUInt16LE(56 + 2 * i));
    let off = 64;
    const text = lens.map((l) => { const s = m.subarray(off, off + l).toString("latin1"); off += l; return s; });
    out.push({ kind: k, value: m.readUInt32LE(16), port: m.readUInt16LE(24 + 6), aor: text[0], contact: text[1], callId: text[2] });
  }
  return out;
}

function reset(p = P) {
  p.ex.probe_reg_reset();
  p.ex.probe_reg_config(60, 3600, 3600, 4);
  p.ex.probe_reg_src(1, 0x0100_02c0); // 192.0.2.1, UDP
}

/** A REGISTER for `user`: opts { contacts: [..values..], expires, callId, cseq, path: [..], supported, to } */
function msg(user, o = {}) {
  const lines = [
    "REGISTER sip:example.com SIP/2.0",
    "Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK" + Math.floor(Math.random() * 1e9),
    "Max-Forwards: 70",
    `To: ${o.to ?? `<sip:${user}@example.com>`}`,
    `From: <sip:${user}@example.com>;tag=f1`,
    `Call-ID: ${o.callId ?? "call-" + user}`,
    `CSeq: ${o.cseq ?? 1} REGISTER`,
  ];
  for (const c of o.contacts ?? []) lines.push(`Contact: ${c}`);
  if (o.expires !== undefined) lines.push(`Expires: ${o.expires}`);
  for (const p of o.path ?? []) lines.push(`Path: ${p}`);
  if (o.supported) lines.push(`Supported: ${o.supported}`);
  lines.push("Content-Length: 0", "", "");
  return lines.join("\r\n");
}

/** Parse and register; returns { status, extra }. */
function reg(text, now = 0, port = 5060, conn = 0, p = P, cap = 8192) {
  const len = p.put(text);
  const r = p.ex.probe_parse(len, 0);
  assert.ok(r > 0, `parse failed: ${r}\n${text}`);
  const status = p.ex.probe_reg_register(now, port, conn, cap);
  return { status, extra: p.str(p.ex.probe_reg_extra_ptr(), p.ex.probe_reg_extra_len()) };
}

function lookup(uri, now = 0, p = P) {
  const b = Buffer.from(uri, "latin1");
  const ptr = p.ex.probe_scratch_ptr();
  p.mem().set(b, ptr);
  const n = p.ex.probe_reg_lookup(ptr, b.length, now);
  const out = [];
  for (let i = 0; i < n; i++) {
    out.push({
      uri: p.str(p.ex.probe_reg_t_uri_ptr(i), p.ex.probe_reg_t_uri_len(i)),
      path: p.str(p.ex.probe_reg_t_path_ptr(i), p.ex.probe_reg_t_path_len(i)),
      q: p.ex.probe_reg_t_q(i),
      port: p.ex.probe_reg_t_port(i),
      conn: p.ex.probe_reg_t_conn(i),
      transport: p.ex.probe_reg_t_transport(i),
      addr: p.ex.probe_reg_t_addr4(i),
      binding: p.ex.probe_reg_t_binding(i),
    });
  }
  return out;
}

beforeEach(() => reset());

test("register_new_binding_answers_200_with_expires", () => {
  const r = reg(msg("alice", { contacts: ["<sip:alice@192.0.2.1:5060>"] }), 1000);
  assert.equal(r.status, 200);
  assert.equal(r.extra, "Contact: <sip:alice@192.0.2.1:5060>;expires=3600\r\n");
  assert.equal(ex.probe_reg_aors(), 1);
  assert.equal(ex.probe_reg_bindings(), 1);
  assert.equal(ex.probe_reg_next_deadline(), 1000 + 3600_000);
  const ev = drainEvents();
  assert.equal(ev.length, 1);
  assert.deepEqual(ev[0], { kind: Ev.RegAdd, value: 3600, port: 5060, aor: "alice", contact: "sip:alice@192.0.2.1:5060", callId: "call-alice" });
});

test("refresh_updates_the_same_binding", () => {
  reg(msg("alice", { contacts: ["<sip:alice@192.0.2.1>"], cseq: 1 }), 0);
  drainEvents();
  const r = reg(msg("alice", { contacts: ["<sip:ALICE@192.0.2.1>;expires=120"], cseq: 2 }), 10_000);
  assert.equal(r.status, 200);
  // uriEquals: user part is case-sensitive, so this is a new binding...
  assert.equal(ex.probe_reg_bindings(), 2);
  const r2 = reg(msg("alice", { contacts: ["<sip:alice@192.0.2.1;foo=bar>;expires=120"], cseq: 3 }), 20_000);
  // ...while an unknown parameter in one URI only does not matter (§19.1.4): a refresh.
  assert.equal(r2.status, 200);
  assert.equal(ex.probe_reg_bindings(), 2);
  const ev = drainEvents();
  assert.deepEqual(ev.map((e) => e.kind), [Ev.RegAdd, Ev.RegRefresh]);
  assert.equal(ev[1].value, 120);
  assert.match(r2.extra, /Contact: <sip:alice@192\.0\.2\.1;foo=bar>;expires=120\r\n/);
  assert.equal(ex.probe_reg_next_deadline(), 10_000 + 120_000);
});

test("two_contacts_lookup_orders_by_q_then_recency", () => {
  const r = reg(msg("bob", { contacts: ["<sip:bob@10.0.0.1>;q=0.5", "<sip:bob@10.0.0.2>;q=0.9"] }), 0);
  assert.equal(r.status, 200);
  assert.equal(r.extra,
    "Contact: <sip:bob@10.0.0.1>;expires=3600;q=0.5\r\nContact: <sip:bob@10.0.0.2>;expires=3600;q=0.9\r\n");
  let t = lookup("sip:bob@example.com", 1);
  assert.deepEqual(t.map((x) => [x.uri, x.q]), [["sip:bob@10.0.0.2", 900], ["sip:bob@10.0.0.1", 500]]);
  // a third without q (1.0) comes first; equal q: most recent first
  reg(msg("bob", { contacts: ["<sip:bob@10.0.0.3>", "<sip:bob@10.0.0.4>;q=1"], cseq: 2 }), 5);
  t = lookup("sip:bob@example.com", 6);
  assert.deepEqual(t.map((x) => x.uri), ["sip:bob@10.0.0.4", "sip:bob@10.0.0.3", "sip:bob@10.0.0.2", "sip:bob@10.0.0.1"]);
  assert.deepEqual(t.map((x) => x.q), [1000, 1000, 900, 500]);
  // host part not part of the key; unknown user → 0
  assert.equal(lookup("sip:bob@127.0.0.1", 6).length, 4);
  assert.equal(lookup("sip:carol@example.com", 6).length, 0);
  assert.equal(lookup("tel:+1234", 6).length, 0);
});

test("expires_param_beats_header_beats_default", () => {
  const r = reg(msg("c", { contacts: ["<sip:c@h1>;expires=100", "<sip:c@h2>"], expires: 200 }), 0);
  assert.equal(r.status, 200);
  assert.equal(r.extra, "Contact: <sip:c@h1>;expires=100\r\nContact: <sip:c@h2>;expires=200\r\n");
  ex.probe_reg_config(60, 3600, 1800, 4);
  const r2 = reg(msg("d", { contacts: ["<sip:d@h1>"] }), 0);
  assert.equal(r2.extra, "Contact: <sip:d@h1>;expires=1800\r\n");
  // remaining seconds, rounded up
  const r3 = reg(msg("c", {}), 1500);
  assert.equal(r3.status, 200);
  assert.equal(r3.extra, "Contact: <sip:c@h1>;expires=99\r\nContact: <sip:c@h2>;expires=199\r\n");
});

test("unregister_one_with_expires_zero", () => {
  reg(msg("e", { contacts: ["<sip:e@h1>", "<sip:e@h2>"] }), 0);
  drainEvents();
  const r = reg(msg("e", { contacts: ["<sip:e@h1>;expires=0"], cseq: 2 }), 10);
  assert.equal(r.status, 200);
  assert.equal(r.extra, "Contact: <sip:e@h2>;expires=3600\r\n");
  assert.equal(ex.probe_reg_bindings(), 1);
  const ev = drainEvents();
  assert.deepEqual(ev.map((x) => [x.kind, x.contact, x.value]), [[Ev.RegRemove, "sip:e@h1", 0]]);
  // removing the last one frees the AOR and its strings
  const r2 = reg(msg("e", { contacts: ["<sip:e@h2>"], expires: 0, cseq: 3 }), 20);
  assert.equal(r2.status, 200);
  assert.equal(r2.extra, "");
  assert.equal(ex.probe_reg_aors(), 0);
  assert.equal(ex.probe_reg_bindings(), 0);
  assert.equal(ex.probe_reg_pool_used(), 0);
  assert.equal(ex.probe_reg_next_deadline(), -1);
});

test("wildcard_with_expires_zero_removes_all", () => {
  reg(msg("f", { contacts: ["<sip:f@h1>", "<sip:f@h2>", "<sip:f@h3>"] }), 0);
  drainEvents();
  const r = reg(msg("f", { contacts: ["*"], expires: 0, cseq: 2 }), 10);
  assert.equal(r.status, 200);
  assert.equal(r.extra, "");
  assert.equal(ex.probe_reg_bindings(), 0);
  assert.equal(ex.probe_reg_aors(), 0);
  assert.equal(ex.probe_reg_pool_used(), 0);
  assert.deepEqual(drainEvents().map((x) => x.kind), [Ev.RegRemove, Ev.RegRemove, Ev.RegRemove]);
  // `*` on an unknown AOR: 200, nothing
  assert.equal(reg(msg("nobody", { contacts: ["*"], expires: 0 }), 10).status, 200);
});

test("wildcard_without_expires_zero_is_400", () => {
  reg(msg("g", { contacts: ["<sip:g@h1>"] }), 0);
  assert.equal(reg(msg("g", { contacts: ["*"], cseq: 2 }), 10).status, 400);
  assert.equal(reg(msg("g", { contacts: ["*"], expires: 30, cseq: 3 }), 10).status, 400);
  assert.equal(ex.probe_reg_bindings(), 1);
});

test("too_brief_is_423_with_min_expires_and_changes_nothing", () => {
  reg(msg("h", { contacts: ["<sip:h@h1>"] }), 0);
  const used = ex.probe_reg_pool_used();
  const r = reg(msg("h", { contacts: ["<sip:h@h2>", "<sip:h@h1>;expires=0", "<sip:h@h3>;expires=30"], cseq: 2 }), 10);
  assert.equal(r.status, 423);
  assert.equal(r.extra, "Min-Expires: 60\r\n");
  assert.equal(ex.probe_reg_bindings(), 1);
  assert.equal(ex.probe_reg_pool_used(), used);
  assert.deepEqual(lookup("sip:h@x", 20).map((x) => x.uri), ["sip:h@h1"]);
});

test("too_long_is_clamped_to_max", () => {
  const r = reg(msg("i", { contacts: ["<sip:i@h1>;expires=999999"] }), 0);
  assert.equal(r.status, 200);
  assert.equal(r.extra, "Contact: <sip:i@h1>;expires=3600\r\n");
});

test("cseq_lower_is_500_equal_is_idempotent_200", () => {
  reg(msg("j", { contacts: ["<sip:j@h1>"], cseq: 10 }), 0);
  drainEvents();
  const low = reg(msg("j", { contacts: ["<sip:j@h1>;expires=0"], cseq: 9 }), 10);
  assert.equal(low.status, 500);
  assert.equal(ex.probe_reg_bindings(), 1);
  // atomic: one good contact plus one refused leaves everything alone
  const mixed = reg(msg("j", { contacts: ["<sip:j@h2>", "<sip:j@h1>"], cseq: 9 }), 10);
  assert.equal(mixed.status, 500);
  assert.equal(ex.probe_reg_bindings(), 1);
  const eq = reg(msg("j", { contacts: ["<sip:j@h1>"], cseq: 10 }), 2000);
  assert.equal(eq.status, 200);
  assert.equal(eq.extra, "Contact: <sip:j@h1>;expires=3598\r\n"); // untouched: deadline of the first
  assert.equal(drainEvents().length, 0);
  // a different Call-ID may use any CSeq
  const other = reg(msg("j", { contacts: ["<sip:j@h1>;expires=100"], cseq: 1, callId: "other" }), 3000);
  assert.equal(other.status, 200);
  assert.equal(other.extra, "Contact: <sip:j@h1>;expires=100\r\n");
  // `*` with a lower CSeq of the same Call-ID: 500
  assert.equal(reg(msg("j", { contacts: ["*"], expires: 0, cseq: 0, callId: "other" }), 3000).status, 500);
  assert.equal(ex.probe_reg_bindings(), 1);
});

test("query_without_contact_lists_and_changes_nothing", () => {
  reg(msg("k", { contacts: ["<sip:k@h1>;q=0.25"] }), 0);
  const used = ex.probe_reg_pool_used();
  drainEvents();
  const r = reg(msg("k", { cseq: 2 }), 1000);
  assert.equal(r.status, 200);
  assert.equal(r.extra, "Contact: <sip:k@h1>;expires=3599;q=0.25\r\n");
  assert.equal(ex.probe_reg_pool_used(), used);
  assert.equal(drainEvents().length, 0);
  assert.equal(reg(msg("unknown", {}), 1000).extra, "");
});

test("per_aor_limit_is_403", () => {
  reg(msg("l", { contacts: ["<sip:l@h1>", "<sip:l@h2>", "<sip:l@h3>"] }), 0);
  const r = reg(msg("l", { contacts: ["<sip:l@h4>", "<sip:l@h5>"], cseq: 2 }), 10);
  assert.equal(r.status, 403);
  assert.equal(ex.probe_reg_bindings(), 3);
  // swapping one out in the same request fits
  const r2 = reg(msg("l", { contacts: ["<sip:l@h4>", "<sip:l@h5>", "<sip:l@h1>;expires=0"], cseq: 3 }), 10);
  assert.equal(r2.status, 200);
  assert.equal(ex.probe_reg_bindings(), 4);
});

test("aor_table_full_on_micro_is_503_and_the_caller_adds_retry_after", () => {
  const M = loadProbe("micro");
  reset(M);
  let n = 0;
  for (;; n++) {
    const r = reg(msg("user" + n, { contacts: [`<sip:user${n}@10.0.0.1>`] }), 0, 5060, 0, M);
    if (r.status !== 200) {
      assert.equal(r.status, 503);
      assert.equal(r.extra, "", "the registrar writes no Retry-After: the proxy adds the configured one (retryAfter)");
      break;
    }
    assert.ok(n < 10000);
  }
  assert.equal(n, 32); // MAX_AORS on micro
  assert.equal(M.ex.probe_reg_aors(), 32);
  assert.equal(M.ex.probe_reg_bindings(), 32);
  // existing AORs can still refresh; freeing one makes room again
  assert.equal(reg(msg("user3", { contacts: ["<sip:user3@10.0.0.1>"], cseq: 2 }), 1, 5060, 0, M).status, 200);
  assert.equal(reg(msg("user3", { contacts: ["*"], expires: 0, cseq: 3 }), 1, 5060, 0, M).status, 200);
  assert.equal(reg(msg("newbie", { contacts: ["<sip:n@10.0.0.1>"] }), 1, 5060, 0, M).status, 200);
  // lookups still find everyone (hash intact after backward-shift deletion)
  for (let i = 0; i < 32; i++) assert.equal(lookup(`sip:user${i}@x`, 2, M).length, i === 3 ? 0 : 1, `user${i}`);
});

test("expiry_is_exact", () => {
  reg(msg("m", { contacts: ["<sip:m@h1>;expires=60", "<sip:m@h2>;expires=120"] }), 500);
  drainEvents();
  assert.equal(ex.probe_reg_next_deadline(), 60_500);
  ex.probe_reg_tick(60_499);
  assert.equal(ex.probe_reg_bindings(), 2);
  assert.equal(lookup("sip:m@x", 60_499).length, 2);
  assert.equal(lookup("sip:m@x", 60_500).length, 1); // due counts as gone even before the tick
  ex.probe_reg_tick(60_500);
  assert.equal(ex.probe_reg_bindings(), 1);
  const ev = drainEvents();
  assert.deepEqual(ev.map((x) => [x.kind, x.aor, x.contact, x.port]), [[Ev.RegExpire, "m", "sip:m@h1", 5060]]);
  assert.equal(ex.probe_reg_next_deadline(), 120_500);
  ex.probe_reg_tick(1e9);
  assert.equal(ex.probe_reg_bindings(), 0);
  assert.equal(ex.probe_reg_aors(), 0);
  assert.equal(ex.probe_reg_pool_used(), 0);
  assert.equal(ex.probe_reg_next_deadline(), -1);
});

test("path_stored_echoed_and_returned_by_lookup", () => {
  const path = ["<sip:edge1.example.net;lr>", "<sip:edge2.example.net;lr;ob>"];
  const r = reg(msg("n", { contacts: ["<sip:n@10.1.1.1>", "<sip:n@10.1.1.2>"], path, supported: "path" }), 0);
  assert.equal(r.status, 200);
  assert.equal(r.extra,
    "Contact: <sip:n@10.1.1.1>;expires=3600\r\nContact: <sip:n@10.1.1.2>;expires=3600\r\n" +
    `Path: ${path[0]}\r\nPath: ${path[1]}\r\nSupported: path\r\n`);
  const t = lookup("sip:n@example.com", 1);
  assert.equal(t.length, 2);
  for (const x of t) assert.equal(x.path, path.join(","));
  // Path without Supported: path is accepted, not echoed as supported
  const r2 = reg(msg("o", { contacts: ["<sip:o@h>"], path: path.slice(0, 1) }), 0);
  assert.equal(r2.status, 200);
  assert.equal(r2.extra, `Contact: <sip:o@h>;expires=3600\r\nPath: ${path[0]}\r\n`);
  // a refresh without Path clears the route set; pool returns to the strings still held
  reg(msg("n", { contacts: ["<sip:n@10.1.1.1>", "<sip:n@10.1.1.2>"], cseq: 2 }), 5);
  assert.deepEqual(lookup("sip:n@x", 6).map((x) => x.path), ["", ""]);
});

test("source_peer_is_recorded_and_returned", () => {
  ex.probe_reg_src(2, 0x0a00_0a0a); // TCP 10.10.0.10
  reg(msg("p", { contacts: ["<sip:p@192.168.1.5:5060>"] }), 0, 40123, 7);
  const t = lookup("sip:p@example.com", 1);
  assert.deepEqual([t[0].port, t[0].conn, t[0].transport, t[0].addr], [40123, 7, 2, 0x0a00_0a0a]);
  // out-of-range getters read as empty
  assert.equal(ex.probe_reg_t_uri_len(5), 0);
  assert.equal(ex.probe_reg_t_port(-1), 0);
});

test("rfc4475_escnull_two_distinct_bindings_key_keeps_nul", () => {
  const r = reg(corpus("3.1.1.4_escnull.sip"), 0);
  assert.equal(r.status, 200);
  assert.equal(ex.probe_reg_bindings(), 2);
  assert.equal(r.extra,
    "Contact: <sip:%00@host5.example.com>;expires=3600\r\nContact: <sip:%00%00@host5.example.com>;expires=3600\r\n");
  assert.equal(lookup("sip:null-%00-null@example.com", 1).length, 2);
  assert.equal(lookup("sip:null-%00-nul%6c@example.com", 1).length, 2); // unescaped key
  assert.equal(lookup("sip:null-null@example.com", 1).length, 0);
  assert.equal(drainEvents()[0].aor, "null-\0-null");
});

test("rfc4475_cparam01_unknownparam_not_in_stored_uri", () => {
  assert.equal(reg(corpus("3.3.12_cparam01.sip"), 0).status, 200);
  assert.deepEqual(lookup("sip:watson@example.com", 1).map((x) => x.uri), ["sip:+19725552222@gw1.example.net"]);
});

test("rfc4475_cparam02_unknownparam_kept", () => {
  assert.equal(reg(corpus("3.3.13_cparam02.sip"), 0).status, 200);
  assert.deepEqual(lookup("sip:watson@example.com", 1).map((x) => x.uri), ["sip:+19725552222@gw1.example.net;unknownparam"]);
});

test("rfc4475_regescrt_escaped_header_kept", () => {
  const r = reg(corpus("3.3.14_regescrt.sip"), 0);
  assert.equal(r.status, 200);
  assert.deepEqual(lookup("sip:user@example.com", 1).map((x) => x.uri), ["sip:user@example.com?Route=%3Csip:sip.example.com%3E"]);
});

test("rfc4475_unksm2_non_sip_to_is_400", () => {
  assert.equal(reg(corpus("3.3.4_unksm2.sip"), 0).status, 400);
  assert.equal(reg(msg("x", { to: "<tel:+1234>", contacts: ["<sip:x@h>"] }), 0).status, 400);
  assert.equal(ex.probe_reg_bindings(), 0);
});

test("empty_user_is_404", () => {
  assert.equal(reg(msg("x", { to: "<sip:example.com>", contacts: ["<sip:x@h>"] }), 0).status, 404);
});

test("extra_too_small_is_500_without_lines", () => {
  const r = reg(msg("q", { contacts: ["<sip:q@h1>"] }), 0, 5060, 0, P, 10);
  assert.equal(r.status, 500);
  assert.equal(r.extra, "");
});

test("pool_full_is_503_and_changes_nothing", () => {
  // on the micro board, 3 long contacts per AOR (4 blocks each) fill the 112-block pool before the
  // binding table does
  const M = loadProbe("micro");
  reset(M);
  const long = "x".repeat(200);
  let status = 200, n = 0;
  while (status === 200 && n < 100) {
    status = reg(msg("u" + n, { contacts: [1, 2, 3].map((i) => `<sip:${long}${i}@h>`) }), 0, 5060, 0, M).status;
    n++;
  }
  assert.equal(status, 503);
  const used = M.ex.probe_reg_pool_used();
  const b = M.ex.probe_reg_bindings();
  assert.equal(reg(msg("zz", { contacts: [`<sip:${long}@h>`, `<sip:${long}2@h>`, `<sip:${long}3@h>`] }), 0, 5060, 0, M).status, 503);
  assert.equal(M.ex.probe_reg_pool_used(), used);
  assert.equal(M.ex.probe_reg_bindings(), b);
});

test("no_allocation_across_10000_registers", () => {
  const texts = [];
  for (let i = 0; i < 20; i++) {
    texts.push(msg("a" + (i % 7), { contacts: [`<sip:a@10.0.0.${i % 5}>;q=0.${i % 9}`], cseq: i + 1, path: i % 2 ? ["<sip:e;lr>"] : [] }));
    texts.push(msg("a" + (i % 7), { contacts: ["*"], expires: 0, cseq: i + 1000 }));
  }
  for (let i = 0; i < 50; i++) reg(texts[i % texts.length], i); // warm up
  const m0 = ex.probe_heap_mark();
  const m1 = ex.probe_heap_mark();
  for (let i = 0; i < 10000; i++) {
    reg(texts[i % texts.length], 100 + i * 10);
    if (i % 100 === 0) { ex.probe_reg_tick(100 + i * 10); lookup("sip:a3@x", 100 + i * 10); drainEvents(); }
  }
  const m2 = ex.probe_heap_mark();
  assert.equal(m2 - m1, m1 - m0);
});
