// Server non-INVITE transaction (RFC 3261 §17.2.2, Figure 8), as timed scripts grouped by state.
// T1 = 500 (Timer J = 64·T1 on unreliable transports, 0 on reliable ones).

import {
  serverNonInviteCreate, serverNonInviteRespond, serverNonInviteOnRequest, SNState, ClientTimerOut,
  rec, idxOf, txnInUse, TxnFlag, TxnKind, indexFind, msgPool,
} from "../txn";
import { Method } from "../wire/method";
import {
  T0, IDLE, ALICE, ALICE_TCP, R100, R200N, R404, R500N, stash, resetAll, expectTx, expectNothing, tick,
  stateOf, poolUsed, up, drain,
} from "./helpers/script";
import { Peer } from "../net/peer";

const KEY: u64 = 0x0ff1_ce00_dead_beef;

function start(to: Peer, reliable: bool): u32 {
  const h = serverNonInviteCreate(KEY, Method.OPTIONS, to, reliable, 7);
  expect(h).not.toBe(0, "created");
  expectNothing();
  return <u32>idxOf(h);
}

function respond(i: u32, text: string, status: u32, now: i64): void {
  const m = stash(text);
  serverNonInviteRespond(i, m, status, now);
  msgPool.release(m);
}

describe("server non-INVITE", () => {
  beforeEach(() => { resetAll(); });

  describe("Trying", () => {
    it("is created in Trying, indexed under its key and method class, with no timer", () => {
      const i = start(ALICE, false);
      expect(stateOf(i)).toBe(SNState.Trying);
      expect(rec(i).kind).toBe(<u8>TxnKind.ServerNonInvite);
      expect(rec(i).method).toBe(<u8>Method.OPTIONS);
      expect(rec(i).cseq).toBe(7);
      expect(indexFind(KEY, TxnKind.ServerNonInvite)).toBe(<i32>i);
      expect(indexFind(KEY, TxnKind.ServerInvite)).toBe(-1);
      expect(rec(i).timeoutAt).toBe(0);
      expect(tick(T0 + 1_000_000)).toBe(IDLE);
    });

    it("absorbs request retransmissions", () => {
      const i = start(ALICE, false);
      serverNonInviteOnRequest(i);
      serverNonInviteOnRequest(i);
      expectNothing();
      expect(stateOf(i)).toBe(SNState.Trying);
    });

    it("1xx → Proceeding: sent", () => {
      const i = start(ALICE, false);
      respond(i, R100, 100, T0);
      expectTx(R100, ALICE);
      expectNothing();
      expect(stateOf(i)).toBe(SNState.Proceeding);
      expect(rec(i).lastStatus).toBe(100);
      expect(rec(i).timeoutAt).toBe(0);
    });

    it("200-699 → Completed: sent, Timer J = 64·T1 on UDP", () => {
      const i = start(ALICE, false);
      respond(i, R404, 404, T0);
      expectTx(R404, ALICE);
      expectNothing();
      expect(stateOf(i)).toBe(SNState.Completed);
      expect(rec(i).lastStatus).toBe(404);
      expect(rec(i).retransmitAt).toBe(0, "no retransmission timer for non-INVITE responses");
      expect(rec(i).timeoutAt).toBe(T0 + 32_000, "Timer J");
    });

    it("200-699 → Completed with Timer J = 0 on a reliable transport", () => {
      const i = start(ALICE_TCP, true);
      expect(rec(i).flags & TxnFlag.Reliable).toBe(TxnFlag.Reliable);
      respond(i, R200N, 200, T0);
      expectTx(R200N, ALICE_TCP);
      expect(rec(i).timeoutAt).toBe(T0);
      expect(tick(T0)).toBe(ClientTimerOut.Ended);
      expect(txnInUse()).toBe(0);
      expect(poolUsed()).toBe(0);
    });
  });

  describe("Proceeding", () => {
    it("resends the latest 1xx on a request retransmission", () => {
      const i = start(ALICE, false);
      respond(i, R100, 100, T0);
      drain();
      serverNonInviteOnRequest(i);
      expectTx(R100, ALICE);
      expectNothing();
    });

    it("sends further 1xx and stays in Proceeding", () => {
      const i = start(ALICE, false);
      respond(i, R100, 100, T0);
      respond(i, R100, 100, T0 + 100);
      expectTx(R100, ALICE);
      expectTx(R100, ALICE);
      expect(stateOf(i)).toBe(SNState.Proceeding);
      expect(poolUsed()).toBe(1);
    });

    it("200-699 → Completed with Timer J", () => {
      const i = start(ALICE, false);
      respond(i, R100, 100, T0);
      drain();
      respond(i, R200N, 200, T0 + 1000);
      expectTx(R200N, ALICE);
      expect(stateOf(i)).toBe(SNState.Completed);
      expect(rec(i).timeoutAt).toBe(T0 + 33_000);
      expect(poolUsed()).toBe(1, "the final replaces the 1xx");
    });
  });

  describe("Completed", () => {
    it("resends the final on a request retransmission", () => {
      const i = start(ALICE, false);
      respond(i, R100, 100, T0);
      respond(i, R404, 404, T0 + 10);
      drain();
      serverNonInviteOnRequest(i);
      expectTx(R404, ALICE);
      serverNonInviteOnRequest(i);
      expectTx(R404, ALICE);
      expectNothing();
      expect(rec(i).timeoutAt).toBe(T0 + 10 + 32_000, "Timer J not restarted");
    });

    it("absorbs further responses from the TU", () => {
      const i = start(ALICE, false);
      respond(i, R404, 404, T0);
      drain();
      respond(i, R500N, 500, T0 + 10);
      respond(i, R100, 100, T0 + 10);
      expectNothing();
      expect(rec(i).lastStatus).toBe(404);
      serverNonInviteOnRequest(i);
      expectTx(R404, ALICE);
    });

    it("ends on Timer J (64·T1): released, unindexed, pool blocks returned", () => {
      const i = start(ALICE, false);
      respond(i, R404, 404, T0);
      drain();
      expect(tick(T0 + 31_999)).toBe(IDLE);
      expectNothing();
      expect(tick(T0 + 32_000)).toBe(ClientTimerOut.Ended);
      expect(up.idx).toBe(i);
      expect(idxOf(up.handle)).toBe(-1);
      expect(txnInUse()).toBe(0);
      expect(poolUsed()).toBe(0);
      expect(indexFind(KEY, TxnKind.ServerNonInvite)).toBe(-1);
      expectNothing();
    });
  });
});
