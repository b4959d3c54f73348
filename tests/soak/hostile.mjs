// The hostile-input soak (issue 18): a mutation fuzzer over the wire against one running server, with a
// liveness OPTIONS every `checkEvery` inputs and the server's RSS sampled, to show that a server fed
// garbage for hours stays up and stays flat. Used by tools/soak-hostile.mjs (npm run soak:hostile) and
// tests/soak/hostile.test.mjs (the short version in npm test).
//
// Inputs: the torture corpus, the PROTOS cases and a few templates, damaged by the mutators of
// tests/lib/corpus.mjs plus hostile inserts (;maddr=, Route lines, Via lines, host names, duplicated
// lines). Every IPv4 literal left in an input is rewritten to the sink 127.0.0.9 and every bracketed
// IPv6 one to [::1] (after the damage, so a bit flip cannot make a routable address), and the caller
// runs the whole soak in a network namespace of its own (tools/soak-hostile.mjs): nothing can leave
// loopback, and a host name the server tries to resolve meets no DNS server (besides, the server is
// told to ask a silent UDP socket of ours: config "dns.servers").
//
// UDP: mutated datagrams at a fixed rate. TCP: the same messages with framing damage on a pool of
// connections (whole, split into several writes, merged with others, a wrong Content-Length followed
// by a good message), plus the slow and the rude: byte-at-a-time writers with stalls, connections that
// never send, half a message then silence, and connections whose responses the client never reads.
//
// Liveness: an OPTIONS every `checkEvery` inputs from a socket of its own, retransmitted like any UDP
// client's request (500 ms, then 1 s later), its answer time taken from the first copy; a probe with no
// answer to any copy within `probeMs` (2 s) is a miss. The figures say how many needed a second copy.
//
// Pass rules: no liveness miss (no answer within `probeMs`), the server alive to the end, and RSS at
// the end and after `idleSecs` of idleness within `rssSlack` (5 %) of RSS after the first `firstAt`
// inputs. Everything is bounded: input counts, connections held (at most ~100 at once), time.
import { spawn } from "node:child_process";
import dgram from "node:dgram";
import net from "node:net";
import { mkdtempSync, writeFileSync, readFileSync, rmSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { root } from "../lib/core.mjs";
import { makeRng, mutate, mutateStructured, sipRequest, replaceAll, SDP } from "../lib/corpus.mjs";
import { loadSeeds } from "../fuzz/fast.mjs";

export const HOSTS = ["node", "native", "micro", "wasi"];
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const tick = () => new Promise((r) => setImmediate(r));
const lat = (s) => Buffer.from(s, "latin1");

/** The machine's load averages and runnable/total tasks (/proc/loadavg), to tell a starved server from a stuck one. */
function loadavg() {
  try {
    return readFileSync("/proc/loadavg", "latin1").split(" ").slice(0, 4).join(" ");
  } catch {
    return "unknown";
  }
}

/** VmRSS of a process in bytes (/proc/PID/status), or -1 when it is gone. */
export function rssOf(pid) {
  try {
    const m = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, "latin1"));
    if (!m) throw new Error(`no VmRSS line in /proc/${pid}/status`);
    return Number(m[1]) * 1024;
  } catch (e) {
    if (e.code === "ENOENT" || e.code === "ESRCH") return -1;
    throw e;
  }
}

/**
 * RSS of the core's linear memory (bytes): the read-write anonymous mapping that a reservation of
 * over 1 GB follows (V8, wasm2c and WasmEdge all reserve guard space after a wasm32 memory), or -1
 * when no such mapping is found. Splits a figure into the core's fixed budget and the host's part.
 */
export function coreRssOf(pid) {
  let text;
  try {
    text = readFileSync(`/proc/${pid}/smaps`, "latin1");
  } catch {
    return -1;
  }
  const maps = [];
  let cur = null;
  for (const line of text.split("\n")) {
    const m = /^([0-9a-f]+)-([0-9a-f]+) (\S{4}) \S+ \S+ (\d+)\s*(.*)$/.exec(line);
    if (m) {
      cur = { start: BigInt(`0x${m[1]}`), end: BigInt(`0x${m[2]}`), perm: m[3], anon: m[4] === "0" && !m[5], rss: 0 };
      maps.push(cur);
    } else if (cur && line.startsWith("Rss:")) cur.rss = Number(/(\d+)/.exec(line)[1]) * 1024;
  }
  let best = -1;
  for (let i = 0; i + 1 < maps.length; i++) {
    const a = maps[i], b = maps[i + 1];
    if (a.perm.startsWith("rw") && a.anon && b.perm === "---p" && b.start === a.end && b.end - b.start > 1n << 30n) best = Math.max(best, a.rss);
  }
  return best;
}

/** A port free for both UDP and TCP on 127.0.0.1 right now. */
export async function freePort() {
  for (let i = 0; i < 50; i++) {
    const port = await new Promise((res, rej) => {
      const s = net.createServer();
      s.once("error", rej);
      s.listen(0, "127.0.0.1", () => { const p = s.address().port; s.close(() => res(p)); });
    });
    const ok = await new Promise((res) => {
      const u = dgram.createSocket("udp4");
      u.once("error", () => { u.close(); res(false); });
      u.bind(port, "127.0.0.1", () => u.close(() => res(true)));
    });
    if (ok) return port;
  }
  throw new Error("no free port on 127.0.0.1");
}

// ---- the server -------------------------------------------------------------------------------

/**
 * Starts the server of `host` on 127.0.0.1:port (UDP, and TCP but for wasi) with a configuration
 * that trusts nobody and has no users (so the relay rules refuse strangers' relaying) and asks the
 * silent DNS socket at dnsPort. opts: { wasmedge: argv prefix (wasi), wasiModule (wasi: the file to run),
 * nodeArgs: [], logLevel, prefault, config }.
 * Returns { child, pid, lines, running, tail, stderr, exit, exited }.
 */
export function startServer(host, port, dnsPort, dir, opts = {}) {
  const cfg = {
    listen: host === "wasi" ? [`udp:127.0.0.1:${port}`] : [`udp:127.0.0.1:${port}`, `tcp:127.0.0.1:${port}`],
    logLevel: opts.logLevel ?? "info",
  };
  if (host !== "wasi") cfg.dns = { servers: [`127.0.0.1:${dnsPort}`] };
  if (host === "micro") cfg.board = "micro";
  if (opts.prefault) cfg.prefault = true;
  Object.assign(cfg, opts.config ?? {});
  writeFileSync(join(dir, "cfg.json"), JSON.stringify(cfg, null, 2));
  let cmd, args;
  if (host === "node" || host === "micro") {
    cmd = process.execPath;
    args = [...(opts.nodeArgs ?? []), join(root, "host", "node", "cli.mjs"), "--config", join(dir, "cfg.json")];
  } else if (host === "native") {
    cmd = join(root, "build", "server", "sipling");
    if (!existsSync(cmd)) throw new Error(`no ${cmd}: build it with node tools/build.mjs`);
    args = ["--config", join(dir, "cfg.json")];
  } else if (host === "wasi") {
    const wasm = opts.wasiModule ?? join(root, "build", "wasi", "sipling-wasi.wasm"); // or its AOT build (--wasi-aot)
    if (!existsSync(wasm)) throw new Error(`no ${wasm}: build it with node tools/wasi.mjs`);
    if (!opts.wasmedge) throw new Error("wasi: no wasmedge command (tools/wasmedge.sh prints it)");
    [cmd, ...args] = opts.wasmedge;
    args = [...args, "--dir", `/cfg:${dir}`, wasm, "--config", "/cfg/cfg.json"];
  } else throw new Error(`unknown host ${host} (one of ${HOSTS.join(", ")})`);
  const child = spawn(cmd, args, {
    cwd: dir, env: { ...process.env, SIPLING_NO_BUILD: "1" }, stdio: ["ignore", "pipe", "pipe"],
  });
  const st = { child, pid: child.pid, lines: 0, running: false, stopped: false, tail: [], stderr: "", exit: null, stats: null, msgs: {} };
  let buf = "";
  child.stdout.setEncoding("utf8");
  child.stdout.on("data", (d) => {
    buf += d;
    let i;
    while ((i = buf.indexOf("\n")) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      st.lines++;
      const mm = /"msg":"([^"]{1,60})"/.exec(line);
      if (mm) st.msgs[mm[1]] = (st.msgs[mm[1]] ?? 0) + 1;
      if (line.includes('"msg":"running"')) st.running = true;
      if (line.includes('"msg":"stopped"')) st.stopped = true;
      if (line.includes('"msg":"stats"')) st.stats = line;
      st.tail.push(line.length > 600 ? line.slice(0, 600) + "…" : line);
      if (st.tail.length > 12) st.tail.shift();
    }
    if (buf.length > 1 << 20) buf = ""; // a line longer than 1 MB: not ours to keep
  });
  child.stderr.setEncoding("utf8");
  child.stderr.on("data", (d) => { st.stderr = (st.stderr + d).slice(-4000); });
  child.on("error", (e) => { st.stderr += `\nspawn error: ${e.message}`; });
  st.exited = new Promise((res) => child.on("exit", (code, sig) => { st.exit = { code, sig }; res(st.exit); }));
  return st;
}

// ---- inputs -----------------------------------------------------------------------------------

const SINK4 = "127.0.0.9";
const IPV4 = /(?<![0-9.])\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}(?![0-9])/g;
const IPV6 = /\[[0-9a-fA-F:.%]*:[0-9a-fA-F:.%]*\]/g;

/** Every IPv4 literal to the sink, every bracketed IPv6 literal to [::1] (latin1 round trip). */
export function toLoopback(buf) {
  const s = buf.toString("latin1");
  if (!/\d\.\d|\[/.test(s)) return buf;
  const o = s.replace(IPV4, SINK4).replace(IPV6, "[::1]");
  return o === s ? buf : lat(o);
}

const NAMES = ["localhost", "sink.invalid", "h.example", "x", "a.b.c.d.e.f.g", "-", "xn--bcher-kva.example", "n%41me.invalid",
  "4294967295", "0x7f.1", "h".repeat(63) + ".invalid", "127.0.0.9.", "[::1]"];

/** The hostile inserts of the issue's fuzzer: ;maddr=, Route lines, Via lines, host names, duplicated lines. */
function hostile(b, r) {
  const name = () => (r.chance(0.5) ? `n${r.int(1e6)}.invalid` : r.pick(NAMES));
  const host = () => (r.chance(0.4) ? `${SINK4}${r.chance(0.5) ? `:${5060 + r.int(4)}` : ""}` : name());
  const k = r.int(7);
  const lineAfterStart = (line) => {
    const e = b.indexOf(0x0a);
    const at = e < 0 ? b.length : e + 1;
    return Buffer.concat([b.subarray(0, at), lat(line + "\r\n"), b.subarray(at)]);
  };
  if (k === 0) { // ;maddr= at a random place, or after the first URI
    const at = r.chance(0.5) ? r.int(b.length + 1) : Math.max(0, b.indexOf(" SIP/2.0"));
    return Buffer.concat([b.subarray(0, at), lat(`;maddr=${r.chance(0.8) ? host() : ""}`), b.subarray(at)]);
  }
  if (k === 1) return lineAfterStart(`Route: <sip:${host()}${r.chance(0.7) ? ";lr" : ""}${r.chance(0.2) ? ";transport=tcp" : ""}>`);
  if (k === 2) return lineAfterStart(`Via: SIP/2.0/${r.pick(["UDP", "TCP", "udp"])} ${host()};branch=z9hG4bK${r.int(1e9)}${r.chance(0.5) ? ";rport" : ""}${r.chance(0.3) ? `;maddr=${host()}` : ""}${r.chance(0.2) ? `;received=${host()}` : ""}`);
  if (k === 3) return lineAfterStart(`Contact: <sip:u${r.int(50)}@${host()}>`);
  if (k === 4) { // the Request-URI's host becomes a name or the sink
    const e = b.indexOf(lat(" SIP/2.0"));
    const at = b.indexOf(0x40); // '@'
    if (e < 0 || at < 0 || at > e) return b;
    return Buffer.concat([b.subarray(0, at + 1), lat(host()), b.subarray(e)]);
  }
  if (k === 5) return lineAfterStart(`Record-Route: <sip:${host()};lr>`);
  // a header line duplicated, many times
  const lines = b.toString("latin1").split("\r\n");
  if (lines.length < 3) return b;
  const i = 1 + r.int(lines.length - 2);
  const n = 1 + r.int(r.chance(0.1) ? 100 : 4);
  lines.splice(i, 0, ...Array(n).fill(lines[i]));
  return lat(lines.join("\r\n"));
}

function template(r) {
  const u = `u${r.int(50)}`;
  const via = `SIP/2.0/UDP 127.0.0.9:${5060 + r.int(4)};branch=z9hG4bK${r.int(1e9)};rport`;
  const k = r.int(4);
  if (k === 0) return sipRequest({ method: "REGISTER", ruri: "sip:localhost", via, from: `<sip:${u}@localhost>`, fromTag: `r${r.int(1e6)}`, to: `<sip:${u}@localhost>`, callId: `r${r.int(1e6)}`, cseq: 1 + r.int(50), contact: `<sip:${u}@127.0.0.9:${5060 + r.int(4)}>`, expires: r.pick([0, 60, 3600]) });
  if (k === 1) return sipRequest({ method: "INVITE", ruri: `sip:${u}@localhost`, via, from: "<sip:a@localhost>", fromTag: `f${r.int(1e6)}`, to: `<sip:${u}@localhost>`, callId: `c${r.int(1e6)}`, cseq: 1, contact: "<sip:a@127.0.0.9>", body: SDP });
  if (k === 2) return sipRequest({ method: r.pick(["BYE", "CANCEL", "ACK", "MESSAGE", "SUBSCRIBE"]), ruri: `sip:${u}@localhost`, via, from: "<sip:a@localhost>", fromTag: `f${r.int(1e6)}`, to: `<sip:${u}@localhost>`, toTag: r.chance(0.5) ? `t${r.int(100)}` : undefined, callId: `c${r.int(1e6)}`, cseq: 1 + r.int(5) });
  return sipRequest({ method: "OPTIONS", ruri: r.chance(0.5) ? "sip:localhost" : `sip:${u}@sink.invalid`, via, from: "<sip:a@localhost>", fromTag: `o${r.int(1e6)}`, to: "<sip:localhost>", callId: `o${r.int(1e6)}`, cseq: 1 });
}

/** Input maker: next() -> a mutated message (Buffer), loopback-only. */
export function makeInputs(seed) {
  const r = makeRng(seed ^ 0x18a11);
  const seeds = loadSeeds({ protos: true });
  const pool = [...seeds.corpus, ...(seeds.protos ?? [])].map(toLoopback);
  const next = (maxLen = 65000) => {
    let m = r.chance(0.75) ? r.pick(pool) : template(r);
    const k = r.int(10);
    if (k < 4) m = mutate(m, r, maxLen);
    else if (k < 7) m = mutateStructured(m, r, maxLen);
    else if (k < 9) m = hostile(m, r);
    else m = hostile(mutate(m, r, maxLen), r);
    if (r.chance(0.3)) m = hostile(m, r);
    m = toLoopback(m);
    return m.length > maxLen ? m.subarray(0, maxLen) : m;
  };
  return { next, rng: r, template: () => toLoopback(template(r)) };
}

/** A request with a Content-Length that lies (k < 0: longer than said; k > 0: shorter). */
function lyingLength(m, r) {
  const h = m.indexOf(lat("\r\n\r\n"));
  const body = h < 0 ? 0 : m.length - h - 4;
  const lie = Math.max(0, body + r.pick([-40, -5, -1, 1, 7, 300, 5000]));
  const s = m.toString("latin1").replace(/\r\n(Content-Length|l)[ \t]*:[^\r\n]*/i, `\r\nContent-Length: ${lie}`);
  return lat(s);
}

// ---- liveness ---------------------------------------------------------------------------------

/**
 * OPTIONS to the server itself from `sock`, retransmitted as a UDP client does (RFC 3261 17.1.2.2:
 * T1 = 500 ms, then 1 s later, ...; the same transaction): one datagram lost in a flood is not a dead
 * server, no answer to any copy is. Resolves { ms: answer time from the first send, or -1 after
 * timeoutMs; sends: copies sent }.
 */
function probe(sock, port, seq, timeoutMs) {
  const branch = `z9hG4bKlive${seq}x${process.pid}`;
  const m = sipRequest({
    method: "OPTIONS", ruri: `sip:127.0.0.1:${port}`, via: `SIP/2.0/UDP 127.0.0.1:${sock.address().port};branch=${branch};rport`,
    from: "<sip:probe@localhost>", fromTag: `p${seq}`, to: `<sip:127.0.0.1:${port}>`, callId: `live-${seq}@soak`, cseq: 1,
  });
  const t0 = performance.now();
  return new Promise((res) => {
    let sends = 0, rt = null, interval = 500;
    const done = (ms) => { clearTimeout(t); clearTimeout(rt); sock.off("message", on); res({ ms, sends }); };
    const t = setTimeout(() => done(-1), timeoutMs);
    const on = (msg) => {
      if (msg.toString("latin1", 0, 8) === "SIP/2.0 " && msg.includes(branch)) done(performance.now() - t0);
    };
    const send = () => {
      sends++;
      sock.send(m, port, "127.0.0.1");
      rt = setTimeout(send, interval);
      interval *= 2;
    };
    sock.on("message", on);
    send();
  });
}

// ---- TCP --------------------------------------------------------------------------------------

const MAX_POOL = 6, MAX_IDLE = 24, MAX_HALF = 24, MAX_SLOW = 6, MAX_UNREAD = 6;

class Tcp {
  constructor(port, inputs, rng) {
    Object.assign(this, { port, inputs, r: rng });
    this.pool = [];
    this.idle = [];
    this.half = [];
    this.unread = [];
    this.slow = new Set();
    this.counts = { whole: 0, split: 0, merged: 0, lyingLength: 0, slow: 0, idle: 0, half: 0, unread: 0, reconnects: 0, opened: 0 };
    this.all = new Set();
  }

  open({ read = true } = {}) {
    const s = net.connect({ host: "127.0.0.1", port: this.port });
    const c = { s, closed: false };
    this.counts.opened++;
    this.all.add(c);
    if (read) s.on("data", () => {});
    else s.pause();
    s.on("error", () => {});
    s.on("close", () => { c.closed = true; this.all.delete(c); });
    s.setNoDelay(true);
    return c;
  }

  poolConn() {
    for (let i = this.pool.length - 1; i >= 0; i--) if (this.pool[i].closed) { this.pool.splice(i, 1); this.counts.reconnects++; }
    while (this.pool.length < MAX_POOL) this.pool.push(this.open());
    return this.r.pick(this.pool);
  }

  /** Keeps at most max of a list, destroying the oldest. */
  hold(list, c, max) {
    list.push(c);
    while (list.length > max) list.shift().s.destroy();
  }

  /** One TCP input of a random kind; awaits only the small pauses of split writes. */
  async send() {
    const r = this.r, k = r.int(100);
    const m = this.inputs.next(60000);
    if (k < 45) {
      this.poolConn().s.write(m);
      this.counts.whole++;
    } else if (k < 60) {
      const c = this.poolConn();
      let s = 0;
      for (let n = 1 + r.int(5); n > 0 && s < m.length; n--) {
        const x = Math.min(m.length, s + 1 + r.int(m.length - s));
        c.s.write(m.subarray(s, x));
        s = x;
        await tick();
      }
      if (s < m.length) c.s.write(m.subarray(s));
      this.counts.split++;
    } else if (k < 73) {
      const parts = [m];
      for (let n = 1 + r.int(3); n > 0; n--) parts.push(r.chance(0.5) ? this.inputs.template() : this.inputs.next(8000));
      this.poolConn().s.write(Buffer.concat(parts));
      this.counts.merged++;
    } else if (k < 83) {
      this.poolConn().s.write(Buffer.concat([lyingLength(this.inputs.template(), r), this.inputs.template()]));
      this.counts.lyingLength++;
    } else if (k < 87) {
      if (this.slow.size < MAX_SLOW) this.dribble(r.chance(0.5) ? this.inputs.template() : m);
      else this.poolConn().s.write(m);
      this.counts.slow++;
    } else if (k < 91) {
      this.hold(this.idle, this.open(), MAX_IDLE); // connect, never send
      this.counts.idle++;
    } else if (k < 95) {
      const c = this.open();
      const t = r.chance(0.5) ? this.inputs.template() : m;
      c.s.write(t.subarray(0, Math.max(1, t.length >> 1))); // half a message, then silence
      this.hold(this.half, c, MAX_HALF);
      this.counts.half++;
    } else {
      // requests whose answers are never read: the server's queue toward us fills
      let c = this.unread.find((x) => !x.closed && x.sent < 400);
      if (!c) {
        c = this.open({ read: false });
        c.sent = 0;
        this.hold(this.unread, c, MAX_UNREAD);
      }
      const batch = [];
      for (let i = 0; i < 20; i++) batch.push(this.inputs.template());
      c.s.write(Buffer.concat(batch));
      c.sent += 20;
      this.counts.unread++;
    }
  }

  /** Writes a message one byte at a time with stalls, on a connection of its own (background). */
  dribble(m) {
    const c = this.open();
    this.slow.add(c);
    const r = this.r;
    (async () => {
      for (let i = 0; i < m.length && !c.closed; i++) {
        c.s.write(m.subarray(i, i + 1));
        await sleep(r.chance(0.02) ? 300 + r.int(700) : 1 + r.int(5));
        if (i > 400) break; // a slow writer, not a forever one
      }
      this.slow.delete(c);
      if (r.chance(0.5)) c.s.destroy(); else this.hold(this.half, c, MAX_HALF);
    })();
  }

  close() {
    for (const c of [...this.all]) c.s.destroy();
    this.slow.clear();
  }
}

// ---- the run ----------------------------------------------------------------------------------

function quantile(sorted, q) {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

/**
 * One soak against one host. opts: { host, udp (inputs), tcp (inputs), rate (inputs/s), checkEvery,
 * firstAt (inputs before the baseline RSS sample), idleSecs, seed, probeMs, rssSlack (0.05), wasmedge,
 * nodeArgs, config (extra config keys), maxSecs (hard limit of the sending phase), log(line) }.
 * Returns the figures and `failures` (empty when it passed); throws only on a broken set-up.
 */
export async function runHostile(opts) {
  const host = opts.host;
  const udpN = host === "wasi" ? opts.udp + opts.tcp : opts.udp; // wasi: UDP only (same input count)
  const tcpN = host === "wasi" ? 0 : opts.tcp;
  const total = udpN + tcpN;
  const rate = opts.rate ?? 6000;
  const checkEvery = opts.checkEvery ?? 2000;
  const firstAt = Math.min(opts.firstAt ?? 100_000, total);
  const idleSecs = opts.idleSecs ?? 60;
  const probeMs = opts.probeMs ?? 2000;
  const slack = opts.rssSlack ?? 0.05;
  const maxSecs = opts.maxSecs ?? Infinity;
  const log = opts.log ?? (() => {});
  const seed = (opts.seed ?? 18) >>> 0;

  const dir = mkdtempSync(join(tmpdir(), `sipling-hostile-${host}-`));
  const dns = dgram.createSocket("udp4"); // silent DNS server: counts queries, never answers
  let dnsQueries = 0;
  dns.on("message", () => dnsQueries++);
  await new Promise((r) => dns.bind(opts.dnsPort ?? 0, "127.0.0.1", r));
  const port = await freePort();
  const srv = startServer(host, port, dns.address().port, dir, opts);
  const pr = dgram.createSocket("udp4");
  const udp = dgram.createSocket("udp4");
  await new Promise((r) => pr.bind(0, "127.0.0.1", r));
  await new Promise((r) => udp.bind(0, "127.0.0.1", r));
  udp.on("message", () => {});
  udp.on("error", () => {});
  const inputs = makeInputs(seed);
  const tcp = new Tcp(port, inputs, makeRng(seed ^ 0x7c9));
  const f = {
    host, port, pid: srv.pid, udp: 0, tcp: 0, secs: 0, rate: 0, probes: 0, misses: 0, probeRetransmitted: 0, probeMs: [],
    rss: { start: -1, first: -1, end: -1, idle: -1, trace: [] }, firstAt, idleSecs, failures: [], dnsQueries: 0,
  };
  const fail = (what) => {
    f.failures.push(what);
    log(`${host}: FAIL ${what}`);
  };
  const pending = new Set();
  const liveness = (seq) => {
    const p = probe(pr, port, seq, probeMs).then(({ ms, sends }) => {
      f.probes++;
      if (ms < 0) { f.misses++; fail(`liveness miss after ${seq} inputs (no answer within ${probeMs} ms to ${sends} copies; load average ${loadavg()})`); } else {
        f.probeMs.push(ms);
        if (sends > 1) f.probeRetransmitted++;
      }
      pending.delete(p);
    });
    pending.add(p);
    return p;
  };
  const sampleRss = (label) => {
    const v = rssOf(srv.pid);
    const core = coreRssOf(srv.pid);
    f.rss.trace.push([label, v, core]);
    if (label in f.rss) f.rss[label] = v;
    return v;
  };
  const split = (v) => { const c = f.rss.trace.find((x) => x[1] === v)?.[2] ?? -1; return c < 0 ? mb(v) : `${mb(v)} (core ${mb(c)}, rest ${mb(v - c)})`; };

  try {
    for (let w = 0; !srv.running && w < 300 && !srv.exit; w++) await sleep(50);
    if (!srv.running) throw new Error(`${host}: the server did not start: ${JSON.stringify(srv.exit)} ${srv.stderr.slice(-800)} ${srv.tail.join("\n")}`);
    if ((await probe(pr, port, 0, 5000)).ms < 0) throw new Error(`${host}: no answer to OPTIONS after start-up`);
    f.rss.start = sampleRss("start");
    log(`${host}: pid ${srv.pid} on 127.0.0.1:${port}, RSS ${split(f.rss.start)} at start; ${udpN} UDP + ${tcpN} TCP inputs at ${rate}/s`);
    const t0 = performance.now();
    let sent = 0, udpLeft = udpN, tcpLeft = tcpN;
    const slot = 1000 / rate;
    // the schedule: input k is due at base + k * slot; a sender that fell behind (the baseline sample's
    // pause, or this process short of CPU) is not allowed to catch up in a burst above the rate
    let base = t0;
    while (sent < total) {
      if (srv.exit) { fail(`the server exited after ${sent} inputs: ${JSON.stringify(srv.exit)} ${srv.stderr.slice(-500)}`); break; }
      if ((performance.now() - t0) / 1000 > maxSecs) { fail(`time limit of ${maxSecs} s hit after ${sent} inputs`); break; }
      // pace: never ahead of the schedule by more than 20 ms
      const ahead = sent * slot - (performance.now() - base);
      if (ahead > 20) await sleep(ahead);
      else if (ahead < -50) base += -50 - ahead;
      else if ((sent & 31) === 31) await tick();
      const useTcp = tcpLeft > 0 && (udpLeft === 0 || inputs.rng.int(udpLeft + tcpLeft) < tcpLeft);
      if (useTcp) {
        await tcp.send();
        tcpLeft--;
        f.tcp++;
      } else {
        const m = inputs.next(65000);
        udp.send(m, port, "127.0.0.1");
        udpLeft--;
        f.udp++;
      }
      sent++;
      if (sent % checkEvery === 0) liveness(sent);
      if (sent === firstAt) {
        await Promise.all(pending);
        if ((await probe(pr, port, -sent, probeMs * 2)).ms < 0) fail(`no answer to OPTIONS at the ${firstAt}-input sample`);
        await sleep(500);
        f.rss.first = sampleRss("first");
        log(`${host}: RSS ${split(f.rss.first)} after ${sent} inputs (the baseline)`);
      } else if (sent % 100_000 === 0) log(`${host}: ${sent} inputs, RSS ${split(sampleRss(`after ${sent}`))}, ${f.misses} misses`);
    }
    f.secs = (performance.now() - t0) / 1000;
    f.rate = Math.round((f.udp + f.tcp) / f.secs);
    await Promise.all(pending);
    tcp.close();
    await sleep(1000);
    if (!srv.exit && (await probe(pr, port, -1, probeMs * 2)).ms < 0) fail("no answer to OPTIONS at the end");
    f.rss.end = sampleRss("end");
    log(`${host}: RSS ${split(f.rss.end)} at the end (${f.udp} UDP + ${f.tcp} TCP in ${f.secs.toFixed(1)} s); idle ${idleSecs} s`);
    await sleep(idleSecs * 1000);
    if (!srv.exit && (await probe(pr, port, -2, probeMs * 2)).ms < 0) fail("no answer to OPTIONS after the idle period");
    f.rss.idle = sampleRss("idle");
    log(`${host}: RSS ${split(f.rss.idle)} after ${idleSecs} s idle`);
    if (!srv.exit) {
      srv.child.kill("SIGUSR2"); // the stats line (wasi: none, its runtime ends on the signal)
      if (host !== "wasi") await sleep(300);
    }
  } finally {
    tcp.close();
    if (!srv.exit) srv.child.kill("SIGTERM");
    const ex = await Promise.race([srv.exited, sleep(5000).then(() => null)]);
    if (!ex) { srv.child.kill("SIGKILL"); f.failures.push("the server did not stop within 5 s of SIGTERM"); }
    pr.close();
    udp.close();
    dns.close();
    rmSync(dir, { recursive: true, force: true });
  }
  f.dnsQueries = dnsQueries;
  f.tcpKinds = tcp.counts;
  f.logLines = srv.lines;
  f.logMsgs = Object.fromEntries(Object.entries(srv.msgs).sort((a, b) => b[1] - a[1]).slice(0, 8));
  f.stats = srv.stats;
  f.tail = srv.tail.slice(-4);
  const s = f.probeMs.sort((a, b) => a - b);
  f.live = { p50: quantile(s, 0.5), p99: quantile(s, 0.99), max: s.length ? s[s.length - 1] : NaN };
  delete f.probeMs;
  // the rules of the issue
  if (f.rss.first <= 0) fail("no RSS sample after the first inputs");
  else {
    for (const k of ["end", "idle"]) {
      const v = f.rss[k];
      if (v <= 0) fail(`no RSS sample at ${k}`);
      else if (v > f.rss.first * (1 + slack)) fail(`RSS ${k === "end" ? "at the end" : `after ${idleSecs} s idle`} ${mb(v)} is ${pct(v, f.rss.first)} over ${mb(f.rss.first)} (after ${firstAt} inputs); allowed ${Math.round(slack * 100)} %`);
    }
  }
  return f;
}

const coreAt = (f, label) => f.rss.trace.find((x) => x[0] === label)?.[2] ?? -1;
export const mb = (b) => (b < 0 ? "gone" : `${(b / 1048576).toFixed(1)} MB`);
const pct = (v, base) => `${(((v - base) / base) * 100).toFixed(1)} %`;

/** Human summary of one run (several lines). */
export function formatRun(f) {
  const r = f.rss;
  return [
    `${f.host}: ${f.udp} UDP + ${f.tcp} TCP inputs in ${f.secs.toFixed(1)} s (${f.rate}/s); DNS queries to the silent server ${f.dnsQueries}`,
    `${f.host}: log lines ${f.logLines}, most frequent ${JSON.stringify(f.logMsgs)}`,
    `${f.host}: liveness ${f.probes} probes, ${f.misses} misses, ${f.probeRetransmitted} answered only after a retransmission, answer p50 ${f.live.p50?.toFixed(2)} ms, p99 ${f.live.p99?.toFixed(2)} ms, max ${f.live.max?.toFixed(2)} ms`,
    `${f.host}: RSS start ${mb(r.start)}, after ${f.firstAt} inputs ${mb(r.first)}, end ${mb(r.end)} (${pct(r.end, r.first)}), after ${f.idleSecs} s idle ${mb(r.idle)} (${pct(r.idle, r.first)})`,
    `${f.host}: of which the core's linear memory: ${["start", "first", "end", "idle"].map((k) => mb(coreAt(f, k))).join(", ")}`,
    ...(f.tcp ? [`${f.host}: tcp ${JSON.stringify(f.tcpKinds)}`] : []),
    ...(f.stats ? [`${f.host}: ${f.stats.slice(0, 1500)}`] : []),
    `${f.host}: ${f.failures.length ? `FAIL (${f.failures.length}): ${f.failures.slice(0, 5).join("; ")}` : "pass"}`,
  ].join("\n");
}
