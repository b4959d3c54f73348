// asconfig.json is the one source of compile options (issue 17): `npx asc assembly/index.ts --target
// <board>` gives the same bytes as `npm run build` (tools/build.mjs), for every board.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync, mkdtempSync, rmSync } from "node:fs";
import { createHash } from "node:crypto";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadBoards, root } from "../tools/boards.mjs";

const sha = (f) => createHash("sha256").update(readFileSync(f)).digest("hex");

for (const board of loadBoards()) {
  test(`asc assembly/index.ts --target ${board.name} is the core npm run build ships`, () => {
    const dir = mkdtempSync(join(tmpdir(), "asc-"));
    try {
      const out = join(dir, "core.wasm");
      // exactly what a user types (npx asc resolves to this file), with the output elsewhere
      const r = spawnSync(process.execPath, [join(root, "node_modules/assemblyscript/bin/asc.js"),
        "assembly/index.ts", "--target", board.name, "--outFile", out], { cwd: root, encoding: "utf8" });
      assert.equal(r.status, 0, r.stderr);
      assert.equal(sha(out), sha(join(root, "build", board.name, "sipling.wasm")));
      // and the target's own outFile is the file tools/build.mjs writes
      assert.equal(board.target.outFile, `build/${board.name}/sipling.wasm`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}
