// A DNS server for the tests and benches, on loopback: never the machine's resolver. One UDP socket;
// every query is recorded ({ name, type, at }); a name in `answers` gets its A/AAAA records (an empty
// answer, NODATA, for a type it has none of); any other name gets what `other` says: "silent" (the
// query is read and ignored, a server that never answers), "nxdomain" or "servfail".
//
//   const dns = await DnsServer.open({ answers: { "sink.test": { a: ["127.0.0.9"], ttl: 60 } } });
//   config: { dns: { servers: [dns.server] } }   ...   dns.count("sink.test")
//
// Only the question is parsed (an EDNS record in the additional section is ignored and not echoed).
import { createSocket } from "node:dgram";
import { isIP } from "node:net";

const TYPE = { 1: "A", 28: "AAAA" };
const RCODE = { nxdomain: 3, servfail: 2 };

/** The question of a query: { id, name (lower case, no trailing dot), qtype, end (offset after it) }, or null. */
export function parseQuery(b) {
  if (b.length < 17 || (b[2] & 0x80) !== 0 || b.readUInt16BE(4) !== 1) return null;
  const labels = [];
  let o = 12;
  for (;;) {
    const n = b[o++];
    if (n === undefined || n > 63) return null;
    if (n === 0) break;
    if (o + n > b.length) return null;
    labels.push(b.toString("latin1", o, o + n));
    o += n;
  }
  if (o + 4 > b.length) return null;
  return { id: b.readUInt16BE(0), name: labels.join(".").toLowerCase(), qtype: b.readUInt16BE(o), end: o + 4 };
}

/** IPv6 text to 16 bytes. */
function ip6(addr) {
  const [head, tail] = addr.includes("::") ? addr.split("::") : [addr, null];
  const h = head ? head.split(":") : [];
  const t = tail ? tail.split(":") : [];
  const groups = tail === null ? h : [...h, ...Array(8 - h.length - t.length).fill("0"), ...t];
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => out.writeUInt16BE(parseInt(g || "0", 16), i * 2));
  return out;
}

/** A response to query `q` (bytes `b`): the question echoed, `rdatas` as answers of its type. */
function reply(b, q, rcode, rdatas, ttl) {
  const head = Buffer.alloc(12);
  head.writeUInt16BE(q.id, 0);
  head.writeUInt16BE(0x8180 | (b[2] & 0x01) << 8 | rcode, 2); // QR, RD copied, RA
  head.writeUInt16BE(1, 4);
  head.writeUInt16BE(rdatas.length, 6);
  const answers = rdatas.map((rd) => {
    const a = Buffer.alloc(12 + rd.length);
    a.writeUInt16BE(0xc00c, 0); // the name: a pointer to the question's
    a.writeUInt16BE(q.qtype, 2);
    a.writeUInt16BE(1, 4); // IN
    a.writeUInt32BE(ttl, 6);
    a.writeUInt16BE(rd.length, 10);
    rd.copy(a, 12);
    return a;
  });
  return Buffer.concat([head, b.subarray(12, q.end), ...answers]);
}

export class DnsServer {
  /**
   * @param {{ address?: string, port?: number, answers?: Record<string, { a?: string[], aaaa?: string[], ttl?: number }>,
   *           other?: "silent" | "nxdomain" | "servfail" }} o
   */
  static async open({ address = "127.0.0.1", port = 0, answers = {}, other = "silent" } = {}) {
    const sock = createSocket(isIP(address) === 6 ? "udp6" : "udp4");
    await new Promise((res, rej) => { sock.once("error", rej); sock.bind(port, address, () => { sock.off("error", rej); res(); }); });
    return new DnsServer(sock, answers, other);
  }

  constructor(sock, answers, other) {
    this.sock = sock;
    this.address = sock.address().address;
    this.port = sock.address().port;
    /** The dns.servers value that names this server. */
    this.server = isIP(this.address) === 6 ? `[${this.address}]:${this.port}` : `${this.address}:${this.port}`;
    this.answers = new Map(Object.entries(answers).map(([k, v]) => [k.toLowerCase(), v]));
    this.other = other;
    /** Every query: { name, type ("A", "AAAA" or the number), at (ms, Date.now()) }. */
    this.queries = [];
    sock.on("message", (b, rinfo) => {
      const q = parseQuery(b);
      if (!q) return;
      this.queries.push({ name: q.name, type: TYPE[q.qtype] ?? q.qtype, at: Date.now() });
      const rec = this.answers.get(q.name);
      let out = null;
      if (rec) {
        const list = q.qtype === 1 ? rec.a ?? [] : q.qtype === 28 ? rec.aaaa ?? [] : [];
        const rd = list.map((x) => (q.qtype === 1 ? Buffer.from(x.split(".").map(Number)) : ip6(x)));
        out = reply(b, q, 0, rd, rec.ttl ?? 60);
      } else if (this.other !== "silent") {
        out = reply(b, q, RCODE[this.other], [], 0);
      }
      if (out) sock.send(out, rinfo.port, rinfo.address);
    });
  }

  /** Queries seen for `name` (any type), or in all. */
  count(name) {
    return name === undefined ? this.queries.length : this.queries.filter((q) => q.name === name.toLowerCase()).length;
  }

  close() { this.sock.close(); }
}
