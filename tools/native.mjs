#!/usr/bin/env node
// Builds the native host (host/c/) for boards server, micro, gateway and b2bua into build/<board>/sipling:
//   1. wasm2c build/<board>/sipling.wasm -n sip -o build/<board>/native/sip.c   (the core as C)
//   2. gcc -O2 -std=c11 -D_GNU_SOURCE: host/c/*.c (warnings on), sip.c and the wasm2c runtime
//      (/usr/share/wabt/wasm2c/wasm-rt-impl.c; warnings off: generated/third-party), linked with
//      -lcares (the resolver, host/c/resolve.c; Debian libc-ares-dev), -lssl -lcrypto (TLS,
//      host/c/tls.c; Debian libssl-dev), -lm and -pthread (the media relay's thread, host/c/relay.c)
//   3. prints `size` (text/data/bss) of each executable.
// The wasm must exist (npm run build). Exits non-zero on any failure. Objects are rebuilt only when
// older than their inputs (sip.c takes ~6 s at -O2).
// Usage: node tools/native.mjs [--board NAME]... [--quiet]
// Environment: CC (default gcc), WASM2C (default wasm2c), WASM2C_RUNTIME (folder of wasm-rt-impl.c).
import { existsSync, mkdirSync, readdirSync, statSync } from "node:fs";
import { join, dirname, basename, relative } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { spawn, spawnSync } from "node:child_process";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
export const NATIVE_BOARDS = ["server", "micro", "gateway", "b2bua"];
const CC = process.env.CC || "gcc";
const WASM2C = process.env.WASM2C || "wasm2c";
const RUNTIME = process.env.WASM2C_RUNTIME || "/usr/share/wabt/wasm2c";
const CFLAGS = ["-O2", "-std=c11", "-D_GNU_SOURCE", "-pthread"];
const HOST_WARN = ["-Wall", "-Wextra"];

/** Path of the native executable of a board. */
export function nativeBinary(board) {
  return join(root, "build", board, "sipling");
}

/** `size` of a board's executable: {text, data, bss} in bytes, or null when it is not built. */
export function nativeSizes(board) {
  const bin = nativeBinary(board);
  if (!existsSync(bin)) return null;
  const r = spawnSync("size", [bin], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`size ${bin} failed: ${r.stderr || r.error}`);
  const line = r.stdout.trim().split("\n")[1]; // Berkeley format: text data bss dec hex filename
  const [text, data, bss] = line.trim().split(/\s+/).map(Number);
  return { text, data, bss };
}

const mtime = (f) => (existsSync(f) ? statSync(f).mtimeMs : -1);

function run(cmd, args, quiet) {
  return new Promise((resolve, reject) => {
    if (!quiet) console.error(`  ${cmd} ${args.map((a) => (a.startsWith(root) ? relative(root, a) || "." : a)).join(" ")}`);
    const p = spawn(cmd, args, { cwd: root, stdio: ["ignore", process.stderr, "inherit"] });
    p.on("error", (e) => reject(new Error(`${cmd}: ${e.message}`)));
    p.on("exit", (code, sig) => (code === 0 ? resolve() : reject(new Error(`${cmd} failed (${sig ?? code})`))));
  });
}

/** Builds one board; returns its sizes. Rejects on failure. */
export async function buildNative(board, { quiet = false } = {}) {
  const wasm = join(root, "build", board, "sipling.wasm");
  if (!existsSync(wasm)) throw new Error(`${relative(root, wasm)} is missing: run npm run build first`);
  const out = join(root, "build", board, "native");
  mkdirSync(out, { recursive: true });
  const hostDir = join(root, "host", "c");
  const hostSrc = readdirSync(hostDir).filter((f) => f.endsWith(".c")).map((f) => join(hostDir, f));
  const headers = readdirSync(hostDir).filter((f) => f.endsWith(".h")).map((f) => join(hostDir, f));
  const rtSrc = join(RUNTIME, "wasm-rt-impl.c");
  if (!existsSync(rtSrc)) throw new Error(`${rtSrc} is missing (Debian package wabt, or set WASM2C_RUNTIME)`);

  const sipC = join(out, "sip.c");
  if (mtime(sipC) < mtime(wasm)) await run(WASM2C, [wasm, "-n", "sip", "-o", sipC], quiet);

  const inc = ["-I", out, "-I", RUNTIME, "-I", hostDir, `-DSIPLING_BOARD="${board}"`, `-DSIPLING_WASM_BYTES=${statSync(wasm).size}`];
  const newestHeader = Math.max(mtime(join(out, "sip.h")), ...headers.map(mtime));
  const jobs = [];
  const objs = [];
  const obj = (src, flags, deps) => {
    const o = join(out, basename(src).replace(/\.c$/, ".o"));
    objs.push(o);
    if (mtime(o) < Math.max(mtime(src), ...deps)) jobs.push(() => run(CC, [...CFLAGS, ...flags, ...inc, "-c", src, "-o", o], quiet));
  };
  obj(sipC, ["-w"], []);
  obj(rtSrc, ["-w"], []);
  for (const s of hostSrc) obj(s, HOST_WARN, [newestHeader, mtime(wasm)]); // SIPLING_WASM_BYTES
  // sip.c dominates: start it first, compile the rest alongside
  await Promise.all(jobs.map((j) => j()));
  const bin = nativeBinary(board);
  await run(CC, [...objs, "-lcares", "-lssl", "-lcrypto", "-lm", "-pthread", "-o", bin], quiet);
  const sizes = nativeSizes(board);
  console.error(`built ${board}: ${relative(root, bin)} text ${sizes.text} data ${sizes.data} bss ${sizes.bss} bytes`);
  return sizes;
}

async function main(argv) {
  const quiet = argv.includes("--quiet");
  const only = argv.flatMap((a, i) => (a === "--board" ? [argv[i + 1]] : []));
  const bad = only.filter((b) => !NATIVE_BOARDS.includes(b));
  if (bad.length) {
    console.error(`unknown board: ${bad.join(", ")} (native boards: ${NATIVE_BOARDS.join(", ")})`);
    process.exit(2);
  }
  for (const b of only.length ? only : NATIVE_BOARDS) {
    try {
      await buildNative(b, { quiet });
    } catch (e) {
      console.error(`native build failed for board ${b}: ${e.message}`);
      process.exit(1);
    }
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main(process.argv.slice(2));
