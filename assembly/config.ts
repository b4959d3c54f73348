// Every capacity of the core, in one place. Each is a build-time constant: a board
// (boards/<name>/board.json) overrides it with `--use SIP_<NAME>=<value>` (tools/build.mjs), and the
// default below is the `micro` board's value, so a bare `asc assembly/index.ts` builds the small core.
//
// For each: unit, where the number comes from, and what it costs in memory.

/** Largest SIP message accepted, bytes. RFC 3261 §18.1.1 sizes UDP paths at 1300 bytes but real
 * INVITEs with SDP and several Vias reach 3–4 KB; 65,507 is the largest UDP payload (RFC 768 + IPv4).
 * Cost: one receive buffer and one transmit buffer of this size (2 × MAX_MSG). */
// @ts-ignore: board constant injected with --use
export const MAX_MSG: i32 = isDefined(SIP_MAX_MSG) ? SIP_MAX_MSG : 4096;

/** Header-index capacity: header values indexed per message (a comma-separated header line counts
 * once per value). picohttpparser's caller-chosen `num_headers` plays the same role. RFC 4475 longreq
 * needs 20; PROTOS cases reach ~30. A message with more is refused with 513.
 * Cost: MAX_HEADERS × 20 bytes per message view. */
// @ts-ignore: board constant injected with --use
export const MAX_HEADERS: i32 = isDefined(SIP_MAX_HEADERS) ? SIP_MAX_HEADERS : 64;

/** Largest URI or header parameter list walked by a decoder, parameters. A Via or Contact with more
 * parameters is malformed for us (400). Cost: none (decoders walk, they do not store). */
// @ts-ignore: board constant injected with --use
export const MAX_PARAMS: i32 = isDefined(SIP_MAX_PARAMS) ? SIP_MAX_PARAMS : 32;
