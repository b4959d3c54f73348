#!/usr/bin/env node
// npm run torture: the PROTOS c07-sip suite (all 4,527 cases, the 81 oversized ones over TCP)
// against the running server (host/node), paced and bounded (~10 minutes at most). Prints the
// per-group table, writes it to tests/torture/results/protos-<date>.tsv, and exits 1 when the
// server failed a health check, died, or did not return to idle (transactions, message-pool
// blocks, dialogs in use = 0) after the transactions expired.
//
//   node tools/torture.mjs [--every N] [--first A] [--last B] [--no-tcp] [--budget SECONDS]
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { root } from "../tests/integration/harness.mjs";
import { runProtos, toTsv } from "../tests/torture/protos-run.mjs";
import { ensureProtos } from "../tests/lib/corpus.mjs";
import { benchRunning } from "../tests/torture/lib.mjs";

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const every = opt("--every", 1);
const first = opt("--first", 0);
const last = opt("--last", 4526);
const budget = opt("--budget", 540) * 1000;
if (benchRunning() && every === 1 && first === 0 && last === 4526)
  process.stderr.write("torture: warning: bench/sipp.mjs is running; a full run now competes with it for the CPU\n");

ensureProtos();
const numbers = [];
for (let n = first; n <= last; n++) if ((n - first) % every === 0) numbers.push(n);
const t0 = Date.now();
let lastShown = 0;
const res = await runProtos(numbers, {
  budgetMs: budget,
  tcpLarge: !args.includes("--no-tcp"),
  log: (m) => process.stderr.write(`torture: ${m}\n`),
  onProgress(done, total) {
    if (Date.now() - lastShown > 5000 || done === total) {
      lastShown = Date.now();
      process.stderr.write(`torture: ${done}/${total} cases, ${((Date.now() - t0) / 1000).toFixed(0)} s\n`);
    }
  },
});
const tsv = toTsv(res);
process.stdout.write(tsv);
const dir = join(root, "tests", "torture", "results");
mkdirSync(dir, { recursive: true });
const file = join(dir, `protos-${new Date().toISOString().replace(/[:.]/g, "-").slice(0, 19)}.tsv`);
const s = res.finalStats ?? {};
const summary = [
  `# cases ${res.cases.length}/${numbers.length}${res.truncated ? " (TRUNCATED)" : ""}; sending ${(res.sendMs / 1000).toFixed(1)} s; total ${(res.durationMs / 1000).toFixed(1)} s`,
  `# health checks ok ${res.health.ok}, failed ${res.health.failed}${res.health.failed ? " " + JSON.stringify(res.health.failures.slice(0, 10)) : ""}; final OPTIONS ${res.finalHealth}`,
  `# idle after drain: txnInUse ${s.txnInUse} msgPoolInUse ${s.msgPoolInUse} dialogsInUse ${s.dialogsInUse} bindingsInUse ${s.bindingsInUse} regPoolInUse ${s.regPoolInUse}; received ${s.received} refused ${s.refused} sent ${s.sent} refused503 ${s.refused503}`,
];
writeFileSync(file, tsv + summary.join("\n") + "\n");
process.stdout.write(summary.join("\n") + "\n" + `# written ${file}\n`);
const ok = !res.truncated && res.health.failed === 0 && res.finalHealth === 200 && res.serverExit === null &&
  s.txnInUse === 0 && s.msgPoolInUse === 0 && s.dialogsInUse === 0;
if (!ok) process.stderr.write(`torture: FAILED${res.warnings.length ? "\n" + res.warnings.map((w) => JSON.stringify(w)).join("\n") : ""}\n`);
process.exit(ok ? 0 : 1);
