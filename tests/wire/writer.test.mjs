// Writers: a forwarded request and a response to a request, built by copying spans and editing.
// Round trip: parse -> forward-edit -> parse gives the same message except the intended edits, and
// every other header line (unknown headers and parameters included) is byte-identical.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { loadProbe, root } from "../lib/core.mjs";
import { Hdr, parse, readView } from "../lib/wire.mjs";

const P = loadProbe("server");
const ex = P.ex;
const TX = ex.probe_tx_ptr();

const args = (...strs) => P.scratch(...strs);

const VIA = "SIP/2.0/UDP 192.0.2.99:5060;branch=z9hG4bK-sipling-1";
const RR = "<sip:192.0.2.99;lr>";

/** Forward the request in view 0; returns the output bytes ("" when it did not fit). */
function forward({ ruri = "", popRoute = false, cap = 1 << 20 } = {}) {
  const [[rp, rl], [vp, vl], [tp, tl]] = args(ruri, VIA, RR);
  const n = ex.probe_forward(rp, rl, vp, vl, tp, tl, popRoute, cap);
  return n === 0 ? "" : P.str(TX, n);
}

/** Parse output bytes sitting in the TX buffer into view slot 1. */
function reparse(out) {
  const r = ex.probe_parse_at(1, TX, out.length, 0);
  const v = readView(P, r);
  ex.probe_select(0);
  return v;
}

function corpusRequests() {
  const out = [];
  for (const sub of ["rfc4475", "rfc5118", "rfc5118/variants"]) {
    const d = join(root, "tests/corpus", sub);
    for (const f of readdirSync(d).filter((f) => f.endsWith(".sip"))) out.push([f, readFileSync(join(d, f))]);
  }
  return out;
}

test("round_trip_forward_of_every_valid_corpus_request", () => {
  let checked = 0;
  for (const [name, bytes] of corpusRequests()) {
    const m = parse(P, bytes);
    if (!(m.r > 0) || !m.isRequest) continue;
    if (m.values(Hdr.MaxForwards)[0] === "0") continue; // zeromf: answered 483, never forwarded
    const hasRoute = m.values(Hdr.Route).length > 0;
    const out = forward({ ruri: "sip:target@192.0.2.50:5070;transport=udp", popRoute: hasRoute });
    assert.ok(out.length > 0, name);
    const f = reparse(out);
    assert.ok(f.r > 0, `${name}: forwarded copy parses (r=${f.r})`);
    assert.equal(f.methodName, m.methodName, name);
    assert.equal(f.uri, "sip:target@192.0.2.50:5070;transport=udp", name);
    // expected header lines: our Via, our Record-Route, Max-Forwards (added when absent), then the
    // received lines with Max-Forwards decremented and the top Route value popped
    const expected = [`Via: ${VIA}\r\n`, `Record-Route: ${RR}\r\n`];
    if (m.values(Hdr.MaxForwards).length === 0) expected.push("Max-Forwards: 70\r\n");
    let popped = false;
    for (const h of m.headers) {
      if (!h.first) continue;
      if (h.hdr === Hdr.MaxForwards) {
        expected.push(`${h.name}: ${Number(h.value) - 1}\r\n`);
      } else if (h.hdr === Hdr.Route && hasRoute && !popped) {
        popped = true;
        if (!h.last) {
          const rest = m.headers[m.headers.indexOf(h) + 1];
          expected.push(`${h.name}: ${h.line.slice(h.line.indexOf(rest.value))}`);
        }
      } else {
        expected.push(h.line); // byte-for-byte
      }
    }
    if (m.contentLength < 0) expected.push(`Content-Length: ${m.body.length}\r\n`);
    const lines = f.headers.filter((h) => h.first).map((h) => h.line);
    assert.deepEqual(lines, expected, name);
    assert.equal(f.body, m.body, `${name}: body byte-identical`);
    checked++;
  }
  assert.ok(checked >= 30, `checked ${checked} requests`);
});

test("forward_keeps_unknown_headers_and_params_byte_identical", () => {
  const msg =
    "INVITE sip:bob@example.com;unknownparam=x SIP/2.0\r\n" +
    "Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKabc;weird-param=\"q v\";rport\r\n" +
    "Route: <sip:proxy.example.com;lr;ext=1>, <sip:next.example.net;lr;foo>\r\n" +
    "Max-Forwards: 5\r\n" +
    "To: <sip:bob@example.com;x-uri=1>;x-hdr=2\r\n" +
    "From: \"Alice\" <sip:alice@example.com>;tag=99;x-from\r\n" +
    "Call-ID: rt-1@example.com\r\n" +
    "CSeq: 1 INVITE\r\n" +
    "X-Custom:   spaced   value ; a=b ,c\r\n" +
    "x-lowercase:\tTabbed\r\n" +
    "P-Weird: line one\r\n  folded two\r\n" +
    "Content-Length: 4\r\n\r\nbody";
  parse(P, msg);
  const out = forward({ popRoute: true });
  assert.equal(out,
    "INVITE sip:bob@example.com;unknownparam=x SIP/2.0\r\n" +
    `Via: ${VIA}\r\n` +
    `Record-Route: ${RR}\r\n` +
    "Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKabc;weird-param=\"q v\";rport\r\n" +
    "Route: <sip:next.example.net;lr;foo>\r\n" +
    "Max-Forwards: 4\r\n" +
    "To: <sip:bob@example.com;x-uri=1>;x-hdr=2\r\n" +
    "From: \"Alice\" <sip:alice@example.com>;tag=99;x-from\r\n" +
    "Call-ID: rt-1@example.com\r\n" +
    "CSeq: 1 INVITE\r\n" +
    "X-Custom:   spaced   value ; a=b ,c\r\n" +
    "x-lowercase:\tTabbed\r\n" +
    "P-Weird: line one\r\n  folded two\r\n" +
    "Content-Length: 4\r\n\r\nbody");
});

test("forward_pops_a_route_line_holding_one_value", () => {
  parse(P,
    "BYE sip:bob@192.0.2.5 SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n" +
    "Route: <sip:p1;lr>\r\nRoute: <sip:p2;lr>\r\nMax-Forwards: 70\r\nTo: <sip:b@x>;tag=1\r\n" +
    "From: <sip:a@x>;tag=2\r\nCall-ID: c\r\nCSeq: 2 BYE\r\nContent-Length: 0\r\n\r\n");
  const out = forward({ popRoute: true });
  assert.ok(!out.includes("sip:p1"));
  assert.ok(out.includes("Route: <sip:p2;lr>\r\n"));
  assert.ok(out.includes("Max-Forwards: 69\r\n"));
});

test("forward_that_does_not_fit_returns_0_for_every_smaller_capacity", () => {
  const bytes = readFileSync(join(root, "tests/corpus/rfc4475/3.1.1.1_wsinv.sip"));
  parse(P, bytes);
  const full = forward();
  assert.ok(full.length > 0);
  for (let cap = 0; cap < full.length; cap++) {
    parse(P, bytes);
    ex.probe_select(0);
    assert.equal(forward({ cap }), "", `cap ${cap}`);
  }
  assert.equal(forward({ cap: full.length }), full); // exactly enough room
});

const INVITE =
  "INVITE sip:bob@example.com SIP/2.0\r\n" +
  "Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKa1;rport\r\n" +
  "v: SIP/2.0/TCP 192.0.2.2;branch=z9hG4bKa0 , SIP/2.0/UDP 192.0.2.3;branch=z9hG4bKzz\r\n" +
  "Max-Forwards: 70\r\n" +
  "To: \"Bob\" <sip:bob@example.com>\r\n" +
  "f: <sip:alice@example.com>;tag=a-tag\r\n" +
  "Call-ID: resp-1@example.com\r\n" +
  "CSeq: 7 INVITE\r\n" +
  "Timestamp: 54.2\r\n" +
  "X-Extra: not copied\r\n" +
  "Content-Type: application/sdp\r\n" +
  "Content-Length: 3\r\n\r\nv=0";

test("response_copies_via_from_to_callid_cseq_and_adds_the_to_tag", () => {
  parse(P, INVITE);
  const [[tp, tl], [xp, xl]] = args("srv-tag", "Retry-After: 30\r\n");
  const n = ex.probe_response(486, tp, tl, xp, xl, 1 << 20);
  const out = P.str(TX, n);
  assert.equal(out,
    "SIP/2.0 486 Busy Here\r\n" +
    "Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKa1;rport\r\n" +
    "v: SIP/2.0/TCP 192.0.2.2;branch=z9hG4bKa0 , SIP/2.0/UDP 192.0.2.3;branch=z9hG4bKzz\r\n" +
    "To: \"Bob\" <sip:bob@example.com>;tag=srv-tag\r\n" +
    "f: <sip:alice@example.com>;tag=a-tag\r\n" +
    "Call-ID: resp-1@example.com\r\n" +
    "CSeq: 7 INVITE\r\n" +
    "Retry-After: 30\r\n" +
    "Content-Length: 0\r\n\r\n");
  const r = reparse(out);
  assert.ok(r.r > 0);
  assert.equal(r.code, 486);
  assert.equal(r.values(Hdr.Via).length, 3);
});

test("response_100_copies_timestamp_and_takes_no_tag", () => {
  parse(P, INVITE);
  const n = ex.probe_response(100, 0, 0, 0, 0, 1 << 20);
  const out = P.str(TX, n);
  assert.ok(out.startsWith("SIP/2.0 100 Trying\r\n"));
  assert.ok(out.includes("Timestamp: 54.2\r\n"));
  assert.ok(out.includes("To: \"Bob\" <sip:bob@example.com>\r\n"));
  assert.ok(!out.includes("X-Extra"));
  assert.ok(reparse(out).r > 0);
});

test("response_to_a_400_request_is_built_from_what_was_indexed", () => {
  // badvers: 505 is answered with the request's own Via/From/To/Call-ID/CSeq
  const m = parse(P, readFileSync(join(root, "tests/corpus/rfc4475/3.1.2.16_badvers.sip")));
  assert.equal(m.status, 505);
  const n = ex.probe_response(505, 0, 0, 0, 0, 1 << 20);
  const out = P.str(TX, n);
  assert.ok(out.startsWith("SIP/2.0 505 Version Not Supported\r\n"));
  const r = reparse(out);
  assert.ok(r.r > 0);
  assert.equal(r.values(Hdr.CallId)[0], m.values(Hdr.CallId)[0]);
});

test("response_that_does_not_fit_returns_0", () => {
  parse(P, INVITE);
  const full = ex.probe_response(200, 0, 0, 0, 0, 1 << 20);
  for (let cap = 0; cap < full; cap++) assert.equal(ex.probe_response(200, 0, 0, 0, 0, cap), 0);
  assert.equal(ex.probe_response(200, 0, 0, 0, 0, full), full);
});
