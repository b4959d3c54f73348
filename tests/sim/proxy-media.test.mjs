// The proxy's media relay (issue 14; assembly/proxy/media.ts): which calls the proxy anchors and their
// SDP rewritten as it passes, in the deterministic simulator, with the relay records a host gets read as
// a host reads them (docs/ABI.md "Media relay"). The core is the server board's release build (the
// proxy with its registrar; relay compiled in), alice and bob registered phones.
//   "always": alice's offer reaches bob with the relay's address and the bob-facing leg's port, every
//     other byte as she wrote it; bob's answer reaches alice with the alice-facing leg's port; each leg's
//     peer is its party's SDP address; the BYE closes both legs (several seeds, the 180 without SDP).
//   "never" (the default): SDP untouched, no relay record.
//   "nat": relayed only when a party is behind NAT: a private address in alice's SDP, alice's Contact
//     naming another address than she sends from, or bob registered from another address than his
//     Contact names; not relayed when nobody is.
//   a late offer (bob's 2xx offers, alice's ACK answers), a re-INVITE hold by bob (same ports, Held, the
//   long idle time), bad SDP (488, nothing to bob), no room (503, nothing to bob), the host's idle report
//   (legs closed, a call-end event with cause media-idle), and no Record-Route (nothing relayed).
//   forks: bob registered from two phones; the one that answers first keeps the callee's legs: the
//     other's reliable 180 with early SDP, before, around or after that 2xx (swept), and the other's own
//     2xx (passed to alice with its SDP as written, its dialog ended by alice without touching the legs).
import { test } from "node:test";
import assert from "node:assert/strict";
import { Sim, CoreNode } from "./net.mjs";
import { Ua } from "./ua.mjs";

const { CfgKind, RelayFlag, RelayReport } = await import("../../host/firmware/abi.mjs");

const PROXY = "127.0.0.1:5060";
const RELAY = "127.0.0.40";
const OFFER = "v=0\r\no=alice 1 1 IN IP4 127.0.0.2\r\ns=-\r\nc=IN IP4 127.0.0.2\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0 101\r\na=rtpmap:101 telephone-event/8000\r\na=x-unknown:keep me\r\n";
const ANSWER = "v=0\r\no=bob 7 7 IN IP4 127.0.0.3\r\ns=-\r\nc=IN IP4 127.0.0.3\r\nt=0 0\r\nm=audio 5000 RTP/AVP 0\r\n";
const MODE = { never: 0, always: 1, nat: 2 };

function setup(seed, { mode = "always", ports = [20000, 20063], board = "server", recordRoute = true, bob = {}, alice = {} } = {}) {
  const sim = new Sim({ seed, latency: [5, 20] });
  const proxy = new CoreNode(sim, PROXY, { board, domains: ["127.0.0.1"], recordRoute,
    set: { MediaRelay: MODE[mode], RelayPortMin: ports[0], RelayPortMax: ports[1], RelayIdle: 30, RelayHoldIdle: 7200 } });
  assert.equal(proxy.cfgAdd(CfgKind.RelayAddress, RELAY), 0, "relay address");
  const a = new Ua(sim, "127.0.0.2:5060", "alice", { proxy: PROXY, ...alice });
  const b = new Ua(sim, "127.0.0.3:5060", "bob", { proxy: PROXY, ring: 50, answer: 300, answerBody: ANSWER, ...bob });
  return { sim, proxy, alice: a, bob: b };
}

function register(sim, ...uas) {
  for (const u of uas) u.register();
  sim.run(sim.now + 1000);
  for (const u of uas) assert.equal(u.registered, 200, `${u.user} registered`);
}

const bodyOf = (m) => m.text.slice(m.text.indexOf("\r\n\r\n") + 4);
const opens = (p) => p.relayLog.filter((r) => r.op === "open");
const closes = (p) => p.relayLog.filter((r) => r.op === "close");
const uasCall = (u) => [...u.calls.values()].find((x) => x.role === "uas");
const rewritten = (sdp, from, port) => sdp.replaceAll(from, RELAY).replace(/m=audio \d+/, `m=audio ${port}`);

function settled(proxy, sim) {
  sim.run(sim.now + 60_000);
  assert.equal(proxy.stat("relayLegsInUse"), 0, "relay legs left");
  assert.equal(proxy.relayLegs.size, 0, "legs the host still has open");
  assert.equal(proxy.stat("txnInUse"), 0, `transactions left\n${sim.transcript()}`);
}

for (const seed of [11, 12, 13]) {
  test(`always: the offer and the answer through the relay, only c=, m= and o='s address rewritten; legs closed at the BYE (seed ${seed})`, () => {
    const { sim, proxy, alice, bob } = setup(seed);
    register(sim, alice, bob);
    const callId = alice.invite("bob", { hangupAfter: 3000, body: OFFER });
    sim.run(sim.now + 2000);
    const b = uasCall(bob);
    assert.ok(b, `the call reached bob\n${sim.transcript()}`);
    const o = opens(proxy);
    const aLeg = o.find((r) => r.peer === "127.0.0.2:4000");
    assert.ok(aLeg, `alice's leg opened with her offer's address: ${JSON.stringify(o)}`);
    const bLeg = o.find((r) => r.leg === aLeg.partner);
    assert.ok(bLeg && bLeg.partner === aLeg.leg, "bob's leg, its partner");
    assert.equal(aLeg.port, 20000 + 2 * aLeg.leg);
    assert.equal(aLeg.callId, callId, "the Call-ID, for the usage record");
    assert.equal(aLeg.idle, 30);
    assert.equal(bodyOf(b.st.msg), rewritten(OFFER, "127.0.0.2", bLeg.port), "bob got the relay's address and his leg's port");
    assert.equal(b.st.msg.get("content-length"), String(Buffer.byteLength(bodyOf(b.st.msg))));
    const d = [...alice.calls.get(callId).dialogs.values()][0];
    assert.equal(bodyOf(d.resp), rewritten(ANSWER, "127.0.0.3", aLeg.port), "alice got the relay's address and her leg's port");
    assert.equal(proxy.relayLegs.get(bLeg.leg).peer, "127.0.0.3:5000", "bob's leg learned its peer from the answer");
    assert.equal(proxy.stat("relayLegsInUse"), 2);
    sim.run(sim.now + 4000);
    assert.equal(d.bye, 200, "alice's BYE answered");
    assert.deepEqual(closes(proxy).map((r) => r.leg).sort(), [aLeg.leg, bLeg.leg].sort(), "both legs closed at the BYE");
    settled(proxy, sim);
  });
}

test("never (the default): SDP passes untouched, no relay record", () => {
  const { sim, proxy, alice, bob } = setup(21, { mode: "never" });
  register(sim, alice, bob);
  const callId = alice.invite("bob", { hangupAfter: 1000, body: OFFER });
  sim.run(sim.now + 3000);
  assert.equal(bodyOf(uasCall(bob).st.msg), OFFER);
  assert.equal(bodyOf([...alice.calls.get(callId).dialogs.values()][0].resp), ANSWER);
  assert.equal(proxy.relayLog.length, 0);
  settled(proxy, sim);
});

test("nat: relayed when a party is behind NAT (private SDP address, Contact or registration from elsewhere), not otherwise", () => {
  const cases = [
    { what: "nobody behind NAT", relayed: false },
    { what: "a private address in alice's SDP", relayed: true, offer: OFFER.replaceAll("127.0.0.2", "192.168.1.20") },
    { what: "alice's Contact names another address", relayed: true, aliceContact: "<sip:alice@127.0.0.99:5060>" },
    { what: "alice's Contact names another UDP port", relayed: true, aliceContact: "<sip:alice@127.0.0.2:5062>" },
    { what: "bob registered from another address than his Contact", relayed: true, bobContact: "<sip:bob@10.1.2.3:5060>" },
  ];
  let seed = 30;
  for (const c of cases) {
    const { sim, proxy, alice, bob } = setup(seed++, { mode: "nat" });
    if (c.bobContact) bob.contact = () => c.bobContact;
    register(sim, alice, bob);
    delete bob.contact; // the binding keeps the NAT-side Contact; the dialog uses a reachable one (no NAT here)
    if (c.aliceContact) alice.contact = () => c.aliceContact;
    const offer = c.offer ?? OFFER;
    alice.invite("bob", { hangupAfter: 1000, body: offer });
    sim.run(sim.now + 3000);
    const b = uasCall(bob);
    assert.ok(b, `${c.what}: the call reached bob\n${sim.transcript()}`);
    if (c.relayed) {
      assert.equal(opens(proxy).length >= 2, true, `${c.what}: relayed`);
      assert.match(bodyOf(b.st.msg), new RegExp(`^c=IN IP4 ${RELAY.replaceAll(".", "\\.")}\\r$`, "m"), c.what);
    } else {
      assert.equal(proxy.relayLog.length, 0, `${c.what}: not relayed`);
      assert.equal(bodyOf(b.st.msg), offer, c.what);
    }
    settled(proxy, sim);
  }
});

const LATE_OFFER = "v=0\r\no=bob 9 9 IN IP4 127.0.0.3\r\ns=-\r\nc=IN IP4 127.0.0.3\r\nt=0 0\r\nm=audio 5004 RTP/AVP 0 8\r\n";
const LATE_ANSWER = "v=0\r\no=alice 3 3 IN IP4 127.0.0.2\r\ns=-\r\nc=IN IP4 127.0.0.2\r\nt=0 0\r\nm=audio 4004 RTP/AVP 0\r\n";
test("late offer: bob's offer in the 2xx and alice's answer in the ACK, both through the relay", () => {
  const { sim, proxy, alice, bob } = setup(41, { alice: { ackBody: LATE_ANSWER }, bob: { answerBody: LATE_OFFER } });
  register(sim, alice, bob);
  const callId = alice.invite("bob", { hangupAfter: 2000 });
  sim.run(sim.now + 1500);
  const a = alice.calls.get(callId);
  assert.deepEqual(a.finals, [200], sim.transcript());
  const b = uasCall(bob);
  assert.equal(bodyOf(b.st.msg), "", "the INVITE has no SDP");
  assert.ok(b.ack2xx, `bob's 2xx was ACKed\n${sim.transcript()}`);
  const legs = [...proxy.relayLegs.values()];
  assert.equal(legs.length, 2, JSON.stringify(proxy.relayLog));
  const toBob = legs.find((r) => r.peer === "127.0.0.3:5004");
  const toAlice = legs.find((r) => r.peer === "127.0.0.2:4004");
  assert.ok(toBob && toAlice, `each leg knows its party: ${JSON.stringify(legs)}`);
  const d = [...a.dialogs.values()][0];
  assert.equal(bodyOf(d.resp), rewritten(LATE_OFFER, "127.0.0.3", toAlice.port));
  assert.equal(bodyOf(b.ack2xx), rewritten(LATE_ANSWER, "127.0.0.2", toBob.port));
  sim.run(sim.now + 4000);
  assert.equal(d.bye, 200);
  settled(proxy, sim);
});

test("early offer and answer: bob's reliable 180 offers (alice's INVITE had none), alice's PRACK answers in the early dialog: both through the relay", () => {
  for (const seed of [21, 22, 23]) {
    const { sim, proxy, alice, bob } = setup(seed, { alice: { prack: true, prackBody: OFFER }, bob: { reliable: true, earlyBody: ANSWER, answerBody: "" } });
    register(sim, alice, bob);
    const callId = alice.invite("bob", { hangupAfter: 3000, headers: ["Supported: 100rel"] });
    sim.run(sim.now + 2000);
    const a = alice.calls.get(callId);
    const b = uasCall(bob);
    assert.ok(b?.prackMsgs?.length === 1, `bob got alice's PRACK\n${sim.transcript()}`);
    const o = opens(proxy);
    const bLeg = o.find((r) => r.peer === "127.0.0.3:5000");
    assert.ok(bLeg, `bob's leg opened with his early offer's address: ${JSON.stringify(o)}`);
    const aLeg = o.find((r) => r.leg === bLeg.partner);
    assert.ok(aLeg, "alice's leg, its partner");
    const ringing = a.provisionalMsgs.find((m) => m.status === 180);
    assert.equal(bodyOf(ringing), rewritten(ANSWER, "127.0.0.3", aLeg.port), `alice got bob's offer with the relay's address and her leg's port (seed ${seed})`);
    assert.equal(bodyOf(b.prackMsgs[0]), rewritten(OFFER, "127.0.0.2", bLeg.port), `bob got alice's PRACK answer with the relay's address and his leg's port (seed ${seed})`);
    assert.equal(proxy.relayLegs.get(aLeg.leg).peer, "127.0.0.2:4000", "alice's leg learned its peer from her PRACK");
    sim.run(sim.now + 4000);
    settled(proxy, sim);
  }
});

test("bob holds and resumes by re-INVITE: the same relay ports, Held and the long idle time while held", () => {
  const { sim, proxy, alice, bob } = setup(51);
  register(sim, alice, bob);
  const callId = alice.invite("bob", { hangupAfter: null, body: OFFER });
  sim.run(sim.now + 1500);
  const a = alice.calls.get(callId);
  const d = [...a.dialogs.values()][0];
  const first = bodyOf(d.resp);
  const hold = ANSWER.replace("o=bob 7 7", "o=bob 7 8") + "a=sendonly\r\n";
  bob.uasReinvite(callId, hold);
  sim.run(sim.now + 1500);
  const got = a.reinvites?.[0] ?? null;
  assert.ok(got, `alice got bob's re-INVITE\n${sim.transcript()}`);
  assert.equal(bodyOf(got), first.replace("o=bob 7 7", "o=bob 7 8") + "a=sendonly\r\n", "the same relay port; only what bob changed changed");
  const legs = [...proxy.relayLegs.values()];
  assert.equal(legs.length, 2);
  for (const r of legs) {
    assert.equal(r.flags & RelayFlag.Held, RelayFlag.Held, "held");
    assert.equal(r.idle, 7200, "RelayHoldIdle while held");
  }
  bob.uasReinvite(callId, ANSWER.replace("o=bob 7 7", "o=bob 7 9"));
  sim.run(sim.now + 1500);
  for (const r of proxy.relayLegs.values()) {
    assert.equal(r.flags & RelayFlag.Held, 0, "resumed");
    assert.equal(r.idle, 30);
  }
  assert.equal(closes(proxy).length, 0, "no leg closed on hold or resume");
  alice.bye(a, d);
  sim.run(sim.now + 2000);
  settled(proxy, sim);
});

test("SDP that does not parse: 488 to alice, nothing to bob, no leg taken", () => {
  const { sim, proxy, alice, bob } = setup(61);
  register(sim, alice, bob);
  const callId = alice.invite("bob", { body: "v=0\r\no=a 1 IN IP4 127.0.0.2\r\ns=-\r\nc=IN IP4 127.0.0.2\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n" });
  sim.run(sim.now + 3000);
  assert.deepEqual(alice.calls.get(callId).finals, [488], sim.transcript());
  assert.equal(uasCall(bob), undefined, "nothing reached bob");
  assert.equal(proxy.relayLog.length, 0);
  settled(proxy, sim);
});

test("no free leg: the second call gets 503 and reaches no one; the first keeps its media", () => {
  const { sim, proxy, alice, bob } = setup(71, { ports: [20000, 20003] }); // two pairs: one call
  register(sim, alice, bob);
  const first = alice.invite("bob", { hangupAfter: 4000, body: OFFER });
  sim.run(sim.now + 1000);
  const second = alice.invite("bob", { body: OFFER });
  sim.run(sim.now + 1000);
  assert.deepEqual(alice.calls.get(second).finals, [503], "no room in the relay");
  assert.equal([...bob.calls.values()].filter((x) => x.role === "uas").length, 1, "only the first call reached bob");
  assert.deepEqual(alice.calls.get(first).finals, [200]);
  assert.equal(proxy.relayLegs.size, 2);
  sim.run(sim.now + 5000);
  settled(proxy, sim);
  const third = alice.invite("bob", { hangupAfter: 500, body: OFFER });
  sim.run(sim.now + 3000);
  assert.deepEqual(alice.calls.get(third).finals, [200], "the legs are free again");
  settled(proxy, sim);
});

test("the host reports a leg idle: the call's legs closed and a call-end event with cause media-idle; the BYE still passes", () => {
  const { sim, proxy, alice, bob } = setup(81);
  register(sim, alice, bob);
  const callId = alice.invite("bob", { hangupAfter: null, body: OFFER });
  sim.run(sim.now + 1500);
  const a = alice.calls.get(callId);
  const d = [...a.dialogs.values()][0];
  const leg = [...proxy.relayLegs.keys()][0];
  proxy.ex.sip_relay_report(sim.now, leg, RelayReport.Idle);
  proxy.drain();
  assert.equal(closes(proxy).length, 2, "both legs closed");
  const end = proxy.eventLog.filter((e) => e.name === "call-end");
  assert.equal(end.length, 1, JSON.stringify(proxy.eventLog.map((e) => e.name)));
  assert.equal(end[0].texts[2], callId);
  assert.equal(end[0].texts[3], "media-idle");
  alice.bye(a, d);
  sim.run(sim.now + 2000);
  assert.equal(d.bye, 200, "the BYE is routed as before");
  settled(proxy, sim);
});

test("without Record-Route nothing is relayed (the BYE would not come through us)", () => {
  const { sim, proxy, alice, bob } = setup(91, { recordRoute: false });
  register(sim, alice, bob);
  alice.invite("bob", { hangupAfter: 1000, body: OFFER });
  sim.run(sim.now + 3000);
  assert.equal(bodyOf(uasCall(bob).st.msg), OFFER);
  assert.equal(proxy.relayLog.length, 0);
  settled(proxy, sim);
});

// Relay interfaces (rtpengine's interface=): the party's network (RelayAddress "net IFACE CIDR") picks
// the interface of its legs; the SDP each party gets names its own interface's advertised address.
const INSIDE = "127.0.0.41";
test("interfaces: bob's network maps to interface 1: his legs on it and his SDP names its address; alice keeps the first", () => {
  const { sim, proxy, alice, bob } = setup(81);
  assert.equal(proxy.cfgAdd(CfgKind.RelayAddress, `1 ${INSIDE}`), 0, "interface 1's address");
  assert.equal(proxy.cfgAdd(CfgKind.RelayAddress, "net 1 127.0.0.3/32"), 0, "bob's network");
  assert.equal(proxy.cfgAdd(CfgKind.RelayAddress, "net 1 10.0.0.0/8"), 0, "a second network");
  for (const bad of ["net 1 127.0.0.3/33", "net 4 127.0.0.3", "net 1", "net x 10.0.0.0/8", "4 127.0.0.42", "1 127.0.0.x"])
    assert.equal(proxy.cfgAdd(CfgKind.RelayAddress, bad), -2, `refused: ${bad}`);
  register(sim, alice, bob);
  const callId = alice.invite("bob", { hangupAfter: 3000, body: OFFER });
  sim.run(sim.now + 2000);
  const b = uasCall(bob);
  assert.ok(b, `the call reached bob\n${sim.transcript()}`);
  const o = opens(proxy);
  const aLeg = o.find((r) => r.peer === "127.0.0.2:4000");
  assert.ok(aLeg, JSON.stringify(o));
  const bLeg = o.find((r) => r.leg === aLeg.partner);
  assert.equal(aLeg.iface, 0, "alice's leg on the first interface");
  assert.equal(bLeg.iface, 1, "bob's leg on interface 1");
  assert.equal(bodyOf(b.st.msg), OFFER.replaceAll("127.0.0.2", INSIDE).replace(/m=audio \d+/, `m=audio ${bLeg.port}`), "bob got interface 1's address");
  const d = [...alice.calls.get(callId).dialogs.values()][0];
  assert.equal(bodyOf(d.resp), rewritten(ANSWER, "127.0.0.3", aLeg.port), "alice got the first interface's address");
  sim.run(sim.now + 4000);
  assert.equal(d.bye, 200);
  settled(proxy, sim);
  // the next call's caller is bob (his network): the interfaces follow the parties, not the roles
  const callId2 = bob.invite("alice", { hangupAfter: 2000, body: ANSWER.replace("o=bob 7 7", "o=bob 8 8") });
  sim.run(sim.now + 1500);
  const a = uasCall(alice);
  assert.ok(a, `the call reached alice\n${sim.transcript()}`);
  const o2 = opens(proxy).filter((r) => r.callId === callId2);
  const bobLeg = o2.find((r) => r.peer === "127.0.0.3:5000");
  assert.ok(bobLeg, JSON.stringify(o2));
  assert.equal(bobLeg.iface, 1, "bob's leg on interface 1 when he calls");
  assert.equal(o2.find((r) => r.leg === bobLeg.partner).iface, 0, "alice's leg on the first");
  assert.match(bodyOf(a.st.msg), /c=IN IP4 127\.0\.0\.40\r\n/, "alice got the first interface's address");
  settled(proxy, sim);
});

const EARLY1 = "v=0\r\no=bob1 3 3 IN IP4 127.0.0.13\r\ns=-\r\nc=IN IP4 127.0.0.13\r\nt=0 0\r\nm=audio 6000 RTP/AVP 0\r\n";

/** Alice calling bob, who is registered from bob (127.0.0.3, `second`) and bob1 (127.0.0.13, `first`). */
function forked(seed, first, second) {
  const { sim, proxy, alice, bob } = setup(seed, { alice: { prack: true }, bob: second });
  const bob1 = new Ua(sim, "127.0.0.13:5060", "bob", { proxy: PROXY, ...first });
  register(sim, alice, bob, bob1);
  const seen = []; // { from, to, text } of every message sent from now on
  sim.filter = (from, to, text) => (seen.push({ from, to, text }), true);
  const callId = alice.invite("bob", { hangupAfter: 3000, body: OFFER, headers: ["Supported: 100rel"] });
  sim.run(sim.now + 1500);
  const aLeg = opens(proxy).find((r) => r.peer === "127.0.0.2:4000");
  assert.ok(aLeg, `alice's leg\n${sim.transcript()}`);
  return { sim, proxy, alice, bob1, seen, call: alice.calls.get(callId), aLeg, bLeg: () => proxy.relayLegs.get(aLeg.partner) };
}

test("forks: the other phone's early SDP before, around or after the answer: the callee's legs stay with the phone that answered", () => {
  // bob answers 200 after 100 ms; bob1 rings reliably with early SDP after `ring` ms, crossing bob's 200
  // at some of them (a 180 after the 2xx reaches the proxy before its CANCEL reaches bob1)
  let after = 0;
  for (const ring of [60, 90, 100, 110, 120, 130, 140, 400]) for (const seed of [31, 32, 33]) {
    const { sim, proxy, call, bLeg, seen } = forked(seed, { ring, reliable: true, earlyBody: EARLY1, answer: null }, { ring: null, answer: 100 });
    const what = `ring ${ring}, seed ${seed}`;
    assert.deepEqual(call.finals, [200], what);
    assert.equal(bLeg()?.peer, "127.0.0.3:5000", `${what}: the callee's leg points at the phone that answered\n${sim.transcript()}`);
    const toAlice = (e) => e.from === PROXY && e.to === "127.0.0.2:5060";
    const answeredAt = seen.findIndex((e) => toAlice(e) && e.text.startsWith("SIP/2.0 200") && / INVITE\r\n/.test(e.text));
    assert.ok(answeredAt >= 0, what);
    const late = seen.slice(answeredAt + 1).filter((e) => e.from === PROXY && e.to === "127.0.0.2:5060" && e.text.startsWith("SIP/2.0 18"));
    assert.deepEqual(late.map((e) => e.text.split("\r\n")[0]), [], `${what}: no 18x to alice after her 200`);
    if (seen.some((e, k) => k > answeredAt && e.from === "127.0.0.13:5060" && e.text.startsWith("SIP/2.0 180"))) after++;
    sim.run(sim.now + 4000);
    settled(proxy, sim);
  }
  assert.ok(after >= 3, `bob1's 180 reached the proxy after alice's 200 in ${after} runs`);
});

for (const seed of [34, 35, 36, 37]) {
  test(`forks: both phones answer: the legs follow the first 2xx; the other's passes with its own SDP and its BYE leaves the legs (seed ${seed})`, () => {
    const { sim, proxy, call, aLeg, bLeg } = forked(seed, { ring: null, answer: 100, answerBody: EARLY1 }, { ring: null, answer: 100 });
    assert.equal(call.dialogs.size, 2, `two 2xx reached alice\n${sim.transcript()}`);
    const [kept, extra] = [...call.dialogs.values()];
    const keptAddr = /o=bob1 /.test(kept.resp.text) ? "127.0.0.13:6000" : "127.0.0.3:5000";
    assert.equal(bLeg().peer, keptAddr, "the callee's leg points at the phone whose 2xx came first");
    assert.match(bodyOf(kept.resp), new RegExp(`c=IN IP4 ${RELAY}\r\nt=0 0\r\nm=audio ${aLeg.port} `), "the first 2xx through the relay");
    assert.ok(!bodyOf(extra.resp).includes(RELAY), "the other 2xx with its own SDP");
    assert.equal(extra.bye, 200, "alice ended the other dialog");
    assert.equal(proxy.relayLegs.size, 2, "and the call's legs stay open");
    sim.run(sim.now + 4000);
    assert.equal(kept.bye, 200);
    settled(proxy, sim);
  });
}


for (const seed of [38, 39, 40]) {
  test(`forks: the phone whose answer was in its reliable 180 answers 200 without SDP after the other phone's early SDP: the callee's legs point back at it (seed ${seed})`, () => {
    // bob1 rings reliably at 50 ms with its answer (EARLY1), bob at 150 ms with his (ANSWER: the legs
    // follow him, early media from the last to ring), then bob1 answers at 400 ms with no SDP (RFC 3264:
    // its answer stands); bob never answers and is cancelled
    const { sim, proxy, call, aLeg, bLeg } = forked(seed,
      { ring: 50, reliable: true, earlyBody: EARLY1, answer: 400, answerBody: "" },
      { ring: 150, reliable: true, earlyBody: ANSWER, answer: null });
    assert.deepEqual(call.finals, [200], sim.transcript());
    const early = call.provisionalMsgs.filter((m) => m.status === 180);
    assert.equal(early.length, 2, "both phones' reliable 180s reached alice");
    for (const m of early) assert.match(bodyOf(m), new RegExp(`c=IN IP4 ${RELAY}\r\nt=0 0\r\nm=audio ${aLeg.port} `), "each through the relay");
    assert.equal(bLeg()?.peer, "127.0.0.13:6000", `the callee's leg points at bob1, who answered\n${sim.transcript()}`);
    sim.run(sim.now + 4000);
    settled(proxy, sim);
  });
}

test("forks: a phone that answers 200 without SDP and without any early SDP of its own (RFC 3264 broken) does not point the callee's legs at the caller's offer", () => {
  // bob1 answers at 100 ms, no 18x, no SDP; bob rang reliably with his answer at 50 ms
  const { sim, proxy, call, bLeg } = forked(41,
    { ring: null, answer: 100, answerBody: "" },
    { ring: 50, reliable: true, earlyBody: ANSWER, answer: null });
  assert.deepEqual(call.finals, [200], sim.transcript());
  assert.equal(bLeg()?.peer, "127.0.0.3:5000", `the legs stay where bob's early SDP put them, not at the offer's address\n${sim.transcript()}`);
  sim.run(sim.now + 4000);
  settled(proxy, sim);
});
