// The user agent's server core (assembly/dialog/uas.ts) in the deterministic simulator: a core (the probe
// build, its requests handed to the user agent instead of the proxy) answers calls from the simulator's
// RFC 3261 user agent (ua.mjs). Each scenario runs for several seeds (latency and ordering differ).
//   ringing and answered: 100 at once, 180 and 200 with our tag and Contact; the caller's ACK stops the
//   UAS core's 2xx retransmission (§13.3.1.4); the caller's BYE gets 200 and ends the dialog;
//   the ACK lost on purpose: the 2xx is retransmitted at T1, 2T1, 4T1 ... capped at T2, and after 64·T1
//   the call and its dialog end (§13.3.1.4), every table back to empty;
//   CANCEL while ringing: 200 to the CANCEL, 487 to the INVITE, whose ACK the transaction absorbs;
//   a BYE or an in-dialog request for no dialog of ours: 481.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Sim, CoreNode } from "./net.mjs";
import { Ua } from "./ua.mjs";

const GW = "127.0.0.4:5060";
const SEEDS = [21, 22, 23, 24, 25];

function setup(seed, aliceOpts = {}) {
  const sim = new Sim({ seed, latency: [5, 20] });
  const gw = new CoreNode(sim, GW, { probe: true, domains: ["127.0.0.4"] });
  gw.ex.probe_uas_take_requests(1);
  const alice = new Ua(sim, "127.0.0.2:5060", "alice", { proxy: GW, ...aliceOpts });
  return { sim, gw, alice };
}

const lines = (sim, from, to, prefix) => sim.log.filter(([, f, t, l]) => f === from && t === to && l.startsWith(prefix));

for (const seed of SEEDS) {
  test(`ringing and answered; the ACK stops the 2xx; BYE ends the dialog (seed ${seed})`, () => {
    const { sim, gw, alice } = setup(seed);
    const callId = alice.invite("gw", { hangupAfter: 3000 });
    sim.run(sim.now + 100);
    assert.equal(gw.ex.probe_uas_calls(), 1, "the INVITE opened a call");
    assert.equal(gw.ex.probe_uas_state(0), 1, "proceeding");
    assert.equal(lines(sim, GW, alice.addr, "SIP/2.0 100").length, 1, "100 Trying at once");
    assert.equal(gw.ex.probe_uas_respond(0, 180, sim.now), 1);
    gw.drain();
    sim.run(sim.now + 100);
    assert.equal(gw.ex.probe_uas_respond(0, 200, sim.now), 1);
    gw.drain();
    assert.equal(gw.ex.probe_uas_state(0), 2, "answered, waiting for the ACK");
    const dlg = gw.ex.probe_uas_dialog(0);
    assert.ok(dlg >= 0, "the 2xx made the dialog");
    sim.run(sim.now + 2000);
    assert.equal(gw.ex.probe_uas_state(0), 3, "confirmed by the ACK");
    assert.equal(gw.ex.probe_tu_timers(), 0, "no retransmission timer left");
    assert.equal(lines(sim, GW, alice.addr, "SIP/2.0 200").length, 1, `the 2xx once: the ACK came in time\n${sim.transcript()}`);
    const c = alice.calls.get(callId);
    assert.deepEqual(c.finals, [200]);
    assert.equal(c.provisionals >= 1, true, "alice saw the 180");
    // a request in the dialog that the user agent core does not handle yet (INFO): 501, not 481
    const d = [...c.dialogs.values()][0];
    let info = null;
    alice.client(alice.inDialog(c, d, "INFO", 2), d.dest, (r) => (info = r?.status ?? 408));
    sim.run(sim.now + 500);
    assert.equal(info, 501, "a known dialog: not implemented, not 481");
    sim.run(sim.now + 5000); // alice hangs up at 3 s
    assert.equal(d.bye, 200, "our 200 to alice's BYE");
    assert.equal(gw.ex.probe_uas_calls(), 0, "the call is over");
    assert.equal(gw.ex.probe_ua_state(dlg), 0, "its dialog freed");
    assert.deepEqual(alice.stray, []);
  });

  test(`the ACK never arrives: 2xx retransmitted T1, 2T1, 4T1 .. T2, then the call ends at 64·T1 (seed ${seed})`, () => {
    const { sim, gw, alice } = setup(seed);
    sim.filter = (from, to, text) => !(from === alice.addr && text.startsWith("ACK "));
    alice.invite("gw", { hangupAfter: 600_000 });
    sim.run(sim.now + 50);
    const t0 = sim.now;
    assert.equal(gw.ex.probe_uas_respond(0, 200, t0), 1);
    gw.drain();
    sim.run(t0 + 31_000);
    // sends at 0 and retransmissions at +0.5, +1.5, +3.5, +7.5, +11.5, ... (every 4 s from T2 on)
    const at = lines(sim, GW, alice.addr, "SIP/2.0 200").map(([t]) => t - t0);
    const gaps = at.slice(1).map((t, i) => Math.round((t - at[i]) / 100) * 100);
    assert.deepEqual(gaps.slice(0, 4), [500, 1000, 2000, 4000], `gaps ${gaps}`);
    assert.ok(gaps.slice(3).every((g) => g === 4000), `capped at T2: ${gaps}`);
    assert.equal(gw.ex.probe_uas_state(0), 2, "still waiting");
    sim.run(t0 + 33_000);
    assert.equal(gw.ex.probe_uas_calls(), 0, "given up after 64·T1");
    assert.equal(gw.ex.probe_tu_timers(), 0);
    const n = lines(sim, GW, alice.addr, "SIP/2.0 200").length;
    sim.run(t0 + 60_000);
    assert.equal(lines(sim, GW, alice.addr, "SIP/2.0 200").length, n, "no 2xx after giving up");
  });

  test(`CANCEL while ringing: 200 to the CANCEL, 487 to the INVITE, its ACK absorbed (seed ${seed})`, () => {
    const { sim, gw, alice } = setup(seed);
    const callId = alice.invite("gw", { cancelAfterRinging: 100 });
    sim.run(sim.now + 60);
    assert.equal(gw.ex.probe_uas_respond(0, 180, sim.now), 1);
    gw.drain();
    sim.run(sim.now + 3000);
    const c = alice.calls.get(callId);
    assert.equal(c.cancelStatus, 200);
    assert.deepEqual(c.finals, [487]);
    assert.equal(gw.ex.probe_uas_calls(), 0, "the call ended with the 487");
    assert.equal(lines(sim, GW, alice.addr, "SIP/2.0 487").length, 1, "the 487 once: its ACK arrived");
    assert.deepEqual(alice.stray, []);
  });
}

test("a BYE for no dialog of ours gets 481; an unknown method outside a dialog 501", () => {
  const { sim, gw, alice } = setup(31);
  const bye = [
    `BYE sip:gw@127.0.0.4 SIP/2.0`, `Via: SIP/2.0/UDP ${alice.addr};rport;branch=z9hG4bKbye1`, `Max-Forwards: 70`,
    `From: <sip:alice@127.0.0.4>;tag=a1`, `To: <sip:gw@127.0.0.4>;tag=nosuch`, `Call-ID: nodialog@x`, `CSeq: 2 BYE`, `Content-Length: 0`, ``, ``,
  ].join("\r\n");
  let got = null;
  alice.client(bye, GW, (r) => (got = r?.status ?? 408));
  const sub = [
    `SUBSCRIBE sip:gw@127.0.0.4 SIP/2.0`, `Via: SIP/2.0/UDP ${alice.addr};rport;branch=z9hG4bKsub1`, `Max-Forwards: 70`,
    `From: <sip:alice@127.0.0.4>;tag=a2`, `To: <sip:gw@127.0.0.4>`, `Call-ID: sub@x`, `CSeq: 1 SUBSCRIBE`, `Event: presence`, `Content-Length: 0`, ``, ``,
  ].join("\r\n");
  let got2 = null;
  alice.client(sub, GW, (r) => (got2 = r?.status ?? 408));
  sim.run(sim.now + 1000);
  assert.equal(got, 481);
  assert.equal(got2, 501);
});
