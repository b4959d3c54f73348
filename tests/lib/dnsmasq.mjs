// dnsmasq (Debian's dnsmasq-base, tools/setup.mjs) as a real DNS server for the RFC 3263 tests: on
// 127.0.0.1 at a port of its own, from a config file of the test's lines only (`srv-host=`,
// `naptr-record=`, `host-record=`...), with --no-resolv --no-hosts: it answers its own records and
// nothing else, never the machine's resolver. Every query it logs (--log-queries) is kept, so a test
// can count what the host asked.
//
//   const dns = await Dnsmasq.start(["srv-host=_sip._udp.a.test,t1.test,5070,10,0", "host-record=t1.test,127.0.0.2"]);
//   config: { dns: { servers: [dns.server] } }   ...   dns.count("SRV", "_sip._udp.a.test")
import { spawn } from "node:child_process";
import { createSocket } from "node:dgram";
import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const BIN = "/usr/sbin/dnsmasq";

/** A UDP port free on 127.0.0.1 now. */
async function freeUdpPort() {
  const s = createSocket("udp4");
  await new Promise((res) => s.bind(0, "127.0.0.1", res));
  const { port } = s.address();
  await new Promise((res) => s.close(res));
  return port;
}

export class Dnsmasq {
  /** @param {string[]} lines config lines @param {{ ttl?: number }} [o] ttl: local-ttl (s) of its records */
  static async start(lines, { ttl = 60 } = {}) {
    if (!existsSync(BIN)) throw new Error(`${BIN} missing (tools/setup.mjs installs Debian's dnsmasq-base)`);
    const dir = mkdtempSync(join(tmpdir(), "sipling-dnsmasq-"));
    const conf = join(dir, "dnsmasq.conf");
    // local=/test/: the test's names are answered from the test's lines alone, a name or type it has
    // none of with NXDOMAIN or an empty answer, as an authoritative server would (not REFUSED, which
    // c-ares takes for a server failure and asks again)
    writeFileSync(conf, [`local-ttl=${ttl}`, "local=/test/", ...lines, ""].join("\n"));
    const port = await freeUdpPort();
    const child = spawn(BIN, [
      "--keep-in-foreground", `--conf-file=${conf}`, "--no-resolv", "--no-hosts", "--no-poll",
      `--port=${port}`, "--listen-address=127.0.0.1", "--bind-interfaces", "--pid-file=", "--user=root",
      "--log-queries", "--log-facility=-", "--cache-size=0",
    ], { stdio: ["ignore", "pipe", "pipe"] });
    const d = new Dnsmasq(child, port);
    child.stderr.setEncoding("utf8");
    child.stdout.setEncoding("utf8");
    let buf = "";
    const onData = (s) => {
      buf += s;
      let i;
      while ((i = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        d.log.push(line);
        // "dnsmasq: query[SRV] _sip._udp.a.test from 127.0.0.1"
        const m = /query\[(\w+)\] (\S+) from/.exec(line);
        if (m) d.queries.push({ type: m[1], name: m[2].toLowerCase(), at: Date.now() });
      }
    };
    child.stderr.on("data", onData);
    child.stdout.on("data", onData);
    const exited = new Promise((res) => child.once("exit", (code) => res(code)));
    d.exited = exited;
    // ready once it answers a query (a version.bind CHAOS TXT query: it always answers one)
    const probe = createSocket("udp4");
    try {
      for (let i = 0; i < 100; i++) {
        const q = Buffer.from("abcd01000001000000000000076d6972726f72730474657374000001000100", "hex");
        const got = new Promise((res) => { probe.once("message", () => res(true)); setTimeout(() => res(false), 50); });
        probe.send(q, port, "127.0.0.1");
        if (await got) return d;
        if (child.exitCode !== null) break;
      }
    } finally {
      probe.close();
    }
    child.kill();
    throw new Error(`dnsmasq did not start: ${d.log.join("\n")}`);
  }

  constructor(child, port) {
    this.child = child;
    this.port = port;
    this.server = `127.0.0.1:${port}`;
    /** @type {string[]} */
    this.log = [];
    /** @type {{ type: string, name: string, at: number }[]} */
    this.queries = [];
  }

  /** Queries of `type` (A, AAAA, SRV, NAPTR) for `name`. */
  count(type, name) {
    return this.queries.filter((q) => q.type === type && q.name === name).length;
  }

  async close() {
    if (this.child.exitCode === null) this.child.kill();
    await this.exited;
  }
}
