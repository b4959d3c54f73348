// The message slots of the core, fixed at build time (no allocation ever). A transaction user can hold
// all of them at once: the received message (RX_BUF, read through the host's view), a stored message
// re-read (STORE_BUF through storedView: a kept request, to write its CANCEL or ACK, or a B2BUA's
// other leg), and the message being written (WORK_BUF), copied into the message pool before the next.
//
//   RX_BUF [MAX_MSG + 1]  the host copies one datagram (or stream bytes) here; the extra byte is a
//                         guard so a scanner that peeks one past the end reads zero, not a neighbour.
//   TX_BUF [MAX_MSG]      the host reads each outgoing message from here (sip_poll_transmit). It is
//                         also STORE_BUF: the transmit buffer is only written by sip_poll_transmit,
//                         never while an input or a timer is being processed.
//   WORK_BUF [MAX_MSG]    the message being written. Between inputs, also the event record the host
//                         reads after sip_poll_event (events.ts EVENT_OUT, its first 512 bytes).
//
// The proxy's and registrar's extra header lines of a response they write for the request being
// received (proxy/buffers.ts EXTRA_BUF) are the first 2 KB of STORE_BUF: no stored message is re-read
// while they are written.
//
// All are static data (`memory.data`), so their cost shows in the footprint as 3 × MAX_MSG + 1.

import { MAX_MSG } from "../config";
import { MessageView } from "./view";
import { Decoded } from "./validate";

export const RX_BUF: usize = memory.data(MAX_MSG + 1);
export const RX_CAP: u32 = <u32>MAX_MSG;
export const TX_BUF: usize = memory.data(MAX_MSG);
export const TX_CAP: u32 = <u32>MAX_MSG;
export const WORK_BUF: usize = memory.data(MAX_MSG);
export const WORK_CAP: u32 = <u32>MAX_MSG;
export const STORE_BUF: usize = TX_BUF;
export const storedView = new MessageView();
export const storedDecoded = new Decoded();
