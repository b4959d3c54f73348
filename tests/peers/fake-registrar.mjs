// A tiny loopback UDP registrar/proxy stand-in for pinning what a real phone does with digest
// challenges: it answers REGISTER (and INVITE) with the 401 (407) challenges a case asks for and
// records every request with its Authorization / Proxy-Authorization, checked against the password.
import { createSocket } from "node:dgram";
import { createHash, randomBytes } from "node:crypto";

const H = (alg, s) => createHash(/sha-?256/i.test(alg) ? "sha256" : "md5").update(s, "latin1").digest("hex");

/** Parses `Digest a=b, c="d"` into {a, c} (names lower-cased). */
export function parseDigest(v) {
  const o = {};
  const re = /([a-zA-Z-]+)\s*=\s*("([^"]*)"|[^,\s]+)/g;
  let m;
  while ((m = re.exec(v.replace(/^\s*Digest\s+/i, "")))) o[m[1].toLowerCase()] = m[3] ?? m[2];
  return o;
}

function headers(msg, name) {
  return msg.split("\r\n\r\n")[0].split("\r\n").slice(1)
    .filter((l) => l.toLowerCase().startsWith(name.toLowerCase() + ":"))
    .map((l) => l.slice(l.indexOf(":") + 1).trim());
}

/**
 * Starts the stand-in on 127.0.0.1:port. opts: realm, user, password, algorithms (the challenge
 * headers in order, e.g. ["SHA-256", "MD5"]; an empty string means no algorithm parameter),
 * challengeInvite (407 to INVITEs without Proxy-Authorization or with wrong credentials, offering
 * inviteAlgorithms, by default the same; an INVITE with valid credentials gets 486 Busy Here).
 * Returns { port, requests: [{method, first, text, at, auth}], close() }; auth is null without
 * credentials, else {header, fields, alg, ok} of the first credentials header and `all`, one per header.
 */
export async function startFakeRegistrar({ realm = "sipling.test", user, password, algorithms, challengeInvite = false,
  inviteAlgorithms = algorithms, port = 0 } = {}) {
  const sock = createSocket("udp4");
  const requests = [];
  const send = (text, rinfo) => sock.send(Buffer.from(text, "latin1"), rinfo.port, rinfo.address);

  function respond(req, rinfo, code, reason, extra = []) {
    const keep = ["via", "from", "to", "call-id", "cseq"];
    const lines = req.split("\r\n\r\n")[0].split("\r\n").slice(1)
      .filter((l) => keep.includes(l.slice(0, l.indexOf(":")).trim().toLowerCase()))
      .map((l) => /^to\s*:/i.test(l) && !/;tag=/i.test(l) ? `${l};tag=fake${code}` : l);
    send([`SIP/2.0 ${code} ${reason}`, ...lines, ...extra, "Content-Length: 0", "", ""].join("\r\n"), rinfo);
  }
  const challenge = (hdr, algs) => algs.map((alg) =>
    `${hdr}: Digest realm="${realm}", nonce="${randomBytes(12).toString("hex")}", qop="auth"${alg ? `, algorithm=${alg}` : ""}`);

  function check(method, hdrVal) {
    const f = parseDigest(hdrVal);
    const alg = f.algorithm ?? "MD5";
    const ha1 = H(alg, `${f.username}:${f.realm}:${password}`);
    const ha2 = H(alg, `${method}:${f.uri}`);
    const want = f.qop ? H(alg, `${ha1}:${f.nonce}:${f.nc}:${f.cnonce}:${f.qop}:${ha2}`) : H(alg, `${ha1}:${f.nonce}:${ha2}`);
    return { fields: f, alg, ok: f.username === user && f.realm === realm && f.response === want };
  }

  sock.on("message", (buf, rinfo) => {
    const msg = buf.toString("latin1");
    const first = msg.slice(0, msg.indexOf("\r\n"));
    if (first.startsWith("SIP/2.0")) return; // responses (none expected)
    const method = first.split(" ")[0];
    const authHdr = method === "REGISTER" ? "Authorization" : "Proxy-Authorization";
    const vals = headers(msg, authHdr);
    const auth = vals.length ? { header: authHdr, all: vals.map((v) => check(method, v)), ...check(method, vals[0]) } : null;
    requests.push({ method, first, auth, at: Date.now(), text: msg });
    if (method === "REGISTER") {
      if (!auth || !auth.ok) return respond(msg, rinfo, 401, "Unauthorized", challenge("WWW-Authenticate", algorithms));
      const contact = headers(msg, "Contact")[0] ?? headers(msg, "m")[0];
      return respond(msg, rinfo, 200, "OK", [...(contact ? [`Contact: ${contact};expires=600`] : []), "Expires: 600"]);
    }
    if (method === "INVITE") {
      if (challengeInvite && (!auth || !auth.ok)) return respond(msg, rinfo, 407, "Proxy Authentication Required", challenge("Proxy-Authenticate", inviteAlgorithms));
      return respond(msg, rinfo, 486, "Busy Here");
    }
    if (method === "ACK") return;
    respond(msg, rinfo, 200, "OK");
  });
  await new Promise((resolve, reject) => { sock.once("error", reject); sock.bind(port, "127.0.0.1", resolve); });
  return { port: sock.address().port, requests, close: () => new Promise((r) => sock.close(r)) };
}
