// Test-only probes of user-agent dialogs (dialog/ua.ts): create from the probe's current view, write a
// request within the dialog into the transmit buffer, read the dialog's texts. Numbers only.

import { TX_BUF, TX_CAP } from "../wire/buffers";
import { Writer } from "../wire/writer";
import { probeView, probeDecoded } from "./probe_view";
import {
  uaDialogFromResponse, uaDialogFromRequest, uaDialogState, uaDialogRoutes, uaDialogLocalCseq, uaDialogRemoteCseq,
  uaDialogTextPtr, uaDialogTextLen, uaWriteRequest, uaDialogsReset, uaDialogEnd, uaDialogsInUse, uaDialogConfirm,
  uaDialogCheckCseq, uaDialogInviteBegin, uaDialogInviteEnd, uaGlareDelay, uaDialogRefreshTarget, uaDialogFlags,
  OutRequest, uaWriteOut, uaDialogOf, uaDialogOfResponse,
} from "../dialog/ua";

const w = new Writer();

export function probe_ua_reset(): void { uaDialogsReset(); }
export function probe_ua_from_response(cseq: u32): i32 { return uaDialogFromResponse(probeView(), probeDecoded(), cseq); }
export function probe_ua_from_request(tag: usize, tagLen: u32, early: u32): i32 {
  return uaDialogFromRequest(probeView(), probeDecoded(), tag, tagLen, early != 0);
}
export function probe_ua_state(i: i32): i32 { return uaDialogState(i); }
export function probe_ua_routes(i: i32): u32 { return uaDialogRoutes(i); }
export function probe_ua_local_cseq(i: i32): u32 { return uaDialogLocalCseq(i); }
export function probe_ua_remote_cseq(i: i32): i64 { return uaDialogRemoteCseq(i); }
export function probe_ua_text_ptr(i: i32, k: u32): usize { return uaDialogTextPtr(i, k); }
export function probe_ua_text_len(i: i32, k: u32): u32 { return uaDialogTextLen(i, k); }
export function probe_ua_confirm(i: i32): void { uaDialogConfirm(i); }
export function probe_ua_end(i: i32): void { uaDialogEnd(i); }
export function probe_ua_in_use(): i32 { return uaDialogsInUse(); }
/** The dialog the request in the probe's view is in (our tag in To), or -1. */
export function probe_ua_of(): i32 { return uaDialogOf(probeDecoded()); }
/** The dialog the response in the probe's view is in (our tag in From), or -1. */
export function probe_ua_of_response(): i32 { return uaDialogOfResponse(probeDecoded()); }
/** Writes the request into the transmit buffer (probe_tx_ptr); returns its length. */
export function probe_ua_write(i: i32, mp: usize, ml: u32, cseq: u32, via: usize, viaLen: u32, contact: usize, contactLen: u32, cap: u32): u32 {
  w.begin(TX_BUF, cap < TX_CAP ? cap : TX_CAP);
  return uaWriteRequest(i, mp, ml, cseq, via, viaLen, contact, contactLen, w);
}
export function probe_ua_check_cseq(i: i32, seq: u32, ackOrCancel: u32): i32 { return uaDialogCheckCseq(i, seq, ackOrCancel != 0); }
export function probe_ua_invite_begin(i: i32, ours: u32): i32 { return uaDialogInviteBegin(i, ours != 0); }
export function probe_ua_invite_end(i: i32, ours: u32): void { uaDialogInviteEnd(i, ours != 0); }
export function probe_ua_glare_delay(i: i32, random: u32): u32 { return uaGlareDelay(i, random); }
export function probe_ua_refresh_target(i: i32): i32 { return uaDialogRefreshTarget(i, probeView()); }
export function probe_ua_flags(i: i32): u32 { return uaDialogFlags(i); }

const out = new OutRequest();
/** Sets span k of the out-of-dialog request (0 method, 1 Request-URI, 2 From URI, 3 From tag, 4 To URI,
 * 5 Call-ID, 6 Via, 7 Contact, 8 extra lines). */
export function probe_ua_out_span(k: i32, p: usize, len: u32): void {
  switch (k) {
    case 0: out.method = p; out.methodLen = len; break;
    case 1: out.ruri = p; out.ruriLen = len; break;
    case 2: out.fromUri = p; out.fromUriLen = len; break;
    case 3: out.fromTag = p; out.fromTagLen = len; break;
    case 4: out.toUri = p; out.toUriLen = len; break;
    case 5: out.callId = p; out.callIdLen = len; break;
    case 6: out.via = p; out.viaLen = len; break;
    case 7: out.contact = p; out.contactLen = len; break;
    case 8: out.extra = p; out.extraLen = len; break;
  }
}
export function probe_ua_out_write(cseq: u32, cap: u32): u32 {
  out.cseq = cseq;
  w.begin(TX_BUF, cap < TX_CAP ? cap : TX_CAP);
  return uaWriteOut(out, w);
}
