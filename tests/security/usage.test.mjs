// Every usage-record kind end to end: the running server with "usageLog", driven by real SIP over
// loopback, and the JSON lines it appends, field by field.
//
//   reg-add, reg-refresh, reg-remove, reg-expire   alice and bob register with digest
//   call-attempt, call-answer, call-end            a caller from another domain calls alice, BYE
//   call-fail                                      the same call answered 486
//   auth-fail                                      a wrong password
//   policy-refusal                                 a blocked method
//   flood-blocked                                  a source over flood.limit
//   table-full                                     the micro core's transaction table full (second server)
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { startServer, scratch, HOSTS } from "../integration/harness.mjs";
import { Ua, request, response, hdrs, status, firstLine, registerDigest, token } from "../lib/sipua.mjs";


const REALM = "usage.test";
const PW = { alice: "alice-Usage-pw", bob: "bob-Usage-pw" };

/** The usage records written so far (waits for the host's flush, at most 200 ms after a record). */
async function records(file) {
  await sleep(400);
  return readFileSync(file, "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l));
}

for (const host of HOSTS) {
  let srv, usageLog, alice, bob, caller, flooder;

  const register = (ua, user, { expires = 600, pass = PW[user] } = {}) => registerDigest(srv, ua, { user, pass, realm: REALM, expires });

  before(async () => {
    usageLog = scratch(`usage-${host}.jsonl`, "");
    alice = await Ua.open("127.0.0.3");
    bob = await Ua.open("127.0.0.3");
    caller = await Ua.open("127.0.0.5");
    flooder = await Ua.open("127.0.0.8");
    srv = await startServer({
      host,
      config: {
        realm: REALM, users: [{ username: "alice", password: PW.alice }, { username: "bob", password: PW.bob }],
        registrar: { minExpires: 1, maxExpires: 3600, defaultExpires: 600 },
        methods: { block: ["PUBLISH"] },
        flood: { limit: 20, blockSeconds: 5 },
        usageLog,
      },
    });
  });
  after(async () => {
    await srv?.stop();
    for (const x of [alice, bob, caller, flooder]) x?.close();
  });

  test(`${host}: registrations: reg-add, reg-refresh, reg-remove, reg-expire records`, async () => {
    assert.equal(status(await register(alice, "alice")), 200);
    assert.equal(status(await register(alice, "alice")), 200, "the refresh");
    assert.equal(status(await register(alice, "alice", { expires: 0 })), 200, "the removal");
    assert.equal(status(await register(bob, "bob", { expires: 2 })), 200);
    await srv.waitFor((l) => l.event === "reg-expire" && l.aor === "bob", 5000, "bob's binding expiring");
    const recs = await records(usageLog);
    const of = (event, aor) => recs.filter((r) => r.event === event && r.aor === aor);
    const add = of("reg-add", "alice");
    assert.equal(add.length, 1, JSON.stringify(recs));
    assert.equal(add[0].contact, `sip:alice@127.0.0.3:${alice.port}`);
    assert.equal(add[0].expires, 600);
    assert.match(add[0].source, /^udp:127\.0\.0\.3:\d+$/);
    assert.ok(add[0].callId && /^\d{4}-\d\d-\d\dT/.test(add[0].time), JSON.stringify(add[0]));
    assert.equal(of("reg-refresh", "alice").length, 1);
    assert.equal(of("reg-remove", "alice").length, 1);
    const exp = of("reg-expire", "bob");
    assert.equal(exp.length, 1);
    assert.equal(exp[0].contact, `sip:bob@127.0.0.3:${bob.port}`);
  });

  test(`${host}: calls: call-attempt, call-answer, call-end (with duration and cause), call-fail records`, async () => {
    assert.equal(status(await register(alice, "alice")), 200);
    // an answered call, ended by the caller after ~300 ms
    const callId = token("call");
    caller.send(request(caller, { ruri: "sip:alice@127.0.0.1", from: "sip:carol@elsewhere.test", fromTag: "c1", callId }), srv.port);
    const inv = await alice.waitFor((t) => /^INVITE /.test(t) && hdrs(t, "Call-ID")[0] === callId, 2000);
    assert.ok(inv, "the call reaches alice");
    alice.send(response(inv, 200, "OK", { toTag: "a1", extra: [`Contact: <sip:alice@127.0.0.3:${alice.port}>`] }), srv.port);
    const ok = await caller.waitFor((t) => status(t) === 200 && hdrs(t, "Call-ID")[0] === callId, 2000);
    assert.ok(ok, "the 200 reaches the caller");
    const route = hdrs(ok, "Record-Route");
    const dialog = { from: "sip:carol@elsewhere.test", fromTag: "c1", to: "sip:alice@127.0.0.1", toTag: "a1", callId, route, ruri: `sip:alice@127.0.0.3:${alice.port}` };
    caller.send(request(caller, { ...dialog, method: "ACK" }), srv.port);
    await sleep(300);
    caller.send(request(caller, { ...dialog, method: "BYE", cseq: 2 }), srv.port);
    const bye = await alice.waitFor((t) => /^BYE /.test(t), 2000);
    assert.ok(bye, "the BYE reaches alice");
    alice.send(response(bye, 200, "OK"), srv.port);
    // a call alice refuses
    const failId = token("fail");
    caller.send(request(caller, { ruri: "sip:alice@127.0.0.1", from: "sip:carol@elsewhere.test", callId: failId }), srv.port);
    const inv2 = await alice.waitFor((t) => /^INVITE /.test(t) && hdrs(t, "Call-ID")[0] === failId, 2000);
    alice.send(response(inv2, 486, "Busy Here", { toTag: "a2" }), srv.port);
    await srv.waitFor((l) => l.event === "call-fail" && l.callId === failId, 2000, "call-fail");
    const recs = await records(usageLog);
    const of = (event, id) => recs.filter((r) => r.event === event && r.callId === id);
    assert.equal(of("call-attempt", callId).length, 1, JSON.stringify(recs.slice(-6)));
    assert.match(of("call-attempt", callId)[0].caller, /carol@elsewhere\.test/);
    assert.match(of("call-attempt", callId)[0].callee, /alice@127\.0\.0\.1/);
    assert.equal(of("call-answer", callId)[0]?.result, 200);
    const end = of("call-end", callId);
    assert.equal(end.length, 1);
    assert.equal(end[0].cause, "bye-caller");
    assert.ok(end[0].duration >= 0.25 && end[0].duration < 5, `duration ${end[0].duration} s`);
    assert.equal(of("call-attempt", failId).length, 1);
    assert.equal(of("call-fail", failId)[0]?.result, 486);
    assert.equal(of("call-answer", failId).length, 0, "a refused call has no answer record");
  });

  test(`${host}: refusals: auth-fail, policy-refusal and flood-blocked records`, async () => {
    const r = await register(bob, "bob", { pass: "wrong" });
    assert.equal(status(r), 401, "a wrong password is challenged again");
    const pub = await caller.request(srv, request(caller, { method: "PUBLISH", ruri: "sip:alice@127.0.0.1", from: "sip:carol@elsewhere.test", extra: ["Event: presence"] }));
    assert.equal(status(pub), 405);
    // 40 OPTIONS at once from one source: over the limit of 20/s
    for (let i = 0; i < 40; i++) flooder.send(request(flooder, { method: "OPTIONS", ruri: "sip:127.0.0.1", from: "sip:f@elsewhere.test" }), srv.port);
    await srv.waitFor((l) => l.event === "flood-blocked", 3000, "flood-blocked");
    const recs = await records(usageLog);
    const fail = recs.find((x) => x.event === "auth-fail");
    assert.ok(fail, "an auth-fail record");
    assert.equal(fail.user, "bob");
    assert.match(fail.source, /^udp:127\.0\.0\.3:\d+$/);
    const pol = recs.find((x) => x.event === "policy-refusal" && x.rule === "method");
    assert.ok(pol, "a policy-refusal record");
    assert.equal(pol.result, 405);
    const fl = recs.find((x) => x.event === "flood-blocked");
    assert.ok(fl, "a flood-blocked record");
    assert.match(fl.source, /^udp:127\.0\.0\.8:\d+$/);
  });
}

for (const host of HOSTS) {
  test(`${host}: table-full record: the micro core's transaction table full answers 503 and writes it`, async () => {
    const usageLog = scratch(`usage-full-${host}.jsonl`, "");
    const callee = await Ua.open("127.0.0.3");
    const caller = await Ua.open("127.0.0.5");
    const srv = await startServer({ host, config: { board: "micro", usageLog, timers: { t1: 500 } } });
    try {
      const reg = await callee.request(srv, request(callee, { method: "REGISTER", ruri: "sip:127.0.0.1", from: "sip:dave@127.0.0.1", to: "sip:dave@127.0.0.1",
        contact: `<sip:dave@127.0.0.3:${callee.port}>` }));
      assert.equal(status(reg), 200);
      // the callee never answers: every INVITE holds a server and a client record (16 on micro)
      const ids = [];
      for (let i = 0; i < 12; i++) {
        const id = token("full");
        ids.push(id);
        caller.send(request(caller, { ruri: "sip:dave@127.0.0.1", from: "sip:e@elsewhere.test", callId: id }), srv.port);
      }
      const r503 = await caller.waitFor((t) => status(t) === 503, 3000);
      assert.ok(r503, "a 503 once the table is full");
      assert.match(hdrs(r503, "Retry-After")[0] ?? "", /^\d+$/, "with Retry-After");
      await srv.waitFor((l) => l.event === "table-full", 2000, "table-full");
      const recs = await records(usageLog);
      const full = recs.filter((r) => r.event === "table-full");
      assert.ok(full.length >= 1, JSON.stringify(recs.slice(-5)));
      assert.equal(full[0].result, 503);
      assert.ok(ids.includes(full[0].callId), `the refused call's Call-ID: ${full[0].callId}`);
    } finally {
      await srv.stop();
      callee.close(); caller.close();
    }
  });
}
