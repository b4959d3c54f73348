// Call flows and races through the proxy, proven in the deterministic simulator (net.mjs, ua.mjs) for
// many seeds on both core boards: every seed draws its own loss, duplication and latency, and a failing
// seed prints its transcript (rerun one with SIM_SEED=N). What SIPp with sleeps cannot pin down:
//   - a call under loss, duplication and reordering (retransmissions on both legs);
//   - CANCEL crossing the callee's 200;
//   - a fork whose two phones answer at once (every 2xx reaches the caller, §16.7 step 5);
//   - the caller's first ACKs lost (the callee's 2xx retransmissions go through, RFC 6026);
//   - a callee that rings and never answers (Timer C).
// After each flow the core must settle to no transactions and no message-pool blocks in use.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Sim, CoreNode, Rng } from "./net.mjs";
import { Ua } from "./ua.mjs";

const SEEDS = process.env.SIM_SEED ? [Number(process.env.SIM_SEED)] : Array.from({ length: Number(process.env.SIM_SEEDS ?? 100) }, (_, i) => i + 1);
const BOARDS = ["server", "micro"];
const PROXY = "127.0.0.1:5060";

/** A network for seed: loss 0..maxLoss, duplication 0..3 %, latency 2..(10..80) ms, all drawn from the seed. */
function world(seed, board, { maxLoss = 0.2, timers = {} } = {}) {
  const r = new Rng(seed * 7919 + 17);
  const loss = r.next() * maxLoss;
  const sim = new Sim({ seed, latency: [2, 10 + r.int(0, 70)], loss, dup: r.next() * 0.03 });
  const proxy = new CoreNode(sim, PROXY, { board, domains: ["127.0.0.1"], timers });
  return { sim, proxy, loss };
}

/** Registers each UA (retrying until 200: REGISTER itself may be lost past Timer F). */
function registerAll(sim, uas) {
  for (let round = 0; round < 5 && uas.some((u) => u.registered !== 200); round++) {
    for (const u of uas) if (u.registered !== 200) u.register();
    sim.run(sim.now + 40_000);
  }
  for (const u of uas) assert.equal(u.registered, 200, `${u.user}@${u.addr} registered`);
}

/** Runs +10 min of virtual time and checks the core holds nothing. */
function settles(sim, proxy) {
  sim.run(sim.now + 600_000);
  assert.equal(proxy.stat("txnInUse"), 0, "no transaction left in the core");
  assert.equal(proxy.stat("msgPoolInUse"), 0, "no message-pool block left");
}

/** Runs check(seed) for every seed and board; a failure names the seed and shows the transcript. */
function forSeeds(name, check) {
  for (const board of BOARDS) {
    test(`${board}: ${name} (${SEEDS.length} seeds)`, (t) => {
      const summary = new Map();
      for (const seed of SEEDS) {
        let ctx;
        try {
          ctx = check(seed, board);
        } catch (e) {
          e.message = `seed ${seed} (SIM_SEED=${seed}): ${e.message}${e.sim ? `\n${e.sim.transcript(80)}` : ""}`;
          throw e;
        }
        summary.set(ctx.outcome, (summary.get(ctx.outcome) ?? 0) + 1);
      }
      t.diagnostic(`outcomes: ${[...summary].map(([k, v]) => `${k} ${v}`).join(", ")}`);
    });
  }
}

/** Wraps a flow: errors carry the simulator for the transcript. */
function flow(sim, fn) {
  try {
    return fn();
  } catch (e) {
    e.sim = sim;
    throw e;
  }
}

forSeeds("a call under loss, duplication and reordering: 200, ACK, BYE end to end, one INVITE at the callee", (seed, board) => {
  const { sim, proxy } = world(seed, board);
  const alice = new Ua(sim, "127.0.0.2:5060", "alice", { proxy: PROXY });
  const bob = new Ua(sim, "127.0.0.3:5060", "bob", { proxy: PROXY, ring: 50, answer: 800 });
  return flow(sim, () => {
    registerAll(sim, [alice, bob]);
    const cid = alice.invite("bob", { hangupAfter: 3000 });
    sim.run(sim.now + 120_000);
    const a = alice.calls.get(cid), b = bob.calls.get(cid);
    assert.deepEqual(a.finals, [200], "the caller's INVITE ends in one 200");
    assert.equal(a.dialogs.size, 1);
    const d = [...a.dialogs.values()][0];
    assert.equal(d.bye, 200, "the caller's BYE is answered 200");
    assert.equal(b.invites, 1, "the callee sees one INVITE transaction (retransmissions absorbed)");
    assert.equal(b.sentFinal, 200);
    assert.ok(b.ackFor2xx >= 1, "the callee gets the ACK of its 2xx");
    assert.ok(!b.noAck, "the callee did not give up waiting for the ACK");
    assert.equal(b.byes, 1, "the callee gets the BYE (one transaction)");
    assert.deepEqual([...alice.stray, ...bob.stray], [], "nothing unmatched reached a phone");
    settles(sim, proxy);
    return { outcome: d.acks > 1 ? "200 re-ACKed" : "200" };
  });
});

forSeeds("CANCEL crossing the callee's 200: the caller and the callee agree on the outcome", (seed, board) => {
  const { sim, proxy } = world(seed, board, { maxLoss: 0.1 });
  const r = new Rng(seed);
  const alice = new Ua(sim, "127.0.0.2:5060", "alice", { proxy: PROXY });
  const bob = new Ua(sim, "127.0.0.3:5060", "bob", { proxy: PROXY, ring: 50, answer: 1000 });
  return flow(sim, () => {
    registerAll(sim, [alice, bob]);
    // the CANCEL leaves alice when bob's 200 is on its way, or just before or after
    const cid = alice.invite("bob", { hangupAfter: 1000, cancelAfterRinging: r.int(700, 1000) });
    sim.run(sim.now + 120_000);
    const a = alice.calls.get(cid), b = bob.calls.get(cid);
    if (!a.cancelSent) {
      // every 180 toward the caller was lost: it never rang, so it never cancelled (§9.1) and got the 200
      assert.equal(a.provisionals, 0, "a caller that heard ringing cancels");
      assert.deepEqual(a.finals, [200]);
      assert.equal(b.byes, 1);
      settles(sim, proxy);
      return { outcome: "no 180 reached the caller" };
    }
    assert.equal(a.finals.length, 1, `one final at the caller: ${a.finals}`);
    assert.ok([200, 487].includes(a.finals[0]), `200 or 487: ${a.finals}`);
    assert.equal(b.sentFinal, a.finals[0], "the caller gets the final the callee sent");
    assert.equal(a.cancelStatus, 200, "the CANCEL is answered 200");
    if (a.finals[0] === 200) {
      assert.ok(b.ackFor2xx >= 1, "a 200 that won the race is ACKed");
      assert.equal(b.byes, 1, "and the call is then hung up");
      assert.equal([...a.dialogs.values()][0].bye, 200);
    } else {
      assert.ok(b.cancels >= 1, "the CANCEL reached the callee");
      assert.equal(b.ackFor2xx, 0);
      assert.ok(b.ackForFinal >= 1, "the 487 is ACKed hop by hop");
      assert.equal(a.dialogs.size, 0);
    }
    settles(sim, proxy);
    return { outcome: a.finals[0] === 200 ? "200 won" : "487" };
  });
});

forSeeds("a fork whose two phones answer at once: every 2xx reaches the caller, each dialog is ACKed and ended", (seed, board) => {
  const { sim, proxy } = world(seed, board, { maxLoss: 0.1 });
  const r = new Rng(seed ^ 0x5a5a);
  const alice = new Ua(sim, "127.0.0.2:5060", "alice", { proxy: PROXY });
  const bob1 = new Ua(sim, "127.0.0.3:5060", "bob", { proxy: PROXY, ring: 50, answer: 1000 });
  const bob2 = new Ua(sim, "127.0.0.4:5060", "bob", { proxy: PROXY, ring: 60, answer: 1000 + r.int(-40, 40) });
  return flow(sim, () => {
    registerAll(sim, [alice, bob1, bob2]);
    const cid = alice.invite("bob", { hangupAfter: 2000 });
    sim.run(sim.now + 120_000);
    const a = alice.calls.get(cid);
    const answered = [bob1, bob2].filter((u) => u.calls.get(cid)?.sentFinal === 200);
    assert.ok(answered.length >= 1, "at least one phone answered");
    assert.equal(a.dialogs.size, answered.length, "every phone that answered 200 has a dialog at the caller");
    for (const u of [bob1, bob2]) {
      const c = u.calls.get(cid);
      assert.ok(c, `${u.addr} got the INVITE`);
      assert.equal(c.invites, 1, `${u.addr}: one INVITE transaction`);
      if (c.sentFinal === 200) {
        assert.ok(c.ackFor2xx >= 1, `${u.addr}: its 2xx is ACKed`);
        assert.equal(c.byes, 1, `${u.addr}: its dialog is ended`);
      } else {
        assert.equal(c.sentFinal, 487, `${u.addr}: the other branch is cancelled`);
        assert.ok(c.ackForFinal >= 1, `${u.addr}: its 487 is ACKed`);
      }
    }
    for (const d of a.dialogs.values()) assert.equal(d.bye, 200, "every dialog's BYE is answered");
    settles(sim, proxy);
    return { outcome: answered.length === 2 ? "both answered" : "one answered, one cancelled" };
  });
});

forSeeds("the caller's first three ACKs are lost: the callee's 200 retransmissions reach the caller, an ACK gets through", (seed, board) => {
  const { sim, proxy } = world(seed, board, { maxLoss: 0.05 });
  const alice = new Ua(sim, "127.0.0.2:5060", "alice", { proxy: PROXY });
  const bob = new Ua(sim, "127.0.0.3:5060", "bob", { proxy: PROXY, ring: 50, answer: 500 });
  return flow(sim, () => {
    registerAll(sim, [alice, bob]);
    const cid = alice.invite("bob", { hangupAfter: 8000 });
    let dropped = 0;
    sim.filter = (from, _to, text) => !(from === alice.addr && text.startsWith("ACK ") && dropped++ < 3);
    sim.run(sim.now + 120_000);
    const a = alice.calls.get(cid), b = bob.calls.get(cid);
    assert.equal(sim.counts.filtered, 3, "three ACKs were dropped");
    const d = [...a.dialogs.values()][0];
    assert.ok(d.acks >= 4, `the caller saw the 200 again and ACKed again (${d.acks})`);
    assert.ok(b.ackFor2xx >= 1, "the callee got an ACK in the end");
    assert.ok(!b.noAck);
    assert.equal(d.bye, 200);
    settles(sim, proxy);
    return { outcome: `ACKed after ${d.acks} 200s` };
  });
});

forSeeds("a callee that rings and never answers: Timer C cancels it and the caller gets a final answer", (seed, board) => {
  const { sim, proxy } = world(seed, board, { maxLoss: 0.1, timers: { timerC: 10_000 } });
  const alice = new Ua(sim, "127.0.0.2:5060", "alice", { proxy: PROXY });
  const bob = new Ua(sim, "127.0.0.3:5060", "bob", { proxy: PROXY, ring: 50, answer: null });
  return flow(sim, () => {
    registerAll(sim, [alice, bob]);
    const cid = alice.invite("bob");
    sim.run(sim.now + 120_000);
    const a = alice.calls.get(cid), b = bob.calls.get(cid);
    assert.ok(b.cancels >= 1, "the proxy cancelled the ringing branch");
    assert.equal(b.sentFinal, 487);
    assert.ok(b.ackForFinal >= 1, "the 487 is ACKed");
    assert.equal(a.finals.length, 1, `one final at the caller (${a.finals}${a.inviteTimeout ? ", timed out" : ""})`);
    assert.ok([408, 487].includes(a.finals[0]), `408 or 487: ${a.finals}`);
    settles(sim, proxy);
    return { outcome: String(a.finals[0]) };
  });
});

test("a run is a function of its seed: the same seed gives the same transcript, another seed another", () => {
  const run = (seed) => {
    const { sim } = world(seed, "micro");
    const alice = new Ua(sim, "127.0.0.2:5060", "alice", { proxy: PROXY });
    const bob = new Ua(sim, "127.0.0.3:5060", "bob", { proxy: PROXY, ring: 50, answer: 800 });
    registerAll(sim, [alice, bob]);
    alice.invite("bob");
    sim.run(sim.now + 60_000);
    return sim.transcript(1e6);
  };
  const a = run(7), b = run(7), c = run(8);
  assert.ok(a.split("\n").length > 10, "a real call");
  assert.equal(a, b);
  assert.notEqual(a, c);
});

forSeeds("registrations with digest under up to 30 % loss: every one accepted, no authentication failure counted, the phone never blocked", (seed, board) => {
  const r = new Rng(seed * 31 + 7);
  const sim = new Sim({ seed, latency: [2, 10 + r.int(0, 70)], loss: 0.1 + r.next() * 0.2, dup: r.next() * 0.03 });
  const proxy = new CoreNode(sim, PROXY, { board, domains: ["127.0.0.1"], users: ["alice:password=alice-pw-1"],
    set: { AuthFailures: 3, AuthWindow: 600, FloodBlock: 600 } });
  const alice = new Ua(sim, "127.0.0.2:5060", "alice", { proxy: PROXY, password: "alice-pw-1" });
  return flow(sim, () => {
    let ok = 0;
    for (let i = 0; i < 6; i++) {
      alice.register(600);
      sim.run(sim.now + 40_000);
      if (alice.registered === 200) ok++;
      else assert.equal(alice.registered, 408, `REGISTER ${i}: ${alice.registered}`); // lost past Timer F at worst
    }
    assert.ok(ok >= 5, `registrations accepted: ${ok} of 6`);
    assert.deepEqual(proxy.events["auth-fail"] ?? 0, 0, `auth-fail events for a phone with the right password: ${JSON.stringify(proxy.events)}`);
    assert.equal(proxy.events["flood-blocked"] ?? 0, 0, "the phone is never blocked");
    settles(sim, proxy);
    return { outcome: alice.challenges > 6 ? "challenged again" : "challenged once each" };
  });
});
