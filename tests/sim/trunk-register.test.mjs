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
//   static mode: a trunk pinged with OPTIONS ("monitor") that stops answering is down (trunk-state event)
//     and its calls go to the failover trunk until a ping is answered again; exact ping and event times.
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

const text = (n, kind, t) => n.cfgAdd(kind, t);

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

// Static mode (issue 13 item 4): no registration; the trunk is pinged with OPTIONS every 10 s ("monitor
// 1 10"); our provider core answers them 200. From 60 s on everything sent to it is lost: the next ping
// goes unanswered for 64·T1 = 32 s, the trunk is down (a trunk-state event), and calls go to the
// failover trunk ("down 1 failover"); at 150 s the provider is reachable again: the next ping, 10 s
// after the failed one, is answered and the trunk is up (another event); calls go to it again.
test("static mode: a monitored trunk that stops answering OPTIONS is down and routed around until it answers again, at exact times", () => {
  const sim = new Sim({ seed: 39, latency: [5, 5] });
  new CoreNode(sim, PROVIDER, { domains: ["127.0.0.5"], users: ["bob:password=bobpw"] });
  const gw = new CoreNode(sim, GW, { probe: true, domains: ["127.0.0.4"] });
  gw.ex.probe_b2bua_on(1);
  for (const t of ["0 registrar 1 127.0.0.4", `1 trunk 0 127.0.0.5 ${PROVIDER}`, `2 trunk 0 127.0.0.6 ${BACKUP}`,
    "failover 1 2", "down 1 failover", "monitor 1 10"]) assert.equal(text(gw, CfgKind.Side, t), CfgResult.Ok, t);
  for (const bad of ["monitor 1 4", "monitor 1 3601", "monitor 0 10", "monitor 1", "monitor 9 10"])
    assert.equal(text(gw, CfgKind.Side, bad), CfgResult.Refused, bad);
  const alice = new Ua(sim, "127.0.0.2:5060", "alice", { proxy: GW, ring: 50, answer: 200 });
  const backup = new Ua(sim, BACKUP, "backup", { proxy: GW, ring: 50, answer: 200 });
  alice.register();
  let cut = false;
  const pings = [];
  const invites = [];
  const answered = new Map(); // ping Call-ID -> when its 200 reached us
  sim.filter = (from, to, t) => {
    if (from === GW && to === PROVIDER && t.startsWith("OPTIONS ")) {
      const msg = parse(t);
      if (!pings.some((p) => p.msg.callId === msg.callId)) pings.push({ t: sim.now, msg }); // not its retransmissions
    }
    if (from === GW && to === PROVIDER && t.startsWith("INVITE ")) invites.push(sim.now);
    const pass = !(cut && (to === PROVIDER || from === PROVIDER));
    if (pass && from === PROVIDER && to === GW && /^SIP\/2\.0 200 [^]*CSeq: 1 OPTIONS/i.test(t)) {
      const msg = parse(t);
      if (!answered.has(msg.callId)) answered.set(msg.callId, sim.now + 5); // delivered 5 ms later
    }
    return pass;
  };
  const call = () => {
    const id = alice.invite("15550400", { hangupAfter: 200 });
    sim.run(sim.now + 3000);
    return alice.calls.get(id);
  };
  sim.run(5000);
  call(); // up: to the provider (which wants bob's credentials: 407 → 503 for alice; it reached it)
  assert.equal(invites.length, 1, `the call went to the provider\n${sim.transcript()}`);
  assert.equal(inbound(backup).length, 0);
  sim.run(60_000);
  cut = true;
  sim.run(130_000);
  const state = () => gw.eventLog.filter((e) => e.name === "trunk-state").map((e) => [e.t, e.value, e.code, e.texts[0], e.texts[3]]);
  assert.equal(state().length, 1, "down once");
  const [tDown, up0, code0, trunk0, detail0] = state()[0];
  assert.deepEqual([up0, code0, trunk0, detail0], [0, 408, "127.0.0.5", "down"]);
  const lost = pings.filter((p) => p.t >= 60_000)[0];
  assert.equal(tDown - lost.t, 32_000, "down 64·T1 after the unanswered ping was sent");
  assert.ok(call().finals.includes(200), "answered by the backup");
  assert.equal(inbound(backup).length, 1, "while down, the call went to the failover trunk");
  assert.equal(invites.length, 1, "and not to the provider");
  sim.run(150_000);
  cut = false;
  sim.run(200_000);
  assert.equal(state().length, 2, "up again");
  const [tUp, up1, code1, , detail1] = state()[1];
  assert.deepEqual([up1, code1, detail1], [1, 200, "up"]);
  // every ping after the first: 10 s after the previous one's outcome, its 200 (10 ms later in a quiet
  // network; a retransmission's after the cut) or its timeout 32 s after it was sent
  let lostPings = 0;
  for (let k = 1; k < pings.length; k++) {
    const prev = pings[k - 1];
    const outcome = answered.get(prev.msg.callId) ?? prev.t + 32_000;
    if (!answered.has(prev.msg.callId)) lostPings++;
    else if (prev.t < 60_000) assert.equal(outcome - prev.t, 10);
    assert.equal(pings[k].t - outcome, 10_000, `ping ${k} at ${pings[k].t}`);
  }
  assert.ok(lostPings >= 2, `${lostPings} pings lost in the 90 s cut`);
  assert.ok(tUp > 150_000 && tUp <= 150_000 + 32_000 + 10_000 + 10, `up at ${tUp}`);
  for (const p of pings) {
    assert.match(p.msg.first, /^OPTIONS sip:127\.0\.0\.5 SIP\/2\.0$/);
    assert.equal(p.msg.get("to"), "<sip:127.0.0.5>");
    assert.match(p.msg.get("from"), /^<sip:127\.0\.0\.4:5060>;tag=/);
  }
  assert.equal(new Set(pings.map((p) => p.msg.callId)).size, pings.length, "a new Call-ID each time");
  call();
  assert.equal(invites.length, 2, "up again: the call goes to the provider");
  assert.equal(inbound(backup).length, 1);
});

// Individual registration pass-through (issue 13 item 5): alice's phone registers with us; her provider
// account 15550001 (a Registration "follow=alice") registers with the provider only while she has a
// binding here, is taken back at once when she de-registers, and when her binding just expires, at its
// expiry (before: at the account's next refresh). The provider's calls to 15550001 ring alice; her calls out go as 15550001 with that
// account's credentials (the provider challenges them).
test("pass-through: alice's provider account registers while she does, and the calls map between her and 15550001", () => {
  const sim = new Sim({ seed: 40, latency: [5, 20] });
  const prov = new CoreNode(sim, PROVIDER, { domains: ["127.0.0.5"], users: ["15550001:password=pa1", "bob:password=bobpw"] });
  const gw = new CoreNode(sim, GW, { probe: true, domains: ["127.0.0.4"] });
  gw.ex.probe_b2bua_on(1);
  for (const t of ["0 registrar 1 127.0.0.4", `1 trunk 0 127.0.0.5 ${PROVIDER}`]) assert.equal(text(gw, CfgKind.Side, t), CfgResult.Ok, t);
  assert.equal(text(gw, CfgKind.Registration, `1 ${PROVIDER} 15550001@127.0.0.5 600 15550001 pa1 follow=alice`), CfgResult.Ok);
  for (const bad of [`1 ${PROVIDER} x@h 600 x p follow=`, `1 ${PROVIDER} x@h 600 x p follow=a b`, `1 ${PROVIDER} x@h 600 x p follow=${"u".repeat(33)}`])
    assert.equal(text(gw, CfgKind.Registration, bad), CfgResult.Refused, bad);
  const regs = [];
  const aliceOk = []; // when the gateway's registrar answered alice's REGISTERs 200 (her binding's start)
  sim.filter = (from, to, t) => {
    if (from === GW && to === PROVIDER && t.startsWith("REGISTER ")) {
      const msg = parse(t);
      if (!regs.some((r) => r.msg.get("cseq") === msg.get("cseq"))) regs.push({ t: sim.now, msg }); // not retransmissions
    }
    if (from === GW && to === "127.0.0.2:5060" && /^SIP\/2\.0 200 [^]*CSeq: \d+ REGISTER/i.test(t)) aliceOk.push(sim.now);
    return true;
  };
  const alice = new Ua(sim, "127.0.0.2:5060", "alice", { proxy: GW, ring: 50, answer: 200 });
  const bob = new Ua(sim, "127.0.0.7:5060", "bob", { proxy: PROVIDER, domain: "127.0.0.5", password: "bobpw", ring: 50, answer: 200 });
  bob.register();
  sim.run(10_000);
  assert.equal(regs.length, 0, "nothing registers before alice does");
  assert.equal(gw.ex.probe_reg_state(0), 0);
  alice.register(300);
  sim.run(sim.now + 2000);
  assert.equal(alice.registered, 200);
  assert.equal(gw.ex.probe_reg_state(0), REGISTERED, `15550001 registered\n${sim.transcript()}`);
  assert.equal(prov.stat("bindingsInUse"), 2, "bob's and 15550001's at the provider");
  assert.match(regs[0].msg.get("to"), /^<sip:15550001@127\.0\.0\.5>$/);
  assert.equal(regs[0].msg.get("contact"), "<sip:15550001@127.0.0.4:5060>");
  // bob calls 15550001: alice answers
  const id = bob.invite("15550001", { hangupAfter: 300 });
  sim.run(sim.now + 4000);
  assert.deepEqual(bob.calls.get(id).finals, [200], sim.transcript());
  assert.equal(inbound(alice).length, 1, "the call to 15550001 rang alice");
  // alice calls bob: as 15550001 toward the provider, its credentials answering the provider's 407
  const out = alice.invite("bob", { hangupAfter: 300 });
  sim.run(sim.now + 4000);
  assert.deepEqual(alice.calls.get(out).finals, [200], sim.transcript());
  const atBob = inbound(bob);
  assert.equal(atBob.length, 1);
  assert.match(atBob[0].st.msg.get("from"), /^<sip:15550001@127\.0\.0\.5>;tag=/, "as her provider account");
  // alice de-registers: 15550001 at once
  const before = regs.length;
  alice.register(0);
  sim.run(sim.now + 2000);
  assert.ok(regs.slice(before).length >= 1 && regs.slice(before).every((r) => r.msg.get("expires") === "0"), "Expires: 0 for 15550001");
  assert.equal(gw.ex.probe_reg_state(0), 0, "idle");
  assert.equal(prov.stat("bindingsInUse"), 1, "only bob's");
  // she registers for 60 s and lets it expire: ours is taken back when hers expires, 60 s after our
  // registrar's 200 to her (before: at its next refresh, up to 300 s later)
  alice.register(60);
  sim.run(sim.now + 2000);
  assert.equal(gw.ex.probe_reg_state(0), REGISTERED);
  const t0 = aliceOk[aliceOk.length - 1];
  sim.run(sim.now + 400_000);
  assert.equal(gw.ex.probe_reg_state(0), 0, "taken back");
  const last = regs[regs.length - 1];
  assert.equal(last.msg.get("expires"), "0");
  // (the core's clock is whole milliseconds: within 1 ms of the simulator's)
  assert.ok(Math.abs(last.t - t0 - 60_000) < 1, `de-registered ${last.t - t0} ms after her 60 s binding began: when it expired`);
  assert.equal(prov.stat("bindingsInUse"), 1);
});
