#!/usr/bin/env node
// Builds the WASI host: build/wasi/sipling-wasi.wasm, a WASI command (host/wasi/main.ts) that links
// the core in-process, with the server board's constants and memory (boards/server/board.json).
// Same compiler settings as tools/build.mjs (--runtime stub, abort redirected to a trap, --noAssert,
// the board's -O level, fixed memory), except that the start function is exported as `_start`.
// Usage: node tools/wasi.mjs [--board NAME] [--quiet] [--text]   (--text also writes a .wat)
import { readFileSync, mkdirSync, statSync } from "node:fs";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { spawnSync } from "node:child_process";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const args = process.argv.slice(2);
const quiet = args.includes("--quiet");
const text = args.includes("--text");
const bi = args.indexOf("--board");
const boardName = bi >= 0 ? args[bi + 1] : "server";

let board;
try {
  board = JSON.parse(readFileSync(join(root, "boards", boardName, "board.json"), "utf8"));
} catch (e) {
  console.error(`wasi build: cannot read boards/${boardName}/board.json: ${e.message}`);
  process.exit(2);
}
const opt = board.optimize || "-O3z";
if (!/^-O[0-3][sz]?$/.test(opt)) {
  console.error(`wasi build: boards/${boardName}/board.json: "optimize" must look like -O3z, got ${opt}`);
  process.exit(2);
}
const out = join(root, "build", "wasi");
mkdirSync(out, { recursive: true });
const outFile = join(out, boardName === "server" ? "sipling-wasi.wasm" : `sipling-wasi-${boardName}.wasm`);
const uses = Object.entries(board.constants).flatMap(([k, v]) => ["--use", `${k}=${v}`]);
const argv = [
  join(root, "node_modules/assemblyscript/bin/asc.js"), "host/wasi/main.ts",
  "--outFile", outFile,
  "--runtime", "stub",
  "--use", "abort=",
  "--noAssert",
  "--initialMemory", String(board.memoryPages),
  "--maximumMemory", String(board.memoryPages),
  "--exportStart", "_start",
  opt,
  ...uses,
  ...(text ? ["--textFile", outFile.replace(/\.wasm$/, ".wat")] : []),
];
const r = spawnSync(process.execPath, argv, { cwd: root, stdio: ["ignore", "inherit", "inherit"] });
if (r.status !== 0) {
  console.error(`wasi build failed (asc exit ${r.status ?? r.signal})`);
  process.exit(1);
}
if (!quiet) console.log(`built ${outFile.slice(root.length + 1)}: ${statSync(outFile).size} bytes, ${board.memoryPages} pages`);
