// Names the core hands its host to resolve (a transmit with peer family 0, docs/ABI.md) must always be
// the name the message is for. Through the ABI on virtual time, both boards, from a trusted source (the
// only kind that may send to a name elsewhere):
//   - the core kept 16 names, the oldest replaced by each new one, and a transaction held only the
//     index: an INVITE's retransmission after 16 newer names went to whatever name had taken its slot
//     (the INVITE for first.test was retransmitted to other16.test);
//   - a name longer than the core's 64-byte slot was cut to 64 bytes and that other name resolved.
// Now a name outlives its slot only as a miss: a message whose name was replaced is not sent (its
// transaction retransmits or times out as on any loss), never sent elsewhere; a name that cannot be
// kept is refused when the request is routed.
import { test } from "node:test";
import assert from "node:assert/strict";
import { FuzzCore, peerRecord } from "../fuzz/core.mjs";

const SRC = peerRecord(0, 1, "192.0.2.1", 5070);
const invite = (i, host) => Buffer.from(`INVITE sip:x@${host} SIP/2.0\r\n` +
  `Via: SIP/2.0/UDP 192.0.2.1:5070;branch=z9hG4bK-n${i}\r\nMax-Forwards: 70\r\nFrom: <sip:a@192.0.2.1>;tag=t${i}\r\n` +
  `To: <sip:x@${host}>\r\nCall-ID: names-${i}\r\nCSeq: 1 INVITE\r\nContact: <sip:a@192.0.2.1:5070>\r\nContent-Length: 0\r\n\r\n`, "latin1");

function server(board) {
  const sent = [];
  const core = new FuzzCore({ board, record: false, trusted: ["192.0.2.0/24"], onTransmit: (b, meta, name) => {
    const text = b.toString("latin1");
    sent.push({ start: text.slice(0, text.indexOf("\r\n")), fam: meta[5], name });
  } });
  return { core, sent };
}

for (const board of ["micro", "server"]) {
  test(`${board}: every retransmission of a request to a name goes to that name, however many names came since`, () => {
    const { core, sent } = server(board);
    // more names than the board keeps (micro 16, server 256); the micro core forwards 8 at once
    const names = board === "micro" ? 20 : 300;
    core.datagram(1, SRC, invite(0, "first.test"));
    for (let i = 1; i <= names; i++) core.datagram(2, SRC, invite(i, `other${i}.test`));
    const out = sent.filter((s) => s.start.startsWith("INVITE "));
    assert.ok(out.length >= (board === "micro" ? 8 : names), `the INVITEs were forwarded (${out.length})`);
    for (const s of out) assert.equal(s.name, /^INVITE sip:x@(\S+) /.exec(s.start)[1], `first sending: ${s.start}`);
    sent.length = 0;
    core.timeout(600); // Timer A: every INVITE client transaction retransmits
    const again = sent.filter((s) => s.start.startsWith("INVITE "));
    // those whose names are still kept: on the micro core the last forwarded ones, on the server 256
    assert.ok(again.length >= (board === "micro" ? 3 : 256), `retransmissions were sent (${again.length})`);
    for (const s of again) {
      assert.equal(s.fam, 0, "to a name");
      assert.equal(s.name, /^INVITE sip:x@(\S+) /.exec(s.start)[1], `retransmission of ${s.start}`);
    }
  });

  test(`${board}: a name longer than the core keeps is refused when routed, never cut to another name`, () => {
    const { core, sent } = server(board);
    // longer than either board keeps (micro 64 bytes, server 255; a DNS name has at most 253)
    const long = board === "micro" ? "a".repeat(60) + ".test" : "a".repeat(251) + ".test";
    core.datagram(1, SRC, invite(1, long));
    assert.deepEqual(sent.filter((s) => s.fam === 0), [], "nothing sent to a name");
    const final = sent.filter((s) => /^SIP\/2\.0 [2-6]/.test(s.start));
    assert.equal(final.length, 1, `one final response (${JSON.stringify(sent.map((s) => s.start))})`);
    assert.match(final[0].start, /^SIP\/2\.0 5\d\d /, "a 5xx");
    // a name of 63 bytes still works on both boards
    sent.length = 0;
    const ok = "b".repeat(58) + ".test";
    core.datagram(2, SRC, invite(2, ok));
    assert.deepEqual(sent.filter((s) => s.fam === 0).map((s) => s.name), [ok]);
  });
}
