#!/usr/bin/env node
// The fuzzer of sipling. Paths:
//   fast (default)  the whole core through its ABI (build/<board>/sipling.wasm) in a worker thread,
//                   driven like a host (tests/fuzz/fast.mjs); a watchdog in this thread saves the
//                   input of a call that does not return. Oracles: no trap, every call returns,
//                   transmit lengths <= sip_tx_cap(), drains end, stream framing independent of how
//                   the bytes are split, and no transaction / message-pool block left after +10 min.
//   slow            the real server (host/node/cli.mjs) over UDP and TCP (tests/fuzz/slow.mjs)
//   both            fast, then slow
//   parser          the wire parser alone through probe.wasm (tests/fuzz/parser.mjs, the old fuzzer)
// A failure is saved to tests/fuzz/crashes/<board>-<kind>-<seed>-<index>.bin (the input, or a minimized
// trace of ABI calls when the input alone does not reproduce it; replay it with
// `node tests/fuzz/replay.mjs FILE`). Exit 1 on any failure.
//
// Usage: npm run fuzz -- [--count N] [--seed S] [--path fast|slow|both|parser] [--board server|micro|both]
//          [--epoch N] [--split-every N] [--keep-going] [--lenient (ABI anomalies counted, not failures)] [--slow-count N] [--slow-secs S]
//          [--hang-secs S] [--max-secs S (stop the fast path early)] [--no-protos]
import { Worker } from "node:worker_threads";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { crashDir } from "./artifacts.mjs";

const args = process.argv.slice(2);
function opt(name, def) {
  const i = args.indexOf(`--${name}`);
  if (i < 0) return def;
  const v = args[i + 1];
  if (v === undefined || v.startsWith("--")) throw new Error(`--${name} needs a value`);
  return v;
}
const flag = (name) => args.includes(`--${name}`);
const path = opt("path", "fast");
if (path === "parser") {
  await import("./parser.mjs");
} else {
  if (!["fast", "slow", "both"].includes(path)) throw new Error(`--path must be fast, slow, both or parser`);
  const count = Number(opt("count", 1_000_000));
  const seed = Number(opt("seed", 20240611)) >>> 0;
  const boardArg = opt("board", "server");
  const boards = boardArg === "both" ? ["server", "micro"] : [boardArg];
  if (!Number.isInteger(count) || count < 0) throw new Error("bad --count");
  let failed = false;
  if (path === "fast" || path === "both") {
    for (const board of boards) {
      const ok = await fast(board, count, seed);
      failed ||= !ok;
    }
  }
  if (path === "slow" || path === "both") {
    const { runSlow } = await import("./slow.mjs");
    const slowCount = Number(opt("slow-count", path === "slow" ? count : Math.min(count, 5000)));
    const slowSecs = Number(opt("slow-secs", 120));
    try {
      const r = await runSlow({ seed, count: slowCount, maxSecs: slowSecs, log: (s) => console.log(s), protos: !flag("no-protos") });
      console.log(`fuzz slow: ${r.inputs} inputs (${r.udp} UDP, ${r.tcp} TCP writes), seed ${seed}, ${r.secs.toFixed(1)} s, ` +
        `${r.checks} OPTIONS checks answered, ${r.reconnects} reconnects, stopped cleanly on SIGTERM`);
    } catch (e) {
      console.error(`FAIL ${e.message}`);
      failed = true;
    }
  }
  process.exit(failed ? 1 : 0);
}

/** One fast-path run in a worker under the watchdog; prints the summary; returns true when clean. */
function fast(board, count, seed) {
  const hangSecs = Number(opt("hang-secs", 30));
  const sab = new SharedArrayBuffer(16 + 70_000);
  const hdr = new Int32Array(sab, 0, 4);
  const data = new Uint8Array(sab, 16);
  const opts = {
    board, seed, count, keepGoing: flag("keep-going"), strict: !flag("lenient"), protos: !flag("no-protos"),
    epoch: Number(opt("epoch", 20_000)), splitEvery: Number(opt("split-every", 1500)),
    maxSecs: Number(opt("max-secs", 0)) || undefined,
  };
  console.log(`fuzz fast: board ${board}, seed ${seed}, count ${count}${opts.keepGoing ? ", keep going" : ""}`);
  const w = new Worker(new URL("./worker.mjs", import.meta.url), { workerData: { opts, sab } });
  return new Promise((resolve) => {
    let last = -1, lastChange = performance.now(), finished = false, ok = false;
    const failures = [];
    const timer = setInterval(() => {
      const beat = Atomics.load(hdr, 0);
      if (beat !== last || Atomics.load(hdr, 3) === 1) { last = beat; lastChange = performance.now(); return; }
      if (performance.now() - lastChange < hangSecs * 1000) return;
      // hang: a call has not returned for hangSecs
      const i = Atomics.load(hdr, 1), n = Atomics.load(hdr, 2);
      mkdirSync(crashDir, { recursive: true });
      const file = join(crashDir, `${board}-hang-${seed}-${i}.bin`);
      writeFileSync(file, Buffer.from(data.subarray(0, n)));
      console.error(`\nFAIL hang: no progress for ${hangSecs} s at input ${i} (board ${board}, seed ${seed}); input saved to ${file}`);
      console.error(`  reproduce the run: npm run fuzz -- --board ${board} --seed ${seed} --count ${i + 1}`);
      clearInterval(timer);
      finished = true;
      w.terminate().then(() => resolve(false));
    }, 1000);
    w.on("message", (m) => {
      if (m.type === "progress") {
        const fc = Object.entries(m.failCounts || {}).map(([k, v]) => `${v} ${k}`).join(", ");
        console.log(`  ${m.i} inputs, ${m.secs.toFixed(1)} s, ${Math.round(m.i / m.secs)} inputs/s${fc ? `, failures: ${fc}` : ", 0 traps"}`);
      } else if (m.type === "log") console.log(m.text);
      else if (m.type === "failure") {
        failures.push(m);
        console.error(`\nFAIL ${m.message} at input ${m.index} (${m.inputKind}; board ${board}, seed ${seed})`);
        console.error(`  saved ${m.file} (${m.standalone ? "the input alone reproduces it" : m.minimized ? `minimized trace of ${m.minimized} ABI calls` : "not reproducible from a fresh instance"})`);
        console.error(`  reproduce: node tests/fuzz/replay.mjs ${m.file}`);
        console.error((m.text || "").split("\n").slice(0, 60).map((l) => "    " + l).join("\n"));
      } else if (m.type === "failed") {
        finished = true;
        console.error(`fuzz: stopped at input ${m.index} (seed ${seed}, board ${board}): ${m.message}`);
      } else if (m.type === "error") {
        finished = true;
        console.error(`fuzz: internal error: ${m.message}`);
      } else if (m.type === "done") {
        finished = true;
        const r = m.res;
        const traps = r.failCounts.trap || 0;
        console.log(`fuzz: ${r.inputs} inputs, seed ${seed}, ${traps} traps`);
        console.log(`  board ${board}: ${r.secs.toFixed(1)} s, ${Math.round(r.rate)} inputs/s, ${(r.bytes / 1e6).toFixed(1)} MB in, ${r.stats.calls} ABI input calls, ${r.stats.transmits} transmits (largest ${r.stats.maxTx} B <= tx cap), ${r.stats.events} events`);
        console.log(`  inputs: ${fmt(r.kinds)}`);
        console.log(`  delivery: ${fmt(r.delivery)}; ${r.splits} split-at-every-offset checks`);
        console.log(`  core results: ${fmt(r.results)}`);
        console.log(`  events: ${fmt(r.stats.eventKinds)}`);
        const fc = Object.entries(r.failCounts);
        const leaks = r.failCounts.leak || 0;
        console.log(`  leak check: ${r.leakChecks + leaks} checks (every ${opts.epoch} inputs and at the end), ` +
          (leaks ? `${leaks} FAILED` : `transactions and message-pool blocks back to 0 every time (last: ${r.lastLeak.txn} txn, ${r.lastLeak.pool} blocks; dialogs ${r.lastLeak.dialogs}, bindings ${r.lastLeak.bindings})`));
        const an = Object.entries(r.anomalies);
        if (an.length) {
          console.log(`  anomalies (ABI contract, counted, not failures with --lenient): ${an.map(([k, v]) => `${k} ${v}`).join(", ")}`);
          for (const [k, v] of Object.entries(m.anomalyFirst)) console.log(`    first ${k}: ${v.detail}; input ${JSON.stringify(v.input.slice(0, 300))}`);
        }
        if (fc.length) console.log(`  failures: ${fc.map(([k, v]) => `${k} ${v}`).join(", ")}`);
        ok = fc.length === 0 && failures.length === 0;
      }
    });
    w.on("error", (e) => { console.error(`fuzz: worker error: ${e.stack}`); finished = true; });
    w.on("exit", () => {
      clearInterval(timer);
      if (!finished) console.error("fuzz: worker exited early");
      resolve(ok && failures.length === 0);
    });
  });
}

function fmt(o) {
  return Object.entries(o).sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${v}`).join(", ");
}
