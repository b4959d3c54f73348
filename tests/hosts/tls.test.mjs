// TLS (RFC 3261 §26: transport=tls, sips:) on both hosts (Node: node:tls; native: OpenSSL 3), with
// certificates made by the openssl CLI at the start into a temp folder: a test CA, the server's
// certificate (IP 127.0.0.1 and 127.0.0.2), a client certificate of the CA, and a "wrong" CA with a
// client certificate of its own.
//   - a Node TLS client that does not verify registers with raw SIP; a MESSAGE from UDP reaches it over
//     the very connection it registered on (no new connection, none to its Contact's port)
//   - a 40,000-byte MESSAGE between two TLS clients (many TLS records both ways) arrives whole
//   - plain SIP on the TLS port is refused (warn line naming the peer), the server serves TLS after
//   - with tls.verifyClient a client whose certificate another CA signed, or with none, is refused (the
//     handshake fails; a warn line names the peer) and the server keeps serving a good client
//   - the proxy's own outgoing TLS (a sips: Request-URI): verified against tls.ca; a server whose
//     certificate another CA signed gets nothing (warn)
//   - tls.peers: clients from a trunk's address (127.0.0.2) must present a certificate of the CA naming
//     the trunk (none, another CA's or another name's is refused) while phones elsewhere need none; a
//     "none" entry exempts an address from tls.verifyClient; a server there is verified by the entry's
//     name (sent as SNI) instead of its IP, and one whose certificate names another gets nothing
//   - wss: (Node host) takes tls.peers too: a WebSocket client from the trunk's address without its
//     certificate is refused (warn line) before any HTTP, with it one registers
//   - the B2BUA's trunk over TLS ("transport": "tls"): it registers with the provider and the phone's call
//     reaches it on one TLS connection (Via and Contact say TLS), ours verified by the tls.peers name
//     and our certificate verified by the provider (mutual TLS); the provider's BYE on that connection
//     ends the call at the phone
//   - baresip 1.0 registers over TLS (;transport=tls; the server verifying its client certificate) and
//     calls a second baresip over TLS, then one over UDP (two Record-Route entries, one tls, one udp); the call connects and is hung up cleanly
// Loopback only. Every child is bounded; nothing is skipped.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import tls from "node:tls";
import dgram from "node:dgram";
import net from "node:net";
import { withServer, settle, freePort, HOSTS } from "../integration/harness.mjs";
import { Ua, request, hdrs, status } from "../lib/sipua.mjs";
import { Dnsmasq } from "../lib/dnsmasq.mjs";
import WebSocket from "ws";
import { requireBaresip, withBaresip, hangupBoth } from "../peers/baresip.mjs";

requireBaresip();
const dir = mkdtempSync(join(tmpdir(), "sipling-tls-"));
after(() => rmSync(dir, { recursive: true, force: true }));

function openssl(...args) {
  const r = spawnSync("openssl", args, { cwd: dir, encoding: "utf8", timeout: 30_000 });
  assert.equal(r.status, 0, `openssl ${args.join(" ")}:\n${r.stderr}`);
}
/** A CA: NAME.key, NAME.pem. */
function ca(name) {
  openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", `${name}.key`, "-out", `${name}.pem`, "-days", "2", "-subj", `/CN=${name}`);
}
/** A certificate of CA `by`: NAME.key, NAME.pem, NAME.both.pem (certificate and key, for baresip). */
function cert(name, by, san) {
  openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", `/CN=${name}`);
  writeFileSync(join(dir, `${name}.ext`), `subjectAltName=${san}\n`);
  openssl("x509", "-req", "-in", `${name}.csr`, "-CA", `${by}.pem`, "-CAkey", `${by}.key`, "-CAcreateserial", "-out", `${name}.pem`, "-days", "2", "-extfile", `${name}.ext`);
  writeFileSync(join(dir, `${name}.both.pem`), readFileSync(join(dir, `${name}.pem`), "utf8") + readFileSync(join(dir, `${name}.key`), "utf8"));
}
ca("ca");
ca("wrongca");
cert("server", "ca", "IP:127.0.0.1,IP:127.0.0.2,DNS:localhost");
cert("client", "ca", "DNS:client.test");
cert("intruder", "wrongca", "IP:127.0.0.1,DNS:intruder.test");
cert("other", "ca", "DNS:other.test"); // the right CA, another name
cert("trunk", "ca", "DNS:trunk.test"); // a server known by its name only (no IP in it)
const f = (name) => join(dir, name);
const TLS = { certificate: f("server.pem"), key: f("server.key"), ca: f("ca.pem") };

/** A server with UDP and TCP on one port and TLS on another; fn(srv, tlsPort). */
async function withTlsServer(host, tlsConfig, fn, more = {}) {
  const tlsPort = await freePort();
  await withServer({ host, listen: [`tls:127.0.0.1:${tlsPort}`], config: { tls: { ...TLS, ...tlsConfig }, ...more } }, (srv) => fn(srv, tlsPort));
}

/** A TLS connection (resolves once the handshake is done; rejects with its error). */
function connectTls(port, opts = {}) {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: "127.0.0.1", port, rejectUnauthorized: false, ...opts }, () => resolve(s));
    s.once("error", reject);
  });
}

/** Reads SIP messages off a stream (framed by Content-Length) into msgs; returns next(pred, ms). */
function sipReader(sock) {
  const msgs = [];
  let buf = "";
  const waiters = new Set();
  sock.setEncoding("latin1");
  sock.on("data", (d) => {
    buf += d;
    for (;;) {
      const end = buf.indexOf("\r\n\r\n");
      if (end < 0) break;
      const len = Number(/\r\n(?:content-length|l)\s*:\s*(\d+)/i.exec(buf.slice(0, end + 2))?.[1] ?? 0);
      if (buf.length < end + 4 + len) break;
      msgs.push(buf.slice(0, end + 4 + len));
      buf = buf.slice(end + 4 + len);
    }
    for (const w of waiters) w();
  });
  return (pred, ms = 5000) => new Promise((resolve, reject) => {
    const check = () => {
      const i = msgs.findIndex(pred);
      if (i < 0) return;
      waiters.delete(check);
      clearTimeout(t);
      resolve(msgs.splice(i, 1)[0]);
    };
    const t = setTimeout(() => { waiters.delete(check); reject(new Error(`no matching message within ${ms} ms; got:\n${msgs.join("\n---\n")}`)); }, ms);
    waiters.add(check);
    check();
  });
}

const header = (msg, name) => msg.split("\r\n\r\n")[0].split("\r\n").filter((l) => l.toLowerCase().startsWith(`${name.toLowerCase()}:`)).map((l) => l.slice(name.length + 1).trim());

function register(user, localPort, branch) {
  return `REGISTER sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TLS 127.0.0.1:${localPort};branch=z9hG4bK${branch}\r\n` +
    `From: <sip:${user}@127.0.0.1>;tag=r${branch}\r\nTo: <sip:${user}@127.0.0.1>\r\nCall-ID: reg-${branch}@tls.test\r\nCSeq: 1 REGISTER\r\n` +
    `Contact: <sip:${user}@127.0.0.1:${localPort};transport=tls>\r\nMax-Forwards: 70\r\nExpires: 300\r\nContent-Length: 0\r\n\r\n`;
}

/** Waits for the warn line of a failed handshake whose peer is `peer` (e.g. "127.0.0.1:PORT"). */
const handshakeWarn = (srv, port) => srv.waitFor((o) => o.msg === "tls handshake failed" && o.level === "warn" && String(o.peer).endsWith(`127.0.0.1:${port}`), 5000, `the warn line of the refused handshake from port ${port}`);

/**
 * A UDP client on 127.0.0.1 sending MESSAGEs for sips:bob@127.0.0.2:PORT through srv (Call-ID
 * TAG-N@tls.test); answered(n) waits (bounded) for the 200 of message n.
 */
async function sipsSender(srv, tag, host = "127.0.0.2") {
  const u = dgram.createSocket("udp4");
  await new Promise((r) => u.bind(0, "127.0.0.1", r));
  const up = u.address().port;
  const answers = [];
  u.on("message", (m) => answers.push(m.toString("latin1")));
  const ok = (n) => answers.some((a) => /^SIP\/2\.0 200 /.test(a) && a.includes(`Call-ID: ${tag}-${n}@`));
  return {
    send: (port, n) => u.send(`MESSAGE sips:bob@${host}:${port} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:${up};branch=z9hG4bK${tag}${n};rport\r\n` +
      `From: <sip:dave@127.0.0.1>;tag=${tag}${n}\r\nTo: <sips:bob@${host}:${port}>\r\nCall-ID: ${tag}-${n}@tls.test\r\nCSeq: 1 MESSAGE\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n`, srv.port, "127.0.0.1"),
    async answered(n, what) {
      for (let i = 0; i < 100 && !ok(n); i++) await new Promise((r) => setTimeout(r, 50));
      assert.ok(ok(n), `${what}: ${answers.join("\n")}`);
    },
    close: () => u.close(),
  };
}

/**
 * Two TLS servers on 127.0.0.2 that answer MESSAGE 200: the trunk's, with trunk.test's certificate (port
 * tp), and another, with other.test's (port op); `got` what each received, `snis` the name each was told.
 */
async function namedServers() {
  const got = [];
  const snis = [];
  const serve = (name) => tls.createServer({ cert: readFileSync(f(`${name}.pem`)), key: readFileSync(f(`${name}.key`)) }, (s) => {
    s.on("error", () => {});
    snis.push(`${name}:${s.servername}`);
    sipReader(s)((m) => m.startsWith("MESSAGE "), 10_000).then((m) => {
      got.push(`${name} got: ${header(m, "Call-ID")[0]}`);
      const via = header(m, "Via").join("\r\nVia: ");
      s.write(`SIP/2.0 200 OK\r\nVia: ${via}\r\nFrom: ${header(m, "From")[0]}\r\nTo: ${header(m, "To")[0]};tag=t\r\nCall-ID: ${header(m, "Call-ID")[0]}\r\nCSeq: 1 MESSAGE\r\nContent-Length: 0\r\n\r\n`);
    }, () => {});
  });
  const trunk = serve("trunk"), other = serve("other");
  const listen = (srv) => new Promise((r) => srv.listen(0, "127.0.0.2", () => r(srv.address().port)));
  const [tp, op] = [await listen(trunk), await listen(other)];
  return { got, snis, tp, op, trunk, other };
}

test("node: wss: listeners take tls.peers: a client from a required address without its certificate is refused before any HTTP (warn line); with it, a REGISTER over the WebSocket is answered", { timeout: 30_000 }, async () => {
  const wssPort = await freePort();
  await withServer({ host: "node", listen: [`wss:127.0.0.1:${wssPort}`], config: { tls: { ...TLS, peers: ["127.0.0.2 require client.test"] } } }, async (srv) => {
    const open = (from, cert) => new Promise((resolve) => {
      const ws = new WebSocket(`wss://127.0.0.1:${wssPort}/`, ["sip"], { localAddress: from, rejectUnauthorized: false, ...(cert ? { cert: readFileSync(f(`${cert}.pem`)), key: readFileSync(f(`${cert}.key`)) } : {}) });
      ws.on("open", () => resolve({ ws }));
      ws.on("error", (e) => resolve({ error: e.message }));
      ws.on("unexpected-response", (_q, r) => resolve({ error: `HTTP ${r.statusCode}` }));
    });
    const refused = await open("127.0.0.2", null);
    assert.ok(refused.error, `no WebSocket without the certificate: ${JSON.stringify(Object.keys(refused))}`);
    const w = await srv.waitFor((o) => o.msg === "tls handshake failed" && o.level === "warn" && String(o.peer).startsWith("wss:127.0.0.2:"), 5000, "the warn line of the refused wss client");
    assert.equal(w.reason, "no client certificate");
    const phone = await open("127.0.0.1", null); // no entry: no certificate needed
    assert.ok(phone.ws, `a phone elsewhere connects: ${phone.error}`);
    phone.ws.close();
    const good = await open("127.0.0.2", "client");
    assert.ok(good.ws, `the trunk with its certificate connects: ${good.error}`);
    try {
      const answer = new Promise((resolve) => good.ws.on("message", (d) => resolve(d.toString())));
      good.ws.send(register("wsstrunk", 0, "w1").replace("SIP/2.0/TLS 127.0.0.1:0", "SIP/2.0/WSS abc.invalid").replace(";transport=tls", ";transport=wss"));
      assert.match(await Promise.race([answer, new Promise((r) => setTimeout(() => r("no answer"), 5000))]), /^SIP\/2\.0 200 /);
    } finally {
      good.ws.close();
    }
  });
});

for (const host of HOSTS) {
  test(`${host}: a TLS client that does not verify registers with raw SIP; a MESSAGE from UDP reaches it over that connection`, { timeout: 30_000 }, async () => {
    await withTlsServer(host, {}, async (srv, tlsPort) => {
      const s = await connectTls(tlsPort);
      try {
        const next = sipReader(s);
        const lp = s.localPort;
        s.write(register("carol", lp, "c1"));
        const ok = await next((m) => m.startsWith("SIP/2.0 "));
        assert.match(ok, /^SIP\/2\.0 200 /, ok);
        assert.match(header(ok, "Contact")[0] ?? "", /transport=tls/);
        // A MESSAGE from UDP to carol: delivered over her registration's TLS connection
        const u = dgram.createSocket("udp4");
        await new Promise((r) => u.bind(0, "127.0.0.1", r));
        try {
          const up = u.address().port;
          const answered = new Promise((resolve) => u.on("message", (m) => { if (/^SIP\/2\.0 200 /.test(m.toString("latin1"))) resolve(m.toString("latin1")); }));
          u.send(`MESSAGE sip:carol@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:${up};branch=z9hG4bKm1;rport\r\nFrom: <sip:dave@127.0.0.1>;tag=m1\r\n` +
            `To: <sip:carol@127.0.0.1>\r\nCall-ID: msg-1@tls.test\r\nCSeq: 1 MESSAGE\r\nMax-Forwards: 70\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello`, srv.port, "127.0.0.1");
          const msg = await next((m) => m.startsWith("MESSAGE "));
          assert.match(header(msg, "Via")[0] ?? "", /^SIP\/2\.0\/TLS 127\.0\.0\.1:\d+;/, `the proxy's Via names TLS:\n${msg}`);
          assert.ok(msg.endsWith("hello"));
          const via = header(msg, "Via").join("\r\nVia: ");
          s.write(`SIP/2.0 200 OK\r\nVia: ${via}\r\nFrom: ${header(msg, "From")[0]}\r\nTo: ${header(msg, "To")[0]};tag=c\r\nCall-ID: ${header(msg, "Call-ID")[0]}\r\nCSeq: 1 MESSAGE\r\nContent-Length: 0\r\n\r\n`);
          const back = await Promise.race([answered, new Promise((r) => setTimeout(() => r(null), 5000))]);
          assert.ok(back, "the 200 reached the UDP sender");
        } finally {
          u.close();
        }
        await settle(srv);
        assert.equal(srv.logs.filter((o) => o.msg === "tls accepted").length, 1, "one TLS connection, the client's");
        const reg = srv.events("reg-add")[0];
        const out = srv.logs.find((o) => o.msg === "sip" && o.dir === "out" && o.sip.startsWith("MESSAGE "));
        assert.ok(reg?.conn > 0 && out, "the registration's connection and the MESSAGE sent");
        assert.equal(out.conn, reg.conn, "the MESSAGE went on the connection carol registered on");
      } finally {
        s.destroy();
      }
    });
  });

  test(`${host}: a 40,000-byte MESSAGE from one TLS client to another, written in pieces, arrives whole`, { timeout: 30_000 }, async () => {
    await withTlsServer(host, {}, async (srv, tlsPort) => {
      const carol = await connectTls(tlsPort);
      const dave = await connectTls(tlsPort);
      try {
        const toCarol = sipReader(carol), toDave = sipReader(dave);
        carol.write(register("carol", carol.localPort, "c2"));
        assert.match(await toCarol((m) => m.startsWith("SIP/2.0 ")), /^SIP\/2\.0 200 /);
        const body = "x".repeat(40_000);
        const msg = `MESSAGE sip:carol@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TLS 127.0.0.1:${dave.localPort};branch=z9hG4bKbig\r\n` +
          `From: <sip:dave@127.0.0.1>;tag=big\r\nTo: <sip:carol@127.0.0.1>\r\nCall-ID: big@tls.test\r\nCSeq: 1 MESSAGE\r\n` +
          `Max-Forwards: 70\r\nContent-Type: text/plain\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
        for (let i = 0; i < msg.length; i += 7000) {
          dave.write(msg.slice(i, i + 7000));
          await new Promise((r) => setTimeout(r, 5));
        }
        const got = await toCarol((m) => m.startsWith("MESSAGE "));
        assert.equal(got.slice(got.indexOf("\r\n\r\n") + 4), body, "the body arrived whole");
        const via = header(got, "Via").join("\r\nVia: ");
        carol.write(`SIP/2.0 200 OK\r\nVia: ${via}\r\nFrom: ${header(got, "From")[0]}\r\nTo: ${header(got, "To")[0]};tag=c\r\nCall-ID: big@tls.test\r\nCSeq: 1 MESSAGE\r\nContent-Length: 0\r\n\r\n`);
        assert.match(await toDave((m) => m.startsWith("SIP/2.0 2")), /^SIP\/2\.0 200 /);
      } finally {
        carol.destroy();
        dave.destroy();
      }
    });
  });

  test(`${host}: tls.verifyClient: a certificate of another CA, or none, is refused with a warn line naming the peer; a good client is served after`, { timeout: 30_000 }, async () => {
    await withTlsServer(host, { verifyClient: true }, async (srv, tlsPort) => {
      for (const [what, opts] of [["another CA's certificate", { cert: readFileSync(f("intruder.pem")), key: readFileSync(f("intruder.key")) }], ["no certificate", {}]]) {
        // TLS 1.3: the client's handshake completes before the server has checked its certificate; the
        // server's refusal (an alert, then the close) comes after
        const s = tls.connect({ host: "127.0.0.1", port: tlsPort, rejectUnauthorized: false, ...opts });
        let lp = 0;
        s.once("connect", () => { lp = s.localPort; }); // TCP connected (before the handshake)
        const end = await new Promise((resolve) => {
          s.on("error", (e) => resolve(`error: ${e.message}`));
          s.on("close", () => resolve("closed"));
          s.on("secureConnect", () => s.write(register("eve", s.localPort, "e1")));
          s.setEncoding("latin1");
          s.on("data", (d) => resolve(`data: ${d}`));
        });
        assert.doesNotMatch(end, /^data/, `${what}: the server answered: ${end}`);
        await handshakeWarn(srv, lp);
      }
      const s = await connectTls(tlsPort, { cert: readFileSync(f("client.pem")), key: readFileSync(f("client.key")) });
      try {
        const next = sipReader(s);
        s.write(register("frank", s.localPort, "f1"));
        const ok = await next((m) => m.startsWith("SIP/2.0 "));
        assert.match(ok, /^SIP\/2\.0 200 /, ok);
      } finally {
        s.destroy();
      }
      await settle(srv);
      assert.equal(srv.events("reg-add").length, 1, "only the good client registered");
    });
  });

  test(`${host}: plain SIP on the TLS port is refused with a warn line naming the peer; the server keeps serving`, { timeout: 30_000 }, async () => {
    await withTlsServer(host, {}, async (srv, tlsPort) => {
      const c = net.connect(tlsPort, "127.0.0.1");
      await new Promise((r, j) => { c.once("connect", r); c.once("error", j); });
      const lp = c.localPort;
      const closed = new Promise((r) => c.once("close", r));
      c.on("error", () => {});
      c.write(register("mallory", lp, "p1").replace("SIP/2.0/TLS", "SIP/2.0/TCP"));
      await handshakeWarn(srv, lp);
      await closed;
      const s = await connectTls(tlsPort);
      try {
        const next = sipReader(s);
        s.write(register("grace", s.localPort, "g1"));
        assert.match(await next((m) => m.startsWith("SIP/2.0 ")), /^SIP\/2\.0 200 /);
      } finally {
        s.destroy();
      }
    });
  });

  test(`${host}: a sips: Request-URI goes out over TLS, the server verified against tls.ca; another CA's server gets nothing`, { timeout: 30_000 }, async () => {
    // two TLS servers on 127.0.0.2: ours (the test CA's certificate) and an intruder's
    const got = [];
    const good = tls.createServer({ cert: readFileSync(f("server.pem")), key: readFileSync(f("server.key")) }, (s) => {
      const next = sipReader(s);
      next((m) => m.startsWith("MESSAGE "), 10_000).then((m) => {
        got.push(m);
        const via = header(m, "Via").join("\r\nVia: ");
        s.write(`SIP/2.0 200 OK\r\nVia: ${via}\r\nFrom: ${header(m, "From")[0]}\r\nTo: ${header(m, "To")[0]};tag=g\r\nCall-ID: ${header(m, "Call-ID")[0]}\r\nCSeq: 1 MESSAGE\r\nContent-Length: 0\r\n\r\n`);
      }, () => {});
    });
    // (TLS 1.3: the server's side of a handshake completes before the client has checked its certificate)
    const bad = tls.createServer({ cert: readFileSync(f("intruder.pem")), key: readFileSync(f("intruder.key")) }, (s) => {
      s.on("error", () => {});
      sipReader(s)(() => true, 10_000).then((m) => got.push(`intruder got: ${m}`), () => {});
    });
    const listen = (srv) => new Promise((r) => srv.listen(0, "127.0.0.2", () => r(srv.address().port)));
    const [gp, bp] = [await listen(good), await listen(bad)];
    try {
      await withTlsServer(host, {}, async (srv) => {
        const u = await sipsSender(srv, "sips");
        try {
          u.send(gp, 1);
          await u.answered(1, "the 200 of the TLS server came back");
          assert.equal(got.length, 1);
          assert.match(header(got[0], "Via")[0] ?? "", /^SIP\/2\.0\/TLS /, got[0]);
          u.send(bp, 2);
          await srv.waitFor((o) => o.msg === "tls handshake failed" && o.level === "warn" && String(o.peer).includes(`127.0.0.2:${bp}`), 5000, "the warn line of the refused server");
          await new Promise((r) => setTimeout(r, 500));
          assert.deepEqual(got.filter((g) => g.startsWith("intruder")), [], "no message reached the intruder");
          assert.equal(got.length, 1);
        } finally {
          u.close();
        }
      }, { access: { trusted: ["127.0.0.1"] } });
    } finally {
      good.close();
      bad.close();
    }
  });

  /**
   * A REGISTER of `user` over a TLS connection from `from` (127.0.0.x) with client certificate `cert`
   * (a name of this test's files, or none): "served" (a 200), or "refused" once the server has logged
   * the refused handshake of that connection at warn (its reason returned too).
   */
  async function tryRegister(srv, tlsPort, from, user, cert) {
    const opts = cert ? { cert: readFileSync(f(`${cert}.pem`)), key: readFileSync(f(`${cert}.key`)) } : {};
    const s = tls.connect({ host: "127.0.0.1", port: tlsPort, localAddress: from, rejectUnauthorized: false, ...opts });
    let lp = 0;
    s.once("connect", () => { lp = s.localPort; });
    const end = await new Promise((resolve) => {
      s.on("error", (e) => resolve(`error: ${e.message}`));
      s.on("close", () => resolve("closed"));
      s.on("secureConnect", () => {
        const next = sipReader(s);
        s.write(register(user, s.localPort, `${user}${lp}`));
        next((m) => m.startsWith("SIP/2.0 "), 5000).then((m) => resolve(`answer: ${m}`), (e) => resolve(`no answer: ${e.message}`));
      });
    });
    s.destroy();
    if (end.startsWith("answer: ")) {
      assert.match(end, /^answer: SIP\/2\.0 200 /, end);
      return { outcome: "served" };
    }
    const w = await srv.waitFor((o) => o.msg === "tls handshake failed" && o.level === "warn" && String(o.peer).endsWith(`${from}:${lp}`), 5000, `the warn line of the refused handshake from ${from}:${lp} (${end})`);
    return { outcome: "refused", reason: String(w.reason) };
  }

  test(`${host}: tls.peers: a trunk's address must present a certificate of tls.ca naming it (none, another CA's or another name's is refused); phones elsewhere need none`, { timeout: 30_000 }, async () => {
    await withTlsServer(host, { peers: ["127.0.0.2 require client.test"] }, async (srv, tlsPort) => {
      assert.deepEqual(await tryRegister(srv, tlsPort, "127.0.0.1", "phone", null), { outcome: "served" }, "a phone (no entry, tls.verifyClient false) needs no certificate");
      assert.equal((await tryRegister(srv, tlsPort, "127.0.0.2", "nocert", null)).outcome, "refused", "the trunk's address without a certificate");
      assert.equal((await tryRegister(srv, tlsPort, "127.0.0.2", "wrongca", "intruder")).outcome, "refused", "the trunk's address with another CA's certificate");
      const other = await tryRegister(srv, tlsPort, "127.0.0.2", "othername", "other");
      assert.equal(other.outcome, "refused", "the trunk's address with the CA's certificate of another name");
      assert.match(other.reason, /client\.test|hostname mismatch/, `the reason names the name check: ${other.reason}`);
      assert.deepEqual(await tryRegister(srv, tlsPort, "127.0.0.2", "trunk", "client"), { outcome: "served" }, "the trunk with its certificate");
      assert.deepEqual(await tryRegister(srv, tlsPort, "127.0.0.1", "phone2", "other"), { outcome: "served" }, "a phone presenting a certificate of any name is served");
      await settle(srv);
      assert.deepEqual(srv.events("reg-add").map((e) => e.aor).sort(), ["phone", "phone2", "trunk"], "only the served clients registered");
    });
  });

  test(`${host}: tls.peers: a "none" entry exempts its address from tls.verifyClient; others still need a certificate`, { timeout: 30_000 }, async () => {
    await withTlsServer(host, { verifyClient: true, peers: ["127.0.0.3/32 none"] }, async (srv, tlsPort) => {
      assert.deepEqual(await tryRegister(srv, tlsPort, "127.0.0.3", "exempt", null), { outcome: "served" });
      assert.equal((await tryRegister(srv, tlsPort, "127.0.0.1", "nocert", null)).outcome, "refused");
      assert.deepEqual(await tryRegister(srv, tlsPort, "127.0.0.1", "good", "client"), { outcome: "served" });
    });
  });

  test(`${host}: tls.peers: a server is verified by its entry's name (sent as SNI) instead of its IP; one whose certificate names another gets nothing`, { timeout: 30_000 }, async () => {
    const { got, snis, tp, op, trunk, other } = await namedServers();
    try {
      await withTlsServer(host, { peers: ["127.0.0.2 none trunk.test"] }, async (srv) => {
        const u = await sipsSender(srv, "name");
        try {
          u.send(tp, 1);
          await u.answered(1, "the 200 of the trunk came back");
          assert.deepEqual(got, ["trunk got: name-1@tls.test"]);
          assert.deepEqual(snis, ["trunk:trunk.test"], "the trunk was told its name (SNI)");
          u.send(op, 2);
          const w = await srv.waitFor((o) => o.msg === "tls handshake failed" && o.level === "warn" && String(o.peer).includes(`127.0.0.2:${op}`), 5000, "the warn line of the refused server");
          assert.match(String(w.reason), /trunk\.test|hostname mismatch/, `the reason names the name check: ${w.reason}`);
          await new Promise((r) => setTimeout(r, 500));
          assert.deepEqual(got, ["trunk got: name-1@tls.test"], "no message reached the server of another name");
        } finally {
          u.close();
        }
      }, { access: { trusted: ["127.0.0.1"] } });
    } finally {
      trunk.close();
      other.close();
    }
  });

  test(`${host}: a server reached by a name (DNS) is verified by that name (sent as SNI), no tls.peers entry needed; one whose certificate names another gets nothing`, { timeout: 30_000 }, async () => {
    const { got, snis, tp, op, trunk, other } = await namedServers();
    // trunk.test and wrong.test both at 127.0.0.2: the trunk's server has trunk.test's certificate, the
    // other server other.test's (the right CA, the wrong name for wrong.test)
    const dns = await Dnsmasq.start(["host-record=trunk.test,127.0.0.2", "host-record=wrong.test,127.0.0.2"]);
    try {
      await withTlsServer(host, {}, async (srv) => {
        const u = await sipsSender(srv, "dns", "trunk.test");
        const w = await sipsSender(srv, "wrong", "wrong.test");
        try {
          u.send(tp, 1);
          await u.answered(1, "the 200 of the server of trunk.test came back");
          assert.deepEqual(got, ["trunk got: dns-1@tls.test"]);
          assert.deepEqual(snis, ["trunk:trunk.test"], "the server was told the name (SNI)");
          w.send(op, 2);
          const warn = await srv.waitFor((o) => o.msg === "tls handshake failed" && o.level === "warn" && String(o.peer).includes(`127.0.0.2:${op}`), 5000, "the warn line of the refused server");
          assert.match(String(warn.reason), /wrong\.test|hostname mismatch/, `the reason names the name check: ${warn.reason}`);
          await new Promise((r) => setTimeout(r, 500));
          assert.deepEqual(got, ["trunk got: dns-1@tls.test"], "no message reached the server of another name");
        } finally {
          u.close();
          w.close();
        }
      }, { access: { trusted: ["127.0.0.1"] }, dns: { servers: [dns.server] } });
    } finally {
      trunk.close();
      other.close();
      await dns.close();
    }
  });

  test(`${host}: a B2BUA trunk over TLS registers and takes a call on one connection (mutual TLS, verified by name); its BYE ends the call at the phone`, { timeout: 40_000 }, async () => {
    // the provider: a TLS server on 127.0.0.2 known as trunk.test, which verifies our certificate too
    const conns = [];
    const seen = [];
    let provSock = null;
    const provider = tls.createServer({ cert: readFileSync(f("trunk.pem")), key: readFileSync(f("trunk.key")), ca: readFileSync(f("ca.pem")), requestCert: true, rejectUnauthorized: true }, (s) => {
      s.on("error", () => {});
      conns.push({ sni: s.servername, authorized: s.authorized });
      provSock = s;
      const next = sipReader(s);
      const reply = (m, code, extra = [], body = "") => {
        const keep = m.split("\r\n\r\n")[0].split("\r\n").filter((l) => /^(via|from|call-id|cseq):/i.test(l));
        const to = header(m, "To")[0] + (/;tag=/.test(header(m, "To")[0]) ? "" : ";tag=prov");
        s.write([`SIP/2.0 ${code}`, ...keep, `To: ${to}`, ...extra, `Content-Length: ${Buffer.byteLength(body)}`, "", body].join("\r\n"));
      };
      (async () => {
        for (;;) {
          const m = await next(() => true, 20_000);
          seen.push(m);
          const method = m.split(" ")[0];
          if (method === "REGISTER") reply(m, "200 OK", [`Contact: ${header(m, "Contact")[0]};expires=600`, "Expires: 600"]);
          else if (method === "INVITE" && !/\r\nTo:[^\r]*;tag=/.test(m)) {
            reply(m, "100 Trying");
            const sdp = "v=0\r\no=prov 1 1 IN IP4 127.0.0.2\r\ns=-\r\nc=IN IP4 127.0.0.2\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0\r\n";
            reply(m, "200 OK", [`Contact: <sip:15551234@127.0.0.2:${s.localPort};transport=tls>`, "Content-Type: application/sdp"], sdp);
          } else if (method === "ACK") {
            // the provider hangs up on the same connection, toward our Contact
            const inv = seen.find((x) => x.startsWith("INVITE "));
            const ruri = /<([^>]+)>/.exec(header(inv, "Contact")[0])[1];
            s.write([`BYE ${ruri} SIP/2.0`, `Via: SIP/2.0/TLS 127.0.0.2:${s.localPort};branch=z9hG4bKprovbye`, "Max-Forwards: 70",
              `From: ${header(inv, "To")[0]};tag=prov`, `To: ${header(inv, "From")[0]}`, `Call-ID: ${header(inv, "Call-ID")[0]}`,
              "CSeq: 1 BYE", "Content-Length: 0", "", ""].join("\r\n"));
          }
        }
      })().catch(() => {});
    });
    const tp = await new Promise((r) => provider.listen(0, "127.0.0.2", () => r(provider.address().port)));
    const sides = [
      { name: "office", role: "registrar", route: "carrier" },
      { name: "carrier", role: "trunk", address: `127.0.0.2:${tp}`, host: "trunk.test", transport: "tls", username: "acme", password: "secret-pw",
        register: { expires: 600 }, route: "office" },
    ];
    const phone = await Ua.open("127.0.0.1");
    try {
      await withTlsServer(host, { peers: ["127.0.0.2 require trunk.test"] }, async (srv) => {
        for (let i = 0; i < 100 && !seen.some((m) => m.startsWith("REGISTER ")); i++) await new Promise((r) => setTimeout(r, 50));
        const reg = seen.find((m) => m.startsWith("REGISTER "));
        assert.ok(reg, "the trunk registered with the provider");
        assert.match(header(reg, "Via")[0], /^SIP\/2\.0\/TLS 127\.0\.0\.1:\d+;/, reg);
        assert.match(header(reg, "Contact")[0], /^<sip:acme@127\.0\.0\.1:\d+;transport=tls>/, reg);
        // the phone registers (UDP) and calls a number: the call goes to the provider over TLS
        assert.equal(status(await phone.request(srv, request(phone, { method: "REGISTER", ruri: "sip:127.0.0.1", from: "sip:phone@127.0.0.1", to: "sip:phone@127.0.0.1",
          contact: `<sip:phone@127.0.0.1:${phone.port}>`, extra: ["Expires: 600"] }))), 200);
        const sdp = "v=0\r\no=phone 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 41000 RTP/AVP 0\r\n";
        const call = { ruri: "sip:15551234@127.0.0.1", from: "sip:phone@127.0.0.1", fromTag: "ph1", callId: "tls-trunk-call@test" };
        const ok = await phone.request(srv, request(phone, { ...call, method: "INVITE", body: sdp, extra: ["Content-Type: application/sdp"] }), { timeoutMs: 8000 });
        assert.equal(status(ok), 200, `the phone's call was answered: ${ok}`);
        phone.send(request(phone, { ...call, method: "ACK", ruri: /<([^>]+)>/.exec(hdrs(ok, "Contact")[0])[1], toTag: /;tag=([^;>\s]+)/.exec(hdrs(ok, "To")[0])[1], contact: null }), srv.port);
        const bye = await phone.waitFor((m) => m.startsWith("BYE "), 8000);
        assert.ok(bye, "the provider's BYE reached the phone");
        phone.send([`SIP/2.0 200 OK`, ...bye.split("\r\n\r\n")[0].split("\r\n").filter((l) => /^(via|from|to|call-id|cseq):/i.test(l)), "Content-Length: 0", "", ""].join("\r\n"), srv.port);
        for (let i = 0; i < 100 && !seen.some((m) => /^SIP\/2\.0 200 [\s\S]*CSeq: 1 BYE/.test(m)); i++) await new Promise((r) => setTimeout(r, 50));
        const invite = seen.find((m) => m.startsWith("INVITE "));
        assert.ok(invite, "the call reached the provider");
        assert.match(invite.split("\r\n")[0], /^INVITE sip:15551234@trunk\.test SIP\/2\.0$/);
        assert.match(header(invite, "Via")[0], /^SIP\/2\.0\/TLS /, invite);
        assert.match(header(invite, "Contact")[0], /;transport=tls>$/, invite);
        assert.ok(seen.some((m) => m.startsWith("ACK ")), "the ACK of its 2xx came");
        assert.ok(seen.some((m) => /^SIP\/2\.0 200 [\s\S]*CSeq: 1 BYE/.test(m)), "its BYE was answered 200 on the connection");
        // the provider calls the phone on the same connection: our answer's Contact names TLS too
        const psdp = "v=0\r\no=prov 2 2 IN IP4 127.0.0.2\r\ns=-\r\nc=IN IP4 127.0.0.2\r\nt=0 0\r\nm=audio 40002 RTP/AVP 0\r\n";
        provSock.write([`INVITE sip:phone@127.0.0.1 SIP/2.0`, `Via: SIP/2.0/TLS 127.0.0.2:${tp};branch=z9hG4bKprovinv`, "Max-Forwards: 70",
          "From: <sip:+15550001@trunk.test>;tag=pin", "To: <sip:phone@127.0.0.1>", "Call-ID: prov-call@trunk.test", "CSeq: 1 INVITE",
          `Contact: <sip:+15550001@127.0.0.2:${tp};transport=tls>`, "Content-Type: application/sdp", `Content-Length: ${psdp.length}`, "", psdp].join("\r\n"));
        const ring = await phone.waitFor((m) => m.startsWith("INVITE "), 8000);
        assert.ok(ring, "the provider's call rang the phone");
        phone.send([`SIP/2.0 200 OK`, ...ring.split("\r\n\r\n")[0].split("\r\n").filter((l) => /^(via|from|call-id|cseq):/i.test(l)),
          `To: ${hdrs(ring, "To")[0]};tag=ph2`, `Contact: <sip:phone@127.0.0.1:${phone.port}>`, "Content-Type: application/sdp", `Content-Length: ${sdp.length}`, "", sdp].join("\r\n"), srv.port);
        let answer;
        for (let i = 0; i < 100 && !(answer = seen.find((m) => /^SIP\/2\.0 200 /.test(m) && /Call-ID: prov-call@/.test(m))); i++) await new Promise((r) => setTimeout(r, 50));
        assert.ok(answer, "the phone's answer reached the provider");
        assert.match(header(answer, "Contact")[0], /^<sip:[^>]*;transport=tls>$/, `our Contact toward the TLS trunk names TLS:\n${answer}`);
        assert.deepEqual(conns, [{ sni: "trunk.test", authorized: true }], "one connection, to trunk.test, our certificate verified by the provider");
      }, { board: "gateway", mode: "b2bua", domains: ["127.0.0.1"], sides });
    } finally {
      phone.close();
      provider.close();
    }
  });

  for (const calleeTransport of ["tls", "udp"]) {
    test(`${host}: baresip registers over TLS (its client certificate verified) and calls a baresip over ${calleeTransport}; the call connects and ends cleanly`, { timeout: 90_000 }, async () => {
      // the server verifies clients: baresip presents its certificate of the test CA (sip_certificate)
      await withTlsServer(host, { verifyClient: true }, async (srv, tlsPort) => {
        const server = (t) => `127.0.0.1:${t === "tls" ? tlsPort : srv.port}`;
        const tlsOpts = { cafile: f("ca.pem"), certificate: f("client.both.pem") };
        await withBaresip([
          { user: "alice", server: server("tls"), transport: "tls", tls: tlsOpts },
          { user: "bob", server: server(calleeTransport), transport: calleeTransport, tls: tlsOpts },
        ], async (alice, bob) => {
          for (const ph of [alice, bob]) {
            const ev = await ph.register();
            assert.equal(ev.type, "REGISTER_OK", ph.describe(`register: ${ev.type} ${ev.param ?? ""}`));
          }
          const a0 = alice.mark(), b0 = bob.mark();
          await alice.dial(alice.uri("bob"));
          await bob.waitFor("CALL_INCOMING", { since: b0, timeoutMs: 8000 });
          await bob.accept();
          await Promise.all([
            alice.waitFor("CALL_ESTABLISHED", { since: a0, timeoutMs: 8000 }),
            bob.waitFor("CALL_ESTABLISHED", { since: b0, timeoutMs: 8000 }),
          ]);
          await hangupBoth(alice, bob);
          await settle(srv);
          // the server's trace: REGISTERs in over TLS (alice; bob over his transport), the INVITE in
          // over TLS and out over bob's transport, the BYE through us (Record-Route) and answered 200
          const regs = srv.sip("in", /^REGISTER /);
          assert.ok(regs.some((m) => m.peer.startsWith("tls:") && /From:[^\r]*sip:alice@/.test(m.sip)), "alice registered over TLS");
          assert.ok(regs.some((m) => m.peer.startsWith(`${calleeTransport}:`) && /From:[^\r]*sip:bob@/.test(m.sip)), `bob registered over ${calleeTransport}`);
          const invIn = srv.sip("in", /^INVITE sip:bob@/)[0];
          assert.ok(invIn && invIn.peer.startsWith("tls:"), "alice's INVITE came over TLS");
          const invOut = srv.sip("out", /^INVITE /)[0];
          assert.ok(invOut && invOut.peer.startsWith(`${calleeTransport}:`), `the INVITE went to bob over ${calleeTransport}: ${invOut?.peer}`);
          const rr = header(invOut.sip, "Record-Route").join(", ");
          if (calleeTransport === "udp") {
            // two entries (RFC 5658): the top faces bob (UDP, no transport parameter), the second alice (TLS)
            const uris = rr.split(/,\s*/);
            assert.equal(uris.length, 2, `two Record-Route entries: ${rr}`);
            assert.doesNotMatch(uris[0], /transport=/, `the first faces bob's UDP: ${rr}`);
            assert.match(uris[1], /transport=tls/, `the second faces alice's TLS: ${rr}`);
          } else {
            assert.match(rr, /transport=tls/, `Record-Route names TLS: ${rr}`);
            // bob is reached on the connection he registered on
            const bobReg = srv.events("reg-add").find((e) => e.aor === "bob");
            const sent = srv.logs.find((o) => o.msg === "sip" && o.dir === "out" && o.sip.startsWith("INVITE "));
            assert.ok(bobReg?.conn > 0, "bob's registration came on a connection");
            assert.equal(sent.conn, bobReg.conn, "the INVITE went on bob's registration connection");
          }
          const byeIn = srv.sip("in", /^BYE /);
          const byeOut = srv.sip("out", /^BYE /);
          assert.ok(byeIn.length >= 1 && byeIn[0].peer.startsWith("tls:"), "alice's BYE came through us over TLS");
          assert.ok(byeOut.length >= 1 && byeOut[0].peer.startsWith(`${calleeTransport}:`), `and went to bob over ${calleeTransport}`);
          assert.ok(srv.sip("out", /^SIP\/2\.0 200 [^\r]*\r\n[\s\S]*CSeq: \d+ BYE/).some((m) => m.peer.startsWith("tls:")), "alice got the 200 of her BYE over TLS");
        });
      });
    });
  }
}
