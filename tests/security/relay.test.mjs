// Never relay for strangers: what a stranger may do, against the real server on loopback. Every
// refusal is checked twice: the answer the stranger gets, and silence at the loopback sinks where a
// wrongly relayed request would land (127.0.0.9, which is also the outbound proxy, and a port of
// 127.0.0.1 that is not ours). Positive controls prove the sinks can see a relayed request: a trusted
// source and an authenticated local user may relay, and a real call's in-dialog requests, proven by
// the dialog MAC of our Record-Route, are routed.
//
//   127.0.0.1   the server (domains localhost, 127.0.0.1), and a sink on another port
//   127.0.0.3   bob's phones (registered with digest)
//   127.0.0.4   a trusted peer (access.trusted)
//   127.0.0.5   mallory, the stranger
//   127.0.0.6   alice, a local user
//   127.0.0.9   the sink and outbound proxy
//
// Runs against every host with a security configuration (HOSTS of tests/integration/harness.mjs).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { startServer, freePort, HOSTS } from "../integration/harness.mjs";
import { Ua, Sink, request, response, hdrs, status, firstLine, challenges, authorization, registerDigest, token } from "../lib/sipua.mjs";

const REALM = "sipling.test";
const PW = { alice: "alice-Relay-pw-1", bob: "bob-Relay-pw-2" };


/**
 * Waits, then asserts that no sink received anything of Call-ID `callId` since `marks` (earlier tests'
 * relayed INVITEs are retransmitted to the sinks until their Timer B: they are not this request's).
 */
async function nothingRelayed(sinks, marks, what, callId) {
  await sleep(300);
  for (const [i, s] of sinks.entries()) {
    const got = s.received.slice(marks[i]).filter((m) => hdrs(m.text, "Call-ID")[0] === callId).map((m) => `${m.from} ${firstLine(m.text)}`);
    assert.deepEqual(got, [], `${what}: nothing may reach the sink at ${s.address}:${s.port}`);
  }
}

for (const host of HOSTS) {
  let srv, sinkFar, sinkNear, mallory, alice, trusted;
  const sinks = () => [sinkFar, sinkNear];
  const marks = () => sinks().map((s) => s.received.length);
  const ours = () => `127.0.0.1:${srv.port}`;

  /** Sends `o` as mallory (or `ua`) and asserts the final answer `code` and silence at the sinks. */
  async function refused(o, code, { ua = mallory, what = `${o.method ?? "INVITE"} ${o.ruri}` } = {}) {
    const m = marks();
    const text = request(ua, o);
    const r = await ua.request(srv, text);
    assert.ok(r, `${what}: a final answer`);
    assert.equal(status(r), code, `${what}: ${firstLine(r)}`);
    await nothingRelayed(sinks(), m, what, hdrs(text, "Call-ID")[0]);
    return r;
  }

  /** Removes every binding of `user` (Contact: *, Expires: 0), so the next test starts clean. */
  async function deregisterAll(ua, user) {
    const r = await registerDigest(srv, ua, { user, pass: PW[user], realm: REALM, contact: "*", expires: 0 });
    assert.equal(status(r), 200, `de-registering ${user}: ${firstLine(r)}`);
  }

  /** Registers `ua` as `user` with digest (contact = the ua's own address, q optional). */
  async function registerAs(ua, user, q) {
    const r = await registerDigest(srv, ua, { user, pass: PW[user], realm: REALM, q });
    assert.equal(status(r), 200, `REGISTER ${user}: ${firstLine(r)}`);
  }

  before(async () => {
    sinkFar = await Sink.open("127.0.0.9");
    sinkNear = await Sink.open("127.0.0.1");
    mallory = await Ua.open("127.0.0.5");
    alice = await Ua.open("127.0.0.6");
    trusted = await Ua.open("127.0.0.4");
    srv = await startServer({
      host,
      config: {
        realm: REALM,
        users: [{ username: "alice", password: PW.alice }, { username: "bob", password: PW.bob }],
        access: { trusted: ["127.0.0.4/32"] },
        outboundProxy: `sip:127.0.0.9:${sinkFar.port}`,
        timers: { t1: 100 },
      },
    });
  });
  after(async () => {
    await srv?.stop();
    for (const x of [sinkFar, sinkNear, mallory, alice, trusted]) x?.close();
  });

  // ---- relaying: a Request-URI that is not ours -------------------------------------------------

  test(`${host}: a stranger's INVITE to another domain (or an address) is refused 403, nothing relayed`, async () => {
    const from = "sip:mallory@evil.test";
    await refused({ ruri: `sip:victim@127.0.0.9:${sinkFar.port}`, from }, 403);
    await refused({ ruri: "sip:victim@evil.test", from }, 403, { what: "INVITE to a name (would go to the outbound proxy)" });
    await refused({ ruri: "sip:victim@EVIL.TEST", from }, 403, { what: "mixed case" });
    await refused({ ruri: "sip:victim@evil%2etest", from }, 400, { what: "a percent-escaped host (not a host: refused as malformed)" });
    await refused({ ruri: "sip:victim@127.0.0.%31", from }, 400, { what: "a percent-escaped address of ours" });
    await refused({ ruri: `sip:victim@127.0.0.1:${sinkNear.port}`, from }, 403, { what: "an IP literal of our listener with another port" });
    await refused({ ruri: `sips:victim@127.0.0.9:${sinkFar.port}`, from }, 403, { what: "sips:" });
    await refused({ ruri: "tel:+15551234567", from, to: "tel:+15551234567" }, 403, { what: "tel:" });
    for (const method of ["OPTIONS", "MESSAGE", "SUBSCRIBE", "REFER", "NOTIFY", "PUBLISH", "INFO", "UPDATE"]) {
      await refused({ method, ruri: `sip:victim@127.0.0.9:${sinkFar.port}`, from, extra: method === "SUBSCRIBE" || method === "NOTIFY" ? ["Event: presence"] : [] }, 403);
    }
    await refused({ method: "REGISTER", ruri: "sip:evil.test", from: "sip:x@evil.test", to: "sip:x@evil.test" }, 403, { what: "REGISTER for another domain" });
  });

  test(`${host}: a stranger claiming our domain in From is challenged (407), then refused on a wrong password; nothing relayed`, async () => {
    const o = { ruri: `sip:victim@127.0.0.9:${sinkFar.port}`, from: "sip:alice@127.0.0.1" };
    await refused(o, 407);
    await refused({ ...o, from: "sip:alice@LOCALHOST" }, 407, { what: "From in our domain, mixed case" });
    await refused({ ...o, from: "sip:alice@localhost." }, 407, { what: "From in our domain, trailing dot" });
    await refused({ ...o, from: "sip:%61lice@127.0.0.1" }, 407, { what: "From in our domain, escaped user" });
    const m = marks();
    const r1 = await mallory.request(srv, request(mallory, o));
    const c = challenges(r1, "Proxy-Authenticate")[0];
    const auth = authorization({ user: "alice", pass: "guess", realm: REALM, nonce: c.nonce, uri: o.ruri, method: "INVITE" });
    const again = request(mallory, { ...o, cseq: 2, extra: [`Proxy-Authorization: ${auth}`] });
    const r2 = await mallory.request(srv, again);
    assert.equal(status(r2), 407, `wrong password: challenged again (${firstLine(r2)})`);
    await nothingRelayed(sinks(), m, "wrong password", hdrs(again, "Call-ID")[0]);
  });

  test(`${host}: Route headers do not open a relay: preloaded foreign Route, our address then a foreign one`, async () => {
    const from = "sip:mallory@evil.test";
    // for one of our users, but the Route says elsewhere: a relay
    await refused({ ruri: "sip:bob@127.0.0.1", from, route: [`<sip:127.0.0.9:${sinkFar.port};lr>`] }, 403, { what: "preloaded foreign Route" });
    await refused({ ruri: "sip:bob@127.0.0.1", from, route: [`<sip:${ours()};lr>`, `<sip:127.0.0.9:${sinkFar.port};lr>`] }, 403,
      { what: "our Route, then a foreign one" });
    await refused({ ruri: `sip:victim@127.0.0.9:${sinkFar.port}`, from, route: [`<sip:${ours()};lr>`] }, 403, { what: "our Route, foreign Request-URI" });
    await refused({ ruri: `sip:victim@127.0.0.9:${sinkFar.port}`, from, route: [`<sip:ft00000001@${ours()};transport=tcp;lr>`] }, 403,
      { what: "a forged flow token" });
  });

  // ---- in-dialog: a To tag proves nothing ---------------------------------------------------------

  test(`${host}: forged in-dialog requests (To tag, with or without our Route, a bad MAC) are refused; an ACK is dropped`, async () => {
    const ruri = `sip:victim@127.0.0.9:${sinkFar.port}`;
    const base = { ruri, from: "sip:mallory@evil.test", toTag: "abc" };
    await refused(base, 404, { what: "made-up To tag" });
    await refused({ ...base, route: [`<sip:${ours()};lr>`] }, 404, { what: "To tag + our Route without a MAC" });
    await refused({ ...base, route: [`<sip:${ours()};lr;dlg=0123456789abcdef>`] }, 404, { what: "To tag + our Route with a forged MAC" });
    await refused({ ...base, method: "BYE" }, 404, { what: "BYE" });
    await refused({ ...base, method: "PRACK", extra: ["RAck: 1 1 INVITE"] }, 404, { what: "PRACK" });
    await refused({ ...base, from: "sip:alice@127.0.0.1" }, 407, { what: "made-up To tag, From our domain (must authenticate)" });
    await refused({ ...base, ruri: `sip:victim@127.0.0.1:${sinkNear.port}` }, 404, { what: "our address, another port" });
    // an ACK is never answered: it is dropped
    for (const route of [[`<sip:${ours()};lr>`], []]) {
      const m = marks();
      const ack = request(mallory, { ...base, method: "ACK", route });
      mallory.send(ack, srv.port);
      await nothingRelayed(sinks(), m, `forged ACK (Route ${JSON.stringify(route)})`, hdrs(ack, "Call-ID")[0]);
    }
  });

  test(`${host}: CANCEL from another source than the INVITE's is refused (481), the call goes on`, async () => {
    const bob = await Ua.open("127.0.0.3");
    try {
      await registerAs(bob, "bob");
      // mallory (a stranger) may call bob: an incoming call to a registered user
      const callId = token("cx");
      const inv = request(mallory, { ruri: "sip:bob@127.0.0.1", from: "sip:mallory@evil.test", callId, branch: "z9hG4bK-cx-1" });
      mallory.send(inv, srv.port);
      const atBob = await bob.waitFor((t) => /^INVITE /.test(t) && hdrs(t, "Call-ID")[0] === callId, 2000);
      assert.ok(atBob, "the stranger's call reaches bob (registered)");
      bob.send(response(atBob, 180, "Ringing", { toTag: "bobtag" }), srv.port);
      // a CANCEL for that INVITE from another address (same branch, Call-ID, CSeq): 481
      const eve = await Ua.open("127.0.0.7");
      try {
        const cancel = request(eve, { method: "CANCEL", ruri: "sip:bob@127.0.0.1", from: "sip:mallory@evil.test", callId, branch: "z9hG4bK-cx-1" });
        const fixed = cancel.replace(/^Via: [^\r]*/m, hdrs(inv, "Via")[0] ? `Via: ${hdrs(inv, "Via")[0]}` : "");
        const r = await eve.request(srv, fixed);
        assert.equal(status(r), 481, `a CANCEL from elsewhere: ${firstLine(r)}`);
      } finally { eve.close(); }
      assert.equal(await bob.waitFor((t) => /^CANCEL /.test(t), 300), null, "bob gets no CANCEL");
      // the caller's own CANCEL works
      const mine = request(mallory, { method: "CANCEL", ruri: "sip:bob@127.0.0.1", from: "sip:mallory@evil.test", callId, branch: "z9hG4bK-cx-1" })
        .replace(/^Via: [^\r]*/m, `Via: ${hdrs(inv, "Via")[0]}`).replace(/^From: [^\r]*/m, `From: ${hdrs(inv, "From")[0]}`);
      const ok = await mallory.request(srv, mine);
      assert.equal(status(ok), 200, `the caller's CANCEL: ${firstLine(ok)}`);
      assert.ok(await bob.waitFor((t) => /^CANCEL /.test(t), 2000), "bob gets the caller's CANCEL");
      await deregisterAll(bob, "bob");
    } finally { bob.close(); }
  });

  // ---- responses: a stranger cannot steer where ours go ----------------------------------------------

  test(`${host}: a forged 2xx with a branch of our shape is not forwarded to its next Via; a Via maddr is not followed`, { timeout: 30_000 }, async () => {
    // a 200 OK "for" an INVITE of ours that never was: top Via names us with a well-formed stateful
    // branch, the next Via names the sink
    const m = marks();
    const callId = token("f2xx");
    const forged = [
      "SIP/2.0 200 OK",
      `Via: SIP/2.0/UDP ${ours()};branch=z9hG4bKsL00010001deadbeef0badc0de`,
      `Via: SIP/2.0/UDP 127.0.0.9:${sinkFar.port};branch=z9hG4bK-victim`,
      "From: <sip:a@elsewhere.test>;tag=1", "To: <sip:b@elsewhere.test>;tag=2", `Call-ID: ${callId}`, "CSeq: 1 INVITE",
      "Content-Length: 0", "", ""].join("\r\n");
    mallory.send(forged, srv.port);
    await nothingRelayed(sinks(), m, "a forged 2xx", callId);
    // a call to a registered user whose Via asks for maddr=the sink, answered 200: once the client
    // transaction is gone (Timer M, 64·T1 = 6.4 s here), a retransmitted 200 is forwarded statelessly
    // by the next Via — to where the INVITE came from, not to its maddr
    const bob = await Ua.open("127.0.0.3");
    try {
      await registerAs(bob, "bob");
      const id = token("maddr");
      const inv = request(mallory, { ruri: "sip:bob@127.0.0.1", from: "sip:mallory@evil.test", callId: id })
        .replace(/^(Via: [^\r]*)/m, "$1;maddr=127.0.0.9");
      mallory.send(inv, srv.port);
      const atBob = await bob.waitFor((t) => /^INVITE /.test(t) && hdrs(t, "Call-ID")[0] === id, 2000);
      assert.ok(atBob, "the call reaches bob");
      const ok = response(atBob, 200, "OK", { toTag: "bm", extra: [`Contact: <sip:bob@127.0.0.3:${bob.port}>`] });
      bob.send(ok, srv.port);
      assert.ok(await mallory.waitFor((t) => status(t) === 200 && hdrs(t, "Call-ID")[0] === id, 2000), "the 200 reaches the caller");
      await sleep(7000);
      const m2 = marks();
      bob.send(ok, srv.port); // the UAS retransmits: the caller never ACKed
      assert.ok(await mallory.waitFor((t) => status(t) === 200 && hdrs(t, "Call-ID")[0] === id, 2000),
        "the retransmitted 200 goes back where the INVITE came from");
      await nothingRelayed(sinks(), m2, "a Via maddr", id);
      await deregisterAll(bob, "bob");
    } finally { bob.close(); }
  });

  // ---- what strangers may do: reach our registered users ----------------------------------------

  test(`${host}: a stranger may call a registered user; an unknown or unregistered user looks the same (480)`, async () => {
    const from = "sip:mallory@evil.test";
    await refused({ ruri: "sip:nobody@127.0.0.1", from }, 480, { what: "unknown user" });
    await refused({ ruri: "sip:alice@127.0.0.1", from }, 480, { what: "a configured user who is not registered" });
    // nothing but a call: an OPTIONS or MESSAGE to a user would tell a scanner who is registered
    await refused({ method: "OPTIONS", ruri: "sip:nobody@127.0.0.1", from }, 403, { what: "OPTIONS to an unknown user" });
    await refused({ method: "OPTIONS", ruri: "sip:alice@127.0.0.1", from }, 403, { what: "OPTIONS to a configured user" });
    await refused({ method: "MESSAGE", ruri: "sip:alice@127.0.0.1", from, body: "hi", extra: ["Content-Type: text/plain"] }, 403, { what: "MESSAGE to a user" });
    await refused({ method: "MESSAGE", ruri: "sip:127.0.0.1", from, body: "hi", extra: ["Content-Type: text/plain"] }, 403, { what: "the server itself, not OPTIONS" });
    const r = await mallory.request(srv, request(mallory, { method: "OPTIONS", ruri: "sip:127.0.0.1", from }));
    assert.equal(status(r), 200, "OPTIONS to the server itself is answered (keepalive), even from a stranger");
  });

  // ---- positive controls: the sinks can see a relay ------------------------------------------------

  test(`${host}: a trusted source relays (the sink sees the INVITE)`, async () => {
    const callId = token("tr");
    trusted.send(request(trusted, { ruri: `sip:victim@127.0.0.9:${sinkFar.port}`, from: "sip:carrier@192.0.2.1", callId }), srv.port);
    const got = await sinkFar.ua.waitFor((t) => /^INVITE /.test(t) && hdrs(t, "Call-ID")[0] === callId, 2000);
    assert.ok(got, "relayed for the trusted source");
  });

  test(`${host}: an authenticated local user relays, without our credentials or Route values in what goes on`, async () => {
    const callId = token("al");
    const o = { ruri: "sip:friend@other.test", from: "sip:alice@127.0.0.1", callId, route: [`<sip:${ours()};lr>`] };
    const r1 = await alice.request(srv, request(alice, o));
    assert.equal(status(r1), 407);
    alice.send(request(alice, o).replace(/\r\n\r\n$/, "\r\n\r\n"), srv.port); // a retransmission of the first, absorbed or answered alike
    const c = challenges(r1, "Proxy-Authenticate")[0];
    const auth = authorization({ user: "alice", pass: PW.alice, realm: REALM, nonce: c.nonce, uri: o.ruri, method: "INVITE" });
    alice.send(request(alice, { ...o, cseq: 2, extra: [`Proxy-Authorization: ${auth}`] }), srv.port);
    const got = await sinkFar.ua.waitFor((t) => /^INVITE /.test(t) && hdrs(t, "Call-ID")[0] === callId, 2000);
    assert.ok(got, "relayed to the outbound proxy for alice");
    assert.deepEqual(hdrs(got, "Proxy-Authorization"), [], "our credentials stay with us");
    assert.deepEqual(hdrs(got, "Route"), [], "our own Route value is not forwarded");
    assert.match(hdrs(got, "Record-Route")[0] ?? "", /;dlg=[0-9a-f]{16}>$/, "our Record-Route carries the dialog MAC");
  });

  // ---- a real call: its in-dialog requests are proven; a copied Record-Route proves nothing else ---

  test(`${host}: a real call's ACK, re-INVITE and BYE are routed by the proven Record-Route; the same Route on another Call-ID is refused`, async () => {
    // requests toward another domain would take the outbound proxy (the sink): this call's in-dialog
    // requests name bob's contact (127.0.0.3), so the check uses a server without one
    const main = srv;
    srv = await startServer({ host, config: { realm: REALM, users: [{ username: "bob", password: PW.bob }] } });
    const bob = await Ua.open("127.0.0.3");
    try {
      await registerAs(bob, "bob");
      const callId = token("call");
      const fromTag = "mtag1";
      const from = "sip:mallory@evil.test";
      const inv = request(mallory, { ruri: "sip:bob@127.0.0.1", from, fromTag, callId, contact: `<sip:m@127.0.0.5:${mallory.port}>` });
      mallory.send(inv, srv.port);
      const atBob = await bob.waitFor((t) => /^INVITE /.test(t) && hdrs(t, "Call-ID")[0] === callId, 2000);
      assert.ok(atBob, "the call reaches bob");
      const rr = hdrs(atBob, "Record-Route")[0];
      assert.match(rr, /;lr;dlg=[0-9a-f]{16}>$/, "our Record-Route with the dialog MAC");
      bob.send(response(atBob, 200, "OK", { toTag: "btag1", extra: [`Contact: <sip:bob@127.0.0.3:${bob.port}>`] }), srv.port);
      const ok = await mallory.waitFor((t) => status(t) === 200 && hdrs(t, "Call-ID")[0] === callId, 2000);
      assert.ok(ok, "the 200 reaches the caller");
      const route = hdrs(ok, "Record-Route");
      assert.deepEqual(route, [rr], "the caller learns the same route set");
      const dialog = { from, fromTag, to: "sip:bob@127.0.0.1", toTag: "btag1", callId, route, ruri: `sip:bob@127.0.0.3:${bob.port}` };
      mallory.send(request(mallory, { ...dialog, method: "ACK" }), srv.port);
      assert.ok(await bob.waitFor((t) => /^ACK /.test(t), 2000), "the ACK is routed to bob");
      // a re-INVITE in the dialog: proven, routed
      mallory.send(request(mallory, { ...dialog, cseq: 2 }), srv.port);
      const re = await bob.waitFor((t) => /^INVITE /.test(t) && hdrs(t, "CSeq")[0] === "2 INVITE", 2000);
      assert.ok(re, "the re-INVITE is routed to bob");
      bob.send(response(re, 200, "OK"), srv.port);
      // the same (valid) Route copied onto another dialog proves nothing
      await refused({ ...dialog, callId: token("other"), ruri: `sip:victim@127.0.0.9:${sinkFar.port}`, cseq: 3 }, 404,
        { what: "a Record-Route of another dialog" });
      // the callee's side: bob's BYE (From = bob's tag) is proven by the same MAC and reaches mallory
      bob.send(request(bob, { method: "BYE", ruri: `sip:m@127.0.0.5:${mallory.port}`, from: "sip:bob@127.0.0.1", fromTag: "btag1",
        to: from, toTag: fromTag, callId, cseq: 1, route: [rr] }), srv.port);
      assert.ok(await mallory.waitFor((t) => /^BYE /.test(t) && hdrs(t, "Call-ID")[0] === callId, 2000), "bob's BYE reaches the caller");
    } finally {
      bob.close();
      await srv.stop();
      srv = main;
    }
  });

  // ---- forking: the caller's credentials reach no branch, not even a later q-value group -------------

  test(`${host}: serial forking: neither q-value group gets the caller's credentials or our Route`, async () => {
    const b1 = await Ua.open("127.0.0.3"), b2 = await Ua.open("127.0.0.3");
    try {
      await registerAs(b1, "bob", "1.0");
      await registerAs(b2, "bob", "0.5");
      const callId = token("fork");
      const o = { ruri: "sip:bob@127.0.0.1", from: "sip:alice@127.0.0.1", callId, route: [`<sip:${ours()};lr>`] };
      const r1 = await alice.request(srv, request(alice, o));
      assert.equal(status(r1), 407);
      const c = challenges(r1, "Proxy-Authenticate")[0];
      const auth = authorization({ user: "alice", pass: PW.alice, realm: REALM, nonce: c.nonce, uri: o.ruri, method: "INVITE" });
      alice.send(request(alice, { ...o, cseq: 2, extra: [`Proxy-Authorization: ${auth}`, "Proxy-Authorization: Digest username=\"alice\", realm=\"elsewhere.test\", nonce=\"n\", uri=\"sip:x\", response=\"00\""] }), srv.port);
      const first = await b1.waitFor((t) => /^INVITE /.test(t) && hdrs(t, "Call-ID")[0] === callId, 2000);
      assert.ok(first, "the q=1.0 contact gets the first branch");
      b1.send(response(first, 486, "Busy Here", { toTag: "b1" }), srv.port);
      const second = await b2.waitFor((t) => /^INVITE /.test(t) && hdrs(t, "Call-ID")[0] === callId, 3000);
      assert.ok(second, "the q=0.5 contact gets the second group, after the first failed");
      for (const [name, m] of [["first group", first], ["second group", second]]) {
        const pa = hdrs(m, "Proxy-Authorization");
        assert.equal(pa.length, 1, `${name}: only the credentials for another realm go on (${JSON.stringify(pa)})`);
        assert.match(pa[0], /realm="elsewhere\.test"/, `${name}: not ours`);
        assert.deepEqual(hdrs(m, "Route"), [], `${name}: our Route value is not forwarded`);
        assert.match(hdrs(m, "Record-Route")[0] ?? "", /;dlg=[0-9a-f]{16}>$/, `${name}: our Record-Route`);
      }
      b2.send(response(second, 486, "Busy Here", { toTag: "b2" }), srv.port);
      await deregisterAll(b1, "bob");
    } finally { b1.close(); b2.close(); }
  });
}

// ---- without users: nobody authenticates, so nobody but a trusted source relays -----------------

for (const host of HOSTS) test(`${host}: no users configured: a request for another domain is refused 403, calls to registered users work`, async () => {
  const sink = await Sink.open("127.0.0.9");
  const ua = await Ua.open("127.0.0.5");
  const reg = await Ua.open("127.0.0.3");
  const srv = await startServer({ host, config: { outboundProxy: `sip:127.0.0.9:${sink.port}` } });
  try {
    const r = await ua.request(srv, request(ua, { ruri: "sip:victim@evil.test", from: "sip:me@127.0.0.1" }));
    assert.equal(status(r), 403, `relay without users: ${firstLine(r)}`);
    const r2 = await ua.request(srv, request(ua, { ruri: `sip:victim@127.0.0.9:${sink.port}`, from: "sip:me@127.0.0.1", toTag: "x" }));
    assert.equal(status(r2), 404, `forged in-dialog without users: ${firstLine(r2)}`);
    // registering needs no credentials here, and a call to the registered user goes through
    const o = { method: "REGISTER", ruri: "sip:127.0.0.1", from: "sip:carol@127.0.0.1", to: "sip:carol@127.0.0.1", contact: `<sip:carol@127.0.0.3:${reg.port}>` };
    assert.equal(status(await reg.request(srv, request(reg, o))), 200);
    const callId = token("nu");
    ua.send(request(ua, { ruri: "sip:carol@127.0.0.1", from: "sip:me@elsewhere.test", callId }), srv.port);
    assert.ok(await reg.waitFor((t) => /^INVITE /.test(t) && hdrs(t, "Call-ID")[0] === callId, 2000), "the call reaches carol");
    await sleep(200);
    assert.deepEqual(sink.lines(), [], "nothing reached the sink");
  } finally {
    await srv.stop();
    sink.close(); ua.close(); reg.close();
  }
});
