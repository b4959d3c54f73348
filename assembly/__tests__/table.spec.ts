// The shared transaction table (txn/table.ts), the transmit queue (txn/output.ts) and the timer pass
// (txnTick): generation-checked handles, no eviction when full, index matching with collisions, and
// that every record and pool block comes back once all timers have run out.

import {
  TxnKind, rec, handleOf, idxOf, txnAlloc, txnRelease, txnInUse, txnFree, txnCapacity,
  txnNextHandle, txnTableReset, txnTimers, txnNextDeadline, indexFind, msgPool, txRoom, txPush, txPop, txSend,
  txReset, serverInviteCreate, serverInviteRespond, serverInviteOnAck, serverNonInviteCreate,
  serverNonInviteRespond, clientInviteCreate, clientInviteOnResponse, clientInviteSendAck,
  clientNonInviteCreate, clientNonInviteOnResponse, ClientTimerOut, txnTick,
} from "../txn";
import { MAX_TXN, MAX_TXQ } from "../config";
import { Method } from "../wire/method";
import {
  T0, IDLE, ALICE, BOB, ALICE_TCP, BOB_TCP, INVITE, OPTIONS, ACK, R200, R486, R404, R200N, stash,
  resetAll, expectTx, expectNothing, tick, poolUsed, up, drain,
} from "./helpers/script";

function allocOne(): u32 {
  return txnAlloc(TxnKind.ServerNonInvite, Method.OPTIONS, ALICE, false, 0);
}

function respondNI(i: u32, text: string, status: u32, now: i64): void {
  const m = stash(text);
  serverNonInviteRespond(i, m, status, now);
  msgPool.release(m);
}

function respondI(i: u32, text: string, status: u32, now: i64): void {
  const m = stash(text);
  serverInviteRespond(i, m, status, now);
  msgPool.release(m);
}

/** Timer J of a server non-INVITE answered at T0 with `others` other records in use. */
function timerJWith(others: i32): i64 {
  for (let k = 0; k < others; k++) allocOne();
  const h = serverNonInviteCreate(0x99, Method.OPTIONS, ALICE, false, 1);
  respondNI(h & 0xffffff, R200, 200, T0);
  drain();
  return txnNextDeadline();
}

/** Run every timer due up to `until`, stepping virtual time by `step`, acting as the TU: release a
 * client transaction reported as timed out (Timer B/F) or past Timer C. Returns the timers run. */
function runUntilIdle(from: i64, until: i64, step: i64): i32 {
  let n = 0;
  for (let t = from; t <= until; t += step) {
    while (n < 100_000 && txnTick(t, up)) {
      n++;
      if (up.kind == ClientTimerOut.Timeout || up.kind == ClientTimerOut.TimerC) txnRelease(up.idx);
    }
    drain();
  }
  return n;
}

describe("transaction table", () => {
  beforeEach(() => { resetAll(); });

  describe("handles", () => {
    it("are index | generation << 24, never 0, and resolve back to their slot", () => {
      const h = allocOne();
      expect(h).not.toBe(0);
      const i = idxOf(h);
      expect(i).toBeGreaterThanOrEqual(0);
      expect(h & 0xffffff).toBe(<u32>i);
      expect(h >> 24).toBe(<u32>rec(<u32>i).gen);
      expect(rec(<u32>i).gen).toBeGreaterThan(0);
      expect(handleOf(<u32>i)).toBe(h);
    });

    it("go stale after release, and the slot's next handle has the next generation", () => {
      const h1 = allocOne();
      const i = <u32>idxOf(h1);
      const g1 = rec(i).gen;
      txnRelease(i);
      expect(idxOf(h1)).toBe(-1, "stale after release");
      expect(txnNextHandle()).toBe(i | (<u32>(g1 + 1) << 24), "predicted next handle");
      const h2 = allocOne();
      expect(h2 & 0xffffff).toBe(i, "the freed slot is reused");
      expect(rec(i).gen).toBe(g1 + 1, "generation increments");
      expect(idxOf(h1)).toBe(-1, "the old handle stays stale");
      expect(idxOf(h2)).toBe(<i32>i);
    });

    it("generation wraps from 255 to 1, never 0", () => {
      let seenWrap = false;
      for (let k = 0; k < 600; k++) {
        const h = allocOne();
        const i = <u32>idxOf(h);
        expect(h >> 24).not.toBe(0);
        if (rec(i).gen == 1 && k > 0) seenWrap = true;
        txnRelease(i);
      }
      expect(seenWrap).toBe(true);
    });

    it("txnNextHandle names the handle txnAlloc gives next, across the wrap from 255 to 1", () => {
      // a branch is named (Via branch) before its record is taken: a name that differs from the
      // record's handle leaves its responses unmatched (generation 0 at 255 → 1 did)
      let wraps = 0;
      for (let k = 0; k < 600; k++) {
        const named = txnNextHandle();
        const h = allocOne();
        expect(h).toBe(named);
        if (rec(<u32>idxOf(h)).gen == 1 && k > 0) wraps++;
        txnRelease(<u32>idxOf(h));
      }
      expect(wraps).toBeGreaterThan(0);
    });

    it("reject malformed handles: 0, out-of-range index, free slot", () => {
      expect(idxOf(0)).toBe(-1);
      expect(idxOf(<u32>MAX_TXN | (1 << 24))).toBe(-1);
      expect(idxOf(3 | (1 << 24))).toBe(-1, "free slot");
    });

    it("releasing twice is harmless", () => {
      const i = <u32>idxOf(allocOne());
      txnRelease(i);
      txnRelease(i);
      expect(txnInUse()).toBe(0);
      expect(txnFree()).toBe(MAX_TXN);
      // every slot can still be taken exactly once
      for (let k = 0; k < MAX_TXN; k++) expect(allocOne()).not.toBe(0);
      expect(allocOne()).toBe(0);
    });
  });

  describe("full table", () => {
    it("txnAlloc returns 0 and nothing is evicted", () => {
      expect(txnCapacity()).toBe(MAX_TXN);
      const hs = new StaticArray<u32>(MAX_TXN);
      for (let k = 0; k < MAX_TXN; k++) {
        hs[k] = allocOne();
        expect(hs[k]).not.toBe(0);
      }
      expect(txnInUse()).toBe(MAX_TXN);
      expect(txnFree()).toBe(0);
      expect(txnNextHandle()).toBe(0);
      expect(allocOne()).toBe(0);
      expect(txnAlloc(TxnKind.ClientInvite, Method.INVITE, BOB, false, 0)).toBe(0);
      for (let k = 0; k < MAX_TXN; k++) expect(idxOf(hs[k])).toBe(<i32>(hs[k] & 0xffffff), "still live");
      expect(txnInUse()).toBe(MAX_TXN);
    });

    it("machine constructors return 0 without sending, indexing or keeping anything", () => {
      for (let k = 0; k < MAX_TXN; k++) allocOne();
      const m = stash(INVITE);
      expect(clientInviteCreate(BOB, false, m, 1, 9, T0)).toBe(0);
      expect(clientNonInviteCreate(Method.OPTIONS, BOB, false, m, 1, 9, T0)).toBe(0);
      expect(serverInviteCreate(0x77, ALICE, false, 1)).toBe(0);
      expect(serverNonInviteCreate(0x78, Method.OPTIONS, ALICE, false, 1)).toBe(0);
      expectNothing();
      expect(indexFind(0x77, TxnKind.ServerInvite)).toBe(-1);
      expect(indexFind(0x78, TxnKind.ServerNonInvite)).toBe(-1);
      msgPool.release(m);
      expect(poolUsed()).toBe(0, "no reference leaked");
      expect(txnTimers.size).toBe(0);
    });

    it("a released slot can be taken again", () => {
      let last: u32 = 0;
      for (let k = 0; k < MAX_TXN; k++) last = allocOne();
      txnRelease(last & 0xffffff);
      expect(allocOne()).not.toBe(0);
      expect(allocOne()).toBe(0);
    });
  });

  describe("pressure", () => {
    it("a finished transaction lingers 64·T1 while the table is less than 3/4 full", () => {
      expect(timerJWith(MAX_TXN * 3 / 4 - 2)).toBe(T0 + 32000);
    });

    it("with the table 3/4 full it lingers T4, so the table drains in seconds", () => {
      expect(timerJWith(MAX_TXN * 3 / 4 - 1)).toBe(T0 + 5000);
    });

    it("Timer L of an INVITE answered 2xx under pressure is T4 too", () => {
      for (let k = 0; k < MAX_TXN * 3 / 4 - 1; k++) allocOne();
      const h = serverInviteCreate(0x9a, ALICE, false, 1);
      respondI(h & 0xffffff, R200, 200, T0);
      drain();
      expect(txnNextDeadline()).toBe(T0 + 5000);
    });
  });

  describe("server index", () => {
    it("finds colliding keys after any of them is removed (backward-shift deletion)", () => {
      // with MAX_TXN 16 the index has 32 slots: keys equal mod 32 share a home slot
      const base: u64 = 0x5000_0000_0000_0003;
      const keys: u64[] = [base, base + 32, base + 64, base + 1, base + 96, base + 2];
      const idx = new StaticArray<i32>(6);
      for (let k = 0; k < 6; k++) {
        idx[k] = idxOf(serverNonInviteCreate(keys[k], Method.OPTIONS, ALICE, false, 1));
        expect(idx[k]).toBeGreaterThanOrEqual(0);
      }
      for (let k = 0; k < 6; k++) expect(indexFind(keys[k], TxnKind.ServerNonInvite)).toBe(idx[k]);
      // remove in an order that forces shifts across displaced entries
      const order: i32[] = [0, 3, 2, 5, 1, 4];
      for (let r = 0; r < 6; r++) {
        const gone = order[r];
        txnRelease(<u32>idx[gone]);
        expect(indexFind(keys[gone], TxnKind.ServerNonInvite)).toBe(-1, "removed key");
        for (let q = r + 1; q < 6; q++) {
          const k = order[q];
          expect(indexFind(keys[k], TxnKind.ServerNonInvite)).toBe(idx[k], "remaining key still found");
        }
      }
    });

    it("keeps an INVITE and a non-INVITE under the same key apart", () => {
      const a = idxOf(serverInviteCreate(0x42, ALICE, false, 1));
      const b = idxOf(serverNonInviteCreate(0x42, Method.CANCEL, ALICE, false, 1));
      expect(indexFind(0x42, TxnKind.ServerInvite)).toBe(a);
      expect(indexFind(0x42, TxnKind.ServerNonInvite)).toBe(b);
      txnRelease(<u32>a);
      expect(indexFind(0x42, TxnKind.ServerInvite)).toBe(-1);
      expect(indexFind(0x42, TxnKind.ServerNonInvite)).toBe(b);
    });

    it("is emptied by txnTableReset", () => {
      serverInviteCreate(0x42, ALICE, false, 1);
      txnTableReset();
      expect(indexFind(0x42, TxnKind.ServerInvite)).toBe(-1);
      expect(txnInUse()).toBe(0);
      expect(txnNextDeadline()).toBe(-1);
    });
  });

  describe("timer pass", () => {
    it("runs due timers in deadline order, one per txnTick, whatever the creation order", () => {
      const a = <u32>idxOf(serverNonInviteCreate(1, Method.OPTIONS, ALICE, false, 1));
      const b = <u32>idxOf(serverNonInviteCreate(2, Method.OPTIONS, ALICE, false, 1));
      const c = <u32>idxOf(serverNonInviteCreate(3, Method.OPTIONS, ALICE, false, 1));
      respondNI(a, R404, 404, T0 + 300); // Timer J at +32300
      respondNI(b, R404, 404, T0 + 100); // +32100
      respondNI(c, R404, 404, T0 + 200); // +32200
      drain();
      expect(txnNextDeadline()).toBe(T0 + 32_100);
      const now = T0 + 40_000;
      expect(tick(now)).toBe(ClientTimerOut.Ended);
      expect(up.idx).toBe(b);
      expect(tick(now)).toBe(ClientTimerOut.Ended);
      expect(up.idx).toBe(c);
      expect(tick(now)).toBe(ClientTimerOut.Ended);
      expect(up.idx).toBe(a);
      expect(tick(now)).toBe(IDLE);
      expect(txnNextDeadline()).toBe(-1);
    });

    it("carries each record's owner to the timer report, and only carries it (two TUs at once)", () => {
      // owners 1 and 2 stand for two transaction users (tu/owner.ts); the layer never reads them
      const a = <u32>idxOf(serverNonInviteCreate(1, Method.OPTIONS, ALICE, false, 1, -1, 1));
      const b = <u32>idxOf(clientNonInviteCreate(Method.OPTIONS, BOB, false, stash(OPTIONS), 1, 0x77, T0, 2));
      drain();
      expect(rec(a).owner).toBe(1);
      expect(rec(b).owner).toBe(2);
      respondNI(a, R404, 404, T0); // Timer J at +32000
      drain();
      expect(tick(T0 + 500)).toBe(ClientTimerOut.None, "Timer E of b");
      expect(up.idx).toBe(b);
      expect(up.owner).toBe(2);
      drain();
      txnRelease(b);
      expect(tick(T0 + 32_000)).toBe(ClientTimerOut.Ended, "Timer J of a ends it");
      expect(up.idx).toBe(a);
      expect(up.owner).toBe(1, "read before the record was freed");
      expect(rec(a).kind).toBe(<u8>TxnKind.Free);
    });

    it("txnInUse returns to 0 and every pool block comes back once all timers run out", () => {
      const baseline = poolUsed();
      let now = T0;
      // server INVITE: 486 then ACK (Confirmed, Timer I); 200 (Accepted, Timer L); 486 without ACK (Timer H)
      const s1 = <u32>idxOf(serverInviteCreate(11, ALICE, false, 1));
      const s2 = <u32>idxOf(serverInviteCreate(12, ALICE_TCP, true, 1));
      const s3 = <u32>idxOf(serverInviteCreate(13, ALICE, false, 1));
      respondI(s1, R486, 486, now);
      serverInviteOnAck(s1, now + 100);
      respondI(s2, R200, 200, now);
      respondI(s3, R486, 486, now);
      // server non-INVITE: final on UDP (Timer J) and TCP (J = 0); one never answered (stays)
      const n1 = <u32>idxOf(serverNonInviteCreate(21, Method.OPTIONS, ALICE, false, 1));
      const n2 = <u32>idxOf(serverNonInviteCreate(22, Method.OPTIONS, ALICE_TCP, true, 1));
      respondNI(n1, R404, 404, now);
      respondNI(n2, R200N, 200, now);
      const n3 = <u32>idxOf(serverNonInviteCreate(23, Method.OPTIONS, ALICE, false, 1));
      // client INVITE: 486 + ACK (Timer D), 200 (Timer M), no answer (Timer B → TU releases)
      const inv = stash(INVITE);
      const c1 = <u32>idxOf(clientInviteCreate(BOB, false, inv, 1, 1, now));
      const c2 = <u32>idxOf(clientInviteCreate(BOB_TCP, true, inv, 1, 2, now));
      clientInviteCreate(BOB, false, inv, 1, 3, now);
      msgPool.release(inv);
      clientInviteOnResponse(c1, 486, now + 50);
      const ack = stash(ACK);
      clientInviteSendAck(c1, ack);
      msgPool.release(ack);
      clientInviteOnResponse(c2, 200, now + 50);
      // client non-INVITE: 200 (Timer K), no answer (Timer F → TU releases)
      const opt = stash(OPTIONS);
      const k1 = <u32>idxOf(clientNonInviteCreate(Method.OPTIONS, BOB, false, opt, 1, 4, now));
      clientNonInviteCreate(Method.OPTIONS, BOB, false, opt, 1, 5, now);
      msgPool.release(opt);
      clientNonInviteOnResponse(k1, 200, now + 50);
      drain();
      expect(txnInUse()).toBe(11);
      expect(poolUsed()).toBeGreaterThan(baseline);

      const ran = runUntilIdle(now, now + 200_000, 100);
      expect(ran).toBeGreaterThan(0);
      expect(txnNextDeadline()).toBe(-1, "no timer left");
      expect(txnInUse()).toBe(1, "only the unanswered server non-INVITE (no timer in Trying) remains");
      expect(rec(n3).kind).toBe(<u8>TxnKind.ServerNonInvite);
      txnRelease(n3); // the TU gives up on the unanswered request
      expect(txnInUse()).toBe(0);
      expect(poolUsed()).toBe(baseline, "every pool block returned");
      expectNothing();
    });
  });

  describe("transmit queue", () => {
    it("pops in FIFO order with each message's destination, and txRoom tracks the queue", () => {
      expect(txRoom()).toBe(<u32>MAX_TXQ);
      const a = stash(OPTIONS);
      const b = stash(ACK);
      expect(txPush(a, BOB)).toBe(true);
      expect(txPush(b, ALICE)).toBe(true);
      expect(txPush(a, ALICE_TCP)).toBe(true);
      expect(txRoom()).toBe(<u32>MAX_TXQ - 3);
      msgPool.release(a);
      msgPool.release(b);
      expect(poolUsed()).toBe(2, "the queue holds its own references");
      expectTx(OPTIONS, BOB);
      expectTx(ACK, ALICE);
      expectTx(OPTIONS, ALICE_TCP);
      expectNothing();
      expect(txRoom()).toBe(<u32>MAX_TXQ);
      expect(poolUsed()).toBe(0);
    });

    it("refuses when full, and txReset returns the queued references", () => {
      const a = stash(OPTIONS);
      for (let k = 0; k < MAX_TXQ; k++) expect(txPush(a, BOB)).toBe(true);
      expect(txRoom()).toBe(0);
      expect(txPush(a, BOB)).toBe(false);
      msgPool.release(a);
      expect(poolUsed()).toBe(1);
      txReset();
      expect(txRoom()).toBe(<u32>MAX_TXQ);
      expect(poolUsed()).toBe(0);
      expect(txPop(0, 0, 0)).toBe(0);
    });

    it("a pool full for transactions still carries a stateless answer, from its reserve", () => {
      expect(msgPool.reserve).toBeGreaterThan(0);
      const text = String.UTF8.encode(OPTIONS);
      const p = changetype<usize>(text);
      const len = <u32>text.byteLength;
      while (msgPool.store(p, len) != 0) {}
      expect(msgPool.available).toBeLessThan(msgPool.reserve + msgPool.blocksFor(len));
      expect(txSend(p, len, BOB)).toBe(true);
      expectTx(OPTIONS, BOB);
    });
  });

  describe("deadline 0", () => {
    it("zero-length timers armed at now = 0 (Timers D, I, J, K on reliable transports) still fire", () => {
      // 0 means "unarmed" in the record, so now + 0 at now = 0 is stored as 1 (table.ts `at`): the
      // records are released one millisecond late, never kept forever.
      const s = <u32>idxOf(serverInviteCreate(31, ALICE_TCP, true, 1));
      respondI(s, R486, 486, 0);
      serverInviteOnAck(s, 0); // Timer I = 0
      const n = <u32>idxOf(serverNonInviteCreate(32, Method.OPTIONS, ALICE_TCP, true, 1));
      respondNI(n, R200N, 200, 0); // Timer J = 0
      const inv = stash(INVITE);
      const c = <u32>idxOf(clientInviteCreate(BOB_TCP, true, inv, 1, 1, 0));
      msgPool.release(inv);
      clientInviteOnResponse(c, 486, 0); // Timer D = 0
      const opt = stash(OPTIONS);
      const k = <u32>idxOf(clientNonInviteCreate(Method.OPTIONS, BOB_TCP, true, opt, 1, 2, 0));
      msgPool.release(opt);
      clientNonInviteOnResponse(k, 200, 0); // Timer K = 0
      drain();
      let ran = 0;
      while (ran < 100 && txnTick(0, up)) ran++;
      expect(txnInUse()).toBe(4, "nothing is due before t = 1");
      while (ran < 100 && txnTick(1, up)) ran++;
      expect(txnInUse()).toBe(0, "all four records released at t = 1");
    });
  });
});
