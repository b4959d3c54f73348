// The stall scenario shared by the Node host's and the native host's overload-control tests: a UAC/UAS
// pair (bench/overload-load.mjs) places 200 call attempts/s through the server; the server is stopped
// (SIGSTOP) for 1 s while the offer rises to 3,000/s, so thousands of datagrams wait in its socket;
// once it runs again it must refuse a share of new INVITEs with 503 + Retry-After ("overload:
// refusing new requests with 503"), end that ("overload over"), and then serve every call. And its
// counterpart, no false alarm: a steady load with one short stop in it refuses nothing.
import { Worker } from "node:worker_threads";
import { join } from "node:path";
import { root } from "../integration/harness.mjs";

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** The load generator of bench/overload.mjs on a server; resolves { w, ticks } once it is ready. */
async function generator(port) {
  const w = new Worker(join(root, "bench", "overload-load.mjs"), { workerData: { serverPort: port } });
  const ticks = [];
  await new Promise((resolve, reject) => {
    w.on("message", (m) => { if (m.type === "ready") resolve(); else if (m.type === "tick") ticks.push(m); });
    w.once("error", reject);
  });
  return { w, ticks };
}

/**
 * No false alarm: `cps` call attempts/s for `secs`, the server stopped (SIGSTOP) once for `pauseMs`
 * halfway (a pause like a long garbage collection or a descheduling, not an overload). Returns
 * { ticks, shed (503s received), offered, busy (486s) }; the caller checks the server's log too.
 */
export async function steadyWithPause({ port, pid, cps, secs, pauseMs }) {
  const { w, ticks } = await generator(port);
  try {
    w.postMessage({ type: "rate", cps });
    await sleep((secs * 1000) / 2);
    if (pauseMs > 0) {
      process.kill(pid, "SIGSTOP");
      await sleep(pauseMs);
      process.kill(pid, "SIGCONT");
    }
    await sleep((secs * 1000) / 2);
    w.postMessage({ type: "rate", cps: 0 });
    await sleep(1500);
    const sum = (k) => ticks.reduce((a, t) => a + t[k], 0);
    return { ticks, shed: sum("shed"), offered: sum("offered"), busy: sum("busy"), timeouts: sum("timeout") };
  } finally {
    await w.terminate();
  }
}

/**
 * `waitLog(msg, ms)` resolves with the server's first log line with that msg logged after `mark()`
 * was called. Returns { ticks (per second, from the generator), shed (503s received), after (the
 * seconds measured once the overload was over) }.
 */
export async function stallAndRecover({ port, pid, mark, waitLog }) {
  const { w, ticks } = await generator(port);
  try {
    w.postMessage({ type: "rate", cps: 200 });
    await sleep(1500);
    mark();
    w.postMessage({ type: "rate", cps: 3000 });
    process.kill(pid, "SIGSTOP");
    await sleep(1000);
    process.kill(pid, "SIGCONT");
    await sleep(1000);
    w.postMessage({ type: "rate", cps: 200 });
    await waitLog("overload: refusing new requests with 503", 5000);
    await waitLog("overload over", 15_000);
    const before = ticks.length;
    await sleep(3500);
    w.postMessage({ type: "rate", cps: 0 });
    await sleep(1500);
    return { ticks, shed: ticks.reduce((a, t) => a + t.shed, 0), after: ticks.slice(before + 1) };
  } finally {
    await w.terminate();
  }
}
