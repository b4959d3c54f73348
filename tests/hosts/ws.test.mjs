// SIP over WebSocket (RFC 7118) on the Node host, with a Node WebSocket client (the `ws` package)
// speaking raw SIP: a handshake without the `sip` subprotocol is refused; a REGISTER is answered on
// the same WebSocket; a call from UDP to the phone registered over the WebSocket reaches it on that
// WebSocket (Record-Route twice, the WebSocket side with transport=ws), and its answer goes back to
// the UDP caller; a call from the WebSocket to a UDP phone is forwarded and its answers come back on
// the WebSocket; a message too large for the core closes the WebSocket (1009); a binary frame is a message as a text one is; once the
// WebSocket is closed a call to its phone gets 480 at once; beyond the connection table's bound
// (tcpConnections, shared with TCP) the quietest WebSocket is closed with 1000. Configuration: the
// native host refuses ws/wss by name; a wss listen without a certificate is refused naming the key.
// Loopback only; every server is stopped and every socket closed at the end.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createSocket } from "node:dgram";
import { join } from "node:path";
import WebSocket from "ws";
import { readFileSync } from "node:fs";
import { withServer, freePort, root, scratch, settle } from "../integration/harness.mjs";

const MAX = JSON.parse(readFileSync(join(root, "host", "shared", "config.json"), "utf8")).limits.tcpConnections.value;

const open = new Set();
after(() => {
  for (const s of open) {
    try { s.terminate ? s.terminate() : s.close(); } catch { /* closed */ }
  }
});

/** A WebSocket to the server offering `protocols`; resolves when open, rejects with the HTTP status. */
function connect(port, protocols = ["sip"]) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/`, protocols);
    open.add(ws);
    ws.msgs = [];
    ws.waiters = [];
    ws.on("message", (d, binary) => {
      const text = binary ? Buffer.from(d).toString("utf8") : d.toString();
      ws.msgs.push({ text, binary });
      for (const w of [...ws.waiters]) w();
    });
    ws.once("open", () => resolve(ws));
    ws.once("unexpected-response", (_req, res) => reject(Object.assign(new Error(`HTTP ${res.statusCode}`), { status: res.statusCode })));
    ws.once("error", reject);
  });
}

/** The first message matching re at or after index `from`; waits up to ms. */
function waitMsg(sock, re, ms = 5000, from = 0) {
  return new Promise((resolve, reject) => {
    const check = () => {
      const m = sock.msgs.slice(from).find((x) => re.test(x.text));
      if (!m) return false;
      cleanup();
      resolve(m);
      return true;
    };
    const t = setTimeout(() => { cleanup(); reject(new Error(`timeout waiting for ${re}; got:\n${sock.msgs.map((x) => x.text.split("\r\n")[0]).join("\n")}`)); }, ms);
    const cleanup = () => { clearTimeout(t); sock.waiters = sock.waiters.filter((w) => w !== check); };
    if (!check()) sock.waiters.push(check);
  });
}

/** A UDP SIP socket on 127.0.0.1 with the same msgs/waiters shape. */
function udpPeer() {
  return new Promise((resolve) => {
    const s = createSocket("udp4");
    open.add(s);
    s.msgs = [];
    s.waiters = [];
    s.on("message", (d) => {
      s.msgs.push({ text: d.toString("utf8") });
      for (const w of [...s.waiters]) w();
    });
    s.bind(0, "127.0.0.1", () => resolve(s));
  });
}

const hdr = (msg, name) => msg.split("\r\n").filter((l) => l.toLowerCase().startsWith(`${name.toLowerCase()}:`)).map((l) => l.slice(name.length + 1).trim());
const CL = (body) => `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
const SDP = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 9 RTP/AVP 0\r\n";

/** An answer to request `req` (Via, From, To, Call-ID, CSeq copied; a To tag added). */
function answer(req, status, reason, extra = "", body = "") {
  const lines = req.split("\r\n");
  const keep = lines.filter((l) => /^(via|from|call-id|cseq|record-route):/i.test(l));
  let to = lines.find((l) => /^to:/i.test(l));
  if (!/;tag=/.test(to)) to += ";tag=callee1";
  return `SIP/2.0 ${status} ${reason}\r\n${keep.join("\r\n")}\r\n${to}\r\n${extra}${CL(body)}`;
}

test("node: a WebSocket handshake without the sip subprotocol is refused; with it, accepted", async () => {
  const wsPort = await freePort();
  await withServer({ tcp: false, listen: [`ws:127.0.0.1:${wsPort}`] }, async (srv) => {
    await assert.rejects(connect(wsPort, []), (e) => e.status === 400, "no subprotocol");
    await assert.rejects(connect(wsPort, ["chat"]), (e) => e.status === 400, "another subprotocol");
    const ws = await connect(wsPort, ["chat", "sip"]);
    assert.equal(ws.protocol, "sip");
    ws.close();
    const listening = srv.logs.filter((o) => o.msg === "listening").map((o) => o.listen);
    assert.ok(listening.includes(`ws:127.0.0.1:${wsPort}`), JSON.stringify(listening));
  });
});

test("node: REGISTER over ws, calls UDP -> ws and ws -> UDP on the same WebSocket, Record-Route across", async () => {
  const wsPort = await freePort();
  await withServer({ tcp: false, listen: [`ws:127.0.0.1:${wsPort}`] }, async (srv) => {
    const P = srv.port;
    const ws = await connect(wsPort);
    // a browser's REGISTER (RFC 7118 §8.1: .invalid Via host and Contact, transport=ws)
    ws.send(`REGISTER sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/WS df7jal23ls0d.invalid;branch=z9hG4bKreg1\r\n` +
      `Max-Forwards: 70\r\nTo: <sip:alice@127.0.0.1>\r\nFrom: <sip:alice@127.0.0.1>;tag=a1\r\nCall-ID: ws-reg-1\r\nCSeq: 1 REGISTER\r\n` +
      `Contact: <sip:alice@df7jal23ls0d.invalid;transport=ws>\r\nExpires: 600\r\n${CL("")}`);
    const ok = await waitMsg(ws, /^SIP\/2.0 200 /);
    assert.match(hdr(ok.text, "Contact")[0] ?? "", /alice@df7jal23ls0d\.invalid;transport=ws/);
    assert.equal(ok.binary, false, "sent as a text frame");

    // bob registers over UDP
    const bob = await udpPeer();
    const bp = bob.address().port;
    bob.send(`REGISTER sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:${bp};branch=z9hG4bKbreg1;rport\r\nMax-Forwards: 70\r\n` +
      `To: <sip:bob@127.0.0.1>\r\nFrom: <sip:bob@127.0.0.1>;tag=b1\r\nCall-ID: ws-reg-2\r\nCSeq: 1 REGISTER\r\nContact: <sip:bob@127.0.0.1:${bp}>\r\nExpires: 600\r\n${CL("")}`, P, "127.0.0.1");
    await waitMsg(bob, /^SIP\/2.0 200 /);

    // bob (UDP) calls alice (ws): the INVITE reaches the WebSocket alice registered on
    let mark = ws.msgs.length;
    bob.send(`INVITE sip:alice@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:${bp};branch=z9hG4bKbinv1;rport\r\nMax-Forwards: 70\r\n` +
      `To: <sip:alice@127.0.0.1>\r\nFrom: <sip:bob@127.0.0.1>;tag=b2\r\nCall-ID: ws-call-1\r\nCSeq: 1 INVITE\r\nContact: <sip:bob@127.0.0.1:${bp}>\r\n` +
      `Content-Type: application/sdp\r\n${CL(SDP)}`, P, "127.0.0.1");
    const inv = await waitMsg(ws, /^INVITE sip:alice@df7jal23ls0d\.invalid;transport=ws SIP\/2.0/, 5000, mark);
    const vias = hdr(inv.text, "Via");
    assert.match(vias[0], new RegExp(`^SIP/2.0/WS 127\\.0\\.0\\.1:${wsPort};branch=`), "our Via names the ws transport");
    const rr = hdr(inv.text, "Record-Route").join(", ").split(/,\s*/);
    assert.equal(rr.length, 2, `two Record-Routes (ws and udp sides): ${rr}`);
    assert.match(rr[0], new RegExp(`127\\.0\\.0\\.1:${wsPort};transport=ws`), `the top one faces the ws callee: ${rr[0]}`);
    assert.match(rr[1], new RegExp(`127\\.0\\.0\\.1:${P}`), `the second faces the udp caller: ${rr[1]}`);
    assert.doesNotMatch(rr[1], /transport=ws/);
    ws.send(answer(inv.text, 180, "Ringing"));
    await waitMsg(bob, /^SIP\/2.0 180 /);
    ws.send(answer(inv.text, 200, "OK", "Contact: <sip:alice@df7jal23ls0d.invalid;transport=ws>\r\nContent-Type: application/sdp\r\n", SDP));
    const bok = await waitMsg(bob, /^SIP\/2.0 200 OK[\s\S]*CSeq: 1 INVITE/);
    const rrB = hdr(bok.text, "Record-Route").join(", ").split(/,\s*/);
    assert.equal(rrB.length, 2, `the 200 carries both Record-Routes to the caller: ${rrB}`);

    // bob's ACK and BYE route through the proxy (Route set = the Record-Routes reversed) to the WebSocket
    const routes = [...rrB].reverse().join(", ");
    mark = ws.msgs.length;
    bob.send(`ACK sip:alice@df7jal23ls0d.invalid;transport=ws SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:${bp};branch=z9hG4bKback1;rport\r\nMax-Forwards: 70\r\n` +
      `Route: ${routes}\r\nTo: ${hdr(bok.text, "To")[0]}\r\nFrom: <sip:bob@127.0.0.1>;tag=b2\r\nCall-ID: ws-call-1\r\nCSeq: 1 ACK\r\n${CL("")}`, P, "127.0.0.1");
    await waitMsg(ws, /^ACK sip:alice@df7jal23ls0d\.invalid;transport=ws/, 5000, mark);
    bob.send(`BYE sip:alice@df7jal23ls0d.invalid;transport=ws SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:${bp};branch=z9hG4bKbbye1;rport\r\nMax-Forwards: 70\r\n` +
      `Route: ${routes}\r\nTo: ${hdr(bok.text, "To")[0]}\r\nFrom: <sip:bob@127.0.0.1>;tag=b2\r\nCall-ID: ws-call-1\r\nCSeq: 2 BYE\r\n${CL("")}`, P, "127.0.0.1");
    const bye = await waitMsg(ws, /^BYE sip:alice@df7jal23ls0d\.invalid;transport=ws/, 5000, mark);
    ws.send(answer(bye.text, 200, "OK"));
    await waitMsg(bob, /^SIP\/2.0 200 OK[\s\S]*CSeq: 2 BYE/);

    // alice (ws) calls bob (UDP): forwarded over UDP, the answers come back on the WebSocket
    mark = ws.msgs.length;
    const bm = bob.msgs.length;
    ws.send(`INVITE sip:bob@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/WS df7jal23ls0d.invalid;branch=z9hG4bKainv1\r\nMax-Forwards: 70\r\n` +
      `To: <sip:bob@127.0.0.1>\r\nFrom: <sip:alice@127.0.0.1>;tag=a2\r\nCall-ID: ws-call-2\r\nCSeq: 1 INVITE\r\n` +
      `Contact: <sip:alice@df7jal23ls0d.invalid;transport=ws;ob>\r\nContent-Type: application/sdp\r\n${CL(SDP)}`);
    await waitMsg(ws, /^SIP\/2.0 100 /, 5000, mark);
    const binv = await waitMsg(bob, /^INVITE sip:bob@127\.0\.0\.1/, 5000, bm);
    const rr2 = hdr(binv.text, "Record-Route").join(", ").split(/,\s*/);
    assert.equal(rr2.length, 2, `two Record-Routes (udp and ws sides): ${rr2}`);
    assert.match(rr2[0], new RegExp(`127\\.0\\.0\\.1:${P}`), `the top one faces the udp callee: ${rr2[0]}`);
    assert.doesNotMatch(rr2[0], /transport=ws/);
    assert.match(rr2[1], new RegExp(`127\\.0\\.0\\.1:${wsPort};transport=ws`), `the second faces the ws caller: ${rr2[1]}`);
    bob.send(answer(binv.text, 486, "Busy Here"), P, "127.0.0.1");
    const busy = await waitMsg(ws, /^SIP\/2.0 486 /, 5000, mark);
    assert.match(hdr(busy.text, "Via")[0], /^SIP\/2.0\/WS df7jal23ls0d\.invalid;branch=z9hG4bKainv1/);
    // the proxy ACKs bob's 486 itself (hop by hop); alice ACKs the proxy over the WebSocket
    ws.send(`ACK sip:bob@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/WS df7jal23ls0d.invalid;branch=z9hG4bKainv1\r\nMax-Forwards: 70\r\n` +
      `To: ${hdr(busy.text, "To")[0]}\r\nFrom: <sip:alice@127.0.0.1>;tag=a2\r\nCall-ID: ws-call-2\r\nCSeq: 1 ACK\r\n${CL("")}`);
    await waitMsg(bob, /^ACK sip:bob@127\.0\.0\.1/, 5000, bm);

    // a binary frame is a SIP message too (RFC 7118 §5): OPTIONS to the server, answered on the WebSocket
    mark = ws.msgs.length;
    ws.send(Buffer.from(`OPTIONS sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/WS df7jal23ls0d.invalid;branch=z9hG4bKopt1\r\nMax-Forwards: 70\r\n` +
      `To: <sip:127.0.0.1>\r\nFrom: <sip:alice@127.0.0.1>;tag=a3\r\nCall-ID: ws-opt-1\r\nCSeq: 1 OPTIONS\r\n${CL("")}`), { binary: true });
    await waitMsg(ws, /^SIP\/2.0 200 [\s\S]*CSeq: 1 OPTIONS/, 5000, mark);

    // one message larger than the core's RX buffer closes the WebSocket with 1009
    const closed = new Promise((r) => ws.once("close", (code) => r(code)));
    ws.send(`OPTIONS sip:127.0.0.1 SIP/2.0\r\nX-Big: ${"x".repeat(70_000)}\r\n\r\n`);
    assert.equal(await closed, 1009);

    // alice's WebSocket is gone: a call to her is answered 480 at once (her binding cannot be reached)
    const bm2 = bob.msgs.length;
    bob.send(`INVITE sip:alice@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:${bp};branch=z9hG4bKbinv3;rport\r\nMax-Forwards: 70\r\n` +
      `To: <sip:alice@127.0.0.1>\r\nFrom: <sip:bob@127.0.0.1>;tag=b5\r\nCall-ID: ws-call-3\r\nCSeq: 1 INVITE\r\nContact: <sip:bob@127.0.0.1:${bp}>\r\n${CL("")}`, P, "127.0.0.1");
    await waitMsg(bob, /^SIP\/2.0 480 /, 3000, bm2);
  });
});

test("node: WebSockets share the connection table's bound: beyond it the quietest is closed politely (1000), a new one is served", { timeout: 60_000 }, async () => {
  const wsPort = await freePort();
  await withServer({ tcp: false, trace: false, logLevel: "info", listen: [`ws:127.0.0.1:${wsPort}`] }, async (srv) => {
    const idle = [];
    for (let i = 0; i < MAX + 20; i++) {
      const ws = await connect(wsPort);
      ws.once("close", (code) => { ws.closedWith = code; });
      idle.push(ws);
    }
    for (let i = 0; i < 50 && idle.filter((w) => w.closedWith !== undefined).length < 20; i++) await new Promise((r) => setTimeout(r, 100));
    const closed = idle.filter((w) => w.closedWith !== undefined);
    assert.equal(closed.length, 20, `${closed.length} of ${MAX + 20} idle WebSockets closed by the server (at most ${MAX} may stay)`);
    assert.ok(idle.slice(0, 20).every((w) => w.closedWith === 1000), `the quietest (oldest) are the ones closed, with 1000: ${idle.slice(0, 25).map((w) => w.closedWith)}`);
    const ws = idle.at(-1);
    ws.send(`OPTIONS sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/WS x.invalid;branch=z9hG4bKfull1\r\nMax-Forwards: 70\r\n` +
      `To: <sip:127.0.0.1>\r\nFrom: <sip:a@127.0.0.1>;tag=f\r\nCall-ID: ws-full-1\r\nCSeq: 1 OPTIONS\r\n${CL("")}`);
    await waitMsg(ws, /^SIP\/2.0 200 /);
    await settle(srv);
    const stats = srv.logs.filter((o) => o.msg === "stats").pop();
    assert.equal(stats.tcpEvicted, 20, JSON.stringify(stats));
    assert.equal(stats.tcpConnections, MAX);
    for (const w of idle) w.terminate();
  });
});

test("configuration: the native host refuses ws/wss by name; a wss listen without a certificate names tls.certificate, one unreadable stops the start", () => {
  const env = { ...process.env, SIPLING_NO_BUILD: "1" };
  const run = (argv, cfg) => spawnSync(argv[0], [...argv.slice(1), "--config", scratch("ws-cfg.json", JSON.stringify(cfg))], { encoding: "utf8", timeout: 20_000, env });
  const native = [join(root, "build/server/sipling")];
  const node = [process.execPath, join(root, "host/node/cli.mjs")];
  for (const l of ["ws:127.0.0.1:8080", "wss:127.0.0.1:8443"]) {
    const r = run(native, { listen: ["udp:127.0.0.1:0", l] });
    assert.equal(r.status, 2, r.stderr);
    assert.equal(r.stderr.trim().split("\n").pop(), `config error: "listen[1]": ws/wss listen is supported by the Node host only (the native host: udp, tcp), got "${l}"`);
  }
  const r = run(node, { listen: ["udp:127.0.0.1:0", "wss:127.0.0.1:0"] });
  assert.equal(r.status, 2, r.stderr);
  assert.equal(r.stderr.trim().split("\n").pop(), `config error: "tls.certificate": listen[1] "wss:127.0.0.1:0" (secure WebSocket) needs "tls.certificate"`);
  const k = run(node, { listen: ["wss:127.0.0.1:0"], tls: { certificate: "/nonexistent/cert.pem" } });
  assert.equal(k.status, 2, k.stderr);
  assert.equal(k.stderr.trim().split("\n").pop(), `config error: "tls.key": listen[0] "wss:127.0.0.1:0" (secure WebSocket) needs "tls.key"`);
  // a certificate that cannot be read stops the start (exit 1), naming the key and the file
  const u = run(node, { listen: ["wss:127.0.0.1:0"], tls: { certificate: "/nonexistent/cert.pem", key: "/nonexistent/key.pem" } });
  assert.equal(u.status, 1, u.stderr + u.stdout);
  assert.match(u.stdout + u.stderr, /cannot listen on wss:127\.0\.0\.1:0: cannot read tls\.certificate \\"\/nonexistent\/cert\.pem\\": ENOENT/);
});
