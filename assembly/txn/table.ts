// The transaction table: one fixed array of records shared by server and client transactions, with
// generation-checked handles (smoltcp SocketSet/SocketHandle), a hash index for server-side matching
// (RFC 3261 §17.2.3), one timer heap over records, and the pool that keeps each transaction's
// message for retransmission. Allocated once at start-up; when it is full, `txnAlloc` returns 0 and the
// caller answers 503 statelessly — a live transaction is never evicted.
//
// Record layout (TXN_SIZE = 96 bytes), one per slot:
//
//   +0  u8  kind (TxnKind; 0 = free)    +1 u8 state          +2 u8 flags (TxnFlag)   +3 u8 gen
//   +4  u16 lastStatus                   +6 u8 method        +7 u8 owner (the TU's kind: never read here)
//   +8  u64 key (server: match key; client: branch nonce)
//   +16 u32 msg (pool handle: client = request, server = last response)   +20 u32 interval (ms)
//   +24 i64 retransmitAt (Timer A/E/G, 0 = unarmed)    +32 i64 timeoutAt (B/D/F/H/I/J/K/L/M, 0 = unarmed)
//   +40 i64 timerCAt (client INVITE: no final response in time, RFC 3261 §16.8 Timer C; the TU decides)
//   +48 Peer (32 bytes): server = where responses go; client = where the request goes
//   +80 u32 user, +84 u32 sibling, +92 u32 aux: the owner's (never read here; the proxy links a client
//       to its server handle in user and chains a server's clients through user and sibling)   +88 u32 cseq
//
// Memory: MAX_TXN × (96 + 16 heap + 8 index) bytes + the message pool. A record lives from the
// request until its last timer: a proxied INVITE holds a server and a client record for 64·T1 after
// the 2xx (RFC 6026 Timers L and M, 32 s at T1 = 500 ms); a non-INVITE holds them for Timer J/K.
// Under pressure (the table 3/4 full) a finished transaction lingers T4 instead: see `linger`.

import { MAX_TXN, MSG_BLOCKS, MSG_BLOCK, MAX_MSG, SPARSE_TABLES } from "../config";
import { Pool } from "../util/pool";
import { MinHeap } from "../util/minheap";
import { Peer, PEER_SIZE } from "../net/peer";
import { timers } from "./timers";
import { zeroTable } from "../util/zero";
import { tableAlloc } from "../util/alloc";
import { probeInsert, probeRemove, nextPow2 } from "./probe";

export const TXN_SIZE: u32 = 96;

export const enum TxnKind { Free = 0, ServerInvite = 1, ServerNonInvite = 2, ClientInvite = 3, ClientNonInvite = 4 }

export const enum TxnFlag {
  /** Sent over a reliable transport: no retransmission timers (RFC 3261 §17.1.1.2). */
  Reliable = 1,
  /** Client INVITE: a provisional response has been received (a CANCEL may be sent). */
  GotProvisional = 2,
  /** Client INVITE: a CANCEL is owed as soon as a provisional arrives (§9.1). */
  CancelPending = 4,
  /** Client INVITE: CANCEL sent. */
  Cancelled = 8,
  /** Server INVITE: the proxy has decided the final response (no more branches will start). */
  Finalised = 16,
  /** Server: CANCEL received for it. */
  CancelReceived = 32,
  /** Client INVITE, Completed: the record's message is the ACK (retransmitted finals resend it). */
  AckReady = 64,
  /** Client: the request was sent within a dialog (its To has a tag: a re-INVITE, not a call's INVITE). */
  InDialog = 128,
}

/** Record overlay: field access compiles to loads and stores at fixed offsets. */
@unmanaged export class TxnRec {
  kind: u8;
  state: u8;
  flags: u8;
  gen: u8;
  lastStatus: u16;
  method: u8;
  /** The transaction user owning this record (tu/owner.ts Owner); the transaction layer only carries it. */
  owner: u8;
  key: u64;
  msg: u32;
  interval: u32;
  retransmitAt: i64;
  timeoutAt: i64;
  timerCAt: i64;
  // Peer lives at +48 (see peer())
  p0: u64; p1: u64; p2: u64; p3: u64;
  user: u32;
  sibling: u32;
  cseq: u32;
  aux: u32;
}

// @ts-ignore: decorator
@inline const IDX_BITS: u32 = 24;
// @ts-ignore: decorator
@inline const IDX_MASK: u32 = (1 << IDX_BITS) - 1;

const records: usize = tableAlloc(<usize>MAX_TXN * TXN_SIZE);
// Free list links: 0 = never written (the next index: a fresh table chains its records in order, so a
// reset writes nothing, util/zero.ts), else the next record + 2 (-1, the end, as 1).
const freeNext: usize = tableAlloc(<usize>MAX_TXN << 2);
function nextFree(i: u32): i32 {
  const s = load<i32>(freeNext + (<usize>i << 2));
  return s != 0 ? s - 2 : i + 1 < <u32>MAX_TXN ? <i32>i + 1 : -1;
}
let freeHead: i32 = 0;
let limit: i32 = MAX_TXN; // records that may be in use at once (configured, at most MAX_TXN)
let inUse: i32 = 0;

/** Deadlines of all records: each record is queued at its earliest armed timer. */
export const txnTimers = new MinHeap(MAX_TXN);

/** Messages kept for retransmission, and the transmit queue's stored messages. */
export const msgPool = new Pool(<u32>MSG_BLOCK, <u32>MSG_BLOCKS);
// kept for stateless answers (txSend): with every other block taken the proxy still answers 503
msgPool.reserve = min(msgPool.blocksFor(<u32>MAX_MSG), <u32>MSG_BLOCKS / 12);

// Server match index: open addressing, linear probing, backward-shift deletion. Slot = record idx + 1.
const INDEX_CAP: u32 = nextPow2(<u32>MAX_TXN * 2);
const index: usize = tableAlloc(<usize>INDEX_CAP << 2);


/** Forget every transaction. */
export function txnTableReset(): void {
  zeroTable(records, <usize>MAX_TXN * TXN_SIZE);
  zeroTable(freeNext, <usize>MAX_TXN << 2);
  freeHead = MAX_TXN > 0 ? 0 : -1;
  limit = MAX_TXN;
  inUse = 0;
  zeroTable(index, <usize>INDEX_CAP << 2);
  txnTimers.clear();
  msgPool.reset();
}
txnTableReset();

export function txnInUse(): i32 { return inUse; }

/**
 * How long a finished transaction lingers only to absorb retransmissions (Timers D, J, L and M, whose
 * RFC value `full` is 64·T1 or 32 s). With the table or the message pool (whose blocks finished
 * transactions keep for retransmissions) 3/4 full it lingers T4 (5 s) instead, as
 * Kamailio's wait timer always does: under overload the records serve new requests rather than the
 * retransmissions a lost message would cause, and the table drains in seconds once the load stops.
 * A retransmission arriving later is processed anew: forwarded again (the next hop's transaction
 * absorbs it) or, for a response, forwarded statelessly (§16.7, RFC 6026 §7.2).
 */
export function linger(full: i64): i64 {
  const pressure = inUse * 4 >= MAX_TXN * 3 || msgPool.used * 4 >= msgPool.blocks * 3;
  return pressure && timers.t4 < full ? timers.t4 : full;
}
export function txnCapacity(): i32 { return SPARSE_TABLES ? limit : MAX_TXN; }
export function txnFree(): i32 { return txnCapacity() - inUse; }

/** The configured capacity (CfgKey.MaxTransactions): at most n records in use (1..MAX_TXN); false when
 * out of range. Bounds the memory the table makes resident (util/zero.ts). */
export function txnSetLimit(n: i64): bool {
  if (!SPARSE_TABLES || n < 1 || n > <i64>MAX_TXN) return false;
  limit = <i32>n;
  return true;
}

/** Record of slot idx (idx < MAX_TXN). */
export function rec(idx: u32): TxnRec {
  return changetype<TxnRec>(records + <usize>idx * TXN_SIZE);
}

/** The Peer inside a record. */
export function recPeer(r: TxnRec): Peer {
  return changetype<Peer>(changetype<usize>(r) + 48);
}

/** Handle of a record: index | generation << 24. Never 0 for a live record (gen starts at 1). */
export function handleOf(idx: u32): u32 {
  return idx | (<u32>rec(idx).gen << IDX_BITS);
}

/** Slot index of a handle, or -1 when the handle is stale or malformed. */
export function idxOf(h: u32): i32 {
  const idx = h & IDX_MASK;
  if (h == 0 || idx >= <u32>MAX_TXN) return -1;
  const r = rec(idx);
  if (r.kind == TxnKind.Free || r.gen != <u8>(h >> IDX_BITS)) return -1;
  return <i32>idx;
}

/** The handle the next txnAlloc will return (0 when the table is full): lets a client transaction's
 * branch name its own record before the request is written. */
export function txnNextHandle(): u32 {
  if (freeHead < 0 || (SPARSE_TABLES && inUse >= limit)) return 0;
  const g = <u32>rec(<u32>freeHead).gen; // widened: as a u8, g + 1 wrapped to 0 before the test for 256
  return <u32>freeHead | ((g + 1 == 256 ? 1 : g + 1) << IDX_BITS);
}

/** Take a free record; 0 when the table is full. */
export function txnAlloc(kind: TxnKind, method: u32, peer: Peer, reliable: bool, owner: u32): u32 {
  const h = txnNextHandle(); // the one generation step (255 → 1, never 0)
  if (h == 0) return 0;
  const idx = <u32>freeHead;
  freeHead = nextFree(idx);
  inUse++;
  const r = rec(idx);
  memory.fill(changetype<usize>(r), 0, TXN_SIZE);
  r.gen = <u8>(h >> IDX_BITS);
  r.kind = <u8>kind;
  r.method = <u8>method;
  r.owner = <u8>owner;
  r.flags = reliable ? <u8>TxnFlag.Reliable : 0;
  memory.copy(changetype<usize>(r) + 48, changetype<usize>(peer), PEER_SIZE);
  return h;
}

/** Release a record: its message, its timers and its index entry. */
export function txnRelease(idx: u32): void {
  const r = rec(idx);
  if (r.kind == TxnKind.Free) return;
  if (r.kind == TxnKind.ServerInvite || r.kind == TxnKind.ServerNonInvite) indexRemove(r.key, idx);
  msgPool.release(r.msg);
  r.msg = 0;
  txnTimers.remove(<i32>idx);
  r.kind = <u8>TxnKind.Free;
  store<i32>(freeNext + (<usize>idx << 2), freeHead + 2);
  freeHead = <i32>idx;
  inUse--;
}

/** Replace the record's kept message (releasing the previous one). */
export function txnKeep(r: TxnRec, handle: u32): void {
  msgPool.release(r.msg);
  r.msg = handle;
}

/**
 * A deadline as stored: 0 means "unarmed", so a timer due at time 0 (a zero-length Timer D/I/J/K on a
 * reliable transport at the host's first millisecond) is stored as 1 — one millisecond late, never lost.
 */
export function at(t: i64): i64 {
  return t > 0 ? t : 1;
}

/** Whether deadline t (0: unarmed) has come at `now`. */
export function due(t: i64, now: i64): bool {
  return t != 0 && now >= t;
}

/** Re-queue the record at its earliest armed timer (call after changing any deadline). */
export function txnRearm(idx: u32): void {
  const r = rec(idx);
  let t = r.retransmitAt;
  if (r.timeoutAt != 0 && (t == 0 || r.timeoutAt < t)) t = r.timeoutAt;
  if (r.timerCAt != 0 && (t == 0 || r.timerCAt < t)) t = r.timerCAt;
  if (t == 0) txnTimers.remove(<i32>idx);
  else txnTimers.set(<i32>idx, t);
}

// ---- server match index -------------------------------------------------------------------------

function slotAt(i: u32): u32 { return load<u32>(index + (<usize>i << 2)); }
function setSlot(i: u32, v: u32): void { store<u32>(index + (<usize>i << 2), v); }

/** Enter server record idx under key (keys are keyed hashes: see txn/match.ts). */
export function indexInsert(key: u64, idx: u32): void {
  probeInsert(index, INDEX_CAP - 1, key, idx);
}

/** Server record with this key and kind, or -1. */
export function indexFind(key: u64, kind: TxnKind): i32 {
  let i = <u32>key & (INDEX_CAP - 1);
  while (true) {
    const s = slotAt(i);
    if (s == 0) return -1;
    const r = rec(s - 1);
    if (r.key == key && r.kind == <u8>kind) return <i32>(s - 1);
    i = (i + 1) & (INDEX_CAP - 1);
  }
}

function indexRemove(key: u64, idx: u32): void {
  probeRemove(index, INDEX_CAP - 1, records, TXN_SIZE, 8, key, idx); // TxnRec.key at +8
}
