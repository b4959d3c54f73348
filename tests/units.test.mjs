// tools/units.mjs: the memory of one unit of each capacity, measured by building the core again with
// half of it. The units must predict: a micro core built with other capacities uses exactly the memory
// the report's units say (the tables are linear in their capacities).
import { test } from "node:test";
import assert from "node:assert/strict";
import { measureUnits } from "../tools/units.mjs";

test("micro: the units predict the memory of a core built with other capacities", async (t) => {
  const u = await measureUnits("micro");
  for (const r of u.rows) t.diagnostic(`${r.unit}: ${r.bytes} B × ${r.count}`);
  t.diagnostic(`fixed ${u.fixed} B, per registration ${u.perRegistration} B, per call ${u.perCall} B`);
  const by = Object.fromEntries(u.rows.map((r) => [r.constant, r]));
  assert.ok(by.SIP_MAX_TXN.bytes >= 96 + 16, `a transaction costs at least its record and heap entry: ${by.SIP_MAX_TXN.bytes}`);
  assert.ok(by.SIP_MSG_BLOCKS.bytes >= u.msgBlock, `a message block at least its ${u.msgBlock} bytes: ${by.SIP_MSG_BLOCKS.bytes}`);
  assert.ok(u.fixed > 0 && u.fixed < u.used);
  // another micro: double transactions and message blocks, quadruple AORs
  const set = { SIP_MAX_TXN: 32, SIP_MSG_BLOCKS: 2 * by.SIP_MSG_BLOCKS.count, SIP_MAX_AORS: 128 };
  const predicted = u.used + Object.entries(set).reduce((s, [c, v]) => s + (v - by[c].count) * by[c].bytes, 0);
  const other = await measureUnits("micro", { set, baseOnly: true });
  assert.equal(other.used, predicted, `built ${other.used} B, predicted ${predicted} B`);
});

// The units' builds are the board's target (memory base included): the base build uses what the
// release core uses after start-up, so the fixed cost is the release's.
test("every size-budgeted board: the units' base build uses the release core's memory after start-up", async () => {
  const { measure } = await import("../tools/footprint.mjs");
  for (const r of measure().filter((x) => x.board === "micro" || x.board === "gateway")) {
    const base = await measureUnits(r.board, { baseOnly: true });
    assert.equal(base.used, r.memoryUsedAtStart, `${r.board}: units base ${base.used} B, release ${r.memoryUsedAtStart} B`);
  }
});
