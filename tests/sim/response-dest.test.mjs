// Where a response goes when the request's top Via names a host by name without a port (RFC 3261
// §18.2.1, §18.2.2; RFC 3263 §5): the core adds `received` (sent-by is not the source address), and
// with `received` the response goes to that address at the sent-by port, 5060 when it has none; the
// name is never resolved (§5's SRV lookup is for a Via without `received`). With rport (RFC 3581) it
// goes back to the source port instead. The simulator throws if the core sends to a name (net.mjs).
import { test } from "node:test";
import assert from "node:assert/strict";
import { Sim, CoreNode } from "./net.mjs";

const PROXY = "127.0.0.1:5060";

/** Sends an OPTIONS for the proxy itself from 127.0.0.2:5070 with top Via `via`; returns [to, text] of what came back. */
function optionsWith(via) {
  const sim = new Sim({ seed: 7, latency: [5, 10] });
  new CoreNode(sim, PROXY, { domains: ["127.0.0.1"] });
  const got = [];
  for (const addr of ["127.0.0.2:5060", "127.0.0.2:5070"]) sim.attach(addr, { receive: (from, bytes) => got.push([addr, bytes.toString("latin1")]) });
  const text = [`OPTIONS sip:127.0.0.1 SIP/2.0`, `Via: ${via}`, "Max-Forwards: 70", "From: <sip:alice@127.0.0.1>;tag=a1",
    "To: <sip:127.0.0.1>", "Call-ID: rd-1@phone.example", "CSeq: 1 OPTIONS", "Content-Length: 0", "", ""].join("\r\n");
  sim.send("127.0.0.2:5070", PROXY, text);
  sim.run(1000);
  return got;
}

test("a Via sent-by name without a port: the response to the source address at 5060, received added, the name not resolved", () => {
  const got = optionsWith("SIP/2.0/UDP phone.example;branch=z9hG4bK-rd1");
  assert.equal(got.length, 1, JSON.stringify(got));
  const [to, text] = got[0];
  assert.equal(to, "127.0.0.2:5060");
  assert.match(text, /^SIP\/2\.0 200 /);
  assert.match(text, /\r\nVia: SIP\/2\.0\/UDP phone\.example;branch=z9hG4bK-rd1;received=127\.0\.0\.2\r\n/);
});

test("a Via sent-by name with a port: the source address at that port; with rport: the source port", () => {
  assert.deepEqual(optionsWith("SIP/2.0/UDP phone.example:5060;branch=z9hG4bK-rd2").map(([to]) => to), ["127.0.0.2:5060"]);
  const rport = optionsWith("SIP/2.0/UDP phone.example;branch=z9hG4bK-rd3;rport");
  assert.deepEqual(rport.map(([to]) => to), ["127.0.0.2:5070"]);
  assert.match(rport[0][1], /\r\nVia: SIP\/2\.0\/UDP phone\.example;branch=z9hG4bK-rd3;rport=5070;received=127\.0\.0\.2\r\n/);
});
