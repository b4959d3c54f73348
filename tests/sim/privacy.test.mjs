// The B2BUA as RFC 3323's privacy service (issue 12: Privacy's header and session services beyond the
// From), in the deterministic simulator: the gateway board's probe build between alice's registrar side
// (untrusted: her phone) and a trunk (the carrier, trusted), the media relay configured but no side
// relaying by default.
//   header    a call from the carrier with Privacy: header reaches alice without the headers that may
//             reveal who called (Call-Info, In-Reply-To, Organization, Reply-To, Subject, User-Agent,
//             Server, Warning); unknown headers and the Privacy header still pass; without it all pass;
//             toward the trusted carrier nothing is removed (the provider is the privacy service there)
//   session   Privacy: session from the carrier: the SDP alice gets names the relay, never the carrier's
//             address, and the host is told to open the legs; without it, the carrier's SDP as it came;
//             toward the carrier alice's session privacy is left to the provider (her SDP as it came)
//   critical  a gateway with no relay address cannot give session privacy: session;critical is refused
//             with 500 and nothing reaches alice; session alone goes on without it
import { test } from "node:test";
import assert from "node:assert/strict";
import { Sim, CoreNode } from "./net.mjs";
import { Ua } from "./ua.mjs";

const { CfgKind } = await import("../../host/firmware/abi.mjs");

const GW = "127.0.0.4:5060";
const CARRIER = "127.0.0.5:5060";
const RELAY = "127.0.0.40";
const OFFER = "v=0\r\no=carrier 1 1 IN IP4 127.0.0.5\r\ns=-\r\nc=IN IP4 127.0.0.5\r\nt=0 0\r\nm=audio 5000 RTP/AVP 0\r\n";
const ANSWER = "v=0\r\no=alice 7 7 IN IP4 127.0.0.2\r\ns=-\r\nc=IN IP4 127.0.0.2\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n";
const REVEALING = ["Call-Info: <http://wwww.example.com/carrier.png>;purpose=icon", "In-Reply-To: 70710@saturn.example.com",
  "Organization: Carrier Inc.", "Reply-To: Bob <sip:bob@carrier.example>", "Subject: lunch", "User-Agent: CarrierSBC/1.0",
  "Server: CarrierSBC/1.0", "Warning: 399 carrier.example \"note\""];
const NAMES = REVEALING.map((h) => h.split(":")[0].toLowerCase());

function setup(seed, { relay = true } = {}) {
  const sim = new Sim({ seed, latency: [5, 20] });
  const gw = new CoreNode(sim, GW, { board: "gateway", probe: true, domains: ["127.0.0.4"],
    set: relay ? { RelayPortMin: 20000, RelayPortMax: 20063 } : {} });
  if (relay) assert.equal(gw.cfgAdd(CfgKind.RelayAddress, RELAY), 0, "relay address");
  gw.ex.probe_b2bua_on(1);
  for (const t of ["0 registrar 1 127.0.0.4", `1 trunk 0 127.0.0.5 ${CARRIER}`]) assert.equal(gw.sideText(t), 1, t);
  const alice = new Ua(sim, "127.0.0.2:5060", "alice", { proxy: GW, ring: 50, answer: 300, answerBody: ANSWER });
  const carrier = new Ua(sim, CARRIER, "carrier", { proxy: GW, domain: "127.0.0.4", ring: 50, answer: 300, answerBody: ANSWER });
  alice.register();
  sim.run(sim.now + 500);
  assert.equal(alice.registered, 200);
  return { sim, gw, alice, carrier };
}

const bodyOf = (m) => m.text.slice(m.text.indexOf("\r\n\r\n") + 4);
const inbound = (ua) => [...ua.calls.values()].filter((c) => c.role === "uas");
/** The names of the headers of message m (lower case). */
const names = (m) => m.text.split("\r\n\r\n")[0].split("\r\n").slice(1).map((l) => l.slice(0, l.indexOf(":")).toLowerCase());

/** The carrier calls alice with `privacy` (none: no Privacy header); the INVITE alice got, and the call. */
function fromCarrier(s, privacy) {
  const headers = [...REVEALING, "X-Carrier-Ref: 42", ...(privacy ? [`Privacy: ${privacy}`] : [])];
  const id = s.carrier.invite("alice", { hangupAfter: 500, body: OFFER, headers });
  s.sim.run(s.sim.now + 2000);
  const got = inbound(s.alice).at(-1);
  return { id, inv: got?.st.msg, call: s.carrier.calls.get(id) };
}

for (const seed of [61, 62, 63]) {
  test(`header privacy from the trusted carrier: the revealing headers removed toward alice, unknown ones and Privacy pass (seed ${seed})`, () => {
    const s = setup(seed);
    const { inv, call } = fromCarrier(s, "header");
    assert.ok(inv, `alice got the call\n${s.sim.transcript()}`);
    assert.deepEqual(call.finals, [200]);
    assert.deepEqual(names(inv).filter((n) => NAMES.includes(n)), [], inv.text);
    assert.equal(inv.get("x-carrier-ref"), "42");
    assert.equal(inv.get("privacy"), "header");
    assert.match(inv.get("from"), /^"Anonymous" <sip:anonymous@anonymous\.invalid>/, "header privacy hides the From too (RFC 3323 §4.2)");
    // without Privacy every one of them passes
    const plain = fromCarrier(s, null);
    assert.deepEqual(names(plain.inv).filter((n) => NAMES.includes(n)).sort(), [...NAMES].sort());
  });

  test(`session privacy from the carrier: alice's SDP names the relay and legs open; without it, the carrier's SDP as it came (seed ${seed})`, () => {
    const s = setup(seed);
    const { inv, call } = fromCarrier(s, "session");
    assert.deepEqual(call.finals, [200], s.sim.transcript());
    assert.ok(!bodyOf(inv).includes("127.0.0.5"), `no carrier address in alice's SDP:\n${bodyOf(inv)}`);
    assert.match(bodyOf(inv), new RegExp(`c=IN IP4 ${RELAY.replaceAll(".", "\\.")}\\r\\n`));
    assert.ok(s.gw.relayLog.some((r) => r.op === "open" && r.peer === "127.0.0.5:5000"), "the carrier's leg opened at its offer's address");
    assert.deepEqual(names(inv).filter((n) => NAMES.includes(n)).sort(), [...NAMES].sort(), "session alone removes no header");
    s.sim.run(s.sim.now + 3000);
    assert.equal(s.gw.relayLegs.size, 0, "the legs closed at the BYE");
    const plain = fromCarrier(s, null);
    assert.equal(bodyOf(plain.inv), OFFER, "not relayed without it");
  });
}

test("toward the trusted carrier, alice's header and session privacy are the provider's: nothing removed, SDP as it came", () => {
  const s = setup(64);
  const id = s.alice.invite("+15551234", { hangupAfter: 500, body: ANSWER, headers: [...REVEALING, "Privacy: header;session"] });
  s.sim.run(s.sim.now + 2000);
  assert.deepEqual(s.alice.calls.get(id).finals, [200], s.sim.transcript());
  const inv = inbound(s.carrier).at(-1).st.msg;
  assert.deepEqual(names(inv).filter((n) => NAMES.includes(n)).sort(), [...NAMES].sort());
  assert.equal(bodyOf(inv), ANSWER);
  assert.equal(s.gw.relayLog.length, 0, "no relay leg");
});

test("no relay address: session;critical is refused with 500 and nothing reaches alice; session alone goes on without the relay", () => {
  const s = setup(65, { relay: false });
  const refused = fromCarrier(s, "session;critical");
  assert.deepEqual(refused.call.finals, [500], s.sim.transcript());
  assert.equal(inbound(s.alice).length, 0, "nothing reached alice");
  const { inv, call } = fromCarrier(s, "session");
  assert.deepEqual(call.finals, [200]);
  assert.equal(bodyOf(inv), OFFER);
});
