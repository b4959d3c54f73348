// Security settings of the Node host's configuration (host/node/config.ts): --print-config with every
// security key (secrets masked), validation errors naming the key, the secure default (no users on a
// non-loopback address: exit 2 before anything is bound), and the usage file (one REGISTER over
// loopback UDP -> one reg-add record). Only the last two tests bind sockets: an ephemeral wildcard UDP
// port (stopped at once) and an ephemeral loopback UDP port.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync, rmSync, readFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import dgram from "node:dgram";
import { FULL, HA1, VALIDATION_CASES, secureDefaultError } from "../lib/config-cases.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const cli = join(root, "host", "node", "cli.mjs");
const ENV = { ...process.env, SIPLING_NO_BUILD: "1" };
delete ENV.SIPLING_WASM; // the real (bundled) core
let dir;

before(() => {
  const r = spawnSync(process.execPath, [join(root, "host", "node", "bundle.mjs"), "--quiet"], { cwd: root, encoding: "utf8" });
  assert.equal(r.status, 0, `bundle failed: ${r.stderr}`);
  dir = mkdtempSync(join(tmpdir(), "sipling-sec-"));
});
after(() => rmSync(dir, { recursive: true, force: true }));

function run(...args) {
  const r = spawnSync(process.execPath, [cli, ...args], { cwd: root, encoding: "utf8", timeout: 10_000, env: ENV });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

let n = 0;
function configFile(value) {
  const f = join(dir, `c${n++}.json`);
  writeFileSync(f, typeof value === "string" ? value : JSON.stringify(value));
  return f;
}

function assertConfigError(r, ...needles) {
  assert.equal(r.status, 2, `exit status (stderr: ${r.stderr})`);
  for (const s of needles) assert.ok(r.stderr.includes(s), `stderr should contain ${JSON.stringify(s)}: ${r.stderr}`);
  assert.doesNotMatch(r.stderr, /\n\s+at /, "no stack trace");
  assert.equal(r.stdout, "", "nothing on stdout");
}

test("--print-config shows every security key, secrets masked", () => {
  const r = run("--config", configFile(FULL), "--print-config");
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
});

test("defaults: realm is the first domain, no users, secure flags off; --usage-log overrides the file", () => {
  const r = run("--domain", "voip.example", "--print-config");
  assert.equal(r.status, 0, r.stderr);
  const c = JSON.parse(r.stdout);
  assert.equal(c.realm, "voip.example");
  assert.equal(c.users, undefined);
  assert.equal(c.allowUnauthenticated, false);
  assert.equal(c.topologyHiding, false);
  assert.equal(c.nonceSecret, undefined, "random per start, not printed");
  const r2 = run("--config", configFile({ usageLog: "a.jsonl" }), "--usage-log", "b.jsonl", "--print-config");
  assert.equal(JSON.parse(r2.stdout).usageLog, "b.jsonl");
  assert.match(run("--help").stdout, /--usage-log FILE/);
  const help = run("--help").stdout;
  for (const key of ["realm", "users", "allowUnauthenticated", "nonceSecret", "nonceExpiry", "access", "methods",
    "denyUris", "flood", "body", "topologyHiding", "usageLog", "ha1Sha256", "messagePatterns", "authWindow"])
    assert.ok(help.includes(`"${key}"`), `--help documents ${key}`);
});

test("validation errors name the key", () => {
  for (const [value, ...needles] of VALIDATION_CASES) assertConfigError(run("--config", configFile(value), "--print-config"), ...needles);
});

test("a malformed password or nonce secret is never echoed", () => {
  const r = run("--config", configFile({ users: [{ username: "a", password: "bad\nSECRETPW" }] }));
  assertConfigError(r, `"users[0].password"`);
  assert.ok(!r.stderr.includes("SECRETPW"));
  const r2 = run("--config", configFile({ nonceSecret: "SECRETSECRETSECRETSECRETSECRETSECRET" }));
  assertConfigError(r2, `"nonceSecret"`);
  assert.ok(!r2.stderr.includes("SECRETSECRET"));
});

test("secure default: no users on a non-loopback address exits 2 before binding", () => {
  const r = run("--listen", "udp:0.0.0.0:1");
  assertConfigError(r, secureDefaultError("udp:0.0.0.0:1"));
  // port 1 would need privileges: reaching the bind would have failed with status 1, not 2
  const r2 = run("--listen", "udp:127.0.0.1:1", "--listen", "tcp:[::]:1");
  assertConfigError(r2, "listening on tcp:[::]:1 with no");
  // --print-config is not refused (it binds nothing)
  assert.equal(run("--listen", "udp:0.0.0.0:1", "--print-config").status, 0);
});

test("topologyHiding with board micro: refused naming the key and the board (exit 2)", () => {
  const r = run("--config", configFile({ board: "micro", topologyHiding: true }), "--listen", "udp:127.0.0.1:0");
  assert.equal(r.status, 2, r.stderr);
  assert.equal(r.stderr, `config error: "topologyHiding": not in this core build (board micro leaves it out)\n`);
  assert.ok(!r.stdout.includes('"running"'), "never running");
});

test("every key of the schema is implemented by the Node host (none to refuse)", () => {
  const schema = JSON.parse(readFileSync(join(root, "host", "shared", "config.json"), "utf8"));
  assert.deepEqual(schema.keys.filter((k) => k.hosts && !k.hosts.includes("node")).map((k) => k.path), []);
});

/** Starts the server; collects JSON log lines; waitFor(pred) resolves with the first matching line. */
function startServer(args) {
  const child = spawn(process.execPath, [cli, ...args], { cwd: root, env: ENV, stdio: ["ignore", "pipe", "pipe"] });
  const lines = [];
  const waiters = [];
  let buf = "";
  let stderr = "";
  child.stdout.on("data", (d) => {
    buf += d;
    let i;
    while ((i = buf.indexOf("\n")) >= 0) {
      const line = JSON.parse(buf.slice(0, i));
      buf = buf.slice(i + 1);
      lines.push(line);
      for (const w of [...waiters]) if (w.pred(line)) { waiters.splice(waiters.indexOf(w), 1); w.resolve(line); }
    }
  });
  child.stderr.on("data", (d) => (stderr += d));
  const exited = new Promise((res) => child.on("exit", (code) => res(code)));
  const waitFor = (pred, ms = 5000) => {
    const hit = lines.find(pred);
    if (hit) return Promise.resolve(hit);
    return new Promise((resolve, reject) => {
      waiters.push({ pred, resolve });
      setTimeout(() => reject(new Error(`timed out; log:\n${lines.map((l) => JSON.stringify(l)).join("\n")}\n${stderr}`)), ms);
    });
  };
  return { child, lines, exited, waitFor };
}

test("allowUnauthenticated: true starts on a wildcard address (stopped at once)", async () => {
  const f = configFile({ allowUnauthenticated: true });
  const s = startServer(["--config", f, "--listen", "udp:0.0.0.0:0"]);
  try {
    await s.waitFor((l) => l.msg === "running");
    s.child.kill("SIGTERM");
    assert.equal(await s.exited, 0);
  } finally {
    s.child.kill("SIGKILL");
  }
});

test("usage file: one REGISTER over loopback UDP gives one reg-add record", async () => {
  const usage = join(dir, "usage.jsonl");
  const f = configFile({ usageLog: usage });
  const s = startServer(["--config", f, "--listen", "udp:127.0.0.1:0"]);
  const u = dgram.createSocket("udp4");
  try {
    const listening = await s.waitFor((l) => l.msg === "listening");
    await s.waitFor((l) => l.msg === "running");
    const port = Number(/:(\d+)$/.exec(listening.listen)[1]);
    await new Promise((r) => u.bind(0, "127.0.0.1", r));
    const me = u.address().port;
    const before = Date.now();
    const reply = new Promise((r) => u.on("message", (m) => { if (/^SIP\/2\.0 200/.test(m.toString())) r(m.toString()); }));
    const register = [
      `REGISTER sip:127.0.0.1:${port} SIP/2.0`,
      `Via: SIP/2.0/UDP 127.0.0.1:${me};branch=z9hG4bK-usage-1;rport`,
      `Max-Forwards: 70`,
      `From: <sip:alice@127.0.0.1>;tag=f1`,
      `To: <sip:alice@127.0.0.1>`,
      `Call-ID: usage-test-1@127.0.0.1`,
      `CSeq: 1 REGISTER`,
      `Contact: <sip:alice@127.0.0.1:${me}>`,
      `Expires: 600`,
      `Content-Length: 0`,
      ``, ``,
    ].join("\r\n");
    u.send(register, port, "127.0.0.1");
    const ok = await Promise.race([reply, new Promise((_, j) => setTimeout(() => j(new Error("no 200")), 3000))]);
    assert.match(ok, /^SIP\/2\.0 200/);
    await s.waitFor((l) => l.msg === "reg-add");
    s.child.kill("SIGTERM");
    assert.equal(await s.exited, 0);
    const after = Date.now();

    assert.ok(existsSync(usage));
    const records = readFileSync(usage, "utf8").trim().split("\n").map((l) => JSON.parse(l));
    const adds = records.filter((r) => r.event === "reg-add");
    assert.equal(adds.length, 1, JSON.stringify(records));
    const r = adds[0];
    assert.match(r.aor, /alice/); // the core's AOR key (the user part for a local domain)
    assert.match(r.contact, new RegExp(`alice@127\\.0\\.0\\.1:${me}`));
    assert.equal(r.callId, "usage-test-1@127.0.0.1");
    assert.equal(r.source, `udp:127.0.0.1:${me}`);
    assert.equal(r.expires, 600);
    const t = Date.parse(r.time);
    assert.ok(t >= before - 1000 && t <= after + 1000, `time ${r.time} within the test`);
  } finally {
    u.close();
    s.child.kill("SIGKILL");
  }
});
