// The WASI host's configuration (host/wasi/config.ts walking the generated host/wasi/schema.ts) on
// WasmEdge: the file read through a preopened directory (--dir /cfg:HOST), --print-config with every
// key this host takes (secrets masked), the other hosts' validation messages, the keys it does not
// implement refused, the secure default, and a REGISTER challenged 401 then accepted with its digest.
// Fails (never skips) when WasmEdge cannot be fetched. Every child has a hard timeout.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { createSocket } from "node:dgram";
import { mkdtempSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname, basename } from "node:path";
import { fileURLToPath } from "node:url";
import { FULL, HA1, VALIDATION_CASES, secureDefaultError } from "../lib/config-cases.mjs";
import { strangerIsRefused } from "../lib/relay-check.mjs";
import { userAgent, challenges } from "../lib/digest.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const wasm = join(root, "build", "wasi", "sipling-wasi.wasm");
let runtime;
let dir;
const children = new Set();

before(() => {
  dir = mkdtempSync(join(tmpdir(), "sipling-wasi-cfg-"));
  const w = spawnSync("sh", [join(root, "tools", "wasmedge.sh")], { cwd: root, encoding: "utf8", timeout: 300_000 });
  assert.equal(w.status, 0, `tools/wasmedge.sh failed:\n${w.stderr}`);
  runtime = w.stdout.trim().split("\n").pop().split(" ");
  const b = spawnSync(process.execPath, [join(root, "tools", "wasi.mjs"), "--quiet"], { cwd: root, encoding: "utf8", timeout: 120_000 });
  assert.equal(b.status, 0, `tools/wasi.mjs failed:\n${b.stdout}${b.stderr}`);
});

after(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) process.kill(c.pid, "SIGKILL");
  rmSync(dir, { recursive: true, force: true });
});

let n = 0;
/** A config file in the preopened folder; returns its guest path (/cfg/NAME). */
function configFile(value) {
  const f = join(dir, `c${n++}.json`);
  writeFileSync(f, typeof value === "string" ? value : JSON.stringify(value));
  return `/cfg/${basename(f)}`;
}

function run(args, { preopen = true } = {}) {
  const r = spawnSync(runtime[0], [...runtime.slice(1), ...(preopen ? ["--dir", `/cfg:${dir}`] : []), wasm, ...args], {
    encoding: "utf8", timeout: 15_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function assertConfigError(r, ...needles) {
  assert.equal(r.status, 2, `exit status (stderr: ${r.stderr})`);
  for (const s of needles) assert.ok(r.stderr.includes(s), `stderr should contain ${JSON.stringify(s)}: ${r.stderr}`);
  assert.equal(r.stdout, "", "nothing on stdout");
}

test("--config through a preopened directory; --print-config with secrets masked", () => {
  const { usageLog, ...rest } = FULL; // usageLog is not a WASI key
  const r = run(["--config", configFile(rest), "--print-config"]);
  assert.equal(r.status, 0, r.stderr);
  const c = JSON.parse(r.stdout);
  assert.deepEqual(c.listen, ["udp:127.0.0.1:5060"]);
  assert.equal(c.realm, "sipling.example");
  assert.deepEqual(c.users, [
    { username: "alice", password: "***" },
    { username: "bob", ha1: "***" },
    { username: "carol", ha1: "***", ha1Sha256: "***" },
  ]);
  assert.equal(c.nonceSecret, "***");
  for (const secret of ["TopSecret-1", HA1, "00112233445566778899aabbccddeeff"]) assert.ok(!r.stdout.includes(secret));
  assert.deepEqual(c.access, FULL.access);
  assert.deepEqual(c.methods, FULL.methods);
  assert.deepEqual(c.denyUris, FULL.denyUris);
  assert.deepEqual(c.flood, FULL.flood);
  assert.deepEqual(c.body, FULL.body);
  assert.equal(c.topologyHiding, true);
  assert.equal(c.nonceExpiry, 120);
  assert.deepEqual(c.digestAlgorithms, ["MD5"]);
  for (const k of ["usageLog", "overloadControl", "board"]) assert.equal(c[k], undefined, `${k} is no WASI key`);
  assert.equal(c.prefault, false); // a WASI key since issue 18
  // flags override the file; the output is a valid configuration file
  const r2 = run(["--config", configFile({ ...rest, users: undefined, nonceSecret: undefined }), "--listen", "udp:[::1]:5070", "--trace", "--print-config"]);
  assert.equal(r2.status, 0, r2.stderr);
  const c2 = JSON.parse(r2.stdout);
  assert.deepEqual(c2.listen, ["udp:[::1]:5070"]);
  assert.deepEqual(c2.domains, ["localhost", "[::1]"]);
  assert.equal(c2.trace, true);
  const r3 = run(["--config", configFile(r2.stdout), "--print-config"]);
  assert.deepEqual(JSON.parse(r3.stdout), c2);
});

test("the file: not under a preopened directory, missing, not JSON", () => {
  assertConfigError(run(["--config", "/elsewhere/c.json"]), `config error: "--config": cannot read file "/elsewhere/c.json" (no preopened directory holds it`);
  assertConfigError(run(["--config", "/cfg/missing.json"]), `config error: "--config": cannot read file "/cfg/missing.json" (ENOENT)`);
  assertConfigError(run(["--config", configFile('{"listen": [')]), `config error: "--config": file`, "is not valid JSON");
});

test("validation errors name the key, with the other hosts' messages", () => {
  // usageLog is a key of the Node and native hosts only: refused here (next test)
  const cases = VALIDATION_CASES.filter(([value]) => !("usageLog" in value));
  assert.equal(cases.length, VALIDATION_CASES.length - 1);
  for (const [value, ...needles] of cases) assertConfigError(run(["--config", configFile(value), "--print-config"]), ...needles);
});

test("keys this host does not implement are refused naming the key and the host", () => {
  for (const [key, value] of [["overloadControl", false], ["board", "server"], ["usageLog", "u.jsonl"]])
    assertConfigError(run(["--config", configFile({ [key]: value }), "--print-config"]), `config error: "${key}": not supported by the wasi host`);
  for (const [key, value] of [["certificate", "cert.pem"], ["verifyClient", true]])
    assertConfigError(run(["--config", configFile({ tls: { [key]: value } }), "--print-config"]), `config error: "tls.${key}": not supported by the wasi host`);
  // no DNS on this host (host/wasi/main.ts "Names")
  assertConfigError(run(["--config", configFile({ dns: { servers: ["127.0.0.1:53"] } }), "--print-config"]), `config error: "dns.servers": not supported by the wasi host`);
  assertConfigError(run(["--config", configFile({ dns: { timeout: 500 } }), "--print-config"]), `config error: "dns.timeout": not supported by the wasi host`);
  assertConfigError(run(["--usage-log", "u.jsonl"]), `usage error: "--usage-log": unknown option`);
});

test("listen: UDP only, numeric; the secure default", () => {
  assertConfigError(run(["--listen", "tcp:127.0.0.1:5060"]), `config error: "--listen": expected "udp:HOST:PORT" (the wasi host supports UDP only)`);
  assertConfigError(run(["--listen", "tls:127.0.0.1:5061"]), `config error: "--listen": expected "udp:HOST:PORT" (the wasi host has no TLS)`);
  assertConfigError(run(["--config", configFile({ listen: ["tls:127.0.0.1:5061"] })]), `config error: "listen[0]": expected "udp:HOST:PORT" (the wasi host has no TLS)`);
  assertConfigError(run(["--listen", "udp:example.com:5060"]), `"--listen": expected "udp:HOST:PORT" with a numeric address`);
  for (const l of ["ws:127.0.0.1:8080", "wss:127.0.0.1:8443"])
    assertConfigError(run(["--config", configFile({ listen: ["udp:127.0.0.1:5060", l] })]), `config error: "listen[1]": ws/wss listen is supported by the Node host only (the wasi host: udp)`);
  assertConfigError(run(["--listen", "udp:0.0.0.0:1"]), secureDefaultError("udp:0.0.0.0:1"));
  assertConfigError(run(["--listen", "udp:[::]:1"]), secureDefaultError("udp:[::]:1"));
});

async function freePort() {
  const s = createSocket("udp4");
  await new Promise((r) => s.bind(0, "127.0.0.1", r));
  const p = s.address().port;
  await new Promise((r) => s.close(r));
  return p;
}

test("users and realm applied: REGISTER challenged 401, then 200 with the digest", { timeout: 30_000 }, async () => {
  const port = await freePort();
  const f = configFile({ realm: "wasi.example", users: [{ username: "alice", password: "wonderland" }] });
  const c = spawn(runtime[0], [...runtime.slice(1), "--dir", `/cfg:${dir}`, wasm, "--config", f, "--listen", `udp:127.0.0.1:${port}`], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.add(c);
  const lines = [];
  let err = "";
  let partial = "";
  c.stdout.on("data", (d) => {
    partial += d;
    let i;
    while ((i = partial.indexOf("\n")) >= 0) {
      lines.push(JSON.parse(partial.slice(0, i)));
      partial = partial.slice(i + 1);
    }
  });
  c.stderr.on("data", (d) => (err += d));
  const waitFor = async (pred, ms = 10_000) => {
    const end = Date.now() + ms;
    while (Date.now() < end) {
      const hit = lines.find(pred);
      if (hit) return hit;
      if (c.exitCode !== null) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    throw new Error(`no matching line; stdout ${JSON.stringify(lines)}\nstderr ${err}`);
  };
  const ua = await userAgent(port, { callId: "wasi-auth-1@127.0.0.1" });
  try {
    await waitFor((l) => l.msg === "running");
    assert.deepEqual(lines.find((l) => l.msg === "core ready").auth, { realm: "wasi.example", users: 1 });
    ua.register(1);
    const challenge = await ua.next(5000);
    assert.match(challenge, /^SIP\/2\.0 401 /);
    const offered = challenges(challenge);
    assert.deepEqual(offered.map((x) => x.alg), ["MD5"], "digestAlgorithms default: MD5 only");
    assert.equal(offered[0].realm, "wasi.example");
    ua.register(2, ua.digest({ realm: "wasi.example", nonce: offered[0].nonce, pass: "wonderland" }));
    assert.match(await ua.next(5000), /^SIP\/2\.0 200 /);
    const add = await waitFor((l) => l.msg === "reg-add");
    assert.equal(add.aor, "alice");
    assert.equal(add.expires, 600);
    assert.equal(add.level, "info");
    // never relay for strangers, on this host too: a call to an address and a forged in-dialog
    // request are refused, and the loopback sink hears nothing
    await strangerIsRefused(port);
  } finally {
    ua.close();
    c.kill("SIGTERM");
  }
});

test("a request relayed to a host name is dropped with a warning, never waiting on DNS; OPTIONS stay answered", { timeout: 30_000 }, async () => {
  // The core names the host to send to (peer family 0); this host has no resolver: it sends to an IP
  // literal and drops any other name at once (host/wasi/main.ts "Names"). The machine's resolver is
  // never asked: a lookup would show as a stall of the OPTIONS below, or as a request at the sink.
  const port = await freePort();
  const sink = createSocket("udp4");
  await new Promise((r) => sink.bind(0, "127.0.0.9", r));
  const heard = [];
  sink.on("message", (m) => heard.push(m.toString("latin1")));
  const sock = createSocket("udp4");
  await new Promise((r) => sock.bind(0, "127.0.0.4", r));
  const got = [];
  sock.on("message", (m) => got.push(m.toString("latin1")));
  const f = configFile({ access: { trusted: ["127.0.0.4/32"] } });
  const c = spawn(runtime[0], [...runtime.slice(1), "--dir", `/cfg:${dir}`, wasm, "--config", f, "--listen", `udp:127.0.0.1:${port}`], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.add(c);
  const lines = [];
  let partial = "";
  c.stdout.on("data", (d) => {
    partial += d;
    let i;
    while ((i = partial.indexOf("\n")) >= 0) {
      lines.push(JSON.parse(partial.slice(0, i)));
      partial = partial.slice(i + 1);
    }
  });
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  const req = (method, ruri, id) => [
    `${method} ${ruri} SIP/2.0`, `Via: SIP/2.0/UDP 127.0.0.4:${sock.address().port};rport;branch=z9hG4bK-${id}`, "Max-Forwards: 70",
    `From: <sip:alice@127.0.0.4>;tag=${id}`, `To: <${ruri}>`, `Call-ID: ${id}`, `CSeq: 1 ${method}`,
    `Contact: <sip:alice@127.0.0.4:${sock.address().port}>`, "Content-Length: 0", "", ""].join("\r\n");
  try {
    for (let i = 0; i < 500 && !lines.some((l) => l.msg === "running"); i++) await sleep(20);
    assert.ok(lines.some((l) => l.msg === "running"), `not running: ${JSON.stringify(lines)}`);
    const sinkPort = sink.address().port;
    // an IP literal is sent (the relay works for this source) ...
    sock.send(req("INVITE", `sip:bob@127.0.0.9:${sinkPort}`, "wasi-lit"), port, "127.0.0.1");
    // ... a name is not, and OPTIONS sent meanwhile are answered at once
    sock.send(req("INVITE", `sip:bob@sink.test:${sinkPort}`, "wasi-name"), port, "127.0.0.1");
    const t0 = Date.now();
    for (let k = 0; k < 5; k++) sock.send(req("OPTIONS", `sip:127.0.0.1:${port}`, `wasi-ping${k}`), port, "127.0.0.1");
    for (let i = 0; i < 100 && got.filter((m) => /^SIP\/2\.0 200 .*\r\n[\s\S]*Call-ID: wasi-ping/.test(m)).length < 5; i++) await sleep(10);
    const ms = Date.now() - t0;
    assert.equal(got.filter((m) => /^SIP\/2\.0 200 [\s\S]*Call-ID: wasi-ping/.test(m)).length, 5, `OPTIONS answers: ${got.length} messages`);
    assert.ok(ms < 500, `the OPTIONS took ${ms} ms`);
    await sleep(300);
    assert.ok(heard.some((m) => m.includes("Call-ID: wasi-lit")), "the INVITE to an address did not reach the sink");
    assert.ok(!heard.some((m) => m.includes("Call-ID: wasi-name")), "the INVITE to a name reached the sink");
    const warned = lines.filter((l) => l.msg === "cannot resolve destination (no DNS in the WASI host); dropped");
    assert.ok(warned.length >= 1, JSON.stringify(lines.slice(-5)));
    assert.equal(warned[0].name, "sink.test");
  } finally {
    sock.close();
    sink.close();
    c.kill("SIGTERM");
  }
});
