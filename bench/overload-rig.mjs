// The servers bench/overload.mjs drives, and what it does to them: the Node host (host/node/cli.mjs)
// or the native host (build/<board>/sipling) on CPU 0, optionally on a share of that CPU, and the
// server's memory read from /proc.
//
// Why a share of a CPU: on a whole CPU the capacity for this workload is set by the core's message
// pool, not by the CPU (12,000 attempts/s on both hosts here, the native one using a third of its
// CPU), and 3x of it is all the load generator (one Node thread on the other CPU) can offer. On a
// share, the CPU is the limit, which is what the local overload controller deals with, and 3x stays
// within the generator's reach. The share comes from making the server share CPU 0 with a busy loop:
// the server runs at nice N (weight 1024 / 1.25^N), the loop at nice 0 (weight 1024), so while both
// want the CPU the server gets w / (w + 1024) of it, and while it sleeps the loop takes the rest. This
// is a slower CPU with a greedy neighbour, not a slower CPU: the server runs in slices of the
// scheduler's granularity (a 4 ms tick here), so under full load it waits for the loop's slices:
// measured with two CPU-bound loops, gaps of 10-20 ms at a quarter of the CPU, 20-30 ms at a seventh.
// A CFS bandwidth quota (cgroup cpu.cfs_quota_us, what systemd's CPUQuota= sets) was measured too and
// is worse for this purpose: at 15% with a 10, 20 or 100 ms period the process stops for 10-50 ms at a
// time and at times for over 100 ms (the quota is enforced at ticks and the overrun paid back in whole
// periods), a stall longer than the 30 ms the overload controller treats as behind; the quota also
// cannot go under 1 ms per period. (No systemd here either: PID 1 is not systemd.)
import { spawn, spawnSync } from "node:child_process";
import { cpus } from "node:os";
import { readFileSync, readdirSync, writeFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { startServer } from "../tests/integration/harness.mjs";
import { loadBoards } from "../tools/boards.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");

// The server on CPU 0, the bench (generator, pinger) on CPU 1: on a 2-core machine the generator
// must not take the server's CPU, or the capacity measured is the generator's.
export const PIN = cpus().length >= 2 && spawnSync("taskset", ["-V"]).status === 0;
export function pin(pid, cpu) {
  if (PIN) spawnSync("taskset", ["-a", "-pc", String(cpu), String(pid)], { stdio: "ignore" });
}

// Scheduler weights of nice 0..19 (the kernel's sched_prio_to_weight).
const WEIGHT = [1024, 820, 655, 526, 423, 335, 272, 215, 172, 137, 110, 87, 70, 56, 45, 36, 29, 23, 18, 15];

/** The nice level whose share next to a nice-0 busy loop is closest to `share`; and that share. */
export function niceFor(share) {
  let best = 0;
  for (let n = 0; n < WEIGHT.length; n++) {
    if (Math.abs(WEIGHT[n] / (WEIGHT[n] + 1024) - share) < Math.abs(WEIGHT[best] / (WEIGHT[best] + 1024) - share)) best = n;
  }
  return { nice: best, share: WEIGHT[best] / (WEIGHT[best] + 1024) };
}

// Children to kill by PID if this process exits first.
const leftovers = new Set();
process.on("exit", () => { for (const c of leftovers) if (c.exitCode === null && c.signalCode === null) process.kill(c.pid, "SIGKILL"); });

/** Starts a busy loop on `cpu` (nice 0); returns { pid, stop() }. */
function busyLoop(cpu) {
  const c = spawn("sh", ["-c", "while :; do :; done"], { stdio: "ignore" });
  leftovers.add(c);
  pin(c.pid, cpu);
  return { pid: c.pid, stop() { if (c.exitCode === null && c.signalCode === null) process.kill(c.pid, "SIGKILL"); leftovers.delete(c); } };
}

/**
 * Gives process `pid` (already on CPU 0) `share` of that CPU: every thread at the nice level for it
 * (threads it starts later inherit it), and the busy loop beside it. { share (as set), stop() }.
 */
function limitCpu(pid, share) {
  if (!(share > 0 && share < 1)) return { share: 1, stop() {}, pid: 0 };
  const n = niceFor(share);
  for (const tid of readdirSync(`/proc/${pid}/task`)) spawnSync("renice", ["-n", String(n.nice), "-p", tid], { stdio: "ignore" });
  const loop = busyLoop(0);
  return { share: n.share, stop: loop.stop, pid: loop.pid };
}

/**
 * A server: { host, port, pid, logs, waitFor?, stop() (resolves { stats } from its last stats line),
 * statsNow() (the Node host logs them on SIGUSR2; the native host only when it stops), cpuShare }.
 */
export async function startHost(host, { board = "server", control = true, cpuShare = 0 } = {}) {
  if (host === "node") {
    // prefault: the core's memory is committed at start-up, so RSS shows growth, not first touches
    const srv = await startServer({ trace: false, logLevel: "info", tcp: false, config: { board, prefault: true, overloadControl: control } });
    pin(srv.child.pid, 0);
    const limit = limitCpu(srv.child.pid, cpuShare);
    return {
      host, port: srv.port, pid: srv.child.pid, logs: srv.logs, cpuShare: limit.share, pids: [srv.child.pid, limit.pid],
      async stats() {
        const mark = srv.logs.length;
        srv.child.kill("SIGUSR2");
        return srv.waitFor((o) => o.msg === "stats" && srv.logs.indexOf(o) >= mark, 3000, "stats").catch(() => null);
      },
      async stop() { limit.stop(); await srv.stop(); return null; },
    };
  }
  if (host !== "native") throw new Error(`--host ${host}: node or native`);
  const { freePort } = await import("../tests/integration/harness.mjs");
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), "sipling-ov-"));
  const cfg = join(dir, "config.json");
  writeFileSync(cfg, JSON.stringify({ overloadControl: control, logLevel: "info" }));
  const child = spawn(join(root, "build", board, "sipling"), ["--config", cfg, "--listen", `udp:127.0.0.1:${port}`], { stdio: ["ignore", "pipe", "pipe"] });
  const logs = [];
  let buf = "", err = "";
  child.stdout.setEncoding("utf8");
  child.stdout.on("data", (d) => {
    buf += d;
    for (let i; (i = buf.indexOf("\n")) >= 0; buf = buf.slice(i + 1)) {
      const line = buf.slice(0, i);
      try { logs.push(JSON.parse(line)); } catch { logs.push({ msg: "unparsed", line }); }
    }
  });
  child.stderr.on("data", (d) => (err += d));
  const exited = new Promise((r) => child.once("exit", r));
  const kill = () => { if (child.exitCode === null && child.signalCode === null) process.kill(child.pid, "SIGKILL"); };
  leftovers.add(child);
  for (let t = 0; !logs.some((o) => o.msg === "running"); t += 20) {
    if (t > 5000 || child.exitCode !== null) { kill(); throw new Error(`the native server did not start: ${err}${JSON.stringify(logs)}`); }
    await new Promise((r) => setTimeout(r, 20));
  }
  pin(child.pid, 0);
  const limit = limitCpu(child.pid, cpuShare);
  return {
    host, port, pid: child.pid, logs, cpuShare: limit.share, pids: [child.pid, limit.pid],
    async stats() { return null; },
    async stop() {
      limit.stop();
      if (child.exitCode === null && child.signalCode === null) {
        process.kill(child.pid, "SIGTERM");
        const t = setTimeout(kill, 3000);
        await exited;
        clearTimeout(t);
      }
      leftovers.delete(child);
      rmSync(dir, { recursive: true, force: true });
      return logs.filter((o) => o.msg === "stats").at(-1) ?? null;
    },
  };
}

/**
 * Resident memory of `pid` in kB: { total (VmRSS), core (the part in the core's linear memory: the
 * mapping of exactly `coreKb`, or 0 when there is none such) }; zeros once the process is gone. The
 * native host maps the core's memory at start-up and touches it as tables fill, so RSS grows by
 * first touches up to the memory's fixed size; what is not the core's memory must stay flat.
 */
export function rss(pid, coreKb) {
  try {
    const total = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0);
    let core = 0;
    if (coreKb) {
      const smaps = readFileSync(`/proc/${pid}/smaps`, "utf8");
      for (const m of smaps.matchAll(/^Size:\s+(\d+) kB\nKernelPageSize:[^\n]*\nMMUPageSize:[^\n]*\nRss:\s+(\d+) kB/gm)) {
        if (Number(m[1]) === coreKb) { core = Number(m[2]); break; }
      }
    }
    return { total, core };
  } catch {
    return { total: 0, core: 0 };
  }
}

/** The core's linear memory of a board, kB (its fixed page count x 64 KiB). */
export function coreMemoryKb(board) {
  return loadBoards().find((b) => b.name === board).memoryPages * 64;
}

/** CPU time of a process and its threads, ms (0 once it is gone). */
function cpuMs(pid) {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
    return (Number(f[11]) + Number(f[12])) * 10; // utime + stime, in USER_HZ (100/s)
  } catch {
    return 0;
  }
}

/** Busy CPU time of the whole machine, ms (/proc/stat: all but idle and iowait). */
function machineBusyMs() {
  const f = readFileSync("/proc/stat", "utf8").split("\n")[0].trim().split(/\s+/).slice(1).map(Number);
  return (f.reduce((a, b) => a + b, 0) - f[3] - f[4]) * 10;
}

/**
 * What else ran on the machine while we measured: start() now, then stop() returns the CPU time the
 * machine spent outside `pids()` (this bench, its server, its busy loop), as % of one CPU. Other
 * agents' builds and tests share these 2 CPUs; a run they disturbed says so.
 */
export function othersCpu(pids) {
  const ours = () => pids().reduce((a, p) => a + cpuMs(p), 0);
  const t0 = performance.now(), m0 = machineBusyMs(), o0 = ours();
  return () => {
    const ms = performance.now() - t0;
    return Math.round((100 * (machineBusyMs() - m0 - (ours() - o0))) / ms);
  };
}
