// The hosts' TCP bounds (issue 18; host/shared/config.json "limits"): at most tcpConnections (1,024)
// connections, a further one closing the connection quiet for longest; a connection that holds part of
// a message for tcpPartialSeconds (30 s) is closed. Node and native hosts, side by side; loopback only;
// every child is killed by PID at the end.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import net from "node:net";
import { mkdtempSync, writeFileSync, rmSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { root } from "../lib/core.mjs";
import { hostCommand } from "../lib/hostproc.mjs";
import { freePort } from "../soak/hostile.mjs";

const LIMITS = JSON.parse(readFileSync(join(root, "host", "shared", "config.json"), "utf8")).limits;
const MAX = LIMITS.tcpConnections.value, PARTIAL_S = LIMITS.tcpPartialSeconds.value;
const children = new Set();
const dirs = [];
const socks = new Set();
after(() => {
  for (const s of socks) s.destroy();
  for (const c of children) if (c.exitCode === null && c.signalCode === null) process.kill(c.pid, "SIGKILL");
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function start(host) {
  const dir = mkdtempSync(join(tmpdir(), `sipling-tcpb-${host}-`));
  dirs.push(dir);
  const port = await freePort();
  writeFileSync(join(dir, "cfg.json"), JSON.stringify({ listen: [`tcp:127.0.0.1:${port}`] }));
  const [cmd, args] = hostCommand(host, join(dir, "cfg.json"));
  const child = spawn(cmd, args, { cwd: dir, env: { ...process.env, SIPLING_NO_BUILD: "1" }, stdio: ["ignore", "pipe", "pipe"] });
  children.add(child);
  const st = { child, port, out: "", err: "" };
  child.stdout.on("data", (d) => (st.out += d));
  child.stderr.on("data", (d) => (st.err += d));
  for (let i = 0; i < 200 && !st.out.includes('"msg":"running"'); i++) await sleep(50);
  assert.ok(st.out.includes('"msg":"running"'), `${host} did not start: ${st.err}${st.out}`);
  return st;
}

function connect(port) {
  return new Promise((res, rej) => {
    const s = net.connect({ host: "127.0.0.1", port }, () => res(s));
    socks.add(s);
    s.on("error", rej);
    s.on("close", () => (s.closedAt = performance.now()));
  });
}

/** OPTIONS over a new connection; resolves true when answered within ms. */
async function options(port, ms) {
  const s = await connect(port);
  const m = `OPTIONS sip:127.0.0.1:${port};transport=tcp SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:${s.localPort};branch=z9hG4bKtb${s.localPort}\r\n` +
    `Max-Forwards: 70\r\nFrom: <sip:p@localhost>;tag=t\r\nTo: <sip:127.0.0.1>\r\nCall-ID: tb-${s.localPort}\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n`;
  return new Promise((res) => {
    const t = setTimeout(() => res(false), ms);
    s.on("data", (d) => {
      if (d.toString("latin1").startsWith("SIP/2.0 ")) { clearTimeout(t); res(true); }
    });
    s.write(m);
  });
}

async function stats(st) {
  const from = st.out.length;
  st.child.kill("SIGUSR2");
  for (let i = 0; i < 100; i++) {
    await sleep(50);
    const l = st.out.slice(from).split("\n").find((x) => x.includes('"msg":"stats"'));
    if (l) return JSON.parse(l);
  }
  throw new Error("no stats line after SIGUSR2");
}

async function bounds(host) {
  const st = await start(host);
  // MAX + 20 idle connections, oldest (quietest) first
  const idle = [];
  for (let i = 0; i < MAX + 20; i++) idle.push(await connect(st.port));
  await sleep(1000);
  const closed = idle.filter((s) => s.closedAt !== undefined);
  assert.ok(closed.length >= 20, `${host}: ${closed.length} of ${MAX + 20} idle connections closed by the server (at most ${MAX} may stay)`);
  assert.ok(idle.slice(0, closed.length).every((s) => s.closedAt !== undefined), `${host}: the connections closed are not the quietest (the oldest idle ones)`);
  assert.ok(await options(st.port, 2000), `${host}: no answer to OPTIONS on a new connection with the table full`);
  const s1 = await stats(st);
  assert.ok(s1.tcpEvicted >= 20 && s1.tcpConnections <= MAX, `${host}: stats ${JSON.stringify({ tcpEvicted: s1.tcpEvicted, tcpConnections: s1.tcpConnections })}`);
  // one connection holds half a message and then says nothing more
  const partial = await connect(st.port);
  partial.write("OPTIONS sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:1;branch=z9hG4bKpart\r\n");
  const t0 = performance.now();
  await sleep(1000);
  // the partial message: closed after PARTIAL_S s (swept once a second), not before
  assert.equal(partial.closedAt, undefined, `${host}: the connection holding half a message was closed early`);
  for (let i = 0; i < (PARTIAL_S + 5) * 10 && partial.closedAt === undefined; i++) await sleep(100);
  assert.ok(partial.closedAt !== undefined, `${host}: a connection holding half a message for ${PARTIAL_S + 5} s is still open`);
  const secs = (partial.closedAt - t0) / 1000;
  assert.ok(secs >= PARTIAL_S - 0.5 && secs <= PARTIAL_S + 3, `${host}: closed after ${secs.toFixed(1)} s (want ${PARTIAL_S} s)`);
  const s2 = await stats(st);
  assert.ok(s2.tcpPartialClosed >= 1, `${host}: tcpPartialClosed ${s2.tcpPartialClosed}`);
  st.child.kill("SIGTERM");
}

test("node and native: TCP connections bounded (the quietest closed) and a half message closed after tcpPartialSeconds", { timeout: 120_000 }, async () => {
  await Promise.all([bounds("node"), bounds("native")]);
});
