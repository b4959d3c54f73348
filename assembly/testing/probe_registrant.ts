// Test-only probes of the registrant (registrant/registrant.ts): its accounts' states and timers, and
// its shutdown. Numbers only; the simulator (tests/sim/registrant.test.mjs) drives the rest through the ABI.

import { regState, regGranted, regAsked, regDue, regFailures, regCount, regShutdown, regBackoff } from "../registrant/registrant";

export function probe_reg_state(i: i32): i32 { return <i32>regState(i); }
export function probe_reg_granted(i: i32): u32 { return regGranted(i); }
export function probe_reg_asked(i: i32): u32 { return regAsked(i); }
/** When account i's timer is due (ms), 0 none. */
export function probe_reg_due(i: i32): f64 { return <f64>regDue(i); }
export function probe_reg_failures(i: i32): u32 { return regFailures(i); }
export function probe_reg_count(): i32 { return regCount(); }
/** De-register every registered account (Expires: 0); the number sent. */
export function probe_reg_shutdown(now: f64): i32 { return regShutdown(<i64>now); }
/** The wait after the f-th failure in a row for a random value r (ms). */
export function probe_reg_backoff(f: u32, r: u32): f64 { return <f64>regBackoff(f, r); }
