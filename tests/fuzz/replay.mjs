#!/usr/bin/env node
// Replays a saved fuzz finding (tests/fuzz/crashes/*.bin, or *.bin.br compressed) on a fresh core and says whether it still
// fails: a trace (magic "SIPFZTR1") is replayed call by call with the leak check at the end; a raw
// input is fed as a datagram and as stream bytes. Exit 1 while it still fails.
// Usage: node tests/fuzz/replay.mjs FILE [--board server|micro] [--verbose]
import { isTrace, decodeTrace, readFinding, replayTrace, replayMessage } from "./core.mjs";
import { describeOps } from "./minimize.mjs";

const file = process.argv[2];
if (!file) { console.error("usage: node tests/fuzz/replay.mjs FILE [--board NAME] [--verbose]"); process.exit(2); }
const buf = readFinding(file);
const bi = process.argv.indexOf("--board");
let f;
if (isTrace(buf)) {
  const t = decodeTrace(buf);
  if (process.argv.includes("--verbose")) console.log(describeOps(t.ops));
  f = replayTrace(t, { leaks: true });
  console.log(`${file}: trace of ${t.ops.length} ABI calls (board ${t.board}): ${f ? `FAILS: ${f.message}` : "passes"}`);
} else {
  const board = bi > 0 ? process.argv[bi + 1] : /micro-/.test(file) ? "micro" : "server";
  f = replayMessage(board, buf);
  console.log(`${file}: ${buf.length}-byte input (board ${board}): ${f ? `FAILS: ${f.message}` : "passes"}`);
}
process.exit(f ? 1 : 0);
