#!/usr/bin/env node
// Overload test of the real server (issue 6), on the Node host, the native host, or both side by side.
//
// Workload: call attempts through the proxy, INVITE / 100 / 486 / ACK, from a UAC to a UAS registered
// behind the proxy (bench/overload-load.mjs, a worker thread; RFC 3261 UAs on UDP with Timer A
// retransmissions and Timer B). SIPp cannot offer 3x the server's rate on this 2-core machine, so
// the generator is a small Node UA pair; the server is the real one (bench/overload-rig.mjs: the
// Node host or the native host on CPU 0, the native one on a share of that CPU, see there).
//
// Per host:
// 1. capacity: the highest rate (fresh server per step, 3 s warm-up at a quarter of it, then
//    --step-secs, 15) at which every attempt gets its 486 with no 503, no retransmission and no
//    timeout; or --capacity N (N,M: one per host, in --host order).
// 2. --at F: a fresh server, 3 s warm-up at a quarter of F x capacity, then F x capacity for --secs
//    (60): every call refused with 503 is a false alarm of the overload control while F <= 0.5
//    (verdict: none, warm-up included), plus retransmissions, timeouts, OPTIONS latency. With
//    --pause MS the server is also stopped (SIGSTOP) for MS every second, like a long garbage
//    collection: pauses are not an overload either.
// 3. the overload run (without --at, or with --overload): one server; baseline at the capacity
//    (--base-secs, 20), overload at factor x capacity (--secs, 60), recovery at the capacity
//    (--recover-secs, 30), then drain. Throughout: an OPTIONS ping to the server every 200 ms,
//    retransmitted like a UA does (Timer E from T1, Timer F 32 s); server RSS sampled 4x/s;
//    per-second goodput (486s), 503s, retransmissions, timeouts. Verdicts: the generator offered
//    the rate asked (>= 95%), no collapse (goodput under overload >= half the capacity, answered
//    rather than timed out), every OPTIONS answered, recovery to >= 95% of the capacity with no 503
//    within 10 s of the end of the overload, memory flat (Node: RSS at the end within 10% or 16 MB
//    of the start, the core prefaulted; native: the same for what is outside the core's memory,
//    which the native host touches as its tables fill, up to its fixed size).
// Usage: node bench/overload.mjs [--host node|native|both] [--at F[,F...]] [--overload]
//          [--capacity N[,N]] [--factor F] [--secs S] [--base-secs S] [--recover-secs S]
//          [--step-secs S] [--cpu SHARE[,SHARE]] [--pause MS] [--board server|micro] [--quick] [--no-control]
//          [--out FILE]
//   --cpu: the share of CPU 0 each host's server gets, in --host order (default 1: all of it). The
//   generator offers up to ~30,000 attempts/s, less than 3x of either host on a whole CPU; a share
//   brings 3x of the capacity within its reach (bench/overload-rig.mjs says how, and at what cost).
// Writes bench/results/overload.json (or FILE): { hosts: { node: {...}, native: {...} } }.
// Exit 1 when a verdict fails.
import { Worker } from "node:worker_threads";
import { createSocket } from "node:dgram";
import { writeFileSync, mkdirSync } from "node:fs";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { startHost, pin, rss, coreMemoryKb, niceFor, othersCpu } from "./overload-rig.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const argv = process.argv.slice(2);
const str = (n, d) => { const i = argv.indexOf(`--${n}`); return i >= 0 ? argv[i + 1] : d; };
const opt = (n, d) => Number(str(n, d));
const QUICK = argv.includes("--quick");
const CONTROL = !argv.includes("--no-control"); // --no-control: the server without overload control, for comparison
const board = str("board", "server");
const HOSTS = (() => { const h = str("host", "node"); return h === "both" ? ["node", "native"] : h.split(","); })();
const AT = str("at", "") ? str("at").split(",").map(Number) : [];
const OVERLOAD = AT.length === 0 || argv.includes("--overload");
const PAUSE = opt("pause", 0); // --at runs: the server stopped (SIGSTOP) for this many ms every second
const CAPACITY = str("capacity", "0").split(",").map(Number);
const CPU = str("cpu", "1").split(",").map(Number);
const FACTOR = opt("factor", 3);
const SECS = opt("secs", QUICK ? 5 : 60);
const BASE = opt("base-secs", QUICK ? 3 : 20);
const RECOVER = opt("recover-secs", QUICK ? 8 : 30);
const RECOVER_LIMIT = 10;
// capacity steps last long enough for the transaction table to reach 3/4 (where finished
// transactions start to linger T4): the rate found is one the server sustains, not a burst
const STEP = opt("step-secs", 15);
const OUT = str("out", join(here, "results", QUICK ? "overload-quick.json" : "overload.json"));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const coreKb = coreMemoryKb(board);

pin(process.pid, 1);
/** The share of CPU 0 a host's server gets (--cpu, in --host order; the last one for the rest). */
const cpuOf = (host) => CPU[Math.min(HOSTS.indexOf(host), CPU.length - 1)];

/** A running server with the generator attached; ticks collected per second. */
async function rig(host) {
  const srv = await startHost(host, { board, control: CONTROL, cpuShare: cpuOf(host) });
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
    /** Stops the generator and the server: { open (calls left open), stats (the server's last stats line, or null) }. */
    async close() {
      w.postMessage({ type: "stop" });
      const s = await gone;
      await w.terminate();
      const stats = await srv.stop();
      return { open: s.open, stats };
    },
  };
}

const sum = (ts, k) => ts.reduce((a, t) => a + t[k], 0);
/** The server's shedding episodes, from its log. */
const episodes = (logs) => logs.filter((o) => o.msg === "overload: refusing new requests with 503")
  .map(({ shedPermille, waitMs, behindMs, lost }) => ({ shedPermille, waitMs, behindMs, lost }));

/** Does the server carry `cps` cleanly for `secs`? */
async function clean(host, cps, secs) {
  const r = await rig(host);
  // 3 s at a quarter of the rate first: a fresh server's JIT warms up
  r.rate(Math.round(cps / 4));
  await sleep(3000);
  const from = r.ticks.length + 1;
  const others = othersCpu(() => [process.pid, ...r.srv.pids]);
  r.rate(cps);
  await sleep(secs * 1000);
  const othersPct = others();
  r.rate(0);
  await sleep(2500); // answers still in flight
  const ts = r.ticks.slice(from);
  await r.close();
  const offered = sum(ts, "offered");
  // answers straddle the window's edges, so "every attempt answered" is within 1%
  const ok = sum(ts, "busy") >= 0.99 * offered && sum(ts, "shed") + sum(ts, "other") + sum(ts, "timeout") + sum(ts, "retrans") === 0;
  console.log(`  ${host}: capacity step ${cps}/s: offered ${offered}, 486 ${sum(ts, "busy")}, 503 ${sum(ts, "shed")}, ` +
    `retransmissions ${sum(ts, "retrans")}, timeouts ${sum(ts, "timeout")}: ${ok ? "clean" : "not clean"} (others ${othersPct}% of a CPU)`);
  return ok;
}

async function findCapacity(host) {
  let good = 0, bad = 0;
  for (let c = 1000; !bad; c *= 2) { if (await clean(host, c, STEP)) good = c; else bad = c; if (c >= 64000) break; }
  if (!bad) return good;
  for (let i = 0; i < 3; i++) {
    const mid = Math.round((good + bad) / 2 / 250) * 250;
    if (mid <= good || mid >= bad) break;
    if (await clean(host, mid, STEP)) good = mid; else bad = mid;
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

/** OPTIONS figures of a list of pings. */
function optionsOf(pings) {
  const answered = pings.filter((p) => p.answered !== undefined);
  const lat = answered.map((p) => p.answered - p.sent).sort((a, b) => a - b);
  return {
    sent: pings.length, answered: answered.length, retransmitted: pings.filter((p) => p.retrans > 0).length,
    p50ms: +lat[Math.floor(lat.length / 2)]?.toFixed(1), p99ms: +lat[Math.floor(lat.length * 0.99)]?.toFixed(1), maxMs: +lat.at(-1)?.toFixed(1),
  };
}

// ---- a fixed fraction of the capacity ----------------------------------------------------------

async function steady(host, C, F) {
  const cps = Math.round(F * C);
  console.log(`overload: ${host}: ${F} x ${C} = ${cps} call attempts/s for ${SECS} s (after 3 s at ${Math.round(cps / 4)}/s)` +
    (PAUSE > 0 ? `, the server stopped for ${PAUSE} ms every second` : ""));
  const r = await rig(host);
  const others = othersCpu(() => [process.pid, ...r.srv.pids]);
  const ping = await pinger(r.srv.port);
  ping.start();
  r.rate(Math.round(cps / 4));
  await sleep(3000);
  const from = r.ticks.length + 1;
  r.rate(cps);
  // --pause: a stop like a long garbage collection, every second; one pause is not an overload
  const pauses = PAUSE > 0 ? setInterval(() => {
    process.kill(r.srv.pid, "SIGSTOP");
    setTimeout(() => process.kill(r.srv.pid, "SIGCONT"), PAUSE);
  }, 1000) : null;
  await sleep(SECS * 1000);
  if (pauses) { clearInterval(pauses); await sleep(PAUSE + 50); }
  const to = r.ticks.length + 1;
  const othersPct = others();
  r.rate(0);
  const pings = await ping.stop();
  await sleep(2500);
  const stats = await r.srv.stats();
  const left = await r.close();
  const ts = r.ticks.slice(from, to);
  const all = r.ticks;
  const res = {
    fraction: F, cps, secs: SECS, pauseMs: PAUSE,
    offered: sum(ts, "offered"), offeredPerSec: Math.round(sum(ts, "offered") / ts.length),
    busy486: sum(ts, "busy"), refused503: sum(ts, "shed"), retrans: sum(ts, "retrans"), timeouts: sum(ts, "timeout"), other: sum(ts, "other"),
    // the whole run, warm-up and drain included: every 503 the caller got, and the server's own count
    refused503All: sum(all, "shed"), serverShed503: (stats ?? left.stats)?.shed503 ?? null,
    sheddingEpisodes: episodes(r.srv.logs),
    options: optionsOf(pings), callsLeftOpen: left.open, othersCpuPct: othersPct, ticks: all,
  };
  const verdicts = {};
  if (F <= 0.5) verdicts[`no call refused at ${F} x capacity (warm-up included)`] = res.refused503All === 0 && res.sheddingEpisodes.length === 0;
  verdicts["every call answered (no timeout)"] = sum(all, "timeout") === 0;
  res.verdicts = verdicts;
  console.log(`  ${host}: offered ${res.offered} (${res.offeredPerSec}/s), 486 ${res.busy486}, 503 ${res.refused503} ` +
    `(${res.refused503All} in the whole run; server episodes ${res.sheddingEpisodes.length}), retransmissions ${res.retrans}, timeouts ${res.timeouts}; ` +
    `OPTIONS ${res.options.answered}/${res.options.sent}, p99 ${res.options.p99ms} ms; other processes used ${othersPct}% of a CPU meanwhile`);
  for (const e of res.sheddingEpisodes) console.log(`    shedding started: ${JSON.stringify(e)}`);
  for (const [k, v] of Object.entries(verdicts)) console.log(`  ${v ? "PASS" : "FAIL"} ${host}: ${k}`);
  return res;
}

// ---- the overload run --------------------------------------------------------------------------

async function overload(host, C) {
  console.log(`overload: ${host}: capacity ${C} call attempts/s; baseline ${BASE} s at ${C}/s, overload ${SECS} s at ${FACTOR * C}/s, ` +
    `recovery ${RECOVER} s at ${C}/s (board ${board})`);
  const r = await rig(host);
  const pid = r.srv.pid;
  const native = host === "native";
  const mem = [];
  const sampler = setInterval(() => mem.push({ t: performance.now(), ...rss(pid, native ? coreKb : 0) }), 250);
  const ping = await pinger(r.srv.port);
  const others = othersCpu(() => [process.pid, ...r.srv.pids]);
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
  const othersPct = others();
  r.rate(0);
  const pings = await ping.stop();
  while (r.ticks.at(-1)?.open > 0 && performance.now() - t0 < (BASE + SECS + RECOVER + 40) * 1000) await sleep(500);
  const statsNow = await r.srv.stats();
  await sleep(300);
  clearInterval(sampler);
  const left = await r.close();
  const stats = statsNow ?? left.stats;

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
  // fell short (one call of slack per second for pacing jitter at low rates). Timeouts then are
  // calls placed during the overload, 32 s before.
  const fine = (t) => t.busy >= 0.95 * Math.min(C, t.offered) - 1 && t.other === 0; // (a generator's own GC pause offers less)
  let recoveredAfter = -1;
  for (let i = 0; i < rec.length - 1; i++) if (rec.slice(i, rec.length - 1).every(fine)) { recoveredAfter = i; break; }
  const overloadEnd = t0 + (BASE + SECS) * 1000;
  const live = mem.filter((s) => s.total > 0);
  const inBase = live.filter((s) => s.t - t0 < BASE * 1000);
  const at = (s) => ({ total: s.total, core: s.core, other: s.total - s.core });
  const startS = inBase.reduce((a, s) => (s.total > a.total ? s : a), inBase[0]);
  const peakS = live.reduce((a, s) => (s.total > a.total ? s : a), live[0]);
  const rssKb = { start: at(startS), peak: at(peakS), end: at(live.at(-1)) };
  const pingsOver = pings.filter((p) => p.sent >= t0 + BASE * 1000 && p.sent < overloadEnd);
  const result = {
    capacity: C, factor: FACTOR, overloadSecs: SECS,
    overload: {
      offered: sum(over, "offered"), offeredPerSec: Math.round(sum(over, "offered") / over.length),
      goodputPerSec: Math.round(goodputOver), shed503: sum(over, "shed"), retrans: sum(over, "retrans"),
      timeouts: sum(over, "timeout"), other: sum(over, "other"),
    },
    recoveredAfterSecs: recoveredAfter,
    recovery503: sum(rec.slice(Math.max(recoveredAfter, 0)), "shed"), baseline503: sum(ts.slice(0, overloadAt), "shed"),
    overloadControl: CONTROL,
    options: { ...optionsOf(pings), duringOverload: pingsOver.length, answeredDuringOverload: pingsOver.filter((p) => p.answered !== undefined).length },
    rssKb,
    serverAfter: stats ? { txnInUse: stats.txnInUse, msgPoolInUse: stats.msgPoolInUse, refused503: stats.refused503, received: stats.received, sent: stats.sent } : null,
    sheddingEpisodes: episodes(r.srv.logs),
    callsLeftOpen: left.open, othersCpuPct: othersPct,
  };
  // Node: the core is prefaulted, what can move is Node's own heap; native: what is outside the
  // core's memory (the core's part only fills in up to its fixed size)
  const flat = (s, e) => e <= s + Math.max(s * 0.1, 16 * 1024);
  const verdicts = {
    [`the generator offered ${FACTOR}x (>= 95% of ${FACTOR * C}/s)`]: result.overload.offeredPerSec >= 0.95 * FACTOR * C - 1, // (one call of slack at low rates)
    "no collapse (goodput under overload >= 50% of capacity)": goodputOver >= 0.5 * C,
    "sheds with 503 or drops retransmissions": result.overload.shed503 > 0 || result.overload.retrans > 0 || goodputOver >= 0.95 * FACTOR * C,
    "every OPTIONS answered": result.options.answered === pings.length,
    [`recovers within ${RECOVER_LIMIT} s`]: recoveredAfter >= 0 && recoveredAfter <= RECOVER_LIMIT,
    ...(native
      ? { "memory flat (RSS outside the core's memory: end <= start + max(10%, 16 MB); the core's <= its size)":
            flat(rssKb.start.other, rssKb.end.other) && rssKb.peak.core <= coreKb }
      : { "memory flat (RSS end <= start + max(10%, 16 MB))": flat(rssKb.start.total, rssKb.end.total) }),
  };
  result.verdicts = verdicts;
  console.log(`overload: ${host}: ${result.overload.offeredPerSec}/s offered for ${SECS} s (${FACTOR}x ${C}): goodput ${result.overload.goodputPerSec}/s, ` +
    `${result.overload.shed503} shed with 503, ${result.overload.retrans} INVITE retransmissions, ${result.overload.timeouts} timeouts`);
  console.log(`  OPTIONS: ${result.options.answered}/${pings.length} answered (${result.options.answeredDuringOverload}/${result.options.duringOverload} during the overload), ` +
    `${result.options.retransmitted} needed a retransmission; latency p50 ${result.options.p50ms} ms, p99 ${result.options.p99ms} ms, max ${result.options.maxMs} ms`);
  console.log(`  recovery: full throughput ${recoveredAfter >= 0 ? `${recoveredAfter} s` : "never"} after the overload stopped ` +
    `(then ${result.recovery503} calls refused with 503 at 100% load; ${result.baseline503} in the baseline)`);
  console.log(`  server RSS: start ${rssKb.start.total} kB, peak ${rssKb.peak.total} kB, end ${rssKb.end.total} kB` +
    (native ? ` (outside the core's memory: ${rssKb.start.other} -> ${rssKb.peak.other} -> ${rssKb.end.other} kB; the core's: ${rssKb.start.core} -> ${rssKb.peak.core} -> ${rssKb.end.core} of ${coreKb} kB)` : ""));
  if (stats) console.log(`  server after the drain: ${JSON.stringify(result.serverAfter)}`);
  console.log(`  other processes used ${othersPct}% of a CPU during the run`);
  for (const [k, v] of Object.entries(verdicts)) console.log(`  ${v ? "PASS" : "FAIL"} ${host}: ${k}`);
  return { ...result, ticks: ts };
}

// ---- the runs, per host, then side by side -----------------------------------------------------

function table(results) {
  const hosts = Object.keys(results);
  const rows = [["", ...hosts.map((h) => (results[h].cpuShare < 1 ? `${h} (${Math.round(results[h].cpuShare * 100)}% of a CPU)` : h))]];
  const row = (label, f) => rows.push([label, ...hosts.map((h) => { try { return String(f(results[h]) ?? "-"); } catch { return "-"; } })]);
  const n = (v) => v.toLocaleString("en-US");
  row("capacity (calls/s)", (r) => n(r.capacity));
  for (const F of AT) {
    const a = (r) => r.at.find((x) => x.fraction === F);
    row(`${F}x for ${SECS} s${PAUSE ? ` (${PAUSE} ms stop each s)` : ""}: offered (/s)`, (r) => `${n(a(r).offered)} (${n(a(r).offeredPerSec)}/s)`);
    row(`  refused 503 (whole run)`, (r) => `${n(a(r).refused503)} (${n(a(r).refused503All)})`);
    row(`  retransmissions / timeouts`, (r) => `${a(r).retrans} / ${a(r).timeouts}`);
    row(`  OPTIONS p99`, (r) => `${a(r).options.p99ms} ms`);
    row(`  other processes (% of a CPU)`, (r) => a(r).othersCpuPct);
  }
  if (OVERLOAD) {
    const o = (r) => r.overload;
    row(`${FACTOR}x for ${SECS} s: offered/s`, (r) => n(o(r).overload.offeredPerSec));
    row("  goodput/s", (r) => n(o(r).overload.goodputPerSec));
    row("  refused 503", (r) => n(o(r).overload.shed503));
    row("  retransmissions / timeouts", (r) => `${n(o(r).overload.retrans)} / ${n(o(r).overload.timeouts)}`);
    row("  OPTIONS answered (p99 / max)", (r) => `${o(r).options.answered}/${o(r).options.sent} (${o(r).options.p99ms} / ${o(r).options.maxMs} ms)`);
    row("  recovered after", (r) => (o(r).recoveredAfterSecs >= 0 ? `${o(r).recoveredAfterSecs} s` : "never"));
    const mb = (kb) => Math.round(kb / 1024);
    row("  RSS start -> peak -> end (MB)", (r) => `${mb(o(r).rssKb.start.total)} -> ${mb(o(r).rssKb.peak.total)} -> ${mb(o(r).rssKb.end.total)}`);
    row("  other processes (% of a CPU)", (r) => o(r).othersCpuPct);
    row("  ... outside the core's memory", (r) => (r.host === "native" ? `${mb(o(r).rssKb.start.other)} -> ${mb(o(r).rssKb.peak.other)} -> ${mb(o(r).rssKb.end.other)}` : "(core prefaulted)"));
  }
  const w = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  for (const r of rows) console.log(r.map((c, i) => (i === 0 ? c.padEnd(w[i]) : c.padStart(w[i]))).join("   "));
}

async function main() {
  const results = {};
  let ok = true;
  for (const [i, host] of HOSTS.entries()) {
    const res = { host, cpuShare: 1, at: [] };
    results[host] = res;
    if (cpuOf(host) > 0 && cpuOf(host) < 1) {
      res.cpuShare = niceFor(cpuOf(host)).share;
      console.log(`overload: ${host} host on ${Math.round(res.cpuShare * 100)}% of CPU 0 (a nice level next to a busy loop: bench/overload-rig.mjs)`);
    }
    let C = CAPACITY[i] ?? CAPACITY[0] ?? 0;
    if (!C) {
      console.log(`overload: ${host}: finding the capacity of this workload (INVITE/100/486/ACK through the proxy)`);
      C = await findCapacity(host);
      if (!C) { console.error(`overload: ${host}: no clean rate found, not even 1000/s: nothing to overload`); process.exit(1); }
    }
    res.capacity = C;
    for (const F of AT) res.at.push(await steady(host, C, F));
    if (OVERLOAD) res.overload = await overload(host, C);
    ok &&= [...res.at.map((a) => a.verdicts), res.overload?.verdicts ?? {}].every((v) => Object.values(v).every(Boolean));
  }
  console.log("");
  table(results);
  mkdirSync(dirname(OUT), { recursive: true });
  writeFileSync(OUT, JSON.stringify({ date: new Date().toISOString(), board, overloadControl: CONTROL, hosts: results }, null, 1));
  process.exit(ok ? 0 : 1);
}

await main();
