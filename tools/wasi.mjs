#!/usr/bin/env node
// Builds the WASI host: build/wasi/sipling-wasi.wasm, a WASI command (host/wasi/main.ts) that links
// the core in-process, with the server board's constants and memory: the board's target of
// asconfig.json, as tools/build.mjs, except that the start function is exported as `_start`.
// Usage: node tools/wasi.mjs [--board NAME] [--quiet] [--text]   (--text also writes a .wat)
import { mkdirSync, statSync } from "node:fs";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { spawnSync } from "node:child_process";
import { loadBoards } from "./boards.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const args = process.argv.slice(2);
const quiet = args.includes("--quiet");
const text = args.includes("--text");
const bi = args.indexOf("--board");
const boardName = bi >= 0 ? args[bi + 1] : "server";

const board = loadBoards().find((b) => b.name === boardName);
if (!board) {
  console.error(`wasi build: no board ${boardName} (asconfig.json targets, boards/<name>/board.json)`);
  process.exit(2);
}
const out = join(root, "build", "wasi");
mkdirSync(out, { recursive: true });
const outFile = join(out, boardName === "server" ? "sipling-wasi.wasm" : `sipling-wasi-${boardName}.wasm`);
// the board's target of asconfig.json, with this entry, file and start export
const argv = [
  join(root, "node_modules/assemblyscript/bin/asc.js"), "host/wasi/main.ts",
  "--target", boardName,
  "--outFile", outFile,
  "--exportStart", "_start",
  ...(text ? ["--textFile", outFile.replace(/\.wasm$/, ".wat")] : []),
];
const r = spawnSync(process.execPath, argv, { cwd: root, stdio: ["ignore", process.stderr, "inherit"] });
if (r.status !== 0) {
  console.error(`wasi build failed (asc exit ${r.status ?? r.signal})`);
  process.exit(1);
}
if (!quiet) console.error(`built ${outFile.slice(root.length + 1)}: ${statSync(outFile).size} bytes, ${board.memoryPages} pages`);
