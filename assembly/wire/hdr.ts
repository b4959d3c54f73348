// Header names the core knows, compact forms normalised (RFC 3261 §7.3.3 and the registry of
// compact forms: i m e l c f s k t v o u r b x y a j d). Any other name is Hdr.Other and is carried
// through untouched. Numbers are stable (tests and probes key on them); new names take new numbers.

import { Ch, lower } from "../util/chars";
import { HDR_NAMES, HDR_COUNT } from "./tables";
import { eqBytesI } from "./scan";

export const enum Hdr {
  Other = 0, Via = 1, From = 2, To = 3, CallId = 4, CSeq = 5, MaxForwards = 6, Contact = 7,
  ContentLength = 8, ContentType = 9, Route = 10, RecordRoute = 11, Path = 12, Expires = 13,
  MinExpires = 14, Require = 15, ProxyRequire = 16, Supported = 17, Unsupported = 18, Subject = 19,
  ContentEncoding = 20, Event = 21, AllowEvents = 22, ReferTo = 23, ReferredBy = 24,
  SessionExpires = 25, Identity = 26, AcceptContact = 27, RejectContact = 28, RequestDisposition = 29,
  Authorization = 30, ProxyAuthorization = 31, WwwAuthenticate = 32, ProxyAuthenticate = 33,
  Allow = 34, Accept = 35, RetryAfter = 36, Timestamp = 37, Privacy = 38, PAssertedIdentity = 39,
  /** Number of ids: size of per-id tables. */
  Count = 40,
}

// Flags per id: LIST = a comma-separated list the core acts on element by element, split into one
// index entry per element (RFC 3261 §7.3.1); SINGLE = at most one value in a message (RFC 3261 §20,
// table 2; a second one is a 400). List headers the core never reads (Allow, Accept, ...) are kept as
// one entry per line: splitting them would cost time for nothing, and they pass through unchanged.
export const enum HdrFlag { LIST = 1, SINGLE = 2 }

const FLAGS: usize = memory.data<u8>([
  0,          // Other
  1,          // Via
  2, 2, 2, 2, // From To Call-ID CSeq
  2,          // Max-Forwards
  1,          // Contact
  0,          // Content-Length (duplicates compared by value, RFC 4475 mcl01)
  2,          // Content-Type
  1, 1, 1,    // Route Record-Route Path
  2, 2,       // Expires Min-Expires
  1, 1, 1, 0, // Require Proxy-Require Supported; Unsupported (not read)
  0,          // Subject
  0,          // Content-Encoding (not read)
  0,          // Event
  0,          // Allow-Events (not read)
  0, 0, 0, 0, // Refer-To Referred-By Session-Expires Identity
  0, 0, 0,    // Accept-Contact Reject-Contact Request-Disposition (not read)
  0, 0, 0, 0, // Authorization Proxy-Authorization WWW-Authenticate Proxy-Authenticate (commas inside)
  0, 0,       // Allow Accept (not read)
  0, 0,       // Retry-After Timestamp
  0,          // Privacy (priv-value *(";" priv-value): no commas)
  1,          // P-Asserted-Identity (RFC 3325: 1#PAssertedID-value)
]);

export function hdrFlags(h: Hdr): u32 {
  return <u32>load<u8>(FLAGS + <usize>h);
}

// Compact forms, indexed by letter - 'a'; 0 = not a compact form.
const COMPACT: usize = memory.data<u8>([
  27, 24, 9, 29,      // a Accept-Contact, b Referred-By, c Content-Type, d Request-Disposition
  20, 2, 0, 0, 4, 28, // e Content-Encoding, f From, g -, h -, i Call-ID, j Reject-Contact
  17, 8, 7, 0, 21,    // k Supported, l Content-Length, m Contact, n -, o Event
  0, 0, 23, 19, 3,    // p -, q -, r Refer-To, s Subject, t To
  22, 1, 0, 25, 26, 0, // u Allow-Events, v Via, w -, x Session-Expires, y Identity, z -
]);

/** Id of the header name at [p, p+len) (case-insensitive, RFC 3261 §7.3.1). */
export function hdrId(p: usize, len: u32): Hdr {
  if (len == 1) {
    const i = lower(<u32>load<u8>(p)) - Ch.a;
    return i < 26 ? <Hdr>load<u8>(COMPACT + <usize>i) : Hdr.Other;
  }
  // one pass over the packed names (tables.ts): a length byte, then the name; most entries are
  // skipped on their length or their first byte
  const c0 = lower(<u32>load<u8>(p));
  let e = HDR_NAMES + 1; // entry 0 (Other) is the empty name
  for (let id: u32 = 1; id < HDR_COUNT; id++) {
    const n = <u32>load<u8>(e);
    // the names are lower case: eqBytesI compares them as they are
    if (n == len && <u32>load<u8>(e + 1) == c0 && eqBytesI(p, len, e + 1, n)) return <Hdr>id;
    e += 1 + <usize>n;
  }
  return Hdr.Other;
}
