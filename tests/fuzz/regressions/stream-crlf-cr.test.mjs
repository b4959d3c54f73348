// Regression for the fuzz finding tests/fuzz/crashes/stream-crlf-cr.bin (fast path, server board, seed
// 781, input 1,406,999; the split-at-every-offset check): 914 bytes of CRLF pairs, a lone CR, six more
// CRLFs, then an INVITE, on a TCP connection. The host consumes CRLFCRLF keepalives 4 bytes at a time;
// at offset 912 the stream reads "\r\n\r\r\n…": the core saw "\r\n\r", answered 0 ("wait for the
// fourth byte") although the fourth byte was there, and every later call with more bytes got the same
// 0: the connection hung until the host's buffer limit closed it, and the INVITE was never read. Split
// at an even offset, the same bytes framed fine. A CRLF followed by "\r" and then not LF is a lone CRLF
// (a pong, RFC 5626 §4.4.1): consumed, and the message after the CRs is read.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { FuzzCore, peerRecord } from "../core.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const input = readFileSync(join(here, "..", "crashes", "stream-crlf-cr.bin"));

/** Feeds `bytes` to a fresh connection the way a host does (what is not consumed is offered again
 * with the next bytes), in the given chunks; returns where messages ended and how it finished. */
function frame(core, conn, chunks) {
  const peer = peerRecord(conn, 2, "192.0.2.99", 40000 + conn);
  const ends = [];
  let pending = Buffer.alloc(0), base = 0;
  for (const chunk of chunks) {
    let buf = Buffer.concat([pending, chunk]), off = 0;
    for (;;) {
      if (off === buf.length) break;
      const r = core.streamCall(1000, peer, buf.subarray(off));
      if (r < 0) return `${ends} close@${base + off}`;
      if (r === 0) break;
      off += r;
      if (!/^[\r\n]*$/.test(buf.toString("latin1", off - r, off))) ends.push(base + off);
    }
    pending = Buffer.from(buf.subarray(off));
    base += off;
  }
  return `${ends} ${pending.length ? `need@${base}` : "done"}`;
}

for (const board of ["server", "micro"]) {
  test(`stream-crlf-cr (${board}): the INVITE after the lone CR is framed, whatever the split`, () => {
    const core = new FuzzCore({ board, seed: 1, record: false });
    const whole = frame(core, 1, [input]);
    assert.equal(whole, `${input.length} done`);
    for (let k = 1; k < input.length; k += 1) assert.equal(frame(core, 1 + k, [input.subarray(0, k), input.subarray(k)]), whole, `split at ${k}`);
  });
}

test("\"\\r\\n\\r\" then a byte that is not LF: the CRLF is consumed as a pong, the rest is read", () => {
  const core = new FuzzCore({ board: "server", seed: 1, record: false });
  const sent = [];
  core.onTransmit = (b) => sent.push(b.toString("latin1").split("\r\n")[0]);
  const options = "OPTIONS sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP 192.0.2.99:40000;branch=z9hG4bK-crcr\r\n" +
    "Max-Forwards: 70\r\nFrom: <sip:a@192.0.2.99>;tag=1\r\nTo: <sip:127.0.0.1>\r\nCall-ID: crcr\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n";
  const bytes = Buffer.from(`\r\n\r${options}`, "latin1");
  assert.equal(frame(core, 1, [bytes]), `${bytes.length} done`);
  assert.deepEqual(sent, ["SIP/2.0 200 OK"]);
});
