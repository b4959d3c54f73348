#!/usr/bin/env node
// Parse throughput of the server board's release core (build/server/sipling.wasm) through the ABI's
// sip_parse(len, 0) (datagram framing; parse + validate). Two typical messages: a ~1 KB INVITE with
// SDP and a ~500 B 200 OK with SDP. Each is measured
//   in place: copied into the RX buffer once, parsed repeatedly (the parse reads it in place);
//   copy+parse: copied into RX before every parse, as a host receiving datagrams does.
// Target: ≥ 500,000 INVITE parses/s (in place) — reported as PASS / BELOW TARGET, never fails.
// Exits 1 only if a message does not parse (verdict ≤ 0).
// Usage: node bench/parse.mjs [--seconds S]
import { readFileSync } from "node:fs";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const args = process.argv.slice(2);
const si = args.indexOf("--seconds");
const SECONDS = si >= 0 ? Number(args[si + 1]) : 2;
const TARGET = 500_000;

const crlf = (lines) => lines.join("\r\n");
function withBody(head, body) {
  const b = Buffer.from(body, "latin1");
  return Buffer.concat([Buffer.from(crlf([...head, `Content-Length: ${b.length}`, "", ""]), "latin1"), b]);
}

const inviteSdp = crlf([
  "v=0",
  "o=alice 2890844526 2890844526 IN IP4 192.0.2.101",
  "s=-",
  "c=IN IP4 192.0.2.101",
  "t=0 0",
  "m=audio 49172 RTP/AVP 0 8 101",
  "a=rtpmap:0 PCMU/8000",
  "a=rtpmap:8 PCMA/8000",
  "a=rtpmap:101 telephone-event/8000",
  "a=fmtp:101 0-15",
  "a=ptime:20",
  "a=sendrecv",
  "",
]);
const INVITE = withBody([
  "INVITE sip:bob@biloxi.example.com SIP/2.0",
  "Via: SIP/2.0/UDP pc33.atlanta.example.com:5060;branch=z9hG4bK776asdhds;rport",
  "Via: SIP/2.0/UDP 192.0.2.101:5060;branch=z9hG4bKnashds8;received=192.0.2.101",
  "Max-Forwards: 70",
  "To: \"Bob\" <sip:bob@biloxi.example.com>;tag=a6c85cf",
  "From: \"Alice\" <sip:alice@atlanta.example.com>;tag=1928301774",
  "Call-ID: a84b4c76e66710@pc33.atlanta.example.com",
  "CSeq: 314159 INVITE",
  "Contact: <sip:alice@pc33.atlanta.example.com:5060;transport=udp>",
  "Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, UPDATE, PRACK, REFER, NOTIFY, MESSAGE",
  "Supported: replaces, timer, 100rel, path",
  "User-Agent: Sipling-Bench/1.0 (softphone 4.2.1; build 20240611)",
  "Session-Expires: 1800;refresher=uac",
  "Content-Type: application/sdp",
], inviteSdp);

const okSdp = crlf([
  "v=0",
  "o=bob 2808844564 2808844564 IN IP4 192.0.2.201",
  "s=-",
  "c=IN IP4 192.0.2.201",
  "t=0 0",
  "m=audio 3456 RTP/AVP 0",
  "a=rtpmap:0 PCMU/8000",
  "",
]);
const OK200 = withBody([
  "SIP/2.0 200 OK",
  "Via: SIP/2.0/UDP pc33.atlanta.example.com:5060;branch=z9hG4bK776asdhds;rport=5060",
  "To: \"Bob\" <sip:bob@biloxi.example.com>;tag=a6c85cf",
  "From: \"Alice\" <sip:alice@atlanta.example.com>;tag=1928301774",
  "Call-ID: a84b4c76e66710@pc33.atlanta.example.com",
  "CSeq: 314159 INVITE",
  "Contact: <sip:bob@192.0.2.201>",
  "Content-Type: application/sdp",
], okSdp);

const inst = new WebAssembly.Instance(new WebAssembly.Module(readFileSync(join(root, "build", "server", "sipling.wasm"))), {});
const ex = inst.exports;
ex._initialize();
const rx = ex.sip_rx_ptr();
const mem = () => new Uint8Array(ex.memory.buffer);

function check(name, msg) {
  mem().set(msg, rx);
  const r = ex.sip_parse(msg.length, 0);
  if (r <= 0) {
    console.error(`${name} (${msg.length} bytes) does not parse: verdict ${r} (status ${ex.sip_error_status(r)})`);
    process.exit(1);
  }
  if (r !== msg.length) console.warn(`note: ${name}: verdict ${r} != ${msg.length} bytes`);
}

/** Runs `batch`-sized loops of `fn` for ~seconds; returns parses/s. */
function time(fn, seconds) {
  const batch = 10_000;
  for (let i = 0; i < 20; i++) fn(batch); // warm up (tier-up of the wasm and the JS loop)
  let n = 0;
  const t0 = process.hrtime.bigint();
  const end = t0 + BigInt(Math.round(seconds * 1e9));
  let t = t0;
  while (t < end) {
    fn(batch);
    n += batch;
    t = process.hrtime.bigint();
  }
  return n / (Number(t - t0) / 1e9);
}

function inPlace(msg) {
  const len = msg.length;
  mem().set(msg, rx);
  return (k) => {
    let acc = 0;
    for (let i = 0; i < k; i++) acc += ex.sip_parse(len, 0);
    if (acc !== len * k) throw new Error(`verdict changed during the run`);
  };
}
function copyParse(msg) {
  const len = msg.length;
  const m = mem(); // memory never grows (fixed pages), so one view stays valid
  return (k) => {
    let acc = 0;
    for (let i = 0; i < k; i++) {
      m.set(msg, rx);
      acc += ex.sip_parse(len, 0);
    }
    if (acc !== len * k) throw new Error(`verdict changed during the run`);
  };
}

const cases = [["INVITE", INVITE], ["200 OK", OK200]];
for (const [name, msg] of cases) check(name, msg);

console.log(`sip_parse throughput: build/server/sipling.wasm, node ${process.version}, ~${SECONDS} s per row`);
const head = ["message", "bytes", "mode", "msgs/s", "MB/s", "µs/parse", "target"];
const rows = [];
for (const [name, msg] of cases) {
  for (const [mode, mk] of [["in place", inPlace], ["copy+parse", copyParse]]) {
    const rate = time(mk(msg), SECONDS);
    const target = name === "INVITE" ? (rate >= TARGET ? `PASS (≥ ${TARGET.toLocaleString("en")})` : `BELOW TARGET (${TARGET.toLocaleString("en")})`) : "";
    rows.push([name, String(msg.length), mode, Math.round(rate).toLocaleString("en"), ((rate * msg.length) / 1e6).toFixed(1),
      (1e6 / rate).toFixed(3), target]);
  }
}
const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
const fmt = (c) => c.map((x, i) => (i === 0 || i === 2 || i === 6 ? x.padEnd(w[i]) : x.padStart(w[i]))).join("  ");
console.log(fmt(head));
console.log(w.map((n) => "-".repeat(n)).join("  "));
for (const r of rows) console.log(fmt(r));
