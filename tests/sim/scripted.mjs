// Scripted endpoints for simulator scenarios (tests/sim/net.mjs):
//   Scripted  a registrar that answers REGISTERs by a policy, where a scenario needs answers our registrar
//             never gives (423 by rule, stale nonces, 403, 503 with Retry-After, silence, a
//             P-Associated-URI). Used by registrant.test.mjs and sipconnect.test.mjs.
//   Raw       an endpoint that sends the texts a scenario writes to one peer and records every message
//             it receives, parsed, so that a test can compare what each side saw byte for byte (reply:
//             its response to a request it got). Used by sipconnect.test.mjs, kept-messages.test.mjs and
//             name-transport.test.mjs.
import { parse } from "./ua.mjs";

/** An endpoint at addr: send(text) to `to`; every datagram received is kept parsed in `got`. */
export class Raw {
  constructor(sim, addr, to) {
    this.sim = sim;
    this.addr = addr;
    this.to = to;
    this.got = [];
    sim.attach(addr, this);
  }
  receive(from, bytes) {
    this.got.push(parse(bytes.toString("latin1")));
  }
  send(text) {
    this.sim.send(this.addr, this.to, text);
  }
  /** Every message received whose first line starts with `first`. */
  of(first) {
    return this.got.filter((m) => m.first.startsWith(first));
  }
}

/** A response `status` of `to` (a Raw endpoint) to request m (its Via, From, Call-ID and CSeq; To with
 * `toTag`), with a Contact of `to`. */
export function reply(to, m, status, reason, toTag) {
  const lines = m.text.slice(0, m.text.indexOf("\r\n\r\n")).split("\r\n").slice(1)
    .filter((l) => /^(via|from|call-id|cseq):/i.test(l));
  to.send([
    `SIP/2.0 ${status} ${reason}`, ...lines, `To: ${m.get("to")}${toTag ? `;tag=${toTag}` : ""}`,
    `Contact: <sip:bob@${to.addr}>`, "Content-Length: 0", "", "",
  ].join("\r\n"));
}

/**
 * A scripted registrar at addr: each REGISTER is recorded ({ t, msg, expires }) and answered by
 * `policy(msg, k)` (k: 0-based count of REGISTERs so far) with [status, headerLines] or null (silence).
 * Helpers check digest answers against user/password.
 */
export class Scripted {
  constructor(sim, addr, policy) {
    this.sim = sim;
    this.addr = addr;
    this.policy = policy;
    this.got = [];
    sim.attach(addr, this);
  }
  receive(from, bytes) {
    const msg = parse(bytes.toString("latin1"));
    if (msg.method !== "REGISTER" || msg.status) return;
    const k = this.got.length;
    this.got.push({ t: this.sim.now, from, msg, expires: Number(msg.get("expires")) });
    const a = this.policy(msg, k);
    if (!a) return;
    const [status, extra = []] = a;
    const h = msg.headers.filter(([n]) => ["via", "from", "call-id", "cseq"].includes(n)).map(([n, v]) => `${n}: ${v}`);
    const to = `to: ${msg.get("to")}${status > 100 ? ";tag=reg1" : ""}`;
    const text = `SIP/2.0 ${status} X\r\n${h.join("\r\n")}\r\n${to}\r\n${extra.map((l) => l + "\r\n").join("")}Content-Length: 0\r\n\r\n`;
    this.sim.send(this.addr, from, text);
  }
}

