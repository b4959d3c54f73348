// The figure of issue 18, as a function the test (tests/hosts/dns.test.mjs) and the bench
// (bench/dns-flood.mjs) share: a trusted source floods requests whose Request-URIs name unique hosts
// that never resolve (a DNS server that reads every query and answers none), while a second source
// sends an OPTIONS to the server itself every `pingMs`; every OPTIONS must be answered, quickly.
//
//   127.0.0.4   the flooding source (access.trusted: its requests are relayed, so their names are looked up)
//   127.0.0.2   the liveness prober (a stranger: an OPTIONS to the server itself is answered by the core)
//   dns         tests/lib/dns-server.mjs, silent; given as dns.servers (or, with `resolvConf`, the
//               machine's resolver is that server: see bench/dns-flood.mjs --resolv-conf)
//
// The server runs on CPU 0 and this process on CPU 1 when taskset is there (2 cores). The server's
// counters come from its stats line (SIGUSR2), its memory from /proc.
import { createSocket } from "node:dgram";
import { spawnSync } from "node:child_process";
import { cpus } from "node:os";
import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import { startServer } from "../integration/harness.mjs";
import { DnsServer } from "./dns-server.mjs";
import { rssKb } from "../../bench/proc.mjs";

const PIN = cpus().length >= 2 && spawnSync("taskset", ["-V"], { stdio: "ignore" }).status === 0;
function pin(pid, cpu) {
  if (PIN) spawnSync("taskset", ["-a", "-pc", String(cpu), String(pid)], { stdio: "ignore" });
}

/** A UDP socket bound to `address` (a port of its own). */
export async function udp(address) {
  const s = createSocket("udp4");
  await new Promise((res, rej) => { s.once("error", rej); s.bind(0, address, () => { s.off("error", rej); res(); }); });
  return s;
}

let seq = 0;
/** An INVITE from `sock` (whose address is `from`) to `ruri`, sent to the server; its Call-ID. */
export function invite(srv, sock, from, ruri, prefix = "dns") {
  const id = `${prefix}${process.pid}x${seq++}`;
  const port = sock.address().port;
  const text = [
    `INVITE ${ruri} SIP/2.0`, `Via: SIP/2.0/UDP ${from}:${port};rport;branch=z9hG4bK-${id}`, "Max-Forwards: 70",
    `From: <sip:alice@${from}>;tag=${id}`, `To: <${ruri}>`, `Call-ID: ${id}`, "CSeq: 1 INVITE",
    `Contact: <sip:alice@${from}:${port}>`, "Content-Length: 0", "", ""].join("\r\n");
  sock.send(text, srv.port, "127.0.0.1");
  return id;
}

/** The p-th percentile (0..100) of sorted numbers, NaN for none. */
export function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

/** The value of `key` in a stats line; throws when the line lacks it (a missing counter is never 0). */
export function stat(line, key) {
  const v = line?.[key];
  if (typeof v !== "number") throw new Error(`the stats line has no "${key}": ${JSON.stringify(line)}`);
  return v;
}

/**
 * Runs one flood; resolves with its figures:
 * { host, secs, rate, sent, pings, answered, unanswered, codes, p50, p99, max, queries, rssStartKb,
 *   rssEndKb, stats (the server's stats line after the flood; null when none came within 15 s: stalled),
 *   warnings (log lines naming a failed name) }.
 * `dns`: a DnsServer to use (else a silent one is opened on 127.0.0.1 and closed at the end);
 * `config`: more server configuration; `exe`: another native binary; `resolvConf`: no dns.servers
 * (the machine's resolver, which the caller has made silent).
 */
export async function flood({ host, secs = 10, rate = 1000, pingMs = 20, method = "INVITE", exe, resolvConf = false, dns, config = {}, grace = 2000 } = {}) {
  const ownDns = !dns;
  dns ??= await DnsServer.open({ other: "silent" });
  const srv = await startServer({
    host, exe, trace: false, logLevel: "info", tcp: false,
    config: { access: { trusted: ["127.0.0.4/32"] }, ...(resolvConf ? {} : { dns: { servers: [dns.server] } }), ...config },
  });
  const pid = srv.child.pid;
  pin(pid, 0);
  pin(process.pid, 1);
  const flooder = await udp("127.0.0.4");
  const prober = await udp("127.0.0.2");
  const run = `${process.pid.toString(36)}${Date.now().toString(36)}`;
  let sent = 0;
  flooder.on("message", () => {}); // 100 Trying, 408s: read and ignored
  const pings = new Map(); // Call-ID -> send time
  const rtts = [];
  const codes = {};
  prober.on("message", (m) => {
    const text = m.toString("latin1");
    const code = Number(/^SIP\/2\.0 (\d{3})/.exec(text)?.[1] ?? 0);
    if (code < 200) return;
    const callId = /\r\nCall-ID: *([^\r]+)/i.exec(text)?.[1];
    const t0 = pings.get(callId);
    if (t0 === undefined) return;
    pings.delete(callId);
    rtts.push(performance.now() - t0);
    codes[code] = (codes[code] ?? 0) + 1;
  });
  const request = (ruri, callId, fromAddr, port) => [
    `${method} ${ruri} SIP/2.0`,
    `Via: SIP/2.0/UDP ${fromAddr}:${port};rport;branch=z9hG4bK-${callId}`,
    "Max-Forwards: 70", `From: <sip:flood@127.0.0.4>;tag=${callId}`, `To: <${ruri}>`, `Call-ID: ${callId}`,
    `CSeq: 1 ${method}`, `Contact: <sip:flood@${fromAddr}:${port}>`, "Content-Length: 0", "", ""].join("\r\n");
  const option = (callId) => [
    `OPTIONS sip:127.0.0.1:${srv.port} SIP/2.0`,
    `Via: SIP/2.0/UDP 127.0.0.2:${prober.address().port};rport;branch=z9hG4bK-${callId}`,
    "Max-Forwards: 70", `From: <sip:probe@127.0.0.2>;tag=${callId}`, `To: <sip:127.0.0.1:${srv.port}>`, `Call-ID: ${callId}`,
    "CSeq: 1 OPTIONS", "Content-Length: 0", "", ""].join("\r\n");

  await sleep(300);
  const rssStartKb = rssKb(pid);
  const start = performance.now();
  const end = start + secs * 1000;
  let nPings = 0;
  // the flood: `rate` per second in ticks of 10 ms, catching up on late ticks
  const floodDone = (async () => {
    while (performance.now() < end) {
      const due = Math.floor(((performance.now() - start) / 1000) * rate);
      while (sent < due) {
        const id = `f${run}x${sent}`;
        flooder.send(request(`sip:x@n${sent}-${run}.invalid-test`, id, "127.0.0.4", flooder.address().port), srv.port, "127.0.0.1");
        sent++;
      }
      await sleep(10);
    }
  })();
  const probeDone = (async () => {
    while (performance.now() < end) {
      const id = `p${run}x${nPings++}`;
      pings.set(id, performance.now());
      prober.send(option(id), srv.port, "127.0.0.1");
      await sleep(pingMs);
    }
  })();
  await Promise.all([floodDone, probeDone]);
  const rssEndKb = rssKb(pid);
  await sleep(grace); // the last probes' answers
  const mark = srv.logs.length;
  srv.child.kill("SIGUSR2");
  // a stalled server logs no stats line: null, for the caller to report (a test asserts on it)
  const stats = await srv.waitFor((o) => o.msg === "stats" && srv.logs.indexOf(o) >= mark, 15_000, "the stats line").catch(() => null);
  const warnings = srv.logs.filter((o) => o.msg === "cannot resolve destination; dropped").length;
  await srv.stop();
  flooder.close();
  prober.close();
  const queries = dns.count();
  if (ownDns) dns.close();
  const sorted = rtts.slice().sort((a, b) => a - b);
  const r2 = (x) => Math.round(x * 100) / 100;
  return {
    host, secs, rate, sent, pings: nPings, answered: rtts.length, unanswered: nPings - rtts.length, codes,
    p50: r2(percentile(sorted, 50)), p99: r2(percentile(sorted, 99)), max: r2(sorted.at(-1) ?? NaN),
    queries, rssStartKb, rssEndKb, stats, warnings,
  };
}
