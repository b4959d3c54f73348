// The native host (host/c/, built by tools/native.mjs into build/server/sipling) against real SIP
// peers: SIPp registers, calls through the proxy (UDP, and TCP with a connection the proxy opens),
// and cancels a ringing call; plus the command line (--help, configuration errors exit 2 naming the
// key) and SIGTERM/SIGINT (exit 0, "stopped"). Every child has a hard timeout and is killed by PID.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync, readFileSync, rmSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import net from "node:net";
import dgram from "node:dgram";
import { stallAndRecover, steadyWithPause } from "../overload/stall.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const bin = join(root, "build", "server", "sipling");
const microBin = join(root, "build", "micro", "sipling");
const scen = join(root, "tests", "sipp");
const own = join(root, "tests", "hosts", "sipp");
const hasSipp = spawnSync("sipp", ["-v"], { encoding: "utf8" }).stdout?.includes("SIPp") ?? false;
const children = new Set();
let dir;

before(() => {
  // incremental: only what changed is rebuilt (a full build is ~10 s)
  const r = spawnSync(process.execPath, [join(root, "tools", "native.mjs"), "--board", "server", "--quiet"], {
    cwd: root, encoding: "utf8", timeout: 300_000,
  });
  assert.equal(r.status, 0, `native build failed: ${r.stderr}${r.stdout}`);
  assert.ok(existsSync(bin));
  dir = mkdtempSync(join(tmpdir(), "sipling-native-"));
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

/** Starts the server; resolves once it logs "running". lines: parsed stdout JSON. */
function startServer(args, ms = 60_000) {
  return startServerWith(bin, args, ms);
}

async function startServerWith(exe, args, ms = 60_000) {
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
  await waitFor(s, (l) => l.msg === "running", 5000);
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

test("--help prints usage and exits 0", async () => {
  const r = await run(bin, ["--help"], 5000);
  assert.equal(r.code, 0);
  assert.match(r.out, /usage: sipling \[--config FILE\] \[--listen udp\|tcp:HOST:PORT\]\.\.\. \[--domain NAME\]\.\.\./);
  for (const f of ["--config", "--listen", "--domain", "--log-level", "--trace", "--help"]) assert.ok(r.out.includes(f), f);
});

test("defaults: UDP and TCP on 127.0.0.1:5060, domains localhost + listen hosts", async () => {
  const r = await run(bin, ["--print-config"], 5000);
  assert.equal(r.code, 0, r.err);
  const c = JSON.parse(r.out);
  assert.deepEqual(c.listen, ["udp:127.0.0.1:5060", "tcp:127.0.0.1:5060"]);
  assert.deepEqual(c.domains, ["localhost", "127.0.0.1"]);
  assert.deepEqual(c.timers, { t1: 500, t2: 4000, t4: 5000, timerC: 180000 });
});

test("the config file's keys are read, and flags override them", async () => {
  const f = join(dir, "good.json");
  writeFileSync(f, JSON.stringify({
    listen: ["udp:[::1]:5070"], domains: ["example.org"], logLevel: "debug", trace: true,
    timers: { t1: 250, t2: 4000, t4: 5000, timerC: 90000 },
    registrar: { minExpires: 30, maxExpires: 7200, defaultExpires: 600, maxContactsPerAor: 4 },
    recordRoute: false, retryAfter: 9, outboundProxy: "sip:proxy.example.org:5080", board: "server",
    overloadControl: false,
  }));
  const r = await run(bin, ["--config", f, "--domain", "b.example", "--print-config"], 5000);
  assert.equal(r.code, 0, r.err);
  const c = JSON.parse(r.out);
  assert.deepEqual(c.listen, ["udp:[::1]:5070"]);
  assert.deepEqual(c.domains, ["b.example"]);
  assert.equal(c.logLevel, "debug");
  assert.equal(c.trace, true);
  assert.deepEqual(c.timers, { t1: 250, t2: 4000, t4: 5000, timerC: 90000 });
  assert.deepEqual(c.registrar, { minExpires: 30, maxExpires: 7200, defaultExpires: 600, maxContactsPerAor: 4 });
  assert.equal(c.recordRoute, false);
  assert.equal(c.retryAfter, 9);
  assert.equal(c.overloadControl, false);
  assert.equal(c.outboundProxy, "sip:proxy.example.org:5080");
});

test("a bad config exits 2 and names the key", async () => {
  const cases = [
    [{ listen: ["udp:127.0.0.1:5060", "foo"] }, `config error: "listen[1]": expected "udp|tcp:HOST:PORT", got "foo"`],
    [{ timers: { t1: -1 } }, `config error: "timers.t1": expected an integer in 1..2147483647, got -1`],
    [{ timers: { t3: 1 } }, `"timers.t3": unknown key`],
    [{ registrar: { minExpires: "60" } }, `"registrar.minExpires": expected an integer`],
    [{ recordRoute: 1 }, `"recordRoute": expected true or false, got 1`],
    [{ outboundProxy: "http://x" }, `"outboundProxy": expected a SIP URI`],
    [{ logLevel: "loud" }, `"logLevel": expected one of error|warn|info|debug, got "loud"`],
    [{ colour: "blue" }, `config error: "colour": unknown key`],
    [{ registrar: { minExpires: 100, maxExpires: 50, defaultExpires: 60 } }, `"registrar.minExpires": must not exceed`],
    ['{"listen": [', `config error: "--config": file`],
  ];
  for (const [value, needle] of cases) {
    const f = join(dir, "bad.json");
    writeFileSync(f, typeof value === "string" ? value : JSON.stringify(value));
    const r = await run(bin, ["--config", f], 5000);
    assert.equal(r.code, 2, `${JSON.stringify(value)}: exit ${r.code}, stderr ${r.err}`);
    assert.ok(r.err.includes(needle), `${JSON.stringify(value)}: stderr should contain ${needle}: ${r.err}`);
    assert.equal(r.out, "", "nothing on stdout");
  }
  for (const [args, needle] of [
    [["--listen", "udp:1.2.3.4"], `"--listen": expected "udp|tcp:HOST:PORT", got "udp:1.2.3.4"`],
    [["--bogus"], `usage error: "--bogus": unknown option`],
    [["--config", join(dir, "missing.json")], `"--config": cannot read file`],
  ]) {
    const r = await run(bin, args, 5000);
    assert.equal(r.code, 2, `${args}: ${r.err}`);
    assert.ok(r.err.includes(needle), `stderr should contain ${needle}: ${r.err}`);
  }
});

test("a value the core refuses is a config error too (exit 2)", async () => {
  const port = await freePort();
  const f = join(dir, "core-range.json");
  writeFileSync(f, JSON.stringify({ listen: [`udp:127.0.0.1:${port}`], registrar: { maxContactsPerAor: 100000 } }));
  const r = await run(bin, ["--config", f], 5000);
  assert.equal(r.code, 2, r.err);
  assert.match(r.err, /config error: "registrar.maxContactsPerAor": value 100000 is out of the core's range/);
});

test("a port in use: error logged, exit 1", async () => {
  const srv = net.createServer();
  await new Promise((r) => srv.listen(0, "127.0.0.1", r));
  const r = await run(bin, ["--listen", `tcp:127.0.0.1:${srv.address().port}`], 5000);
  srv.close();
  assert.equal(r.code, 1);
  const line = JSON.parse(r.out.trim().split("\n").pop());
  assert.equal(line.level, "error");
  assert.match(line.msg, /cannot listen on tcp:127\.0\.0\.1:\d+: EADDRINUSE/);
});

test("SIGINT stops the server: \"stopped\", exit 0", async () => {
  const port = await freePort();
  const s = await startServer(["--listen", `udp:127.0.0.1:${port}`]);
  process.kill(s.child.pid, "SIGINT");
  const e = await s.exit;
  assert.equal(e.code, 0);
  assert.equal(s.lines.at(-1).msg, "stopped");
  assert.ok(s.lines.some((l) => l.msg === "stopping" && l.signal === "SIGINT"));
});

// ---- SIPp through the proxy ---------------------------------------------------------------------

// Never skip: npm test installs SIPp first (tools/setup.mjs).
if (!hasSipp) throw new Error("sipp is not installed (tools/setup.mjs installs sip-tester)");
const sippTests = {};
let srv;
let P;
let uasPort;

test("server: one line per listener, then running", sippTests, async () => {
  P = await freePort();
  uasPort = await freePort();
  srv = await startServer(["--listen", `udp:127.0.0.1:${P}`, "--listen", `tcp:127.0.0.1:${P}`, "--trace"]);
  const listening = srv.lines.filter((l) => l.msg === "listening").map((l) => l.listen);
  assert.deepEqual(listening, [`udp:127.0.0.1:${P}`, `tcp:127.0.0.1:${P}`]);
  const t = srv.lines[0].t;
  assert.match(t, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
});

test("SIPp REGISTER over UDP", sippTests, async () => {
  const csv = join(dir, "users.csv");
  writeFileSync(csv, "SEQUENTIAL\nuas;127.0.0.1\n");
  const r = await sipp([`127.0.0.1:${P}`, "-sf", join(scen, "register.xml"), "-inf", csv, "-p", String(uasPort)]);
  assert.equal(r.code, 0, sippReport(r));
  const ev = await waitFor(srv, (l) => l.msg === "reg-add", 2000);
  assert.equal(ev.event, "reg-add");
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
});

test("SIPp call over TCP: the proxy opens a connection to the target (transport=tcp)", sippTests, async () => {
  // The UAS listens on TCP only; its binding (registered over UDP) names it with transport=tcp, so the
  // proxy must open a connection to it. The caller calls its AOR: a stranger may only reach our
  // registered users, never an address of its choosing (tests/security/relay.test.mjs).
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

// tests/sipp/uac_cancel.xml is shared; the UAS is tests/hosts/sipp/uas_cancel.xml, which keeps both of
// the INVITE's Vias for its 487 (tests/sipp/uas_cancel.xml keeps only the first: the proxy's).
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

test("SIPp CANCEL: the proxy ACKs the UAS's 487 (RFC 3261 17.1.1.3)", {
  ...sippTests,
}, () => {
  assert.ok(cancelUas, "the CANCEL test ran");
  assert.equal(cancelUas.code, 0, `uas: ${sippReport(cancelUas)}`);
});

test("SIGTERM stops the server: \"stopped\", exit 0", sippTests, async () => {
  process.kill(srv.child.pid, "SIGTERM");
  const e = await srv.exit;
  assert.equal(e.code, 0);
  assert.equal(srv.lines.at(-1).msg, "stopped");
  const stats = srv.lines.find((l) => l.msg === "stats");
  assert.ok(stats.received > 0 && stats.sent > 0);
  assert.equal(srv.err, "");
});

test("local overload control: after a 1 s stall new INVITEs are refused with 503 for a while, then all served", { timeout: 60_000 }, async () => {
  const port = await freePort();
  const s = await startServer(["--listen", `udp:127.0.0.1:${port}`]);
  let mark = 0;
  const r = await stallAndRecover({
    port, pid: s.child.pid,
    mark: () => { mark = s.lines.length; },
    waitLog: (msg, ms) => waitFor(s, (l) => l.msg === msg && s.lines.indexOf(l) >= mark, ms),
  });
  assert.ok(r.shed > 0, `some INVITEs refused with 503: ${JSON.stringify(r.ticks)}`);
  assert.ok(r.after.length >= 2, "seconds measured after the overload");
  for (const t of r.after) assert.equal(t.shed + t.timeout + t.other, 0, `all served again: ${JSON.stringify(t)}`);
  assert.ok(r.after.reduce((a, t) => a + t.busy, 0) > 0);
  process.kill(s.child.pid, "SIGTERM");
  assert.equal((await s.exit).code, 0);
});

test("no false alarm: 1,500 call attempts/s for 10 s with one 100 ms stop refuse nothing", { timeout: 60_000 }, async () => {
  // the kernel's time stamps show the stop itself (datagrams wait 100 ms): one pause, not an overload
  const port = await freePort();
  const s = await startServer(["--listen", `udp:127.0.0.1:${port}`]);
  const r = await steadyWithPause({ port, pid: s.child.pid, cps: 1500, secs: 10, pauseMs: 100 });
  assert.deepEqual(s.lines.filter((l) => l.msg === "overload: refusing new requests with 503"), [], "the server never started shedding");
  assert.equal(r.shed, 0, `no 503: ${JSON.stringify(r.ticks)}`);
  assert.equal(r.timeouts, 0);
  assert.ok(r.busy >= 0.99 * r.offered, `every attempt answered: ${r.busy} of ${r.offered}`);
  process.kill(s.child.pid, "SIGTERM");
  assert.equal((await s.exit).code, 0);
});

test("micro board: a full AOR table answers 503 and the server keeps running", sippTests, async () => {
  // micro: 32 AORs (assembly/config.ts MAX_AORS default); 40 users register, 8 must get 503.
  const port = await freePort();
  const m = await startServerWith(microBin, ["--listen", `udp:127.0.0.1:${port}`, "--trace"]);
  const csv = join(dir, "many.csv");
  writeFileSync(csv, "SEQUENTIAL\n" + Array.from({ length: 40 }, (_, i) => `m${i + 1};127.0.0.1\n`).join(""));
  const r = await run("sipp", ["-i", "127.0.0.1", "-m", "40", "-r", "50", "-nostdin", "-timeout", "8s", `127.0.0.1:${port}`,
    "-sf", join(scen, "register.xml"), "-inf", csv, "-p", String(await freePort())], 12_000);
  assert.notEqual(r.code, 0, "8 registrations fail");
  assert.equal(m.lines.filter((l) => l.msg === "reg-add").length, 32);
  const refused = m.lines.filter((l) => l.msg === "sip" && l.dir === "out" && l.sip.startsWith("SIP/2.0 503 "));
  assert.ok(refused.length >= 8, `503s: ${refused.length}`);
  assert.match(refused[0].sip, /\r\nRetry-After: 5\r\n/);
  process.kill(m.child.pid, "SIGTERM");
  assert.equal((await m.exit).code, 0);
  assert.equal(m.lines.find((l) => l.msg === "running").board, "micro");
});
