#!/usr/bin/env node
// Builds the WASI host: build/wasi/sipling-wasi.wasm, a WASI command (host/wasi/main.ts) that links
// the core in-process, with the server board's constants and memory: the board's target of
// asconfig.json, as tools/build.mjs, except that the start function is exported as `_start`.
// Usage: node tools/wasi.mjs [--board NAME] [--quiet] [--text] [--p2]   (--text also writes a .wat)
//
// --p2: the wasmtime build instead, build/wasi/sipling-wasip2.wasm, a WASI 0.2 command component: the
// same host compiled from host/wasi/main2.ts with `--use SIP_WASI_P2=1` (wasi:sockets, wasi:io/poll,
// wasi:clocks, ... instead of preview 1 + WasmEdge's socket extension), its exports adjusted (`run` ->
// `wasi:cli/run@0.2.12#run`; `_initialize` becomes the start function), then `wasm-tools component
// embed` (host/wasi/wit, world wasip2) and `wasm-tools component new`. wasm-tools comes from
// tools/wasmtime.mjs (pinned, cargo install into .cache/); no preview-1 adapter is involved.
import { mkdirSync, statSync, readFileSync, writeFileSync } from "node:fs";
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
const p2 = args.includes("--p2");

const board = loadBoards().find((b) => b.name === boardName);
if (!board) {
  console.error(`wasi build: no board ${boardName} (asconfig.json targets, boards/<name>/board.json)`);
  process.exit(2);
}
const out = join(root, "build", "wasi");
mkdirSync(out, { recursive: true });
const stem = p2 ? "sipling-wasip2" : "sipling-wasi";
const outFile = join(out, boardName === "server" ? `${stem}.wasm` : `${stem}-${boardName}.wasm`);
const coreFile = p2 ? outFile.replace(/\.wasm$/, ".core.wasm") : outFile;
// the board's target of asconfig.json, with this entry, file and start export
const P2_EXTRA_PAGES = 130; // 8 MiB + 128 KiB
const pages = board.memoryPages + (p2 ? P2_EXTRA_PAGES : 0);
const argv = [
  join(root, "node_modules/assemblyscript/bin/asc.js"), p2 ? "host/wasi/main2.ts" : "host/wasi/main.ts",
  "--target", boardName,
  "--outFile", coreFile,
  "--exportStart", p2 ? "_initialize" : "_start",
  // the wasmtime build's TCP connection table (host/wasi/main.ts: 64 x 64 KiB in + 64 KiB out) on top
  // of the board's pages; fixed memory of the board's maximum (this host writes no layout record: the
  // board's tables, docs/ABI.md "Layout")
  ...(p2 ? ["--use", "SIP_WASI_P2=1"] : []),
  "--initialMemory", String(pages), "--maximumMemory", String(pages),
  ...(text ? ["--textFile", coreFile.replace(/\.wasm$/, ".wat")] : []),
];
const r = spawnSync(process.execPath, argv, { cwd: root, stdio: ["ignore", process.stderr, "inherit"] });
if (r.status !== 0) {
  console.error(`wasi build failed (asc exit ${r.status ?? r.signal})`);
  process.exit(1);
}
if (p2) {
  writeFileSync(coreFile, adjustExports(readFileSync(coreFile)));
  const wt = wasmTools();
  const embedded = coreFile.replace(/\.core\.wasm$/, ".embed.wasm");
  for (const a of [
    ["component", "embed", join(root, "host/wasi/wit"), "--world", "wasip2", coreFile, "-o", embedded],
    ["component", "new", embedded, "-o", outFile],
  ]) {
    const w = spawnSync(wt, a, { cwd: root, stdio: ["ignore", process.stderr, "inherit"] });
    if (w.status !== 0) {
      console.error(`wasi build: wasm-tools ${a.slice(0, 2).join(" ")} failed (exit ${w.status ?? w.signal})`);
      process.exit(1);
    }
  }
}
if (!quiet) console.error(`built ${outFile.slice(root.length + 1)}: ${statSync(outFile).size} bytes, ${pages} pages`);

/** wasm-tools, pinned, from tools/wasmtime.mjs (installs it into .cache/ when missing). */
function wasmTools() {
  const r = spawnSync(process.execPath, [join(root, "tools/wasmtime.mjs"), "--print", "wasm-tools"], {
    cwd: root, stdio: ["ignore", "pipe", "inherit"], encoding: "utf8",
  });
  if (r.status !== 0) {
    console.error("wasi build: wasm-tools is not available (tools/wasmtime.mjs failed)");
    process.exit(1);
  }
  return r.stdout.trim();
}

/**
 * The core module's exports for a component: `run` is renamed to wasi:cli/run's canonical name, and
 * `_initialize` (asc's top-level code: static initialisers only, no imports are called) is removed
 * from the exports and made the module's start function. Everything else is copied byte for byte.
 */
function adjustExports(buf) {
  let pos = 8;
  const u32 = () => {
    let r = 0, shift = 0, b;
    do { b = buf[pos++]; r |= (b & 0x7f) << shift; shift += 7; } while (b & 0x80);
    return r >>> 0;
  };
  const leb = (n) => {
    const o = [];
    do { let b = n & 0x7f; n >>>= 7; if (n) b |= 0x80; o.push(b); } while (n);
    return Buffer.from(o);
  };
  const parts = [buf.subarray(0, 8)];
  let init = -1;
  let done = false;
  while (pos < buf.length) {
    const start = pos;
    const id = buf[pos++];
    const size = u32();
    const body = pos;
    pos += size;
    if (id !== 7) {
      if (id === 8) throw new Error("wasi build: the module already has a start function");
      // the start section goes right after the export section (section order: 7, 8, 9, ...)
      if (done && init >= 0 && (id === 9 || id === 10 || id === 11 || id === 12)) {
        parts.push(Buffer.from([8]), leb(leb(init).length), leb(init));
        init = -1;
      }
      parts.push(buf.subarray(start, pos));
      continue;
    }
    let p = body;
    pos = p;
    const n = u32();
    const out = [];
    let count = 0;
    for (let k = 0; k < n; k++) {
      const nl = u32();
      let name = buf.subarray(pos, pos + nl).toString("utf8");
      pos += nl;
      const kind = buf[pos++];
      const index = u32();
      if (name === "_initialize" && kind === 0) { init = index; continue; }
      if (name === "run" && kind === 0) name = "wasi:cli/run@0.2.12#run";
      const nb = Buffer.from(name, "utf8");
      out.push(leb(nb.length), nb, Buffer.from([kind]), leb(index));
      count++;
    }
    pos = body + size;
    const sec = Buffer.concat([leb(count), ...out]);
    parts.push(Buffer.from([7]), leb(sec.length), sec);
    done = true;
  }
  if (init >= 0) parts.push(Buffer.from([8]), leb(leb(init).length), leb(init));
  return Buffer.concat(parts);
}
