// Client non-INVITE transaction (RFC 3261 §17.1.2, Figure 6), as timed scripts grouped by state.
// T1 = 500, T2 = 4000, T4 = 5000 (Table 4).

import {
  clientNonInviteCreate, clientNonInviteOnResponse, CNState, Verdict, ClientTimerOut,
  rec, idxOf, txnInUse, txnRelease, TxnFlag, msgPool, TxnKind,
} from "../txn";
import { Method } from "../wire/method";
import {
  T0, IDLE, BOB, BOB_TCP, OPTIONS, stash, resetAll, expectTx, expectNothing, tick, stateOf, poolUsed, up, drain,
} from "./helpers/script";
import { Peer } from "../net/peer";

function start(to: Peer, reliable: bool, now: i64): u32 {
  const m = stash(OPTIONS);
  const h = clientNonInviteCreate(Method.OPTIONS, to, reliable, m, 7, 0x5151, now);
  msgPool.release(m);
  expect(h).not.toBe(0, "created");
  expectTx(OPTIONS, to);
  return <u32>idxOf(h);
}

/** Timer E fires exactly at `at` (not 1 ms before), resends the request, and re-arms at `next`. */
function expectRetransmit(i: u32, at: i64, next: i64): void {
  expect(tick(at - 1)).toBe(IDLE, "Timer E not early");
  expectNothing();
  expect(tick(at)).toBe(ClientTimerOut.None);
  expectTx(OPTIONS, BOB);
  expectNothing();
  expect(rec(i).retransmitAt).toBe(next, "next Timer E");
}

describe("client non-INVITE", () => {
  beforeEach(() => { resetAll(); });

  describe("Trying", () => {
    it("sends the request on create and arms Timer E = T1 and Timer F = 64·T1", () => {
      const i = start(BOB, false, T0);
      expect(rec(i).kind).toBe(<u8>TxnKind.ClientNonInvite);
      expect(rec(i).method).toBe(<u8>Method.OPTIONS);
      expect(stateOf(i)).toBe(CNState.Trying);
      expect(rec(i).retransmitAt).toBe(T0 + 500, "Timer E");
      expect(rec(i).timeoutAt).toBe(T0 + 32_000, "Timer F");
      expect(rec(i).timerCAt).toBe(0, "no Timer C");
      expectNothing();
    });

    it("retransmits on Timer E with doubling intervals capped at T2 on UDP", () => {
      const i = start(BOB, false, T0);
      // intervals 500, 1000, 2000, 4000, 4000, 4000 ...
      expectRetransmit(i, T0 + 500, T0 + 1500);
      expectRetransmit(i, T0 + 1500, T0 + 3500);
      expectRetransmit(i, T0 + 3500, T0 + 7500);
      expectRetransmit(i, T0 + 7500, T0 + 11_500);
      expectRetransmit(i, T0 + 11_500, T0 + 15_500);
      expectRetransmit(i, T0 + 15_500, T0 + 19_500);
      expect(rec(i).interval).toBe(4000);
      expect(stateOf(i)).toBe(CNState.Trying);
    });

    it("does not run Timer E on a reliable transport", () => {
      const i = start(BOB_TCP, true, T0);
      expect(rec(i).flags & TxnFlag.Reliable).toBe(TxnFlag.Reliable);
      expect(rec(i).retransmitAt).toBe(0);
      expect(tick(T0 + 31_999)).toBe(IDLE);
      expectNothing();
    });

    it("reports Timeout on Timer F (64·T1) until the TU releases it", () => {
      const i = start(BOB, false, T0);
      for (let t: i64 = T0; t < T0 + 32_000; t += 100) tick(t);
      drain();
      expect(tick(T0 + 32_000)).toBe(ClientTimerOut.Timeout);
      expect(up.idx).toBe(i);
      expectNothing();
      expect(tick(T0 + 32_000)).toBe(ClientTimerOut.Timeout, "still due: the TU ends it");
      txnRelease(i);
      expect(tick(T0 + 32_000)).toBe(IDLE);
      expect(txnInUse()).toBe(0);
      expect(poolUsed()).toBe(0);
    });

    it("reports Timeout on Timer F on a reliable transport", () => {
      start(BOB_TCP, true, T0);
      expect(tick(T0 + 31_999)).toBe(IDLE);
      expect(tick(T0 + 32_000)).toBe(ClientTimerOut.Timeout);
    });

    it("1xx → Proceeding: PassUp, Timers E and F keep running", () => {
      const i = start(BOB, false, T0);
      expect(clientNonInviteOnResponse(i, 100, T0 + 100)).toBe(Verdict.PassUp);
      expect(stateOf(i)).toBe(CNState.Proceeding);
      expect(rec(i).lastStatus).toBe(100);
      expect(rec(i).retransmitAt).toBe(T0 + 500);
      expect(rec(i).timeoutAt).toBe(T0 + 32_000);
      expectNothing();
    });

    it("200-699 → Completed: PassUp, Timer E stops, Timer K = T4 on UDP, request released", () => {
      const i = start(BOB, false, T0);
      expect(clientNonInviteOnResponse(i, 404, T0 + 100)).toBe(Verdict.PassUp);
      expect(stateOf(i)).toBe(CNState.Completed);
      expect(rec(i).lastStatus).toBe(404);
      expect(rec(i).retransmitAt).toBe(0);
      expect(rec(i).timeoutAt).toBe(T0 + 100 + 5000, "Timer K");
      expect(rec(i).msg).toBe(0);
      expect(poolUsed()).toBe(0);
      expect(tick(T0 + 500)).toBe(IDLE, "no Timer E");
      expectNothing();
    });
  });

  describe("Proceeding", () => {
    it("passes further 1xx up", () => {
      const i = start(BOB, false, T0);
      clientNonInviteOnResponse(i, 100, T0 + 100);
      expect(clientNonInviteOnResponse(i, 183, T0 + 200)).toBe(Verdict.PassUp);
      expect(stateOf(i)).toBe(CNState.Proceeding);
      expect(rec(i).lastStatus).toBe(183);
    });

    it("retransmits on Timer E at T2 intervals", () => {
      const i = start(BOB, false, T0);
      clientNonInviteOnResponse(i, 100, T0 + 100);
      expectRetransmit(i, T0 + 500, T0 + 4500); // the armed E fires, then E = T2
      expectRetransmit(i, T0 + 4500, T0 + 8500);
      expectRetransmit(i, T0 + 8500, T0 + 12_500);
      expect(stateOf(i)).toBe(CNState.Proceeding);
    });

    it("reports Timeout on Timer F", () => {
      const i = start(BOB, false, T0);
      clientNonInviteOnResponse(i, 100, T0 + 100);
      for (let t: i64 = T0; t < T0 + 32_000; t += 100) tick(t);
      drain();
      expect(tick(T0 + 32_000)).toBe(ClientTimerOut.Timeout);
      expect(stateOf(i)).toBe(CNState.Proceeding);
    });

    it("200-699 → Completed with Timer K", () => {
      const i = start(BOB, false, T0);
      clientNonInviteOnResponse(i, 100, T0 + 100);
      expect(clientNonInviteOnResponse(i, 200, T0 + 2000)).toBe(Verdict.PassUp);
      expect(stateOf(i)).toBe(CNState.Completed);
      expect(rec(i).retransmitAt).toBe(0);
      expect(rec(i).timeoutAt).toBe(T0 + 7000);
    });
  });

  describe("Completed", () => {
    it("absorbs retransmitted finals and late 1xx without sending", () => {
      const i = start(BOB, false, T0);
      clientNonInviteOnResponse(i, 404, T0 + 100);
      expect(clientNonInviteOnResponse(i, 404, T0 + 600)).toBe(Verdict.Absorb);
      expect(clientNonInviteOnResponse(i, 200, T0 + 700)).toBe(Verdict.Absorb);
      expect(clientNonInviteOnResponse(i, 100, T0 + 800)).toBe(Verdict.Absorb);
      expectNothing();
      expect(stateOf(i)).toBe(CNState.Completed);
      expect(rec(i).lastStatus).toBe(404, "first final kept");
      expect(rec(i).timeoutAt).toBe(T0 + 5100, "Timer K not restarted");
    });

    it("ends on Timer K = T4 on UDP", () => {
      const i = start(BOB, false, T0);
      clientNonInviteOnResponse(i, 404, T0 + 100);
      expect(tick(T0 + 5099)).toBe(IDLE);
      expect(tick(T0 + 5100)).toBe(ClientTimerOut.Ended);
      expect(up.idx).toBe(i);
      expect(txnInUse()).toBe(0);
      expect(poolUsed()).toBe(0);
      expectNothing();
    });

    it("Timer K is 0 on a reliable transport: ends at the next timer pass", () => {
      const i = start(BOB_TCP, true, T0);
      clientNonInviteOnResponse(i, 200, T0 + 100);
      expect(rec(i).timeoutAt).toBe(T0 + 100);
      expect(tick(T0 + 100)).toBe(ClientTimerOut.Ended);
      expect(txnInUse()).toBe(0);
    });
  });
});
