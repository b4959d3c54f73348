// User-agent dialogs (assembly/dialog/ua.ts, RFC 3261 §12): the state both roles keep and the requests
// written from it, through the probe_ua_* exports. Each request the core writes is parsed back by the
// core itself (it must be a valid message) and checked field by field against §12.2.1.1.
import { test } from "node:test";
import assert from "node:assert/strict";
import { loadProbe } from "../lib/core.mjs";

const P = loadProbe();
const { ex } = P;
const T = { CallId: 0, LocalUri: 1, LocalTag: 2, RemoteUri: 3, RemoteTag: 4, RemoteTarget: 5, Route0: 6 };
const STATE = ["free", "early", "confirmed", "terminated"];

/** Parses `text` (CRLF lines) into the probe's current view; asserts it is valid. */
function parse(text) {
  const n = P.put(text);
  const r = ex.probe_parse(n, 0);
  assert.ok(r > 0, `the core parses it (${r}):\n${text}`);
}

const put = (...strs) => P.scratch(...strs);

const textOf = (i, k) => P.str(ex.probe_ua_text_ptr(i, k), ex.probe_ua_text_len(i, k));

/** Writes `method` in dialog i; returns the message text (and checks the core parses it back). */
function write(i, method, { cseq = 0, via = "SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKnew1", contact = "<sip:alice@10.0.0.1:5060>", cap = 4096 } = {}) {
  const [m, v, c] = put(method, via, contact);
  const n = ex.probe_ua_write(i, ...m, cseq, ...v, ...(contact ? c : [0, 0]), cap);
  if (n === 0) return "";
  const text = P.str(ex.probe_tx_ptr(), n);
  parse(text);
  return text;
}
const header = (msg, name) => msg.split("\r\n").filter((l) => l.toLowerCase().startsWith(`${name.toLowerCase()}:`)).map((l) => l.slice(name.length + 1).trim());

const INVITE_200 = (rr, { status = "200 OK", contact = "<sip:bob@192.0.2.4:5070;transport=udp>" } = {}) => [
  `SIP/2.0 ${status}`,
  "Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKinv1",
  ...rr.map((r) => `Record-Route: ${r}`),
  "From: \"Alice\" <sip:alice@atlanta.example>;tag=a73kszlfl",
  "To: <sip:bob@biloxi.example>;tag=1928301774",
  "Call-ID: a84b4c76e66710@10.0.0.1",
  "CSeq: 314159 INVITE",
  ...(contact ? [`Contact: ${contact}`] : []),
  "Content-Length: 0", "", "",
].join("\r\n");

test("UAC (§12.1.2): the dialog from a 2xx: reversed route set, remote target, tags, CSeq; BYE from it", () => {
  ex.probe_ua_reset();
  parse(INVITE_200(["<sip:p2.biloxi.example;lr>", "<sip:p1.atlanta.example;lr;x=1>"]));
  const i = ex.probe_ua_from_response(314159);
  assert.ok(i >= 0, `dialog ${i}`);
  assert.equal(STATE[ex.probe_ua_state(i)], "confirmed");
  assert.equal(textOf(i, T.CallId), "a84b4c76e66710@10.0.0.1");
  assert.equal(textOf(i, T.LocalUri), "sip:alice@atlanta.example");
  assert.equal(textOf(i, T.LocalTag), "a73kszlfl");
  assert.equal(textOf(i, T.RemoteUri), "sip:bob@biloxi.example");
  assert.equal(textOf(i, T.RemoteTag), "1928301774");
  assert.equal(textOf(i, T.RemoteTarget), "sip:bob@192.0.2.4:5070;transport=udp");
  assert.equal(ex.probe_ua_routes(i), 2);
  assert.equal(textOf(i, T.Route0), "<sip:p1.atlanta.example;lr;x=1>", "the route set is the Record-Route reversed");
  assert.equal(textOf(i, T.Route0 + 1), "<sip:p2.biloxi.example;lr>");
  assert.equal(ex.probe_ua_local_cseq(i), 314159);
  assert.equal(ex.probe_ua_remote_cseq(i), -1n, "the remote CSeq is empty until the peer sends a request");

  const bye = write(i, "BYE");
  assert.equal(bye.split("\r\n")[0], "BYE sip:bob@192.0.2.4:5070;transport=udp SIP/2.0", "loose routing: the remote target");
  assert.deepEqual(header(bye, "Route"), ["<sip:p1.atlanta.example;lr;x=1>", "<sip:p2.biloxi.example;lr>"]);
  assert.deepEqual(header(bye, "From"), ["<sip:alice@atlanta.example>;tag=a73kszlfl"]);
  assert.deepEqual(header(bye, "To"), ["<sip:bob@biloxi.example>;tag=1928301774"]);
  assert.deepEqual(header(bye, "Call-ID"), ["a84b4c76e66710@10.0.0.1"]);
  assert.deepEqual(header(bye, "CSeq"), ["314160 BYE"], "the local CSeq plus one");
  assert.deepEqual(header(bye, "Max-Forwards"), ["70"]);
  assert.deepEqual(header(bye, "Via"), ["SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKnew1"]);
  assert.equal(ex.probe_ua_local_cseq(i), 314160, "kept for the next request");
  // ACK for the 2xx: the INVITE's CSeq number, not a new one (§13.2.2.4)
  const ack = write(i, "ACK", { cseq: 314159, contact: "" });
  assert.deepEqual(header(ack, "CSeq"), ["314159 ACK"]);
  assert.deepEqual(header(ack, "Contact"), []);
  assert.equal(ex.probe_ua_local_cseq(i), 314160);
  const info = write(i, "INFO");
  assert.deepEqual(header(info, "CSeq"), ["314161 INFO"]);
});

test("UAC: a strict first route takes the Request-URI; the remote target ends the Route set (§12.2.1.1)", () => {
  ex.probe_ua_reset();
  parse(INVITE_200(["<sip:p2.biloxi.example;lr>", "<sip:strict.atlanta.example;maddr=192.0.2.9>"]));
  const i = ex.probe_ua_from_response(1);
  assert.ok(i >= 0);
  const bye = write(i, "BYE");
  assert.equal(bye.split("\r\n")[0], "BYE sip:strict.atlanta.example;maddr=192.0.2.9 SIP/2.0");
  assert.deepEqual(header(bye, "Route"), ["<sip:p2.biloxi.example;lr>", "<sip:bob@192.0.2.4:5070;transport=udp>"]);
});

test("UAC: no Record-Route, no Route; URI headers of the remote target stay out of the Request-URI (§19.1.5)", () => {
  ex.probe_ua_reset();
  parse(INVITE_200([], { contact: "<sip:bob@192.0.2.4?Subject=hi>" }));
  const i = ex.probe_ua_from_response(7);
  const bye = write(i, "BYE");
  assert.equal(bye.split("\r\n")[0], "BYE sip:bob@192.0.2.4 SIP/2.0");
  assert.deepEqual(header(bye, "Route"), []);
});

test("UAC: a 1xx with a To tag makes an early dialog; refusals: no To tag, no Contact, a 100, a full table", () => {
  ex.probe_ua_reset();
  parse(INVITE_200([], { status: "180 Ringing" }));
  const i = ex.probe_ua_from_response(1);
  assert.equal(STATE[ex.probe_ua_state(i)], "early");
  ex.probe_ua_confirm(i);
  assert.equal(STATE[ex.probe_ua_state(i)], "confirmed");
  parse(INVITE_200([]).replace(";tag=1928301774", ""));
  assert.equal(ex.probe_ua_from_response(1), -1, "no To tag: no dialog");
  parse(INVITE_200([], { contact: null }));
  assert.equal(ex.probe_ua_from_response(1), -2, "no Contact: no remote target");
  parse(INVITE_200([], { status: "100 Trying" }));
  assert.equal(ex.probe_ua_from_response(1), -6, "a 100 makes no dialog");
  assert.equal(ex.probe_ua_in_use(), 1, "refusals hold no record");
  parse(INVITE_200([]));
  let n = 1;
  while (ex.probe_ua_from_response(1) >= 0) n++;
  assert.equal(ex.probe_ua_from_response(1), -4, "full");
  assert.equal(ex.probe_ua_in_use(), n);
  ex.probe_ua_end(i);
  assert.equal(ex.probe_ua_in_use(), n - 1);
  assert.ok(ex.probe_ua_from_response(1) >= 0, "an ended dialog's record is used again");
});

test("UAC: a route set longer than the record holds, or texts beyond its area, are refused, not truncated", () => {
  ex.probe_ua_reset();
  parse(INVITE_200(Array.from({ length: 9 }, (_, k) => `<sip:p${k}.example;lr>`)));
  assert.equal(ex.probe_ua_from_response(1), -3);
  parse(INVITE_200([`<sip:${"x".repeat(900)}.example;lr>`, `<sip:${"y".repeat(200)}.example;lr>`]));
  assert.equal(ex.probe_ua_from_response(1), -3);
  assert.equal(ex.probe_ua_in_use(), 0);
});

test("UAS (§12.1.1): the dialog from an INVITE: route set in order, remote CSeq; our BYE starts our CSeq at 1", () => {
  ex.probe_ua_reset();
  parse([
    "INVITE sip:bob@192.0.2.4:5070 SIP/2.0",
    "Via: SIP/2.0/UDP p2.biloxi.example;branch=z9hG4bKp2",
    "Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKinv1",
    "Max-Forwards: 68",
    "Record-Route: <sip:p2.biloxi.example;lr>, <sip:p1.atlanta.example;lr>",
    "From: \"Alice\" <sip:alice@atlanta.example>;tag=a73kszlfl",
    "To: <sip:bob@biloxi.example>",
    "Call-ID: a84b4c76e66710@10.0.0.1",
    "CSeq: 314159 INVITE",
    "Contact: <sip:alice@10.0.0.1:5060>",
    "Content-Length: 0", "", "",
  ].join("\r\n"));
  const [tag] = put("b0b7a9");
  const i = ex.probe_ua_from_request(...tag, 0);
  assert.ok(i >= 0, `dialog ${i}`);
  assert.equal(STATE[ex.probe_ua_state(i)], "confirmed");
  assert.equal(textOf(i, T.LocalUri), "sip:bob@biloxi.example");
  assert.equal(textOf(i, T.LocalTag), "b0b7a9");
  assert.equal(textOf(i, T.RemoteUri), "sip:alice@atlanta.example");
  assert.equal(textOf(i, T.RemoteTag), "a73kszlfl");
  assert.equal(textOf(i, T.RemoteTarget), "sip:alice@10.0.0.1:5060");
  assert.equal(ex.probe_ua_remote_cseq(i), 314159n);
  assert.equal(ex.probe_ua_routes(i), 2, "one Record-Route header with two values: two routes");
  const bye = write(i, "BYE", { via: "SIP/2.0/UDP 192.0.2.4:5070;branch=z9hG4bKbye", contact: "" });
  assert.equal(bye.split("\r\n")[0], "BYE sip:alice@10.0.0.1:5060 SIP/2.0");
  assert.deepEqual(header(bye, "Route"), ["<sip:p2.biloxi.example;lr>", "<sip:p1.atlanta.example;lr>"], "in the order received");
  assert.deepEqual(header(bye, "From"), ["<sip:bob@biloxi.example>;tag=b0b7a9"]);
  assert.deepEqual(header(bye, "To"), ["<sip:alice@atlanta.example>;tag=a73kszlfl"]);
  assert.deepEqual(header(bye, "CSeq"), ["1 BYE"]);
});

test("a request that does not fit the writer's room is not written (0), never cut short", () => {
  ex.probe_ua_reset();
  parse(INVITE_200(["<sip:p2.biloxi.example;lr>"]));
  const i = ex.probe_ua_from_response(1);
  const [m, v, c] = put("BYE", "SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKx", "<sip:alice@10.0.0.1>");
  assert.equal(ex.probe_ua_write(i, ...m, 0, ...v, ...c, 120), 0);
  assert.ok(ex.probe_ua_write(i, ...m, 0, ...v, ...c, 4096) > 120);
});

test("§12.2.2: the peer's CSeq in order moves the remote CSeq; a lower one is answered 500; ACK/CANCEL are not counted", () => {
  ex.probe_ua_reset();
  parse(INVITE_200([]));
  const i = ex.probe_ua_from_response(1);
  assert.equal(ex.probe_ua_remote_cseq(i), -1n);
  assert.equal(ex.probe_ua_check_cseq(i, 100, 0), 0, "the first request of the peer sets the remote CSeq");
  assert.equal(ex.probe_ua_remote_cseq(i), 100n);
  assert.equal(ex.probe_ua_check_cseq(i, 100, 0), 0, "the same number again (a retransmission reaching the TU)");
  assert.equal(ex.probe_ua_check_cseq(i, 99, 0), 500, "lower: out of order");
  assert.equal(ex.probe_ua_check_cseq(i, 5, 1), 0, "ACK/CANCEL carry their INVITE's number");
  assert.equal(ex.probe_ua_check_cseq(i, 150, 0), 0, "higher, with gaps (§12.2.2 allows them)");
  assert.equal(ex.probe_ua_remote_cseq(i), 150n);
});

test("§14.1 glare: an INVITE while one is in progress the other way is 491; the wait depends on who owns the Call-ID", () => {
  ex.probe_ua_reset();
  parse(INVITE_200([]));
  const uac = ex.probe_ua_from_response(1);
  assert.equal(ex.probe_ua_invite_begin(uac, 1), 0, "our re-INVITE starts");
  assert.equal(ex.probe_ua_invite_begin(uac, 0), 491, "theirs crosses it: 491");
  ex.probe_ua_invite_end(uac, 1);
  assert.equal(ex.probe_ua_invite_begin(uac, 0), 0, "once ours has ended, theirs is accepted");
  assert.equal(ex.probe_ua_invite_begin(uac, 0), 500, "a second one of theirs while the first is in progress: 500 (§14.2)");
  assert.equal(ex.probe_ua_invite_begin(uac, 1), 491, "ours while theirs is in progress: we get 491 ourselves");
  ex.probe_ua_invite_end(uac, 0);
  // the waits, over the whole range of random numbers
  const owner = new Set(), other = new Set();
  for (let r = 0; r < 2000; r++) owner.add(ex.probe_ua_glare_delay(uac, r * 2654435761 >>> 0));
  assert.equal(Math.min(...owner), 2100);
  assert.equal(Math.max(...owner), 4000);
  assert.ok([...owner].every((d) => d % 10 === 0));
  parse([
    "INVITE sip:bob@192.0.2.4 SIP/2.0", "Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKu1", "Max-Forwards: 70",
    "From: <sip:alice@atlanta.example>;tag=a1", "To: <sip:bob@biloxi.example>", "Call-ID: c1@10.0.0.1", "CSeq: 1 INVITE",
    "Contact: <sip:alice@10.0.0.1>", "Content-Length: 0", "", "",
  ].join("\r\n"));
  const [tag] = put("b1");
  const uas = ex.probe_ua_from_request(...tag, 0);
  assert.equal(ex.probe_ua_flags(uas) & 1, 0, "the UAS does not own the Call-ID");
  for (let r = 0; r < 2000; r++) other.add(ex.probe_ua_glare_delay(uas, r * 2654435761 >>> 0));
  assert.equal(Math.min(...other), 0);
  assert.equal(Math.max(...other), 2000);
});

test("target refresh: a re-INVITE's Contact becomes the remote target, in a text area compacted when full", () => {
  ex.probe_ua_reset();
  parse(INVITE_200(["<sip:p1.example;lr>"]));
  const i = ex.probe_ua_from_response(1);
  const reinvite = (host) => parse([
    `INVITE sip:alice@10.0.0.1 SIP/2.0`, "Via: SIP/2.0/UDP 192.0.2.4;branch=z9hG4bKr" + host.length, "Max-Forwards: 70",
    "From: <sip:bob@biloxi.example>;tag=1928301774", "To: <sip:alice@atlanta.example>;tag=a73kszlfl",
    "Call-ID: a84b4c76e66710@10.0.0.1", "CSeq: 2 INVITE", `Contact: <sip:bob@${host}>`, "Content-Length: 0", "", "",
  ].join("\r\n"));
  // each refresh appends the new target; 60 refreshes of ~100 bytes overflow 1 KB many times over
  for (let k = 0; k < 60; k++) {
    const host = `h${k}.${"x".repeat(80)}.example`;
    reinvite(host);
    assert.equal(ex.probe_ua_refresh_target(i), 0, `refresh ${k}`);
    assert.equal(textOf(i, T.RemoteTarget), `sip:bob@${host}`);
  }
  // everything else survived the compactions
  assert.equal(textOf(i, T.CallId), "a84b4c76e66710@10.0.0.1");
  assert.equal(textOf(i, T.LocalTag), "a73kszlfl");
  assert.equal(textOf(i, T.RemoteTag), "1928301774");
  assert.equal(textOf(i, T.Route0), "<sip:p1.example;lr>");
  const bye = write(i, "BYE");
  assert.equal(bye.split("\r\n")[0], `BYE sip:bob@h59.${"x".repeat(80)}.example SIP/2.0`);
  // a target that can never fit is refused and the old one stays
  reinvite(`${"y".repeat(1000)}.example`);
  assert.equal(ex.probe_ua_refresh_target(i), -3);
  assert.equal(textOf(i, T.RemoteTarget), `sip:bob@h59.${"x".repeat(80)}.example`);
});

test("§8.1.1: a request outside a dialog (a trunk REGISTER with credentials among its extra lines)", () => {
  const parts = ["REGISTER", "sip:provider.example", "sip:+4930123456@provider.example", "r1x9", "sip:+4930123456@provider.example",
    "reg-7f3a@10.0.0.1", "SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKreg1", "<sip:10.0.0.1:5060;bnc>",
    "Expires: 600\r\nSupported: path, gin\r\nAuthorization: Digest username=\"u\", realm=\"r\", nonce=\"n\", uri=\"sip:provider.example\", response=\"00\"\r\n"];
  const spans = put(...parts);
  spans.forEach(([p, n], k) => ex.probe_ua_out_span(k, p, n));
  const n = ex.probe_ua_out_write(2, 4096);
  assert.ok(n > 0);
  const msg = P.str(ex.probe_tx_ptr(), n);
  parse(msg);
  assert.equal(msg.split("\r\n")[0], "REGISTER sip:provider.example SIP/2.0");
  assert.deepEqual(header(msg, "From"), ["<sip:+4930123456@provider.example>;tag=r1x9"]);
  assert.deepEqual(header(msg, "To"), ["<sip:+4930123456@provider.example>"], "no To tag outside a dialog");
  assert.deepEqual(header(msg, "CSeq"), ["2 REGISTER"]);
  assert.deepEqual(header(msg, "Contact"), ["<sip:10.0.0.1:5060;bnc>"]);
  assert.deepEqual(header(msg, "Expires"), ["600"]);
  assert.equal(header(msg, "Authorization").length, 1);
  assert.ok(msg.endsWith("Content-Length: 0\r\n\r\n"));
  assert.equal(ex.probe_ua_out_write(2, 100), 0, "no room: nothing written");
  ex.probe_ua_out_span(5, 0, 0);
  assert.equal(ex.probe_ua_out_write(2, 4096), 0, "no Call-ID: refused");
});

// The dialogs in use are found by Call-ID and local tag through a hash index (dialog/ua.ts): dialogs
// made and ended in a random order (seeded), the table full at times, every live dialog is found by a
// request within it and by a response to one of ours, and an ended one is not (an index that lost an
// entry on deletion, or kept one, fails here).
test("dialogs found through the index while they are made and ended in any order (2,000 steps, table full at times)", () => {
  ex.probe_ua_reset();
  let s = 0x2545f491;
  const rnd = (n) => { s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0; return s % n; };
  const live = new Map(); // index -> { cid, ours, theirs }
  const ended = [];
  let full = 0;
  const response = (x) => [
    "SIP/2.0 200 OK", "Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKx", `From: <sip:a@x.example>;tag=${x.ours}`,
    `To: <sip:b@y.example>;tag=${x.theirs}`, `Call-ID: ${x.cid}`, "CSeq: 1 INVITE", "Contact: <sip:b@192.0.2.4>", "Content-Length: 0", "", "",
  ].join("\r\n");
  const request = (x) => [
    "BYE sip:a@10.0.0.1 SIP/2.0", "Via: SIP/2.0/UDP 192.0.2.4:5060;branch=z9hG4bKy", "Max-Forwards: 70",
    `From: <sip:b@y.example>;tag=${x.theirs}`, `To: <sip:a@x.example>;tag=${x.ours}`, `Call-ID: ${x.cid}`, "CSeq: 2 BYE", "Content-Length: 0", "", "",
  ].join("\r\n");
  for (let step = 0; step < 2000; step++) {
    if (live.size > 0 && rnd(3) === 0) {
      const keys = [...live.keys()];
      const i = keys[rnd(keys.length)];
      ended.push(live.get(i));
      live.delete(i);
      ex.probe_ua_end(i);
    } else {
      // few distinct Call-IDs and tags: entries share homes in the index and probe past each other
      const x = { cid: `c${rnd(6)}@h`, ours: `t${rnd(5)}`, theirs: `r${step}` };
      parse(response(x));
      const i = ex.probe_ua_from_response(1);
      if (i < 0) { full++; assert.equal(live.size, ex.probe_ua_in_use(), "refused only when the table is full"); continue; }
      assert.ok(!live.has(i));
      live.set(i, x);
    }
    for (const [i, x] of live) {
      parse(request(x));
      assert.equal(ex.probe_ua_of(), i, `step ${step}: a request within dialog ${i}`);
      parse(response(x));
      assert.equal(ex.probe_ua_of_response(), i, `step ${step}: a response in dialog ${i}`);
    }
    for (const x of ended.slice(-4)) {
      parse(request(x));
      assert.equal(ex.probe_ua_of(), -1, `step ${step}: an ended dialog (${x.cid} ${x.ours} ${x.theirs}) is not found`);
    }
  }
  assert.ok(full > 0, "the table was full at times");
  assert.equal(ex.probe_ua_in_use(), live.size);
});
