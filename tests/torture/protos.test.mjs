// PROTOS c07-sip against the running server, a deterministic sample (every 9th case: 503 cases,
// ≥ 500 as asked; the full 4,527 with the 81 oversized cases over TCP run in `npm run torture`).
// Asserts: every health check (OPTIONS to the proxy, every 20 cases) answered 200 within 1 s, the
// server never exits, the valid case 0000000 takes the full path (INVITE forwarded to bob's UAS,
// CANCEL answered, 487), every case that got an answer got a well-formed final status, and after
// the transactions expire the core is idle: transactions, message-pool blocks and dialogs in use
// all 0 (read from the running server through the SIGUSR2 stats export).
// While the CPU benchmark (bench/sipp.mjs) runs, only a small sample is sent (every 90th case).
import { test } from "node:test";
import assert from "node:assert/strict";
import { runProtos, toTsv } from "./protos-run.mjs";
import { benchRunning } from "./lib.mjs";
import { ensureProtos } from "../lib/corpus.mjs";

const STEP = process.env.SIPLING_PROTOS_EVERY ? Number(process.env.SIPLING_PROTOS_EVERY) : benchRunning() ? 90 : 9;

test(`PROTOS c07-sip sample (every ${STEP}th case) against the running server`, { timeout: 240_000 }, async (t) => {
  ensureProtos();
  const numbers = [];
  for (let n = 0; n <= 4526; n += STEP) numbers.push(n);
  if (STEP === 9) assert.ok(numbers.length >= 500);
  const res = await runProtos(numbers, { budgetMs: 150_000, tcpLarge: true });
  t.diagnostic(`\n${toTsv(res)}`);
  t.diagnostic(`sending ${(res.sendMs / 1000).toFixed(1)} s, total ${(res.durationMs / 1000).toFixed(1)} s; final stats ${JSON.stringify(res.finalStats)}`);
  assert.equal(res.truncated, false, "every case sent within the budget");
  assert.equal(res.cases.length, numbers.length);
  assert.equal(res.serverExit, null, `the server kept running; stderr: ${res.stderr}`);
  assert.deepEqual(res.health.failures, [], "every health check answered 200 within 1 s");
  assert.ok(res.health.ok >= Math.floor(numbers.length / 20));
  assert.equal(res.finalHealth, 200);
  const valid = res.cases.find((c) => c.n === 0);
  assert.equal(valid.final, 487, "case 0000000 (the valid INVITE): forwarded to bob, cancelled, 487");
  assert.equal(valid.cancel, 200, "its CANCEL answered 200");
  for (const c of res.cases) if (c.final != null) assert.ok(c.final >= 200 && c.final <= 699, `case ${c.n}: final ${c.final}`);
  assert.equal(res.unregStatus, 200, "bob de-registered");
  const s = res.finalStats;
  assert.equal(s.txnInUse, 0, "transactions in use after they expired");
  assert.equal(s.msgPoolInUse, 0, "message-pool blocks in use (idle occupancy)");
  assert.equal(s.dialogsInUse, 0, "dialogs in use");
  assert.equal(s.bindingsInUse, 0, "bindings in use after bob's de-registration");
  assert.equal(s.regPoolInUse, 0, "registrar-pool blocks in use after bob's de-registration");
});
