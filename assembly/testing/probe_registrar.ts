// Test-only probes of the registrar (assembly/registrar/): numbers-only exports prefixed `probe_reg_`.
// A test parses a REGISTER into view slot 0 with probe_parse, then calls probe_reg_register; the
// extra header lines land in a static buffer read back with probe_reg_extra_ptr / _len.

import { Peer } from "../net/peer";
import { UriRepr, parseUri } from "../wire/uri";
import {
  regConfig, registrarReset, handleRegister, registrarLookup, targets, registrarTick,
  registrarNextDeadline, regResult, registrarAors, registrarBindings, registrarPoolUsed, registrarPoolBlocks,
} from "../registrar";
import { eventPoll, eventsReset, EVENT_OUT } from "../events";
import { probe_view_at, probe_decoded_at } from "./probe_view";

const EXTRA_CAP: u32 = 8192;
const EXTRA: usize = memory.data(EXTRA_CAP);
const SRC: usize = memory.data(32);
const lookupUri = new UriRepr();

export function probe_reg_reset(): void { registrarReset(0x1234567890abcdef); eventsReset(); }
export function probe_reg_config(minE: u32, maxE: u32, defE: u32, maxC: u32): void {
  regConfig.minExpires = minE; regConfig.maxExpires = maxE;
  regConfig.defaultExpires = defE; regConfig.maxContacts = maxC;
}
/** Source of the next REGISTER: transport, IPv4 a.b.c.d. */
export function probe_reg_src(transport: u32, addr4: u32): void {
  const p = changetype<Peer>(SRC);
  p.transport = <u8>transport;
  p.family = 4;
  store<u32>(p.addr, addr4);
}
/** Register the message in view slot 0 (parsed by probe_parse); returns the status. */
export function probe_reg_register(now: f64, srcPort: u32, srcConn: u32, cap: u32): u32 {
  const p = changetype<Peer>(SRC);
  p.port = <u16>srcPort;
  p.conn = srcConn;
  const r = handleRegister(probe_view_at(0), probe_decoded_at(0), p, <i64>now, EXTRA,
    cap < EXTRA_CAP ? cap : EXTRA_CAP);
  return r.status;
}
export function probe_reg_extra_ptr(): usize { return EXTRA; }
export function probe_reg_extra_len(): u32 { return regResult.extraLen; }

/** Lookup of the URI at [ptr, ptr+len); -1 when it does not parse. */
export function probe_reg_lookup(ptr: usize, len: u32, now: f64): i32 {
  if (!parseUri(ptr, ptr + len, lookupUri)) return -1;
  return registrarLookup(lookupUri, <i64>now, targets);
}
export function probe_reg_t_uri_ptr(i: i32): usize { return targets.uri(i); }
export function probe_reg_t_uri_len(i: i32): u32 { return targets.uriLen(i); }
export function probe_reg_t_path_ptr(i: i32): usize { return targets.path(i); }
export function probe_reg_t_path_len(i: i32): u32 { return targets.pathLen(i); }
export function probe_reg_t_q(i: i32): i32 { return targets.q(i); }
export function probe_reg_t_binding(i: i32): i32 { return targets.binding(i); }
export function probe_reg_t_port(i: i32): u32 { return targets.source(i).port; }
export function probe_reg_t_conn(i: i32): u32 { return targets.source(i).conn; }
export function probe_reg_t_transport(i: i32): u32 { return targets.source(i).transport; }
export function probe_reg_t_addr4(i: i32): u32 { return load<u32>(targets.source(i).addr); }

export function probe_reg_tick(now: f64): void { registrarTick(<i64>now); }
export function probe_reg_next_deadline(): f64 { return <f64>registrarNextDeadline(); }
export function probe_reg_aors(): i32 { return registrarAors(); }
export function probe_reg_bindings(): i32 { return registrarBindings(); }
export function probe_reg_pool_used(): u32 { return registrarPoolUsed(); }
export function probe_reg_pool_blocks(): u32 { return registrarPoolBlocks(); }

/** Next event: its kind (0 = none); fields via probe_reg_ev_*. */
export function probe_reg_event(): u32 { return eventPoll(); }
export function probe_reg_ev_ptr(): usize { return EVENT_OUT; }
