// The transaction table full between the server and the client transaction of one INVITE, through the
// ABI with virtual time (micro board: 16 records). Found by the overload test (bench/overload.mjs on
// micro): an INVITE for a registered user whose server transaction was created (100 Trying sent) but
// whose branch found no free record stayed at 100 for ever (until the guard timer, 212 s later): the
// caller never got a final response. Now it gets 503 with Retry-After at once (RFC 3261 §21.5.4: our
// own overload; §16.7 step 6 only stops 503s from downstream), and a table-full event.
// Also: once the table is 3/4 full, finished transactions linger T4 (5 s), so the table is free again
// within seconds after the load stops.
import { test } from "node:test";
import assert from "node:assert/strict";
import { FuzzCore, peerRecord } from "../fuzz/core.mjs";

const CALLER = peerRecord(0, 1, "127.0.0.1", 5070);
const CALLEE = peerRecord(0, 1, "127.0.0.1", 5080);

function request(method, n, extra = "") {
  return Buffer.from(`${method} sip:uas@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK-nr-${n}\r\n` +
    `Max-Forwards: 70\r\nFrom: <sip:a@127.0.0.1>;tag=a${n}\r\nTo: <sip:uas@127.0.0.1>${extra}\r\nCall-ID: nr-${n}\r\n` +
    `CSeq: 1 ${method}\r\nContact: <sip:a@127.0.0.1:5070>\r\nContent-Length: 0\r\n\r\n`, "latin1");
}

/** A micro core with uas registered at 127.0.0.1:5080; `sent` collects every transmit. */
function rig() {
  const sent = [];
  const core = new FuzzCore({ board: "micro", seed: 1, record: false,
    onTransmit: (b) => sent.push(b.toString("latin1")) });
  core.datagram(1000, CALLEE, Buffer.from("REGISTER sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5080;branch=z9hG4bK-reg\r\n" +
    "Max-Forwards: 70\r\nFrom: <sip:uas@127.0.0.1>;tag=r\r\nTo: <sip:uas@127.0.0.1>\r\nCall-ID: reg\r\nCSeq: 1 REGISTER\r\n" +
    "Contact: <sip:uas@127.0.0.1:5080>\r\nExpires: 3600\r\nContent-Length: 0\r\n\r\n", "latin1"));
  assert.match(sent.shift(), /^SIP\/2\.0 200 /);
  return { core, sent };
}

/** The callee's answer to the last INVITE the proxy forwarded. */
function answer(sent, status) {
  const lines = sent.filter((s) => s.startsWith("INVITE ")).at(-1).split("\r\n");
  const pick = (name) => lines.find((l) => l.toLowerCase().startsWith(name + ":"));
  return Buffer.from(`SIP/2.0 ${status}\r\n${lines.filter((l) => /^Via:/i.test(l)).join("\r\n")}\r\n${pick("from")}\r\n` +
    `${pick("to")};tag=b\r\n${pick("call-id")}\r\n${pick("cseq")}\r\nContent-Length: 0\r\n\r\n`, "latin1");
}

test("no room for the branch of an INVITE: 503 with Retry-After at once, not a 100 for ever", () => {
  const { core, sent } = rig();
  const cap = core.stat(1);
  assert.equal(cap, 16, "the micro board's transaction table");
  // 8 INVITEs the callee does not answer: a server and a client record each, the table is full
  for (let n = 1; n <= cap / 2; n++) core.datagram(2000, CALLER, request("INVITE", n));
  assert.equal(core.stat(0), cap);
  // the callee rejects the last one; its client side lingers T4 (the table is under pressure), its
  // server side waits for the caller's ACK: after T4 exactly one record is free
  core.datagram(2100, CALLEE, answer(sent, "486 Busy Here"));
  core.timeout(2100 + 5000);
  assert.equal(core.stat(0), cap - 1);
  sent.length = 0;
  core.datagram(7200, CALLER, request("INVITE", 99));
  assert.deepEqual(sent.map((s) => s.split("\r\n")[0]), ["SIP/2.0 100 Trying", "SIP/2.0 503 Service Unavailable"], "nothing forwarded");
  assert.match(sent[1], /\r\nRetry-After: \d+\r\n/);
  assert.equal(core.stat(14), 1, "counted as refused for a full table");
});

test("under pressure the table is free again within T4 of the last answer", () => {
  const { core, sent } = rig();
  const cap = core.stat(1);
  // 8 call attempts rejected by the callee and ACKed by the caller: every record then only waits to
  // absorb retransmissions; a client side answered before the table was 3/4 full keeps 64·T1
  let long = 0;
  for (let n = 1; n <= cap / 2; n++) {
    core.datagram(2000 + n, CALLER, request("INVITE", n));
    if (core.stat(0) * 4 < cap * 3) long++;
    core.datagram(2000 + n, CALLEE, answer(sent, "486 Busy Here"));
    core.datagram(2000 + n, CALLER, request("ACK", n, ";tag=b"));
  }
  assert.equal(core.stat(0), cap, "every record holds a finished transaction");
  assert.ok(long > 0 && long < cap / 2);
  core.timeout(2008 + 5000);
  assert.equal(core.stat(0), long, "T4 after the last answer only the records that finished before the pressure are left");
  core.timeout(2008 + 32_000);
  assert.equal(core.stat(0), 0);
  assert.equal(core.stat(6), 0, "no pool block left");
});
