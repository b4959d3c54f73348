#!/usr/bin/env node
// Where the bytes of a board's core go: the release .wasm by section (code, data, globals, exports, …),
// and its code by layer (assembly/wire, assembly/proxy, …) and by function. The release build carries
// no names, so the core is built once more with the board's options plus --debug (a name section only:
// the code section is byte for byte the release's, which this tool checks) and each function body is
// attributed to the source file its name comes from.
// Usage: node tools/sections.mjs [--board NAME]... [--top N] [--json]   (npm run footprint -- --sections)
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadBoards, root } from "./boards.mjs";
import { reader, wasmSections, wasmData } from "./wasm.mjs";

/** { sections: [{ id, name, bytes }], bodies: [bytes of each defined function], names: Map(index → name), imports } */
export function parseWasm(b) {
  const sections = [];
  const bodies = [];
  const names = new Map();
  let imports = 0;
  for (const sec of wasmSections(b)) {
    const r = reader(b, sec.start);
    if (sec.id === 2) {
      for (let n = r.uleb(); n > 0; n--) {
        r.str();
        r.str();
        if (r.u8() === 0) { r.uleb(); imports++; } else break;
      }
    } else if (sec.id === 10) {
      for (let n = r.uleb(); n > 0; n--) {
        const sz = r.uleb();
        bodies.push(sz);
        r.pos += sz;
      }
    } else if (sec.id === 0 && r.str() === "name") {
      while (r.pos < sec.end) {
        const sid = r.u8();
        const send = r.uleb() + r.pos;
        if (sid === 1) for (let n = r.uleb(); n > 0; n--) {
          const idx = r.uleb();
          names.set(idx, r.str());
        }
        r.pos = send;
      }
    }
    sections.push({ id: sec.id, name: sec.name, bytes: sec.end - sec.start });
  }
  return { sections, bodies, names, imports };
}

/** The layer a function name belongs to: "wire", "proxy", …, "runtime" (~lib), "start". */
export function layerOf(name) {
  if (!name) return "unnamed";
  if (name.startsWith("~lib/") || name === "~start") return "runtime";
  const m = /^(?:start:)?assembly\/([^/]+)(?:\/|$)/.exec(name);
  if (!m) return "other";
  return m[1].replace(/\.ts$/, "");
}

/**
 * Where the memory in use after start-up goes, from a named build (`--debug`): every i32 global is
 * exported (binaryen), the core started, and each table or buffer object found by the address its
 * global holds. A region runs from one such address to the next, so the arrays an object allocates in
 * its constructor count as its own. Below the first is the static data (`memory.data`: initialized
 * tables and zero-filled buffers alike, one line: their names are not in the binary).
 * Returns { used, staticBytes, regions: [{ name, layer, bytes }], layers: [{ layer, bytes }] }.
 */
export async function memoryMap(namedBytes) {
  const { default: binaryen } = await import(join(root, "node_modules/binaryen/index.js"));
  const m = binaryen.readBinary(namedBytes);
  const globals = [];
  // the heap starts after the static data (the end of the highest data segment: the zero-filled
  // buffers of memory.data lie below the last initialized one)
  const heapBase = wasmData(namedBytes).staticBytes;
  for (let i = 0; i < m.getNumGlobals(); i++) {
    const g = binaryen.getGlobalInfo(m.getGlobalByIndex(i));
    if (g.type !== binaryen.i32) continue;
    globals.push([`g${i}`, g.name]);
    m.addGlobalExport(g.name, `g${i}`);
  }
  const bin = m.emitBinary();
  m.dispose();
  const ex = new WebAssembly.Instance(new WebAssembly.Module(bin), { env: { abort() {} } }).exports;
  ex._initialize();
  const { STAT_NAMES } = await import("../host/firmware/abi.mjs");
  const used = ex.sip_stat(STAT_NAMES.indexOf("memoryBytes"));
  if (!(heapBase > 0)) throw new Error("the named build has no static data");
  // objects on the heap: addresses at or above the heap base, below the top (constants are not tables)
  const at = globals.map(([e, name]) => ({ name, addr: ex[e].value >>> 0 }))
    .filter((g) => g.addr >= heapBase && g.addr < used && !/^~lib\//.test(g.name))
    .sort((a, b) => a.addr - b.addr);
  const regions = [];
  const staticBytes = heapBase;
  const first = at.length ? at[0].addr : used;
  if (first > heapBase) regions.push({ name: "(heap objects before the first named one)", layer: "runtime", bytes: first - heapBase });
  at.forEach((g, i) => {
    if (i + 1 < at.length && at[i + 1].addr === g.addr) return; // an alias of the next
    const end = i + 1 < at.length ? at[i + 1].addr : used;
    regions.push({ name: g.name, layer: layerOf(g.name), bytes: end - g.addr });
  });
  const layers = new Map([["static data", staticBytes]]);
  for (const r of regions) layers.set(r.layer, (layers.get(r.layer) ?? 0) + r.bytes);
  return {
    used, staticBytes,
    regions: regions.sort((a, b) => b.bytes - a.bytes),
    layers: [...layers].map(([layer, bytes]) => ({ layer, bytes })).sort((a, b) => b.bytes - a.bytes),
  };
}

/** One board: { board, wasmBytes, sections, layers: [{ layer, bytes, functions }], top: [{ name, bytes }], memory }. */
export async function sections(boardName, { top = 15 } = {}) {
  const board = loadBoards().find((b) => b.name === boardName);
  if (!board) throw new Error(`no board ${boardName}`);
  const release = readFileSync(join(root, "build", boardName, "sipling.wasm"));
  const tmp = mkdtempSync(join(tmpdir(), "sipling-sections-"));
  try {
    const named = join(tmp, "named.wasm");
    const r = spawnSync(process.execPath, [join(root, "node_modules/assemblyscript/bin/asc.js"), "assembly/index.ts",
      "--target", boardName, "--debug", "--outFile", named], { cwd: root, encoding: "utf8" });
    if (r.status !== 0) throw new Error(`asc --debug failed: ${r.stderr}`);
    const rel = parseWasm(release);
    const dbg = parseWasm(readFileSync(named));
    const code = (w) => w.sections.find((s) => s.id === 10)?.bytes;
    if (code(rel) !== code(dbg) || rel.bodies.length !== dbg.bodies.length)
      throw new Error(`the named build's code (${code(dbg)} B) is not the release's (${code(rel)} B): run npm run build`);
    const layers = new Map();
    const fns = [];
    dbg.bodies.forEach((bytes, i) => {
      const name = dbg.names.get(i + dbg.imports);
      const l = layerOf(name);
      const e = layers.get(l) ?? { layer: l, bytes: 0, functions: 0 };
      e.bytes += bytes;
      e.functions++;
      layers.set(l, e);
      fns.push({ name: name ?? `#${i}`, bytes });
    });
    const memory = await memoryMap(readFileSync(named));
    return {
      board: boardName,
      wasmBytes: release.length,
      sections: rel.sections.filter((s) => s.id !== 0 || s.bytes > 0),
      layers: [...layers.values()].sort((a, b) => b.bytes - a.bytes),
      top: fns.sort((a, b) => b.bytes - a.bytes).slice(0, top),
      memory: { ...memory, regions: memory.regions.slice(0, top) },
    };
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/** The report's lines for one board. */
export function sectionLines(s) {
  const n = (x) => x.toLocaleString("en-US");
  const pct = (x) => `${((100 * x) / s.wasmBytes).toFixed(1)}%`;
  const lines = [`${s.board}: ${n(s.wasmBytes)} B wasm`];
  lines.push("  sections: " + s.sections.map((x) => `${x.name} ${n(x.bytes)}`).join(", "));
  lines.push("  code by layer (function bodies):");
  for (const l of s.layers) lines.push(`    ${l.layer.padEnd(12)} ${n(l.bytes).padStart(8)} B ${pct(l.bytes).padStart(6)}  ${l.functions} functions`);
  lines.push(`  largest functions:`);
  for (const f of s.top) lines.push(`    ${n(f.bytes).padStart(7)} B  ${f.name}`);
  const m = s.memory;
  const mp = (x) => `${((100 * x) / m.used).toFixed(1)}%`;
  lines.push(`  memory in use after start-up: ${n(m.used)} B; by layer (static data: memory.data tables and buffers):`);
  for (const l of m.layers) lines.push(`    ${l.layer.padEnd(12)} ${n(l.bytes).padStart(11)} B ${mp(l.bytes).padStart(6)}`);
  lines.push(`  largest tables (an object with the arrays its constructor allocates):`);
  for (const r of m.regions) lines.push(`    ${n(r.bytes).padStart(11)} B  ${r.name}`);
  return lines;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const args = process.argv.slice(2);
  const only = args.flatMap((a, i) => (a === "--board" ? [args[i + 1]] : []));
  const ti = args.indexOf("--top");
  const top = ti >= 0 ? Number(args[ti + 1]) : 15;
  const out = await Promise.all((only.length ? only : loadBoards().map((b) => b.name)).map((b) => sections(b, { top })));
  if (args.includes("--json")) console.log(JSON.stringify(out, null, 2));
  else for (const s of out) console.log(sectionLines(s).join("\n"));
}
