// The ACK of one of our own stateless answers (a 503 refusing for overload, a 483, …) to an INVITE for
// another domain: the caller ACKs it hop by hop to us (§17.1.1.3), with our To tag. It matches no
// transaction, and the proxy used to route it on, statelessly, to the other domain's server, which
// never saw the INVITE: under overload every refused call cost a stray datagram downstream. The To
// tag of a stateless answer is a hash of the request (Call-ID, From tag, CSeq, branch), which the ACK
// repeats, so the proxy recognises the ACK as its own and absorbs it.
import { test } from "node:test";
import assert from "node:assert/strict";
import { FuzzCore, peerRecord } from "../fuzz/core.mjs";

const CALLER = peerRecord(0, 1, "127.0.0.1", 5070);
const msg = (method, { maxForwards = 70, toTag = "" } = {}) => Buffer.from(
  `${method} sip:bob@192.0.2.7 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK-sack-1\r\n` +
  `Max-Forwards: ${maxForwards}\r\nFrom: <sip:a@127.0.0.1>;tag=a1\r\nTo: <sip:bob@192.0.2.7>${toTag ? `;tag=${toTag}` : ""}\r\n` +
  `Call-ID: sack-1\r\nCSeq: 1 ${method}\r\nContact: <sip:a@127.0.0.1:5070>\r\nContent-Length: 0\r\n\r\n`, "latin1");

for (const board of ["server", "micro"]) {
  for (const [why, setup, options, status] of [
    ["refused for overload", (core) => core.ex.sip_cfg_set(21, 1000), {}, 503],
    ["Max-Forwards 0", () => {}, { maxForwards: 0 }, 483],
  ]) {
    test(`${board}: the ACK of our stateless ${status} (${why}) goes no further`, () => {
      const sent = [];
      // the caller is a trusted peer: a 2xx ACK from it is routed even without a Route of ours
      const core = new FuzzCore({ board, seed: 1, record: false, trusted: ["127.0.0.1/32"], onTransmit: (b) => sent.push(b.toString("latin1")) });
      setup(core);
      core.datagram(1000, CALLER, msg("INVITE", options));
      assert.equal(sent.length, 1);
      assert.match(sent[0], new RegExp(`^SIP/2\\.0 ${status} `));
      const tag = /\r\nTo: [^\r]*;tag=([^;\r]+)/.exec(sent[0])[1];
      sent.length = 0;
      core.datagram(1010, CALLER, msg("ACK", { toTag: tag }));
      assert.deepEqual(sent, [], "nothing forwarded");
      // an ACK with another To tag is someone else's (a 2xx ACK for a dialog): still routed
      core.datagram(1020, CALLER, msg("ACK", { toTag: "other" }));
      assert.equal(sent.length, 1);
      assert.match(sent[0], /^ACK sip:bob@192\.0\.2\.7 SIP\/2\.0/);
      // the same ACK from a stranger proves nothing (no Route of ours with the dialog's MAC, no dialog
      // we know): dropped, never relayed (tests/security/relay.test.mjs)
      sent.length = 0;
      core.datagram(1030, peerRecord(0, 1, "192.0.2.66", 5070), msg("ACK", { toTag: "other" }));
      assert.deepEqual(sent, [], "a stranger's ACK goes nowhere");
    });
  }
}
