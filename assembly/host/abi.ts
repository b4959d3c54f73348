// THE boundary between the core and every host (Node, WASI, C via wasm2c, bare-metal firmware).
// Numbers only: the host copies bytes into the RX buffer and reads bytes from the TX buffer; nothing
// else crosses. docs/ABI.md is the contract: call order, records, configuration keys, events, stats.
//
// Call order (quinn's Connection contract): handle_* (one input) → poll_transmit until 0 →
// poll_timeout (arm one timer) → poll_event until 0. handle_timeout is idempotent and may be called
// early. Every input is processed to completion before the call returns: there is no hidden work.

import { RX_BUF, RX_CAP, TX_BUF, TX_CAP } from "../wire/buffers";
import { MAX_FORK, MAX_MSG, NAME_CAP } from "../config";
import { MessageView, parseMessage } from "../wire/view";
import { Decoded, validateMessage } from "../wire/validate";
import { WireError, errorStatus } from "../wire/errors";
import { Ch } from "../util/chars";
import { prngSeed, prngNext } from "../util/prng";
import { Peer, PEER_SIZE, Family } from "../net/peer";
import { transportAdd, transportsReset, transportById } from "../net/transports";
import { nameCopy, namesReset } from "../net/addr";
import { EventKind, eventBegin, eventPoll, eventsReset, eventsLost, EVENT_OUT } from "../events";
import { CfgKey, CfgKind, CfgResult, Stat, LocOp } from "./numbers";
import { histValue, histReset } from "../util/histogram";
import {
  TxnUp, txnTick, txnNextDeadline, txnTableReset, txnInUse, txnCapacity, txnSetLimit, txnSeed, msgPool, timers,
  txReset, txPop, txRoom, txSend,
} from "../txn/index";
import {
  registrarReset, registrarTick, registrarNextDeadline, registrarAors, registrarBindings,
  registrarPoolUsed, registrarPoolBlocks, regConfig, registrarFlowClosed, ginBlockAdd, ginReset,
  registrarSetLimit, registrarBindingLimit, registrarAorLimit,
  LOC, LOC_CAP, locNext, locFirstOf, locSibling, locRead, locPut, locRemove,
} from "../registrar/index";
import { refusedFullCount, refusedFullReset, shedCount } from "../proxy/request";
import { dispatchRequest, dispatchResponse, dispatchTimer, dispatchTuTimer, dispatchNextDeadline, dispatchReset, dispatchB2bua, dispatchExpired } from "./dispatch";
import { respondStateless } from "../proxy/send";
import { TimerConfig } from "../txn/timers";
import { RegistrarConfig } from "../registrar/table";
import { proxyConfig, domainAdd, domainsReset, setOutbound } from "../proxy/config";
import { ctxReset } from "../proxy/context";
import { parkReset, parkNext } from "../proxy/park";
import { proxyResolved } from "../proxy/response";
import { dialogsReset, dialogsInUse } from "../proxy/dialog";
import { branchSeed } from "../proxy/branch";
import { securityConfig } from "../proxy/admit";
import { Req } from "../proxy/req";
import { rrKeyReset, rrKeyFromSecret } from "../proxy/rrmac";
import { authReset, authSetRealm, authUserAdd, authSetSecret, authSetNonceExpiry, authSetAlgorithms } from "../auth/index";
import { TOPOLOGY_HIDING, USER_AGENT, GIN_PROVIDER, LOCATION_API } from "../config";
import { b2buaSideAdd, b2buaRelayReport } from "../b2bua/call";
import { MEDIA_RELAY, RELAY_PROXY_BASE, SPARSE_TABLES, PARK_CAP, LAYOUT, MAX_DIALOGS, UA_DIALOGS, RELAY_LEGS } from "../config";
import { relayReset, relayPorts, relayAddress, relayConfig, relayPoll, relayLegsInUse, relayLegCapacity, relayLegSession, RELAY_OUT } from "../media/relay";
import { proxyRelayReport } from "../proxy/media";
import { regAdd, regShutdown, regPending } from "../registrant/registrant";
import {
  policyReset, AclList, aclAdd, methodBlock, denyAdd, bodyAllowType, bodyAddPattern, bodySetMax,
  pikeSetLimit, pikeSetAuthFailLimit, pikeSetSeed, pikeTracked, pikeBlocked,
} from "../policy/index";

const rxView = new MessageView();
const rxDecoded = new Decoded();
const up = new TxnUp();

const PEER_IN: usize = memory.data(32);
/** The request being received: its view, decoded headers and source (the peer record). */
const rxReq = new Req(rxView, rxDecoded, changetype<Peer>(PEER_IN));
const TX_META: usize = memory.data(32);
const TX_NAME: usize = memory.data(NAME_CAP);
const CFG_CAP: u32 = 256;
const CFG: usize = memory.data(256);
const CRLF: usize = memory.data<u8>([0x0d, 0x0a]);

// counters for sip_stat
let rxCount: u64 = 0; // integers: a soft-float add per message costs the firmware ~1.8 KB of code
let rxRefused: u64 = 0;
let txCount: u64 = 0;

/** Address of the receive buffer: the host writes one datagram (or a connection's bytes) here. */
export function sip_rx_ptr(): usize { return RX_BUF; }
/** Capacity of the receive buffer, bytes (the board's largest message). */
export function sip_rx_cap(): u32 { return RX_CAP; }
/** Address of the input peer record (32 bytes, docs/ABI.md). */
export function sip_peer_ptr(): usize { return PEER_IN; }
/** Address of the transmit buffer: the host sends the bytes of each poll_transmit from here. */
export function sip_tx_ptr(): usize { return TX_BUF; }
/** Capacity of the transmit buffer, bytes. */
export function sip_tx_cap(): u32 { return TX_CAP; }
/** Address of the output peer record of the last poll_transmit. */
export function sip_tx_meta_ptr(): usize { return TX_META; }
/** Address of the host name of the last poll_transmit when its family is 0 (length in flags). */
export function sip_tx_name_ptr(): usize { return TX_NAME; }
/** The configuration text buffer (sip_cfg_add, sip_transport_add). */
export function sip_cfg_ptr(): usize { return CFG; }
export function sip_cfg_cap(): u32 { return CFG_CAP; }
/** The event record filled by sip_poll_event. */
export function sip_event_ptr(): usize { return EVENT_OUT; }

/**
 * The layout record (docs/ABI.md "Layout"): on the boards with sparse tables (server, b2bua), the
 * capacities the host writes here between instantiation and `_initialize` are the tables' sizes (config.ts
 * Layout: transactions, registrations, message blocks, dialogs, relay legs; 0 = the board's), and after
 * `_initialize` it holds those laid out. 0 on the other boards, whose capacities are the board's.
 * Safe to call before `_initialize`.
 */
export function sip_layout_ptr(): usize { return SPARSE_TABLES ? LAYOUT : 0; }

/** Reset every table and seed the core's randomness. Call once after _initialize. */
export function sip_init(seedLo: u32, seedHi: u32, now: f64): i32 {
  prngSeed(seedLo, seedHi);
  txnSeed(prngNext());
  branchSeed(prngNext());
  rrKeyReset();
  registrarReset(prngNext());
  histReset();
  txReset();
  txnTableReset();
  ctxReset();
  dialogsReset();
  dispatchReset();
  eventsReset();
  transportsReset();
  namesReset();
  domainsReset();
  ginReset();
  proxyConfig.recordRoute = true;
  proxyConfig.retryAfter = 5;
  proxyConfig.shed = 0;
  proxyConfig.outboundLen = 0;
  proxyConfig.hideTopology = false;
  proxyConfig.nameTransport = false;
  parkReset();
  authReset();
  policyReset();
  pikeSetSeed(prngNext());
  securityConfig.dropDenied = false;
  securityConfig.dropFlood = false;
  pikeRate = pikeBlock = authFails = 0;
  authWindow = 60;
  rxCount = rxRefused = txCount = 0;
  refusedFullReset();
  if (MEDIA_RELAY) relayReset();
  relayMin = 0;
  return 0;
}

/** Numeric settings whose value must be at least 1 (bit `key`). */
const AT_LEAST_1: u64 = (1 << CfgKey.T1) | (1 << CfgKey.T2) | (1 << CfgKey.T4) | (1 << CfgKey.MaxExpires) |
  (1 << CfgKey.DefaultExpires) | (1 << CfgKey.ContactsPerAor) | (1 << CfgKey.NonceExpiry) | (1 << CfgKey.AuthWindow);
// the word order sip_cfg_set stores keys 1-8 by
assert(offsetof<TimerConfig>("t2") == offsetof<TimerConfig>("t1") + 8 && offsetof<TimerConfig>("t4") == offsetof<TimerConfig>("t1") + 16 &&
  offsetof<TimerConfig>("timerC") == offsetof<TimerConfig>("t1") + 24 && offsetof<TimerConfig>("t1") == 0);
assert(offsetof<RegistrarConfig>("minExpires") == 0 && offsetof<RegistrarConfig>("maxExpires") == 4 &&
  offsetof<RegistrarConfig>("defaultExpires") == 8 && offsetof<RegistrarConfig>("maxContacts") == 12);

/** Numeric settings (docs/ABI.md). Returns 0, -1 unknown key, -2 value out of range, -3 a feature
 * this build leaves out. */
export function sip_cfg_set(key: i32, value: f64): i32 {
  if (!(value >= 0) || value > 4294967295) return CfgResult.Refused;
  const n = <i64>value;
  if (n < 1 && <u32>key < 64 && ((AT_LEAST_1 >> <u64>key) & 1) != 0) return CfgResult.Refused;
  // keys 1-4 are TimerConfig's i64 words and keys 5-8 RegistrarConfig's u32 words, each in key order
  // (txn/timers.ts, registrar/table.ts; checked below): one store by offset instead of a case each
  if (key >= CfgKey.T1 && key <= CfgKey.TimerC) {
    if (key == CfgKey.TimerC && n < 1000) return CfgResult.Refused;
    store<i64>(changetype<usize>(timers) + (<usize>(key - CfgKey.T1) << 3), n);
    return CfgResult.Ok;
  }
  if (key >= CfgKey.MinExpires && key <= CfgKey.ContactsPerAor) {
    if (key == CfgKey.ContactsPerAor && n > MAX_FORK) return CfgResult.Refused;
    store<u32>(changetype<usize>(regConfig) + (<usize>(key - CfgKey.MinExpires) << 2), <u32>n);
    return CfgResult.Ok;
  }
  switch (key) {
    case CfgKey.RecordRoute: proxyConfig.recordRoute = n != 0; return CfgResult.Ok;
    case CfgKey.OptionsBeforeAuth: proxyConfig.optionsBeforeAuth = n != 0; return CfgResult.Ok;
    case CfgKey.RetryAfter: proxyConfig.retryAfter = <u32>n; return CfgResult.Ok;
    case CfgKey.NonceExpiry: authSetNonceExpiry(<u32>n); return CfgResult.Ok;
    case CfgKey.FloodLimit: pikeRate = <u32>n; pikeSetLimit(pikeRate, pikeBlock); return CfgResult.Ok;
    case CfgKey.FloodBlock: pikeBlock = <u32>n; pikeSetLimit(pikeRate, pikeBlock); return CfgResult.Ok;
    case CfgKey.FloodDrop: securityConfig.dropFlood = n != 0; return CfgResult.Ok;
    case CfgKey.RefuseDrop: securityConfig.dropDenied = n != 0; return CfgResult.Ok;
    case CfgKey.MaxBody: bodySetMax(<u32>n); return CfgResult.Ok;
    case CfgKey.TopologyHiding: if (!TOPOLOGY_HIDING && n != 0) return CfgResult.NotInBuild; proxyConfig.hideTopology = n != 0; return CfgResult.Ok;
    case CfgKey.AuthFailures: authFails = <u32>n; pikeSetAuthFailLimit(authFails, authWindow); return CfgResult.Ok;
    case CfgKey.AuthWindow: authWindow = <u32>n; pikeSetAuthFailLimit(authFails, authWindow); return CfgResult.Ok;
    case CfgKey.Shed: if (n > 1000) return CfgResult.Refused; proxyConfig.shed = <u32>n; return CfgResult.Ok;
    case CfgKey.DigestAlgorithms: return authSetAlgorithms(<u32>n) ? CfgResult.Ok : CfgResult.Refused;
    case CfgKey.Mode:
      if (n > 1) return CfgResult.Refused;
      if (!USER_AGENT) return n == 0 ? CfgResult.Ok : CfgResult.NotInBuild;
      dispatchB2bua(n == 1);
      return CfgResult.Ok;
    // capacities below the board's (the memory made resident is bounded by them: util/zero.ts); the
    // boards whose tables are small and all their own (no SPARSE_TABLES) have the board's only
    case CfgKey.MaxTransactions:
      if (!SPARSE_TABLES) return CfgResult.NotInBuild;
      return txnSetLimit(n) ? CfgResult.Ok : CfgResult.Refused;
    case CfgKey.MaxBindings:
      if (!SPARSE_TABLES) return CfgResult.NotInBuild;
      return registrarSetLimit(n) ? CfgResult.Ok : CfgResult.Refused;
    case CfgKey.MaxMessageBlocks:
      if (!SPARSE_TABLES) return CfgResult.NotInBuild;
      if (n < <i64>msgPool.reserve + <i64>msgPool.blocksFor(<u32>MAX_MSG) + 2 || n > <i64>msgPool.blocks) return CfgResult.Refused;
      msgPool.limit = <u32>n;
      return CfgResult.Ok;
    // dialogs and relay legs: what the host laid out (config.ts Layout), confirmed; more is refused
    case CfgKey.MaxDialogs:
      if (!SPARSE_TABLES) return CfgResult.NotInBuild;
      return n >= 1 && n <= <i64>max(MAX_DIALOGS, UA_DIALOGS) ? CfgResult.Ok : CfgResult.Refused;
    case CfgKey.MaxRelayLegs:
      if (!SPARSE_TABLES || !MEDIA_RELAY) return CfgResult.NotInBuild;
      return n >= 1 && n <= <i64>RELAY_LEGS ? CfgResult.Ok : CfgResult.Refused;
    case CfgKey.NameTransport:
      if (PARK_CAP == 0) return n == 0 ? CfgResult.Ok : CfgResult.NotInBuild;
      proxyConfig.nameTransport = n != 0;
      return CfgResult.Ok;
  }
  if (key >= CfgKey.MediaRelay && key <= CfgKey.RelayIce) return relaySet(key, n);
  return CfgResult.Unknown;
}

let relayMin: u32 = 0;
/** The media relay's numeric settings (RelayPortMin before RelayPortMax, which applies the range). */
function relaySet(key: i32, n: i64): i32 {
  if (!MEDIA_RELAY) return n == 0 ? CfgResult.Ok : CfgResult.NotInBuild;
  switch (key) {
    // the proxy's calls (proxy/media.ts); a B2BUA side relays by its Side word "relay"
    case CfgKey.MediaRelay: if (n < 0 || n > 2) return CfgResult.Refused; relayConfig.mode = <u32>n; return CfgResult.Ok;
    case CfgKey.RelayPortMin: if (n > 65534 || (n & 1) != 0) return CfgResult.Refused; relayMin = <u32>n; return CfgResult.Ok;
    case CfgKey.RelayPortMax: return relayPorts(relayMin, <u32>n) ? CfgResult.Ok : CfgResult.Refused;
    case CfgKey.RelayIdle: if (n > 65535) return CfgResult.Refused; relayConfig.idle = <u32>n; return CfgResult.Ok;
    case CfgKey.RelayHoldIdle: if (n > 65535) return CfgResult.Refused; relayConfig.holdIdle = <u32>n; return CfgResult.Ok;
    case CfgKey.RelayIce: relayConfig.keepIce = n != 0; return CfgResult.Ok;
  }
  return CfgResult.Unknown;
}

/** Address of the media relay record filled by sip_poll_relay (docs/ABI.md "Media relay"). */
export function sip_relay_ptr(): usize { return MEDIA_RELAY ? RELAY_OUT : 0; }

/** The next change of the media relay's legs for the host: its RelayOp (0 = none). */
export function sip_poll_relay(): i32 {
  return MEDIA_RELAY ? <i32>relayPoll() : 0;
}

/** The host reports relay leg `leg` idle or unbindable (RelayReport `what`): the call is ended. */
export function sip_relay_report(now: f64, leg: u32, what: u32): void {
  if (!MEDIA_RELAY) return;
  if (relayLegSession(<i32>leg) >= RELAY_PROXY_BASE) proxyRelayReport(<i32>leg, <i64>now);
  else if (USER_AGENT) b2buaRelayReport(<i32>leg, <i64>now);
}

let pikeRate: u32 = 0;
let pikeBlock: u32 = 0;
let authFails: u32 = 0;
let authWindow: u32 = 60;

/**
 * String settings from the cfg buffer (docs/ABI.md): 1 a domain of ours, 2 outbound proxy URI,
 * 3 realm, 4 a user line, 5/6/7 allow/deny/trusted CIDR, 8 a blocked method, 9 a denied Request-URI,
 * 10 a body Content-Type rule, 11 a body pattern (raw bytes), 12 the nonce secret (raw bytes).
 * The cfg buffer is wiped after secrets (4, 12) are read.
 */
export function sip_cfg_add(kind: i32, len: u32): i32 {
  if (len > CFG_CAP) return CfgResult.Refused;
  // each kind answers accepted or not; Unknown and NotInBuild leave `ok` alone and set r
  let r: i32 = CfgResult.Refused;
  let ok = false;
  switch (kind) {
    case CfgKind.Domain: ok = domainAdd(CFG, len); break;
    case CfgKind.OutboundProxy: ok = setOutbound(CFG, len); break;
    case CfgKind.Realm: ok = authSetRealm(CFG, len) == 0; break;
    case CfgKind.User: ok = authUserAdd(CFG, len) == 0; break;
    case CfgKind.Allow: case CfgKind.Deny: case CfgKind.Trusted:
      ok = aclAdd(<AclList>(kind - CfgKind.Allow), CFG, len); break; // AclList Allow 0, Deny 1, Trusted 2
    case CfgKind.BlockMethod: ok = methodBlock(CFG, len); break;
    case CfgKind.DenyUri: ok = denyAdd(CFG, len); break;
    case CfgKind.BodyType: ok = bodyAllowType(CFG, len); break;
    case CfgKind.BodyPattern: ok = bodyAddPattern(CFG, len); break;
    case CfgKind.Side: if (!USER_AGENT) r = CfgResult.NotInBuild; else ok = sideAdd(len); break;
    case CfgKind.RelayAddress: if (!MEDIA_RELAY) r = CfgResult.NotInBuild; else ok = relayAddress(CFG, len); break;
    case CfgKind.GinBlock: if (!GIN_PROVIDER) r = CfgResult.NotInBuild; else ok = ginBlockAdd(CFG, len); break;
    case CfgKind.Registration: if (!USER_AGENT) r = CfgResult.NotInBuild; else ok = regAdd(CFG, len) >= 0; break;
    case CfgKind.NonceSecret:
      ok = authSetSecret(CFG, len) == 0;
      if (ok) rrKeyFromSecret(CFG, len); // the Record-Route MAC key follows the secret
      break;
    default: r = CfgResult.Unknown;
  }
  if (ok) r = CfgResult.Ok;
  if (kind == CfgKind.User || kind == CfgKind.NonceSecret || (USER_AGENT && (kind == CfgKind.Side || kind == CfgKind.Registration))) memory.fill(CFG, 0, CFG_CAP); // secrets
  return r;
}

/** A Side text: "register SIDE ..." is a trunk side's registration (the rest a Registration text, for the
 * registrant); any other is the B2BUA's. */
function sideAdd(len: u32): bool {
  if (len > 9 && load<u64>(CFG) == 0x7265747369676572 && load<u8>(CFG, 8) == 0x20) return regAdd(CFG + 9, len - 9) >= 0; // "register "
  return b2buaSideAdd(CFG, len);
}

/** Declare a listening transport; its advertised host:port is in the cfg buffer. */
export function sip_transport_add(id: u32, proto: u32, len: u32): i32 {
  if (len > CFG_CAP) return -1;
  return transportAdd(id, proto, CFG, len);
}

/** Framing was lost on a stream: the connection cannot be read further. */
function framingLost(v: MessageView): bool {
  const e = v.error;
  if (e == WireError.ContentLength || e == WireError.ContentLengthConflict || e == WireError.ContentLengthMissing) return true;
  return v.len == 0 || v.bodyOff == 0;
}

/** One message at [buf, buf+len) from the peer record. Returns bytes consumed, 0 need more, < 0 error. */
let lastNow: i64 = 0;

function handleMessage(now: i64, buf: usize, len: u32, stream: bool): i32 {
  lastNow = now;
  const src = changetype<Peer>(PEER_IN);
  const r = parseMessage(rxView, buf, len, stream);
  if (r == 0) return 0;
  rxCount++;
  let e: i32 = r < 0 ? -r : 0;
  if (e == WireError.Empty) return stream ? <i32>len : -e;
  const lost = e != 0 && stream && framingLost(rxView);
  const consumed = <i32>(rxView.skipped + rxView.len);
  if (e == 0) e = validateMessage(rxView, rxDecoded);
  if (e != 0) {
    rxRefused++;
    eventBegin(EventKind.BadMessage, e, now, 0, src);
    if (lost) return -e; // framing lost: nothing answered, the connection is closed
    const status = errorStatus(e);
    if (rxView.isRequest && status != 0 && rxView.method != 2 /* ACK: never answered */) {
      respondStateless(rxView, rxDecoded, false, <u32>status, 0, 0, src);
    }
    return stream ? consumed : -e;
  }
  if (rxView.isRequest) dispatchRequest(rxReq, now);
  else dispatchResponse(rxView, rxDecoded, now);
  return consumed;
}

/** A datagram of `len` bytes in the RX buffer, from the peer record. Returns >= 0, or a negated WireError. */
export function sip_handle_datagram(now: f64, len: u32): i32 {
  if (len > RX_CAP) return -WireError.TooLarge;
  const r = handleMessage(<i64>now, RX_BUF, len, false);
  return r < 0 ? r : 0;
}

/**
 * Stream bytes of one connection (peer record with conn). Returns the bytes consumed (one message, or
 * a keepalive), 0 when more bytes are needed, or a negated WireError: close the connection.
 * A CRLFCRLF keepalive is answered with CRLF (RFC 5626 §4.4.1); a lone CRLF (a pong) is consumed.
 */
export function sip_handle_stream(now: f64, len: u32): i32 {
  if (len > RX_CAP) return -WireError.TooLarge;
  if (len >= 2 && load<u8>(RX_BUF) == Ch.CR && load<u8>(RX_BUF + 1) == Ch.LF) {
    if (len >= 4 && load<u8>(RX_BUF + 2) == Ch.CR && load<u8>(RX_BUF + 3) == Ch.LF) {
      txSend(CRLF, 2, changetype<Peer>(PEER_IN));
      return 4;
    }
    if (len == 2 || load<u8>(RX_BUF + 2) != Ch.CR) return 2;
    // "\r\n\r": wait for the fourth byte; when it is there and is not LF, the CRLF was a pong
    return len == 3 ? 0 : 2;
  }
  return handleMessage(<i64>now, RX_BUF, len, true);
}

/**
 * A stream connection closed. Registrations made over it fall back to their contact's address;
 * transactions sending on it time out as on any lost transport (their 408 goes upstream).
 */
export function sip_handle_conn_closed(now: f64, conn: u32): void {
  registrarFlowClosed(conn);
}

/** Run every due timer. Idempotent; may be called early. */
export function sip_handle_timeout(now: f64): void {
  const t = <i64>now;
  // leave room on the transmit queue for what one timer may produce; the rest waits for the next call
  while (txRoom() >= <u32>MAX_FORK + 4 && txnTick(t, up)) dispatchTimer(up, t);
  while (txRoom() >= <u32>MAX_FORK + 4 && dispatchTuTimer(t)) {}
  registrarTick(t);
  dispatchExpired(t);
}

/**
 * The host is stopping (RFC 3261 §10.2.2): the first call de-registers every registration of ours that
 * is in force (a REGISTER with Expires: 0 to the provider's registrar) and stops the registrant's timers.
 * Every call returns how many of our REGISTERs still wait for their final response: the host keeps
 * handling input, timers and transmits while it is above 0, for a grace period of its own, then stops.
 * 0 at once where the core has no user agent (no registrations of ours).
 */
export function sip_shutdown(now: f64): i32 {
  if (!USER_AGENT) return 0;
  regShutdown(<i64>now);
  return regPending();
}

/** Next message to send: its length (0 = none); bytes at sip_tx_ptr, destination at sip_tx_meta_ptr. */
export function sip_poll_transmit(now: f64): u32 {
  for (;;) {
    const n = txPop(TX_BUF, TX_CAP, TX_META);
    if (n == 0) return 0;
    const meta = changetype<Peer>(TX_META);
    if (meta.family == Family.Name) {
      meta.flags = nameCopy(meta.a0, TX_NAME);
      if (meta.flags == 0) continue; // its name was replaced since: not sent, never sent elsewhere
    }
    txCount++;
    return n;
  }
}

/**
 * The next request waiting for the host to choose its transport (docs/ABI.md "Transport by DNS"): its
 * number (0 = none), with the name at sip_tx_name_ptr and the peer record at sip_tx_meta_ptr (family 0,
 * the name's length in flags, port 0) as for a transmit. The host answers with sip_resolved. A request
 * whose name the core no longer keeps goes on at once over its URI's default transport.
 */
export function sip_poll_resolve(now: f64): u32 {
  if (PARK_CAP == 0) return 0;
  const meta = changetype<Peer>(TX_META);
  let h = parkNext(meta);
  while (h != 0) {
    meta.flags = nameCopy(meta.a0, TX_NAME);
    if (meta.flags != 0) break;
    proxyResolved(h, 0, <i64>now);
    h = parkNext(meta);
  }
  return h;
}

/** The host's answer for request `id` of sip_poll_resolve: `proto` (abi.json protos) chosen by RFC 3263
 * §4.1 among the transports we listen on, 0 none (the URI's default, UDP); its branch goes out now. */
export function sip_resolved(now: f64, id: u32, proto: u32): void {
  if (PARK_CAP != 0) proxyResolved(id, proto, <i64>now);
}

/** The earliest deadline (ms) of any timer, or -1 when none is armed. */
export function sip_poll_timeout(): f64 {
  return <f64>earliest(earliest(txnNextDeadline(), registrarNextDeadline()), dispatchNextDeadline());
}

/** The earlier of two deadlines (-1: none). */
function earliest(a: i64, b: i64): i64 {
  if (a < 0) return b;
  if (b < 0) return a;
  return a < b ? a : b;
}

/** Next event: its kind (0 = none); the record at sip_event_ptr. */
export function sip_poll_event(): i32 {
  return <i32>eventPoll();
}

// ---- the location service as text (registrar/location.ts; docs/ABI.md "Location service") -----------

/** Address of the location line buffer; 0 where the core has no location service (the small boards). */
export function sip_loc_ptr(): usize { return LOCATION_API ? LOC : 0; }

/** One operation on the location service (LocOp): see host/shared/abi.json. -1 where the core has none. */
export function sip_loc(op: i32, now: f64, arg: i32): i32 {
  if (!LOCATION_API) return -1;
  const t = <i64>now;
  switch (op) {
    case LocOp.Capacity: return <i32>LOC_CAP;
    case LocOp.Next: return locNext(arg);
    case LocOp.First: return locFirstOf(<u32>arg);
    case LocOp.Sibling: return locSibling(arg);
    case LocOp.Read: return locRead(t, arg);
    case LocOp.Put: return locPut(t, <u32>arg);
    case LocOp.Remove: return locRemove(t, <u32>arg);
  }
  return -1;
}

/** Slot i of response-time histogram series h (Hist; host/shared/abi.json "histograms"), or -1 where the
 * core keeps none (the small boards). */
export function sip_hist(h: i32, i: i32): f64 {
  return histValue(h, i);
}

/** Counters and occupancy (docs/ABI.md). */
export function sip_stat(id: i32): f64 {
  switch (id) {
    case Stat.TxnInUse: return <f64>txnInUse();
    case Stat.TxnCapacity: return <f64>txnCapacity();
    case Stat.BindingsInUse: return <f64>registrarBindings();
    case Stat.BindingCapacity: return <f64>registrarBindingLimit();
    case Stat.AorsInUse: return <f64>registrarAors();
    case Stat.AorCapacity: return <f64>registrarAorLimit();
    case Stat.MsgPoolInUse: return <f64>msgPool.used;
    case Stat.MsgPoolBlocks: return <f64>(SPARSE_TABLES ? msgPool.limit : msgPool.blocks);
    case Stat.RegPoolInUse: return <f64>registrarPoolUsed();
    case Stat.RegPoolBlocks: return <f64>registrarPoolBlocks();
    case Stat.EventsLost: return <f64>eventsLost();
    case Stat.Received: return <f64>rxCount;
    case Stat.Refused: return <f64>rxRefused;
    case Stat.Sent: return <f64>txCount;
    case Stat.Refused503: return <f64>refusedFullCount();
    case Stat.FloodSources: return <f64>pikeTracked();
    case Stat.FloodBlocked: return <f64>pikeBlocked(lastNow);
    case Stat.MemoryBytes: return <f64>HEAP_TOP;
    case Stat.DialogsInUse: return <f64>dialogsInUse();
    case Stat.Shed503: return <f64>shedCount();
  }
  // a core without the relay does not know its stats (-1)
  if (MEDIA_RELAY && id == Stat.RelayLegsInUse) return <f64>relayLegsInUse();
  if (MEDIA_RELAY && id == Stat.RelayLegCapacity) return <f64>relayLegCapacity();
  return -1;
}

/**
 * Parse and validate the `len` bytes at the RX buffer as one message, without acting on it
 * (datagram framing when `stream` is 0). Returns the bytes the message occupies (> 0), 0 when a
 * stream needs more, or a negated WireError. The wire layer's entry point for tests and benchmarks.
 */
export function sip_parse(len: u32, stream: u32): i32 {
  if (len > RX_CAP) return -WireError.TooLarge;
  const r = parseMessage(rxView, RX_BUF, len, stream != 0);
  if (r <= 0) return r;
  const e = validateMessage(rxView, rxDecoded);
  return e == 0 ? r : -e;
}

/** Response status implied by a negated result of sip_parse (0 = drop silently). */
export function sip_error_status(err: i32): i32 {
  return errorStatus(err < 0 ? -err : err);
}

/** Memory in use once start-up is over (stat 17): this module's statics run last, so this tiny final
 * allocation sits just above every table; nothing is allocated after it. */
const HEAP_TOP: usize = heap.alloc(1);
