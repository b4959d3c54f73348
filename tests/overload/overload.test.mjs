// Overload behaviour of the real Node host, in the suite (the 60 s, 3x-capacity run with its figures
// is `npm run overload`, bench/overload.mjs):
// - table-bound: the micro board (16 transaction records) offered 10x what its table carries sheds
//   with 503, answers every OPTIONS, and serves again within 10 s of the load stopping (bench/
//   overload.mjs's verdicts, read from its JSON);
// - CPU-bound: local overload control. The server is stopped (SIGSTOP) for 1 s under 3,000 call
//   attempts/s; once it runs again its probes wait behind that backlog, so it refuses a share of new
//   INVITEs with 503 + Retry-After, and within seconds of the backlog's end it accepts every call.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Worker } from "node:worker_threads";
import { root, startServer, scratch } from "../integration/harness.mjs";

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

test("micro board at 10x its table: sheds with 503, answers OPTIONS, recovers within 10 s", { timeout: 120_000 }, async () => {
  const out = scratch("overload-micro.json", "");
  const child = spawn(process.execPath, [join(root, "bench", "overload.mjs"), "--board", "micro", "--capacity", "1",
    "--factor", "10", "--secs", "10", "--base-secs", "4", "--recover-secs", "14", "--out", out], { stdio: ["ignore", "pipe", "pipe"] });
  let text = "";
  child.stdout.on("data", (d) => (text += d));
  child.stderr.on("data", (d) => (text += d));
  const code = await new Promise((r) => child.on("exit", r));
  const r = JSON.parse(readFileSync(out, "utf8"));
  assert.ok(r.overload.shed503 > 0, `503s under overload\n${text}`);
  assert.equal(r.options.answered, r.options.sent, `every OPTIONS answered\n${text}`);
  assert.ok(r.recoveredAfterSecs >= 0 && r.recoveredAfterSecs <= 10, `recovered after ${r.recoveredAfterSecs} s\n${text}`);
  assert.equal(r.overload.timeouts, 0, "no call attempt left unanswered");
  assert.equal(code, 0, text);
});

test("local overload control: after a 1 s stall new INVITEs are refused with 503 for a while, then all served", { timeout: 60_000 }, async () => {
  const srv = await startServer({ trace: false, logLevel: "info", tcp: false });
  const w = new Worker(join(root, "bench", "overload-load.mjs"), { workerData: { serverPort: srv.port } });
  const ticks = [];
  try {
    await new Promise((resolve, reject) => {
      w.on("message", (m) => { if (m.type === "ready") resolve(); else if (m.type === "tick") ticks.push(m); });
      w.once("error", reject);
    });
    w.postMessage({ type: "rate", cps: 200 });
    await sleep(1500);
    const mark = srv.logs.length; // only what follows the stall
    const since = (msg) => (o) => o.msg === msg && srv.logs.indexOf(o) >= mark;
    // 3,000 call attempts/s while the server is stopped for 1 s: thousands of datagrams wait in its
    // socket, and so do the probes sent once it runs again
    w.postMessage({ type: "rate", cps: 3000 });
    srv.child.kill("SIGSTOP");
    await sleep(1000);
    srv.child.kill("SIGCONT");
    await sleep(1000);
    w.postMessage({ type: "rate", cps: 200 });
    await srv.waitFor(since("overload: refusing new requests with 503"), 5000, "the overload warning");
    await srv.waitFor(since("overload over"), 15_000, "the end of the overload");
    const before = ticks.length;
    await sleep(3500);
    w.postMessage({ type: "rate", cps: 0 });
    await sleep(1500);
    const shed = ticks.reduce((a, t) => a + t.shed, 0);
    assert.ok(shed > 0, `some INVITEs refused with 503: ${JSON.stringify(ticks)}`);
    const after = ticks.slice(before + 1);
    assert.ok(after.length >= 2, "seconds measured after the overload");
    for (const t of after) assert.equal(t.shed + t.timeout + t.other, 0, `all served again: ${JSON.stringify(t)}`);
    assert.ok(after.reduce((a, t) => a + t.busy, 0) > 0);
    srv.child.kill("SIGUSR2");
    const stats = await srv.waitFor(since("stats"), 3000, "stats");
    assert.ok(stats.shed503 >= shed, `the core counted ${stats.shed503} refused for overload, the caller got ${shed}`);
  } finally {
    await w.terminate();
    await srv.stop();
  }
});
