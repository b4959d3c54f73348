// The registrar soak (issue 6): the release core (build/<board>/sipling.wasm) driven through its ABI on
// VIRTUAL time by many simulated UAs sending REGISTERs over UDP, checked call by call against an exact
// model of the live bindings (model.mjs). Run by tools/soak.mjs (1,000,000 registrations) and, small, by
// soak.test.mjs.
//
// The UAs. UA i owns the AOR u<i in base 36, a Call-ID (a new one after a "reboot", CSeq from 1 again),
// an increasing CSeq, 1-4 contacts (4 = the per-AOR limit the soak sets) on its own address 10.x.y.z
// (ports 5061..; every fourth UA uses a host name instead, which it writes in random letter case 30% of
// the time: the same URI, so a refresh) and sends from 10.x.y.z:5060. It arrives at random (an arrival
// cancels what it had planned), registers all its contacts with random expiries (3% below Min-Expires
// → 423, then it retries with the Min-Expires it was given; 3% above the maximum → clamped; per-contact,
// Expires header, both, or neither; 1% name a contact twice), then refreshes before expiry, or
// de-registers (one contact, all of them, or `*`), or lets its bindings expire. 0.5% of its refreshes
// carry 4 extra contacts (over the per-AOR limit → 403, then it retries without them). The network retransmits 2% of the requests (same bytes 500 ms later: same
// Call-ID and CSeq, must change nothing) and delivers 0.5% of the previous requests late (a lower CSeq:
// 500 when it touches a newer binding).
// Phases (by registrations sent):
//   churn  50%   random arrivals at a rate that keeps about half the AOR table busy;
//   drain        plans cancelled, time runs past every expiry: the tables must be back to 0;
//   fill  ≤40%   one arrival per ms, UAs in a random order: first each registers its first contact only
//                until the AOR table is full and has refused 1% of its capacity with 503, then the UAs
//                holding an AOR register all their contacts until the binding table is full and has
//                refused as many (a count too small to fill the tables stops it at 90%);
//   churn  rest  random arrivals again, on the full tables;
//   drain        time runs past every expiry: the tables must be back to 0, the model empty.
//
// Timers are driven like a host: before each input at time t, sip_handle_timeout(d) for every deadline
// d = sip_poll_timeout() <= t, at exactly d; no due deadline is ever skipped. Times are fractional ms
// (like performance.now() in the Node host); the core truncates them: its timer tick is 1 ms (TICK_MS),
// a binding registered at t for e s expires at floor(t) + e × 1000.
//
// Oracles, after EVERY call (so every registration and every time step):
//   - sip_stat(2) bindings and sip_stat(4) AORs in use equal the model's; never above capacity (3, 5);
//     registrar pool blocks (8) = AORs + bindings (one block per key and per contact); transactions
//     (0) = 0 (REGISTER is answered statelessly); messages received (11) and sent (13) = REGISTERs sent,
//     table-full refusals (14) = 503s; memory.buffer.byteLength and sip_stat(17) never change;
//   - a REGISTER gets exactly one transmit, to its source; a timer call gets none; the status is the
//     model's (200/423/403/500/503), Call-ID and CSeq echo the request, a 423 carries Min-Expires, a
//     503 Retry-After and a table-full event, a 200 lists exactly the model's bindings with
//     expires = the remaining time rounded up to a second;
//   - the events of a call are exactly the model's: reg-add / reg-refresh (value = granted expiry) /
//     reg-remove per contact in the core's order, and reg-expire only for bindings the model says are
//     due, with event time = the call's truncated now; events lost to the ring (sip_stat(10)) are
//     accounted for (only the oldest of a call can be lost);
//   - every expiry happens within one tick of its exact instant (registration time + expires):
//     -TICK_MS < lateness <= TICK_MS; a binding the core keeps past its instant shows up as a counter
//     mismatch at the next call and as lateness when it goes;
//   - after each drain: no timer armed, 0 bindings, 0 AORs, 0 pool blocks, the model empty.
import { FuzzCore, peerRecord, Failure } from "../fuzz/core.mjs";
import { makeRng } from "../lib/corpus.mjs";
import { RegistrarModel, Heap, EV, contactKey } from "./model.mjs";

export const TICK_MS = 1;
/** Registrar settings the soak sets (ABI keys 5-8); 4 contacts per AOR is within MAX_FORK on every board. */
const CONFIG = { minExpires: 60, maxExpires: 3600, defaultExpires: 3600, maxContacts: 4 };
const CFG_KEYS = { minExpires: 5, maxExpires: 6, defaultExpires: 7, maxContacts: 8 };
const T0 = 1000;
/** Mean life (ms) of a UA's registration chain, to size the churn arrival rate (see followUp). */
const CHAIN_MS = 4_000_000;
const EXTRA_CONTACTS = 4;
const RETRANSMIT_MS = 500;

export class SoakFailure extends Error {}

/**
 * Runs the soak. opts: { board ("server"), count (REGISTERs to send, 1,000,000), seed, users (distinct
 * AORs; default min(200,000, 2 × AOR capacity)), log (progress lines, optional) }. Returns the figures
 * (see formatSummary); throws SoakFailure on the first oracle violation.
 */
export function runSoak(opts = {}) {
  const s = new Soak(opts);
  try {
    s.run();
  } catch (e) {
    if (e instanceof Failure) throw new SoakFailure(`core ABI check at ${s.where()}: ${e.message}`);
    throw e;
  }
  return s.figures();
}

class Soak {
  constructor({ board = "server", count = 1_000_000, seed = 1, users, log = null }) {
    this.board = board;
    this.count = count;
    this.seed = seed >>> 0;
    this.rng = makeRng(this.seed);
    this.log = log;
    this.tx = [];
    this.events = [];
    this.core = new FuzzCore({
      board, seed: this.seed, record: false, initNow: T0,
      onTransmit: (buf, meta) => this.tx.push({ buf, meta }),
      onEvent: (kind, mem, at) => this.events.push(readEvent(kind, mem, at)),
    });
    this.ex = this.core.ex;
    for (const [name, key] of Object.entries(CFG_KEYS)) {
      if (this.ex.sip_cfg_set(key, CONFIG[name]) !== 0) throw new Error(`sip_cfg_set(${key}, ${CONFIG[name]}) refused`);
    }
    this.caps = { aors: this.ex.sip_stat(5), bindings: this.ex.sip_stat(3) };
    this.users = users ?? Math.min(200_000, 2 * this.caps.aors);
    if (!(this.users >= 1 && this.users <= 1 << 24)) throw new Error(`users must be 1..${1 << 24}`);
    this.model = new RegistrarModel(CONFIG, this.caps);
    this.memBytes = this.ex.memory.buffer.byteLength;
    this.heapTop = this.ex.sip_stat(17);
    this.uas = new Array(this.users);
    this.agenda = new Heap(); // UA plans { at, ua, gen, act } and network copies { at, req, stale }
    this.now = T0;
    this.sent = 0;
    this.n = {
      status: { 200: 0, 423: 0, 403: 0, 500: 0, 503: 0 }, ua: 0, retransmits: 0, stale: 0, refreshes: 0,
      deregs: 0, stars: 0, full: { aors: 0, bindings: 0 }, added: 0, refreshed: 0, removed: 0, expired: 0, timerCalls: 0, lost: 0,
      maxAors: 0, maxBindings: 0, late: -Infinity, early: Infinity,
    };
    this.t0 = performance.now();
  }

  where() {
    return `registration ${this.sent}, t=${this.now} ms`;
  }

  fail(msg) {
    throw new SoakFailure(`${this.board} seed ${this.seed}, ${this.where()}: ${msg}`);
  }

  run() {
    const random = (t) => this.arrive(t, this.ua(this.rng.int(this.users)), {});
    this.drive(this.churnMean(), random, () => this.sent >= Math.floor(this.count * 0.5));
    this.drain("churn");
    this.fill(Math.floor(this.count * 0.9));
    this.drive(this.churnMean(), random, () => this.sent >= this.count);
    this.drain("tail");
  }

  /** Mean gap (ms) between churn arrivals: chains of CHAIN_MS keep about half the AOR table busy. */
  churnMean() {
    return CHAIN_MS / (0.5 * Math.min(this.users, this.caps.aors));
  }

  /** Arrivals every `mean` ms on average (arrive(t)) and the UAs' planned actions, in time order, until done(). */
  drive(mean, arrive, done) {
    let next = this.now;
    while (!done()) {
      const a = this.agenda.peek();
      if (a && a.at <= next) {
        this.agenda.pop();
        if (a.req) this.copy(a);
        else if (a.gen === a.ua.gen) a.act(a.at);
        continue;
      }
      const t = next;
      next += -Math.log(1 - this.rng() / 4294967296) * mean;
      arrive(t);
    }
  }

  /** A UA comes up: it forgets what it had planned, sometimes reboots, and registers. */
  arrive(t, ua, how) {
    ua.gen++;
    if (this.rng.chance(0.1)) this.reboot(ua);
    this.register(ua, t, how);
  }

  /**
   * Fills the registrar at one arrival per ms, UAs in a random order: first every UA registers its
   * first contact only, until the AOR table is full and has refused `overflow` new AORs with 503; then
   * the UAs holding an AOR register all their contacts until the binding table is full and has refused
   * `overflow` registrations. Stops early at `until` registrations sent.
   */
  fill(until) {
    const order = Array.from({ length: this.users }, (_, i) => i);
    for (let i = order.length - 1; i > 0; i--) {
      const j = this.rng.int(i + 1);
      [order[i], order[j]] = [order[j], order[i]];
    }
    for (const [table, primary] of [["aors", true], ["bindings", false]]) {
      const walk = primary ? order : order.filter((i) => this.uas[i] && this.model.aors.has(this.uas[i].user));
      const overflow = Math.max(10, Math.floor(this.caps[table] / 100));
      const full0 = this.n.full[table];
      let k = 0;
      const next = (t) => this.arrive(t, this.ua(walk[k++]), { primary });
      this.drive(1, next, () => this.sent >= until || k >= walk.length || this.n.full[table] - full0 >= overflow);
      this.log?.(`fill ${table} done: ${this.progress()}`);
    }
  }

  /** Cancels every plan and lets time run past every expiry: the tables must be back to 0. */
  drain(phase) {
    this.agenda = new Heap();
    this.fireTimers(Infinity);
    const left = this.model.nextDeadline();
    if (left >= 0) this.fail(`no timer armed, but the model still has ${this.model.bindings} bindings (next due at ${left})`);
    const st = (id) => this.ex.sip_stat(id);
    if (st(2) !== 0 || st(4) !== 0 || st(8) !== 0) {
      this.fail(`after every expiry: ${st(2)} bindings, ${st(4)} AORs, ${st(8)} pool blocks in use`);
    }
    this.log?.(`${phase} drained: ${this.progress()}`);
  }

  ua(i) {
    let ua = this.uas[i];
    if (ua) return ua;
    const ip = `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
    const user = `u${i.toString(36)}`;
    const named = i % 4 === 0;
    const host = named ? `ua${i.toString(36)}.example.net` : ip;
    const contacts = [];
    for (let j = 0, n = 1 + this.rng.int(CONFIG.maxContacts); j < n; j++) contacts.push(`sip:${user}@${host}:${5061 + j}`);
    ua = this.uas[i] = {
      i, user, ip, host, named, peer: peerRecord(0, 1, ip, 5060), contacts, boot: 0, callId: "", cseq: 0, gen: 0, prev: null,
    };
    this.reboot(ua);
    return ua;
  }

  /**
   * A contact as the UA writes it this time: 30% of the time with its host name in random letter case
   * (the same URI by §19.1.4: a refresh, not a new binding; the core then stores the new spelling).
   */
  spell(ua, uri) {
    if (!ua.named || !this.rng.chance(0.3)) return uri;
    const at = uri.indexOf("@") + 1, port = uri.lastIndexOf(":");
    let host = "";
    for (const c of uri.slice(at, port)) host += this.rng.chance(0.5) ? c.toUpperCase() : c;
    return uri.slice(0, at) + host + uri.slice(port);
  }

  /** A new Call-ID, CSeq from 1 again: the bindings of the old Call-ID are replaced whatever their CSeq. */
  reboot(ua) {
    ua.boot++;
    ua.callId = `${ua.i.toString(36)}-${ua.boot}@soak`;
    ua.cseq = 0;
  }

  /** Expiry (s) of a registration: 3% below Min-Expires, 3% above the maximum, else 60..3600. */
  drawExpires() {
    const r = this.rng.int(100);
    if (r < 3) return 1 + this.rng.int(CONFIG.minExpires - 1);
    if (r < 6) return CONFIG.maxExpires + 1 + this.rng.int(CONFIG.maxExpires);
    return CONFIG.minExpires + this.rng.int(CONFIG.maxExpires - CONFIG.minExpires + 1);
  }

  /**
   * Registers (or refreshes) the UA's contacts: all of them, or only the first (`primary`), plus
   * EXTRA_CONTACTS more (`extra`: over the per-AOR limit); `expires` fixed (a 423 retry) or drawn.
   * 1% of them name one contact twice, the second time with an expiry of its own (the last one acts).
   */
  register(ua, t, { expires, extra = false, primary = false }) {
    const e = expires ?? this.drawExpires();
    const uris = (primary ? ua.contacts.slice(0, 1) : ua.contacts).map((u) => this.spell(ua, u));
    if (extra) for (let j = 0; j < EXTRA_CONTACTS; j++) uris.push(`sip:${ua.user}@${ua.host}:${6001 + j}`);
    const req = { contacts: [], expires: undefined, star: false, primary };
    const style = expires === undefined ? this.rng.int(100) : 60;
    if (style < 55) {
      // per-contact expires, some with a value of their own
      for (const uri of uris) req.contacts.push({ uri, expires: this.rng.chance(0.3) ? this.drawExpires() : e });
    } else if (style < 85) {
      req.expires = e;
      for (const uri of uris) req.contacts.push({ uri });
    } else if (style < 95) {
      req.expires = this.drawExpires(); // overridden by every contact's own value
      for (const uri of uris) req.contacts.push({ uri, expires: e });
    } else {
      for (const uri of uris) req.contacts.push({ uri }); // the default expiry
    }
    if (!extra && this.rng.chance(0.01)) {
      req.contacts.push({ uri: this.spell(ua, ua.contacts[this.rng.int(uris.length)]), expires: this.drawExpires() });
    }
    if (this.model.aors.get(ua.user)?.size) this.n.refreshes++;
    this.send(ua, t, req);
  }

  /** Removes one live contact, all of them, or everything with `*`. */
  deregister(ua, t) {
    const live = ua.contacts.filter((u) => this.model.aors.get(ua.user)?.has(u));
    if (live.length === 0) return; // everything expired meanwhile
    const r = this.rng.int(10);
    let req;
    if (r < 2) {
      req = { contacts: [], expires: 0, star: true };
      this.n.stars++;
    } else if (r < 5) {
      req = { contacts: live.map((uri) => ({ uri, expires: 0 })), expires: undefined, star: false };
    } else {
      req = { contacts: [{ uri: this.spell(ua, live[this.rng.int(live.length)]) }], expires: 0, star: false };
    }
    this.n.deregs++;
    this.send(ua, t, req);
  }

  /** Sends a UA's request at t and reacts to the answer; the network may copy it. */
  send(ua, t, req) {
    ua.cseq++;
    req.ua = ua;
    req.aor = ua.user;
    req.callId = ua.callId;
    req.cseq = ua.cseq;
    req.bytes = registerBytes(req);
    this.n.ua++;
    const res = this.deliver(t, req);
    if (this.rng.chance(0.02)) this.agenda.push({ at: t + RETRANSMIT_MS, req, stale: false });
    if (ua.prev && this.rng.chance(0.005)) this.agenda.push({ at: t + 1 + this.rng.int(50), req: ua.prev, stale: true });
    ua.prev = req;
    this.followUp(ua, t, req, res);
  }

  /** A network copy of an earlier request (its answer goes nowhere: the UA has moved on). */
  copy(a) {
    if (a.stale) this.n.stale++;
    else this.n.retransmits++;
    this.deliver(a.at, a.req);
  }

  /** What the UA does after the answer to its request. */
  followUp(ua, t, req, res) {
    const plan = (at, act) => this.agenda.push({ at, ua, gen: ua.gen, act });
    if (res.status === 423) {
      plan(t + 1 + this.rng.int(100), (at) => this.register(ua, at, { expires: res.minExpires, primary: req.primary }));
      return;
    }
    if (res.status === 403) {
      plan(t + 1 + this.rng.int(100), (at) => this.register(ua, at, { primary: req.primary }));
      return;
    }
    const mine = [...res.contacts].filter(([u]) => ua.contacts.includes(contactKey(u))).map(([, e]) => e);
    if (res.status !== 200 || mine.length === 0 || req.star) return; // 503 (gives up) or nothing left
    const e = Math.min(...mine) * 1000;
    const r = this.rng.int(100);
    if (r < 60) {
      const extra = this.rng.chance(0.005);
      plan(t + e * (0.5 + 0.45 * this.rng.int(1000) / 1000), (at) => this.register(ua, at, { extra }));
    } else if (r < 75) {
      plan(t + e * 0.9 * this.rng.int(1000) / 1000, (at) => this.deregister(ua, at));
    } // else: left to expire
  }

  // ---- one ABI input at a time, checked --------------------------------------------------------------

  /** Fires every timer due up to t (at its deadline, like a host), then delivers req at t. */
  deliver(t, req) {
    this.fireTimers(t);
    this.now = t;
    this.sent++;
    if (this.sent % 100_000 === 0) this.log?.(this.progress());
    return this.input(t, req);
  }

  /** sip_handle_timeout(d) for each deadline d = sip_poll_timeout() <= t, in order, never skipping one. */
  fireTimers(t) {
    let last = -1;
    for (let d = this.ex.sip_poll_timeout(); d >= 0 && d <= t; d = this.ex.sip_poll_timeout()) {
      const at = Math.max(d, this.now);
      if (at === last) this.fail(`sip_handle_timeout(${at}) left deadline ${d} armed`);
      this.now = last = at;
      this.n.timerCalls++;
      this.input(at, null);
    }
  }

  /**
   * One call at time t: sip_handle_datagram(req) or, req null, sip_handle_timeout. The model first
   * expires what is due at the truncated now (the core's tick does the same before anything else).
   * Returns the parsed answer to req.
   */
  input(t, req) {
    const now = Math.floor(t);
    const due = this.model.expireDue(now);
    const plan = req ? this.model.plan(req) : null;
    this.tx.length = 0;
    this.events.length = 0;
    const lost0 = this.ex.sip_stat(10);
    if (req) {
      const r = this.core.datagram(t, req.ua.peer, req.bytes);
      if (r !== 0) this.fail(`sip_handle_datagram returned ${r} for\n${req.bytes}`);
    } else {
      this.core.timeout(t);
    }
    const lost = this.ex.sip_stat(10) - lost0;
    this.n.lost += lost;
    this.checkExpiries(due, now, lost);
    let res = null;
    if (req) {
      res = this.checkAnswer(req, plan, now);
      this.checkRequestEvents(req, plan, Math.max(0, lost - due.length));
    } else if (this.tx.length !== 0 || this.events.length !== countKind(this.events, EV.EXPIRE)) {
      this.fail(`sip_handle_timeout sent ${this.tx.length} messages, events ${JSON.stringify(this.events)} (only expiries expected)`);
    }
    this.checkCounters();
    return res;
  }

  /** Expire events: exactly the due bindings (minus what the ring lost), at the call's now, on time. */
  checkExpiries(due, now, lost) {
    const want = new Map(due.map((d) => [`${d.aor} ${d.uri}`, d]));
    let got = 0;
    for (const e of this.events) {
      if (e.kind !== EV.EXPIRE) continue;
      got++;
      const key = `${e.aor} ${e.contact}`;
      if (!want.delete(key)) this.fail(`reg-expire for ${key}, which the model does not expire at ${now}`);
      if (e.time !== now) this.fail(`reg-expire for ${key} with time ${e.time}, the call's now is ${now}`);
    }
    if (got + Math.min(lost, due.length) !== due.length) {
      this.fail(`${got} reg-expire events (+${lost} lost) for ${due.length} bindings due: ${[...want.keys()].slice(0, 5).join(", ")}`);
    }
    for (const d of due) {
      const late = now - d.exact;
      if (late > TICK_MS || late <= -TICK_MS) {
        this.fail(`binding ${d.aor} ${d.uri} expired at ${now}, its instant is ${d.exact} (${late} ms)`);
      }
      if (late > this.n.late) this.n.late = late;
      if (late < this.n.early) this.n.early = late;
    }
    this.n.expired += due.length;
  }

  /** The one answer to req: status, echo, extra headers, the 200's bindings. Applies a 200 to the model. */
  checkAnswer(req, plan, now) {
    if (this.tx.length !== 1) this.fail(`${this.tx.length} messages sent for one REGISTER\n${req.bytes}`);
    const { buf, meta } = this.tx[0];
    const peer = req.ua.peer;
    if (meta[4] !== 1 || meta.readUInt32LE(8) !== peer.readUInt32LE(8) || meta.readUInt16LE(6) !== 5060) {
      this.fail(`answer not sent back to ${req.ua.ip}:5060 over UDP`);
    }
    const res = parseAnswer(buf);
    const text = () => `\n--- request\n${req.bytes}--- answer\n${buf.toString("latin1")}`;
    if (res.status !== plan.status) this.fail(`status ${res.status}, the model says ${plan.status}${text()}`);
    if (res.headers["Call-ID"] !== req.callId || res.headers.CSeq !== `${req.cseq} REGISTER`) {
      this.fail(`answer does not echo Call-ID / CSeq${text()}`);
    }
    this.n.status[res.status]++;
    if (plan.full) this.n.full[plan.full]++;
    if (res.status === 423 && res.minExpires !== CONFIG.minExpires) this.fail(`423 without Min-Expires: ${CONFIG.minExpires}${text()}`);
    if (res.status === 503 && !res.headers["Retry-After"]) this.fail(`503 without Retry-After${text()}`);
    if (res.status === 200) this.model.apply(req, plan, now, this.now);
    const want = res.status === 200 ? this.model.listing(req.aor, now) : new Map();
    if (res.contacts.size !== want.size || [...want].some(([u, e]) => res.contacts.get(u) !== e)) {
      this.fail(`the answer lists ${fmtList(res.contacts)}, the model ${fmtList(want)}${text()}`);
    }
    return res;
  }

  /** The request's own events (after any expiries), in order; the first `lost` may have been lost. */
  checkRequestEvents(req, plan, lost) {
    const got = this.events.filter((e) => e.kind !== EV.EXPIRE);
    const want = plan.events.slice(lost);
    const bad = got.length !== want.length || got.some((e, i) => {
      const w = want[i];
      if (e.kind !== w.kind || e.value !== w.value) return true;
      if (w.kind === EV.TABLE_FULL) return e.code !== 503 || e.callId !== req.callId;
      return e.code !== 200 || e.aor !== req.aor || e.contact !== w.uri || e.callId !== req.callId;
    });
    if (bad) this.fail(`events ${JSON.stringify(got)}, the model says ${JSON.stringify(want)}\n${req.bytes}`);
    for (const e of got) {
      if (e.kind === EV.ADD) this.n.added++;
      else if (e.kind === EV.REFRESH) this.n.refreshed++;
      else if (e.kind === EV.REMOVE) this.n.removed++;
    }
  }

  checkCounters() {
    const st = (id) => this.ex.sip_stat(id);
    const m = this.model;
    const bindings = st(2), aors = st(4);
    if (bindings !== m.bindings || aors !== m.aors.size) {
      this.fail(`core has ${bindings} bindings / ${aors} AORs in use, the model ${m.bindings} / ${m.aors.size}`);
    }
    if (bindings > st(3) || aors > st(5)) this.fail(`occupancy ${bindings}/${aors} above capacity ${st(3)}/${st(5)}`);
    if (st(8) !== aors + bindings) this.fail(`${st(8)} registrar pool blocks in use for ${aors} AOR keys + ${bindings} contacts`);
    if (st(0) !== 0) this.fail(`${st(0)} transactions in use (REGISTER is stateless)`);
    if (st(11) !== this.sent || st(13) !== this.sent) this.fail(`${st(11)} messages received, ${st(13)} sent for ${this.sent} REGISTERs`);
    if (st(14) !== this.n.status[503]) this.fail(`sip_stat(14) counts ${st(14)} table-full refusals, ${this.n.status[503]} 503s seen`);
    if (this.ex.memory.buffer.byteLength !== this.memBytes) this.fail(`memory grew to ${this.ex.memory.buffer.byteLength} bytes`);
    if (st(17) !== this.heapTop) this.fail(`sip_stat(17) moved from ${this.heapTop} to ${st(17)}`);
    if (bindings > this.n.maxBindings) this.n.maxBindings = bindings;
    if (aors > this.n.maxAors) this.n.maxAors = aors;
  }

  progress() {
    const secs = (performance.now() - this.t0) / 1000;
    return `${this.sent} sent, ${this.model.aors.size} AORs / ${this.model.bindings} bindings live, ` +
      `t=${(this.now / 3.6e6).toFixed(2)} h virtual, ${secs.toFixed(1)} s wall`;
  }

  figures() {
    const n = this.n;
    const wall = (performance.now() - this.t0) / 1000;
    return {
      board: this.board, seed: this.seed, users: this.users, sent: this.sent, ua: n.ua, retransmits: n.retransmits,
      stale: n.stale, status: n.status, full: n.full, refreshes: n.refreshes, deregs: n.deregs, stars: n.stars, added: n.added,
      refreshed: n.refreshed, removed: n.removed, expired: n.expired, timerCalls: n.timerCalls, lost: n.lost,
      maxAors: n.maxAors, maxBindings: n.maxBindings, caps: this.caps, maxLateMs: Math.max(0, n.late), maxEarlyMs: Math.max(0, -n.early),
      memoryBytes: this.memBytes, heapTop: this.heapTop, virtualMs: this.now - T0, wallSecs: wall, rate: this.sent / wall,
      end: { bindings: this.ex.sip_stat(2), aors: this.ex.sip_stat(4), model: this.model.bindings },
    };
  }
}

// ---- wire ------------------------------------------------------------------------------------------

/** The REGISTER of req: { ua, aor, callId, cseq, contacts: [{ uri, expires? }], expires?, star }. */
function registerBytes(req) {
  const { ua } = req;
  const lines = [
    "REGISTER sip:localhost SIP/2.0",
    `Via: SIP/2.0/UDP ${ua.ip}:5060;branch=z9hG4bK${req.callId.replace("@", ".")}.${req.cseq};rport`,
    "Max-Forwards: 70",
    `To: <sip:${req.aor}@localhost>`,
    `From: <sip:${req.aor}@localhost>;tag=${ua.i.toString(36)}`,
    `Call-ID: ${req.callId}`,
    `CSeq: ${req.cseq} REGISTER`,
  ];
  if (req.star) lines.push("Contact: *");
  for (const c of req.contacts) lines.push(c.expires === undefined ? `Contact: <${c.uri}>` : `Contact: <${c.uri}>;expires=${c.expires}`);
  if (req.expires !== undefined) lines.push(`Expires: ${req.expires}`);
  lines.push("Content-Length: 0", "", "");
  return Buffer.from(lines.join("\r\n"), "latin1");
}

/** { status, headers (last value of each name), contacts: Map(uri → expires), minExpires } */
function parseAnswer(buf) {
  const lines = buf.toString("latin1").split("\r\n");
  const res = { status: Number(lines[0].slice(8, 11)), headers: {}, contacts: new Map(), minExpires: 0 };
  for (let i = 1; i < lines.length && lines[i] !== ""; i++) {
    const l = lines[i];
    const c = l.indexOf(": ");
    const name = l.slice(0, c), value = l.slice(c + 2);
    if (name === "Contact") {
      const m = /^<([^>]*)>;expires=(\d+)$/.exec(value);
      res.contacts.set(m ? m[1] : value, m ? Number(m[2]) : NaN);
    }
    res.headers[name] = value;
  }
  res.minExpires = Number(res.headers["Min-Expires"]);
  return res;
}

function readEvent(kind, mem, at) {
  const lens = [0, 1, 2, 3].map((i) => mem.readUInt16LE(at + 56 + 2 * i));
  let off = at + 64;
  const [aor, contact, callId] = lens.map((l) => mem.toString("latin1", off, (off += l)));
  return { kind, code: mem.readInt32LE(at + 4), time: mem.readDoubleLE(at + 8), value: mem.readUInt32LE(at + 16), aor, contact, callId };
}

function countKind(events, kind) {
  return events.reduce((n, e) => n + (e.kind === kind), 0);
}

/** ms to 3 decimals, truncated toward 0 (0.9996 ms early is "0.999", not "1.000"), never "-0.000". */
function fmtMs(x) {
  return (Math.trunc(x * 1000) / 1000 + 0).toFixed(3);
}

function fmtList(m) {
  return m.size ? [...m].map(([u, e]) => `${u};expires=${e}`).join(", ") : "nothing";
}

/** The one-line summary of runSoak's figures. */
export function formatSummary(f) {
  const s = f.status;
  const h = (ms) => (ms / 3.6e6).toFixed(2);
  return `soak ${f.board} seed ${f.seed}: ${f.sent} REGISTERs (${f.ua} from ${f.users} UAs, ${f.retransmits} retransmitted, ` +
    `${f.stale} stale copies) → 200 ${s[200]}, 423 ${s[423]}, 403 ${s[403]}, 500 ${s[500]}, ` +
    `503 ${s[503]} (AOR table full ${f.full.aors}, binding table full ${f.full.bindings}); ` +
    `${f.refreshes} refreshes, ${f.deregs} de-registrations (${f.stars} with *); bindings added ${f.added}, ` +
    `refreshed ${f.refreshed}, removed ${f.removed}, expired ${f.expired} (${f.timerCalls} timer calls, ${f.lost} events lost); ` +
    `max occupancy ${f.maxAors}/${f.caps.aors} AORs, ${f.maxBindings}/${f.caps.bindings} bindings; ` +
    `expiries at most ${fmtMs(f.maxLateMs)} ms late and ${fmtMs(f.maxEarlyMs)} ms early (tick ${TICK_MS} ms); ` +
    `memory ${f.memoryBytes} bytes (in use ${f.heapTop}), unchanged; end ${f.end.bindings} bindings, ${f.end.aors} AORs; ` +
    `${h(f.virtualMs)} h virtual, ${f.wallSecs.toFixed(1)} s wall, ${Math.round(f.rate)} REGISTERs/s`;
}
