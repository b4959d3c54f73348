// Privacy toward untrusted peers (RFC 3323 §4.1.1.3, RFC 3325 §9.1), on the server board with
// "topologyHiding": Privacy: id removes P-Asserted-Identity, Privacy: header anonymises the From (its
// tag kept); toward a trusted peer both pass unchanged. Real UDP sockets on loopback: a test socket
// registers as the callee, another sends the INVITE.
import { test } from "node:test";
import assert from "node:assert/strict";
import dgram from "node:dgram";
import { startServer, HOSTS } from "../integration/harness.mjs";

function socket() {
  return new Promise((resolve) => {
    const s = dgram.createSocket("udp4");
    s.bind(0, "127.0.0.1", () => resolve(s));
  });
}

/** Next datagram on s whose text matches re (within ms). */
function next(s, re, ms = 3000) {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => { s.off("message", on); reject(new Error(`nothing matching ${re} within ${ms} ms`)); }, ms);
    function on(m) {
      const text = m.toString("latin1");
      if (!re.test(text)) return;
      clearTimeout(t);
      s.off("message", on);
      resolve(text);
    }
    s.on("message", on);
  });
}

const send = (s, port, text) => new Promise((r) => s.send(Buffer.from(text.replace(/\n/g, "\r\n"), "latin1"), port, "127.0.0.1", r));

async function scenario(host, config) {
  const srv = await startServer({ host, config: { topologyHiding: true, ...config }, tcp: false });
  const callee = await socket();
  const caller = await socket();
  try {
    const cp = callee.address().port;
    const reg = next(callee, /^SIP\/2\.0 200/);
    await send(callee, srv.port, `REGISTER sip:127.0.0.1:${srv.port} SIP/2.0
Via: SIP/2.0/UDP 127.0.0.1:${cp};branch=z9hG4bK-reg-1
From: <sip:carol@127.0.0.1>;tag=r1
To: <sip:carol@127.0.0.1>
Call-ID: priv-reg-${cp}
CSeq: 1 REGISTER
Contact: <sip:carol@127.0.0.1:${cp}>
Expires: 60
Max-Forwards: 70
Content-Length: 0

`);
    await reg;
    const inv = next(callee, /^INVITE /);
    const kp = caller.address().port;
    await send(caller, srv.port, `INVITE sip:carol@127.0.0.1:${srv.port} SIP/2.0
Via: SIP/2.0/UDP 127.0.0.1:${kp};branch=z9hG4bK-priv-1
From: "Alice Secret" <sip:alice@inside.example>;tag=alicetag
To: <sip:carol@127.0.0.1>
Call-ID: priv-call-${kp}
CSeq: 1 INVITE
Contact: <sip:alice@127.0.0.1:${kp}>
P-Asserted-Identity: <sip:alice@inside.example>
Privacy: id;header
Max-Forwards: 70
Content-Length: 0

`);
    return await inv;
  } finally {
    callee.close();
    caller.close();
    await srv.stop();
  }
}

for (const host of HOSTS) {
test(`${host}: untrusted callee: Privacy id removes P-Asserted-Identity, Privacy header anonymises From (tag kept)`, { timeout: 20_000 }, async () => {
  const got = await scenario(host, {});
  assert.doesNotMatch(got, /P-Asserted-Identity/i);
  assert.doesNotMatch(got, /Alice Secret|inside\.example/);
  assert.match(got, /\r\nFrom: "Anonymous" <sip:anonymous@anonymous\.invalid>;tag=alicetag\r\n/);
});

test(`${host}: trusted callee: identity headers pass unchanged`, { timeout: 20_000 }, async () => {
  const got = await scenario(host, { access: { trusted: ["127.0.0.1/32"] } });
  assert.match(got, /\r\nP-Asserted-Identity: <sip:alice@inside\.example>\r\n/);
  assert.match(got, /\r\nFrom: "Alice Secret" <sip:alice@inside\.example>;tag=alicetag\r\n/);
});
}
