#!/usr/bin/env node
// Footprint of every board's release core against its budget (boards/<name>/board.json "budget"):
//   wasmBytes          size of build/<board>/sipling.wasm
//   memoryPages        the memory the binary declares (memory section, id 5): initial / maximum
//   staticBytes        end of the highest active data segment (data section, id 11)
//   memoryUsedAtStart  probe.wasm's probe_heap_mark() right after _initialize(): the heap top after
//                      start-up (static data + the tables allocated at init). The probe build carries
//                      some test-only statics too, so this is an upper bound for sipling.wasm.
// Fails (exit 1) when wasmBytes > budget.wasmBytes, the maximum pages > budget.memoryPages,
// memoryUsedAtStart (the board's capacities) > the maximum pages × 64 KiB, or the static data > the
// initial pages.
// Usage: node tools/footprint.mjs [--json] [--units] [--sections]   (npm run footprint -- [--json] [--units] [--sections])
import { nativeSizes } from "./native.mjs";
import { firmwareSizes, budgets as firmwareBudgets, gatewayImageSizes, firmwareBreakdown } from "./firmware.mjs";
import { readFileSync, existsSync, statSync } from "node:fs";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";

import { loadBoards } from "./boards.mjs";
import { reader, wasmSections, wasmData } from "./wasm.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const PAGE = 65536;

/** The boards (tools/boards.mjs: asconfig.json targets and boards/<name>/board.json; builds nothing). */
export const readBoards = loadBoards;

// --- the wasm binary (tools/wasm.mjs) ---------------------------------------------------------------

export { wasmSections };

/** Memory section (id 5): the first memory's limits { initial, maximum|null } in pages, or null. */
export function wasmMemory(buf) {
  const s = wasmSections(buf).find((x) => x.id === 5);
  if (!s) return null;
  const r = reader(buf, s.start);
  if (r.uleb() < 1) return null;
  const flags = r.uleb();
  const initial = r.uleb();
  const maximum = flags & 1 ? r.uleb() : null;
  return { initial, maximum, shared: !!(flags & 2), memory64: !!(flags & 4) };
}

/** Data section (id 11): see tools/wasm.mjs (sections.mjs reads it too, without importing this file). */
export { wasmData };

// --- measure -------------------------------------------------------------------------------------

/** Memory in use after start-up of the release build: the core's stat 17 (its heap top once every
 * table is allocated; nothing is allocated after it). */
function memoryUsedAtStart(board) {
  const file = join(root, "build", board, "sipling.wasm");
  const inst = new WebAssembly.Instance(new WebAssembly.Module(readFileSync(file)), {});
  inst.exports._initialize();
  return inst.exports.sip_stat(17);
}

/** Measures every board; returns [{ board, wasmBytes, memoryPages, ..., budget, withinBudget, over }]. */
export function measure() {
  return readBoards().map((b) => {
    const file = join(root, "build", b.name, "sipling.wasm");
    if (!existsSync(file)) throw new Error(`${file} is missing: run npm run build`);
    const bin = readFileSync(file);
    const mem = wasmMemory(bin);
    const data = wasmData(bin);
    const row = {
      board: b.name,
      wasmBytes: statSync(file).size,
      memoryPages: mem ? mem.initial : 0,
      maximumPages: mem ? mem.maximum : null,
      staticBytes: data.staticBytes,
      dataSegments: data.segments,
      memoryUsedAtStart: memoryUsedAtStart(b.name),
      native: nativeSizes(b.name), // build/<board>/sipling (wasm2c + gcc): text/data/bss, or null
      budget: b.budget || {},
      goal: b.goal || {}, // goals are printed (met, or how far), never a failure: budgets are the limits
    };
    const over = [];
    const bud = row.budget;
    if (bud.wasmBytes != null && row.wasmBytes > bud.wasmBytes) over.push(`wasmBytes ${row.wasmBytes} > ${bud.wasmBytes}`);
    // The memory the binary can ever hold is its maximum (or initial when there is no maximum).
    const pages = Math.max(row.memoryPages, row.maximumPages ?? 0);
    if (bud.memoryPages != null && pages > bud.memoryPages) over.push(`memoryPages ${pages} > ${bud.memoryPages}`);
    // the tables at the board's capacities within the most it may grow to (server, b2bua: from its
    // static data, as the host lays them out, docs/ABI.md "Layout"; the others: their fixed memory)
    if (row.memoryUsedAtStart != null && row.memoryUsedAtStart > pages * PAGE) {
      over.push(`memoryUsedAtStart ${row.memoryUsedAtStart} > ${pages} pages (${pages * PAGE})`);
    }
    if (row.staticBytes > row.memoryPages * PAGE) over.push(`staticBytes ${row.staticBytes} > ${row.memoryPages * PAGE}`);
    row.withinBudget = over.length === 0;
    row.over = over;
    return row;
  });
}

/** The Cortex-M4 firmware image (boards/mps2-an386): text + data + bss against its budget. */
export function measureFirmware() {
  const s = firmwareSizes({ build: false });
  if (!s) return null;
  const b = firmwareBudgets();
  return {
    board: "mps2-an386", text: s.text, data: s.data, bss: s.bss, total: s.total,
    budget: b.textDataBssBytes, goal: b.goalBytes, withinBudget: s.total <= b.textDataBssBytes,
    overGoal: s.total - b.goalBytes,
  };
}

/** The gateway core linked for the same Cortex-M4 board (size only), against boards/gateway's budget. */
export function measureGatewayImage() {
  const s = gatewayImageSizes();
  if (!s) return null;
  const budget = JSON.parse(readFileSync(join(root, "boards", "gateway", "board.json"), "utf8")).budget.cortexM4ImageBytes;
  return { board: "mps2-an386 (gateway core)", ...s, budget, withinBudget: s.total <= budget };
}

function table(rows) {
  const kb = (n) => (n == null ? "?" : `${(n / 1024).toFixed(1)} KiB`);
  const pct = (a, b) => (a == null || !b ? "" : ` (${((100 * a) / b).toFixed(0)}%)`);
  const head = ["board", "sipling.wasm", "budget", "pages (init/max)", "budget", "static data", "used at start", "of memory", "ok"];
  const lines = rows.map((r) => [
    r.board,
    `${r.wasmBytes} B${pct(r.wasmBytes, r.budget.wasmBytes)}`,
    r.budget.wasmBytes != null ? `${r.budget.wasmBytes} B` : "-",
    `${r.memoryPages}/${r.maximumPages ?? "-"} (${kb(Math.max(r.memoryPages, r.maximumPages ?? 0) * PAGE)})`,
    r.budget.memoryPages != null ? `${r.budget.memoryPages}` : "-",
    `${r.staticBytes} B (${kb(r.staticBytes)})`,
    r.memoryUsedAtStart == null ? "?" : `${r.memoryUsedAtStart} B (${kb(r.memoryUsedAtStart)})`,
    r.memoryUsedAtStart == null ? "" : `${((100 * r.memoryUsedAtStart) / (Math.max(r.memoryPages, r.maximumPages ?? 0) * PAGE)).toFixed(0)}%`,
    r.withinBudget ? "yes" : "OVER",
  ]);
  const w = head.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
  const fmt = (cells) => cells.map((c, i) => (i === 0 ? c.padEnd(w[i]) : c.padStart(w[i]))).join("  ");
  const out = [fmt(head), w.map((n) => "-".repeat(n)).join("  "), ...lines.map(fmt)];
  for (const r of rows) for (const o of r.over) out.push(`OVER BUDGET ${r.board}: ${o}`);
  for (const r of rows) {
    const g = r.goal.wasmHeadroomBytes;
    if (g == null || r.budget.wasmBytes == null) continue;
    const left = r.budget.wasmBytes - r.wasmBytes;
    out.push(`${r.board}: ${left} B of its wasm budget left; goal at least ${g} B (${left >= g ? "met" : `${g - left} B short`})`);
  }
  out.push("used at start = memory holding every table after start-up (stat 17 of the release build).");
  for (const r of rows) {
    if (r.native) out.push(`native ${r.board} (build/${r.board}/sipling): text ${r.native.text}, data ${r.native.data}, bss ${r.native.bss} (+ the core's memory, mapped at start-up)`);
  }
  const fw = measureFirmware();
  if (fw) {
    out.push(`firmware mps2-an386 (Cortex-M4, micro core): text ${fw.text} + data ${fw.data} + bss ${fw.bss} = ${fw.total} B; ` +
      `budget ${fw.budget} (${fw.withinBudget ? "within" : "OVER"}), goal ${fw.goal} (${fw.overGoal > 0 ? `${fw.overGoal} B above` : "met"})`);
    const b = firmwareBreakdown();
    const micro = rows.find((r) => r.board === "micro");
    const bin = micro ? readFileSync(join(root, "build", "micro", "sipling.wasm")) : null;
    const init = bin ? wasmData(bin).dataBytes : null;
    out.push(`  text ${b.text.total} = the core's code ${b.text.core} + its data segments ${b.text.segments} (copied into its memory at boot) + ` +
      `the firmware ${b.text.firmware} (with the core's exports gcc inlined into it) + alignment ${b.text.other}`);
    out.push(`  bss ${b.bss.total} = the core's memory ${b.bss.coreMemory}` +
      (micro ? ` (static data ${micro.staticBytes}: ${init} B initialised, the rest zero-filled buffers; ` +
        `tables allocated at start-up ${micro.memoryUsedAtStart - micro.staticBytes}; see --sections)` : "") +
      ` + stack ${b.bss.stack} + the firmware's variables ${b.bss.firmware}`);
  }
  const gw = measureGatewayImage();
  if (gw) {
    out.push(`firmware image of the gateway core (Cortex-M4, the same board; size only): text ${gw.text} + data ${gw.data} + bss ${gw.bss} = ` +
      `${gw.total} B (RAM ${gw.ram}); budget ${gw.budget} (${gw.withinBudget ? "within" : "OVER"})`);
  }
  return out.join("\n");
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const rows = measure();
  const fw = measureFirmware();
  // --units: memory per capacity unit of each board (tools/units.mjs: rebuilds each core with half of
  // each capacity; about half a minute per board)
  const units = process.argv.includes("--units")
    ? await Promise.all(rows.map(async (r) => (await import("./units.mjs")).measureUnits(r.board)))
    : null;
  // --sections: the wasm by section and its code by layer and function (tools/sections.mjs)
  const secs = process.argv.includes("--sections")
    ? await Promise.all(rows.map(async (r) => (await import("./sections.mjs")).sections(r.board)))
    : null;
  if (process.argv.includes("--json")) {
    const json = rows.map(({ board, wasmBytes, memoryPages, staticBytes, memoryUsedAtStart, native, budget, goal, withinBudget }, i) =>
      ({ board, wasmBytes, memoryPages, staticBytes, memoryUsedAtStart, native, budget, goal, withinBudget,
        ...(units ? { units: units[i] } : {}), ...(secs ? { sections: secs[i] } : {}) }));
    if (fw) json.push(fw);
    console.log(JSON.stringify(json, null, 2));
  } else {
    console.log(table(rows));
    if (secs) {
      const { sectionLines } = await import("./sections.mjs");
      console.log("\nwhere the wasm bytes go (tools/sections.mjs):");
      for (const x of secs) console.log(sectionLines(x).join("\n"));
    }
    if (units) {
      const { unitLines } = await import("./units.mjs");
      console.log("\nmemory per capacity unit (tools/units.mjs):");
      for (const u of units) console.log(unitLines(u).join("\n"));
    }
  }
  const gw = measureGatewayImage();
  process.exit(rows.every((r) => r.withinBudget) && (!fw || fw.withinBudget) && (!gw || gw.withinBudget) ? 0 : 1);
}
