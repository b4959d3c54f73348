// Log output to a reader that stops reading (issue 18): the server's stdout is a pipe nobody reads
// while it is flooded with traced OPTIONS. The server must keep answering (a blocking write to the full
// pipe would stop it), hold at most LIMITS.logQueueBytes of lines, drop the rest and say so: once the
// pipe is read again a "log lines dropped" line gives the count, and the stats line has logDropped.
// Node and native hosts; loopback only; every child is killed by PID at the end.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import dgram from "node:dgram";
import { mkdtempSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { root } from "../lib/core.mjs";
import { hostCommand, ask as askFor } from "../lib/hostproc.mjs";
import { freePort } from "../soak/hostile.mjs";

const children = new Set();
const dirs = [];
after(() => {
  for (const c of children) {
    if (c.exitCode !== null || c.signalCode !== null) continue;
    try {
      process.kill(c.pid, "SIGKILL");
    } catch {
      /* gone already (QEMU stops with its bridge) */
    }
  }
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function options(port, from, seq, ua = 300) {
  return Buffer.from(
    `OPTIONS sip:127.0.0.1:${port} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:${from};branch=z9hG4bKblk${seq}x;rport\r\n` +
      `Max-Forwards: 70\r\nFrom: <sip:p@localhost>;tag=b${seq}\r\nTo: <sip:127.0.0.1:${port}>\r\nCall-ID: blk-${seq}@test\r\n` +
      `CSeq: 1 OPTIONS\r\nUser-Agent: ${"x".repeat(ua)}\r\nContent-Length: 0\r\n\r\n`,
    "latin1",
  );
}

/** Sends OPTIONS seq and resolves the answer time (ms) or -1 after ms. */
const ask = (sock, port, seq, ms, ua) => askFor(sock, port, options(port, sock.address().port, seq, ua), `branch=z9hG4bKblk${seq}x`, ms);

/** 20 OPTIONS one after another while stdout is full: every one answered within ms. */
/** 4,000 traced OPTIONS, in bursts of 100 (each is two log lines of ~1 KB: ~8 MB of log). */
async function flood(sock, port) {
  for (let i = 0; i < 4000; i++) {
    sock.send(options(port, sock.address().port, i), port, "127.0.0.1");
    if (i % 100 === 99) await sleep(5);
  }
}

async function liveWhileFull(sock, port, ms) {
  const times = [];
  for (let i = 0; i < 20; i++) times.push(await ask(sock, port, 2e6 + i, ms));
  const missed = times.filter((t) => t < 0).length;
  assert.equal(missed, 0, `${missed} of 20 OPTIONS unanswered while stdout was full (answer times ${times.map((t) => t.toFixed(1)).join(", ")})`);
}

for (const host of ["node", "native"]) {
  test(`${host}: a stdout nobody reads does not stop the server; dropped log lines are counted and reported`, { timeout: 90_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), `sipling-blocked-${host}-`));
    dirs.push(dir);
    const port = await freePort();
    writeFileSync(join(dir, "cfg.json"), JSON.stringify({ listen: [`udp:127.0.0.1:${port}`], logLevel: "debug", trace: true }));
    const [cmd, args] = hostCommand(host, join(dir, "cfg.json"));
    const child = spawn(cmd, args, { cwd: dir, env: { ...process.env, SIPLING_NO_BUILD: "1" }, stdio: ["ignore", "pipe", "pipe"] });
    children.add(child);
    child.stdout.pause(); // nobody reads: the pipe fills
    let stderr = "";
    child.stderr.on("data", (d) => (stderr += d));
    const sock = dgram.createSocket("udp4");
    await new Promise((r) => sock.bind(0, "127.0.0.1", r));
    try {
      let up = -1;
      for (let i = 0; i < 100 && up < 0 && child.exitCode === null; i++) up = await ask(sock, port, 1e6 + i, 100);
      assert.ok(up >= 0, `the server did not answer OPTIONS after start-up: ${stderr}`);

      // the flood: each traced OPTIONS is two lines of ~1 KB: 4,000 of them are ~8 MB of log
      await flood(sock, port);
      await sleep(300);
      // liveness while the pipe is still full
      await liveWhileFull(sock, port, 1000);
      assert.equal(child.exitCode, null, `the server exited: ${stderr}`);

      // read again: the dropped count comes out, and the stats line (SIGUSR2) has the total
      let out = "";
      child.stdout.on("data", (d) => (out += d));
      child.stdout.resume();
      await sleep(500);
      child.kill("SIGUSR2");
      let stats = null;
      for (let i = 0; i < 100 && !stats; i++) {
        await sleep(50);
        stats = out.split("\n").find((l) => l.includes('"msg":"stats"') && l.includes('"signal":"SIGUSR2"'));
      }
      assert.ok(stats, `no stats line after SIGUSR2; stdout ends: ${out.slice(-500)}`);
      const total = JSON.parse(stats).logDropped;
      assert.ok(Number.isInteger(total) && total > 0, `logDropped in the stats line: ${stats.slice(0, 300)}`);
      const reports = out.split("\n").filter((l) => l.includes('"msg":"log lines dropped"')).map((l) => JSON.parse(l));
      assert.ok(reports.length >= 1, "no \"log lines dropped\" line once stdout was read again");
      const counted = reports.reduce((a, r) => a + r.count, 0);
      assert.ok(counted > 0 && counted <= total, `dropped lines reported ${counted}, stats total ${total}`);
      // the queue bound: of ~8,000 lines at most 1 MiB waited (plus what the pipe holds), most dropped
      assert.ok(total > 2000, `only ${total} lines dropped of ~8,000 (the queue is bounded at 1 MiB)`);

      child.kill("SIGTERM");
      const code = await Promise.race([new Promise((r) => child.on("exit", (c) => r(c))), sleep(5000).then(() => "timeout")]);
      assert.equal(code, 0, `exit after SIGTERM: ${code} ${stderr}`);
      assert.match(out, /"msg":"stopped"/);
    } finally {
      sock.close();
    }
  });
}

// The WASI host (WasmEdge, which lets no module set O_NONBLOCK on stdout): it polls stdout before each
// write, keeps what the pipe cannot take (its 64 KiB buffer is the bound) and drops whole lines beyond
// it, reported by one "log lines dropped" line once the pipe drains. It has no stats line.
test("wasi: a stdout nobody reads does not stop the server; dropped log lines are reported", { timeout: 120_000 }, async () => {
  const w = spawnSync("sh", [join(root, "tools", "wasmedge.sh")], { cwd: root, encoding: "utf8", timeout: 300_000 });
  assert.equal(w.status, 0, `tools/wasmedge.sh failed:\n${w.stderr}`);
  const runtime = w.stdout.trim().split("\n").pop().split(" ");
  const b = spawnSync(process.execPath, [join(root, "tools", "wasi.mjs"), "--quiet"], { cwd: root, encoding: "utf8", timeout: 120_000 });
  assert.equal(b.status, 0, `tools/wasi.mjs failed:\n${b.stderr}`);
  const port = await freePort();
  const child = spawn(runtime[0], [...runtime.slice(1), join(root, "build", "wasi", "sipling-wasi.wasm"),
    "--listen", `udp:127.0.0.1:${port}`, "--trace", "--log-level", "debug"], { stdio: ["ignore", "pipe", "pipe"] });
  children.add(child);
  let out = "";
  let stderr = "";
  child.stderr.on("data", (d) => (stderr += d));
  // read until it runs, then stop reading: the pipe fills
  const onOut = (d) => (out += d);
  child.stdout.on("data", onOut);
  for (let i = 0; i < 200 && !/"msg":"running"/.test(out); i++) await sleep(50);
  assert.match(out, /"msg":"running".*"stdout":"non-blocking"/, `started, stdout polled: ${out.slice(-400)} ${stderr}`);
  child.stdout.off("data", onOut);
  child.stdout.pause();
  const sock = dgram.createSocket("udp4");
  await new Promise((r) => sock.bind(0, "127.0.0.1", r));
  try {
    await flood(sock, port);
    // WasmEdge's interpreter reads ~1,300 datagrams/s here: let it work through the flood, with the
    // pipe still full, before the liveness probes
    await sleep(4000);
    await liveWhileFull(sock, port, 1000);
    assert.equal(child.exitCode, null, `the server exited: ${stderr}`);
    // read again, and make it log one more line: the report comes first once its buffer has drained
    let later = "";
    child.stdout.on("data", (d) => (later += d));
    child.stdout.resume();
    await sleep(500);
    for (let i = 0; i < 20 && !/"msg":"log lines dropped"/.test(later); i++) {
      await ask(sock, port, 3e6 + i, 500);
      await sleep(100);
    }
    const reports = later.split("\n").filter((l) => l.includes('"msg":"log lines dropped"')).map((l) => JSON.parse(l));
    assert.ok(reports.length >= 1, `no "log lines dropped" line once stdout was read again: ${later.slice(-400)}`);
    const counted = reports.reduce((a, r) => a + r.count, 0);
    assert.ok(counted > 2000, `only ${counted} lines reported dropped of ~8,000 (the buffer holds 64 KiB)`);
    // every line that came out is whole JSON
    for (const l of later.split("\n").filter(Boolean)) assert.doesNotThrow(() => JSON.parse(l), l.slice(0, 200));
  } finally {
    sock.close();
    child.kill("SIGKILL");
  }
});

// The firmware bridge: its lines go through host/shared/logstream.mjs (the same 1 MiB bound; the
// bound and the dropped-line reports are tested in tests/host/logstream.test.mjs, since the firmware's
// UART, ~10 KB/s under QEMU here, cannot carry enough traffic to log megabytes in a test). Here: with
// its stdout unread and every message traced, and a flood faster than the UART, the bridge keeps
// answering (at most limits.bridgeUartBytes wait for the UART: before, every datagram was queued), and
// its stats line counts the datagrams it dropped (uartDropped) and logDropped.
test("firmware bridge: a stdout nobody reads and a flood faster than its UART: it keeps answering, both queues bounded", { timeout: 180_000 }, async () => {
  const fw = await import(join(root, "tools", "firmware.mjs"));
  fw.firmwareSizes({ build: true }); // builds when stale
  const child = spawn(process.execPath, [join(root, "host", "firmware", "bridge.mjs"), "--listen", "udp:127.0.0.1:0", "--trace",
    "--log-level", "debug"], { stdio: ["pipe", "pipe", "pipe"] });
  children.add(child);
  let out = "";
  let stderr = "";
  child.stderr.on("data", (d) => (stderr += d));
  const onOut = (d) => (out += d);
  child.stdout.on("data", onOut);
  for (let i = 0; i < 600 && !/"msg":"running"/.test(out); i++) await sleep(50);
  const running = out.split("\n").find((l) => l.includes('"msg":"running"'));
  assert.ok(running, `the bridge did not start: ${out.slice(-400)} ${stderr}`);
  const r = JSON.parse(running);
  children.add({ pid: r.qemuPid, exitCode: null, signalCode: null });
  const port = Number(r.listen[0].split(":").pop());
  child.stdout.off("data", onOut);
  child.stdout.pause();
  const sock = dgram.createSocket("udp4");
  await new Promise((res) => sock.bind(0, "127.0.0.1", res));
  try {
    // ~1 MB of datagrams in one go: ~100 s of the UART's time, far more than its 64 KiB queue
    for (let i = 0; i < 600; i++) {
      sock.send(options(port, sock.address().port, i, 1500), port, "127.0.0.1");
      if (i % 50 === 49) await sleep(5);
    }
    let caught = -1;
    for (let i = 0; i < 20 && caught < 0; i++) caught = await ask(sock, port, 1.5e6 + i, 1000);
    assert.ok(caught >= 0, `the bridge answered nothing within 20 s of the flood, its stdout unread: ${stderr.slice(-300)}`);
    await liveWhileFull(sock, port, 2000);
    assert.equal(child.exitCode, null, `the bridge exited: ${stderr}`);
    let later = "";
    child.stdout.on("data", (d) => (later += d));
    child.stdout.resume();
    await sleep(1000);
    child.stdin.write("stats\n");
    let stats = null;
    for (let i = 0; i < 100 && !stats; i++) {
      await sleep(50);
      stats = later.split("\n").find((l) => l.includes('"msg":"stats"'));
    }
    assert.ok(stats, `no stats line: ${later.slice(-400)}`);
    const st = JSON.parse(stats);
    assert.ok(Number.isInteger(st.logDropped), `logDropped in the stats line: ${stats.slice(0, 300)}`);
    assert.ok(st.uartDropped > 100, `datagrams beyond the UART's queue dropped: ${st.uartDropped}`);
    for (const l of later.split("\n").filter(Boolean)) assert.doesNotThrow(() => JSON.parse(l), l.slice(0, 200));
  } finally {
    sock.close();
    child.stdin.write("stop\n");
    await Promise.race([new Promise((res) => child.once("exit", res)), sleep(3000)]);
  }
});
