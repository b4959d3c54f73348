// Dialogs (RFC 3261 §12) the proxy saw established: one record from the first 2xx of an initial INVITE
// to the BYE, so that the call's end can be reported with its duration and who ended it (usage
// records). Keyed by a hash of the Call-ID and the two tags (order-free: a BYE from either side finds
// it). Fixed table with an open-addressing index; when full, a round-robin hand reuses a slot.
//
// Topology hiding also keeps here, per dialog, the real contacts of both sides (the peers only ever
// see our token URIs, proxy/topology.ts). A record for a hidden dialog exists from the INVITE on
// (pending: not yet indexed, its key needs the callee's tag) and is bound to its key at the 2xx.
//
//   record (56 bytes): u64 key, u64 caller tag hash, i64 answered (ms), u32 used (0 free, 1 indexed,
//   2 pending, 3 pending and indexed under its early key: a relayed call's, dialogIndexEarly), u32 nonce, u32 caller contact, u32 callee contact (dlgPool handles), u32 flags
//   (1: its media go through our relay, session RELAY_PROXY_BASE + record: proxy/media.ts), u32 pad
//
// A relayed dialog's record is its relay session: closing the record (BYE, failure, the hand's reuse)
// closes the relay's legs.

import { MAX_DIALOGS, DLG_BLOCKS, MEDIA_RELAY, RELAY_PROXY_BASE } from "../config";
import { relayEnd } from "../media/relay";
import { hashBytes, hashMix } from "../util/hash";
import { prngNext } from "../util/prng";
import { Pool } from "../util/pool";
import { zeroTable } from "../util/zero";
import { tableAlloc } from "../util/alloc";
import { probeInsert, probeRemove, nextPow2 } from "../txn/probe";

const DLG_SIZE: usize = 56;
/** The real contacts of hidden dialogs. */
export const dlgPool = new Pool(64, <u32>DLG_BLOCKS);
const records: usize = tableAlloc(<usize>MAX_DIALOGS * DLG_SIZE);
const CAP: u32 = nextPow2(<u32>MAX_DIALOGS * 2);
const index: usize = tableAlloc(<usize>CAP << 2);
let hand: u32 = 0;
let inUse: i32 = 0;

export function dialogsReset(): void {
  zeroTable(records, <usize>MAX_DIALOGS * DLG_SIZE);
  zeroTable(index, <usize>CAP << 2);
  dlgPool.reset();
  hand = 0;
  inUse = 0;
}
dialogsReset();

export function dialogsInUse(): i32 {
  return inUse;
}

/** A record can be taken without reusing a live one (the relay's calls are refused rather than
 * evicted). */
export function dialogRoom(): bool {
  return inUse < MAX_DIALOGS;
}

/** Mark record r relayed: its close ends relay session RELAY_PROXY_BASE + r. */
export function dialogSetRelayed(r: i32, ifaces: u32): void {
  store<u32>(rec(<u32>r), 1 | ifaces << 8, 40);
}

/** The relay interfaces of relayed record r's parties (media/relay.ts relaySdp: caller | callee << 8). */
export function dialogRelayIfaces(r: i32): u32 { return load<u32>(rec(<u32>r), 40) >> 8; }
export function dialogRelayed(r: i32): bool {
  return MEDIA_RELAY && r >= 0 && load<u32>(rec(<u32>r), 24) != 0 && (load<u32>(rec(<u32>r), 40) & 1) != 0;
}

function rec(i: u32): usize { return records + <usize>i * DLG_SIZE; }
function slot(i: u32): u32 { return load<u32>(index + (<usize>i << 2)); }

/** Key of the dialog of Call-ID [c, c+cl) between tags a and b (either order). */
export function dialogKey(c: usize, cl: u32, a: usize, al: u32, b: usize, bl: u32): u64 {
  const h = hashBytes(c, cl, 0xd1a1);
  return hashMix(h, hashBytes(a, al, 0xd1a1) ^ hashBytes(b, bl, 0xd1a1)) | 1; // never 0 (free)
}

export function tagHash(t: usize, tl: u32): u64 {
  return hashBytes(t, tl, 0x7a6);
}

/** Record index of the dialog with this key, or -1. */
export function dialogFind(key: u64): i32 {
  let i = <u32>key & (CAP - 1);
  while (true) {
    const s = slot(i);
    if (s == 0) return -1;
    if (load<u64>(rec(s - 1)) == key) return <i32>(s - 1);
    i = (i + 1) & (CAP - 1);
  }
}

/** A free record (or the hand's victim), initialised and not indexed. */
function take(used: u32, now: i64): u32 {
  let r: u32 = 0;
  let found = false;
  for (let k: u32 = 0; k < <u32>MAX_DIALOGS; k++) {
    const c = (hand + k) % <u32>MAX_DIALOGS;
    if (load<u32>(rec(c), 24) == 0) { r = c; found = true; break; }
  }
  if (!found) {
    r = hand;
    dialogClose(<i32>r);
  }
  hand = (r + 1) % <u32>MAX_DIALOGS;
  const p = rec(r);
  memory.fill(p, 0, DLG_SIZE);
  store<i64>(p, now, 16);
  store<u32>(p, used, 24);
  store<u32>(p, <u32>prngNext() | 1, 28);
  inUse++;
  return r;
}

function indexAdd(r: u32, key: u64): void {
  store<u64>(rec(r), key);
  probeInsert(index, CAP - 1, key, r);
}

/** Start tracking a dialog (no-op when it is known); returns its record index. */
export function dialogOpen(key: u64, callerTag: u64, now: i64): i32 {
  const known = dialogFind(key);
  if (known >= 0) return known;
  const r = take(1, now);
  store<u64>(rec(r), callerTag, 8);
  indexAdd(r, key);
  return <i32>r;
}

/** A record for a dialog being set up under topology hiding (bound to its key at the 2xx). */
export function dialogPending(now: i64): i32 {
  return <i32>take(2, now);
}

/**
 * Index relayed pending record r under its INVITE's early key (dialogKey of its Call-ID and the caller's
 * tag alone), so that an early dialog's PRACK or UPDATE (RFC 3262, RFC 3311), whose callee tag the
 * record cannot know yet (each fork has its own), finds it: proxy/media.ts relayedDialog.
 */
export function dialogIndexEarly(r: i32, key: u64, callerTag: u64): void {
  const p = rec(<u32>r);
  if (load<u32>(p, 24) != 2) return;
  store<u64>(p, callerTag, 8);
  store<u32>(p, 3, 24);
  indexAdd(<u32>r, key);
}

/** Bind pending record r to its dialog key at the answer. */
export function dialogBind(r: i32, key: u64, callerTag: u64, now: i64): void {
  const p = rec(<u32>r);
  const used = load<u32>(p, 24);
  if (used != 2 && (!MEDIA_RELAY || used != 3)) return;
  if (MEDIA_RELAY && used == 3) indexRemove(<u32>r); // its early key
  store<u64>(p, callerTag, 8);
  store<i64>(p, now, 16);
  store<u32>(p, 1, 24);
  indexAdd(<u32>r, key);
}

/** Is r a live record with this nonce (a token from a peer)? */
export function dialogValid(r: u32, nonce: u32): bool {
  return r < <u32>MAX_DIALOGS && load<u32>(rec(r), 24) != 0 && load<u32>(rec(r), 28) == nonce;
}

export function dialogNonce(r: i32): u32 {
  return load<u32>(rec(<u32>r), 28);
}

/** The stored real contact of side 0 (caller) or 1 (callee): a dlgPool handle, 0 when none. */
export function dialogContact(r: i32, side: u32): u32 {
  return load<u32>(rec(<u32>r) + 32 + (<usize>side << 2));
}

/** Keep the real contact [p, p+len) of a side (a target refresh replaces it). False when full. */
export function dialogSetContact(r: i32, side: u32, p: usize, len: u32): bool {
  const h = dlgPool.store(p, len);
  if (h == 0) return false;
  const at = rec(<u32>r) + 32 + (<usize>side << 2);
  dlgPool.release(load<u32>(at));
  store<u32>(at, h);
  return true;
}

export function dialogAnswered(r: i32): i64 {
  return load<i64>(rec(<u32>r), 16);
}

export function dialogCallerTag(r: i32): u64 {
  return load<u64>(rec(<u32>r), 8);
}

/** Stop tracking record r. */
export function dialogClose(r: i32): void {
  const p = rec(<u32>r);
  const used = load<u32>(p, 24);
  if (used == 0) return;
  store<u32>(p, 0, 24);
  if (MEDIA_RELAY && (load<u32>(p, 40) & 1) != 0) relayEnd(RELAY_PROXY_BASE + r);
  if (MEDIA_RELAY) store<u32>(p, 0, 40);
  dlgPool.release(load<u32>(p, 32));
  dlgPool.release(load<u32>(p, 36));
  store<u64>(p, 0, 32);
  inUse--;
  if (used == 2) return; // pending: never indexed
  indexRemove(<u32>r);
}

/** Remove record r from the index (under the key it holds). */
function indexRemove(r: u32): void {
  probeRemove(index, CAP - 1, records, DLG_SIZE, 0, load<u64>(rec(r)), r);
}
