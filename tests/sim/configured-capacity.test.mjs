// Capacities set by the configuration below the board's (issue 15 item 3; CfgKey.MaxBindings,
// MaxTransactions, MaxMessageBlocks; "capacity.*" in the hosts' schema): the server core with room for
// 262,144 registrations and 393,216 transactions told to keep 5 and 6. What the stats report is the
// configured figure; work beyond it gets 503, as when a table is full, and what was taken is served;
// freed room is taken again. Values outside 1 .. the board's are refused, the pool's below its reserve
// plus one largest message too. sip_init brings the board's figures back.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Sim, CoreNode } from "./net.mjs";
import { Ua } from "./ua.mjs";

const { CfgKey, CfgResult } = await import("../../host/firmware/abi.mjs");
const PROXY = "127.0.0.1:5060";

test("server: 5 registrations configured: the sixth REGISTER gets 503, a binding removed makes room, stats say 5", () => {
  const sim = new Sim({ seed: 7, latency: [2, 5] });
  const proxy = new CoreNode(sim, PROXY, { board: "server", domains: ["127.0.0.1"], set: { MaxBindings: 5 } });
  assert.equal(proxy.stat("bindingCapacity"), 5);
  assert.equal(proxy.stat("aorCapacity"), 5);
  const uas = Array.from({ length: 6 }, (_, i) => new Ua(sim, `127.0.1.${i + 1}:5060`, `p${i}`, { proxy: PROXY }));
  for (const u of uas.slice(0, 5)) u.register();
  sim.run(sim.now + 1000);
  for (const u of uas.slice(0, 5)) assert.equal(u.registered, 200);
  uas[5].register();
  sim.run(sim.now + 1000);
  assert.equal(uas[5].registered, 503, "beyond the configured capacity: 503");
  assert.equal(proxy.stat("bindingsInUse"), 5);
  uas[0].register(0); // removed
  sim.run(sim.now + 1000);
  assert.equal(uas[0].registered, 200);
  uas[5].register();
  sim.run(sim.now + 1000);
  assert.equal(uas[5].registered, 200, "the freed room is taken");
  // sip_init: the board's figures again
  assert.equal(proxy.ex.sip_init(1, 2, sim.now), 0);
  assert.equal(proxy.stat("bindingCapacity"), 262_144);
});

test("server: 6 transactions configured: a call takes two, the fourth call at once gets 503; all three others complete", () => {
  const sim = new Sim({ seed: 8, latency: [2, 5] });
  const proxy = new CoreNode(sim, PROXY, { board: "server", domains: ["127.0.0.1"], set: { MaxTransactions: 6 } });
  assert.equal(proxy.stat("txnCapacity"), 6);
  const callers = Array.from({ length: 4 }, (_, i) => new Ua(sim, `127.0.2.${i + 1}:5060`, `a${i}`, { proxy: PROXY }));
  const callees = Array.from({ length: 4 }, (_, i) => new Ua(sim, `127.0.3.${i + 1}:5060`, `b${i}`, { proxy: PROXY, ring: 50, answer: 2000 }));
  for (const u of [...callers, ...callees]) u.register();
  sim.run(sim.now + 40_000); // the REGISTER transactions end (Timer J) before the calls
  assert.equal(proxy.stat("txnInUse"), 0);
  const ids = callers.map((c, i) => c.invite(`b${i}`, { hangupAfter: 500 }));
  sim.run(sim.now + 1000);
  const finals = callers.map((c, i) => c.calls.get(ids[i]).finals);
  assert.deepEqual(finals.filter((f) => f[0] === 503).length, 1, `one call refused: ${JSON.stringify(finals)}`);
  sim.run(sim.now + 5000);
  assert.equal(callers.map((c, i) => c.calls.get(ids[i]).finals[0]).filter((s) => s === 200).length, 3, "the three others answered");
});

test("configured capacities out of range are refused; the message pool's floor is its reserve plus one largest message", () => {
  const sim = new Sim({ seed: 9 });
  const proxy = new CoreNode(sim, PROXY, { board: "server" });
  const ex = proxy.ex;
  assert.equal(ex.sip_cfg_set(CfgKey.MaxTransactions, 0), CfgResult.Refused);
  assert.equal(ex.sip_cfg_set(CfgKey.MaxTransactions, 393_217), CfgResult.Refused);
  assert.equal(ex.sip_cfg_set(CfgKey.MaxTransactions, 393_216), CfgResult.Ok);
  assert.equal(ex.sip_cfg_set(CfgKey.MaxBindings, 262_145), CfgResult.Refused);
  assert.equal(ex.sip_cfg_set(CfgKey.MaxMessageBlocks, 10), CfgResult.Refused, "below the reserve plus one 64 KB message");
  assert.equal(ex.sip_cfg_set(CfgKey.MaxMessageBlocks, 196_609), CfgResult.Refused);
  assert.equal(ex.sip_cfg_set(CfgKey.MaxMessageBlocks, 20_000), CfgResult.Ok);
  assert.equal(proxy.stat("msgPoolBlocks"), 20_000);
});

// A 503 of our own from inside a response context (the proxy's branches could not all start for want of
// pool room, and those that did failed): written from the stored request (its Via, From, To, Call-ID and
// CSeq) with a Retry-After (RFC 3261 §21.5.4). Its Retry-After line is written in a buffer of its own: the
// response-extra lines share the stored-message slot (proxy/buffers.ts), which holds that request then.
test("server: a fork whose later branches find no pool room, its started branches answering 503: our own 503 with Retry-After, the request's own headers", () => {
  const sim = new Sim({ seed: 9, latency: [2, 5] });
  const proxy = new CoreNode(sim, PROXY, { board: "server", domains: ["127.0.0.1"], set: { MaxMessageBlocks: 380, RetryAfter: 9 } });
  const alice = new Ua(sim, "127.0.1.1:5060", "alice", { proxy: PROXY });
  const bobs = [2, 3, 4, 5].map((k) => new Ua(sim, `127.0.1.${k}:5060`, "bob", { proxy: PROXY, ring: null, answer: 50, status: 503 }));
  alice.register(3600);
  for (const b of bobs) b.register(3600);
  sim.run(sim.now + 500);
  let final = null;
  const orig = alice.onResponse.bind(alice);
  alice.onResponse = (m) => { if (m.status >= 200 && m.method === "INVITE") final ??= m; orig(m); };
  // a 38 KB offer: the pool (380 blocks of 512 B) holds the request and two forwarded copies, not four
  const body = "v=0\r\n" + Array.from({ length: 500 }, (_, i) => `a=x-filler-${i}:${"y".repeat(60)}`).join("\r\n") + "\r\n";
  const id = alice.invite("bob", { body, hangupAfter: null });
  sim.run(sim.now + 3000);
  const forwarded = sim.log.filter(([, f, , l]) => f === PROXY && l.startsWith("INVITE ")).length;
  assert.equal(forwarded, 2, `two branches started\n${sim.transcript()}`);
  assert.deepEqual(alice.calls.get(id).finals, [503]);
  assert.ok(final, "alice got the final response");
  assert.equal(final.get("retry-after"), "9", final.text);
  const inv = alice.calls.get(id).invite;
  assert.equal(final.all("via").length, 1, final.text);
  assert.equal(final.branch, inv.branch, "alice's own Via");
  assert.equal(final.get("from"), inv.get("from"));
  assert.ok(final.get("to").startsWith(inv.get("to")), final.text);
  assert.equal(final.callId, inv.callId);
  assert.equal(final.get("cseq"), inv.get("cseq"));
  sim.run(sim.now + 60_000);
  assert.equal(proxy.stat("msgPoolInUse"), 0);
});
