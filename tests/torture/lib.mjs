// Shared pieces of the torture suites (tests/torture/*.test.mjs, tools/torture.mjs): a tiny SIP
// reader for what comes back, a UDP client that records everything it receives, the health probe
// (OPTIONS to the proxy itself), the stats export (SIGUSR2 -> one "stats" log line) and a sink.
// Everything is Buffer/latin1: torture messages are never decoded as UTF-8.
import { createSocket } from "node:dgram";
import { execFileSync } from "node:child_process";

const COMPACT = { v: "via", i: "call-id", f: "from", t: "to", l: "content-length", m: "contact", k: "supported", c: "content-type", s: "subject", e: "content-encoding" };

/**
 * Reads a SIP message loosely (for assertions, not validation): { first, isRequest, status,
 * method, h(name) -> first value, all(name) -> every value, text }. Header names are
 * case-insensitive and compact forms are mapped to the long ones.
 */
export function readSip(buf) {
  const text = Buffer.isBuffer(buf) ? buf.toString("latin1") : String(buf);
  const end = text.indexOf("\r\n\r\n");
  const head = end < 0 ? text : text.slice(0, end);
  const lines = head.split(/\r\n(?![ \t])/);
  const first = lines.shift() ?? "";
  const headers = [];
  for (const l of lines) {
    const c = l.indexOf(":");
    if (c <= 0) continue;
    let name = l.slice(0, c).trim().toLowerCase();
    name = COMPACT[name] ?? name;
    headers.push([name, l.slice(c + 1).trim()]);
  }
  const m = /^SIP\/2\.0 (\d{3})/.exec(first);
  return {
    text, first,
    isRequest: !m,
    status: m ? Number(m[1]) : 0,
    method: m ? null : first.split(" ")[0],
    h: (n) => headers.find(([k]) => k === n)?.[1],
    all: (n) => headers.filter(([k]) => k === n).map(([, v]) => v),
    cseqMethod() { return (/^\s*\d+\s+(\S+)/.exec(this.h("cseq") ?? "") ?? [])[1]; },
  };
}

/** Call-ID of a raw message (first Call-ID/i header), or null. */
export function callIdOf(buf) {
  const t = (Buffer.isBuffer(buf) ? buf.toString("latin1") : buf);
  const end = t.indexOf("\r\n\r\n");
  const m = /\r\n(?:call-id|i)[ \t]*:[ \t]*([^\r\n]*)/i.exec(end < 0 ? t : t.slice(0, end + 2));
  return m ? m[1].trim() : null;
}

/** A UDP socket on 127.0.0.1 that records every datagram: { port, msgs, send(buf, port), waitFor(pred, ms), close() }. */
export async function udpClient() {
  const sock = createSocket({ type: "udp4", recvBufferSize: 8 << 20, sendBufferSize: 8 << 20 });
  await new Promise((r) => sock.bind(0, "127.0.0.1", r));
  const msgs = [];
  const waiters = new Set();
  sock.on("message", (b, rinfo) => {
    const m = { at: Date.now(), buf: b, rinfo, sip: readSip(b) };
    msgs.push(m);
    for (const w of waiters) w(m);
  });
  return {
    sock, msgs,
    port: sock.address().port,
    send(buf, port, host = "127.0.0.1") {
      return new Promise((resolve, reject) => sock.send(buf, port, host, (e) => (e ? reject(e) : resolve())));
    },
    /** Resolves with the first message (already received at index >= from, or arriving) matching pred, else null after ms. */
    waitFor(pred, ms, from = 0) {
      for (let i = from; i < msgs.length; i++) if (pred(msgs[i])) return Promise.resolve(msgs[i]);
      return new Promise((resolve) => {
        const w = (m) => { if (pred(m)) { done(); resolve(m); } };
        const t = setTimeout(() => { done(); resolve(null); }, ms);
        const done = () => { clearTimeout(t); waiters.delete(w); };
        waiters.add(w);
      });
    },
    close() { try { sock.close(); } catch { /* closed */ } },
  };
}

let probeSeq = 0;
/**
 * The health probe: OPTIONS sip:127.0.0.1:P (to the proxy itself, rport so the answer comes back
 * here). Resolves with the status of the answer, or 0 when nothing came within `ms`.
 */
export async function probe(client, port, ms = 1000) {
  const n = ++probeSeq;
  const cid = `health-${process.pid}-${n}`;
  const msg = `OPTIONS sip:127.0.0.1:${port} SIP/2.0\r\n` +
    `Via: SIP/2.0/UDP 127.0.0.1:${client.port};rport;branch=z9hG4bKhealth${process.pid}x${n}\r\n` +
    `Max-Forwards: 70\r\nFrom: <sip:health@127.0.0.1>;tag=h${n}\r\nTo: <sip:127.0.0.1:${port}>\r\n` +
    `Call-ID: ${cid}\r\nCSeq: ${n} OPTIONS\r\nContent-Length: 0\r\n\r\n`;
  const from = client.msgs.length;
  await client.send(Buffer.from(msg, "latin1"), port);
  const r = await client.waitFor((m) => m.sip.h("call-id") === cid && m.sip.status >= 200, ms, from);
  return r ? r.sip.status : 0;
}

/**
 * Reads the running server's core counters: sends SIGUSR2 to the server process and waits for the
 * "stats" line it logs (host/node: Host.logStats). `srv` comes from startServer (harness.mjs).
 */
export async function readStats(srv, ms = 3000) {
  const from = srv.logs.length;
  srv.child.kill("SIGUSR2");
  const deadline = Date.now() + ms;
  for (;;) {
    for (let i = from; i < srv.logs.length; i++) {
      const o = srv.logs[i];
      if (o.msg === "stats" && o.signal === "SIGUSR2") return o;
    }
    if (Date.now() > deadline) throw new Error("no stats line after SIGUSR2");
    await sleep(20);
  }
}

/** Polls the stats until pred(stats) holds or ms pass; returns the last stats read. */
export async function statsWhen(srv, pred, ms, every = 250) {
  const deadline = Date.now() + ms;
  let s = await readStats(srv);
  while (!pred(s) && Date.now() < deadline) {
    await sleep(every);
    s = await readStats(srv);
  }
  return s;
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** True while the CPU benchmark (bench/sipp.mjs) runs on this machine: then only small samples run. */
export function benchRunning() {
  try {
    execFileSync("pgrep", ["-f", "bench/sipp.mjs"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/** A REGISTER (or de-REGISTER with Contact: * and Expires: 0) from `client` for `aor`. */
export function registerMsg({ client, aor, ruri, contact, expires, callId, cseq = 1, branch }) {
  return Buffer.from(`REGISTER ${ruri} SIP/2.0\r\n` +
    `Via: SIP/2.0/UDP 127.0.0.1:${client.port};rport;branch=z9hG4bK${branch}\r\n` +
    `Max-Forwards: 70\r\nFrom: <${aor}>;tag=r${branch}\r\nTo: <${aor}>\r\n` +
    `Call-ID: ${callId}\r\nCSeq: ${cseq} REGISTER\r\nContact: ${contact}\r\nExpires: ${expires}\r\n` +
    `Content-Length: 0\r\n\r\n`, "latin1");
}
