// The firmware bridge's configuration (host/firmware/bridge.mjs with the shared walker
// host/shared/config.mjs over the generated host/firmware/abi.mjs): the same keys and messages as the
// other hosts, the keys this host does not implement refused, the secure default, and, with the
// firmware running under QEMU, core keys sent in the 'C' frame: users and realm (a REGISTER challenged
// 401, then accepted with its digest) and topology hiding refused by the micro core, named by its key.
// Fails (never skips) when qemu-system-arm, arm-none-eabi-gcc or wasm2c is missing. Every child is
// killed by its PID.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { createInterface } from "node:readline";
import { FULL, HA1, VALIDATION_CASES, secureDefaultError } from "../lib/config-cases.mjs";
import { strangerIsRefused } from "../lib/relay-check.mjs";
import { userAgent, challenges } from "../lib/digest.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const bridgePath = join(root, "host", "firmware", "bridge.mjs");
const has = (cmd) => spawnSync("sh", ["-c", `command -v ${cmd}`]).status === 0;
const missing = ["qemu-system-arm", "arm-none-eabi-gcc", "wasm2c"].filter((c) => !has(c));
if (missing.length) throw new Error(`missing: ${missing.join(", ")} (tools/setup.mjs installs them)`);
const children = new Set();
let dir;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "sipling-fw-cfg-"));
  const fw = await import(join(root, "tools", "firmware.mjs"));
  fw.firmwareSizes({ build: true }); // builds when stale
});

after(() => {
  for (const pid of children) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      /* gone */
    }
  }
  rmSync(dir, { recursive: true, force: true });
});

let n = 0;
function configFile(value) {
  const f = join(dir, `c${n++}.json`);
  writeFileSync(f, typeof value === "string" ? value : JSON.stringify(value));
  return f;
}

function run(...args) {
  const r = spawnSync(process.execPath, [bridgePath, ...args], { encoding: "utf8", timeout: 10_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function assertConfigError(r, ...needles) {
  assert.equal(r.status, 2, `exit status (stderr: ${r.stderr})`);
  for (const s of needles) assert.ok(r.stderr.includes(s), `stderr should contain ${JSON.stringify(s)}: ${r.stderr}`);
  assert.equal(r.stdout, "", "nothing on stdout");
}

// ---- no firmware needed ----------------------------------------------------------------------------

test("--print-config: every key the firmware takes, secrets masked, UDP listen by default", () => {
  const { usageLog, ...rest } = FULL; // usageLog is not a firmware key
  const r = run("--config", configFile(rest), "--print-config");
  assert.equal(r.status, 0, r.stderr);
  const c = JSON.parse(r.stdout);
  assert.deepEqual(c.listen, ["udp:127.0.0.1:5060"]);
  assert.deepEqual(c.domains, ["localhost", "127.0.0.1"]);
  assert.deepEqual(c.users, [
    { username: "alice", password: "***" },
    { username: "bob", ha1: "***" },
    { username: "carol", ha1: "***", ha1Sha256: "***" },
  ]);
  assert.equal(c.nonceSecret, "***");
  for (const secret of ["TopSecret-1", HA1, "00112233445566778899aabbccddeeff"]) assert.ok(!r.stdout.includes(secret));
  assert.deepEqual(c.access, FULL.access);
  assert.deepEqual(c.flood, FULL.flood);
  assert.deepEqual(c.body, FULL.body);
  assert.equal(c.topologyHiding, true, "validated here; the micro core refuses it at start");
  for (const k of ["usageLog", "overloadControl", "prefault", "board"]) assert.equal(c[k], undefined, `${k} is no firmware key`);
});

test("validation errors name the key, with the other hosts' messages", () => {
  // usageLog is a key of the Node and native hosts only: refused here (next test)
  const cases = VALIDATION_CASES.filter(([value]) => !("usageLog" in value));
  assert.equal(cases.length, VALIDATION_CASES.length - 1);
  for (const [value, ...needles] of cases) assertConfigError(run("--config", configFile(value), "--print-config"), ...needles);
});

test("keys this host does not implement are refused naming the key and the host", () => {
  for (const [key, value] of [["overloadControl", false], ["prefault", true], ["board", "micro"], ["usageLog", "u.jsonl"]])
    assertConfigError(run("--config", configFile({ [key]: value }), "--print-config"), `config error: "${key}": not supported by the firmware host`);
  assertConfigError(run("--usage-log", "u.jsonl"), `usage error: "--usage-log": unknown option`);
});

test("listen: UDP with numeric addresses only; the secure default", () => {
  assertConfigError(run("--listen", "tcp:127.0.0.1:5060"), `"--listen"`, "supports UDP only");
  assertConfigError(run("--config", configFile({ listen: ["udp:127.0.0.1:5060", "tcp:127.0.0.1:5060"] })), `"listen[1]"`, "supports UDP only");
  for (const l of ["ws:127.0.0.1:8080", "wss:127.0.0.1:8443"]) {
    assertConfigError(run("--listen", l), `config error: "--listen": ws/wss listen is supported by the Node host only (the firmware host: udp), got "${l}"`);
    assertConfigError(run("--config", configFile({ listen: ["udp:127.0.0.1:5060", l] })), `config error: "listen[1]": ws/wss listen is supported by the Node host only (the firmware host: udp), got "${l}"`);
  }
  assertConfigError(run("--listen", "udp:0.0.0.0:1"), secureDefaultError("udp:0.0.0.0:1"));
});

// ---- with the firmware under QEMU ------------------------------------------------------------------

/** Starts the bridge; resolves with its lines, its exit and waitFor(pred). */
function startBridge(args) {
  const b = spawn(process.execPath, [bridgePath, ...args], { stdio: ["pipe", "pipe", "pipe"] });
  children.add(b.pid);
  const s = { child: b, lines: [], err: "" };
  const timer = setTimeout(() => process.kill(b.pid, "SIGKILL"), 60_000);
  s.exit = new Promise((resolve) => b.on("close", (code) => { clearTimeout(timer); children.delete(b.pid); resolve(code); }));
  b.stderr.on("data", (d) => (s.err += d));
  createInterface({ input: b.stdout }).on("line", (l) => {
    const j = JSON.parse(l);
    s.lines.push(j);
    if (j.qemuPid) children.add(j.qemuPid);
  });
  s.waitFor = async (pred, ms = 20_000) => {
    const end = Date.now() + ms;
    while (Date.now() < end) {
      const hit = s.lines.find(pred);
      if (hit) return hit;
      if (b.exitCode !== null) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    throw new Error(`no matching bridge line; stdout: ${JSON.stringify(s.lines.slice(-8))}\nstderr: ${s.err}`);
  };
  s.stop = async () => {
    if (b.exitCode === null) b.stdin.write("stop\n");
    await Promise.race([s.exit, new Promise((r) => setTimeout(r, 5000))]);
  };
  return s;
}

test("users and realm go to the firmware: REGISTER challenged 401, then 200 with the digest", { timeout: 60_000 }, async () => {
  const f = configFile({ realm: "fw.example", users: [{ username: "alice", password: "wonderland" }], flood: { authFailures: 3 } });
  const s = startBridge(["--config", f, "--listen", "udp:127.0.0.1:0"]);
  try {
    const running = await s.waitFor((l) => l.msg === "running");
    const port = Number(running.listen[0].split(":").pop());
    const ua = await userAgent(port, { callId: "fw-auth-1@127.0.0.1" });
    try {
      ua.register(1);
      const challenge = await ua.next(5000);
      assert.match(challenge, /^SIP\/2\.0 401 /);
      const offered = challenges(challenge);
      assert.deepEqual(offered.map((c) => c.alg), ["MD5"], "digestAlgorithms default: MD5 only");
      assert.equal(offered[0].realm, "fw.example");
      ua.register(2, ua.digest({ realm: "fw.example", nonce: offered[0].nonce, pass: "wonderland" }));
      assert.match(await ua.next(5000), /^SIP\/2\.0 200 /);
      const add = await s.waitFor((l) => l.msg === "reg-add", 5000);
      assert.equal(add.aor, "alice");
      assert.equal(add.expires, 600);
    } finally {
      ua.close();
    }
    // never relay for strangers, on this host too: a call to an address and a forged in-dialog
    // request are refused, and the loopback sink hears nothing
    await strangerIsRefused(port);
    assert.ok(!JSON.stringify(s.lines).includes("wonderland"), "the password is never logged");
  } finally {
    await s.stop();
  }
});

test("topologyHiding: the micro core refuses it; the bridge names the key and the board (exit 2)", { timeout: 60_000 }, async () => {
  const s = startBridge(["--config", configFile({ topologyHiding: true }), "--listen", "udp:127.0.0.1:0"]);
  const code = await s.exit;
  assert.equal(code, 2, s.err);
  assert.equal(s.err, `config error: "topologyHiding": not in this core build (board micro leaves it out)\n`);
  assert.ok(!s.lines.some((l) => l.msg === "running"), "never running");
});
