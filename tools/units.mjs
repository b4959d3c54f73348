#!/usr/bin/env node
// Memory per capacity unit of a board's core: for each capacity constant of value v, the core is built
// again with half of it (the board's options, `--use CONSTANT=v/2`) and its memory in use after
// start-up (stat memoryBytes: static data + every table, nothing is allocated later) is compared with
// the release build's. The difference over v/2 is the cost of one unit at this scale, hash indexes
// (sized to powers of two) included; what the units do not explain is the fixed cost (static data,
// buffers sized by the message size, header and parameter limits).
// Derived rows: a registration = 1 address of record + 1 binding + 2 registrar-pool blocks (an AOR key
// and a contact URI of up to 64 bytes each); a call in progress through the proxy = 2 transactions
// (server and client INVITE) + 3 message-pool blocks (what a ringing call with a desk phone's SDP
// keeps: its request and its forwarded copy as proxy/response.ts keepLess makes them, and the 18x;
// tests/sim/kept-messages.test.mjs) + 1 dialog.
// Usage: node tools/units.mjs [--board NAME]... [--json]   (npm run footprint -- --units)
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadBoards, root } from "./boards.mjs";

export const UNITS = [
  { constant: "SIP_MAX_TXN", unit: "transaction", stat: "txnCapacity" },
  { constant: "SIP_MSG_BLOCKS", unit: "message-pool block", stat: "msgPoolBlocks" },
  { constant: "SIP_MAX_AORS", unit: "address of record", stat: "aorCapacity" },
  { constant: "SIP_MAX_BINDINGS", unit: "binding", stat: "bindingCapacity" },
  { constant: "SIP_REG_BLOCKS", unit: "registrar-pool block (64 B)", stat: "regPoolBlocks" },
  { constant: "SIP_MAX_DIALOGS", unit: "dialog", stat: null },
  { constant: "SIP_UA_DIALOGS", unit: "user-agent dialog", stat: null },
  { constant: "SIP_DLG_BLOCKS", unit: "hidden-dialog block (64 B)", stat: null },
  { constant: "SIP_MAX_PIKE", unit: "flood-tracked source", stat: null },
];
const { STAT_NAMES } = await import("../host/firmware/abi.mjs");
const statId = (n) => STAT_NAMES.indexOf(n);

/** The defaults of assembly/config.ts: { SIP_X: n } from `isDefined(SIP_X) ? SIP_X : n`. */
export function configDefaults() {
  const src = readFileSync(join(root, "assembly", "config.ts"), "utf8");
  const out = {};
  for (const m of src.matchAll(/isDefined\((SIP_[A-Z_]+)\) \? \1 : (\d+)/g)) out[m[1]] = Number(m[2]);
  return out;
}

/** Memory in use after start-up and the capacity stats of a core file. */
function probe(file) {
  const ex = new WebAssembly.Instance(new WebAssembly.Module(readFileSync(file)), {}).exports;
  ex._initialize();
  const s = (n) => ex.sip_stat(statId(n));
  return { used: s("memoryBytes"), caps: Object.fromEntries(UNITS.filter((u) => u.stat).map((u) => [u.stat, s(u.stat)])) };
}

function asc(args) {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [join(root, "node_modules/assemblyscript/bin/asc.js"), "assembly/index.ts", ...args],
      { cwd: root, stdio: ["ignore", "ignore", "pipe"] });
    let err = "";
    p.stderr.on("data", (d) => (err += d));
    p.on("exit", (code) => (code === 0 ? resolve() : reject(new Error(`asc ${args.join(" ")}: ${err}`))));
  });
}

/** Runs jobs (functions returning promises) two at a time. */
async function limited(jobs, n = 2) {
  const out = new Array(jobs.length);
  let next = 0;
  await Promise.all(Array.from({ length: n }, async () => {
    while (next < jobs.length) {
      const i = next++;
      out[i] = await jobs[i]();
    }
  }));
  return out;
}

/**
 * One board's units: { board, used, rows: [{ constant, unit, count, bytes, total }], fixed,
 * perRegistration, perCall }. `set`: { SIP_X: n } replacing the board's values first (a test's
 * prediction check); `baseOnly`: build only that core and return { board, used }.
 */
export async function measureUnits(boardName, { set = {}, baseOnly = false } = {}) {
  const board = loadBoards().find((b) => b.name === boardName);
  if (!board) throw new Error(`no board ${boardName}`);
  const defaults = configDefaults();
  const base = { ...defaults, ...board.constants };
  const tmp = mkdtempSync(join(tmpdir(), `sipling-units-${boardName}-`));
  try {
    const pages = String(board.memoryPages + 32); // room for a test's larger prediction build
    // the board's target written out (a --use on the command line does not replace a target's own
    // value of the same constant, so --target cannot be combined with an override)
    const t = board.target;
    const build = async (name, uses) => {
      const out = join(tmp, `${name}.wasm`);
      const use = (t.use ?? []).map((u) => {
        const c = u.split("=")[0];
        return c in uses ? `${c}=${uses[c]}` : u;
      });
      for (const [c, v] of Object.entries(uses)) if (!use.some((u) => u.startsWith(`${c}=`))) use.push(`${c}=${v}`);
      await asc(["--outFile", out, "--optimizeLevel", String(t.optimizeLevel ?? 0), "--shrinkLevel", String(t.shrinkLevel ?? 0),
        ...(t.converge ? ["--converge"] : []), ...(t.runPasses ? ["--runPasses", String(t.runPasses)] : []),
        ...(t.memoryBase != null ? ["--memoryBase", String(t.memoryBase)] : []),
        "--initialMemory", pages, "--maximumMemory", pages, ...use.flatMap((u) => ["--use", u])]);
      return probe(out);
    };
    const value = (c) => set[c] ?? base[c];
    const half = (c) => Math.max(1, Math.floor(value(c) / 2));
    if (baseOnly) return { board: boardName, used: (await build("base", set)).used };
    const jobs = [() => build("base", set), ...UNITS.map((u) => () => build(u.constant, { ...set, [u.constant]: half(u.constant) }))];
    const [b0, ...measured] = await limited(jobs);
    const rows = UNITS.map((u, i) => {
      const m = measured[i];
      const k = value(u.constant) - half(u.constant);
      if (u.stat && m.caps[u.stat] !== b0.caps[u.stat] - k) throw new Error(`${u.constant}/2: ${u.stat} ${b0.caps[u.stat]} -> ${m.caps[u.stat]}`);
      for (const other of UNITS) {
        if (other !== u && other.stat && m.caps[other.stat] !== b0.caps[other.stat]) throw new Error(`${u.constant}/2 changed ${other.stat}`);
      }
      const bytes = k > 0 ? (b0.used - m.used) / k : 0; // a capacity of 1 (a feature left out) cannot be halved
      return { constant: u.constant, unit: u.unit, count: value(u.constant), bytes, total: Math.round(bytes * value(u.constant)) };
    });
    const by = Object.fromEntries(rows.map((r) => [r.constant, r.bytes]));
    const msgBlock = value("SIP_MSG_BLOCK");
    rows.find((r) => r.constant === "SIP_MSG_BLOCKS").unit += ` (${msgBlock} B)`;
    return {
      board: boardName,
      used: b0.used,
      msgBlock,
      rows,
      fixed: b0.used - rows.reduce((s, r) => s + r.total, 0),
      perRegistration: by.SIP_MAX_AORS + by.SIP_MAX_BINDINGS + 2 * by.SIP_REG_BLOCKS,
      perCall: 2 * by.SIP_MAX_TXN + 3 * by.SIP_MSG_BLOCKS + by.SIP_MAX_DIALOGS,
    };
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/** The report's lines for one board. */
export function unitLines(u) {
  const n = (x) => Math.round(x).toLocaleString("en-US");
  const lines = [`${u.board}: ${n(u.used)} bytes in use after start-up`];
  for (const r of u.rows) lines.push(`  ${r.unit.padEnd(30)} ${String(r.bytes.toFixed(1)).padStart(8)} B each × ${n(r.count).padStart(9)} = ${n(r.total).padStart(12)} B`);
  lines.push(`  ${"fixed (code data, buffers, tables not above)".padEnd(30)} ${n(u.fixed).padStart(43)} B`);
  const each = (c) => u.rows.find((r) => r.constant === c)?.bytes ?? 0;
  lines.push(`  per registration (1 AOR, 1 binding, 2 registrar blocks): ${n(u.perRegistration)} B; per transaction: ${n(each("SIP_MAX_TXN"))} B; ` +
    `per dialog: ${n(each("SIP_MAX_DIALOGS"))} B` + (each("SIP_UA_DIALOGS") ? ` (a user agent's: ${n(each("SIP_UA_DIALOGS"))} B)` : "") + `; fixed: ${n(u.fixed)} B`);
  lines.push(`  per call in progress (2 transactions, 3 message-pool blocks kept while it rings, 1 dialog): ${n(u.perCall)} B`);
  return lines;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const args = process.argv.slice(2);
  const only = args.flatMap((a, i) => (a === "--board" ? [args[i + 1]] : []));
  const boards = only.length ? only : loadBoards().map((b) => b.name);
  const out = [];
  for (const b of boards) out.push(await measureUnits(b));
  if (args.includes("--json")) console.log(JSON.stringify(out, null, 2));
  else for (const u of out) console.log(unitLines(u).join("\n"));
}
