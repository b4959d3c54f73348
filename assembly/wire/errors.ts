// The stable, numbered table of wire errors (llhttp's error enum, h11's error_status_hint).
//
// A number, once given, is never reused or renumbered: hosts, logs and tests key on it. New errors
// take the next free number. Each error carries the response status it implies for a request; a
// response that fails to parse is never answered and is dropped (status 0 below means "drop").

export const enum WireError {
  None = 0,
  /** Datagram empty or only CRLFs (RFC 3261 §7.5: ignore). */
  Empty = 1,
  /** Start line is neither a Request-Line nor a Status-Line. */
  StartLine = 2,
  /** Method is not a token. */
  Method = 3,
  /** Request-URI does not parse (RFC 4475 ltgtruri, lwsruri; RFC 5118 ipv6-bad). */
  RequestUri = 4,
  /** SIP-Version is not "SIP/" 1*DIGIT "." 1*DIGIT. */
  Version = 5,
  /** SIP-Version is well formed but not 2.0 (RFC 4475 badvers): 505. */
  VersionUnsupported = 6,
  /** Status-Code is not three digits in 100–699 (RFC 4475 bigcode): the response is dropped. */
  StatusCode = 7,
  /** A header line has no colon or its name is not a token. */
  HeaderLine = 8,
  /** More header values than the board's header index holds: 513. */
  TooManyHeaders = 9,
  /** Message larger than the board's buffers: 513. */
  TooLarge = 10,
  /** No empty line ends the headers of a datagram. */
  HeadersUnterminated = 11,
  /** Content-Length is not 1*DIGIT (RFC 4475 ncl). */
  ContentLength = 12,
  /** Several Content-Length values that disagree (RFC 4475 mcl01). */
  ContentLengthConflict = 13,
  /** Content-Length larger than the datagram (RFC 4475 clerr). */
  ContentLengthTooBig = 14,
  /** A stream message without Content-Length (RFC 3261 §20.14: MUST be present on streams). */
  ContentLengthMissing = 15,
  /** A request without Via, From, To, Call-ID or CSeq (RFC 4475 insuf; RFC 3261 §8.1.1). */
  MissingHeader = 16,
  /** A single-valued header appears more than once (RFC 4475 multi01). */
  DuplicateHeader = 17,
  /** CSeq is not `1*DIGIT LWS Method` or its number exceeds 2^32-1 (RFC 4475 scalar02). */
  CSeq = 18,
  /** CSeq method differs from the Request-Line method (RFC 4475 mismatch01). */
  CSeqMethodMismatch = 19,
  /** Same, and the Request-Line method is one we do not know (RFC 4475 mismatch02): 501. */
  CSeqMethodMismatchUnknown = 20,
  /** Max-Forwards is not 1*DIGIT or exceeds 255 (RFC 4475 scalar02). */
  MaxForwards = 21,
  /** A Via value does not parse (RFC 4475 badinv01). */
  Via = 22,
  /** From does not parse (RFC 4475 baddn, quotbal). */
  From = 23,
  /** To does not parse (RFC 4475 badaspec, quotbal). */
  To = 24,
  /** Call-ID is not `word ["@" word]`. */
  CallId = 25,
  /** A Contact value does not parse (RFC 4475 badinv01, regbadct). */
  Contact = 26,
  /** A Route, Record-Route or Path value does not parse. */
  Route = 27,
  /** Expires or Min-Expires is not 1*DIGIT. */
  Expires = 28,
  /** Request-URI scheme is neither sip, sips nor tel (RFC 4475 unkscm, novelsc): 416. */
  UriScheme = 29,
  /** Request-URI carries escaped headers (RFC 4475 escruri): refused rather than forwarded. */
  RequestUriHeaders = 30,
  /** Content-Type is not `type "/" subtype *(;param)`. */
  ContentType = 31,
  /** Stream framing: the message is not complete yet (never a verdict on a datagram). */
  NeedMore = 32,
  /** A header value holds a bare CR, a bare LF or a NUL outside a quoted string. */
  ControlChar = 33,
  /** A response has no Via, or its CSeq/Call-ID/From/To is missing: dropped. */
  ResponseHeaders = 34,
  /** Require, Proxy-Require or Supported is not a list of tokens. */
  OptionTags = 35,
  /** First free number: keep last, and keep the table below in step. */
  Count = 36,
}

// Status implied by each error, indexed by WireError, as u16. 0 = drop (never answered).
const STATUS: usize = memory.data<u16>([
  0,   // None
  0,   // Empty
  400, // StartLine
  400, // Method
  400, // RequestUri
  400, // Version
  505, // VersionUnsupported
  0,   // StatusCode (responses only)
  400, // HeaderLine
  513, // TooManyHeaders
  513, // TooLarge
  400, // HeadersUnterminated
  400, // ContentLength
  400, // ContentLengthConflict
  400, // ContentLengthTooBig
  400, // ContentLengthMissing
  400, // MissingHeader
  400, // DuplicateHeader
  400, // CSeq
  400, // CSeqMethodMismatch
  501, // CSeqMethodMismatchUnknown
  400, // MaxForwards
  400, // Via
  400, // From
  400, // To
  400, // CallId
  400, // Contact
  400, // Route
  400, // Expires
  416, // UriScheme
  400, // RequestUriHeaders
  400, // ContentType
  0,   // NeedMore
  400, // ControlChar
  0,   // ResponseHeaders
  400, // OptionTags
]);

/** Response status a request that failed with `e` should get; 0 = drop it silently. */
export function errorStatus(e: i32): i32 {
  if (<u32>e >= <u32>WireError.Count) return 400;
  return <i32>load<u16>(STATUS + (<usize>e << 1));
}
