// Scratch buffers of the proxy: one message under construction (WORK_BUF: a forwarded request or a
// generated response, copied into the message pool before the next is built), header lines for a
// response (EXTRA_BUF), a second view to re-read a stored request (for CANCEL, ACK and generated
// responses), and the target set of one request. Static: their cost is in the footprint.

import { MAX_MSG } from "../config";
import { TX_BUF } from "../host/buffers";
import { MessageView } from "../wire/view";
import { Decoded } from "../wire/validate";

export const WORK_BUF: usize = memory.data(MAX_MSG);
export const EXTRA_CAP: u32 = 2048;
export const EXTRA_BUF: usize = memory.data(2048);
/** A stored message is copied here to be parsed again. It is the transmit buffer: that one is only
 * written by sip_poll_transmit, never while an input or a timer is being processed. */
export const STORE_BUF: usize = TX_BUF;
export const storedView = new MessageView();
export const storedDecoded = new Decoded();
