// Regression for the fuzz finding tests/fuzz/crashes/udp-flow-token-route.bin (fast path, seed 11): a
// REGISTER for a foreign domain over UDP whose Route is "<sip:ftffffffff@127.0.0.1:5060;lr>", our UDP
// transport with a user part that looks like one of our flow tokens. The core popped the Route, took
// "ffffffff" as a connection id and forwarded on the UDP transport naming connection 0xffffffff (an ABI
// contract break: UDP has no connections). Flow tokens are only ours on Record-Routes of a stream
// transport; on a URI naming our UDP transport the user part means nothing to us. The source is a
// trusted peer so that the request reaches routing (a stranger is refused before it, 403).
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { FuzzCore, peerRecord } from "../core.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const input = readFileSync(join(here, "..", "crashes", "udp-flow-token-route.bin"));
const invite = Buffer.from(
  "INVITE sip:bob@192.0.2.7:5080 SIP/2.0\r\n" +
  "Route: <sip:ft00000007@127.0.0.1:5060;lr>\r\n" +
  "Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK-ftudp-1\r\n" +
  "Max-Forwards: 70\r\nTo: <sip:bob@192.0.2.7>\r\nFrom: <sip:alice@127.0.0.1>;tag=a1\r\n" +
  "Call-ID: ftudp-1\r\nCSeq: 1 INVITE\r\nContact: <sip:alice@127.0.0.1:5070>\r\nContent-Length: 0\r\n\r\n", "latin1");

for (const board of ["server", "micro"]) {
  for (const [name, bytes] of [["the fuzz input", input], ["an INVITE", invite]]) {
    test(`udp-flow-token-route (${board}, ${name}): a UDP transmit names no connection`, () => {
      const sent = [];
      const core = new FuzzCore({ board, seed: 1, record: false, strict: true, trusted: ["127.0.0.1/32"],
        onTransmit: (b, meta) => sent.push({ transport: meta[4], conn: meta.readUInt32LE(0), line: b.toString("latin1", 0, b.indexOf(13)) }) });
      core.datagram(1000, peerRecord(0, 1, "127.0.0.1", 5070), bytes);
      assert.ok(sent.length > 0, "the request is answered or forwarded");
      for (const s of sent) assert.ok(!(s.transport === 1 && s.conn !== 0), `UDP transmit on connection ${s.conn}: ${s.line}`);
    });
  }
}
