// The core's response-time histograms (util/histogram.ts; sip_hist, Hist and the bounds from
// host/shared/abi.json "histograms"), proven with virtual time: an INVITE that rings after 40 ms is
// counted once in the invite series at the time its 180 went upstream (the 100 Trying, ours, does not
// count; nor does the 200 after it); the BYE in the other series at its 200's time; the sum is the time in
// ms. sip_init clears them; the small boards keep none (-1).
import { test } from "node:test";
import assert from "node:assert/strict";
import { Sim, CoreNode } from "./net.mjs";
import { Ua } from "./ua.mjs";

const NB = 12; // host/shared/abi.json histograms.boundsMs
const BOUNDS = [5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000];
const PROXY = "127.0.0.1:5060";

/** Series id -> { buckets: [..NB + 1], sum } */
function read(node, id) {
  const buckets = Array.from({ length: NB + 1 }, (_, i) => node.ex.sip_hist(id, i));
  return { buckets, count: buckets.reduce((a, b) => a + b, 0), sum: node.ex.sip_hist(id, NB + 1) };
}

test("a proxied call: the INVITE's 180 and the BYE's 200 are timed once each, in the right buckets, with their sums", () => {
  const sim = new Sim({ seed: 41, latency: [2, 5] });
  const proxy = new CoreNode(sim, PROXY, { board: "server" });
  const alice = new Ua(sim, "127.0.1.1:5060", "alice", { proxy: PROXY });
  const bob = new Ua(sim, "127.0.1.2:5060", "bob", { proxy: PROXY, ring: 40, answer: 400 });
  bob.register();
  sim.run(sim.now + 500);
  const sent = [];
  const orig = sim.send.bind(sim);
  sim.send = (from, to, bytes) => { if (from === PROXY) sent.push({ t: sim.now, first: Buffer.from(bytes).toString("latin1").split("\r\n")[0] }); return orig(from, to, bytes); };
  const t0 = sim.now;
  const id = alice.invite("bob", { hangupAfter: 100 });
  sim.run(sim.now + 3000);
  assert.deepEqual(alice.calls.get(id).finals, [200]);
  const invite = read(proxy, 0);
  const other = read(proxy, 1);
  assert.equal(invite.count, 1, "one INVITE timed");
  assert.equal(other.count, 1, "one BYE timed (the REGISTER was answered by us, not forwarded)");
  // the INVITE's time is when the 180 went to alice, from when the INVITE reached the proxy
  const ringing = sent.find((s) => s.first.startsWith("SIP/2.0 180"));
  const inviteIn = sent.find((s) => s.first.startsWith("SIP/2.0 100")); // ours, sent on arrival
  assert.ok(ringing && inviteIn);
  // the core's clock is the host's in whole ms (the simulator's is finer)
  assert.ok(Math.abs(invite.sum - (ringing.t - inviteIn.t)) < 1, `the sum is the time in ms: ${invite.sum} vs ${ringing.t - inviteIn.t}`);
  assert.ok(invite.sum > 40 && invite.sum <= 50, `${invite.sum} ms`);
  assert.equal(invite.buckets[BOUNDS.findIndex((b) => invite.sum <= b)], 1);
  assert.ok(other.sum >= 4 && other.sum <= 10, `BYE ${other.sum} ms`);
  assert.equal(other.buckets[BOUNDS.findIndex((b) => other.sum <= b)], 1);
  assert.ok(t0 < inviteIn.t);
  assert.equal(proxy.ex.sip_hist(2, 0), -1, "no third series");
  assert.equal(proxy.ex.sip_hist(0, NB + 2), -1, "no slot past the sum");
  assert.equal(proxy.ex.sip_init(1, 2, sim.now), 0);
  assert.equal(read(proxy, 0).count, 0, "sip_init clears them");
});

test("the small boards keep no histograms: -1", () => {
  const sim = new Sim({ seed: 42 });
  for (const [board, addr] of [["micro", "127.0.0.4:5060"], ["gateway", "127.0.0.5:5060"]]) {
    const n = new CoreNode(sim, addr, { board });
    assert.equal(n.ex.sip_hist(0, 0), -1, board);
  }
});
