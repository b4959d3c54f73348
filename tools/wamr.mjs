#!/usr/bin/env node
// Builds the WAMR host (host/wamr/): the native host's sources (host/c/) linked against WAMR's
// interpreter instead of the wasm2c translation, one executable per board with its core embedded:
//   build/wamr/classic/<board>/sipling   (WAMR's classic interpreter; the host the tests run)
//   build/wamr/fast/<board>/sipling      (WAMR's fast interpreter; measured by npm run bench)
// WAMR comes from a registry package: the wamr-sys crate (0.1.1) carries WAMR's C sources. Steps:
//   1. cargo metadata on host/wamr/src-pin/ (Cargo.lock pins wamr-sys and its checksum): cargo fetches
//      the crate once (crates.io), later runs need no network; it names the crate's folder.
//   2. cmake + make (host/wamr/CMakeLists.txt) builds WAMR (interpreter only, bulk memory) and the
//      host, incrementally.
// The wasm must exist (npm run build). Exits non-zero on any failure, naming what is missing.
// Usage: node tools/wamr.mjs [--interp classic|fast]... [--quiet]   (default: both)
import { existsSync, mkdirSync } from "node:fs";
import { join, dirname, relative } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { spawn, spawnSync } from "node:child_process";
import { homedir } from "node:os";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
export const WAMR_INTERPS = ["classic", "fast"];
const rustupCargo = join(homedir(), ".cargo", "bin", "cargo");
const CARGO = process.env.CARGO || (spawnSync("cargo", ["--version"]).error && existsSync(rustupCargo) ? rustupCargo : "cargo");
const pin = join(root, "host", "wamr", "src-pin", "Cargo.toml");

/** Path of the WAMR host executable of an interpreter and a board. */
export function wamrBinary(interp = "classic", board = "server") {
  return join(root, "build", "wamr", interp, board, "sipling");
}

function run(cmd, args, quiet) {
  return new Promise((resolve, reject) => {
    if (!quiet) console.error(`  ${cmd} ${args.map((a) => (a.startsWith(root) ? relative(root, a) || "." : a)).join(" ")}`);
    const p = spawn(cmd, args, { cwd: root, stdio: ["ignore", quiet ? "pipe" : process.stderr, quiet ? "pipe" : "inherit"] });
    let out = "";
    if (quiet) {
      p.stdout.on("data", (d) => (out += d));
      p.stderr.on("data", (d) => (out += d));
    }
    p.on("error", (e) => reject(new Error(`${cmd}: ${e.message}`)));
    p.on("exit", (code, sig) => (code === 0 ? resolve() : reject(new Error(`${cmd} ${args[0]} failed (${sig ?? code})\n${out.slice(-4000)}`))));
  });
}

/** The folder of WAMR's sources inside the pinned wamr-sys crate (fetched by cargo on first use). */
export function wamrSources() {
  // this machine's platform only: otherwise cargo also downloads wamr-sys's Windows-only dependencies
  // (~140 MB of winapi import libraries); with it, ~46 MB in all
  const triple = { x64: "x86_64-unknown-linux-gnu", arm64: "aarch64-unknown-linux-gnu" }[process.arch];
  const filter = process.platform === "linux" && triple ? ["--filter-platform", triple] : [];
  const r = spawnSync(CARGO, ["metadata", "--format-version", "1", "--locked", ...filter, "--manifest-path", pin], {
    cwd: root, encoding: "utf8", maxBuffer: 64 << 20, timeout: 300_000,
  });
  if (r.error) throw new Error(`${CARGO}: ${r.error.message} (the WAMR host needs cargo to fetch the wamr-sys crate)`);
  if (r.status !== 0) throw new Error(`cargo metadata failed (fetching the wamr-sys crate): ${r.stderr.slice(-2000)}`);
  const pkg = JSON.parse(r.stdout).packages.find((p) => p.name === "wamr-sys");
  if (!pkg) throw new Error("cargo metadata: wamr-sys is not in host/wamr/src-pin/Cargo.lock");
  const dir = join(dirname(pkg.manifest_path), "wasm-micro-runtime");
  if (!existsSync(join(dir, "build-scripts", "runtime_lib.cmake"))) throw new Error(`${dir}: not WAMR's sources`);
  return dir;
}

/** Builds one interpreter's executables (both boards). Rejects on failure. */
export async function buildWamr(interp, { quiet = false, sources = wamrSources() } = {}) {
  for (const b of ["server", "micro"]) {
    const wasm = join(root, "build", b, "sipling.wasm");
    if (!existsSync(wasm)) throw new Error(`${relative(root, wasm)} is missing: run npm run build first`);
  }
  for (const tool of ["cmake", "make", "gcc"]) {
    if (spawnSync(tool, ["--version"]).error) throw new Error(`${tool} is missing (tools/setup.mjs installs it)`);
  }
  const out = join(root, "build", "wamr", interp);
  mkdirSync(out, { recursive: true });
  await run("cmake", ["-S", join(root, "host", "wamr"), "-B", out, "-DCMAKE_BUILD_TYPE=Release",
    `-DWAMR_ROOT_DIR=${sources}`, `-DWAMR_BUILD_FAST_INTERP=${interp === "fast" ? 1 : 0}`,
    `-DSIPLING_WASM_SERVER=${join(root, "build", "server", "sipling.wasm")}`,
    `-DSIPLING_WASM_MICRO=${join(root, "build", "micro", "sipling.wasm")}`], quiet);
  await run("cmake", ["--build", out, "--parallel", "2"], quiet);
  for (const b of ["server", "micro"]) if (!existsSync(wamrBinary(interp, b))) throw new Error(`${wamrBinary(interp, b)} was not built`);
  if (!quiet) console.error(`built ${relative(root, wamrBinary(interp, "server"))} and micro/ (WAMR ${interp} interpreter)`);
}

async function main(argv) {
  const quiet = argv.includes("--quiet");
  const only = argv.flatMap((a, i) => (a === "--interp" ? [argv[i + 1]] : []));
  const bad = only.filter((b) => !WAMR_INTERPS.includes(b));
  if (bad.length) {
    console.error(`unknown interpreter: ${bad.join(", ")} (${WAMR_INTERPS.join(", ")})`);
    process.exit(2);
  }
  try {
    const sources = wamrSources();
    for (const i of only.length ? only : WAMR_INTERPS) await buildWamr(i, { quiet, sources });
  } catch (e) {
    console.error(`WAMR host build failed: ${e.message}`);
    process.exit(1);
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main(process.argv.slice(2));
