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
//   meta   MAX_FORK × 28 (+0 uriLen, +4 pathLen, +8 q, +12 binding, +16 contact, +20 path handles,
//          +24 1: an RFC 6140 template (gin.ts) whose user part is the number looked up, 0 a contact)
//   number the number an RFC 6140 lookup was for (BLOCK_CAP bytes)
//   peers  (MAX_FORK + 1) × 32 (the extra one stays zero: source() of an index out of range)
//   URI, PATH  one MAX_TARGET_URI and one MAX_TARGET_PATH scratch buffer, the start of TARGET_SCRATCH

import { MAX_FORK, MAX_TARGET_URI, MAX_TARGET_PATH, GIN_PROVIDER } from "../config";
import { Peer, PEER_SIZE } from "../net/peer";
import { Proto, transportById } from "../net/transports";
import { UriRepr, UriScheme, parseUri } from "../wire/uri";
import { aorAt, aorFind, bindAt, bindPeer, keyHash, makeKey, regPool, contactToScr, SCR, bindLive } from "./table";
import { BLOCK_CAP } from "../util/numblock";
import { tableAlloc } from "../util/alloc";

const META: usize = 28;

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
  private meta: usize = tableAlloc(<usize>MAX_FORK * META);
  private peers: usize = tableAlloc(<usize>(MAX_FORK + 1) * <usize>PEER_SIZE);
  private number: usize = tableAlloc(<usize>BLOCK_CAP);
  private numberLen: u32 = 0;

  constructor() {
    memory.fill(this.peers, 0, <usize>(MAX_FORK + 1) * <usize>PEER_SIZE);
  }

  reset(): void { this.count = 0; this.numberLen = 0; }

  /** The number of an RFC 6140 lookup ([p, p+len), len <= BLOCK_CAP): the user part of the targets
   * added with `template` next. */
  setNumber(p: usize, len: u32): void {
    if (len > BLOCK_CAP) len = 0;
    memory.copy(this.number, p, len);
    this.numberLen = len;
  }

  // Getters: an index outside [0, count) reads as empty (never traps).
  private ok(i: i32): bool { return <u32>i < <u32>this.count; }
  private field(i: i32, at: usize): u32 { return this.ok(i) ? load<u32>(this.meta + <usize>i * META + at) : 0; }
  /** Target i's contact URI, copied into a scratch buffer valid until the next uri(); 0 out of range. */
  uri(i: i32): usize {
    const p = this.copy(i, 16, URI);
    // templates are only added where the core is an RFC 6140 provider (gin.ts): elsewhere compiled out
    if (GIN_PROVIDER && p != 0 && this.field(i, 24) != 0) fillTemplate(URI, this.field(i, 0), this.number, this.numberLen);
    return p;
  }
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

  /** Append binding b (count < MAX_FORK is the caller's); with `template`, its contact is an RFC 6140
   * template (sip:host...;bnc) that uri() fills with the number given to setNumber. */
  add(b: i32, template: bool = false): void {
    if (!GIN_PROVIDER) template = false; // only gin.ts adds templates
    const i = this.count;
    if (i >= MAX_FORK) return;
    const r = bindAt(b);
    const m = this.meta + <usize>i * META;
    // the filled template: the number and an "@" in, ";bnc" out
    const grow: i32 = template ? <i32>this.numberLen + 1 - 4 : 0;
    // a string longer than its scratch buffer is left out (length 0), as the registrar never stores one
    // (a template is filled in place: the number and "@" go in before ";bnc" goes out)
    const room: u32 = template ? this.numberLen + 1 : 0;
    const c = r.contact != 0 && regPool.len(r.contact) + room <= <u32>MAX_TARGET_URI ? r.contact : 0;
    const p = r.path != 0 && regPool.len(r.path) <= <u32>MAX_TARGET_PATH ? r.path : 0;
    store<u32>(m, c != 0 ? <u32>(<i32>regPool.len(c) + grow) : 0);
    store<u32>(m, template ? 1 : 0, 24);
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

/**
 * Fill RFC 6140 template [p, p+len + 4 - number - 1) in place: `number` and "@" after the scheme's
 * colon, the ";bnc" parameter removed (`len` is the length after both). The caller leaves room.
 */
function fillTemplate(p: usize, len: u32, number: usize, numberLen: u32): void {
  const stored = len + 4 - numberLen - 1;
  let c: u32 = 0;
  while (c < stored && load<u8>(p + <usize>c) != 0x3a) c++;
  c++; // after "sip:"
  if (c > stored) return;
  memory.copy(p + <usize>(c + numberLen + 1), p + <usize>c, stored - c);
  memory.copy(p + <usize>c, number, numberLen);
  store<u8>(p + <usize>(c + numberLen), 0x40);
  const l2 = stored + numberLen + 1;
  const j = bncAt(p, l2);
  if (j >= 0) memory.copy(p + <usize>j, p + <usize>(j + 4), l2 - <u32>j - 4);
}

/** Offset of the ";bnc" URI parameter in [p, p+len) (any case; followed by ";", "?", ">" or the end),
 * or -1. */
export function bncAt(p: usize, len: u32): i32 {
  for (let j: u32 = 0; j + 4 <= len; j++) {
    if (load<u8>(p + <usize>j) != 0x3b) continue;
    if ((<u32>load<u8>(p + <usize>j + 1) | 0x20) != 0x62 || (<u32>load<u8>(p + <usize>j + 2) | 0x20) != 0x6e ||
        (<u32>load<u8>(p + <usize>j + 3) | 0x20) != 0x63) continue;
    if (j + 4 == len) return <i32>j;
    const n = <u32>load<u8>(p + <usize>j + 4);
    if (n == 0x3b || n == 0x3f || n == 0x3e) return <i32>j;
  }
  return -1;
}

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
 * Binding b was registered over a WebSocket (RFC 7118) that has closed (table.ts registrarFlowClosed
 * took its conn): its Contact names a .invalid host and no host opens a WebSocket, so it cannot be
 * reached until the phone registers again on a new one. A TCP binding falls back to its contact's
 * address instead.
 */
function flowLost(b: i32): bool {
  const p = bindPeer(b);
  if (p.conn != 0) return false;
  const t = transportById(p.transport);
  return t != null && (t.proto == Proto.WS || t.proto == Proto.WSS);
}

/**
 * The current bindings (deadline > now) of the AOR named by `uri` (sip/sips; key = unescaped user,
 * see table.ts), best first, into `out`. Returns the count (0 = not registered). Changes nothing.
 */
export function registrarLookup(uri: UriRepr, now: i64, out: TargetSet): i32 {
  out.reset();
  const len = makeKey(uri);
  if (len < 0) return 0;
  return lookupKey(len, now, out, false);
}

/**
 * The current bindings of the AOR whose key is in KEY[0, len) (table.ts), best first, into `out`; with
 * `templates`, only RFC 6140 templates (isTemplate), added as such (the caller gave out.setNumber).
 */
export function lookupKey(len: i32, now: i64, out: TargetSet, templates: bool): i32 {
  const a = aorFind(len, keyHash(len));
  if (a < 0) return 0;
  let n = 0;
  for (let b = aorAt(a).first; b >= 0; b = bindAt(b).next) {
    if (bindAt(b).deadline <= now) continue; // due, not yet ticked
    if (flowLost(b)) continue;
    if (GIN_PROVIDER && templates && !isTemplate(b)) continue; // templates: gin.ts only
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
  for (let i = 0; i < n; i++) out.add(unchecked(order[i]), templates);
  return out.count;
}

/**
 * Binding b as the one target, when it is live and its stored contact is byte for byte `uri` (the
 * Request-URI of a request another instance sent us through the route token of this binding,
 * registrar/location.ts); returns 1, or 0 (the binding is gone, is another one now, or its WebSocket
 * has closed: flowLost, as a lookup skips it).
 */
export function bindingTarget(b: i32, uri: UriRepr, now: i64, out: TargetSet): i32 {
  out.reset();
  if (!bindLive(b, now) || flowLost(b) || !regPool.equals(bindAt(b).contact, uri.start, uri.len)) return 0;
  out.add(b, false);
  return out.count;
}

const tmpl = new UriRepr();

/** Whether binding b's contact is an RFC 6140 template: a sip/sips URI without a user part that has
 * the `bnc` parameter. */
export function isTemplate(b: i32): bool {
  const n = contactToScr(b);
  if (n == 0 || !parseUri(SCR, SCR + <usize>n, tmpl)) return false;
  if (tmpl.scheme != UriScheme.Sip && tmpl.scheme != UriScheme.Sips) return false;
  return !tmpl.hasUser && bncAt(SCR, n) >= 0;
}
