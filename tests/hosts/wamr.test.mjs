// The WAMR host (host/wamr/: host/c built against WAMR's classic interpreter, WAMR from the wamr-sys
// crate; tools/wamr.mjs builds build/wamr/classic/<board>/sipling) against the same SIPp scenario
// suite as the native host (tests/hosts/native.test.mjs): REGISTER over UDP and TCP, a call through
// the proxy over UDP and over TCP (a connection the proxy opens), CANCEL of a ringing call and the ACK
// of its 487, SIGTERM; plus the command line (--version names the engine, config errors exit 2 naming
// the key, the secure default), a digest-authenticated REGISTER, and the micro board's full AOR
// table; and REGISTER over UDP and TCP on the fast interpreter (build/wamr/fast/, measured by npm run
// bench). Never skips: a missing cargo, cmake or sipp fails with a message (tools/setup.mjs installs
// them). Loopback only; every child has a hard timeout and is killed by PID.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync, readFileSync, rmSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import net from "node:net";
import dgram from "node:dgram";
import { secureDefaultError } from "../lib/config-cases.mjs";
import { userAgent, challenges } from "../lib/digest.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const bin = join(root, "build", "wamr", "classic", "server", "sipling");
const microBin = join(root, "build", "wamr", "classic", "micro", "sipling");
const fastBin = join(root, "build", "wamr", "fast", "server", "sipling");
const scen = join(root, "tests", "sipp");
const own = join(root, "tests", "hosts", "sipp");
const hasSipp = spawnSync("sipp", ["-v"], { encoding: "utf8" }).stdout?.includes("SIPp") ?? false;
const children = new Set();
let dir;

before(() => {
  // both interpreters; incremental after the first build (cold: cargo fetches wamr-sys once, CMake
  // builds WAMR twice)
  const r = spawnSync(process.execPath, [join(root, "tools", "wamr.mjs"), "--quiet"], {
    cwd: root, encoding: "utf8", timeout: 600_000,
  });
  assert.equal(r.status, 0, `WAMR host build failed: ${r.stderr}${r.stdout}`);
  assert.ok(existsSync(bin) && existsSync(microBin) && existsSync(fastBin));
  dir = mkdtempSync(join(tmpdir(), "sipling-wamr-"));
});

after(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) process.kill(c.pid, "SIGKILL");
  if (dir) rmSync(dir, { recursive: true, force: true });
});

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

/** Starts a server binary; resolves once it logs "running". lines: parsed stdout JSON. */
async function startServer(exe, args, ms = 60_000) {
  const c = spawn(exe, args, { cwd: dir, stdio: ["ignore", "pipe", "pipe"] });
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
  await waitFor(s, (l) => l.msg === "running", 10_000);
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
  throw new Error(`no matching log line within ${ms} ms; stdout:\n${s.raw}\nstderr:\n${s.err}`);
}

/** SIPp bounded by -m 1, -timeout and a kill timer. */
function sipp(args, ms = 15_000) {
  return run("sipp", ["-i", "127.0.0.1", "-m", "1", "-nostdin", "-timeout", `${Math.floor(ms / 1000) - 2}s`,
    "-timeout_error", "-trace_err", ...args], ms);
}

function sippReport(r) {
  return `sipp exit ${r.code}/${r.signal}\n${r.err.slice(-2000)}`;
}

// ---- command line ------------------------------------------------------------------------------

test("--version names the engine: the WAMR classic interpreter, and the board", async () => {
  for (const [exe, board] of [[bin, "server"], [microBin, "micro"]]) {
    const r = await run(exe, ["--version"], 5000);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, new RegExp(`^core ${board} \\d+ bytes wasm \\(run by the WAMR classic interpreter`, "m"));
  }
});

test("a bad config exits 2 and names the key (the one schema, host/shared/config.json)", async () => {
  const cases = [
    [{ timers: { t3: 1 } }, `"timers.t3": unknown key`],
    [{ colour: "blue" }, `config error: "colour": unknown key`],
    [{ recordRoute: 1 }, `"recordRoute": expected true or false, got 1`],
    [{ board: "micro" }, `"board": this binary is built for board "server"`],
  ];
  for (const [value, needle] of cases) {
    const f = join(dir, "bad.json");
    writeFileSync(f, JSON.stringify(value));
    const r = await run(bin, ["--config", f], 5000);
    assert.equal(r.code, 2, `${JSON.stringify(value)}: exit ${r.code}, stderr ${r.err}`);
    assert.ok(r.err.includes(needle), `${JSON.stringify(value)}: stderr should contain ${needle}: ${r.err}`);
    assert.equal(r.out, "", "nothing on stdout");
  }
});

test("a value the core refuses (through WAMR) is a config error too (exit 2)", async () => {
  const port = await freePort();
  const f = join(dir, "core-range.json");
  writeFileSync(f, JSON.stringify({ listen: [`udp:127.0.0.1:${port}`], registrar: { maxContactsPerAor: 100000 } }));
  const r = await run(bin, ["--config", f], 10_000);
  assert.equal(r.code, 2, r.err);
  assert.match(r.err, /config error: "registrar.maxContactsPerAor": value 100000 is out of the core's range/);
});

test("secure default: no users on a non-loopback address exits 2 before binding", async () => {
  const r = await run(bin, ["--listen", "udp:0.0.0.0:1"], 5000);
  assert.equal(r.code, 2, r.err);
  assert.ok(r.err.includes(secureDefaultError("udp:0.0.0.0:1")), r.err);
});

test("REGISTER with digest authentication: 401, then 200 with the right password", async () => {
  const f = join(dir, "auth.json");
  writeFileSync(f, JSON.stringify({ realm: "wamr.example", users: [{ username: "alice", password: "wonderland" }] }));
  const s = await startServer(bin, ["--config", f, "--listen", "udp:127.0.0.1:0"]);
  const port = Number(/:(\d+)$/.exec(s.lines.find((l) => l.msg === "listening").listen)[1]);
  const ua = await userAgent(port, { callId: "wamr-auth-1@127.0.0.1" });
  try {
    ua.register(1);
    const challenge = await ua.next();
    assert.match(challenge, /^SIP\/2\.0 401 /);
    const nonce = challenges(challenge)[0].nonce;
    ua.register(2, ua.digest({ realm: "wamr.example", nonce, pass: "wrong" }));
    assert.match(await ua.next(), /^SIP\/2\.0 (401|403) /);
    await waitFor(s, (l) => l.msg === "auth-fail", 2000);
    ua.register(3, ua.digest({ realm: "wamr.example", nonce, pass: "wonderland" }));
    assert.match(await ua.next(), /^SIP\/2\.0 200 /);
    const add = await waitFor(s, (l) => l.msg === "reg-add", 2000);
    assert.equal(add.expires, 600);
  } finally {
    ua.close();
  }
  process.kill(s.child.pid, "SIGTERM");
  assert.equal((await s.exit).code, 0);
});

// ---- SIPp through the proxy ---------------------------------------------------------------------

// Never skip: npm test installs SIPp first (tools/setup.mjs).
if (!hasSipp) throw new Error("sipp is not installed (tools/setup.mjs installs sip-tester)");
let srv;
let P;
let uasPort;

test("server: one line per listener, then running under WAMR", async () => {
  P = await freePort();
  uasPort = await freePort();
  srv = await startServer(bin, ["--listen", `udp:127.0.0.1:${P}`, "--listen", `tcp:127.0.0.1:${P}`, "--trace"]);
  const listening = srv.lines.filter((l) => l.msg === "listening").map((l) => l.listen);
  assert.deepEqual(listening, [`udp:127.0.0.1:${P}`, `tcp:127.0.0.1:${P}`]);
  const running = srv.lines.find((l) => l.msg === "running");
  assert.equal(running.core, "WAMR classic interpreter");
  assert.equal(running.board, "server");
});

test("SIPp REGISTER over UDP", async () => {
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

test("SIPp REGISTER over TCP (another user)", async () => {
  const csv = join(dir, "users-tcp.csv");
  writeFileSync(csv, "SEQUENTIAL\ntcpuser;127.0.0.1\n");
  const r = await sipp([`127.0.0.1:${P}`, "-t", "t1", "-sf", join(scen, "register.xml"), "-inf", csv, "-p", String(await freePort())]);
  assert.equal(r.code, 0, sippReport(r));
  const ev = await waitFor(srv, (l) => l.msg === "reg-add" && l.aor === "tcpuser", 2000);
  assert.match(ev.source, /^tcp:127\.0\.0\.1:\d+$/);
  assert.ok(ev.conn > 0);
});

test("SIPp call through the proxy (UDP): INVITE/180/200/ACK/BYE to the registered UAS", async () => {
  const uas = sipp(["-sf", join(scen, "uas.xml"), "-p", String(uasPort)]);
  await new Promise((r) => setTimeout(r, 300));
  const uac = await sipp([`127.0.0.1:${P}`, "-sf", join(scen, "uac_invite.xml"), "-s", "uas", "-d", "200", "-p", String(await freePort())]);
  const u = await uas;
  assert.equal(uac.code, 0, `uac: ${sippReport(uac)}`);
  assert.equal(u.code, 0, `uas: ${sippReport(u)}`);
  await waitFor(srv, (l) => l.msg === "call-attempt" && l.callee?.includes("sip:uas@"), 2000);
  const ans = await waitFor(srv, (l) => l.msg === "call-answer", 2000);
  assert.equal(ans.code, 200);
});

test("SIPp call over TCP: the proxy opens a connection to the target (transport=tcp)", async () => {
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
});

let cancelUas;
test("SIPp CANCEL of a ringing call: 200 to the CANCEL, then the UAS's 487", async () => {
  const uas = sipp(["-sf", join(own, "uas_cancel.xml"), "-p", String(uasPort)], 8000);
  await new Promise((r) => setTimeout(r, 300));
  const uac = await sipp([`127.0.0.1:${P}`, "-sf", join(scen, "uac_cancel.xml"), "-s", "uas", "-p", String(await freePort())]);
  assert.equal(uac.code, 0, `uac: ${sippReport(uac)}`);
  const fail = await waitFor(srv, (l) => l.msg === "call-fail", 2000);
  assert.equal(fail.code, 487);
  cancelUas = await uas;
});

test("SIPp CANCEL: the proxy ACKs the UAS's 487 (RFC 3261 17.1.1.3)", () => {
  assert.ok(cancelUas, "the CANCEL test ran");
  assert.equal(cancelUas.code, 0, `uas: ${sippReport(cancelUas)}`);
});

test("SIGTERM stops the server: \"stopped\", exit 0", async () => {
  process.kill(srv.child.pid, "SIGTERM");
  const e = await srv.exit;
  assert.equal(e.code, 0);
  assert.equal(srv.lines.at(-1).msg, "stopped");
  const stats = srv.lines.find((l) => l.msg === "stats");
  assert.ok(stats.received > 0 && stats.sent > 0);
  assert.equal(srv.err, "");
});

test("micro board: a full AOR table answers 503 and the server keeps running", async () => {
  // micro: 32 AORs; 40 users register, 8 must get 503.
  const port = await freePort();
  const m = await startServer(microBin, ["--listen", `udp:127.0.0.1:${port}`, "--trace"]);
  const csv = join(dir, "many.csv");
  writeFileSync(csv, "SEQUENTIAL\n" + Array.from({ length: 40 }, (_, i) => `m${i + 1};127.0.0.1\n`).join(""));
  const r = await run("sipp", ["-i", "127.0.0.1", "-m", "40", "-r", "50", "-nostdin", "-timeout", "8s", `127.0.0.1:${port}`,
    "-sf", join(scen, "register.xml"), "-inf", csv, "-p", String(await freePort())], 12_000);
  assert.notEqual(r.code, 0, "8 registrations fail");
  // the last lines may still be in the pipe when SIPp exits
  const is503 = (l) => l.msg === "sip" && l.dir === "out" && l.sip.startsWith("SIP/2.0 503 ");
  await waitFor(m, () => m.lines.filter(is503).length >= 8, 3000).catch(() => {});
  assert.equal(m.lines.filter((l) => l.msg === "reg-add").length, 32);
  const refused = m.lines.filter((l) => l.msg === "sip" && l.dir === "out" && l.sip.startsWith("SIP/2.0 503 "));
  assert.ok(refused.length >= 8, `503s: ${refused.length}`);
  assert.match(refused[0].sip, /\r\nRetry-After: 5\r\n/);
  process.kill(m.child.pid, "SIGTERM");
  assert.equal((await m.exit).code, 0);
  const running = m.lines.find((l) => l.msg === "running");
  assert.equal(running.board, "micro");
  assert.equal(running.core, "WAMR classic interpreter");
});

test("fast interpreter: SIPp REGISTER over UDP and over TCP", async () => {
  const port = await freePort();
  const f = await startServer(fastBin, ["--listen", `udp:127.0.0.1:${port}`, "--listen", `tcp:127.0.0.1:${port}`]);
  assert.equal(f.lines.find((l) => l.msg === "running").core, "WAMR fast interpreter");
  for (const [user, tcp] of [["fastudp", false], ["fasttcp", true]]) {
    const csv = join(dir, `${user}.csv`);
    writeFileSync(csv, `SEQUENTIAL\n${user};127.0.0.1\n`);
    const r = await sipp([`127.0.0.1:${port}`, ...(tcp ? ["-t", "t1"] : []), "-sf", join(scen, "register.xml"), "-inf", csv,
      "-p", String(await freePort())]);
    assert.equal(r.code, 0, sippReport(r));
    const ev = await waitFor(f, (l) => l.msg === "reg-add" && l.aor === user, 2000);
    assert.match(ev.source, tcp ? /^tcp:/ : /^udp:/);
  }
  process.kill(f.child.pid, "SIGTERM");
  assert.equal((await f.exit).code, 0);
  assert.equal(f.lines.at(-1).msg, "stopped");
});
