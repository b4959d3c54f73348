// Regression for the fuzz finding tests/fuzz/crashes/micro-leak-5-20000.bin (the shortest leak found):
// two ABI calls on a fresh core.
//   1. over TCP, a REGISTER for a domain that is not ours (sip:example.com): forwarded statefully, a
//      non-INVITE client transaction whose branch is z9hG4bKsL01000001…;
//   2. over UDP, "SIP/2.0 200 OK" carrying exactly that branch in its only Via, but "CSeq: 56 INVITE"
//      (another method, Call-ID, From and To).
// After that, with time advanced past every timer, one transaction (sip_stat(0)) stays in use forever
// with no timer armed for it: each such response leaks a transaction slot for good (the micro board has
// 16). Same result on the server board. Fixed; this test keeps it fixed.
// What matters (variants tried): a 2xx (not 1xx, not 404) whose only Via is ours — with the client's Via
// under ours there is no leak; the CSeq method / Call-ID / tags do not matter.
// Inspect: node tests/fuzz/replay.mjs tests/fuzz/crashes/micro-leak-5-20000.bin --verbose
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { decodeTrace, replayTrace } from "../core.mjs";

const file = join(dirname(fileURLToPath(import.meta.url)), "..", "crashes", "micro-leak-5-20000.bin");

for (const board of ["micro", "server"]) {
  test(`micro-leak-5-20000 (${board}): a 2xx with only our Via to a forwarded REGISTER leaks nothing`, () => {
    const f = replayTrace({ ...decodeTrace(readFileSync(file)), board }, { leaks: true });
    assert.equal(f, null, f ? f.message : "");
  });
}
