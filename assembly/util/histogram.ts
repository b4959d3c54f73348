// The response-time histograms (sip_hist; host/shared/abi.json "histograms"): per series, a count per
// bucket of HIST_BOUNDS_MS (an observation lands in the first bucket whose bound it does not exceed, or
// in the one above the last bound) and the sum of the observations in ms. Fixed memory, u64 counters;
// only the cores built with SIP_HISTOGRAMS keep them (server, b2bua): elsewhere nothing is compiled in.

import { HISTOGRAMS } from "../config";
import { Hist, HIST_BOUNDS, HIST_BOUNDS_MS } from "../host/numbers";

const SLOTS: i32 = HIST_BOUNDS + 2; // buckets, the one above the last bound, the sum
const COUNTS: usize = memory.data(HISTOGRAMS ? <i32>Hist.Count * SLOTS * 8 : 8);

/** Record one observation of `ms` (negative: 0) in series h. */
export function histObserve(h: Hist, ms: i64): void {
  if (!HISTOGRAMS) return;
  const v: u64 = ms < 0 ? 0 : <u64>ms;
  let i = 0;
  while (i < HIST_BOUNDS && v > <u64>unchecked(HIST_BOUNDS_MS[i])) i++;
  const base = COUNTS + <usize>(<i32>h * SLOTS) * 8;
  store<u64>(base + <usize>i * 8, load<u64>(base + <usize>i * 8) + 1);
  const sum = base + <usize>(HIST_BOUNDS + 1) * 8;
  store<u64>(sum, load<u64>(sum) + v);
}

/** Slot i of series h (i < HIST_BOUNDS: a bucket; HIST_BOUNDS: above the last bound; + 1: the sum in
 * ms), or -1 (no such series or slot, or a core without histograms). */
export function histValue(h: i32, i: i32): f64 {
  if (!HISTOGRAMS || h < 0 || h >= <i32>Hist.Count || i < 0 || i >= SLOTS) return -1;
  return <f64>load<u64>(COUNTS + <usize>(h * SLOTS + i) * 8);
}

export function histReset(): void {
  if (HISTOGRAMS) memory.fill(COUNTS, 0, <usize>(<i32>Hist.Count * SLOTS) * 8);
}
