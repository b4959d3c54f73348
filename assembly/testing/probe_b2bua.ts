// Test-only probes of the B2BUA (b2bua/call.ts): turn B2BUA mode on, configure its sides, read its
// calls. Numbers only; the simulator (tests/sim/b2bua.test.mjs) drives the rest through the ABI.

import { dispatchB2bua } from "../host/dispatch";
import { Peer } from "../net/peer";
import { nameIntern } from "../net/addr";
import { b2buaSideSet, b2buaSideAdd, b2buaCallsInUse, b2buaState, SideRole, b2buaNextRecord, B2B_CALLS } from "../b2bua/call";


export function probe_b2bua_on(on: u32): void { dispatchB2bua(on != 0); }
/** Side s: role (1 registrar, 2 trunk), the side its calls go to, its host text, a trunk's peer record (0:
 * none) and credentials (lengths 0: none). */
export function probe_b2bua_side(s: i32, role: u32, route: i32, host: usize, hostLen: u32, peer: usize,
                                 user: usize, userLen: u32, pass: usize, passLen: u32): u32 {
  return b2buaSideSet(s, <SideRole>role, route, host, hostLen, peer != 0 ? changetype<Peer>(peer) : null, user, userLen, pass, passLen) ? 1 : 0;
}
export function probe_b2bua_calls(): i32 { return b2buaCallsInUse(); }
export function probe_b2bua_state(i: i32): i32 { return <i32>b2buaState(i); }
/** A side's or a rule's configuration text (cfg kind Side) at [p, p+len): 1 taken, 0 refused. */
export function probe_b2bua_side_text(p: usize, len: u32): u32 { return b2buaSideAdd(p, len) ? 1 : 0; }
/** The call records' count; free record i the next taken (1), or 0: not free. */
export function probe_b2bua_capacity(): i32 { return B2B_CALLS; }
export function probe_b2bua_next_record(i: i32): u32 { return b2buaNextRecord(i) ? 1 : 0; }

const NAME_TEXT = memory.data(16);
/** Enters the name "nK.example" (K = k, up to 4 digits) in the table of names as a message's destination
 * would be; its reference's slot + 1, 0 when it could not be kept. */
export function probe_name_intern(k: u32): u32 {
  let n: u32 = 0;
  store<u8>(NAME_TEXT, 0x6e);
  n = 1;
  for (let d: u32 = 1000; d > 0; d /= 10) if (k >= d || d == 1) store<u8>(NAME_TEXT + <usize>(n++), <u8>(0x30 + (k / d) % 10));
  const tail: u8[] = [0x2e, 0x65, 0x78, 0x61, 0x6d, 0x70, 0x6c, 0x65];
  for (let i = 0; i < tail.length; i++) store<u8>(NAME_TEXT + <usize>(n++), tail[i]);
  return <u32>nameIntern(NAME_TEXT, n);
}
