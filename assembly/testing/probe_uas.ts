// Test-only probes of the user agent's server core (dialog/uas.ts): let the user agent take the
// requests this core receives (host/dispatch.ts), answer its calls, read their state. Numbers only.

import { dispatchRequestsToUserAgent } from "../host/dispatch";
import { uasRespond, uasState, uasDialog, uasCallsInUse } from "../dialog/uas";
import { tuTimersInUse } from "../tu/timers";

export function probe_uas_take_requests(on: u32): void { dispatchRequestsToUserAgent(on != 0); }
export function probe_uas_respond(i: i32, status: u32, now: f64): u32 { return uasRespond(i, status, <i64>now) ? 1 : 0; }
export function probe_uas_state(i: i32): i32 { return <i32>uasState(i); }
export function probe_uas_dialog(i: i32): i32 { return uasDialog(i); }
export function probe_uas_calls(): i32 { return uasCallsInUse(); }
export function probe_tu_timers(): i32 { return tuTimersInUse(); }
