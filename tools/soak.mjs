#!/usr/bin/env node
// The registrar soak (issue 6): REGISTERs from simulated UAs against the release core on virtual time,
// every call checked against an exact model of the live bindings (tests/soak/soak.mjs describes the UAs,
// the phases and the oracles). Prints progress, then one summary line; exit 1 on any oracle violation.
//
// Usage: npm run soak -- [--count N (1000000)] [--seed S (6)] [--board server|micro] [--users U]
import { parseArgs } from "node:util";
import { existsSync } from "node:fs";
import { runSoak, formatSummary, SoakFailure } from "../tests/soak/soak.mjs";
import { wasmFile } from "../tests/fuzz/core.mjs";

const { values } = parseArgs({
  options: {
    count: { type: "string", default: "1000000" },
    seed: { type: "string", default: "6" },
    board: { type: "string", default: "server" },
    users: { type: "string" },
  },
});
const count = Number(values.count);
const seed = Number(values.seed);
const users = values.users === undefined ? undefined : Number(values.users);
if (!Number.isInteger(count) || count < 0) throw new Error("--count must be a whole number");
if (!Number.isInteger(seed)) throw new Error("--seed must be a whole number");
if (users !== undefined && !Number.isInteger(users)) throw new Error("--users must be a whole number");
if (!existsSync(wasmFile(values.board))) {
  console.error(`no ${wasmFile(values.board)}: build it with node tools/build.mjs --quiet --wasm-only`);
  process.exit(2);
}

console.log(`soak: board ${values.board}, seed ${seed >>> 0}, ${count} registrations`);
try {
  const f = runSoak({ board: values.board, count, seed, users, log: (line) => console.log(`soak: ${line}`) });
  console.log(formatSummary(f));
} catch (e) {
  if (!(e instanceof SoakFailure)) throw e;
  console.error(`soak FAIL: ${e.message}`);
  process.exit(1);
}
