// Every board's release core stays within its budget (boards/<name>/board.json): see tools/footprint.mjs.
import { test } from "node:test";
import assert from "node:assert/strict";
import { measure, readBoards } from "../tools/footprint.mjs";

test("footprint_within_budget", (t) => {
  const rows = measure();
  assert.equal(rows.length, readBoards().length);
  for (const r of rows) {
    t.diagnostic(`${r.board}: wasm ${r.wasmBytes}/${r.budget.wasmBytes} B, pages ${r.memoryPages}/${r.budget.memoryPages}, ` +
      `static ${r.staticBytes} B, used at start ${r.memoryUsedAtStart} B`);
    assert.ok(r.wasmBytes > 0);
    assert.ok(r.memoryPages > 0, `${r.board}: no memory section`);
    assert.ok(r.staticBytes > 0 && r.staticBytes <= r.memoryPages * 65536, `${r.board}: static ${r.staticBytes}`);
    assert.ok(r.memoryUsedAtStart >= r.staticBytes, `${r.board}: used at start ${r.memoryUsedAtStart} < static ${r.staticBytes}`);
    assert.ok(r.withinBudget, `${r.board} over budget: ${r.over.join("; ")}`);
  }
});
