// The two message buffers of the core, fixed at build time (no allocation ever).
//
//   RX_BUF [MAX_MSG + 1]  the host copies one datagram (or stream bytes) here; the extra byte is a
//                         guard so a scanner that peeks one past the end reads zero, not a neighbour.
//   TX_BUF [MAX_MSG]      the writers build one outgoing message here; the host sends it from here.
//
// Both are static data (`memory.data`), so their cost shows in the footprint as 2 × MAX_MSG + 1.

import { MAX_MSG } from "../config";

export const RX_BUF: usize = memory.data(MAX_MSG + 1);
export const RX_CAP: u32 = <u32>MAX_MSG;
export const TX_BUF: usize = memory.data(MAX_MSG);
export const TX_CAP: u32 = <u32>MAX_MSG;
