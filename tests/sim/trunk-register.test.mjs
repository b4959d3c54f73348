// A trunk that registers (issue 13 items 1 and 2), end to end in the deterministic simulator: the B2BUA
// (the probe build in B2BUA mode) between its registrar side (alice) and a trunk side whose provider is a
// second core — our proxy with its registrar and digest users, the real thing — where the B2BUA's
// account `acme` registers and the provider's customer `bob` calls.
//   inbound: bob calls acme's AOR; the provider's proxy sends the call to the Contact we registered
//     (Request-URI user: our account); the called number is read from where the side's "called" mode says
//     (To, or P-Called-Party-ID), so the DID +15550001 rings alice; read from the Request-URI it is
//     "acme", a number no rule or phone has (404).
//   registration down: while none of our registrations with that provider is in force, a call toward the
//     trunk is sent anyway ("try"), goes to the side's failover trunk ("failover") or gets 503 ("refuse");
//     once registered, every policy sends it to the trunk.
//   shutdown: sip_shutdown de-registers (Expires: 0, the provider's binding gone), reports the REGISTER
//     in flight until its 200, and nothing of the registrant is sent again.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Sim, CoreNode } from "./net.mjs";
import { Ua, parse } from "./ua.mjs";

const { CfgKind, CfgResult } = await import("../../host/firmware/abi.mjs");

const GW = "127.0.0.4:5060";
const PROVIDER = "127.0.0.5:5060";
const BACKUP = "127.0.0.6:5060";
const SILENT = "127.0.0.9:5060"; // nothing attached: what is sent there vanishes
const REGISTERED = 2;

function text(n, kind, t) {
  const b = Buffer.from(t, "latin1");
  n.mem().set(b, n.ptr.cfg);
  const r = n.ex.sip_cfg_add(kind, b.length);
  n.drain();
  return r;
}

/**
 * The gateway and the provider; `registrar`: where the account registers (the provider, or a silent
 * address: never registered); `extra`: more side texts. alice registers at the gateway; bob is the
 * provider's customer, registered there.
 */
function setup(seed, { registrar = PROVIDER, extra = [] } = {}) {
  const sim = new Sim({ seed, latency: [5, 20] });
  const prov = new CoreNode(sim, PROVIDER, { domains: ["127.0.0.5"], users: ["acme:password=s3cret-acme", "bob:password=bobpw"] });
  const gw = new CoreNode(sim, GW, { probe: true, domains: ["127.0.0.4"] });
  gw.ex.probe_b2bua_on(1);
  for (const t of ["0 registrar 1 127.0.0.4", `1 trunk 0 127.0.0.5 ${PROVIDER}`, `2 trunk 0 127.0.0.6 ${BACKUP}`,
    "route 1 +15550001 0 9 alice", ...extra]) assert.equal(text(gw, CfgKind.Side, t), CfgResult.Ok, t);
  assert.equal(text(gw, CfgKind.Registration, `1 ${registrar} acme@127.0.0.5 600 acme s3cret-acme`), CfgResult.Ok);
  const alice = new Ua(sim, "127.0.0.2:5060", "alice", { proxy: GW, ring: 50, answer: 200 });
  const bob = new Ua(sim, "127.0.0.7:5060", "bob", { proxy: PROVIDER, domain: "127.0.0.5", password: "bobpw", ring: 50, answer: 200 });
  const backup = new Ua(sim, BACKUP, "backup", { proxy: GW, ring: 50, answer: 200 });
  alice.register();
  bob.register();
  sim.run(sim.now + 2000);
  assert.equal(alice.registered, 200);
  assert.equal(bob.registered, 200);
  return { sim, prov, gw, alice, bob, backup };
}

const inbound = (ua) => [...ua.calls.values()].filter((c) => c.role === "uas");

for (const seed of [31, 32, 33]) {
  test(`inbound to our registered Contact: the number from To ("called": to) rings alice; from the Request-URI it is our account: 404 (seed ${seed})`, () => {
    const { sim, prov, gw, alice, bob } = setup(seed, { extra: ["called 1 to"] });
    assert.equal(gw.ex.probe_reg_state(0), REGISTERED, `registered\n${sim.transcript()}`);
    assert.equal(prov.stat("bindingsInUse"), 2, "bob's binding and ours at the provider");
    const seen = [];
    sim.filter = (from, to, t) => {
      if ((from === PROVIDER && to === GW && t.startsWith("INVITE ")) || (from === GW && to === PROVIDER && /^SIP\/2\.0 (18\d|200) [^]*CSeq: \d+ INVITE/i.test(t))) seen.push(parse(t));
      if (from === "127.0.0.7:5060" && t.startsWith("BYE ")) seen.push({ bye: to });
      return true;
    };
    const id = bob.invite("acme", { toUser: "+15550001", hangupAfter: 300 });
    sim.run(sim.now + 4000);
    assert.deepEqual(bob.calls.get(id).finals, [200], `answered by alice\n${sim.transcript()}`);
    // §12.1.1: our 18x and 200 carry the provider's Record-Route, so bob's BYE goes through the provider
    const [inv, ...answers] = seen.filter((m) => !m.bye);
    assert.match(inv.get("record-route") ?? "", /^<sip:127\.0\.0\.5/, "the provider record-routes");
    assert.ok(answers.length >= 1);
    for (const r of answers) assert.equal(r.get("record-route"), inv.get("record-route"), `${r.status} echoes Record-Route`);
    assert.deepEqual(seen.filter((m) => m.bye).map((m) => m.bye), [PROVIDER], "bob's BYE went to the provider's proxy");
    const got = inbound(alice);
    assert.equal(got.length, 1, "the call reached alice");
    assert.equal(got[0].st.msg.ruri, "sip:alice@127.0.0.2:5060", "where she registered");
    assert.equal(got[0].byes, 1, "bob's hang-up reached her");
    // the same call with the number read from the Request-URI (the default): "acme" is nobody here
    assert.equal(text(gw, CfgKind.Side, "called 1 ruri"), CfgResult.Ok);
    const id2 = bob.invite("acme", { toUser: "+15550001", hangupAfter: 300 });
    sim.run(sim.now + 4000);
    assert.deepEqual(bob.calls.get(id2).finals, [404]);
    assert.equal(inbound(alice).length, 1, "nothing more reached alice");
  });
}

test(`inbound: the number from P-Called-Party-ID ("called": pcpi); without one, the Request-URI's`, () => {
  const { sim, bob, alice } = setup(34, { extra: ["called 1 pcpi"] });
  const id = bob.invite("acme", { headers: ["P-Called-Party-ID: <sip:+15550001@127.0.0.5;user=phone>"], hangupAfter: 300 });
  sim.run(sim.now + 4000);
  assert.deepEqual(bob.calls.get(id).finals, [200], sim.transcript());
  assert.equal(inbound(alice).length, 1);
  const id2 = bob.invite("acme", { toUser: "+15550001", hangupAfter: 300 });
  sim.run(sim.now + 4000);
  assert.deepEqual(bob.calls.get(id2).finals, [404], "no P-Called-Party-ID: the Request-URI user, acme");
  assert.equal(inbound(alice).length, 1);
});

test("side texts for called and down: good ones taken, bad ones refused", () => {
  const sim = new Sim({ seed: 35 });
  const gw = new CoreNode(sim, GW, { probe: true, domains: ["127.0.0.4"] });
  for (const t of ["0 registrar 1 127.0.0.4", `1 trunk 0 127.0.0.5 ${PROVIDER}`, "called 1 to", "called 1 PCPI", "called 1 ruri",
    "down 1 try", "down 1 failover", "down 1 refuse"]) assert.equal(text(gw, CfgKind.Side, t), CfgResult.Ok, t);
  for (const bad of ["called 1 from", "called 9 to", "called 1", "called 1 to to", "down 1 maybe", "down 5 try", "down x try"])
    assert.equal(text(gw, CfgKind.Side, bad), CfgResult.Refused, bad);
});

for (const [policy, expect] of [["try", "trunk"], ["failover", "backup"], ["refuse", 503]]) {
  test(`registration down, "down": ${policy}: alice's call goes to ${expect === 503 ? "nobody (503)" : `the ${expect}`}`, () => {
    // the account registers at a silent address: it never gets a 200 (registering, then backoff)
    const { sim, gw, alice, backup } = setup(36, { registrar: SILENT, extra: ["failover 1 2", `down 1 ${policy}`] });
    assert.notEqual(gw.ex.probe_reg_state(0), REGISTERED);
    const seenAtProvider = [];
    sim.filter = (from, to, t) => {
      if (to === PROVIDER && from === GW && t.startsWith("INVITE ")) seenAtProvider.push(parse(t));
      return true;
    };
    const id = alice.invite("bob", { hangupAfter: 300 });
    sim.run(sim.now + 4000);
    const c = alice.calls.get(id);
    if (expect === 503) {
      assert.deepEqual(c.finals, [503]);
      assert.equal(seenAtProvider.length + inbound(backup).length, 0, "nothing was sent for it");
    } else if (expect === "backup") {
      assert.deepEqual(c.finals, [200]);
      assert.equal(inbound(backup).length, 1, "the backup trunk took it");
      assert.equal(seenAtProvider.length, 0);
    } else {
      assert.equal(seenAtProvider.length, 1, "sent to the trunk anyway");
      assert.equal(inbound(backup).length, 0);
    }
  });
}

test(`registered: "down": refuse does not apply, the call goes to the trunk`, () => {
  const { sim, gw, alice } = setup(37, { extra: [`down 1 refuse`] });
  assert.equal(gw.ex.probe_reg_state(0), REGISTERED);
  const seen = [];
  sim.filter = (from, to, t) => {
    if (to === PROVIDER && from === GW && t.startsWith("INVITE ")) seen.push(t);
    return true;
  };
  alice.invite("bob", { hangupAfter: 300 });
  sim.run(sim.now + 4000);
  assert.equal(seen.length, 1, "the INVITE went to the provider");
});

test("shutdown: Expires: 0 to the provider, in flight until its 200, the binding gone, nothing sent after", () => {
  const { sim, prov, gw } = setup(38);
  assert.equal(gw.ex.probe_reg_state(0), REGISTERED);
  assert.equal(prov.stat("bindingsInUse"), 2);
  const regs = [];
  sim.filter = (from, to, t) => {
    if (from === GW && t.startsWith("REGISTER ")) regs.push({ t: sim.now, msg: parse(t) });
    return true;
  };
  assert.equal(gw.ex.sip_shutdown(sim.now), 1, "one de-registration waits for its answer");
  gw.drain();
  assert.equal(gw.ex.sip_shutdown(sim.now), 1, "a second call sends nothing more");
  sim.run(sim.now + 2000);
  assert.equal(gw.ex.sip_shutdown(sim.now), 0, "answered");
  // one REGISTER, answered 401 then sent again with credentials: both Expires: 0
  assert.ok(regs.length >= 1 && regs.length <= 2, `${regs.length} REGISTERs`);
  for (const r of regs) assert.equal(r.msg.get("expires"), "0");
  assert.equal(prov.stat("bindingsInUse"), 1, "only bob's binding is left");
  const sent = regs.length;
  sim.run(sim.now + 2 * 3_600_000);
  assert.equal(regs.length, sent, "no REGISTER after the shutdown's");
  assert.equal(gw.ex.sip_shutdown(sim.now), 0);
});
