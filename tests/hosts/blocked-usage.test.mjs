// The usage log to a FIFO whose reader stops reading (issue 18): the file is written without blocking,
// at most LIMITS.usageQueueBytes of records wait, the rest are dropped and counted (usageDropped in the
// stats line, and "lost" on the next record written), and the server keeps answering. Node and native
// hosts; loopback only; every child is killed by PID at the end.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import dgram from "node:dgram";
import { mkdtempSync, writeFileSync, rmSync, openSync, closeSync, readSync, constants } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { hostCommand, ask as askFor } from "../lib/hostproc.mjs";
import { freePort } from "../soak/hostile.mjs";

const children = new Set();
const dirs = [];
const fds = [];
after(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) process.kill(c.pid, "SIGKILL");
  for (const fd of fds) closeSync(fd);
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** A request for another domain from a stranger: refused (403), one usage record (policy-refusal). */
function stranger(port, from, seq) {
  return Buffer.from(
    `OPTIONS sip:u${seq}@elsewhere.invalid SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:${from};branch=z9hG4bKusg${seq}x;rport\r\n` +
      `Max-Forwards: 70\r\nFrom: <sip:p@localhost>;tag=u${seq}\r\nTo: <sip:u${seq}@elsewhere.invalid>\r\nCall-ID: usg-${seq}@test\r\n` +
      `CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n`,
    "latin1",
  );
}

/** One stranger's request and its answer time (ms), or -1 after ms. */
const ask = (sock, port, seq, ms) => askFor(sock, port, stranger(port, sock.address().port, seq), `branch=z9hG4bKusg${seq}x`, ms);

for (const host of ["node", "native"]) {
  test(`${host}: a usage-log FIFO nobody reads does not stop the server; dropped records are counted`, { timeout: 90_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), `sipling-usage-fifo-${host}-`));
    dirs.push(dir);
    const fifo = join(dir, "usage.fifo");
    assert.equal(spawnSync("mkfifo", [fifo]).status, 0, "mkfifo failed");
    const reader = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK); // a reader that never reads
    fds.push(reader);
    const port = await freePort();
    writeFileSync(join(dir, "cfg.json"), JSON.stringify({ listen: [`udp:127.0.0.1:${port}`], usageLog: fifo, logLevel: "info" }));
    const [cmd, args] = hostCommand(host, join(dir, "cfg.json"));
    const child = spawn(cmd, args, { cwd: dir, env: { ...process.env, SIPLING_NO_BUILD: "1" }, stdio: ["ignore", "pipe", "pipe"] });
    children.add(child);
    let out = "", stderr = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (stderr += d));
    const sock = dgram.createSocket("udp4");
    await new Promise((r) => sock.bind(0, "127.0.0.1", r));
    try {
      let up = -1;
      for (let i = 0; i < 100 && up < 0 && child.exitCode === null; i++) up = await ask(sock, port, 1e6 + i, 100);
      assert.ok(up >= 0, `the server did not answer after start-up: ${stderr}${out}`);
      // ~12,000 records of ~200 bytes: 2.4 MB against a 64 KiB pipe and a 1 MiB queue
      for (let i = 0; i < 12000; i++) {
        sock.send(stranger(port, sock.address().port, i), port, "127.0.0.1");
        if (i % 100 === 99) await sleep(5);
      }
      await sleep(500);
      const times = [];
      for (let i = 0; i < 20; i++) times.push(await ask(sock, port, 2e6 + i, 1000));
      const missed = times.filter((t) => t < 0).length;
      assert.equal(missed, 0, `${missed} of 20 requests unanswered while the usage FIFO was full`);
      child.kill("SIGUSR2");
      let stats = null;
      for (let i = 0; i < 100 && !stats; i++) {
        await sleep(50);
        stats = out.split("\n").find((l) => l.includes('"msg":"stats"') && l.includes('"signal":"SIGUSR2"'));
      }
      assert.ok(stats, `no stats line after SIGUSR2: ${out.slice(-500)}`);
      const dropped = JSON.parse(stats).usageDropped;
      assert.ok(Number.isInteger(dropped) && dropped > 5000, `usageDropped ${dropped} of ~12,000 records (1 MiB queue)`);
      // drain the FIFO now: what waited comes out, and the next record says how many were lost
      const buf = Buffer.alloc(1 << 20);
      let text = "";
      const deadline = Date.now() + 10_000;
      for (let i = 0; Date.now() < deadline; i++) {
        let n = 0;
        try {
          n = readSync(reader, buf, 0, buf.length, null);
        } catch (e) {
          if (e.code !== "EAGAIN") throw e;
        }
        text += buf.toString("latin1", 0, n);
        if (i === 5) await ask(sock, port, 3e6, 1000); // one more record, after the drops
        if (/"lost":\d+/.test(text.slice(-2000)) && n === 0) break;
        await sleep(100);
      }
      const lost = [...text.matchAll(/"lost":(\d+)/g)].map((m) => Number(m[1]));
      assert.ok(lost.length >= 1, `no record carries "lost" after the drops (read ${text.length} bytes)`);
      assert.ok(lost.reduce((a, b) => a + b, 0) >= dropped, `records lost ${lost} < usageDropped ${dropped}`);
      assert.equal(child.exitCode, null, `the server exited: ${stderr}`);
      child.kill("SIGTERM");
      const code = await Promise.race([new Promise((r) => child.on("exit", (c) => r(c))), sleep(5000).then(() => "timeout")]);
      assert.equal(code, 0, `exit after SIGTERM: ${code} ${stderr}`);
    } finally {
      sock.close();
    }
  });
}
