// Overload behaviour of the real Node host, in the suite (the 60 s, 3x-capacity run with its figures
// is `npm run overload`, bench/overload.mjs):
// - table-bound: the micro board (16 transaction records) offered 10x what its table carries sheds
//   with 503, answers every OPTIONS, and serves again within 10 s of the load stopping (bench/
//   overload.mjs's verdicts, read from its JSON);
// - CPU-bound: local overload control. The server is stopped (SIGSTOP) for 1 s under 3,000 call
//   attempts/s; once it runs again its probes wait behind that backlog, so it refuses a share of new
//   INVITEs with 503 + Retry-After, and within seconds of the backlog's end it accepts every call.
// - no false alarm: 1,500 call attempts/s for 10 s (a low fixed rate, a fraction of the capacity
//   of even a slow 2-core CI machine) with the server stopped once for 100 ms halfway refuses
//   nothing (the 60 s run at half the measured capacity is `npm run overload -- --at 0.5`).
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { root, startServer, scratch } from "../integration/harness.mjs";
import { stallAndRecover, steadyWithPause } from "./stall.mjs";

test("micro board at 10x its table: sheds with 503, answers OPTIONS, recovers within 10 s", { timeout: 120_000 }, async () => {
  const out = scratch("overload-micro.json", "");
  const child = spawn(process.execPath, [join(root, "bench", "overload.mjs"), "--board", "micro", "--capacity", "1",
    "--factor", "10", "--secs", "10", "--base-secs", "4", "--recover-secs", "14", "--out", out], { stdio: ["ignore", "pipe", "pipe"] });
  let text = "";
  child.stdout.on("data", (d) => (text += d));
  child.stderr.on("data", (d) => (text += d));
  const code = await new Promise((r) => child.on("exit", r));
  const r = JSON.parse(readFileSync(out, "utf8")).hosts.node.overload;
  assert.ok(r.overload.shed503 > 0, `503s under overload\n${text}`);
  assert.equal(r.options.answered, r.options.sent, `every OPTIONS answered\n${text}`);
  assert.ok(r.recoveredAfterSecs >= 0 && r.recoveredAfterSecs <= 10, `recovered after ${r.recoveredAfterSecs} s\n${text}`);
  assert.equal(r.overload.timeouts, 0, "no call attempt left unanswered");
  assert.equal(code, 0, text);
});

test("local overload control: after a 1 s stall new INVITEs are refused with 503 for a while, then all served", { timeout: 60_000 }, async () => {
  const srv = await startServer({ trace: false, logLevel: "info", tcp: false });
  try {
    let mark = 0;
    const since = (msg) => (o) => o.msg === msg && srv.logs.indexOf(o) >= mark;
    const r = await stallAndRecover({
      port: srv.port, pid: srv.child.pid,
      mark: () => { mark = srv.logs.length; },
      waitLog: (msg, ms) => srv.waitFor(since(msg), ms, msg),
    });
    assert.ok(r.shed > 0, `some INVITEs refused with 503: ${JSON.stringify(r.ticks)}`);
    assert.ok(r.after.length >= 2, "seconds measured after the overload");
    for (const t of r.after) assert.equal(t.shed + t.timeout + t.other, 0, `all served again: ${JSON.stringify(t)}`);
    assert.ok(r.after.reduce((a, t) => a + t.busy, 0) > 0);
    srv.child.kill("SIGUSR2");
    const stats = await srv.waitFor(since("stats"), 3000, "stats");
    assert.ok(stats.shed503 >= r.shed, `the core counted ${stats.shed503} refused for overload, the caller got ${r.shed}`);
  } finally {
    await srv.stop();
  }
});

test("no false alarm: 1,500 call attempts/s for 10 s with one 100 ms stop refuse nothing", { timeout: 60_000 }, async () => {
  const srv = await startServer({ trace: false, logLevel: "info", tcp: false });
  try {
    const r = await steadyWithPause({ port: srv.port, pid: srv.child.pid, cps: 1500, secs: 10, pauseMs: 100 });
    const episodes = srv.logs.filter((o) => o.msg === "overload: refusing new requests with 503");
    assert.deepEqual(episodes, [], "the server never started shedding");
    assert.equal(r.shed, 0, `no 503: ${JSON.stringify(r.ticks)}`);
    assert.equal(r.timeouts, 0);
    assert.ok(r.busy >= 0.99 * r.offered, `every attempt answered: ${r.busy} of ${r.offered}`);
  } finally {
    await srv.stop();
  }
});
