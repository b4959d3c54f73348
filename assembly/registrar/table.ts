// The registrar's fixed tables (RFC 3261 §10.3 location service): AORs, bindings, their strings and
// the expiry queue. Everything is allocated once at start-up (module top level); nothing allocates
// afterwards, nothing traps (STYLE §8). The REGISTER logic (register.ts) checks for room before it
// writes, so a full table answers 503 and leaves the tables unchanged.
//
// AOR key. The key of an address-of-record is the To URI's *user part, %XX-unescaped, compared
// byte for byte (case-sensitive)*: RFC 4475 escnull's `null-%00-null` keeps its NUL. The host part
// is NOT part of the key: every domain we serve shares one user namespace (like Kamailio's
// use_domain=0), so bob@localhost and bob@127.0.0.1 are one AOR. A key is at most MAX_TARGET_URI
// bytes (a longer user part is "not valid for the domain": 404).
//
// Layout (n = MAX_AORS, m = MAX_BINDINGS, H = next power of two >= 2n):
//
//   slots   H × i32          open-addressing hash of AOR ids + 1 (0 empty), linear probing keyed by
//                            hashBytes(key, seed); deletion by backward shift (no tombstones)
//   aors    n × AOR_SIZE     +0 u64 hash  +8 u32 key (pool handle, 0 = free)  +12 i32 first binding
//                            +16 u32 bindings  +20 i32 next free
//   binds   m × BIND_SIZE    +0 u64 Call-ID hash  +8 i64 deadline (ms)  +16 u32 contact (pool handle)
//                            +20 u32 path (pool handle, 0 = none)  +24 i32 aor (-1 = free)
//                            +28 i32 next (AOR list / free list)  +32 u32 CSeq  +36 i32 q (-1 absent)
//                            +40 u32 stamp (registration order)  +44 u32 flags (BIND_SHARED)
//                            +48 Peer (32 bytes): the REGISTER's source (RFC 3581 / flow)
//   expiry  MinHeap(m)       16 bytes per binding (heap slot, position, i64 key)
//   pool    Pool(REG_BLOCK, REG_BLOCKS)  AOR keys, contact URIs, Path route sets (74 bytes a block, 70
//                            with 16-bit pool bookkeeping: util/pool.ts)
//
// Bytes per AOR: 24 (record) + 8..16 (H/n hash slots × 4) = 32-40, plus its key in the pool: one
// 74-byte block (64 data + 10 pool bookkeeping) for keys up to 64 bytes. Bytes per binding: 80
// (record) + 16 (expiry heap) = 96, plus its contact URI in the pool (1-4 blocks of 74) and a share
// of its Path set (refcounted: one copy per REGISTER, not per contact).
// Fixed extras: TargetSet 1,024 (lookup.ts: records and one target's scratch), KEY + SCR + PATH
// scratch 1,024, the REGISTER plan (2 × MAX_FORK decoded contacts, register.ts) 1,728. With the micro
// board's constants (32 AORs, 40 bindings, 112 pool blocks: 32 registrations with contacts of up to
// 128 bytes, tests/sim/capacity.test.mjs) the registrar costs ~17 KB of memory: slots 256 + AORs 768
// + bindings 3,200 + heap 640 + pool 7,840 + extras 3,776.
// The Call-ID is kept as a seeded 64-bit hash (8 bytes instead of a pool string): two different
// Call-IDs colliding is a 2^-64 event under a key the peer does not know.

import { MAX_AORS, MAX_BINDINGS, REG_BLOCK, REG_BLOCKS, MAX_CONTACTS_PER_AOR, MAX_TARGET_URI, SPARSE_TABLES, USER_AGENT } from "../config";
import { Pool } from "../util/pool";
import { MinHeap } from "../util/minheap";
import { hashBytes } from "../util/hash";
import { hexValue } from "../util/chars";
import { Peer, PEER_SIZE } from "../net/peer";
import { UriRepr, UriScheme } from "../wire/uri";
import { EventKind, eventBegin, eventText } from "../events";
import { zeroTable } from "../util/zero";
import { tableAlloc } from "../util/alloc";
import { probeInsert, probeRemove } from "../txn/probe";

/** Run-time registrar settings (ABI config keys 5-8). */
export class RegistrarConfig {
  minExpires: u32 = 60;
  maxExpires: u32 = 3600;
  defaultExpires: u32 = 3600;
  maxContacts: u32 = <u32>MAX_CONTACTS_PER_AOR;
}
export const regConfig = new RegistrarConfig();

// ---- AOR and binding records ------------------------------------------------------------------

@unmanaged export class Aor {
  hash: u64;
  key: u32;
  first: i32;
  bindings: u32;
  nextFree: i32;
}
export const AOR_SIZE: usize = 24;

@unmanaged export class Binding {
  callId: u64;
  deadline: i64;
  contact: u32;
  path: u32;
  aor: i32;
  next: i32;
  cseq: u32;
  q: i32;
  stamp: u32;
  spare: u32;
}
export const BIND_HDR: usize = 48;
export const BIND_SIZE: usize = BIND_HDR + <usize>PEER_SIZE;

function nextPow2(n: i32): i32 {
  let c = 1;
  while (c < n) c <<= 1;
  return c;
}
const HCAP: i32 = nextPow2(2 * MAX_AORS);
const HMASK: u32 = <u32>HCAP - 1;

const slots: usize = tableAlloc(<usize>HCAP << 2);
/** The AOR in hash slot i, or -1 (empty: slots hold ids + 1, so a table never used is all zero). */
function slotAt(i: u32): i32 { return load<i32>(slots + (<usize>i << 2)) - 1; }
const aors: usize = tableAlloc(<usize>MAX_AORS * AOR_SIZE);
const binds: usize = tableAlloc(<usize>MAX_BINDINGS * BIND_SIZE);
export const regPool = new Pool(<u32>REG_BLOCK, <u32>REG_BLOCKS);
export const expiry = new MinHeap(MAX_BINDINGS);

let seed: u64 = 0;
// Free records: the ones released (a list through the records), then those never used, from the
// watermark up (so a reset writes no record: util/zero.ts).
let aorFreeHead: i32 = -1;
let bindFreeHead: i32 = -1;
let aorHigh: i32 = 0;
let bindHigh: i32 = 0;
let aorLimit: i32 = MAX_AORS;
let bindLimit: i32 = MAX_BINDINGS;
let aorsUsed: i32 = 0;
let bindsUsed: i32 = 0;
let stampCounter: u32 = 0;

// Record accessors: ids come from the tables themselves (hash slots, lists, the heap), always < n / m.
export function aorAt(a: i32): Aor { return changetype<Aor>(aors + <usize>a * AOR_SIZE); }
export function bindAt(b: i32): Binding { return changetype<Binding>(binds + <usize>b * BIND_SIZE); }
export function bindPeer(b: i32): Peer { return changetype<Peer>(binds + <usize>b * BIND_SIZE + BIND_HDR); }

export function regSeed(): u64 { return seed; }

/** Binding flag (the record's spare word): learned from another instance (registrar/location.ts). */
export const BIND_SHARED: u32 = 1;

/** Records at and above this index were never used (the watermark). */
export function bindUsedBelow(): i32 { return bindHigh; }

/** Whether b is a binding in use that has not expired by `now`. */
export function bindLive(b: i32, now: i64): bool {
  return b >= 0 && b < bindHigh && bindAt(b).aor >= 0 && bindAt(b).deadline > now;
}

/**
 * A stream connection closed: bindings registered over it lose their flow (conn 0), so requests for
 * them go to the contact's address instead of a connection that no longer exists. A scan of the
 * binding table: closes are rare next to requests.
 */
export function registrarFlowClosed(conn: u32): void {
  if (conn == 0) return;
  for (let b = 0; b < bindHigh; b++) { // the records above the watermark were never used
    const p = bindPeer(b);
    if (p.conn == conn) p.conn = 0;
  }
}
export function aorsFree(): i32 { return registrarAorLimit() - aorsUsed; }
export function bindingsFree(): i32 { return registrarBindingLimit() - bindsUsed; }
export function registrarBindingLimit(): i32 { return SPARSE_TABLES ? bindLimit : MAX_BINDINGS; }
export function registrarAorLimit(): i32 { return SPARSE_TABLES ? aorLimit : MAX_AORS; }

/** The configured capacity (CfgKey.MaxBindings): at most n registrations (bindings, 1..MAX_BINDINGS)
 * and as many AORs (at most MAX_AORS); false when out of range. A REGISTER beyond it gets 503, as when
 * the table is full; the memory the tables make resident is bounded by it (util/zero.ts). */
export function registrarSetLimit(n: i64): bool {
  if (!SPARSE_TABLES || n < 1 || n > <i64>MAX_BINDINGS) return false;
  bindLimit = <i32>n;
  aorLimit = min(<i32>n, MAX_AORS);
  return true;
}
export function registrarAors(): i32 { return aorsUsed; }
export function registrarBindings(): i32 { return bindsUsed; }
export function registrarPoolUsed(): u32 { return regPool.used; }
export function registrarPoolBlocks(): u32 { return regPool.blocks; }
/** Next registration stamp (orders bindings of equal q in lookups, most recent first). */
export function nextStamp(): u32 { return ++stampCounter; }

/** Empty every table; `seed` keys the AOR and Call-ID hashes. */
export function registrarReset(s: u64): void {
  seed = s;
  zeroTable(slots, <usize>HCAP << 2);
  aorFreeHead = -1;
  bindFreeHead = -1;
  aorHigh = 0;
  bindHigh = 0;
  aorLimit = MAX_AORS;
  bindLimit = MAX_BINDINGS;
  aorsUsed = 0;
  bindsUsed = 0;
  stampCounter = 0;
  regPool.reset();
  expiry.clear();
}
registrarReset(0x243f6a8885a308d3);

// ---- AOR key ------------------------------------------------------------------------------------

/** The canonical key of the AOR being worked on (unescaped user part). */
export const KEY: usize = memory.data(MAX_TARGET_URI);
/** Scratch for one stored string (contact URI) copied out of the pool. */
export const SCR: usize = memory.data(MAX_TARGET_URI);

/**
 * Unescape the user part of a sip/sips URI into KEY; returns its length, or -1 when the URI is not
 * sip/sips, has no (or an empty) user part, or the key is longer than MAX_TARGET_URI.
 * The user span was validated by parseUri: every '%' begins `%` HEX HEX (still bounds-checked here).
 */
export function makeKey(u: UriRepr): i32 {
  if (u.scheme != UriScheme.Sip && u.scheme != UriScheme.Sips) return -1;
  if (!u.hasUser || u.userLen == 0) return -1;
  let p = u.user;
  const end = p + <usize>u.userLen;
  let n: i32 = 0;
  while (p < end) {
    if (n >= MAX_TARGET_URI) return -1;
    let c = <u32>load<u8>(p); // p < end
    if (c == 0x25 && p + 3 <= end) { // '%' HEX HEX, p + 2 < end
      c = (hexValue(<u32>load<u8>(p + 1)) << 4) | hexValue(<u32>load<u8>(p + 2));
      p += 3;
    } else {
      p++;
    }
    store<u8>(KEY + <usize>n, <u8>c); // n < MAX_TARGET_URI
    n++;
  }
  return n;
}

export function keyHash(len: i32): u64 {
  return hashBytes(KEY, <u32>len, seed);
}

/** Id of the AOR whose key is KEY[0, len) with hash h, or -1. */
export function aorFind(len: i32, h: u64): i32 {
  let i = <u32>h & HMASK;
  while (true) {
    const a = slotAt(i); // i <= HMASK
    if (a < 0) return -1;
    const r = aorAt(a);
    if (r.hash == h && regPool.equals(r.key, KEY, <u32>len)) return a;
    i = (i + 1) & HMASK;
  }
  return -1;
}

/** Create the AOR for KEY[0, len): the caller checked aorsFree() > 0 and pool room for the key. */
export function aorInsert(len: i32, h: u64): i32 {
  const a = aorFreeHead >= 0 ? aorFreeHead : aorHigh < MAX_AORS ? aorHigh : -1;
  if (a < 0) return -1;
  const key = regPool.store(KEY, <u32>len);
  if (key == 0) return -1;
  const r = aorAt(a);
  if (a == aorFreeHead) aorFreeHead = r.nextFree;
  else aorHigh++;
  r.hash = h; r.key = key; r.first = -1; r.bindings = 0; r.nextFree = -1;
  probeInsert(slots, HMASK, h, <u32>a); // load factor <= 1/2: an empty slot exists
  aorsUsed++;
  return a;
}

/** Remove AOR a (no bindings left): backward-shift deletion from the hash, key freed. */
function aorRemove(a: i32): void {
  const r = aorAt(a);
  // the same backward shift over the hole as before, in txn/probe.ts's one copy (the hash is the
  // record's u64 at +0)
  probeRemove(slots, HMASK, aors, AOR_SIZE, 0, r.hash, <u32>a);
  regPool.release(r.key);
  r.key = 0; r.first = -1; r.bindings = 0;
  r.nextFree = aorFreeHead;
  aorFreeHead = a;
  aorsUsed--;
}

// ---- bindings -------------------------------------------------------------------------------------

/** A fresh binding linked at the end of AOR a's list (the caller checked bindingsFree() > 0). */
export function bindAlloc(a: i32): i32 {
  const b = bindFreeHead >= 0 ? bindFreeHead : bindHigh < MAX_BINDINGS ? bindHigh : -1;
  if (b < 0) return -1;
  const r = bindAt(b);
  if (b == bindFreeHead) bindFreeHead = r.next;
  else bindHigh++;
  memory.fill(changetype<usize>(r), 0, BIND_SIZE); // every field 0 and the peer record cleared, then:
  r.aor = a; r.next = -1; r.q = -1;
  const ar = aorAt(a);
  if (ar.first < 0) {
    ar.first = b;
  } else {
    let t = ar.first;
    while (bindAt(t).next >= 0) t = bindAt(t).next;
    bindAt(t).next = b;
  }
  ar.bindings++;
  bindsUsed++;
  return b;
}

/** Free binding b; frees its AOR too when it was the last. Returns true when the AOR went. */
export function bindFree(b: i32): bool {
  const r = bindAt(b);
  const a = r.aor;
  if (a < 0) return false;
  const ar = aorAt(a);
  if (ar.first == b) {
    ar.first = r.next;
  } else {
    let t = ar.first;
    while (t >= 0 && bindAt(t).next != b) t = bindAt(t).next;
    if (t >= 0) bindAt(t).next = r.next;
  }
  ar.bindings--;
  regPool.release(r.contact);
  regPool.release(r.path);
  expiry.remove(b);
  r.contact = 0; r.path = 0; r.aor = -1;
  r.next = bindFreeHead;
  bindFreeHead = b;
  bindsUsed--;
  if (ar.bindings == 0) {
    aorRemove(a);
    return true;
  }
  return false;
}

/** Copy binding b's contact URI to SCR; returns its length (<= MAX_TARGET_URI by register.ts). */
export function contactToScr(b: i32): u32 {
  const h = bindAt(b).contact;
  if (h == 0 || regPool.len(h) > <u32>MAX_TARGET_URI) return 0;
  return regPool.copyOut(h, SCR);
}

/** Emit a registration event: text0 AOR key, text1 contact URI, text2 Call-ID. */
export function regEvent(
  kind: EventKind, code: i32, now: i64, value: u32, src: Peer | null,
  key: usize, keyLen: u32, b: i32, callId: usize, callIdLen: u32,
): void {
  eventBegin(kind, code, now, value, src);
  eventText(0, key, keyLen);
  const n = contactToScr(b);
  eventText(1, SCR, n);
  eventText(2, callId, callIdLen);
}

// ---- expiry -----------------------------------------------------------------------------------------

// a binding expired since registrarExpired() was last asked (the B2BUA's pass-through accounts follow)
let expiredSince = false;

/** Whether a binding expired since the last call (USER_AGENT builds; always false elsewhere). */
export function registrarExpired(): bool {
  const e = expiredSince;
  expiredSince = false;
  return e;
}

/** Expire every binding whose deadline <= now (emits RegExpire). Safe to call early or repeatedly. */
export function registrarTick(now: i64): void {
  while (true) {
    const k = expiry.peekKey();
    if (k < 0 || k > now) break;
    const b = expiry.peek();
    const r = bindAt(b);
    let keyLen: u32 = 0;
    if (r.aor >= 0) {
      const kh = aorAt(r.aor).key;
      if (kh != 0 && regPool.len(kh) <= <u32>MAX_TARGET_URI) keyLen = regPool.copyOut(kh, KEY);
      // code 1: a binding learned from another instance (the host does not publish its expiry)
      regEvent(EventKind.RegExpire, (r.spare & BIND_SHARED) != 0 ? 1 : 0, now, 0, bindPeer(b), KEY, keyLen, b, 0, 0);
      bindFree(b);
      if (USER_AGENT) expiredSince = true;
    }
    expiry.remove(b); // also when the record was already free (never left queued)
  }
}

/** Earliest binding deadline (ms), -1 when none. */
export function registrarNextDeadline(): i64 {
  return expiry.peekKey();
}
