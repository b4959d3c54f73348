// Shrinks a failing trace (tests/fuzz/core.mjs) to a short op sequence that still fails the same way:
// the shortest failing prefix (binary search), then delta debugging (ddmin) over the ops, bounded in time.
import { replayTrace, OP } from "./core.mjs";

/** Does `ops` still fail with the same kind? (leaks are checked at the end, as in the fuzzer) */
export function failsLike(trace, ops, kind) {
  const f = replayTrace({ ...trace, ops }, { leaks: kind === "leak" });
  return f !== null && f.kind === kind;
}

export function minimizeTrace(trace, kind, { budgetMs = 60_000, log = () => {} } = {}) {
  const t0 = performance.now();
  const left = () => budgetMs - (performance.now() - t0);
  let ops = trace.ops;
  if (!failsLike(trace, ops, kind)) return null; // does not reproduce from a fresh instance
  // 1. shortest failing prefix
  let lo = 1, hi = ops.length;
  while (lo < hi && left() > 0) {
    const mid = (lo + hi) >> 1;
    if (failsLike(trace, ops.slice(0, mid), kind)) hi = mid; else lo = mid + 1;
  }
  ops = ops.slice(0, hi);
  log(`prefix: ${ops.length} ops`);
  // 2. ddmin
  let n = 2;
  while (ops.length >= 2 && left() > 0) {
    const size = Math.ceil(ops.length / n);
    let reduced = false;
    for (let i = 0; i < ops.length && left() > 0; i += size) {
      const cand = ops.slice(0, i).concat(ops.slice(i + size));
      if (cand.length && failsLike(trace, cand, kind)) {
        ops = cand;
        n = Math.max(n - 1, 2);
        reduced = true;
        break;
      }
    }
    if (!reduced) {
      if (n >= ops.length) break;
      n = Math.min(ops.length, n * 2);
    }
  }
  log(`ddmin: ${ops.length} ops (${Math.round(performance.now() - t0)} ms)`);
  return { ...trace, ops };
}

/** The op list as readable text (for reports). */
export function describeOps(ops) {
  return ops.map((o, i) => {
    const head = `#${i} t=${o.now} ${o.type === OP.DATAGRAM ? "datagram" : o.type === OP.STREAM ? "stream" : o.type === OP.TIMEOUT ? "timeout" : "conn-closed"}`;
    if (!o.bytes) return o.type === OP.CLOSED ? `${head} conn ${o.conn}` : head;
    const p = o.peer;
    const from = p ? ` from ${p[8]}.${p[9]}.${p[10]}.${p[11]}:${p.readUInt16LE(6)} transport ${p[4]} conn ${p.readUInt32LE(0)}` : "";
    return `${head}${from} (${o.bytes.length} bytes)\n${o.bytes.toString("latin1").replace(/\r\n/g, "\n").slice(0, 1500)}`;
  }).join("\n");
}
