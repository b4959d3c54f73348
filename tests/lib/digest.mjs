// A UDP user agent for the security tests of the hosts: REGISTERs with and without digest
// credentials (RFC 2617 / RFC 8760 with qop=auth), answered in order.
import dgram from "node:dgram";
import { authorization, challenges as challengesOf } from "./sipua.mjs";

/** Binds a UDP socket on 127.0.0.1; returns {port, register(cseq, auth?), digest(...), next(), close()}. */
export async function userAgent(serverPort, { user = "alice", callId = "digest-ua-1@127.0.0.1", expires = 600 } = {}) {
  const sock = dgram.createSocket("udp4");
  await new Promise((r) => sock.bind(0, "127.0.0.1", r));
  const me = sock.address().port;
  const replies = [];
  let wake = null;
  sock.on("message", (m) => {
    replies.push(m.toString("latin1"));
    wake?.();
  });
  const uri = `sip:127.0.0.1:${serverPort}`;
  return {
    port: me,
    uri,
    /** Sends a REGISTER (CSeq cseq) with an optional Authorization value. */
    register(cseq, auth) {
      const msg = [
        `REGISTER ${uri} SIP/2.0`,
        `Via: SIP/2.0/UDP 127.0.0.1:${me};branch=z9hG4bK-ua-${cseq};rport`,
        "Max-Forwards: 70",
        `From: <sip:${user}@127.0.0.1>;tag=f1`,
        `To: <sip:${user}@127.0.0.1>`,
        `Call-ID: ${callId}`,
        `CSeq: ${cseq} REGISTER`,
        `Contact: <sip:${user}@127.0.0.1:${me}>`,
        `Expires: ${expires}`,
        ...(auth ? [`Authorization: ${auth}`] : []),
        "Content-Length: 0", "", "",
      ].join("\r\n");
      sock.send(msg, serverPort, "127.0.0.1");
    },
    /** The Authorization value for a challenge's nonce. */
    digest({ realm, nonce, pass, alg = "MD5" }) {
      return authorization({ user, pass, realm, nonce, uri, method: "REGISTER", alg });
    },
    /** The next response (rejects after ms). */
    async next(ms = 3000) {
      const end = Date.now() + ms;
      while (replies.length === 0 && Date.now() < end) await new Promise((r) => { wake = r; setTimeout(r, 100); });
      if (replies.length === 0) throw new Error(`no response within ${ms} ms`);
      return replies.shift();
    },
    close() {
      sock.close();
    },
  };
}

/** The challenges of a 401/407: [{realm, nonce, alg, ...}] in order (tests/lib/sipua.mjs). */
export function challenges(response) {
  return [...challengesOf(response, "WWW-Authenticate"), ...challengesOf(response, "Proxy-Authenticate")];
}
