// The WASI host (host/wasi/, built by tools/wasi.mjs) on a real WASI runtime: WasmEdge 0.14.1 from
// Debian trixie, unpacked by tools/wasmedge.sh into .cache/wasmedge/ (never installed). The server
// runs as `wasmedge build/wasi/sipling-wasi.wasm --listen udp:127.0.0.1:P --trace` and SIPp drives
// it: REGISTER, a call through the record-routing proxy (INVITE/180/200/ACK/BYE), and a CANCEL.
// Fails (never skips) when WasmEdge cannot be fetched or SIPp is missing.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { createSocket } from "node:dgram";
import { mkdtempSync, writeFileSync, rmSync, readFileSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { setTimeout as sleep } from "node:timers/promises";
import { allocationReach } from "../lib/watgraph.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const wasm = join(root, "build", "wasi", "sipling-wasi.wasm");
const sippDir = join(root, "tests", "sipp");
const sf = (name) => join(sippDir, name); // the shared scenarios (uas_cancel/uac_cancel included)

let runtime; // argv prefix that runs wasmedge
let work;
const children = new Set();

before(() => {
  work = mkdtempSync(join(tmpdir(), "sipling-wasi-"));
  const w = spawnSync("sh", [join(root, "tools", "wasmedge.sh")], { cwd: root, encoding: "utf8", timeout: 300_000 });
  assert.equal(w.status, 0, `tools/wasmedge.sh failed (cannot fetch or run WasmEdge):\n${w.stderr}`);
  runtime = w.stdout.trim().split("\n").pop().split(" ");
  const b = spawnSync(process.execPath, [join(root, "tools", "wasi.mjs"), "--quiet", "--text"], { cwd: root, encoding: "utf8", timeout: 120_000 });
  assert.equal(b.status, 0, `tools/wasi.mjs failed:\n${b.stdout}${b.stderr}`);
  const s = spawnSync("sipp", ["-v"], { encoding: "utf8" });
  assert.equal(s.status, 99, "sipp (SIPp 3.6, Debian sip-tester) must be on PATH");
});

after(() => {
  for (const c of children) killHard(c);
  rmSync(work, { recursive: true, force: true });
});

function killHard(c) {
  if (c.exitCode === null && c.signalCode === null) {
    try {
      process.kill(c.pid, "SIGKILL");
    } catch {
      /* gone */
    }
  }
}

/** A UDP port free right now on 127.0.0.1. */
async function freePort() {
  const s = createSocket("udp4");
  await new Promise((r) => s.bind(0, "127.0.0.1", r));
  const p = s.address().port;
  await new Promise((r) => s.close(r));
  return p;
}

/** Runs a process with a hard timeout; resolves {code, signal, stdout, stderr, ms}. */
function run(cmd, args, { timeoutMs, name }) {
  const t = Date.now();
  const c = spawn(cmd, args, { cwd: work, stdio: ["ignore", "pipe", "pipe"] });
  children.add(c);
  let stdout = "";
  let stderr = "";
  c.stdout.on("data", (d) => (stdout += d));
  c.stderr.on("data", (d) => (stderr += d));
  const timer = setTimeout(() => killHard(c), timeoutMs);
  return new Promise((resolve) => {
    c.on("close", (code, signal) => {
      clearTimeout(timer);
      children.delete(c);
      resolve({ name, code, signal, stdout, stderr, ms: Date.now() - t });
    });
  });
}

function sipp(args, { name, timeoutMs = 15_000 }) {
  const err = join(work, `${name}-err.log`);
  return run("sipp", [...args, "-i", "127.0.0.1", "-nostdin", "-trace_err", "-error_file", err, "-buff_size", "1048576"], { timeoutMs, name });
}

const describe = (r) => `${r.name}: exit ${r.code}${r.signal ? ` (${r.signal})` : ""} after ${r.ms} ms\n${r.stdout.slice(-1500)}\n${r.stderr.slice(-1500)}`;

/** Starts the WASI server on a free port; resolves once it logged "running". */
async function startServer() {
  const port = await freePort();
  const c = spawn(runtime[0], [...runtime.slice(1), wasm, "--listen", `udp:127.0.0.1:${port}`, "--trace"], {
    cwd: root, stdio: ["ignore", "pipe", "pipe"],
  });
  children.add(c);
  const srv = { c, port, out: "", err: "", lines: [] };
  let partial = "";
  c.stdout.on("data", (d) => {
    srv.out += d;
    partial += d;
    const parts = partial.split("\n");
    partial = parts.pop();
    for (const l of parts) {
      try {
        srv.lines.push(JSON.parse(l));
      } catch {
        srv.lines.push({ msg: "unparsed", text: l });
      }
    }
  });
  c.stderr.on("data", (d) => (srv.err += d));
  const t = Date.now();
  while (!srv.lines.some((l) => l.msg === "running")) {
    if (c.exitCode !== null) throw new Error(`server exited ${c.exitCode}: ${srv.out}${srv.err}`);
    if (Date.now() - t > 15_000) {
      killHard(c);
      throw new Error(`server did not log "running" within 15 s: ${srv.out}${srv.err}`);
    }
    await sleep(20);
  }
  srv.startMs = Date.now() - t;
  srv.events = (name) => srv.lines.filter((l) => l.msg === name);
  srv.sip = (dir) => srv.lines.filter((l) => l.msg === "sip" && l.dir === dir);
  srv.stop = async () => {
    if (c.exitCode === null && c.signalCode === null) {
      const done = new Promise((r) => c.once("close", r));
      c.kill("SIGTERM");
      const t2 = setTimeout(() => killHard(c), 3000);
      await done;
      clearTimeout(t2);
    }
    children.delete(c);
  };
  return srv;
}

async function withServer(fn) {
  const srv = await startServer();
  try {
    await fn(srv);
  } catch (e) {
    e.message += `\n--- server log (port ${srv.port}) ---\n${srv.out.slice(-6000)}${srv.err.slice(-2000)}`;
    throw e;
  } finally {
    await srv.stop();
  }
}

async function register(srv, user, port) {
  const csv = join(work, `${user}.csv`);
  writeFileSync(csv, `SEQUENTIAL\n${user};127.0.0.1\n`);
  const r = await sipp([`127.0.0.1:${srv.port}`, "-sf", sf("register.xml"), "-inf", csv, "-p", String(port),
    "-mp", String(await freePort()), "-m", "1", "-timeout", "5s", "-timeout_error"], { name: `reg-${user}`, timeoutMs: 8000 });
  assert.equal(r.code, 0, describe(r));
  return r;
}

/** Starts a UAS; resolves (once it had time to bind) to {done}: the promise of its result. An async
 * function must not return the bare promise: `await` would then wait for the UAS to exit. */
async function uas(scenario, port, name) {
  const done = sipp(["-sf", sf(scenario), "-p", String(port), "-mp", String(await freePort()), "-m", "1", "-timeout", "12s", "-timeout_error"],
    { name, timeoutMs: 15_000 });
  await sleep(250); // let it bind
  return { done };
}

async function uac(srv, scenario, extra, name) {
  return sipp([`127.0.0.1:${srv.port}`, "-sf", sf(scenario), "-p", String(await freePort()), "-mp", String(await freePort()),
    "-m", "1", "-timeout", "10s", "-timeout_error", ...extra], { name, timeoutMs: 14_000 });
}

test("no allocation after start-up: only start-up code reaches the stub allocator", () => {
  // Call graph of the text build: every function that can (transitively) allocate must be a
  // constructor, a static initialiser ($start:*) or the start function. The host itself (its argument
  // parser and its configuration reader included) allocates nothing: static buffers only.
  const wat = readFileSync(wasm.replace(/\.wasm$/, ".wat"), "utf8");
  assert.ok(!wat.includes("call_indirect"), "no indirect calls (the graph would be incomplete)");
  const { reach, allocs, callers, outsideStartup } = allocationReach(wat);
  assert.deepEqual(outsideStartup, [], "functions outside start-up that can allocate");
  // main holds the event loop (inlined): it reaches the allocator not at all
  const direct = [...reach].filter((f) => (callers.get(f) ?? new Set()).has("$host/wasi/main/main"));
  assert.deepEqual(direct, [], "main's allocating callees");
  assert.ok(!allocs.has("$host/wasi/main/main"), "main allocates nothing");
  assert.ok(wat.includes("(func $host/wasi/config/"), "the configuration reader is in the build");
  console.log(`# wasi: ${wasm.slice(root.length + 1)} ${statSync(wasm).size} bytes; ${reach.size} start-up functions can allocate`);
});

test("usage: --help exits 0, tcp listen and unknown options exit 2", { timeout: 30_000 }, async () => {
  const h = await run(runtime[0], [...runtime.slice(1), wasm, "--help"], { timeoutMs: 10_000, name: "help" });
  assert.equal(h.code, 0, describe(h));
  assert.match(h.stdout, /--listen udp:HOST:PORT/);
  const t = await run(runtime[0], [...runtime.slice(1), wasm, "--listen", "tcp:127.0.0.1:5060"], { timeoutMs: 10_000, name: "tcp" });
  assert.equal(t.code, 2, describe(t));
  assert.match(t.stderr, /UDP only/);
  const u = await run(runtime[0], [...runtime.slice(1), wasm, "--frobnicate"], { timeoutMs: 10_000, name: "bad" });
  assert.equal(u.code, 2, describe(u));
  assert.match(u.stderr, /unknown option/);
});

test("REGISTER through the WASI host: 200 with the contact, reg-add logged", { timeout: 30_000 }, async () => {
  await withServer(async (srv) => {
    const l = srv.events("listening");
    assert.equal(l.length, 1);
    assert.equal(l[0].listen, `udp:127.0.0.1:${srv.port}`);
    assert.equal(l[0].advertised, `127.0.0.1:${srv.port}`);
    const port = await freePort();
    const t = Date.now();
    await register(srv, "uas", port);
    const ms = Date.now() - t;
    await sleep(100);
    const add = srv.events("reg-add");
    assert.ok(add.some((e) => e.aor === "uas" && e.contact === `sip:uas@127.0.0.1:${port}` && e.expires === 3600 &&
      e.source === `udp:127.0.0.1:${port}` && e.code === 200), JSON.stringify(add));
    const resp = srv.sip("out").filter((m) => m.peer === `udp:127.0.0.1:${port}`);
    assert.equal(resp.length, 1, "one response to the registering UA");
    assert.match(resp[0].sip, /^SIP\/2\.0 200 /);
    console.log(`# wasi: server up in ${srv.startMs} ms; REGISTER round ${ms} ms`);
  });
});

test("call through the WASI host: INVITE/180/200/ACK/BYE loose-routed via Record-Route", { timeout: 40_000 }, async () => {
  await withServer(async (srv) => {
    const uasPort = await freePort();
    await register(srv, "uas", uasPort);
    const pu = await uas("uas.xml", uasPort, "uas");
    const c = await uac(srv, "uac_invite.xml", ["-s", "uas", "-d", "200"], "uac");
    const u = await pu.done;
    assert.equal(c.code, 0, describe(c));
    assert.equal(u.code, 0, describe(u));
    const inv = srv.sip("out").filter((m) => m.peer === `udp:127.0.0.1:${uasPort}` && /^INVITE /.test(m.sip));
    assert.equal(inv.length, 1, "one INVITE to the callee");
    assert.match(inv[0].sip, new RegExp(`\r\nRecord-Route: <sip:127\\.0\\.0\\.1:${srv.port};lr;dlg=[0-9a-f]{16}>\r\n`));
    assert.ok(srv.events("call-attempt").length >= 1, "call-attempt logged");
    assert.ok(srv.events("call-answer").length >= 1, "call-answer logged");
    console.log(`# wasi: call uac ${c.ms} ms, uas ${u.ms} ms`);
  });
});

test("CANCEL through the WASI host: 200 for the CANCEL, the branch is cancelled, the caller gets 487", { timeout: 40_000 }, async () => {
  await withServer(async (srv) => {
    const uasPort = await freePort();
    await register(srv, "ringer", uasPort);
    const pu = await uas("uas_cancel.xml", uasPort, "uas-cancel");
    const c = await uac(srv, "uac_cancel.xml", ["-s", "ringer"], "uac-cancel");
    const u = await pu.done;
    assert.equal(c.code, 0, describe(c));
    assert.equal(u.code, 0, describe(u));
    const cancel = srv.sip("out").filter((m) => m.peer === `udp:127.0.0.1:${uasPort}` && /^CANCEL /.test(m.sip));
    assert.equal(cancel.length, 1, "one CANCEL to the callee");
    console.log(`# wasi: cancel uac ${c.ms} ms, uas ${u.ms} ms`);
  });
});
