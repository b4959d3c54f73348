// A message pool at its reserve must refuse, never go silent. Found by the overload bench (both hosts,
// 13,000 INVITE/486 calls/s on a whole CPU: the pool filled with lingering transactions and the
// server stopped answering new INVITEs, with neither a 100 nor a 503): the request copy still fitted,
// the 100 and then the generated final response did not, so nothing was sent and the server
// transaction was left with no final response. Here through the ABI on virtual time: the micro core,
// INVITEs with an SDP body (so the pool fills before the transaction table) to a UAS that answers 486,
// faster than the finished transactions drain. Every INVITE must get an answer (486, or a 503 with
// Retry-After), and once the timers have run every transaction and pool block must be free again.
import { test } from "node:test";
import assert from "node:assert/strict";
import { FuzzCore, peerRecord } from "../fuzz/core.mjs";

const CALLER = peerRecord(0, 1, "192.0.2.1", 5070);
const UAS = peerRecord(0, 1, "192.0.2.2", 5080);
const SDP = "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n" +
  "m=audio 4000 RTP/AVP 0 8 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\n" +
  "a=x-pad:" + "p".repeat(700) + "\r\n";
const hdr = (t, n) => (new RegExp(`\\r\\n${n}: ([^\\r]*)`).exec(t) ?? [])[1];

for (const board of ["micro", "server"]) {
  test(`${board}: a message pool at its reserve answers every INVITE (486 or 503 + Retry-After), none silent, nothing stuck`, () => {
    let atUas = [];
    const first = new Map(); // Call-ID -> the first status the caller got
    const core = new FuzzCore({ board, seed: 3, record: false, onTransmit: (b, meta) => {
      const t = b.toString("latin1");
      if (meta.readUInt16LE(6) === 5080 && t.startsWith("INVITE ")) atUas.push(t);
      else if (meta.readUInt16LE(6) === 5070 && t.startsWith("SIP/2.0 ")) {
        const cid = hdr(t, "Call-ID");
        const st = +t.slice(8, 11);
        if (st >= 200 && !first.has(cid)) first.set(cid, { st, retryAfter: hdr(t, "Retry-After") });
      }
    } });
    core.datagram(0, UAS, Buffer.from("REGISTER sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.2:5080;branch=z9hG4bK-r1\r\n" +
      "Max-Forwards: 70\r\nFrom: <sip:bob@127.0.0.1>;tag=r\r\nTo: <sip:bob@127.0.0.1>\r\nCall-ID: reg1\r\nCSeq: 1 REGISTER\r\n" +
      "Contact: <sip:bob@192.0.2.2:5080>\r\nExpires: 3600\r\nContent-Length: 0\r\n\r\n", "latin1"));
    // micro: 60 calls in 60 ms (the pool holds far fewer); server: enough to fill its 196,608 blocks
    const calls = board === "micro" ? 60 : 140_000;
    const step = board === "micro" ? 1 : 0.05;
    let now = 1;
    for (let i = 0; i < calls; i++) {
      now += step;
      const inv = `INVITE sip:bob@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1:5070;branch=z9hG4bK-p${i}\r\nMax-Forwards: 70\r\n` +
        `From: <sip:a@192.0.2.1>;tag=a${i}\r\nTo: <sip:bob@127.0.0.1>\r\nCall-ID: pool${i}\r\nCSeq: 1 INVITE\r\n` +
        `Contact: <sip:a@192.0.2.1:5070>\r\nContent-Type: application/sdp\r\nContent-Length: ${SDP.length}\r\n\r\n${SDP}`;
      core.datagram(now, CALLER, Buffer.from(inv, "latin1"));
      for (const t of atUas) {
        const vias = t.split("\r\n").filter((l) => l.startsWith("Via:")).join("\r\n");
        core.datagram(now, UAS, Buffer.from(`SIP/2.0 486 Busy Here\r\n${vias}\r\nFrom: ${hdr(t, "From")}\r\nTo: ${hdr(t, "To")};tag=u\r\n` +
          `Call-ID: ${hdr(t, "Call-ID")}\r\nCSeq: ${hdr(t, "CSeq")}\r\nContent-Length: 0\r\n\r\n`, "latin1"));
      }
      atUas = [];
      if (i % 50 === 0) core.timeout(now);
    }
    const silent = [];
    let busy = 0, refused = 0;
    for (let i = 0; i < calls; i++) {
      const f = first.get(`pool${i}`);
      if (!f) { silent.push(i); continue; }
      if (f.st === 486) busy++;
      else {
        assert.equal(f.st, 503, `call ${i}: ${f.st}`);
        assert.match(f.retryAfter ?? "", /^\d+$/, `call ${i}: 503 with Retry-After`);
        refused++;
      }
    }
    assert.deepEqual(silent.slice(0, 10), [], `${silent.length} of ${calls} INVITEs got no final answer (486 x${busy}, 503 x${refused})`);
    assert.ok(refused > 0, `the pool filled: some calls were refused (486 x${busy})`);
    assert.ok(busy > 0, "some calls went through");
    core.settle(now + 600_000); // every timer due: lingering transactions end
    assert.equal(core.stat(0), 0, "no transaction left");
    assert.equal(core.stat(6), 0, "no pool block left");
  });
}
