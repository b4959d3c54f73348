// A phone registered over a WebSocket (RFC 7118: Contact and Via name a .invalid host the proxy can
// never reach) is reached only on the connection its REGISTER came on: the INVITE to it goes on that
// connection (the binding's flow), and so must every in-dialog request that a caller on UDP sends
// through our Record-Route (ACK, BYE). The Record-Route facing the WebSocket side therefore carries
// that connection's flow token (under the dialog MAC), as the one facing a caller on a stream does.
// Once that connection closes, the binding is unreachable: a call to it is answered 480 at once.
// Driven on the core itself (tests/fuzz/core.mjs), for ws and wss.
import { test } from "node:test";
import assert from "node:assert/strict";
import { FuzzCore, peerRecord } from "../fuzz/core.mjs";

const CONN = 0x2a;
const hdrs = (m, name) => m.split("\r\n").filter((l) => l.toLowerCase().startsWith(`${name.toLowerCase()}:`)).map((l) => l.slice(name.length + 1).trim());

for (const [proto, name] of [[5, "ws"], [6, "wss"]]) {
  test(`${name}: a UDP caller's INVITE, ACK and BYE reach the phone on the ${name} connection it registered on`, () => {
    const sent = [];
    const core = new FuzzCore({
      seed: 7, record: false,
      transports: [{ id: 1, proto: 1, addr: "127.0.0.1:5060" }, { id: 2, proto, addr: "127.0.0.1:8443" }],
      onTransmit: (b, meta) => sent.push({ text: b.toString("latin1"), conn: meta.readUInt32LE(0), transport: meta[4] }),
    });
    const browser = peerRecord(CONN, 2, "127.0.0.1", 40000);
    const caller = peerRecord(0, 1, "127.0.0.1", 5070);
    const T = name.toUpperCase();
    const send = (peer, text) => core.datagram(1000 + sent.length, peer, Buffer.from(text, "latin1"));
    send(browser, `REGISTER sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/${T} abc.invalid;branch=z9hG4bKr1\r\nMax-Forwards: 70\r\n` +
      `To: <sip:alice@127.0.0.1>\r\nFrom: <sip:alice@127.0.0.1>;tag=a\r\nCall-ID: r1\r\nCSeq: 1 REGISTER\r\n` +
      `Contact: <sip:xyz@abc.invalid;transport=${name}>\r\nExpires: 600\r\nContent-Length: 0\r\n\r\n`);
    assert.match(sent.at(-1).text, /^SIP\/2.0 200 /);
    assert.equal(sent.at(-1).conn, CONN);
    send(caller, `INVITE sip:alice@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKi1\r\nMax-Forwards: 70\r\n` +
      `To: <sip:alice@127.0.0.1>\r\nFrom: <sip:bob@127.0.0.1>;tag=b\r\nCall-ID: c1\r\nCSeq: 1 INVITE\r\nContact: <sip:bob@127.0.0.1:5070>\r\nContent-Length: 0\r\n\r\n`);
    const inv = sent.find((s) => s.text.startsWith("INVITE "));
    assert.ok(inv, sent.map((s) => s.text.split("\r\n")[0]).join("\n"));
    assert.equal(inv.conn, CONN, "the INVITE goes on the registering connection");
    assert.equal(inv.transport, 2);
    const rr = hdrs(inv.text, "Record-Route").join(",").split(/,\s*/);
    assert.equal(rr.length, 2, rr.join(" | "));
    assert.match(rr[0], new RegExp(`^<sip:ft[0-9a-f]{8}@127\\.0\\.0\\.1:8443;transport=${name};lr;dlg=`), `the Record-Route facing the ${name} phone names its flow: ${rr[0]}`);
    const resp = (status, extra = "") => `SIP/2.0 ${status}\r\n${hdrs(inv.text, "Via").map((v) => `Via: ${v}`).join("\r\n")}\r\n` +
      `Record-Route: ${rr.join(", ")}\r\nTo: <sip:alice@127.0.0.1>;tag=x\r\nFrom: <sip:bob@127.0.0.1>;tag=b\r\nCall-ID: c1\r\nCSeq: 1 INVITE\r\n${extra}Content-Length: 0\r\n\r\n`;
    send(browser, resp("200 OK", `Contact: <sip:xyz@abc.invalid;transport=${name}>\r\n`));
    const ok = sent.findLast((s) => s.text.startsWith("SIP/2.0 200 OK") && s.transport === 1);
    assert.ok(ok, "the 200 goes to the caller");
    const route = [...hdrs(ok.text, "Record-Route").join(",").split(/,\s*/)].reverse().join(", ");
    for (const [method, cseq, branch] of [["ACK", 1, "z9hG4bKa1"], ["BYE", 2, "z9hG4bKb1"]]) {
      const before = sent.length;
      send(caller, `${method} sip:xyz@abc.invalid;transport=${name} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch=${branch}\r\nMax-Forwards: 70\r\n` +
        `Route: ${route}\r\nTo: <sip:alice@127.0.0.1>;tag=x\r\nFrom: <sip:bob@127.0.0.1>;tag=b\r\nCall-ID: c1\r\nCSeq: ${cseq} ${method}\r\nContent-Length: 0\r\n\r\n`);
      const out = sent.slice(before).find((s) => s.text.startsWith(`${method} `));
      assert.ok(out, `${method} forwarded; sent: ${sent.slice(before).map((s) => s.text.split("\r\n")[0]).join(" | ")}`);
      assert.equal(out.conn, CONN, `${method} goes on the ${name} connection`);
      assert.equal(out.transport, 2, `${method} on the ${name} transport`);
    }

    // the WebSocket closes: the binding cannot be reached any more (its Contact is .invalid and no
    // host opens a WebSocket), so a new call to alice is answered 480 at once, nothing sent toward it
    core.connClosed(5000, CONN);
    const before = sent.length;
    send(caller, `INVITE sip:alice@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKi2\r\nMax-Forwards: 70\r\n` +
      `To: <sip:alice@127.0.0.1>\r\nFrom: <sip:bob@127.0.0.1>;tag=b3\r\nCall-ID: c2\r\nCSeq: 1 INVITE\r\nContact: <sip:bob@127.0.0.1:5070>\r\nContent-Length: 0\r\n\r\n`);
    const after = sent.slice(before);
    assert.deepEqual(after.filter((s) => s.transport === 2).map((s) => s.text.split("\r\n")[0]), [], "nothing toward the closed WebSocket");
    assert.ok(after.some((s) => s.text.startsWith("SIP/2.0 480 ")), `480 to the caller: ${after.map((s) => s.text.split("\r\n")[0]).join(" | ")}`);
  });
}
