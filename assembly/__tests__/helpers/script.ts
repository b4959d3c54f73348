// Timed-script helpers for the transaction machine tests (STYLE §6.3: `send(t, msg)`, `expectTx`,
// `expectNothing`, grouped under state banners). Time is virtual: every call takes the i64 ms `now`
// the test chooses. Messages are opaque bytes to the machines: each helper stores a string in
// `msgPool`, hands the handle over (the machine takes its own reference) and drops the test's.
//
// Not an entry file (only *.spec.ts are), so each spec imports what it needs.

import { msgPool, txPop, txReset, txnTableReset, txnTick, TxnUp, timers, rec } from "../../txn";
import { Peer, PEER_SIZE } from "../../net/peer";

/** Pop buffer: larger than anything a test stores (MSG_BLOCK is 512; messages here are < 200 bytes). */
const OUT_CAP: u32 = 2048;
const OUT = memory.data(2048);
const META = memory.data(32);

/** Nothing was due at that time (txnTick returned false). */
export const IDLE: i32 = -1;

/** Start of virtual time in most scripts: not 0, which is the "unarmed" deadline value. */
export const T0: i64 = 10_000;

function makePeer(port: u16, transport: u8, last: u8): Peer {
  const p = changetype<Peer>(heap.alloc(PEER_SIZE));
  memory.fill(changetype<usize>(p), 0, PEER_SIZE);
  p.transport = transport;
  p.family = 4;
  p.port = port;
  store<u32>(p.addr, 0x0000_000a | (<u32>last << 24)); // 10.0.0.last
  return p;
}

/** Upstream phone (where a server transaction answers). */
export const ALICE = makePeer(5060, 1, 1);
/** Downstream phone (where a client transaction sends). */
export const BOB = makePeer(5062, 1, 2);
/** Same peers over a stream transport (transport 2: the record's Reliable flag is what matters). */
export const ALICE_TCP = makePeer(5060, 2, 1);
export const BOB_TCP = makePeer(5062, 2, 2);

export const INVITE = "INVITE sip:bob@10.0.0.2 SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.9;branch=z9hG4bKc1\r\nCSeq: 1 INVITE\r\n\r\n";
export const OPTIONS = "OPTIONS sip:bob@10.0.0.2 SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.9;branch=z9hG4bKn1\r\nCSeq: 7 OPTIONS\r\n\r\n";
export const ACK = "ACK sip:bob@10.0.0.2 SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.9;branch=z9hG4bKc1\r\nCSeq: 1 ACK\r\n\r\n";
export const R100 = "SIP/2.0 100 Trying\r\nCSeq: 1 INVITE\r\n\r\n";
export const R180 = "SIP/2.0 180 Ringing\r\nCSeq: 1 INVITE\r\n\r\n";
export const R183 = "SIP/2.0 183 Session Progress\r\nCSeq: 1 INVITE\r\n\r\n";
export const R200 = "SIP/2.0 200 OK\r\nCSeq: 1 INVITE\r\n\r\n";
export const R200B = "SIP/2.0 200 OK\r\nTo: <sip:bob@b>;tag=fork2\r\nCSeq: 1 INVITE\r\n\r\n";
export const R486 = "SIP/2.0 486 Busy Here\r\nCSeq: 1 INVITE\r\n\r\n";
export const R404 = "SIP/2.0 404 Not Found\r\nCSeq: 7 OPTIONS\r\n\r\n";
export const R200N = "SIP/2.0 200 OK\r\nCSeq: 7 OPTIONS\r\n\r\n";
export const R500N = "SIP/2.0 500 Server Internal Error\r\nCSeq: 7 OPTIONS\r\n\r\n";

/** Store `text` in the message pool; the caller owns the returned reference. */
export function stash(text: string): u32 {
  const buf = String.UTF8.encode(text);
  const h = msgPool.store(changetype<usize>(buf), <u32>buf.byteLength);
  assert(h != 0, "test message pool full");
  return h;
}

/** Pool blocks in use now. */
export function poolUsed(): u32 {
  return msgPool.used;
}

/** Forget everything between tests (queue first: it holds pool references) and restore Table 4. */
export function resetAll(): void {
  txReset();
  txnTableReset();
  timers.t1 = 500;
  timers.t2 = 4000;
  timers.t4 = 5000;
  timers.timerC = 180_000;
}

// ---- transmit queue ----------------------------------------------------------------------------------

let popped: string = "";
let poppedTo: Peer = changetype<Peer>(META);

/** Pop one queued message; returns its length (0 = queue empty). */
export function pop(): u32 {
  memory.fill(OUT, 0xa5, OUT_CAP); // poison (STYLE §6.3)
  const n = txPop(OUT, OUT_CAP, META);
  popped = n > 0 ? String.UTF8.decodeUnsafe(OUT, n) : "";
  return n;
}

/** The next queued message is exactly `text`, going to `to`. */
export function expectTx(text: string, to: Peer): void {
  const n = pop();
  expect(n).toBe(<u32>String.UTF8.byteLength(text), "a message is queued with the stored length");
  expect(popped).toStrictEqual(text, "queued bytes are the stored message");
  expect(load<u8>(OUT + n)).toBe(0xa5, "nothing written past the message");
  expect(poppedTo.port).toBe(to.port, "destination port");
  expect(poppedTo.transport).toBe(to.transport, "destination transport");
  expect(memory.compare(META, changetype<usize>(to), PEER_SIZE)).toBe(0, "destination peer record");
}

/** Nothing is queued. */
export function expectNothing(): void {
  expect(pop()).toBe(0, "nothing queued");
}

// ---- timers -----------------------------------------------------------------------------------------

export const up = new TxnUp();

/** One txnTick at `now`: IDLE when nothing was due, else the ClientTimerOut it reported. */
export function tick(now: i64): i32 {
  if (!txnTick(now, up)) return IDLE;
  return <i32>up.kind;
}

/** txnTick at `now` until nothing is due (bounded); returns how many timers ran. */
export function tickAll(now: i64): i32 {
  let n = 0;
  while (n < 1000 && txnTick(now, up)) n++;
  return n;
}

/** State byte of slot idx. */
export function stateOf(idx: u32): i32 {
  return <i32>rec(idx).state;
}

/** Pop everything queued; returns how many messages there were. */
export function drain(): i32 {
  let n = 0;
  while (pop() != 0) n++;
  return n;
}
