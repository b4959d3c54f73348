// SIP methods the core distinguishes (RFC 3261 §7.1 plus the extensions a proxy meets every day).
// Any other token is Method.Unknown: a proxy forwards unknown methods like any non-INVITE request.
// Numbers are stable (they appear in events and logs).

import { eqLitExact } from "./scan";

export const enum Method {
  Unknown = 0, INVITE = 1, ACK = 2, BYE = 3, CANCEL = 4, REGISTER = 5, OPTIONS = 6, PRACK = 7,
  SUBSCRIBE = 8, NOTIFY = 9, PUBLISH = 10, INFO = 11, REFER = 12, MESSAGE = 13, UPDATE = 14,
}

/** Method of the token at [p, p+len). Methods are case-sensitive (RFC 3261 §7.1). */
export function methodId(p: usize, len: u32): Method {
  switch (len) {
    case 3:
      if (eqLitExact(p, len, "ACK")) return Method.ACK;
      if (eqLitExact(p, len, "BYE")) return Method.BYE;
      break;
    case 4:
      if (eqLitExact(p, len, "INFO")) return Method.INFO;
      break;
    case 5:
      if (eqLitExact(p, len, "PRACK")) return Method.PRACK;
      if (eqLitExact(p, len, "REFER")) return Method.REFER;
      break;
    case 6:
      if (eqLitExact(p, len, "INVITE")) return Method.INVITE;
      if (eqLitExact(p, len, "CANCEL")) return Method.CANCEL;
      if (eqLitExact(p, len, "NOTIFY")) return Method.NOTIFY;
      if (eqLitExact(p, len, "UPDATE")) return Method.UPDATE;
      break;
    case 7:
      if (eqLitExact(p, len, "OPTIONS")) return Method.OPTIONS;
      if (eqLitExact(p, len, "PUBLISH")) return Method.PUBLISH;
      if (eqLitExact(p, len, "MESSAGE")) return Method.MESSAGE;
      break;
    case 8:
      if (eqLitExact(p, len, "REGISTER")) return Method.REGISTER;
      break;
    case 9:
      if (eqLitExact(p, len, "SUBSCRIBE")) return Method.SUBSCRIBE;
      break;
  }
  return Method.Unknown;
}
