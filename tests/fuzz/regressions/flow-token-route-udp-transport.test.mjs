// Regression for the fuzz finding tests/fuzz/crashes/flow-token-route-udp-transport.bin: an in-dialog
// request whose Route set pops to one of our flow tokens (<sip:ft00000ba3@127.0.0.1:5060;transport=tcp;lr>)
// while UDP and TCP listen on the same host:port (the default). The core matches the Route to the
// *first* transport with that host:port (UDP, id 1; route.ts ourTransport ignores transport=tcp) and
// emits the request on transport 1 with conn 0xba3 and family 0 (a host name) whose name is whatever
// sits in slot 0 of the name table ("" on a fresh core). The Node host then resolves that name and
// sends the request over UDP (dns.lookup("") gives null: to localhost:5060, i.e. back to ourselves), or
// drops it when the stale name does not resolve. Fixed: the request goes on the TCP transport (2),
// on connection 0xba3, or is refused. Since the relay rules, a flow token is honoured only on a Route
// carrying our dialog MAC (proxy/rrmac.ts), which this forged one lacks: a stranger's BYE is refused
// (404), and a trusted peer's is routed by its Request-URI with no connection named.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { FuzzCore, peerRecord } from "../core.mjs";

const file = join(dirname(fileURLToPath(import.meta.url)), "..", "crashes", "flow-token-route-udp-transport.bin");

for (const board of ["server", "micro"]) {
  test(`flow-token-route-udp-transport (${board}, stranger): a forged flow-token route is refused, nothing relayed`, () => {
    const sent = [];
    const core = new FuzzCore({ board, seed: 1, record: false, onTransmit: (b, meta, name) => sent.push({ meta, name, line: b.toString("latin1").split("\r\n")[0] }) });
    core.datagram(1000, peerRecord(0, 1, "192.0.2.20", 5060), readFileSync(file));
    assert.deepEqual(sent.map((s) => s.line), ["SIP/2.0 404 Not Found"]);
  });
  test(`flow-token-route-udp-transport (${board}, trusted): routed with no connection named on UDP`, () => {
    const sent = [];
    const core = new FuzzCore({ board, seed: 1, record: false, trusted: ["192.0.2.20/32"], onTransmit: (b, meta, name) => sent.push({ meta, name, line: b.toString("latin1").split("\r\n")[0] }) });
    core.datagram(1000, peerRecord(0, 1, "192.0.2.20", 5060), readFileSync(file));
    const bye = sent.filter((s) => s.line.startsWith("BYE "));
    assert.equal(bye.length, 1, `the BYE is forwarded once; sent: ${sent.map((s) => s.line)}`);
    for (const s of bye) {
      const transport = s.meta[4], family = s.meta[5], conn = s.meta.readUInt32LE(0);
      assert.ok(!(transport === 1 && conn !== 0), `BYE sent on UDP transport 1 naming connection ${conn} (family ${family}, name ${JSON.stringify(s.name)})`);
      assert.ok(!(family === 0 && s.name === ""), `BYE sent to family 0 with an empty host name (transport ${transport}, conn ${conn})`);
    }
  });
}
