// What the proxy keeps of an INVITE while its transactions last (proxy/response.ts keepLess,
// keepBranchLess; proxy/request.ts send100), shown in the simulator with raw endpoints so that every
// byte each side sees can be compared:
//   - the request is kept as writeKept makes it (request line, Via, From, To, Call-ID, CSeq,
//     Max-Forwards, Route) once no other branch can be forwarded from it: one pool block;
//   - our 100 Trying is not kept: a retransmitted INVITE gets it written again, the same bytes;
//   - the forwarded copy is kept whole until the branch's first provisional (Timer A resends it,
//     body included), then as writeKept makes it: the CANCEL and the ACK of a non-2xx are written
//     from that, the same as from the whole copy;
//   - a request with a later q-value group is kept whole: the next group gets its body and every
//     header.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Sim, CoreNode } from "./net.mjs";
import { Raw, reply } from "./scripted.mjs";

const PROXY = "127.0.0.1:5060";
const ALICE = "127.0.1.1:5060";
const BLOCK = 512; // the message pool's block (assembly/config.ts MSG_BLOCK)

/** An audio offer of a desk phone's size, and an unknown header, so the INVITE takes three blocks. */
const SDP = [
  "v=0", "o=- 3801 3801 IN IP4 127.0.1.1", "s=call", "c=IN IP4 127.0.1.1", "t=0 0",
  "m=audio 20000 RTP/AVP 9 0 8 18 101 13", "a=rtpmap:9 G722/8000", "a=rtpmap:0 PCMU/8000",
  "a=rtpmap:8 PCMA/8000", "a=rtpmap:18 G729/8000", "a=fmtp:18 annexb=no", "a=rtpmap:101 telephone-event/8000",
  "a=fmtp:101 0-15", "a=rtpmap:13 CN/8000", "a=ptime:20", "a=sendrecv",
  "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVzcyAoc2VxKQ==", "",
].join("\r\n");

function invite(callId, branch) {
  return [
    "INVITE sip:bob@127.0.0.1 SIP/2.0",
    `Via: SIP/2.0/UDP ${ALICE};branch=${branch};rport`,
    "Max-Forwards: 70",
    "From: \"Alice\" <sip:alice@127.0.0.1>;tag=a1",
    "To: <sip:bob@127.0.0.1>",
    `Call-ID: ${callId}`,
    "CSeq: 1 INVITE",
    `Contact: <sip:alice@${ALICE}>`,
    "X-Passed-Through: " + "x".repeat(300),
    "Allow: INVITE, ACK, CANCEL, BYE",
    "Content-Type: application/sdp",
    `Content-Length: ${SDP.length}`,
    "",
    SDP,
  ].join("\r\n");
}

function register(raw, user, q, cseq) {
  raw.send([
    `REGISTER sip:127.0.0.1 SIP/2.0`,
    `Via: SIP/2.0/UDP ${raw.addr};branch=z9hG4bKreg${cseq}${user};rport`,
    "Max-Forwards: 70",
    `From: <sip:${user}@127.0.0.1>;tag=r${cseq}`,
    `To: <sip:${user}@127.0.0.1>`,
    `Call-ID: reg-${raw.addr}`,
    `CSeq: ${cseq} REGISTER`,
    `Contact: <sip:${user}@${raw.addr}>${q ? `;q=${q}` : ""}`,
    "Expires: 600",
    "Content-Length: 0",
    "",
    "",
  ].join("\r\n"));
}

function setup(board) {
  const sim = new Sim({ seed: 7, latency: [2, 4] });
  const proxy = new CoreNode(sim, PROXY, { board, domains: ["127.0.0.1"] });
  const alice = new Raw(sim, ALICE, PROXY);
  return { sim, proxy, alice };
}

for (const board of ["micro", "server"]) {
  test(`${board}: an INVITE in progress keeps its request in one pool block, our 100 in none, its forwarded copy whole until the first provisional; retransmissions, CANCEL and ACK unchanged`, () => {
    const { sim, proxy, alice } = setup(board);
    const bob = new Raw(sim, "127.0.1.2:5060", PROXY);
    register(bob, "bob", null, 1);
    sim.run(sim.now + 50);
    assert.equal(bob.of("SIP/2.0 200").length, 1, "bob registered");

    const inv = invite("kept-1@127.0.1.1", "z9hG4bKkept1");
    assert.ok(inv.length > 2 * BLOCK, `the INVITE takes three blocks (${inv.length} B)`);
    alice.send(inv);
    sim.run(sim.now + 50);
    const trying = alice.of("SIP/2.0 100");
    assert.equal(trying.length, 1, "our 100");
    assert.match(trying[0].get("via"), /rport=5060/, "RFC 3581 on the 100's Via");
    const fwd = bob.of("INVITE");
    assert.equal(fwd.length, 1);
    assert.ok(fwd[0].text.includes("X-Passed-Through: " + "x".repeat(300)) && fwd[0].text.endsWith(SDP), "forwarded whole");
    const fwdBlocks = Math.ceil(fwd[0].text.length / BLOCK);
    assert.equal(proxy.stat("msgPoolInUse"), 1 + fwdBlocks, "the kept request (1 block) and the forwarded copy, no 100");

    // the caller's retransmission before any other provisional: our 100 again, written from it
    alice.send(inv);
    sim.run(sim.now + 50);
    assert.equal(alice.of("SIP/2.0 100").length, 2);
    assert.equal(alice.of("SIP/2.0 100")[1].text, trying[0].text, "the same 100");
    assert.equal(proxy.stat("msgPoolInUse"), 1 + fwdBlocks);

    // Timer A: the whole forwarded copy again
    sim.run(sim.now + 500);
    assert.ok(bob.of("INVITE").length >= 2, "Timer A resent the INVITE");
    assert.equal(bob.of("INVITE")[1].text, fwd[0].text, "byte for byte, body included");

    // bob rings: the forwarded copy is kept as writeKept makes it, beside the relayed 180
    reply(bob, fwd[0], 180, "Ringing", "b1");
    sim.run(sim.now + 50);
    const ringing = alice.of("SIP/2.0 180");
    assert.equal(ringing.length, 1);
    assert.equal(proxy.stat("msgPoolInUse"), 3, "kept request, kept branch copy and the 180: one block each");
    alice.send(inv);
    sim.run(sim.now + 50);
    assert.equal(alice.of("SIP/2.0 180").length, 2, "a retransmitted INVITE gets the 180 again");
    assert.equal(alice.of("SIP/2.0 180")[1].text, ringing[0].text);
    assert.equal(alice.of("SIP/2.0 100").length, 2, "and no 100 after it");

    // the caller cancels: our CANCEL names what the forwarded INVITE named (§9.1)
    alice.send(inv.slice(0, inv.indexOf("\r\n\r\n")).replace("INVITE sip:", "CANCEL sip:").replace("CSeq: 1 INVITE", "CSeq: 1 CANCEL")
      .replace(/Content-Length: \d+/, "Content-Length: 0").replace(/\r\nContent-Type:[^\r]*/, "") + "\r\n\r\n");
    sim.run(sim.now + 50);
    assert.equal(alice.of("SIP/2.0 200").length, 1, "200 to the CANCEL");
    const cancel = bob.of("CANCEL");
    assert.equal(cancel.length, 1);
    assert.equal(cancel[0].ruri, fwd[0].ruri);
    assert.equal(cancel[0].all("via")[0], fwd[0].all("via")[0], "the forwarded INVITE's top Via");
    assert.equal(cancel[0].all("via").length, 1);
    for (const h of ["from", "to", "call-id"]) assert.equal(cancel[0].get(h), fwd[0].get(h), h);
    assert.equal(cancel[0].get("cseq"), "1 CANCEL");
    assert.deepEqual(cancel[0].all("route"), fwd[0].all("route"));

    // bob: 200 to the CANCEL, 487 to the INVITE; our ACK names what the INVITE named (§17.1.1.3)
    reply(bob, cancel[0], 200, "OK", "b1");
    reply(bob, fwd[0], 487, "Request Terminated", "b1");
    sim.run(sim.now + 50);
    const ack = bob.of("ACK");
    assert.equal(ack.length, 1);
    assert.equal(ack[0].ruri, fwd[0].ruri);
    assert.equal(ack[0].all("via")[0], fwd[0].all("via")[0]);
    assert.equal(ack[0].get("to"), `${fwd[0].get("to")};tag=b1`);
    assert.equal(ack[0].get("cseq"), "1 ACK");
    const final = alice.of("SIP/2.0 487");
    assert.equal(final.length, 1, "the caller gets the 487");
    assert.equal(final[0].all("via").join(), alice.of("SIP/2.0 100")[0].all("via").join(), "with its own Vias");
    sim.run(sim.now + 60_000);
    assert.equal(proxy.stat("txnInUse"), 0);
    assert.equal(proxy.stat("msgPoolInUse"), 0);
  });
}

test("a request with a later q-value group is kept whole: the second group gets its body and every header", () => {
  const { sim, proxy, alice } = setup("micro");
  const hi = new Raw(sim, "127.0.1.3:5060", PROXY);
  const lo = new Raw(sim, "127.0.1.4:5060", PROXY);
  register(hi, "bob", "1.0", 1);
  sim.run(sim.now + 50);
  register(lo, "bob", "0.5", 2);
  sim.run(sim.now + 50);
  assert.equal(hi.of("SIP/2.0 200").length + lo.of("SIP/2.0 200").length, 2, "both contacts registered");
  alice.send(invite("kept-2@127.0.1.1", "z9hG4bKkept2"));
  sim.run(sim.now + 50);
  const first = hi.of("INVITE");
  assert.equal(first.length, 1, "q=1.0 first");
  assert.equal(lo.of("INVITE").length, 0);
  reply(hi, first[0], 180, "Ringing", "h1"); // its branch copy is then kept short; the request is not
  sim.run(sim.now + 50);
  reply(hi, first[0], 486, "Busy Here", "h1");
  sim.run(sim.now + 50);
  const second = lo.of("INVITE");
  assert.equal(second.length, 1, "then q=0.5");
  const body = (m) => m.text.slice(m.text.indexOf("\r\n\r\n"));
  const others = (m) => m.headers.filter(([n]) => n !== "via");
  assert.equal(body(second[0]), body(first[0]), "the same body");
  assert.deepEqual(others(second[0]), others(first[0]), "the same headers but Via");
  assert.ok(second[0].text.includes("X-Passed-Through: " + "x".repeat(300)));
  reply(lo, second[0], 200, "OK", "l1");
  sim.run(sim.now + 50);
  assert.equal(alice.of("SIP/2.0 200").length, 1, "answered");
  sim.run(sim.now + 60_000);
  assert.equal(proxy.stat("txnInUse"), 0);
  assert.equal(proxy.stat("msgPoolInUse"), 0);
});
