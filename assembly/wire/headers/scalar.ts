// Decoders of the small single-valued headers (RFC 3261 §20 / §25.1): CSeq, Call-ID, Max-Forwards,
// Expires / Min-Expires, Content-Length, Content-Type, and one option-tag (Require, Proxy-Require,
// Supported, Unsupported: the message view splits those lists on commas).
//
// Input contract: [p, end) is one header value (or one list element), trimmed of surrounding LWS by
// the message view; inner LWS may hold folded CRLFs. Reads stay in [p, end), nothing allocates,
// nothing traps. Number results use -1 for "invalid" so that callers map them to their WireError.

import { Ch, Cls, is } from "../../util/chars";
import { skipClass, skipLws, skipSlash, skipToken, tokenAt, trimLwsEnd, parseUint } from "../scan";
import { Method, methodId } from "../method";
import { ParamOwner, walkParams } from "./params";

/** Largest delta-seconds value; larger values clamp to it (RFC 3261 §20.19: 2^32-1). */
export const DELTA_SECONDS_MAX: i64 = 4294967295;
/** Largest Content-Length accepted (i32 range: a body can never be larger than a buffer anyway). */
export const CONTENT_LENGTH_MAX: u64 = 0x7fffffff;

/** CSeq = 1*DIGIT LWS Method. */
export class CSeqRepr {
  seq: u32 = 0;
  method: usize = 0;
  methodLen: u32 = 0;
  methodId: Method = Method.Unknown;

  /** Every field back to zero (Method.Unknown, no span), one fill. */
  reset(): void {
    memory.fill(changetype<usize>(this), 0, offsetof<CSeqRepr>());
  }
}

/** Content-Type = m-type SLASH m-subtype *( SEMI m-parameter ). */
export class ContentTypeRepr {
  type: usize = 0;
  typeLen: u32 = 0;
  subtype: usize = 0;
  subtypeLen: u32 = 0;
  /** Parameter list after the first `;`, 0/0 when none. */
  params: usize = 0;
  paramsLen: u32 = 0;

  /** Every field back to zero (no span), one fill. */
  reset(): void {
    memory.fill(changetype<usize>(this), 0, offsetof<ContentTypeRepr>());
  }
}

/**
 * CSeq: `1*DIGIT LWS Method`. The number must fit in 32 bits (RFC 3261 §8.1.1.5; RFC 4475 scalar02
 * has 36893488147419103232 and is rejected). Leading zeros are allowed (RFC 4475 wsinv `0009`).
 */
export function decodeCSeq(p: usize, end: usize, out: CSeqRepr): bool {
  out.reset();
  end = trimLwsEnd(p, end);
  const d = skipClass(p, end, Cls.DIGIT);
  const v = parseUint(p, d, 0xffffffff);
  if (v < 0) return false;
  const m = skipLws(d, end);
  if (m == d) return false; // LWS is mandatory between number and method
  const e = skipToken(m, end);
  if (e == m || e != end) return false;
  out.seq = <u32>v;
  out.method = m;
  out.methodLen = <u32>(e - m);
  out.methodId = methodId(m, out.methodLen);
  return true;
}

/** Call-ID = word [ "@" word ] (RFC 3261 §25.1; RFC 4475 intmeth exercises every word byte). */
export function isCallId(p: usize, end: usize): bool {
  let q = p;
  q = skipClass(q, end, Cls.WORD);
  if (q == p) return false;
  if (q == end) return true;
  if (load<u8>(q) != Ch.AT) return false; // q < end (q == end returned)
  const w = ++q;
  q = skipClass(q, end, Cls.WORD);
  return q != w && q == end;
}

/** Max-Forwards = 1*DIGIT, 0-255 (leading zeros allowed: wsinv `0068` is 68). -1 when invalid. */
export function decodeMaxForwards(p: usize, end: usize): i32 {
  return <i32>parseUint(p, end, 255);
}

/**
 * delta-seconds = 1*DIGIT (Expires, Min-Expires, the Contact `expires` parameter). A value above
 * 2^32-1 clamps to 2^32-1 (RFC 3261 §20.19; RFC 4475 scalar02). -1 when not 1*DIGIT.
 */
export function decodeDeltaSeconds(p: usize, end: usize): i64 {
  if (p >= end || skipClass(p, end, Cls.DIGIT) != end) return -1;
  // all digits: parseUint fails only past the maximum, which then clamps
  const v = parseUint(p, end, <u64>DELTA_SECONDS_MAX);
  return v < 0 ? DELTA_SECONDS_MAX : v;
}

/**
 * Content-Length = 1*DIGIT (RFC 3261 §20.14). -1 when not digits (`-999`, RFC 4475 ncl) or larger
 * than 2^31-1.
 */
export function decodeContentLength(p: usize, end: usize): i64 {
  return parseUint(p, end, CONTENT_LENGTH_MAX);
}

/**
 * Content-Type (RFC 3261 §20.15): `type SWS "/" SWS subtype *(SEMI m-parameter)`, m-parameter =
 * token EQUAL (token / quoted-string), LWS allowed around `;` and `=`. Unknown parameters are kept
 * in the `params` span.
 */
export function decodeContentType(p: usize, end: usize, out: ContentTypeRepr): bool {
  out.reset();
  const o = changetype<usize>(out);
  let q = tokenAt(p, end, o + offsetof<ContentTypeRepr>("type"));
  if (q == 0) return false;
  p = skipSlash(q, end);
  if (p == 0) return false;
  q = tokenAt(p, end, o + offsetof<ContentTypeRepr>("subtype"));
  if (q == 0) return false;
  return walkParams(q, end, ParamOwner.ContentType, changetype<usize>(out), changetype<usize>(out) + offsetof<ContentTypeRepr>("params"));
}

/** option-tag = token (one element of Require / Proxy-Require / Supported / Unsupported). */
export function decodeOptionTag(p: usize, end: usize): bool {
  return p < end && skipToken(p, end) == end;
}
