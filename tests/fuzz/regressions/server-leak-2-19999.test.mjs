// Regression for the fuzz finding tests/fuzz/crashes/server-leak-2-19999.bin: a minimized trace of ABI calls
// (fast path, board server) after which, with time advanced past every timer (+10 min and until no
// timer is due), transactions (sip_stat(0)) and/or message-pool blocks (sip_stat(6)) stay in use with no
// timer armed for them: the core leaks them for good. Fixed; this test keeps it fixed.
// Inspect: node tests/fuzz/replay.mjs tests/fuzz/crashes/server-leak-2-19999.bin --verbose
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { decodeTrace, replayTrace } from "../core.mjs";

const file = join(dirname(fileURLToPath(import.meta.url)), "..", "crashes", "server-leak-2-19999.bin");

test("server-leak-2-19999: no transaction or message-pool block left after every timer fired", () => {
  const f = replayTrace(decodeTrace(readFileSync(file)), { leaks: true });
  assert.equal(f, null, f ? `${f.message}` : "");
});
