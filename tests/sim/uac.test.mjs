// The user agent's client core (assembly/dialog/uac.ts) in the deterministic simulator: a core (the probe
// build, which carries the user agent core) sends requests of its own through client transactions the
// user agent owns, and host/dispatch.ts hands their responses and timers back to it, beside the proxy
// TU of a second core on the path. The far end is the simulator's RFC 3261 user agent (ua.mjs).
//   OPTIONS to the proxy itself: 200 reaches the caller (dispatch by owner across two cores).
//   INVITE through the record-routing proxy to a registered phone: 180 makes an early dialog, 200
//   confirms it, and the ACK for the 2xx (§13.2.2.4) is written from the dialog: it carries the route
//   set the proxy recorded, reaches the phone through the proxy and stops its 2xx retransmissions.
//   INVITE answered 486: the client transaction ACKs the non-2xx itself (§17.1.1.3), hop by hop.
//   Then our BYE in the dialog, through the proxy: its 200 ends the dialog (§15.1.1).
//   OPTIONS to a silent address: Timer F gives the caller a 408 at 64·T1.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Sim, CoreNode, peerRecord } from "./net.mjs";
import { Ua } from "./ua.mjs";

const PROXY = "127.0.0.2:5060";
const US = "127.0.0.4:5060";
const SILENT = "127.0.0.9:5060"; // nothing attached: the simulator drops what is sent there

/** Writes the request's parts into the probe's scratch area and sends it for caller `user` to `dest`. */
function send(node, user, dest, { method, ruri, to, callId, cseq = 1, contact = `<sip:gw@${US}>` }) {
  const ex = node.ex;
  const base = ex.probe_scratch_ptr() >>> 0;
  const parts = [method, ruri, `sip:gw@${US.split(":")[0]}`, `t${user}x`, to, callId, contact, ""];
  const mem = node.mem();
  const table = base;
  let at = base + parts.length * 8 + 32;
  parts.forEach((p, k) => {
    const b = Buffer.from(p, "latin1");
    mem.set(b, at);
    mem.writeUInt32LE(at, table + k * 8);
    mem.writeUInt32LE(b.length, table + k * 8 + 4);
    at += b.length;
  });
  const peer = at + 16;
  const [a, port] = dest.split(":");
  mem.set(peerRecord(a, Number(port)), peer);
  const h = ex.probe_uac_send(user, peer, table, cseq, node.sim.now);
  node.drain();
  return h;
}

function setup(seed, bobOpts = {}) {
  const sim = new Sim({ seed, latency: [5, 20] });
  const proxy = new CoreNode(sim, PROXY, { domains: ["127.0.0.2"] });
  const gw = new CoreNode(sim, US, { probe: true, domains: ["127.0.0.4"] });
  const bob = new Ua(sim, "127.0.0.3:5060", "bob", { proxy: PROXY, ring: 50, answer: 400, ...bobOpts });
  bob.register();
  sim.run(sim.now + 1000);
  assert.equal(bob.registered, 200, "bob registered at the proxy");
  return { sim, proxy, gw, bob };
}

test("OPTIONS of ours to the proxy: its 200 is handed to the user agent that owns the transaction", () => {
  const { sim, gw } = setup(11);
  assert.equal(gw.ex.probe_uac_status(7), -1, "no request for caller 7 yet");
  const h = send(gw, 7, PROXY, { method: "OPTIONS", ruri: "sip:127.0.0.2", to: "sip:127.0.0.2", callId: "opt1@gw" });
  assert.notEqual(h, 0, "sent");
  assert.equal(gw.ex.probe_uac_status(7), 0, "no response yet");
  sim.run(sim.now + 500);
  assert.equal(gw.ex.probe_uac_status(7), 200);
  assert.equal(gw.ex.probe_uac_dialog(7), -1, "OPTIONS makes no dialog");
});

test("INVITE through the record-routing proxy: early dialog on 180, confirmed on 200, ACK from the dialog stops the 2xx", () => {
  const { sim, gw, bob } = setup(12);
  const h = send(gw, 9, PROXY, { method: "INVITE", ruri: "sip:bob@127.0.0.2", to: "sip:bob@127.0.0.2", callId: "call1@gw" });
  assert.notEqual(h, 0);
  sim.run(sim.now + 200); // 100 from the proxy, 180 from bob (ring 50 ms)
  assert.equal(gw.ex.probe_uac_status(9), 180);
  const dlg = gw.ex.probe_uac_dialog(9);
  assert.ok(dlg >= 0, "the 180 with a To tag made a dialog");
  assert.equal(gw.ex.probe_ua_state(dlg), 1, "early");
  sim.run(sim.now + 3000); // bob answers at 400 ms and would retransmit its 2xx until the ACK
  assert.equal(gw.ex.probe_uac_status(9), 200);
  assert.equal(gw.ex.probe_ua_state(dlg), 2, "confirmed");
  assert.equal(gw.ex.probe_ua_routes(dlg), 1, "the proxy's Record-Route is the dialog's route set");
  const c = bob.calls.get("call1@gw");
  assert.ok(c, "bob saw the call");
  assert.equal(c.sentFinal, 200);
  assert.equal(c.ackFor2xx >= 1, true, `bob got the ACK for its 2xx (${c.ackFor2xx})`);
  assert.notEqual(c.noAck, true, "bob did not give up waiting for the ACK");
  assert.deepEqual(bob.stray, [], "nothing bob could not match");
  // the ACK is the dialog's request: Request-URI = bob's Contact (the remote target), through the proxy
  const acks = sim.log.filter(([, f, t, l]) => f === US && t === PROXY && l.startsWith("ACK "));
  assert.ok(acks.length >= 1 && acks.every(([, , , l]) => l === "ACK sip:bob@127.0.0.3:5060 SIP/2.0"), sim.transcript());
  // our BYE in the dialog (§15.1.1): through the proxy's route, to bob's Contact; its 200 ends the dialog
  const mem = gw.mem();
  const peer = (gw.ex.probe_scratch_ptr() >>> 0) + 2048;
  mem.set(peerRecord("127.0.0.2", 5060), peer);
  assert.notEqual(gw.ex.probe_uac_send_in_dialog(dlg, 3 /* BYE */, 19, peer, sim.now), 0, "BYE sent");
  gw.drain();
  sim.run(sim.now + 1000);
  assert.equal(gw.ex.probe_uac_status(19), 200, "bob's 200 to our BYE");
  assert.equal(c.byes, 1, "bob got the BYE");
  assert.equal(gw.ex.probe_ua_state(dlg), 0, "the dialog ended with the BYE's 200");
  const bye = sim.log.filter(([, f, t, l]) => f === US && t === PROXY && l.startsWith("BYE "));
  assert.deepEqual(bye.map(([, , , l]) => l), ["BYE sip:bob@127.0.0.3:5060 SIP/2.0"]);
});

test("INVITE answered 486: the client transaction ACKs the non-2xx itself, hop by hop (§17.1.1.3)", () => {
  const { sim, gw, bob } = setup(13, { ring: null, answer: 100, status: 486 });
  send(gw, 5, PROXY, { method: "INVITE", ruri: "sip:bob@127.0.0.2", to: "sip:bob@127.0.0.2", callId: "call2@gw" });
  sim.run(sim.now + 5000);
  assert.equal(gw.ex.probe_uac_status(5), 486);
  const c = bob.calls.get("call2@gw");
  assert.equal(c.ackForFinal, 1, "the proxy ACKed bob's 486");
  // our ACK went to the proxy (same branch as the INVITE), whose server transaction then stopped
  // retransmitting the 486 to us (Timer G would resend it at T1 = 500 ms otherwise)
  const lines = (from, to, prefix) => sim.log.filter(([, f, t, l]) => f === from && t === to && l.startsWith(prefix));
  assert.equal(lines(US, PROXY, "ACK sip:bob@127.0.0.2 SIP/2.0").length, 1, sim.transcript());
  assert.equal(lines(PROXY, US, "SIP/2.0 486").length, 1, "no retransmitted 486");
  assert.equal(gw.ex.probe_uac_dialog(5), -1, "no dialog from a final without a provisional");
  assert.equal(gw.ex.probe_ua_in_use(), 0);
});

test("INVITE ringing then refused (180, 486): the early dialog ends with the non-2xx final (RFC 3261 12.3)", () => {
  const { sim, gw } = setup(15, { ring: 50, answer: 300, status: 486 });
  send(gw, 6, PROXY, { method: "INVITE", ruri: "sip:bob@127.0.0.2", to: "sip:bob@127.0.0.2", callId: "call3@gw" });
  sim.run(sim.now + 150);
  assert.equal(gw.ex.probe_uac_status(6), 180);
  assert.ok(gw.ex.probe_uac_dialog(6) >= 0, "early dialog");
  assert.equal(gw.ex.probe_ua_in_use(), 1);
  sim.run(sim.now + 3000);
  assert.equal(gw.ex.probe_uac_status(6), 486);
  assert.equal(gw.ex.probe_uac_dialog(6), -1, "no dialog left for the caller");
  assert.equal(gw.ex.probe_ua_in_use(), 0, "the early dialog's slot is free again");
});

test("OPTIONS to a silent address: the caller gets a 408 at 64·T1 (Timer F), and the record is freed", () => {
  const { sim, gw } = setup(14);
  const before = gw.stat("txnInUse");
  send(gw, 3, SILENT, { method: "OPTIONS", ruri: "sip:127.0.0.9", to: "sip:127.0.0.9", callId: "opt2@gw" });
  assert.equal(gw.stat("txnInUse"), before + 1);
  sim.run(sim.now + 31_900);
  assert.equal(gw.ex.probe_uac_status(3), 0, "still waiting before 64·T1");
  sim.run(sim.now + 200);
  assert.equal(gw.ex.probe_uac_status(3), 408);
  assert.equal(gw.stat("txnInUse"), before);
});
