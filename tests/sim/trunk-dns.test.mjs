// A trunk found by DNS (issue 13 item 4: "the provider is a peer found by address or by DNS"), the core's
// part in the deterministic simulator: the B2BUA's trunk side names its provider `carrier.test` without a
// port, so the core sends to the name with port 0 and the host locates it by RFC 3263; here the simulator
// is the host, resolving carrier.test to its SRV targets in order (net.mjs `names`).
//   outbound     a call toward the trunk goes to SRV target 0 (the Request-URI's host the name); a first
//                target that never answers: the INVITE goes to target 1 after Timer B (64 x T1), as a
//                new B leg, and is answered there; a first target that answers 503: target 1 at once;
//                both failing: the call fails once SRV_TARGETS targets were tried, with the
//                side's failover side taking it when it has one
//   inbound      a call from an address of the name (what the host gives with "addrs SIDE ADDRESS...",
//                each time it has resolved it) is the trunk's; from another, 403; a new "addrs" list
//                of the family replaces the old one; a list that does not parse is refused
//   registration a trunk that registers with carrier.test: its REGISTER goes to the name (target 0)
//                with the name in the Request-URI and the AOR, and the provider's 200 registers it; a
//                first target that never answers: the REGISTER goes to target 1 after Timer F, is
//                registered there and refreshed there; a 503: target 1 at once; every target failing:
//                SRV_TARGETS tried, then the backoff, and the next round starts again at target 0;
//                with its transport the host's choice (RFC 3263 §4.1, "auto"), nothing is sent until
//                the host gives it ("transport SIDE PROTO"), then the REGISTER goes over it
//   names        a configured name is never replaced in the core's table of names by the names that
//                messages bring (the names of the proxy's Request-URIs)
import { test } from "node:test";
import assert from "node:assert/strict";
import { Sim, CoreNode } from "./net.mjs";
import { Ua } from "./ua.mjs";
import { Scripted } from "./scripted.mjs";

const { CfgKind, CfgResult } = await import("../../host/firmware/abi.mjs");

const GW = "127.0.0.4:5060";
const SBC1 = "127.0.0.9:5070";
const SBC2 = "127.0.0.10:5080";
const BACKUP = "127.0.0.6:5060";
const T1 = 100; // Timer B: 6.4 s
const REGISTERED = 2;

const text = (n, kind, t) => n.cfgAdd(kind, t);

/** The gateway with its trunk side 1 at carrier.test (SBC1, SBC2 in SRV order), alice registered. */
function setup(seed, extra = [], names = { "carrier.test": [SBC1, SBC2] }) {
  const sim = new Sim({ seed, latency: [5, 20] });
  const gw = new CoreNode(sim, GW, { probe: true, domains: ["127.0.0.4"], timers: { t1: T1 }, names });
  gw.ex.probe_b2bua_on(1);
  for (const t of ["0 registrar 1 127.0.0.4", "1 trunk 0 carrier.test carrier.test", `2 trunk 0 127.0.0.6 ${BACKUP}`, ...extra])
    assert.equal(text(gw, CfgKind.Side, t), CfgResult.Ok, t);
  const alice = new Ua(sim, "127.0.0.2:5060", "alice", { proxy: GW, t1: T1, ring: 50, answer: 200 });
  alice.register();
  sim.run(sim.now + 2000);
  assert.equal(alice.registered, 200);
  return { sim, gw, alice };
}

/** Every INVITE the gateway sends, as [at, to, Request-URI]. */
function invitesOut(sim) {
  const seen = [];
  sim.filter = (from, to, t) => {
    if (from === GW && t.startsWith("INVITE ")) seen.push([sim.now, to, t.split(" ")[1]]);
    return true;
  };
  return seen;
}

for (const seed of [41, 42, 43]) {
  test(`outbound to a trunk by name: SRV target 0; silent, target 1 after Timer B, answered there (seed ${seed})`, () => {
    const { sim, gw, alice } = setup(seed);
    new Ua(sim, SBC2, "sbc2", { proxy: GW, t1: T1, ring: 50, answer: 200 });
    const seen = invitesOut(sim);
    const id = alice.invite("15551234", { hangupAfter: 500 });
    sim.run(sim.now + 12_000);
    assert.deepEqual(alice.calls.get(id).finals, [200], `answered at the second target\n${sim.transcript()}`);
    const first = seen.filter(([, to]) => to === SBC1);
    const second = seen.filter(([, to]) => to === SBC2);
    assert.ok(first.length >= 2, "the INVITE to the silent first target, retransmitted");
    assert.equal(first[0][2], "sip:15551234@carrier.test", "the name in the Request-URI");
    assert.equal(second.length, 1);
    const wait = second[0][0] - first[0][0];
    assert.ok(wait > 64 * T1 - 1 && wait < 64 * T1 + 50, `the second target after Timer B (${64 * T1} ms): ${wait} ms`);
    assert.deepEqual(gw.nameSends.filter((s) => s.k > 1), [], "no third target asked");
    assert.ok(gw.nameSends.every((s) => s.name === "carrier.test" && s.port === 0));
    assert.equal(gw.stat("refused503"), 0);
  });

  test(`outbound to a trunk by name: the first target's 503 sends the call to target 1 at once (seed ${seed})`, () => {
    const { sim, alice } = setup(seed);
    new Ua(sim, SBC1, "sbc1", { proxy: GW, t1: T1, ring: null, answer: 10, status: 503 });
    new Ua(sim, SBC2, "sbc2", { proxy: GW, t1: T1, ring: 50, answer: 200 });
    const seen = invitesOut(sim);
    const id = alice.invite("15551234", { hangupAfter: 500 });
    sim.run(sim.now + 3000);
    assert.deepEqual(alice.calls.get(id).finals, [200], sim.transcript());
    assert.deepEqual(seen.map(([, to]) => to), [SBC1, SBC2]);
    assert.ok(seen[1][0] - seen[0][0] < 100, "at once after the 503");
  });
}

test("outbound to a trunk by name: every target silent, SRV_TARGETS tried, then the side's failover side", () => {
  const { sim, gw, alice } = setup(44, ["failover 1 2"]);
  new Ua(sim, BACKUP, "backup", { proxy: GW, t1: T1, ring: 50, answer: 200 });
  const seen = invitesOut(sim);
  const id = alice.invite("15551234", { hangupAfter: 500 });
  sim.run(sim.now + 40_000);
  assert.deepEqual(alice.calls.get(id).finals, [200], `answered by the failover side\n${sim.transcript()}`);
  // targets 0 and 1 exist; 2 and 3 are asked (the host drops them: the simulator sends nothing)
  assert.deepEqual(gw.nameSends.filter((s) => s.port === 0).map((s) => s.k).filter((k, j, a) => a.indexOf(k) === j), [0, 1, 2, 3]);
  const firstAt = (to) => seen.find(([, t]) => t === to)?.[0];
  const wait = firstAt(BACKUP) - firstAt(SBC1);
  assert.ok(wait > 4 * 64 * T1 - 1 && wait < 4 * 64 * T1 + 100, `the failover side after four Timer Bs: ${wait} ms`);
  assert.equal(seen.filter(([, to]) => to === BACKUP)[0][2], "sip:15551234@127.0.0.6");
});

test("outbound to a trunk by name: without a failover side, the caller gets 408 after the last target", () => {
  const { sim, alice } = setup(45);
  const id = alice.invite("15551234", { hangupAfter: 500 });
  sim.run(sim.now + 40_000);
  assert.deepEqual(alice.calls.get(id).finals, [408], sim.transcript());
});

test("inbound from a trunk by name: taken from the addresses the host resolved it to (addrs), 403 from others", () => {
  const { sim, gw, alice } = setup(46);
  const sbc2 = new Ua(sim, SBC2, "sbc2", { proxy: GW, domain: "127.0.0.4", t1: T1, ring: 50, answer: 200 });
  const call = () => {
    const id = sbc2.invite("alice", { hangupAfter: 300 });
    sim.run(sim.now + 3000);
    return sbc2.calls.get(id).finals;
  };
  assert.deepEqual(call(), [403], "not yet resolved: a stranger");
  assert.equal(text(gw, CfgKind.Side, "addrs 1 127.0.0.9 127.0.0.10"), CfgResult.Ok);
  assert.deepEqual(call(), [200], `one of the name's addresses: the trunk's call rings alice\n${sim.transcript()}`);
  assert.equal([...alice.calls.values()].filter((c) => c.role === "uas").length, 1);
  assert.equal(text(gw, CfgKind.Side, "addrs 1 127.0.0.9"), CfgResult.Ok, "the name resolved again, to SBC1 only");
  assert.deepEqual(call(), [403], "an address the name no longer has");
  assert.equal(text(gw, CfgKind.Side, "addrs 1 ::1"), CfgResult.Ok, "IPv6 addresses: their own list");
  assert.equal(text(gw, CfgKind.Side, "addrs 1 127.0.0.10"), CfgResult.Ok);
  assert.deepEqual(call(), [200], "IPv4 addresses kept beside IPv6 ones");
  for (const bad of ["addrs 1 127.0.0.10 ::1", "addrs 1 carrier.test", "addrs 0 127.0.0.10", "addrs 1 1.1.1.1 1.1.1.2 1.1.1.3 1.1.1.4 1.1.1.5"])
    assert.notEqual(text(gw, CfgKind.Side, bad), CfgResult.Ok, bad);
  assert.deepEqual(call(), [403], "a list refused leaves none of its family");
});

test("a trunk by name registers: the REGISTER to the name, the name in its Request-URI and AOR", () => {
  const PROVIDER = "127.0.0.5:5060";
  const sim = new Sim({ seed: 47, latency: [5, 20] });
  const prov = new CoreNode(sim, PROVIDER, { domains: ["carrier.test"], users: ["acme:password=s3cret-acme"] });
  const gw = new CoreNode(sim, GW, { probe: true, domains: ["127.0.0.4"], names: { "carrier.test": [PROVIDER] } });
  gw.ex.probe_b2bua_on(1);
  for (const t of ["0 registrar 1 127.0.0.4", "1 trunk 0 carrier.test carrier.test"]) assert.equal(text(gw, CfgKind.Side, t), CfgResult.Ok);
  assert.equal(text(gw, CfgKind.Registration, "1 carrier.test acme@carrier.test 600 acme s3cret-acme"), CfgResult.Ok);
  const seen = [];
  sim.filter = (from, to, t) => {
    if (from === GW && t.startsWith("REGISTER ")) seen.push([to, t.split("\r\n").find((l) => /^To:/i.test(l)), t.split(" ")[1]]);
    return true;
  };
  sim.run(sim.now + 3000);
  assert.equal(gw.ex.probe_reg_state(0), REGISTERED, sim.transcript());
  assert.equal(prov.stat("bindingsInUse"), 1);
  assert.deepEqual(seen[0], [PROVIDER, "To: <sip:acme@carrier.test>", "sip:carrier.test"]);
  assert.ok(gw.nameSends.every((s) => s.name === "carrier.test" && s.port === 0 && s.k === 0));
});

/** The gateway registering acme@carrier.test with carrier.test, resolved to `targets` in SRV order. */
function registering(seed, targets) {
  const sim = new Sim({ seed, latency: [5, 20] });
  const gw = new CoreNode(sim, GW, { probe: true, domains: ["127.0.0.4"], timers: { t1: T1 }, names: { "carrier.test": targets } });
  gw.ex.probe_b2bua_on(1);
  for (const t of ["0 registrar 1 127.0.0.4", "1 trunk 0 carrier.test carrier.test"]) assert.equal(text(gw, CfgKind.Side, t), CfgResult.Ok);
  const regs = []; // [at, to] of every REGISTER the gateway sends
  sim.filter = (from, to, t) => {
    if (from === GW && t.startsWith("REGISTER ")) regs.push([sim.now, to]);
    return true;
  };
  assert.equal(text(gw, CfgKind.Registration, "1 carrier.test acme@carrier.test 600"), CfgResult.Ok);
  gw.drain();
  return { sim, gw, regs };
}
const BACKOFF = 4;
const stateEvents = (gw) => gw.eventLog.filter((e) => e.name === "trunk-reg").map((e) => [e.t, e.value, e.code]);
const ok200 = (msg) => [200, [`Contact: ${msg.get("contact")};expires=600`]];

for (const seed of [61, 62, 63]) {
  test(`a trunk by name registers at SRV target 1 after Timer F when target 0 is silent, and refreshes there (seed ${seed})`, () => {
    const { sim, gw, regs } = registering(seed, [SBC1, SBC2]);
    const sbc2 = new Scripted(sim, SBC2, ok200);
    sim.run(sim.now + 10_000);
    assert.equal(gw.ex.probe_reg_state(0), REGISTERED, sim.transcript());
    const first = regs.filter(([, to]) => to === SBC1);
    assert.ok(first.length >= 2, "the REGISTER to the silent first target, retransmitted");
    assert.equal(sbc2.got.length, 1);
    const wait = sbc2.got[0].t - first[0][0];
    assert.ok(wait > 64 * T1 && wait < 64 * T1 + 50, `the second target after Timer F (${64 * T1} ms): ${wait} ms`);
    assert.deepEqual(stateEvents(gw).filter(([, s]) => s === BACKOFF), [], "no backoff: the next target at once");
    assert.equal(gw.ex.probe_reg_failures(0), 0);
    // refreshed at half the 600 s granted, at the target that holds the binding
    const before = regs.length;
    sim.run(sim.now + 700_000);
    assert.ok(sbc2.got.length >= 3, `refreshes at SBC2: ${sbc2.got.length}`);
    assert.deepEqual(regs.slice(before).filter(([, to]) => to !== SBC2), [], "no refresh to target 0");
    assert.equal(gw.ex.probe_reg_state(0), REGISTERED);
  });
}

test("a trunk by name registers: a 503 from SRV target 0 sends the REGISTER to target 1 at once", () => {
  const { sim, gw } = registering(64, [SBC1, SBC2]);
  const sbc1 = new Scripted(sim, SBC1, () => [503]);
  const sbc2 = new Scripted(sim, SBC2, ok200);
  sim.run(sim.now + 3000);
  assert.equal(gw.ex.probe_reg_state(0), REGISTERED, sim.transcript());
  assert.equal(sbc1.got.length, 1);
  assert.equal(sbc2.got.length, 1);
  assert.ok(sbc2.got[0].t - sbc1.got[0].t < 100, "at once after the 503");
  assert.equal(sbc2.got[0].msg.get("call-id"), sbc1.got[0].msg.get("call-id"), "the account's Call-ID kept");
  assert.ok(Number(sbc2.got[0].msg.get("cseq").split(" ")[0]) > Number(sbc1.got[0].msg.get("cseq").split(" ")[0]), "its CSeq counted on");
});

test("a trunk by name registers: every target failing, SRV_TARGETS tried, the backoff, then target 0 again", () => {
  const { sim, gw } = registering(65, [SBC1, SBC2]);
  const sbc1 = new Scripted(sim, SBC1, () => [503]);
  const sbc2 = new Scripted(sim, SBC2, () => [503]);
  sim.run(sim.now + 20_000);
  // targets 0 and 1 answer 503 at once; 2 and 3 are asked (the host drops them) and time out (Timer F each)
  const ks = gw.nameSends.map((s) => s.k);
  assert.deepEqual(ks.filter((k, j) => ks.indexOf(k) === j), [0, 1, 2, 3], `targets asked: ${ks}`);
  const ev = stateEvents(gw);
  const backoff = ev.filter(([, s]) => s === BACKOFF);
  assert.equal(backoff.length, 1, `one backoff for the round: ${JSON.stringify(ev)}`);
  assert.equal(backoff[0][2], 408, "the last target's timeout");
  assert.ok(backoff[0][0] - sbc1.got[0].t > 2 * 64 * T1 && backoff[0][0] - sbc1.got[0].t < 2 * 64 * T1 + 100, "after two Timer Fs");
  assert.equal(gw.ex.probe_reg_failures(0), 1, "one failure in a row: the round");
  // the retry after 30 s ±20 %: at target 0 again
  sim.run(sim.now + 40_000);
  assert.equal(sbc1.got.length, 2, "the next round at target 0");
  const wait = sbc1.got[1].t - backoff[0][0];
  assert.ok(wait >= 24_000 && wait <= 36_000, `the retry ${wait} ms after the backoff began`);
  assert.equal(sbc2.got.length, 2);
});

test("a trunk by name whose transport the host chooses: its registration waits for the choice, then goes over it", () => {
  const sim = new Sim({ seed: 66, latency: [5, 20] });
  const gw = new CoreNode(sim, GW, { probe: true, domains: ["127.0.0.4"], timers: { t1: T1 }, names: { "carrier.test": [SBC1] }, tcp: true });
  gw.ex.probe_b2bua_on(1);
  for (const t of ["0 registrar 1 127.0.0.4", "1 trunk 0 carrier.test carrier.test"]) assert.equal(text(gw, CfgKind.Side, t), CfgResult.Ok);
  assert.equal(text(gw, CfgKind.Registration, "1 carrier.test acme@carrier.test 600 acme s3cret auto"), CfgResult.Ok);
  assert.notEqual(text(gw, CfgKind.Registration, "- 127.0.0.9:5070 other@carrier.test 600 auto"), CfgResult.Ok, "auto needs a side");
  gw.drain();
  const sbc = new Scripted(sim, SBC1, ok200);
  sim.run(sim.now + 5000);
  assert.equal(sbc.got.length, 0, "nothing before the transport is known");
  assert.equal(gw.ex.probe_reg_state(0), 0, "idle");
  assert.equal(text(gw, CfgKind.Side, "transport 1 tcp"), CfgResult.Ok);
  gw.drain();
  sim.run(sim.now + 2000);
  assert.equal(sbc.got.length, 1, sim.transcript());
  assert.match(sbc.got[0].msg.get("via"), /^SIP\/2\.0\/TCP /, "over TCP");
  assert.match(sbc.got[0].msg.get("contact"), /;transport=tcp\b/i);
  assert.equal(gw.ex.probe_reg_state(0), REGISTERED);
});

test("a configured name is never replaced by the names that messages bring", () => {
  // the core keeps MAX_NAMES names (16 on the gateway, 256 on the server board this probe is); 1,000 more
  // entered as message destinations would be (the proxy's Request-URIs) take every other slot in turn,
  // and the trunk's name still goes out
  const { sim, gw, alice } = setup(48);
  for (let k = 0; k < 1000; k++) assert.ok(gw.ex.probe_name_intern(k) > 0, `name ${k} kept`);
  new Ua(sim, SBC1, "sbc1", { proxy: GW, t1: T1, ring: 50, answer: 200 });
  const id = alice.invite("15551234", { hangupAfter: 500 });
  sim.run(sim.now + 3000);
  assert.deepEqual(alice.calls.get(id).finals, [200], sim.transcript());
  assert.equal(gw.nameSends.filter((s) => s.name === "carrier.test").length >= 1, true);
});
