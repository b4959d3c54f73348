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

// `npm run footprint -- --sections` (README): the report by section after the table. footprint.mjs,
// the main module, waits on sections.mjs at its top level, so sections.mjs must not wait on
// footprint.mjs in turn (node exits 13, "unsettled top-level await", printing nothing).
test("footprint --sections prints where the wasm bytes go and exits 0", { timeout: 600_000 }, async () => {
  const { spawnSync } = await import("node:child_process");
  const { join } = await import("node:path");
  const { root } = await import("../tools/boards.mjs");
  const r = spawnSync(process.execPath, [join(root, "tools", "footprint.mjs"), "--sections"], { cwd: root, encoding: "utf8" });
  assert.equal(r.status, 0, `exit ${r.status}: ${r.stderr}`);
  assert.match(r.stdout, /where the wasm bytes go/);
  for (const b of readBoards()) assert.match(r.stdout, new RegExp(`^${b.name}: [\\d,]+ B wasm$`, "m"));
});
