// The location service as text, one binding per line: what the host reads to share its registrations
// with other instances (a Redis location service, host/node/location.ts) and to list them (the
// management API), and what it writes to insert the bindings other instances learned, or to remove one.
// The core stays sans-I/O: where the lines go is the host's business (docs/ABI.md "Location service").
//
//   AOR CONTACT EXPIRES Q ORIGIN SOURCE PATH
//
//   AOR      the AOR's key (table.ts: the To URI's unescaped user part), bytes that are not visible
//            ASCII, and '%', escaped as %XX (so a line never holds a space or a control byte of it)
//   CONTACT  the contact URI as stored (a URI holds no space)
//   EXPIRES  seconds left, rounded up (>= 1; a put may give up to a day)
//   Q        the q value in thousandths, or -1 when the contact had none
//   ORIGIN   `local`: registered with this instance (its REGISTER came here, or the host reloads its own
//            binding after a restart); `shared`: learned from another instance through the host
//   SOURCE   where the REGISTER came from, `udp:IP:PORT` (tcp, tls, sctp, ws, wss; IPv6 in brackets),
//            or `-`; a put maps it to our transport of that protocol and family (none: the contact's
//            address is used, as when a connection is gone)
//   PATH     the rest of the line: the binding's route set (RFC 3327 Path values joined with ","), or `-`
//
// A shared binding is a binding like any other (lookups fork to it), reached through its PATH: the
// instance that holds the registration publishes it with the route `<sip:rbXXXXXXXX@itself;lr>`, whose
// user part names its binding (XXXXXXXX: the index, proxy/request.ts). A REGISTER for the same contact
// here makes the binding local again. Puts and removals are atomic (room counted first, as register.ts);
// a removal emits reg-remove events (code 1 for a shared binding: not to be published again).

import { MAX_TARGET_URI, MAX_TARGET_PATH, LOCATION_API } from "../config";
import { Peer, Family } from "../net/peer";
import { peerFromText, writeIp } from "../net/addr";
import { Proto, transportFor, transportById, protoParam } from "../net/transports";
import { UriRepr, parseUri, uriEquals } from "../wire/uri";
import { Writer } from "../wire/writer";
import { eqText, parseUint, textIs } from "../wire/scan";
import { hexValue, Cls, is } from "../util/chars";
import { EventKind } from "../events";
import {
  regConfig, regPool, expiry, aorAt, bindAt, bindPeer, aorFind, aorInsert, bindAlloc, bindFree,
  aorsFree, bindingsFree, keyHash, nextStamp, regEvent, bindLive, bindUsedBelow, KEY, SCR, contactToScr,
  BIND_SHARED,
} from "./table";

/** Bytes of the line buffer: an escaped AOR key (3 × 256), a contact (256), a Path set (512) and the rest. */
export const LOC_CAP: u32 = LOCATION_API ? 1664 : 0;
export const LOC: usize = memory.data(LOCATION_API ? 1664 : 8);
/** Longest lifetime a put may give (s): a day; our own REGISTERs give at most registrar.maxExpires. */
const PUT_MAX_EXPIRES: i64 = 86400;

// scratch records, allocated only where the core has the location service (the small boards have none)
const w: Writer = LOCATION_API ? new Writer() : changetype<Writer>(0);
const uriA: UriRepr = LOCATION_API ? new UriRepr() : changetype<UriRepr>(0);
const uriB: UriRepr = LOCATION_API ? new UriRepr() : changetype<UriRepr>(0);
const src: Peer = LOCATION_API ? new Peer() : changetype<Peer>(0);

/** The next binding in use at index >= from (table order), or -1. */
export function locNext(from: i32): i32 {
  if (from < 0) from = 0;
  const high = bindUsedBelow();
  for (let b = from; b < high; b++) if (bindAt(b).aor >= 0) return b;
  return -1;
}

/** The first binding of the AOR whose key (unescaped) is LOC[0, len), or -1. */
export function locFirstOf(len: u32): i32 {
  if (len == 0 || len > <u32>MAX_TARGET_URI) return -1;
  memory.copy(KEY, LOC, len);
  const a = aorFind(<i32>len, keyHash(<i32>len));
  return a < 0 ? -1 : aorAt(a).first;
}

/** The binding after b of b's AOR, or -1. */
export function locSibling(b: i32): i32 {
  if (b < 0 || b >= bindUsedBelow() || bindAt(b).aor < 0) return -1;
  return bindAt(b).next;
}

function escaped(c: u32): bool {
  return c <= 0x20 || c >= 0x7f || c == 0x25;
}

const HEX: usize = memory.data<u8>([0x30, 0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37, 0x38, 0x39, 0x41, 0x42, 0x43, 0x44, 0x45, 0x46]);

/** Binding b as a line at LOC; its length, or -1 (no such binding, or it has expired by `now`). */
export function locRead(now: i64, b: i32): i32 {
  if (!bindLive(b, now)) return -1;
  const r = bindAt(b);
  w.begin(LOC, LOC_CAP);
  const kh = aorAt(r.aor).key;
  const kl = regPool.len(kh);
  if (kl > <u32>MAX_TARGET_URI) return -1;
  regPool.copyOut(kh, KEY);
  for (let i: u32 = 0; i < kl; i++) {
    const c = <u32>load<u8>(KEY + <usize>i);
    if (escaped(c)) {
      w.byte(0x25);
      w.byte(load<u8>(HEX + <usize>(c >> 4)));
      w.byte(load<u8>(HEX + <usize>(c & 15)));
    } else {
      w.byte(c);
    }
  }
  w.byte(0x20);
  w.bytes(SCR, contactToScr(b));
  w.byte(0x20);
  w.u32(<u32>((r.deadline - now + 999) / 1000));
  w.byte(0x20);
  if (r.q < 0) w.lit("-1");
  else w.u32(<u32>r.q);
  w.lit((r.spare & BIND_SHARED) != 0 ? " shared " : " local ");
  const p = bindPeer(b);
  if (p.family == Family.V4 || p.family == Family.V6) {
    const t = transportById(p.transport);
    w.text(protoParam(t != null ? t.proto : Proto.UDP));
    w.byte(0x3a);
    writeIp(w, p);
    w.byte(0x3a);
    w.u32(p.port);
  } else {
    w.byte(0x2d);
  }
  w.byte(0x20);
  if (r.path != 0 && regPool.len(r.path) <= <u32>MAX_TARGET_PATH) {
    const n = regPool.copyOut(r.path, SCR);
    w.bytes(SCR, n);
  } else {
    w.byte(0x2d);
  }
  return w.ok ? <i32>w.length : -1;
}

// ---- put and remove -------------------------------------------------------------------------------

/** Fields of the line being read: [start, end) of each (u32 pairs), found by splitFields. */
const FS: usize = memory.data(LOCATION_API ? 56 : 8);

/** Split LOC[0, len) into up to `n` space-separated fields (the last takes the rest of the line);
 * returns how many were found. */
function splitFields(len: u32, n: i32): i32 {
  let p: u32 = 0;
  let k = 0;
  while (k < n && p < len) {
    while (p < len && load<u8>(LOC + <usize>p) == 0x20) p++;
    if (p >= len) break;
    const s = p;
    if (k == n - 1) p = len;
    else while (p < len && load<u8>(LOC + <usize>p) != 0x20) p++;
    store<u32>(FS + (<usize>k << 3), s);
    store<u32>(FS + (<usize>k << 3), p, 4);
    k++;
  }
  return k;
}
function fStart(k: i32): usize { return LOC + <usize>load<u32>(FS + (<usize>k << 3)); }
function fLen(k: i32): u32 { return load<u32>(FS + (<usize>k << 3), 4) - load<u32>(FS + (<usize>k << 3)); }
function fDash(k: i32): bool { return fLen(k) == 1 && load<u8>(fStart(k)) == 0x2d; }

/** Unescape field 0 (the AOR) into KEY; its length, or -1. */
function keyOfField(): i32 {
  const p = fStart(0);
  const n = fLen(0);
  let o: i32 = 0;
  for (let i: u32 = 0; i < n; i++) {
    if (o >= MAX_TARGET_URI) return -1;
    let c = <u32>load<u8>(p + <usize>i);
    if (c == 0x25) {
      if (i + 2 >= n) return -1;
      const h = <u32>load<u8>(p + <usize>i + 1);
      const l = <u32>load<u8>(p + <usize>i + 2);
      if (!is(h, Cls.HEX) || !is(l, Cls.HEX)) return -1;
      c = (hexValue(h) << 4) | hexValue(l);
      i += 2;
    }
    store<u8>(KEY + <usize>o, <u8>c);
    o++;
  }
  return o;
}

/** The binding of AOR a whose contact equals uriA (§19.1.4), or -1. */
function findContact(a: i32): i32 {
  for (let b = aorAt(a).first; b >= 0; b = bindAt(b).next) if (contactIs(b)) return b;
  return -1;
}

/** Whether binding b's contact is the URI in uriA (RFC 3261 §19.1.4 comparison). */
function contactIs(b: i32): bool {
  const n = contactToScr(b);
  return parseUri(SCR, SCR + <usize>n, uriB) && uriEquals(uriB, uriA);
}

/** SOURCE field k ("udp:IP:PORT" or "-") into src; false when malformed. */
function sourceOfField(k: i32): bool {
  src.clear();
  if (fDash(k)) return true;
  const p = fStart(k);
  const n = fLen(k);
  let c: u32 = 0;
  while (c < n && load<u8>(p + <usize>c) != 0x3a) c++;
  if (c == 0 || c >= n) return false;
  let proto: Proto = Proto.None;
  for (let x: u32 = 1; x <= 6; x++) if (eqText(p, c, protoParam(<Proto>x))) proto = <Proto>x;
  if (proto == Proto.None || !peerFromText(src, p + <usize>c + 1, n - c - 1)) return false;
  const t = transportFor(proto, <Family>src.family);
  src.transport = t != null ? <u8>t.id : 0;
  return true;
}

/**
 * Insert or refresh the binding of the line at LOC[0, len) (the format above; ORIGIN says whether it
 * is ours). Returns its index (>= 0), or -1 (a malformed line), -2 (no room: a table or the pool is
 * full, or the AOR has registrar.maxContactsPerAor bindings already). Emits no event: the host logs.
 */
export function locPut(now: i64, len: u32): i32 {
  if (len == 0 || len > LOC_CAP) return -1;
  if (splitFields(len, 7) != 7) return -1;
  const keyLen = keyOfField();
  if (keyLen <= 0) return -1;
  const cp = fStart(1);
  const cl = fLen(1);
  if (cl > <u32>MAX_TARGET_URI || !parseUri(cp, cp + <usize>cl, uriA)) return -1;
  const e = parseUint(fStart(2), fStart(2) + <usize>fLen(2), <u64>PUT_MAX_EXPIRES);
  if (e <= 0) return -1;
  let q: i32 = -1;
  if (!(fLen(3) == 2 && load<u16>(fStart(3)) == 0x312d)) { // "-1"
    const v = parseUint(fStart(3), fStart(3) + <usize>fLen(3), 1000);
    if (v < 0) return -1;
    q = <i32>v;
  }
  let shared = false;
  if (textIs(fStart(4), fLen(4), "shared")) shared = true;
  else if (!textIs(fStart(4), fLen(4), "local")) return -1;
  if (!sourceOfField(5)) return -1;
  const pathLen: u32 = fDash(6) ? 0 : fLen(6);
  if (pathLen > <u32>MAX_TARGET_PATH) return -1;

  const h = keyHash(keyLen);
  let a = aorFind(keyLen, h);
  const b0 = a >= 0 ? findContact(a) : -1;
  // room first: nothing changes when it is lacking
  let blocks: u32 = 0;
  if (a < 0) blocks += regPool.blocksFor(<u32>keyLen);
  if (b0 < 0 || !regPool.equals(bindAt(b0).contact, cp, cl)) blocks += regPool.blocksFor(cl);
  if (pathLen > 0) blocks += regPool.blocksFor(pathLen);
  if (b0 < 0) {
    if (a >= 0 && aorAt(a).bindings >= regConfig.maxContacts) return -2;
    if (bindingsFree() == 0 || (a < 0 && aorsFree() == 0)) return -2;
  }
  if (blocks > regPool.available) return -2;

  if (a < 0) a = aorInsert(keyLen, h);
  if (a < 0) return -2;
  let b = b0;
  if (b < 0) {
    b = bindAlloc(a);
    if (b < 0) return -2;
    bindAt(b).contact = regPool.store(cp, cl);
  } else if (!regPool.equals(bindAt(b).contact, cp, cl)) {
    regPool.release(bindAt(b).contact);
    bindAt(b).contact = regPool.store(cp, cl);
  }
  const r = bindAt(b);
  regPool.release(r.path);
  r.path = pathLen > 0 ? regPool.store(fStart(6), pathLen) : 0;
  r.q = q;
  r.callId = 0; // a Call-ID hash is keyed by each instance's seed: not portable; any REGISTER updates it
  r.cseq = 0;
  r.stamp = nextStamp();
  r.deadline = now + e * 1000;
  r.spare = shared ? BIND_SHARED : 0;
  bindPeer(b).copyFrom(src);
  expiry.set(b, r.deadline);
  return b;
}

/**
 * Remove the bindings of the line at LOC[0, len), `AOR [CONTACT]`: every binding of the AOR, or the one
 * whose contact equals CONTACT (§19.1.4). Returns how many went (0: none matched), or -1 (malformed).
 * Each emits reg-remove (code 1 when it was shared, else 0).
 */
export function locRemove(now: i64, len: u32): i32 {
  if (len == 0 || len > LOC_CAP) return -1;
  const k = splitFields(len, 2);
  if (k == 0) return -1;
  const keyLen = keyOfField();
  if (keyLen <= 0) return -1;
  const one = k == 2;
  if (one && (fLen(1) > <u32>MAX_TARGET_URI || !parseUri(fStart(1), fStart(1) + <usize>fLen(1), uriA))) return -1;
  const a = aorFind(keyLen, keyHash(keyLen));
  if (a < 0) return 0;
  let n = 0;
  let b = aorAt(a).first;
  while (b >= 0) {
    const nb = bindAt(b).next;
    if (!one || contactIs(b)) {
      const code = (bindAt(b).spare & BIND_SHARED) != 0 ? 1 : 0;
      regEvent(EventKind.RegRemove, code, now, 0, bindPeer(b), KEY, <u32>keyLen, b, 0, 0);
      n++;
      if (bindFree(b)) break; // the AOR went with its last binding
    }
    b = nb;
  }
  return n;
}
