#!/usr/bin/env node
// Media relay benchmark: the same RTP load (tools/rtpload.c: N calls, two G.711 streams each, 20 ms
// ptime, 172-byte packets) through each subject in turn, on loopback, one step of N after another:
//   floor     tools/udpfloor.c: the simplest recvmmsg/sendmmsg forwarder between two ports a call (no
//             latching, no counters): what forwarding costs at least on this machine;
//   engine    the native host's relay engine (host/c/relay.c) alone, driven through its C API by
//             tools/relaybench.c (legs opened as the core's relay records would open them);
//   native    the native host (build/b2bua/sipling) as a B2BUA relaying its trunk side's media, each
//   node      call set up over SIP (tools/bench-media-sip.mjs: a phone's INVITE with SDP, the provider's
//             200 with SDP, both rewritten by the core), then the same load through the ports the SDPs
//             name; the Node host (host/node/cli.mjs) the same way;
//   rtpengine Debian's rtpengine-daemon, userspace forwarding only (--table=-1: no kernel module), calls
//             created over its ng control protocol (bencode over UDP: offer and answer with SDP).
// Per step: CPU time of the subject's process (every thread) per relayed packet, packets lost, one-way
// latency through it (p50, p99), measured by rtpload after a 0.5 s warm-up; then the largest N with no
// loss. A subject that lost more than 5 % at one step skips the larger ones. The steps are interleaved
// (every subject at one N, then the next N), and each step is run `--repeat` times in turn (default 3):
// a step's row is its median run by CPU-µs per packet (the lower middle one for an even count; one run of a step can land in a mode twice as
// costly for every forwarder, the floor too), its loss the sum over the runs. The targets of issue 14 are
// printed from the medians: the native host below rtpengine, and within 2x of the floor, at each step.
// Usage: node tools/bench-media.mjs [--steps 50,100,200,400,800] [--seconds 5] [--repeat 3] [--subjects floor,engine,native,node,rtpengine]
import { spawn, spawnSync } from "node:child_process";
import { createSocket } from "node:dgram";
import { mkdirSync, writeFileSync } from "node:fs";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { once } from "node:events";
import { cpus, loadavg } from "node:os";
import { sipSubject } from "./bench-media-sip.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const out = join(root, "build", "bench-media");
const argv = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : dflt;
};
const STEPS = opt("steps", "50,100,200,400,800").split(",").map(Number);
const SECONDS = Number(opt("seconds", "5"));
const REPEAT = Math.max(1, Number(opt("repeat", "3")));
const WANT = opt("subjects", "floor,engine,native,node,rtpengine").split(",");

// Ports (all below the kernel's ephemeral range, 32768): call i's parties at 10000 + 4i (A) and
// 10002 + 4i (B); the floor's and sipling's relay ports at 17000 + 4i (A's leg, RTCP + 1) and 17002 + 4i;
// rtpengine allocates its own from 24000..31999; its ng control port 23990. Room for 1,600 calls.
// The sipling hosts' SIP port 23980; their relay ranges from 17000 as the engine's.
const PARTY = 10000, RELAY = 17000, RTPE_MIN = 24000, RTPE_MAX = 31999, NG_PORT = 23990, SIP_PORT = 23980;
if (Math.max(...STEPS) > 1600) throw new Error("at most 1600 calls: the port ranges are laid out for that");

// ---- build the C tools --------------------------------------------------------------------------
function build() {
  mkdirSync(out, { recursive: true });
  const cc = process.env.CC || "gcc";
  const flags = ["-O2", "-std=c11", "-D_GNU_SOURCE", "-Wall", "-Wextra", "-pthread"];
  const tools = {
    rtpload: [join(root, "tools", "rtpload.c")],
    udpfloor: [join(root, "tools", "udpfloor.c")],
    relaybench: ["-I", join(root, "host", "c"), join(root, "tools", "relaybench.c"), join(root, "host", "c", "relay.c")],
  };
  for (const [name, src] of Object.entries(tools)) {
    const r = spawnSync(cc, [...flags, ...src, "-o", join(out, name)], { encoding: "utf8" });
    if (r.status !== 0) throw new Error(`${cc} ${name} failed:\n${r.stderr}`);
  }
}

// ---- processes ---------------------------------------------------------------------------------
/** Spawns a subject's process; resolves once a stdout line matches `ready` (rejects on exit or 10 s). */
function startProcess(cmd, args, ready) {
  const p = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"] });
  let text = "";
  p.stderr.on("data", (d) => (text += d));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${cmd}: not ready in 10 s\n${text}`)), 10_000);
    p.stdout.on("data", (d) => {
      text += d;
      if (ready.test(text)) {
        clearTimeout(timer);
        resolve(p);
      }
    });
    p.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`${cmd} exited (${code}) before it was ready\n${text}`));
    });
    p.on("error", (e) => {
      clearTimeout(timer);
      reject(new Error(`${cmd}: ${e.message}`));
    });
  });
}

async function stopProcess(p) {
  if (p.exitCode !== null || p.signalCode !== null || !p.pid) return;
  const gone = once(p, "exit");
  p.kill("SIGTERM");
  const t = setTimeout(() => p.kill("SIGKILL"), 3000);
  await gone;
  clearTimeout(t);
}

const fixedPorts = (n) => Array.from({ length: n }, (_, i) => [PARTY + 4 * i, RELAY + 4 * i, PARTY + 2 + 4 * i, RELAY + 2 + 4 * i]);

function writePorts(ports) {
  const f = join(out, "ports.txt");
  writeFileSync(f, ports.map((p) => p.join(" ")).join("\n") + "\n");
  return f;
}

/** A subject whose process forwards between the fixed ports of a ports file (its argument). */
function portsFileSubject(name, cmd) {
  return {
    name,
    async start(n) {
      const ports = fixedPorts(n);
      const proc = await startProcess(cmd, [writePorts(ports)], /^ready/m);
      return { pid: proc.pid, ports, stop: () => stopProcess(proc) };
    },
  };
}

// ---- rtpengine over ng ---------------------------------------------------------------------------
function bencode(v) {
  if (typeof v === "number") return `i${v}e`;
  if (typeof v === "string") return `${Buffer.byteLength(v)}:${v}`;
  if (Array.isArray(v)) return `l${v.map(bencode).join("")}e`;
  return `d${Object.keys(v).sort().map((k) => bencode(k) + bencode(v[k])).join("")}e`;
}

function bdecode(buf) {
  let i = 0;
  const s = buf.toString("latin1");
  const next = () => {
    const c = s[i];
    if (c === "i") {
      const e = s.indexOf("e", i);
      const v = Number(s.slice(i + 1, e));
      i = e + 1;
      return v;
    }
    if (c === "l" || c === "d") {
      i++;
      const items = [];
      while (s[i] !== "e") items.push(next());
      i++;
      if (c === "l") return items;
      const o = {};
      for (let k = 0; k < items.length; k += 2) o[items[k]] = items[k + 1];
      return o;
    }
    const colon = s.indexOf(":", i);
    const len = Number(s.slice(i, colon));
    const v = s.slice(colon + 1, colon + 1 + len);
    i = colon + 1 + len;
    return v;
  };
  return next();
}

function ngClient(port) {
  const sock = createSocket("udp4");
  const waiting = new Map();
  let seq = 0;
  sock.on("message", (m) => {
    const sp = m.indexOf(0x20);
    const cookie = m.subarray(0, sp).toString();
    const w = waiting.get(cookie);
    if (w) {
      waiting.delete(cookie);
      w(bdecode(m.subarray(sp + 1)));
    }
  });
  return {
    request(msg) {
      const cookie = `c${++seq}`;
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => {
          waiting.delete(cookie);
          reject(new Error(`rtpengine ng: no answer to ${msg.command} in 3 s`));
        }, 3000);
        waiting.set(cookie, (r) => {
          clearTimeout(t);
          resolve(r);
        });
        sock.send(`${cookie} ${bencode(msg)}`, port, "127.0.0.1");
      });
    },
    close: () => sock.close(),
  };
}

const sdp = (port, id) =>
  ["v=0", `o=- ${id} 1 IN IP4 127.0.0.1`, "s=-", "c=IN IP4 127.0.0.1", "t=0 0", `m=audio ${port} RTP/AVP 0`, "a=rtpmap:0 PCMU/8000", "a=sendrecv", ""].join("\r\n");

function mediaPort(text, what) {
  const m = /^m=audio (\d+) /m.exec(text ?? "");
  if (!m) throw new Error(`rtpengine ${what}: no m=audio in ${JSON.stringify(text)}`);
  return Number(m[1]);
}

const rtpengine = {
  name: "rtpengine",
  async start(n) {
    const args = ["--config-file=none", "--table=-1", "--interface=127.0.0.1", `--listen-ng=127.0.0.1:${NG_PORT}`,
      `--port-min=${RTPE_MIN}`, `--port-max=${RTPE_MAX}`, "--foreground", "--log-stderr", "--log-level=4", "--delete-delay=0"];
    const proc = spawn("rtpengine", args, { stdio: ["ignore", "ignore", "pipe"] });
    let err = "";
    proc.stderr.on("data", (d) => (err += d));
    let spawnError = null;
    proc.on("error", (e) => (spawnError = e)); // ENOENT: rtpengine-daemon not installed (npm test's setup installs it)
    const ng = ngClient(NG_PORT);
    try {
      let up = false;
      for (let t = 0; t < 50 && !up; t++) {
        if (spawnError) throw new Error(`rtpengine: ${spawnError.message}`);
        if (proc.exitCode !== null) throw new Error(`rtpengine exited (${proc.exitCode}):\n${err}`);
        up = await ng.request({ command: "ping" }).then((r) => r.result === "pong", () => false);
      }
      if (!up) throw new Error(`rtpengine: no pong on its ng port\n${err}`);
      const ports = [];
      const one = async (i) => {
        const [aLocal, bLocal] = [PARTY + 4 * i, PARTY + 2 + 4 * i];
        const id = `bench-${i}`;
        const o = await ng.request({ command: "offer", "call-id": id, "from-tag": "a", sdp: sdp(aLocal, i) });
        if (o.result !== "ok") throw new Error(`rtpengine offer: ${JSON.stringify(o)}`);
        const a = await ng.request({ command: "answer", "call-id": id, "from-tag": "a", "to-tag": "b", sdp: sdp(bLocal, i) });
        if (a.result !== "ok") throw new Error(`rtpengine answer: ${JSON.stringify(a)}`);
        // the offer's SDP goes to B: where B sends; the answer's to A: where A sends
        ports[i] = [aLocal, mediaPort(a.sdp, "answer"), bLocal, mediaPort(o.sdp, "offer")];
      };
      for (let i = 0; i < n; i += 25) await Promise.all(Array.from({ length: Math.min(25, n - i) }, (_, k) => one(i + k)));
      return { pid: proc.pid, ports, stop: () => stopProcess(proc) };
    } catch (e) {
      await stopProcess(proc);
      throw e;
    } finally {
      ng.close();
    }
  },
};

// ---- subjects ------------------------------------------------------------------------------------
const SUBJECTS = [
  portsFileSubject("floor", join(out, "udpfloor")),
  portsFileSubject("engine", join(out, "relaybench")),
  ...["native", "node"].map((host) => sipSubject({ name: host, host, root, out, sipPort: SIP_PORT, relayMin: RELAY,
    partyPort: (i) => [PARTY + 4 * i, PARTY + 2 + 4 * i] })),
  rtpengine,
];

// ---- the run -------------------------------------------------------------------------------------
function load(portsFile, pid) {
  return new Promise((resolve, reject) => {
    const p = spawn(join(out, "rtpload"), [portsFile, String(SECONDS), "--pid", String(pid)], { stdio: ["ignore", "pipe", "pipe"] });
    let so = "", se = "";
    p.stdout.on("data", (d) => (so += d));
    p.stderr.on("data", (d) => (se += d));
    p.on("exit", (code) => (code === 0 ? resolve(JSON.parse(so)) : reject(new Error(`rtpload failed (${code}): ${se}`))));
  });
}

build();
const rows = [];
const started = Date.now();
const load0 = loadavg()[0];
// Steps interleaved (each N through every subject, then the next N) so that what else runs on the
// machine weighs on every subject alike.
const active = SUBJECTS.filter((s) => WANT.includes(s.name));
const done = new Set();
const samples = []; // every run: { subject, calls, ...rtpload's figures }
for (const n of STEPS) {
  for (let k = 0; k < REPEAT; k++) for (const s of active) {
    if (done.has(s.name)) continue;
    let run;
    try {
      run = await s.start(n);
    } catch (e) {
      console.error(`${s.name} at ${n} calls: ${e.message}`);
      rows.push({ subject: s.name, calls: n, error: e.message.split("\n")[0] });
      done.add(s.name);
      continue;
    }
    let r;
    try {
      await new Promise((res) => setTimeout(res, 200));
      r = await load(writePorts(run.ports), run.pid);
    } finally {
      await run.stop();
    }
    samples.push({ subject: s.name, ...r });
    const lossPct = (100 * r.lost) / r.sent;
    console.error(`${s.name.padEnd(9)} ${String(n).padStart(4)} calls (run ${k + 1} of ${REPEAT}): ${r.cpu_us_per_pkt.toFixed(2)} CPU-µs/pkt, lost ${r.lost} (${lossPct.toFixed(2)} %), p50 ${r.p50_us} µs, p99 ${r.p99_us} µs, rtpload ${r.loader_cpu_pct} % CPU`);
    if (lossPct > 5) done.add(s.name);
  }
}
// a step's row: its median run by CPU-µs per packet; packets sent and lost summed over its runs
for (const name of new Set(samples.map((x) => x.subject))) {
  for (const n of STEPS) {
    const runs = samples.filter((x) => x.subject === name && x.calls === n).sort((a, b) => a.cpu_us_per_pkt - b.cpu_us_per_pkt);
    if (!runs.length) continue;
    const median = runs[(runs.length - 1) >> 1];
    rows.push({ ...median, runs: runs.length, cpu_runs: runs.map((x) => x.cpu_us_per_pkt),
      sent: runs.reduce((a, x) => a + x.sent, 0), lost: runs.reduce((a, x) => a + x.lost, 0) });
  }
}
rows.sort((a, b) => active.findIndex((s) => s.name === a.subject) - active.findIndex((s) => s.name === b.subject) || a.calls - b.calls);

const pad = (v, w) => String(v).padStart(w);
console.log(`\nMedia relay benchmark: ${SECONDS} s a run after 0.5 s warm-up, ${REPEAT} run(s) a step (the median's row; loss summed), 2 streams a call at 50 packets/s, 172-byte RTP, loopback IPv4`);
console.log(`${cpus().length} CPUs (${cpus()[0]?.model ?? "?"}), load average ${load0.toFixed(1)} at the start, ${loadavg()[0].toFixed(1)} at the end`);
console.log(`${"subject".padEnd(10)}${pad("calls", 6)}${pad("pkt/s", 8)}${pad("CPU-µs/pkt", 12)}${pad("lost", 8)}${pad("lost %", 8)}${pad("p50 µs", 9)}${pad("p99 µs", 9)}${pad("rtpload CPU", 13)}  runs (CPU-µs/pkt)`);
const us = (v) => (v >= 200000 ? ">200000" : String(v)); // rtpload's histogram ends at 200 ms
for (const r of rows) {
  if (r.error) {
    console.log(`${r.subject.padEnd(10)}${pad(r.calls, 6)}  failed: ${r.error}`);
    continue;
  }
  console.log(`${r.subject.padEnd(10)}${pad(r.calls, 6)}${pad(r.streams * 50, 8)}${pad(r.cpu_us_per_pkt.toFixed(2), 12)}${pad(r.lost, 8)}${pad(((100 * r.lost) / r.sent).toFixed(2), 8)}${pad(us(r.p50_us), 9)}${pad(us(r.p99_us), 9)}${pad(`${r.loader_cpu_pct} %`, 13)}  ${r.cpu_runs.map((x) => x.toFixed(2)).join(" ")}`);
}
// issue 14's targets, from the medians: the native host below rtpengine's userspace path, and within
// 2x of the floor, at each step all three measured without loss
const med = (name, n) => rows.find((r) => r.subject === name && r.calls === n && !r.error && r.lost === 0)?.cpu_us_per_pkt;
const steps = STEPS.filter((n, i) => STEPS.indexOf(n) === i && [med("native", n), med("rtpengine", n), med("floor", n)].every((x) => x !== undefined));
if (steps.length) {
  console.log("\ntargets (medians): native below rtpengine, and within 2x of the floor");
  for (const n of steps) {
    const [nat, rtpe, fl] = [med("native", n), med("rtpengine", n), med("floor", n)];
    console.log(`  ${pad(n, 4)} calls: native ${nat.toFixed(2)} / rtpengine ${rtpe.toFixed(2)} = ${(nat / rtpe).toFixed(2)} ${nat < rtpe ? "below" : "NOT below"}; / floor ${fl.toFixed(2)} = ${(nat / fl).toFixed(2)}x ${nat <= 2 * fl ? "within 2x" : "NOT within 2x"}`);
  }
  const below = steps.filter((n) => med("native", n) < med("rtpengine", n)).length;
  const within = steps.filter((n) => med("native", n) <= 2 * med("floor", n)).length;
  console.log(`  native below rtpengine at ${below} of ${steps.length} steps; within 2x of the floor at ${within} of ${steps.length}`);
}
console.log("(rtpload CPU near 100 %: the load generator, one thread, is the limit of that step, not the relay)");
console.log("\nlargest N with zero loss:");
for (const name of [...new Set(rows.map((r) => r.subject))]) {
  const ok = rows.filter((r) => r.subject === name && !r.error && r.lost === 0).map((r) => r.calls);
  console.log(`  ${name.padEnd(10)}${ok.length ? Math.max(...ok) : "none"}${name === "floor" ? "  (the floor)" : ""}`);
}
writeFileSync(join(out, "last.json"), JSON.stringify({ seconds: SECONDS, repeat: REPEAT, steps: STEPS, rows, samples }, null, 2) + "\n");
console.log(`(${((Date.now() - started) / 1000).toFixed(0)} s; rows in build/bench-media/last.json)`);
