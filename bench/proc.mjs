// What the benchmarks read about a running process from /proc (Linux).
import { readFileSync } from "node:fs";

/** Resident set size of `pid` in kB (VmRSS), 0 once the process is gone. */
export function rssKb(pid) {
  try { return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0); } catch { return 0; }
}
