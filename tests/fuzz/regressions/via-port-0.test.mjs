// Regression for the fuzz finding tests/fuzz/crashes/via-port-0.bin (slow path): one UDP datagram, an
// OPTIONS whose top Via is "SIP/2.0/UDP 192.0.2.1:0" (no rport). The core answers it to port 0 (the Via's
// sent-by port, §18.2.2), the Node host passes that to dgram.send, which throws ERR_SOCKET_BAD_PORT,
// and the server logs "internal error" and exits 1: any single datagram takes the server down.
// Expected: the core refuses (or drops) a destination port 0, and/or the host never throws on a send.
// Fixed; this test keeps it fixed.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { spawn } from "node:child_process";
import dgram from "node:dgram";
import net from "node:net";
import { FuzzCore, peerRecord } from "../core.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..", "..", "..");
const input = readFileSync(join(here, "..", "crashes", "via-port-0.bin"));

for (const board of ["server", "micro"]) {
  test(`via-port-0 (${board}): the core never asks for a send to port 0`, () => {
    const ports = [];
    const core = new FuzzCore({ board, seed: 1, record: false, onTransmit: (b, meta) => ports.push(meta.readUInt16LE(6)) });
    core.datagram(1000, peerRecord(0, 1, "192.0.2.1", 5062), input);
    assert.ok(!ports.includes(0), `transmit ports: ${ports.join(", ")}`);
  });
}

test("via-port-0: the real server survives the datagram and still answers OPTIONS", { timeout: 20_000 }, async () => {
  const port = await new Promise((res) => { const s = net.createServer(); s.listen(0, "127.0.0.1", () => { const p = s.address().port; s.close(() => res(p)); }); });
  const child = spawn(process.execPath, [join(root, "host", "node", "cli.mjs"), "--listen", `udp:127.0.0.1:${port}`], {
    cwd: root, env: { ...process.env, SIPLING_NO_BUILD: "1" }, stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stdout.on("data", (d) => (out += d));
  const exited = new Promise((r) => child.on("exit", (code) => r(code)));
  const sock = dgram.createSocket("udp4");
  try {
    for (let i = 0; i < 100 && !out.includes('"running"'); i++) await new Promise((r) => setTimeout(r, 50));
    await new Promise((r) => sock.bind(0, "127.0.0.1", r));
    sock.send(input, port, "127.0.0.1");
    await new Promise((r) => setTimeout(r, 300));
    const probe = Buffer.from(`OPTIONS sip:127.0.0.1:${port} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:${sock.address().port};branch=z9hG4bKprobe;rport\r\nMax-Forwards: 70\r\nFrom: <sip:p@localhost>;tag=1\r\nTo: <sip:127.0.0.1>\r\nCall-ID: probe@fuzz\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n`, "latin1");
    const answered = new Promise((r) => { sock.on("message", (m) => { if (m.toString("latin1").startsWith("SIP/2.0 200")) r(true); }); setTimeout(() => r(false), 2000); });
    sock.send(probe, port, "127.0.0.1");
    const ok = await answered;
    const code = await Promise.race([exited, new Promise((r) => setTimeout(() => r("running"), 10))]);
    assert.ok(ok && code === "running", `server ${code === "running" ? "alive but silent" : `exited with ${code}`}; log: ${out.split("\n").filter((l) => l.includes("error")).join("\n").slice(0, 800)}`);
  } finally {
    sock.close();
    child.kill("SIGKILL");
  }
});
