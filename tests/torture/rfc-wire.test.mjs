// RFC 4475 / RFC 5118 torture messages over the wire: every corpus file (variants and extras too)
// is sent byte-exact as one UDP datagram to the RUNNING server (host/node/cli.mjs), and the test
// asserts what the server does with it, per file (the table below). After every message the
// server must still answer an OPTIONS to itself with 200 within 1 s.
//
// How the answer is observed: the corpus messages carry their authors' Via headers (192.0.2.x,
// port 5060 or none), so by RFC 3261 §18.2.2 the server answers to the source address with the
// Via's port (127.0.0.1:5060), not to our socket. The server runs with --trace, and the answer is
// read from its trace ("sip" lines with dir "out"), matched by Call-ID. The messages are never
// rewritten (that would defeat the torture), except in the bcast variants, which say so.
//
// Set-up: domains localhost, 127.0.0.1 and example.com (so the corpus REGISTERs reach our
// registrar and INVITE/OPTIONS to user@example.com get the registrar's 480 for an unregistered
// user); any other domain goes to "outboundProxy", which points at a silent UDP sink of this test
// (so nothing leaves the machine, and "forwarded" is observable). The test's client is a trusted
// source (access.trusted 127.0.0.1/32): it plays an upstream proxy whose requests are routed, so the
// torture checks parsing and routing; what a stranger may do with the same messages (nothing but
// reach our registered users) is tests/security/relay.test.mjs. A message with a Route header is
// routed by its Route (RFC 3261 §16.4); those hosts do not resolve here, or are loopback ports
// nobody listens on. Each REGISTER that succeeds is undone (Contact: *, Expires: 0) so that the
// order of the files does not change the answers of the INVITEs that follow.
//
// Verdicts (our choices where RFC 4475 allows several are those of tests/wire/corpus.test.mjs):
//   status N   the server answers N, and forwards nothing for this Call-ID
//   drop       nothing at all is sent for this message (malformed responses, unroutable ones)
//   forward    the request is forwarded (outbound proxy sink or its Route), and the proxy gives
//              no final answer of its own within the window (a 408 from the silent sink is fine)
//   any        any answer, or a forward: the point is that the server survives (badbranch)
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { connect } from "node:net";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { startServer } from "../integration/harness.mjs";
import { DnsServer } from "../lib/dns-server.mjs";
import { corpusFiles, corpusDir } from "../lib/corpus.mjs";
import { readSip, callIdOf, udpClient, probe, readStats, sleep, registerMsg } from "./lib.mjs";

const S = (status, more = {}) => ({ status, ...more });
const DROP = { drop: true };
const FWD = { forward: true };

/** The verdict per corpus file (relative to tests/corpus). */
const EXPECT = {
  // ---- RFC 4475 §3.1.1 valid ------------------------------------------------------------------
  "rfc4475/3.1.1.1_wsinv.sip": { forward: "services.example.com", note: "routed by its Route (services.example.com, unresolvable here): 100 Trying, no final" },
  "rfc4475/3.1.1.2_intmeth.sip": S(480, { note: "unknown method to an unregistered user of ours" }),
  "rfc4475/3.1.1.3_esc01.sip": FWD,
  "rfc4475/3.1.1.4_escnull.sip": S(200, { register: { contacts: 2 } }),
  "rfc4475/3.1.1.5_esc02.sip": { forward: true, note: "RE%47IST%45R is not REGISTER: forwarded, not registered" },
  "rfc4475/3.1.1.6_lwsdisp.sip": S(480),
  "rfc4475/3.1.1.7_longreq.sip": S(480),
  "rfc4475/3.1.1.8_dblreq.sip": S(200, { register: {}, notForwarded: "dblreq.0ha0isnda977644900765@192.0.2.15" }),
  "rfc4475/3.1.1.9_semiuri.sip": S(480),
  "rfc4475/3.1.1.10_transports.sip": S(480),
  "rfc4475/3.1.1.11_mpart01.sip": { forward: true, note: "routed by its Route <sip:127.0.0.1:5080>" },
  "rfc4475/3.1.1.12_unreason.sip": { drop: true, note: "a response whose top Via is not ours (§18.1.2)" },
  "rfc4475/3.1.1.13_noreason.sip": { drop: true, note: "a response whose top Via is not ours (§18.1.2)" },
  // ---- RFC 4475 §3.1.2 invalid ----------------------------------------------------------------
  "rfc4475/3.1.2.1_badinv01.sip": S(400),
  "rfc4475/3.1.2.2_clerr.sip": S(400, { note: "over UDP; see the TCP test below" }),
  "rfc4475/3.1.2.3_ncl.sip": S(400),
  "rfc4475/3.1.2.4_scalar02.sip": S(400),
  "rfc4475/3.1.2.5_scalarlg.sip": DROP,
  "rfc4475/3.1.2.6_quotbal.sip": S(400),
  "rfc4475/3.1.2.7_ltgtruri.sip": S(400),
  "rfc4475/3.1.2.8_lwsruri.sip": S(400),
  "rfc4475/3.1.2.9_lwsstart.sip": S(480, { note: "accepted liberally (our choice)" }),
  "rfc4475/3.1.2.10_trws.sip": S(480, { note: "accepted liberally (our choice)" }),
  "rfc4475/3.1.2.11_escruri.sip": S(400, { note: "rejected (our choice), never forwarded" }),
  "rfc4475/3.1.2.12_baddate.sip": S(480, { note: "Date unused: accepted (our choice)" }),
  "rfc4475/3.1.2.13_regbadct.sip": S(400),
  "rfc4475/3.1.2.14_badaspec.sip": S(400),
  "rfc4475/3.1.2.15_baddn.sip": S(400),
  "rfc4475/3.1.2.16_badvers.sip": S(505),
  "rfc4475/3.1.2.17_mismatch01.sip": S(400),
  "rfc4475/3.1.2.18_mismatch02.sip": S(501),
  "rfc4475/3.1.2.19_bigcode.sip": DROP,
  // ---- §3.2 transaction layer -------------------------------------------------------------------
  "rfc4475/3.2.1_badbranch.sip": { any: true, note: "RFC 2543 matching (no 400): the unregistered target gets its answer" },
  // ---- §3.3 application layer -------------------------------------------------------------------
  "rfc4475/3.3.1_insuf.sip": S(400),
  "rfc4475/3.3.2_unkscm.sip": S(416),
  "rfc4475/3.3.3_novelsc.sip": S(416),
  "rfc4475/3.3.4_unksm2.sip": S(400, { note: "the registrar refuses a non-SIP To AOR" }),
  "rfc4475/3.3.5_bext01.sip": S(420, {
    check(r) {
      const un = r.all("unsupported").join(",").split(",").map((s) => s.trim()).filter(Boolean);
      assert.deepEqual(un.sort(), ["noProxiesSupportThis", "norDoAnyProxiesSupportThis"].sort(),
        "Unsupported lists the Proxy-Require tags (and only those: Require is for the UAS)");
    },
  }),
  "rfc4475/3.3.6_invut.sip": S(480),
  "rfc4475/3.3.7_regaut01.sip": S(200, { register: {}, note: "no users configured: the unknown Authorization is ignored" }),
  "rfc4475/3.3.8_multi01.sip": S(400),
  "rfc4475/3.3.9_mcl01.sip": S(400),
  "rfc4475/3.3.10_bcast.sip": { drop: true, note: "as published its top Via is not ours; see the bcast variants below" },
  "rfc4475/3.3.11_zeromf.sip": S(483),
  "rfc4475/3.3.12_cparam01.sip": S(200, {
    register: {
      check(contacts) {
        assert.equal(contacts.length, 1);
        assert.match(contacts[0], /^<sip:\+19725552222@gw1\.example\.net>/, "the binding URI is the bare URI");
        assert.doesNotMatch(contacts[0].slice(0, contacts[0].indexOf(">") + 1), /unknownparam/,
          ";unknownparam is a contact-param, not inside the returned Contact URI");
      },
    },
  }),
  "rfc4475/3.3.13_cparam02.sip": S(200, {
    register: {
      check(contacts) {
        assert.equal(contacts.length, 1);
        assert.match(contacts[0], /^<sip:\+19725552222@gw1\.example\.net;unknownparam>/, "the url-param stays in the URI");
      },
    },
  }),
  "rfc4475/3.3.14_regescrt.sip": S(200, {
    register: {
      check(contacts) {
        assert.equal(contacts.length, 1);
        assert.match(contacts[0], /^<sip:user@example\.com\?Route=%3Csip:sip\.example\.com%3E>/, "the escaped header stays in the URI");
      },
    },
  }),
  "rfc4475/3.3.15_sdp01.sip": S(480),
  "rfc4475/3.4.1_inv2543.sip": S(480),
  "rfc4475/variants/3.1.2.15_baddn.no-final-crlf.sip": S(400),
  "rfc4475/extras/test.sip": { drop: true, note: "no SIP-Version and no Via: there is nowhere to send the 400" },
  // ---- RFC 5118 ---------------------------------------------------------------------------------
  "rfc5118/4.1_ipv6-good.sip": FWD,
  "rfc5118/4.2_ipv6-bad.sip": S(400),
  "rfc5118/4.3_port-ambiguous.sip": FWD,
  "rfc5118/4.4_port-unambiguous.sip": FWD,
  "rfc5118/4.5a_via-received-param-with-delim.sip": FWD,
  "rfc5118/4.5b_via-received-param-no-delim.sip": FWD,
  "rfc5118/4.6_ipv6-in-sdp.sip": S(400, { note: "Content-Length 268 > body 251 over UDP (clerr rule)" }),
  "rfc5118/4.7_mult-ip-in-header.sip": FWD,
  "rfc5118/4.8_mult-ip-in-sdp.sip": FWD,
  "rfc5118/4.9_ipv4-mapped-ipv6.sip": S(480),
  "rfc5118/4.10a_ipv6-bug-abnf-3-colons.sip": FWD,
  "rfc5118/4.10b_ipv6-correct-abnf-2-colons.sip": FWD,
  "rfc5118/variants/4.6_ipv6-in-sdp.content-length-fixed.sip": FWD,
  "rfc5118/variants/4.8_mult-ip-in-sdp.content-length-fixed.sip": FWD,
  "rfc5118/variants/4.9_ipv4-mapped-ipv6.content-length-fixed.sip": S(480),
};

const files = corpusFiles();
let srv, client, sink, dns;
let seq = 0;

before(async () => {
  sink = await udpClient(); // the outbound proxy: records, never answers
  client = await udpClient();
  dns = await DnsServer.open({ other: "nxdomain" }); // our own: every name is unknown, at once
  srv = await startServer({
    config: {
      dns: { servers: [dns.server] },
      domains: ["localhost", "127.0.0.1", "example.com"],
      outboundProxy: `sip:127.0.0.1:${sink.port}`,
      timers: { t1: 10, t2: 40, timerC: 5000 }, // short timers: a transaction a file repeats ends in ~1.3 s
      access: { trusted: ["127.0.0.1/32"] },
    },
  });
});
after(async () => {
  await srv?.stop();
  client?.close();
  sink?.close();
  dns?.close();
});

/** Traced lines sent by the server since log index `from`, read: [{peer, sip, raw}]. */
function outSince(from) {
  return srv.logs.slice(from).filter((o) => o.msg === "sip" && o.dir === "out")
    .map((o) => ({ peer: o.peer, raw: o.sip, sip: readSip(o.sip) }));
}
const forCall = (cid) => (o) => (cid === null ? !o.sip.h("call-id") : o.sip.h("call-id") === cid);

async function until(pred, ms) {
  const end = Date.now() + ms;
  for (;;) {
    const v = pred();
    if (v || Date.now() > end) return v;
    await sleep(10);
  }
}

/** The To AOR of a REGISTER (name-addr or bare addr-spec). */
function aorOf(to) {
  const lt = to.indexOf("<");
  if (lt >= 0) return to.slice(lt + 1, to.indexOf(">", lt));
  return to.split(";")[0].trim();
}

async function deregister(aor, c = client) {
  const n = ++seq;
  const callId = `dereg-${process.pid}-${n}`;
  const from = c.msgs.length;
  await c.send(registerMsg({ client: c, aor, ruri: "sip:example.com", contact: "*", expires: 0, callId, branch: `dereg${n}` }), srv.port);
  const r = await c.waitFor((m) => m.sip.h("call-id") === callId && m.sip.status >= 200, 1500, from);
  assert.equal(r?.sip.status, 200, `de-registration of ${aor} (Contact: *)`);
}

async function healthy(what) {
  const st = await probe(client, srv.port, 1000);
  assert.equal(st, 200, `after ${what}: OPTIONS to the proxy answered 200 within 1 s (server exit: ${srv.child.exitCode}, stderr: ${srv.stderr.slice(0, 500)})`);
}

/** The server transaction key a message carries: top Via (sent-by, branch), Call-ID, CSeq method. */
const sentKeys = new Set();
function txnKey(bytes) {
  const m = readSip(bytes);
  return `${m.h("via")}|${m.h("call-id")}|${m.cseqMethod()}`;
}

/** Waits (bounded) until the server holds no transaction. */
async function idle() {
  for (let i = 0; i < 40; i++) {
    if ((await readStats(srv)).txnInUse === 0) return;
    await sleep(100);
  }
  assert.fail("the server still holds transactions 4 s on");
}

test("every corpus file has an expectation", () => {
  assert.deepEqual(files.map((f) => f.name).sort(), Object.keys(EXPECT).sort());
});

for (const f of files) {
  const e = EXPECT[f.name];
  const name = f.name.split("/").pop().replace(/\.sip$/, "");
  test(name, async () => {
    assert.ok(e, `no expectation for ${f.name}`);
    const cid = callIdOf(f.bytes);
    // Some RFC 5118 files repeat an earlier file's transaction byte for byte (top Via with its branch,
    // Call-ID, CSeq method): while the earlier transaction lives, a proxy must absorb the repeat as a
    // retransmission. So such a file waits until the server holds no transaction; and since a request
    // forwarded for an earlier file is retransmitted to the silent sink for a while, its copies (a top
    // Via, our branch, seen before this file) do not count as this file's.
    const key = txnKey(f.bytes);
    if (sentKeys.has(key)) await idle();
    sentKeys.add(key);
    const earlier = new Set(outSince(0).filter((o) => o.sip.isRequest).map((o) => o.sip.h("via")));
    const from = srv.logs.length;
    await client.send(f.bytes, srv.port);
    const mine = () => outSince(from).filter(forCall(cid));
    const finals = () => mine().filter((o) => !o.sip.isRequest && o.sip.status >= 200);
    const requests = () => mine().filter((o) => o.sip.isRequest && !earlier.has(o.sip.h("via")));
    const trace = () => outSince(from).map((o) => `${o.peer} ${o.sip.first}`).join("\n");

    if (e.status) {
      const r = await until(() => finals().find((o) => o.sip.status === e.status), 1500);
      assert.ok(r, `${f.name}: expected ${e.status}; the server sent:\n${trace()}`);
      const other = finals().filter((o) => o.sip.status !== e.status);
      assert.deepEqual(other.map((o) => o.sip.first), [], "no other final answer");
      assert.deepEqual(requests().map((o) => o.sip.first), [], "nothing forwarded");
      e.check?.(r.sip);
      if (e.register) {
        const contacts = r.sip.all("contact").flatMap((v) => v.split(/,(?=\s*<)/)).map((s) => s.trim());
        if (e.register.contacts) assert.equal(contacts.length, e.register.contacts, `bindings returned: ${contacts}`);
        e.register.check?.(contacts);
        await deregister(aorOf(readSip(f.bytes).h("to")));
      }
      if (e.notForwarded) {
        await sleep(100);
        assert.deepEqual(outSince(from).filter((o) => o.sip.h("call-id") === e.notForwarded).map((o) => o.sip.first), [],
          "the trailing octets are never acted on");
      }
    } else if (e.drop) {
      await sleep(300);
      assert.deepEqual(mine().map((o) => `${o.peer} ${o.sip.first}`), [], `${f.name}: nothing sent`);
    } else if (e.forward) {
      // a forward to a host name (our DNS server answers NXDOMAIN) ends in the host's "cannot resolve" line
      const unresolved = () => typeof e.forward === "string" &&
        srv.logs.slice(from).find((o) => o.msg === "cannot resolve destination; dropped" && o.name === e.forward);
      const r = await until(() => requests()[0] ?? unresolved(), 1500);
      assert.ok(r, `${f.name}: expected to be forwarded; the server sent:\n${trace()}`);
      const method = f.bytes.toString("latin1").split(" ")[0];
      if (r.sip) assert.equal(r.sip.method, method, "the same method goes on");
      await sleep(150);
      const own = finals().filter((o) => o.sip.status !== 408);
      assert.deepEqual(own.map((o) => o.sip.first), [], "no final answer of the proxy's own within the window");
      if (method === "INVITE") assert.ok(mine().some((o) => o.sip.status === 100), "INVITE: 100 Trying");
    } else if (e.any) {
      const r = await until(() => mine()[0], 1500);
      assert.ok(r, `${f.name}: some reaction expected; the server sent:\n${trace()}`);
    }
    await healthy(f.name);
  });
}

// ---- bcast, made meaningful ----------------------------------------------------------------------
// As published, bcast's top Via is not ours, so it is dropped before anyone looks at the broadcast
// Via. To reach the rule, the same kind of 200 must carry a branch the proxy made: carol registers
// at a socket of this test (the UAS), a call to her is forwarded there and answered 200; once the
// proxy's transactions are gone (Timer M/L = 64*T1 = 3.2 s here), the UAS sends that 200 again
// with the caller's Via replaced by bcast's "Via: SIP/2.0/UDP 255.255.255.255". A 2xx with no
// transaction is forwarded statelessly to the next Via (RFC 3261 §16.7, RFC 6026): for this one
// nothing may be sent. The control (the untouched 200, same moment) shows the path is live.

test("bcast with a branch of ours: a 200 whose next Via is 255.255.255.255 is dropped, never forwarded", async () => {
  const uas = await udpClient();
  try {
    const n = ++seq;
    // registered FROM the UAS socket: the registrar records the source (RFC 3581) and sends there
    const reg = registerMsg({ client: uas, aor: "sip:carol@127.0.0.1", ruri: "sip:127.0.0.1", contact: `<sip:carol@127.0.0.1:${uas.port}>`,
      expires: 300, callId: `carol-reg-${n}`, branch: `carolreg${n}` });
    await uas.send(reg, srv.port);
    assert.equal((await uas.waitFor((m) => m.sip.h("call-id") === `carol-reg-${n}` && m.sip.status >= 200, 1500))?.sip.status, 200);
    let from = client.msgs.length;
    const cid = `bcast-live-${process.pid}-${n}`;
    from = client.msgs.length;
    await client.send(Buffer.from(`INVITE sip:carol@127.0.0.1:${srv.port} SIP/2.0\r\n` +
      `Via: SIP/2.0/UDP 127.0.0.1:${client.port};rport;branch=z9hG4bKbcastinv${n}\r\nMax-Forwards: 70\r\n` +
      `From: <sip:user@example.com>;tag=11141343\r\nTo: <sip:carol@127.0.0.1>\r\nCall-ID: ${cid}\r\nCSeq: 35 INVITE\r\n` +
      `Contact: <sip:user@127.0.0.1:${client.port}>\r\nContent-Length: 0\r\n\r\n`, "latin1"), srv.port);
    const inv = await uas.waitFor((m) => m.sip.method === "INVITE" && m.sip.h("call-id") === cid, 1500);
    assert.ok(inv, `the INVITE reaches carol; the server sent:\n${outSince(0).filter((o) => o.sip.h("call-id") === cid || o.sip.h("call-id")?.startsWith("carol")).map((o) => `${o.peer} ${o.sip.first}`).join("\n")}`);
    const vias = inv.buf.toString("latin1").split("\r\n").filter((l) => /^(via|v)\s*:/i.test(l));
    assert.equal(vias.length, 2, `the proxy's Via, then the caller's: ${vias}`);
    const lines = inv.buf.toString("latin1").split("\r\n");
    const pick = (re) => lines.filter((l) => re.test(l));
    const ok200 = (secondVia) => Buffer.from(["SIP/2.0 200 OK", vias[0], secondVia,
      ...pick(/^(from|f)\s*:/i), ...pick(/^(to|t)\s*:/i).map((l) => `${l};tag=2229`), ...pick(/^(call-id|i)\s*:/i),
      ...pick(/^cseq\s*:/i), `Contact: <sip:carol@127.0.0.1:${uas.port}>`, "Content-Length: 0", "", ""].join("\r\n"), "latin1");
    await uas.send(ok200(vias[1]), inv.rinfo.port);
    assert.ok(await client.waitFor((m) => m.sip.h("call-id") === cid && m.sip.status === 200, 1500, from), "the caller gets the 200");
    await sleep(3600); // the proxy's INVITE transactions end (64*T1)
    const mark = srv.logs.length;
    await uas.send(ok200("Via: SIP/2.0/UDP 255.255.255.255;branch=z9hG4bK1saber23"), inv.rinfo.port);
    await sleep(300);
    const sent = outSince(mark).filter(forCall(cid));
    assert.deepEqual(sent.map((o) => `${o.peer} ${o.sip.first}`), [], "the broadcast 200 is never forwarded");
    assert.deepEqual(srv.logs.slice(mark).filter((o) => JSON.stringify(o).includes("255.255.255.255") && o.msg !== "sip"), [],
      "no send attempt to the broadcast address");
    // control: the untouched 200 takes the same stateless path and reaches the caller
    from = client.msgs.length;
    await uas.send(ok200(vias[1]), inv.rinfo.port);
    assert.ok(await client.waitFor((m) => m.sip.h("call-id") === cid && m.sip.status === 200, 1000, from),
      "control: the same 200 with the caller's Via is forwarded statelessly (so the drop above is the broadcast rule)");
    await deregister("sip:carol@127.0.0.1", uas);
    await healthy("bcast (live branch)");
  } finally {
    uas.close();
  }
});

// ---- clerr over TCP: an incomplete message, not an error --------------------------------------

test("clerr over TCP: no answer, the connection stays open, the message completes later", async () => {
  const bytes = readFileSync(join(corpusDir, "rfc4475/3.1.2.2_clerr.sip"));
  const cid = callIdOf(bytes);
  const sock = connect(srv.port, "127.0.0.1");
  await new Promise((r, j) => { sock.once("connect", r); sock.once("error", j); });
  let got = "";
  let closed = false;
  sock.on("data", (d) => { got += d.toString("latin1"); });
  sock.on("close", () => { closed = true; });
  sock.on("error", () => {});
  const from = srv.logs.length;
  sock.write(bytes);
  await sleep(500);
  assert.equal(got, "", "no response to an incomplete message on a stream");
  assert.equal(closed, false, "the connection is still open");
  assert.deepEqual(outSince(from).filter(forCall(cid)).map((o) => o.sip.first), [], "nothing sent for it yet");
  // Content-Length says 9999: send the rest, then the message is whole and handled (INVITE to an
  // unregistered user of ours: 480) ...
  const body = bytes.length - (bytes.indexOf("\r\n\r\n") + 4);
  sock.write(Buffer.alloc(9999 - body, 0x78));
  const r = await until(() => outSince(from).filter(forCall(cid)).find((o) => o.sip.status >= 200), 1500);
  assert.equal(r?.sip.status, 480, `the completed message is handled:\n${outSince(from).map((o) => o.sip.first).join("\n")}`);
  // ... and the same connection frames the next message correctly.
  const n = ++seq;
  sock.write(`OPTIONS sip:127.0.0.1:${srv.port} SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:${sock.localPort};branch=z9hG4bKtcp${n}\r\n` +
    `Max-Forwards: 70\r\nFrom: <sip:t@127.0.0.1>;tag=t${n}\r\nTo: <sip:127.0.0.1:${srv.port}>\r\nCall-ID: tcp-after-clerr-${n}\r\n` +
    `CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n`);
  const ok = await until(() => /^SIP\/2\.0 200 [^\r]*\r\n[\s\S]*tcp-after-clerr-/m.test(got), 1000);
  assert.ok(ok, `OPTIONS on the same connection answered 200; got: ${JSON.stringify(got.slice(0, 300))}`);
  assert.equal(closed, false);
  sock.destroy();
  await healthy("clerr over TCP");
});

test("the server survived the corpus (process alive, counters sane)", async () => {
  assert.equal(srv.child.exitCode, null, "server still running");
  const s = await readStats(srv);
  assert.ok(s.received >= files.length, `received ${s.received}`);
  assert.ok(s.refused > 0, "parse refusals were counted");
  assert.equal(s.bindingsInUse, 0, "every registration undone");
});
