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
//
// A name sent with no port (the core's port 0, docs/ABI.md "Peer record") is located by RFC 3263 §4:
// NAPTR of the name, its records for the message's transport (SIP+D2U, SIP+D2T, SIPS+D2T; flag "s")
// by order, then preference (§4.1), the dnsTargets first tried in turn for SRV records (without any
// NAPTR for the transport: _sip._udp.NAME, _sip._tcp.NAME, _sips._tcp.NAME); of the SRV records, the
// dnsTargets first by priority (RFC 2782), each target's A or AAAA; without SRV records, the name's
// own A or AAAA on 5060 (5061 for TLS, §4.2). The transport is the one the core chose (the URI's
// transport parameter, TLS for sips; for a sip: URI with neither, the one transportOf chose before the
// core sent it: docs/ABI.md "Transport by DNS"): its Via names it already, so NAPTR picks the SRV name
// for that transport and never changes it. An SRV-only name (no address record of its own) is found
// by its SRV records alone; a name of the hosts file (localhost) is its address there on the default
// port, with no NAPTR or SRV asked of DNS. The entry caches the targets with their priority and weight, for the
// shortest TTL of their address records (node:dns and c-ares 1.18 give no TTL for NAPTR or SRV),
// clamped as any answer. Each message takes a target of RFC 2782's order (priority, then a weighted
// draw) drawn from the seed the core gives (the request's hash, docs/ABI.md "Peer record"): a
// request's messages (retransmissions, CANCEL, ACK) all go to the same target, requests share the
// load by the weights, and a failover branch (target index k+1) takes the next of the same order.
import { Resolver as DnsResolver } from "node:dns";
import { readFileSync } from "node:fs";
import { isIP } from "node:net";
import { performance } from "node:perf_hooks";

/** Names read from the hosts file at most (it is local, but bounded like everything else). */
const HOSTS_MAX = 4096;
/** The longest name a lookup is started for (RFC 1035 2.3.4, without the trailing dot). */
const NAME_MAX = 253;
/** `sel` of send() that asks for every target's address at once (a trunk found by its name: the
 * addresses its calls are taken from), space-separated in `addr`, with no message. */
export const RESOLVE_ALL = -1;
/** The source of the transmits the core makes on its timers (retransmissions): never an address. */
const TIMERS = "timers";
/** Protocol numbers (host/shared/abi.json "protos") with their NAPTR service (RFC 3263 §4.1), SRV prefix
 * (§4.2) and default port (RFC 3261 §19.1.2). */
const SERVICES = {
  1: { naptr: "sip+d2u", srv: "_sip._udp.", port: 5060 },
  2: { naptr: "sip+d2t", srv: "_sip._tcp.", port: 5060 },
  3: { naptr: "sips+d2t", srv: "_sips._tcp.", port: 5061 },
};

/**
 * A NAPTR record that leads to SRV names (flag "s", a replacement) for `service` ("sip+d2u", ...).
 * @param {{ flags: string, service: string, replacement: string }} r @param {string} service
 */
const naptrFor = (r, service) => r.flags.toLowerCase() === "s" && !!r.replacement && r.service.toLowerCase() === service;

/**
 * An SRV record that offers the service: a target other than "." (RFC 2782: none offered) and a port.
 * @param {{ name: string, port: number }} r
 */
const srvOffered = (r) => !!r.name && r.name !== "." && r.port > 0;

/**
 * RFC 2782's order of SRV targets: by priority, and within a priority by weighted random selection
 * (a running sum of the weights, the first target whose sum reaches a random number). The number is
 * drawn from 1..total, not the RFC's 0..total: with 0 the first-listed record wins one extra share
 * (2/5 instead of 1/4 for weights 1:3), and the shares follow the weights exactly; a weight-0 target
 * then comes after the weighted ones of its priority (the RFC's "very small chance" taken as none),
 * and among weight-0 targets alone the pick is uniform. `random` returns [0, 1).
 * @template {{ priority: number, weight: number }} T
 * @param {readonly T[]} targets @param {() => number} random @returns {T[]}
 */
export function srvOrder(targets, random) {
  const out = [];
  const left = [...targets].sort((a, b) => a.priority - b.priority);
  while (left.length) {
    const prio = left[0].priority;
    let n = 0;
    while (n < left.length && left[n].priority === prio) n++;
    let total = 0;
    for (let i = 0; i < n; i++) total += left[i].weight;
    let pick = Math.min(n - 1, Math.floor(random() * n));
    if (total > 0) {
      const r = 1 + Math.min(total - 1, Math.floor(random() * total));
      let sum = 0;
      for (let i = 0; i < n; i++) {
        sum += left[i].weight;
        if (sum >= r) { pick = i; break; }
      }
    }
    out.push(left[pick]);
    left.splice(pick, 1);
  }
  return out;
}

/**
 * A generator of [0, 1) from a 24-bit seed (splitmix32 steps), for srvOrder: the same seed, the same
 * order (host/c/resolve.c draws the same way).
 * @param {number} seed @returns {() => number}
 */
export function seeded(seed) {
  let x = (seed ^ 0x9e3779b9) >>> 0;
  return () => {
    x = (x + 0x9e3779b9) >>> 0;
    let z = x;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    z = (z ^ (z >>> 16)) >>> 0;
    return z / 4294967296;
  };
}

/**
 * @typedef {{ dnsCache: number, dnsNegativeTtl: number, dnsMinTtl: number, dnsMaxTtl: number, dnsInFlight: number,
 *   dnsPerSource: number, dnsWaitPerName: number, dnsWaitBytes: number, dnsTargets: number, dnsTransportTtl: number }} Limits
 * @typedef {(family: 4 | 6, addr: string, later: boolean, port: number) => void} Deliver
 *   sends a message to the resolved address; `later`: called after the lookup, not from within send();
 *   `port`: the port found (RFC 3263), 0 for a name sent with its own port
 * @typedef {{ addr: string, port: number, priority: number, weight: number }} Target
 * @typedef {{ family: 0 | 4 | 6, targets: Target[], until: number }} Entry  family 0: a failure
 * @typedef {{ deliver: Deliver, bytes: number, sel: number }} Waiting
 * @typedef {{ waiting: Waiting[], source: string | null }} Pending  source: null for a hosts-file answer
 * @typedef {{ resolve4: Function, resolve6: Function, resolveNaptr: Function, resolveSrv: Function,
 *   cancel: () => void }} Dns
 * @typedef {(level: "warn" | "debug", msg: string, fields: Record<string, unknown>) => void} Log
 */

/** The counters of the stats line, in its order (the native host logs the same names). */
export const RESOLVER_STATS = /** @type {const} */ ([
  "dnsLookups", "dnsAnswers", "dnsFailures", "dnsCacheHits", "dnsNegativeHits", "dnsHeld", "dnsDroppedInFlight",
  "dnsDroppedPerSource", "dnsDroppedWaiting", "dnsDroppedFailed", "dnsDroppedName", "dnsDroppedNoTarget", "dnsInFlight", "dnsWaiting",
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
    /** @type {Map<string, { err: NodeJS.ErrnoException | null, recs: any[], until: number }>} records' answers, "TYPE|name", oldest first */
    this.answers = new Map();
    /** @type {Map<string, { proto: number, until: number }>} transportAsk's answers, least recently used first */
    this.transports = new Map();
    /** @type {Map<string, ((proto: number) => void)[]>} transportAsk's names being asked, with their waiters */
    this.transportWaits = new Map();
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
   * `proto` 0: the name came with its port (A or AAAA only); else the message's protocol (1 UDP, 2 TCP,
   * 3 TLS) for the RFC 3263 procedure, and `sel` the peer record's +28 (docs/ABI.md): its low byte k
   * the target wanted (0 the first of srvOrder's order, k the k-th: a failover branch; none left:
   * dropped), its top 24 bits the seed of the order's draw (the same for every message of a request).
   * @param {string} name @param {4 | 6} family @param {number} bytes @param {Deliver} deliver
   * @param {number} [proto] @param {number} [sel]
   */
  send(name, family, bytes, deliver, proto = 0, sel = 0) {
    const k = sel & 0xff;
    if (this.closed) return;
    let n = name.toLowerCase();
    if (n.startsWith("[") && n.endsWith("]")) n = n.slice(1, -1);
    else if (n.endsWith(".")) n = n.slice(0, -1);
    const service = proto ? SERVICES[proto] : undefined;
    if (proto && !service) return this.drop("dnsDroppedName", name, "no RFC 3263 service for the transport");
    const lit = isIP(n);
    if (lit) return k === 0 || sel === RESOLVE_ALL ? deliver(/** @type {4 | 6} */ (lit), n, false, service?.port ?? 0) : this.drop("dnsDroppedNoTarget", name, "no further target");
    if (n.length === 0 || n.length > NAME_MAX) return this.drop("dnsDroppedName", name, "not a host name");
    const key = proto ? `${family}|${proto}|${n}` : `${family}|${n}`;
    const now = this.now();
    const hit = this.cache.get(key);
    if (hit) {
      this.cache.delete(key);
      if (hit.until > now) {
        this.cache.set(key, hit); // most recently used: last
        if (hit.family === 0) return this.drop("dnsNegativeHits", name, "failed recently (negative cache)");
        this.counts.dnsCacheHits++;
        return this.deliverTo(hit.family, hit.targets, sel, name, deliver, false);
      }
    }
    const p = this.pending.get(key);
    if (p) {
      if (this.hold(p, bytes, deliver, sel)) this.counts.dnsHeld++;
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
    if (!this.hold(q, bytes, deliver, sel)) return this.drop("dnsDroppedWaiting", name, "too many messages waiting");
    this.counts.dnsLookups++;
    this.pending.set(key, q);
    if (fromHosts) { // answered at once, cached like an answer (the file is read once: its longest TTL)
      this.answer(key, n, family, [{ addr: fromHosts, port: service?.port ?? 0, priority: 0, weight: 0 }], L.dnsMaxTtl * 1000, null, false);
      return;
    }
    this.bySource.set(src, (this.bySource.get(src) ?? 0) + 1);
    /** @param {string | null} err @param {Target[]} targets @param {number} ttlMs */
    const done = (err, targets, ttlMs) => this.answer(key, n, family, targets, ttlMs, err, true);
    if (service) this.locate(n, family, service, done);
    else this.address(n, family, (err, addr, ttlMs) => done(err, [{ addr, port: 0, priority: 0, weight: 0 }], ttlMs));
  }

  /**
   * The first A or AAAA record of `name` and its TTL in ms.
   * @param {string} name @param {4 | 6} family
   * @param {(err: string | null, addr: string, ttlMs: number) => void} cb
   */
  address(name, family, cb) {
    /** @param {NodeJS.ErrnoException | null} err @param {{ address: string, ttl: number }[]} rec */
    const done = (err, rec) => {
      if (err || !rec?.length) cb(err?.code ?? "ENODATA", "", 0);
      else cb(null, rec[0].address, rec[0].ttl * 1000);
    };
    if (family === 4) this.dns.resolve4(name, { ttl: true }, done);
    else this.dns.resolve6(name, { ttl: true }, done);
  }

  /**
   * RFC 3263 §4.1, §4.2 for `name` and one transport's `service`: NAPTR, SRV, the targets' addresses
   * (see the top of this file). `cb` gets the targets that have an address, with the shortest TTL.
   * @param {string} name @param {4 | 6} family @param {{ naptr: string, srv: string, port: number }} service
   * @param {(err: string | null, targets: Target[], ttlMs: number) => void} cb
   */
  locate(name, family, service, cb) {
    /** @param {NodeJS.ErrnoException | null} err @param {{ flags: string, service: string, replacement: string, order: number, preference: number }[]} recs */
    this.records("NAPTR", name, (err, recs) => {
      if (this.closed) return;
      const srvNames = (err ? [] : recs ?? [])
        .filter((r) => naptrFor(r, service.naptr))
        .sort((a, b) => a.order - b.order || a.preference - b.preference)
        .slice(0, this.limits.dnsTargets)
        .map((r) => r.replacement.toLowerCase().replace(/\.$/, ""));
      if (srvNames.length === 0) srvNames.push(service.srv + name); // no NAPTR for it: §4.1's SRV name
      this.srv(name, family, service, srvNames, 0, cb);
    });
  }

  /**
   * The SRV records of srvNames[i] (the next one when it has none), their targets' addresses; without
   * any, the name's own address on the service's port.
   * @param {string} name @param {4 | 6} family @param {{ naptr: string, srv: string, port: number }} service
   * @param {string[]} srvNames @param {number} i @param {(err: string | null, targets: Target[], ttlMs: number) => void} cb
   */
  srv(name, family, service, srvNames, i, cb) {
    if (i >= srvNames.length) { // §4.2: no SRV records, the name's own address
      this.address(name, family, (err, addr, ttlMs) => cb(err, [{ addr, port: service.port, priority: 0, weight: 0 }], ttlMs));
      return;
    }
    /** @param {NodeJS.ErrnoException | null} err @param {{ name: string, port: number, priority: number, weight: number }[]} recs */
    this.records("SRV", srvNames[i], (err, recs) => {
      if (this.closed) return;
      // "." (an empty target) says the service is not offered there (RFC 2782)
      const usable = (err ? [] : recs ?? []).filter(srvOffered);
      if (usable.length === 0) return this.srv(name, family, service, srvNames, i + 1, cb);
      const kept = usable.sort((a, b) => a.priority - b.priority).slice(0, this.limits.dnsTargets);
      /** @type {(Target | null)[]} */
      const found = kept.map(() => null);
      let left = kept.length, ttl = Infinity, error = "ENODATA";
      kept.forEach((r, j) => this.address(r.name.toLowerCase(), family, (e, addr, ttlMs) => {
        if (this.closed) return;
        if (e) error = e;
        else {
          found[j] = { addr, port: r.port, priority: r.priority, weight: r.weight };
          ttl = Math.min(ttl, ttlMs);
        }
        if (--left > 0) return;
        const targets = /** @type {Target[]} */ (found.filter((t) => t !== null));
        cb(targets.length ? null : error, targets, targets.length ? ttl : 0);
      }));
    });
  }

  /**
   * Sends to target k (sel's low byte) of srvOrder's order drawn with seed sel >>> 8 (a name with its
   * own port has one target, k 0).
   * @param {4 | 6} family @param {Target[]} targets @param {number} sel @param {string} name
   * @param {Deliver} deliver @param {boolean} later
   */
  deliverTo(family, targets, sel, name, deliver, later) {
    if (sel === RESOLVE_ALL) return deliver(family, [...new Set(targets.map((t) => t.addr))].join(" "), later, 0);
    const t = (targets.length > 1 ? srvOrder(targets, seeded(sel >>> 8)) : targets)[sel & 0xff];
    if (!t) return this.drop("dnsDroppedNoTarget", name, "no further target"); // a failover past the last
    deliver(family, t.addr, later, t.port);
  }

  /** @param {Pending} p @param {number} bytes @param {Deliver} deliver @param {number} sel */
  hold(p, bytes, deliver, sel) {
    if (p.waiting.length >= this.limits.dnsWaitPerName || this.waitingBytes + bytes > this.limits.dnsWaitBytes) return false;
    p.waiting.push({ deliver, bytes, sel });
    this.waitingBytes += bytes;
    this.waitingCount++;
    return true;
  }

  /** A lookup of `source` ended (null: one that counted against none). @param {string | null} source */
  unsource(source) {
    if (source === null) return;
    const k = (this.bySource.get(source) ?? 1) - 1;
    if (k > 0) this.bySource.set(source, k);
    else this.bySource.delete(source);
  }

  /**
   * A lookup ended: cache its result, then send or drop what waited for it.
   * @param {string} key @param {string} name @param {4 | 6} family @param {Target[]} targets @param {number} ttlMs
   * @param {string | null} error @param {boolean} later  false: from within send() (the hosts file)
   */
  answer(key, name, family, targets, ttlMs, error, later) {
    const p = this.pending.get(key);
    if (!p || this.closed) return;
    this.pending.delete(key);
    this.unsource(p.source);
    for (const w of p.waiting) this.waitingBytes -= w.bytes;
    this.waitingCount -= p.waiting.length;
    const L = this.limits;
    const ok = error === null;
    const ttl = ok ? Math.min(L.dnsMaxTtl * 1000, Math.max(L.dnsMinTtl * 1000, ttlMs)) : L.dnsNegativeTtl * 1000;
    this.cache.delete(key);
    this.cache.set(key, { family: ok ? family : 0, targets: ok ? targets : [], until: this.now() + ttl });
    if (this.cache.size > L.dnsCache) this.cache.delete(/** @type {string} */ (this.cache.keys().next().value));
    if (ok) {
      this.counts.dnsAnswers++;
      for (const w of p.waiting) this.deliverTo(family, targets, w.sel, name, w.deliver, later);
      return;
    }
    this.counts.dnsFailures++;
    this.counts.dnsDroppedFailed += p.waiting.length;
    this.log("warn", "cannot resolve destination; dropped", { name, family, error, messages: p.waiting.length });
  }

  /**
   * The NAPTR or SRV records of `name` (node:dns resolveNaptr, resolveSrv), an answer or a failure shared
   * for limits.dnsMinTtl: the proxy's request to a name asks them to choose its transport (transportOf)
   * and then again to locate the server (locate), and neither asks DNS twice (node:dns gives no TTL for
   * these records, so none is cached longer). At most limits.dnsCache answers kept, the oldest evicted;
   * `cb` is always called after this call returns.
   * @param {"NAPTR" | "SRV"} type @param {string} name @param {(err: NodeJS.ErrnoException | null, recs: any[]) => void} cb
   */
  records(type, name, cb) {
    const key = `${type}|${name}`;
    const e = this.answers.get(key);
    if (e && e.until > this.now()) {
      process.nextTick(cb, e.err, e.recs);
      return;
    }
    if (e) this.answers.delete(key);
    /** @param {NodeJS.ErrnoException | null} err @param {any[]} recs */
    const done = (err, recs) => {
      if (this.answers.size >= this.limits.dnsCache) this.answers.delete(this.answers.keys().next().value);
      this.answers.set(key, { err, recs, until: this.now() + this.limits.dnsMinTtl * 1000 });
      cb(err, recs);
    };
    if (type === "NAPTR") this.dns.resolveNaptr(name, done);
    else this.dns.resolveSrv(name, done);
  }

  /**
   * The transport transportOf chose for `name` within limits.dnsTransportTtl (0 included: none), or
   * -1 when there is none that recent: the proxy's requests to names (docs/ABI.md "Transport by DNS").
   * @param {string} name
   */
  transportCached(name) {
    const n = name.toLowerCase().replace(/\.$/, "");
    const e = this.transports.get(n);
    if (!e) return -1;
    if (e.until <= this.now()) {
      this.transports.delete(n);
      return -1;
    }
    this.transports.delete(n); // most recently used last
    this.transports.set(n, e);
    this.counts.dnsCacheHits++;
    return e.proto;
  }

  /**
   * transportOf for a request the proxy holds until its transport is known: `cb(proto)` later, once,
   * with the answer kept for transportCached (at most limits.dnsCache names, the least recently used
   * evicted); a request for a name already being asked waits for the same answer. The question is a
   * lookup in flight like send()'s: it counts against limits.dnsInFlight and, for the source whose
   * input is being processed (setSource), limits.dnsPerSource. False, and no `cb`, when it cannot be
   * asked (a name of the hosts file or an IP address, limits.dnsWaitPerName requests already waiting for
   * the name, either bound reached, the resolver closed): the caller goes on without, over UDP (whose
   * send() then meets the same bounds).
   * @param {string} name @param {number[]} supported @param {(proto: number) => void} cb
   */
  transportAsk(name, supported, cb) {
    const n = name.toLowerCase().replace(/\.$/, "");
    if (this.closed || isIP(n) || this.hosts.has(n) || n.length === 0 || n.length > NAME_MAX || !supported.some((p) => p >= 1 && p <= 3)) return false;
    const waiting = this.transportWaits.get(n);
    if (waiting) {
      if (waiting.length >= this.limits.dnsWaitPerName) return false;
      waiting.push(cb);
      return true;
    }
    const L = this.limits;
    const src = this.source || TIMERS;
    if (this.pending.size >= L.dnsInFlight || (this.bySource.get(src) ?? 0) >= L.dnsPerSource) return false;
    const key = `t|${n}`;
    this.pending.set(key, { waiting: [], source: src });
    this.bySource.set(src, (this.bySource.get(src) ?? 0) + 1);
    this.transportWaits.set(n, [cb]);
    this.transportOf(n, supported, (proto) => {
      const all = this.transportWaits.get(n) ?? [];
      this.transportWaits.delete(n);
      this.pending.delete(key);
      this.unsource(src);
      if (this.transports.size >= this.limits.dnsCache) this.transports.delete(this.transports.keys().next().value);
      this.transports.set(n, { proto, until: this.now() + this.limits.dnsTransportTtl * 1000 });
      for (const f of all) f(proto);
    });
    return true;
  }

  /**
   * RFC 3263 §4.1's transport for `name` (a trunk found by its name without a port and no transport
   * configured: config.mjs autoTransport), among `supported` (protocol numbers, 1 UDP, 2 TCP, 3 TLS:
   * those the host listens on): the NAPTR record of a supported service (flag "s") first by order, then
   * preference; without one, the first of `supported` in that order (UDP, TCP, TLS: Kamailio's default
   * dns_udp_pref, tcp, tls) whose SRV name has records (§4.1: "a particular transport is supported if
   * the query is successful"); `cb` gets 0 when neither answers (the name's own address: UDP, §4.1) or
   * DNS fails (a NAPTR question that times out or is refused: no SRV asked after it). A name of the hosts file or an IP address asks nothing (0). Not cached: a host asks at
   * its trunk watch's pace (every 30 s, one name per trunk side).
   * @param {string} name @param {number[]} supported @param {(proto: number) => void} cb
   */
  transportOf(name, supported, cb) {
    const n = name.toLowerCase().replace(/\.$/, "");
    const order = [1, 2, 3].filter((p) => supported.includes(p));
    if (this.closed || order.length === 0 || isIP(n) || this.hosts.has(n)) return cb(0);
    this.counts.dnsLookups++;
    /** @param {NodeJS.ErrnoException | null} err @param {{ flags: string, service: string, replacement: string, order: number, preference: number }[]} recs */
    this.records("NAPTR", n, (err, recs) => {
      if (this.closed) return;
      const best = (err ? [] : recs ?? [])
        .filter((r) => order.some((p) => naptrFor(r, SERVICES[p].naptr)))
        .sort((a, b) => a.order - b.order || a.preference - b.preference)[0];
      if (best) return cb(order.find((p) => naptrFor(best, SERVICES[p].naptr)) ?? 0);
      // DNS failing (a timeout, a refusal), not a name without NAPTR records: no SRV questions after it
      // (each would wait out the same timeout), the default at once
      if (err && err.code !== "ENODATA" && err.code !== "ENOTFOUND") return cb(0);
      /** @param {number} i */
      const next = (i) => {
        if (this.closed) return;
        if (i >= order.length) return cb(0);
        /** @param {NodeJS.ErrnoException | null} e @param {{ name: string, port: number }[]} srv */
        this.records("SRV", SERVICES[order[i]].srv + n, (e, srv) => {
          if (!e && (srv ?? []).some(srvOffered)) return cb(order[i]);
          next(i + 1);
        });
      };
      next(0);
    });
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
