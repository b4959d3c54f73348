// Test-only probes of the message view, validation and writers (never in a release build).
// Numbers only, like the ABI: tests read spans straight out of linear memory.

import { MAX_MSG } from "../config";
import { RX_BUF, TX_BUF, TX_CAP } from "../wire/buffers";
import { MessageView, parseMessage } from "../wire/view";
import { Decoded, validateMessage } from "../wire/validate";
import { errorStatus } from "../wire/errors";
import { ForwardEdits, writeForward, writeResponse, dropMap } from "../wire/emit";
import { Hdr } from "../wire/hdr";

const views: StaticArray<MessageView> = [new MessageView(), new MessageView()];
const decs: StaticArray<Decoded> = [new Decoded(), new Decoded()];
const edits = new ForwardEdits();
let cur = 0;

/** A scratch area tests write argument bytes into (URIs, Via values, tags). */
const SCRATCH: usize = memory.data(4096);
export function probe_scratch_ptr(): usize { return SCRATCH; }

/** Parse + validate [ptr, ptr+len) into view `slot` (0 or 1); returns what sip_parse returns. */
export function probe_parse_at(slot: i32, ptr: usize, len: u32, stream: u32): i32 {
  cur = slot & 1;
  const v = unchecked(views[cur]);
  const r = parseMessage(v, ptr, len, stream != 0);
  if (r <= 0) return r;
  const e = validateMessage(v, unchecked(decs[cur]));
  return e == 0 ? r : -e;
}
/** Parse the RX buffer into view 0. */
export function probe_parse(len: u32, stream: u32): i32 { return probe_parse_at(0, RX_BUF, len, stream); }
/** Parse only (no validation). */
export function probe_frame(len: u32, stream: u32): i32 {
  cur = 0;
  return parseMessage(unchecked(views[0]), RX_BUF, len, stream != 0);
}
export function probe_select(slot: i32): void { cur = slot & 1; }
/** The current view and its decoded facts, for the other probe modules. */
export function probeView(): MessageView { return unchecked(views[cur]); }
export function probeDecoded(): Decoded { return unchecked(decs[cur]); }
export function probe_status_of(err: i32): i32 { return errorStatus(err < 0 ? -err : err); }

// @ts-ignore: decorator
@inline function V(): MessageView { return unchecked(views[cur]); }
// @ts-ignore: decorator
@inline function D(): Decoded { return unchecked(decs[cur]); }

export function probe_v_base(): usize { return V().base; }
export function probe_v_skipped(): u32 { return V().skipped; }
export function probe_v_len(): u32 { return V().len; }
export function probe_v_is_request(): bool { return V().isRequest; }
export function probe_v_method(): i32 { return V().method; }
export function probe_v_method_len(): u32 { return V().methodLen; }
export function probe_v_uri_off(): u32 { return V().uriOff; }
export function probe_v_uri_len(): u32 { return V().uriLen; }
export function probe_v_status(): i32 { return V().status; }
export function probe_v_reason_off(): u32 { return V().reasonOff; }
export function probe_v_reason_len(): u32 { return V().reasonLen; }
export function probe_v_headers_off(): u32 { return V().headersOff; }
export function probe_v_headers_end(): u32 { return V().headersEnd; }
export function probe_v_body_off(): u32 { return V().bodyOff; }
export function probe_v_body_len(): u32 { return V().bodyLen; }
export function probe_v_content_length(): i32 { return V().contentLength; }
export function probe_v_count(): i32 { return V().count; }
export function probe_v_error(): i32 { return V().error; }
export function probe_v_first(h: i32): i32 { return V().first(h); }
export function probe_v_next(i: i32): i32 { return V().next(i); }
export function probe_e_hdr(i: i32): i32 { return V().hdr(i); }
export function probe_e_flags(i: i32): u32 { return V().flags(i); }
export function probe_e_name_len(i: i32): u32 { return V().nameLen(i); }
export function probe_e_line_off(i: i32): u32 { return V().lineOff(i); }
export function probe_e_line_end(i: i32): u32 { return V().lineEnd(i); }
export function probe_e_val_off(i: i32): u32 { return V().valOff(i); }
export function probe_e_val_len(i: i32): u32 { return V().valLen(i); }

// Decoded facts of the last validated message in the current slot.
export function probe_d_via_branch_ptr(): usize { return D().via.branch; }
export function probe_d_via_branch_len(): u32 { return D().via.branchLen; }
export function probe_d_via_branch_rfc3261(): bool { return D().via.branchRfc3261; }
export function probe_d_via_host_ptr(): usize { return D().via.host; }
export function probe_d_via_host_len(): u32 { return D().via.hostLen; }
export function probe_d_via_port(): i32 { return D().via.port; }
export function probe_d_via_transport(): i32 { return D().via.transportKind; }
export function probe_d_from_tag_ptr(): usize { return D().from.tag; }
export function probe_d_from_tag_len(): u32 { return D().from.tagLen; }
export function probe_d_to_has_tag(): bool { return D().to.hasTag; }
export function probe_d_to_tag_ptr(): usize { return D().to.tag; }
export function probe_d_to_tag_len(): u32 { return D().to.tagLen; }
export function probe_d_to_uri_scheme(): i32 { return D().to.uri.scheme; }
export function probe_d_cseq(): u32 { return D().cseq.seq; }
export function probe_d_cseq_method(): i32 { return D().cseq.methodId; }
export function probe_d_call_id_ptr(): usize { return D().callId; }
export function probe_d_call_id_len(): u32 { return D().callIdLen; }
export function probe_d_max_forwards(): i32 { return D().maxForwards; }
export function probe_d_expires(): f64 { return <f64>D().expires; }
export function probe_d_ruri_scheme(): i32 { return D().ruri.scheme; }
export function probe_d_ruri_user_ptr(): usize { return D().ruri.user; }
export function probe_d_ruri_user_len(): u32 { return D().ruri.userLen; }
export function probe_d_ruri_host_ptr(): usize { return D().ruri.host; }
export function probe_d_ruri_host_len(): u32 { return D().ruri.hostLen; }
export function probe_d_ruri_host_kind(): i32 { return D().ruri.hostKind; }
export function probe_d_ruri_port(): i32 { return D().ruri.port; }

// Writers: output goes to the TX buffer; 0 = did not fit.
export function probe_tx_ptr(): usize { return TX_BUF; }
/** Forward the request in view 0. Spans point into the scratch area; len 0 = not given. */
export function probe_forward(
  ruri: usize, ruriLen: u32, via: usize, viaLen: u32, rr: usize, rrLen: u32, popRoute: bool, cap: u32,
): u32 {
  edits.reset();
  if (ruriLen != 0) { edits.ruri = ruri; edits.ruriLen = ruriLen; }
  edits.via = via;
  edits.viaLen = viaLen;
  if (rrLen != 0) { edits.recordRoute = rr; edits.recordRouteLen = rrLen; }
  if (popRoute) {
    const v = unchecked(views[0]);
    edits.drop = dropMap(v.count);
    const r = v.first(Hdr.Route);
    if (r >= 0) store<u8>(edits.drop + <usize>r, 1);
  }
  return writeForward(unchecked(views[0]), edits, TX_BUF, cap < TX_CAP ? cap : TX_CAP);
}
/** Respond to the request in view 0. */
export function probe_response(status: u32, tag: usize, tagLen: u32, extra: usize, extraLen: u32, cap: u32): u32 {
  return writeResponse(unchecked(views[0]), status, tag, tagLen, extra, extraLen, TX_BUF, cap < TX_CAP ? cap : TX_CAP);
}

/** Allocation oracle: one tiny allocation; the distance between two marks shows any allocation between. */
export function probe_heap_mark(): usize { return heap.alloc(1); }
export function probe_max_msg(): i32 { return MAX_MSG; }
/** The view and decoded record of `slot` (for other probe files; pointers at the wasm boundary). */
export function probe_view_at(slot: i32): MessageView { return unchecked(views[slot & 1]); }
export function probe_decoded_at(slot: i32): Decoded { return unchecked(decs[slot & 1]); }
