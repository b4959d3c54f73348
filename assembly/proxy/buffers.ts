// Scratch buffers of the proxy: the core's message slots (wire/buffers.ts: the message being written,
// WORK_BUF, and a stored request re-read through storedView, for CANCEL, ACK and generated responses),
// and its own header lines for a response (EXTRA_BUF). Static: their cost is in the footprint.

export { WORK_BUF, STORE_BUF, storedView, storedDecoded } from "../wire/buffers";

export const EXTRA_CAP: u32 = 2048;
export const EXTRA_BUF: usize = memory.data(2048);
