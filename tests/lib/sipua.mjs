// A small SIP user agent for the integration tests that need control SIPp does not give (digest with
// SHA-256, forged headers, exact replays): one UDP socket, messages as latin1 text, every wait
// bounded. Also a sink (a socket that records whatever reaches it, never answers) for relay tests: a
// proxy that wrongly relays sends there, on loopback, never to a real address.
import { createSocket } from "node:dgram";
import { createHash, randomBytes } from "node:crypto";
import assert from "node:assert/strict";

/** Values of header `name` in a message (top to bottom; comma-separated values stay one value). */
export const hdrs = (sip, name) => sip.split("\r\n\r\n")[0].split("\r\n").slice(1)
  .filter((l) => l.toLowerCase().startsWith(name.toLowerCase() + ":")).map((l) => l.slice(name.length + 1).trim());
/** Status code of a response (0 for anything else, including null). */
export const status = (sip) => +(/^SIP\/2\.0 (\d{3})/.exec(sip ?? "")?.[1] ?? 0);
/** The start line. */
export const firstLine = (sip) => (sip ?? "").split("\r\n")[0];

export const H = (alg, s) => createHash(alg === "SHA-256" ? "sha256" : "md5").update(s).digest("hex");

/** Parses the Digest challenges of one header name: [{alg, nonce, realm, qop, stale, raw}]. */
export function challenges(sip, name) {
  return hdrs(sip, name).map((v) => {
    const p = (k) => new RegExp(`[\\s,]${k}=(?:"([^"]*)"|([^,\\s]*))`, "i").exec(" " + v.replace(/^Digest\s+/i, ", "));
    const get = (k) => { const m = p(k); return m ? (m[1] ?? m[2]) : undefined; };
    return { raw: v, alg: get("algorithm") ?? "MD5", nonce: get("nonce"), realm: get("realm"), qop: get("qop"), stale: /stale=true/i.test(v), opaque: get("opaque") };
  });
}

/** An Authorization / Proxy-Authorization value (RFC 2617 / 8760, qop=auth). */
export function authorization({ user, pass, ha1, realm, nonce, uri, method, alg = "MD5", nc = "00000001", cnonce = randomBytes(4).toString("hex"), opaque }) {
  const h1 = ha1 ?? H(alg, `${user}:${realm}:${pass}`);
  const h2 = H(alg, `${method}:${uri}`);
  const resp = H(alg, `${h1}:${nonce}:${nc}:${cnonce}:auth:${h2}`);
  return `Digest username="${user}", realm="${realm}", nonce="${nonce}", uri="${uri}", response="${resp}", algorithm=${alg}, ` +
    `qop=auth, nc=${nc}, cnonce="${cnonce}"${opaque !== undefined ? `, opaque="${opaque}"` : ""}`;
}

/** Waits (polling every 20 ms) until pred() holds; fails the test naming `what` after ms. */
export async function until(pred, ms, what) {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

let seq = 0;
/** A fresh token for branches, tags and Call-IDs. */
export const token = (p = "t") => `${p}${process.pid}x${++seq}x${randomBytes(3).toString("hex")}`;

/**
 * A request text. `ua` gives the Via and default Contact; every header the tests forge is a field:
 * { method, ruri, from (URI), fromTag, to (URI), toTag, callId, cseq, route: [values], contact,
 *   extra: [header lines], body, branch }.
 */
export function request(ua, o) {
  const method = o.method ?? "INVITE";
  const body = o.body ?? "";
  return [
    `${method} ${o.ruri} SIP/2.0`,
    `Via: SIP/2.0/UDP ${ua.address}:${ua.port};rport;branch=${o.branch ?? `z9hG4bK-${token("b")}`}`,
    `Max-Forwards: ${o.maxForwards ?? 70}`,
    ...(o.route ?? []).map((r) => `Route: ${r}`),
    `From: <${o.from}>;tag=${o.fromTag ?? token("f")}`,
    `To: <${o.to ?? o.ruri}>${o.toTag ? `;tag=${o.toTag}` : ""}`,
    `Call-ID: ${o.callId ?? token("c")}`,
    `CSeq: ${o.cseq ?? 1} ${o.cseqMethod ?? method}`,
    ...(o.contact === null ? [] : [`Contact: ${o.contact ?? `<sip:ua@${ua.address}:${ua.port}>`}`]),
    ...(o.extra ?? []),
    `Content-Length: ${Buffer.byteLength(body, "latin1")}`, ``, body,
  ].join("\r\n");
}

/** A response to request text `req` with `code`, echoing its Via/From/To/Call-ID/CSeq (To tag added). */
export function response(req, code, reason, { toTag, extra = [] } = {}) {
  const keep = ["Via", "From", "Call-ID", "CSeq", "Record-Route"];
  const lines = [`SIP/2.0 ${code} ${reason}`];
  for (const l of req.split("\r\n\r\n")[0].split("\r\n").slice(1)) {
    const name = l.slice(0, l.indexOf(":")).trim().toLowerCase();
    if (keep.some((k) => k.toLowerCase() === name)) lines.push(l);
    else if (name === "to") lines.push(toTag && !/;tag=/.test(l) ? `${l};tag=${toTag}` : l);
  }
  return [...lines, ...extra, "Content-Length: 0", "", ""].join("\r\n");
}

/**
 * REGISTERs `user` from `ua` at the server, answering the 401 with digest (MD5); returns the final
 * response. The binding's contact is the ua's own address (`q` optional); CSeq counts up per ua.
 */
export async function registerDigest(srv, ua, { user, pass, realm, expires = 600, q, contact, callId = `reg-${user}-${ua.port}` }) {
  const o = { method: "REGISTER", ruri: "sip:127.0.0.1", from: `sip:${user}@127.0.0.1`, to: `sip:${user}@127.0.0.1`, callId,
    contact: contact ?? `<sip:${user}@${ua.address}:${ua.port}>${q ? `;q=${q}` : ""}`, extra: [`Expires: ${expires}`] };
  ua.cseq = (ua.cseq ?? 0) + 1;
  const r1 = await ua.request(srv, request(ua, { ...o, cseq: ua.cseq }));
  if (status(r1) !== 401) return r1;
  const c = challenges(r1, "WWW-Authenticate").find((x) => x.alg === "MD5");
  if (!c) throw new Error(`no MD5 challenge in ${firstLine(r1)}`);
  ua.cseq++;
  const auth = authorization({ user, pass, realm, nonce: c.nonce, uri: o.ruri, method: "REGISTER" });
  return ua.request(srv, request(ua, { ...o, cseq: ua.cseq, extra: [...o.extra, `Authorization: ${auth}`] }));
}

/** A minimal SIP UDP endpoint: sends text, collects everything it receives. */
export class Ua {
  static async open(address = "127.0.0.1", port = 0) {
    const s = createSocket("udp4");
    await new Promise((res, rej) => { s.once("error", rej); s.bind(port, address, res); });
    return new Ua(s, address);
  }
  constructor(sock, address) {
    this.sock = sock; this.address = address; this.port = sock.address().port; this.inbox = []; this.all = []; this.waiters = new Set();
    sock.on("message", (m, rinfo) => {
      const text = m.toString("latin1");
      this.inbox.push(text);
      this.all.push({ text, from: `${rinfo.address}:${rinfo.port}` });
      for (const w of this.waiters) w();
    });
  }
  close() { this.sock.close(); }
  send(text, port, address = "127.0.0.1") { this.sock.send(Buffer.from(text, "latin1"), port, address); }
  /** Resolves to the first message (taken from the inbox) matching pred, or null after ms. */
  waitFor(pred, ms = 2000) {
    return new Promise((resolve) => {
      const match = () => {
        const i = this.inbox.findIndex(pred);
        if (i < 0) return false;
        const [m] = this.inbox.splice(i, 1);
        done(m); return true;
      };
      const to = setTimeout(() => done(null), ms);
      const done = (m) => { clearTimeout(to); this.waiters.delete(match); resolve(m); };
      if (match()) return;
      this.waiters.add(match);
    });
  }
  /** Sends `text` to the server (retransmitting) and resolves to the first final response with the same Call-ID and CSeq, or null after timeoutMs. */
  async request(srv, text, { timeoutMs = 2000, retransmitMs = 500 } = {}) {
    const callId = hdrs(text, "Call-ID")[0], cseq = hdrs(text, "CSeq")[0];
    const send = () => this.send(text, srv.port);
    const rt = setInterval(send, retransmitMs);
    send();
    try {
      return await this.waitFor((m) => status(m) >= 200 && hdrs(m, "Call-ID")[0] === callId && hdrs(m, "CSeq")[0] === cseq, timeoutMs);
    } finally { clearInterval(rt); }
  }
}

/** A loopback socket that records whatever reaches it and never answers. */
export class Sink {
  static async open(address = "127.0.0.9") {
    const ua = await Ua.open(address);
    return new Sink(ua);
  }
  constructor(ua) { this.ua = ua; this.address = ua.address; this.port = ua.port; }
  /** Everything received so far: [{text, from}]. */
  get received() { return this.ua.all; }
  /** Start lines of what was received (for assertion messages). */
  lines() { return this.ua.all.map((m) => `${m.from} ${firstLine(m.text)}`); }
  close() { this.ua.close(); }
}
