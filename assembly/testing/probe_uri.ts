// Test-only probes for wire/uri.ts: numbers-only exports over two static UriRepr slots (0 and 1),
// created once at start-up. A test copies a URI into the RX buffer, parses it into a slot with
// `probe_uri_parse`, reads spans back as (ptr, len) pairs, and compares slot 0 with slot 1.
// Every export is prefixed `probe_uri_` (re-exported as is by the probe build's entry).

import { UriRepr, parseUri, uriEquals } from "../wire/uri";

const SLOT0 = new UriRepr();
const SLOT1 = new UriRepr();

function slot(i: u32): UriRepr { return i == 0 ? SLOT0 : SLOT1; }

/** Parses [ptr, ptr+len) into slot `s`: 1 = parsed, 0 = malformed. */
export function probe_uri_parse(ptr: usize, len: u32, s: u32): i32 {
  return parseUri(ptr, ptr + len, slot(s)) ? 1 : 0;
}
/** 1 when slot 0 equals slot 1 (RFC 3261 §19.1.4). */
export function probe_uri_equals(): i32 { return uriEquals(SLOT0, SLOT1) ? 1 : 0; }

export function probe_uri_start(s: u32): usize { return slot(s).start; }
export function probe_uri_len(s: u32): u32 { return slot(s).len; }
export function probe_uri_scheme(s: u32): i32 { return <i32>slot(s).scheme; }
export function probe_uri_scheme_len(s: u32): u32 { return slot(s).schemeLen; }
export function probe_uri_has_user(s: u32): i32 { return slot(s).hasUser ? 1 : 0; }
export function probe_uri_user_ptr(s: u32): usize { return slot(s).user; }
export function probe_uri_user_len(s: u32): u32 { return slot(s).userLen; }
export function probe_uri_has_password(s: u32): i32 { return slot(s).hasPassword ? 1 : 0; }
export function probe_uri_password_ptr(s: u32): usize { return slot(s).password; }
export function probe_uri_password_len(s: u32): u32 { return slot(s).passwordLen; }
export function probe_uri_host_ptr(s: u32): usize { return slot(s).host; }
export function probe_uri_host_len(s: u32): u32 { return slot(s).hostLen; }
export function probe_uri_host_kind(s: u32): i32 { return <i32>slot(s).hostKind; }
export function probe_uri_port(s: u32): i32 { return slot(s).port; }
export function probe_uri_params_ptr(s: u32): usize { return slot(s).params; }
export function probe_uri_params_len(s: u32): u32 { return slot(s).paramsLen; }
export function probe_uri_headers_ptr(s: u32): usize { return slot(s).headers; }
export function probe_uri_headers_len(s: u32): u32 { return slot(s).headersLen; }
export function probe_uri_transport_ptr(s: u32): usize { return slot(s).transport; }
export function probe_uri_transport_len(s: u32): u32 { return slot(s).transportLen; }
export function probe_uri_maddr_ptr(s: u32): usize { return slot(s).maddr; }
export function probe_uri_maddr_len(s: u32): u32 { return slot(s).maddrLen; }
export function probe_uri_method_ptr(s: u32): usize { return slot(s).method; }
export function probe_uri_method_len(s: u32): u32 { return slot(s).methodLen; }
export function probe_uri_user_param_ptr(s: u32): usize { return slot(s).userParam; }
export function probe_uri_user_param_len(s: u32): u32 { return slot(s).userParamLen; }
export function probe_uri_ttl(s: u32): i32 { return slot(s).ttl; }
export function probe_uri_lr(s: u32): i32 { return slot(s).lr ? 1 : 0; }
