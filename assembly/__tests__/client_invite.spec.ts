// Client INVITE transaction (RFC 3261 §17.1.1, Figure 5; RFC 6026 Accepted; proxy Timer C §16.8),
// as timed scripts grouped by state. T1 = 500, T2 = 4000, T4 = 5000, Timer C = 180 s (Table 4).

import {
  clientInviteCreate, clientInviteOnResponse, clientInviteSendAck, CIState, Verdict, ClientTimerOut,
  rec, idxOf, txnInUse, txnRelease, TxnFlag, timers, msgPool,
} from "../txn";
import {
  T0, IDLE, BOB, BOB_TCP, INVITE, ACK, stash, resetAll, expectTx, expectNothing, tick, tickAll, stateOf,
  poolUsed, up, drain,
} from "./helpers/script";
import { Peer } from "../net/peer";

/** Create a client INVITE at `now` towards `to` and drain the initial send. */
function start(to: Peer, reliable: bool, now: i64): u32 {
  const m = stash(INVITE);
  const h = clientInviteCreate(to, reliable, m, 1, 0xabcdef, now);
  msgPool.release(m);
  expect(h).not.toBe(0, "created");
  expectTx(INVITE, to);
  return <u32>idxOf(h);
}


function sendAck(idx: u32): void {
  const a = stash(ACK);
  clientInviteSendAck(idx, a);
  msgPool.release(a);
}

describe("client INVITE", () => {
  beforeEach(() => { resetAll(); });

  describe("Calling", () => {
    it("sends the INVITE once on create and arms Timer A = T1, Timer B = 64·T1, Timer C", () => {
      const i = start(BOB, false, T0);
      expect(stateOf(i)).toBe(CIState.Calling);
      expect(rec(i).retransmitAt).toBe(T0 + 500, "Timer A");
      expect(rec(i).timeoutAt).toBe(T0 + 32_000, "Timer B");
      expect(rec(i).timerCAt).toBe(T0 + 180_000, "Timer C");
      expect(rec(i).cseq).toBe(1);
      expect(rec(i).key).toBe(0xabcdef, "branch nonce");
      expectNothing();
    });

    it("retransmits on Timer A with doubling intervals on UDP (T1, 2T1, 4T1, ... unbounded)", () => {
      const i = start(BOB, false, T0);
      // fires at +500, +1500, +3500, +7500, +15500, +31500 (intervals 500, 1000, 2000, 4000, 8000, 16000)
      const at: i64[] = [500, 1500, 3500, 7500, 15_500, 31_500];
      const nextGap: i64[] = [1000, 2000, 4000, 8000, 16_000, 32_000];
      for (let k = 0; k < at.length; k++) {
        expect(tick(T0 + at[k] - 1)).toBe(IDLE, "not early");
        expectNothing();
        expect(tick(T0 + at[k])).toBe(ClientTimerOut.None);
        expectTx(INVITE, BOB);
        expectNothing();
        expect(rec(i).retransmitAt).toBe(T0 + at[k] + nextGap[k], "Timer A doubles");
        expect(stateOf(i)).toBe(CIState.Calling);
      }
      expect(rec(i).interval).toBe(32_000, "six doublings of T1");
    });

    it("is safe to tick early or repeatedly: one retransmission per deadline", () => {
      start(BOB, false, T0);
      expect(tick(T0)).toBe(IDLE);
      expect(tick(T0 + 499)).toBe(IDLE);
      expect(tick(T0 + 500)).toBe(ClientTimerOut.None);
      expect(tick(T0 + 500)).toBe(IDLE);
      expectTx(INVITE, BOB);
      expectNothing();
    });

    it("does not run Timer A on a reliable transport", () => {
      const i = start(BOB_TCP, true, T0);
      expect(rec(i).flags & TxnFlag.Reliable).toBe(TxnFlag.Reliable);
      expect(rec(i).retransmitAt).toBe(0, "Timer A unarmed");
      expect(rec(i).timeoutAt).toBe(T0 + 32_000, "Timer B still armed");
      expect(tick(T0 + 31_999)).toBe(IDLE);
      expectNothing();
    });

    it("reports Timeout on Timer B (64·T1) and keeps reporting until the TU releases it", () => {
      const i = start(BOB, false, T0);
      tickAll(T0 + 31_999);
      drain();
      expect(tick(T0 + 32_000)).toBe(ClientTimerOut.Timeout);
      expect(up.idx).toBe(i);
      expect(idxOf(up.handle)).toBe(<i32>i);
      expectNothing();
      expect(tick(T0 + 32_000)).toBe(ClientTimerOut.Timeout, "still due: the TU ends it");
      txnRelease(i);
      expect(tick(T0 + 32_000)).toBe(IDLE);
      expect(txnInUse()).toBe(0);
      expect(poolUsed()).toBe(0);
    });

    it("reports Timeout on Timer B on a reliable transport too", () => {
      start(BOB_TCP, true, T0);
      expect(tick(T0 + 32_000)).toBe(ClientTimerOut.Timeout);
      expectNothing();
    });

    it("reports Timer C when it fires first, and keeps Calling with Timer A/B", () => {
      timers.timerC = 2000;
      const i = start(BOB, false, T0);
      expect(tick(T0 + 500)).toBe(ClientTimerOut.None);
      expectTx(INVITE, BOB);
      expect(tick(T0 + 1500)).toBe(ClientTimerOut.None);
      expectTx(INVITE, BOB);
      expect(tick(T0 + 2000)).toBe(ClientTimerOut.TimerC);
      expectNothing();
      expect(rec(i).timerCAt).toBe(0, "Timer C reported once");
      expect(stateOf(i)).toBe(CIState.Calling);
      expect(rec(i).retransmitAt).toBe(T0 + 3500);
      expect(tick(T0 + 2000)).toBe(IDLE);
    });

    it("1xx → Proceeding: PassUp, Timers A and B stop, Timer C restarts", () => {
      const i = start(BOB, false, T0);
      expect(clientInviteOnResponse(i, 100, T0 + 200)).toBe(Verdict.PassUp);
      expect(stateOf(i)).toBe(CIState.Proceeding);
      expect(rec(i).flags & TxnFlag.GotProvisional).toBe(TxnFlag.GotProvisional);
      expect(rec(i).lastStatus).toBe(100);
      expect(rec(i).retransmitAt).toBe(0, "Timer A stopped");
      expect(rec(i).timeoutAt).toBe(0, "Timer B stopped");
      expect(rec(i).timerCAt).toBe(T0 + 200 + 180_000, "Timer C reset");
      expect(tick(T0 + 500)).toBe(IDLE);
      expect(tick(T0 + 32_000)).toBe(IDLE);
      expectNothing();
    });

    it("2xx → Accepted: PassUp, Timer M = 64·T1, INVITE no longer kept", () => {
      const i = start(BOB, false, T0);
      expect(clientInviteOnResponse(i, 200, T0 + 300)).toBe(Verdict.PassUp);
      expect(stateOf(i)).toBe(CIState.Accepted);
      expect(rec(i).retransmitAt).toBe(0);
      expect(rec(i).timerCAt).toBe(0);
      expect(rec(i).timeoutAt).toBe(T0 + 300 + 32_000, "Timer M");
      expect(rec(i).msg).toBe(0);
      expect(poolUsed()).toBe(0);
      expect(tick(T0 + 500)).toBe(IDLE, "no Timer A");
      expectNothing();
    });

    it("300-699 → Completed: PassUpNeedAck, Timer D = 32 s on UDP", () => {
      const i = start(BOB, false, T0);
      expect(clientInviteOnResponse(i, 486, T0 + 300)).toBe(Verdict.PassUpNeedAck);
      expect(stateOf(i)).toBe(CIState.Completed);
      expect(rec(i).lastStatus).toBe(486);
      expect(rec(i).retransmitAt).toBe(0);
      expect(rec(i).timerCAt).toBe(0);
      expect(rec(i).timeoutAt).toBe(T0 + 300 + 32_000, "Timer D");
      expectNothing();
    });
  });

  describe("Proceeding", () => {
    it("passes further 1xx up and restarts Timer C each time", () => {
      const i = start(BOB, false, T0);
      clientInviteOnResponse(i, 100, T0 + 100);
      expect(clientInviteOnResponse(i, 180, T0 + 60_000)).toBe(Verdict.PassUp);
      expect(stateOf(i)).toBe(CIState.Proceeding);
      expect(rec(i).lastStatus).toBe(180);
      expect(rec(i).timerCAt).toBe(T0 + 240_000);
      expect(tick(T0 + 180_100)).toBe(IDLE, "the first Timer C deadline is gone");
    });

    it("does not retransmit the INVITE", () => {
      const i = start(BOB, false, T0);
      clientInviteOnResponse(i, 180, T0 + 100);
      for (let t: i64 = 0; t < 40_000; t += 250) expect(tick(T0 + t)).toBe(IDLE);
      expectNothing();
    });

    it("reports Timer C when it fires (180 s after the last 1xx), then has no timer left", () => {
      const i = start(BOB, false, T0);
      clientInviteOnResponse(i, 180, T0 + 100);
      expect(tick(T0 + 180_099)).toBe(IDLE);
      expect(tick(T0 + 180_100)).toBe(ClientTimerOut.TimerC);
      expect(up.idx).toBe(i);
      expect(stateOf(i)).toBe(CIState.Proceeding);
      expect(rec(i).timerCAt).toBe(0);
      expect(tick(T0 + 1_000_000)).toBe(IDLE);
      expectNothing();
    });

    it("2xx → Accepted with Timer M", () => {
      const i = start(BOB, false, T0);
      clientInviteOnResponse(i, 180, T0 + 100);
      expect(clientInviteOnResponse(i, 200, T0 + 5000)).toBe(Verdict.PassUp);
      expect(stateOf(i)).toBe(CIState.Accepted);
      expect(rec(i).timerCAt).toBe(0, "Timer C stops");
      expect(rec(i).timeoutAt).toBe(T0 + 5000 + 32_000);
    });

    it("300-699 → Completed with PassUpNeedAck and Timer D", () => {
      const i = start(BOB, false, T0);
      clientInviteOnResponse(i, 180, T0 + 100);
      expect(clientInviteOnResponse(i, 603, T0 + 5000)).toBe(Verdict.PassUpNeedAck);
      expect(stateOf(i)).toBe(CIState.Completed);
      expect(rec(i).timerCAt).toBe(0);
      expect(rec(i).timeoutAt).toBe(T0 + 5000 + 32_000);
      // the INVITE stays until the TU has built the ACK from it; the ACK then replaces it
      expect(poolUsed()).toBe(1, "INVITE kept for the ACK");
      sendAck(i);
      expectTx(ACK, BOB);
      expect(poolUsed()).toBe(1, "the ACK replaced the INVITE");
    });
  });

  describe("Completed", () => {
    it("queues the ACK the TU builds, and resends it for each retransmitted final (Absorb)", () => {
      const i = start(BOB, false, T0);
      clientInviteOnResponse(i, 486, T0 + 300);
      sendAck(i);
      expectTx(ACK, BOB);
      expectNothing();
      expect(clientInviteOnResponse(i, 486, T0 + 800)).toBe(Verdict.Absorb);
      expectTx(ACK, BOB);
      expect(clientInviteOnResponse(i, 486, T0 + 1800)).toBe(Verdict.Absorb);
      expectTx(ACK, BOB);
      expectNothing();
      expect(stateOf(i)).toBe(CIState.Completed);
      expect(rec(i).timeoutAt).toBe(T0 + 300 + 32_000, "Timer D not restarted");
    });

    it("absorbs a retransmitted final before the TU sent the ACK (nothing to resend)", () => {
      const i = start(BOB, false, T0);
      clientInviteOnResponse(i, 486, T0 + 300);
      expect(clientInviteOnResponse(i, 486, T0 + 800)).toBe(Verdict.Absorb);
      expectNothing();
    });

    it("absorbs 1xx and 2xx without sending", () => {
      const i = start(BOB, false, T0);
      clientInviteOnResponse(i, 486, T0 + 300);
      sendAck(i);
      expectTx(ACK, BOB);
      expect(clientInviteOnResponse(i, 180, T0 + 400)).toBe(Verdict.Absorb);
      expect(clientInviteOnResponse(i, 200, T0 + 500)).toBe(Verdict.Absorb);
      expectNothing();
      expect(stateOf(i)).toBe(CIState.Completed);
    });

    it("ends on Timer D (32 s on UDP) and returns every pool block", () => {
      const i = start(BOB, false, T0);
      clientInviteOnResponse(i, 486, T0 + 300);
      sendAck(i);
      expectTx(ACK, BOB);
      expect(poolUsed()).toBe(1, "the ACK is kept");
      expect(tick(T0 + 32_299)).toBe(IDLE);
      expect(tick(T0 + 32_300)).toBe(ClientTimerOut.Ended);
      expect(idxOf(up.handle)).toBe(-1, "released");
      expect(txnInUse()).toBe(0);
      expect(poolUsed()).toBe(0);
      expectNothing();
    });

    it("Timer D is 0 on a reliable transport: ends at the next timer pass", () => {
      const i = start(BOB_TCP, true, T0);
      clientInviteOnResponse(i, 486, T0 + 300);
      expect(rec(i).timeoutAt).toBe(T0 + 300);
      sendAck(i);
      expectTx(ACK, BOB_TCP);
      expect(tick(T0 + 300)).toBe(ClientTimerOut.Ended);
      expect(txnInUse()).toBe(0);
      expect(poolUsed()).toBe(0);
    });

    it("Timer D is max(32 s, 64·T1) when T1 is raised", () => {
      timers.t1 = 1000;
      const i = start(BOB, false, T0);
      clientInviteOnResponse(i, 500, T0);
      expect(rec(i).timeoutAt).toBe(T0 + 64_000);
    });
  });

  describe("Accepted", () => {
    it("passes further 2xx up (forks, retransmissions) without sending anything", () => {
      const i = start(BOB, false, T0);
      clientInviteOnResponse(i, 200, T0 + 300);
      expect(clientInviteOnResponse(i, 200, T0 + 800)).toBe(Verdict.PassUp);
      expect(clientInviteOnResponse(i, 202, T0 + 900)).toBe(Verdict.PassUp);
      expectNothing();
      expect(stateOf(i)).toBe(CIState.Accepted);
      expect(rec(i).timeoutAt).toBe(T0 + 300 + 32_000, "Timer M not restarted");
    });

    it("absorbs 1xx and 300-699", () => {
      const i = start(BOB, false, T0);
      clientInviteOnResponse(i, 200, T0 + 300);
      expect(clientInviteOnResponse(i, 180, T0 + 400)).toBe(Verdict.Absorb);
      expect(clientInviteOnResponse(i, 486, T0 + 500)).toBe(Verdict.Absorb);
      expectNothing();
      expect(stateOf(i)).toBe(CIState.Accepted);
    });

    it("ends on Timer M (64·T1)", () => {
      const i = start(BOB, false, T0);
      clientInviteOnResponse(i, 200, T0 + 300);
      expect(tick(T0 + 32_299)).toBe(IDLE);
      expect(tick(T0 + 32_300)).toBe(ClientTimerOut.Ended);
      expect(up.idx).toBe(i);
      expect(txnInUse()).toBe(0);
      expect(poolUsed()).toBe(0);
    });
  });
});
