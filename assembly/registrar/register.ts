// REGISTER processing, RFC 3261 §10.3 steps 5-8, with RFC 3327 Path and RFC 3581 source recording.
// The proxy has done steps 1-4 (our domain, Require, authentication is not implemented) and passes a
// message that validateMessage accepted, so every Contact / Path value decodes without error.
//
// Order of the checks; each failure answers and changes NOTHING (the request is atomic):
//   420  an option tag in Require that we do not implement (§10.3 step 2, §8.2.2.3), named in Unsupported;
//        we implement `gin` (RFC 6140, gin.ts) and `path` (RFC 3327)
//   400  To is not sip/sips (RFC 4475 unksm2); `*` not alone or without `Expires: 0` (§10.3 step 6);
//        a contact URI longer than MAX_TARGET_URI or Path set longer than MAX_TARGET_PATH (we could
//        not use them as targets); under Require: gin, a `bnc` contact with a user part (a template
//        has none: the provider puts the called number there)
//   404  empty or over-long user part in To (step 5: not a valid AOR for the domain)
//   403  more than 2 × MAX_FORK Contact values, or more bindings than maxContacts would result
//   423  a contact with 0 < expires < minExpires (Min-Expires: minExpires)
//   500  same Call-ID as a binding and a LOWER CSeq (step 7: "the update MUST be aborted")
//   503  an AOR / binding record or pool blocks lacking (the caller adds Retry-After); counted before writing
// Otherwise 200 with one `Contact: <uri>;expires=N[;q=...]` line per current binding.
//
// Choices:
//   - REGISTER is answered without a server transaction: a retransmission arrives again. A binding
//     whose stored Call-ID equals the request's and whose CSeq is EQUAL is left untouched (it is the
//     same request applied before), and the 200 lists the current bindings: idempotent.
//   - Per contact: expires = its `expires` param, else the Expires header, else defaultExpires;
//     above maxExpires it is clamped. Two equal contacts in one request: the last one wins.
//   - A refreshed binding keeps its stored URI text when byte-identical, else takes the new text.
//   - Path (RFC 3327): the Path values, in order and byte-exact, joined with "," form the binding's
//     route set (one pool copy shared by every contact of the request). They are echoed as `Path:`
//     lines in the 200. `Supported: path` is echoed only when the request carried it; Path without
//     it is accepted anyway (RFC 3327 §5.3 lets us reject with 420; being liberal costs nothing).
//   - RFC 6140: a REGISTER with Require: gin is answered with `Supported: gin` in its 200; its template
//     contacts are stored as they are (the To's AOR is the enterprise's account) and used by gin.ts.

import { MAX_FORK, MAX_TARGET_URI, MAX_TARGET_PATH, GIN_PROVIDER } from "../config";
import { Peer } from "../net/peer";
import { MessageView } from "../wire/view";
import { Decoded } from "../wire/validate";
import { Hdr } from "../wire/hdr";
import { UriRepr, UriScheme, parseUri, uriEquals } from "../wire/uri";
import { NameAddrRepr, NameAddrKind, decodeNameAddr } from "../wire/headers/nameaddr";
import { eqText } from "../wire/scan";
import { Writer } from "../wire/writer";
import { hashBytes } from "../util/hash";
import { EventKind } from "../events";
import {
  regConfig, regPool, expiry, aorAt, bindAt, bindPeer, aorFind, aorInsert, bindAlloc, bindFree,
  aorsFree, bindingsFree, makeKey, keyHash, regSeed, nextStamp, registrarTick, regEvent,
  KEY, SCR, contactToScr,
} from "./table";
import { T_CONTACT_LT, T_GT_EXPIRES, T_PATH, T_Q, T_SUPPORTED_PATH, T_K_PATH, T_MIN_EXPIRES, T_UNSUPPORTED, T_COMMA_SP } from "../wire/tables";
import { TARGET_SCRATCH_PATH, bncAt } from "./lookup";

export class RegResult {
  status: u32 = 0;
  /** Bytes of header lines written at `extra`. */
  extraLen: u32 = 0;
}
export const regResult = new RegResult();

/** Most Contact values one REGISTER may carry. */
const PLAN_MAX: i32 = 2 * MAX_FORK;
const enum Act { None = 0, Add = 1, Update = 2, Remove = 3 }

const contacts = new StaticArray<NameAddrRepr>(PLAN_MAX);
for (let i = 0; i < PLAN_MAX; i++) unchecked(contacts[i] = new NameAddrRepr());
const cExp = new StaticArray<u32>(PLAN_MAX);
const cMatch = new StaticArray<i32>(PLAN_MAX);
const cAct = new StaticArray<i32>(PLAN_MAX);
const stored = new UriRepr();
/** The joined Path (MAX_TARGET_PATH bytes): lookup.ts's shared target scratch, stored into the pool in the same step. */
const PATH: usize = TARGET_SCRATCH_PATH;
const w = new Writer();
const CALLID_SALT: u64 = 0x6a09e667f3bcc909;

function done(status: u32, len: u32): RegResult {
  regResult.status = status;
  regResult.extraLen = len;
  return regResult;
}

/** Status with one header line `name: n`; 500 when it does not fit. */
function doneWith(status: u32, name: u32, n: u32, extra: usize, cap: u32): RegResult {
  w.begin(extra, cap);
  w.text(name);
  w.u32(n);
  w.crlf();
  const len = w.finish();
  return len == 0 ? done(500, 0) : done(status, len);
}

/** q in thousandths as a qvalue: 1000 → "1", 500 → "0.5", 5 → "0.005". */
function writeQ(q: i32): void {
  if (q >= 1000) { w.byte(0x31); return; }
  w.byte(0x30);
  if (q <= 0) return;
  w.byte(0x2e);
  let d = 100;
  let r = q;
  while (r != 0) {
    w.byte(<u32>(0x30 + r / d));
    r %= d;
    d /= 10;
  }
}

/** The 200: current bindings of AOR a (-1: none), the request's Path lines, Supported: path, and
 * Supported: gin when the request required it. */
function write200(v: MessageView, a: i32, now: i64, extra: usize, cap: u32, gin: bool = false): RegResult {
  w.begin(extra, cap);
  if (a >= 0) {
    for (let b = aorAt(a).first; b >= 0; b = bindAt(b).next) {
      const r = bindAt(b);
      if (r.deadline <= now) continue;
      const n = contactToScr(b);
      w.text(T_CONTACT_LT);
      w.bytes(SCR, n);
      w.text(T_GT_EXPIRES);
      w.u32(<u32>((r.deadline - now + 999) / 1000));
      if (r.q >= 0) { w.text(T_Q); writeQ(r.q); }
      w.crlf();
    }
  }
  for (let i = v.first(Hdr.Path); i >= 0; i = v.next(i)) {
    w.text(T_PATH);
    w.bytes(v.valPtr(i), v.valLen(i));
    w.crlf();
  }
  if (supportsPath(v)) w.text(T_SUPPORTED_PATH);
  if (gin) w.lit("Supported: gin\r\n");
  return w.ok ? done(200, w.length) : done(500, 0); // finish() would read an empty list as overflow
}

/** The request's Require tags: 1 when it has `gin`, 0 when only tags we implement (gin, path), -1
 * otherwise, with "Unsupported: a, b" and CRLF for the others written at [extra, extra+cap). */
function requires(v: MessageView, extra: usize, cap: u32): i32 {
  let gin = false;
  let bad = false;
  w.begin(extra, cap);
  for (let i = v.first(Hdr.Require); i >= 0; i = v.next(i)) {
    const p = v.valPtr(i);
    const n = v.valLen(i);
    if (n == 0) continue;
    if (eqText(p, n, T_K_PATH)) continue;
    if (GIN_PROVIDER && isGin(p, n)) { gin = true; continue; }
    w.text(bad ? T_COMMA_SP : T_UNSUPPORTED);
    w.bytes(p, n);
    bad = true;
  }
  if (!bad) return gin ? 1 : 0;
  w.crlf();
  return -1;
}

/** Whether [p, p+n) is the option tag `gin` (any case). */
function isGin(p: usize, n: u32): bool {
  return n == 3 && (<u32>load<u8>(p) | 0x20) == 0x67 && (<u32>load<u8>(p + 1) | 0x20) == 0x69 && (<u32>load<u8>(p + 2) | 0x20) == 0x6e;
}

function supportsPath(v: MessageView): bool {
  for (let i = v.first(Hdr.Supported); i >= 0; i = v.next(i)) {
    if (eqText(v.valPtr(i), v.valLen(i), T_K_PATH)) return true;
  }
  return false;
}

/** Join the Path values into PATH ("<a>,<b>"); -1 when longer than MAX_TARGET_PATH. */
function joinPath(v: MessageView): i32 {
  let n: u32 = 0;
  for (let i = v.first(Hdr.Path); i >= 0; i = v.next(i)) {
    const l = v.valLen(i);
    const sep: u32 = n > 0 ? 1 : 0;
    if (n + sep + l > <u32>MAX_TARGET_PATH) return -1;
    if (sep != 0) store<u8>(PATH + <usize>n, 0x2c); // n < MAX_TARGET_PATH
    memory.copy(PATH + <usize>(n + sep), v.valPtr(i), l);
    n += sep + l;
  }
  return <i32>n;
}

/**
 * Process a validated REGISTER whose Request-URI domain is ours. Writes extra response header lines
 * into [extra, extra+cap) and returns regResult. Never traps.
 * `replayed`: the request's digest answer was right but its nonce count did not increase (auth/nonce.ts):
 * a retransmission after our 200 was lost, or someone replaying a captured REGISTER. It is answered as
 * before only when it changes nothing (every contact already applied with this Call-ID and CSeq, or
 * removing what is gone; the 200 then lists the AOR's bindings, as the original answer did); otherwise
 * the status is 0 and the caller challenges it as a replay.
 */
export function handleRegister(v: MessageView, d: Decoded, src: Peer, now: i64, extra: usize, cap: u32, replayed: bool = false): RegResult {
  registrarTick(now); // due bindings go first, so counts and the 200 are exact
  const req = requires(v, extra, cap);
  if (req < 0) return w.ok ? done(420, w.length) : done(420, 0);
  const gin = GIN_PROVIDER && req > 0; // constant false where the core is no RFC 6140 provider
  const to = d.to.uri;
  if (to.scheme != UriScheme.Sip && to.scheme != UriScheme.Sips) return done(400, 0);
  const keyLen = makeKey(to);
  if (keyLen < 0) return done(404, 0);
  const h = keyHash(keyLen);
  let a = aorFind(keyLen, h);

  const nc = v.countOf(Hdr.Contact);
  if (nc == 0) return write200(v, a, now, extra, cap, gin); // a query
  if (nc > PLAN_MAX) return done(403, 0);
  const pathLen = joinPath(v);
  if (pathLen < 0) return done(400, 0);

  // Decode every contact (cannot fail after validation; checked anyway) and its expiry.
  const cfg = regConfig;
  let star = false;
  let tooBrief = false;
  let k = 0;
  for (let i = v.first(Hdr.Contact); i >= 0 && k < PLAN_MAX; i = v.next(i)) {
    const c = unchecked(contacts[k]);
    const p = v.valPtr(i);
    if (!decodeNameAddr(p, p + <usize>v.valLen(i), c, NameAddrKind.Contact)) return done(400, 0);
    if (c.star) {
      if (nc != 1 || d.expires != 0) return done(400, 0);
      star = true;
    } else if (c.uri.len > <u32>MAX_TARGET_URI) {
      return done(400, 0);
    } else if (gin && c.uri.hasUser && bncAt(c.uri.start, c.uri.len) >= 0) {
      return done(400, 0); // a template has no user part
    }
    let e: i64 = c.expires >= 0 ? c.expires : d.expires >= 0 ? d.expires : <i64>cfg.defaultExpires;
    if (e != 0 && e < <i64>cfg.minExpires) tooBrief = true;
    if (e > <i64>cfg.maxExpires) e = <i64>cfg.maxExpires;
    unchecked(cExp[k] = <u32>e);
    unchecked(cMatch[k] = -1);
    unchecked(cAct[k] = Act.None);
    k++;
  }
  if (tooBrief && !star) return doneWith(423, T_MIN_EXPIRES, cfg.minExpires, extra, cap);

  const cid = hashBytes(d.callId, d.callIdLen, regSeed() ^ CALLID_SALT);
  const cseq = d.cseq.seq;
  let adds: i32 = 0, removes: i32 = 0, updates: i32 = 0;
  let blocks: u32 = 0;

  if (star) {
    // `*` + Expires: 0 removes every binding (each subject to the Call-ID/CSeq rule), planned as one
    // Remove per binding in list order. An AOR holds at most maxContacts <= MAX_FORK < PLAN_MAX
    // bindings (sip_cfg_set, location.ts), so the bound below never cuts the list short.
    k = 0;
    if (a >= 0) {
      for (let b = aorAt(a).first; b >= 0 && k < PLAN_MAX; b = bindAt(b).next) {
        const r = bindAt(b);
        if (r.callId == cid && cseq < r.cseq) return done(500, 0);
        if (r.callId != cid || cseq > r.cseq) {
          unchecked(cMatch[k] = b);
          unchecked(cAct[k++] = Act.Remove);
          removes++;
        }
      }
    }
  } else {
    // Equal contacts in one request: only the last one acts.
    for (let x = 0; x < k; x++) {
      for (let y = x + 1; y < k; y++) {
        if (uriEquals(unchecked(contacts[x]).uri, unchecked(contacts[y]).uri)) {
          unchecked(cMatch[x] = -2);
          break;
        }
      }
    }
    // Match against the stored bindings (§19.1.4 comparison of the stored and the new URI).
    if (a >= 0) {
      for (let b = aorAt(a).first; b >= 0; b = bindAt(b).next) {
        const n = contactToScr(b);
        if (!parseUri(SCR, SCR + <usize>n, stored)) continue;
        for (let x = 0; x < k; x++) {
          if (unchecked(cMatch[x]) != -1) continue;
          // One contact per binding: §19.1.4 equality is not transitive (a parameter present in one
          // URI only is ignored), so two unequal contacts may both equal the stored one.
          if (uriEquals(stored, unchecked(contacts[x]).uri)) { unchecked(cMatch[x] = b); break; }
        }
      }
    }
    for (let x = 0; x < k; x++) {
      const b = unchecked(cMatch[x]);
      if (b == -2) { unchecked(cMatch[x] = -1); continue; } // superseded
      const c = unchecked(contacts[x]);
      const e = unchecked(cExp[x]);
      if (b < 0) {
        if (e == 0) continue; // removing what is not there
        unchecked(cAct[x] = Act.Add);
        adds++;
        blocks += regPool.blocksFor(c.uri.len);
        continue;
      }
      const r = bindAt(b);
      if (r.callId == cid) {
        if (cseq < r.cseq) return done(500, 0);
        if (cseq == r.cseq) continue; // a retransmission: already applied
      }
      if (e == 0) {
        unchecked(cAct[x] = Act.Remove);
        removes++;
      } else {
        unchecked(cAct[x] = Act.Update);
        updates++;
        if (!regPool.equals(r.contact, c.uri.start, c.uri.len)) blocks += regPool.blocksFor(c.uri.len);
      }
    }
  }

  if (replayed && (adds | removes | updates) != 0) return done(0, 0);

  // Limits and room, before anything changes.
  let maxC = cfg.maxContacts;
  if (maxC > <u32>MAX_FORK) maxC = <u32>MAX_FORK;
  const current: i32 = a >= 0 ? <i32>aorAt(a).bindings : 0;
  if (current - removes + adds > <i32>maxC) return done(403, 0);
  const needAor = a < 0 && adds > 0;
  if (needAor) blocks += regPool.blocksFor(<u32>keyLen);
  const setPath = pathLen > 0 && adds + updates > 0;
  if (setPath) blocks += regPool.blocksFor(<u32>pathLen);
  if ((needAor && aorsFree() == 0) || adds > bindingsFree() || blocks > regPool.available) {
    return done(503, 0); // the transaction user adds its Retry-After (config key 10)
  }

  // Apply: adds and updates first, removals last (the AOR may go with its last binding).
  if (needAor) a = aorInsert(keyLen, h);
  if (a < 0) return write200(v, -1, now, extra, cap, gin); // only removals of nothing
  const pathH = setPath ? regPool.store(PATH, <u32>pathLen) : 0;
  for (let x = 0; x < k; x++) {
    const act = unchecked(cAct[x]);
    if (act != Act.Add && act != Act.Update) continue;
    const c = unchecked(contacts[x]);
    const e = unchecked(cExp[x]);
    let b = unchecked(cMatch[x]);
    if (act == Act.Add) {
      b = bindAlloc(a);
      bindAt(b).contact = regPool.store(c.uri.start, c.uri.len);
    } else if (!regPool.equals(bindAt(b).contact, c.uri.start, c.uri.len)) {
      regPool.release(bindAt(b).contact);
      bindAt(b).contact = regPool.store(c.uri.start, c.uri.len);
    }
    const r = bindAt(b);
    regPool.release(r.path);
    r.path = pathH;
    if (pathH != 0) regPool.retain(pathH);
    r.q = c.q;
    r.callId = cid;
    r.cseq = cseq;
    r.stamp = nextStamp();
    r.deadline = now + <i64>e * 1000;
    r.spare = 0; // registered here: ours, even when another instance had shared it with us
    bindPeer(b).copyFrom(src);
    expiry.set(b, r.deadline);
    regEvent(act == Act.Add ? EventKind.RegAdd : EventKind.RegRefresh, 200, now, e, src,
      KEY, <u32>keyLen, b, d.callId, d.callIdLen);
  }
  regPool.release(pathH); // the bindings hold their own references
  for (let x = 0; x < k; x++) {
    if (unchecked(cAct[x]) != Act.Remove) continue;
    const b = unchecked(cMatch[x]);
    regEvent(EventKind.RegRemove, 200, now, 0, src, KEY, <u32>keyLen, b, d.callId, d.callIdLen);
    if (bindFree(b)) { a = -1; break; }
  }
  return write200(v, a, now, extra, cap, gin);
}
