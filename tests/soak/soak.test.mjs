// The registrar soak (soak.mjs) in `npm test`: short runs with a fixed seed, every oracle checked on
// every call (runSoak throws on the first violation). The full soak, 1,000,000 registrations on the
// server board: npm run soak (tools/soak.mjs).
import { test } from "node:test";
import assert from "node:assert/strict";
import { runSoak, TICK_MS } from "./soak.mjs";

const SEED = 6;

/** What every run must show besides passing the oracles: each path of the registrar was taken. */
function assertCommon(f, count) {
  assert.equal(f.sent, count);
  assert.deepEqual(f.end, { bindings: 0, aors: 0, model: 0 });
  for (const s of [200, 423, 403, 500]) assert.ok(f.status[s] > 0, `no ${s} in ${JSON.stringify(f.status)}`);
  assert.ok(f.added > 0 && f.refreshed > 0 && f.removed > 0 && f.stars > 0, "adds, refreshes, removals and `*`");
  assert.ok(f.retransmits > 0 && f.stale > 0, "retransmissions and stale copies");
  assert.ok(f.expired > 0, "expiries");
  assert.equal(f.added, f.removed + f.expired, "every binding added was removed or expired");
  assert.ok(f.maxLateMs <= TICK_MS && f.maxEarlyMs < TICK_MS, `expiries ${f.maxLateMs} ms late, ${f.maxEarlyMs} ms early`);
  assert.equal(f.lost, 0, "no event lost");
}

test("soak server: 20,000 registrations match the model call by call; tables back to 0", { timeout: 60_000 }, () => {
  const f = runSoak({ board: "server", count: 20_000, seed: SEED });
  assertCommon(f, 20_000);
  assert.ok(f.maxAors > 1000 && f.maxBindings > f.maxAors, `occupancy ${f.maxAors} AORs / ${f.maxBindings} bindings`);
});

test("soak micro: fills 32 AORs, then 40 bindings, 503 from both tables; tables back to 0", { timeout: 60_000 }, () => {
  const f = runSoak({ board: "micro", count: 5_000, seed: SEED });
  assertCommon(f, 5_000);
  assert.deepEqual([f.caps.aors, f.caps.bindings], [32, 40]);
  assert.deepEqual([f.maxAors, f.maxBindings], [32, 40]);
  assert.ok(f.full.aors >= 10 && f.full.bindings >= 10, `503s: ${JSON.stringify(f.full)}`);
  assert.equal(f.status[503], f.full.aors + f.full.bindings);
});
