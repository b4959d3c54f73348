// Regression for the fuzz finding tests/fuzz/crashes/micro-leak-778-260000.bin.br (long fast-path run, seed --778-259999):
// Cause (reasoned from the trace, confirmed by the fix making this replay pass): a client INVITE
// branch that was already CANCELled received another provisional (which restarted
// Timer C and cleared the 64·T1 bound set by the CANCEL); when Timer C then fired, the proxy returned
// early for a cancelled branch and left the record with no timer armed: one transaction and its
// message blocks in use forever. Fixed: Timer C on a cancelled branch ends it as a 408 (§16.8), and
// sendCancel arms the §9.1 bound before anything that can fail.
// Inspect: node tests/fuzz/replay.mjs tests/fuzz/crashes/micro-leak-778-260000.bin.br --verbose
import { test } from "node:test";
import assert from "node:assert/strict";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { decodeTrace, readFinding, replayTrace } from "../core.mjs";

const file = join(dirname(fileURLToPath(import.meta.url)), "..", "crashes", "micro-leak-778-260000.bin.br");

test("micro-leak-778-260000 (micro): a cancelled branch whose Timer C fires leaks nothing", () => {
  const f = replayTrace({ ...decodeTrace(readFinding(file)), board: "micro" }, { leaks: true });
  assert.equal(f, null, f ? f.message : "");
});
