// The B2BUA (assembly/b2bua/call.ts) in the deterministic simulator: a core (the probe build, in B2BUA
// mode) between a registrar side (its own registrar; alice registers there) and a trunk side (a service
// provider's peer, `carrier`, at a configured address). Every scenario runs for several seeds.
//   phone → trunk, answered: the B leg is a new call (its own Call-ID, tags, Via, Contact; none of
//     alice's addresses), Max-Forwards one less, unknown headers and the SDP passed through both ways;
//     alice's BYE is answered and carried to the carrier; every table empty at the end.
//   the carrier hangs up: its BYE is answered and carried to alice.
//   CANCEL while ringing: 200 and 487 to alice, CANCEL to the carrier, its 487 ACKed.
//   the carrier refuses (486), never answers (408 at 64·T1), or challenges (503: not alice's to answer).
//   trunk → phone: the carrier's call reaches alice where she registered from.
//   strangers: an unregistered caller, and a registered user's name from another address, get 403 and
//   nothing reaches the carrier; a call from an address that is no trunk gets 403 too.
//   no room: a third concurrent call gets 503 (the probe build holds two).
//   re-INVITE glare (sweeps of the two re-INVITEs' offset, both call directions): 491s relayed, both ends retry per §14.1,
//     both offers answered, CSeqs in order on each leg.
//   a BYE crossing a re-INVITE (a sweep, each direction): the re-INVITE ends 200, 487 or 481, both legs
//     end, nothing is sent after the call.
//   glare on a lossy network: the same outcome through retransmissions (a lost ACK of ours re-sent);
//     a 2xx retransmitted after our ACK was lost is ACKed, never taken for the next request's answer.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Sim, CoreNode, peerRecord } from "./net.mjs";
import { Ua, parse as parseMsg } from "./ua.mjs";

const GW = "127.0.0.4:5060";
const CARRIER = "127.0.0.5:5060";
const SILENT = "127.0.0.9:5060"; // nothing attached: what is sent there vanishes
const SEEDS = [41, 42, 43, 44, 45, 46];
const SDP_OFFER = "v=0\r\no=alice 1 1 IN IP4 127.0.0.2\r\ns=-\r\nc=IN IP4 127.0.0.2\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n";
const SDP_ANSWER = "v=0\r\no=carrier 7 7 IN IP4 127.0.0.5\r\ns=-\r\nc=IN IP4 127.0.0.5\r\nt=0 0\r\nm=audio 5000 RTP/AVP 0\r\n";

/**
 * Side s of the B2BUA core: role 1 registrar / 2 trunk, the side its calls go to, host text, trunk
 * address, credentials [user, password] for its proxy's challenges.
 */
function side(gw, s, role, route, host, peer, creds = ["", ""]) {
  const ex = gw.ex;
  const base = ex.probe_scratch_ptr() >>> 0;
  const mem = gw.mem();
  const h = Buffer.from(host, "latin1");
  mem.set(h, base);
  let p = 0;
  if (peer) {
    const [a, port] = peer.split(":");
    p = base + 128;
    mem.set(peerRecord(a, Number(port)), p);
  }
  const [u, pw] = creds.map((x) => Buffer.from(x, "latin1"));
  mem.set(u, base + 192);
  mem.set(pw, base + 256);
  assert.equal(ex.probe_b2bua_side(s, role, route, base, h.length, p, base + 192, u.length, base + 256, pw.length), 1, `side ${s}`);
}

function setup(seed, { trunk = CARRIER, carrier = {}, alice = {}, creds, net = {} } = {}) {
  const sim = new Sim({ seed, latency: [5, 20], ...net });
  const gw = new CoreNode(sim, GW, { probe: true, domains: ["127.0.0.4"] });
  gw.ex.probe_b2bua_on(1);
  side(gw, 0, 1, 1, "127.0.0.4");
  side(gw, 1, 2, 0, trunk, trunk, creds);
  const a = new Ua(sim, "127.0.0.2:5060", "alice", { proxy: GW, ring: 50, answer: 300, ...alice });
  const c = new Ua(sim, CARRIER, "carrier", { proxy: GW, domain: "127.0.0.4", ring: 50, answer: 400,
    answerHeaders: ["X-Carrier-Trace: abc;hop=1"], answerBody: SDP_ANSWER, ...carrier });
  a.register();
  sim.run(sim.now + (net.loss ? 5000 : 500));
  assert.equal(a.registered, 200, "alice registered at the B2BUA's registrar");
  return { sim, gw, alice: a, carrier: c };
}

const lines = (sim, from, to, prefix) => sim.log.filter(([, f, t, l]) => f === from && t === to && l.startsWith(prefix));

/** Every table of the B2BUA and its user agent is empty again. */
function idle(gw, sim) {
  assert.equal(gw.ex.probe_b2bua_calls(), 0, `B2BUA calls left\n${sim.transcript()}`);
  assert.equal(gw.ex.probe_uas_calls(), 0, "server-core calls left");
  assert.equal(gw.ex.probe_ua_in_use(), 0, "dialogs left");
  assert.equal(gw.ex.probe_tu_timers(), 0, "TU timers left");
  assert.equal(gw.ex.probe_uac_slots(), 0, "client-core slots left");
}

/** Alice hangs up call dialog d (her BYE answered 200 within `ms`); then every table is empty and
 * neither end saw a message it could not match. */
function aliceHangsUp({ sim, gw, alice, carrier }, a, d, ms = 5000) {
  alice.bye(a, d);
  sim.run(sim.now + ms);
  assert.equal(d.bye, 200, `alice's BYE answered\n${sim.transcript()}`);
  idle(gw, sim);
  assert.deepEqual(alice.stray, []);
  assert.deepEqual(carrier.stray, []);
}

/** The one call the carrier received, with the INVITE it got. */
function carrierCall(carrier) {
  const calls = [...carrier.calls.values()].filter((c) => c.role === "uas");
  assert.equal(calls.length, 1, "one call reached the carrier");
  return calls[0];
}

for (const seed of SEEDS) {
  test(`phone → trunk, answered: a new call on the B leg, headers and SDP passed through, alice's BYE carried (seed ${seed})`, () => {
    const { sim, gw, alice, carrier } = setup(seed);
    const callId = alice.invite("+15551234", { hangupAfter: 3000, body: SDP_OFFER, headers: ["X-Account: 42;tier=gold", "Subject: hello"] });
    sim.run(sim.now + 10_000);
    const a = alice.calls.get(callId);
    assert.deepEqual(a.finals, [200], `alice's call answered\n${sim.transcript()}`);
    assert.ok(a.provisionals >= 1, "alice heard the ringing");
    const b = carrierCall(carrier);
    const inv = b.st.msg;
    // the B leg is the B2BUA's own call
    assert.equal(inv.ruri, "sip:+15551234@127.0.0.5:5060");
    assert.notEqual(inv.callId, callId, "a Call-ID of its own");
    const head = inv.text.split("\r\n\r\n")[0];
    assert.ok(!head.includes("127.0.0.2"), `none of alice's addresses in the trunk side's headers (the SDP passes unchanged: no media relay here):\n${inv.text}`);
    assert.ok(!inv.text.includes(a.invite.fromTag), "nor her tag");
    assert.match(inv.get("from"), /^<sip:alice@127\.0\.0\.5:5060>;tag=/);
    assert.equal(inv.get("to"), "<sip:+15551234@127.0.0.5:5060>");
    assert.equal(inv.all("via").length, 1, "one Via: ours");
    assert.match(inv.all("via")[0], /^SIP\/2\.0\/UDP 127\.0\.0\.4:5060;branch=z9hG4bK/);
    assert.equal(inv.get("contact"), "<sip:127.0.0.4:5060>");
    assert.equal(inv.get("max-forwards"), "69", "one hop spent");
    // what passes through: unknown headers with their parameters, Subject, the body
    assert.equal(inv.get("x-account"), "42;tier=gold");
    assert.equal(inv.get("subject"), "hello");
    assert.equal(inv.get("content-type"), "application/sdp");
    assert.ok(inv.text.endsWith(`\r\n\r\n${SDP_OFFER}`), "the offer byte for byte");
    assert.equal(inv.get("content-length"), String(Buffer.byteLength(SDP_OFFER)));
    // the answer back on the A leg: our tag and Contact, the carrier's headers and SDP, nothing of its addresses
    const d = [...a.dialogs.values()][0];
    const ok = d.resp;
    assert.equal(ok.callId, callId);
    assert.equal(ok.get("contact"), "<sip:127.0.0.4:5060>");
    assert.equal(ok.get("x-carrier-trace"), "abc;hop=1");
    assert.ok(ok.text.endsWith(`\r\n\r\n${SDP_ANSWER}`), "the answer byte for byte");
    assert.ok(!ok.text.split("\r\n\r\n")[0].includes("127.0.0.5"), `none of the carrier's addresses in alice's side's headers:\n${ok.text}`);
    assert.ok(!ok.text.includes(b.st.tag), "nor its tag");
    assert.equal(b.ackFor2xx >= 1, true, "the B2BUA ACKed the carrier's 2xx");
    // alice hangs up at +3 s: 200 to her, BYE to the carrier
    assert.equal(d.bye, 200, "alice's BYE answered");
    assert.equal(b.byes, 1, "the BYE reached the carrier");
    idle(gw, sim);
    assert.deepEqual(alice.stray, []);
    assert.deepEqual(carrier.stray, []);
  });

  test(`the carrier hangs up: its BYE answered and carried to alice (seed ${seed})`, () => {
    const { sim, gw, alice, carrier } = setup(seed);
    const callId = alice.invite("5550000", { hangupAfter: null });
    sim.run(sim.now + 2000);
    const b = carrierCall(carrier);
    assert.equal(b.sentFinal, 200);
    assert.equal(carrier.uasBye(b.callId), true);
    sim.run(sim.now + 5000);
    assert.equal(b.byeSent, 200, "the carrier's BYE answered");
    const d = [...alice.calls.get(callId).dialogs.values()][0];
    assert.equal(d.bye, "received", "alice got a BYE in her dialog");
    assert.equal(alice.calls.get(callId).byes, 1);
    idle(gw, sim);
    assert.deepEqual(alice.stray, []);
  });

  test(`CANCEL while ringing: 487 to alice, CANCEL to the carrier, its 487 ACKed (seed ${seed})`, () => {
    const { sim, gw, alice, carrier } = setup(seed, { carrier: { answer: 5000 } });
    const callId = alice.invite("5550001", { cancelAfterRinging: 100 });
    sim.run(sim.now + 10_000);
    const a = alice.calls.get(callId);
    assert.equal(a.cancelStatus, 200);
    assert.deepEqual(a.finals, [487]);
    const b = carrierCall(carrier);
    assert.equal(b.cancels, 1, "the CANCEL reached the carrier");
    assert.equal(b.sentFinal, 487);
    assert.equal(b.ackForFinal, 1, "its 487 ACKed by the B2BUA");
    idle(gw, sim);
  });

  test(`the carrier's failures mapped: 486 passes, 407 is 503, silence is 408 (seed ${seed})`, () => {
    for (const [status, mapped] of [[486, 486], [407, 503]]) {
      const { sim, gw, alice, carrier } = setup(seed, { carrier: { status, answer: 100 } });
      const callId = alice.invite("5550002");
      sim.run(sim.now + 5000);
      assert.deepEqual(alice.calls.get(callId).finals, [mapped]);
      assert.equal(carrierCall(carrier).ackForFinal, 1, "the carrier's final ACKed");
      idle(gw, sim);
    }
    {
      const { sim, gw, alice } = setup(seed, { trunk: SILENT, alice: { t1: 1000 } });
      const callId = alice.invite("5550003");
      sim.run(sim.now + 40_000);
      assert.deepEqual(alice.calls.get(callId).finals, [408], "B leg's Timer B: 408 to alice");
      idle(gw, sim);
    }
  });

  test(`trunk → phone: the carrier's call reaches alice where she registered; the carrier hangs up (seed ${seed})`, () => {
    const { sim, gw, alice, carrier } = setup(seed, { alice: { ring: 50, answer: 200 } });
    const callId = carrier.invite("alice", { hangupAfter: 2000, body: SDP_OFFER.replaceAll("alice", "carrier") });
    sim.run(sim.now + 6000);
    const c = carrier.calls.get(callId);
    assert.deepEqual(c.finals, [200], `answered\n${sim.transcript()}`);
    const inbound = [...alice.calls.values()].filter((x) => x.role === "uas");
    assert.equal(inbound.length, 1, "the call reached alice");
    const inv = inbound[0].st.msg;
    assert.equal(inv.ruri, "sip:alice@127.0.0.2:5060", "her registered contact");
    assert.notEqual(inv.callId, callId);
    assert.ok(!inv.text.split("\r\n\r\n")[0].includes("127.0.0.5"), "none of the carrier's addresses in the headers");
    assert.equal(inbound[0].byes, 1, "the carrier's hang-up reached alice");
    idle(gw, sim);
  });
}

for (const seed of SEEDS) {
  test(`CANCEL before the carrier's first provisional is held (§9.1); its late 2xx gets our ACK and BYE (seed ${seed})`, () => {
    const { sim, gw, alice, carrier } = setup(seed, { carrier: { ring: null, answer: 3000 } });
    const callId = alice.invite("5550004", { cancelAfterRinging: 50 }); // on our 100 Trying
    sim.run(sim.now + 1000);
    assert.deepEqual(alice.calls.get(callId).finals, [487], "alice's call ended at once");
    assert.equal(lines(sim, GW, CARRIER, "CANCEL").length, 0, "no CANCEL before a provisional");
    sim.run(sim.now + 10_000);
    const b = carrierCall(carrier);
    assert.equal(b.sentFinal, 200);
    assert.equal(b.ackFor2xx >= 1, true, "the 2xx ACKed");
    assert.equal(b.byes, 1, "then hung up: alice is gone");
    idle(gw, sim);
  });
}

// CANCEL and the carrier's 200 cross on the wire (the carrier's answer time sweeps across the moment
// the CANCEL reaches it, one step per seed): whichever wins, alice ends with 487 or with a call she
// hangs up, the carrier's dialog (if its 200 got one) always ends with a BYE, and every table is empty
// at the end. The last test checks that the sweep met all three outcomes, the crossing among them.
const outcomes = new Set();
for (let k = 0; k < 12; k++) {
  test(`CANCEL crossing the carrier's 200 (carrier answers at ${50 + k * 6} ms, seed ${60 + k})`, () => {
    const { sim, gw, alice, carrier } = setup(60 + k, { carrier: { ring: 20, answer: 50 + k * 6 } });
    const callId = alice.invite("5550005", { cancelAfterRinging: 60, hangupAfter: 500 });
    sim.run(sim.now + 40_000);
    const a = alice.calls.get(callId);
    assert.equal(a.finals.length, 1, `alice got one final\n${sim.transcript()}`);
    assert.ok([200, 487].includes(a.finals[0]));
    const b = carrierCall(carrier);
    if (b.sentFinal === 200) assert.equal(b.byes, 1, `the carrier's answered call was hung up\n${sim.transcript()}`);
    else assert.equal(b.sentFinal, 487);
    if (a.finals[0] === 200) assert.equal([...a.dialogs.values()][0].bye, 200, "alice's call ended by her BYE");
    idle(gw, sim);
    assert.deepEqual(alice.stray, []);
    assert.deepEqual(carrier.stray, []);
    outcomes.add(`${a.finals[0]}/${b.sentFinal}`);
  });
}
test("the sweep met every outcome: answered before the CANCEL, crossed by it, cancelled", () => {
  assert.deepEqual([...outcomes].sort(), ["200/200", "487/200", "487/487"]);
});

const HOLD = SDP_OFFER.replace("o=alice 1 1", "o=alice 1 2") + "a=sendonly\r\n";
const RESUME = SDP_OFFER.replace("o=alice 1 1", "o=alice 1 3") + "a=sendrecv\r\n";
for (const seed of SEEDS) {
  test(`hold and resume (re-INVITEs) and INFO within the call, relayed leg to leg (seed ${seed})`, () => {
    const { sim, gw, alice, carrier } = setup(seed);
    const callId = alice.invite("15550300", { hangupAfter: null, body: SDP_OFFER });
    sim.run(sim.now + 2000);
    const a = alice.calls.get(callId);
    const d = [...a.dialogs.values()][0];
    const b = carrierCall(carrier);
    assert.equal(b.sentFinal, 200);
    // hold: alice's re-INVITE with a=sendonly reaches the carrier in its dialog, its answer comes back
    alice.reinvite(a, d, HOLD);
    sim.run(sim.now + 2000);
    assert.equal(d.reinvites?.[0]?.[0], 200, `hold answered\n${sim.transcript()}`);
    const hold = b.reinvites?.[0];
    assert.ok(hold, "the carrier got a re-INVITE");
    assert.equal(hold.toTag, b.st.tag, "within the carrier's dialog");
    assert.equal(hold.callId, b.st.msg.callId);
    assert.equal(hold.cseqNum, 2, "the B leg's own CSeq, one past its INVITE");
    assert.ok(hold.text.endsWith(`\r\n\r\n${HOLD}`), "the hold SDP byte for byte");
    assert.equal(hold.get("contact"), "<sip:127.0.0.4:5060>");
    assert.ok(d.reinvites[0][1].text.endsWith(`\r\n\r\n${SDP_ANSWER}`), "the carrier's answer back to alice");
    // resume
    alice.reinvite(a, d, RESUME);
    sim.run(sim.now + 2000);
    assert.equal(d.reinvites[1][0], 200, "resume answered");
    assert.equal(b.reinvites[1].cseqNum, 3);
    assert.ok(b.reinvites[1].text.endsWith(`\r\n\r\n${RESUME}`));
    // DTMF by INFO, from the carrier's side to alice
    carrier.uasRequestInDialog(b.callId, "INFO", "Signal=5\r\nDuration=160\r\n");
    sim.run(sim.now + 2000);
    assert.deepEqual(b.sent, [["INFO", 200]], "the carrier's INFO answered with alice's 200");
    const info = a.requests?.[0];
    assert.ok(info && info.method === "INFO", "alice got the INFO");
    assert.equal(info.callId, callId, "in her own dialog");
    assert.ok(info.text.endsWith("\r\n\r\nSignal=5\r\nDuration=160\r\n"));
    assert.equal(info.get("content-type"), "application/dtmf-relay");
    // alice hangs up; every table empty
    alice.bye(a, d);
    sim.run(sim.now + 5000);
    assert.equal(d.bye, 200);
    assert.equal(b.byes, 1);
    idle(gw, sim);
    assert.deepEqual(alice.stray, []);
    assert.deepEqual(carrier.stray, []);
  });
}

// RFC 3262 on a re-INVITE (preconditions, RFC 3312, use them): the relayed re-INVITE offers 100rel as the
// sender's did, the other end's reliable 183 is relayed back, and the sender's PRACK is relayed while the
// re-INVITE is still pending (a request of its own: not refused as a second request in progress), its
// RAck naming the re-INVITE of the leg it goes to.
const rackOf = (r) => r.replace(/\s+/g, " ");
for (const seed of [190, 191, 192]) {
  for (const from of ["alice", "carrier"]) {
    const fromAlice = from === "alice";
    test(`100rel on a relayed re-INVITE from ${from}: the other end's reliable 183 reaches ${from}, the PRACK reaches the other end with RAck mapped, the re-INVITE answered (seed ${seed})`, () => {
      const sender = { prack: true };
      const callee = { reliableReinvite: true };
      const { sim, gw, alice, carrier } = setup(seed, fromAlice ? { alice: sender, carrier: callee } : { alice: callee, carrier: sender });
      const callId = alice.invite("15550300", { hangupAfter: null, body: SDP_OFFER });
      sim.run(sim.now + 2000);
      const a = alice.calls.get(callId);
      const d = [...a.dialogs.values()][0];
      const b = carrierCall(carrier);
      if (fromAlice) alice.reinvite(a, d, HOLD, { headers: ["Supported: 100rel"] });
      else assert.ok(carrier.uasReinvite(b.callId, HOLD, { headers: ["Supported: 100rel"] }));
      sim.run(sim.now + 4000);
      // what the sender sent and got (its re-INVITE's final, its PRACKs), what the other end got
      const [final, sent, got] = fromAlice ? [d.reinvites?.[0]?.[0], d.reinviteRel[0], b] : [b.sentReinvites?.[0]?.[0], b.sentReinviteRel[0], a];
      const re = got.reinvites?.[0];
      assert.ok(re, sim.transcript());
      assert.deepEqual(tags(re, "supported"), ["100rel"], `the relayed re-INVITE offers 100rel\n${re.text}`);
      assert.equal(final, 200, `the re-INVITE answered\n${sim.transcript()}`);
      const rel = got.relIn.rel;
      assert.equal(rel.pracked, true, "the reliable 183 was PRACKed");
      assert.deepEqual(sent.pracks, [[`${rel.rseq} ${sent.cseq} INVITE`, 200]], sim.transcript());
      assert.deepEqual(got.pracksIn.map(rackOf), [`${rel.rseq} ${re.cseqNum} INVITE`], "RAck names the other leg's re-INVITE");
      aliceHangsUp({ sim, gw, alice, carrier }, a, d);
    });
  }
}

test("a 500 the other leg gives a relayed re-INVITE reaches the sender as it is: no Retry-After of ours added", () => {
  const { sim, gw, alice, carrier } = setup(56);
  const callId = alice.invite("15550311", { hangupAfter: null, body: SDP_OFFER });
  sim.run(sim.now + 2000);
  const a = alice.calls.get(callId);
  const d = [...a.dialogs.values()][0];
  carrier.reinviteStatus = 500;
  alice.reinvite(a, d, HOLD);
  sim.run(sim.now + 3000);
  assert.equal(d.reinvites[0][0], 500);
  assert.equal(d.reinvites[0][1].get("retry-after"), undefined, "the carrier's 500 had no Retry-After");
  alice.bye(a, d);
  sim.run(sim.now + 40_000);
  idle(gw, sim);
});

test("a re-INVITE the other leg refuses (488): the refusal reaches the sender, the call stays up", () => {
  const { sim, gw, alice, carrier } = setup(55);
  const callId = alice.invite("15550301", { hangupAfter: null, body: SDP_OFFER });
  sim.run(sim.now + 2000);
  const a = alice.calls.get(callId);
  const d = [...a.dialogs.values()][0];
  carrier.reinviteStatus = 488;
  alice.reinvite(a, d, HOLD);
  sim.run(sim.now + 3000);
  assert.equal(d.reinvites[0][0], 488);
  assert.equal(carrierCall(carrier).ackForFinal >= 0, true);
  carrier.reinviteStatus = 200;
  alice.reinvite(a, d, RESUME);
  sim.run(sim.now + 3000);
  assert.equal(d.reinvites[1][0], 200, "the dialogs survived the 488");
  alice.bye(a, d);
  sim.run(sim.now + 5000);
  assert.equal(d.bye, 200);
  idle(gw, sim);
});

test("a BYE while the caller's re-INVITE is still being relayed: the re-INVITE gets 487, the call ends on both legs, a late answer changes nothing", () => {
  const { sim, gw, alice, carrier } = setup(58);
  const callId = alice.invite("15550302", { hangupAfter: null, body: SDP_OFFER });
  sim.run(sim.now + 2000);
  const a = alice.calls.get(callId);
  const d = [...a.dialogs.values()][0];
  carrier.reinviteDelay = 1500; // the carrier is slow to answer the hold
  carrier.endPendingOnBye = false; // and answers it 200 even after our BYE
  alice.reinvite(a, d, HOLD);
  sim.run(sim.now + 200);
  alice.bye(a, d);
  sim.run(sim.now + 10_000);
  assert.equal(d.bye, 200, "alice's BYE answered");
  assert.equal(d.reinvites?.[0]?.[0], 487, `her pending re-INVITE answered 487 (RFC 3261 15.1.2)\n${sim.transcript()}`);
  assert.equal(carrierCall(carrier).byes, 1, `the BYE reached the carrier\n${sim.transcript()}`);
  sim.run(sim.now + 40_000);
  idle(gw, sim);
});

test("while a re-INVITE is relayed, the other side's INFO gets 500 with a Retry-After of 0-10 s (RFC 3261 14.2) and its UPDATE 491 (RFC 3311 5.2); the re-INVITE still completes", () => {
  const { sim, gw, alice, carrier, a, d, b } = upCall(61, "15550310");
  carrier.reinviteDelay = 1500; // the carrier is slow to answer alice's hold
  alice.reinvite(a, d, HOLD);
  sim.run(sim.now + 300);
  carrier.uasRequestInDialog(b.callId, "INFO", "Signal=5\r\nDuration=160\r\n");
  carrier.uasRequestInDialog(b.callId, "UPDATE", SDP_OFFER, "application/sdp");
  sim.run(sim.now + 3000);
  assert.deepEqual(b.sent, [["INFO", 500], ["UPDATE", 491]], sim.transcript());
  const ra = b.sentResponses[0].get("retry-after");
  assert.match(ra ?? "", /^\d+$/, "the 500 carries Retry-After");
  assert.ok(Number(ra) <= 10, `Retry-After ${ra}`);
  assert.equal(b.sentResponses[1].get("retry-after"), undefined, "491 without Retry-After");
  assert.equal(d.reinvites[0][0], 200, "alice's hold answered");
  alice.bye(a, d);
  sim.run(sim.now + 40_000);
  idle(gw, sim);
});

/** CSeq numbers strictly increasing (a leg's requests in one direction, as their receiver saw them). */
function increasing(seqs, what) {
  for (let k = 1; k < seqs.length; k++) assert.ok(seqs[k] > seqs[k - 1], `${what}: CSeq ${seqs.join(",")}`);
}

/**
 * An answered call with SDP, alice's to the carrier (or, `inbound`, the carrier's to alice): { sim, gw,
 * alice, carrier, caller, callee, a (the caller's call), d (its dialog), b (the callee's call) }.
 */
function upCall(seed, number, net = {}, inbound = false) {
  const s = setup(seed, { net, alice: inbound ? { answer: 200 } : {} });
  const [caller, callee] = inbound ? [s.carrier, s.alice] : [s.alice, s.carrier];
  const callId = caller.invite(inbound ? "alice" : number, { hangupAfter: null, body: SDP_OFFER });
  s.sim.run(s.sim.now + (net.loss ? 8000 : 2000));
  const a = caller.calls.get(callId);
  const bs = [...callee.calls.values()].filter((c) => c.role === "uas");
  assert.equal(bs.length, 1, "one call reached the callee");
  assert.equal(bs[0].sentFinal, 200);
  return { ...s, caller, callee, a, d: [...a.dialogs.values()][0], b: bs[0] };
}

// Glare (RFC 3261 §14): alice and the carrier re-INVITE at about the same time, the carrier `offset` ms
// after alice (sweeping from before to after her). The B2BUA relays one request per call at a time: the
// one that reaches it second gets our 491; the one it relays may meet the far end's own pending re-INVITE
// and get that end's 491, which we relay back (option (a) of issue 12: the end points retry per §14.1;
// the caller owns its Call-ID and waits 2.1-4 s, the callee 0-2 s, so their retries do not meet again).
// Whatever the order: each side's offer is answered 200 exactly once, after 491s only; each 2xx is
// ACKed by whoever got it; every request of a leg carries a higher CSeq than the one before it; no 500;
// both hang up and every table is empty. The test after the sweep checks it met each order.
const glare = new Set();
const CARRIER_OFFER = SDP_ANSWER.replace("o=carrier 7 7", "o=carrier 7 8") + "a=sendonly\r\n";
/** One glare run (above): the callee re-INVITEs `offset` ms after the caller (alice, or the carrier when
 * `inbound`); returns the order it met. */
function glareRun(seed, offset, net = {}, inbound = false) {
  const { sim, gw, alice, carrier, caller, callee, a, d, b } = upCall(seed, "15550400", net, inbound);
  const slow = net.loss ? 3 : 1; // a lossy network: time for retransmissions and their timers
  sim.after(50, () => caller.reinvite(a, d, HOLD, { retry: true }));
  sim.after(50 + offset, () => assert.equal(callee.uasReinvite(b.callId, CARRIER_OFFER, { retry: true }), true));
  sim.run(sim.now + 20_000 * slow);
  const mine = d.reinvites.map(([s]) => s);
  const theirs = b.sentReinvites.map(([s]) => s);
  assert.deepEqual(mine, [...mine.slice(0, -1).map(() => 491), 200], `the caller's re-INVITEs: 491s, then 200\n${sim.transcript()}`);
  assert.deepEqual(theirs, [...theirs.slice(0, -1).map(() => 491), 200], `the callee's re-INVITEs: 491s, then 200\n${sim.transcript()}`);
  // each end took the other's offer exactly once, and its 2xx was ACKed; every final it sent was ACKed
  const took = (c) => c.answeredIn.filter((st) => st.final === 200);
  assert.equal(took(b).length, 1, "the callee answered one re-INVITE 200");
  assert.ok(took(b)[0].msg.text.endsWith(`\r\n\r\n${HOLD}`), "the caller's offer");
  assert.equal(took(a).length, 1, "the caller answered one re-INVITE 200");
  assert.ok(took(a)[0].msg.text.endsWith(`\r\n\r\n${CARRIER_OFFER}`), "the callee's offer");
  for (const st of [...a.answeredIn, ...b.answeredIn]) assert.equal(st.acked, true, `${st.final} to CSeq ${st.msg.cseqNum} ACKed`);
  increasing(a.inSeq, "the A leg toward the caller");
  increasing(b.inSeq, "the B leg toward the callee");
  assert.deepEqual(sim.log.filter(([, , , l]) => l.startsWith("SIP/2.0 500")), [], "no request refused as out of order");
  caller.bye(a, d);
  sim.run(sim.now + 40_000 * slow);
  assert.equal(d.bye, 200);
  assert.equal(b.byes >= 1, true, "the carrier got our BYE");
  idle(gw, sim);
  assert.deepEqual(alice.stray, []);
  assert.deepEqual(carrier.stray, []);
  const refusedA = a.answeredIn.some((st) => st.final === 491), refusedB = b.answeredIn.some((st) => st.final === 491);
  return { sim, order: mine.length === 1 && theirs.length === 1 ? "none"
    : `caller ${mine.length - 1}×491, callee ${theirs.length - 1}×491${refusedA ? ", the caller refused one" : ""}${refusedB ? ", the callee refused one" : ""}` };
}
for (let k = 0; k < 12; k++) {
  const offset = -44 + k * 8;
  test(`re-INVITE glare: the carrier re-INVITEs ${offset} ms after alice; 491s relayed, both retry (§14.1) and both offers are answered (seed ${80 + k})`, () => {
    glare.add(glareRun(80 + k, offset).order);
  });
}
test("the glare sweep met each order: no glare, the far end's 491 relayed, ours, and both", () => {
  assert.deepEqual([...glare].sort(), [
    "caller 1×491, callee 0×491, the callee refused one",
    "caller 1×491, callee 1×491, the callee refused one",
    "caller 1×491, callee 1×491, the caller refused one",
    "none",
  ]);
});

// The same glare the other way round: the carrier calls alice (the carrier is now the caller, owner of
// its Call-ID, and waits 2.1-4 s after a 491; alice, the callee on our B leg, 0-2 s).
const glareIn = new Set();
for (let k = 0; k < 8; k++) {
  const offset = -28 + k * 8;
  test(`re-INVITE glare, trunk → phone: alice re-INVITEs ${offset} ms after the carrier; both offers answered (seed ${140 + k})`, () => {
    glareIn.add(glareRun(140 + k, offset, {}, true).order);
  });
}
test("the trunk → phone glare sweep met glare, each end refusing the other's relayed re-INVITE", () => {
  assert.deepEqual([...glareIn].sort(), [
    "caller 1×491, callee 1×491, the callee refused one",
    "caller 1×491, callee 1×491, the caller refused one",
    "none",
  ]);
});

// The same glare on a lossy network (10 % lost, 5 % twice, on every link): the same outcome, through
// retransmissions of the re-INVITEs, their 491s and 2xx and the ACKs; the test after them checks that
// the runs did lose and duplicate datagrams and met glare.
const lossyGlare = { lost: 0, duplicated: 0, glare: 0, runs: 0 };
for (let k = 0; k < 8; k++) {
  test(`re-INVITE glare on a lossy network (10 % loss, 5 % duplicates; the carrier ${-12 + k * 4} ms after alice, seed ${120 + k})`, () => {
    const { sim, order } = glareRun(120 + k, -12 + k * 4, { latency: [5, 30], loss: 0.1, dup: 0.05 });
    lossyGlare.lost += sim.counts.lost;
    lossyGlare.duplicated += sim.counts.duplicated;
    if (order !== "none") lossyGlare.glare++;
    lossyGlare.runs++;
  });
}
test("the lossy glare runs did lose and duplicate datagrams, and met glare", () => {
  assert.equal(lossyGlare.runs, 8);
  assert.ok(lossyGlare.lost >= 10 && lossyGlare.duplicated >= 5 && lossyGlare.glare >= 4, JSON.stringify(lossyGlare));
});

test("a retransmitted 2xx to a relayed re-INVITE (our ACK lost) is ACKed again and not taken for the answer to the next one", () => {
  const { sim, gw, alice, carrier, a, d, b } = upCall(59, "15550420");
  let acks = 0;
  sim.filter = (from, to, text) => !(from === GW && to === CARRIER && text.startsWith("ACK ") && acks++ === 0);
  alice.reinvite(a, d, HOLD);
  sim.run(sim.now + 200);
  assert.equal(d.reinvites[0][0], 200, "hold answered");
  assert.equal(acks, 1, "our ACK of the carrier's 2xx lost");
  carrier.reinviteStatus = 488;
  carrier.reinviteDelay = 1500; // still pending when the hold's 2xx comes again (T1 = 500 ms)
  alice.reinvite(a, d, RESUME);
  sim.run(sim.now + 5000);
  assert.deepEqual(d.reinvites.map(([s]) => s), [200, 488], `the resume gets the carrier's own answer\n${sim.transcript()}`);
  assert.ok(b.answeredIn.length === 2 && b.answeredIn.every((st) => st.acked), "both of the carrier's finals ACKed");
  aliceHangsUp({ sim, gw, alice, carrier }, a, d, 40_000);
});

// A BYE crossing a re-INVITE relayed the other way (RFC 3261 §15.1.2, RFC 5407 §3.5): one end
// re-INVITEs, the other hangs up `offset` ms later (before and after the re-INVITE reaches it; the
// re-INVITE's receiver takes 40 ms to answer, and answers a pending one 487 when it hangs up). Half the
// runs have alice re-INVITE and the carrier hang up, half the other way round. Whatever the order: the
// re-INVITE gets exactly one final — 200 (answered before the BYE), 487 (the dialog ended while it was
// pending) or 481 (it reached a dialog already ending) — both legs end, the hang-up is answered 200,
// nothing is sent by or to the B2BUA 4 s after the BYE (no retransmission outlives the call), every
// table is empty. The test after the sweep checks it met each final.
const crossing = new Set();
for (let k = 0; k < 16; k++) {
  const fromAlice = k < 8;
  const offset = -20 + (k % 8) * 18;
  const who = fromAlice ? "alice re-INVITEs, the carrier hangs up" : "the carrier re-INVITEs, alice hangs up";
  test(`BYE crossing a re-INVITE: ${who} ${offset} ms later (seed ${100 + k})`, () => {
    const { sim, gw, alice, carrier, a, d, b } = upCall(100 + k, "15550410");
    (fromAlice ? carrier : alice).reinviteDelay = 40;
    let byeAt = 0;
    sim.after(50, () => (fromAlice ? alice.reinvite(a, d, HOLD) : assert.equal(carrier.uasReinvite(b.callId, CARRIER_OFFER), true)));
    sim.after(50 + offset, () => {
      byeAt = sim.now;
      if (fromAlice) assert.equal(carrier.uasBye(b.callId), true);
      else alice.bye(a, d);
    });
    sim.run(sim.now + 40_000);
    const finals = (fromAlice ? d.reinvites : b.sentReinvites).map(([s]) => s);
    assert.equal(finals.length, 1, `one final for the re-INVITE: ${finals}\n${sim.transcript()}`);
    assert.ok([200, 481, 487].includes(finals[0]), `${finals[0]}\n${sim.transcript()}`);
    if (fromAlice) {
      assert.equal(b.byeSent, 200, "the carrier's BYE answered");
      assert.equal(d.bye, "received", "alice's dialog ended by our BYE");
    } else {
      assert.equal(d.bye, 200, "alice's BYE answered");
      assert.equal(b.byes, 1, "the carrier's dialog ended by our BYE");
    }
    for (const st of [...(a.answeredIn ?? []), ...(b.answeredIn ?? [])]) assert.equal(st.acked, true, `${st.final} to CSeq ${st.msg.cseqNum} ACKed`);
    const late = sim.log.filter(([t, f, to]) => t > byeAt + 4000 && (f === GW || to === GW));
    assert.deepEqual(late, [], "nothing sent by or to the B2BUA after the call ended");
    increasing(a.inSeq ?? [], "the A leg toward alice");
    increasing(b.inSeq ?? [], "the B leg toward the carrier");
    idle(gw, sim);
    assert.deepEqual(alice.stray, []);
    assert.deepEqual(carrier.stray, []);
    crossing.add(`${fromAlice ? "alice's" : "the carrier's"} re-INVITE ${finals[0]}`);
  });
}
test("the BYE-crossing sweep met each final in each direction", () => {
  assert.deepEqual([...crossing].sort(), [
    "alice's re-INVITE 200", "alice's re-INVITE 481", "alice's re-INVITE 487",
    "the carrier's re-INVITE 200", "the carrier's re-INVITE 481", "the carrier's re-INVITE 487",
  ]);
});

const PROVIDER = { realm: "carrier.example", user: "acme", password: "s3cret" };
for (const seed of SEEDS) {
  test(`the carrier's proxy challenges (407): answered once with our credentials, the call completes (seed ${seed})`, () => {
    const { sim, gw, alice, carrier } = setup(seed, { carrier: { challenge: PROVIDER }, creds: ["acme", "s3cret"] });
    const callId = alice.invite("15550200", { hangupAfter: 1000 });
    sim.run(sim.now + 8000);
    assert.deepEqual(alice.calls.get(callId).finals, [200], sim.transcript());
    assert.equal(carrier.challenged, 1, "one challenge");
    assert.equal(carrier.authorized, 1, "our answer checked (MD5, qop=auth, nc, cnonce, the Request-URI)");
    const b = carrierCall(carrier);
    assert.equal(b.invites, 2, "the INVITE again, with credentials, in the same call (the carrier keys calls by Call-ID)");
    assert.equal(b.st.msg.cseqNum, 2, "the next CSeq (RFC 3261 22.2)");
    assert.match(b.st.msg.get("proxy-authorization"), /^Digest username="acme", realm="carrier\.example", nonce="[^"]+", uri="sip:15550200@127\.0\.0\.5:5060", response="[0-9a-f]{32}", algorithm=MD5, cnonce="[0-9a-f]{8}", qop=auth, nc=00000001$/);
    assert.equal(b.byes, 1);
    idle(gw, sim);
  });
}

test("wrong credentials: the provider's 403 reaches the caller, and we do not try again", () => {
  const { sim, gw, alice, carrier } = setup(53, { carrier: { challenge: PROVIDER }, creds: ["acme", "wrong"] });
  const callId = alice.invite("15550201");
  sim.run(sim.now + 8000);
  assert.deepEqual(alice.calls.get(callId).finals, [403]);
  assert.equal(carrier.challenged, 1);
  assert.equal(carrierCall(carrier).invites, 2, "one answer to the one challenge, no more");
  idle(gw, sim);
});

test("no credentials for the trunk: its 407 is not the caller's to answer: 503", () => {
  const { sim, gw, alice, carrier } = setup(54, { carrier: { challenge: PROVIDER } });
  const callId = alice.invite("15550202");
  sim.run(sim.now + 8000);
  assert.deepEqual(alice.calls.get(callId).finals, [503]);
  assert.equal(carrierCall(carrier).invites, 1);
  idle(gw, sim);
});

/** Configuration text of a side or a rule (cfg kind Side), as the hosts send it. */
function sideText(gw, text) {
  const base = gw.ex.probe_scratch_ptr() >>> 0;
  const b = Buffer.from(text, "latin1");
  gw.mem().set(b, base);
  return gw.ex.probe_b2bua_side_text(base, b.length);
}

test("routing rules: the longest prefix picks the side, the number is rewritten; a DID reaches a phone", () => {
  const sim = new Sim({ seed: 56, latency: [5, 20] });
  const gw = new CoreNode(sim, GW, { probe: true, domains: ["127.0.0.4"] });
  gw.ex.probe_b2bua_on(1);
  const INTL = "127.0.0.6:5060";
  for (const t of [
    "0 registrar 1 127.0.0.4", `1 trunk 0 ${CARRIER} ${CARRIER}`, `2 trunk 0 ${INTL} ${INTL}`,
    "route 0 00 2 2 +", // 00 + international number -> the international trunk, in E.164
    "route 0 0044 1 4 +44", // but the UK goes to the carrier (longer prefix)
    "route 1 +15550001 0 9 alice", // the carrier's DID +15550001 rings alice
  ]) assert.equal(sideText(gw, t), 1, t);
  for (const bad of ["route 0 00 0 0", "route 9 00 1 0", "route 0 00 1 99", "1 trunk 0 h 127.0.0.5", "0 registrar 1 h 1.2.3.4:5", "2 carrier 0 h"])
    assert.equal(sideText(gw, bad), 0, `refused: ${bad}`);
  const alice = new Ua(sim, "127.0.0.2:5060", "alice", { proxy: GW, ring: 50, answer: 200 });
  const carrier = new Ua(sim, CARRIER, "carrier", { proxy: GW, domain: "127.0.0.4", ring: 50, answer: 200 });
  const intl = new Ua(sim, INTL, "intl", { proxy: GW, ring: 50, answer: 200 });
  alice.register();
  sim.run(sim.now + 500);
  const calls = [alice.invite("0033123456", { hangupAfter: 300 }), alice.invite("00441234", { hangupAfter: 300 })];
  sim.run(sim.now + 4000);
  calls.forEach((id) => assert.deepEqual(alice.calls.get(id).finals, [200]));
  const got = (ua) => [...ua.calls.values()].filter((c) => c.role === "uas").map((c) => c.st.msg.ruri);
  assert.deepEqual(got(intl), ["sip:+33123456@127.0.0.6:5060"], "00 -> the international trunk, + in place of 00");
  assert.deepEqual(got(carrier), ["sip:+441234@127.0.0.5:5060"], "the longer prefix 0044 wins");
  const did = carrier.invite("+15550001", { hangupAfter: 300 });
  sim.run(sim.now + 4000);
  assert.deepEqual(carrier.calls.get(did).finals, [200], "the DID reached alice");
  const inbound = [...alice.calls.values()].filter((c) => c.role === "uas");
  assert.equal(inbound.length, 1);
  assert.equal(inbound[0].st.msg.ruri, "sip:alice@127.0.0.2:5060");
  assert.match(inbound[0].st.msg.get("to"), /^<sip:alice@127\.0\.0\.4>$/);
  idle(gw, sim);
});

for (const [label, trunk, carrierOpts] of [["answers 503", CARRIER, { status: 503, answer: 100 }], ["never answers", SILENT, {}]]) {
  test(`failover: the trunk ${label}; the call goes to the backup trunk once, a new B leg`, () => {
    const sim = new Sim({ seed: 57, latency: [5, 20] });
    const gw = new CoreNode(sim, GW, { probe: true, domains: ["127.0.0.4"] });
    gw.ex.probe_b2bua_on(1);
    const BACKUP = "127.0.0.6:5060";
    for (const t of ["0 registrar 1 127.0.0.4", `1 trunk 0 ${trunk} ${trunk}`, `2 trunk 0 ${BACKUP} ${BACKUP}`, "failover 1 2"]) assert.equal(sideText(gw, t), 1, t);
    for (const bad of ["failover 1 1", "failover 1", "failover 9 1"]) assert.equal(sideText(gw, bad), 0, bad);
    const alice = new Ua(sim, "127.0.0.2:5060", "alice", { proxy: GW, t1: 1000 });
    const carrier = new Ua(sim, CARRIER, "carrier", { proxy: GW, ...carrierOpts });
    const backup = new Ua(sim, BACKUP, "backup", { proxy: GW, ring: 50, answer: 200 });
    alice.register();
    sim.run(sim.now + 500);
    const id = alice.invite("15550400", { hangupAfter: 500 });
    sim.run(sim.now + 45_000);
    assert.deepEqual(alice.calls.get(id).finals, [200], `the backup answered\n${sim.transcript()}`);
    const b = [...backup.calls.values()].filter((c) => c.role === "uas");
    assert.equal(b.length, 1, "one call reached the backup");
    assert.equal(b[0].st.msg.ruri, "sip:15550400@127.0.0.6:5060");
    if (trunk === CARRIER) {
      const first = [...carrier.calls.values()].filter((c) => c.role === "uas")[0];
      assert.equal(first.sentFinal, 503);
      assert.notEqual(first.st.msg.callId, b[0].st.msg.callId, "a new B leg: its own Call-ID");
    }
    assert.equal(b[0].byes, 1, "alice's hang-up reached the backup");
    idle(gw, sim);
  });
}

// Loss and duplication on every link (10 % lost, 5 % twice; both legs retransmit through it): for each
// seed the call completes or fails cleanly, both ends agree, and every table of the B2BUA is empty
// once the transactions' timers have run out. The test after them checks the runs did lose and duplicate.
const lossy = { lost: 0, duplicated: 0, runs: 0 };
for (const seed of [71, 72, 73, 74, 75, 76, 77, 78]) {
  test(`a lossy network (10 % loss, 5 % duplicates): calls complete through retransmissions on both legs, nothing leaks (seed ${seed})`, () => {
    const sim = new Sim({ seed, latency: [5, 30], loss: 0.1, dup: 0.05 });
    const gw = new CoreNode(sim, GW, { probe: true, domains: ["127.0.0.4"] });
    gw.ex.probe_b2bua_on(1);
    side(gw, 0, 1, 1, "127.0.0.4");
    side(gw, 1, 2, 0, CARRIER, CARRIER);
    const alice = new Ua(sim, "127.0.0.2:5060", "alice", { proxy: GW, ring: 50, answer: 300 });
    const carrier = new Ua(sim, CARRIER, "carrier", { proxy: GW, domain: "127.0.0.4", ring: 50, answer: 400, answerBody: SDP_ANSWER });
    alice.register();
    sim.run(sim.now + 5000);
    assert.equal(alice.registered, 200);
    const ids = [alice.invite("15550500", { hangupAfter: 2000, body: SDP_OFFER })];
    sim.run(sim.now + 3000);
    ids.push(alice.invite("15550501", { hangupAfter: 1000, cancelAfterRinging: seed % 2 ? 200 : null }));
    sim.run(sim.now + 120_000);
    for (const id of ids) {
      const a = alice.calls.get(id);
      assert.ok(a.finals.length === 1 || a.inviteTimeout, `alice's call ended once: ${a.finals}\n${sim.transcript()}`);
      const d = [...a.dialogs.values()][0];
      if (a.finals[0] === 200) assert.equal(d.bye, 200, "her BYE answered");
    }
    const answered = [...carrier.calls.values()].filter((c) => c.role === "uas" && c.sentFinal === 200);
    for (const c of answered) assert.equal(c.byes >= 1, true, `every call the carrier answered was hung up\n${sim.transcript()}`);
    idle(gw, sim);
    lossy.lost += sim.counts.lost;
    lossy.duplicated += sim.counts.duplicated;
    lossy.runs++;
  });
}
test("the lossy runs did lose and duplicate datagrams", () => {
  assert.equal(lossy.runs, 8);
  assert.ok(lossy.lost >= 10 && lossy.duplicated >= 5, JSON.stringify(lossy));
});

test("strangers get 403 and nothing reaches the carrier", () => {
  const { sim, gw, alice, carrier } = setup(51);
  // not registered at all
  const mallory = new Ua(sim, "127.0.0.6:5060", "mallory", { proxy: GW });
  const m1 = mallory.invite("15550100");
  // a registered user's name, from an address she did not register from
  const eve = new Ua(sim, "127.0.0.7:5060", "alice", { proxy: GW });
  const m2 = eve.invite("15550101");
  sim.run(sim.now + 3000);
  assert.deepEqual(mallory.calls.get(m1).finals, [403]);
  assert.deepEqual(eve.calls.get(m2).finals, [403]);
  assert.equal(carrier.calls.size, 0, "nothing was relayed");
  assert.equal(lines(sim, GW, CARRIER, "INVITE").length, 0);
  idle(gw, sim);
  // and alice herself still gets through
  const ok = alice.invite("15550102", { hangupAfter: 500 });
  sim.run(sim.now + 5000);
  assert.deepEqual(alice.calls.get(ok).finals, [200]);
});

test("no room: a third concurrent call gets 503, the two others complete", () => {
  const { sim, gw, alice, carrier } = setup(52, { carrier: { answer: 1000 } });
  const ids = [alice.invite("1", { hangupAfter: 1000 }), alice.invite("2", { hangupAfter: 1000 })];
  sim.run(sim.now + 200);
  const third = alice.invite("3", { hangupAfter: 1000 });
  sim.run(sim.now + 10_000);
  assert.deepEqual(alice.calls.get(third).finals, [503]);
  for (const id of ids) assert.deepEqual(alice.calls.get(id).finals, [200]);
  assert.equal([...carrier.calls.values()].filter((c) => c.role === "uas").length, 2);
  idle(gw, sim);
});

// ---- identity and per-side drop lists (README "B2BUA identity and headers") ---------------------------

/** The values of every `name` line of a parsed message (lists not split: a PAI line may hold two). */
const values = (msg, name) => msg.headers.filter(([k]) => k === name).map(([, v]) => v);

/** A B2BUA core with sides from their configuration texts, alice registered on side 0, the carrier on side 1. */
function identitySetup(seed, texts, { carrier = {}, alice = {} } = {}) {
  const sim = new Sim({ seed, latency: [5, 20] });
  const gw = new CoreNode(sim, GW, { probe: true, domains: ["127.0.0.4"] });
  gw.ex.probe_b2bua_on(1);
  for (const t of ["0 registrar 1 127.0.0.4", `1 trunk 0 ${CARRIER} ${CARRIER}`, ...texts]) assert.equal(sideText(gw, t), 1, t);
  const a = new Ua(sim, "127.0.0.2:5060", "alice", { proxy: GW, ring: 50, answer: 200, ...alice });
  const c = new Ua(sim, CARRIER, "carrier", { proxy: GW, domain: "127.0.0.4", ring: 50, answer: 200, ...carrier });
  a.register();
  sim.run(sim.now + 500);
  assert.equal(a.registered, 200, "alice registered at the B2BUA's registrar");
  return { sim, gw, alice: a, carrier: c };
}

/** The one INVITE alice received (a call from the carrier). */
function aliceInvite(alice) {
  const inbound = [...alice.calls.values()].filter((x) => x.role === "uas");
  assert.equal(inbound.length, 1, "one call reached alice");
  return inbound[0].st.msg;
}

const SPOOF = ["P-Asserted-Identity: <sip:ceo@bank.example>, <tel:+15550000>", "P-Preferred-Identity: <sip:boss@127.0.0.4>"];

test("side texts for identity and drop lists: good ones taken, bad ones refused (never a trap)", () => {
  const sim = new Sim({ seed: 80, latency: [5, 20] });
  const gw = new CoreNode(sim, GW, { probe: true, domains: ["127.0.0.4"] });
  for (const t of ["0 registrar 1 127.0.0.4", `1 trunk 0 ${CARRIER} ${CARRIER}`, "pai 1 from", "pai 1 drop", "pai 0 passthrough",
    "drop 1 X-Internal", "drop 1 s", "drop 0 p-preferred-identity"]) assert.equal(sideText(gw, t), 1, t);
  for (const bad of ["pai 1 maybe", "pai 9 from", "pai 1", "drop 1", "drop 9 X-A", "drop 1 X-A X-B", `drop 1 X-${"a".repeat(40)}`, "drop 1 Via"])
    assert.equal(sideText(gw, bad), 0, `refused: ${bad}`);
  // at most 8 names a side: 2 taken above, 6 more, then the ninth is refused
  for (let k = 0; k < 6; k++) assert.equal(sideText(gw, `drop 1 X-Name-${k}`), 1, `name ${k + 3}`);
  assert.equal(sideText(gw, "drop 1 X-Ninth"), 0, "a ninth name is refused");
});

for (const seed of [81, 82, 83]) {
  test(`identity "from" toward the trunk: P-Asserted-Identity from alice's registered user; her own PAI and PPI never cross (seed ${seed})`, () => {
    const { sim, gw, alice, carrier } = identitySetup(seed, ["pai 1 from"]);
    const id = alice.invite("15551234", { hangupAfter: 300, headers: [...SPOOF, "X-Account: 42;tier=gold"] });
    sim.run(sim.now + 4000);
    assert.deepEqual(alice.calls.get(id).finals, [200], `answered\n${sim.transcript()}`);
    const inv = carrierCall(carrier).st.msg;
    assert.deepEqual(values(inv, "p-asserted-identity"), ["<sip:alice@127.0.0.5:5060>"], inv.text);
    assert.deepEqual(values(inv, "p-preferred-identity"), [], "P-Preferred-Identity is dropped, never turned into an assertion");
    assert.match(inv.get("from"), /^<sip:alice@127\.0\.0\.5:5060>;tag=/);
    assert.equal(inv.get("x-account"), "42;tier=gold", "unknown headers and their parameters still pass");
    idle(gw, sim);
  });
}

test("identity passthrough (the default): a phone's spoofed P-Asserted-Identity and P-Preferred-Identity are removed", () => {
  const { sim, gw, alice, carrier } = identitySetup(84, []);
  const id = alice.invite("15551234", { hangupAfter: 300, headers: [...SPOOF, "X-Account: 42"] });
  sim.run(sim.now + 4000);
  assert.deepEqual(alice.calls.get(id).finals, [200]);
  const inv = carrierCall(carrier).st.msg;
  assert.deepEqual(values(inv, "p-asserted-identity"), [], inv.text);
  assert.deepEqual(values(inv, "p-preferred-identity"), []);
  assert.deepEqual(values(inv, "x-account"), ["42"]);
  idle(gw, sim);
});

test(`identity "drop" toward a side: no P-Asserted-Identity reaches it, even the trusted trunk's`, () => {
  const { sim, gw, alice, carrier } = identitySetup(85, ["pai 0 drop"]);
  const id = carrier.invite("alice", { hangupAfter: 300, headers: ["P-Asserted-Identity: <sip:+15557777@carrier.example>", "X-Trace: 9"] });
  sim.run(sim.now + 4000);
  assert.deepEqual(carrier.calls.get(id).finals, [200]);
  const inv = aliceInvite(alice);
  assert.deepEqual(values(inv, "p-asserted-identity"), [], inv.text);
  assert.deepEqual(values(inv, "x-trace"), ["9"]);
  idle(gw, sim);
});

test("a trusted trunk's P-Asserted-Identity passes to a phone when the caller asked no privacy", () => {
  const { sim, gw, alice, carrier } = identitySetup(86, []);
  const id = carrier.invite("alice", { hangupAfter: 300, headers: ["P-Asserted-Identity: <sip:+15557777@carrier.example>"] });
  sim.run(sim.now + 4000);
  assert.deepEqual(carrier.calls.get(id).finals, [200]);
  const inv = aliceInvite(alice);
  assert.deepEqual(values(inv, "p-asserted-identity"), ["<sip:+15557777@carrier.example>"], inv.text);
  assert.match(inv.get("from"), /^<sip:carrier@127\.0\.0\.4>;tag=/, "From as before: the caller's user at the side's host");
  idle(gw, sim);
});

for (const seed of [87, 88]) {
  test(`Privacy: id from alice: the From toward the trunk is anonymous, the PAI is kept for the trusted trunk, Privacy passes on (seed ${seed})`, () => {
    const { sim, gw, alice, carrier } = identitySetup(seed, ["pai 1 from"]);
    const id = alice.invite("15551234", { hangupAfter: 300, headers: ["Privacy: id"] });
    sim.run(sim.now + 4000);
    assert.deepEqual(alice.calls.get(id).finals, [200], `answered\n${sim.transcript()}`);
    const b = carrierCall(carrier);
    const inv = b.st.msg;
    assert.match(inv.get("from"), /^"Anonymous" <sip:anonymous@anonymous\.invalid>;tag=[0-9a-f]+$/, inv.text);
    assert.ok(!inv.text.split("\r\n\r\n")[0].includes("sip:alice@127.0.0.5:5060>;tag"), "alice's name is in no From");
    assert.deepEqual(values(inv, "p-asserted-identity"), ["<sip:alice@127.0.0.5:5060>"]);
    assert.deepEqual(values(inv, "privacy"), ["id"]);
    assert.equal(b.byes, 1, "the call ended with alice's BYE: the anonymous From is the B leg's dialog identity");
    idle(gw, sim);
  });
}

test("Privacy: user;id from the trunk toward a phone: the From is anonymous and the PAI removed (RFC 3325 §7: phones are not trusted)", () => {
  const { sim, gw, alice, carrier } = identitySetup(89, []);
  const id = carrier.invite("alice", { hangupAfter: 300, headers: ["P-Asserted-Identity: <sip:+15557777@carrier.example>", "Privacy: user;id"] });
  sim.run(sim.now + 4000);
  assert.deepEqual(carrier.calls.get(id).finals, [200]);
  const inv = aliceInvite(alice);
  assert.deepEqual(values(inv, "p-asserted-identity"), [], inv.text);
  assert.match(inv.get("from"), /^"Anonymous" <sip:anonymous@anonymous\.invalid>;tag=/);
  assert.deepEqual(values(inv, "privacy"), ["user;id"]);
  assert.ok(!inv.text.includes("15557777"), "the number is nowhere in alice's INVITE");
  idle(gw, sim);
});

test("Privacy: none asks nothing: From and PAI as without it", () => {
  const { sim, gw, alice, carrier } = identitySetup(90, ["pai 1 from"]);
  const id = alice.invite("15551234", { hangupAfter: 300, headers: ["Privacy: none"] });
  sim.run(sim.now + 4000);
  assert.deepEqual(alice.calls.get(id).finals, [200]);
  const inv = carrierCall(carrier).st.msg;
  assert.match(inv.get("from"), /^<sip:alice@127\.0\.0\.5:5060>;tag=/);
  assert.deepEqual(values(inv, "p-asserted-identity"), ["<sip:alice@127.0.0.5:5060>"]);
  idle(gw, sim);
});

for (const seed of [91, 92]) {
  test(`drop lists: a side's names never reach its leg (requests and responses, any case, compact forms); other unknown headers pass (seed ${seed})`, () => {
    const { sim, gw, alice, carrier } = identitySetup(seed, ["drop 1 x-internal", "drop 1 s", "drop 0 X-Carrier-Trace"], {
      carrier: { answerHeaders: ["X-Carrier-Trace: abc;hop=1", "X-Carrier-Keep: yes"] },
    });
    // alice → carrier: X-Internal and Subject (sent in its compact form) are the carrier side's drops
    const id = alice.invite("15551234", { hangupAfter: 300, headers: ["X-Internal: secret", "s: hello", "X-Account: 42;tier=gold"] });
    sim.run(sim.now + 4000);
    const a = alice.calls.get(id);
    assert.deepEqual(a.finals, [200], `answered\n${sim.transcript()}`);
    const inv = carrierCall(carrier).st.msg;
    assert.deepEqual(values(inv, "x-internal"), [], inv.text);
    assert.deepEqual(values(inv, "subject"), []);
    assert.deepEqual(values(inv, "x-account"), ["42;tier=gold"]);
    // carrier → alice: its 200's X-Carrier-Trace is alice's side's drop; X-Carrier-Keep passes
    const ok = [...a.dialogs.values()][0].resp;
    assert.deepEqual(values(ok, "x-carrier-trace"), [], ok.text);
    assert.deepEqual(values(ok, "x-carrier-keep"), ["yes"]);
    idle(gw, sim);
    // and a call the other way: the carrier's INVITE loses X-Carrier-Trace toward alice
    const back = carrier.invite("alice", { hangupAfter: 300, headers: ["X-Carrier-Trace: 7", "X-Internal: kept toward alice"] });
    sim.run(sim.now + 4000);
    assert.deepEqual(carrier.calls.get(back).finals, [200]);
    const toAlice = aliceInvite(alice);
    assert.deepEqual(values(toAlice, "x-carrier-trace"), [], toAlice.text);
    assert.deepEqual(values(toAlice, "x-internal"), ["kept toward alice"], "a drop list is the side's own");
    idle(gw, sim);
  });
}

test("drop lists apply within the call too: a relayed INFO loses the names of the side it goes to", () => {
  const { sim, gw, alice, carrier } = identitySetup(93, ["drop 0 X-Internal"]);
  const id = alice.invite("15551234", { hangupAfter: null });
  sim.run(sim.now + 2000);
  const a = alice.calls.get(id);
  assert.deepEqual(a.finals, [200]);
  const b = carrierCall(carrier);
  carrier.uasRequestInDialog(b.callId, "INFO", "Signal=5\r\nDuration=160\r\n", "application/dtmf-relay", ["X-Internal: secret", "X-Dtmf: 5"]);
  sim.run(sim.now + 2000);
  assert.deepEqual(b.sent, [["INFO", 200]], "the carrier's INFO answered with alice's 200");
  assert.equal(a.requests.length, 1, "alice got the INFO");
  const info = a.requests[0];
  assert.equal(info.method, "INFO");
  assert.deepEqual(values(info, "x-internal"), [], info.text);
  assert.deepEqual(values(info, "x-dtmf"), ["5"]);
  alice.bye(a, [...a.dialogs.values()][0]);
  sim.run(sim.now + 5000);
  idle(gw, sim);
});

// ---- reliable provisionals (RFC 3262) and forked answers (RFC 3261 §13.2.2.4) --------------------------

/** The leg's own extension negotiation: the option tags of header `name` (comma lists, any case). */
const tags = (m, name) => m.all(name).map((t) => t.toLowerCase());

for (const seed of SEEDS) {
  test(`100rel phone → trunk: the carrier's reliable 180 reaches alice with Require: 100rel and its RSeq, alice's PRACK reaches the carrier with RAck mapped to the B leg's CSeq, 200 back (seed ${seed})`, () => {
    const { sim, gw, alice, carrier } = setup(seed, { alice: { prack: true }, carrier: { reliable: true, ring: 50, answer: 600 } });
    const id = alice.invite("15551234", { hangupAfter: 1000, cseq: 7, headers: ["Supported: 100rel, timer"] });
    sim.run(sim.now + 6000);
    const a = alice.calls.get(id);
    assert.deepEqual(a.finals, [200], `answered\n${sim.transcript()}`);
    const b = carrierCall(carrier);
    // the B leg offers 100rel (the extension we relay), nothing else of alice's Supported list
    assert.deepEqual(tags(b.st.msg, "supported"), ["100rel"], b.st.msg.text);
    assert.deepEqual(tags(b.st.msg, "require"), []);
    // alice saw the reliable 180 as the carrier sent it: Require: 100rel, the same RSeq
    const ringing = sim.log.filter(([, f, t, l]) => f === GW && t === "127.0.0.2:5060" && l.startsWith("SIP/2.0 180"));
    assert.ok(ringing.length >= 1, sim.transcript());
    assert.equal(a.rseq, b.st.rel.rseq, "alice PRACKed the carrier's RSeq");
    // one PRACK each way, RAck naming each leg's own INVITE (alice's CSeq 7; the B leg's CSeq 1)
    assert.deepEqual(a.pracks, [[`${b.st.rel.rseq} 7 INVITE`, 200]], sim.transcript());
    assert.deepEqual(b.pracksIn.map((r) => r.replace(/\s+/g, " ")), [`${b.st.rel.rseq} 1 INVITE`]);
    assert.equal(b.st.rel.pracked, true, "the carrier stopped retransmitting its 180");
    assert.deepEqual(a.dialogs.size, 1);
    assert.equal([...a.dialogs.values()][0].bye, 200, "alice's BYE, after the PRACK's CSeq, answered");
    idle(gw, sim);
    assert.deepEqual(alice.stray, []);
    assert.deepEqual(carrier.stray, []);
  });

  test(`100rel trunk → phone: alice's reliable 180 reaches the carrier, its PRACK reaches alice with RAck mapped (seed ${seed})`, () => {
    const { sim, gw, alice, carrier } = setup(seed, { alice: { reliable: true, ring: 50, answer: 600 }, carrier: { prack: true } });
    const id = carrier.invite("alice", { hangupAfter: 1000, cseq: 31, headers: ["Require: 100rel"] });
    sim.run(sim.now + 6000);
    const c = carrier.calls.get(id);
    assert.deepEqual(c.finals, [200], `answered\n${sim.transcript()}`);
    const inbound = [...alice.calls.values()].filter((x) => x.role === "uas");
    assert.equal(inbound.length, 1);
    const st = inbound[0].st;
    assert.deepEqual(tags(st.msg, "require"), ["100rel"], "the carrier's Require: 100rel carried to alice");
    assert.deepEqual(c.pracks, [[`${st.rel.rseq} 31 INVITE`, 200]], sim.transcript());
    assert.deepEqual(inbound[0].pracksIn.map((r) => r.replace(/\s+/g, " ")), [`${st.rel.rseq} 1 INVITE`]);
    idle(gw, sim);
    assert.deepEqual(alice.stray, []);
    assert.deepEqual(carrier.stray, []);
  });
}

for (const seed of [150, 151, 152, 153]) {
  test(`100rel on a lossy network (15 % loss, 5 % duplicates): retransmitted reliable 180s and PRACKs end in one answered call (seed ${seed})`, () => {
    const { sim, gw, alice, carrier } = setup(seed, { net: { loss: 0.15, dup: 0.05 }, alice: { prack: true }, carrier: { reliable: true, ring: 50, answer: 2500 } });
    const id = alice.invite("15551234", { hangupAfter: 1000, headers: ["Supported: 100rel"] });
    sim.run(sim.now + 90_000);
    const a = alice.calls.get(id);
    assert.deepEqual(a.finals, [200], `answered\n${sim.transcript()}`);
    const b = carrierCall(carrier);
    assert.equal(b.st.rel.pracked, true, sim.transcript());
    assert.ok(a.pracks.length === 1 && a.pracks[0][1] === 200, JSON.stringify(a.pracks));
    idle(gw, sim);
  });
}

test("an option tag we do not implement in Require (RFC 3261 8.2.2.3): 420 with Unsupported naming it, nothing reaches the carrier", () => {
  const { sim, gw, alice, carrier } = setup(154);
  const id = alice.invite("15551234", { headers: ["Require: 100rel, precondition", "Supported: timer"] });
  sim.run(sim.now + 3000);
  assert.deepEqual(alice.calls.get(id).finals, [420], sim.transcript());
  const r = sim.log.find(([, f, t, l]) => f === GW && t === "127.0.0.2:5060" && l.startsWith("SIP/2.0 420"));
  assert.ok(r, sim.transcript());
  assert.equal(carrier.calls.size, 0, "nothing reached the carrier");
  idle(gw, sim);
});

test("420's Unsupported lists the option tags we do not implement, and only them", () => {
  const { sim, gw, alice } = setup(155);
  let unsupported = null;
  const orig = alice.onResponse.bind(alice);
  alice.onResponse = (m) => { if (m.status === 420) unsupported = m.all("unsupported"); orig(m); };
  alice.invite("15551234", { headers: ["Require: precondition", "Require: 100rel, sec-agree"] });
  sim.run(sim.now + 3000);
  assert.deepEqual(unsupported, ["precondition", "sec-agree"]);
  idle(gw, sim);
});

/**
 * A provider's forking proxy at CARRIER: the INVITE reaches two phones; `plan` lists what each sends and
 * when ([ms, status, tag, { rel }]); each 2xx is retransmitted at T1 doubling until the ACK with its To
 * tag; BYEs and ACKs are recorded by To tag, and every BYE is answered 200. A provisional with `rel` is
 * reliable (RFC 3262 §3: Require: 100rel, an RSeq), retransmitted at T1 doubling until a PRACK in its
 * fork's dialog with RAck "RSEQ CSEQ INVITE" (others get 481); that fork's 2xx waits for the PRACK (§3:
 * its answer may have been in the provisional). PRACKs are recorded ({ tag, rack, cseq, ruri, status }),
 * and BYEs' CSeqs by To tag. A step [ms, "BYE", tag] is that phone hanging up in its early dialog (which
 * RFC 3261 §15 forbids a callee: a far end that misbehaves).
 */
class Fork {
  constructor(sim, plan) {
    this.sim = sim;
    this.plan = plan;
    this.acks = {};
    this.byes = [];
    this.byeCseqs = {};
    this.invites = 0;
    this.rel = {};
    this.pracks = [];
    sim.attach(CARRIER, this);
  }
  receive(from, bytes) {
    const m = parseMsg(bytes.toString("latin1"));
    if (m.status) return;
    if (m.method === "INVITE" && !m.toTag) {
      if (this.invites++) return; // a retransmission: the plan runs once
      for (const [at, status, tag, opts = {}] of this.plan) {
        this.sim.after(at, () => (status === "BYE" ? this.earlyBye(m, tag) : this.respondPlanned(m, status, tag, opts, 0)));
      }
    } else if (m.method === "PRACK") {
      const rel = this.rel[m.toTag];
      const rack = (m.get("rack") ?? "").split(/\s+/).join(" ");
      const ok = rel !== undefined && rack === `${rel.rseq} ${rel.cseq} INVITE`;
      if (ok) rel.pracked = true;
      this.pracks.push({ tag: m.toTag, rack, cseq: m.cseqNum, ruri: m.ruri, status: ok ? 200 : 481 });
      this.sim.send(CARRIER, GW, this.response(m, ok ? 200 : 481, null));
    } else if (m.method === "ACK") {
      this.acks[m.toTag] = (this.acks[m.toTag] ?? 0) + 1;
    } else if (m.method === "BYE") {
      this.byes.push(m.toTag);
      this.byeCseqs[m.toTag] = m.cseqNum;
      this.sim.send(CARRIER, GW, this.response(m, 200, null));
    }
  }
  /** Phone `tag` hangs up its early dialog of INVITE m (to the caller's Contact; our 200 or 481 ignored). */
  earlyBye(m, tag) {
    const target = /<([^>]+)>/.exec(m.get("contact"))[1];
    this.sim.send(CARRIER, GW, [
      `BYE ${target} SIP/2.0`, `Via: SIP/2.0/UDP ${CARRIER};branch=z9hG4bKeb${tag}`, "Max-Forwards: 70",
      `From: ${m.get("to")};tag=${tag}`, `To: ${m.get("from")}`, `Call-ID: ${m.callId}`, "CSeq: 1 BYE", "Content-Length: 0", "", "",
    ].join("\r\n"));
  }
  /** What fork `tag` sends to INVITE m: a reliable provisional, or a 2xx once its reliable provisional is PRACKed. */
  respondPlanned(m, status, tag, opts, waited) {
    const rel = this.rel[tag];
    if (status >= 200 && rel && !rel.pracked) {
      // RFC 3262 §3: no 2xx before the PRACK of a reliable provisional (64·T1 at most, then none)
      if (waited < 32_000) this.sim.after(50, () => this.respondPlanned(m, status, tag, opts, waited + 50));
      return;
    }
    if (status < 200 && opts.rel) {
      const r = (this.rel[tag] = { rseq: 1 + (this.sim.rng.u32() % 1000), cseq: m.cseqNum, pracked: false });
      const text = this.response(m, status, tag, ["Require: 100rel", `RSeq: ${r.rseq}`]);
      this.sim.send(CARRIER, GW, text);
      let iv = 500;
      const again = () => {
        if (r.pracked || this.acks[tag] !== undefined || iv >= 32_000) return;
        this.sim.send(CARRIER, GW, text);
        iv *= 2;
        this.sim.after(iv, again);
      };
      this.sim.after(iv, again);
      return;
    }
    const text = this.response(m, status, tag);
    this.sim.send(CARRIER, GW, text);
    if (status < 200) return;
    let iv = 500;
    const again = () => {
      if (this.acks[tag]) return;
      this.sim.send(CARRIER, GW, text);
      iv *= 2;
      if (iv < 32_000) this.sim.after(iv, again);
    };
    this.sim.after(iv, again);
  }
  response(m, status, tag, extra = []) {
    const to = m.get("to") + (tag && !m.toTag ? `;tag=${tag}` : "");
    return [
      `SIP/2.0 ${status} ${status === 200 ? "OK" : "Ringing"}`, ...m.all("via").map((v) => `Via: ${v}`), `From: ${m.get("from")}`,
      `To: ${to}`, `Call-ID: ${m.callId}`, `CSeq: ${m.cseqNum} ${m.method}`,
      ...(m.method === "INVITE" ? [`Contact: <sip:${tag}@${CARRIER}>`] : []), ...extra, `Content-Length: 0`, ``, ``,
    ].join("\r\n");
  }
}

for (const seed of [160, 161, 162]) {
  test(`two forks answer (200 from phone1, then 200 from phone2): the first is the call, the second is ACKed and ended with a BYE (seed ${seed})`, () => {
    const { sim, gw, alice } = setup(seed);
    sim.detach(CARRIER);
    const fork = new Fork(sim, [[40, 180, "phone1"], [100, 200, "phone1"], [160, 200, "phone2"]]);
    const id = alice.invite("15551234", { hangupAfter: 3000 });
    sim.run(sim.now + 10_000);
    const a = alice.calls.get(id);
    assert.deepEqual(a.finals, [200], sim.transcript());
    assert.equal(a.dialogs.size, 1, "alice has one call");
    assert.ok(fork.acks.phone1 >= 1 && fork.acks.phone2 >= 1, `both 2xx ACKed: ${JSON.stringify(fork.acks)}\n${sim.transcript()}`);
    assert.deepEqual(fork.byes, ["phone2", "phone1"], "phone2's dialog BYEd at once, phone1's when alice hung up");
    const byeTo = sim.log.filter(([, f, t, l]) => f === GW && t === CARRIER && l.startsWith("BYE ")).map(([, , , l]) => l);
    assert.deepEqual(byeTo, [`BYE sip:phone2@${CARRIER} SIP/2.0`, `BYE sip:phone1@${CARRIER} SIP/2.0`], "each BYE to its fork's Contact");
    idle(gw, sim);
  });

  test(`a fork rings (180 from phone1) and another answers (200 from phone2): the call is phone2's dialog (seed ${seed})`, () => {
    const { sim, gw, alice } = setup(seed);
    sim.detach(CARRIER);
    const fork = new Fork(sim, [[40, 180, "phone1"], [120, 200, "phone2"]]);
    const id = alice.invite("15551234", { hangupAfter: 2000 });
    sim.run(sim.now + 10_000);
    assert.deepEqual(alice.calls.get(id).finals, [200], sim.transcript());
    assert.ok(fork.acks.phone2 >= 1, `phone2's 2xx ACKed: ${JSON.stringify(fork.acks)}\n${sim.transcript()}`);
    assert.equal(fork.acks.phone1, undefined, "nothing ACKed for the fork that only rang");
    const acks = sim.log.filter(([, f, t, l]) => f === GW && t === CARRIER && l.startsWith("ACK ")).map(([, , , l]) => l);
    assert.ok(acks.every((l) => l === `ACK sip:phone2@${CARRIER} SIP/2.0`), acks.join("\n"));
    assert.deepEqual(fork.byes, ["phone2"], "alice's hang-up reached the phone that answered");
    idle(gw, sim);
  });

  // RFC 3262 with a forking provider: alice follows one early dialog (the first fork's), so the B2BUA
  // PRACKs another fork's reliable provisional itself, in that fork's own dialog, and does not carry it
  // to alice (her RSeq space is the first fork's). Without that PRACK the second phone could never answer.
  const relFork = (plan) => {
    const { sim, gw, alice } = setup(seed, { alice: { prack: true } });
    sim.detach(CARRIER);
    const fork = new Fork(sim, plan);
    const id = alice.invite("15551234", { hangupAfter: 2000, cseq: 7, headers: ["Supported: 100rel"] });
    sim.run(sim.now + 12_000);
    return { sim, gw, fork, a: alice.calls.get(id), alice };
  };
  const rel = { rel: true };

  test(`two forks ring reliably (183s with 100rel) and the second answers: the B2BUA PRACKs the second fork itself, the call continues that dialog (seed ${seed})`, () => {
    const { sim, gw, fork, a, alice } = relFork([[40, 183, "phone1", rel], [90, 183, "phone2", rel], [250, 200, "phone2"]]);
    assert.deepEqual(a.finals, [200], sim.transcript());
    // alice PRACKed the first fork's provisional, relayed to phone1; phone2's came from the B2BUA
    assert.deepEqual(a.pracks, [[`${fork.rel.phone1.rseq} 7 INVITE`, 200]], sim.transcript());
    const byTag = (t) => fork.pracks.filter((p) => p.tag === t);
    assert.deepEqual(byTag("phone1").map((p) => [p.rack, p.status]), [[`${fork.rel.phone1.rseq} 1 INVITE`, 200]]);
    assert.deepEqual(byTag("phone2").map((p) => [p.rack, p.status, p.ruri]), [[`${fork.rel.phone2.rseq} 1 INVITE`, 200, `sip:phone2@${CARRIER}`]],
      `phone2's reliable 183 PRACKed in its own dialog\n${sim.transcript()}`);
    assert.equal(fork.rel.phone2.pracked, true);
    // alice never saw phone2's reliable provisional (its RSeq is not in her early dialog's sequence)
    const rseqs = (a.provisionalMsgs ?? []).filter((r) => r.status > 100).map((r) => r.get("rseq"));
    assert.ok(rseqs.length >= 1 && rseqs.every((r) => r === String(fork.rel.phone1.rseq)), `alice's provisionals' RSeqs: ${rseqs}`);
    // the call is phone2's dialog: ACK there, alice's hang-up reaches phone2 with a CSeq past our PRACK's
    assert.ok(fork.acks.phone2 >= 1, JSON.stringify(fork.acks));
    assert.equal(fork.acks.phone1, undefined);
    assert.deepEqual(fork.byes, ["phone2"]);
    const prack2 = byTag("phone2")[0].cseq;
    assert.ok(fork.byeCseqs.phone2 > prack2, `BYE CSeq ${fork.byeCseqs.phone2} after the PRACK's ${prack2}`);
    idle(gw, sim);
    assert.deepEqual(alice.stray, []);
  });

  test(`three forks ring reliably and the third answers: the B2BUA PRACKs the second and the third in their own dialogs, the call continues the third's (seed ${seed})`, () => {
    const { sim, gw, fork, a } = relFork([[40, 183, "phone1", rel], [90, 183, "phone2", rel], [130, 183, "phone3", rel], [300, 200, "phone3"]]);
    assert.deepEqual(a.finals, [200], sim.transcript());
    for (const t of ["phone1", "phone2", "phone3"]) assert.equal(fork.rel[t].pracked, true, `${t}'s reliable 183 PRACKed\n${sim.transcript()}`);
    assert.deepEqual(fork.pracks.filter((p) => p.tag !== "phone1").map((p) => [p.tag, p.rack, p.cseq]),
      [["phone2", `${fork.rel.phone2.rseq} 1 INVITE`, 2], ["phone3", `${fork.rel.phone3.rseq} 1 INVITE`, 2]], "ours, each in its own dialog");
    assert.equal(a.pracks.length, 1, "alice PRACKed only the first fork's");
    assert.ok(fork.acks.phone3 >= 1, JSON.stringify(fork.acks));
    assert.deepEqual(fork.byes, ["phone3"]);
    assert.ok(fork.byeCseqs.phone3 > 2, `BYE CSeq ${fork.byeCseqs.phone3} after the PRACK's`);
    idle(gw, sim);
  });

  test(`two forks ring reliably, the first answers, the second answers later: the second's early dialog (PRACKed by us) is ACKed and ended with a BYE past the PRACK's CSeq (seed ${seed})`, () => {
    const { sim, gw, fork, a } = relFork([[40, 183, "phone1", rel], [90, 183, "phone2", rel], [250, 200, "phone1"], [700, 200, "phone2"]]);
    assert.deepEqual(a.finals, [200], sim.transcript());
    assert.equal(fork.rel.phone2.pracked, true, sim.transcript());
    assert.ok(fork.acks.phone1 >= 1 && fork.acks.phone2 >= 1, JSON.stringify(fork.acks));
    assert.deepEqual(fork.byes, ["phone2", "phone1"], "phone2's late answer ended at once, phone1's call by alice");
    const prack2 = fork.pracks.find((p) => p.tag === "phone2").cseq;
    assert.ok(fork.byeCseqs.phone2 > prack2, `BYE CSeq ${fork.byeCseqs.phone2} after the PRACK's ${prack2}`);
    idle(gw, sim);
  });

  test(`two forks ring reliably and only the first answers: the second fork's early dialog ends with the call, nothing left (seed ${seed})`, () => {
    const { sim, gw, fork, a } = relFork([[40, 183, "phone1", rel], [90, 183, "phone2", rel], [250, 200, "phone1"]]);
    assert.deepEqual(a.finals, [200], sim.transcript());
    assert.equal(fork.rel.phone2.pracked, true, sim.transcript());
    assert.equal(fork.acks.phone2, undefined);
    assert.deepEqual(fork.byes, ["phone1"]);
    idle(gw, sim);
  });

  test(`a fork we PRACKed hangs up its early dialog (a BYE a callee must not send): answered, its dialog stays ours until the INVITE ends, nothing left (seed ${seed})`, () => {
    const { sim, gw, fork, a } = relFork([[40, 183, "phone1", rel], [90, 183, "phone2", rel], [150, "BYE", "phone2"], [1500, 486, "phone1"]]);
    assert.deepEqual(a.finals, [486], sim.transcript());
    const byeOk = sim.log.filter(([, f, t, l]) => f === GW && t === CARRIER && l.startsWith("SIP/2.0 200")).length;
    assert.equal(byeOk, 1, `the BYE answered 200 (our only response to the carrier)\n${sim.transcript()}`);
    assert.equal(fork.rel.phone2.pracked, true);
    idle(gw, sim);
  });

  test(`a fork we PRACKed hangs up its early dialog while the call rings: the dialog is still ours (the caller's, the first fork's and it: three) (seed ${seed})`, () => {
    const { sim, gw, alice } = setup(seed, { alice: { prack: true } });
    sim.detach(CARRIER);
    new Fork(sim, [[40, 183, "phone1", rel], [90, 183, "phone2", rel], [150, "BYE", "phone2"], [1500, 486, "phone1"]]);
    const id = alice.invite("15551234", { hangupAfter: null, headers: ["Supported: 100rel"] });
    sim.run(sim.now + 1000);
    assert.equal(gw.ex.probe_ua_in_use(), 3, sim.transcript());
    sim.run(sim.now + 8000);
    assert.deepEqual(alice.calls.get(id).finals, [486]);
    idle(gw, sim);
  });

  test(`two forks ring reliably and the call fails (486 from the provider): both early dialogs end, nothing left (seed ${seed})`, () => {
    const { sim, gw, fork, a } = relFork([[40, 183, "phone1", rel], [90, 183, "phone2", rel], [400, 486, "phone1"]]);
    assert.deepEqual(a.finals, [486], sim.transcript());
    assert.equal(fork.rel.phone2.pracked, true, sim.transcript());
    idle(gw, sim);
  });
}

// Timer C on the B leg: a callee that rings and never answers is cancelled after 180 s (as a proxy
// cancels its branch, RFC 3261 §16.8), alice gets 408; an answer that crosses our CANCEL is ACKed and
// ended with a BYE (§13.2.2.4), and nothing of the call is left.
const timerCOutcomes = new Set();
for (let k = 0; k < 8; k++) {
  const answer = k === 0 ? null : 180_020 + k * 10;
  test(`Timer C on the B leg: the carrier rings and ${answer === null ? "never answers" : `answers at ${answer} ms`} (seed ${170 + k})`, () => {
    const { sim, gw, alice, carrier } = setup(170 + k, { carrier: { ring: 50, answer } });
    const id = alice.invite("15551234", { hangupAfter: 1000 });
    sim.run(sim.now + 260_000);
    const a = alice.calls.get(id);
    const b = carrierCall(carrier);
    if (a.finals[0] === 200) {
      timerCOutcomes.add("answered");
      assert.equal(b.cancels, 0, sim.transcript());
    } else {
      assert.deepEqual(a.finals, [408], `alice's call timed out\n${sim.transcript()}`);
      assert.equal(b.cancels, 1, "the carrier got our CANCEL");
      if (b.sentFinal === 487) {
        timerCOutcomes.add("cancelled");
        assert.equal(b.ackForFinal, 1, "its 487 ACKed");
      } else {
        timerCOutcomes.add("crossed");
        assert.equal(b.sentFinal, 200, sim.transcript());
        assert.ok(b.ackFor2xx >= 1, "its 2xx ACKed");
        assert.equal(b.byes, 1, "and ended with our BYE");
        assert.notEqual(b.noAck, true);
      }
    }
    idle(gw, sim);
    assert.deepEqual(carrier.stray, []);
  });
}
test("the Timer C sweep met a cancelled call and an answer crossing the CANCEL", () => {
  assert.ok(timerCOutcomes.has("cancelled") && timerCOutcomes.has("crossed"), [...timerCOutcomes].join());
});

// OPTIONS outside a dialog (a provider's keepalive, a phone's, a health check): the B2BUA answers it
// itself, 200 with what it implements (Allow, Accept, Supported: RFC 3261 §11.2); one from a stranger
// that names a user (a probe for a number) gets 403; nothing is relayed to the other side.
test("OPTIONS: the trunk's and a phone's keepalives get 200 with Allow/Accept/Supported, a stranger's probe for a number 403, a ping of the server itself 200; nothing relayed", () => {
  const { sim, gw, alice, carrier } = setup(180);
  const stranger = new Ua(sim, "127.0.0.7:5060", "mallory", { proxy: GW });
  const ask = (ua, ruri) => {
    const got = {};
    const text = [
      `OPTIONS ${ruri} SIP/2.0`, `Via: SIP/2.0/UDP ${ua.addr};rport;branch=z9hG4bK${ua.id("o")}`, "Max-Forwards: 70",
      `From: <sip:${ua.user}@${ua.addr}>;tag=${ua.id("t")}`, `To: <${ruri}>`, `Call-ID: ${ua.id("opt")}`, "CSeq: 1 OPTIONS", "Content-Length: 0", "", "",
    ].join("\r\n");
    ua.client(text, GW, (r) => { got.status = r ? r.status : 408; got.msg = r; });
    return got;
  };
  const fromCarrier = ask(carrier, "sip:127.0.0.4:5060");
  const fromAlice = ask(alice, "sip:127.0.0.4");
  const probe = ask(stranger, "sip:15551234@127.0.0.4");
  const ping = ask(stranger, "sip:127.0.0.4");
  sim.run(sim.now + 2000);
  for (const [who, got] of [["carrier", fromCarrier], ["alice", fromAlice], ["a ping", ping]]) {
    assert.equal(got.status, 200, `${who}\n${sim.transcript()}`);
    const allow = got.msg.all("allow");
    for (const m of ["INVITE", "ACK", "CANCEL", "BYE", "OPTIONS", "PRACK", "UPDATE", "INFO"]) assert.ok(allow.includes(m), `${who}: Allow has ${m}: ${allow}`);
    assert.deepEqual(got.msg.all("accept"), ["application/sdp"]);
    assert.deepEqual(got.msg.all("supported"), ["100rel"]);
  }
  assert.equal(probe.status, 403, "a stranger's probe for a number");
  assert.equal(sim.log.filter(([, f, t, l]) => f === GW && l.startsWith("OPTIONS ")).length, 0, "nothing relayed");
  idle(gw, sim);
});

// Replaces (RFC 3891) and Join (RFC 3911) name a dialog of the leg they came on: the B2BUA does not
// implement them, so it ignores them as a UA that does not support them must, and they never cross
// (they carry that leg's Call-ID and tags: none may reach the other side).
test("Replaces and Join never cross: the trunk leg's INVITE carries neither (nor the phone side's Call-ID and tags in them)", () => {
  const { sim, gw, alice, carrier } = setup(181);
  const id = alice.invite("15551234", { hangupAfter: 300, headers: ["Replaces: old-call@127.0.0.2;to-tag=aaa;from-tag=bbb", "Join: other@127.0.0.2;to-tag=ccc;from-tag=ddd", "X-Keep: 1"] });
  sim.run(sim.now + 4000);
  assert.deepEqual(alice.calls.get(id).finals, [200], sim.transcript());
  const inv = carrierCall(carrier).st.msg;
  assert.equal(inv.get("replaces"), undefined, inv.text);
  assert.equal(inv.get("join"), undefined);
  assert.ok(!inv.text.includes("old-call@127.0.0.2") && !inv.text.includes("other@127.0.0.2"));
  assert.equal(inv.get("x-keep"), "1", "other headers pass");
  idle(gw, sim);
});

// Identity in the answer (RFC 3325 §9.1 for responses): what the caller's side learns of who answered
// follows that side's "pai" mode as requests do: "from" asserts ours, <sip:NUMBER@host> with the number
// the caller dialled and the caller's side's host; passthrough carries a trusted callee's (a trunk's),
// never a phone's; a callee's Privacy: id keeps it from an untrusted side.
test("identity in the answer, trunk → phone with \"pai 1 from\": the carrier's 200 asserts the number it dialled at its host; alice's own claim never crosses", () => {
  const { sim, gw, alice, carrier } = identitySetup(182, ["pai 1 from"], { alice: { answerHeaders: ["P-Asserted-Identity: <sip:ceo@bank.example>"] } });
  const id = carrier.invite("alice", { hangupAfter: 300 });
  sim.run(sim.now + 4000);
  const c = carrier.calls.get(id);
  assert.deepEqual(c.finals, [200], sim.transcript());
  const ok = [...c.dialogs.values()][0].resp;
  assert.deepEqual(values(ok, "p-asserted-identity"), [`<sip:alice@${CARRIER}>`], ok.text);
  idle(gw, sim);
});

test("identity in the answer, trunk → phone by default (passthrough): a phone's P-Asserted-Identity never reaches the trunk", () => {
  const { sim, gw, alice, carrier } = identitySetup(183, [], { alice: { answerHeaders: ["P-Asserted-Identity: <sip:ceo@bank.example>"] } });
  const id = carrier.invite("alice", { hangupAfter: 300 });
  sim.run(sim.now + 4000);
  const ok = [...carrier.calls.get(id).dialogs.values()][0].resp;
  assert.deepEqual(values(ok, "p-asserted-identity"), [], ok.text);
  idle(gw, sim);
});

test("identity in the answer, phone → trunk: the carrier's assertion passes to alice (passthrough), not when it asks for privacy; with \"pai 0 from\" alice gets ours", () => {
  for (const [texts, headers, want] of [
    [[], ["P-Asserted-Identity: <sip:+15551234@carrier.example>"], ["<sip:+15551234@carrier.example>"]],
    [[], ["P-Asserted-Identity: <sip:+15551234@carrier.example>", "Privacy: id"], []],
    [["pai 0 from"], ["P-Asserted-Identity: <sip:+15551234@carrier.example>"], ["<sip:15551234@127.0.0.4>"]],
  ]) {
    const { sim, gw, alice } = identitySetup(184, texts, { carrier: { answerHeaders: headers } });
    const id = alice.invite("15551234", { hangupAfter: 300 });
    sim.run(sim.now + 4000);
    const a = alice.calls.get(id);
    assert.deepEqual(a.finals, [200], sim.transcript());
    const ok = [...a.dialogs.values()][0].resp;
    assert.deepEqual(values(ok, "p-asserted-identity"), want, `${texts} ${headers}\n${ok.text}`);
    idle(gw, sim);
  }
});

// A trunk that authenticates its calls by digest ("accept SIDE digest": a provider whose calls come
// from addresses we cannot list): a call from an address that is no trunk's and no registered phone's
// is challenged (407, our realm) and taken as that trunk's when its credentials are the trunk's
// username and password; wrong ones, or a phone's own, get 403 and nothing is sent on. The trunk's
// configured address is still taken as it is, without a challenge.
function digestSetup(seed, roamingPassword = "s3cret", roamingUser = "acme") {
  const sim = new Sim({ seed, latency: [5, 20] });
  const gw = new CoreNode(sim, GW, { probe: true, domains: ["127.0.0.4"], users: ["alice:password=apw", "acme:password=s3cret"] });
  gw.ex.probe_b2bua_on(1);
  for (const t of ["0 registrar 1 127.0.0.4", `1 trunk 0 ${CARRIER} ${CARRIER} acme s3cret`, "accept 1 digest"]) assert.equal(sideText(gw, t), 1, t);
  const alice = new Ua(sim, "127.0.0.2:5060", "alice", { proxy: GW, ring: 50, answer: 200, password: "apw" });
  const roaming = new Ua(sim, "127.0.0.6:5060", roamingUser, { proxy: GW, domain: "127.0.0.4", password: roamingPassword, ring: 50, answer: 200 });
  alice.register();
  sim.run(sim.now + 1000);
  assert.equal(alice.registered, 200, "alice registered (with digest)");
  return { sim, gw, alice, roaming };
}

for (const seed of [190, 191, 192]) {
  test(`a digest trunk's call from another address: 407, answered with the trunk's credentials, reaches alice (seed ${seed})`, () => {
    const { sim, gw, alice, roaming } = digestSetup(seed);
    const id = roaming.invite("alice", { hangupAfter: 500 });
    sim.run(sim.now + 5000);
    const c = roaming.calls.get(id);
    assert.deepEqual(c.finals, [200], sim.transcript());
    assert.equal(roaming.challenges, 1, "challenged once");
    const inv = aliceInvite(alice);
    assert.equal(inv.get("proxy-authorization"), undefined, "the credentials do not cross");
    assert.ok(!inv.text.includes("127.0.0.6"), "nor the provider's address");
    idle(gw, sim);
  });
}

test("a digest trunk: wrong credentials, and a phone's own credentials from elsewhere, get 403 and nothing reaches anyone", () => {
  for (const [user, pw] of [["acme", "wrong"], ["alice", "apw"]]) {
    const { sim, gw, alice, roaming } = digestSetup(193, pw, user);
    const id = roaming.invite("alice", { hangupAfter: 500 });
    sim.run(sim.now + 5000);
    assert.deepEqual(roaming.calls.get(id).finals, [403], `${user}/${pw}\n${sim.transcript()}`);
    assert.equal(roaming.challenges, 1);
    assert.equal([...alice.calls.values()].filter((x) => x.role === "uas").length, 0, "nothing reached alice");
    if (user === "acme") assert.ok((gw.events["auth-fail"] ?? 0) >= 1, `an auth-fail event: ${JSON.stringify(gw.events)}`);
    idle(gw, sim);
  }
});

test("a digest trunk's configured address is still taken without a challenge; without \"accept digest\" a stranger is refused unchallenged", () => {
  const { sim, gw, alice } = digestSetup(194);
  const carrier = new Ua(sim, CARRIER, "carrier", { proxy: GW, domain: "127.0.0.4" });
  const id = carrier.invite("alice", { hangupAfter: 300 });
  sim.run(sim.now + 4000);
  assert.deepEqual(carrier.calls.get(id).finals, [200], sim.transcript());
  assert.equal(carrier.challenges, 0);
  idle(gw, sim);
  const plain = setup(195);
  const stranger = new Ua(plain.sim, "127.0.0.6:5060", "acme", { proxy: GW, domain: "127.0.0.4", password: "s3cret" });
  const sid = stranger.invite("alice");
  plain.sim.run(plain.sim.now + 3000);
  assert.deepEqual(stranger.calls.get(sid).finals, [403]);
  assert.equal(stranger.challenges, 0, "no challenge where no trunk takes digest");
});

// The b2bua board's 16,384 call records: a call in any of them works (its records are found from the
// handles its legs' transactions carry, whose index field must hold every record's index), also where
// the search for a free record wraps around.
test("the b2bua board: calls in records past index 4,095, up to its last, complete", () => {
  const sim = new Sim({ seed: 200, latency: [5, 20] });
  const gw = new CoreNode(sim, GW, { board: "b2bua", probe: true, domains: ["127.0.0.4"] });
  gw.ex.probe_b2bua_on(1);
  side(gw, 0, 1, 1, "127.0.0.4");
  side(gw, 1, 2, 0, CARRIER, CARRIER);
  const alice = new Ua(sim, "127.0.0.2:5060", "alice", { proxy: GW });
  const carrier = new Ua(sim, CARRIER, "carrier", { proxy: GW, domain: "127.0.0.4", ring: 20, answer: 60 });
  alice.register();
  sim.run(sim.now + 500);
  const n = gw.ex.probe_b2bua_capacity();
  assert.ok(n > 4096, `the board holds ${n} calls`);
  for (const at of [4094, 4095, 4096, 12_345, n - 2, n - 1]) {
    assert.equal(gw.ex.probe_b2bua_next_record(at), 1, `record ${at} is free and next`);
    const id = alice.invite("15551234", { hangupAfter: 100 });
    sim.run(sim.now + 50);
    assert.equal(gw.ex.probe_b2bua_state(at), 1, `the call is in record ${at} (calling)`);
    sim.run(sim.now + 3000);
    assert.deepEqual(alice.calls.get(id).finals, [200], `a call in record ${at}\n${sim.transcript()}`);
    assert.equal([...alice.calls.get(id).dialogs.values()][0].bye, 200, `its BYE (record ${at})`);
    idle(gw, sim);
  }
  assert.equal(carrier.calls.size, 6);
});
