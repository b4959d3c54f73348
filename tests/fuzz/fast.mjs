// Fast path of the ABI fuzzer: the whole core (build/<board>/sipling.wasm) in this process, driven
// like a host (tests/fuzz/core.mjs holds the ABI wrapper and the oracles). Inputs, per message:
//   corpus       a corpus / PROTOS message with byte-level mutations (corpus.mjs mutate)
//   struct       a corpus message or a template with structure-aware mutations (mutateStructured)
//   dialog       a step of a realistic dialog: REGISTER a user, INVITE it, CANCEL / ACK / BYE with the
//                same Call-ID, the callee's provisional and final answers, retransmissions (some mutated)
//   answer       a response to a request the core sent (its top Via branch): 1xx–6xx, duplicates, garbage
//   echo         a message the core sent, fed back as if it came from where it was sent (loops, strays)
//   clean        a corpus message unmutated
// Each goes in as a datagram (transport 1) or as stream bytes on a connection (transport 2), the host's
// pending-bytes loop included: random splits and coalesced messages, and for a sample of messages a
// split at every byte offset k (first k bytes, then the rest) checked against the unsplit framing.
// Virtual time: +7 ms per input with sip_handle_timeout each time, now and then +40 s. Every `epoch`
// inputs (and at the end) time is advanced +10 min and the leak oracle runs, then the core is re-inited.
import {
  corpusFiles, protosCases, loadProtosCase, makeRng, mutate, mutateStructured, sipRequest, sipResponseFor,
  headerValue, headerValues, startLineOf, topViaBranch, SDP,
} from "../lib/corpus.mjs";
import { FuzzCore, Failure, peerRecord, OP } from "./core.mjs";

let seedCache = null;
/** Seed messages: the hand-written corpus (rfc4475, rfc5118 + variants/extras) and the filled PROTOS cases. */
export function loadSeeds({ protos = true } = {}) {
  if (seedCache && (seedCache.protos || !protos)) return seedCache;
  const corpus = corpusFiles().map((c) => c.bytes);
  const pro = [];
  if (protos) {
    for (const c of protosCases()) {
      const f = loadProtosCase(c.name);
      pro.push(f.invite, f.teardown);
    }
  }
  seedCache = { corpus, protos: pro.length ? pro : null };
  return seedCache;
}

const USERS = 12;
const CALLEE_HOSTS = ["127.0.0.1", "192.0.2.20", "192.0.2.21", "198.51.100.7"];

class Conn {
  constructor(id, peer) {
    this.id = id;
    this.peer = peer;
    this.pending = Buffer.alloc(0);
    this.closed = false;
  }
}

/**
 * Runs the fast path. opts: { board, seed, count, epoch, splitEvery, splitMaxLen, protos,
 * onInput(i, bytes) (before each input: the watchdog's hook), onProgress(i, secs) (every 100k) }.
 * Returns a summary; throws a Failure carrying { index, input, trace } on the first oracle failure.
 */
export function runFast(opts = {}) {
  const board = opts.board || "server";
  const seed = (opts.seed ?? 1) >>> 0;
  const count = opts.count ?? 10_000;
  const epochLen = opts.epoch ?? 20_000;
  const splitEvery = opts.splitEvery ?? 1500;
  const seeds = loadSeeds({ protos: opts.protos !== false });
  const rng = makeRng(seed);
  const F = new Fuzzer(board, rng, seeds, opts);
  const t0 = performance.now();
  const leakResults = [];
  const failures = []; // keepGoing: first failure of each kind (with its trace), counts per kind
  const failCounts = {};
  const onFailure = (e, i) => {
    if (!(e instanceof Failure)) throw e;
    e.index = i;
    e.input = F.current;
    e.inputKind = F.currentKind;
    e.trace = { board, seed: F.core.seed, initNow: F.core.initNow, ops: F.core.trace.slice(), complete: F.core.traceComplete };
    e.fuzzSeed = seed;
    if (!opts.keepGoing) throw e;
    failCounts[e.kind] = (failCounts[e.kind] || 0) + 1;
    if (failCounts[e.kind] === 1) { failures.push(e); if (opts.onFailure) opts.onFailure(e); }
    F.recover(e);
  };
  let done = count;
  for (let i = 0; i < count; i++) {
    if (opts.maxSecs && (i & 1023) === 0 && performance.now() - t0 > opts.maxSecs * 1000) { done = i; break; }
    try {
      F.index = i;
      F.step(i % splitEvery === splitEvery - 1);
      if ((i + 1) % epochLen === 0 && i + 1 < count) leakResults.push(F.endEpoch());
    } catch (e) {
      onFailure(e, i);
    }
    if (opts.onProgress && (i + 1) % 100_000 === 0) opts.onProgress(i + 1, (performance.now() - t0) / 1000, F, failCounts);
  }
  try {
    leakResults.push(F.endEpoch(true));
  } catch (e) {
    onFailure(e, done);
  }
  const secs = (performance.now() - t0) / 1000;
  return {
    board, seed, inputs: done, secs, rate: done / secs, kinds: F.kinds, delivery: F.delivery, results: F.results,
    stats: F.core.stats, bytes: F.bytes, splits: F.splitChecks, leakChecks: leakResults.length, lastLeak: leakResults[leakResults.length - 1],
    maxDialogs: Math.max(0, ...leakResults.map((r) => r.dialogs)), epochs: F.epochs,
    failures, failCounts, anomalies: F.anomalies(), anomalyFirst: F.anomalyFirst,
  };
}

class Fuzzer {
  constructor(board, rng, seeds, opts) {
    this.board = board;
    this.rng = rng;
    this.seeds = seeds;
    this.opts = opts;
    this.now = 1000;
    this.epochs = 0;
    this.kinds = {};
    this.delivery = {};
    this.results = { ok: 0, refused: 0, needMore: 0, closed: 0 };
    this.bytes = 0;
    this.splitChecks = 0;
    this.current = null;
    this.currentKind = "";
    this.core = new FuzzCore({ board, seed: rng(), initNow: this.now, onTransmit: (b, m, n) => this.onTransmit(b, m, n), strict: opts.strict });
    this.anomalyTotals = {};
    this.anomalyFirst = {};
    this.rxCap = this.core.rxCap;
    this.nextConnId = 1;
    this.resetState();
  }

  resetState() {
    this.conns = []; // a few open stream connections from clients
    this.connsByDest = new Map(); // "addr:port" → Conn (connections the core asked us to open)
    this.users = new Map(); // name → { contact, host, port, tcp }
    this.calls = [];
    this.callsById = new Map();
    this.sent = []; // ring of requests the core sent: { buf, meta }
    this.sentAll = []; // ring of everything the core sent (echo)
    this.seq = 0;
  }

  count(map, k) { map[k] = (map[k] || 0) + 1; }

  // ---- the core's output --------------------------------------------------------------------------

  onTransmit(buf, meta, name) {
    const rng = this.rng;
    if (this.sentAll.length < 64) this.sentAll.push({ buf, meta });
    else if (rng.chance(0.25)) this.sentAll[rng.int(64)] = { buf, meta };
    if (buf.length < 12) return;
    const isResp = buf[0] === 0x53 && buf.toString("latin1", 0, 8) === "SIP/2.0 ";
    if (!isResp) {
      const m = buf.toString("latin1", 0, 8);
      if (!m.startsWith("ACK ")) {
        const e = { buf, meta, name };
        if (this.sent.length < 48) this.sent.push(e);
        else this.sent[rng.int(48)] = e;
      }
    }
    // dialog bookkeeping: what the core told our callers and callees
    const cid = headerValue(buf, "call-id");
    const call = cid && this.callsById.get(cid);
    if (!call) return;
    if (isResp) {
      const code = Number(buf.toString("latin1", 8, 11));
      const cseq = headerValue(buf, "cseq") || "";
      if (/INVITE/i.test(cseq)) {
        if (code >= 200 && code < 300) {
          call.answered = true;
          const to = headerValue(buf, "to") || "";
          const t = /;\s*tag=([^;>\s]+)/i.exec(to);
          if (t) call.toTag = t[1];
          call.rr = headerValues(buf, "record-route").reverse();
          const c = /<([^>]+)>/.exec(headerValue(buf, "contact") || "");
          if (c) call.remoteTarget = c[1];
        } else if (code >= 300) call.failed = code;
      }
    } else if (buf.toString("latin1", 0, 7) === "INVITE ") {
      call.fwd.push({ buf, meta, name });
    } else if (buf.toString("latin1", 0, 7) === "CANCEL ") {
      call.fwdCancel.push({ buf, meta });
    } else if (buf.toString("latin1", 0, 4) === "BYE ") {
      call.fwdBye.push({ buf, meta });
    }
  }

  // ---- delivery -----------------------------------------------------------------------------------

  udpPeer() {
    const rng = this.rng;
    return peerRecord(0, 1, rng.pick(["127.0.0.1", "192.0.2.1", "192.0.2.2", "10.0.0.1", "203.0.113.9"]), rng.pick([5060, 5061, 5070, 1024 + rng.int(60000)]));
  }

  newConn(addr, port) {
    const id = this.nextConnId++;
    if (this.nextConnId > 0xfffffff0) this.nextConnId = 1;
    const c = new Conn(id, peerRecord(id, 2, addr ?? this.rng.pick(["127.0.0.1", "192.0.2.3", "192.0.2.4"]), port ?? 20000 + (id % 40000)));
    return c;
  }

  pickConn() {
    const rng = this.rng;
    const live = this.conns.filter((c) => !c.closed);
    if (!live.length || (live.length < 6 && rng.chance(0.1))) {
      const c = this.newConn();
      this.conns.push(c);
      return c;
    }
    return rng.pick(live);
  }

  closeConn(c) {
    if (c.closed) return;
    c.closed = true;
    c.pending = Buffer.alloc(0);
    this.core.connClosed(this.now, c.id);
    this.conns = this.conns.filter((x) => x !== c);
    for (const [k, v] of this.connsByDest) if (v === c) this.connsByDest.delete(k);
  }

  /** The host's onStream: pending ++ data, sip_handle_stream until it wants more; r < 0 or a full RX closes. */
  feedStream(c, data, log) {
    const cap = this.rxCap;
    let buf = c.pending.length ? Buffer.concat([c.pending, data]) : data;
    // offsets in the log are absolute in the connection's byte stream, whatever the chunking
    const base = c.consumedBytes ?? 0;
    let off = 0;
    for (;;) {
      const len = Math.min(cap, buf.length - off);
      if (len === 0) { c.pending = Buffer.alloc(0); c.consumedBytes = base + off; return; }
      const chunk = buf.subarray(off, off + len);
      const r = this.core.streamCall(this.now, c.peer, chunk);
      const at = base + off;
      if (log) log.push(r > 0 && isAllCrLf(chunk, r) ? ["k", at + r] : r > 0 ? ["m", at + r] : r === 0 ? ["need", at] : ["close", at]);
      if (r < 0) { this.results.closed++; this.closeConn(c); return; }
      if (r === 0) {
        if (len >= cap) { this.results.closed++; this.closeConn(c); return; }
        this.results.needMore++;
        c.pending = Buffer.from(buf.subarray(off)); // copy: the caller may reuse `data`
        c.consumedBytes = base + off;
        return;
      }
      this.results.ok++;
      off += r;
    }
  }

  /** Delivers one message (or several coalesced) over UDP or a stream, with random splits. */
  deliver(msgs, via) {
    const rng = this.rng;
    const list = Array.isArray(msgs) ? msgs : [msgs];
    if (via && via.transport === 1) {
      for (const m of list) this.datagram(via.peer, m);
      return;
    }
    if (via && via.conn) {
      this.streamWrite(via.conn, list);
      return;
    }
    if (rng.chance(0.6)) {
      const peer = this.udpPeer();
      for (const m of list) this.datagram(peer, m);
    } else this.streamWrite(this.pickConn(), list);
  }

  datagram(peer, m) {
    this.count(this.delivery, "datagram");
    if (m.length > this.rxCap) { this.count(this.delivery, "datagram-too-big"); return; }
    const r = this.core.datagram(this.now, peer, m);
    if (r < 0) this.results.refused++; else this.results.ok++;
  }

  streamWrite(c, list) {
    const rng = this.rng;
    let data = list.length === 1 ? list[0] : Buffer.concat(list);
    if (list.length > 1) this.count(this.delivery, "stream-coalesced");
    if (rng.chance(0.05)) data = Buffer.concat([Buffer.from(rng.pick(["\r\n\r\n", "\r\n", "\r\n\r\n\r\n"]), "latin1"), data]);
    if (rng.chance(0.3) && data.length > 1) {
      // random splits: 2–5 segments
      this.count(this.delivery, "stream-split");
      const cuts = [];
      for (let k = 1 + rng.int(4); k > 0; k--) cuts.push(1 + rng.int(data.length - 1));
      cuts.sort((a, b) => a - b);
      let s = 0;
      for (const x of cuts) {
        if (c.closed) return;
        this.feedStream(c, data.subarray(s, x));
        s = x;
      }
      if (!c.closed) this.feedStream(c, data.subarray(s));
    } else {
      this.count(this.delivery, "stream");
      this.feedStream(c, data);
    }
    if (!c.closed && rng.chance(0.01)) this.closeConn(c);
  }

  /**
   * The split-at-every-offset check: for k in 1..len-1, a fresh connection gets the first k bytes,
   * then the rest (the host concatenates what was not consumed). Where messages end (and whether the
   * connection is closed, and where) must not depend on k: it is compared with the unsplit delivery.
   */
  splitCheck(m) {
    if (m.length < 2 || m.length > (this.opts.splitMaxLen ?? 1500) || m.length > this.rxCap) return;
    this.count(this.delivery, "split-every-offset");
    this.splitChecks++;
    const run = (k) => {
      const c = this.newConn("192.0.2.99", 40000 + (this.nextConnId % 20000));
      const log = [];
      if (k > 0) this.feedStream(c, m.subarray(0, k), log);
      if (!c.closed) this.feedStream(c, m.subarray(k), log);
      if (!c.closed) this.closeConn(c);
      return framing(log);
    };
    const whole = run(0);
    for (let k = 1; k < m.length; k++) {
      const got = run(k);
      if (got !== whole) {
        throw new Failure("framing", `stream framing depends on the split: unsplit ${whole}, split at ${k}: ${got}`, null);
      }
    }
  }

  // ---- one input ----------------------------------------------------------------------------------

  step(split) {
    const rng = this.rng;
    this.now += 7;
    if (rng.chance(1 / 3000)) this.now += 40_000;
    const x = rng.int(100);
    let kind;
    if (x < 24) kind = "corpus";
    else if (x < 42) kind = "struct";
    else if (x < 72) kind = "dialog";
    else if (x < 88) kind = "answer";
    else if (x < 92) kind = "echo";
    else kind = "clean";
    if (split) kind = "split";
    this.currentKind = kind;
    this.count(this.kinds, kind);
    switch (kind) {
      case "corpus": this.emit(mutate(this.seedMsg(), rng, this.rxCap)); break;
      case "struct": this.emit(mutateStructured(rng.chance(0.5) ? this.seedMsg() : this.template(), rng, this.rxCap)); break;
      case "clean": this.emit(this.seedMsg()); break;
      case "dialog": this.dialogStep(); break;
      case "answer": this.answerStep(); break;
      case "echo": this.echoStep(); break;
      case "split": {
        const m = rng.chance(0.5) ? this.template() : rng.chance(0.5) ? this.seedMsg() : mutateStructured(this.template(), rng, this.rxCap);
        this.current = m;
        if (this.opts.onInput) this.opts.onInput(this.index, m);
        this.bytes += m.length;
        this.splitCheck(m);
        break;
      }
    }
    this.core.timeout(this.now);
  }

  /** Hands one generated message to the watchdog, then delivers it. */
  emit(m, via, coalesce) {
    this.current = m;
    if (this.opts.onInput) this.opts.onInput(this.index, m);
    this.bytes += m.length;
    if (coalesce && coalesce.length) this.deliver([m, ...coalesce], via);
    else this.deliver(m, via);
  }

  seedMsg() {
    const { corpus, protos } = this.seeds;
    if (protos && this.rng.chance(0.35)) return this.rng.pick(protos);
    return this.rng.pick(corpus);
  }

  /** A valid message of the kinds the proxy acts on (used as a base for structured mutations). */
  template() {
    const rng = this.rng;
    const u = `u${rng.int(USERS)}`;
    const tag = `t${rng.int(1e6)}`;
    const cid = `tpl${rng.int(1e6)}@192.0.2.1`;
    const via = `SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK${rng.int(1e9)};rport`;
    const k = rng.int(7);
    if (k === 0) return sipRequest({ method: "REGISTER", ruri: "sip:localhost", via, from: `<sip:${u}@localhost>`, fromTag: tag, to: `<sip:${u}@localhost>`, callId: cid, cseq: 1 + rng.int(100), contact: `<sip:${u}@192.0.2.1:5060>`, expires: rng.pick([0, 60, 3600]) });
    if (k === 1) return sipRequest({ method: "INVITE", ruri: `sip:${u}@localhost`, via, from: "<sip:caller@localhost>", fromTag: tag, to: `<sip:${u}@localhost>`, callId: cid, cseq: 1, contact: "<sip:caller@192.0.2.1:5060>", body: SDP });
    if (k === 2) return sipRequest({ method: "OPTIONS", ruri: rng.pick(["sip:localhost", "sip:127.0.0.1:5060", `sip:${u}@localhost`]), via, from: "<sip:caller@localhost>", fromTag: tag, to: "<sip:localhost>", callId: cid, cseq: 1 });
    if (k === 3) return sipRequest({ method: rng.pick(["BYE", "INFO", "UPDATE", "MESSAGE", "NOTIFY"]), ruri: "sip:peer@192.0.2.30:5060", via, from: "<sip:caller@localhost>", fromTag: tag, to: `<sip:${u}@localhost>`, toTag: "x1", callId: cid, cseq: 2, route: ["<sip:127.0.0.1:5060;lr>"] });
    if (k === 4) return sipRequest({ method: "INVITE", ruri: `sip:someone@${rng.pick(["example.com", "192.0.2.40", "[2001:db8::1]", "192.0.2.40;transport=tcp"])}`, via, from: "<sip:caller@localhost>", fromTag: tag, to: "<sip:someone@example.com>", callId: cid, cseq: 1, contact: "<sip:caller@192.0.2.1>", body: SDP });
    if (k === 5 && this.sent.length) return this.answerFor(rng.pick(this.sent).buf, rng.pick([100, 180, 200, 404, 487, 603]));
    return sipRequest({ method: "MESSAGE", ruri: `sip:${u}@localhost`, via, from: "<sip:caller@localhost>", fromTag: tag, to: `<sip:${u}@localhost>`, callId: cid, cseq: 1, body: "hello", contentType: "text/plain" });
  }

  answerFor(req, code) {
    const rng = this.rng;
    return sipResponseFor(req, code, {
      toTag: code > 100 ? `cal${rng.int(1000)}` : undefined,
      contact: code >= 200 && code < 300 ? `<sip:callee@192.0.2.20:5060>` : code >= 300 && code < 400 ? "<sip:moved@192.0.2.22>" : undefined,
      body: code >= 180 && code < 300 && rng.chance(0.5) ? SDP : undefined,
      extra: code === 401 || code === 407 ? [`${code === 401 ? "WWW" : "Proxy"}-Authenticate: Digest realm="x", nonce="n"`] : code === 503 ? ["Retry-After: 5"] : [],
    });
  }

  // ---- dialogs --------------------------------------------------------------------------------------

  /** A client of ours: UDP (peer record) or TCP (a connection). */
  client() {
    const rng = this.rng;
    if (rng.chance(0.65)) return { transport: 1, peer: peerRecord(0, 1, "192.0.2." + (10 + rng.int(20)), 5060 + rng.int(4)) };
    const c = this.newConn("192.0.2." + (40 + rng.int(20)), 30000 + rng.int(20000));
    this.conns.push(c);
    return { transport: 2, conn: c };
  }
  viaOf(cl, branch) {
    const p = cl.transport === 1 ? cl.peer : cl.conn.peer;
    return `SIP/2.0/${cl.transport === 1 ? "UDP" : "TCP"} ${p[8]}.${p[9]}.${p[10]}.${p[11]}:${p.readUInt16LE(6)};branch=${branch};rport`;
  }
  contactOf(cl, user) {
    const p = cl.transport === 1 ? cl.peer : cl.conn.peer;
    return `<sip:${user}@${p[8]}.${p[9]}.${p[10]}.${p[11]}:${p.readUInt16LE(6)}${cl.transport === 2 ? ";transport=tcp" : ""}>`;
  }
  /** Sends a dialog message, now and then mutated, retransmitted or coalesced with another. */
  send(m, cl) {
    const rng = this.rng;
    if (cl.conn && cl.conn.closed) {
      if (rng.chance(0.5)) return; // the client is gone
      cl.conn = this.newConn(); this.conns.push(cl.conn);
    }
    let out = m;
    if (rng.chance(0.12)) out = rng.chance(0.6) ? mutateStructured(m, rng, this.rxCap) : mutate(m, rng, this.rxCap);
    this.emit(out, cl);
    if (rng.chance(0.06)) this.emit(m, cl); // a retransmission
  }
  newBranch() { return `z9hG4bK${(++this.seq).toString(36)}x${this.rng.int(1e6)}`; }

  dialogStep() {
    const rng = this.rng;
    const users = [...this.users.keys()];
    const live = this.calls.filter((c) => !c.done);
    const r = rng.int(100);
    if (r < 15 || users.length === 0) return this.register();
    if (r < 35 || live.length === 0) return this.invite(rng.pick(users));
    return this.advance(rng.pick(live));
  }

  register() {
    const rng = this.rng;
    const name = `u${rng.int(USERS)}`;
    const u = this.users.get(name);
    const cl = u && rng.chance(0.7) ? u.client : this.client();
    const callId = u && rng.chance(0.7) ? u.callId : `reg${++this.seq}@fuzz`;
    const cseq = (u?.cseq ?? 0) + 1;
    const expires = rng.pick([3600, 3600, 600, 60, 0, 1]);
    const contact = rng.chance(0.05) ? "*" : this.contactOf(cl, name);
    const m = sipRequest({
      method: "REGISTER", ruri: rng.pick(["sip:localhost", "sip:127.0.0.1", "sip:127.0.0.1:5060"]), via: this.viaOf(cl, this.newBranch()),
      from: `<sip:${name}@localhost>`, fromTag: `r${this.seq}`, to: `<sip:${name}@localhost>`, callId, cseq, contact,
      expires: contact === "*" ? 0 : expires, extra: rng.chance(0.2) ? ["Supported: path, outbound"] : [],
    });
    this.users.set(name, { client: cl, callId, cseq });
    if (expires === 0 && rng.chance(0.5)) this.users.delete(name);
    this.send(m, cl);
  }

  invite(user) {
    const rng = this.rng;
    const cl = this.client();
    const call = {
      callId: `call${++this.seq}-${rng.int(1e9)}@192.0.2.1`, user, cl, fromTag: `f${this.seq}`, branch: this.newBranch(), cseq: 1,
      fwd: [], fwdCancel: [], fwdBye: [], answered: false, toTag: null, rr: [], remoteTarget: null, done: false, failed: 0, calleeTag: `c${this.seq}`,
      calleeConns: new Map(),
    };
    call.invite = sipRequest({
      method: "INVITE", ruri: `sip:${user}@${rng.pick(["localhost", "127.0.0.1", "LOCALHOST", "127.0.0.1:5060"])}`, via: this.viaOf(cl, call.branch),
      from: `"Caller" <sip:caller${this.seq % 7}@localhost>`, fromTag: call.fromTag, to: `<sip:${user}@localhost>`, callId: call.callId, cseq: 1,
      contact: this.contactOf(cl, "caller"), body: SDP, extra: rng.chance(0.2) ? ["Supported: 100rel, timer", "Session-Expires: 1800"] : [],
    });
    this.calls.push(call);
    this.callsById.set(call.callId, call);
    if (this.calls.length > 64) {
      const old = this.calls.shift();
      this.callsById.delete(old.callId);
    }
    this.send(call.invite, cl);
  }

  /** Where a message from the callee comes from: the destination of the forwarded request (a UDP peer or a conn). */
  fromDest(meta) {
    const tid = meta[4];
    const fam = meta[5];
    const addr = fam === 4 ? `${meta[8]}.${meta[9]}.${meta[10]}.${meta[11]}` : "192.0.2.250";
    const port = meta.readUInt16LE(6) || 5060;
    if (tid === 1) return { transport: 1, peer: peerRecord(0, 1, addr, port) };
    const connId = meta.readUInt32LE(0);
    let c = connId ? this.conns.find((x) => x.id === connId) : this.connsByDest.get(`${addr}:${port}`);
    if (!c || c.closed) {
      c = this.newConn(addr, port);
      this.conns.push(c);
      this.connsByDest.set(`${addr}:${port}`, c);
    }
    return { transport: 2, conn: c };
  }

  advance(call) {
    const rng = this.rng;
    const fwd = call.fwd.length ? rng.pick(call.fwd) : null;
    const acts = [];
    if (!call.answered && !call.failed) {
      if (fwd) acts.push("ring", "ring", "answer", "answer", "reject");
      acts.push("cancel", "retransmit");
    }
    if (call.answered) acts.push("ack", "ack", "bye", "byeCallee", "reinvite", "retransmit200");
    if (call.failed) acts.push("ackFail", "done");
    if (call.fwdCancel.length) acts.push("answerCancel");
    if (call.fwdBye.length) acts.push("answerBye");
    if (fwd && rng.chance(0.1)) acts.push("answerAgain");
    const a = rng.pick(acts);
    const cl = call.cl;
    switch (a) {
      case "ring": case "answer": case "reject": case "answerAgain": {
        const code = a === "ring" ? rng.pick([180, 183, 181, 100]) : a === "answer" || a === "answerAgain" ? rng.pick([200, 200, 202]) : rng.pick([486, 404, 480, 603, 600, 302, 500, 503, 408, 487, 407]);
        const m = sipResponseFor(fwd.buf, code, {
          toTag: code > 100 ? call.calleeTag : undefined,
          contact: code < 300 ? `<sip:${call.user}@${fwd.meta[5] === 4 ? `${fwd.meta[8]}.${fwd.meta[9]}.${fwd.meta[10]}.${fwd.meta[11]}` : "192.0.2.250"}:${fwd.meta.readUInt16LE(6)}>` : code < 400 ? "<sip:moved@192.0.2.22>" : undefined,
          body: code >= 180 && code < 300 ? SDP : undefined,
        });
        this.send(m, this.fromDest(fwd.meta));
        break;
      }
      case "cancel": {
        const m = sipRequest({
          method: "CANCEL", ruri: startLineOf(call.invite).split(" ")[1], via: this.viaOf(cl, call.branch), from: `<sip:caller@localhost>`, fromTag: call.fromTag,
          to: `<sip:${call.user}@localhost>`, callId: call.callId, cseq: 1,
        });
        this.send(m, cl);
        break;
      }
      case "retransmit": this.send(call.invite, cl); break;
      case "answerCancel": {
        const c = rng.pick(call.fwdCancel);
        this.send(sipResponseFor(c.buf, 200, { toTag: call.calleeTag }), this.fromDest(c.meta));
        if (fwd && rng.chance(0.8)) this.send(sipResponseFor(fwd.buf, 487, { toTag: call.calleeTag }), this.fromDest(fwd.meta));
        break;
      }
      case "ackFail": { // ACK for a non-2xx: same branch as the INVITE
        const m = sipRequest({
          method: "ACK", ruri: startLineOf(call.invite).split(" ")[1], via: this.viaOf(cl, call.branch), from: `<sip:caller@localhost>`, fromTag: call.fromTag,
          to: `<sip:${call.user}@localhost>`, toTag: call.toTag || "x", callId: call.callId, cseq: 1,
        });
        this.send(m, cl);
        if (rng.chance(0.5)) call.done = true;
        break;
      }
      case "done": call.done = true; break;
      case "ack": case "bye": case "reinvite": {
        // in-dialog from the caller: Request-URI the remote target, Route set the Record-Route reversed
        const method = a === "ack" ? "ACK" : a === "bye" ? "BYE" : "INVITE";
        const cseq = a === "ack" ? call.cseq : ++call.cseq;
        const m = sipRequest({
          method, ruri: call.remoteTarget || `sip:${call.user}@192.0.2.20:5060`, via: this.viaOf(cl, this.newBranch()), route: call.rr,
          from: `<sip:caller@localhost>`, fromTag: call.fromTag, to: `<sip:${call.user}@localhost>`, toTag: call.toTag, callId: call.callId, cseq,
          body: method === "INVITE" ? SDP : undefined,
        });
        this.send(m, cl);
        if (a === "bye" && rng.chance(0.7)) call.done = true;
        break;
      }
      case "byeCallee": { // BYE from the callee: through the Record-Route in the order the callee saw it
        if (!fwd) break;
        const rr = headerValues(fwd.buf, "record-route");
        const p = cl.transport === 1 ? cl.peer : cl.conn.peer;
        const m = sipRequest({
          method: "BYE", ruri: `sip:caller@${p[8]}.${p[9]}.${p[10]}.${p[11]}:${p.readUInt16LE(6)}${cl.transport === 2 ? ";transport=tcp" : ""}`,
          via: `SIP/2.0/UDP 192.0.2.20:5060;branch=${this.newBranch()}`, route: rr,
          from: `<sip:${call.user}@localhost>`, fromTag: call.calleeTag, to: `<sip:caller@localhost>`, toTag: call.fromTag, callId: call.callId, cseq: 100 + (++call.cseq),
        });
        this.send(m, this.fromDest(fwd.meta));
        if (rng.chance(0.5)) call.done = true;
        break;
      }
      case "retransmit200": if (fwd) this.send(sipResponseFor(fwd.buf, 200, { toTag: call.calleeTag, contact: "<sip:callee@192.0.2.20:5060>", body: SDP }), this.fromDest(fwd.meta)); break;
      case "answerBye": {
        const b = rng.pick(call.fwdBye);
        this.send(sipResponseFor(b.buf, rng.pick([200, 200, 481, 408]), {}), this.fromDest(b.meta));
        break;
      }
    }
  }

  // ---- answers to our own branches, echoes ------------------------------------------------------------

  answerStep() {
    const rng = this.rng;
    if (!this.sent.length) return this.dialogStep();
    const s = rng.pick(this.sent);
    const code = rng.pick([100, 180, 183, 199, 200, 200, 202, 300, 302, 401, 404, 407, 408, 481, 486, 487, 500, 503, 600, 603, 699, 101, 299]);
    let m = this.answerFor(s.buf, code);
    const k = rng.int(10);
    const from = this.fromDest(s.meta);
    if (k === 0) m = mutate(m, rng, this.rxCap); // garbage
    else if (k === 1) m = mutateStructured(m, rng, this.rxCap);
    else if (k === 2) { // a forged branch: same handle, another nonce / loop hash
      const b = topViaBranch(m);
      if (b && b.length > 10) {
        const at = 7 + rng.int(b.length - 7);
        const nb = b.slice(0, at) + rng.pick("0123456789abcdefX") + b.slice(at + 1);
        m = Buffer.from(m.toString("latin1").replace(b, nb), "latin1");
      }
    } else if (k === 3) { // only our Via (no next hop)
      const lines = m.toString("latin1").split("\r\n");
      let seen = 0;
      m = Buffer.from(lines.filter((l) => !/^via:/i.test(l) || seen++ === 0).join("\r\n"), "latin1");
    } else if (k === 4) { // duplicates, coalesced on a stream
      this.emit(m, from, [m]);
      return;
    } else if (k === 5) { // a different CSeq method
      m = Buffer.from(m.toString("latin1").replace(/CSeq: (\d+) (\w+)/, (_, n, meth) => `CSeq: ${n} ${rng.pick(["INVITE", "BYE", "CANCEL", "ACK", "OPTIONS", meth])}`), "latin1");
    }
    this.emit(m, from);
    if (rng.chance(0.15)) this.emit(this.answerFor(s.buf, rng.pick([200, 486, 180])), from); // a second answer
  }

  echoStep() {
    const rng = this.rng;
    if (!this.sentAll.length) return this.dialogStep();
    const s = rng.pick(this.sentAll);
    const m = rng.chance(0.3) ? mutate(s.buf, rng, this.rxCap) : s.buf;
    this.emit(m, this.fromDest(s.meta));
  }

  /** After a failure (keepGoing): a fresh instance for a trap, a re-init otherwise. */
  recover(e) {
    this.saveAnomalies();
    this.now += 1000;
    if (e.kind === "trap") {
      this.core = new FuzzCore({ board: this.board, seed: this.rng(), initNow: this.now, onTransmit: (b, m, n) => this.onTransmit(b, m, n), strict: this.opts.strict });
    } else {
      this.core.init(this.rng(), this.now);
    }
    this.resetState();
  }

  /** Anomaly counts of every instance so far; the first op of each kind with the trace that led to it. */
  saveAnomalies() {
    const c = this.core;
    for (const [k, v] of Object.entries(c.stats.anomalies)) this.anomalyTotals[k] = (this.anomalyTotals[k] || 0) + v;
    for (const [k, v] of Object.entries(c.anomalyFirst)) {
      if (this.anomalyFirst[k]) continue;
      const at = c.trace.indexOf(v.op);
      this.anomalyFirst[k] = { detail: v.detail, input: v.op?.bytes, trace: at >= 0 ? { board: this.board, seed: c.seed, initNow: c.initNow, ops: c.trace.slice(0, at + 1) } : null };
    }
    c.stats.anomalies = {};
    c.anomalyFirst = {};
  }
  anomalies() {
    this.saveAnomalies();
    return this.anomalyTotals;
  }

  // ---- epochs -------------------------------------------------------------------------------------

  /** Closes every connection, advances time past every timer, checks for leaks; then re-inits the core. */
  endEpoch(last = false) {
    this.saveAnomalies();
    for (const c of [...this.conns]) this.closeConn(c);
    const res = this.core.checkLeaks(this.now);
    this.now = res.now + 1000;
    this.epochs++;
    if (!last) {
      this.core.init(this.rng(), this.now);
      this.resetState();
    }
    return res;
  }
}

function isAllCrLf(b, n) {
  for (let i = 0; i < n; i++) if (b[i] !== 0x0d && b[i] !== 0x0a) return false;
  return true;
}

/** A framing log ([kind, position]…) as a comparable string: message ends and the final outcome. */
function framing(log) {
  const ends = log.filter((e) => e[0] === "m").map((e) => e[1]);
  const last = log[log.length - 1];
  const fin = !last ? "none" : last[0] === "close" ? `close@${last[1]}` : last[0] === "need" ? `need@${last[1]}` : "done";
  return `[${ends.join(",")}] ${fin}`;
}

export { OP };
