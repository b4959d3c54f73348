#!/usr/bin/env node
// Mutation fuzzer of the wire parser: corpus messages (+ the filled PROTOS c07-sip cases that fit)
// mutated with a seeded PRNG and fed to probe_parse of the server board's probe build, datagram and
// stream modes alternately. Fails (exit 1) on a trap, a malformed verdict (not an integer, > input
// length, 0 for a datagram) or a valid datagram whose verdict changes when parsed again; the input is
// written to tests/fuzz/crashes/<seed>-<index>.bin.
//
// Usage: node tests/fuzz/parser.mjs [--count N] [--seed S] [--board NAME]
//        (npm run fuzz -- --path parser --count N --seed S)
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { loadProbe, root } from "../lib/core.mjs";
import { corpusFiles, protosCases, loadProtosCase, makeRng, mutate, WIRE_ERROR_NAMES } from "../lib/corpus.mjs";

const DEFAULT_SEED = 20240611;
const args = process.argv.slice(2);
function opt(name, def) {
  const i = args.indexOf(`--${name}`);
  if (i < 0) return def;
  const v = args[i + 1];
  if (v === undefined) throw new Error(`--${name} needs a value`);
  return v;
}
const count = Number(opt("count", 1_000_000));
const seed = Number(opt("seed", DEFAULT_SEED)) >>> 0;
const board = opt("board", "server");
if (!Number.isInteger(count) || count < 0) throw new Error(`bad --count`);

const P = loadProbe(board);
const { ex } = P;

const seeds = corpusFiles().map((c) => c.bytes).filter((b) => b.length <= P.rxCap);
const nCorpus = seeds.length;
for (const c of protosCases()) {
  const f = loadProtosCase(c.name);
  if (f.invite.length <= P.rxCap) seeds.push(f.invite);
  if (f.teardown.length <= P.rxCap) seeds.push(f.teardown);
}
// Weight the hand-written corpus as much as all of PROTOS together.
const pickSeed = (rng) => (rng.chance(0.5) ? seeds[rng.int(nCorpus)] : seeds[nCorpus + rng.int(seeds.length - nCorpus)]);

console.log(`fuzz: board ${board}, seed ${seed}, count ${count}, ${nCorpus} corpus + ${seeds.length - nCorpus} PROTOS seed inputs`);

function fail(i, input, stream, what) {
  const dir = join(root, "tests", "fuzz", "crashes");
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${seed}-${i}.bin`);
  writeFileSync(file, input);
  console.error(`\nFAIL at input ${i} (seed ${seed}, ${stream ? "stream" : "datagram"}, ${input.length} bytes): ${what}`);
  console.error(`saved ${file}`);
  console.error(JSON.stringify(input.toString("latin1")).slice(0, 4000));
  process.exit(1);
}

function run(i, input, stream) {
  P.put(input);
  try {
    return ex.probe_parse(input.length, stream);
  } catch (e) {
    fail(i, input, stream, `trap: ${e && e.message}`);
  }
}

const hist = new Map();
const bump = (k) => hist.set(k, (hist.get(k) || 0) + 1);
const rng = makeRng(seed);
const t0 = performance.now();
let bytes = 0, rechecks = 0;
for (let i = 0; i < count; i++) {
  const input = mutate(pickSeed(rng), rng, P.rxCap);
  const stream = i & 1;
  bytes += input.length;
  const r = run(i, input, stream);
  if (typeof r !== "number" || !Number.isInteger(r)) fail(i, input, stream, `verdict ${r} is not an integer`);
  if (r > input.length) fail(i, input, stream, `verdict ${r} > input length ${input.length}`);
  if (!stream && r === 0) fail(i, input, stream, "datagram verdict 0 (stream-only)");
  if (r > 0) {
    bump(stream ? "valid(stream)" : "valid");
    if (!stream) {
      const again = run(i, input, 0);
      rechecks++;
      if (again !== r) fail(i, input, stream, `nondeterministic: ${r} then ${again}`);
    }
  } else if (r === 0) bump("need-more(stream)");
  else bump(`-${-r}`);
  if ((i + 1) % 100_000 === 0) {
    const s = (performance.now() - t0) / 1000;
    console.log(`  ${i + 1} inputs, ${s.toFixed(1)} s, ${Math.round((i + 1) / s)} inputs/s, 0 traps`);
  }
}
const secs = (performance.now() - t0) / 1000;
console.log(`fuzz: ${count} inputs, seed ${seed}, 0 traps`);
console.log(`  ${secs.toFixed(1)} s, ${(bytes / 1e6).toFixed(1)} MB parsed, ${rechecks} valid datagrams re-parsed (deterministic)`);
console.log("  verdicts:");
const rows = [...hist.entries()].sort((a, b) => b[1] - a[1]);
for (const [k, v] of rows) {
  const status = k.startsWith("-") ? `  ${WIRE_ERROR_NAMES[-Number(k)] ?? "?"} (status ${ex.probe_status_of(Number(k)) || "drop"})` : "";
  console.log(`    ${k.padEnd(18)} ${String(v).padStart(9)}  ${((100 * v) / count).toFixed(2).padStart(6)}%${status}`);
}
