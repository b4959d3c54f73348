// SIP methods the core distinguishes (RFC 3261 §7.1 plus the extensions a proxy meets every day).
// Any other token is Method.Unknown: a proxy forwards unknown methods like any non-INVITE request.
// Numbers are stable (they appear in events and logs).

import { METHOD_NAMES, METHOD_COUNT } from "./tables";
import { sameBytes } from "../util/bytes";

export const enum Method {
  Unknown = 0, INVITE = 1, ACK = 2, BYE = 3, CANCEL = 4, REGISTER = 5, OPTIONS = 6, PRACK = 7,
  SUBSCRIBE = 8, NOTIFY = 9, PUBLISH = 10, INFO = 11, REFER = 12, MESSAGE = 13, UPDATE = 14,
}

/** Method of the token at [p, p+len). Methods are case-sensitive (RFC 3261 §7.1). */
export function methodId(p: usize, len: u32): Method {
  let e = METHOD_NAMES + 1; // entry 0 (Unknown) is the empty name
  for (let id: u32 = 1; id < METHOD_COUNT; id++) {
    const n = <u32>load<u8>(e);
    if (n == len && sameBytes(p, e + 1, n)) return <Method>id;
    e += 1 + <usize>n;
  }
  return Method.Unknown;
}

/** The table entry of method m (wire/tables.ts METHOD_NAMES): its length byte, the token after it. */
export function methodEntry(m: Method): usize {
  let e = METHOD_NAMES;
  for (let id: u32 = 0; id < <u32>m; id++) e += 1 + <usize>load<u8>(e);
  return e;
}
