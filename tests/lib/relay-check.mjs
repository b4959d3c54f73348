// The relay rules in short, for the hosts that run the core without the full security suites (WASI,
// firmware): a stranger's call to an address and a forged in-dialog request are refused, and a loopback
// sink hears nothing of them. tests/security/relay.test.mjs is the full suite (Node and native hosts).
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { Ua, Sink, request, hdrs, status, firstLine, token } from "./sipua.mjs";

/** Runs the checks against a server listening on udp:127.0.0.1:`port`. */
export async function strangerIsRefused(port) {
  const srv = { port };
  const sink = await Sink.open("127.0.0.9");
  const mallory = await Ua.open("127.0.0.5");
  try {
    const from = "sip:mallory@evil.test";
    const ruri = `sip:victim@127.0.0.9:${sink.port}`;
    const cases = [
      [{ ruri, from }, 403, "a call to an address"],
      [{ ruri, from, toTag: "abc", route: [`<sip:127.0.0.1:${port};lr>`] }, 404, "a forged To tag and a Route naming the server"],
    ];
    for (const [o, code, what] of cases) {
      const callId = token("rc");
      const r = await mallory.request(srv, request(mallory, { ...o, callId }), { timeoutMs: 5000 });
      assert.equal(status(r), code, `${what}: ${firstLine(r) || "no answer"}`);
      await sleep(200);
      assert.deepEqual(sink.received.filter((m) => hdrs(m.text, "Call-ID")[0] === callId).map((m) => firstLine(m.text)), [],
        `${what}: nothing reaches the sink`);
    }
  } finally {
    sink.close();
    mallory.close();
  }
}
