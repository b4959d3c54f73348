// Location-service lookup (RFC 3261 §16.5 "Determining Request Targets" via §10 bindings): the
// current bindings of an AOR, best q first (absent q = 1.0), ties by most recent registration, into
// one TargetSet allocated at start-up. Each target names the contact URI as registered (inside the
// `<>`; it may hold URI headers, e.g. RFC 4475 regescrt — the proxy strips `?...` when it makes the
// Request-URI), the RFC 3327 Path route set, and the REGISTER's source (RFC 3581: send there).
//
// The strings stay in the registrar's pool: a target keeps their handles, and uri(i) / path(i) copy
// one of them into a scratch buffer when asked (valid until the next call of the same getter). The set
// is read in the same step as the lookup (nothing can change the bindings in between), so the
// handles need no reference of their own.
//
//   meta   MAX_FORK × 24 (+0 uriLen, +4 pathLen, +8 q, +12 binding, +16 contact, +20 path handles)
//   peers  (MAX_FORK + 1) × 32 (the extra one stays zero: source() of an index out of range)
//   URI, PATH  one MAX_TARGET_URI and one MAX_TARGET_PATH scratch buffer, the start of TARGET_SCRATCH

import { MAX_FORK, MAX_TARGET_URI, MAX_TARGET_PATH } from "../config";
import { Peer, PEER_SIZE } from "../net/peer";
import { UriRepr } from "../wire/uri";
import { aorAt, aorFind, bindAt, bindPeer, keyHash, makeKey, regPool } from "./table";

const META: usize = 24;

/**
 * One scratch area for one target at a time, shared by three users whose uses never overlap (each
 * ends before anything else runs): uri(i) / path(i) below (read at once by the caller, e.g. into the
 * message pool); the proxy reading a stored target back (proxy/response.ts: URI, Path, then its q and
 * source in the last 2 + PEER_SIZE bytes), after the set was stored; and a REGISTER's joined Path
 * (register.ts, stored into the registrar's pool in the same step). MAX_TARGET_URI + MAX_TARGET_PATH
 * + 2 + PEER_SIZE bytes.
 */
export const TARGET_SCRATCH: usize = memory.data(MAX_TARGET_URI + MAX_TARGET_PATH + 2 + <i32>PEER_SIZE);
const URI: usize = TARGET_SCRATCH;
export const TARGET_SCRATCH_PATH: usize = TARGET_SCRATCH + <usize>MAX_TARGET_URI;
const PATH: usize = TARGET_SCRATCH_PATH;

export class TargetSet {
  count: i32 = 0;
  private meta: usize = heap.alloc(<usize>MAX_FORK * META);
  private peers: usize = heap.alloc(<usize>(MAX_FORK + 1) * <usize>PEER_SIZE);

  constructor() {
    memory.fill(this.peers, 0, <usize>(MAX_FORK + 1) * <usize>PEER_SIZE);
  }

  reset(): void { this.count = 0; }

  // Getters: an index outside [0, count) reads as empty (never traps).
  private ok(i: i32): bool { return <u32>i < <u32>this.count; }
  private field(i: i32, at: usize): u32 { return this.ok(i) ? load<u32>(this.meta + <usize>i * META + at) : 0; }
  /** Target i's contact URI, copied into a scratch buffer valid until the next uri(); 0 out of range. */
  uri(i: i32): usize { return this.copy(i, 16, URI); }
  uriLen(i: i32): u32 { return this.field(i, 0); }
  /** Target i's Path set, copied into a scratch buffer valid until the next path(); 0 out of range. */
  path(i: i32): usize { return this.copy(i, 20, PATH); }
  pathLen(i: i32): u32 { return this.field(i, 4); }
  q(i: i32): i32 { return this.ok(i) ? <i32>this.field(i, 8) : 0; }
  binding(i: i32): i32 { return this.ok(i) ? <i32>this.field(i, 12) : -1; }
  source(i: i32): Peer {
    const k = this.ok(i) ? i : MAX_FORK;
    return changetype<Peer>(this.peers + <usize>k * <usize>PEER_SIZE);
  }

  private copy(i: i32, at: usize, dst: usize): usize {
    if (!this.ok(i)) return 0;
    const h = this.field(i, at);
    if (h != 0) regPool.copyOut(h, dst);
    return dst;
  }

  /** Append binding b (count < MAX_FORK is the caller's). */
  add(b: i32): void {
    const i = this.count;
    if (i >= MAX_FORK) return;
    const r = bindAt(b);
    const m = this.meta + <usize>i * META;
    // a string longer than its scratch buffer is left out (length 0), as the registrar never stores one
    const c = r.contact != 0 && regPool.len(r.contact) <= <u32>MAX_TARGET_URI ? r.contact : 0;
    const p = r.path != 0 && regPool.len(r.path) <= <u32>MAX_TARGET_PATH ? r.path : 0;
    store<u32>(m, c != 0 ? regPool.len(c) : 0);
    store<u32>(m, p != 0 ? regPool.len(p) : 0, 4);
    store<i32>(m, r.q < 0 ? 1000 : r.q, 8);
    store<i32>(m, b, 12);
    store<u32>(m, c, 16);
    store<u32>(m, p, 20);
    changetype<Peer>(this.peers + <usize>i * <usize>PEER_SIZE).copyFrom(bindPeer(b));
    this.count = i + 1;
  }
}

export const targets = new TargetSet();

// Binding ids of the AOR being looked up, sorted before copying.
const order = new StaticArray<i32>(MAX_FORK);

function effQ(b: i32): i32 { const q = bindAt(b).q; return q < 0 ? 1000 : q; }

/** b should come before c: higher q, then more recent registration. */
function before(b: i32, c: i32): bool {
  const qb = effQ(b), qc = effQ(c);
  if (qb != qc) return qb > qc;
  return bindAt(b).stamp > bindAt(c).stamp;
}

/**
 * The current bindings (deadline > now) of the AOR named by `uri` (sip/sips; key = unescaped user,
 * see table.ts), best first, into `out`. Returns the count (0 = not registered). Changes nothing.
 */
export function registrarLookup(uri: UriRepr, now: i64, out: TargetSet): i32 {
  out.reset();
  const len = makeKey(uri);
  if (len < 0) return 0;
  const a = aorFind(len, keyHash(len));
  if (a < 0) return 0;
  let n = 0;
  for (let b = aorAt(a).first; b >= 0; b = bindAt(b).next) {
    if (bindAt(b).deadline <= now) continue; // due, not yet ticked
    if (n >= MAX_FORK) break;
    // insertion sort; n < MAX_FORK
    let j = n;
    while (j > 0 && before(b, unchecked(order[j - 1]))) {
      unchecked(order[j] = order[j - 1]);
      j--;
    }
    unchecked(order[j] = b);
    n++;
  }
  for (let i = 0; i < n; i++) out.add(unchecked(order[i]));
  return out.count;
}
