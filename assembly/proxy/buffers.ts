// Scratch buffers of the proxy: the core's message slots (wire/buffers.ts: the message being written,
// WORK_BUF, and a stored request re-read through storedView, for CANCEL, ACK and generated responses),
// and its own header lines for a response (EXTRA_BUF).
//
// EXTRA_BUF is the first EXTRA_CAP bytes of the stored-message slot: the responses that carry such lines
// (a REGISTER's Contacts and Path, a digest challenge, a 420's Unsupported, a 503's Retry-After at the
// door) are written for the request being received, while no stored message is re-read; a response
// context that re-reads its stored request adds only Retry-After, from its own RETRY_BUF (send.ts).

import { STORE_BUF, WORK_BUF } from "../wire/buffers";
import { msgPool } from "../txn/table";
export { WORK_BUF, STORE_BUF, storedView, storedDecoded } from "../wire/buffers";

export const EXTRA_CAP: u32 = 2048;
export const EXTRA_BUF: usize = STORE_BUF;

/** The message written in WORK_BUF (n bytes, 0 when it could not be written) kept in the pool: its
 * handle, or 0 (not written, or no room). */
export function storeWork(n: u32): u32 {
  return n != 0 ? msgPool.store(WORK_BUF, n) : 0;
}
