// The back-to-back user agent (RFC 3261 §6; RFC 7092's "signaling-only B2BUA"): each call it takes is
// two dialogs, the A leg (the caller's, answered by the user agent's server core, dialog/uas.ts) and the
// B leg (ours toward the callee, sent by its client core, dialog/uac.ts), linked by a call record here.
// Nothing of one leg's dialog identifiers or addresses crosses to the other — the B leg has its own
// Call-ID, tags, Via, Contact, CSeq — while every other header and the body pass through both ways
// (wire/emit.ts legOwned says which headers a leg writes itself), but for the names of the receiving
// side's drop list and what its identity rules remove (PaiMode, below).
//
// Sides: each SIP domain the B2BUA connects is a side with a role.
//   registrar  our own registrar's phones. A call from this side is taken only from the address and
//              port a current binding of its From AOR registered from (a stranger cannot call through
//              us by naming a registered user); a call to this side goes to the first registered
//              contact of the Request-URI's user, sent where that binding registered from (NAT).
//   trunk      a service provider's peer at a configured address. A call from it is taken by its
//              source address; a call to it goes to that address, Request-URI `sip:user@host`.
// Each side routes the calls it originates to one other side. A call from no side gets 403 and nothing
// is sent anywhere: never relay for strangers.
//
// Call states: Calling (B leg's INVITE sent, A leg proceeding) → Up (B answered 2xx, A answered 2xx)
// → Ending (a BYE of ours in flight on one leg) → free. A CANCEL from A moves Calling to Cancelling
// (the B leg is cancelled; a 2xx crossing the CANCEL is ended with a BYE). Every table is fixed at
// start-up; a call that finds no room is refused with 503.

import { UA_DIALOGS, BOARD_UA_DIALOGS, USER_AGENT, B2B_DROP_NAMES } from "../config";
import { dropListAdd, DROP_ENTRY } from "../wire/emit";
import { isAny, Cls } from "../util/chars";
import { MessageView } from "../wire/view";
import { Decoded } from "../wire/validate";
import { Method, methodEntry } from "../wire/method";
import { Writer } from "../wire/writer";
import { UriRepr } from "../wire/uri";
import { Peer, PEER_SIZE } from "../net/peer";
import { transportById, transportFor, Proto, protoParam } from "../net/transports";
import { T_TRANSPORT } from "../wire/tables";
import { peerFromConfig, parseIPv4, parseIPv6 } from "../net/addr";
import { Family } from "../net/peer";
import { parseUint, textIs } from "../wire/scan";
import { prngNext } from "../util/prng";
import { hex8 } from "../txn";
import { SRV_TARGETS } from "../host/numbers";
import { registrarLookup, targets } from "../registrar/lookup";
import { parseChallenge, authorizationLine, challenge } from "../auth/client";
import { AuthVerdict, authCheck, authResult, writeChallenge } from "../auth/index";
import { userFind } from "../auth/credentials";
import { eventBegin, eventText } from "../events";
import { EventKind } from "../host/numbers";
import { pikeFail, PikeVerdict } from "../policy/index";
import { FreeList } from "../util/freelist";
import { Hdr } from "../wire/hdr";
import { NameAddrRepr, NameAddrKind, decodeNameAddr } from "../wire/headers/nameaddr";
import { BLOCK_CAP, blockValid, blockMatch, telNumber, numberAt, numberLen } from "../util/numblock";
import { regSideTransport, regSideBlock, regBlock, regBlockLen, regSideDown, regFollowing, regFollowedBy, regUser, regUserLen, regAuth, regAuthLen, regPass, regPassLen, regLocal, regLocalLen } from "../registrant/registrant";
import { Owner } from "../tu/owner";
import { tuTimerSet } from "../tu/timers";
import { uasStoredRequest } from "../dialog/uas";
import { storedView, storedDecoded } from "../wire/buffers";
import { OutRequest, uaDialogEnd, uaDialogTextPtr, uaDialogTextLen } from "../dialog/ua";
import { uacSend, uacSendInDialog, uacCancel, uacDialog, uacForget, uacDeferAck, uacAckLate, uacInviteCseq } from "../dialog/uac";
import { MEDIA_RELAY, RELAY_IFACES } from "../config";
import { relaySdp, relayEnd, relayActive, relayReady, relayLegSession, SDP_OUT, SDP_BAD } from "../media/relay";
import { sdpBody } from "../media/sdp";
import { uasRespond, uasDialog, uasPeer, uasRelease, uasState, UasState, UasIn, UasEvent, has100rel, UAS_CALLS, uasAnswerOptions } from "../dialog/uas";
import { zeroTable } from "../util/zero";
import { tableAlloc } from "../util/alloc";

export const enum SideRole { None = 0, Registrar = 1, Trunk = 2 }
export const MAX_SIDES: i32 = 4;
const HOST_CAP: u32 = 64;

const USER_CAP: u32 = 32;
const PASS_CAP: u32 = 64;
// Side record: +0 u8 role, +1 u8 route (the side its calls go to), +2 u8 host length, +3 u8 user length,
// +4 Peer (a trunk's address), +36 host text (a trunk's host[:port] for its Request-URIs; our domain for
// a registrar side), +100 u8 password length, +101 user, +133 password (a trunk's credentials for the
// challenges of its proxy: answered once per call, RFC 3261 §22.2), +197 u8 failover side + 1 (0 none:
// where a call to this side goes when it answers 408, 5xx or nothing), +198 u8 PaiMode (what we assert
// toward this side), +199 u8 a trunk's transport (Proto; 0: UDP), +200 the side's drop list (wire/emit.ts:
// 1 + B2B_DROP_NAMES × DROP_ENTRY bytes).
const SIDE_DROPS: usize = 200;
// then u8: a trunk takes calls from any address when they carry its credentials (accept digest), 0: by address only
const SIDE_DIGEST: usize = SIDE_DROPS + 1 + <usize>B2B_DROP_NAMES * DROP_ENTRY;
const SIDE_CALLED: usize = SIDE_DIGEST + 1; // u8 Called: where a call from this side has its number
const SIDE_DOWN: usize = SIDE_DIGEST + 2; // u8 Down: a call toward this side while it is down (sideDown)
const SIDE_PING: usize = SIDE_DOWN + 1; // u16 seconds between OPTIONS pings of a monitored trunk, 0: none
const SIDE_DEAD: usize = SIDE_PING + 2; // u8 1: its last ping went unanswered (or 503): the trunk is down
const SIDE_RELAY: usize = SIDE_DEAD + 1; // u8 1: the media of calls to or from this side go through our relay
const SIDE_IFACE: usize = SIDE_RELAY + 1; // u8: the relay interface of the legs facing this side (0: the first)
// u8 length, then a trunk's calling number (util/numblock.ts, no x) for callers with none of its gin block
const SIDE_NUMBER: usize = SIDE_IFACE + 1;
// then the addresses a trunk's calls are taken from besides its own (a trunk found by DNS: the addresses
// its name resolves to, which the host gives, "addrs"): SIDE_SOURCES entries of u8 family (0: none) and
// the 16 address bytes, 4 for IPv4 addresses then 4 for IPv6
const SIDE_FROM: usize = SIDE_NUMBER + 1 + <usize>BLOCK_CAP;
const SIDE_SOURCES: i32 = 8;
const SOURCE_SIZE: usize = 17;
const SIDE_SIZE: usize = (SIDE_FROM + <usize>SIDE_SOURCES * SOURCE_SIZE + 7) & ~7; // each record 8-aligned
const sides: usize = USER_AGENT ? tableAlloc(<usize>MAX_SIDES * SIDE_SIZE) : 0;
function side(s: i32): usize { return sides + <usize>s * SIDE_SIZE; }
function sidePeer(s: i32): Peer { return changetype<Peer>(side(s) + 4); }

// Identity (RFC 3325's trust domain, RFC 3323's privacy), per side. A trunk is trusted (its provider's
// network and ours are one trust domain: what it asserts, we may pass on, and it may see what we assert);
// a registrar side is not (its phones are authenticated by where they registered, not by what they
// claim). What a call leaving toward a side carries:
//   Passthrough  the P-Asserted-Identity of the other leg, when that leg is trusted (the default);
//   Drop         no P-Asserted-Identity at all;
//   From         ours: `<sip:USER@HOST>`, USER the caller's From user (the number rules rewrite is the
//                callee's, never the caller's; toward a trunk registered for a number block, the
//                caller's number in it: callerNumber), HOST this side's host, as in the From we write;
//                the other leg's is not passed.
// Whatever the mode: P-Preferred-Identity never crosses (it is a request to the first proxy of the trust
// domain, which we are: RFC 3325 §6; we assert from the registration instead), and nothing a phone
// asserts reaches the other leg. A caller's Privacy of id, user or header (RFC 3323 §4.2) anonymises the
// From we write ("Anonymous" <sip:anonymous@anonymous.invalid>, §4.1.1.3) and removes every P-Asserted-
// Identity toward an untrusted side (RFC 3325 §7); the Privacy header itself passes on.
export const enum PaiMode { Passthrough = 0, Drop = 1, From = 2 }
/** Where the called number of a call from a side is read: providers differ (a call to our registered
 * Contact has our account in its Request-URI, the number in To or P-Called-Party-ID, RFC 3455 §4.2). */
export const enum Called { Ruri = 0, To = 1, Pcpi = 2 }
/** A call toward a trunk that is down (sideDown: our registrations with it all down, or its OPTIONS pings
 * unanswered): sent anyway, sent to the side's failover side, or refused with 503. */
export const enum Down { Try = 0, Failover = 1, Refuse = 2 }
function paiMode(s: i32): PaiMode { return <PaiMode>load<u8>(side(s), 198); }
function trusted(s: i32): bool { return load<u8>(side(s)) == SideRole.Trunk; }

// the drop list of the message being carried to a leg (dropsFor): a side's names, four more and those of
// header privacy
const DROPS_CAP: i32 = B2B_DROP_NAMES + 4 + 8;
const DROPS: usize = USER_AGENT ? tableAlloc(1 + <usize>DROPS_CAP * DROP_ENTRY) : 0;
// the names "P-Asserted-Identity" (19 bytes) and "P-Preferred-Identity" (20; RFC 3325 §9.1, §9.2)
const PAI: usize = USER_AGENT ? memory.data<u8>([
  0x50, 0x2d, 0x41, 0x73, 0x73, 0x65, 0x72, 0x74, 0x65, 0x64, 0x2d, 0x49, 0x64, 0x65, 0x6e, 0x74, 0x69, 0x74, 0x79,
  0x50, 0x2d, 0x50, 0x72, 0x65, 0x66, 0x65, 0x72, 0x72, 0x65, 0x64, 0x2d, 0x49, 0x64, 0x65, 0x6e, 0x74, 0x69, 0x74, 0x79,
]) : 0;
const PAI_LEN: u32 = 19;
// "RAck" (RFC 3262 §7.2): A's is replaced by ours on the B leg (rackLine)
const RACK: usize = USER_AGENT ? memory.data<u8>([0x52, 0x41, 0x63, 0x6b]) : 0;
const PPI: usize = PAI + <usize>PAI_LEN;
const PPI_LEN: u32 = 20;
// "Replaces" (RFC 3891) and "Join" (RFC 3911): they name a dialog of the leg they came on (its Call-ID
// and tags); not implemented, so ignored (§8.2.2.3's rule for an extension a UA lacks) and never carried
const REPLACES: usize = USER_AGENT ? memory.data<u8>([0x52, 0x65, 0x70, 0x6c, 0x61, 0x63, 0x65, 0x73, 0x4a, 0x6f, 0x69, 0x6e]) : 0;
const JOIN: usize = REPLACES + 8;
// RFC 3323 §5.1's header privacy (with RFC 5379 §5.1's list): the headers that may reveal who sent a
// request or response, removed toward an untrusted side when it asks for it; each a length, then the name
const PRIVATE_HEADERS: usize = USER_AGENT ? memory.data<u8>([9, 0x43, 0x61, 0x6c, 0x6c, 0x2d, 0x49, 0x6e, 0x66, 0x6f, 11, 0x49, 0x6e, 0x2d, 0x52, 0x65, 0x70, 0x6c, 0x79, 0x2d, 0x54, 0x6f, 12, 0x4f, 0x72, 0x67, 0x61, 0x6e, 0x69, 0x7a, 0x61, 0x74, 0x69, 0x6f, 0x6e, 8, 0x52, 0x65, 0x70, 0x6c, 0x79, 0x2d, 0x54, 0x6f, 7, 0x53, 0x75, 0x62, 0x6a, 0x65, 0x63, 0x74, 10, 0x55, 0x73, 0x65, 0x72, 0x2d, 0x41, 0x67, 0x65, 0x6e, 0x74, 6, 0x53, 0x65, 0x72, 0x76, 0x65, 0x72, 7, 0x57, 0x61, 0x72, 0x6e, 0x69, 0x6e, 0x67]) : 0;

// Routing rules: a call from side `from` whose Request-URI user (its number) starts with `prefix` goes
// to side `to`, with `strip` leading characters of the number removed and `prepend` put in front (a
// trunk that wants E.164 gets "+" + country code; a local side gets the short number). The longest
// matching prefix wins; no rule: the side's default route. Prefixes match the number as written
// ("+1555" and "1555" are different prefixes: a configuration lists both when a side sends both).
export const MAX_RULES: i32 = 16;
const AFFIX_CAP: u32 = 24;
// Rule: +0 u8 used, +1 u8 from, +2 u8 to, +3 u8 strip, +4 u8 prefix length, +5 u8 prepend length,
// +8 prefix, +32 prepend.
const RULE_SIZE: usize = 8 + 2 * <usize>AFFIX_CAP;
const rules: usize = USER_AGENT ? tableAlloc(<usize>MAX_RULES * RULE_SIZE) : 0;
function rule(r: i32): usize { return rules + <usize>r * RULE_SIZE; }

/** A rule (see above); false when the table is full or a value is out of range. */
export function b2buaRuleAdd(from: i32, prefix: usize, prefixLen: u32, to: i32, strip: u32, prepend: usize, prependLen: u32): bool {
  if (from < 0 || from >= MAX_SIDES || to < 0 || to >= MAX_SIDES || from == to || prefixLen > AFFIX_CAP || prependLen > AFFIX_CAP || strip > 32) return false;
  for (let r = 0; r < MAX_RULES; r++) {
    const p = rule(r);
    if (load<u8>(p) != 0) continue;
    store<u8>(p, 1);
    store<u8>(p, <u8>from, 1);
    store<u8>(p, <u8>to, 2);
    store<u8>(p, <u8>strip, 3);
    store<u8>(p, <u8>prefixLen, 4);
    store<u8>(p, <u8>prependLen, 5);
    memory.copy(p + 8, prefix, prefixLen);
    memory.copy(p + 8 + <usize>AFFIX_CAP, prepend, prependLen);
    return true;
  }
  return false;
}

/** The rule for a call from side `from` to number [user, user+len): the longest prefix, or -1. */
function ruleFor(from: i32, user: usize, len: u32): i32 {
  let best = -1;
  let bestLen: i32 = -1;
  for (let r = 0; r < MAX_RULES; r++) {
    const p = rule(r);
    if (load<u8>(p) == 0 || <i32>load<u8>(p, 1) != from) continue;
    const pl = <u32>load<u8>(p, 4);
    if (pl > len || <i32>pl <= bestLen || memory.compare(p + 8, user, pl) != 0) continue;
    best = r;
    bestLen = <i32>pl;
  }
  return best;
}

export const B2B_CALLS: i32 = UA_DIALOGS / 2;
export const enum B2bState { Free = 0, Calling = 1, Cancelling = 2, Up = 3, Ending = 4 }
/** Which request of a call a client transaction's caller handle names. */
const enum Leg { Invite = 1, ByeB = 2, ByeA = 3, ReqA = 4, ReqB = 5, Ping = 6, Prack = 7 }

// Call record: +0 u8 state, +1 u8 A's side, +2 u8 B's side, +3 u8 challenges answered, +4 i32 A's call
// (dialog/uas.ts; -1 once released), +8 i32 A's dialog, +12 i32 B's dialog, +16 u32 generation, +20 u32
// the caller handle of our BYE in flight (0 none), +24 Peer where A's requests go, +56 Peer where B's
// go, +88 u32 × 3 the numbers of the B leg's From tag and Call-ID, +100 i32 the server core's record of
// the request within the call being relayed (a re-INVITE, UPDATE, INFO ...; -1 none: one at a time),
// +104 u8 length and +105 the number called on the B side (the Request-URI user after the rule).
const NUMBER_CAP: u32 = 64;
// +172 u8 failed over (the call went to its side's failover side once), +173 u8 the SRV target of a trunk
// found by its name (RFC 3263: the next one after a 408 or 503 of the one before), +174 u8 1: the caller
// asked for session privacy toward an untrusted side (RFC 3323 §5.2): the media go through our relay,
// +175 u8 1: the PRACK being relayed came from A, +176 i32 the server core's record of that PRACK (-1
// none: one at a time, beside the request in +100, whose reliable provisional it acknowledges).
const CALL_SIZE: usize = 105 + <usize>NUMBER_CAP + 11;
const calls: usize = USER_AGENT ? tableAlloc(<usize>B2B_CALLS * CALL_SIZE) : 0;
function rec(i: i32): usize { return calls + <usize>i * CALL_SIZE; }
// Which call (index + 1, 0 none; u32 each) holds each dialog (as A's, +8, or B's, +12) and each record
// of the server core (A's INVITE, +4, or the request being relayed, +100): an event finds its call
// without a scan of the table. Every store to those four fields goes through link().
const byDialog: usize = USER_AGENT ? tableAlloc(<usize>UA_DIALOGS * 4) : 0;
const byUas: usize = USER_AGENT ? tableAlloc(<usize>UAS_CALLS * 4) : 0;
const freeRecs = USER_AGENT ? new FreeList(B2B_CALLS) : changetype<FreeList>(0); // the free call records

const enum F { A = 4, DlgA = 8, DlgB = 12, Relay = 100, Prack = 176 }
/** Call i's field f (a server-core record or a dialog, F) is now v (-1: none), the reverse map kept. */
function link(i: i32, f: F, v: i32): void {
  const c = rec(i);
  const map = f == F.DlgA || f == F.DlgB ? byDialog : byUas;
  const old = load<i32>(c + <usize>f);
  if (old >= 0 && load<u32>(map + <usize>old * 4) == <u32>i + 1) store<u32>(map + <usize>old * 4, 0);
  store<i32>(c + <usize>f, v);
  if (v >= 0) store<u32>(map + <usize>v * 4, <u32>i + 1);
}
/** Tests: free call record i is the next taken (calls in records at any index); false if not free. */
export function b2buaNextRecord(i: i32): bool { return freeRecs.next(i); }
/** The call holding dialog dlg, or -1. */
function callByDialog(dlg: i32): i32 {
  const i = <i32>load<u32>(byDialog + <usize>dlg * 4) - 1;
  return i >= 0 && load<u8>(rec(i)) != B2bState.Free && (load<i32>(rec(i), F.DlgA) == dlg || load<i32>(rec(i), F.DlgB) == dlg) ? i : -1;
}
/** The call holding the server core's record r, or -1. */
function callByUas(r: i32): i32 {
  const i = <i32>load<u32>(byUas + <usize>r * 4) - 1;
  return i >= 0 && load<u8>(rec(i)) != B2bState.Free && (load<i32>(rec(i), F.A) == r || load<i32>(rec(i), F.Relay) == r || load<i32>(rec(i), F.Prack) == r) ? i : -1;
}
function aDest(i: i32): Peer { return changetype<Peer>(rec(i) + 24); }
function bDest(i: i32): Peer { return changetype<Peer>(rec(i) + 24 + <usize>PEER_SIZE); }
let generation: u32 = 0;

/** The caller handle (dialog/uac.ts) of call i's request on leg `leg`: bits 0-14 the index + 1 (never 0:
 * handles with those bits 0 are the client core's own), 15-17 the leg, 18-31 the call's generation. */
// @ts-ignore: a compile-time check
if (BOARD_UA_DIALOGS / 2 >= 0x7fff) ERROR("B2B_CALLS must fit a caller handle's 15-bit index field"); // the most a layout gives
function handle(i: i32, leg: Leg): u32 { return (load<u32>(rec(i), 16) << 18) | (<u32>leg << 15) | (<u32>i + 1); }
/** The call a caller handle names while it is the same call (generation), or -1. */
function callOf(user: u32): i32 {
  const i = <i32>(user & 0x7fff) - 1;
  if (i < 0 || i >= B2B_CALLS || load<u8>(rec(i)) == B2bState.Free || load<u32>(rec(i), 16) != user >>> 18) return -1;
  return i;
}
function legOf(user: u32): Leg { return <Leg>((user >>> 15) & 7); }

// the texts of a B leg's INVITE (Request-URI, From and To URIs, tag, Call-ID, Contact), written here
const TEXT_CAP: u32 = 1024;
const TEXT: usize = USER_AGENT ? tableAlloc(TEXT_CAP) : 0;
const tw = USER_AGENT ? new Writer() : changetype<Writer>(0);
const out = USER_AGENT ? new OutRequest() : changetype<OutRequest>(0);
const lookupUri = USER_AGENT ? new UriRepr() : changetype<UriRepr>(0);
const pcpi = USER_AGENT ? new NameAddrRepr() : changetype<NameAddrRepr>(0); // a P-Called-Party-ID read

/** Forget every side and call (sip_init). */
export function b2buaReset(): void {
  memory.fill(sides, 0, <usize>MAX_SIDES * SIDE_SIZE);
  memory.fill(rules, 0, <usize>MAX_RULES * RULE_SIZE);
  zeroTable(calls, <usize>B2B_CALLS * CALL_SIZE);
  zeroTable(byDialog, <usize>UA_DIALOGS * 4);
  zeroTable(byUas, <usize>UAS_CALLS * 4);
  freeRecs.reset();
}

/**
 * Side s: its role, the side its calls go to, its host text (a trunk's `host[:port]` for Request-URIs
 * and To; a registrar side's domain) and, for a trunk, its address `peer`. False when s, route or the
 * host is out of range.
 */
export function b2buaSideSet(s: i32, role: SideRole, route: i32, host: usize, hostLen: u32, peer: Peer | null,
                             user: usize = 0, userLen: u32 = 0, pass: usize = 0, passLen: u32 = 0): bool {
  if (s < 0 || s >= MAX_SIDES || route < 0 || route >= MAX_SIDES || route == s || hostLen == 0 || hostLen > HOST_CAP) return false;
  if (userLen > USER_CAP || passLen > PASS_CAP || (userLen == 0) != (passLen == 0)) return false;
  if (role == SideRole.Trunk && peer == null) return false;
  const p = side(s);
  memory.fill(p, 0, SIDE_SIZE);
  store<u8>(p, <u8>role);
  store<u8>(p, <u8>route, 1);
  store<u8>(p, <u8>hostLen, 2);
  if (peer != null) sidePeer(s).copyFrom(peer);
  memory.copy(p + 36, host, hostLen);
  store<u8>(p, <u8>userLen, 3);
  store<u8>(p, <u8>passLen, 100);
  memory.copy(p + 101, user, userLen);
  memory.copy(p + 133, pass, passLen);
  return true;
}

// ---- configuration text (cfg kind Side) -------------------------------------------------------------

const WORDS: i32 = 7; // the most a side's text has
const words: usize = USER_AGENT ? tableAlloc(<usize>WORDS * 8) : 0; // (start u32, length u32) per word
const cfgPeer = USER_AGENT ? new Peer() : changetype<Peer>(0);
function wordAt(k: i32): usize { return <usize>load<u32>(words + <usize>k * 8); }
function wordLen(k: i32): u32 { return load<u32>(words + <usize>k * 8, 4); }

/** "[IPv6]:port", "IPv4:port" or a host name with or without ":port" into cfgPeer (transport 0: the
 * first of the side's protocol and of its family, any for a name, at send). */
function parseAddress(p: usize, len: u32): bool { return peerFromConfig(cfgPeer, p, len); }

/**
 * "addrs SIDE ADDRESS..." (words 2..n-1, at most 4 IP addresses of one family): the addresses trunk s's
 * calls are also taken from, replacing those of that family it had (the host resolves a trunk's name,
 * and gives them again whenever it has resolved it). False, with none of that family kept, when one is
 * not an address of the first one's family.
 */
function sideSources(s: i32, n: i32): bool {
  if (load<u8>(side(s)) != SideRole.Trunk || n > 6) return false;
  const v6 = !parseIPv4(wordAt(2), wordLen(2), cfgPeer.addr);
  const base = side(s) + SIDE_FROM + (v6 ? 4 * SOURCE_SIZE : 0);
  memory.fill(base, 0, 4 * SOURCE_SIZE);
  for (let k = 2; k < n; k++) {
    const e = base + <usize>(k - 2) * SOURCE_SIZE;
    if (!(v6 ? parseIPv6(wordAt(k), wordLen(k), e + 1) : parseIPv4(wordAt(k), wordLen(k), e + 1))) {
      memory.fill(base, 0, 4 * SOURCE_SIZE);
      return false;
    }
    store<u8>(e, v6 ? Family.V6 : Family.V4);
  }
  return true;
}

/** Whether src is one of the addresses trunk s's calls are also taken from (sideSources). */
function sideSource(s: i32, src: Peer): bool {
  const base = side(s) + SIDE_FROM;
  for (let e = 0; e < SIDE_SOURCES; e++) {
    const p = base + <usize>e * SOURCE_SIZE;
    if (load<u8>(p) == src.family && memory.compare(p + 1, src.addr, 16) == 0) return true;
  }
  return false;
}


/** Word k as a side index, or -1. */
function sideWord(k: i32): i32 { return <i32>parseUint(wordAt(k), wordAt(k) + <usize>wordLen(k), <u64>MAX_SIDES - 1); }

/** Which of the words a, b, c (letters in any case) word k is: 0, 1 or 2; -1 none. */
function oneOf(k: i32, a: string, b: string, c: string = ""): i32 {
  const w = wordAt(k);
  const wl = wordLen(k);
  return textIs(w, wl, a) ? 0 : textIs(w, wl, b) ? 1 : c.length != 0 && textIs(w, wl, c) ? 2 : -1;
}

/**
 * A side from its configuration text: "INDEX registrar|trunk ROUTE HOST [IP:PORT [USER PASSWORD]]" (the
 * address for a trunk only, and its credentials if its proxy challenges; names are not taken here: the
 * host resolves them); or, after it, "pai INDEX passthrough|drop|from", "drop INDEX NAME", "failover INDEX
 * OTHER", "accept INDEX address|digest", "transport INDEX udp|tcp|tls", "called INDEX ruri|to|pcpi", "down INDEX
 * try|failover|refuse", "number INDEX +NUMBER", "route ...". False when it does not parse.
 */
export function b2buaSideAdd(p: usize, len: u32): bool {
  let n = 0;
  let k: u32 = 0;
  while (k < len) {
    while (k < len && load<u8>(p + <usize>k) == 0x20) k++;
    if (k >= len) break;
    if (n >= WORDS) return false;
    const start = k;
    while (k < len && load<u8>(p + <usize>k) != 0x20) k++;
    store<u32>(words + <usize>n * 8, <u32>(p + <usize>start));
    store<u32>(words + <usize>n * 8, k - start, 4);
    n++;
  }
  if (n < 3) return false;
  const c0 = <u32>load<u8>(wordAt(0));
  if (c0 >= 0x30 && c0 <= 0x39) {
    // "INDEX registrar|trunk ROUTE HOST [IP:PORT [USER PASSWORD]]"
    const index = parseUint(wordAt(0), wordAt(0) + <usize>wordLen(0), <u64>MAX_SIDES - 1);
    const route = parseUint(wordAt(2), wordAt(2) + <usize>wordLen(2), <u64>MAX_SIDES - 1);
    if (index < 0 || route < 0) return false;
    const rl = wordLen(1);
    const trunk = rl == 5 && load<u8>(wordAt(1)) == 0x74; // "trunk"
    const registrar = rl == 9 && load<u8>(wordAt(1)) == 0x72; // "registrar"
    if (n < 4 || (trunk ? n != 5 && n != 7 : n != 4)) return false;
    if (!(trunk || registrar)) return false;
    if (trunk && !parseAddress(wordAt(4), wordLen(4))) return false;
    const creds = n == 7;
    return b2buaSideSet(<i32>index, trunk ? SideRole.Trunk : SideRole.Registrar, <i32>route, wordAt(3), wordLen(3), trunk ? cfgPeer : null,
      creds ? wordAt(5) : 0, creds ? wordLen(5) : 0, creds ? wordAt(6) : 0, creds ? wordLen(6) : 0);
  }
  if (wordLen(0) == 5 && load<u8>(wordAt(0)) == 0x72 && load<u8>(wordAt(0), 1) == 0x6f) { // "route" (not "relay")
    // "route FROM PREFIX TO STRIP [PREPEND]" (PREFIX "-": any number)
    if (n != 5 && n != 6) return false;
    const from = parseUint(wordAt(1), wordAt(1) + <usize>wordLen(1), <u64>MAX_SIDES - 1);
    const to = parseUint(wordAt(3), wordAt(3) + <usize>wordLen(3), <u64>MAX_SIDES - 1);
    const strip = parseUint(wordAt(4), wordAt(4) + <usize>wordLen(4), 32);
    if (from < 0 || to < 0 || strip < 0) return false;
    const any = wordLen(2) == 1 && load<u8>(wordAt(2)) == 0x2d;
    return b2buaRuleAdd(<i32>from, wordAt(2), any ? 0 : wordLen(2), <i32>to, <u32>strip, n == 6 ? wordAt(5) : 0, n == 6 ? wordLen(5) : 0);
  }
  if (textIs(wordAt(0), wordLen(0), "addrs")) {
    const s = sideWord(1);
    return s >= 0 && sideSources(s, n);
  }
  if (n == 3 && textIs(wordAt(0), wordLen(0), "drop")) {
    // "drop SIDE NAME": one name of the side's drop list
    const s = sideWord(1);
    return s >= 0 && dropListAdd(side(s) + SIDE_DROPS, B2B_DROP_NAMES, wordAt(2), wordLen(2));
  }
  // "OPTION SIDE VALUE": one byte of the side's record, the VALUE's index in the option's words
  if (n != 3) return false;
  const s = sideWord(1);
  if (s < 0) return false;
  let at: usize = 0;
  let v = -1;
  if (textIs(wordAt(0), wordLen(0), "pai")) {
    // PaiMode
    at = 198;
    v = oneOf(2, "passthrough", "drop", "from");
  } else if (textIs(wordAt(0), wordLen(0), "accept")) {
    // how a trunk's calls are known (digest: also from any address, when they carry its username and
    // password; the hosts add them to the users our realm checks): a trunk with credentials only
    at = SIDE_DIGEST;
    v = oneOf(2, "address", "digest");
    if (v == 1 && (load<u8>(side(s)) != SideRole.Trunk || sideUserLen(s) == 0)) return false;
  } else if (textIs(wordAt(0), wordLen(0), "transport")) {
    // how calls to a trunk go (its requests to us come on whatever it uses): Proto.UDP 1, TCP 2, TLS 3;
    // configured, or given by the host once it has chosen by RFC 3263 §4.1 (NAPTR) for a trunk by name
    at = 199;
    v = oneOf(2, "udp", "tcp", "tls");
    if (v >= 0) v = v == 0 ? Proto.UDP : v == 1 ? Proto.TCP : Proto.TLS;
  } else if (textIs(wordAt(0), wordLen(0), "called")) {
    at = SIDE_CALLED;
    v = oneOf(2, "ruri", "to", "pcpi");
  } else if (textIs(wordAt(0), wordLen(0), "down")) {
    at = SIDE_DOWN;
    v = oneOf(2, "try", "failover", "refuse");
  } else if (MEDIA_RELAY && textIs(wordAt(0), wordLen(0), "relay")) {
    // "relay SIDE on": the media of this side's calls go through our relay (media/relay.ts)
    at = SIDE_RELAY;
    v = oneOf(2, "off", "on");
  } else if (MEDIA_RELAY && textIs(wordAt(0), wordLen(0), "relayif")) {
    // "relayif SIDE N": the legs facing this side are on relay interface N (cfg kind RelayAddress)
    at = SIDE_IFACE;
    v = <i32>parseUint(wordAt(2), wordAt(2) + <usize>wordLen(2), <u64>RELAY_IFACES - 1);
  }
  if (at != 0 && v >= 0) {
    store<u8>(side(s) + at, <u8>v);
    // the trunk's registrations go the same way (a transport the host chose by RFC 3263: they waited for it)
    if (at == 199) regSideTransport(s, <u32>v);
    return true;
  }
  if (textIs(wordAt(0), wordLen(0), "monitor")) {
    // "monitor SIDE SECONDS": a trunk pinged with OPTIONS every SECONDS (5..3600), the first at the next
    // timer run; down while a ping goes unanswered (sideDown)
    const secs = parseUint(wordAt(2), wordAt(2) + <usize>wordLen(2), 3600);
    if (secs < 5 || load<u8>(side(s)) != SideRole.Trunk) return false;
    store<u16>(side(s) + SIDE_PING, <u16>secs);
    return tuTimerSet(Owner.Monitor, <u32>s + 1, 1);
  }
  if (textIs(wordAt(0), wordLen(0), "number")) {
    // "number SIDE +15550000": a trunk's calling number for callers with none of its gin block (callerNumber)
    const nl = wordLen(2);
    // (a pattern that matches itself has no x: one number)
    if (load<u8>(side(s)) != SideRole.Trunk || !blockValid(wordAt(2), nl) || !blockMatch(wordAt(2), nl, wordAt(2), nl)) return false;
    store<u8>(side(s), <u8>nl, SIDE_NUMBER);
    memory.copy(side(s) + SIDE_NUMBER + 1, wordAt(2), nl);
    return true;
  }
  if (wordLen(0) == 8 && load<u8>(wordAt(0)) == 0x66) {
    // "failover SIDE OTHER": calls to SIDE that fail there (408, 5xx, no answer) go to OTHER once
    const b = sideWord(2);
    if (b < 0 || b == s) return false;
    store<u8>(side(s), <u8>(b + 1), 197);
    return true;
  }
  return false;
}

export function b2buaCallsInUse(): i32 {
  let n = 0;
  for (let i = 0; i < B2B_CALLS; i++) if (load<u8>(rec(i)) != 0) n++;
  return n;
}
export function b2buaState(i: i32): B2bState { return i >= 0 && i < B2B_CALLS ? <B2bState>load<u8>(rec(i)) : B2bState.Free; }

/** The side request (d) from `src` belongs to, or -1: a stranger. */
function sideOf(d: Decoded, src: Peer, now: i64): i32 {
  for (let s = 0; s < MAX_SIDES; s++) {
    if (load<u8>(side(s)) == SideRole.Trunk && (sidePeer(s).sameAddress(src) || sideSource(s, src))) return s;
  }
  for (let s = 0; s < MAX_SIDES; s++) {
    if (load<u8>(side(s)) != SideRole.Registrar) continue;
    // a registered phone, calling from where it registered
    const n = registrarLookup(d.from.uri, now, targets);
    for (let k = 0; k < n; k++) {
      const b = targets.source(k);
      if (b.sameAddress(src) && b.port == src.port) return s;
    }
    return -1;
  }
  return -1;
}

/**
 * A call from no trunk's address and no registered phone (call a, INVITE v): when a trunk takes calls by
 * digest, its credentials decide (RFC 3261 §22.3, Proxy-Authorization for our realm). Returns the side
 * whose username authenticated; -1 when no side takes digest or the user who authenticated is no
 * trunk's (the caller answers 403); -2 when answered here: 407 with our challenge (no credentials, or a
 * stale nonce), or 403 for wrong ones (an auth-fail event, as the proxy's).
 */
function digestSide(a: i32, v: MessageView, d: Decoded, src: Peer, now: i64): i32 {
  let any = false;
  for (let s = 0; s < MAX_SIDES; s++) any = any || load<u8>(side(s), SIDE_DIGEST) != 0;
  if (!any) return -1;
  const verdict = authCheck(v, true, now);
  if (verdict == AuthVerdict.Ok) {
    for (let s = 0; s < MAX_SIDES; s++) {
      if (load<u8>(side(s), SIDE_DIGEST) != 0 && userFind(sideUser(s), sideUserLen(s)) == authResult.userIndex) return s;
    }
    return -1;
  }
  if (verdict == AuthVerdict.NoCredentials || verdict == AuthVerdict.Stale) {
    tw.begin(TEXT, TEXT_CAP);
    writeChallenge(tw, true, verdict == AuthVerdict.Stale, now);
    const n = tw.ok ? tw.finish() : 0;
    uasRespond(a, n != 0 ? 407 : 503, now, null, 0, TEXT, n);
    return -2;
  }
  eventBegin(EventKind.AuthFail, <i32>verdict, now, 0, src);
  if (authResult.userLen != 0) eventText(0, authResult.user, authResult.userLen);
  eventText(1, v.base + <usize>v.uriOff, v.uriLen);
  eventText(2, d.callId, d.callIdLen);
  if (pikeFail(src, now) == PikeVerdict.NewlyBlocked) eventBegin(EventKind.FloodBlocked, 0, now, 0, src); // guessing counts
  uasRespond(a, 403, now);
  return -2;
}

function hostText(s: i32): usize { return side(s) + 36; }
function sideUser(s: i32): usize { return side(s) + 101; }
function sideUserLen(s: i32): u32 { return <u32>load<u8>(side(s), 3); }
function sidePass(s: i32): usize { return side(s) + 133; }
function sidePassLen(s: i32): u32 { return <u32>load<u8>(side(s), 100); }
function hostLen(s: i32): u32 { return <u32>load<u8>(side(s), 2); }

/** "sip:" user "@" host into the text area; its start (its length: since()). */
function sipUri(user: usize, userLen: u32, host: usize, len: u32): usize {
  const at = tw.ptr;
  tw.lit("sip:");
  if (userLen != 0) {
    tw.bytes(user, userLen);
    tw.byte(0x40);
  }
  tw.bytes(host, len);
  return at;
}
function since(at: usize): u32 { return <u32>(tw.ptr - at); }

// ---- trunk monitoring (static mode: OPTIONS pings) ---------------------------------------------------

/**
 * A configured trunk's address `dest` of side s (transport 0; a registered phone's has its own): the first
 * transport of the side's protocol (UDP unless configured) and of dest's address family; on TCP the host
 * connects, or reuses the connection it has to that address (conn 0).
 */
function trunkTransport(s: i32, dest: Peer): void {
  if (dest.transport != 0) return;
  const proto = load<u8>(side(s), 199);
  const u = transportFor(proto != 0 ? <Proto>proto : Proto.UDP, <Family>dest.family);
  if (u != null) dest.transport = <u8>u.id;
}

/** Side s is down: all our registrations with its provider are down, or it left our last ping unanswered. */
function sideDown(s: i32): bool {
  return load<u8>(side(s) + SIDE_DEAD) != 0 || regSideDown(s);
}

/** The caller handle of side s's ping (its own leg: no call record, no generation). */
function pingUser(s: i32): u32 { return (<u32>Leg.Ping << 15) | (<u32>s + 1); }

const pingDest = USER_AGENT ? new Peer() : changetype<Peer>(0);
const UP_TEXT: usize = USER_AGENT ? memory.data<u8>([0x75, 0x70, 0x64, 0x6f, 0x77, 0x6e]) : 0; // "updown"
const DOWN_TEXT: usize = UP_TEXT + 2;

/**
 * Side `user - 1`'s ping timer (host/dispatch.ts, Owner.Monitor): an OPTIONS to the trunk, outside any
 * dialog (RFC 3261 §11.1: sip:HOST as Request-URI and To, From our address with a tag, a new Call-ID).
 * When it cannot go (no transport, no room) it counts as unanswered and the next is due as usual.
 */
export function b2buaPing(user: u32, now: i64): void {
  const s = <i32>user - 1;
  if (s < 0 || s >= MAX_SIDES || load<u16>(side(s) + SIDE_PING) == 0) return;
  pingDest.copyFrom(sidePeer(s));
  trunkTransport(s, pingDest);
  const t = transportById(pingDest.transport);
  if (t == null) { pinged(s, 503, now); return; }
  tw.begin(TEXT, TEXT_CAP);
  const m = methodEntry(Method.OPTIONS);
  out.method = m + 1;
  out.methodLen = <u32>load<u8>(m);
  out.ruri = sipUri(0, 0, hostText(s), hostLen(s)); out.ruriLen = since(out.ruri);
  out.toUri = out.ruri; out.toUriLen = out.ruriLen;
  out.fromName = 0; out.fromNameLen = 0;
  out.fromUri = sipUri(0, 0, t.addr, t.addrLen); out.fromUriLen = since(out.fromUri);
  const tag = tw.ptr;
  hex8(tw, <u32>prngNext());
  out.fromTag = tag; out.fromTagLen = since(tag);
  const cid = tw.ptr;
  hex8(tw, <u32>prngNext());
  hex8(tw, <u32>prngNext());
  tw.byte(0x40);
  tw.bytes(t.addr, t.hostLen);
  out.callId = cid; out.callIdLen = since(cid);
  out.contact = 0; out.contactLen = 0;
  out.extra = 0; out.extraLen = 0;
  out.cseq = 1;
  out.maxForwards = 70;
  out.pass = null;
  out.drop = 0;
  if (!tw.ok || uacSend(out, pingDest, now, pingUser(s)) == 0) pinged(s, 503, now);
}

/**
 * The outcome of side s's ping: `status` its final, 408 no answer (or 503 one that could not go). No
 * answer, or 503 (RFC 3261 §21.5.4: it says it cannot serve now), marks the side down; any other answer
 * up (a provider that answers 404 or 405 to OPTIONS is alive). A change is a trunk-state event. The next
 * ping is due `interval` after this outcome.
 */
function pinged(s: i32, status: u32, now: i64): void {
  uacForget(pingUser(s));
  const dead = status == 408 || status == 503;
  if (dead != (load<u8>(side(s) + SIDE_DEAD) != 0)) {
    store<u8>(side(s) + SIDE_DEAD, dead ? 1 : 0);
    eventBegin(EventKind.TrunkState, <i32>status, now, dead ? 0 : 1, sidePeer(s));
    eventText(0, hostText(s), hostLen(s));
    eventText(3, dead ? DOWN_TEXT : UP_TEXT, dead ? 4 : 2);
  }
  tuTimerSet(Owner.Monitor, <u32>s + 1, now + <i64>load<u16>(side(s) + SIDE_PING) * 1000);
}

/** The pass-through account on trunk side `to` of the caller whose From URI is fu, or -1. */
function passThrough(to: i32, fu: UriRepr): i32 {
  return load<u8>(side(to)) == SideRole.Trunk ? regFollowing(to, fu.user, fu.userLen) : -1;
}

/**
 * The URI whose user part is the number called by INVITE (v, d) from side s, by the side's Called mode:
 * the Request-URI; the To URI; or P-Called-Party-ID's (RFC 3455 §4.2), the Request-URI when it has none
 * (or one that does not parse). A To or P-Called-Party-ID without a user part gives the Request-URI too.
 */
function calledUri(s: i32, v: MessageView, d: Decoded): UriRepr {
  const mode = <Called>load<u8>(side(s), SIDE_CALLED);
  if (mode == Called.To && d.to.uri.userLen != 0) return d.to.uri;
  if (mode == Called.Pcpi) {
    const e = v.other("P-Called-Party-ID");
    if (e >= 0 && decodeNameAddr(v.valPtr(e), v.valPtr(e) + <usize>v.valLen(e), pcpi, NameAddrKind.FromTo) && pcpi.uri.userLen != 0) return pcpi.uri;
  }
  return d.ruri;
}

/**
 * A new INVITE from `src` that the server core opened as call `a` (100 sent): find its side and the
 * side it goes to, and send the B leg; or answer A at once (403 stranger, 404 nobody registered, 483
 * Max-Forwards spent, 503 no room). `v`/`d`: the INVITE.
 */
function newCall(a: i32, v: MessageView, d: Decoded, src: Peer, now: i64): void {
  let from = sideOf(d, src, now);
  if (from < 0) from = digestSide(a, v, d, src, now);
  if (from == -2) return; // challenged, or refused for its credentials
  if (from < 0) { uasRespond(a, 403, now); return; }
  if (d.maxForwards == 0) { uasRespond(a, 483, now); return; }
  const ru = calledUri(from, v, d);
  // a call to a pass-through account's Contact (its provider user called): to the local user it
  // follows, on the side's route; any other number by the side's rules
  const pt = trusted(from) ? regFollowedBy(from, ru.user, ru.userLen) : -1;
  // a user=phone number is taken without its visual separators (RFC 3966: +1-555-0001 is +15550001)
  telNumber(ru.user, ru.userLen, ru.userParam, ru.userParamLen);
  const numP = pt >= 0 ? regLocal(pt) : numberAt;
  const numLen = pt >= 0 ? regLocalLen(pt) : numberLen;
  const r = pt >= 0 ? -1 : ruleFor(from, numP, numLen);
  let to = r >= 0 ? <i32>load<u8>(rule(r), 2) : <i32>load<u8>(side(from), 1);
  // the number on the B side: the rule's strip and prepend applied
  const strip = r >= 0 ? <u32>load<u8>(rule(r), 3) : 0;
  const pre = r >= 0 ? <u32>load<u8>(rule(r), 5) : 0;
  const kept = numLen > strip ? numLen - strip : 0;
  if (pre + kept > NUMBER_CAP) { uasRespond(a, 414, now); return; } // Request-URI too long for us
  if (load<u8>(side(to)) == SideRole.None) { uasRespond(a, 503, now); return; }
  let failedOver = false;
  const down = <Down>load<u8>(side(to), SIDE_DOWN);
  if (down != Down.Try && sideDown(to)) {
    // none of our registrations with that trunk's provider is in force, or it does not answer our
    // pings: its failover side, or 503
    const next = <i32>load<u8>(side(to), 197) - 1;
    if (down == Down.Refuse || next < 0 || load<u8>(side(next)) == SideRole.None) { uasRespond(a, 503, now); return; }
    to = next;
    failedOver = true; // and no second failover from there
  }
  // RFC 3323 §5.2: session privacy toward an untrusted side is our relay's (its addresses in the SDP the
  // callee gets, never the caller's); without one, a caller who made it critical is refused (§5)
  const pv = privacy(v);
  const session = (pv & Priv.Session) != 0 && !trusted(to);
  if (session && (pv & Priv.Critical) != 0 && !(MEDIA_RELAY && relayReady())) { uasRespond(a, 500, now); return; }
  const i = freeRecs.take();
  if (i < 0) { uasRespond(a, 503, now); return; }
  const c = rec(i);
  memory.fill(c, 0, CALL_SIZE);
  if (session) store<u8>(c, 1, 174);
  if (pre != 0) memory.copy(c + 105, rule(r) + 8 + <usize>AFFIX_CAP, pre);
  memory.copy(c + 105 + <usize>pre, numP + <usize>(numLen - kept), kept);
  store<u8>(c, <u8>(pre + kept), 104);
  store<u8>(c, <u8>from, 1);
  store<u8>(c, <u8>to, 2);
  if (failedOver) store<u8>(c, 1, 172);
  store<i32>(c, -1, F.A);
  store<i32>(c, -1, F.DlgA);
  store<i32>(c, -1, F.DlgB);
  store<i32>(c, -1, F.Relay);
  store<i32>(c, -1, F.Prack);
  link(i, F.A, a);
  store<u32>(c, ++generation & 0x3fff, 16);
  // the B leg's tag and Call-ID, from numbers kept so that a retry (digest) sends the same ones
  store<u32>(c, <u32>prngNext(), 88);
  store<u32>(c, <u32>prngNext(), 92);
  store<u32>(c, <u32>prngNext(), 96);
  aDest(i).copyFrom(uasPeer(a));
  const refused = sendInvite(i, v, d, 1, 0, now);
  if (refused == 0) { store<u8>(c, <u8>B2bState.Calling); return; }
  uasRespond(a, refused, now); // the record stays free
  link(i, F.A, -1);
  freeRecs.give(i);
}

/**
 * The caller's user toward trunk `to` [user, user+len) as its calling number, into callerAt/callerLen.
 * A trunk registered for a block of numbers (RFC 6140, SIPconnect registration mode) routes those
 * numbers to us and takes calls from them only: the user as written when it is a number of the block;
 * the block's literal part followed by the user when the user is as many digits as the block has x's
 * (extension "01" of +155500xx calls as +15550001); else the side's configured number, if any; else
 * (and toward any other side) the user as written.
 */
let callerAt: usize = 0;
let callerLen: u32 = 0;
function callerNumber(to: i32, user: usize, len: u32): void {
  callerAt = user;
  callerLen = len;
  const g = regSideBlock(to);
  if (g < 0) return;
  const bp = regBlock(g), bl = regBlockLen(g);
  if (blockMatch(bp, bl, user, len)) return;
  let xs: u32 = 0;
  while (xs < bl && load<u8>(bp + <usize>(bl - 1 - xs)) == 0x78) xs++;
  let digits = len == xs && xs > 0;
  for (let k: u32 = 0; digits && k < len; k++) digits = <u32>load<u8>(user + <usize>k) - 0x30 <= 9;
  if (digits) {
    const buf = memory.data(<i32>BLOCK_CAP);
    callerAt = buf;
    memory.copy(buf, bp, bl - xs);
    memory.copy(buf + <usize>(bl - xs), user, len);
    callerLen = bl;
    return;
  }
  const nl = <u32>load<u8>(side(to), SIDE_NUMBER);
  if (nl != 0) {
    callerAt = side(to) + SIDE_NUMBER + 1;
    callerLen = nl;
  }
}

/**
 * Write and send call i's B-leg INVITE from A's INVITE (v, d) with CSeq `cseq`; with `auth` 401 or 407,
 * it carries our answer to the challenge parsed last (auth/client.ts) as Authorization or
 * Proxy-Authorization. Returns 0 when sent, or the status to answer A with (404, 503).
 */
function sendInvite(i: i32, v: MessageView, d: Decoded, cseq: u32, auth: u32, now: i64): u32 {
  const c = rec(i);
  const to = <i32>load<u8>(c, 2);
  const ru: UriRepr = d.ruri;
  const num = c + 105;
  const numLen = <u32>load<u8>(c, 104);
  tw.begin(TEXT, TEXT_CAP);
  // the Request-URI and the next hop: the trunk's address, or where the callee registered from
  const dest = bDest(i);
  let ruri: usize;
  if (load<u8>(side(to)) == SideRole.Trunk) {
    ruri = sipUri(num, numLen, hostText(to), hostLen(to));
    dest.copyFrom(sidePeer(to));
    // a trunk's name without a port: target k (+173) of the host's RFC 3263 order, drawn with the call's seed
    if (dest.family == <u8>Family.Name && dest.port == 0) dest.reserved = (load<u32>(c, 92) & 0xffffff00) | <u32>load<u8>(c, 173);
  } else {
    // the registered phone of the number (as rewritten), found by user as the registrar keys it
    memory.copy(changetype<usize>(lookupUri), changetype<usize>(ru), offsetof<UriRepr>());
    lookupUri.user = num;
    lookupUri.userLen = numLen;
    lookupUri.hasUser = numLen != 0;
    if (registrarLookup(lookupUri, now, targets) == 0) return 404;
    ruri = tw.ptr;
    const u = targets.uri(0);
    const ul = targets.uriLen(0);
    let n = ul;
    for (let k: u32 = 0; k < ul; k++) if (load<u8>(u + <usize>k) == 0x3f) { n = k; break; } // no URI headers (§19.1.5)
    tw.bytes(u, n);
    dest.copyFrom(targets.source(0));
  }
  out.ruri = ruri; out.ruriLen = since(ruri);
  trunkTransport(to, dest);
  const t = transportById(dest.transport);
  if (t == null) return 503;
  // From: the caller's user at our host on the B side (its own tag), or anonymous when the caller asked
  // for privacy (RFC 3323 §4.1.1.3); To: the callee's user there
  const fu: UriRepr = d.from.uri;
  const hide = (privacy(v) & Priv.Hide) != 0;
  // a caller with a pass-through account on that trunk calls as that account (its user, its credentials);
  // any other caller toward a trunk registered for a number block calls as a number of it (callerNumber)
  const pt = passThrough(to, fu);
  telNumber(fu.user, fu.userLen, fu.userParam, fu.userParamLen);
  callerNumber(to, numberAt, numberLen);
  const fuser = pt >= 0 ? regUser(pt) : callerAt;
  const fuserLen = pt >= 0 ? regUserLen(pt) : callerLen;
  const nameAt = tw.ptr;
  if (hide) tw.lit("\"Anonymous\"");
  out.fromName = nameAt; out.fromNameLen = since(nameAt);
  const fromAt = tw.ptr;
  if (hide) tw.lit("sip:anonymous@anonymous.invalid");
  else sipUri(fuser, fuserLen, hostText(to), hostLen(to));
  out.fromUri = fromAt; out.fromUriLen = since(fromAt);
  const toAt = sipUri(num, numLen, hostText(to), hostLen(to));
  out.toUri = toAt; out.toUriLen = since(toAt);
  const tagAt = tw.ptr;
  hex8(tw, load<u32>(c, 88));
  out.fromTag = tagAt; out.fromTagLen = since(tagAt);
  const cidAt = tw.ptr;
  hex8(tw, load<u32>(c, 92));
  hex8(tw, load<u32>(c, 96));
  tw.byte(0x40);
  tw.bytes(t.addr, t.hostLen);
  out.callId = cidAt; out.callIdLen = since(cidAt);
  const ctAt = tw.ptr;
  tw.lit("<sip:");
  tw.bytes(t.addr, t.addrLen);
  if (t.reliable) { tw.text(T_TRANSPORT); tw.text(protoParam(t.proto)); } // tcp or tls
  tw.byte(0x3e);
  out.contact = ctAt; out.contactLen = since(ctAt);
  const m = methodEntry(Method.INVITE);
  out.method = m + 1;
  out.methodLen = <u32>load<u8>(m);
  const extraAt = tw.ptr;
  if (auth != 0) {
    // RFC 3261 §22.2/22.3: our answer to the trunk's challenge, for this INVITE's Request-URI
    if (pt >= 0) authorizationLine(tw, auth, out.method, out.methodLen, out.ruri, out.ruriLen, regAuth(pt), regAuthLen(pt), regPass(pt), regPassLen(pt), <u32>prngNext());
    else authorizationLine(tw, auth, out.method, out.methodLen, out.ruri, out.ruriLen, sideUser(to), sideUserLen(to), sidePass(to), sidePassLen(to), <u32>prngNext());
  }
  relLine(v);
  if (paiMode(to) == PaiMode.From && (trusted(to) || !hide)) {
    // RFC 3325 §9.1: the identity we assert for the caller (see PaiMode)
    tw.bytes(PAI, PAI_LEN);
    tw.lit(": <");
    sipUri(fuser, fuserLen, hostText(to), hostLen(to));
    tw.lit(">\r\n");
  }
  out.extra = extraAt; out.extraLen = since(extraAt);
  if (!tw.ok) return 503; // the texts did not fit: refused, never cut
  out.cseq = cseq;
  out.maxForwards = d.maxForwards < 0 ? 70 : <u32>d.maxForwards - 1;
  out.pass = v;
  out.drop = dropsFor(<i32>load<u8>(c, 1), to, v);
  if (MEDIA_RELAY) {
    const sdpStatus = relayBody(i, 0, v, dest.family, d.callId, d.callIdLen);
    if (sdpStatus != 0) return sdpStatus;
  }
  if (uacSend(out, dest, now, handle(i, Leg.Invite)) == 0) return 503;
  // a late offer (no body): B's 2xx carries the offer, and our ACK must carry A's answer, from A's ACK
  if (v.bodyLen == 0) uacDeferAck(handle(i, Leg.Invite));
  return 0;
}

/**
 * The drop list (wire/emit.ts) for message v of side `from`'s leg carried to side `to`'s, built in DROPS:
 * `to`'s own names; P-Preferred-Identity, Replaces and Join, always; P-Asserted-Identity when `from` is not trusted, when
 * `to` takes none or ours only (PaiMode Drop, From), or when `to` is not trusted and v asks for privacy.
 */
function dropsFor(from: i32, to: i32, v: MessageView): usize {
  const own = side(to) + SIDE_DROPS;
  memory.copy(DROPS, own, 1 + <usize>load<u8>(own) * DROP_ENTRY);
  dropListAdd(DROPS, DROPS_CAP, PPI, PPI_LEN);
  dropListAdd(DROPS, DROPS_CAP, REPLACES, 8);
  dropListAdd(DROPS, DROPS_CAP, JOIN, 4);
  const pv = privacy(v);
  if (!trusted(from) || paiMode(to) != PaiMode.Passthrough || (!trusted(to) && (pv & Priv.Hide) != 0)) {
    dropListAdd(DROPS, DROPS_CAP, PAI, PAI_LEN);
  }
  if (!trusted(to) && (pv & Priv.Header) != 0) {
    let p = PRIVATE_HEADERS;
    for (let k = 0; k < 8; k++) {
      const n = <u32>load<u8>(p);
      dropListAdd(DROPS, DROPS_CAP, p + 1, n);
      p += 1 + <usize>n;
    }
  }
  return DROPS;
}

/** What a Privacy header asks (RFC 3323 §4.2): Hide the sender's identity (id, user or header; RFC 3325
 * §9.3), Header (header), Session (session), Critical (critical). */
const enum Priv { Hide = 1, Header = 2, Session = 4, Critical = 8 }

/**
 * What v's Privacy asks (Priv bits; none: 0). Values are ";"-separated, white space around them.
 */
function privacy(v: MessageView): u32 {
  let bits: u32 = 0;
  for (let i = 0; i < v.count; i++) {
    if (v.hdr(i) != Hdr.Privacy) continue;
    let p = v.valPtr(i);
    const end = p + <usize>v.valLen(i);
    while (p < end) {
      while (p < end && isAny(<u32>load<u8>(p), Cls.WS)) p++;
      const s = p;
      while (p < end && isAny(<u32>load<u8>(p), Cls.TOKEN)) p++;
      const n = <u32>(p - s);
      if (textIs(s, n, "id") || textIs(s, n, "user")) bits |= Priv.Hide;
      else if (textIs(s, n, "header")) bits |= Priv.Hide | Priv.Header;
      else if (textIs(s, n, "session")) bits |= Priv.Session;
      else if (textIs(s, n, "critical")) bits |= Priv.Critical;
      while (p < end && load<u8>(p) != 0x3b) p++; // to the next ";"
      p++;
    }
  }
  return bits;
}

/** The relay interface of call i's party A (at 1) or B (at 2): its side's (relayif). */
function partyIface(i: i32, at: i32): u8 { return load<u8>(side(<i32>load<u8>(rec(i) + <usize>at)) + SIDE_IFACE); }

/** Whether call i's media go through our relay: either side asks for it, and the relay is configured. */
function relayed(i: i32): bool {
  return MEDIA_RELAY && relayReady() && (load<u8>(rec(i), 174) != 0 ||
    load<u8>(side(<i32>load<u8>(rec(i), 1)) + SIDE_RELAY) != 0 || load<u8>(side(<i32>load<u8>(rec(i), 2)) + SIDE_RELAY) != 0);
}

/**
 * The body of v, from call i's party `side` (0 A, 1 B), as the other party (signalling over `toFamily`)
 * gets it: when the call is relayed and v carries SDP, rewritten by the relay (media/relay.ts) and set as
 * v's altBody. 0 when v goes as it is or rewritten; 488 for SDP that does not parse; 503 when the relay
 * has no room. `callId` (A's) names the call in the host's usage records of the relay.
 */
function relayBody(i: i32, side: i32, v: MessageView, toFamily: u8, callId: usize, callIdLen: u32): u32 {
  if (!sdpBody(v) || !(relayActive(i) || relayed(i))) return 0;
  const n = relaySdp(i, side, v.base + <usize>v.bodyOff, v.bodyLen, toFamily, callId, callIdLen, <u32>partyIface(i, 1) | <u32>partyIface(i, 2) << 8);
  if (n < 0) return n == SDP_BAD ? 488 : 503;
  v.altBody = SDP_OUT;
  v.altBodyLen = <u32>n;
  return 0;
}

/** A's Call-ID (the call's name in the relay's usage records): the A dialog's, kept by dialog/ua.ts. */
function callIdOf(i: i32): usize {
  const d = load<i32>(rec(i), F.DlgA);
  return d >= 0 ? uaDialogTextPtr(d, 0) : 0;
}
function callIdLenOf(i: i32): u32 {
  const d = load<i32>(rec(i), F.DlgA);
  return d >= 0 ? uaDialogTextLen(d, 0) : 0;
}
/** The same before A's dialog exists (B's first answer): B's response's Call-ID then. */
function callIdOfB(i: i32, v: MessageView): usize {
  const h = v.first(Hdr.CallId);
  return load<i32>(rec(i), F.DlgA) >= 0 ? callIdOf(i) : h >= 0 ? v.valPtr(h) : 0;
}
function callIdLenOfB(i: i32, v: MessageView): u32 {
  const h = v.first(Hdr.CallId);
  return load<i32>(rec(i), F.DlgA) >= 0 ? callIdLenOf(i) : h >= 0 ? v.valLen(h) : 0;
}

/** The host reports that a leg of call i's relay went idle (no media either way for its idle time) or
 * could not be bound (what, RelayReport): the call ends, with BYE on both legs once answered (A's
 * fire-and-forget: its final ends its dialog, §15.1.1; B's ends the call record), or with 500 to A and a
 * CANCEL to B while it rings. */
export function b2buaRelayReport(leg: i32, now: i64): void {
  const i = relayLegSession(leg);
  if (i < 0 || i >= B2B_CALLS) return;
  const c = rec(i);
  const st = load<u8>(c);
  if (st == B2bState.Calling) {
    const a = load<i32>(c, F.A);
    if (a >= 0) uasRespond(a, 500, now);
    cancelB(i, now);
    relayEnd(i);
  } else if (st == B2bState.Up) {
    const a = load<i32>(c, F.A);
    link(i, F.A, -1);
    if (a >= 0) uasRelease(a);
    const dlgA = load<i32>(c, F.DlgA);
    link(i, F.DlgA, -1);
    if (dlgA >= 0 && uacSendInDialog(dlgA, Method.BYE, aDest(i), now, handle(i, Leg.ByeA)) == 0) uaDialogEnd(dlgA);
    relayEnd(i);
    ackB(i, null);
    bye(i, Leg.ByeB, now);
  }
}

/**
 * B's 2xx to a late offer waits for its ACK until A's ACK brings the answer (uacDeferAck): ACK it now
 * with what A's ACK `v` carries (its body through the relay when the call is relayed), or with nothing
 * (v null) when the call ends before A answered. Nothing when B's 2xx was ACKed already (an INVITE
 * with an offer: the client core ACKed it at once).
 */
function ackB(i: i32, v: MessageView | null): void {
  if (i < 0) return;
  const c = rec(i);
  if (v != null) {
    if (MEDIA_RELAY && relayBody(i, 0, v, bDest(i).family, callIdOf(i), callIdLenOf(i)) != 0) v = null; // not an answer we can relay
  }
  uacAckLate(handle(i, Leg.Invite), bDest(i), v, v != null ? dropsFor(<i32>load<u8>(c, 1), <i32>load<u8>(c, 2), v) : 0);
}

/** Call i is over: its records freed (its dialogs have ended already or end with our BYE's final). */
function free(i: i32): void {
  if (MEDIA_RELAY) relayEnd(i);
  uacForget(handle(i, Leg.Invite));
  uacForget(handle(i, Leg.ReqA));
  uacForget(handle(i, Leg.ReqB));
  uacForget(handle(i, Leg.Prack));
  const bye = load<u32>(rec(i), 20);
  if (bye != 0) uacForget(bye);
  link(i, F.A, -1);
  link(i, F.DlgA, -1);
  link(i, F.DlgB, -1);
  link(i, F.Relay, -1);
  link(i, F.Prack, -1);
  if (load<u8>(rec(i)) != B2bState.Free) freeRecs.give(i);
  store<u8>(rec(i), <u8>B2bState.Free);
}

/** Send our BYE on leg `leg` (ByeA/ByeB) of call i; the call ends when it is answered or times out. */
function bye(i: i32, leg: Leg, now: i64): void {
  const c = rec(i);
  const dlg = leg == Leg.ByeA ? load<i32>(c, 8) : load<i32>(c, 12);
  const user = handle(i, leg);
  store<u8>(c, <u8>B2bState.Ending);
  if (dlg >= 0 && uacSendInDialog(dlg, Method.BYE, leg == Leg.ByeA ? aDest(i) : bDest(i), now, user) != 0) {
    store<u32>(c, user, 20);
  } else {
    // nothing could be sent (no room): the dialog is ours to forget; the peer's own BYE or session
    // timer ends its side, and a BYE of its for a dialog we no longer know gets 481
    if (dlg >= 0) uaDialogEnd(dlg);
    free(i);
  }
}

/** What the server core reported for a request the user agent took (host/dispatch.ts). */
export function b2buaServerEvent(e: UasIn, v: MessageView, d: Decoded, src: Peer, now: i64): void {
  if (e.kind == UasEvent.NewCall) { newCall(e.call, v, d, src, now); return; }
  if (e.kind == UasEvent.InDialog) { relayInDialog(e.call, e.dlg, v, now); return; }
  if (e.kind == UasEvent.Ack) { ackB(callByDialog(e.dlg), v); return; }
  if (e.kind == UasEvent.Options) {
    // a keepalive or health check, answered here (never relayed): 200 to a side, or to a ping of the
    // server itself (no user part); a stranger asking about a number learns nothing (403)
    uasAnswerOptions(v, d, src, sideOf(d, src, now) >= 0 || !d.ruri.hasUser ? 200 : 403, now);
    return;
  }
  if (e.kind == UasEvent.Cancelled) {
    const i = callByUas(e.call);
    if (i < 0) return;
    const c = rec(i);
    if (load<i32>(c, F.Relay) == e.call) {
      // a request within the call that we were relaying was cancelled (487 sent): cancel ours too
      link(i, F.Relay, -1);
      uacCancel(handle(i, Leg.ReqA), now);
      uacCancel(handle(i, Leg.ReqB), now);
    } else if (load<u8>(c) == B2bState.Calling) {
      // A gave up (487 sent to it): cancel B; a 2xx that crosses the CANCEL gets our BYE
      cancelB(i, now);
    }
    return;
  }
  if (e.kind != UasEvent.Bye) return;
  const i = callByDialog(e.dlg);
  if (i < 0) return;
  const c = rec(i);
  const st = load<u8>(c);
  endRelay(i, e.dlg, now);
  if (load<i32>(c, F.DlgA) == e.dlg) {
    // A hung up (answered 200 by the server core): hang up B, or, if we were hanging up A, done;
    // a BYE in A's early dialog ended its INVITE with 487 (§15.1.2): cancel B, as for a CANCEL
    if (st == B2bState.Calling) { cancelB(i, now); return; }
    link(i, F.DlgA, -1);
    if (st == B2bState.Up) bye(i, Leg.ByeB, now);
    else if (st == B2bState.Ending && legOf(load<u32>(c, 20)) == Leg.ByeA) free(i);
    return;
  }
  link(i, F.DlgB, -1);
  if (st == B2bState.Up) {
    const a = load<i32>(c, F.A);
    link(i, F.A, -1);
    if (a >= 0) uasRelease(a); // A's dialog stays ours until our BYE's final
    bye(i, Leg.ByeA, now);
  } else if (st == B2bState.Ending && legOf(load<u32>(c, 20)) == Leg.ByeB) {
    free(i);
  }
}

/** A's INVITE ended unanswered (487 sent: its CANCEL, or its BYE in the early dialog): cancel B; a 2xx
 * that crosses our CANCEL gets our BYE. */
function cancelB(i: i32, now: i64): void {
  const c = rec(i);
  store<u8>(c, <u8>B2bState.Cancelling);
  link(i, F.A, -1);
  link(i, F.DlgA, -1); // A's early dialog ended with the 487
  uacCancel(handle(i, Leg.Invite), now);
}

/**
 * Call i's dialog `dlg` was ended by its peer's BYE while a request was being relayed (RFC 3261 §15.1.2;
 * RFC 5407 §3.5, a BYE crossing a re-INVITE). One that came from `dlg` was answered 487 by the server
 * core with the BYE. One from the other leg was being relayed into `dlg`: it is answered 487 here (the
 * session it would change is over; its leg gets our BYE next), and our copy's outcome is forgotten, so a
 * late answer from the dialog that ended makes nothing (no dialog from a late 2xx; a non-2xx final is
 * still ACKed by its transaction).
 */
function endRelay(i: i32, dlg: i32, now: i64): void {
  const c = rec(i);
  // a PRACK being relayed: its sender's is answered 481 (the dialog it was in, or the one it went to,
  // is over), and our copy's answer is nothing to anyone
  const p = load<i32>(c, F.Prack);
  link(i, F.Prack, -1);
  if (p >= 0 && uasState(p) == UasState.Proceeding) uasRespond(p, 481, now);
  uacForget(handle(i, Leg.Prack));
  const r = load<i32>(c, F.Relay);
  link(i, F.Relay, -1);
  if (r < 0 || uasState(r) != UasState.Proceeding || uasDialog(r) == dlg) return;
  uasRespond(r, 487, now);
  uacForget(handle(i, load<i32>(c, 8) == dlg ? Leg.ReqA : Leg.ReqB));
}

/**
 * A request within one leg's dialog (server record `r`): the same request within the other leg's
 * dialog, its headers and body passed through (hold and resume are re-INVITEs or UPDATEs with new SDP;
 * INFO carries DTMF); its responses come back through b2buaClientResponse. One at a time per call:
 * another while one is relayed gets 491 (an INVITE or UPDATE: an offer meeting one in progress, §14.2,
 * RFC 3311 §5.2) or 500 with a Retry-After of 0-10 s (the rest, §14.2). A 491 the other leg gives ours is relayed
 * back as it is: the sender retries per §14.1 with an offer of its own (README, "Re-INVITE glare").
 * A method we cannot write (an extension) gets 501.
 */
function relayInDialog(r: i32, dlg: i32, v: MessageView, now: i64): void {
  const i = callByDialog(dlg);
  const st = i >= 0 ? load<u8>(rec(i)) : B2bState.Free;
  if (st == B2bState.Up || st == B2bState.Calling) { // Calling: the legs' early dialogs
    const c = rec(i);
    const fromA = load<i32>(c, F.DlgA) == dlg;
    // a PRACK goes beside the request in progress (RFC 3262: it acknowledges that request's reliable
    // provisional), one at a time too
    const prack = v.method == Method.PRACK;
    const f = prack ? F.Prack : F.Relay;
    if (load<i32>(c + <usize>f) >= 0) {
      // one request at a time: an offer meets one in progress (491, §14.2 / RFC 3311 §5.2), another
      // request is asked to come back later (500 with Retry-After, uasRespond)
      uasRespond(r, v.method == Method.INVITE || v.method == Method.UPDATE ? 491 : 500, now);
      return;
    }
    if (v.method == Method.Unknown) { uasRespond(r, 501, now); return; }
    const leg = prack ? Leg.Prack : fromA ? Leg.ReqB : Leg.ReqA;
    const other = fromA ? load<i32>(c, 12) : load<i32>(c, 8);
    if (other < 0) { uasRespond(r, 481, now); return; } // the other leg has no dialog (yet, or any more)
    if (MEDIA_RELAY) {
      // an offer or answer within the call (re-INVITE, UPDATE, PRACK): through the relay
      const e = relayBody(i, fromA ? 0 : 1, v, (fromA ? bDest(i) : aDest(i)).family, callIdOf(i), callIdLenOf(i));
      if (e != 0) { uasRespond(r, e, now); return; }
    }
    link(i, f, r);
    if (prack) store<u8>(c, fromA ? 1 : 0, 175);
    const drops = fromA ? dropsFor(<i32>load<u8>(c, 1), <i32>load<u8>(c, 2), v) : dropsFor(<i32>load<u8>(c, 2), <i32>load<u8>(c, 1), v);
    // a PRACK acknowledges the other leg's reliable provisional to our INVITE there (a re-INVITE we
    // relayed, or the call's own INVITE on the B leg): its RAck names that INVITE's CSeq. A relayed
    // re-INVITE offers 100rel when its sender's did, as the call's INVITE does (newCall)
    let extraLen: u32 = 0;
    if (prack) {
      let cseq = uacInviteCseq(handle(i, fromA ? Leg.ReqB : Leg.ReqA));
      if (cseq == 0 && fromA) cseq = <u32>load<u8>(c, 3) + 1; // the B leg's INVITE: 1, one more per challenge
      if (cseq != 0) extraLen = rackLine(v, drops, cseq);
    } else if (v.method == Method.INVITE) {
      tw.begin(TEXT, TEXT_CAP);
      relLine(v);
      extraLen = tw.finish();
    }
    if (uacSendInDialog(other, v.method, fromA ? bDest(i) : aDest(i), now, handle(i, leg), v, drops, TEXT, extraLen) == 0) {
      link(i, f, -1);
      uasRespond(r, 503, now);
    }
    return;
  }
  uasRespond(r, 481, now); // a dialog of ours that no call holds now (ending): §12.2.2
}

/**
 * RFC 3262 §7.2: "RAck: RSEQ CSEQ INVITE" for the leg a PRACK (v) goes to, RSEQ from v's (the RSeq that
 * leg's provisional carried, passed across unchanged), CSEQ that leg's INVITE's (our re-INVITE there, or
 * the B leg's INVITE: 1, or one more per challenge answered); written in TEXT, and "RAck" added to the
 * drop list `drops` so that v's is not carried. Its length; 0 when v has no RAck that parses (its own then
 * passes as it is).
 */
function rackLine(v: MessageView, drops: usize, cseq: u32): u32 {
  const h = v.other("RAck");
  if (h < 0) return 0;
  const p = v.valPtr(h);
  const end = p + <usize>v.valLen(h);
  let q = p;
  while (q < end && isAny(<u32>load<u8>(q), Cls.DIGIT)) q++;
  if (q == p || q - p > 10) return 0;
  dropListAdd(drops, DROPS_CAP, RACK, 4);
  tw.begin(TEXT, TEXT_CAP);
  tw.lit("RAck: ");
  tw.bytes(p, <u32>(q - p));
  tw.byte(0x20);
  tw.u32(cseq);
  tw.lit(" INVITE\r\n");
  return tw.finish();
}

/** RFC 3262: the one extension carried across, on an INVITE (the call's or a re-INVITE), as the sender's
 * INVITE v asks for it: reliable provisionals and their PRACKs then relay end to end. Into tw. */
function relLine(v: MessageView): void {
  if (has100rel(v, Hdr.Require)) tw.lit("Require: 100rel\r\n");
  else if (has100rel(v, Hdr.Supported)) tw.lit("Supported: 100rel\r\n");
}

/**
 * RFC 3325 §9.1 in a response: the P-Asserted-Identity line (in TEXT; its length, 0 none) of who answered
 * call i, for A's side when its mode is From: `<sip:NUMBER@HOST>`, NUMBER what A dialled (its INVITE's
 * called number: calledUri), HOST A's side's host; none toward an untrusted side when B's answer `v` asks for
 * privacy. (Passthrough and Drop: dropsFor decides what of B's own passes.)
 */
function assertedLine(i: i32, v: MessageView): u32 {
  const c = rec(i);
  const to = <i32>load<u8>(c, 1);
  if (paiMode(to) != PaiMode.From || (!trusted(to) && (privacy(v) & Priv.Hide) != 0) || !uasStoredRequest(load<i32>(c, F.A))) return 0;
  const ru = calledUri(to, storedView, storedDecoded);
  tw.begin(TEXT, TEXT_CAP);
  tw.bytes(PAI, PAI_LEN);
  tw.lit(": <");
  sipUri(ru.user, ru.userLen, hostText(to), hostLen(to));
  tw.lit(">\r\n");
  return tw.ok ? tw.finish() : 0;
}

/** The status A is given for B's final response `status` (≥ 300). */
function mapFinal(status: u32): u32 {
  if (status == 401 || status == 407) return 503; // B's challenge is not A's to answer (nor to see)
  if (status < 400) return 480; // a redirect's Contacts do not cross: the callee is unavailable here
  return status;
}

/**
 * A response reported to the caller `user` of a client transaction of the user agent (host/dispatch.ts):
 * B's answers to our INVITE, or the finals of our BYEs.
 */
export function b2buaClientResponse(user: u32, status: u32, v: MessageView, now: i64): void {
  if (legOf(user) == Leg.Ping) {
    if (status >= 200) pinged(<i32>(user & 0x7fff) - 1, status, now);
    return;
  }
  const i = callOf(user);
  if (i < 0) return;
  const c = rec(i);
  const st = load<u8>(c);
  const leg = legOf(user);
  if (leg == Leg.ReqA || leg == Leg.ReqB || leg == Leg.Prack) {
    // the other leg's answer to a request we relayed: to the leg that sent it (no 100: ours went)
    const f = leg == Leg.Prack ? F.Prack : F.Relay;
    const r = load<i32>(c + <usize>f);
    if (r < 0 || status == 100) return;
    const toA = leg == Leg.ReqB || (leg == Leg.Prack && load<u8>(c, 175) != 0); // B answered A's request
    if (MEDIA_RELAY && relayBody(i, toA ? 1 : 0, v, (toA ? aDest(i) : bDest(i)).family, callIdOf(i), callIdLenOf(i)) != 0) {
      // an answer the relay cannot take: the request fails for its sender (502, RFC 3261 §21.5.3)
      if (status < 200) return;
      uasRespond(r, 502, now);
      link(i, f, -1);
      return;
    }
    uasRespond(r, status, now, v, toA ? dropsFor(<i32>load<u8>(c, 2), <i32>load<u8>(c, 1), v)
      : dropsFor(<i32>load<u8>(c, 1), <i32>load<u8>(c, 2), v));
    if (status >= 200) {
      link(i, f, -1);
      // a 2xx's slot stays (until the leg's next relayed request or the call's end): a retransmitted
      // 2xx, our ACK lost, finds its dialog and is ACKed again (§13.2.2.4), as our INVITE's is
      if (status >= 300 || leg == Leg.Prack) uacForget(user);
    }
    return;
  }
  if (leg != Leg.Invite) {
    if (status >= 200 && load<u32>(c, 20) == user) free(i); // our BYE answered (its dialog ended with it)
    return;
  }
  if (st == B2bState.Calling) {
    const a = load<i32>(c, 4);
    if (status == 100) return;
    // B's answers carried to A: what A's side may learn of them, and who answered (assertedLine)
    const drops = dropsFor(<i32>load<u8>(c, 2), <i32>load<u8>(c, 1), v);
    const idLen = status > 100 && status < 300 ? assertedLine(i, v) : 0;
    // B's SDP (an answer, or the offer of a late-offer call) through the relay; one it cannot take is
    // not carried: a provisional goes without it, a 2xx fails the call (502 to A, our BYE to B)
    const sdpErr = MEDIA_RELAY && status < 300 ? relayBody(i, 1, v, aDest(i).family, callIdOfB(i, v), callIdLenOfB(i, v)) : 0;
    if (sdpErr != 0 && status >= 200) {
      link(i, F.DlgB, uacDialog(user));
      ackB(i, null);
      uasRespond(a, 502, now);
      bye(i, Leg.ByeB, now);
      return;
    }
    if (sdpErr != 0) { link(i, F.DlgB, uacDialog(user)); link(i, F.DlgA, uasDialog(a)); return; }
    if (status < 200) {
      // 180, 183 with early media: to A; the early dialogs of both legs (a PRACK, an UPDATE within them
      // is relayed: relayInDialog)
      uasRespond(a, status, now, v, drops, TEXT, idLen);
      link(i, F.DlgB, uacDialog(user));
      link(i, F.DlgA, uasDialog(a));
      return;
    }
    if (status < 300) {
      link(i, F.DlgB, uacDialog(user));
      if (!uasRespond(a, status, now, v, drops, TEXT, idLen)) { ackB(i, null); bye(i, Leg.ByeB, now); return; }
      link(i, F.DlgA, uasDialog(a));
      store<u8>(c, <u8>B2bState.Up);
      return;
    }
    link(i, F.DlgB, -1); // B's early dialog, if any, ended with its final (§12.3)
    if ((status == 401 || status == 407) && retryWithCredentials(i, status, v, now)) return;
    if ((status == 408 || (status >= 500 && status < 600)) && failover(i, status, now)) return;
    uasRespond(a, mapFinal(status), now, v, drops);
    free(i);
    return;
  }
  if (st == B2bState.Cancelling) {
    if (status >= 200 && status < 300) {
      // B answered as our CANCEL crossed it: the call is over on A's side, end it on B's
      link(i, F.DlgB, uacDialog(user));
      ackB(i, null);
      bye(i, Leg.ByeB, now);
    } else if (status >= 300) {
      free(i);
    }
  }
}

/**
 * B's side failed the call with `status` (408, 5xx, or no answer: a trunk that is down). A trunk found by
 * its name without a port that timed out or answered 503: the call goes to its next SRV target (RFC 3263
 * §4.3), up to SRV_TARGETS (past the host's last target it drops the INVITE, which times out). Then, once
 * per call, when that side names a failover side, the call goes there instead. Either is a new B leg
 * (its own Call-ID and tag; the same number). False when there is none (the caller answers A).
 */
function failover(i: i32, status: u32, now: i64): bool {
  const c = rec(i);
  let to = <i32>load<u8>(c, 2);
  const k = <u32>load<u8>(c, 173);
  const srv = (status == 408 || status == 503) && bDest(i).family == <u8>Family.Name && bDest(i).port == 0 && k + 1 < SRV_TARGETS;
  const next = <i32>load<u8>(side(to), 197) - 1;
  if (!srv && (next < 0 || load<u8>(c, 172) != 0 || load<u8>(side(next)) == SideRole.None)) return false;
  const a = load<i32>(c, 4);
  if (!uasStoredRequest(a)) return false;
  if (srv) store<u8>(c, <u8>(k + 1), 173);
  else {
    store<u8>(c, 1, 172);
    store<u8>(c, 0, 173);
    to = next;
  }
  store<u8>(c, <u8>to, 2);
  store<u8>(c, 0, 3); // its own challenges, if any
  store<u32>(c, <u32>prngNext(), 88);
  // (+92's top 24 bits are the seed of the SRV order: kept for the next target of the same order)
  if (!srv) store<u32>(c, <u32>prngNext(), 92);
  store<u32>(c, <u32>prngNext(), 96);
  return sendInvite(i, storedView, storedDecoded, 1, 0, now) == 0;
}

/**
 * B's 401/407 to our INVITE: when B's side has credentials, answer the challenge once per call (once
 * more after stale=true: our answer was right, the nonce had expired), sending the INVITE again with
 * the same Call-ID and From tag and the next CSeq (§22.2). False when there is nothing to answer with
 * (the caller maps the final to A).
 */
function retryWithCredentials(i: i32, status: u32, v: MessageView, now: i64): bool {
  const c = rec(i);
  const to = <i32>load<u8>(c, 2);
  const tries = <u32>load<u8>(c, 3);
  if (tries >= 2) return false;
  const h = v.first(status == 401 ? Hdr.WwwAuthenticate : Hdr.ProxyAuthenticate);
  if (h < 0 || !parseChallenge(v.valPtr(h), v.valLen(h))) return false;
  if (tries == 1 && !challenge.stale) return false; // our credentials were refused
  // A's INVITE, kept by the server core, read again; the challenge's spans stay in v (the received slot)
  const a = load<i32>(c, 4);
  if (!uasStoredRequest(a)) return false;
  if (sideUserLen(to) == 0 && passThrough(to, storedDecoded.from.uri) < 0) return false; // nothing to answer with
  store<u8>(c, <u8>(tries + 1), 3);
  return sendInvite(i, storedView, storedDecoded, tries + 2, status, now) == 0;
}

/** A client transaction of caller `user` timed out (a 408 reported by the client core). */
export function b2buaClientTimeout(user: u32, now: i64): void {
  if (legOf(user) == Leg.Ping) {
    pinged(<i32>(user & 0x7fff) - 1, 408, now);
    return;
  }
  const i = callOf(user);
  if (i < 0) return;
  const st = load<u8>(rec(i));
  if (legOf(user) == Leg.ReqA || legOf(user) == Leg.ReqB || legOf(user) == Leg.Prack) {
    const f = legOf(user) == Leg.Prack ? F.Prack : F.Relay;
    const r = load<i32>(rec(i) + <usize>f);
    if (r >= 0) uasRespond(r, 408, now); // the other leg never answered the relayed request
    link(i, f, -1);
    if (legOf(user) == Leg.Prack) uacForget(user);
    return;
  }
  if (legOf(user) == Leg.Invite && st == B2bState.Calling) {
    if (failover(i, 408, now)) return;
    uasRespond(load<i32>(rec(i), 4), 408, now); // B never answered
    free(i);
  } else if (legOf(user) != Leg.Invite || st == B2bState.Cancelling) {
    free(i);
  }
}

/** A's dialog `dlg` ended without a BYE: our 2xx was never ACKed (§13.3.1.4). Hang up B. */
export function b2buaDialogLost(dlg: i32, now: i64): void {
  const i = callByDialog(dlg);
  if (i >= 0 && load<u8>(rec(i)) == B2bState.Up && load<i32>(rec(i), F.DlgA) == dlg) {
    link(i, F.DlgA, -1);
    link(i, F.A, -1);
    ackB(i, null); // a late offer's 2xx still waiting for A's answer
    bye(i, Leg.ByeB, now);
  }
}
