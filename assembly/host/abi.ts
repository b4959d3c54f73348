// THE boundary between the core and every host (Node, WASI, C via wasm2c, bare-metal firmware).
// Numbers only: the host copies bytes into the RX buffer and reads bytes from the TX buffer; nothing
// else crosses. See docs/EMBEDDING.md (issue 4) for the call order.
//
// Result codes are i32: >= 0 success, < 0 a negated WireError (assembly/wire/errors.ts).

import { RX_BUF, RX_CAP, TX_BUF, TX_CAP } from "./buffers";
import { MessageView, parseMessage } from "../wire/view";
import { Decoded, validateMessage } from "../wire/validate";
import { WireError, errorStatus } from "../wire/errors";

const rxView = new MessageView();
const rxDecoded = new Decoded();

/** Address of the receive buffer: the host writes one datagram here. */
export function sip_rx_ptr(): usize { return RX_BUF; }
/** Capacity of the receive buffer, bytes (the board's largest message). */
export function sip_rx_cap(): u32 { return RX_CAP; }
/** Address of the transmit buffer: the host sends `len` bytes from here after a poll. */
export function sip_tx_ptr(): usize { return TX_BUF; }
/** Capacity of the transmit buffer, bytes. */
export function sip_tx_cap(): u32 { return TX_CAP; }

/**
 * Parse and validate the `len` bytes at the RX buffer as one message (datagram framing when
 * `stream` is 0, stream framing otherwise). Returns the bytes the message occupies (> 0), 0 when a
 * stream needs more bytes, or a negated WireError. Parse-only entry point of the wire layer; the
 * server's `sip_handle_datagram` (next layer) builds on it.
 */
export function sip_parse(len: u32, stream: u32): i32 {
  if (len > RX_CAP) return -WireError.TooLarge;
  store<u8>(RX_BUF + len, 0);
  const r = parseMessage(rxView, RX_BUF, len, stream != 0);
  if (r <= 0) return r;
  const e = validateMessage(rxView, rxDecoded);
  return e == 0 ? r : -e;
}

/** Response status implied by a negated result of `sip_parse` (0 = drop silently). */
export function sip_error_status(err: i32): i32 {
  return errorStatus(err < 0 ? -err : err);
}
