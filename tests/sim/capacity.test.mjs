// The micro board's capacity claims, shown in the deterministic simulator (net.mjs, ua.mjs): 32
// registrations held at once (contacts as long as softphones send), then 16 transactions in progress at once (8 calls ringing, each a server
// and a client INVITE transaction, with an SDP offer of a size real phones send), every one completing,
// none refused 503. The callers hang up after 40 s: an answered INVITE's transactions stay 32 s (Timer
// L and M, RFC 6026) to pass on retransmitted 2xx, so 8 BYEs sooner would find the 16 slots taken. The peak of the message pool is printed: it is what sizes SIP_MSG_BLOCKS of the
// board (asconfig.json), and the test fails if the pool ran dry on the way.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Sim, CoreNode } from "./net.mjs";
import { Ua } from "./ua.mjs";

const PROXY = "127.0.0.1:5060";

/** An audio offer of the size a desk phone sends (~420 bytes: 6 codecs, DTMF, ptime, a crypto line). */
function sdp(i) {
  return [
    "v=0", `o=- 38${i}1 38${i}1 IN IP4 127.0.2.${i}`, "s=call", `c=IN IP4 127.0.2.${i}`, "t=0 0",
    `m=audio ${20000 + 2 * i} RTP/AVP 9 0 8 18 101 13`, "a=rtpmap:9 G722/8000", "a=rtpmap:0 PCMU/8000",
    "a=rtpmap:8 PCMA/8000", "a=rtpmap:18 G729/8000", "a=fmtp:18 annexb=no", "a=rtpmap:101 telephone-event/8000",
    "a=fmtp:101 0-15", "a=rtpmap:13 CN/8000", "a=ptime:20", "a=sendrecv",
    "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVzcyAoc2VxKQ==", "",
  ].join("\r\n");
}

test("micro: 32 registrations, then 16 INVITE transactions at once (8 ringing calls with SDP): all complete, no 503", (t) => {
  const sim = new Sim({ seed: 1, latency: [2, 5] });
  const proxy = new CoreNode(sim, PROXY, { board: "micro", domains: ["127.0.0.1"] });
  assert.equal(proxy.stat("txnCapacity"), 16);
  assert.ok(proxy.stat("aorCapacity") >= 32);
  const uas = Array.from({ length: 32 }, (_, i) =>
    new Ua(sim, `127.0.1.${i + 1}:5060`, `phone${i + 1}`, {
      proxy: PROXY, ring: 100, answer: 4000,
      // a contact as long as softphones register (rinstance, transport, RFC 5626 ob): 65-67 bytes
      contactParams: `;rinstance=${(0x9e3779b97f4a7c15n * BigInt(i + 1) & 0xffffffffffffffffn).toString(16).padStart(16, "0")};transport=UDP;ob`,
    }));
  uas.forEach((u, i) => sim.after(i * 20, () => u.register(3600))); // one every 20 ms
  sim.run(sim.now + 5_000);
  for (const u of uas) assert.equal(u.registered, 200, `${u.user} registered`);
  assert.equal(proxy.stat("aorsInUse"), 32);
  assert.equal(proxy.stat("bindingsInUse"), 32);
  // each registration holds its AOR key (one 64-byte block) and its contact URI (two)
  assert.equal(proxy.stat("regPoolInUse"), 96);
  t.diagnostic(`registrar pool ${proxy.stat("regPoolInUse")} of ${proxy.stat("regPoolBlocks")} blocks, ` +
    `${proxy.stat("bindingsInUse")} of ${proxy.stat("bindingCapacity")} bindings`);

  const calls = [];
  for (let i = 0; i < 8; i++) calls.push([uas[i], uas[i + 8], uas[i].invite(uas[i + 8].user, { hangupAfter: 40_000, body: sdp(i) })]);
  let peakTxn = 0, peakPool = 0;
  for (let ms = 0; ms < 80_000; ms += 10) {
    sim.run(sim.now + 10);
    peakTxn = Math.max(peakTxn, proxy.stat("txnInUse"));
    peakPool = Math.max(peakPool, proxy.stat("msgPoolInUse"));
  }
  for (const [a, b, cid] of calls) {
    assert.deepEqual(a.calls.get(cid).finals, [200], `${a.user} -> ${b.user} answered`);
    assert.equal([...a.calls.get(cid).dialogs.values()][0].bye, 200, `${a.user} hung up`);
  }
  assert.equal(peakTxn, 16, "16 transactions were in progress at once");
  assert.equal(proxy.stat("refused503"), 0, "nothing was refused for want of room");
  const blocks = proxy.stat("msgPoolBlocks");
  t.diagnostic(`peak ${peakTxn} transactions, peak message pool ${peakPool} of ${blocks} blocks`);
  assert.ok(peakPool < blocks, `the message pool never ran dry (peak ${peakPool} of ${blocks})`);
  sim.run(sim.now + 600_000);
  assert.equal(proxy.stat("txnInUse"), 0);
  assert.equal(proxy.stat("msgPoolInUse"), 0);
});
