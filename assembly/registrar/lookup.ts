// Location-service lookup (RFC 3261 §16.5 "Determining Request Targets" via §10 bindings): the
// current bindings of an AOR, best q first (absent q = 1.0), ties by most recent registration, copied
// into one TargetSet allocated at start-up. Each target carries the contact URI as registered (inside
// the `<>`; it may hold URI headers, e.g. RFC 4475 regescrt — the proxy strips `?...` when it makes
// the Request-URI), the RFC 3327 Path route set, and the REGISTER's source (RFC 3581: send there).
//
//   uris   MAX_FORK × MAX_TARGET_URI    paths  MAX_FORK × MAX_TARGET_PATH
//   meta   MAX_FORK × 16 (+0 uriLen, +4 pathLen, +8 q, +12 binding)
//   peers  (MAX_FORK + 1) × 32 (the extra one stays zero: source() of an index out of range)

import { MAX_FORK, MAX_TARGET_URI, MAX_TARGET_PATH } from "../config";
import { Peer, PEER_SIZE } from "../net/peer";
import { UriRepr } from "../wire/uri";
import { aorAt, aorFind, bindAt, bindPeer, keyHash, makeKey, regPool } from "./table";

const META: usize = 16;

export class TargetSet {
  count: i32 = 0;
  private uris: usize = heap.alloc(<usize>MAX_FORK * <usize>MAX_TARGET_URI);
  private paths: usize = heap.alloc(<usize>MAX_FORK * <usize>MAX_TARGET_PATH);
  private meta: usize = heap.alloc(<usize>MAX_FORK * META);
  private peers: usize = heap.alloc(<usize>(MAX_FORK + 1) * <usize>PEER_SIZE);

  constructor() {
    memory.fill(this.peers, 0, <usize>(MAX_FORK + 1) * <usize>PEER_SIZE);
  }

  reset(): void { this.count = 0; }

  // Getters: an index outside [0, count) reads as empty (never traps).
  private ok(i: i32): bool { return <u32>i < <u32>this.count; }
  uri(i: i32): usize { return this.ok(i) ? this.uris + <usize>i * <usize>MAX_TARGET_URI : 0; }
  uriLen(i: i32): u32 { return this.ok(i) ? load<u32>(this.meta + <usize>i * META) : 0; }
  path(i: i32): usize { return this.ok(i) ? this.paths + <usize>i * <usize>MAX_TARGET_PATH : 0; }
  pathLen(i: i32): u32 { return this.ok(i) ? load<u32>(this.meta + <usize>i * META, 4) : 0; }
  q(i: i32): i32 { return this.ok(i) ? load<i32>(this.meta + <usize>i * META, 8) : 0; }
  binding(i: i32): i32 { return this.ok(i) ? load<i32>(this.meta + <usize>i * META, 12) : -1; }
  source(i: i32): Peer {
    const k = this.ok(i) ? i : MAX_FORK;
    return changetype<Peer>(this.peers + <usize>k * <usize>PEER_SIZE);
  }

  /** Append binding b (count < MAX_FORK is the caller's). */
  add(b: i32): void {
    const i = this.count;
    if (i >= MAX_FORK) return;
    const r = bindAt(b);
    const m = this.meta + <usize>i * META;
    let ul: u32 = 0;
    if (r.contact != 0 && regPool.len(r.contact) <= <u32>MAX_TARGET_URI) {
      ul = regPool.copyOut(r.contact, this.uris + <usize>i * <usize>MAX_TARGET_URI);
    }
    let pl: u32 = 0;
    if (r.path != 0 && regPool.len(r.path) <= <u32>MAX_TARGET_PATH) {
      pl = regPool.copyOut(r.path, this.paths + <usize>i * <usize>MAX_TARGET_PATH);
    }
    store<u32>(m, ul);
    store<u32>(m, pl, 4);
    store<i32>(m, r.q < 0 ? 1000 : r.q, 8);
    store<i32>(m, b, 12);
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
