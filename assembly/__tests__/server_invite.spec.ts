// Server INVITE transaction (RFC 3261 §17.2.1, Figure 7; RFC 6026 Accepted), as timed scripts grouped by
// state. T1 = 500, T2 = 4000, T4 = 5000 (Table 4).

import {
  serverInviteCreate, serverInviteRespond, serverInviteOnRequest, serverInviteOnAck, SIState,
  ClientTimerOut, rec, idxOf, txnInUse, TxnFlag, TxnKind, indexFind, msgPool, timers,
} from "../txn";
import {
  T0, IDLE, ALICE, ALICE_TCP, R100, R180, R183, R200, R200B, R486, stash, resetAll, expectTx,
  expectNothing, tick, stateOf, poolUsed, up, drain,
} from "./helpers/script";
import { Peer } from "../net/peer";

const KEY: u64 = 0x1234_5678_9abc_def0;

function start(to: Peer, reliable: bool): u32 {
  const h = serverInviteCreate(KEY, to, reliable, 1);
  expect(h).not.toBe(0, "created");
  expectNothing();
  return <u32>idxOf(h);
}

/** The TU sends `text` (status `status`) through the transaction at `now`. */
function respond(i: u32, text: string, status: u32, now: i64): void {
  const m = stash(text);
  serverInviteRespond(i, m, status, now);
  msgPool.release(m);
}

/** Timer G fires exactly at `at`, resends `text`, and re-arms at `next`. */
function expectTimerG(i: u32, text: string, to: Peer, at: i64, next: i64): void {
  expect(tick(at - 1)).toBe(IDLE, "Timer G not early");
  expectNothing();
  expect(tick(at)).toBe(ClientTimerOut.None);
  expectTx(text, to);
  expectNothing();
  expect(rec(i).retransmitAt).toBe(next, "next Timer G");
}

describe("server INVITE", () => {
  beforeEach(() => { resetAll(); });

  describe("Proceeding", () => {
    it("is created in Proceeding, indexed under its key, with no timer and nothing sent", () => {
      const i = start(ALICE, false);
      expect(stateOf(i)).toBe(SIState.Proceeding);
      expect(rec(i).kind).toBe(<u8>TxnKind.ServerInvite);
      expect(indexFind(KEY, TxnKind.ServerInvite)).toBe(<i32>i);
      expect(indexFind(KEY, TxnKind.ServerNonInvite)).toBe(-1, "kind is part of the match");
      expect(rec(i).retransmitAt).toBe(0);
      expect(rec(i).timeoutAt).toBe(0);
      expect(tick(T0 + 1_000_000)).toBe(IDLE);
    });

    it("absorbs an INVITE retransmission before any response", () => {
      const i = start(ALICE, false);
      serverInviteOnRequest(i);
      expectNothing();
      expect(stateOf(i)).toBe(SIState.Proceeding);
    });

    it("sends 1xx from the TU and stays in Proceeding", () => {
      const i = start(ALICE, false);
      respond(i, R100, 100, T0);
      expectTx(R100, ALICE);
      respond(i, R180, 180, T0 + 100);
      expectTx(R180, ALICE);
      expectNothing();
      expect(stateOf(i)).toBe(SIState.Proceeding);
      expect(rec(i).lastStatus).toBe(180);
      expect(rec(i).retransmitAt).toBe(0, "1xx is not retransmitted by timer");
      expect(poolUsed()).toBe(1, "only the latest provisional is kept");
    });

    it("resends the latest provisional on an INVITE retransmission", () => {
      const i = start(ALICE, false);
      respond(i, R100, 100, T0);
      respond(i, R183, 183, T0 + 50);
      drain();
      serverInviteOnRequest(i);
      expectTx(R183, ALICE);
      serverInviteOnRequest(i);
      expectTx(R183, ALICE);
      expectNothing();
    });

    it("absorbs an ACK before any final response", () => {
      const i = start(ALICE, false);
      respond(i, R180, 180, T0);
      drain();
      expect(serverInviteOnAck(i, T0 + 10)).toBe(true);
      expect(stateOf(i)).toBe(SIState.Proceeding);
      expectNothing();
    });

    it("2xx → Accepted: sent once, Timer L = 64·T1, nothing kept", () => {
      const i = start(ALICE, false);
      respond(i, R180, 180, T0);
      drain();
      respond(i, R200, 200, T0 + 1000);
      expectTx(R200, ALICE);
      expectNothing();
      expect(stateOf(i)).toBe(SIState.Accepted);
      expect(rec(i).timeoutAt).toBe(T0 + 1000 + 32_000, "Timer L");
      expect(rec(i).retransmitAt).toBe(0, "the transaction never retransmits a 2xx");
      expect(rec(i).msg).toBe(0);
      expect(poolUsed()).toBe(0);
      expect(tick(T0 + 1500)).toBe(IDLE);
      expectNothing();
    });

    it("300-699 → Completed: sent, Timer G = T1 (UDP), Timer H = 64·T1", () => {
      const i = start(ALICE, false);
      respond(i, R486, 486, T0);
      expectTx(R486, ALICE);
      expect(stateOf(i)).toBe(SIState.Completed);
      expect(rec(i).lastStatus).toBe(486);
      expect(rec(i).retransmitAt).toBe(T0 + 500, "Timer G");
      expect(rec(i).timeoutAt).toBe(T0 + 32_000, "Timer H");
    });
  });

  describe("Completed", () => {
    it("retransmits the final on Timer G, doubling up to T2 (UDP)", () => {
      const i = start(ALICE, false);
      respond(i, R486, 486, T0);
      drain();
      expectTimerG(i, R486, ALICE, T0 + 500, T0 + 1500);
      expectTimerG(i, R486, ALICE, T0 + 1500, T0 + 3500);
      expectTimerG(i, R486, ALICE, T0 + 3500, T0 + 7500);
      expectTimerG(i, R486, ALICE, T0 + 7500, T0 + 11_500);
      expectTimerG(i, R486, ALICE, T0 + 11_500, T0 + 15_500);
      expect(rec(i).interval).toBe(4000);
      expect(stateOf(i)).toBe(SIState.Completed);
    });

    it("has no Timer G on a reliable transport, only Timer H", () => {
      const i = start(ALICE_TCP, true);
      respond(i, R486, 486, T0);
      expectTx(R486, ALICE_TCP);
      expect(rec(i).flags & TxnFlag.Reliable).toBe(TxnFlag.Reliable);
      expect(rec(i).retransmitAt).toBe(0);
      expect(rec(i).timeoutAt).toBe(T0 + 32_000);
      expect(tick(T0 + 31_999)).toBe(IDLE);
      expectNothing();
    });

    it("resends the final on an INVITE retransmission", () => {
      const i = start(ALICE, false);
      respond(i, R180, 180, T0);
      respond(i, R486, 486, T0 + 100);
      drain();
      serverInviteOnRequest(i);
      expectTx(R486, ALICE);
      expectNothing();
      expect(rec(i).retransmitAt).toBe(T0 + 600, "Timer G unchanged");
    });

    it("absorbs further responses from the TU", () => {
      const i = start(ALICE, false);
      respond(i, R486, 486, T0);
      drain();
      respond(i, R200, 200, T0 + 100);
      respond(i, R180, 180, T0 + 100);
      expectNothing();
      expect(stateOf(i)).toBe(SIState.Completed);
      expect(rec(i).lastStatus).toBe(486);
      expect(poolUsed()).toBe(1, "the 486 stays the kept message");
    });

    it("ends on Timer H (64·T1) without an ACK, releasing the final", () => {
      const i = start(ALICE, false);
      respond(i, R486, 486, T0);
      let sent = 0;
      for (let t: i64 = T0; t < T0 + 32_000; t += 100) { tick(t); sent += drain(); }
      expect(sent).toBe(1 + 10, "the final plus 10 Timer G retransmissions (500, 1500, 3500, 7500 ... 31500)");
      expect(txnInUse()).toBe(1);
      expect(tick(T0 + 32_000)).toBe(ClientTimerOut.Ended); // the record went: the TU is told
      expect(up.idx).toBe(i);
      expect(txnInUse()).toBe(0);
      expect(poolUsed()).toBe(0);
      expect(indexFind(KEY, TxnKind.ServerInvite)).toBe(-1, "unindexed");
      expectNothing();
    });

    it("ACK → Confirmed: absorbed, Timer G stops, Timer I = T4 (UDP)", () => {
      const i = start(ALICE, false);
      respond(i, R486, 486, T0);
      drain();
      expect(serverInviteOnAck(i, T0 + 700)).toBe(true);
      expect(stateOf(i)).toBe(SIState.Confirmed);
      expect(rec(i).retransmitAt).toBe(0, "Timer G stopped");
      expect(rec(i).timeoutAt).toBe(T0 + 700 + 5000, "Timer I");
      expect(poolUsed()).toBe(0, "final no longer kept");
      expect(tick(T0 + 1500)).toBe(IDLE);
      expectNothing();
    });

    it("ACK → Confirmed with Timer I = 0 on a reliable transport", () => {
      const i = start(ALICE_TCP, true);
      respond(i, R486, 486, T0);
      drain();
      expect(serverInviteOnAck(i, T0 + 700)).toBe(true);
      expect(stateOf(i)).toBe(SIState.Confirmed);
      expect(rec(i).timeoutAt).toBe(T0 + 700);
      expect(tick(T0 + 700)).toBe(ClientTimerOut.Ended);
      expect(txnInUse()).toBe(0);
    });
  });

  describe("Confirmed", () => {
    it("absorbs INVITE and ACK retransmissions", () => {
      const i = start(ALICE, false);
      respond(i, R486, 486, T0);
      drain();
      serverInviteOnAck(i, T0 + 700);
      serverInviteOnRequest(i);
      expect(serverInviteOnAck(i, T0 + 800)).toBe(true);
      expectNothing();
      expect(stateOf(i)).toBe(SIState.Confirmed);
      expect(rec(i).timeoutAt).toBe(T0 + 5700, "Timer I not restarted");
    });

    it("absorbs responses from the TU", () => {
      const i = start(ALICE, false);
      respond(i, R486, 486, T0);
      drain();
      serverInviteOnAck(i, T0 + 700);
      respond(i, R200, 200, T0 + 800);
      expectNothing();
      expect(poolUsed()).toBe(0);
    });

    it("ends on Timer I", () => {
      const i = start(ALICE, false);
      respond(i, R486, 486, T0);
      drain();
      serverInviteOnAck(i, T0 + 700);
      expect(tick(T0 + 5699)).toBe(IDLE);
      expect(tick(T0 + 5700)).toBe(ClientTimerOut.Ended);
      expect(up.idx).toBe(i);
      expect(idxOf(up.handle)).toBe(-1);
      expect(txnInUse()).toBe(0);
      expect(indexFind(KEY, TxnKind.ServerInvite)).toBe(-1);
    });
  });

  describe("Accepted", () => {
    it("forwards further 2xx (forks, end-to-end retransmissions) to the client", () => {
      const i = start(ALICE, false);
      respond(i, R200, 200, T0);
      drain();
      respond(i, R200B, 200, T0 + 100);
      expectTx(R200B, ALICE);
      respond(i, R200, 200, T0 + 600);
      expectTx(R200, ALICE);
      expectNothing();
      expect(stateOf(i)).toBe(SIState.Accepted);
      expect(rec(i).timeoutAt).toBe(T0 + 32_000, "Timer L not restarted");
      expect(poolUsed()).toBe(0, "forwarded 2xx are not kept");
    });

    it("absorbs 1xx and 300-699 from the TU", () => {
      const i = start(ALICE, false);
      respond(i, R200, 200, T0);
      drain();
      respond(i, R180, 180, T0 + 100);
      respond(i, R486, 486, T0 + 100);
      expectNothing();
      expect(stateOf(i)).toBe(SIState.Accepted);
    });

    it("absorbs INVITE retransmissions", () => {
      const i = start(ALICE, false);
      respond(i, R200, 200, T0);
      drain();
      serverInviteOnRequest(i);
      expectNothing();
    });

    it("returns false for an ACK (the proxy routes it) and stays Accepted", () => {
      const i = start(ALICE, false);
      respond(i, R200, 200, T0);
      drain();
      expect(serverInviteOnAck(i, T0 + 100)).toBe(false);
      expect(stateOf(i)).toBe(SIState.Accepted);
      expect(rec(i).timeoutAt).toBe(T0 + 32_000);
    });

    it("ends on Timer L (64·T1)", () => {
      const i = start(ALICE, false);
      respond(i, R200, 200, T0);
      drain();
      expect(tick(T0 + 31_999)).toBe(IDLE);
      expect(tick(T0 + 32_000)).toBe(ClientTimerOut.Ended); // the record went: the TU is told
      expect(up.idx).toBe(i);
      expect(txnInUse()).toBe(0);
      expect(indexFind(KEY, TxnKind.ServerInvite)).toBe(-1);
    });

    it("Timer L follows T1", () => {
      timers.t1 = 250;
      const i = start(ALICE, false);
      respond(i, R200, 200, T0);
      expect(rec(i).timeoutAt).toBe(T0 + 16_000);
    });
  });
});
