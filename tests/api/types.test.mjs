// The package's types (build/node/index.d.ts, api-types.d.ts generated from the schema and abi.json) compile a user's
// module with tsc --strict, and reject what the schema rejects (tests/api/fixtures/user.ts).
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");

test("a user's TypeScript module type-checks against the package's types (tsc --strict), and the misuses in it are errors", () => {
  const r = spawnSync(process.execPath, [join(root, "node_modules/typescript/bin/tsc"), "--noEmit", "--strict",
    "--module", "nodenext", "--moduleResolution", "nodenext", "--target", "es2022", "--types", "node",
    "--skipLibCheck", "false", join(root, "tests/api/fixtures/user.ts")], { cwd: root, encoding: "utf8", timeout: 120_000 });
  assert.equal(r.status, 0, `tsc:\n${r.stdout}${r.stderr}`);
});
