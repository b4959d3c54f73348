// Name resolution on the firmware bridge (host/firmware/bridge.mjs with host/shared/resolver.mjs): a
// 'D' frame to a host name is resolved against dns.servers, here only our own loopback DNS server
// (tests/lib/dns-server.mjs), never the machine's resolver. A trusted source's INVITE to a name the
// server answers (A 127.0.0.9) reaches 127.0.0.9; one answered NXDOMAIN is asked once (negative cache;
// it has no port: NAPTR, SRV and A once each)
// while an OPTIONS to the proxy itself keeps being answered. Fails (never skips) when qemu-system-arm,
// arm-none-eabi-gcc or wasm2c is missing. Every child is stopped by its PID.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { createSocket } from "node:dgram";
import { createInterface } from "node:readline";
import { setTimeout as sleep } from "node:timers/promises";
import { DnsServer } from "../lib/dns-server.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const bridgePath = join(root, "host", "firmware", "bridge.mjs");
const has = (cmd) => spawnSync("sh", ["-c", `command -v ${cmd}`]).status === 0;
const missing = ["qemu-system-arm", "arm-none-eabi-gcc", "wasm2c"].filter((c) => !has(c));
if (missing.length) throw new Error(`missing: ${missing.join(", ")} (tools/setup.mjs installs them)`);

let dir, bridge, dns, sink, alice, port;
const children = new Set();
const lines = [];
const got = [];

async function udp(address) {
  const s = createSocket("udp4");
  await new Promise((res, rej) => { s.once("error", rej); s.bind(0, address, () => { s.off("error", rej); res(); }); });
  return s;
}

async function waitLine(pred, ms, from = 0) {
  for (const end = Date.now() + ms; Date.now() < end; await sleep(25)) {
    const hit = lines.slice(from).find(pred);
    if (hit) return hit;
  }
  throw new Error(`no matching bridge line within ${ms} ms; last: ${JSON.stringify(lines.slice(-5))}`);
}

let seq = 0;
function request(method, ruri, from, sock) {
  const id = `fwdns${process.pid}x${seq++}`;
  const p = sock.address().port;
  sock.send([
    `${method} ${ruri} SIP/2.0`, `Via: SIP/2.0/UDP ${from}:${p};rport;branch=z9hG4bK-${id}`, "Max-Forwards: 70",
    `From: <sip:alice@${from}>;tag=${id}`, `To: <${ruri}>`, `Call-ID: ${id}`, `CSeq: 1 ${method}`,
    `Contact: <sip:alice@${from}:${p}>`, "Content-Length: 0", "", ""].join("\r\n"), port, "127.0.0.1");
  return id;
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "sipling-fw-dns-"));
  const fw = await import(join(root, "tools", "firmware.mjs"));
  fw.firmwareSizes({ build: true }); // builds when stale
  dns = await DnsServer.open({ answers: { "sink.test": { a: ["127.0.0.9"], ttl: 60 } }, other: "nxdomain" });
  sink = await udp("127.0.0.9");
  sink.on("message", (m) => got.push(m.toString("latin1")));
  alice = await udp("127.0.0.4");
  const cfg = join(dir, "config.json");
  writeFileSync(cfg, JSON.stringify({ access: { trusted: ["127.0.0.4/32"] }, dns: { servers: [dns.server] } }));
  bridge = spawn(process.execPath, [bridgePath, "--config", cfg, "--listen", "udp:127.0.0.1:0"], { stdio: ["pipe", "pipe", "pipe"] });
  children.add(bridge.pid);
  bridge.stderr.on("data", (d) => process.stderr.write(d));
  createInterface({ input: bridge.stdout }).on("line", (l) => {
    try { lines.push(JSON.parse(l)); } catch { lines.push({ msg: "raw", text: l }); }
  });
  const running = await waitLine((j) => j.msg === "running", 30000);
  children.add(running.qemuPid);
  port = Number(running.listen[0].split(":").pop());
});

after(async () => {
  if (bridge && bridge.exitCode === null) {
    bridge.stdin.write("stop\n");
    await Promise.race([new Promise((r) => bridge.once("exit", r)), sleep(3000)]);
  }
  for (const pid of children) {
    try { process.kill(pid, "SIGKILL"); } catch { /* gone */ }
  }
  sink?.close();
  alice?.close();
  dns?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test("firmware bridge: an INVITE to a name the DNS server answers reaches its address; the name is asked once", { timeout: 20000 }, async () => {
  const ruri = `sip:bob@sink.test:${sink.address().port}`;
  const a = request("INVITE", ruri, "127.0.0.4", alice);
  for (let i = 0; i < 100 && !got.some((m) => m.includes(a)); i++) await sleep(50);
  const b = request("INVITE", ruri, "127.0.0.4", alice);
  for (let i = 0; i < 100 && !got.some((m) => m.includes(b)); i++) await sleep(50);
  assert.ok(got.some((m) => m.includes(a)), `nothing reached 127.0.0.9 for the first INVITE; DNS saw ${JSON.stringify(dns.queries)}`);
  assert.ok(got.some((m) => m.includes(b)), "nothing reached 127.0.0.9 for the second INVITE");
  assert.equal(dns.count("sink.test"), 1, JSON.stringify(dns.queries));
});

test("firmware bridge: a name answered NXDOMAIN is asked once; the proxy keeps answering OPTIONS", { timeout: 20000 }, async () => {
  const prober = await udp("127.0.0.2");
  const answered = new Set();
  prober.on("message", (m) => {
    const id = /\r\nCall-ID: *([^\r]+)/i.exec(m.toString("latin1"))?.[1];
    if (/^SIP\/2\.0 200 /.test(m.toString("latin1")) && id) answered.add(id);
  });
  try {
    const pings = [];
    for (let i = 0; i < 4; i++) {
      request("INVITE", "sip:bob@gone.test", "127.0.0.4", alice);
      pings.push(request("OPTIONS", `sip:127.0.0.1:${port}`, "127.0.0.2", prober));
      await sleep(300);
    }
    await sleep(1500); // retransmissions meet the negative cache too
    // no port: one RFC 3263 lookup (NAPTR, SRV, then A of the name itself), each asked once
    const asked = (name, type) => dns.queries.filter((q) => q.name === name && q.type === type).length;
    const all = JSON.stringify(dns.queries);
    assert.equal(asked("gone.test", 35), 1, `NAPTR queries: ${all}`);
    assert.equal(asked("_sip._udp.gone.test", 33), 1, `SRV queries: ${all}`);
    assert.equal(asked("gone.test", "A"), 1, `A queries: ${all}`);
    assert.deepEqual(pings.filter((id) => !answered.has(id)), [], "unanswered OPTIONS");
    const from = lines.length;
    bridge.stdin.write("stats\n");
    const s = await waitLine((j) => j.msg === "stats", 5000, from);
    assert.equal(s.dnsFailures, 1, JSON.stringify(s));
    assert.ok(s.dnsNegativeHits >= 3, JSON.stringify(s));
    assert.equal(s.dnsAnswers, 1, JSON.stringify(s));
  } finally {
    prober.close();
  }
});
