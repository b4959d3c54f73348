// Where the proxy sends toward a phone registered over a stream whose connection is gone, or may be:
// the address and port its Contact names, the port by the transport when the Contact has none (RFC 3261
// §19.1.2, RFC 3263 §4.2: 5061 for TLS, 5060 for UDP and TCP). An in-dialog request that follows our
// Record-Route's flow token goes on the phone's connection and names that address for a host that must
// reconnect (proxy/request.ts flowDest); once the connection has closed, a new call goes to it
// (proxy/route.ts destFromUri). Both said 5060 for `sip:...;transport=tls` before. So did a response
// forwarded statelessly to a TLS Via without a port (proxy/send.ts viaDest; RFC 3261 §18.2.2). Driven on
// the core itself (tests/fuzz/core.mjs).
import { test } from "node:test";
import assert from "node:assert/strict";
import { FuzzCore, peerRecord } from "../fuzz/core.mjs";

const CONN = 0x2b;
const hdrs = (m, name) => m.split("\r\n").filter((l) => l.toLowerCase().startsWith(`${name.toLowerCase()}:`)).map((l) => l.slice(name.length + 1).trim());

/** A core with UDP (transport 1, 127.0.0.1:5060) and a stream transport of `proto` (2; at 5061 for TLS);
 * each message it sends is in `sent` with its connection, transport and address. */
function streamCore(seed, proto) {
  const sent = [];
  const core = new FuzzCore({
    seed, record: false,
    transports: [{ id: 1, proto: 1, addr: "127.0.0.1:5060" }, { id: 2, proto, addr: `127.0.0.1:${proto === 3 ? 5061 : 5060}` }],
    onTransmit: (b, meta) => sent.push({
      text: b.toString("latin1"), conn: meta.readUInt32LE(0), transport: meta[4],
      to: `${meta[8]}.${meta[9]}.${meta[10]}.${meta[11]}:${meta.readUInt16LE(6)}`,
    }),
  });
  return { core, sent };
}

/** `user`'s REGISTER from `peer` through send(peer, text), with its Via and Contact. */
const register = (send, peer, user, via, contact) => send(peer, `REGISTER sip:127.0.0.1 SIP/2.0\r\nVia: ${via};branch=z9hG4bKr${user}\r\nMax-Forwards: 70\r\n` +
  `To: <sip:${user}@127.0.0.1>\r\nFrom: <sip:${user}@127.0.0.1>;tag=a\r\nCall-ID: r${user}\r\nCSeq: 1 REGISTER\r\n` +
  `Contact: <${contact}>\r\nExpires: 600\r\nContent-Length: 0\r\n\r\n`);

for (const [proto, name, contact, port] of [
  [3, "tls", "sip:alice@127.0.0.9;transport=tls", 5061],
  [3, "tls", "sips:alice@127.0.0.9", 5061],
  [3, "tls", "sip:alice@127.0.0.9:5071;transport=tls", 5071],
  [2, "tcp", "sip:alice@127.0.0.9;transport=tcp", 5060],
]) {
  test(`${name}: a phone registered as <${contact}>: an in-dialog BYE on its connection names 127.0.0.9:${port} to reconnect to, and a call after the connection closed goes there`, () => {
    const { core, sent } = streamCore(9, proto);
    const phone = peerRecord(CONN, 2, "127.0.0.9", 40000);
    const bob = peerRecord(0, 1, "127.0.0.1", 5070);
    const T = name.toUpperCase();
    const send = (peer, text) => core.datagram(1000 + sent.length, peer, Buffer.from(text, "latin1"));
    register(send, phone, "alice", `SIP/2.0/${T} 127.0.0.9:40000`, contact);
    assert.match(sent.at(-1).text, /^SIP\/2.0 200 /);
    register(send, bob, "bob", "SIP/2.0/UDP 127.0.0.1:5070", "sip:bob@127.0.0.1:5070");
    assert.match(sent.at(-1).text, /^SIP\/2.0 200 /);
    // alice (on the stream) calls bob (UDP): the Record-Route facing her carries her flow token
    send(phone, `INVITE sip:bob@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/${T} 127.0.0.9:40000;branch=z9hG4bKi1\r\nMax-Forwards: 70\r\n` +
      `To: <sip:bob@127.0.0.1>\r\nFrom: <sip:alice@127.0.0.1>;tag=a1\r\nCall-ID: c1\r\nCSeq: 1 INVITE\r\nContact: <${contact}>\r\nContent-Length: 0\r\n\r\n`);
    const inv = sent.find((s) => s.text.startsWith("INVITE "));
    assert.ok(inv, sent.map((s) => s.text.split("\r\n")[0]).join("\n"));
    assert.equal(inv.to, "127.0.0.1:5070", "the INVITE reaches bob");
    const rr = hdrs(inv.text, "Record-Route").join(",").split(/,\s*/);
    send(bob, `SIP/2.0 200 OK\r\n${hdrs(inv.text, "Via").map((v) => `Via: ${v}`).join("\r\n")}\r\n` +
      `Record-Route: ${rr.join(", ")}\r\nTo: <sip:bob@127.0.0.1>;tag=x\r\nFrom: <sip:alice@127.0.0.1>;tag=a1\r\nCall-ID: c1\r\nCSeq: 1 INVITE\r\n` +
      `Contact: <sip:bob@127.0.0.1:5070>\r\nContent-Length: 0\r\n\r\n`);
    const ok = sent.findLast((s) => s.text.startsWith("SIP/2.0 200 OK") && s.conn === CONN);
    assert.ok(ok, "the 200 goes to alice on her connection");
    // bob hangs up: his BYE follows alice's flow token
    const before = sent.length;
    send(bob, `BYE ${contact} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKb1\r\nMax-Forwards: 70\r\n` +
      `Route: ${rr.join(", ")}\r\nTo: <sip:alice@127.0.0.1>;tag=a1\r\nFrom: <sip:bob@127.0.0.1>;tag=x\r\nCall-ID: c1\r\nCSeq: 1 BYE\r\nContent-Length: 0\r\n\r\n`);
    const bye = sent.slice(before).find((s) => s.text.startsWith("BYE "));
    assert.ok(bye, `BYE forwarded; sent: ${sent.slice(before).map((s) => s.text.split("\r\n")[0]).join(" | ")}`);
    assert.equal(bye.conn, CONN, "the BYE follows the flow token to alice's connection");
    assert.equal(bye.to, `127.0.0.9:${port}`, "and names her Contact's address and its transport's port to reconnect to");

    // the connection closes: a new call goes to the Contact's address, on a connection the host opens
    core.connClosed(5000, CONN);
    const mark = sent.length;
    send(bob, `INVITE sip:alice@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKi2\r\nMax-Forwards: 70\r\n` +
      `To: <sip:alice@127.0.0.1>\r\nFrom: <sip:bob@127.0.0.1>;tag=b2\r\nCall-ID: c2\r\nCSeq: 1 INVITE\r\nContact: <sip:bob@127.0.0.1:5070>\r\nContent-Length: 0\r\n\r\n`);
    const inv2 = sent.slice(mark).find((s) => s.text.startsWith("INVITE "));
    assert.ok(inv2, `a new call to alice: ${sent.slice(mark).map((s) => s.text.split("\r\n")[0]).join(" | ")}`);
    assert.equal(inv2.conn, 0, "no connection left: the host opens one");
    assert.equal(inv2.transport, 2, `on the ${name} transport`);
    assert.equal(inv2.to, `127.0.0.9:${port}`, "to the Contact's address and its transport's port");
  });
}

test("tls: a 2xx retransmitted after its transactions ended goes statelessly to the caller's Via, at 5061 when its TLS sent-by has no port (RFC 3261 §18.2.2)", () => {
  const { core, sent } = streamCore(11, 3);
  const alice = peerRecord(CONN, 2, "127.0.0.9", 40000);
  const bob = peerRecord(0, 1, "127.0.0.1", 5070);
  let now = 1000;
  const send = (peer, text) => core.datagram(now, peer, Buffer.from(text, "latin1"));
  register(send, bob, "bob", "SIP/2.0/UDP 127.0.0.1:5070", "sip:bob@127.0.0.1:5070");
  send(alice, `INVITE sip:bob@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TLS 127.0.0.9;branch=z9hG4bKi9\r\nMax-Forwards: 70\r\n` +
    `To: <sip:bob@127.0.0.1>\r\nFrom: <sip:alice@127.0.0.1>;tag=a9\r\nCall-ID: c9\r\nCSeq: 1 INVITE\r\nContact: <sip:alice@127.0.0.9;transport=tls>\r\nContent-Length: 0\r\n\r\n`);
  const inv = sent.find((s) => s.text.startsWith("INVITE "));
  assert.ok(inv, sent.map((s) => s.text.split("\r\n")[0]).join(" | "));
  const ok = `SIP/2.0 200 OK\r\n${hdrs(inv.text, "Via").map((v) => `Via: ${v}`).join("\r\n")}\r\n` +
    `Record-Route: ${hdrs(inv.text, "Record-Route").join(", ")}\r\nTo: <sip:bob@127.0.0.1>;tag=x9\r\nFrom: <sip:alice@127.0.0.1>;tag=a9\r\nCall-ID: c9\r\nCSeq: 1 INVITE\r\n` +
    `Contact: <sip:bob@127.0.0.1:5070>\r\nContent-Length: 0\r\n\r\n`;
  send(bob, ok);
  assert.ok(sent.some((s) => s.text.startsWith("SIP/2.0 200 OK") && s.conn === CONN), "the 200 goes to alice on her connection");
  // 40 s later (Timers L and M have ended both transactions) bob's 200 comes again: forwarded statelessly
  for (now = 2000; now <= 41_000; now += 1000) core.timeout(now);
  const before = sent.length;
  send(bob, ok);
  const again = sent.slice(before).find((s) => s.text.startsWith("SIP/2.0 200 OK"));
  assert.ok(again, `forwarded: ${sent.slice(before).map((s) => s.text.split("\r\n")[0]).join(" | ")}`);
  assert.equal(again.transport, 2, "on the TLS transport");
  assert.equal(again.to, "127.0.0.9:5061", "to the Via's sent-by at TLS's default port");
});
