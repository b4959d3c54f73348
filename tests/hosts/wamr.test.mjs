// The WAMR host (host/wamr/: host/c built against WAMR's classic interpreter, WAMR from the wamr-sys
// crate; tools/wamr.mjs builds build/wamr/classic/<board>/sipling) against the same SIPp scenario
// suite as the native host (sippSuite, tests/lib/hostproc.mjs): REGISTER over UDP and TCP, a call through
// the proxy over UDP and over TCP (a connection the proxy opens), CANCEL of a ringing call and the ACK
// of its 487, SIGTERM; plus the command line (--version names the engine, config errors exit 2 naming
// the key, the secure default), a digest-authenticated REGISTER, and the micro board's full AOR
// table; and REGISTER over UDP and TCP on the fast interpreter (build/wamr/fast/, measured by npm run
// bench). Never skips: a missing cargo, cmake or sipp fails with a message (tools/setup.mjs installs
// them). Loopback only; every child has a hard timeout and is killed by PID.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { writeFileSync, existsSync } from "node:fs";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { secureDefaultError } from "../lib/config-cases.mjs";
import { userAgent, challenges } from "../lib/digest.mjs";
import { procs, freePort, waitFor, sippReport, sippSuite } from "../lib/hostproc.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const bin = join(root, "build", "wamr", "classic", "server", "sipling");
const microBin = join(root, "build", "wamr", "classic", "micro", "sipling");
const fastBin = join(root, "build", "wamr", "fast", "server", "sipling");
const scen = join(root, "tests", "sipp");
const p = procs("sipling-wamr-");
const { run, sipp } = p;
/** Starts a server binary; resolves once it logs "running". lines: parsed stdout JSON. */
const startServer = (exe, args) => p.start(exe, args, { ready: 10_000 });

before(() => {
  // both interpreters; incremental after the first build (cold: cargo fetches wamr-sys once, CMake
  // builds WAMR twice)
  const r = spawnSync(process.execPath, [join(root, "tools", "wamr.mjs"), "--quiet"], {
    cwd: root, encoding: "utf8", timeout: 600_000,
  });
  assert.equal(r.status, 0, `WAMR host build failed: ${r.stderr}${r.stdout}`);
  assert.ok(existsSync(bin) && existsSync(microBin) && existsSync(fastBin));
  p.mkdir();
});

after(() => p.cleanup());

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
    const f = join(p.dir, "bad.json");
    writeFileSync(f, JSON.stringify(value));
    const r = await run(bin, ["--config", f], 5000);
    assert.equal(r.code, 2, `${JSON.stringify(value)}: exit ${r.code}, stderr ${r.err}`);
    assert.ok(r.err.includes(needle), `${JSON.stringify(value)}: stderr should contain ${needle}: ${r.err}`);
    assert.equal(r.out, "", "nothing on stdout");
  }
});

test("a value the core refuses (through WAMR) is a config error too (exit 2)", async () => {
  const port = await freePort();
  const f = join(p.dir, "core-range.json");
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
  const f = join(p.dir, "auth.json");
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

const classic = (line) => assert.equal(line.core, "WAMR classic interpreter");
sippSuite(p, {
  start: (args) => startServer(bin, args),
  serverTest: "server: one line per listener, then running under WAMR",
  running: (line) => {
    classic(line);
    assert.equal(line.board, "server");
  },
  micro: { start: (args) => startServer(microBin, args), running: classic },
});

test("fast interpreter: SIPp REGISTER over UDP and over TCP", async () => {
  const port = await freePort();
  const f = await startServer(fastBin, ["--listen", `udp:127.0.0.1:${port}`, "--listen", `tcp:127.0.0.1:${port}`]);
  assert.equal(f.lines.find((l) => l.msg === "running").core, "WAMR fast interpreter");
  for (const [user, tcp] of [["fastudp", false], ["fasttcp", true]]) {
    const csv = join(p.dir, `${user}.csv`);
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
