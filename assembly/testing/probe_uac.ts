// Test-only probes of the user agent's client core (dialog/uac.ts): send a request of ours through a
// client transaction the user agent owns, read what its responses gave the caller. Numbers only.

import { Peer } from "../net/peer";
import { OutRequest } from "../dialog/ua";
import { uacSend, uacSendInDialog, uacStatus, uacDialog, uacReset, uacForget, uacSlotsInUse } from "../dialog/uac";
import { Method } from "../wire/method";

const out = new OutRequest();

function span(spans: usize, k: u32): usize { return <usize>load<u32>(spans + <usize>k * 8); }
function spanLen(spans: usize, k: u32): u32 { return load<u32>(spans + <usize>k * 8, 4); }

/**
 * Send a request outside a dialog for caller `user` to the peer record at `peer` (transport id set).
 * `spans`: 8 (ptr u32, len u32) pairs: method, Request-URI, From URI, From tag, To URI, Call-ID,
 * Contact value (len 0: none), extra header lines (len 0: none). Returns the client transaction's
 * handle, 0 when it could not go.
 */
export function probe_uac_send(user: u32, peer: usize, spans: usize, cseq: u32, now: f64): u32 {
  out.method = span(spans, 0); out.methodLen = spanLen(spans, 0);
  out.ruri = span(spans, 1); out.ruriLen = spanLen(spans, 1);
  out.fromUri = span(spans, 2); out.fromUriLen = spanLen(spans, 2);
  out.fromTag = span(spans, 3); out.fromTagLen = spanLen(spans, 3);
  out.toUri = span(spans, 4); out.toUriLen = spanLen(spans, 4);
  out.callId = span(spans, 5); out.callIdLen = spanLen(spans, 5);
  out.contact = span(spans, 6); out.contactLen = spanLen(spans, 6);
  out.extra = span(spans, 7); out.extraLen = spanLen(spans, 7);
  out.cseq = cseq;
  return uacSend(out, changetype<Peer>(peer), <i64>now, user);
}

/** Send a BYE (method 3) or another non-INVITE request within dialog `dlg` to the peer record at `peer`. */
export function probe_uac_send_in_dialog(dlg: i32, method: u32, user: u32, peer: usize, now: f64): u32 {
  return uacSendInDialog(dlg, <Method>method, changetype<Peer>(peer), <i64>now, user);
}

export function probe_uac_status(user: u32): i32 { return uacStatus(user); }
export function probe_uac_dialog(user: u32): i32 { return uacDialog(user); }
export function probe_uac_forget(user: u32): void { uacForget(user); }
export function probe_uac_reset(): void { uacReset(); }
export function probe_uac_slots(): i32 { return uacSlotsInUse(); }
