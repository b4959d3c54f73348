#!/usr/bin/env node
// Builds every board (a target of asconfig.json, described by boards/<name>/board.json) into build/<board>/:
//   sipling.wasm  the release core, `asc assembly/index.ts --target <board>`: --runtime stub, the board's
//                 optimisation level, no imports (abort redirected to a trap), memory fixed at its pages;
//   probe.wasm    the same core plus the test probes of assembly/testing/ (used by tests/ and bench/).
//   sipling (native: the boards of tools/native.mjs NATIVE_BOARDS) and, for micro, the Cortex-M4 firmware
//   (tools/native.mjs, tools/firmware.mjs).
// Usage: node tools/build.mjs [--board NAME]... [--quiet] [--wasm-only]
import { mkdirSync, statSync } from "node:fs";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { spawnSync } from "node:child_process";
import { loadBoards } from "./boards.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const args = process.argv.slice(2);
const quiet = args.includes("--quiet");
const only = args.flatMap((a, i) => (a === "--board" ? [args[i + 1]] : []));

/**
 * asc ENTRY --target BOARD: the board's options from asconfig.json; `extra` overrides (CLI arguments
 * take precedence over the config file).
 */
function asc(entry, board, extra = []) {
  const argv = [join(root, "node_modules/assemblyscript/bin/asc.js"), entry, "--target", board.name, ...extra];
  const r = spawnSync(process.execPath, argv, { cwd: root, stdio: ["ignore", process.stderr, "inherit"] });
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
  // Release: exactly `npx asc assembly/index.ts --target <board>` (asconfig.json). Probe: the same
  // options, so tests and benchmarks measure the code as shipped, plus one page for its test-only statics.
  asc("assembly/index.ts", b, ["--outFile", join(out, "sipling.wasm")]);
  const pages = String(b.memoryPages + 1);
  // the probe also carries the user agent core (config.ts USER_AGENT), which the proxy boards leave out
  asc("assembly/testing/probe.ts", b, ["--outFile", join(out, "probe.wasm"), "--initialMemory", pages, "--maximumMemory", pages, "--use", "SIP_USER_AGENT=1"]);
  if (!quiet) {
    const size = statSync(join(out, "sipling.wasm")).size;
    console.error(`built ${b.name}: sipling.wasm ${size} bytes, ${b.memoryPages} pages`);
  }
}

// The other hosts of the same core: build/<board>/sipling (native, wasm2c + gcc) and the Cortex-M4
// firmware build/mps2-an386/sipling.elf (micro core). Both rebuild only when their inputs changed.
if (!args.includes("--wasm-only")) {
  const { buildNative, NATIVE_BOARDS } = await import("./native.mjs");
  for (const b of boards) if (NATIVE_BOARDS.includes(b.name)) await buildNative(b.name, { quiet });
  if (only.length === 0 || only.includes("micro")) {
    const { buildFirmware } = await import("./firmware.mjs");
    buildFirmware({ quiet });
  }
}
