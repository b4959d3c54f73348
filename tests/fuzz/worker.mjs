// Worker side of the fast path (tests/fuzz/run.mjs keeps a watchdog on it): runs runFast, copies each
// input into the shared buffer before it is fed (so a hang can be saved by the main thread), saves
// failures, and posts progress and the summary.
import { parentPort, workerData } from "node:worker_threads";
import { runFast } from "./fast.mjs";
import { saveFailure } from "./artifacts.mjs";

const { opts, sab } = workerData;
const hdr = new Int32Array(sab, 0, 4); // [heartbeat, index, len, busy]
const data = new Uint8Array(sab, 16);
const post = (m) => parentPort.postMessage(m);

const saved = [];
const save = (e) => {
  Atomics.store(hdr, 3, 1); // busy minimizing: the watchdog waits
  const r = saveFailure(e, { budgetMs: opts.minimizeMs ?? 60_000, log: (s) => post({ type: "log", text: `  minimize: ${s}` }) });
  Atomics.store(hdr, 3, 0);
  Atomics.add(hdr, 0, 1);
  saved.push({ kind: e.kind, message: e.message, index: e.index, inputKind: e.inputKind, ...r });
  post({ type: "failure", kind: e.kind, message: e.message, index: e.index, inputKind: e.inputKind, ...r });
};
try {
  const res = runFast({
    ...opts,
    onInput(i, bytes) {
      const n = Math.min(bytes.length, data.length);
      data.set(bytes.subarray(0, n), 0);
      Atomics.store(hdr, 1, i);
      Atomics.store(hdr, 2, n);
      Atomics.add(hdr, 0, 1);
    },
    onProgress(i, secs, F, fc) {
      Atomics.add(hdr, 0, 1);
      post({ type: "progress", i, secs, failCounts: fc });
    },
    onFailure: save,
    beat() { Atomics.add(hdr, 0, 1); },
  });
  const { failures, anomalyFirst, ...rest } = res;
  rest.stats = { ...rest.stats, eventKinds: Object.fromEntries(rest.stats.eventKinds) };
  post({ type: "done", res: rest, saved, anomalyFirst: Object.fromEntries(Object.entries(anomalyFirst).map(([k, v]) => [k, { detail: v.detail, input: v.input ? v.input.toString("latin1") : "" }])) });
} catch (e) {
  if (e && e.kind) {
    save(e);
    post({ type: "failed", kind: e.kind, message: e.message, index: e.index, saved });
  } else post({ type: "error", message: String(e && e.stack) });
}
