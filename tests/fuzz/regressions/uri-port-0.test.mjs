// Regression for the fuzz anomaly "port-0" (fast path): a Request-URI or a Route naming port 0
// ("sip:bob@192.0.2.9:0", "<sip:192.0.2.10:0;lr>") parses — port is 1*DIGIT — and the core forwarded
// the request to port 0, which no host can send to (the Node host's dgram.send throws). A URI naming
// port 0 is no destination: the request is answered 503 like any target we cannot reach. The source
// is a trusted peer (it may relay), so the request reaches routing; from a stranger the same request
// is refused before routing (403 relaying denied).
import { test } from "node:test";
import assert from "node:assert/strict";
import { FuzzCore, peerRecord } from "../core.mjs";

const head = (ruri, extra, n) =>
  `OPTIONS ${ruri} SIP/2.0\r\n${extra}Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK-p0-${n}\r\nMax-Forwards: 70\r\n` +
  `To: <sip:bob@192.0.2.9>\r\nFrom: <sip:a@127.0.0.1>;tag=1\r\nCall-ID: p0-${n}\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n`;
const cases = {
  "Request-URI port 0": head("sip:bob@192.0.2.9:0", "", 1),
  "Route port 0": head("sip:bob@192.0.2.9", "Route: <sip:192.0.2.10:0;lr>\r\n", 2),
};

for (const board of ["server", "micro"]) {
  for (const [name, text] of Object.entries(cases)) {
    test(`uri-port-0 (${board}, ${name}): answered 503, nothing sent to port 0`, () => {
      const sent = [];
      const core = new FuzzCore({ board, seed: 1, record: false, strict: true, trusted: ["127.0.0.1/32"],
        onTransmit: (b, meta) => sent.push({ port: meta.readUInt16LE(6), line: b.toString("latin1", 0, b.indexOf(13)) }) });
      core.datagram(1000, peerRecord(0, 1, "127.0.0.1", 5070), Buffer.from(text, "latin1"));
      assert.deepEqual(sent, [{ port: 5070, line: "SIP/2.0 503 Service Unavailable" }]);
      sent.length = 0;
      core.datagram(1010, peerRecord(0, 1, "192.0.2.66", 5070), Buffer.from(text.replace(/p0-(\d)/g, "p0s-$1"), "latin1"));
      assert.deepEqual(sent, [{ port: 5070, line: "SIP/2.0 403 Forbidden" }], "a stranger gets no further than admission");
    });
  }
}
