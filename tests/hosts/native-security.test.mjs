// The native host's security configuration (host/c/config.c walking the generated host/c/schema.h):
// --print-config with every security key (secrets masked), the same validation messages as the Node
// host (tests/lib/config-cases.mjs), keys this host does not implement refused, the secure default,
// a REGISTER challenged 401 and accepted with its digest, an authentication failure, and the usage
// file those leave (the same records as the Node host's). The micro binary refuses topology hiding.
// Binds loopback UDP on ephemeral ports only; every child is killed by PID after a hard timeout.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync, readFileSync, rmSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { FULL, HA1, VALIDATION_CASES, secureDefaultError } from "../lib/config-cases.mjs";
import { userAgent, challenges } from "../lib/digest.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const bin = join(root, "build", "server", "sipling");
const microBin = join(root, "build", "micro", "sipling");
const children = new Set();
let dir;

before(() => {
  for (const board of ["server", "micro"]) {
    const r = spawnSync(process.execPath, [join(root, "tools", "native.mjs"), "--board", board, "--quiet"], {
      cwd: root, encoding: "utf8", timeout: 300_000,
    });
    assert.equal(r.status, 0, `native build (${board}) failed: ${r.stderr}${r.stdout}`);
  }
  dir = mkdtempSync(join(tmpdir(), "sipling-native-sec-"));
});

after(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) process.kill(c.pid, "SIGKILL");
  if (dir) rmSync(dir, { recursive: true, force: true });
});

let n = 0;
function configFile(value) {
  const f = join(dir, `c${n++}.json`);
  writeFileSync(f, typeof value === "string" ? value : JSON.stringify(value));
  return f;
}

function run(exe, args) {
  const r = spawnSync(exe, args, { cwd: dir, encoding: "utf8", timeout: 10_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function assertConfigError(r, ...needles) {
  assert.equal(r.status, 2, `exit status (stderr: ${r.stderr})`);
  for (const s of needles) assert.ok(r.stderr.includes(s), `stderr should contain ${JSON.stringify(s)}: ${r.stderr}`);
  assert.equal(r.stdout, "", "nothing on stdout");
}

// ---- configuration, no sockets -------------------------------------------------------------------

test("--print-config shows every security key, secrets masked", () => {
  const r = run(bin, ["--config", configFile(FULL), "--print-config"]);
  assert.equal(r.status, 0, r.stderr);
  const c = JSON.parse(r.stdout);
  assert.equal(c.realm, "sipling.example");
  assert.deepEqual(c.users, [
    { username: "alice", password: "***" },
    { username: "bob", ha1: "***" },
    { username: "carol", ha1: "***", ha1Sha256: "***" },
  ]);
  for (const secret of ["TopSecret-1", HA1, "00112233445566778899aabbccddeeff"])
    assert.ok(!r.stdout.includes(secret), `${secret} must not be printed`);
  assert.equal(c.nonceSecret, "***");
  assert.equal(c.nonceExpiry, 120);
  assert.equal(c.allowUnauthenticated, false);
  assert.deepEqual(c.access, FULL.access);
  assert.deepEqual(c.methods, FULL.methods);
  assert.deepEqual(c.denyUris, FULL.denyUris);
  assert.deepEqual(c.flood, FULL.flood);
  assert.deepEqual(c.body, FULL.body);
  assert.equal(c.topologyHiding, true);
  assert.equal(c.usageLog, FULL.usageLog);
  assert.deepEqual(c.digestAlgorithms, ["MD5"]);
  assert.equal(c.board, "server");
});

test("defaults: realm is the first domain, no users, nothing secret printed; --usage-log overrides the file", () => {
  const c = JSON.parse(run(bin, ["--domain", "voip.example", "--print-config"]).stdout);
  assert.equal(c.realm, "voip.example");
  assert.equal(c.users, undefined);
  assert.equal(c.nonceSecret, undefined, "random per start, not printed");
  assert.equal(c.allowUnauthenticated, false);
  assert.equal(c.topologyHiding, false);
  const r = run(bin, ["--config", configFile({ usageLog: "a.jsonl" }), "--usage-log", "b.jsonl", "--print-config"]);
  assert.equal(JSON.parse(r.stdout).usageLog, "b.jsonl");
  const help = run(bin, ["--help"]).stdout;
  for (const key of ["realm", "users", "allowUnauthenticated", "nonceSecret", "nonceExpiry", "access", "methods",
    "denyUris", "flood", "body", "topologyHiding", "usageLog", "ha1Sha256", "messagePatterns", "authWindow", "digestAlgorithms"])
    assert.ok(help.includes(`"${key}"`), `--help documents ${key}`);
  assert.match(help, /--usage-log FILE/);
});

test("--print-config output is a valid config file (with every security key)", () => {
  const first = run(bin, ["--config", configFile({ ...FULL, users: undefined, nonceSecret: undefined }), "--print-config"]);
  assert.equal(first.status, 0, first.stderr);
  const second = run(bin, ["--config", configFile(first.stdout), "--print-config"]);
  assert.equal(second.status, 0, second.stderr);
  assert.deepEqual(JSON.parse(second.stdout), JSON.parse(first.stdout));
});

test("validation errors name the key, with the Node host's messages", () => {
  for (const [value, ...needles] of VALIDATION_CASES) assertConfigError(run(bin, ["--config", configFile(value), "--print-config"]), ...needles);
});

test("a malformed password or nonce secret is never echoed", () => {
  const r = run(bin, ["--config", configFile({ users: [{ username: "a", password: "bad\nSECRETPW" }] })]);
  assertConfigError(r, `"users[0].password"`);
  assert.ok(!r.stderr.includes("SECRETPW"));
  const r2 = run(bin, ["--config", configFile({ nonceSecret: "SECRETSECRETSECRETSECRETSECRETSECRET" })]);
  assertConfigError(r2, `"nonceSecret"`);
  assert.ok(!r2.stderr.includes("SECRETSECRET"));
});

// The native host implements every host-side key of the schema since it took prefault (issue 18), so
// the refusal of another host's key has nothing to try here (the WASI and firmware suites keep it).
test("prefault is a native key: read and printed back", () => {
  const r = run(bin, ["--config", configFile({ prefault: true }), "--print-config"]);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(JSON.parse(r.stdout).prefault, true);
});

test("board: another board than the binary's is refused", () => {
  assertConfigError(run(bin, ["--config", configFile({ board: "micro" }), "--print-config"]),
    `config error: "board": this binary is built for board "server", got "micro"`);
  assert.equal(JSON.parse(run(microBin, ["--print-config"]).stdout).board, "micro");
});

test("secure default: no users on a non-loopback address exits 2 before binding", () => {
  assertConfigError(run(bin, ["--listen", "udp:0.0.0.0:1"]), secureDefaultError("udp:0.0.0.0:1"));
  // port 1 would need privileges: reaching the bind would have failed with status 1, not 2
  assertConfigError(run(bin, ["--listen", "udp:127.0.0.1:1", "--listen", "tcp:[::]:1"]), secureDefaultError("tcp:[::]:1"));
  assert.equal(run(bin, ["--listen", "udp:0.0.0.0:1", "--print-config"]).status, 0, "--print-config binds nothing");
});

test("topologyHiding on the micro binary: refused naming the key and the board (exit 2)", () => {
  const r = run(microBin, ["--config", configFile({ topologyHiding: true }), "--listen", "udp:127.0.0.1:0"]);
  assert.equal(r.status, 2, r.stderr);
  assert.equal(r.stderr, `config error: "topologyHiding": not in this core build (board micro leaves it out)\n`);
  assert.ok(!r.stdout.includes('"running"'), "never running");
});

test("a usage file that cannot be opened is a start error naming the file (exit 2)", () => {
  const f = join(dir, "no-such-dir", "usage.jsonl");
  const r = run(bin, ["--listen", "udp:127.0.0.1:0", "--usage-log", f]);
  assertConfigError(r, `config error: "usageLog": cannot open "${f}" for appending (ENOENT)`);
});

// ---- a server with users -------------------------------------------------------------------------

async function startServer(args) {
  const c = spawn(bin, args, { cwd: dir, stdio: ["ignore", "pipe", "pipe"] });
  children.add(c);
  const s = { child: c, lines: [], err: "" };
  const timer = setTimeout(() => process.kill(c.pid, "SIGKILL"), 30_000);
  s.exit = new Promise((resolve) => c.on("close", (code) => { clearTimeout(timer); children.delete(c); resolve(code); }));
  c.stderr.on("data", (d) => (s.err += d));
  let partial = "";
  c.stdout.on("data", (d) => {
    partial += d;
    let i;
    while ((i = partial.indexOf("\n")) >= 0) {
      s.lines.push(JSON.parse(partial.slice(0, i)));
      partial = partial.slice(i + 1);
    }
  });
  s.waitFor = async (pred, ms = 5000) => {
    const end = Date.now() + ms;
    while (Date.now() < end) {
      const hit = s.lines.find(pred);
      if (hit) return hit;
      if (c.exitCode !== null) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    throw new Error(`no matching log line; stdout: ${JSON.stringify(s.lines)}\nstderr: ${s.err}`);
  };
  await s.waitFor((l) => l.msg === "running");
  return s;
}

test("REGISTER: 401 with a digest challenge, 200 with the right credentials, auth-fail and usage records", async () => {
  const usage = join(dir, "usage.jsonl");
  const f = configFile({ realm: "native.example", users: [{ username: "alice", password: "wonderland" }], usageLog: usage });
  const s = await startServer(["--config", f, "--listen", "udp:127.0.0.1:0"]);
  const port = Number(/:(\d+)$/.exec(s.lines.find((l) => l.msg === "listening").listen)[1]);
  const ua = await userAgent(port, { callId: "native-auth-1@127.0.0.1" });
  const me = ua.port;
  try {
    const ready = s.lines.find((l) => l.msg === "core ready");
    assert.deepEqual(ready.auth, { realm: "native.example", users: 1 });

    ua.register(1);
    const challenge = await ua.next();
    assert.match(challenge, /^SIP\/2\.0 401 /);
    const offered = challenges(challenge);
    assert.deepEqual(offered.map((c) => c.alg), ["MD5"], "digestAlgorithms default: MD5 only");
    assert.equal(offered[0].realm, "native.example");
    const nonce = offered[0].nonce;

    ua.register(2, ua.digest({ realm: "native.example", nonce, pass: "wrong" }));
    assert.match(await ua.next(), /^SIP\/2\.0 (401|403) /);
    await s.waitFor((l) => l.msg === "auth-fail");

    ua.register(3, ua.digest({ realm: "native.example", nonce, pass: "wonderland" }));
    assert.match(await ua.next(), /^SIP\/2\.0 200 /);
    const add = await s.waitFor((l) => l.msg === "reg-add");
    assert.equal(add.level, "info");
    assert.equal(add.expires, 600);
    const fail = s.lines.find((l) => l.msg === "auth-fail");
    assert.equal(fail.level, "warn", "auth-fail logged at abi.json's level");
    assert.equal(fail.user, "alice", "auth-fail's text1 labelled user");

    process.kill(s.child.pid, "SIGTERM");
    assert.equal(await s.exit, 0);
    assert.ok(existsSync(usage));
    const records = readFileSync(usage, "utf8").trim().split("\n").map((l) => JSON.parse(l));
    const adds = records.filter((r) => r.event === "reg-add");
    assert.equal(adds.length, 1, JSON.stringify(records));
    const r = adds[0];
    assert.deepEqual(Object.keys(r).sort(), ["aor", "callId", "contact", "event", "expires", "result", "source", "time"]);
    assert.match(r.aor, /alice/);
    assert.equal(r.contact, `sip:alice@127.0.0.1:${me}`);
    assert.equal(r.callId, "native-auth-1@127.0.0.1");
    assert.equal(r.source, `udp:127.0.0.1:${me}`);
    assert.equal(r.expires, 600);
    assert.equal(r.result, 200);
    assert.ok(Math.abs(Date.parse(r.time) - Date.now()) < 60_000, `time ${r.time} is now`);
    const fails = records.filter((x) => x.event === "auth-fail");
    assert.equal(fails.length, 1, JSON.stringify(records));
    assert.equal(fails[0].user, "alice");
    assert.equal(fails[0].callId, "native-auth-1@127.0.0.1");
    assert.equal(fails[0].source, `udp:127.0.0.1:${me}`);
    assert.equal(fails[0].detail, undefined, "detail stays out of usage records");
  } finally {
    ua.close();
  }
});
