// The transport of a request the proxy sends to a name, chosen by the host (RFC 3263 §4.1: NAPTR), the
// core's part in the deterministic simulator (proxy/park.ts, docs/ABI.md "Transport by DNS"). A request
// to a name whose URI names neither port nor transport waits, its 100 Trying sent, until the host answers
// sip_resolved with the protocol DNS prefers; here the simulator is the host and answers after a delay of
// the test's (net.mjs `protos`), the proxy listening on UDP and TCP (the simulator delivers TCP as
// datagrams; the Via says which transport the core chose).
//   chosen       TCP answered after 200 ms: the INVITE leaves then, its Via TCP, and the call completes;
//                a second answer for the same request changes nothing
//   none         the host knows no transport for the name (0): UDP, at once
//   cancel       the caller cancels while the request waits: 200 and 487 at once, and the host's late
//                answer sends nothing
//   failover     the first SRV target silent: after Timer B the request goes on to the second target
//                over the chosen transport
//   not asked    with NameTransport off (the default), or a URI naming its transport, or a port: no
//                question, the branch leaves at once as before
//   full         every slot (PARK_CAP, 64 on the server board) waiting: the next request goes over UDP
//                at once, not refused
//   relay        with the proxy's media relay, the INVITE that waited carries the relay's address and
//                has the same legs as one sent at once
//   micro        the micro board has no slots: NameTransport is NotInBuild there
import { test } from "node:test";
import assert from "node:assert/strict";
import { Sim, CoreNode } from "./net.mjs";
import { Raw, reply } from "./scripted.mjs";

const { CfgKey, CfgKind, CfgResult } = await import("../../host/firmware/abi.mjs");
const TCP = 2;
const PROXY = "127.0.0.1:5060";
const ALICE = "127.0.1.1:5060";
const BOB = "127.0.2.1:5060";
const BOB2 = "127.0.2.2:5060";
const T1 = 50; // Timer B: 3.2 s

function invite(ruri, callId, branch, sdp = "") {
  return [
    `INVITE ${ruri} SIP/2.0`,
    `Via: SIP/2.0/UDP ${ALICE};branch=${branch};rport`,
    "Max-Forwards: 70",
    "From: <sip:alice@127.0.0.1>;tag=a1",
    `To: <${ruri}>`,
    `Call-ID: ${callId}`,
    "CSeq: 1 INVITE",
    `Contact: <sip:alice@${ALICE}>`,
    ...(sdp ? ["Content-Type: application/sdp"] : []),
    `Content-Length: ${sdp.length}`,
    "",
    sdp,
  ].join("\r\n");
}

/** A request `method` of alice's matching INVITE text `inv` (CANCEL, or the ACK of a non-2xx). */
function sameTxn(inv, method) {
  const head = inv.split("\r\n");
  return [`${method} ${head[0].split(" ")[1]} SIP/2.0`, head[1], head[2], head[3], head[4], head[5], `CSeq: 1 ${method}`, "Content-Length: 0", "", ""].join("\r\n");
}

/** The proxy (server board unless given) on UDP and TCP, trusting alice's network, far.test's SRV
 * targets BOB then BOB2; `protos` the host's answers. */
function setup({ board = "server", protos = { "far.test": [TCP, 200] }, nameTransport = 1, relay = false } = {}) {
  const sim = new Sim({ seed: 11, latency: [2, 4] });
  const set = { ...(nameTransport ? { NameTransport: nameTransport } : {}), ...(relay ? { MediaRelay: 1, RelayPortMin: 20000, RelayPortMax: 20063 } : {}) };
  const proxy = new CoreNode(sim, PROXY, { board, domains: ["127.0.0.1"], tcp: true, trusted: ["127.0.1.0/24"],
    timers: { t1: T1 }, names: { "far.test": [BOB, BOB2] }, protos, set });
  if (relay) assert.equal(proxy.cfgAdd(CfgKind.RelayAddress, "127.0.0.40"), 0, "relay address");
  const alice = new Raw(sim, ALICE, PROXY);
  const bob = new Raw(sim, BOB, PROXY);
  return { sim, proxy, alice, bob };
}

const topVia = (m) => m.get("via");

test("the host's transport for a name: the INVITE waits for it (its 100 sent), leaves over TCP when it comes, and the call completes", () => {
  const { sim, proxy, alice, bob } = setup();
  const t0 = sim.now;
  alice.send(invite("sip:bob@far.test", "nt-1", "z9hG4bKnt1"));
  sim.run(t0 + 100);
  assert.equal(alice.of("SIP/2.0 100").length, 1, "our 100 while the request waits");
  assert.equal(bob.got.length, 0, "nothing sent before the host answered");
  assert.deepEqual(proxy.resolves.map((r) => [r.name, r.family, r.port]), [["far.test", 0, 0]], "one question: the name, as a peer record");

  sim.run(t0 + 300);
  const fwd = bob.of("INVITE");
  assert.equal(fwd.length, 1, "the INVITE once the host answered");
  assert.match(topVia(fwd[0]), /^SIP\/2\.0\/TCP 127\.0\.0\.1:5060;branch=z9hG4bK/, "our Via names the chosen transport");
  assert.match(fwd[0].first, /^INVITE sip:bob@far\.test SIP\/2\.0$/, "the Request-URI unchanged");

  // the same answer again, or for a request the core never asked about: nothing more is sent
  proxy.ex.sip_resolved(sim.now, proxy.resolves[0].id, TCP);
  proxy.ex.sip_resolved(sim.now, 0x01000000 | 5, TCP);
  proxy.drain();
  sim.run(sim.now + 20);
  assert.equal(bob.of("INVITE").length, 1);

  reply(bob, fwd[0], 200, "OK", "b1");
  sim.run(sim.now + 50);
  assert.equal(alice.of("SIP/2.0 200").length, 1, "the 200 reaches alice");
});

test("the host names no transport for the name (0): the INVITE goes over UDP at once", () => {
  const { sim, proxy, alice, bob } = setup({ protos: {} });
  alice.send(invite("sip:bob@far.test", "nt-2", "z9hG4bKnt2"));
  sim.run(sim.now + 30);
  assert.equal(proxy.resolves.length, 1, "asked");
  const fwd = bob.of("INVITE");
  assert.equal(fwd.length, 1);
  assert.match(topVia(fwd[0]), /^SIP\/2\.0\/UDP /);
});

test("CANCEL while the request waits for its transport: 200 and 487 at once; the host's late answer sends nothing", () => {
  const { sim, proxy, alice, bob } = setup({ protos: { "far.test": [TCP, 2000] } });
  const inv = invite("sip:bob@far.test", "nt-3", "z9hG4bKnt3");
  alice.send(inv);
  sim.run(sim.now + 500);
  assert.equal(proxy.resolves.length, 1);
  alice.send(sameTxn(inv, "CANCEL"));
  sim.run(sim.now + 50);
  assert.equal(alice.of("SIP/2.0 200").length, 1, "200 to the CANCEL");
  const final = alice.got.filter((m) => /^SIP\/2\.0 [2-6]/.test(m.first) && m.get("cseq") === "1 INVITE");
  assert.deepEqual(final.map((m) => m.first), ["SIP/2.0 487 Request Terminated"]);
  alice.send(sameTxn(inv, "ACK"));
  sim.run(sim.now + 6000); // the host's answer at 2 s, then the transactions' timers (Timer I: T4, 5 s)
  assert.equal(bob.got.length, 0, "no INVITE and no CANCEL toward far.test");
  assert.equal(proxy.stat("txnInUse"), 0, "every transaction ended");
});

test("failover after the host's choice: the first SRV target silent, the INVITE goes on to the second over TCP after Timer B", () => {
  const { sim, proxy, alice, bob } = setup();
  const bob2 = new Raw(sim, BOB2, PROXY);
  const t0 = sim.now;
  alice.send(invite("sip:bob@far.test", "nt-4", "z9hG4bKnt4"));
  sim.run(t0 + 64 * T1 + 400);
  assert.ok(bob.of("INVITE").length >= 1, "the first target got it (and its retransmissions)");
  const second = bob2.of("INVITE");
  assert.equal(second.length, 1, "the second target once Timer B fired");
  assert.match(topVia(second[0]), /^SIP\/2\.0\/TCP /);
  assert.equal(proxy.resolves.length, 1, "the transport asked once per request");
  reply(bob2, second[0], 200, "OK", "b2");
  sim.run(sim.now + 50);
  assert.equal(alice.of("SIP/2.0 200").length, 1);
});

for (const [what, ruri, nameTransport] of [
  ["NameTransport off (the default)", "sip:bob@far.test", 0],
  ["a URI naming its transport", "sip:bob@far.test;transport=udp", 1],
  ["a URI naming its port", "sip:bob@far.test:5060", 1],
]) {
  test(`${what}: no question, the INVITE leaves at once over UDP`, () => {
    const { sim, proxy, alice, bob } = setup({ nameTransport });
    alice.send(invite(ruri, "nt-5", "z9hG4bKnt5"));
    sim.run(sim.now + 30);
    assert.equal(proxy.resolves.length, 0);
    const fwd = bob.of("INVITE");
    assert.equal(fwd.length, 1);
    assert.match(topVia(fwd[0]), /^SIP\/2\.0\/UDP /);
  });
}

test("every slot waiting (64 on the server board): the next request goes over UDP at once, not refused", () => {
  const { sim, proxy, alice, bob } = setup({ protos: { "far.test": [TCP, 5000] } });
  for (let i = 0; i < 65; i++) alice.send(invite("sip:bob@far.test", `nt-full-${i}`, `z9hG4bKfull${i}`));
  sim.run(sim.now + 200);
  assert.equal(proxy.resolves.length, 64, "64 waiting");
  assert.equal(alice.of("SIP/2.0 503").length, 0);
  const now = bob.of("INVITE");
  const first = [...new Set(now.map((m) => m.get("call-id")))];
  assert.equal(first.length, 1, `the last to arrive sent at once (with Timer A's copies): ${first}`);
  assert.ok(now.every((m) => /^SIP\/2\.0\/UDP /.test(topVia(m))));
  sim.run(sim.now + 5000);
  const tcp = new Set(bob.of("INVITE").filter((m) => /^SIP\/2\.0\/TCP /.test(topVia(m))).map((m) => m.get("call-id")));
  assert.equal(tcp.size, 64, "the 64 others over TCP once answered");
  assert.ok(!tcp.has(first[0]));
});

test("with the media relay: the INVITE that waited carries the relay's address and has the same legs as one sent at once", () => {
  const offer = "v=0\r\no=alice 1 1 IN IP4 127.0.1.1\r\ns=-\r\nc=IN IP4 127.0.1.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n";
  const runs = [1, 0].map((nameTransport) => {
    const { sim, proxy, alice, bob } = setup({ relay: true, nameTransport });
    alice.send(invite("sip:bob@far.test", "nt-relay", "z9hG4bKntr", offer));
    sim.run(sim.now + 300);
    const fwd = bob.of("INVITE");
    assert.ok(fwd.length >= 1, `nameTransport ${nameTransport}: forwarded`);
    return { via: topVia(fwd[0]), body: fwd[0].text.slice(fwd[0].text.indexOf("\r\n\r\n") + 4), legs: [...proxy.relayLegs.values()].map((r) => [r.leg, r.partner, r.port, r.peer]), asked: proxy.resolves.length };
  });
  const [waited, direct] = runs;
  assert.deepEqual([waited.asked, direct.asked], [1, 0]);
  assert.match(waited.via, /^SIP\/2\.0\/TCP /);
  assert.match(waited.body, /c=IN IP4 127\.0\.0\.40\r\n/, "the relay's address in the offer");
  assert.equal(waited.body, direct.body, "the same SDP as without the wait");
  assert.equal(waited.legs.length, 2, "the call's two legs");
  assert.deepEqual(waited.legs, direct.legs, "the same legs, ports and peers (the branch's own Open records repeat them)");
});

test("with the media relay, CANCEL while the request waits: its legs are closed, nothing reaches far.test", () => {
  const offer = "v=0\r\no=alice 1 1 IN IP4 127.0.1.1\r\ns=-\r\nc=IN IP4 127.0.1.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n";
  const { sim, proxy, alice, bob } = setup({ relay: true, protos: { "far.test": [TCP, 2000] } });
  const inv = invite("sip:bob@far.test", "nt-relay-cancel", "z9hG4bKntrc", offer);
  alice.send(inv);
  sim.run(sim.now + 300);
  assert.equal(proxy.relayLegs.size, 2, "the call's legs open while it waits");
  alice.send(sameTxn(inv, "CANCEL"));
  sim.run(sim.now + 3000);
  assert.equal(proxy.relayLegs.size, 0, "closed");
  assert.equal(bob.got.length, 0);
});

test("micro: NameTransport is NotInBuild; a request to a name goes over UDP at once", () => {
  const { sim, proxy, alice, bob } = setup({ board: "micro", nameTransport: 0 });
  assert.equal(proxy.ex.sip_cfg_set(CfgKey.NameTransport, 1), CfgResult.NotInBuild);
  assert.equal(proxy.ex.sip_cfg_set(CfgKey.NameTransport, 0), CfgResult.Ok);
  alice.send(invite("sip:bob@far.test", "nt-6", "z9hG4bKnt6"));
  sim.run(sim.now + 30);
  assert.equal(proxy.resolves.length, 0);
  assert.match(topVia(bob.of("INVITE")[0]), /^SIP\/2\.0\/UDP /);
});
