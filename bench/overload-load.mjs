// The load generator of bench/overload.mjs, a worker thread: a UAC that places call attempts through
// the proxy at a set rate and a UAS, registered behind the proxy, that rejects each with 486. Both
// behave as RFC 3261 UAs on UDP: the UAC retransmits its INVITE (Timer A, doubling from T1) until a
// provisional or final response and gives up after Timer B (64·T1); it ACKs every final response
// (each retransmission of it too); the UAS answers every INVITE it gets (retransmissions included).
// Per second it reports what it offered and what came back (parentPort messages { type: "tick" }).
//
// Commands from the parent: { type: "rate", cps } sets the offered call-attempt rate (0 stops new
// calls); { type: "stop" } reports the calls still open and exits.
import { parentPort, workerData } from "node:worker_threads";
import { createSocket } from "node:dgram";

const { serverPort, t1 = 500 } = workerData;
const HOST = "127.0.0.1";
const uac = createSocket("udp4");
const uas = createSocket("udp4");
for (const s of [uac, uas]) s.on("error", () => {}); // a full send buffer drops the datagram: that is load
await Promise.all([uac, uas].map((s) => new Promise((r) => s.bind(0, HOST, r))));
for (const s of [uac, uas]) { s.setRecvBufferSize(4 << 20); s.setSendBufferSize(4 << 20); }
const uacPort = uac.address().port;
const uasPort = uas.address().port;
const send = (sock, text) => sock.send(Buffer.from(text, "latin1"), serverPort, HOST);

// ---- the UAC -------------------------------------------------------------------------------------

/** Open calls: n → { sent (ms of the first INVITE), proceeding (a provisional came) }. */
const open = new Map();
let seq = 0;
let cps = 0;
let bin = newBin();

/** A FIFO of { n, at } in increasing `at` (entries are pushed in time order). */
class Fifo {
  items = [];
  head = 0;
  push(n, at) { this.items.push({ n, at }); }
  due(now) {
    if (this.head >= this.items.length || this.items[this.head].at > now) return null;
    const e = this.items[this.head++];
    if (this.head > 4096 && this.head * 2 > this.items.length) { this.items = this.items.slice(this.head); this.head = 0; }
    return e;
  }
}
// Timer A: the k-th retransmission waits T1·2^k after the previous send, so each level is a FIFO
// in due order; Timer B: one FIFO in order of the first send.
const timerA = Array.from({ length: 7 }, () => new Fifo());
const timerB = new Fifo();

function newBin() {
  return { offered: 0, retrans: 0, trying: 0, busy: 0, shed: 0, other: 0, timeout: 0, acks: 0, latencySum: 0, latencyMax: 0 };
}

function invite(n) {
  return `INVITE sip:uas@${HOST} SIP/2.0\r\n` +
    `Via: SIP/2.0/UDP ${HOST}:${uacPort};branch=z9hG4bK-ov-${n};rport\r\n` +
    `Max-Forwards: 70\r\nFrom: <sip:load@${HOST}>;tag=ov${n}\r\nTo: <sip:uas@${HOST}>\r\n` +
    `Call-ID: ov-${n}@${HOST}\r\nCSeq: 1 INVITE\r\nContact: <sip:load@${HOST}:${uacPort}>\r\nContent-Length: 0\r\n\r\n`;
}

/** ACK for a non-2xx final (§17.1.1.3): the INVITE's branch, the response's To (with its tag). */
function ack(n, toLine) {
  return `ACK sip:uas@${HOST} SIP/2.0\r\n` +
    `Via: SIP/2.0/UDP ${HOST}:${uacPort};branch=z9hG4bK-ov-${n};rport\r\n` +
    `Max-Forwards: 70\r\nFrom: <sip:load@${HOST}>;tag=ov${n}\r\n${toLine}\r\n` +
    `Call-ID: ov-${n}@${HOST}\r\nCSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n`;
}

function startCall(now) {
  const n = ++seq;
  open.set(n, { sent: now, proceeding: false });
  timerA[0].push(n, now + t1);
  timerB.push(n, now + 64 * t1);
  send(uac, invite(n));
  bin.offered++;
}

const BRANCH = Buffer.from("branch=z9hG4bK-ov-", "latin1");
const TO = Buffer.from("\r\nTo:", "latin1");
const CRLF = Buffer.from("\r\n", "latin1");
// Only INVITEs get responses here (ACKs get none), so the status and our branch are all we read;
// the To line (with the UAS's or the proxy's tag) only for a final response, to build the ACK.
uac.on("message", (msg) => {
  const code = (msg[8] - 48) * 100 + (msg[9] - 48) * 10 + (msg[10] - 48);
  const b = msg.indexOf(BRANCH);
  if (b < 0 || !(code >= 100 && code < 700)) return;
  let n = 0;
  for (let i = b + BRANCH.length; i < msg.length && msg[i] >= 48 && msg[i] <= 57; i++) n = n * 10 + msg[i] - 48;
  const c = open.get(n);
  if (code < 200) {
    if (c && !c.proceeding) { c.proceeding = true; bin.trying++; }
    return;
  }
  // a final response: ACK it (again, if it is a retransmission)
  const t = msg.indexOf(TO);
  if (t >= 0) { send(uac, ack(n, msg.toString("latin1", t + 2, msg.indexOf(CRLF, t + 2)))); bin.acks++; }
  if (!c) return; // a retransmitted final for a call already counted
  open.delete(n);
  const latency = performance.now() - c.sent;
  if (code === 486) { bin.busy++; bin.latencySum += latency; if (latency > bin.latencyMax) bin.latencyMax = latency; }
  else if (code === 503) bin.shed++;
  else bin.other++;
});

/** Timer A retransmissions and Timer B expiries of the open calls. */
function sweep(now) {
  for (let e; (e = timerB.due(now)); ) if (open.delete(e.n)) bin.timeout++;
  for (let k = timerA.length - 1; k >= 0; k--) {
    for (let e; (e = timerA[k].due(now)); ) {
      const c = open.get(e.n);
      if (!c || c.proceeding) continue;
      send(uac, invite(e.n));
      bin.retrans++;
      if (k + 1 < timerA.length) timerA[k + 1].push(e.n, now + (t1 << (k + 1)));
    }
  }
}

// ---- the UAS -------------------------------------------------------------------------------------

const KEEP = /^(Via|v|From|f|Call-ID|i|CSeq):/i;
uas.on("message", (msg) => {
  const text = msg.toString("latin1");
  if (!text.startsWith("INVITE ")) return; // ACKs of our 486 (hop by hop from the proxy)
  const lines = text.slice(0, text.indexOf("\r\n\r\n")).split("\r\n");
  let out = "SIP/2.0 486 Busy Here\r\n";
  for (const l of lines) {
    if (KEEP.test(l)) out += l + "\r\n";
    else if (/^(To|t):/i.test(l)) out += `${l};tag=uas\r\n`;
  }
  uas.send(Buffer.from(out + "Content-Length: 0\r\n\r\n", "latin1"), serverPort, HOST);
});

// ---- registration, pacing, reports ---------------------------------------------------------------

function register() {
  return new Promise((resolve, reject) => {
    const done = setTimeout(() => reject(new Error("the UAS's REGISTER got no 200")), 5000);
    const check = (msg) => {
      if (msg.toString("latin1", 0, 12) !== "SIP/2.0 200 ") return;
      clearTimeout(done); uas.off("message", check); resolve();
    };
    uas.on("message", check);
    send(uas, `REGISTER sip:${HOST} SIP/2.0\r\nVia: SIP/2.0/UDP ${HOST}:${uasPort};branch=z9hG4bK-ovreg;rport\r\n` +
      `Max-Forwards: 70\r\nFrom: <sip:uas@${HOST}>;tag=r1\r\nTo: <sip:uas@${HOST}>\r\nCall-ID: ovreg@${HOST}\r\n` +
      `CSeq: 1 REGISTER\r\nContact: <sip:uas@${HOST}:${uasPort}>\r\nExpires: 3600\r\nContent-Length: 0\r\n\r\n`);
  });
}

await register();
const start = performance.now();
let due = 0; // calls owed by the pacing clock
let last = start;
let reported = start;
const pace = setInterval(() => {
  const now = performance.now();
  due += ((now - last) * cps) / 1000;
  last = now;
  // never more than 200 ms of calls in one burst: a generator that fell behind does not flood
  if (due > Math.max(cps / 5, 1)) due = Math.max(cps / 5, 1);
  while (due >= 1) { startCall(now); due--; }
  sweep(now);
  if (now - reported >= 1000) {
    reported += 1000;
    parentPort.postMessage({ type: "tick", t: Math.round((reported - start) / 1000), cps, open: open.size, ...bin });
    bin = newBin();
  }
}, 5);

parentPort.on("message", (m) => {
  if (m.type === "rate") { cps = m.cps; due = 0; }
  if (m.type === "stop") {
    clearInterval(pace);
    parentPort.postMessage({ type: "stopped", open: open.size });
    uac.close(); uas.close();
  }
});
parentPort.postMessage({ type: "ready", uacPort, uasPort });
