// The local overload controller's decision rule on synthetic wait sequences (no sockets), run through
// both implementations: the Node host's OverloadRule (host/node/overload.ts, compiled here with
// esbuild) and the native host's ov_rule_period (host/c/overload.c, built here with gcc around
// tests/overload/rule.c). Each scenario is a list of 50 ms periods { wait (the period's longest
// queue wait, ms), at (when it was read, ms), lost (the queue overflowed) }; both must give the same
// share after every period, and that share must show: one pause sheds nothing, a sustained wait
// over 30 ms sheds within 300 ms, shedding falls back to 0 once the load stops.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { build } from "esbuild";
import { root } from "../integration/harness.mjs";

let dir, ts, cBin;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "sipling-rule-"));
  const out = join(dir, "overload.mjs");
  await build({ entryPoints: [join(root, "host", "node", "overload.ts")], outfile: out, bundle: true, format: "esm",
    platform: "node", target: "node20", logLevel: "warning" });
  ts = await import(pathToFileURL(out).href);
  cBin = join(dir, "rule");
  const c = join(root, "host", "c");
  const r = spawnSync(process.env.CC || "gcc", ["-O2", "-std=c11", "-D_GNU_SOURCE", "-Wall", "-Wextra", "-Werror", "-I", c,
    join(c, "overload.c"), join(c, "log.c"), join(root, "tests", "overload", "rule.c"), "-o", cBin, "-lm"], { encoding: "utf8" });
  assert.equal(r.status, 0, `gcc: ${r.stderr}`);
});
after(() => rmSync(dir, { recursive: true, force: true }));

const PERIOD = 50;

/** A scenario builder: periods 50 ms apart, each read at the period's end. */
function seq() {
  const periods = [];
  let t = 1000;
  const s = {
    periods,
    /** n periods whose longest wait is `wait` (a number, or a function of the index). */
    add(n, wait, lost = false) {
      for (let i = 0; i < n; i++) { t += PERIOD; periods.push({ wait: typeof wait === "function" ? wait(i) : wait, at: t, lost }); }
      return s;
    },
    quiet(n) { return s.add(n, 0.4); },
    /** The host stopped for `ms` right after the last period: the next reads a datagram that waited it. */
    stall(ms) { t += ms; periods.push({ wait: ms, at: t, lost: false }); return s; },
  };
  return s;
}

/** The share after every period, from both implementations (asserted equal). */
function shares(periods) {
  const rule = new ts.OverloadRule();
  const fromTs = periods.map((p) => rule.period(p.wait, p.at, p.lost));
  const input = periods.map((p) => `${p.wait} ${p.at} ${p.lost ? 1 : 0}\n`).join("");
  const r = spawnSync(cBin, [], { input, encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  const fromC = r.stdout.trim().split("\n").filter(Boolean).map(Number);
  assert.deepEqual(fromC, fromTs, "the native and the Node rule decide alike");
  return fromTs;
}

test("the two hosts share the rule's constants", () => {
  const h = spawnSync("grep", ["-E", "^#define OV_", join(root, "host", "c", "overload.h")], { encoding: "utf8" }).stdout;
  const c = Object.fromEntries([...h.matchAll(/^#define OV_(\w+) ([\d.]+)/gm)].map((m) => [m[1], Number(m[2])]));
  assert.deepEqual(c, {
    PERIOD_MS: ts.PERIOD_MS, HIGH_MS: ts.HIGH_MS, LOW_MS: ts.LOW_MS, ONSET_MS: ts.ONSET_MS,
    UP: ts.UP, LOST_UP: ts.LOST_UP, DOWN: ts.DOWN, MAX: ts.MAX_SHED,
  });
});

test("an idle or lightly loaded server sheds nothing", () => {
  assert.ok(shares(seq().quiet(100).add(100, (i) => (i % 7) * 4).periods).every((s) => s === 0));
});

test("a single 80 ms pause sheds nothing (the period it ends in, its catch-up, then quiet)", () => {
  const s = shares(seq().quiet(20).add(1, 80).add(1, 45).add(1, 12).quiet(20).periods);
  assert.ok(s.every((x) => x === 0), JSON.stringify(s));
});

test("an 80 ms pause every second for 60 s (a garbage collector's cadence) sheds nothing", () => {
  const q = seq();
  for (let i = 0; i < 60; i++) q.quiet(18).add(1, 80).add(1, 45);
  assert.ok(shares(q.periods).every((x) => x === 0));
});

test("waits between the thresholds, or over and under by turns, never start shedding", () => {
  assert.ok(shares(seq().add(200, 29.9).periods).every((x) => x === 0), "29.9 ms for 10 s");
  assert.ok(shares(seq().add(200, (i) => (i % 2 ? 20 : 60)).periods).every((x) => x === 0), "60/20 ms by turns");
});

test("one stall sheds only when it is longer than ONSET_MS + HIGH_MS (280 ms)", () => {
  assert.ok(shares(seq().quiet(5).stall(270).quiet(5).periods).every((x) => x === 0), "a 270 ms stall");
  const s = shares(seq().quiet(5).stall(290).periods);
  assert.equal(s.at(-1), ts.UP * 5, "a 290 ms stall: 260 ms behind, 5 periods' worth");
  const stall = shares(seq().quiet(5).stall(1000).periods);
  assert.equal(stall.at(-1), ts.UP * 19, "a 1 s stall (the SIGSTOP test): 970 ms behind");
});

test("300 ms of waits over 30 ms starts shedding, and not before 250 ms of them", () => {
  for (const wait of [(i) => 35, (i) => 40 + 20 * i, (i) => 31 + (i % 2) * 20]) {
    const s = shares(seq().quiet(10).add(6, wait).periods);
    assert.ok(s.slice(0, 14).every((x) => x === 0), `nothing before: ${s}`);
    assert.ok(s[15] > 0, `shedding after 300 ms: ${s}`);
  }
  // a queue that grows: waits over 30 ms for 250 ms + the 30 ms before they were over
  const grow = shares(seq().quiet(4).add(20, (i) => 30 + 25 * (i + 1)).periods);
  const first = grow.findIndex((x) => x > 0) - 4;
  assert.ok(first >= 3 && first <= 5, `started after ${first + 1} periods over: ${grow}`);
});

test("a lost probe (a full queue) sheds at once", () => {
  const s = shares(seq().quiet(5).add(1, 5, true).periods);
  assert.equal(s.at(-1), ts.LOST_UP);
});

test("while shedding: over 30 ms raises, 10-30 ms holds, under 10 ms lowers the share", () => {
  const s = shares(seq().quiet(2).add(6, 60).add(3, 60).add(10, 20).add(2, 60).add(3, 2).add(1, 60, true).periods);
  // periods 2-7 over 30 ms: 280 ms behind at period 7, where shedding starts
  assert.equal(s[6], 0);
  assert.equal(s[7], 5 * ts.UP);
  assert.equal(s[10], s[7] + 3 * ts.UP, "3 periods over");
  assert.equal(s[20], s[10], "10 periods between the thresholds hold it");
  assert.equal(s[22], s[20] + 2 * ts.UP);
  assert.equal(s[25], s[22] - 3 * ts.DOWN);
  assert.equal(s[26], s[25] + ts.LOST_UP, "a lost probe");
});

test("shedding falls back to 0 within 5 s of the load stopping, and stays there", () => {
  // 10 s of a 3x overload: waits climb while the share catches up, then hover over 30 ms
  const s = shares(seq().quiet(10).add(200, (i) => Math.min(40 + 30 * i, 400 - (i % 4) * 90)).quiet(200).periods);
  const peak = Math.max(...s);
  assert.ok(peak > 500, `the share climbed: ${peak}`);
  const end = 10 + 200;
  const zero = s.indexOf(0, end);
  assert.ok(zero > end && (zero - end) * PERIOD <= 5000, `back to 0 after ${(zero - end) * PERIOD} ms`);
  assert.ok(s.slice(zero).every((x) => x === 0), "and stays 0");
  for (let k = end + 1; k < zero; k++) assert.equal(s[k], s[k - 1] - ts.DOWN, "falls by DOWN per quiet period");
  // and a new overload needs fresh evidence
  const again = shares(seq().quiet(10).add(40, 200).quiet(200).add(4, 60).periods);
  assert.ok(again.slice(-4).every((x) => x === 0), "4 periods over after the end: not yet");
});

test("native host: a datagram dropped for a full receive buffer (SO_RXQ_OVFL) counts as a lost probe", () => {
  // a real loopback socket overflowed, read as the host reads it (tests/overload/rule.c --drops)
  const r = spawnSync(cBin, ["--drops"], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  const [first, second] = r.stdout.trim().split("\n").map(Number);
  assert.equal(first, ts.LOST_UP, "the period with the drops: shedding starts at LOST_UP");
  // the second round's datagram carries the same count: no new drop, and its wait is ~0, so the
  // share falls by DOWN
  assert.equal(second, ts.LOST_UP - ts.DOWN, "a period without new drops");
});

test("the share never exceeds MAX_SHED (a trickle of new calls still measures recovery)", () => {
  const s = shares(seq().add(400, 2000, true).periods);
  assert.equal(Math.max(...s), ts.MAX_SHED);
});
