// Every capacity of the core, in one place. Each is a build-time constant: a board
// (boards/<name>/board.json) overrides it with `--use SIP_<NAME>=<value>` (tools/build.mjs), and the
// default below is the `micro` board's value, so a bare `asc assembly/index.ts` builds the small core.
// On the boards with sparse tables (server, b2bua) five of them are the host's, laid out at start within
// the board's (the layout record below).
//
// For each: unit, where the number comes from, and what it costs in memory.

import { Layout } from "./host/numbers";

/** Table resets that write only the pages holding something (util/zero.ts zeroTable), so that tables
 * never used are never made resident: the boards whose tables are megabytes (server, b2bua: an idle
 * server then holds a few MB instead of ~90). The small boards write their tables whole (less code; a
 * microcontroller's RAM is its own whether written or not). */
// @ts-ignore: board constant injected with --use
export const SPARSE_TABLES: bool = isDefined(SIP_SPARSE_TABLES) ? SIP_SPARSE_TABLES != 0 : false;

/**
 * The user agent core (dialog/uac.ts: requests of our own through client transactions the user agent
 * owns, ACKs, dialogs from responses) for the B2BUA family member's legs and the registrant; the proxy
 * boards leave it out (0), so their code is what it was. The probe builds (tests) turn it on.
 */
export const USER_AGENT: bool = isDefined(SIP_USER_AGENT) ? SIP_USER_AGENT != 0 : false;

/** The media relay (media/: SDP rewritten in the core, RTP forwarded by the host, docs/ABI.md "Media
 * relay") on the boards that carry it: b2bua and server. Off elsewhere: no code, no tables. */
// @ts-ignore: board constant injected with --use
export const MEDIA_RELAY: bool = isDefined(SIP_MEDIA_RELAY) ? SIP_MEDIA_RELAY != 0 : false;

// ---- capacities laid out at start (docs/ABI.md "Layout") ------------------------------------------
// On the boards with sparse tables (server, b2bua) the capacities a configuration sets are the tables'
// sizes: the host writes them in the layout record between instantiation and `_initialize`, whose table
// allocations then take exactly that much memory, grown from the static data (asconfig.json initialMemory)
// up to the board's (maximumMemory). A capacity left 0, or above the board's, is the board's; after
// `_initialize` the record holds the capacities laid out. The other boards' capacities are constants.

/** The layout record (Layout.Count u32 words, host/shared/abi.json enums.Layout; sip_layout_ptr). */
export const LAYOUT: usize = SPARSE_TABLES ? memory.data(<i32>Layout.Count * 4) : 0;

/** Word i of the layout record. */
function layoutWord(i: Layout): usize {
  return LAYOUT + (<usize>i << 2);
}

/** Capacity i laid out: what the host asked, within 1..board (0 or above: the board's). */
function laidOut(i: Layout, board: i32): i32 {
  const v = <i32>load<u32>(layoutWord(i));
  return v <= 0 || v > board ? board : v;
}

/** A table sized in the board's proportion `board` : `boardOf` to a capacity laid out as n (at least 1). */
function scaled(board: i32, n: i32, boardOf: i32): i32 {
  return max(1, <i32>((<i64>board * <i64>n + <i64>boardOf - 1) / <i64>boardOf));
}

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

/** Transactions (RFC 3261 §17) held at once: server and client records share one table. A proxied
 * call holds one server and one client record per branch for as long as RFC 6026 Timers L/M
 * (64·T1 = 32 s) keep them; a BYE holds two for Timer J (32 s on UDP). The micro board's 16 carry 8
 * proxied transactions at once. When full, new requests get a stateless 503 with Retry-After.
 * Cost: MAX_TXN × TXN_SIZE (txn/table.ts) + MAX_TXN × 16 (timer heap). */
// @ts-ignore: board constant injected with --use
export const BOARD_TXN: i32 = isDefined(SIP_MAX_TXN) ? SIP_MAX_TXN : 16;
export const MAX_TXN: i32 = SPARSE_TABLES ? laidOut(Layout.Transactions, BOARD_TXN) : BOARD_TXN;

/** Message-pool blocks (MSG_BLOCK bytes each) holding the messages transactions keep for
 * retransmission: a client transaction's request until its final response, a server transaction's
 * last response. Cost: MSG_BLOCKS × (MSG_BLOCK + 10), + 6 where the pools' bookkeeping is 16-bit
 * (util/pool.ts: messages of at most 64 KB, fewer than 65,535 blocks in every pool). */
// @ts-ignore: board constant injected with --use
export const BOARD_MSG_BLOCKS: i32 = isDefined(SIP_MSG_BLOCKS) ? SIP_MSG_BLOCKS : 48;
export const MSG_BLOCKS: i32 = SPARSE_TABLES ? laidOut(Layout.MessageBlocks, BOARD_MSG_BLOCKS) : BOARD_MSG_BLOCKS;
// @ts-ignore: board constant injected with --use
export const MSG_BLOCK: i32 = isDefined(SIP_MSG_BLOCK) ? SIP_MSG_BLOCK : 512;

/** Registrar address-of-record capacity (RFC 3261 §10.3): server ≥ 100,000, micro ≥ 32.
 * Cost: see registrar/ (hash slots + AOR records). */
// @ts-ignore: board constant injected with --use
const BOARD_AORS: i32 = isDefined(SIP_MAX_AORS) ? SIP_MAX_AORS : 32;

/** Registrar bindings (contacts) across all AORs. */
// @ts-ignore: board constant injected with --use
export const BOARD_BINDINGS: i32 = isDefined(SIP_MAX_BINDINGS) ? SIP_MAX_BINDINGS : 48;
export const MAX_BINDINGS: i32 = SPARSE_TABLES ? laidOut(Layout.Registrations, BOARD_BINDINGS) : BOARD_BINDINGS;
/** As many AORs as registrations at most. */
export const MAX_AORS: i32 = SPARSE_TABLES ? min(BOARD_AORS, MAX_BINDINGS) : BOARD_AORS;

/** Registrar string pool: blocks of REG_BLOCK bytes for AOR keys, contact URIs and Path sets; laid out
 * in the board's proportion to its registrations. */
// @ts-ignore: board constant injected with --use
export const BOARD_REG_BLOCKS: i32 = isDefined(SIP_REG_BLOCKS) ? SIP_REG_BLOCKS : 160;
export const REG_BLOCKS: i32 = SPARSE_TABLES ? scaled(BOARD_REG_BLOCKS, MAX_BINDINGS, BOARD_BINDINGS) : BOARD_REG_BLOCKS;
export const REG_BLOCK: i32 = 64;

/** Default limit of contacts per AOR (config key 8 overrides at run time, up to MAX_FORK). */
// @ts-ignore: board constant injected with --use
export const MAX_CONTACTS_PER_AOR: i32 = isDefined(SIP_MAX_CONTACTS) ? SIP_MAX_CONTACTS : 4;

/** Branches one proxied request may fork to (RFC 3261 §16.6), and the registrar's lookup result size
 * (so also the largest contacts-per-AOR limit). Cost: MAX_FORK × 56 for the target set (its strings
 * stay in the registrar's pool); the targets of later q-groups are kept in the message pool. Two
 * one-target scratch buffers (MAX_TARGET_URI + MAX_TARGET_PATH each, registrar and proxy) are fixed. */
// @ts-ignore: board constant injected with --use
export const MAX_FORK: i32 = isDefined(SIP_MAX_FORK) ? SIP_MAX_FORK : 4;
export const MAX_TARGET_URI: i32 = 256;
export const MAX_TARGET_PATH: i32 = 512;

/** Host names kept for destinations the host resolves (net/addr.ts): the outbound proxy, Route and
 * Record-Route hosts, registered contacts that name a host. A new name replaces the least recently used
 * one; a message whose name was replaced is not sent (its transaction retransmits or times out), never
 * sent to another name. NAME_CAP bytes each (a longer name is refused when routed: 503); DNS allows
 * 253. Cost: MAX_NAMES × (NAME_CAP + 9). */
// @ts-ignore: board constant injected with --use
export const MAX_NAMES: i32 = isDefined(SIP_MAX_NAMES) ? SIP_MAX_NAMES : 16;
// @ts-ignore: board constant injected with --use
export const NAME_CAP: i32 = isDefined(SIP_NAME_CAP) ? SIP_NAME_CAP : 64;

/** Events queued for the host between two drains (events.ts). Cost: MAX_EVENTS × 512. */
// @ts-ignore: board constant injected with --use
export const MAX_EVENTS: i32 = isDefined(SIP_MAX_EVENTS) ? SIP_MAX_EVENTS : 4;

/** Transmit-queue entries (txn/output.ts): messages produced by one input or one timer pass, before
 * the host drains them. Must hold a full fork (MAX_FORK requests + CANCELs) plus responses.
 * Cost: MAX_TXQ × 36 bytes. */
// @ts-ignore: board constant injected with --use
export const MAX_TXQ: i32 = isDefined(SIP_MAX_TXQ) ? SIP_MAX_TXQ : 32;

/** Users with digest credentials (auth/credentials.ts). Cost: MAX_USERS × 112 bytes. */
// @ts-ignore: board constant injected with --use
export const MAX_USERS: i32 = isDefined(SIP_MAX_USERS) ? SIP_MAX_USERS : 16;

/** Nonce-count replay slots (auth/nonce.ts; a multiple of 4). An evicted nonce can only be refused as
 * stale, never accepted twice. Cost: NC_SLOTS × 16 bytes. */
// @ts-ignore: board constant injected with --use
export const NC_SLOTS: i32 = isDefined(SIP_NC_SLOTS) ? SIP_NC_SLOTS : 64;

/** Sources tracked by flood protection (policy/pike.ts; a multiple of 16 above 16).
 * Cost: MAX_PIKE × 48 bytes. */
// @ts-ignore: board constant injected with --use
export const MAX_PIKE: i32 = isDefined(SIP_MAX_PIKE) ? SIP_MAX_PIKE : 32;

/** Request-URI deny-list entries (policy/denylist.ts). Cost: DENY_CAP × 132 bytes. */
// @ts-ignore: board constant injected with --use
export const DENY_CAP: i32 = isDefined(SIP_DENY_CAP) ? SIP_DENY_CAP : 8;

/** Dialogs the proxy tracks (proxy/dialog.ts): established calls, for call-end records with their
 * duration. When full, the oldest slot in a round-robin sweep is reused (its call then ends without a
 * duration). Cost: MAX_DIALOGS × 40 bytes + 2 × MAX_DIALOGS × 4 (index). */
// @ts-ignore: board constant injected with --use
const BOARD_DIALOGS: i32 = isDefined(SIP_MAX_DIALOGS) ? SIP_MAX_DIALOGS : 8;
export const MAX_DIALOGS: i32 = SPARSE_TABLES ? laidOut(Layout.Dialogs, BOARD_DIALOGS) : BOARD_DIALOGS;

/** Topology hiding (proxy/topology.ts) compiled in. The micro board leaves it out to keep its wasm
 * within 64 KB; the server board builds it. */
// @ts-ignore: board constant injected with --use
export const TOPOLOGY_HIDING: bool = isDefined(SIP_TOPOLOGY_HIDING) ? SIP_TOPOLOGY_HIDING != 0 : false;

/** The provider side of RFC 6140 in our registrar and proxy (registrar/gin.ts: `gin` registrations and
 * the number blocks routed to them): the server board's (a provider is a server), left out of the
 * boards with a footprint budget to keep, where cfg kind GinBlock is NotInBuild and a REGISTER that
 * requires `gin` gets 420 (RFC 3261 §10.3: an extension this registrar does not implement). */
export const GIN_PROVIDER: bool = isDefined(SIP_GIN_PROVIDER) ? SIP_GIN_PROVIDER != 0 : false;

/** Requests the proxy holds while the host picks their transport by RFC 3263 §4.1 (proxy/park.ts): a
 * request to a name whose URI names neither port nor transport waits for the name's NAPTR records
 * (sip_poll_resolve / sip_resolved) before its branch goes out. The boards built for Node and native
 * hosts with room for it (server, b2bua); elsewhere, and with every slot taken, such a request goes over
 * UDP at once (RFC 3263 §4.1's last resort). Cost: PARK_CAP × 40 bytes. */
// @ts-ignore: board constant injected with --use
export const PARK_CAP: i32 = isDefined(SIP_PARK_CAP) ? SIP_PARK_CAP : 0;

/** Blocks (64 bytes) holding the real contacts of hidden dialogs. Cost: DLG_BLOCKS × 74 bytes (70 with
 * 16-bit pool bookkeeping). */
// @ts-ignore: board constant injected with --use
export const BOARD_DLG_BLOCKS: i32 = isDefined(SIP_DLG_BLOCKS) ? SIP_DLG_BLOCKS : 1;
export const DLG_BLOCKS: i32 = SPARSE_TABLES ? scaled(BOARD_DLG_BLOCKS, MAX_DIALOGS, BOARD_DIALOGS) : BOARD_DLG_BLOCKS;

/** Access-list entries per list (policy/acl.ts: allow, deny and the trusted list). Cost: 3 × ACL_CAP × 20
 * bytes. */
// @ts-ignore: board constant injected with --use
export const ACL_CAP_CFG: i32 = isDefined(SIP_ACL_CAP) ? SIP_ACL_CAP : 16;

/** Per-method Content-Type rules (policy/body.ts). Cost: BODY_TYPES × 128 bytes. */
// @ts-ignore: board constant injected with --use
export const BODY_TYPES_CFG: i32 = isDefined(SIP_BODY_TYPES) ? SIP_BODY_TYPES : 8;

/** Domains the proxy is responsible for (proxy/config.ts). Cost: MAX_DOMAINS × 65 bytes. */
// @ts-ignore: board constant injected with --use
export const MAX_DOMAINS_CFG: i32 = isDefined(SIP_MAX_DOMAINS) ? SIP_MAX_DOMAINS : 8;

/** Transports (listen sockets) the host may add (net/transports.ts). Cost: MAX_TRANSPORTS × ~80 bytes. */
// @ts-ignore: board constant injected with --use
export const MAX_TRANSPORTS_CFG: i32 = isDefined(SIP_MAX_TRANSPORTS) ? SIP_MAX_TRANSPORTS : 8;

/** User-agent dialogs (dialog/ua.ts: the B2BUA's legs, the registrant), on the boards with the user
 * agent core (USER_AGENT); 0 on the others, so its tables (and the user agent's calls, client slots and
 * TU timers, sized from it) take no memory there. Cost: UA_DIALOGS × (72 + 1,024 + 80 + 24 + 2 × 16) B. */
// @ts-ignore: board constant injected with --use
export const BOARD_UA_DIALOGS: i32 = USER_AGENT ? (isDefined(SIP_UA_DIALOGS) ? SIP_UA_DIALOGS : 4) : 0;
/** Laid out as the dialogs (Layout.Dialogs), even (two per B2BUA call). */
export const UA_DIALOGS: i32 = SPARSE_TABLES && USER_AGENT ? max(2, laidOut(Layout.Dialogs, BOARD_UA_DIALOGS) & ~1) : BOARD_UA_DIALOGS;

/** Header names a B2BUA side's drop list holds (b2bua/call.ts "drop SIDE NAME"; wire/emit.ts drop
 * lists): names of the other leg's header lines that do not pass to this side's leg, 1..B2B_DROP_NAME_CAP
 * bytes each. Precedent: an SBC's header-manipulation rule set per trunk (Kamailio's remove_hf, one name a
 * call, in a route block). Cost: 4 sides × 8 × 34 B (in side records of 480 B) plus a drop list
 * being built (1 + 10 × 34 B): 1,952 B more used at start-up on the user-agent boards, 0 on the others. */
// @ts-ignore: board constant injected with --use
export const B2B_DROP_NAMES: i32 = isDefined(SIP_B2B_DROP_NAMES) ? SIP_B2B_DROP_NAMES : 8;
/** Bytes of one name in a drop list (RFC 3261 header names are tokens; the longest the core knows,
 * Request-Disposition, has 19). */
export const B2B_DROP_NAME_CAP: u32 = 32;

/** Client registrations of ours (registrant/: one per trunk account or pass-through user), on the boards
 * with the user agent core; 0 on the others. Precedent: an SBC's registration table per trunk account.
 * gateway 4 (two trunks, each with a spare account), b2bua 64, the probe builds 4.
 * Cost: REG_ACCOUNTS × 488 B of account records, plus one TU timer slot each (tu/timers.ts). */
// @ts-ignore: board constant injected with --use
export const REG_ACCOUNTS: i32 = USER_AGENT ? (isDefined(SIP_REG_ACCOUNTS) ? SIP_REG_ACCOUNTS : 4) : 0;

/** Relay legs (one party's side of one stream: a port pair): two per relayed stream, so a call with
 * audio takes 2, with audio and video 4. Cost: RELAY_LEGS × (104 + 8) B. */
// @ts-ignore: board constant injected with --use
const BOARD_RELAY_LEGS: i32 = MEDIA_RELAY ? (isDefined(SIP_RELAY_LEGS) ? SIP_RELAY_LEGS : 64) : 0;
export const RELAY_LEGS: i32 = MEDIA_RELAY && SPARSE_TABLES ? max(2, laidOut(Layout.RelayLegs, BOARD_RELAY_LEGS) & ~1) : BOARD_RELAY_LEGS;
/** Relay sessions: one per B2BUA call record (UA_DIALOGS / 2), then one per dialog record of the proxy
 * (MAX_DIALOGS, from RELAY_PROXY_BASE on: the proxy's relayed calls). Cost: 64 B each. */
export const RELAY_PROXY_BASE: i32 = MEDIA_RELAY ? UA_DIALOGS / 2 : 0;
export const RELAY_SESSIONS: i32 = MEDIA_RELAY ? UA_DIALOGS / 2 + MAX_DIALOGS : 0;
/** Relay interfaces (rtpengine's interface=: each an advertised address of each family, its legs bound
 * on its own address by the host; a B2BUA side's legs on the side's, a proxy leg's by its party's
 * network): 4, e.g. a trunk's network, the phones' and a spare. Cost: 4 × 128 B. */
export const RELAY_IFACES: i32 = 4;
/** Networks mapped to a relay interface (cfg kind RelayAddress `net`: the proxy's legs). Cost: 8 × 20 B. */
export const RELAY_NETS: i32 = 8;

/** The location service as text lines (registrar/location.ts: sip_loc_* in docs/ABI.md): list, insert
 * and remove bindings from the host, for a location service shared by several instances (the hosts'
 * Redis) and for the management API; and the Route token that sends a request for a binding to the
 * instance that holds it. On the server and b2bua boards; the small boards have neither (no code). */
// @ts-ignore: board constant injected with --use
export const LOCATION_API: bool = isDefined(SIP_LOCATION_API) ? SIP_LOCATION_API != 0 : false;

/** The response-time histograms (util/histogram.ts, sip_hist) on the server and b2bua boards; the small
 * boards keep none (no code, no memory). */
// @ts-ignore: board constant injected with --use
export const HISTOGRAMS: bool = isDefined(SIP_HISTOGRAMS) ? SIP_HISTOGRAMS != 0 : false;

// The capacities laid out, for the host to check against what it asked (docs/ABI.md "Layout"): the
// dialogs are the larger of the proxy's and the user agent's.
if (SPARSE_TABLES) {
  store<u32>(layoutWord(Layout.Transactions), <u32>MAX_TXN);
  store<u32>(layoutWord(Layout.Registrations), <u32>MAX_BINDINGS);
  store<u32>(layoutWord(Layout.MessageBlocks), <u32>MSG_BLOCKS);
  store<u32>(layoutWord(Layout.Dialogs), <u32>max(MAX_DIALOGS, UA_DIALOGS));
  store<u32>(layoutWord(Layout.RelayLegs), <u32>RELAY_LEGS);
}
