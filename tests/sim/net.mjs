// A deterministic multi-node simulator: several sipling cores (the release .wasm, driven through its ABI
// exactly as a host drives it) and simulated user agents (ua.mjs) on a virtual UDP network with virtual
// time. Latency (with jitter, so datagrams reorder), loss and duplication come from one seeded PRNG:
// a run is a function of its seed, replayable, and takes milliseconds of real time for minutes of
// virtual time. Nothing here opens a socket.
//
//   const sim = new Sim({ seed, latency: [5, 40], loss: 0.1, dup: 0.02 });
//   const proxy = new CoreNode(sim, "127.0.0.1:5060", { domains: ["127.0.0.1"], timers: { t1: 500 } });
//   const alice = new Ua(sim, "127.0.0.2:5060", "alice");
//   sim.run(60_000);
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { root } from "../lib/core.mjs";

/** xorshift32, seeded through a splitmix32 step (small seeds would start with small numbers): the
 * simulator's only source of randomness. */
export class Rng {
  constructor(seed) {
    let z = (seed + 0x9e3779b9) >>> 0;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    this.s = (z ^ (z >>> 16)) >>> 0 || 0x9e3779b9;
  }
  u32() {
    let x = this.s;
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    this.s = x >>> 0;
    return this.s;
  }
  /** uniform in [0, 1) */
  next() {
    return this.u32() / 4294967296;
  }
  /** uniform integer in [lo, hi] */
  int(lo, hi) {
    return lo + (this.u32() % (hi - lo + 1));
  }
}

/** A min-heap of { t, seq, fn }: events at equal times run in the order they were scheduled. */
class Queue {
  constructor() {
    this.h = [];
  }
  get size() {
    return this.h.length;
  }
  less(a, b) {
    return a.t < b.t || (a.t === b.t && a.seq < b.seq);
  }
  push(e) {
    const h = this.h;
    h.push(e);
    for (let i = h.length - 1; i > 0; ) {
      const p = (i - 1) >> 1;
      if (!this.less(h[i], h[p])) break;
      [h[i], h[p]] = [h[p], h[i]];
      i = p;
    }
  }
  pop() {
    const h = this.h;
    const top = h[0];
    const last = h.pop();
    if (h.length) {
      h[0] = last;
      for (let i = 0; ; ) {
        const l = 2 * i + 1, r = l + 1;
        let m = i;
        if (l < h.length && this.less(h[l], h[m])) m = l;
        if (r < h.length && this.less(h[r], h[m])) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m], h[i]];
        i = m;
      }
    }
    return top;
  }
}

export class Sim {
  /**
   * @param {{ seed: number, latency?: [number, number], loss?: number, dup?: number }} o
   *   latency: one-way delay range in ms (uniform; datagrams overtake each other within it);
   *   loss, dup: probability that a datagram is lost / delivered twice.
   */
  constructor({ seed, latency = [5, 30], loss = 0, dup = 0 }) {
    this.seed = seed;
    this.rng = new Rng(seed);
    this.latency = latency;
    this.loss = loss;
    this.dup = dup;
    this.now = 0;
    this.seq = 0;
    this.q = new Queue();
    this.nodes = new Map();
    /** a filter (from, to, text) => false drops a datagram on purpose (a scenario's targeted loss) */
    this.filter = null;
    this.log = []; // [t, from, to, first line] of every delivered datagram
    this.counts = { sent: 0, lost: 0, duplicated: 0, delivered: 0, filtered: 0 };
  }

  /** Runs fn at virtual time t (not before now). Returns a handle for cancel(). */
  at(t, fn) {
    const e = { t: Math.max(t, this.now), seq: this.seq++, fn, cancelled: false };
    this.q.push(e);
    return e;
  }
  after(ms, fn) {
    return this.at(this.now + ms, fn);
  }
  cancel(e) {
    if (e) e.cancelled = true;
  }

  attach(addr, node) {
    if (this.nodes.has(addr)) throw new Error(`sim: ${addr} is taken`);
    this.nodes.set(addr, node);
  }

  /** Takes a node off the network (a scenario that puts another in its place). */
  detach(addr) {
    if (!this.nodes.delete(addr)) throw new Error(`sim: nothing at ${addr}`);
  }

  /** Sends a datagram: lost, delayed and possibly duplicated as configured. */
  send(from, to, bytes) {
    this.counts.sent++;
    const text = typeof bytes === "string" ? bytes : bytes.toString("latin1");
    if (this.filter && this.filter(from, to, text) === false) {
      this.counts.filtered++;
      return;
    }
    if (this.rng.next() < this.loss) {
      this.counts.lost++;
      return;
    }
    const copies = this.rng.next() < this.dup ? 2 : 1;
    if (copies === 2) this.counts.duplicated++;
    for (let i = 0; i < copies; i++) {
      const d = this.latency[0] + this.rng.next() * (this.latency[1] - this.latency[0]);
      this.after(d, () => {
        const n = this.nodes.get(to);
        if (!n) return; // nobody there: the datagram vanishes
        this.counts.delivered++;
        if (this.log.length < 100_000) this.log.push([this.now, from, to, text.slice(0, text.indexOf("\r\n"))]);
        n.receive(from, Buffer.from(text, "latin1"));
      });
    }
  }

  /** Runs events until virtual time `until` (ms) or the queue is empty; bounded by maxEvents. */
  run(until, maxEvents = 5_000_000) {
    let n = 0;
    while (this.q.size && this.q.h[0].t <= until) {
      if (++n > maxEvents) throw new Error(`sim: more than ${maxEvents} events before t=${until} (seed ${this.seed})`);
      const e = this.q.pop();
      if (e.cancelled) continue;
      this.now = e.t;
      e.fn();
    }
    this.now = Math.max(this.now, until);
  }

  /** The delivered datagrams as text lines (for a failure message). */
  transcript(last = 60) {
    return this.log.slice(-last).map(([t, f, to, l]) => `${t.toFixed(1).padStart(9)} ${f} -> ${to}  ${l}`).join("\n");
  }
}

// ---- a sipling core on the virtual network ---------------------------------------------------------

const modules = new Map();
/** The board's release core (sipling.wasm), or its probe build (probe.wasm: the release ABI plus the
 * test-only exports and the user agent core). */
function coreModule(board, file = "sipling.wasm") {
  const key = `${board}/${file}`;
  let m = modules.get(key);
  if (!m) {
    m = new WebAssembly.Module(readFileSync(join(root, "build", board, file)));
    modules.set(key, m);
  }
  return m;
}

// docs/ABI.md numbers, from the generated host table (the one source)
const { CfgKey, CfgKind, Proto, STAT_NAMES, EVENTS, RelayOp } = await import("../../host/firmware/abi.mjs");

export function peerRecord(addr, port) {
  const p = Buffer.alloc(32);
  p[4] = 1; // transport 1 (UDP)
  p[5] = 4;
  p.writeUInt16LE(port, 6);
  addr.split(".").forEach((x, i) => (p[8 + i] = Number(x)));
  return p;
}

/**
 * The release core of `board` at addr ("a.b.c.d:port", UDP), configured with
 * { domains, timers: { t1, t2, t4, timerC }, trusted: [cidr], recordRoute, realm, users: ["name:password=pw"],
 *   set: { CfgKeyName: n }, names: { name: [targets] }, tcp (also a TCP transport, id 2, on the same address: what
 *   the core sends on it is delivered as a datagram all the same), protos: { name: [proto, ms] } (the host's
 *   RFC 3263 §4.1 answer for a request waiting for its transport (sip_poll_resolve): protocol `proto`, given
 *   with sip_resolved `ms` later; a name not in it: 0 at once) }. Its timers run on the simulator's clock; a trap fails the run (thrown out
 * of sim.run). Events are counted by name in `events`.
 */
export class CoreNode {
  constructor(sim, addr, { board = "server", probe = false, domains, timers = {}, trusted = [], recordRoute = true, realm, users = [], set = {}, names = {}, tcp = false, protos = {} } = {}) {
    this.sim = sim;
    this.protos = protos;
    this.resolves = []; // { t, name, id, flags } of each request the core asked the transport of
    this.names = names; // { name: ["a.b.c.d:port", ...] }: what the names the core sends to resolve to
    this.nameSends = []; // { name, port, k } of every transmit to a name
    this.addr = addr;
    this.board = board;
    const ex = (this.ex = new WebAssembly.Instance(coreModule(board, probe ? "probe.wasm" : "sipling.wasm"), {}).exports);
    ex._initialize();
    this.ptr = {
      rx: ex.sip_rx_ptr() >>> 0, peer: ex.sip_peer_ptr() >>> 0, tx: ex.sip_tx_ptr() >>> 0,
      meta: ex.sip_tx_meta_ptr() >>> 0, cfg: ex.sip_cfg_ptr() >>> 0,
    };
    if (ex.sip_init(sim.rng.u32(), sim.rng.u32(), sim.now) < 0) throw new Error("sip_init failed");
    const cfg = (text) => {
      const b = Buffer.from(text, "latin1");
      new Uint8Array(ex.memory.buffer).set(b, this.ptr.cfg);
      return b.length;
    };
    const ok = (r, what) => {
      if (r !== 0) throw new Error(`core config ${what}: ${r}`);
    };
    ok(ex.sip_transport_add(1, Proto.UDP, cfg(addr)) >= 0 ? 0 : -1, `transport ${addr}`);
    if (tcp) ok(ex.sip_transport_add(2, Proto.TCP, cfg(addr)) >= 0 ? 0 : -1, `tcp transport ${addr}`);
    for (const d of domains ?? [addr.split(":")[0]]) ok(ex.sip_cfg_add(CfgKind.Domain, cfg(d)), `domain ${d}`);
    for (const n of trusted) ok(ex.sip_cfg_add(CfgKind.Trusted, cfg(n)), `trusted ${n}`);
    const keys = { t1: CfgKey.T1, t2: CfgKey.T2, t4: CfgKey.T4, timerC: CfgKey.TimerC };
    for (const [k, v] of Object.entries(timers)) ok(ex.sip_cfg_set(keys[k], v), `timers.${k}`);
    if (!recordRoute) ok(ex.sip_cfg_set(CfgKey.RecordRoute, 0), "recordRoute");
    for (const [k, v] of Object.entries(set)) ok(ex.sip_cfg_set(CfgKey[k], v), k);
    if (users.length) {
      ok(ex.sip_cfg_add(CfgKind.NonceSecret, cfg(Buffer.from(Array.from({ length: 32 }, () => sim.rng.u32() & 255)).toString("latin1"))), "nonce secret");
      ok(ex.sip_cfg_add(CfgKind.Realm, cfg(realm ?? (domains ?? [addr.split(":")[0]])[0])), "realm");
      for (const u of users) ok(ex.sip_cfg_add(CfgKind.User, cfg(u)), `user ${u.split(":")[0]}`);
    }
    this.events = {};
    this.eventLog = []; // { t, name, code, value, texts } of each event, in order (docs/ABI.md "Events")
    this.relayLog = []; // every media relay record polled (relayRecord), in order
    this.relayLegs = new Map(); // leg -> its last Open record, while open
    this.timer = null;
    this.received = 0;
    sim.attach(addr, this);
    this.drain();
  }

  mem() {
    return Buffer.from(this.ex.memory.buffer);
  }

  receive(from, bytes) {
    const [a, p] = from.split(":");
    const mem = this.mem();
    mem.set(peerRecord(a, Number(p)), this.ptr.peer);
    mem.set(bytes, this.ptr.rx);
    this.received++;
    this.ex.sip_handle_datagram(this.sim.now, bytes.length);
    this.drain();
  }

  /** Sends what the core queued, drops its events, re-arms its timer. */
  drain() {
    const ex = this.ex;
    const now = this.sim.now;
    let n;
    while ((n = ex.sip_poll_transmit(now)) > 0) {
      const mem = this.mem();
      const m = this.ptr.meta;
      let to;
      if (mem[m + 5] === 0) {
        // a name (docs/ABI.md "Peer record"): its targets in `names`; with the core's port, the first
        // target's address on it (an A record); port 0, target k (sel's low byte) of the list (RFC 3263's
        // SRV order, here the list's), none past the last: not sent, as a host drops it
        const name = mem.subarray(this.ex.sip_tx_name_ptr() >>> 0, (this.ex.sip_tx_name_ptr() >>> 0) + mem.readUInt32LE(m + 24)).toString("latin1");
        const list = this.names[name.toLowerCase()];
        if (!list) throw new Error(`sim: the core sent to the name ${name}, not in this node's names`);
        const port = mem.readUInt16LE(m + 6);
        const k = port ? 0 : mem.readUInt32LE(m + 28) & 0xff;
        this.nameSends.push({ name, port, k });
        if (k >= list.length) continue;
        to = port ? `${list[0].split(":")[0]}:${port}` : list[k];
      } else if (mem[m + 5] !== 4) {
        throw new Error(`sim: the core sent to address family ${mem[m + 5]}`);
      } else {
        to = `${mem[m + 8]}.${mem[m + 9]}.${mem[m + 10]}.${mem[m + 11]}:${mem.readUInt16LE(m + 6)}`;
      }
      this.sim.send(this.addr, to, Buffer.from(mem.subarray(this.ptr.tx, this.ptr.tx + n)));
    }
    for (;;) {
      const id = ex.sip_poll_resolve(now) >>> 0;
      if (id === 0) break;
      const mem = this.mem();
      const m = this.ptr.meta;
      const name = mem.subarray(this.ex.sip_tx_name_ptr() >>> 0, (this.ex.sip_tx_name_ptr() >>> 0) + mem.readUInt32LE(m + 24)).toString("latin1");
      this.resolves.push({ t: now, name, id, family: mem[m + 5], port: mem.readUInt16LE(m + 6) });
      const [proto, ms] = this.protos[name.toLowerCase()] ?? [0, 0];
      this.sim.after(ms, () => {
        ex.sip_resolved(this.sim.now, id, proto);
        this.drain();
      });
    }
    let op;
    while (ex.sip_poll_relay && (op = ex.sip_poll_relay()) !== 0) {
      const r = this.relayRecord(op);
      this.relayLog.push(r);
      if (op === RelayOp.Open) this.relayLegs.set(r.leg, r);
      else if (!this.relayLegs.delete(r.leg)) throw new Error(`sim: relay Close of leg ${r.leg}, not open`);
    }
    let k;
    while ((k = ex.sip_poll_event()) !== 0) {
      const name = EVENTS[k]?.name ?? `event-${k}`;
      this.events[name] = (this.events[name] ?? 0) + 1;
      if (this.eventLog.length < 10_000) this.eventLog.push(this.eventRecord(name));
    }
    const due = ex.sip_poll_timeout();
    this.sim.cancel(this.timer);
    this.timer = due >= 0 ? this.sim.at(due, () => {
      this.timer = null;
      ex.sip_handle_timeout(this.sim.now);
      this.drain();
    }) : null;
  }

  /** The media relay record at sip_relay_ptr (docs/ABI.md "Media relay"), decoded. */
  relayRecord(op) {
    const mem = this.mem();
    const o = this.ex.sip_relay_ptr() >>> 0;
    const family = mem[o + 16];
    const a = mem.subarray(o + 24, o + 40);
    return {
      t: this.sim.now, op: op === RelayOp.Open ? "open" : op === RelayOp.Close ? "close" : `op-${op}`,
      leg: mem.readUInt32LE(o + 4), partner: mem.readUInt32LE(o + 8), port: mem.readUInt16LE(o + 12),
      flags: mem.readUInt16LE(o + 14), family, local: mem[o + 17], iface: mem[o + 46],
      peer: family === 4 ? `${a[0]}.${a[1]}.${a[2]}.${a[3]}:${mem.readUInt16LE(o + 18)}` : family === 6 ? `[v6]:${mem.readUInt16LE(o + 18)}` : null,
      rtcpPort: mem.readUInt16LE(o + 20), idle: mem.readUInt16LE(o + 22), call: mem.readUInt32LE(o + 40),
      callId: mem.subarray(o + 48, o + 48 + mem.readUInt16LE(o + 44)).toString("latin1"),
    };
  }

  /** The event record at sip_event_ptr (docs/ABI.md: kind, code, time, value; four texts from byte 64). */
  eventRecord(name) {
    const mem = this.mem();
    const e = this.ex.sip_event_ptr() >>> 0;
    const texts = [];
    let at = e + 64;
    for (let i = 0; i < 4; i++) {
      const n = mem.readUInt16LE(e + 56 + 2 * i);
      texts.push(mem.subarray(at, at + n).toString("latin1"));
      at += n;
    }
    return { t: mem.readDoubleLE(e + 8), name, code: mem.readInt32LE(e + 4), value: mem.readUInt32LE(e + 16), texts };
  }

  /** sip_cfg_add(kind, text) through the cfg buffer (a Registration, a GinBlock, ...); returns its result. */
  cfgAdd(kind, text) {
    const b = Buffer.from(text, "latin1");
    this.mem().set(b, this.ptr.cfg);
    const r = this.ex.sip_cfg_add(kind, b.length);
    this.drain(); // a Registration arms its first REGISTER
    return r;
  }

  /** A B2BUA side or rule text on a probe core (probe_b2bua_side_text): 1 taken, 0 refused. */
  sideText(text) {
    const base = this.ex.probe_scratch_ptr() >>> 0;
    const b = Buffer.from(text, "latin1");
    this.mem().set(b, base);
    return this.ex.probe_b2bua_side_text(base, b.length);
  }

  /** A counter by name (docs/ABI.md "Stats"). */
  stat(name) {
    const i = STAT_NAMES.indexOf(name);
    if (i < 0) throw new Error(`no stat ${name}`);
    return this.ex.sip_stat(i);
  }
}
