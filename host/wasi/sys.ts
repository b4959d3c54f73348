// The two builds of the WASI host, from the same source: the WasmEdge build (WASI preview 1 with
// WasmEdge's socket extension, ./wasi.ts) and the wasmtime build (a WASI 0.2 component: wasi:sockets,
// wasi:io/poll, wasi:clocks, ..., ./p2.ts), chosen at compile time by `--use SIP_WASI_P2=1`
// (tools/wasi.mjs --p2). Every `if (P2)` is decided by the compiler: the other branch is not compiled,
// so each build imports only its own interface.

import { proc_exit, random_get, clock_time_get, CLOCK_MONOTONIC, CLOCK_REALTIME } from "./wasi";
import { exit_with_code, get_random_u64, monotonic_now, wall_now } from "./p2";

// @ts-ignore: compile-time constant (asc --use SIP_WASI_P2=1)
export const P2: bool = isDefined(SIP_WASI_P2) ? SIP_WASI_P2 != 0 : false;

const TIME: usize = memory.data(16, 8);

/** Ends the process with this status (WASI 0.2: wasi:cli/exit.exit-with-code, stable since 0.2.12). */
export function sysExit(code: u32): void {
  if (P2) {
    exit_with_code(<i32>code);
    unreachable();
  } else proc_exit(code);
}

/** n random bytes at p (n a multiple of 8 on WASI 0.2). */
export function sysRandom(p: usize, n: u32): void {
  if (P2) for (let k: u32 = 0; k < n; k += 8) store<u64>(p + k, get_random_u64());
  else random_get(p, n);
}

/** Eight random bytes at p. */
export function sysRandom8(p: usize): void {
  if (P2) store<u64>(p, get_random_u64());
  else random_get(p, 8);
}

/** The monotonic clock, ns. */
export function sysMonotonicNs(): u64 {
  if (P2) return monotonic_now();
  clock_time_get(CLOCK_MONOTONIC, 1000, TIME);
  return load<u64>(TIME);
}

/** The wall clock, ns since the epoch. */
export function sysRealtimeNs(): u64 {
  if (P2) {
    wall_now(TIME);
    return load<u64>(TIME) * 1000000000 + <u64>load<u32>(TIME, 8);
  }
  clock_time_get(CLOCK_REALTIME, 1000000, TIME);
  return load<u64>(TIME);
}
