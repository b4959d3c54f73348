// Slow path of the ABI fuzzer: the real server (host/node/cli.mjs, bundled core) on fresh loopback
// ports, fed mutated inputs over UDP and TCP (random splits and coalesced messages on a few
// connections, reconnecting when the server closes one). Every `checkEvery` inputs it must still answer
// an OPTIONS; at the end it must answer once more and stop cleanly on SIGTERM (exit 0, "stopped").
// Bounded by count and by time. Addresses 127.0.0.1 in the inputs are rewritten to 127.0.0.3 so what
// the server forwards goes nowhere (never to another process on this machine).
import { spawn } from "node:child_process";
import dgram from "node:dgram";
import net from "node:net";
import { join } from "node:path";
import { root } from "../lib/core.mjs";
import { makeRng, mutate, mutateStructured, sipRequest, replaceAll, SDP } from "../lib/corpus.mjs";
import { loadSeeds } from "./fast.mjs";

const cli = join(root, "host", "node", "cli.mjs");
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function freePort() {
  for (let i = 0; i < 50; i++) {
    const port = await new Promise((res) => {
      const s = net.createServer();
      s.listen(0, "127.0.0.1", () => { const p = s.address().port; s.close(() => res(p)); });
    });
    const ok = await new Promise((res) => {
      const u = dgram.createSocket("udp4");
      u.once("error", () => { u.close(); res(false); });
      u.bind(port, "127.0.0.1", () => u.close(() => res(true)));
    });
    if (ok) return port;
  }
  throw new Error("no free port");
}

function startServer(port) {
  const child = spawn(process.execPath, [cli, "--listen", `udp:127.0.0.1:${port}`, "--listen", `tcp:127.0.0.1:${port}`, "--log-level", "info"], {
    cwd: root, env: { ...process.env, SIPLING_NO_BUILD: "1" }, stdio: ["ignore", "pipe", "pipe"],
  });
  const st = { child, lines: 0, stopped: false, running: false, stderr: "", exit: null, tail: [] };
  let buf = "";
  child.stdout.setEncoding("utf8");
  child.stdout.on("data", (d) => {
    buf += d;
    let i;
    while ((i = buf.indexOf("\n")) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      st.lines++;
      if (line.includes('"msg":"running"') || line.includes('"running"')) st.running = true;
      if (line.includes('"stopped"')) st.stopped = true;
      st.tail.push(line);
      if (st.tail.length > 20) st.tail.shift();
    }
  });
  child.stderr.setEncoding("utf8");
  child.stderr.on("data", (d) => { st.stderr = (st.stderr + d).slice(-4000); });
  st.exited = new Promise((res) => child.on("exit", (code, sig) => { st.exit = { code, sig }; res(st.exit); }));
  return st;
}

/** OPTIONS to the server over UDP; resolves true when a 200 comes back (3 tries). */
async function optionsOk(sock, port, seq) {
  for (let attempt = 0; attempt < 3; attempt++) {
    const branch = `z9hG4bKprobe${seq}x${attempt}`;
    const m = sipRequest({
      method: "OPTIONS", ruri: `sip:127.0.0.1:${port}`, via: `SIP/2.0/UDP 127.0.0.1:${sock.address().port};branch=${branch};rport`,
      from: "<sip:probe@localhost>", fromTag: `p${seq}`, to: `<sip:127.0.0.1:${port}>`, callId: `probe-${seq}-${attempt}@fuzz`, cseq: 1,
    });
    const got = new Promise((res) => {
      const t = setTimeout(() => { sock.off("message", on); res(false); }, 1500);
      const on = (msg) => {
        const s = msg.toString("latin1");
        if (s.startsWith("SIP/2.0 200") && s.includes(branch)) { clearTimeout(t); sock.off("message", on); res(true); }
      };
      sock.on("message", on);
    });
    sock.send(m, port, "127.0.0.1");
    if (await got) return true;
  }
  return false;
}

const LOOP = Buffer.from("127.0.0.1", "latin1");
const ELSEWHERE = Buffer.from("127.0.0.3", "latin1");

/**
 * Runs the slow path. opts: { seed, count, maxSecs, checkEvery, log }.
 * Returns { inputs, udp, tcp, secs, checks, reconnects, ok: true } or throws an Error naming the failure.
 */
export async function runSlow(opts = {}) {
  const seed = (opts.seed ?? 1) >>> 0;
  const count = opts.count ?? 2000;
  const maxSecs = opts.maxSecs ?? 60;
  const checkEvery = opts.checkEvery ?? 500;
  const log = opts.log ?? (() => {});
  const rng = makeRng(seed ^ 0x51041);
  const seeds = loadSeeds({ protos: opts.protos !== false });
  const port = await freePort();
  const srv = startServer(port);
  const t0 = performance.now();
  const fail = (what) => {
    const e = new Error(`slow path: ${what}\n  server exit: ${JSON.stringify(srv.exit)}\n  stderr: ${srv.stderr.slice(-1500)}\n  last log lines:\n    ${srv.tail.slice(-8).join("\n    ")}`);
    e.kind = "slow";
    return e;
  };
  const probe = dgram.createSocket("udp4");
  const udp = dgram.createSocket("udp4");
  await new Promise((r) => probe.bind(0, "127.0.0.1", r));
  await new Promise((r) => udp.bind(0, "127.0.0.1", r));
  udp.on("message", () => {});
  udp.on("error", () => {});
  const conns = [];
  let reconnects = 0, udpN = 0, tcpN = 0, checks = 0, i = 0;
  const newConn = () => {
    const s = net.connect({ host: "127.0.0.1", port });
    const c = { s, closed: false };
    s.on("data", () => {});
    s.on("error", () => {});
    s.on("close", () => { c.closed = true; });
    return c;
  };
  try {
    // ready: "running" logged and OPTIONS answered
    for (let w = 0; !srv.running && w < 200 && !srv.exit; w++) await sleep(50);
    if (!srv.running) throw fail("the server did not start");
    if (!(await optionsOk(probe, port, 0))) throw fail("no answer to OPTIONS after start-up");
    checks++;
    for (let k = 0; k < 3; k++) conns.push(newConn());
    for (; i < count; i++) {
      if ((performance.now() - t0) / 1000 > maxSecs) { log(`slow path: time limit after ${i} inputs`); break; }
      if (srv.exit) throw fail(`the server exited during the run (after ${i} inputs)`);
      let m = rng.chance(0.5) ? rng.pick(seeds.corpus) : seeds.protos && rng.chance(0.5) ? rng.pick(seeds.protos) : template(rng);
      m = rng.chance(0.5) ? mutate(m, rng, 65000) : rng.chance(0.8) ? mutateStructured(m, rng, 65000) : m;
      m = replaceAll(m, LOOP, ELSEWHERE);
      if (rng.chance(0.55)) {
        if (m.length <= 65000) { udp.send(m, port, "127.0.0.1"); udpN++; }
      } else {
        let c = rng.pick(conns);
        if (c.closed) {
          conns.splice(conns.indexOf(c), 1);
          c = newConn();
          conns.push(c);
          reconnects++;
        }
        let data = m;
        if (rng.chance(0.3)) data = Buffer.concat([m, mutate(rng.pick(seeds.corpus), rng, 4000)]); // coalesced
        if (rng.chance(0.4) && data.length > 2) { // random splits, each its own write
          let s = 0;
          for (let k = 1 + rng.int(4); k > 0 && s < data.length; k--) {
            const x = Math.min(data.length, s + 1 + rng.int(data.length - s));
            c.s.write(data.subarray(s, x));
            s = x;
            await new Promise((r) => setImmediate(r));
          }
          if (s < data.length) c.s.write(data.subarray(s));
        } else c.s.write(data);
        tcpN++;
      }
      if (i % 16 === 15) await new Promise((r) => setImmediate(r)); // let the sockets drain
      if (i % 64 === 63) await sleep(1);
      if ((i + 1) % checkEvery === 0) {
        if (!(await optionsOk(probe, port, i + 1))) throw fail(`no answer to OPTIONS after ${i + 1} inputs`);
        checks++;
      }
    }
    await sleep(200);
    if (srv.exit) throw fail(`the server exited (after ${i} inputs)`);
    if (!(await optionsOk(probe, port, 1e9))) throw fail(`no answer to OPTIONS at the end (${i} inputs)`);
    checks++;
    for (const c of conns) c.s.destroy();
    srv.child.kill("SIGTERM");
    const ex = await Promise.race([srv.exited, sleep(5000).then(() => null)]);
    if (!ex) { srv.child.kill("SIGKILL"); throw fail("the server did not stop within 5 s of SIGTERM"); }
    if (ex.code !== 0) throw fail(`the server exited with ${JSON.stringify(ex)} on SIGTERM`);
    await sleep(50);
    if (!srv.stopped) throw fail('no "stopped" log line after SIGTERM');
    return { ok: true, inputs: i, udp: udpN, tcp: tcpN, checks, reconnects, secs: (performance.now() - t0) / 1000, port, logLines: srv.lines };
  } finally {
    for (const c of conns) c.s.destroy();
    probe.close();
    udp.close();
    if (!srv.exit) srv.child.kill("SIGKILL");
  }
}

function template(rng) {
  const u = `u${rng.int(8)}`;
  const via = `SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK${rng.int(1e9)};rport`;
  const k = rng.int(3);
  if (k === 0) return sipRequest({ method: "REGISTER", ruri: "sip:localhost", via, from: `<sip:${u}@localhost>`, fromTag: "r1", to: `<sip:${u}@localhost>`, callId: `r${rng.int(1e6)}`, cseq: 1 + rng.int(50), contact: `<sip:${u}@192.0.2.1:5060>`, expires: 60 });
  if (k === 1) return sipRequest({ method: "INVITE", ruri: `sip:${u}@localhost`, via, from: "<sip:a@localhost>", fromTag: "f1", to: `<sip:${u}@localhost>`, callId: `c${rng.int(1e6)}`, cseq: 1, contact: "<sip:a@192.0.2.1>", body: SDP });
  return sipRequest({ method: "OPTIONS", ruri: "sip:localhost", via, from: "<sip:a@localhost>", fromTag: "f2", to: "<sip:localhost>", callId: `o${rng.int(1e6)}`, cseq: 1 });
}
