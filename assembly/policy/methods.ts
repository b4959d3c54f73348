// Per-method policy: a set of request methods the proxy refuses (typically MESSAGE, SUBSCRIBE,
// PUBLISH on a voice-only service). Method tokens are case-sensitive (RFC 3261 §7.1), so `message`
// does not block MESSAGE. Any token may be listed, including extension methods the core does not
// know (Method.Unknown): those are compared byte for byte against the request line.
// Decision only: the proxy answers 405 Method Not Allowed (with an Allow header of its choosing).
//
// Memory (static data): known methods as one u32 bit set (bit = Method id); other tokens in
// METHOD_EXTRA (8) slots of METHOD_TOKEN (32) bytes + 8 length bytes = 264 bytes.

import { eqBytes, skipToken } from "../wire/scan";
import { Method, methodId } from "../wire/method";
import { MessageView } from "../wire/view";

/** Extension (unknown) method tokens held. */
export const METHOD_EXTRA: u32 = 8;
/** Longest extension token, bytes. */
export const METHOD_TOKEN: u32 = 32;

let known: u32 = 0;
const extra: usize = memory.data(<i32>(METHOD_EXTRA * METHOD_TOKEN));
const extraLens: usize = memory.data(<i32>METHOD_EXTRA);
let extraCount: u32 = 0;

/** Unblock every method. */
export function methodReset(): void {
  known = 0;
  extraCount = 0;
  memory.fill(extraLens, 0, METHOD_EXTRA);
}

/**
 * Block the method token [p, p+len). False when it is not a token, is longer than METHOD_TOKEN for an
 * extension method, or the extension slots are full. Blocking a blocked method again is a no-op.
 */
export function methodBlock(p: usize, len: u32): bool {
  if (len == 0 || skipToken(p, p + <usize>len) != p + <usize>len) return false;
  const m = methodId(p, len);
  if (m != Method.Unknown) {
    known |= <u32>1 << <u32>m;
    return true;
  }
  if (len > METHOD_TOKEN) return false;
  if (findExtra(p, len)) return true;
  if (extraCount >= METHOD_EXTRA) return false;
  memory.copy(extra + <usize>(extraCount * METHOD_TOKEN), p, len);
  store<u8>(extraLens + <usize>extraCount, <u8>len);
  extraCount++;
  return true;
}

function findExtra(p: usize, len: u32): bool {
  for (let i: u32 = 0; i < extraCount; i++) {
    // i < extraCount <= METHOD_EXTRA: inside the slots
    if (eqBytes(extra + <usize>(i * METHOD_TOKEN), <u32>load<u8>(extraLens + <usize>i), p, len)) return true;
  }
  return false;
}

/**
 * True when the request in `v` has a blocked method. Assumes a parsed view (the method token is
 * [base, base + methodLen), checked by the parser). Responses are never blocked.
 */
export function isMethodBlocked(v: MessageView): bool {
  if (!v.isRequest || v.methodLen == 0) return false;
  if (v.method != Method.Unknown) return (known & (<u32>1 << <u32>v.method)) != 0;
  return extraCount != 0 && findExtra(v.base, v.methodLen);
}
