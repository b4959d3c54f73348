#!/usr/bin/env node
// Builds every board (boards/<name>/board.json) into build/<board>/:
//   sipling.wasm  the release core: --runtime stub, the board's optimisation level (-O3z by default),
//                 no imports (abort redirected to a trap), memory fixed at the board's page count;
//   probe.wasm    the same core plus the test probes of assembly/testing/ (used by tests/ and bench/).
//   sipling (native) and, for micro, the Cortex-M4 firmware (tools/native.mjs, tools/firmware.mjs).
// Usage: node tools/build.mjs [--board NAME]... [--quiet] [--wasm-only]
import { readFileSync, readdirSync, mkdirSync, existsSync, statSync } from "node:fs";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { spawnSync } from "node:child_process";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const args = process.argv.slice(2);
const quiet = args.includes("--quiet");
const only = args.flatMap((a, i) => (a === "--board" ? [args[i + 1]] : []));

export function loadBoards() {
  const dir = join(root, "boards");
  return readdirSync(dir)
    .filter((n) => existsSync(join(dir, n, "board.json")))
    .map((n) => {
      const b = JSON.parse(readFileSync(join(dir, n, "board.json"), "utf8"));
      if (b.name !== n) throw new Error(`boards/${n}/board.json: "name" must be "${n}"`);
      return b;
    });
}

function asc(entry, outFile, board, extra, extraPages = 0) {
  const uses = Object.entries(board.constants).flatMap(([k, v]) => ["--use", `${k}=${v}`]);
  const argv = [
    join(root, "node_modules/assemblyscript/bin/asc.js"), entry,
    "--outFile", outFile,
    "--runtime", "stub",
    "--use", "abort=",
    "--noAssert",
    "--initialMemory", String(board.memoryPages + extraPages),
    "--maximumMemory", String(board.memoryPages + extraPages),
    "--exportStart", "_initialize",
    ...uses, ...extra,
  ];
  const r = spawnSync(process.execPath, argv, { cwd: root, stdio: ["ignore", "inherit", "inherit"] });
  if (r.status !== 0) {
    console.error(`build failed: ${entry} for board ${board.name}`);
    process.exit(1);
  }
}

const boards = loadBoards().filter((b) => only.length === 0 || only.includes(b.name));
if (only.length && boards.length !== only.length) {
  console.error(`unknown board in: ${only.join(", ")}`);
  process.exit(2);
}
for (const b of boards) {
  const out = join(root, "build", b.name);
  mkdirSync(out, { recursive: true });
  // Release: the board's build profile (-O3z unless the board says otherwise). Probe: the same level,
  // so tests and benchmarks measure the code as shipped.
  const opt = b.optimize || "-O3z";
  if (!/^-O[0-3][sz]?$/.test(opt)) throw new Error(`boards/${b.name}/board.json: "optimize" must look like -O3z, got ${opt}`);
  asc("assembly/index.ts", join(out, "sipling.wasm"), b, [opt]);
  // the probe build holds test-only statics (scratch buffers, second views) on top: one more page
  asc("assembly/testing/probe.ts", join(out, "probe.wasm"), b, [opt], 1);
  if (!quiet) {
    const size = statSync(join(out, "sipling.wasm")).size;
    console.log(`built ${b.name}: sipling.wasm ${size} bytes, ${b.memoryPages} pages`);
  }
}

// The other hosts of the same core: build/<board>/sipling (native, wasm2c + gcc) and the Cortex-M4
// firmware build/mps2-an386/sipling.elf (micro core). Both rebuild only when their inputs changed.
if (!args.includes("--wasm-only")) {
  const { buildNative } = await import("./native.mjs");
  for (const b of boards) await buildNative(b.name, { quiet });
  if (only.length === 0 || only.includes("micro")) {
    const { buildFirmware } = await import("./firmware.mjs");
    buildFirmware({ quiet });
  }
}
