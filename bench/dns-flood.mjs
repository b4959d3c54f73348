#!/usr/bin/env node
// The figure of issue 18: a flood of requests naming unresolvable hosts (a DNS server that never
// answers) at --rate per second for --secs, while an OPTIONS to the server itself every --ping-ms must
// be answered (zero unanswered, p99 under 50 ms). The run itself is tests/lib/dns-flood.mjs.
//
//   npm run dnsflood -- [--host node|native|both] [--secs 60] [--rate 1000] [--ping-ms 20]
//                       [--method INVITE|OPTIONS] [--native-bin FILE] [--resolv-conf] [--json FILE]
//
// --native-bin runs another native binary (e.g. one built from an older commit) for a before-figure.
// --resolv-conf makes the machine's resolver the silent server instead of giving dns.servers: this
// process re-runs itself under `unshare -m` with /etc/resolv.conf bind-mounted to "nameserver
// 127.0.0.53" and the silent server on 127.0.0.53:53 (root only). That is how a host that ignores
// dns.servers (main before the resolver, using getaddrinfo) meets the same silent server.
// Prints one line per host and a side-by-side table; --json writes the figures.
import { spawnSync } from "node:child_process";
import { writeFileSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { flood } from "../tests/lib/dns-flood.mjs";
import { DnsServer } from "../tests/lib/dns-server.mjs";

const argv = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : dflt;
};
const secs = Number(opt("--secs", 60));
const rate = Number(opt("--rate", 1000));
const pingMs = Number(opt("--ping-ms", 20));
const method = opt("--method", "INVITE");
const which = opt("--host", "both");
const exe = opt("--native-bin", undefined);
const json = opt("--json", undefined);
const resolvConf = argv.includes("--resolv-conf");
const hosts = which === "both" ? ["native", "node"] : [which];
if (!hosts.every((h) => h === "node" || h === "native") || !(secs > 0) || !(rate > 0) || !(pingMs > 0)) {
  console.error("usage: node bench/dns-flood.mjs [--host node|native|both] [--secs N] [--rate N] [--ping-ms N] [--method INVITE|OPTIONS] [--native-bin FILE] [--resolv-conf] [--json FILE]");
  process.exit(2);
}

if (resolvConf && !process.env.SIPLING_DNSFLOOD_NS) {
  // re-run in a mount namespace whose /etc/resolv.conf names the silent server
  const dir = mkdtempSync(join(tmpdir(), "sipling-dnsflood-"));
  const conf = join(dir, "resolv.conf");
  writeFileSync(conf, "nameserver 127.0.0.53\n");
  const self = fileURLToPath(import.meta.url);
  const r = spawnSync("unshare", ["-m", "sh", "-c", `mount --bind "$0" /etc/resolv.conf && exec "$@"`, conf, process.execPath, self, ...argv],
    { stdio: "inherit", env: { ...process.env, SIPLING_DNSFLOOD_NS: "1" } });
  process.exit(r.status ?? 1);
}

const results = [];
for (const host of hosts) {
  const dns = resolvConf ? await DnsServer.open({ address: "127.0.0.53", port: 53, other: "silent" }) : undefined;
  const r = await flood({ host, secs, rate, pingMs, method, exe: host === "native" ? exe : undefined, resolvConf, dns });
  dns?.close();
  const dnsStats = r.stats ? Object.fromEntries(Object.entries(r.stats).filter(([k]) => k.startsWith("dns"))) : "no stats line within 15 s";
  console.log(JSON.stringify({ ...r, stats: undefined, dns: dnsStats }));
  results.push(r);
}

const row = (label, f) => `${label.padEnd(34)}${results.map((r) => String(f(r)).padStart(14)).join("")}`;
const s = (r, k) => (typeof r.stats?.[k] === "number" ? r.stats[k] : r.stats ? "-" : "stalled");
console.log(`\n${secs} s at ${rate} ${method}/s naming unresolvable hosts (silent DNS${resolvConf ? " via /etc/resolv.conf" : ""}), OPTIONS every ${pingMs} ms${exe ? `; native: ${exe}` : ""}`);
console.log(row("", (r) => r.host));
console.log(row("requests sent", (r) => r.sent));
console.log(row("DNS queries seen by the server", (r) => r.queries));
console.log(row("lookups started", (r) => s(r, "dnsLookups")));
console.log(row("dropped: in-flight bound", (r) => s(r, "dnsDroppedInFlight")));
console.log(row("dropped: per-source bound", (r) => s(r, "dnsDroppedPerSource")));
console.log(row("dropped: waiting bound", (r) => s(r, "dnsDroppedWaiting")));
console.log(row("dropped: negative cache hits", (r) => s(r, "dnsNegativeHits")));
console.log(row("dropped: their lookup failed", (r) => s(r, "dnsDroppedFailed")));
console.log(row("'cannot resolve' log lines", (r) => r.warnings));
console.log(row("OPTIONS sent", (r) => r.pings));
console.log(row("OPTIONS answered", (r) => r.answered));
console.log(row("OPTIONS unanswered", (r) => r.unanswered));
console.log(row("p50 ms", (r) => r.p50));
console.log(row("p99 ms", (r) => r.p99));
console.log(row("max ms", (r) => r.max));
console.log(row("RSS start kB", (r) => r.rssStartKb));
console.log(row("RSS end kB", (r) => r.rssEndKb));
if (json) writeFileSync(json, JSON.stringify(results, null, 2) + "\n");
