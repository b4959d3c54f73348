// Test-only probes of the header decoders (assembly/wire/headers/). Numbers only: each probe decodes
// [ptr, ptr+len) into one static Repr created at start-up, and getters read its fields back.
// Span getters return absolute addresses; lengths come from the matching *_len getter.

import { ViaRepr, decodeVia } from "../wire/headers/via";
import { NameAddrRepr, NameAddrKind, decodeNameAddr } from "../wire/headers/nameaddr";
import {
  CSeqRepr, ContentTypeRepr, decodeCSeq, isCallId, decodeMaxForwards, decodeDeltaSeconds,
  decodeContentLength, decodeContentType, decodeOptionTag,
} from "../wire/headers/scalar";

const VIA = new ViaRepr();
const NA = new NameAddrRepr();
const CSEQ = new CSeqRepr();
const CT = new ContentTypeRepr();

// ---- Via ----
export function probe_hdr_via(ptr: usize, len: u32): i32 { return decodeVia(ptr, ptr + len, VIA) ? 1 : 0; }
export function probe_hdr_via_proto_ptr(): usize { return VIA.protoName; }
export function probe_hdr_via_proto_len(): u32 { return VIA.protoNameLen; }
export function probe_hdr_via_version_ptr(): usize { return VIA.protoVersion; }
export function probe_hdr_via_version_len(): u32 { return VIA.protoVersionLen; }
export function probe_hdr_via_is_sip20(): i32 { return VIA.isSip20 ? 1 : 0; }
export function probe_hdr_via_transport_ptr(): usize { return VIA.transport; }
export function probe_hdr_via_transport_len(): u32 { return VIA.transportLen; }
export function probe_hdr_via_transport_kind(): i32 { return <i32>VIA.transportKind; }
export function probe_hdr_via_host_ptr(): usize { return VIA.host; }
export function probe_hdr_via_host_len(): u32 { return VIA.hostLen; }
export function probe_hdr_via_host_kind(): i32 { return <i32>VIA.hostKind; }
export function probe_hdr_via_port(): i32 { return VIA.port; }
export function probe_hdr_via_params_ptr(): usize { return VIA.params; }
export function probe_hdr_via_params_len(): u32 { return VIA.paramsLen; }
export function probe_hdr_via_has_branch(): i32 { return VIA.hasBranch ? 1 : 0; }
export function probe_hdr_via_branch_ptr(): usize { return VIA.branch; }
export function probe_hdr_via_branch_len(): u32 { return VIA.branchLen; }
export function probe_hdr_via_branch_rfc3261(): i32 { return VIA.branchRfc3261 ? 1 : 0; }
export function probe_hdr_via_has_received(): i32 { return VIA.hasReceived ? 1 : 0; }
export function probe_hdr_via_received_ptr(): usize { return VIA.received; }
export function probe_hdr_via_received_len(): u32 { return VIA.receivedLen; }
export function probe_hdr_via_received_kind(): i32 { return <i32>VIA.receivedKind; }
export function probe_hdr_via_rport(): i32 { return VIA.rport; }
export function probe_hdr_via_has_maddr(): i32 { return VIA.hasMaddr ? 1 : 0; }
export function probe_hdr_via_maddr_ptr(): usize { return VIA.maddr; }
export function probe_hdr_via_maddr_len(): u32 { return VIA.maddrLen; }
export function probe_hdr_via_ttl(): i32 { return VIA.ttl; }

// ---- name-addr (kind: 0 From/To, 1 Contact, 2 Route/Record-Route/Path) ----
export function probe_hdr_na(ptr: usize, len: u32, kind: i32): i32 {
  return decodeNameAddr(ptr, ptr + len, NA, <NameAddrKind>kind) ? 1 : 0;
}
export function probe_hdr_na_star(): i32 { return NA.star ? 1 : 0; }
export function probe_hdr_na_bracketed(): i32 { return NA.bracketed ? 1 : 0; }
export function probe_hdr_na_has_display(): i32 { return NA.hasDisplay ? 1 : 0; }
export function probe_hdr_na_display_quoted(): i32 { return NA.displayQuoted ? 1 : 0; }
export function probe_hdr_na_display_ptr(): usize { return NA.display; }
export function probe_hdr_na_display_len(): u32 { return NA.displayLen; }
export function probe_hdr_na_uri_ptr(): usize { return NA.uri.start; }
export function probe_hdr_na_uri_len(): u32 { return NA.uri.len; }
export function probe_hdr_na_uri_scheme(): i32 { return <i32>NA.uri.scheme; }
export function probe_hdr_na_uri_host_ptr(): usize { return NA.uri.host; }
export function probe_hdr_na_uri_host_len(): u32 { return NA.uri.hostLen; }
export function probe_hdr_na_uri_params_ptr(): usize { return NA.uri.params; }
export function probe_hdr_na_uri_params_len(): u32 { return NA.uri.paramsLen; }
export function probe_hdr_na_params_ptr(): usize { return NA.params; }
export function probe_hdr_na_params_len(): u32 { return NA.paramsLen; }
export function probe_hdr_na_has_tag(): i32 { return NA.hasTag ? 1 : 0; }
export function probe_hdr_na_tag_ptr(): usize { return NA.tag; }
export function probe_hdr_na_tag_len(): u32 { return NA.tagLen; }
export function probe_hdr_na_q(): i32 { return NA.q; }
export function probe_hdr_na_expires(): f64 { return <f64>NA.expires; }

// ---- scalars ----
export function probe_hdr_cseq(ptr: usize, len: u32): i32 { return decodeCSeq(ptr, ptr + len, CSEQ) ? 1 : 0; }
export function probe_hdr_cseq_seq(): f64 { return <f64>CSEQ.seq; }
export function probe_hdr_cseq_method_ptr(): usize { return CSEQ.method; }
export function probe_hdr_cseq_method_len(): u32 { return CSEQ.methodLen; }
export function probe_hdr_cseq_method_id(): i32 { return <i32>CSEQ.methodId; }
export function probe_hdr_callid(ptr: usize, len: u32): i32 { return isCallId(ptr, ptr + len) ? 1 : 0; }
export function probe_hdr_max_forwards(ptr: usize, len: u32): i32 { return decodeMaxForwards(ptr, ptr + len); }
export function probe_hdr_delta_seconds(ptr: usize, len: u32): f64 { return <f64>decodeDeltaSeconds(ptr, ptr + len); }
export function probe_hdr_content_length(ptr: usize, len: u32): f64 { return <f64>decodeContentLength(ptr, ptr + len); }
export function probe_hdr_ctype(ptr: usize, len: u32): i32 { return decodeContentType(ptr, ptr + len, CT) ? 1 : 0; }
export function probe_hdr_ctype_type_ptr(): usize { return CT.type; }
export function probe_hdr_ctype_type_len(): u32 { return CT.typeLen; }
export function probe_hdr_ctype_subtype_ptr(): usize { return CT.subtype; }
export function probe_hdr_ctype_subtype_len(): u32 { return CT.subtypeLen; }
export function probe_hdr_ctype_params_ptr(): usize { return CT.params; }
export function probe_hdr_ctype_params_len(): u32 { return CT.paramsLen; }
export function probe_hdr_option_tag(ptr: usize, len: u32): i32 { return decodeOptionTag(ptr, ptr + len) ? 1 : 0; }
