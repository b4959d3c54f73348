#!/usr/bin/env node
// Overload test of the real server (issue 6): offered load at 3x the capacity for 60 s.
//
// Workload: call attempts through the proxy, INVITE / 100 / 486 / ACK, from a UAC to a UAS registered
// behind the proxy (bench/overload-load.mjs, a worker thread; RFC 3261 UAs on UDP with Timer A
// retransmissions and Timer B). SIPp cannot offer 3x the server's rate on this 2-core machine, so
// the generator is a small Node UA pair; the server is the real one (host/node/cli.mjs, UDP).
//
// 1. capacity: the highest rate (fresh server per step, 3 s warm-up at a quarter of it, then
//    --step-secs, 15) at which every attempt gets its 486 with no 503, no retransmission and no
//    timeout; or --capacity N.
// 2. one server for the rest: baseline at the capacity (--base-secs, 20), overload at factor x
//    capacity (--secs, 60), recovery at the capacity (--recover-secs, 30), then drain.
// Throughout: an OPTIONS ping to the server every 200 ms, retransmitted like a UA does (Timer E
// from T1, Timer F 32 s); server RSS sampled 4x/s; per-second goodput (486s), 503s, retransmissions,
// timeouts.
// Verdicts: no collapse (goodput under overload >= half the capacity, answered rather than timed
// out), every OPTIONS answered, recovery to >= 95% of the capacity with no 503 within 10 s of the
// end of the overload, RSS at the end within 10% (or 16 MB, Node's own heap) of the start.
// Usage: node bench/overload.mjs [--capacity N] [--factor F] [--secs S] [--base-secs S]
//          [--recover-secs S] [--step-secs S] [--board server|micro] [--quick] [--no-control] [--out FILE]
// Writes bench/results/overload.json (or FILE). Exit 1 when a verdict fails.
import { Worker } from "node:worker_threads";
import { spawnSync } from "node:child_process";
import { cpus } from "node:os";
import { createSocket } from "node:dgram";
import { writeFileSync, mkdirSync } from "node:fs";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { startServer } from "../tests/integration/harness.mjs";
import { rssKb } from "./proc.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const argv = process.argv.slice(2);
const opt = (n, d) => { const i = argv.indexOf(`--${n}`); return i >= 0 ? Number(argv[i + 1]) : d; };
const QUICK = argv.includes("--quick");
const CONTROL = !argv.includes("--no-control"); // --no-control: the server without overload control, for comparison
const board = (() => { const i = argv.indexOf("--board"); return i >= 0 ? argv[i + 1] : "server"; })();
const FACTOR = opt("factor", 3);
const SECS = opt("secs", QUICK ? 5 : 60);
const BASE = opt("base-secs", QUICK ? 3 : 20);
const RECOVER = opt("recover-secs", QUICK ? 8 : 30);
const RECOVER_LIMIT = 10;
// capacity steps last long enough for the transaction table to reach 3/4 (where finished
// transactions start to linger T4): the rate found is one the server sustains, not a burst
const STEP = opt("step-secs", 15);
const OUT = (() => { const i = argv.indexOf("--out"); return i >= 0 ? argv[i + 1] : join(here, "results", QUICK ? "overload-quick.json" : "overload.json"); })();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** A running server with the generator attached; ticks collected per second. */
async function rig() {
  // prefault: the core's memory is committed at start-up, so RSS shows growth, not first touches
  const srv = await startServer({ trace: false, logLevel: "info", tcp: false, config: { board, prefault: true, overloadControl: CONTROL } });
  pin(srv.child.pid, 0);
  const w = new Worker(join(here, "overload-load.mjs"), { workerData: { serverPort: srv.port } });
  const ticks = [];
  let stopped;
  const gone = new Promise((r) => (stopped = r));
  await new Promise((resolve, reject) => {
    w.on("message", (m) => {
      if (m.type === "ready") resolve();
      else if (m.type === "tick") ticks.push(m);
      else if (m.type === "stopped") stopped(m);
    });
    w.once("error", reject);
  });
  return {
    srv, ticks,
    rate(cps) { w.postMessage({ type: "rate", cps }); },
    async close() { w.postMessage({ type: "stop" }); const s = await gone; await w.terminate(); await srv.stop(); return s; },
  };
}

const sum = (ts, k) => ts.reduce((a, t) => a + t[k], 0);

// The server on CPU 0, this process (generator, pinger) on CPU 1: on a 2-core machine the generator
// must not take the server's CPU, or the capacity measured is the generator's.
const PIN = cpus().length >= 2 && spawnSync("taskset", ["-V"]).status === 0;
function pin(pid, cpu) {
  if (PIN) spawnSync("taskset", ["-a", "-pc", String(cpu), String(pid)], { stdio: "ignore" });
}
pin(process.pid, 1);

/** Does the server carry `cps` cleanly for `secs`? */
async function clean(cps, secs) {
  const r = await rig();
  // 3 s at a quarter of the rate first: a fresh server's JIT warms up (its first second is slow
  // enough for overload control to refuse a few calls, which is right, but not its capacity)
  r.rate(Math.round(cps / 4));
  await sleep(3000);
  const from = r.ticks.length + 1;
  r.rate(cps);
  await sleep(secs * 1000);
  r.rate(0);
  await sleep(2500); // answers still in flight
  const ts = r.ticks.slice(from);
  await r.close();
  const offered = sum(ts, "offered");
  // answers straddle the window's edges, so "every attempt answered" is within 1%
  const ok = sum(ts, "busy") >= 0.99 * offered && sum(ts, "shed") + sum(ts, "other") + sum(ts, "timeout") + sum(ts, "retrans") === 0;
  console.log(`  capacity step ${cps}/s: offered ${offered}, 486 ${sum(ts, "busy")}, 503 ${sum(ts, "shed")}, ` +
    `retransmissions ${sum(ts, "retrans")}, timeouts ${sum(ts, "timeout")}: ${ok ? "clean" : "not clean"}`);
  return ok;
}

async function findCapacity() {
  let good = 0, bad = 0;
  for (let c = 1000; !bad; c *= 2) { if (await clean(c, STEP)) good = c; else bad = c; if (c >= 64000) break; }
  if (!bad) return good;
  for (let i = 0; i < 3; i++) {
    const mid = Math.round((good + bad) / 2 / 250) * 250;
    if (mid <= good || mid >= bad) break;
    if (await clean(mid, STEP)) good = mid; else bad = mid;
  }
  return good;
}

// ---- the OPTIONS pinger (this thread) ----------------------------------------------------------

function pinger(port) {
  const s = createSocket("udp4");
  const pings = new Map(); // n → { sent, answered, retrans }
  let n = 0;
  s.on("message", (m) => {
    const t = m.toString("latin1");
    const b = /branch=z9hG4bK-ping-(\d+)/.exec(t);
    const p = b && pings.get(+b[1]);
    if (p && p.answered === undefined) p.answered = performance.now();
  });
  const msg = (i) => Buffer.from(`OPTIONS sip:127.0.0.1:${port} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:${s.address().port};branch=z9hG4bK-ping-${i};rport\r\n` +
    `Max-Forwards: 70\r\nFrom: <sip:ping@127.0.0.1>;tag=p${i}\r\nTo: <sip:127.0.0.1>\r\nCall-ID: ping-${i}@127.0.0.1\r\n` +
    `CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n`, "latin1");
  let every;
  const retrans = setInterval(() => {
    const now = performance.now();
    for (const [i, p] of pings) {
      if (p.answered !== undefined || now - p.sent > 32_000) continue;
      if (now >= p.next) { s.send(msg(i), port, "127.0.0.1"); p.retrans++; p.gap = Math.min(p.gap * 2, 4000); p.next = now + p.gap; }
    }
  }, 50);
  return new Promise((r) => s.bind(0, "127.0.0.1", r)).then(() => ({
    start() {
      every = setInterval(() => {
        const i = ++n;
        const now = performance.now();
        pings.set(i, { sent: now, next: now + 500, gap: 500, retrans: 0, answered: undefined });
        s.send(msg(i), port, "127.0.0.1");
      }, 200);
    },
    async stop() {
      clearInterval(every);
      const wait = performance.now();
      while ([...pings.values()].some((p) => p.answered === undefined && performance.now() - p.sent <= 32_000) && performance.now() - wait < 33_000) await sleep(100);
      clearInterval(retrans);
      s.close();
      return [...pings.values()];
    },
  }));
}


// ---- the run -----------------------------------------------------------------------------------

async function main() {
  let C = opt("capacity", 0);
  if (!C) {
    console.log("overload: finding the capacity of this workload (INVITE/100/486/ACK through the proxy)");
    C = await findCapacity();
    if (!C) { console.error("overload: no clean rate found, not even 1000/s: nothing to overload"); process.exit(1); }
  }
  console.log(`overload: capacity ${C} call attempts/s; baseline ${BASE} s at ${C}/s, overload ${SECS} s at ${FACTOR * C}/s, ` +
    `recovery ${RECOVER} s at ${C}/s (board ${board})`);
  const r = await rig();
  const pid = r.srv.child.pid;
  const rss = [];
  const sampler = setInterval(() => rss.push({ t: performance.now(), kb: rssKb(pid) }), 250);
  const ping = await pinger(r.srv.port);
  const t0 = performance.now();
  ping.start();
  r.rate(C);
  await sleep(BASE * 1000);
  const overloadAt = r.ticks.length;
  r.rate(FACTOR * C);
  await sleep(SECS * 1000);
  const recoverAt = r.ticks.length;
  r.rate(C);
  await sleep(RECOVER * 1000);
  const endAt = r.ticks.length;
  r.rate(0);
  const pings = await ping.stop();
  while (r.ticks.at(-1)?.open > 0 && performance.now() - t0 < (BASE + SECS + RECOVER + 40) * 1000) await sleep(500);
  r.srv.child.kill("SIGUSR2");
  await sleep(300);
  clearInterval(sampler);
  const stats = r.srv.logs.filter((o) => o.msg === "stats").at(-1);
  const left = await r.close();

  const ts = r.ticks;
  console.log("  s  phase     offered retrans    100    486    503  other timeout  open  mean-ms");
  ts.forEach((t, i) => {
    const phase = i < overloadAt ? "baseline" : i < recoverAt ? "overload" : i < endAt ? "recovery" : "drain";
    console.log(`${String(t.t).padStart(3)}  ${phase.padEnd(9)}${[t.offered, t.retrans, t.trying, t.busy, t.shed, t.other, t.timeout, t.open]
      .map((v) => String(v).padStart(7)).join("")}${(t.busy ? (t.latencySum / t.busy).toFixed(1) : "-").padStart(9)}`);
  });
  const over = ts.slice(overloadAt, recoverAt);
  const rec = ts.slice(recoverAt, endAt);
  const goodputOver = sum(over, "busy") / over.length;
  // recovered at the first second from which every second of the recovery phase (but its last,
  // cut by the run's end) carries >= 95% of the capacity, or of what was offered when the generator
  // fell short (one call of slack per second for pacing jitter at low rates). Running at 100% of its capacity the server may still refuse the odd call
  // when a garbage collection delays a probe (the baseline shows it too); those 503s are reported.
  // Timeouts then are calls placed during the overload, 32 s before.
  const fine = (t) => t.busy >= 0.95 * Math.min(C, t.offered) - 1 && t.other === 0; // (a generator's own GC pause offers less)
  let recoveredAfter = -1;
  for (let i = 0; i < rec.length - 1; i++) if (rec.slice(i, rec.length - 1).every(fine)) { recoveredAfter = i; break; }
  const overloadEnd = t0 + (BASE + SECS) * 1000;
  const rssStart = Math.max(...rss.filter((s) => s.t - t0 < BASE * 1000).map((s) => s.kb));
  const rssEnd = rss.at(-1).kb;
  const rssPeak = Math.max(...rss.map((s) => s.kb));
  const answered = pings.filter((p) => p.answered !== undefined);
  const lat = answered.map((p) => p.answered - p.sent).sort((a, b) => a - b);
  const pingsOver = pings.filter((p) => p.sent >= t0 + BASE * 1000 && p.sent < overloadEnd);
  const result = {
    date: new Date().toISOString(), board, capacity: C, factor: FACTOR, overloadSecs: SECS,
    overload: {
      offered: sum(over, "offered"), offeredPerSec: Math.round(sum(over, "offered") / over.length),
      goodputPerSec: Math.round(goodputOver), shed503: sum(over, "shed"), retrans: sum(over, "retrans"),
      timeouts: sum(over, "timeout"), other: sum(over, "other"),
    },
    recoveredAfterSecs: recoveredAfter,
    recovery503: sum(rec.slice(Math.max(recoveredAfter, 0)), "shed"), baseline503: sum(ts.slice(0, overloadAt), "shed"),
    overloadControl: CONTROL,
    options: {
      sent: pings.length, answered: answered.length, duringOverload: pingsOver.length,
      answeredDuringOverload: pingsOver.filter((p) => p.answered !== undefined).length,
      retransmitted: pings.filter((p) => p.retrans > 0).length,
      p50ms: +lat[Math.floor(lat.length / 2)]?.toFixed(1), p99ms: +lat[Math.floor(lat.length * 0.99)]?.toFixed(1), maxMs: +lat.at(-1)?.toFixed(1),
    },
    rssKb: { start: rssStart, peak: rssPeak, end: rssEnd },
    serverAfter: stats ? { txnInUse: stats.txnInUse, msgPoolInUse: stats.msgPoolInUse, refused503: stats.refused503, received: stats.received, sent: stats.sent } : null,
    callsLeftOpen: left.open,
  };
  const verdicts = {
    "no collapse (goodput under overload >= 50% of capacity)": goodputOver >= 0.5 * C,
    "sheds with 503 or drops retransmissions": result.overload.shed503 > 0 || result.overload.retrans > 0 || goodputOver >= 0.95 * FACTOR * C,
    "every OPTIONS answered": answered.length === pings.length,
    [`recovers within ${RECOVER_LIMIT} s`]: recoveredAfter >= 0 && recoveredAfter <= RECOVER_LIMIT,
    // the core's memory is committed at start (prefault); what can move is Node's own heap
    "memory flat (RSS end <= start + max(10%, 16 MB))": rssEnd <= rssStart + Math.max(rssStart * 0.1, 16 * 1024),
  };
  result.verdicts = verdicts;
  console.log(`overload: ${result.overload.offeredPerSec}/s offered for ${SECS} s (${FACTOR}x ${C}): goodput ${result.overload.goodputPerSec}/s, ` +
    `${result.overload.shed503} shed with 503, ${result.overload.retrans} INVITE retransmissions, ${result.overload.timeouts} timeouts`);
  console.log(`  OPTIONS: ${answered.length}/${pings.length} answered (${result.options.answeredDuringOverload}/${result.options.duringOverload} during the overload), ` +
    `${result.options.retransmitted} needed a retransmission; latency p50 ${result.options.p50ms} ms, p99 ${result.options.p99ms} ms, max ${result.options.maxMs} ms`);
  console.log(`  recovery: full throughput ${recoveredAfter >= 0 ? `${recoveredAfter} s` : "never"} after the overload stopped ` +
    `(then ${result.recovery503} calls refused with 503 at 100% load; ${result.baseline503} in the baseline)`);
  console.log(`  server RSS: start ${rssStart} kB, peak ${rssPeak} kB, end ${rssEnd} kB`);
  if (stats) console.log(`  server after the drain: ${JSON.stringify(result.serverAfter)}`);
  for (const [k, v] of Object.entries(verdicts)) console.log(`  ${v ? "PASS" : "FAIL"} ${k}`);
  mkdirSync(dirname(OUT), { recursive: true });
  writeFileSync(OUT, JSON.stringify({ ...result, ticks: ts }, null, 1));
  process.exit(Object.values(verdicts).every(Boolean) ? 0 : 1);
}

await main();
