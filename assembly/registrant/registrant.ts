// The registrant (RFC 3261 §10.2): registrations of ours with a provider's registrar, one per trunk account
// or pass-through user, in a fixed table (config.ts REG_ACCOUNTS; none where the core has no user agent).
// A transaction user beside the proxy and the B2BUA: its REGISTERs go through non-INVITE client
// transactions it owns (Owner.Registrant; the record's `user` is the account index + 1), and
// host/dispatch.ts hands it their responses and timeouts and its TU timer (tu/timers.ts: one per
// account, the refresh or the retry).
//
// Each account is one state machine; regSet is its only setter and emits a `trunk-reg` event (code: the
// status that moved it, 0 none, 408 a timeout; value: the new RegState; texts: AOR, registrar address,
// Call-ID, the state's name):
//
//   Idle ──timer──▶ Registering ──2xx──▶ Registered ──timer at half the granted expiry──▶ Refreshing
//                      │  ▲                   ▲                                             │
//                      │  └──── timer ──── Backoff ◀── 5xx, 408, timeout, other failures ───┘
//                      └──403/404──▶ Stopped (no more REGISTERs: a revoked account is not hammered;
//                                              `persist` in its configuration backs off instead)
//   401/407: answered at once with our credentials (auth/client.ts), once per challenge, again only when
//   the next challenge says stale=true; 423: the Min-Expires adopted and sent again at once. Every
//   REGISTER of an account has its Call-ID and From tag (made once, at configuration) and the next CSeq
//   (§10.2.4: a refresh keeps the Call-ID). A failure waits 30 s doubling to 30 min, ±20 % (prngNext),
//   or the response's Retry-After when that is longer, and the next try goes to the account's next
//   registrar address (failover). A registrar address that is a name without a port is located by the
//   host (RFC 3263): a timeout or a 503 there sends the REGISTER at once to the name's next SRV target
//   (§4.3; up to SRV_TARGETS, the host dropping what goes past its last, which times out), and only a
//   round that failed at each of them backs off, the next round starting at target 0; refreshes go to
//   the target that answered (it holds the binding). regShutdown de-registers (Expires: 0) every registered account and
//   stops every timer; regSideDown tells the B2BUA a trunk whose registrations are all down.
//
// A `gin` account (RFC 6140, SIPconnect registration mode) registers once for a block of numbers: its
// Contact is a template without a user part carrying `bnc`, with Require: gin, Proxy-Require: gin and
// Supported: path; everything else (refresh, digest, 423, backoff) is the same. A 2xx's P-Associated-URI
// (RFC 3455) is logged as a `trunk-assoc` event and checked against the block configured for it.
//
// Nothing is allocated after start-up; a configuration text that does not parse or finds the table full
// is refused.

import { REG_ACCOUNTS, USER_AGENT } from "../config";
import { MessageView } from "../wire/view";
import { Decoded } from "../wire/validate";
import { Hdr } from "../wire/hdr";
import { Method, methodEntry } from "../wire/method";
import { Writer } from "../wire/writer";
import { WORK_BUF, WORK_CAP } from "../wire/buffers";
import { parseUint, eqBytes } from "../wire/scan";
import { decodeNameAddr, NameAddrRepr, NameAddrKind } from "../wire/headers/nameaddr";
import { Peer, PEER_SIZE, Family } from "../net/peer";
import { peerFromConfig } from "../net/addr";
import { transportById, transportFor, Proto, Transport, protoParam } from "../net/transports";
import { T_TRANSPORT } from "../wire/tables";
import { prngNext } from "../util/prng";
import {
  rec, handleOf, txnNextHandle, msgPool, clientNonInviteCreate, clientNonInviteOnResponse, Verdict, TxnUp,
  ClientTimerOut, txnRelease, writeVia, hex8, recPeer,
} from "../txn";
import { Owner } from "../tu/owner";
import { tuTimerSet, tuTimerCancel } from "../tu/timers";
import { parseChallenge, authorizationLine, challenge } from "../auth/client";
import { OutRequest, uaWriteOut } from "../dialog/ua";
import { eventBegin, eventText, EventKind } from "../events";
import { UriRepr, UriScheme } from "../wire/uri";
import { registrarLookup, targets } from "../registrar/lookup";
import { BLOCK_CAP, blockValid, blockMatch } from "../util/numblock";
import { SRV_TARGETS } from "../host/numbers";
import { tableAlloc } from "../util/alloc";

export const enum RegState { Idle = 0, Registering = 1, Registered = 2, Refreshing = 3, Backoff = 4, Stopped = 5 }

/** The first wait after a failure, and the longest (ms). */
export const BACKOFF_FIRST: i64 = 30_000;
export const BACKOFF_MAX: i64 = 1_800_000;

const ADDR_CAP: u32 = 48;
const USER_CAP: u32 = 32;
const DOMAIN_CAP: u32 = 64;
const PASS_CAP: u32 = 64;
const enum Flag { Used = 1, Persist = 2, Dereg = 4, Gin = 8, Follow = 16, Tcp = 32, Tls = 64, Wait = 128 }
// Account record: +0 u8 state, +1 u8 flags, +2 u8 addresses, +3 u8 the current address, +4 u8 answers to
// challenges since the last final other than 401/407, +5 u8 user length, +6 u8 domain length, +7 u8 auth
// user length, +8 u8 password length, +9 u8 side (255: none), +10 u8 423s followed in a row, +12 u32 CSeq, +16 u32 expires configured,
// +20 u32 expires asked (a 423's Min-Expires adopted), +24 u32 expires granted, +28 u32 failures in a row,
// +32 u32 ×2 Call-ID randomness, +40 u32 From tag, +44 u32 the client transaction in flight (0 none),
// +48 u32 last status, +52 u8 the SRV target (RFC 3263 §4.3: of a registrar address that is a name
// without a port, the target index the host sends to, docs/ABI.md "Peer record"), +56 i64 when the timer is due (0 none), +64 Peer ×2, +128 u8 ×2 address text lengths,
// +132 address texts (ADDR_CAP each), +228 user, +260 domain, +324 auth user, +356 password,
// +420 the number block of a `gin` account (util/numblock.ts; its length at +11, 0 none), +452 u8 the
// followed local user's length, +453 that user (a pass-through account: Flag.Follow).
const FOLLOW_AT: usize = 420 + <usize>BLOCK_CAP;
// then the registrar's last challenge, answered again on each later REGISTER before it asks (RFC 7616
// §3.4: the same nonce, the nonce count going up), so a refresh costs one round trip while the nonce
// lives: +0 u16 its status (401, 407; 0 none), +2 u16 its length, +4 u32 the last nonce count, +8 the
// WWW-Authenticate or Proxy-Authenticate value (CHAL_CAP bytes; a longer one is not kept)
const CHAL_AT: usize = (FOLLOW_AT + 1 + <usize>USER_CAP + 3) & ~3;
const CHAL_CAP: u32 = 256;
const REC: usize = (CHAL_AT + 8 + <usize>CHAL_CAP + 7) & ~7;
const recs: usize = USER_AGENT ? tableAlloc(<usize>REG_ACCOUNTS * REC) : 0;

function acct(i: i32): usize { return recs + <usize>i * REC; }
function peerOf(i: i32, k: u32): Peer { return changetype<Peer>(acct(i) + 64 + <usize>k * PEER_SIZE); }
function addrText(i: i32, k: u32): usize { return acct(i) + 132 + <usize>k * ADDR_CAP; }
function addrLen(i: i32, k: u32): u32 { return <u32>load<u8>(acct(i) + 128 + <usize>k); }
function userP(i: i32): usize { return acct(i) + 228; }
function userLen(i: i32): u32 { return <u32>load<u8>(acct(i), 5); }
function domainP(i: i32): usize { return acct(i) + 260; }
function domainLen(i: i32): u32 { return <u32>load<u8>(acct(i), 6); }
function authP(i: i32): usize { return acct(i) + 324; }
function authLen(i: i32): u32 { return <u32>load<u8>(acct(i), 7); }
function passP(i: i32): usize { return acct(i) + 356; }
function passLen(i: i32): u32 { return <u32>load<u8>(acct(i), 8); }
function blockP(i: i32): usize { return acct(i) + 420; }
function blockLen(i: i32): u32 { return <u32>load<u8>(acct(i), 11); }
function flags(i: i32): u32 { return <u32>load<u8>(acct(i), 1); }
function setFlag(i: i32, f: Flag, on: bool): void {
  const b = load<u8>(acct(i), 1);
  store<u8>(acct(i), on ? b | <u8>f : b & ~(<u8>f), 1);
}

/** Forget every account. */
export function regReset(): void {
  memory.fill(recs, 0, <usize>REG_ACCOUNTS * REC);
  stopping = false;
}

/** Set by regShutdown: the server is stopping, a registration that completes now is undone at once. */
let stopping = false;

/** Accounts configured. */
export function regCount(): i32 {
  let n = 0;
  for (let i = 0; i < REG_ACCOUNTS; i++) if ((flags(i) & Flag.Used) != 0) n++;
  return n;
}

/** Account i's state (Idle for an account not configured). */
export function regState(i: i32): RegState { return i >= 0 && i < REG_ACCOUNTS ? <RegState>load<u8>(acct(i)) : RegState.Idle; }
/** Account i's expires granted by the last 2xx (s), 0 none. */
export function regGranted(i: i32): u32 { return i >= 0 && i < REG_ACCOUNTS ? load<u32>(acct(i), 24) : 0; }
/** Account i's expires asked (s): the configured one, or a 423's Min-Expires. */
export function regAsked(i: i32): u32 { return i >= 0 && i < REG_ACCOUNTS ? load<u32>(acct(i), 20) : 0; }
/** When account i's timer is due (ms), 0 when none is armed. */
export function regDue(i: i32): i64 { return i >= 0 && i < REG_ACCOUNTS ? load<i64>(acct(i), 56) : 0; }
/** Account i's failures in a row. */
export function regFailures(i: i32): u32 { return i >= 0 && i < REG_ACCOUNTS ? load<u32>(acct(i), 28) : 0; }


// ---- the one setter ------------------------------------------------------------------------------------

const tw = USER_AGENT ? new Writer() : changetype<Writer>(0);
const TEXT: usize = USER_AGENT ? tableAlloc(256) : 0; // the AOR, Call-ID and Contact of one account being written

/** sip:USER@DOMAIN's USER@DOMAIN part into tw. */
function writeAor(i: i32): void {
  tw.bytes(userP(i), userLen(i));
  tw.byte(0x40);
  tw.bytes(domainP(i), domainLen(i));
}

/** Call-ID: the account's 64 random bits as hex (the same whichever address or transport it goes by,
 * §10.2.4), into tw. */
function writeCallId(i: i32): void {
  hex8(tw, load<u32>(acct(i), 32));
  hex8(tw, load<u32>(acct(i), 36));
}

/** Move account i to state s (with `status`, the response that moved it: 0 none, 408 a timeout). */
function regSet(i: i32, s: RegState, status: u32, now: i64): void {
  store<u8>(acct(i), <u8>s);
  store<u32>(acct(i), status, 48);
  const cur = <u32>load<u8>(acct(i), 3);
  eventBegin(EventKind.TrunkReg, <i32>status, now, <u32>s, peerOf(i, cur));
  const a = tw.begin(TEXT, 256).ptr;
  writeAor(i);
  eventText(0, a, <u32>(tw.ptr - a));
  eventText(1, addrText(i, cur), addrLen(i, cur));
  const c = tw.ptr;
  writeCallId(i);
  eventText(2, c, <u32>(tw.ptr - c));
  const d = tw.ptr;
  switch (s) {
    case RegState.Idle: tw.lit("idle"); break;
    case RegState.Registering: tw.lit("registering"); break;
    case RegState.Registered: tw.lit("registered"); break;
    case RegState.Refreshing: tw.lit("refreshing"); break;
    case RegState.Backoff: tw.lit("backoff"); break;
    default: tw.lit("stopped"); break;
  }
  eventText(3, d, <u32>(tw.ptr - d));
}

function arm(i: i32, at: i64): void {
  if (stopping) return; // after shutdown nothing is sent again by a timer
  store<i64>(acct(i), at, 56);
  if (!tuTimerSet(Owner.Registrant, <u32>i + 1, at)) store<i64>(acct(i), 0, 56); // no slot: never with TU_TIMERS' share
}

// ---- configuration ----------------------------------------------------------------------------------

const WORDS: i32 = 10;
const words: usize = USER_AGENT ? tableAlloc(<usize>WORDS * 8) : 0; // (start u32, length u32) per word
function wordAt(k: i32): usize { return <usize>load<u32>(words + <usize>k * 8); }
function wordLen(k: i32): u32 { return load<u32>(words + <usize>k * 8, 4); }

/** A registrar's address [p, p+len) into peer (net/addr.ts peerFromConfig: IP:port, or a name the host
 * resolves, RFC 3263 without a port), its text kept for events. */
function parseAddr(p: usize, len: u32, peer: Peer): bool {
  return len <= ADDR_CAP && peerFromConfig(peer, p, len);
}

/** Whether [p, p+len) holds only bytes a SIP URI's user or host part may carry unescaped here (no
 * space, quote, <>, ;, ?, @, ,, control). */
function plain(p: usize, len: u32): bool {
  for (let k: u32 = 0; k < len; k++) {
    const c = <u32>load<u8>(p + <usize>k);
    if (c <= 0x20 || c >= 0x7f || c == 0x22 || c == 0x3c || c == 0x3e || c == 0x3b || c == 0x3f || c == 0x40 || c == 0x2c) return false;
  }
  return true;
}

/** Whether [p, p+len) starts with `lit` (and is `lit` itself unless `prefix`). */
function isWord(p: usize, len: u32, lit: string, prefix: bool = false): bool {
  if (prefix ? len < <u32>lit.length : len != <u32>lit.length) return false;
  for (let k = 0; k < lit.length; k++) if (<u32>load<u8>(p + <usize>k) != <u32>lit.charCodeAt(k)) return false;
  return true;
}

/** Word k is an option: 1 "persist", 2 "gin" or "gin=BLOCK", 3 "follow=USER", 4 "tcp", 5 "tls", 6 "auto", 0 none. */
function optionOf(k: i32): u32 {
  if (isWord(wordAt(k), wordLen(k), "auto")) return 6;
  if (isWord(wordAt(k), wordLen(k), "persist")) return 1;
  if (isWord(wordAt(k), wordLen(k), "gin") || isWord(wordAt(k), wordLen(k), "gin=", true)) return 2;
  if (wordLen(k) > 7 && isWord(wordAt(k), wordLen(k), "follow=", true)) return 3;
  if (isWord(wordAt(k), wordLen(k), "tcp")) return 4;
  if (isWord(wordAt(k), wordLen(k), "tls")) return 5;
  return 0;
}

/**
 * An account from its configuration text (cfg kind Registration):
 * "SIDE IP:PORT[,IP:PORT] USER@DOMAIN EXPIRES [AUTHUSER PASSWORD] [persist] [gin[=BLOCK]] [follow=USER] [tcp|tls|auto]" — SIDE the
 * B2BUA side it serves (0..255) or "-"; EXPIRES 1..2^31-1 s; the options in any order. `tcp`, `tls`: over TCP, over TLS; `auto`:
 * nothing is sent until the host gives side SIDE's transport (regSideTransport: it chooses by RFC 3263
 * §4.1, NAPTR, for a trunk found by its name), then over that. `follow=USER`: a
 * pass-through account, idle until local USER registers (regFollow). `gin`: the
 * REGISTER is RFC 6140's, one for a block of numbers (SIPconnect registration mode): its Contact has no
 * user part and carries `bnc`, with `Require: gin`, `Proxy-Require: gin` and `Supported: path`;
 * BLOCK (util/numblock.ts, e.g. +155500xx) is the block provisioned for the account, which a 2xx's
 * P-Associated-URI is checked against. Its first REGISTER goes at the first timer run. Returns the
 * account's index, or -1 (refused: it does not parse, or the table is full).
 */
export function regAdd(p: usize, len: u32): i32 {
  if (!USER_AGENT) return -1;
  let n = 0;
  let k: u32 = 0;
  while (k < len) {
    while (k < len && load<u8>(p + <usize>k) == 0x20) k++;
    if (k >= len) break;
    if (n >= WORDS) return -1;
    const start = k;
    while (k < len && load<u8>(p + <usize>k) != 0x20) k++;
    store<u32>(words + <usize>n * 8, <u32>(p + <usize>start));
    store<u32>(words + <usize>n * 8, k - start, 4);
    n++;
  }
  // trailing options: up to five distinct ones; as few as make 4 or 6 words remain (a password may
  // itself read "persist" or "gin")
  let opts = 0;
  while (opts < 5 && n - opts > 4) {
    const o = optionOf(n - 1 - opts);
    if (o == 0) break;
    let dup = false;
    for (let q = 0; q < opts; q++) dup = dup || optionOf(n - 1 - q) == o;
    if (dup) break;
    opts++;
  }
  while (opts > 0 && n - opts != 4 && n - opts != 6) opts--;
  let persist = false;
  let gin = false;
  let follow = -1; // the word "follow=USER", if any
  let tcp = false;
  let tls = false;
  let wait = false;
  let bp: usize = 0;
  let bl: u32 = 0;
  for (let k = n - opts; k < n; k++) {
    const o = optionOf(k);
    if (o == 1) { persist = true; continue; }
    if (o == 4) { tcp = true; continue; }
    if (o == 5) { tls = true; continue; }
    if (o == 6) { wait = true; continue; }
    if (o == 3) {
      if (wordLen(k) - 7 > USER_CAP || !plain(wordAt(k) + 7, wordLen(k) - 7)) return -1;
      follow = k;
      continue;
    }
    gin = true;
    if (wordLen(k) > 3) {
      bp = wordAt(k) + 4;
      bl = wordLen(k) - 4;
      if (!blockValid(bp, bl)) return -1;
    }
  }
  n -= opts;
  if (n != 4 && n != 6) return -1;
  let i = 0;
  while (i < REG_ACCOUNTS && (flags(i) & Flag.Used) != 0) i++;
  if (i >= REG_ACCOUNTS) return -1;
  const a = acct(i);
  memory.fill(a, 0, REC);
  // SIDE
  let side: i64 = 255;
  if (!(wordLen(0) == 1 && load<u8>(wordAt(0)) == 0x2d)) {
    side = parseUint(wordAt(0), wordAt(0) + <usize>wordLen(0), 254);
    if (side < 0) return -1;
  }
  if (wait && side == 255) return -1; // `auto` waits for a side's transport
  // addresses
  const ap = wordAt(1);
  const al = wordLen(1);
  let comma: u32 = al;
  for (let c: u32 = 0; c < al; c++) if (load<u8>(ap + <usize>c) == 0x2c) { comma = c; break; }
  if (!parseAddr(ap, comma, peerOf(i, 0))) return -1;
  let addrs: u32 = 1;
  if (comma < al) {
    if (!parseAddr(ap + <usize>comma + 1, al - comma - 1, peerOf(i, 1))) return -1;
    addrs = 2;
  }
  // USER@DOMAIN
  const up = wordAt(2);
  const ul = wordLen(2);
  let at: u32 = ul;
  for (let c: u32 = 0; c < ul; c++) if (load<u8>(up + <usize>c) == 0x40) { at = c; break; }
  if (at == 0 || at >= ul - 1 || at > USER_CAP || ul - at - 1 > DOMAIN_CAP) return -1;
  if (!plain(up, at) || !plain(up + <usize>at + 1, ul - at - 1)) return -1;
  const expires = parseUint(wordAt(3), wordAt(3) + <usize>wordLen(3), 0x7fffffff);
  if (expires <= 0) return -1;
  if (n == 6) {
    if (wordLen(4) > USER_CAP || wordLen(5) > PASS_CAP || !plain(wordAt(4), wordLen(4))) return -1;
    memory.copy(authP(i), wordAt(4), wordLen(4));
    memory.copy(passP(i), wordAt(5), wordLen(5));
    store<u8>(a, <u8>wordLen(4), 7);
    store<u8>(a, <u8>wordLen(5), 8);
  }
  memory.copy(addrText(i, 0), ap, comma);
  store<u8>(a, <u8>comma, 128);
  if (addrs == 2) {
    memory.copy(addrText(i, 1), ap + <usize>comma + 1, al - comma - 1);
    store<u8>(a, <u8>(al - comma - 1), 129);
  }
  memory.copy(userP(i), up, at);
  memory.copy(domainP(i), up + <usize>at + 1, ul - at - 1);
  store<u8>(a, <u8>at, 5);
  store<u8>(a, <u8>(ul - at - 1), 6);
  store<u8>(a, <u8>side, 9);
  store<u8>(a, <u8>addrs, 2);
  store<u32>(a, <u32>expires, 16);
  store<u32>(a, <u32>expires, 20);
  const r = prngNext();
  store<u32>(a, <u32>r, 32);
  store<u32>(a, <u32>(r >> 32), 36);
  store<u32>(a, <u32>prngNext(), 40);
  if (bl != 0) {
    memory.copy(blockP(i), bp, bl);
    store<u8>(a, <u8>bl, 11);
  }
  store<u8>(a, <u8>(Flag.Used | (persist ? Flag.Persist : 0) | (gin ? Flag.Gin : 0) | (tcp ? Flag.Tcp : 0) | (tls ? Flag.Tls : 0) | (wait ? Flag.Wait : 0)), 1);
  if (follow >= 0) {
    // a pass-through account: idle until its local user registers (regFollow)
    memory.copy(a + FOLLOW_AT + 1, wordAt(follow) + 7, wordLen(follow) - 7);
    store<u8>(a + FOLLOW_AT, <u8>(wordLen(follow) - 7));
    setFlag(i, Flag.Follow, true);
    return i;
  }
  if (!wait) arm(i, 1); // the first REGISTER at the first timer run
  return i;
}

/**
 * Side s's transport given (b2bua/call.ts "transport SIDE udp|tcp|tls", Proto): every account of the side
 * registers over it from its next REGISTER on, and one that waited for it (`auto`) starts: at the next
 * timer run, or (a pass-through account) when its local user next registers.
 */
export function regSideTransport(s: i32, proto: u32): void {
  for (let i = 0; i < REG_ACCOUNTS; i++) {
    const f = flags(i);
    if ((f & Flag.Used) == 0 || <i32>load<u8>(acct(i), 9) != s) continue;
    setFlag(i, Flag.Tcp, proto == <u32>Proto.TCP);
    setFlag(i, Flag.Tls, proto == <u32>Proto.TLS);
    if ((f & Flag.Wait) == 0) continue;
    setFlag(i, Flag.Wait, false);
    if ((f & Flag.Follow) == 0) arm(i, 1);
  }
}

// ---- sending ------------------------------------------------------------------------------------------

const out = USER_AGENT ? new OutRequest() : changetype<OutRequest>(0);
const dest = USER_AGENT ? new Peer() : changetype<Peer>(0);
const vw = USER_AGENT ? new Writer() : changetype<Writer>(0);
const VIA: usize = USER_AGENT ? tableAlloc(256) : 0;
const MSG: usize = USER_AGENT ? tableAlloc(1024) : 0; // the texts of one REGISTER: URIs, tag, Call-ID, Contact, extra lines
const na = USER_AGENT ? new NameAddrRepr() : changetype<NameAddrRepr>(0);

function since(at: usize): u32 { return <u32>(tw.ptr - at); }

/** Our Contact URI for account i on transport t into tw: sip:USER@our address[;transport=tcp|tls]; for a
 * `gin` account RFC 6140's template, sip:our address[;transport=tcp|tls];bnc (no user part: the provider
 * puts the called number there). */
function writeContactUri(i: i32, t: Transport): void {
  const gin = (flags(i) & Flag.Gin) != 0;
  tw.lit("sip:");
  if (!gin) {
    tw.bytes(userP(i), userLen(i));
    tw.byte(0x40);
  }
  tw.bytes(t.addr, t.addrLen);
  if (t.reliable) { tw.text(T_TRANSPORT); tw.text(protoParam(t.proto)); } // tcp or tls
  if (gin) tw.lit(";bnc");
}

/**
 * Send account i's next REGISTER (the next CSeq; Expires: the asked expiry, or 0 when de-registering) to
 * its current address; with `auth` 401 or 407, our answer to the challenge parsed last. False when it
 * could not go (no transport, no room): nothing was sent.
 */
function send(i: i32, auth: u32, now: i64): bool {
  const a = acct(i);
  const cur = <u32>load<u8>(a, 3);
  dest.copyFrom(peerOf(i, cur));
  // a name without a port: its SRV target k, in an order seeded by the account's Call-ID (the same order
  // for each of its REGISTERs; accounts share a provider's targets by their weights)
  if (dest.family == <u8>Family.Name && dest.port == 0) dest.reserved = (load<u32>(a, 32) & 0xffffff00) | <u32>load<u8>(a, 52);
  // over TCP or TLS (the word "tcp" or "tls"): the host opens a connection to the registrar, or reuses its own to it
  const u = transportFor((flags(i) & Flag.Tls) != 0 ? Proto.TLS : (flags(i) & Flag.Tcp) != 0 ? Proto.TCP : Proto.UDP, <Family>dest.family);
  if (u == null) return false;
  dest.transport = <u8>u.id;
  const t = u;
  const handle = txnNextHandle();
  if (handle == 0) return false;
  const nonce = <u32>prngNext();
  vw.begin(VIA, 256);
  writeVia(vw, t, handle, nonce, 0);
  out.via = VIA;
  out.viaLen = vw.finish();
  tw.begin(MSG, 1024);
  const m = methodEntry(Method.REGISTER);
  out.method = m + 1;
  out.methodLen = <u32>load<u8>(m);
  const ru = tw.ptr;
  tw.lit("sip:");
  tw.bytes(domainP(i), domainLen(i));
  out.ruri = ru; out.ruriLen = since(ru);
  const aor = tw.ptr;
  tw.lit("sip:");
  writeAor(i);
  out.fromUri = aor; out.fromUriLen = since(aor);
  out.toUri = aor; out.toUriLen = out.fromUriLen;
  out.fromName = 0; out.fromNameLen = 0;
  const tag = tw.ptr;
  hex8(tw, load<u32>(a, 40));
  out.fromTag = tag; out.fromTagLen = since(tag);
  const cid = tw.ptr;
  writeCallId(i);
  out.callId = cid; out.callIdLen = since(cid);
  const cseq = load<u32>(a, 12) + 1;
  store<u32>(a, cseq, 12);
  out.cseq = cseq;
  const ct = tw.ptr;
  tw.byte(0x3c);
  writeContactUri(i, t);
  tw.byte(0x3e);
  out.contact = ct; out.contactLen = since(ct);
  const extra = tw.ptr;
  tw.lit("Expires: ");
  tw.u32((flags(i) & Flag.Dereg) != 0 ? 0 : load<u32>(a, 20));
  tw.lit("\r\n");
  // RFC 6140: a registrar or proxy on the way that does not know the extension refuses (420) rather
  // than storing the template as an ordinary contact; Path lets the provider's edge proxy stay on the
  // route of the calls to us
  if ((flags(i) & Flag.Gin) != 0) tw.lit("Require: gin\r\nProxy-Require: gin\r\nSupported: path\r\n");
  // RFC 3261 §22.2/22.4: our answer to the registrar's challenge (`auth`, parsed last), for this
  // REGISTER's Request-URI; without one, to the challenge it gave last, if kept (the next nonce count)
  const c = a + CHAL_AT;
  let nc: u32 = 1;
  if (auth == 0 && load<u16>(c) != 0 && parseChallenge(c + 8, <u32>load<u16>(c, 2))) {
    auth = <u32>load<u16>(c);
    nc = load<u32>(c, 4) + 1;
    store<u32>(c, nc, 4);
  }
  if (auth != 0) {
    authorizationLine(tw, auth, out.method, out.methodLen, out.ruri, out.ruriLen, authP(i), authLen(i), passP(i), passLen(i), <u32>prngNext(), nc);
  }
  out.extra = extra; out.extraLen = since(extra);
  out.maxForwards = 70;
  out.pass = null;
  out.drop = 0;
  if (!tw.ok) return false;
  const len = uaWriteOut(out, vw.begin(WORK_BUF, WORK_CAP));
  const msg = len != 0 ? msgPool.store(WORK_BUF, len) : 0;
  if (msg == 0) return false;
  const h = clientNonInviteCreate(Method.REGISTER, dest, t.reliable, msg, cseq, <u64>nonce, now, Owner.Registrant);
  msgPool.release(msg);
  if (h == 0) return false;
  rec(h & 0xffffff).user = <u32>i + 1;
  store<u32>(a, h, 44);
  return true;
}

/** A REGISTER of account i that should go now (a timer, a 423, a challenge): sent, or a failure. */
function attempt(i: i32, auth: u32, now: i64): void {
  if (!send(i, auth, now)) failed(i, 0, 0, now);
}

// ---- outcomes ---------------------------------------------------------------------------------------

/** How long to wait after account i's f-th failure in a row (f >= 1): 30 s doubling to 30 min, ±20 %. */
export function regBackoff(f: u32, random: u32): i64 {
  let base = BACKOFF_FIRST;
  for (let k: u32 = 1; k < f && base < BACKOFF_MAX; k++) base <<= 1;
  if (base > BACKOFF_MAX) base = BACKOFF_MAX;
  return base * <i64>(80 + random % 41) / 100;
}

/** A failure of account i (`status`: the final, 408 a timeout, 0 nothing could be sent): wait, then try the
 * next address; `retryAfter` (s, 0 none) is the least wait. */
function failed(i: i32, status: u32, retryAfter: u32, now: i64): void {
  const a = acct(i);
  store<u32>(a, 0, 44);
  store<u8>(a, 0, 4);
  store<u16>(a + CHAL_AT, 0); // the next REGISTER (perhaps to the other address) starts without credentials
  if ((flags(i) & Flag.Dereg) != 0) {
    // a de-registration that failed: nothing more is sent for the account
    setFlag(i, Flag.Dereg, false);
    regSet(i, RegState.Idle, status, now);
    return;
  }
  // RFC 3263 §4.3: a registrar found by SRV that timed out or is unavailable: its next target, at once
  const k = <u32>load<u8>(a, 52);
  const p = peerOf(i, <u32>load<u8>(a, 3));
  if ((status == 408 || status == 503) && p.family == <u8>Family.Name && p.port == 0 && k + 1 < SRV_TARGETS) {
    store<u8>(a, <u8>(k + 1), 52);
    if (send(i, 0, now)) return;
  }
  store<u8>(a, 0, 52);
  const f = load<u32>(a, 28) + 1;
  store<u32>(a, f, 28);
  let wait = regBackoff(f, <u32>prngNext());
  if (<i64>retryAfter * 1000 > wait) wait = <i64>retryAfter * 1000;
  const addrs = <u32>load<u8>(a, 2);
  if (addrs > 1) store<u8>(a, <u8>((<u32>load<u8>(a, 3) + 1) % addrs), 3); // failover
  regSet(i, RegState.Backoff, status, now);
  arm(i, now + wait);
}

/** Leading digits of [p, p+len) as seconds (Retry-After: 120 (comment);duration=...), 0 when none. */
function leadingSeconds(p: usize, len: u32): u32 {
  let v: u64 = 0;
  let k: u32 = 0;
  while (k < len && load<u8>(p + <usize>k) == 0x20) k++;
  for (; k < len; k++) {
    const c = <u32>load<u8>(p + <usize>k);
    if (c < 0x30 || c > 0x39) break;
    v = v * 10 + <u64>(c - 0x30);
    if (v > 0x7fffffff) return 0x7fffffff;
  }
  return <u32>v;
}

/** The expiry a 2xx grants our Contact: its Contact's expires, else the Expires header, else what we asked. */
function granted(i: i32, v: MessageView, d: Decoded, t: Transport | null): u32 {
  if (t != null) {
    const at = tw.begin(TEXT, 256).ptr;
    writeContactUri(i, t);
    const n = since(at);
    for (let e = v.first(Hdr.Contact); e >= 0; e = v.next(e)) {
      const p = v.valPtr(e);
      if (!decodeNameAddr(p, p + <usize>v.valLen(e), na, NameAddrKind.Contact) || na.star) continue;
      if (eqBytes(na.uri.start, na.uri.len, at, n) && na.expires >= 0) return na.expires > 0x7fffffff ? 0x7fffffff : <u32>na.expires;
    }
  }
  if (d.expires >= 0) return d.expires > 0x7fffffff ? 0x7fffffff : <u32>d.expires;
  return load<u32>(acct(i), 20);
}

const PAU = "p-associated-uri";

/** Whether entry e of v (an unknown header) is named P-Associated-URI (any case). */
function isPau(v: MessageView, e: i32): bool {
  if (v.nameLen(e) != <u32>PAU.length) return false;
  const p = v.base + <usize>v.lineOff(e);
  for (let k = 0; k < PAU.length; k++) {
    let c = <u32>load<u8>(p + <usize>k);
    if (c >= 0x41 && c <= 0x5a) c += 0x20;
    if (c != <u32>PAU.charCodeAt(k)) return false;
  }
  return true;
}

/**
 * The P-Associated-URI (RFC 3455) of a gin account's 2xx, logged as a `trunk-assoc` event (code: URIs
 * listed; value: how many of them are outside the account's block; texts: AOR, registrar address, the
 * header's value, "in-block" / "outside-block" / "unchecked" when no block is configured). Nothing when
 * the 2xx has none. Each URI's user part (between "sip:" or "sips:" and "@") is matched as written.
 */
function associated(i: i32, v: MessageView, now: i64): void {
  let listed: u32 = 0;
  let outside: u32 = 0;
  let first = -1;
  for (let e = v.first(Hdr.Other); e >= 0; e = v.next(e)) {
    if (!isPau(v, e)) continue;
    if (first < 0) first = e;
    const p = v.valPtr(e);
    const end = p + <usize>v.valLen(e);
    let q = p;
    while (q < end) {
      if (load<u8>(q) != 0x3c) { q++; continue; } // each URI in <>
      let u = q + 1;
      while (u < end && load<u8>(u) != 0x3a && load<u8>(u) != 0x3e) u++; // the scheme's colon
      if (u >= end || load<u8>(u) != 0x3a) { q = u; continue; }
      u++;
      let at = u;
      while (at < end && load<u8>(at) != 0x40 && load<u8>(at) != 0x3e) at++;
      listed++;
      if (blockLen(i) != 0 && (at >= end || load<u8>(at) != 0x40 || !blockMatch(blockP(i), blockLen(i), u, <u32>(at - u)))) outside++;
      q = at;
    }
  }
  if (first < 0) return;
  const cur = <u32>load<u8>(acct(i), 3);
  eventBegin(EventKind.TrunkAssoc, <i32>listed, now, outside, peerOf(i, cur));
  const a = tw.begin(TEXT, 256).ptr;
  writeAor(i);
  eventText(0, a, <u32>(tw.ptr - a));
  eventText(1, addrText(i, cur), addrLen(i, cur));
  eventText(2, v.valPtr(first), v.valLen(first));
  const d = tw.ptr;
  if (blockLen(i) == 0) tw.lit("unchecked");
  else if (outside == 0) tw.lit("in-block");
  else tw.lit("outside-block");
  eventText(3, d, <u32>(tw.ptr - d));
}

/** Account i of a transaction's `user`, or -1. */
function accountOf(user: u32): i32 {
  const i = <i32>user - 1;
  return i >= 0 && i < REG_ACCOUNTS && (flags(i) & Flag.Used) != 0 ? i : -1;
}

/** A response to the registrant's client transaction ci (host/dispatch.ts). */
export function regResponse(v: MessageView, d: Decoded, ci: u32, now: i64): void {
  const r = rec(ci);
  const status = <u32>v.status;
  if (clientNonInviteOnResponse(ci, status, now) == Verdict.Absorb || status < 200) return;
  const i = accountOf(r.user);
  if (i < 0 || load<u32>(acct(i), 44) != handleOf(ci)) return; // not the REGISTER in flight
  const a = acct(i);
  store<u32>(a, 0, 44);
  const dereg = (flags(i) & Flag.Dereg) != 0;
  if (status != 423) store<u8>(a, 0, 10);
  if (status >= 200 && status < 300) {
    store<u8>(a, 0, 4);
    store<u32>(a, 0, 28);
    if (dereg) {
      setFlag(i, Flag.Dereg, false);
      store<u32>(a, 0, 24);
      regSet(i, RegState.Idle, status, now);
      return;
    }
    if (stopping) {
      // a REGISTER that was in flight at shutdown succeeded: take the binding back at once
      regSet(i, RegState.Registered, status, now);
      setFlag(i, Flag.Dereg, true);
      if (!send(i, 0, now)) setFlag(i, Flag.Dereg, false);
      return;
    }
    const g = granted(i, v, d, transportById(recPeer(r).transport));
    store<u32>(a, g, 24);
    if (g == 0) { failed(i, status, 0, now); return; } // a registrar that keeps no binding
    regSet(i, RegState.Registered, status, now);
    if ((flags(i) & Flag.Gin) != 0) associated(i, v, now);
    arm(i, now + <i64>g * 500); // §10.2.1: refreshed before it expires, at half its lifetime
    return;
  }
  if ((status == 401 || status == 407) && authLen(i) != 0) {
    const tries = <u32>load<u8>(a, 4);
    const h = v.first(status == 401 ? Hdr.WwwAuthenticate : Hdr.ProxyAuthenticate);
    if (h >= 0 && parseChallenge(v.valPtr(h), v.valLen(h)) && (tries == 0 || (tries == 1 && challenge.stale))) {
      store<u8>(a, <u8>(tries + 1), 4);
      // kept for the next REGISTER (its nonce count 1 goes now)
      const c = a + CHAL_AT;
      const n = v.valLen(h);
      store<u16>(c, n <= CHAL_CAP ? <u16>status : 0);
      store<u16>(c, <u16>n, 2);
      store<u32>(c, 1, 4);
      if (n <= CHAL_CAP) memory.copy(c + 8, v.valPtr(h), n);
      if (!send(i, status, now)) failed(i, 0, 0, now);
      return;
    }
  }
  if (status == 423 && !dereg) {
    // §10.2.8: ask again with at least the registrar's Min-Expires
    const h = v.first(Hdr.MinExpires);
    const min = h >= 0 ? leadingSeconds(v.valPtr(h), v.valLen(h)) : 0;
    const rounds = <u32>load<u8>(a, 10);
    if (min > load<u32>(a, 20) && rounds < 3) {
      // (at most three in a row: a registrar raising its Min-Expires each time is not followed forever)
      store<u8>(a, <u8>(rounds + 1), 10);
      store<u32>(a, min, 20);
      store<u8>(a, 0, 4);
      attempt(i, 0, now);
      return;
    }
  }
  if ((status == 403 || status == 404) && !dereg && (flags(i) & Flag.Persist) == 0) {
    store<u8>(a, 0, 4);
    tuTimerCancel(Owner.Registrant, <u32>i + 1);
    store<i64>(a, 0, 56);
    regSet(i, RegState.Stopped, status, now);
    return;
  }
  const ra = v.first(Hdr.RetryAfter);
  failed(i, status, ra >= 0 ? leadingSeconds(v.valPtr(ra), v.valLen(ra)) : 0, now);
}

/** A timer of the registrant's client transaction (host/dispatch.ts): a timeout is a failure (408). */
export function regTxnTimer(up: TxnUp, now: i64): void {
  if (up.kind != ClientTimerOut.Timeout) return;
  const i = accountOf(up.user);
  const mine = i >= 0 && load<u32>(acct(i), 44) == up.handle;
  txnRelease(up.idx);
  if (mine) failed(i, 408, 0, now);
}

/** Account `user`'s TU timer (host/dispatch.ts): the first REGISTER, a refresh, or a retry. */
export function regTimer(user: u32, now: i64): void {
  const i = accountOf(user);
  if (i < 0) return;
  store<i64>(acct(i), 0, 56);
  const s = regState(i);
  if (s == RegState.Stopped || load<u32>(acct(i), 44) != 0) return;
  if ((flags(i) & Flag.Follow) != 0 && localBindings(i, now) == 0) {
    // its phone's registration has expired: ours is taken back instead of refreshed (or not retried)
    if (s == RegState.Registered) dereg(i, now);
    else regSet(i, RegState.Idle, 0, now);
    return;
  }
  regSet(i, s == RegState.Registered ? RegState.Refreshing : RegState.Registering, 0, now);
  attempt(i, 0, now);
}

/**
 * Shutdown (RFC 3261 §10.2.2): every account with a registration (registered or refreshing) sends a
 * REGISTER with Expires: 0 for our Contact, and no timer of the registrant runs again; one still
 * registering is de-registered when its 200 comes. Only the first call acts. Returns the number of
 * de-registrations sent.
 */
export function regShutdown(now: i64): i32 {
  if (stopping) return 0;
  stopping = true;
  let n = 0;
  for (let i = 0; i < REG_ACCOUNTS; i++) {
    if ((flags(i) & Flag.Used) == 0) continue;
    tuTimerCancel(Owner.Registrant, <u32>i + 1);
    store<i64>(acct(i), 0, 56);
    const s = regState(i);
    if (s != RegState.Registered && s != RegState.Refreshing) continue;
    setFlag(i, Flag.Dereg, true);
    store<u8>(acct(i), 0, 4);
    if (send(i, 0, now)) n++;
    else setFlag(i, Flag.Dereg, false);
  }
  return n;
}

/**
 * What a stopping host waits for: the accounts whose de-registration, or whose REGISTER sent before the
 * shutdown, has not had its final response yet (a lost one ends by its transaction's timeout).
 */
export function regPending(): i32 {
  let n = 0;
  for (let i = 0; i < REG_ACCOUNTS; i++) {
    if ((flags(i) & Flag.Used) != 0 && load<u32>(acct(i), 44) != 0) n++;
  }
  return n;
}

/**
 * The `gin` account of side s with a configured number block (RFC 6140: the numbers the provider
 * routes to us, and the only ones our calls may come from), or -1.
 */
export function regSideBlock(s: i32): i32 {
  for (let i = 0; i < REG_ACCOUNTS; i++)
    if ((flags(i) & (Flag.Used | Flag.Gin)) == (Flag.Used | Flag.Gin) && blockLen(i) != 0 && <i32>load<u8>(acct(i), 9) == s) return i;
  return -1;
}
export function regBlock(i: i32): usize { return blockP(i); }
export function regBlockLen(i: i32): u32 { return blockLen(i); }

/**
 * Whether side s has registrations of ours and none of them in force (registered, or registered and
 * being refreshed): calls toward it then follow the side's policy (b2bua/call.ts). False when s has none.
 */
export function regSideDown(s: i32): bool {
  let any = false;
  for (let i = 0; i < REG_ACCOUNTS; i++) {
    // (a pass-through account is its phone's, not the trunk's: it says nothing of the trunk)
    if ((flags(i) & (Flag.Used | Flag.Follow)) != Flag.Used || <i32>load<u8>(acct(i), 9) != s) continue;
    const st = regState(i);
    if (st == RegState.Registered || st == RegState.Refreshing) return false;
    any = true;
  }
  return any;
}

// ---- pass-through accounts (Flag.Follow) ----------------------------------------------------------------
// One account per local user: it registers with the provider while the user has a binding in our
// registrar, and is taken back when the user's last binding goes (a REGISTER with Expires: 0 or removing
// it: at once; one that expires: at the account's next refresh). The B2BUA maps calls between the two
// identities (regFollowing, regFollowedBy).

const local = USER_AGENT ? new UriRepr() : changetype<UriRepr>(0);

/** The bindings account i's local user has in our registrar now. */
function localBindings(i: i32, now: i64): i32 {
  local.scheme = UriScheme.Sip;
  local.user = acct(i) + FOLLOW_AT + 1;
  local.userLen = <u32>load<u8>(acct(i) + FOLLOW_AT);
  local.hasUser = true;
  return registrarLookup(local, now, targets);
}

/** A de-registration of account i (Expires: 0), now. */
function dereg(i: i32, now: i64): void {
  tuTimerCancel(Owner.Registrant, <u32>i + 1);
  store<i64>(acct(i), 0, 56);
  setFlag(i, Flag.Dereg, true);
  store<u8>(acct(i), 0, 4);
  if (!send(i, 0, now)) {
    setFlag(i, Flag.Dereg, false);
    regSet(i, RegState.Idle, 0, now);
  }
}

/**
 * Our registrar took a REGISTER for local user [user, user+len) (host/dispatch.ts, B2BUA mode), or (len
 * 0) a binding of any user expired: each pass-through account following that user (any user) starts
 * registering when the user has a binding and it is idle, and de-registers when the user has none left
 * and it is registered: at once, at the expiry of the phone's last binding. A stopped account (403/404)
 * stays stopped.
 */
export function regFollow(user: usize, len: u32, now: i64): void {
  if (stopping) return;
  for (let i = 0; i < REG_ACCOUNTS; i++) {
    if ((flags(i) & (Flag.Used | Flag.Follow | Flag.Wait)) != (Flag.Used | Flag.Follow)) continue; // (not while its transport is not known)
    if (len != 0 && !eqBytes(acct(i) + FOLLOW_AT + 1, <u32>load<u8>(acct(i) + FOLLOW_AT), user, len)) continue;
    const s = regState(i);
    const busy = load<u32>(acct(i), 44) != 0;
    const n = localBindings(i, now);
    if (n > 0 && s == RegState.Idle && !busy) {
      tuTimerCancel(Owner.Registrant, <u32>i + 1);
      regSet(i, RegState.Registering, 0, now);
      attempt(i, 0, now);
    } else if (n == 0 && (s == RegState.Registered || s == RegState.Refreshing) && !busy) {
      dereg(i, now);
    } else if (n == 0 && s == RegState.Backoff) {
      tuTimerCancel(Owner.Registrant, <u32>i + 1);
      store<i64>(acct(i), 0, 56);
      regSet(i, RegState.Idle, 0, now);
    }
  }
}

/** The pass-through account of side s that follows local user [user, user+len), or -1. */
export function regFollowing(s: i32, user: usize, len: u32): i32 {
  for (let i = 0; i < REG_ACCOUNTS; i++) {
    if ((flags(i) & (Flag.Used | Flag.Follow)) != (Flag.Used | Flag.Follow) || <i32>load<u8>(acct(i), 9) != s) continue;
    if (eqBytes(acct(i) + FOLLOW_AT + 1, <u32>load<u8>(acct(i) + FOLLOW_AT), user, len)) return i;
  }
  return -1;
}

/** The pass-through account of side s whose provider user is [user, user+len), or -1. */
export function regFollowedBy(s: i32, user: usize, len: u32): i32 {
  for (let i = 0; i < REG_ACCOUNTS; i++) {
    if ((flags(i) & (Flag.Used | Flag.Follow)) != (Flag.Used | Flag.Follow) || <i32>load<u8>(acct(i), 9) != s) continue;
    if (eqBytes(userP(i), userLen(i), user, len)) return i;
  }
  return -1;
}

/** Account i's provider user, auth user, password and followed local user (pointers; lengths below). */
export function regUser(i: i32): usize { return userP(i); }
export function regUserLen(i: i32): u32 { return userLen(i); }
export function regAuth(i: i32): usize { return authLen(i) != 0 ? authP(i) : userP(i); }
export function regAuthLen(i: i32): u32 { return authLen(i) != 0 ? authLen(i) : userLen(i); }
export function regPass(i: i32): usize { return passP(i); }
export function regPassLen(i: i32): u32 { return passLen(i); }
export function regLocal(i: i32): usize { return acct(i) + FOLLOW_AT + 1; }
export function regLocalLen(i: i32): u32 { return <u32>load<u8>(acct(i) + FOLLOW_AT); }
