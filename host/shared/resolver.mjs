// @ts-check
// Name resolution of the Node host and the firmware bridge: the core names a host to send to (a
// transmit whose peer family is 0, docs/ABI.md "Peer record"); the host resolves it without ever
// blocking its event loop and without growing. The native host's host/c/resolve.c is the same design
// with the same bounds (host/shared/config.json "limits", passed in as `limits`):
//
//   a message to a name   cached answer        -> sent now
//                         cached failure       -> dropped (dnsNegativeHits)
//                         lookup in flight     -> held until it ends (at most dnsWaitPerName per name,
//                                                 dnsWaitBytes in all; beyond: dropped)
//                         new name             -> a lookup, if fewer than dnsInFlight are in flight and
//                                                 fewer than dnsPerSource were started by the messages
//                                                 of the source whose input is being processed (the
//                                                 core's timers, i.e. retransmissions, count as one
//                                                 source of their own); else dropped
//   cache                 answers for their DNS TTL clamped to dnsMinTtl..dnsMaxTtl, failures for
//                         dnsNegativeTtl; at most dnsCache names, the least recently used evicted
//                         (a Map kept in use order)
//
// A dropped message is counted, and its transaction retransmits it (the retransmission meets the same
// rules) or times out, as on any lost datagram. A failed name is logged once per failed lookup (warn),
// so at most once per dnsNegativeTtl; per-message drops only at debug.
//
// Lookups go through node:dns's Resolver (c-ares on the event loop, no thread pool: dns.lookup queues
// behind libuv's four getaddrinfo threads, which a silent DNS server holds for its timeouts, and every
// fs operation with them), asking dns.servers or the system's (/etc/resolv.conf): one A or AAAA query
// after the transport's family, sent twice (c-ares waits `timeoutMs` for the first and twice that for
// the second), no search domains. The hosts file is read once at start, so names like localhost answer
// without DNS, as getaddrinfo would.
import { Resolver as DnsResolver } from "node:dns";
import { readFileSync } from "node:fs";
import { isIP } from "node:net";
import { performance } from "node:perf_hooks";

/** Names read from the hosts file at most (it is local, but bounded like everything else). */
const HOSTS_MAX = 4096;
/** The longest name a lookup is started for (RFC 1035 2.3.4, without the trailing dot). */
const NAME_MAX = 253;
/** The source of the transmits the core makes on its timers (retransmissions): never an address. */
const TIMERS = "timers";

/**
 * @typedef {{ dnsCache: number, dnsNegativeTtl: number, dnsMinTtl: number, dnsMaxTtl: number, dnsInFlight: number,
 *   dnsPerSource: number, dnsWaitPerName: number, dnsWaitBytes: number }} Limits
 * @typedef {(family: 4 | 6, addr: string, later: boolean) => void} Deliver
 *   sends a message to the resolved address; `later`: called after the lookup, not from within send()
 * @typedef {{ family: 0 | 4 | 6, addr: string, until: number }} Entry  family 0: a failure
 * @typedef {{ deliver: Deliver, bytes: number }} Waiting
 * @typedef {{ waiting: Waiting[], source: string | null }} Pending  source: null for a hosts-file answer
 * @typedef {{ resolve4: Function, resolve6: Function, cancel: () => void }} Dns
 * @typedef {(level: "warn" | "debug", msg: string, fields: Record<string, unknown>) => void} Log
 */

/** The counters of the stats line, in its order (the native host logs the same names). */
export const RESOLVER_STATS = /** @type {const} */ ([
  "dnsLookups", "dnsAnswers", "dnsFailures", "dnsCacheHits", "dnsNegativeHits", "dnsHeld", "dnsDroppedInFlight",
  "dnsDroppedPerSource", "dnsDroppedWaiting", "dnsDroppedFailed", "dnsDroppedName", "dnsInFlight", "dnsWaiting",
  "dnsWaitingBytes", "dnsCached",
]);

/** The hosts file as name -> { v4, v6 } (the first address of each family, as getaddrinfo takes it). */
export function readHosts(file) {
  /** @type {Map<string, { v4?: string, v6?: string }>} */
  const hosts = new Map();
  let text = "";
  try {
    text = readFileSync(file, "latin1");
  } catch {
    return hosts; // no hosts file: DNS only
  }
  for (const line of text.split("\n")) {
    const [addr, ...names] = line.replace(/#.*/, "").trim().split(/\s+/);
    const fam = isIP(addr ?? "");
    if (fam === 0) continue;
    for (const n of names) {
      const key = n.toLowerCase();
      const e = hosts.get(key) ?? {};
      if (!e.v4 && !e.v6 && hosts.size >= HOSTS_MAX) return hosts;
      if (fam === 4) e.v4 ??= addr;
      else e.v6 ??= addr;
      hosts.set(key, e);
    }
  }
  return hosts;
}

export class Resolver {
  /**
   * @param {{ servers?: readonly string[], timeoutMs: number, limits: Limits, log: Log, hostsFile?: string,
   *   dns?: Dns, now?: () => number }} o
   *   servers: dns.servers as given (IP, IP:port, [IPv6]:port); none: the system's. `dns` and `now`
   *   replace node:dns and the clock (tests).
   */
  constructor({ servers, timeoutMs, limits, log, hostsFile = "/etc/hosts", dns, now }) {
    this.limits = limits;
    this.log = log;
    this.now = now ?? (() => performance.now());
    if (dns) this.dns = dns;
    else {
      const r = new DnsResolver({ timeout: timeoutMs, tries: 2 });
      if (servers?.length) r.setServers([...servers]);
      this.dns = r;
    }
    this.hosts = readHosts(hostsFile);
    /** @type {Map<string, Entry>} key "4|name" / "6|name", least recently used first */
    this.cache = new Map();
    /** @type {Map<string, Pending>} */
    this.pending = new Map();
    /** @type {Map<string, number>} lookups in flight per source */
    this.bySource = new Map();
    this.waitingBytes = 0;
    this.waitingCount = 0;
    this.source = "";
    this.closed = false;
    /** @type {Record<string, number>} */
    this.counts = Object.fromEntries(RESOLVER_STATS.map((k) => [k, 0]));
  }

  /**
   * The source address of the input being processed (the lookups of its transmits count against it),
   * or "" for the core's timers (their lookups count against one source of their own).
   * @param {string} source
   */
  setSource(source) {
    this.source = source;
  }

  /**
   * A message of `bytes` bytes to `name` on a transport of `family`: `deliver` is called now (a cached
   * or hosts-file answer, or an IP literal), after the lookup, or never (dropped: bounded, counted).
   * @param {string} name @param {4 | 6} family @param {number} bytes @param {Deliver} deliver
   */
  send(name, family, bytes, deliver) {
    if (this.closed) return;
    let n = name.toLowerCase();
    if (n.startsWith("[") && n.endsWith("]")) n = n.slice(1, -1);
    else if (n.endsWith(".")) n = n.slice(0, -1);
    const lit = isIP(n);
    if (lit) return deliver(/** @type {4 | 6} */ (lit), n, false);
    if (n.length === 0 || n.length > NAME_MAX) return this.drop("dnsDroppedName", name, "not a host name");
    const key = `${family}|${n}`;
    const now = this.now();
    const hit = this.cache.get(key);
    if (hit) {
      this.cache.delete(key);
      if (hit.until > now) {
        this.cache.set(key, hit); // most recently used: last
        if (hit.family === 0) return this.drop("dnsNegativeHits", name, "failed recently (negative cache)");
        this.counts.dnsCacheHits++;
        return deliver(hit.family, hit.addr, false);
      }
    }
    const p = this.pending.get(key);
    if (p) {
      if (this.hold(p, bytes, deliver)) this.counts.dnsHeld++;
      else this.drop("dnsDroppedWaiting", name, "too many messages waiting");
      return;
    }
    const L = this.limits;
    if (this.pending.size >= L.dnsInFlight) return this.drop("dnsDroppedInFlight", name, "too many lookups in flight");
    const src = this.source || TIMERS;
    if ((this.bySource.get(src) ?? 0) >= L.dnsPerSource) return this.drop("dnsDroppedPerSource", name, "too many lookups for one source");
    const known = this.hosts.get(n);
    const fromHosts = family === 4 ? known?.v4 : known?.v6;
    /** @type {Pending} */
    const q = { waiting: [], source: fromHosts ? null : src };
    if (!this.hold(q, bytes, deliver)) return this.drop("dnsDroppedWaiting", name, "too many messages waiting");
    this.counts.dnsLookups++;
    this.pending.set(key, q);
    if (fromHosts) { // answered at once, cached like an answer (the file is read once: its longest TTL)
      this.answer(key, n, family, fromHosts, L.dnsMaxTtl * 1000, null, false);
      return;
    }
    this.bySource.set(src, (this.bySource.get(src) ?? 0) + 1);
    /** @param {NodeJS.ErrnoException | null} err @param {{ address: string, ttl: number }[]} rec */
    const done = (err, rec) => {
      if (err || !rec?.length) this.answer(key, n, family, "", 0, err?.code ?? "ENODATA", true);
      else this.answer(key, n, family, rec[0].address, rec[0].ttl * 1000, null, true);
    };
    if (family === 4) this.dns.resolve4(n, { ttl: true }, done);
    else this.dns.resolve6(n, { ttl: true }, done);
  }

  /** @param {Pending} p @param {number} bytes @param {Deliver} deliver */
  hold(p, bytes, deliver) {
    if (p.waiting.length >= this.limits.dnsWaitPerName || this.waitingBytes + bytes > this.limits.dnsWaitBytes) return false;
    p.waiting.push({ deliver, bytes });
    this.waitingBytes += bytes;
    this.waitingCount++;
    return true;
  }

  /**
   * A lookup ended: cache its result, then send or drop what waited for it.
   * @param {string} key @param {string} name @param {4 | 6} family @param {string} addr @param {number} ttlMs
   * @param {string | null} error @param {boolean} later  false: from within send() (the hosts file)
   */
  answer(key, name, family, addr, ttlMs, error, later) {
    const p = this.pending.get(key);
    if (!p || this.closed) return;
    this.pending.delete(key);
    if (p.source !== null) {
      const k = (this.bySource.get(p.source) ?? 1) - 1;
      if (k > 0) this.bySource.set(p.source, k);
      else this.bySource.delete(p.source);
    }
    for (const w of p.waiting) this.waitingBytes -= w.bytes;
    this.waitingCount -= p.waiting.length;
    const L = this.limits;
    const ok = error === null;
    const ttl = ok ? Math.min(L.dnsMaxTtl * 1000, Math.max(L.dnsMinTtl * 1000, ttlMs)) : L.dnsNegativeTtl * 1000;
    this.cache.delete(key);
    this.cache.set(key, { family: ok ? family : 0, addr, until: this.now() + ttl });
    if (this.cache.size > L.dnsCache) this.cache.delete(/** @type {string} */ (this.cache.keys().next().value));
    if (ok) {
      this.counts.dnsAnswers++;
      for (const w of p.waiting) w.deliver(family, addr, later);
      return;
    }
    this.counts.dnsFailures++;
    this.counts.dnsDroppedFailed += p.waiting.length;
    this.log("warn", "cannot resolve destination; dropped", { name, family, error, messages: p.waiting.length });
  }

  /** @param {string} counter @param {string} name @param {string} why */
  drop(counter, name, why) {
    this.counts[counter]++;
    this.log("debug", "transmit to a name dropped", { name, why });
  }

  /** The counters of the stats line, with the current occupancy. */
  stats() {
    return {
      ...this.counts, dnsInFlight: this.pending.size, dnsWaiting: this.waitingCount, dnsWaitingBytes: this.waitingBytes,
      dnsCached: this.cache.size,
    };
  }

  /** Cancels every lookup; nothing is sent afterwards. */
  close() {
    this.closed = true;
    this.dns.cancel();
    this.pending.clear();
    this.bySource.clear();
    this.waitingBytes = 0;
    this.waitingCount = 0;
  }
}
