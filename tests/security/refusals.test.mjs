// Every policy refusal end to end against the running server: the status the client gets (or
// silence when the policy drops), the policy-refusal event with its rule, and the usage record — and,
// for each, the same request allowed when the rule does not apply, so no assertion holds vacuously.
//
//   methods.block        405 (rule "method")
//   denyUris             403 (rule "request-uri")
//   body.maxBytes        413 (rule "body")
//   body.allowTypes      415 (rule "body")
//   body.messagePatterns 403 (rule "body-pattern")
//   access.deny          403 (rule "acl")
//   access.allow         403 (rule "acl") for a source outside the list
//   access.refuse "drop" no answer at all, event code 0
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { startServer, scratch, HOSTS } from "../integration/harness.mjs";
import { Ua, request, status, firstLine, token } from "../lib/sipua.mjs";


const SDP = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n";

for (const host of HOSTS) {
  let srv, ua, denied, outsider, usageLog;
  const policy = {
    methods: { block: ["SUBSCRIBE"] },
    denyUris: ["blocked@127.0.0.1", "@evil.test"],
    body: { maxBytes: 400, allowTypes: ["INVITE application/sdp", "MESSAGE text/plain"], messagePatterns: ["casino", { hex: "00ff" }] },
    access: { deny: ["127.0.0.8/32"], allow: ["127.0.0.0/30", "127.0.0.8/32"] },
  };

  before(async () => {
    usageLog = scratch(`refusals-${host}.jsonl`, "");
    ua = await Ua.open("127.0.0.1");
    denied = await Ua.open("127.0.0.8");
    outsider = await Ua.open("127.0.0.12");
    srv = await startServer({ host, config: { ...policy, usageLog } });
  });
  after(async () => {
    await srv?.stop();
    for (const x of [ua, denied, outsider]) x?.close();
  });

  /** Sends o from `from` (default ua); asserts the status, the event and its rule; returns the event. */
  async function refusal(o, code, rule, from = ua) {
    const callId = token("pol");
    const r = await from.request(srv, request(from, { ...o, callId }));
    assert.ok(r, `${o.method ?? "INVITE"}: a final answer`);
    assert.equal(status(r), code, `${o.method ?? "INVITE"} ${o.ruri}: ${firstLine(r)}`);
    const ev = await srv.waitFor((l) => l.event === "policy-refusal" && l.callId === callId, 2000, `policy-refusal for ${callId}`);
    assert.equal(ev.rule, rule);
    assert.equal(ev.code, code);
    return ev;
  }

  /** Sends o and asserts it gets past policy (a 480 for an unregistered user of ours, or the status given). */
  async function allowed(o, code = 480, from = ua) {
    const r = await from.request(srv, request(from, { ...o, callId: token("ok") }));
    assert.equal(status(r), code, `${o.method ?? "INVITE"} ${o.ruri} gets past policy: ${firstLine(r)}`);
  }

  const from = "sip:me@elsewhere.test";
  const local = (user) => ({ ruri: `sip:${user}@127.0.0.1`, from });

  test(`${host}: methods.block -> 405 (rule method); an unblocked method goes on`, async () => {
    await refusal({ ...local("alice"), method: "SUBSCRIBE", extra: ["Event: presence"] }, 405, "method");
    await allowed({ ...local("alice") });
  });

  test(`${host}: denyUris -> 403 (rule request-uri) for user@domain and @domain; another user goes on`, async () => {
    await refusal(local("blocked"), 403, "request-uri");
    await refusal({ ruri: "sip:anyone@evil.test", from }, 403, "request-uri");
    await allowed(local("notblocked"));
  });

  test(`${host}: body.maxBytes -> 413, body.allowTypes -> 415 (rule body), body.messagePatterns -> 403 (rule body-pattern)`, async () => {
    const big = SDP + "a=x:" + "y".repeat(400) + "\r\n";
    await refusal({ ...local("alice"), body: big, extra: ["Content-Type: application/sdp"] }, 413, "body");
    await refusal({ ...local("alice"), body: "<b>hi</b>", extra: ["Content-Type: text/html"] }, 415, "body");
    await refusal({ ...local("alice"), method: "MESSAGE", body: "win at the casino", extra: ["Content-Type: text/plain"] }, 403, "body-pattern");
    await refusal({ ...local("alice"), method: "MESSAGE", body: "a\x00\xffb", extra: ["Content-Type: text/plain"] }, 403, "body-pattern");
    // the same methods with an allowed type, size and text get past policy (to the registrar: 480)
    await allowed({ ...local("alice"), body: SDP, extra: ["Content-Type: application/sdp"] });
    await allowed({ ...local("alice"), method: "MESSAGE", body: "hello", extra: ["Content-Type: text/plain"] });
  });

  test(`${host}: access.deny -> 403 (rule acl); a source outside access.allow -> 403 (rule acl); an allowed source goes on`, async () => {
    await refusal(local("alice"), 403, "acl", denied);
    await refusal(local("alice"), 403, "acl", outsider);
    await allowed(local("alice"));
  });

  test(`${host}: every refusal above is a usage record with its rule`, async () => {
    await sleep(400); // the host flushes the usage log at most 200 ms after a record
    const recs = readFileSync(usageLog, "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l));
    const rules = recs.filter((r) => r.event === "policy-refusal").map((r) => `${r.result}:${r.rule}`);
    for (const want of ["405:method", "403:request-uri", "413:body", "415:body", "403:body-pattern", "403:acl"]) {
      assert.ok(rules.includes(want), `a policy-refusal record ${want} in ${JSON.stringify(rules)}`);
    }
    const one = recs.find((r) => r.event === "policy-refusal" && r.rule === "method");
    assert.match(one.source, /^udp:127\.0\.0\.1:\d+$/);
    assert.ok(one.callId && one.uri && one.caller, `fields of a policy-refusal record: ${JSON.stringify(one)}`);
  });
}

for (const host of HOSTS) {
  test(`${host}: access.refuse "drop": refused requests get no answer at all (event code 0)`, async () => {
    const ua = await Ua.open("127.0.0.8");
    const srv = await startServer({ host, config: { access: { deny: ["127.0.0.8/32"], refuse: "drop" }, methods: { block: ["SUBSCRIBE"] } } });
    try {
      const callId = token("drop");
      const r = await ua.request(srv, request(ua, { ruri: "sip:alice@127.0.0.1", from: "sip:me@elsewhere.test", callId }), { timeoutMs: 1200 });
      assert.equal(r, null, `a dropped request gets nothing, got ${firstLine(r)}`);
      const ev = await srv.waitFor((l) => l.event === "policy-refusal" && l.callId === callId, 2000, "the drop's event");
      assert.equal(ev.rule, "acl");
      assert.equal(ev.code, 0, "code 0: dropped, not answered");
      // a method refusal from an allowed source is dropped too
      const ok = await Ua.open("127.0.0.1");
      try {
        const id2 = token("drop");
        const r2 = await ok.request(srv, request(ok, { method: "SUBSCRIBE", ruri: "sip:alice@127.0.0.1", from: "sip:me@elsewhere.test", callId: id2, extra: ["Event: presence"] }), { timeoutMs: 1200 });
        assert.equal(r2, null, `a dropped SUBSCRIBE gets nothing, got ${firstLine(r2)}`);
        const r3 = await ok.request(srv, request(ok, { method: "OPTIONS", ruri: "sip:127.0.0.1", from: "sip:me@elsewhere.test" }));
        assert.equal(status(r3), 200, "the same source is still served otherwise");
      } finally { ok.close(); }
    } finally {
      await srv.stop();
      ua.close();
    }
  });
}
