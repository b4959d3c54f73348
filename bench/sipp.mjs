#!/usr/bin/env node
// SIPp load benchmark of the real server (host/node/cli.mjs + bundled core), after the Kamailio
// reference rig (../shared/reference/kamailio-bench): same scenarios (tests/sipp/register.xml,
// uac_invite.xml, uas.xml), same command lines, same verdict, same measurements.
//
//   REGISTER: one REGISTER per SIPp call, users from a SEQUENTIAL injection CSV of 10,000 users.
//   call:     INVITE/180/200/ACK, 1 s hold, BYE/200 through the record-routing proxy to a SIPp UAS
//             registered as sip:uas@127.0.0.1 (registered first, from the UAS port).
//   b2bua:    the same call through the back-to-back user agent (board b2bua, "mode": "b2bua"): the
//             SIPp UAC registered on the registrar side (as sip:sipp@127.0.0.1, from its port), the
//             SIPp UAS as the trunk side's provider at 127.0.0.9; every call is two dialogs. Only with
//             --only b2bua or --b2bua (the proxy's two benchmarks run by default).
//
// For each benchmark it steps the rate up (a fresh server per run) until a run fails, retries a
// failing rate once, then tries one midpoint between the last passing and the failing rate.
// A run passes only if every sipp exits 0, successful calls = rate x duration, 0 failed calls and
// 0 retransmissions (on the UAS too for calls), and the server is still alive.
// Per run: server CPU (utime+stime from /proc/PID/stat, before/after) per completed operation,
// server CPU %, peak RSS (VmRSS sampled 4x/s), SIPp CPU %, system UDP RcvbufErrors delta, RTT p99 bucket.
//
// Hosts: the Node host, the native host (build/server/sipling, wasm2c + gcc), the WASI host's wasmtime
// build (build/wasi/sipling-wasip2.wasm under the wasmtime CLI, tools/wasmtime.mjs) and the WAMR host
// (the same host/c sources on WAMR's classic interpreter, build/wamr/classic/server/sipling, and on its
// fast interpreter, build/wamr/fast/server/sipling; built here by tools/wamr.mjs), one after the other,
// then Kamailio from Debian with the reference rig's configuration (bench/kamailio/kamailio.cfg: an
// in-memory registrar and a record-routing stateful proxy, 2 UDP workers, `-m 2048 -M 8`) under the same
// scenarios and rates: its figures are measured in the same run, on the same machine, and each host's
// are printed as ratios to them. CPU and memory are summed over a server's process tree (Kamailio forks
// workers); memory is reported as peak RSS and peak PSS (/proc/PID/smaps_rollup: shared pages counted
// once), and each host's idle PSS (2 s after start, no traffic) is measured before its runs.
// Usage: node bench/sipp.mjs [--duration S] [--quick] [--only register|call] [--host node,native,wasmtime,wamr,wamr-fast,kamailio] [--no-retry] [--keep]
//   --host H,...  which hosts to measure (default node,native,wasmtime,wamr,wamr-fast,kamailio)
//   --duration S  seconds per run (default 20)
//   --quick       smoke mode: ~5 s runs at fixed low rates (checks the tool works; not a measurement)
//   --only B,...  only these benchmarks (register, call, b2bua; e.g. --only call,b2bua: the proxy's and
//                 the B2BUA's calls side by side)
//   --b2bua       the B2BUA benchmark too (Node and native hosts)
//   --no-retry    do not retry a failing rate
//   --soak S      re-run the best call rate for S s (default 45; 0 = off), stepping down on failure
//   --keep        keep the per-run scratch directory (sipp CSVs, logs, command lines)
// Writes bench/results/last.json. Exits 0 unless the tool itself breaks (a benchmark below target is
// reported as BELOW, not as a failure); exits 1 if the smoke mode (--quick) sees a failing run.
import { spawn, spawnSync } from "node:child_process";
import { createSocket } from "node:dgram";
import { mkdtempSync, mkdirSync, readFileSync, writeFileSync, existsSync, rmSync, readdirSync } from "node:fs";
import { tmpdir, cpus } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { rssKb } from "./proc.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const sippDir = join(root, "tests", "sipp");
const cli = join(root, "host", "node", "cli.mjs");

// ---- options --------------------------------------------------------------------------------
const argv = process.argv.slice(2);
const flag = (n) => argv.includes(n);
const opt = (n) => { const i = argv.indexOf(n); return i >= 0 ? argv[i + 1] : undefined; };
if (flag("--help")) {
  console.log(readFileSync(fileURLToPath(import.meta.url), "utf8").split("\n").slice(1, 26).map((l) => l.replace(/^\/\/ ?/, "")).join("\n"));
  process.exit(0);
}
const QUICK = flag("--quick");
const DUR = Number(opt("--duration") ?? (QUICK ? 5 : 20));
const DEFAULT_DUR = DUR;
// Calls hold proxy transactions for 64·T1 = 32 s after they end (RFC 6026 Timer L/M, Timer J), so a
// 20 s run never reaches the transaction table's steady state: the best call rate is re-run for SOAK s.
const SOAK = QUICK ? 0 : Number(opt("--soak") ?? 45);
const ONLY = opt("--only")?.split(","); // one or more of register, call, b2bua
// Hosts measured in the same run (issue: the native host beside the Node host; issue 16: wasmtime, and
// WAMR's interpreters beside wasm2c). The executable of each host that is neither Node nor wasmtime:
const EXES = {
  native: join(root, "build", "server", "sipling"),
  wamr: join(root, "build", "wamr", "classic", "server", "sipling"),
  "wamr-fast": join(root, "build", "wamr", "fast", "server", "sipling"),
};
const HOSTS = (opt("--host") ?? "node,native,wasmtime,wamr,wamr-fast,kamailio").split(",");
const KAMAILIO_CFG = join(root, "bench", "kamailio", "kamailio.cfg");
let HOST = HOSTS[0];
const RETRY = !flag("--no-retry") && !QUICK;
const KEEP = flag("--keep");
const WITH_B2BUA = flag("--b2bua") || (ONLY?.includes("b2bua") ?? false);
if (!(DUR > 0) || (ONLY && ONLY.some((b) => !["register", "call", "b2bua"].includes(b))) || HOSTS.some((h) => h !== "node" && h !== "wasmtime" && h !== "kamailio" && !EXES[h])) {
  console.error("usage: node bench/sipp.mjs [--duration S] [--quick] [--only register|call|b2bua] [--b2bua] [--host node,native,wasmtime,wamr,wamr-fast,kamailio] [--no-retry] [--keep]");
  process.exit(2);
}
const HOLD_MS = 1000;
const USERS = 10_000;
const BUFF = 4194304;
const HZ = Number(spawnSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).stdout.trim()) || 100;

const BENCH = {
  register: {
    title: "REGISTER", unit: "REGISTER/s",
    steps: QUICK ? [1000, 3000] : [5000, 10000, 15000, 20000, 25000, 30000, 35000, 40000, 45000, 50000, 55000, 60000, 70000, 80000, 90000, 100000],
    minGap: 2500, target: 25000,
    // WAMR's interpreters (hundreds of CPU-µs per REGISTER) fail the first step above: they start lower
    interpSteps: QUICK ? [300, 1000] : [500, 1000, 1500, 2000, 2500, 3000, 3500, 4000, 5000, 6000, 8000, 10000],
  },
  call: {
    title: "calls (INVITE..BYE, 1 s hold)", unit: "calls/s",
    steps: QUICK ? [100, 300] : [500, 1000, 1500, 2000, 2500, 3000, 3500, 4000, 4500, 5000, 5500, 6000, 7000, 8000],
    minGap: 250, target: 2500,
    interpSteps: QUICK ? [30, 100] : [50, 100, 150, 200, 300, 400, 500, 750, 1000, 1500, 2000],
  },
  b2bua: {
    title: "B2BUA calls (phone -> trunk, INVITE..BYE, 1 s hold)", unit: "calls/s",
    steps: QUICK ? [50, 100] : [250, 500, 1000, 1500, 2000, 2500, 3000, 3500, 4000],
    minGap: 250, target: 1000,
    interpSteps: QUICK ? [20, 50] : [25, 50, 100, 200, 300, 500],
    // Kamailio is a proxy: the proxy's call benchmark is its comparison
  },
};
/** The B2BUA's trunk-side provider (the SIPp UAS) and the board of the B2BUA benchmark. */
const TRUNK_IP = "127.0.0.9";
const B2BUA_EXE = join(root, "build", "b2bua", "sipling");

// ---- scratch, children, cleanup ---------------------------------------------------------------
const work = mkdtempSync(join(tmpdir(), "sipling-bench-"));
const children = new Set(); // live ChildProcess objects we started
function cleanup() {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) try { process.kill(c.pid, "SIGKILL"); } catch { /* gone */ }
  if (!KEEP) rmSync(work, { recursive: true, force: true });
}
process.on("exit", cleanup);
for (const s of ["SIGINT", "SIGTERM"]) process.on(s, () => { console.error(`\n${s}: stopping`); process.exit(130); });

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---- /proc readers ----------------------------------------------------------------------------
function procStat(pid) { // {ticks, state} or null
  try {
    const s = readFileSync(`/proc/${pid}/stat`, "utf8");
    const f = s.slice(s.lastIndexOf(")") + 2).split(" "); // f[0] = state (field 3)
    return { state: f[0], ticks: Number(f[11]) + Number(f[12]) }; // utime (14) + stime (15)
  } catch { return null; }
}
/** A process and its descendants (Kamailio's workers; our hosts are one process): live pids. */
function tree(pid) {
  const kids = new Map();
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const s = readFileSync(`/proc/${d}/stat`, "utf8");
      const ppid = Number(s.slice(s.lastIndexOf(")") + 2).split(" ")[1]);
      if (!kids.has(ppid)) kids.set(ppid, []);
      kids.get(ppid).push(Number(d));
    } catch { /* gone */ }
  }
  const out = [pid];
  for (let i = 0; i < out.length; i++) out.push(...(kids.get(out[i]) ?? []));
  return out;
}
/** CPU ticks of a process tree (the pids given: a tree() taken once the server is up). */
function treeTicks(pids) {
  let t = 0;
  for (const p of pids) { const s = procStat(p); if (s) t += s.ticks; }
  return t;
}
function treeRssKb(pids) { return pids.reduce((a, p) => a + rssKb(p), 0); }
/** Proportional set size of a process tree in kB (shared pages divided among their sharers). */
function treePssKb(pids) {
  let t = 0;
  for (const p of pids) {
    try { t += Number(/^Pss:\s+(\d+)/m.exec(readFileSync(`/proc/${p}/smaps_rollup`, "utf8"))?.[1] ?? 0); } catch { /* gone */ }
  }
  return t;
}
// System-wide busy CPU ticks (all CPUs) from /proc/stat: used to report what other processes took.
function boxBusyTicks() {
  const f = readFileSync("/proc/stat", "utf8").split("\n")[0].trim().split(/\s+/).slice(1).map(Number);
  return f.slice(0, 8).reduce((a, b) => a + b, 0) - f[3] - f[4]; // minus idle, iowait
}
function rcvbufErrors() {
  const lines = readFileSync("/proc/net/snmp", "utf8").split("\n").filter((l) => l.startsWith("Udp:"));
  const h = lines[0].split(/\s+/), v = lines[1].split(/\s+/);
  return Number(v[h.indexOf("RcvbufErrors")]);
}
// Per-socket receive drops (last column of /proc/net/udp) of UDP sockets bound on 127.0.0.1:port.
function udpDrops(ports) {
  const want = new Map(ports.map((p) => [`0100007F:${p.toString(16).toUpperCase().padStart(4, "0")}`, p]));
  const out = {};
  for (const l of readFileSync("/proc/net/udp", "utf8").split("\n").slice(1)) {
    const f = l.trim().split(/\s+/);
    const p = want.get(f[1]);
    if (p !== undefined) out[p] = (out[p] ?? 0) + Number(f[f.length - 1]);
  }
  return out;
}
function udpBound(port) { // is 127.0.0.1:port (or 0.0.0.0:port) bound on UDP?
  const hex = port.toString(16).toUpperCase().padStart(4, "0");
  const t = readFileSync("/proc/net/udp", "utf8");
  return t.includes(`0100007F:${hex} `) || t.includes(`00000000:${hex} `);
}
function udpFree(port) {
  return new Promise((resolve) => {
    const u = createSocket("udp4");
    u.once("error", () => { u.close(); resolve(false); });
    u.bind(port, "127.0.0.1", () => u.close(() => resolve(true)));
  });
}
/** The boards' own capacities (the large profile: docs/ABI.md "Layout"), for the load runs. */
const LARGE = {
  server: { transactions: 393216, registrations: 262144, messageBlocks: 196608, dialogs: 65536, relayLegs: 8192 },
  b2bua: { transactions: 196608, registrations: 65536, messageBlocks: 131072, dialogs: 32768, relayLegs: 8192 },
};
let nextPort = 30000 + (process.pid % 1000) * 20;
async function freePort() {
  for (let i = 0; i < 500; i++) {
    const p = nextPort; nextPort += 10;
    if (nextPort > 60000) nextPort = 30000;
    if (await udpFree(p) && await udpFree(p + 2)) return p;
  }
  throw new Error("no free UDP port");
}

// ---- the server -------------------------------------------------------------------------------
// At --log-level warn the server prints nothing on start (its "running" line is info), so
// readiness is a SIP OPTIONS probe answered on the port. Warn/error lines are kept.
let wasmtimeBin = null; // set by main() when the wasmtime host is measured
const wasip2 = join(root, "build", "wasi", "sipling-wasip2.wasm");
async function startServer(port, config = null) {
  const native = EXES[HOST] !== undefined; // an executable: the native host or a WAMR host
  const kam = HOST === "kamailio";
  let exe, args;
  if (kam) {
    // the reference rig's configuration on this run's ports; its command line (README of the rig)
    const dir = mkdtempSync(join(work, "kamailio-"));
    const ctl = await freePort();
    writeFileSync(join(dir, "kamailio.cfg"), readFileSync(KAMAILIO_CFG, "utf8")
      .replaceAll("udp:127.0.0.1:5060", `udp:127.0.0.1:${port}`).replaceAll("udp:127.0.0.1:2046", `udp:127.0.0.1:${ctl}`));
    exe = "kamailio";
    args = ["-f", join(dir, "kamailio.cfg"), "-DD", "-E", "-m", "2048", "-M", "8", "-Y", dir];
  } else {
    exe = config && HOST === "native" ? B2BUA_EXE : native ? EXES[HOST] : HOST === "wasmtime" ? wasmtimeBin : process.execPath;
    args = [...(native ? [] : HOST === "wasmtime" ? ["run", "-S", "inherit-network", wasip2] : [cli]),
      "--listen", `udp:127.0.0.1:${port}`, "--log-level", "warn", ...(config ? ["--config", config] : [])];
  }
  const child = spawn(exe, args, {
    cwd: root, env: { ...process.env, SIPLING_NO_BUILD: "1" }, stdio: ["ignore", "pipe", "pipe"],
  });
  children.add(child);
  const srv = { child, pid: child.pid, port, cmd: `${native || kam || HOST === "wasmtime" ? exe : "SIPLING_NO_BUILD=1 node"} ${args.join(" ")}`, logs: [], stderr: "", exit: null, quietStderr: kam }; // Kamailio's banner and notices are no warnings of ours
  let buf = "";
  child.stdout.setEncoding("utf8");
  child.stdout.on("data", (d) => {
    buf += d;
    let i;
    while ((i = buf.indexOf("\n")) >= 0) {
      const line = buf.slice(0, i); buf = buf.slice(i + 1);
      if (line.trim() && srv.logs.length < 2000) srv.logs.push(line);
    }
  });
  child.stderr.setEncoding("utf8");
  child.stderr.on("data", (d) => { if (srv.stderr.length < 20000) srv.stderr += d; });
  srv.exited = new Promise((r) => child.once("exit", (code, signal) => { srv.exit = { code, signal }; children.delete(child); r(srv.exit); }));
  // probe
  const sock = createSocket("udp4");
  let answered = false;
  sock.on("message", () => { answered = true; });
  await new Promise((r) => sock.bind(0, "127.0.0.1", r));
  const lp = sock.address().port;
  const t0 = Date.now();
  try {
    while (!answered) {
      if (srv.exit) throw new Error(`server exited on start: ${JSON.stringify(srv.exit)} ${srv.stderr} ${srv.logs.join("\n")}`);
      if (Date.now() - t0 > 15000) throw new Error(`server not answering on udp:127.0.0.1:${port} after 15 s; ${srv.stderr}`);
      if (udpBound(port)) {
        const br = `z9hG4bKprobe${Date.now()}`;
        const m = [`OPTIONS sip:127.0.0.1:${port} SIP/2.0`, `Via: SIP/2.0/UDP 127.0.0.1:${lp};branch=${br};rport`,
          "Max-Forwards: 70", `From: <sip:bench@127.0.0.1:${lp}>;tag=b${lp}`, `To: <sip:127.0.0.1:${port}>`,
          `Call-ID: probe-${br}@127.0.0.1`, "CSeq: 1 OPTIONS", "Content-Length: 0", "", ""].join("\r\n");
        sock.send(m, port, "127.0.0.1");
      }
      await sleep(100);
    }
  } catch (e) { sock.close(); await stopServer(srv); throw e; }
  sock.close();
  srv.pids = tree(srv.pid); // Kamailio's workers are forked by now (it answers from them)
  return srv;
}
async function stopServer(srv) {
  if (!srv.exit) {
    try { process.kill(srv.pid, "SIGTERM"); } catch { /* gone */ }
    const hard = setTimeout(() => { try { process.kill(srv.pid, "SIGKILL"); } catch { /* gone */ } }, 3000);
    await srv.exited;
    clearTimeout(hard);
  }
  return srv.exit;
}

// ---- sipp -------------------------------------------------------------------------------------
// Runs one bounded sipp (its -m/-timeout from args, plus a hard kill timer). Resolves {code, ...}.
function sipp(name, args, dir, hardMs) {
  const full = [...args, ...(args.includes("-i") ? [] : ["-i", "127.0.0.1"]), "-nostdin"];
  const cmd = `sipp ${full.join(" ")}`;
  writeFileSync(join(dir, "commands.txt"), cmd + "\n", { flag: "a" });
  const child = spawn("sipp", full, { cwd: dir, stdio: ["ignore", "pipe", "pipe"] });
  children.add(child);
  let out = "", err = "";
  child.stdout.setEncoding("utf8"); child.stderr.setEncoding("utf8");
  child.stdout.on("data", (d) => { out += d; if (out.length > 200_000) out = out.slice(-100_000); });
  child.stderr.on("data", (d) => { if (err.length < 20000) err += d; });
  let killed = false;
  const hard = setTimeout(() => { killed = true; try { process.kill(child.pid, "SIGKILL"); } catch { /* gone */ } }, hardMs);
  const done = new Promise((resolve) => child.once("exit", (code, signal) => {
    clearTimeout(hard);
    children.delete(child);
    writeFileSync(join(dir, `${name}.stdout`), out);
    writeFileSync(join(dir, `${name}.stderr`), err);
    resolve({ code, signal, killed, stdout: out, stderr: err, cmd });
  }));
  return { child, pid: child.pid, done, cmd };
}

// Last line of a sipp -trace_stat CSV as {column: value}; plus per-second CallRate(P) samples.
function readStat(file) {
  if (!existsSync(file)) return null;
  const lines = readFileSync(file, "utf8").split("\n").filter((l) => l.trim());
  if (lines.length < 2) return null;
  const head = lines[0].split(";");
  const rows = lines.slice(1).map((l) => l.split(";"));
  const last = rows[rows.length - 1];
  const col = (n) => { const i = head.indexOf(n); return i >= 0 ? last[i] : undefined; };
  const num = (n) => { const v = col(n); return v === undefined || v === "" ? NaN : Number(v); };
  // p99 bucket of the (cumulative) response-time repartition 1
  const rep = head.map((h, i) => [h, i]).filter(([h]) => h.startsWith("ResponseTimeRepartition1_"));
  let p99 = "NA";
  const tot = rep.reduce((a, [, i]) => a + Number(last[i] || 0), 0);
  if (tot) {
    let acc = 0;
    for (const [h, i] of rep) { acc += Number(last[i] || 0); if (acc >= 0.99 * tot) { p99 = h.slice("ResponseTimeRepartition1_".length) + " ms"; break; } }
  }
  const ri = head.indexOf("CallRate(P)");
  const rates = ri >= 0 ? rows.map((r) => Number(r[ri])).filter((x) => x > 0) : [];
  const steady = rates.length >= 3 ? rates.slice(1, -1).reduce((a, b) => a + b, 0) / (rates.length - 2) : NaN;
  return {
    ok: num("SuccessfulCall(C)"), failed: num("FailedCall(C)"), retrans: num("Retransmissions(C)"),
    dead: num("DeadCallMsgs(C)"), p99, steadyRate: steady,
  };
}

// ---- one run ----------------------------------------------------------------------------------
async function run(bench, rate, DUR = DEFAULT_DUR) {
  const dir = join(work, `${bench}-${rate}-${Date.now()}`);
  mkdirSync(dir, { recursive: true });
  const N = rate * DUR;
  const port = await freePort();
  let config = null, trunkPort = 0;
  if (bench === "b2bua") {
    trunkPort = await freePort();
    config = join(dir, "b2bua.json");
    writeFileSync(config, JSON.stringify({ board: "b2bua", mode: "b2bua", domains: ["127.0.0.1"], overloadControl: false, capacity: LARGE.b2bua, sides: [
      { name: "office", role: "registrar", route: "carrier" },
      { name: "carrier", role: "trunk", address: `${TRUNK_IP}:${trunkPort}`, route: "office" },
    ] }));
  } else if (HOST !== "kamailio" && HOST !== "wasmtime") {
    // the load runs: the server board's own capacities (the large profile, examples/proxy-large.json), as
    // Kamailio runs with 2 GB of shared memory here; the idle PSS is the site defaults'
    config = join(dir, "proxy.json");
    writeFileSync(config, JSON.stringify({ capacity: LARGE.server }));
  }
  const srv = await startServer(port, config);
  writeFileSync(join(dir, "commands.txt"), srv.cmd + "\n");
  const res = { bench, rate, duration: DUR, calls: N, serverPort: port };
  const sippPids = [];
  const sippPorts = []; // local ports of the measured sipps (uas first for calls), for per-socket drops
  const sippTicks = new Map(); // pid -> last seen ticks
  let peakRss = treeRssKb(srv.pids);
  let peakPss = treePssKb(srv.pids);
  let uas = null, uasRegister = null;
  try {
    if (bench === "b2bua") {
      // the provider: a SIPp UAS at the trunk side's address
      uas = sipp("uas", ["-sf", join(sippDir, "uas.xml"), "-i", TRUNK_IP, "-p", String(trunkPort), "-mp", String(trunkPort + 2000),
        "-m", String(N), "-timeout", `${DUR + 75}s`, "-buff_size", String(BUFF), "-fd", "1",
        "-trace_stat", "-trace_err", "-trace_screen", "-stf", join(dir, "uas_stat.csv"),
        "-error_file", join(dir, "uas_err.log"), "-screen_file", join(dir, "uas_screen.log")], dir, (DUR + 90) * 1000);
      sippPids.push(uas.pid);
      sippPorts.push(trunkPort);
      await sleep(300);
    }
    if (bench === "call") {
      // UAS contact sip:uas@127.0.0.1:<uasPort>, registered from the UAS port, then the UAS itself
      const uasPort = await freePort();
      res.uasPort = uasPort;
      const csv = join(dir, "uas.csv");
      writeFileSync(csv, "SEQUENTIAL\nuas;127.0.0.1\n");
      uasRegister = await sipp("uas_register", [`127.0.0.1:${port}`, "-sf", join(sippDir, "register.xml"), "-inf", csv,
        "-p", String(uasPort), "-mp", String(uasPort + 2000), "-m", "1", "-timeout", "10s"], dir, 20_000).done;
      if (uasRegister.code !== 0) throw new Error(`REGISTER of the UAS failed (sipp exit ${uasRegister.code}): ${uasRegister.stderr.slice(0, 500)}`);
      for (let i = 0; i < 50 && !(await udpFree(uasPort)); i++) await sleep(100);
      uas = sipp("uas", ["-sf", join(sippDir, "uas.xml"), "-p", String(uasPort), "-mp", String(uasPort + 2000),
        "-m", String(N), "-timeout", `${DUR + 75}s`, "-buff_size", String(BUFF), "-fd", "1",
        "-trace_stat", "-trace_err", "-trace_screen", "-stf", join(dir, "uas_stat.csv"),
        "-error_file", join(dir, "uas_err.log"), "-screen_file", join(dir, "uas_screen.log")], dir, (DUR + 90) * 1000);
      sippPids.push(uas.pid);
      sippPorts.push(uasPort);
      for (let i = 0; !udpBound(uasPort); i++) {
        if (i > 50) throw new Error(`UAS sipp did not bind ${uasPort}`);
        await sleep(100);
      }
    }
    const drops0 = rcvbufErrors();
    const cpu0 = treeTicks(srv.pids);
    const box0 = boxBusyTicks();
    const t0 = performance.now();
    let main, mainPort;
    if (bench === "register") {
      const csv = join(dir, "users.csv");
      let s = "SEQUENTIAL\n";
      for (let i = 1; i <= USERS; i++) s += `user${String(i).padStart(5, "0")};127.0.0.1\n`;
      writeFileSync(csv, s);
      const p = mainPort = await freePort();
      main = sipp("register", [`127.0.0.1:${port}`, "-sf", join(sippDir, "register.xml"), "-inf", csv,
        "-p", String(p), "-mp", String(p + 2000), "-r", String(rate), "-rp", "1000", "-m", String(N),
        "-timeout", `${DUR + 45}s`, "-buff_size", String(BUFF), "-fd", "1",
        "-trace_stat", "-trace_err", "-trace_screen", "-stf", join(dir, "register_stat.csv"),
        "-error_file", join(dir, "register_err.log"), "-screen_file", join(dir, "register_screen.log")], dir, (DUR + 50) * 1000);
    } else {
      const p = mainPort = await freePort();
      if (bench === "b2bua") {
        // the phone: registered from the port it calls from (the registrar side takes calls only from there)
        const csv = join(dir, "phone.csv");
        writeFileSync(csv, "SEQUENTIAL\nsipp;127.0.0.1\n");
        const reg = await sipp("phone_register", [`127.0.0.1:${port}`, "-sf", join(sippDir, "register.xml"), "-inf", csv,
          "-p", String(p), "-mp", String(p + 2000), "-m", "1", "-timeout", "10s"], dir, 20_000).done;
        if (reg.code !== 0) throw new Error(`REGISTER of the phone failed (sipp exit ${reg.code}): ${reg.stderr.slice(0, 500)}`);
        for (let i = 0; i < 50 && !(await udpFree(p)); i++) await sleep(100);
      }
      main = sipp("uac", [`127.0.0.1:${port}`, "-sf", join(sippDir, "uac_invite.xml"), "-s", bench === "b2bua" ? "15551234" : "uas",
        "-p", String(p), "-mp", String(p + 2000), "-r", String(rate), "-rp", "1000", "-m", String(N),
        "-d", String(HOLD_MS), "-timeout", `${DUR + 45}s`, "-buff_size", String(BUFF), "-fd", "1",
        "-trace_stat", "-trace_err", "-trace_screen", "-stf", join(dir, "uac_stat.csv"),
        "-error_file", join(dir, "uac_err.log"), "-screen_file", join(dir, "uac_screen.log")], dir, (DUR + 50) * 1000);
    }
    sippPids.push(main.pid);
    sippPorts.push(mainPort);
    // sampler: server RSS 4x/s, last-seen sipp CPU ticks
    const sockDrops = {}; // port -> last seen drops (sockets vanish when sipp exits)
    const sample = () => {
      peakRss = Math.max(peakRss, treeRssKb(srv.pids));
      peakPss = Math.max(peakPss, treePssKb(srv.pids));
      for (const [p, d] of Object.entries(udpDrops([port, ...sippPorts]))) sockDrops[p] = d;
      for (const pid of sippPids) { const s = procStat(pid); if (s && s.state !== "Z") sippTicks.set(pid, s.ticks); }
    };
    const timer = setInterval(sample, 250);
    // server CPU over the load window only (DUR s of new calls, + the hold for calls); a failing run
    // can linger until SIPp's -timeout, which would dilute a whole-run average
    let cpuLoad = null;
    const loadMs = DUR * 1000 + (bench !== "register" ? HOLD_MS : 0);
    const loadTimer = setTimeout(() => { if (procStat(srv.pid)) cpuLoad = treeTicks(srv.pids) - cpu0; }, loadMs);
    const r = await main.done;
    let u = null;
    if (uas) {
      // the UAS exits by itself after N calls (+1 s timewait); bounded wait, then stop it by PID
      const t = setTimeout(() => { try { process.kill(uas.pid, "SIGTERM"); } catch { /* gone */ } }, 15_000);
      u = await uas.done;
      clearTimeout(t);
    }
    clearInterval(timer);
    clearTimeout(loadTimer);
    sample();
    res.socketDrops = { server: sockDrops[port] ?? 0, sipp: sockDrops[sippPorts[1] ?? sippPorts[0]] ?? 0 };
    if (uas) { res.socketDrops.uac = sockDrops[sippPorts[1]] ?? 0; res.socketDrops.uas = sockDrops[sippPorts[0]] ?? 0; delete res.socketDrops.sipp; }
    const wall = (performance.now() - t0) / 1000;
    const cpuTicks = procStat(srv.pid) ? treeTicks(srv.pids) - cpu0 : NaN;
    peakRss = Math.max(peakRss, treeRssKb(srv.pids));
    peakPss = Math.max(peakPss, treePssKb(srv.pids));
    res.drops = rcvbufErrors() - drops0;
    res.wallS = +wall.toFixed(2);
    const cpuUs = (cpuTicks * 1e6) / HZ;
    const sippAll = [...sippTicks.values()].reduce((a, b) => a + b, 0);
    // CPU of everything else on the box during the run (other processes' load disturbs the result)
    res.otherCpuPct = +((100 * Math.max(0, boxBusyTicks() - box0 - cpuTicks - sippAll)) / HZ / wall).toFixed(1);
    res.loadavg = readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");
    res.serverCpuPct = cpuLoad !== null ? +((100 * cpuLoad) / HZ / (loadMs / 1000)).toFixed(1) : +((100 * cpuUs) / 1e6 / wall).toFixed(1);
    res.serverCpuPctWholeRun = +((100 * cpuUs) / 1e6 / wall).toFixed(1);
    res.sippCpuPct = +((100 * ((sippTicks.get(main.pid) ?? 0) / HZ)) / wall).toFixed(1);
    if (uas) res.uasCpuPct = +((100 * ((sippTicks.get(uas.pid) ?? 0) / HZ)) / wall).toFixed(1);
    res.peakRssMb = +(peakRss / 1024).toFixed(1);
    res.peakPssMb = +(peakPss / 1024).toFixed(1);
    res.sippExit = r.code ?? r.signal;
    if (r.killed) res.sippKilled = true;
    const S = readStat(join(dir, bench === "register" ? "register_stat.csv" : "uac_stat.csv")) ?? {};
    Object.assign(res, { ok: S.ok, failed: S.failed, retrans: S.retrans, deadMsgs: S.dead, rttP99: S.p99,
      achievedRate: Number.isFinite(S.steadyRate) ? Math.round(S.steadyRate) : null });
    res.cpuUsPerOp = S.ok > 0 ? +(cpuUs / S.ok).toFixed(1) : null;
    if (uas) {
      const U = readStat(join(dir, "uas_stat.csv")) ?? {};
      Object.assign(res, { uasExit: u.code ?? u.signal, uasOk: U.ok, uasFailed: U.failed, uasRetrans: U.retrans });
      if (u.killed) res.uasKilled = true;
    }
    res.serverAlive = !srv.exit;
    const why = [];
    if (res.sippExit !== 0) why.push(`sipp exit ${res.sippExit}`);
    if (res.ok !== N) why.push(`ok ${res.ok}/${N}`);
    if (res.failed !== 0) why.push(`failed ${res.failed}`);
    if (res.retrans !== 0) why.push(`retrans ${res.retrans}`);
    if (uas) {
      if (res.uasExit !== 0) why.push(`uas exit ${res.uasExit}`);
      if (res.uasOk !== N) why.push(`uas ok ${res.uasOk}/${N}`);
      if (res.uasFailed !== 0) why.push(`uas failed ${res.uasFailed}`);
      if (res.uasRetrans !== 0) why.push(`uas retrans ${res.uasRetrans}`);
    }
    if (!res.serverAlive) why.push(`server died ${JSON.stringify(srv.exit)}`);
    res.verdict = why.length ? "FAIL" : "PASS";
    if (why.length) {
      res.why = why.join(", ");
      const errLog = join(dir, bench === "register" ? "register_err.log" : "uac_err.log");
      if (existsSync(errLog)) res.sippErrSample = readFileSync(errLog, "utf8").slice(0, 600);
      if (uas && existsSync(join(dir, "uas_err.log"))) res.uasErrSample = readFileSync(join(dir, "uas_err.log"), "utf8").slice(0, 600);
    }
  } catch (e) {
    res.verdict = "FAIL";
    res.why = `harness: ${e.message}`;
    for (const pid of sippPids) try { process.kill(pid, "SIGKILL"); } catch { /* gone */ }
    if (uas) await uas.done;
  } finally {
    await stopServer(srv);
    const exit = srv.exit;
    // a server that logged warnings/errors, wrote to stderr, or did not exit cleanly on SIGTERM
    if (srv.logs.length && !srv.quietStderr) res.serverLogs = srv.logs.slice(0, 20); // Kamailio prints its start-up banner
    if (srv.stderr && !srv.quietStderr) res.serverStderr = srv.stderr.slice(0, 2000);
    if (exit && !(exit.code === 0 || exit.signal === "SIGTERM")) res.serverExit = exit;
  }
  if (KEEP) res.dir = dir;
  else rmSync(dir, { recursive: true, force: true });
  return res;
}

function line(r) {
  const f = (x) => (x === undefined || x === null || Number.isNaN(x) ? "NA" : x);
  let s = `RUN ${r.bench.padEnd(8)} rate=${String(r.rate).padStart(6)}/s x ${r.duration}s  ${r.verdict}` +
    `  ok=${f(r.ok)}/${r.calls} failed=${f(r.failed)} retrans=${f(r.retrans)}`;
  if (r.bench === "call") s += ` uas_ok=${f(r.uasOk)} uas_failed=${f(r.uasFailed)} uas_retrans=${f(r.uasRetrans)}`;
  const sd = r.socketDrops ? ` (${Object.entries(r.socketDrops).map(([k, v]) => `${k} ${v}`).join(", ")})` : "";
  s += ` rcvbuf_drops=${f(r.drops)}${sd} achieved=${f(r.achievedRate)}/s rtt_p99=${f(r.rttP99)}` +
    ` server_cpu=${f(r.serverCpuPct)}% cpu_us/op=${f(r.cpuUsPerOp)} peak_rss=${f(r.peakRssMb)}MB peak_pss=${f(r.peakPssMb)}MB sipp_cpu=${f(r.sippCpuPct)}%` +
    (r.bench === "call" ? ` uas_cpu=${f(r.uasCpuPct)}%` : "") + ` other_cpu=${f(r.otherCpuPct)}%`;
  if (r.why) s += `\n    why: ${r.why}`;
  if (r.serverLogs) s += `\n    server logs (${r.serverLogs.length}${r.serverLogs.length >= 20 ? "+" : ""}): ${r.serverLogs.slice(0, 3).join("\n      ")}`;
  if (r.serverStderr) s += `\n    server stderr: ${r.serverStderr.slice(0, 500)}`;
  if (r.serverExit) s += `\n    server exit: ${JSON.stringify(r.serverExit)}`;
  if (r.verdict === "FAIL" && r.sippErrSample) s += `\n    sipp errors: ${r.sippErrSample.split("\n").slice(0, 4).join(" | ")}`;
  if (r.verdict === "FAIL" && r.uasErrSample) s += `\n    uas errors: ${r.uasErrSample.split("\n").slice(0, 4).join(" | ")}`;
  return s;
}

// Step up until a failure (a failing rate is retried once); then one midpoint between the last pass
// and the first failure, if the gap is wider than minGap. In quick mode every fixed rate runs once.
async function search(bench) {
  const B = { ...BENCH[bench] };
  if (HOST.startsWith("wamr")) Object.assign(B, { steps: B.interpSteps, minGap: B.interpSteps[1] - B.interpSteps[0] });
  const runs = [];
  const attempt = async (rate) => {
    const r = await run(bench, rate);
    runs.push(r);
    console.log(line(r));
    if (r.verdict === "PASS" || !RETRY) return r.verdict === "PASS";
    const r2 = await run(bench, rate);
    r2.retry = true;
    runs.push(r2);
    console.log(line(r2) + "  (retry)");
    return r2.verdict === "PASS";
  };
  let best = null, firstFail = null;
  for (const rate of B.steps) {
    if (await attempt(rate)) best = rate;
    else { firstFail = rate; if (!QUICK) break; }
  }
  if (!QUICK && firstFail !== null) {
    const lo = best ?? 0;
    const mid = Math.round((lo + firstFail) / 2 / (B.minGap / 5)) * (B.minGap / 5);
    if (firstFail - lo > B.minGap && mid > lo && mid < firstFail && (await attempt(mid))) best = mid;
  }
  const at = best === null ? null : runs.filter((r) => r.rate === best && r.verdict === "PASS").pop();
  // steady state (calls): the best rate again for SOAK s; on failure step down (at most 3 more runs)
  let sustained = null, sustainedAt = null;
  if (bench === "call" && SOAK > 0 && best !== null) {
    const cands = [best, ...B.steps.filter((x) => x < best).reverse()].slice(0, 4);
    for (const rate of cands) {
      const r = await run(bench, rate, SOAK);
      r.soak = true;
      runs.push(r);
      console.log(line(r) + `  (sustained ${SOAK} s)`);
      if (r.verdict === "PASS") { sustained = rate; sustainedAt = r; break; }
    }
  }
  return { bench, best, firstFail, at, runs, sustained, sustainedAt };
}

// ---- main -------------------------------------------------------------------------------------
function sysctlRmem() {
  try { return Number(readFileSync("/proc/sys/net/core/rmem_max", "utf8").trim()); } catch { return NaN; }
}
async function main() {
  const notes = [];
  // The launcher rebuilds a stale core/bundle itself (without SIPLING_NO_BUILD); --print-config binds nothing.
  const pc = spawnSync(process.execPath, [cli, "--print-config"], { cwd: root, encoding: "utf8", timeout: 300_000 });
  if (pc.status !== 0 || !existsSync(join(root, "build", "node", "sipling.mjs")))
    throw new Error(`the server does not start (run npm run build && npm run bundle): ${pc.stderr}`);
  const v = spawnSync("sipp", ["-v"], { encoding: "utf8" }); // exits 99
  if (v.error) throw new Error("sipp not found (apt-get install sip-tester)");
  const sippVersion = /SIPp v?([\w.\-]+?)\.?\s/.exec(v.stdout + v.stderr)?.[1] ?? "?";
  let rmem = sysctlRmem();
  if (!(rmem >= BUFF)) {
    spawnSync("sysctl", ["-w", `net.core.rmem_max=${BUFF}`], { stdio: "ignore" });
    const after = sysctlRmem();
    notes.push(after >= BUFF ? `net.core.rmem_max was ${rmem}; raised to ${after}`
      : `net.core.rmem_max = ${after} (< ${BUFF}): SIPp's -buff_size and the server's 4 MiB receive buffer are capped; expect RcvbufErrors`);
    rmem = after;
  }
  const env = { node: process.version, sipp: sippVersion, cpus: cpus().length, cpuModel: cpus()[0]?.model, rmemMax: rmem, clkTck: HZ };
  console.log(`sipling SIPp benchmark: ${QUICK ? "QUICK smoke mode (fixed low rates; not a measurement)" : "rate search"}, ${DUR} s per run, fresh server per run, loopback`);
  console.log(`node ${env.node}, SIPp ${env.sipp}, ${env.cpus} CPUs (${env.cpuModel}), net.core.rmem_max=${rmem}, sipp -buff_size ${BUFF}`);
  for (const n of notes) console.log(`NOTE: ${n}`);
  if (HOSTS.includes("native") && !existsSync(EXES.native))
    throw new Error("build/server/sipling (the native host) is missing: npm run build");
  const interps = [...new Set(HOSTS.filter((h) => h.startsWith("wamr")).map((h) => (h === "wamr" ? "classic" : "fast")))];
  if (interps.length) {
    const b = spawnSync(process.execPath, [join(root, "tools", "wamr.mjs"), "--quiet", ...interps.flatMap((i) => ["--interp", i])],
      { cwd: root, encoding: "utf8", timeout: 600_000 });
    if (b.status !== 0) throw new Error(`the WAMR host does not build: ${b.stderr}${b.stdout}`);
  }
  if (HOSTS.includes("wasmtime")) {
    // the pinned wasmtime CLI (installed into .cache/ when missing) and the component, built now
    const w = spawnSync(process.execPath, [join(root, "tools", "wasmtime.mjs"), "--print", "wasmtime"], {
      cwd: root, encoding: "utf8", stdio: ["ignore", "pipe", "inherit"], timeout: 1_200_000,
    });
    if (w.status !== 0) throw new Error("tools/wasmtime.mjs failed: cannot install wasmtime");
    wasmtimeBin = w.stdout.trim();
    const b = spawnSync(process.execPath, [join(root, "tools", "wasi.mjs"), "--p2", "--quiet"], { cwd: root, stdio: "inherit", timeout: 300_000 });
    if (b.status !== 0) throw new Error("tools/wasi.mjs --p2 failed");
    env.wasmtime = spawnSync(wasmtimeBin, ["--version"], { encoding: "utf8" }).stdout.trim();
    console.log(env.wasmtime);
  }
  if (HOSTS.includes("kamailio")) {
    const k = spawnSync("kamailio", ["-v"], { encoding: "utf8" });
    if (k.error) throw new Error("kamailio not found (node tools/setup.mjs installs Debian's kamailio)");
    env.kamailio = /version: (.*)/.exec(k.stdout)?.[1]?.trim() ?? "?";
    console.log(`kamailio ${env.kamailio} (bench/kamailio/kamailio.cfg: the reference rig's configuration)`);
  }
  const results = [];
  const idle = {}; // host -> PSS (MB) 2 s after start, no traffic
  for (const h of HOSTS) {
    HOST = h;
    const srv = await startServer(await freePort());
    await sleep(2000);
    idle[h] = +(treePssKb(tree(srv.pid)) / 1024).toFixed(1);
    await stopServer(srv);
    console.log(`\n[${h}] idle PSS ${idle[h]} MB (2 s after start, no traffic)`);
    for (const b of ["register", "call", ...(WITH_B2BUA ? ["b2bua"] : [])]) {
      if (ONLY && !ONLY.includes(b)) continue;
      if (b === "b2bua" && h !== "node" && h !== "native") continue; // the B2BUA runs on these two hosts (Kamailio is a proxy)
      console.log(`\n== [${h} host] ${BENCH[b].title}: rates ${(h.startsWith("wamr") ? BENCH[b].interpSteps : BENCH[b].steps).join(", ")}${QUICK ? "" : " ... (stop at the first failure" + (RETRY ? ", retried once" : "") + ")"}`);
      const r = await search(b);
      r.host = h;
      results.push(r);
    }
  }

  // final table: each host beside Kamailio measured in this run (ratios: ours / Kamailio's)
  const kam = (bench) => results.find((r) => r.host === "kamailio" && r.bench === bench);
  const ratio = (a, b) => (a != null && b != null && b > 0 ? `${(a / b).toFixed(2)}×` : "NA");
  const rows = [["host", "benchmark", "best zero-failure rate", "server CPU-µs/op", "server CPU", "peak RSS", "peak PSS", "idle PSS",
    "rate / Kamailio's", "CPU-µs/op / Kamailio's", "peak PSS / Kamailio's", "target", "verdict"]];
  for (const r of results) {
    const B = BENCH[r.bench];
    const ok = r.best !== null && r.best >= B.target;
    const k = kam(r.bench);
    const other = k && r.host !== "kamailio";
    rows.push([r.host, B.title, r.best === null ? "none" : `${r.best.toLocaleString("en-US")} ${B.unit}`,
      r.at?.cpuUsPerOp != null ? `${r.at.cpuUsPerOp}` : "NA", r.at ? `${r.at.serverCpuPct}%` : "NA",
      r.at ? `${r.at.peakRssMb} MB` : "NA", r.at ? `${r.at.peakPssMb} MB` : "NA", `${idle[r.host]} MB`,
      other ? ratio(r.best, k.best) : "—", other ? ratio(r.at?.cpuUsPerOp, k.at?.cpuUsPerOp) : "—", other ? ratio(r.at?.peakPssMb, k.at?.peakPssMb) : "—",
      r.host === "kamailio" ? "(the comparison)" : `≥ ${B.target.toLocaleString("en-US")} ${B.unit}`,
      QUICK ? "(quick)" : r.host === "kamailio" ? "—" : ok ? "PASS" : "BELOW"]);
  }
  const w = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  console.log("\n" + rows.map((r, j) => r.map((c, i) => c.padEnd(w[i])).join(" | ") + (j === 0 ? "\n" + w.map((n) => "-".repeat(n)).join("-|-") : "")).join("\n"));
  for (const r of results) {
    const next = r.runs.filter((x) => x.rate === r.firstFail);
    if (r.firstFail !== null)
      console.log(`[${r.host}] ${BENCH[r.bench].title}: first failing rate ${r.firstFail.toLocaleString("en-US")}/s — ` +
        next.map((x) => `${x.why ?? "PASS"}; server CPU ${x.serverCpuPct ?? "NA"}%, rcvbuf drops ${x.drops ?? "NA"}`).join(" / retry: "));
    else if (!QUICK) console.log(`[${r.host}] ${BENCH[r.bench].title}: no failure up to the last step (${(r.host.startsWith("wamr") ? BENCH[r.bench].interpSteps : BENCH[r.bench].steps).at(-1)}/s); the ceiling is higher or SIPp-bound`);
  }
  for (const r of results) if (r.bench === "call" && SOAK > 0)
    console.log(`[${r.host}] calls, sustained ${SOAK} s (past the 32 s transaction linger): ` +
      (r.sustained === null ? "no rate tried passed" : `${r.sustained.toLocaleString("en-US")} calls/s passes ` +
        `(CPU ${r.sustainedAt.cpuUsPerOp} µs/call, peak RSS ${r.sustainedAt.peakRssMb} MB) — ${r.sustained >= BENCH.call.target ? "PASS" : "BELOW"} vs the ≥ ${BENCH.call.target.toLocaleString("en-US")} target`));
  if (QUICK) console.log("quick mode: fixed low rates, short runs — checks the tool works; run without --quick for the figures");

  const out = join(root, "bench", "results");
  mkdirSync(out, { recursive: true });
  const json = {
    date: new Date().toISOString(), mode: QUICK ? "quick" : "search", durationS: DUR, holdMs: HOLD_MS, users: USERS, env, notes,
    idlePssMb: idle,
    summary: results.map((r) => ({ host: r.host, bench: r.bench, bestRate: r.best, firstFailingRate: r.firstFail, target: BENCH[r.bench].target,
      verdict: QUICK ? "quick" : r.host === "kamailio" ? "comparison" : r.best !== null && r.best >= BENCH[r.bench].target ? "PASS" : "BELOW",
      sustainedRate: r.sustained ?? null, sustainedS: r.bench === "call" && SOAK > 0 ? SOAK : null,
      cpuUsPerOp: r.at?.cpuUsPerOp ?? null, serverCpuPct: r.at?.serverCpuPct ?? null, peakRssMb: r.at?.peakRssMb ?? null,
      peakPssMb: r.at?.peakPssMb ?? null, idlePssMb: idle[r.host] })),
    runs: results.flatMap((r) => r.runs.map((x) => ({ host: r.host, ...x }))),
  };
  writeFileSync(join(out, "last.json"), JSON.stringify(json, null, 2) + "\n");
  console.log(`\nwrote ${join("bench", "results", "last.json")}${KEEP ? `; run dirs kept under ${work}` : ""}`);
  if (QUICK && results.some((r) => r.runs.some((x) => x.verdict !== "PASS"))) process.exitCode = 1;
}

main().catch((e) => { console.error(`bench/sipp: ${e.stack ?? e}`); process.exitCode = 1; });
