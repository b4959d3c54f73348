// Saving what a failing fuzz run found: tests/fuzz/crashes/<name>.bin is either the raw input (when it
// fails on its own on a fresh core, as a datagram or as stream bytes) or a minimized trace of ABI calls
// (tests/fuzz/core.mjs encodeTrace, magic "SIPFZTR1") that reproduces the failure from a fresh instance.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { root } from "../lib/core.mjs";
import { encodeTrace, replayMessage } from "./core.mjs";
import { minimizeTrace, describeOps } from "./minimize.mjs";

export const crashDir = join(root, "tests", "fuzz", "crashes");

/** Saves the failure `e` (a Failure from runFast). Returns { file, name, standalone, minimized, text }. */
export function saveFailure(e, { budgetMs = 60_000, log = () => {} } = {}) {
  mkdirSync(crashDir, { recursive: true });
  const board = e.trace?.board ?? "server";
  const name = `${board}-${e.kind}-${e.fuzzSeed}-${e.index}`;
  const file = join(crashDir, `${name}.bin`);
  // 1. the input alone on a fresh core?
  if (e.input && e.kind !== "leak") {
    const f = replayMessage(board, e.input, { leaks: false });
    if (f && f.kind === e.kind) {
      writeFileSync(file, e.input);
      return { file, name, standalone: true, text: e.input.toString("latin1") };
    }
  }
  if (e.input && e.kind === "leak") {
    const f = replayMessage(board, e.input, { leaks: true });
    if (f && f.kind === "leak") {
      writeFileSync(file, e.input);
      return { file, name, standalone: true, text: e.input.toString("latin1") };
    }
  }
  // 2. the trace, minimized
  if (e.trace && e.trace.complete) {
    const m = minimizeTrace(e.trace, e.kind, { budgetMs, log });
    if (m) {
      writeFileSync(file, encodeTrace(m.board, m.seed, m.initNow, m.ops));
      return { file, name, standalone: false, minimized: m.ops.length, text: describeOps(m.ops) };
    }
    // not reproducible from a fresh instance: keep the whole trace for study
    writeFileSync(join(crashDir, `${name}.full-trace.bin`), encodeTrace(e.trace.board, e.trace.seed, e.trace.initNow, e.trace.ops));
  }
  if (e.input) writeFileSync(file, e.input);
  return { file, name, standalone: false, reproduced: false, text: e.input ? e.input.toString("latin1") : "" };
}
