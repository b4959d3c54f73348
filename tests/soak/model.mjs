// An exact JS model of the registrar's location service (assembly/registrar/register.ts and table.ts),
// for the REGISTERs the soak sends (sip: contacts that differ at most in the letter case of their host
// name, no Path, no q). The soak checks the core against it: every status, every event, every 200's
// Contact list and the occupancy counters. The model is written from the rules, not from the code paths:
//   - contacts are compared as RFC 3261 §19.1.4 URIs: for the soak's URIs (lower-case user part) that is
//     their lower-case form, the binding's key; a refresh stores the new spelling; of two equal
//     contacts in one request only the last one acts;
//   - per contact: expires = its `expires` param, else the Expires header, else the default; above the
//     maximum it is clamped; 0 < expires < Min-Expires anywhere in the request → 423, nothing changes;
//   - a stored binding with the request's Call-ID and a higher CSeq → 500; an equal CSeq → untouched
//     (a retransmission); `*` with Expires: 0 removes every binding subject to the same rule;
//   - more bindings than the per-AOR limit would result → 403; a new AOR when the AOR table is full, or
//     more new bindings than free binding records → 503; else 200 listing every binding;
//   - a binding registered at `now` (ms, truncated by the core) for e seconds expires at the first
//     timer call whose truncated `now` reaches floor(now) + e × 1000.

/** Binary min-heap of { at, ... } records (the model's expiry queue and the soak's agenda). */
export class Heap {
  constructor() {
    this.a = [];
  }
  get size() {
    return this.a.length;
  }
  peek() {
    return this.a[0];
  }
  push(x) {
    const a = this.a;
    let i = a.push(x) - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (a[p].at <= x.at) break;
      a[i] = a[p];
      i = p;
    }
    a[i] = x;
  }
  pop() {
    const a = this.a;
    const top = a[0];
    const last = a.pop();
    if (a.length === 0) return top;
    let i = 0;
    for (;;) {
      let c = 2 * i + 1;
      if (c >= a.length) break;
      if (c + 1 < a.length && a[c + 1].at < a[c].at) c++;
      if (a[c].at >= last.at) break;
      a[i] = a[c];
      i = c;
    }
    a[i] = last;
    return top;
  }
}

export const EV = { ADD: 1, REFRESH: 2, REMOVE: 3, EXPIRE: 4, TABLE_FULL: 10 };

/** The key of a contact URI (its §19.1.4 identity for the URIs the soak writes). */
export function contactKey(uri) {
  return uri.toLowerCase();
}

export class RegistrarModel {
  /** cfg: { minExpires, maxExpires, defaultExpires, maxContacts }; caps: { aors, bindings } */
  constructor(cfg, caps) {
    this.cfg = cfg;
    this.caps = caps;
    this.aors = new Map(); // AOR key → Map(contact key → binding { uri (as stored), ... }), in the core's list order
    this.bindings = 0;
    this.expiry = new Heap(); // { at: deadline, aor, key, b }; stale entries are skipped when popped
  }

  /** Effective expiry (s) of each contact, before clamping. */
  expiresOf(req) {
    return req.contacts.map((c) => c.expires ?? req.expires ?? this.cfg.defaultExpires);
  }

  /**
   * What the core must do with `req` once the bindings due have expired (expireDue): { status, full
   * (the table a 503 found full: "aors" | "bindings"), events: [{ kind, uri, value }], acts } where
   * acts are applied by apply(). Changes nothing.
   */
  plan(req) {
    const cfg = this.cfg;
    const aor = this.aors.get(req.aor);
    const current = aor ? aor.size : 0;
    const acts = [];
    if (req.star) {
      for (const b of aor ? aor.values() : []) {
        if (b.callId === req.callId && req.cseq < b.cseq) return { status: 500, events: [], acts: [] };
      }
      for (const [key, b] of aor ?? []) {
        if (b.callId !== req.callId || req.cseq > b.cseq) acts.push({ kind: EV.REMOVE, key, uri: b.uri, e: 0 });
      }
      return { status: 200, events: acts.map(eventOf), acts };
    }
    const exp = this.expiresOf(req);
    if (exp.some((e) => e !== 0 && e < cfg.minExpires)) return { status: 423, events: [], acts: [] };
    const keys = req.contacts.map((c) => contactKey(c.uri));
    let adds = 0, removes = 0;
    for (let x = 0; x < req.contacts.length; x++) {
      const key = keys[x];
      if (keys.indexOf(key, x + 1) !== -1) continue; // superseded by a later equal contact
      const uri = req.contacts[x].uri;
      const e = Math.min(exp[x], cfg.maxExpires);
      const b = aor?.get(key);
      if (!b) {
        if (e === 0) continue; // removing what is not there
        acts.push({ kind: EV.ADD, key, uri, e });
        adds++;
        continue;
      }
      if (b.callId === req.callId) {
        if (req.cseq < b.cseq) return { status: 500, events: [], acts: [] };
        if (req.cseq === b.cseq) continue; // a retransmission: already applied
      }
      if (e === 0) removes++;
      // a removal's event names the binding as stored; a refresh stores the new spelling
      acts.push({ kind: e === 0 ? EV.REMOVE : EV.REFRESH, key, uri: e === 0 ? b.uri : uri, e });
    }
    if (current - removes + adds > cfg.maxContacts) return { status: 403, events: [], acts: [] };
    let full = "";
    if (!aor && adds > 0 && this.aors.size >= this.caps.aors) full = "aors";
    else if (adds > this.caps.bindings - this.bindings) full = "bindings";
    if (full) return { status: 503, full, events: [{ kind: EV.TABLE_FULL, uri: "", value: 0 }], acts: [] };
    // the core applies adds and refreshes first, removals last
    acts.sort((p, q) => (p.kind === EV.REMOVE) - (q.kind === EV.REMOVE));
    return { status: 200, events: acts.map(eventOf), acts };
  }

  /** Applies a 200's plan at `now` (integer ms); `t` is the exact (fractional) time. */
  apply(req, plan, now, t) {
    let aor = this.aors.get(req.aor);
    for (const act of plan.acts) {
      if (act.kind === EV.REMOVE) {
        this.remove(req.aor, act.key);
        continue;
      }
      if (!aor) this.aors.set(req.aor, (aor = new Map()));
      let b = aor.get(act.key);
      if (!b) {
        aor.set(act.key, (b = {}));
        this.bindings++;
      }
      b.uri = act.uri;
      b.callId = req.callId;
      b.cseq = req.cseq;
      b.deadline = now + act.e * 1000;
      b.exact = t + act.e * 1000;
      this.expiry.push({ at: b.deadline, aor: req.aor, key: act.key, b });
    }
  }

  remove(aorKey, key) {
    const aor = this.aors.get(aorKey);
    aor.delete(key);
    this.bindings--;
    if (aor.size === 0) this.aors.delete(aorKey);
  }

  /** Removes and returns every binding due at `now` (integer ms): [{ aor, uri (as stored), exact }]. */
  expireDue(now) {
    const out = [];
    const q = this.expiry;
    while (q.size && q.peek().at <= now) {
      const { at, aor, key, b } = q.pop();
      if (this.aors.get(aor)?.get(key) !== b || b.deadline !== at) continue; // refreshed or removed since
      this.remove(aor, key);
      out.push({ aor, uri: b.uri, exact: b.exact });
    }
    return out;
  }

  /** The 200's Contact list for AOR `name` at `now` (integer ms): Map(uri → expires s, rounded up). */
  listing(name, now) {
    const out = new Map();
    for (const b of this.aors.get(name)?.values() ?? []) out.set(b.uri, Math.ceil((b.deadline - now) / 1000));
    return out;
  }

  /** Earliest binding deadline still live (ms), or -1. */
  nextDeadline() {
    const q = this.expiry;
    while (q.size) {
      const { at, aor, key, b } = q.peek();
      if (this.aors.get(aor)?.get(key) === b && b.deadline === at) return at;
      q.pop();
    }
    return -1;
  }
}

function eventOf(act) {
  return { kind: act.kind, uri: act.uri, value: act.e };
}
