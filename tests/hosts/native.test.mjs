// The native host (host/c/, built by tools/native.mjs into build/server/sipling) against real SIP
// peers (sippSuite, tests/lib/hostproc.mjs): SIPp registers, calls through the proxy (UDP, and TCP
// with a connection the proxy opens), cancels a ringing call and fills the micro board's AOR table;
// plus local overload control, and the command line (--help, configuration errors exit 2 naming the
// key) and SIGTERM/SIGINT (exit 0, "stopped"). Every child has a hard timeout and is killed by PID.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { writeFileSync, existsSync } from "node:fs";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import net from "node:net";
import { stallAndRecover, steadyWithPause } from "../overload/stall.mjs";
import { procs, freePort, waitFor, sippSuite } from "../lib/hostproc.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const bin = join(root, "build", "server", "sipling");
const microBin = join(root, "build", "micro", "sipling");
const p = procs("sipling-native-");
const { run } = p;
/** Starts the server; resolves once it logs "running". lines: parsed stdout JSON. */
const startServer = (args) => p.start(bin, args);

before(() => {
  // incremental: only what changed is rebuilt (a full build is ~10 s)
  const r = spawnSync(process.execPath, [join(root, "tools", "native.mjs"), "--board", "server", "--quiet"], {
    cwd: root, encoding: "utf8", timeout: 300_000,
  });
  assert.equal(r.status, 0, `native build failed: ${r.stderr}${r.stdout}`);
  assert.ok(existsSync(bin));
  p.mkdir();
});

after(() => p.cleanup());

// ---- command line ------------------------------------------------------------------------------

test("--help prints usage and exits 0", async () => {
  const r = await run(bin, ["--help"], 5000);
  assert.equal(r.code, 0);
  assert.match(r.out, /usage: sipling \[--config FILE\] \[--listen udp\|tcp\|tls:HOST:PORT\]\.\.\. \[--domain NAME\]\.\.\./);
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
  const f = join(p.dir, "good.json");
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
    [{ listen: ["udp:127.0.0.1:5060", "foo"] }, `config error: "listen[1]": expected "udp|tcp|tls:HOST:PORT", got "foo"`],
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
    const f = join(p.dir, "bad.json");
    writeFileSync(f, typeof value === "string" ? value : JSON.stringify(value));
    const r = await run(bin, ["--config", f], 5000);
    assert.equal(r.code, 2, `${JSON.stringify(value)}: exit ${r.code}, stderr ${r.err}`);
    assert.ok(r.err.includes(needle), `${JSON.stringify(value)}: stderr should contain ${needle}: ${r.err}`);
    assert.equal(r.out, "", "nothing on stdout");
  }
  for (const [args, needle] of [
    [["--listen", "udp:1.2.3.4"], `"--listen": expected "udp|tcp|tls:HOST:PORT", got "udp:1.2.3.4"`],
    [["--bogus"], `usage error: "--bogus": unknown option`],
    [["--config", join(p.dir, "missing.json")], `"--config": cannot read file`],
  ]) {
    const r = await run(bin, args, 5000);
    assert.equal(r.code, 2, `${args}: ${r.err}`);
    assert.ok(r.err.includes(needle), `stderr should contain ${needle}: ${r.err}`);
  }
});

test("a value the core refuses is a config error too (exit 2)", async () => {
  const port = await freePort();
  const f = join(p.dir, "core-range.json");
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

sippSuite(p, {
  start: startServer,
  serverTest: "server: one line per listener, then running",
  micro: { start: (args) => p.start(microBin, args) },
});

// ---- overload ------------------------------------------------------------------------------------

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
