// The Node host loop against a stand-in core (tests/host/mock-core.ts, compiled here with asc):
// UDP in/out, TCP framing through sip_handle_stream (pending bytes, keepalive, r < 0 closes),
// outgoing TCP connections (conn 0), host-name destinations (family 0), events and timers decoded
// into JSON log lines, SIGTERM, and the start-up message for a core missing an ABI export.
// Binds loopback sockets on ephemeral ports only.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import dgram from "node:dgram";
import net from "node:net";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const cli = join(root, "host", "node", "cli.mjs");
let dir, mockWasm, partialWasm, olderWasm;

function asc(src, out) {
  const r = spawnSync(process.execPath, [join(root, "node_modules/assemblyscript/bin/asc.js"), src, "--outFile", out,
    "--runtime", "stub", "--use", "abort=", "--exportStart", "_initialize", "-O2"], { cwd: root, encoding: "utf8" });
  assert.equal(r.status, 0, `asc ${src}: ${r.stderr}`);
}

before(() => {
  const b = spawnSync(process.execPath, [join(root, "host", "node", "bundle.mjs"), "--quiet"], { cwd: root, encoding: "utf8" });
  assert.equal(b.status, 0, `bundle failed: ${b.stderr}`);
  dir = mkdtempSync(join(tmpdir(), "sipling-loop-"));
  mockWasm = join(dir, "mock.wasm");
  asc(join(root, "tests", "host", "mock-core.ts"), mockWasm);
  const partial = join(dir, "partial.ts");
  writeFileSync(partial, "export function sip_rx_ptr(): usize { return 0; }\n");
  partialWasm = join(dir, "partial.wasm");
  asc(partial, partialWasm);
  // an older core: the mock without config key 22 (DigestAlgorithms)
  const src = readFileSync(join(root, "tests", "host", "mock-core.ts"), "utf8");
  const older = src.replace("(key >= 12 && key <= 24)", "(key >= 12 && key <= 21) || key == 23 || key == 24");
  assert.notEqual(older, src, "the mock's key range");
  writeFileSync(join(dir, "older.ts"), older);
  olderWasm = join(dir, "older.wasm");
  asc(join(dir, "older.ts"), olderWasm);
});
after(() => rmSync(dir, { recursive: true, force: true }));

/** Starts the server; resolves once `count` listening lines (and "running") have been logged. */
function startServer(wasm, args, count) {
  const child = spawn(process.execPath, [cli, ...args], {
    cwd: root, env: { ...process.env, SIPLING_NO_BUILD: "1", SIPLING_WASM: wasm }, stdio: ["ignore", "pipe", "pipe"],
  });
  const lines = [];
  let buf = "";
  const waiters = [];
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
  let stderr = "";
  child.stderr.on("data", (d) => (stderr += d));
  const exited = new Promise((res) => child.on("exit", (code) => res(code)));
  const waitFor = (pred, ms = 3000) => {
    const hit = lines.find(pred);
    if (hit) return Promise.resolve(hit);
    return new Promise((resolve, reject) => {
      const w = { pred, resolve };
      waiters.push(w);
      setTimeout(() => reject(new Error(`timed out waiting; log so far:\n${lines.map((l) => JSON.stringify(l)).join("\n")}\n${stderr}`)), ms);
    });
  };
  return { child, lines, exited, waitFor, stderr: () => stderr };
}

function portOf(listenLine) {
  return Number(/:(\d+)$/.exec(listenLine.listen)[1]);
}

test("the host loop drives a core over UDP and TCP", async () => {
  const s = startServer(mockWasm, ["--listen", "udp:127.0.0.1:0", "--listen", "tcp:127.0.0.1:0", "--trace", "--log-level", "debug"]);
  try {
    await s.waitFor((l) => l.msg === "running");
    const listening = s.lines.filter((l) => l.msg === "listening");
    assert.equal(listening.length, 2, "one log line per listener");
    const udpPort = portOf(listening[0]);
    const tcpPort = portOf(listening[1]);
    assert.match(listening[0].listen, /^udp:127\.0\.0\.1:\d+$/);
    assert.equal(listening[0].advertised, `127.0.0.1:${udpPort}`);

    // UDP echo + reg-add event (with source) + timer-driven call-end event
    const u = dgram.createSocket("udp4");
    await new Promise((r) => u.bind(0, "127.0.0.1", r));
    const reply = new Promise((r) => u.once("message", (m) => r(m.toString())));
    u.send("REGISTER sip:x SIP/2.0\r\n\r\n", udpPort, "127.0.0.1");
    assert.equal(await reply, "ECHO REGISTER sip:x SIP/2.0\r\n\r\n");
    const ev = await s.waitFor((l) => l.msg === "reg-add");
    assert.equal(ev.level, "info");
    assert.equal(ev.aor, "sip:echo@test");
    assert.equal(ev.callId, "c1");
    assert.equal(ev.expires, 3600);
    assert.equal(ev.source, `udp:127.0.0.1:${u.address().port}`);
    const end = await s.waitFor((l) => l.msg === "call-end");
    assert.equal(end.durationMs, 7);
    const tin = await s.waitFor((l) => l.msg === "sip" && l.dir === "in");
    assert.equal(tin.sip, "REGISTER sip:x SIP/2.0\r\n\r\n");
    assert.equal(tin.peer, `udp:127.0.0.1:${u.address().port}`);
    await s.waitFor((l) => l.msg === "sip" && l.dir === "out");

    // host-name destination (family 0): the core asks for "localhost":port over UDP
    const u2 = dgram.createSocket("udp4");
    await new Promise((r) => u2.bind(0, "127.0.0.1", r));
    const named = new Promise((r) => u2.once("message", (m) => r(m.toString())));
    u.send(`NAME ${u2.address().port}`, udpPort, "127.0.0.1");
    assert.equal(await named, `NAME ${u2.address().port}`);

    // TCP: split message, two messages in one chunk, keepalive
    const c = net.connect(tcpPort, "127.0.0.1");
    let got = "";
    c.on("data", (d) => (got += d));
    await new Promise((r) => c.once("connect", r));
    c.write("OPTIONS a\r\n\r\n\r\n\r\nINV");
    await new Promise((r) => setTimeout(r, 50));
    c.write("ITE b\r\n\r\n");
    const deadline = Date.now() + 2000;
    while (got !== "ECHO OPTIONS a\r\n\r\n\r\nECHO INVITE b\r\n\r\n" && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    assert.equal(got, "ECHO OPTIONS a\r\n\r\n\r\nECHO INVITE b\r\n\r\n");

    // a negative result closes the connection, and the core hears of it (mock: table-full, code = conn)
    const closed = new Promise((r) => c.once("close", r));
    c.write("BAD\r\n\r\n");
    await closed;
    const cc = await s.waitFor((l) => l.msg === "table-full");
    assert.equal(cc.level, "warn");
    assert.ok(cc.code >= 1);

    // conn 0 on a stream transport: the host opens a connection and sends on it
    const server = net.createServer();
    const received = new Promise((r) => server.on("connection", (sock) => sock.on("data", (d) => r(d.toString()))));
    await new Promise((r) => server.listen(0, "127.0.0.1", r));
    u.send(`CONNECT ${server.address().port} hello`, udpPort, "127.0.0.1");
    assert.equal(await received, `CONNECT ${server.address().port} hello`);
    server.close();
    u.close();
    u2.close();

    // graceful stop within 1 s
    const t0 = Date.now();
    s.child.kill("SIGTERM");
    assert.equal(await s.exited, 0);
    assert.ok(Date.now() - t0 < 1000, "stopped within 1 s");
    assert.ok(s.lines.some((l) => l.msg === "stopped"));
  } finally {
    s.child.kill("SIGKILL");
  }
});

test("a core lacking an ABI export: binds, then fails naming the export", async () => {
  const s = startServer(partialWasm, ["--listen", "udp:127.0.0.1:0", "--listen", "tcp:127.0.0.1:0"]);
  const code = await s.exited;
  assert.equal(code, 1);
  assert.equal(s.lines.filter((l) => l.msg === "listening").length, 2);
  const err = s.lines.find((l) => l.level === "error");
  assert.equal(err.msg, "core lacks export sip_init: build the core first (npm run build)");
  assert.ok(err.missing.includes("sip_handle_datagram"));
});

test("a core that does not know a key the schema maps: config error naming the key (exit 2), never ignored", async () => {
  const s = startServer(olderWasm, ["--listen", "udp:127.0.0.1:0"]);
  const code = await s.exited;
  assert.equal(code, 2);
  assert.equal(s.stderr(), `config error: "digestAlgorithms": the core does not know config key 22 (DigestAlgorithms): rebuild the core\n`);
  assert.ok(!s.lines.some((l) => l.msg === "running"));
});
