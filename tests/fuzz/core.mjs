// The release core (build/<board>/sipling.wasm) driven through its numbers-only ABI exactly as a host
// drives it (docs/ABI.md "Call order"), with the fuzzer's oracles built in:
//   - no call traps (a WebAssembly.RuntimeError is caught and reported as a Failure);
//   - every sip_poll_transmit length is <= sip_tx_cap(), on a transport we declared, to family 0/4/6;
//   - sip_poll_transmit / sip_poll_event drain to 0 (bounded), event records are well formed;
//   - sip_poll_timeout is -1 or a finite number;
//   - after time is advanced past every timer, transactions (stat 0) and message-pool blocks (stat 6)
//     are back to 0 (checkLeaks).
// Every handle_* call is recorded into a trace (replayable with replayTrace), so a failure found deep
// into a run can be reproduced from a fresh instance.
import { readFileSync } from "node:fs";
import { brotliDecompressSync } from "node:zlib";
import { join } from "node:path";
import { root } from "../lib/core.mjs";

export const PROTO = { UDP: 1, TCP: 2 };
export const TRANSPORTS = [
  { id: 1, proto: PROTO.UDP, addr: "127.0.0.1:5060" },
  { id: 2, proto: PROTO.TCP, addr: "127.0.0.1:5060" },
];
export const DOMAINS = ["localhost", "127.0.0.1"];

/** Trace record types (one per ABI input call). */
export const OP = { DATAGRAM: 1, STREAM: 2, TIMEOUT: 3, CLOSED: 4 };
export const OP_NAMES = { 1: "datagram", 2: "stream", 3: "timeout", 4: "conn-closed" };

export class Failure extends Error {
  constructor(kind, detail, op) {
    super(`${kind}: ${detail}`);
    this.kind = kind; // "trap" | "tx-too-long" | "bad-transmit" | "no-drain" | "bad-event" | "bad-timeout" | "leak" | "bad-result" | "framing"
    this.detail = detail;
    this.op = op; // the trace record being processed (or null)
  }
}

const modules = new Map();
export function wasmFile(board) {
  return process.env.SIPLING_FUZZ_WASM || join(root, "build", board, "sipling.wasm");
}
export function loadModule(board) {
  let m = modules.get(board);
  if (!m) {
    m = new WebAssembly.Module(readFileSync(wasmFile(board)));
    modules.set(board, m);
  }
  return m;
}

/** Makes a 32-byte peer record. addr: "a.b.c.d" (IPv4) */
export function peerRecord(conn, transport, addr, port) {
  const p = Buffer.alloc(32);
  p.writeUInt32LE(conn >>> 0, 0);
  p[4] = transport;
  p[5] = 4;
  p.writeUInt16LE(port & 0xffff, 6);
  const parts = addr.split(".").map(Number);
  for (let i = 0; i < 4; i++) p[8 + i] = parts[i] & 255;
  return p;
}

const MAX_DRAIN = 200_000;

export class FuzzCore {
  /**
   * opts: { board, seed (u32), record (keep a trace, default true), onTransmit(buf, meta), onEvent(kind, rec),
   *         trusted (source networks of the access list "trusted": they may relay; default none),
   *         transports ([{id, proto, addr}]; default TRANSPORTS) }
   */
  constructor(opts = {}) {
    this.board = opts.board || "server";
    this.mod = loadModule(this.board);
    this.record = opts.record !== false;
    this.onTransmit = opts.onTransmit || null;
    this.onEvent = opts.onEvent || null;
    this.trace = [];
    this.traceBytes = 0;
    this.maxTraceBytes = opts.maxTraceBytes ?? 256 * 1024 * 1024;
    this.traceComplete = true;
    this.strict = opts.strict !== false; // ABI anomalies are failures unless a caller opts out
    this.trusted = opts.trusted ?? [];
    this.transports = opts.transports ?? TRANSPORTS;
    this.anomalyFirst = {};
    this.stats = { anomalies: {}, calls: 0, transmits: 0, txBytes: 0, events: 0, eventKinds: new Map(), maxTx: 0 };
    this.instantiate();
    this.init(opts.seed ?? 1, opts.initNow ?? 0);
  }

  instantiate() {
    const inst = new WebAssembly.Instance(this.mod, {});
    const ex = (this.ex = inst.exports);
    this.guard(() => ex._initialize(), null);
    this.rxPtr = ex.sip_rx_ptr() >>> 0;
    this.rxCap = ex.sip_rx_cap() >>> 0;
    this.peerPtr = ex.sip_peer_ptr() >>> 0;
    this.txPtr = ex.sip_tx_ptr() >>> 0;
    this.txCap = ex.sip_tx_cap() >>> 0;
    this.txMetaPtr = ex.sip_tx_meta_ptr() >>> 0;
    this.txNamePtr = ex.sip_tx_name_ptr() >>> 0;
    this.eventPtr = ex.sip_event_ptr() >>> 0;
    this.cfgPtr = ex.sip_cfg_ptr() >>> 0;
    this.cfgCap = ex.sip_cfg_cap() >>> 0;
    this.mem = Buffer.from(ex.memory.buffer);
  }

  views() {
    if (this.mem.length === 0 || this.mem.buffer !== this.ex.memory.buffer) this.mem = Buffer.from(this.ex.memory.buffer);
    return this.mem;
  }

  /** sip_init + the host-like configuration (transports, domains). Starts a new trace. */
  init(seed, now) {
    const ex = this.ex;
    this.seed = seed >>> 0;
    this.trace = [];
    this.traceBytes = 0;
    this.traceComplete = true;
    this.initNow = now;
    const r = this.guard(() => ex.sip_init(this.seed, 0x5eed, now), null);
    if (r < 0) throw new Error(`sip_init failed (${r})`);
    for (const t of this.transports) {
      const len = this.putCfg(t.addr);
      const res = ex.sip_transport_add(t.id, t.proto, len);
      if (res < 0) throw new Error(`sip_transport_add(${t.id}) failed (${res})`);
    }
    for (const d of DOMAINS) {
      const len = this.putCfg(d);
      const res = ex.sip_cfg_add(1, len);
      if (res < 0) throw new Error(`sip_cfg_add(1, ${d}) failed (${res})`);
    }
    for (const net of this.trusted) {
      const res = ex.sip_cfg_add(7, this.putCfg(net));
      if (res < 0) throw new Error(`sip_cfg_add(7, ${net}) failed (${res})`);
    }
    this.drain(now, null);
  }

  putCfg(text) {
    const mem = this.views();
    const b = Buffer.from(text, "latin1");
    mem.set(b, this.cfgPtr);
    return b.length;
  }

  guard(fn, op) {
    try {
      return fn();
    } catch (e) {
      if (e instanceof WebAssembly.RuntimeError) throw new Failure("trap", `${e.message}`, op);
      throw e;
    }
  }

  rec(op) {
    if (!this.record) return;
    this.trace.push(op);
    this.traceBytes += (op.bytes ? op.bytes.length : 0) + 48;
    if (this.traceBytes > this.maxTraceBytes) {
      // keep memory bounded: drop the front (the trace can then no longer replay from init)
      this.traceComplete = false;
      while (this.traceBytes > this.maxTraceBytes / 2 && this.trace.length) {
        const o = this.trace.shift();
        this.traceBytes -= (o.bytes ? o.bytes.length : 0) + 48;
      }
    }
  }

  /** One datagram from `peer` (32-byte record). Returns the core's result. */
  datagram(now, peer, bytes) {
    if (bytes.length > this.rxCap) return null; // the host drops it before the core
    const op = { type: OP.DATAGRAM, now, peer, bytes };
    this.rec(op);
    const mem = this.views();
    mem.set(peer, this.peerPtr);
    mem.set(bytes, this.rxPtr);
    this.stats.calls++;
    const r = this.guard(() => this.ex.sip_handle_datagram(now, bytes.length), op);
    if (!Number.isInteger(r) || r > 0) throw new Failure("bad-result", `sip_handle_datagram returned ${r}`, op);
    this.drain(now, op);
    return r;
  }

  /** One sip_handle_stream call over exactly `bytes` (the connection's pending bytes). */
  streamCall(now, peer, bytes) {
    if (bytes.length > this.rxCap) throw new Error(`streamCall: ${bytes.length} bytes > rx cap (the host never does this)`);
    const op = { type: OP.STREAM, now, peer, bytes };
    this.rec(op);
    const mem = this.views();
    mem.set(peer, this.peerPtr);
    mem.set(bytes, this.rxPtr);
    this.stats.calls++;
    const r = this.guard(() => this.ex.sip_handle_stream(now, bytes.length), op);
    if (!Number.isInteger(r) || r > bytes.length) throw new Failure("bad-result", `sip_handle_stream(${bytes.length}) returned ${r}`, op);
    this.drain(now, op);
    return r;
  }

  timeout(now) {
    const op = { type: OP.TIMEOUT, now, peer: null, bytes: null };
    this.rec(op);
    this.stats.calls++;
    this.guard(() => this.ex.sip_handle_timeout(now), op);
    this.drain(now, op);
  }

  connClosed(now, conn) {
    const op = { type: OP.CLOSED, now, peer: null, bytes: null, conn };
    this.rec(op);
    this.stats.calls++;
    this.guard(() => this.ex.sip_handle_conn_closed(now, conn), op);
    this.drain(now, op);
  }

  /** Drains transmits and events (after every input call), checking each. */
  drain(now, op) {
    const ex = this.ex;
    let n, guard = 0;
    while ((n = this.guard(() => ex.sip_poll_transmit(now), op)) !== 0) {
      if (!Number.isInteger(n) || n < 0) throw new Failure("bad-transmit", `sip_poll_transmit returned ${n}`, op);
      if (n > this.txCap) throw new Failure("tx-too-long", `sip_poll_transmit returned ${n} > tx cap ${this.txCap}`, op);
      if (++guard > MAX_DRAIN) throw new Failure("no-drain", `sip_poll_transmit still returns > 0 after ${MAX_DRAIN} calls`, op);
      const mem = this.views();
      const m = this.txMetaPtr;
      const tid = mem[m + 4], fam = mem[m + 5];
      if (tid !== 1 && tid !== 2) throw new Failure("bad-transmit", `transmit on transport ${tid} (declared: 1, 2)`, op);
      if (fam !== 0 && fam !== 4 && fam !== 6) throw new Failure("bad-transmit", `transmit to address family ${fam}`, op);
      const conn = mem.readUInt32LE(m);
      if (fam === 0) {
        const nl = mem.readUInt32LE(m + 24);
        if (nl > 255) throw new Failure("bad-transmit", `transmit to a host name of length ${nl} (the name buffer holds 255)`, op);
        if (nl === 0) this.anomaly("empty-host-name", "a transmit with family 0 (a name to resolve) and an empty name", op);
      }
      if ((fam === 4 || fam === 6 || fam === 0) && conn === 0 && mem.readUInt16LE(m + 6) === 0 && fam !== 0)
        this.anomaly("port-0", "a transmit to port 0 (the Node host's dgram.send throws: the server exits)", op);
      if (tid === 1 && conn !== 0) this.anomaly("udp-with-conn", `a transmit on the UDP transport names connection ${conn}`, op);
      this.stats.transmits++;
      this.stats.txBytes += n;
      if (n > this.stats.maxTx) this.stats.maxTx = n;
      if (this.onTransmit) {
        const meta = Buffer.from(mem.subarray(m, m + 32));
        const name = fam === 0 ? mem.toString("latin1", this.txNamePtr, this.txNamePtr + meta.readUInt32LE(24)) : "";
        this.onTransmit(Buffer.from(mem.subarray(this.txPtr, this.txPtr + n)), meta, name);
      }
    }
    const dl = ex.sip_poll_timeout();
    if (typeof dl !== "number" || Number.isNaN(dl) || (dl < 0 && dl !== -1) || !Number.isFinite(dl))
      throw new Failure("bad-timeout", `sip_poll_timeout returned ${dl}`, op);
    let k;
    guard = 0;
    while ((k = this.guard(() => ex.sip_poll_event(), op)) !== 0) {
      if (!Number.isInteger(k) || k < 1 || k > 13) throw new Failure("bad-event", `sip_poll_event returned kind ${k}`, op);
      if (++guard > MAX_DRAIN) throw new Failure("no-drain", `sip_poll_event still returns != 0 after ${MAX_DRAIN} calls`, op);
      const mem = this.views();
      const e = this.eventPtr;
      if (mem.readUInt32LE(e) !== k) throw new Failure("bad-event", `event record kind ${mem.readUInt32LE(e)} != returned ${k}`, op);
      let tl = 0;
      for (let i = 0; i < 4; i++) tl += mem.readUInt16LE(e + 56 + 2 * i);
      if (e + 64 + tl > mem.length) throw new Failure("bad-event", `event texts (${tl} bytes) run past memory`, op);
      this.stats.events++;
      this.stats.eventKinds.set(k, (this.stats.eventKinds.get(k) || 0) + 1);
      if (this.onEvent) this.onEvent(k, mem, e);
    }
  }

  /**
   * A contract violation that is not fatal for the core itself (counted; a Failure in strict mode).
   * The first input of each kind is kept (this.anomalyFirst) so it can be saved.
   */
  anomaly(kind, detail, op) {
    if (this.strict) throw new Failure(kind, detail, op);
    const a = this.stats.anomalies;
    a[kind] = (a[kind] || 0) + 1;
    if (!this.anomalyFirst[kind]) this.anomalyFirst[kind] = { detail, op };
  }

  stat(id) {
    return this.ex.sip_stat(id);
  }

  /**
   * Advances time past every transaction timer (+10 min in 15 s steps, then until nothing is due),
   * then checks that transactions (stat 0) and message-pool blocks (stat 6) are back to 0.
   * Returns { now, txn, pool, dialogs, bindings }; throws Failure("leak") when something remains.
   */
  checkLeaks(now) {
    const end = now + 600_000;
    let t = now;
    while (t < end) {
      t = Math.min(end, t + 15_000);
      this.settle(t);
    }
    const txn = this.stat(0), pool = this.stat(6);
    const res = { now: t, txn, pool, dialogs: this.stat(18), bindings: this.stat(2), regPool: this.stat(8) };
    if (txn !== 0 || pool !== 0) {
      throw Object.assign(new Failure("leak", `after +10 min: ${txn} transactions, ${pool} message-pool blocks in use (dialogs ${res.dialogs})`, null), { leak: res });
    }
    return res;
  }

  /** handle_timeout(now) until no timer is due at `now` (bounded). */
  settle(now) {
    for (let i = 0; i < 100_000; i++) {
      this.timeout(now);
      const dl = this.ex.sip_poll_timeout();
      if (dl < 0 || dl > now) return;
    }
    throw new Failure("no-drain", `sip_poll_timeout still due at ${now} after 100000 sip_handle_timeout calls`, null);
  }
}

// ---- traces: serialise / replay ------------------------------------------------------------------
//
// Binary format: "SIPFZTR1" magic, u32 board-name length + name, u32 seed, f64 init time, then records:
//   u8 type | f64 now | u8 hasPeer | [32 peer] | u32 conn | u32 len | bytes

export function encodeTrace(board, seed, initNow, ops) {
  const parts = [Buffer.from("SIPFZTR1", "latin1")];
  const h = Buffer.alloc(4 + board.length + 4 + 8);
  h.writeUInt32LE(board.length, 0);
  h.write(board, 4, "latin1");
  h.writeUInt32LE(seed >>> 0, 4 + board.length);
  h.writeDoubleLE(initNow, 8 + board.length);
  parts.push(h);
  for (const o of ops) {
    const r = Buffer.alloc(1 + 8 + 1 + (o.peer ? 32 : 0) + 8);
    let at = 0;
    r[at++] = o.type;
    r.writeDoubleLE(o.now, at); at += 8;
    r[at++] = o.peer ? 1 : 0;
    if (o.peer) { o.peer.copy(r, at); at += 32; }
    r.writeUInt32LE(o.conn ?? 0, at); at += 4;
    r.writeUInt32LE(o.bytes ? o.bytes.length : 0, at);
    parts.push(r);
    if (o.bytes) parts.push(o.bytes);
  }
  return Buffer.concat(parts);
}

/** A saved finding's bytes: FILE.bin as it is, FILE.bin.br decompressed (the long traces, which no
 * minimizer run made small, are kept compressed: 7 MB of ABI calls are 220 KB of brotli). */
export function readFinding(file) {
  const b = readFileSync(file);
  return file.endsWith(".br") ? brotliDecompressSync(b) : b;
}

export function isTrace(buf) {
  return buf.length >= 8 && buf.toString("latin1", 0, 8) === "SIPFZTR1";
}

export function decodeTrace(buf) {
  if (!isTrace(buf)) throw new Error("not a trace");
  let at = 8;
  const bl = buf.readUInt32LE(at); at += 4;
  const board = buf.toString("latin1", at, at + bl); at += bl;
  const seed = buf.readUInt32LE(at); at += 4;
  const initNow = buf.readDoubleLE(at); at += 8;
  const ops = [];
  while (at < buf.length) {
    const type = buf[at++];
    const now = buf.readDoubleLE(at); at += 8;
    const hasPeer = buf[at++];
    let peer = null;
    if (hasPeer) { peer = Buffer.from(buf.subarray(at, at + 32)); at += 32; }
    const conn = buf.readUInt32LE(at); at += 4;
    const len = buf.readUInt32LE(at); at += 4;
    const bytes = type === OP.DATAGRAM || type === OP.STREAM ? Buffer.from(buf.subarray(at, at + len)) : null;
    at += len;
    ops.push({ type, now, peer, conn, bytes });
  }
  return { board, seed, initNow, ops };
}

/**
 * Replays ops on a fresh instance (configured like the fuzzer). Returns null when every call
 * returned cleanly (and, with checkLeaks, nothing leaked), else the Failure.
 */
export function replayTrace({ board, seed, initNow, ops }, { leaks = false } = {}) {
  const core = new FuzzCore({ board, seed, initNow, record: false });
  let now = initNow;
  try {
    for (const o of ops) {
      now = o.now;
      if (o.type === OP.DATAGRAM) core.datagram(o.now, o.peer, o.bytes);
      else if (o.type === OP.STREAM) core.streamCall(o.now, o.peer, o.bytes);
      else if (o.type === OP.TIMEOUT) core.timeout(o.now);
      else if (o.type === OP.CLOSED) core.connClosed(o.now, o.conn);
    }
    if (leaks) core.checkLeaks(now);
  } catch (e) {
    if (e instanceof Failure) return e;
    throw e;
  }
  return null;
}

function loadCap(board) {
  const inst = new WebAssembly.Instance(loadModule(board), {});
  return inst.exports.sip_rx_cap() >>> 0;
}

/** A single raw message (a .bin that is not a trace) as a datagram and as stream bytes on a fresh core. */
export function replayMessage(board, bytes, { leaks = true } = {}) {
  const peerU = peerRecord(0, 1, "127.0.0.1", 5070);
  const peerT = peerRecord(7, 2, "127.0.0.1", 5071);
  const ops = [];
  if (bytes.length <= 65536) ops.push({ type: OP.DATAGRAM, now: 1000, peer: peerU, bytes });
  ops.push({ type: OP.STREAM, now: 1001, peer: peerT, bytes: bytes.subarray(0, loadCap(board)) });
  ops.push({ type: OP.TIMEOUT, now: 1002 });
  return replayTrace({ board, seed: 1, initNow: 0, ops }, { leaks });
}
