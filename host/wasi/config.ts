// The WASI host's configuration by walking its generated table (./schema.ts, from
// host/shared/config.json): command-line flags, the file given by --config (read through a WASI
// preopened directory: wasmedge --dir), defaults, derived defaults, cross-key checks, --help,
// --print-config, the secure default, and the calls that apply it to the core. The checks named by
// the schema are written once here, for AssemblyScript; host/shared/config.mjs is the reference for
// every message. Nothing is allocated: the file, the JSON tree (./json.ts) and the values live in
// static memory. Start-up only.

import {
  KEYS, KEY_FIELDS, KEY_COUNT, KF, KType, KCheck, KHost, K, BLOB, LISTS,
  REF_SHIFT, REF_MASK,
} from "./schema";
import {
  J, FILE, FILE_CAP, parse, errorWhat, errorAt, errorAtEnd, nType, nPtr, nLen, nFirst, nNext, nNum, newString,
  newArray, push, arenaCopy, member, eqStr, show, putNumber,
} from "./json";
import {
  flush, toStderr, toStdout, putByte, putStr, putBytes, putEscaped, putU64, putHexByte,
} from "./out";
import {
  fd_prestat_get, fd_prestat_dir_name, path_open, fd_read, fd_close,
  ERRNO_NOENT, ERRNO_ACCES, ERRNO_NOTCAPABLE, ERRNO_ISDIR, ERRNO_BADF, LOOKUP_SYMLINK_FOLLOW, RIGHT_FD_READ,
} from "./wasi";
import { parse4, parse6 } from "./addr";
import { P2, sysExit, sysRandom } from "./sys";
import {
  bumpReset, get_directories, descriptor_open_at, descriptor_read, descriptor_drop, fsErrno,
} from "./p2";
import { sip_cfg_set, sip_cfg_add, sip_cfg_ptr, sip_cfg_cap } from "../../assembly/host/abi";
import { CfgResult } from "../../assembly/host/numbers";

const HOST: u32 = KHost.Wasi;
/** The core build this command links (tools/wasi.mjs: the server board's constants). */
export const CORE_BOARD = "server";
/** Listen addresses this host can hold (its socket tables). */
export const MAX_LISTEN: u32 = 64;
const WIDTH: u32 = 100;
const U31: u32 = 0x7fffffff;

// ---- the table ----------------------------------------------------------------------------------

// @ts-ignore: decorator
@inline function kf(k: u32, f: u32): u32 { return load<u32>(KEYS + (<usize>(k * KEY_FIELDS + f) << 2)); }
function refPtr(r: u32): usize { return BLOB + <usize>(r >>> REF_SHIFT); }
function refLen(r: u32): u32 { return r & REF_MASK; }
function putRef(r: u32): void { putBytes(refPtr(r), refLen(r)); }
function listCount(l: u32): u32 { return load<u32>(LISTS + (<usize>(l - 1) << 2)); }
function listRef(l: u32, i: u32): u32 { return load<u32>(LISTS + (<usize>(l + i) << 2)); }
function mine(k: u32): bool { return (kf(k, KF.Hosts) & HOST) != 0; }

function bytesEq(a: usize, an: u32, b: usize, bn: u32): bool {
  return an == bn && memory.compare(a, b, an) == 0;
}

/** The index of the value node i among key k's values, or -1. */
function enumIndex(k: u32, i: i32): i32 {
  if (nType(i) != J.String) return -1;
  const l = kf(k, KF.Values);
  for (let j: u32 = 0; j < listCount(l); j++) {
    const r = listRef(l, j);
    if (bytesEq(nPtr(i), nLen(i), refPtr(r), refLen(r))) return <i32>j;
  }
  return -1;
}

// ---- values -------------------------------------------------------------------------------------

// Per key: its value node + 1 (0 = none), its number (bool, int, enum index), flags 1 set, 2 given.
// The flags' values are kept apart (F_*) until the file has been read: flags override it.
const V_NODE: usize = memory.data(<i32>(KEY_COUNT * 4), 4);
const V_NUM: usize = memory.data(<i32>(KEY_COUNT * 8), 8);
const V_FLAG: usize = memory.data(<i32>KEY_COUNT);
const F_NODE: usize = memory.data(<i32>(KEY_COUNT * 4), 4);
const F_NUM: usize = memory.data(<i32>(KEY_COUNT * 8), 8);
const F_FLAG: usize = memory.data(<i32>KEY_COUNT);
let tNode: usize = V_NODE;
let tNum: usize = V_NUM;
let tFlag: usize = V_FLAG;

function setValue(k: u32, node: i32, num: i64): void {
  store<i32>(tNode + (<usize>k << 2), node + 1);
  store<i64>(tNum + (<usize>k << 3), num);
  store<u8>(tFlag + <usize>k, 3);
}
function isSet(k: u32): bool { return (load<u8>(V_FLAG + <usize>k) & 1) != 0; }
function isGiven(k: u32): bool { return (load<u8>(V_FLAG + <usize>k) & 2) != 0; }
export function valueNode(k: u32): i32 { return load<i32>(V_NODE + (<usize>k << 2)) - 1; }
export function valueNum(k: u32): i64 { return load<i64>(V_NUM + (<usize>k << 3)); }

// ---- errors -------------------------------------------------------------------------------------

// The key (or flag, or element path) an error names.
const NAME_CAP: u32 = 512;
const NAME: usize = memory.data(<i32>NAME_CAP);
let nameLen: u32 = 0;

function nameSet(p: usize, n: u32): void {
  nameLen = 0;
  nameAdd(p, n);
}
function nameAdd(p: usize, n: u32): void {
  if (nameLen + n > NAME_CAP) n = NAME_CAP - nameLen;
  memory.copy(NAME + nameLen, p, n);
  nameLen += n;
}
function nameAddStr(s: string): void {
  for (let i = 0; i < s.length && nameLen < NAME_CAP; i++) store<u8>(NAME + nameLen++, <u8>s.charCodeAt(i));
}
function nameAddIndex(i: u32): void {
  nameAddStr("[");
  let d: u32 = 1;
  while (i / d >= 10) d *= 10;
  for (; d > 0; d /= 10) if (nameLen < NAME_CAP) store<u8>(NAME + nameLen++, <u8>(48 + (i / d) % 10));
  nameAddStr("]");
}

/** config error: "NAME": (then the message, then errEnd()). */
function errHead(usage: bool = false): void {
  toStderr();
  putStr(usage ? "usage error: \"" : "config error: \"");
  putBytes(NAME, nameLen);
  putStr("\": ");
}
function errEnd(): void {
  putByte(10);
  flush();
  sysExit(2);
}
/** what, got <node as JSON> (-1: nothing). */
function bad(what: string, got: i32): void {
  errHead();
  putStr(what);
  putStr(", got ");
  if (got < 0) putStr("nothing");
  else show(got);
  errEnd();
}
function badText(what: string, got: string): void {
  errHead();
  putStr(what);
  putStr(", got \"");
  putStr(got);
  putStr("\"");
  errEnd();
}

/** "expected one of a|b" for word values, "expected \"403\" or \"drop\"" otherwise. */
function putExpectEnum(k: u32): void {
  const l = kf(k, KF.Values);
  const n = listCount(l);
  let words = true;
  for (let j: u32 = 0; j < n; j++) {
    const c = <u32>load<u8>(refPtr(listRef(l, j)));
    words = words && ((c >= 97 && c <= 122) || (c >= 65 && c <= 90));
  }
  putStr(words ? "expected one of " : "expected ");
  for (let j: u32 = 0; j < n; j++) {
    if (j > 0) putStr(words ? "|" : j == n - 1 ? " or " : ", ");
    if (!words) putByte(0x22);
    putRef(listRef(l, j));
    if (!words) putByte(0x22);
  }
}

function badEnum(k: u32, got: i32): void {
  errHead();
  putExpectEnum(k);
  putStr(", got ");
  show(got);
  errEnd();
}

// ---- checks (named by the schema) ---------------------------------------------------------------

const ADDR: usize = memory.data(16, 8);

function isTokenChar(c: u32): bool {
  return (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 57) ||
    c == 45 || c == 46 || c == 33 || c == 37 || c == 42 || c == 95 || c == 43 || c == 96 || c == 39 || c == 126;
}
function isToken(p: usize, n: u32): bool {
  if (n == 0) return false;
  for (let i: u32 = 0; i < n; i++) if (!isTokenChar(<u32>load<u8>(p + i))) return false;
  return true;
}
function has(p: usize, n: u32, set: string): bool {
  for (let i: u32 = 0; i < n; i++) {
    const c = <i32>load<u8>(p + i);
    for (let j = 0; j < set.length; j++) if (set.charCodeAt(j) == c) return true;
  }
  return false;
}
function indexOf(p: usize, n: u32, c: u32, from: u32 = 0): i32 {
  for (let i = from; i < n; i++) if (<u32>load<u8>(p + i) == c) return <i32>i;
  return -1;
}

function isCidr(p: usize, n: u32): bool {
  const slash = indexOf(p, n, 47);
  const an = slash < 0 ? n : <u32>slash;
  if (an == 0 || indexOf(p, an, 37) >= 0) return false;
  let fam: u32 = 0;
  if (parse4(p, an, ADDR)) fam = 4;
  else if (parse6(p, an, ADDR)) fam = 6;
  else return false;
  if (slash < 0) return true;
  const bn = n - an - 1;
  if (bn < 1 || bn > 3) return false;
  let bits: u32 = 0;
  for (let i: u32 = 0; i < bn; i++) {
    const c = <u32>load<u8>(p + an + 1 + i);
    if (c < 48 || c > 57) return false;
    bits = bits * 10 + c - 48;
  }
  return bits <= (fam == 4 ? 32 : 128);
}

function isDenyUri(p: usize, n: u32): bool {
  const a = indexOf(p, n, 64);
  if (a < 0 || indexOf(p, n, 64, <u32>a + 1) >= 0 || n == 1 || has(p, n, " \t\r\n\x0b\x0c<>\";,?")) return false;
  return !(n >= 2 && load<u8>(p + n - 2) == 64 && load<u8>(p + n - 1) == 46);
}

function isTypeRule(p: usize, n: u32): bool {
  const sp = indexOf(p, n, 32);
  if (sp < 0) return false;
  const s = <u32>sp;
  if (!(s == 1 && load<u8>(p) == 42) && !isToken(p, s)) return false;
  const t = p + s + 1;
  const tn = n - s - 1;
  const slash = indexOf(t, tn, 47);
  if (slash < 0) return false;
  return isToken(t, <u32>slash) && isToken(t + <u32>slash + 1, tn - <u32>slash - 1);
}

function lower(c: u32): u32 { return c >= 65 && c <= 90 ? c + 32 : c; }

function isSipUri(p: usize, n: u32): bool {
  let skip: u32 = 0;
  if (n >= 4 && lower(load<u8>(p)) == 115 && lower(load<u8>(p + 1)) == 105 && lower(load<u8>(p + 2)) == 112) {
    if (load<u8>(p + 3) == 58) skip = 4;
    else if (n >= 5 && lower(load<u8>(p + 3)) == 115 && load<u8>(p + 4) == 58) skip = 5;
  }
  if (skip == 0 || n == skip) return false;
  return !has(p + skip, n - skip, " \t\r\n\x0b\x0c<>\"");
}

function isRealm(p: usize, n: u32): bool {
  if (n == 0 || n > 64) return false;
  for (let i: u32 = 0; i < n; i++) {
    const c = <u32>load<u8>(p + i);
    if (c < 0x20 || c > 0x7e || c == 0x22 || c == 0x5c) return false;
  }
  return true;
}

function isDomain(p: usize, n: u32): bool {
  return n > 0 && !has(p, n, " \t\r\n\x0b\x0c\"<>;,");
}

function isHex(p: usize, n: u32): bool {
  for (let i: u32 = 0; i < n; i++) {
    const c = lower(<u32>load<u8>(p + i));
    if (!((c >= 48 && c <= 57) || (c >= 97 && c <= 102))) return false;
  }
  return true;
}

/**
 * A listen address this host takes: 0, or 1 when malformed, 2 a protocol other than udp it knows
 * (tcp), 3 a host that is not numeric (nor localhost), 4 ws or wss (SIP over WebSocket: the Node host's),
 * 5 tls (the other hosts' TLS: none here).
 */
export function listenCheck(p: usize, n: u32): i32 {
  if ((n > 3 && eqStr(p, 3, "ws:")) || (n > 4 && eqStr(p, 4, "wss:"))) return 4;
  const tcp = n > 4 && eqStr(p, 4, "tcp:");
  const tls = n > 4 && eqStr(p, 4, "tls:");
  if (!tcp && !tls && !(n > 4 && eqStr(p, 4, "udp:"))) return 1;
  let c = n;
  while (c > 4 && load<u8>(p + c - 1) != 58) c--;
  if (c <= 5 || c == n || n - c > 5) return 1;
  let port: u32 = 0;
  for (let i = c; i < n; i++) {
    const d = <u32>load<u8>(p + i);
    if (d < 48 || d > 57) return 1;
    port = port * 10 + d - 48;
  }
  if (port > 65535) return 1;
  const h = p + 4;
  const hn = c - 1 - 4;
  const bracketed = hn >= 2 && load<u8>(h) == 91 && load<u8>(h + hn - 1) == 93;
  if (bracketed ? !parse6(h + 1, hn - 2, ADDR) : has(h, hn, ":[]")) return 1;
  if (tls) return 5;
  if (tcp && !P2) return 2; // the wasmtime build listens on TCP too
  if (!bracketed && !parse4(h, hn, ADDR) && !eqStr(h, hn, "localhost")) return 3;
  return 0;
}

function expectedOf(c: u32): string {
  switch (c) {
    case KCheck.Listen: return P2 ? "expected \"udp:HOST:PORT\" or \"tcp:HOST:PORT\"" : "expected \"udp:HOST:PORT\"";
    case KCheck.Domain: return "expected a domain name (no spaces, quotes, <>;,)";
    case KCheck.Cidr: return "expected an IPv4 or IPv6 address or CIDR (a.b.c.d[/0-32], x:x::x[/0-128])";
    case KCheck.Token: return "expected a method token (letters, digits, -.!%*_+`'~)";
    case KCheck.DenyUri: return "expected \"user@domain\", \"@domain\", \"@.domain\" (and subdomains) or \"user@\"";
    case KCheck.TypeRule: return "expected \"METHOD type/subtype\" (METHOD may be *)";
    case KCheck.SipUri: return "expected a SIP URI \"sip:host[:port]\"";
    case KCheck.Realm: return "expected printable ASCII text of 1..64 bytes without '\"' or '\\'";
    case KCheck.File: return "expected a file name";
  }
  return "expected a string";
}

/** A string node against check c; errors name NAME. */
function checkString(c: u32, i: i32): void {
  if (nType(i) != J.String) {
    bad(expectedOf(c), i);
    return;
  }
  const p = nPtr(i);
  const n = nLen(i);
  let ok = true;
  switch (c) {
    case KCheck.Listen: {
      const r = listenCheck(p, n);
      if (r == 2) bad("expected \"udp:HOST:PORT\" (the wasi host supports UDP only)", i);
      if (r == 4) bad(P2 ? "ws/wss listen is supported by the Node host only (the wasi host: udp, tcp)" : "ws/wss listen is supported by the Node host only (the wasi host: udp)", i);
      if (r == 3) bad("expected \"udp:HOST:PORT\" with a numeric address", i);
      // literals, not a concatenation: nothing allocates after start-up (tests/hosts/wasi.test.mjs)
      if (r == 5) bad(P2 ? "expected \"udp:HOST:PORT\" or \"tcp:HOST:PORT\" (the wasi host has no TLS)" : "expected \"udp:HOST:PORT\" (the wasi host has no TLS)", i);
      ok = r == 0;
      break;
    }
    case KCheck.Domain: ok = isDomain(p, n); break;
    case KCheck.Cidr: ok = isCidr(p, n); break;
    case KCheck.Token: ok = isToken(p, n); break;
    case KCheck.DenyUri: ok = isDenyUri(p, n); break;
    case KCheck.TypeRule: ok = isTypeRule(p, n); break;
    case KCheck.SipUri: ok = isSipUri(p, n); break;
    case KCheck.Realm: ok = isRealm(p, n); break;
    case KCheck.File: ok = n > 0; break;
  }
  if (!ok) bad(expectedOf(c), i);
}

/** One element of a list (or a list flag's value). */
function checkElement(k: u32, i: i32): void {
  const c = kf(k, KF.Check);
  if (c == KCheck.Enum) {
    if (enumIndex(k, i) < 0) badEnum(k, i);
    return;
  }
  if (nType(i) != J.String) bad("expected a string", i);
  checkString(c, i);
}

function checkUsers(k: u32, v: i32): void {
  if (nType(v) != J.Array) bad("expected an array of {\"username\", \"password\" | \"ha1\" | \"ha1Sha256\"}", v);
  const base = nameLen;
  let idx: u32 = 0;
  for (let u = nFirst(v); u >= 0; u = nNext(u)) {
    nameLen = base;
    nameAddIndex(idx);
    const key = nameLen;
    if (nType(u) != J.Object) bad("expected an object", u);
    let user: i32 = -1, pass: i32 = -1, ha1: i32 = -1, sha: i32 = -1;
    for (let m = nFirst(u); m >= 0; m = nNext(nNext(m))) {
      const val = nNext(m);
      nameLen = key;
      nameAddStr(".");
      nameAdd(nPtr(m), nLen(m));
      if (eqStr(nPtr(m), nLen(m), "username")) {
        if (nType(val) != J.String || !isToken(nPtr(val), nLen(val)) || nLen(val) > 60)
          bad("expected a SIP token of 1..60 bytes (letters, digits, -.!%*_+`'~; no ':')", val);
        for (let o = nFirst(v); o != u; o = nNext(o)) {
          const on = member(o, "username");
          if (on >= 0 && bytesEq(nPtr(on), nLen(on), nPtr(val), nLen(val))) {
            errHead();
            putStr("duplicate user ");
            show(val);
            errEnd();
          }
        }
        user = val;
      } else if (eqStr(nPtr(m), nLen(m), "password")) {
        let ok = nType(val) == J.String && nLen(val) > 0;
        for (let j: u32 = 0; ok && j < nLen(val); j++) {
          const c = <u32>load<u8>(nPtr(val) + j);
          ok = c >= 0x20 && c != 0x7f;
        }
        // never echo a password back, even a malformed one
        if (!ok && nType(val) == J.String) badText("expected a non-empty string without control characters", "***");
        if (!ok) bad("expected a non-empty string without control characters", val);
        pass = val;
      } else if (eqStr(nPtr(m), nLen(m), "ha1") || eqStr(nPtr(m), nLen(m), "ha1Sha256")) {
        const isSha = nLen(m) > 3;
        const want: u32 = isSha ? 64 : 32;
        if (nType(val) != J.String || nLen(val) != want || !isHex(nPtr(val), want)) {
          errHead();
          putStr(isSha ? "expected 64 hex digits (SHA-256 of username:realm:password)" : "expected 32 hex digits (MD5 of username:realm:password)");
          putStr(", got ");
          if (nType(val) == J.String) {
            putByte(0x22);
            putU64(nLen(val));
            putStr(" characters\"");
          } else show(val);
          errEnd();
        }
        if (isSha) sha = val;
        else ha1 = val;
      } else {
        errHead();
        putStr("unknown key (expected username, password, ha1, ha1Sha256)");
        errEnd();
      }
    }
    nameLen = key;
    if (user < 0) {
      errHead();
      putStr("expected a \"username\"");
      errEnd();
    }
    if (pass < 0 && ha1 < 0 && sha < 0) {
      errHead();
      putStr("user ");
      show(user);
      putStr(" needs a \"password\" or an \"ha1\" / \"ha1Sha256\"");
      errEnd();
    }
    if (pass >= 0 && (ha1 >= 0 || sha >= 0)) {
      errHead();
      putStr("user ");
      show(user);
      putStr(": give either \"password\" or \"ha1\"/\"ha1Sha256\", not both");
      errEnd();
    }
    idx++;
  }
  nameLen = base;
}

/** The bytes of a pattern element: a string's, or {"hex"} decoded (byte count; -1 when malformed). */
function patternHex(i: i32): i32 {
  if (nType(i) != J.Object || nLen(i) != 1) return -1;
  const h = member(i, "hex");
  if (h < 0 || nType(h) != J.String || nLen(h) == 0 || (nLen(h) & 1) != 0 || !isHex(nPtr(h), nLen(h))) return -1;
  return <i32>(nLen(h) / 2);
}

function checkPatterns(k: u32, v: i32): void {
  if (nType(v) != J.Array) bad("expected an array of strings or {\"hex\": \"...\"}", v);
  const most = kf(k, KF.MaxItems);
  const maxBytes = kf(k, KF.MaxBytes);
  if (nLen(v) > most) {
    errHead();
    putStr("expected at most ");
    putU64(most);
    putStr(" patterns, got \"");
    putU64(nLen(v));
    putStr("\"");
    errEnd();
  }
  const base = nameLen;
  let idx: u32 = 0;
  for (let p = nFirst(v); p >= 0; p = nNext(p)) {
    nameLen = base;
    nameAddIndex(idx++);
    let n: i32 = nType(p) == J.String ? <i32>nLen(p) : patternHex(p);
    if (nType(p) != J.String && n < 0) bad("expected a string or {\"hex\": \"<even number of hex digits>\"}", p);
    if (n == 0 || <u32>n > maxBytes) {
      errHead();
      putStr("expected 1..");
      putU64(maxBytes);
      putStr(" bytes, got \"");
      putU64(<u64>n);
      putStr(" bytes\"");
      errEnd();
    }
  }
  nameLen = base;
}

/** Checks value node v of key k (errors name NAME) and keeps it in the current target. */
function checkValue(k: u32, v: i32): void {
  const t = kf(k, KF.Type);
  let num: i64 = 0;
  switch (t) {
    case KType.Bool: {
      if (nType(v) != J.True && nType(v) != J.False) bad("expected true or false", v);
      num = nType(v) == J.True ? 1 : 0;
      break;
    }
    case KType.Int: {
      const min = kf(k, KF.Min), max = kf(k, KF.Max);
      const x = nNum(v);
      if (nType(v) != J.Number || !(x >= <f64>min && x <= <f64>max) || x != Math.floor(x)) {
        errHead();
        putStr("expected an integer in ");
        putU64(min);
        putStr("..");
        putU64(max);
        putStr(", got ");
        show(v);
        errEnd();
      }
      num = <i64>x;
      break;
    }
    case KType.Enum: {
      const e = enumIndex(k, v);
      if (e < 0) badEnum(k, v);
      num = e;
      break;
    }
    case KType.String:
      checkString(kf(k, KF.Check), v);
      break;
    case KType.List: {
      if (nType(v) != J.Array) {
        if (kf(k, KF.Check) != KCheck.Enum) bad("expected an array of strings", v);
        errHead();
        putStr("expected an array of ");
        const l = kf(k, KF.Values);
        for (let j: u32 = 0; j < listCount(l); j++) {
          if (j > 0) putStr(" | ");
          putByte(0x22);
          putRef(listRef(l, j));
          putByte(0x22);
        }
        putStr(", got ");
        show(v);
        errEnd();
      }
      const minItems = kf(k, KF.MinItems), maxItems = kf(k, KF.MaxItems);
      if (minItems > 0 && nLen(v) < minItems) {
        errHead();
        putStr("expected at least ");
        putU64(minItems);
        putStr(minItems == 1 ? " element, got " : " elements, got ");
        show(v);
        errEnd();
      }
      if (maxItems > 0 && nLen(v) > maxItems) {
        errHead();
        putStr("expected at most ");
        putU64(maxItems);
        putStr(" elements, got \"");
        putU64(nLen(v));
        putStr("\"");
        errEnd();
      }
      const base = nameLen;
      let idx: u32 = 0;
      for (let e = nFirst(v); e >= 0; e = nNext(e)) {
        nameLen = base;
        nameAddIndex(idx++);
        checkElement(k, e);
        if (kf(k, KF.Unique) != 0)
          for (let o = nFirst(v); o != e; o = nNext(o))
            if (bytesEq(nPtr(o), nLen(o), nPtr(e), nLen(e))) {
              errHead();
              putStr("duplicate ");
              show(e);
              errEnd();
            }
      }
      nameLen = base;
      break;
    }
    case KType.Users:
      checkUsers(k, v);
      break;
    case KType.Patterns:
      checkPatterns(k, v);
      break;
    case KType.Hex: {
      const lo = kf(k, KF.MinDigits), hi = kf(k, KF.MaxDigits);
      const n = nLen(v);
      if (nType(v) != J.String || !isHex(nPtr(v), n) || (n & 1) != 0 || n < lo || n > hi) {
        errHead();
        putStr("expected a hex string of ");
        putU64(lo);
        putStr("..");
        putU64(hi);
        putStr(" digits (");
        putU64(lo / 2);
        putStr("..");
        putU64(hi / 2);
        putStr(" bytes; even length), got ");
        const secret = kf(k, KF.Secret) != 0;
        if (nType(v) == J.String && secret) {
          putByte(0x22);
          putU64(n);
          putStr(" characters (not shown)\"");
        } else if (secret) putStr(nType(v) == J.Number ? "\"number\"" : nType(v) == J.True || nType(v) == J.False ? "\"boolean\"" : "\"object\"");
        else show(v);
        errEnd();
      }
      break;
    }
  }
  setValue(k, v, num);
}

// ---- the command line ---------------------------------------------------------------------------

export let wantHelp = false;
export let wantPrint = false;
export let wantVersion = false;
let filePtr: usize = 0;
let fileLen: u32 = 0;

function argLen(p: usize): u32 {
  let n: u32 = 0;
  while (load<u8>(p + n) != 0) n++;
  return n;
}

function usageError(what: string, flag: usize, n: u32): void {
  nameSet(flag, n);
  errHead(true);
  putStr(what);
  errEnd();
}

/** The key whose flag is the n bytes at p, or -1. */
function flagKey(p: usize, n: u32): i32 {
  for (let k: u32 = 0; k < KEY_COUNT; k++) {
    const f = kf(k, KF.Flag);
    if (f != 0 && mine(k) && bytesEq(refPtr(f), refLen(f), p, n)) return <i32>k;
  }
  return -1;
}

/** Reads argv (argc strings at the pointers in argv, NUL-terminated): meta flags, schema flags. */
export function configArgs(argv: usize, argc: u32): void {
  tNode = F_NODE;
  tNum = F_NUM;
  tFlag = F_FLAG;
  for (let i: u32 = 1; i < argc; i++) {
    const a = <usize>load<u32>(argv + (<usize>i << 2));
    const n = argLen(a);
    let eqAt: u32 = 0;
    if (n > 2 && load<u8>(a) == 45 && load<u8>(a + 1) == 45) for (let j: u32 = 2; j < n; j++) if (load<u8>(a + j) == 61) { eqAt = j; break; }
    const fn = eqAt ? eqAt : n;
    let v: usize = eqAt ? a + eqAt + 1 : 0;
    let vn: u32 = eqAt ? n - eqAt - 1 : 0;
    const k = flagKey(a, fn);
    const isHelp = eqStr(a, fn, "--help") || eqStr(a, fn, "-h");
    const isPrint = eqStr(a, fn, "--print-config");
    const isConfig = eqStr(a, fn, "--config");
    const isVersion = eqStr(a, fn, "--version") || eqStr(a, fn, "-V");
    if (!isHelp && !isPrint && !isConfig && !isVersion && k < 0) usageError("unknown option (see --help)", a, fn);
    const takes = isConfig || (k >= 0 && kf(<u32>k, KF.Type) != KType.Bool);
    if (!takes && eqAt) {
      nameSet(a, fn);
      errHead(true);
      putStr("takes no value, got \"");
      putEscaped(v, vn);
      putStr("\"");
      errEnd();
    }
    if (takes && !eqAt) {
      if (i + 1 >= argc) usageError("expected a value after it", a, fn);
      v = <usize>load<u32>(argv + (<usize>(++i) << 2));
      vn = argLen(v);
    }
    if (isHelp) wantHelp = true;
    else if (isVersion) wantVersion = true;
    else if (isPrint) wantPrint = true;
    else if (isConfig) {
      filePtr = v;
      fileLen = vn;
    } else {
      const key = <u32>k;
      nameSet(a, fn);
      if (kf(key, KF.Type) == KType.Bool) {
        const t = newString(a, 0);
        store<u8>(F_FLAG + <usize>key, 3);
        store<i64>(F_NUM + (<usize>key << 3), 1);
        store<i32>(F_NODE + (<usize>key << 2), t + 1);
      } else if (kf(key, KF.Type) == KType.List) {
        const s = newString(v, vn);
        checkElement(key, s);
        let list = load<i32>(F_NODE + (<usize>key << 2)) - 1;
        if (list < 0) {
          list = newArray();
          store<i32>(F_NODE + (<usize>key << 2), list + 1);
          store<u8>(F_FLAG + <usize>key, 3);
        }
        push(list, s);
      } else checkValue(key, newString(v, vn));
    }
  }
  tNode = V_NODE;
  tNum = V_NUM;
  tFlag = V_FLAG;
}

// ---- the file -----------------------------------------------------------------------------------

const PRESTAT: usize = memory.data(8, 4);
const DIRNAME: usize = memory.data(1024);
const FDOUT: usize = memory.data(4, 4);
const IOV: usize = memory.data(8, 4);
const NREAD: usize = memory.data(4, 4);

function fileError(what: string, errno: i32): void {
  nameSet(changetype<usize>(0), 0);
  nameAddStr("--config");
  errHead();
  putStr("cannot read file \"");
  putEscaped(filePtr, fileLen);
  putStr("\" (");
  if (errno == ERRNO_NOENT) putStr("ENOENT");
  else if (errno == ERRNO_ACCES) putStr("EACCES");
  else if (errno == ERRNO_NOTCAPABLE) putStr("ENOTCAPABLE");
  else if (errno == ERRNO_ISDIR) putStr("EISDIR");
  else if (errno != 0) {
    putStr("errno ");
    putU64(<u64>errno);
  }
  if (errno != 0 && what.length > 0) putStr(": ");
  putStr(what);
  putStr(")");
  errEnd();
}

// The preopen chosen for the --config file (pickStart, then pickOffer for each preopen): its fd (or
// handle), -1 none; the length of its name; the path under it (pickRel, pickRelLen).
let pickFd: i32 = -1;
let pickNameLen: u32 = 0;
let pickRel: usize = 0;
let pickRelLen: u32 = 0;
// the path without its leading "/" ("/cfg/a.json" -> "cfg/a.json"): WasmEdge names the preopen of
// --dir /cfg:HOST "cfg", Node's WASI and wasmtime "/cfg"; both are compared without the slash
let pickAbs = false;
let pickPath: usize = 0;
let pickPathLen: u32 = 0;

function pickStart(): void {
  pickFd = -1;
  pickNameLen = 0;
  pickRel = 0;
  pickRelLen = 0;
  pickAbs = fileLen > 0 && load<u8>(filePtr) == 47;
  pickPath = pickAbs ? filePtr + 1 : filePtr;
  pickPathLen = pickAbs ? fileLen - 1 : fileLen;
}

/**
 * Offers preopen fd, named by the dn bytes at d (a leading and trailing "/" ignored): the longest
 * name that holds the path wins; "." takes a relative path that no preopen before it took.
 */
function pickOffer(fd: i32, d: usize, dn: u32): void {
  if (dn > 0 && load<u8>(d) == 47) {
    d++;
    dn--;
  }
  while (dn > 0 && load<u8>(d + dn - 1) == 47) dn--; // "cfg/" -> "cfg"
  if (dn == 1 && load<u8>(d) == 46) { // ".": relative paths
    if (!pickAbs && pickFd < 0) {
      pickFd = fd;
      pickRel = pickPath;
      pickRelLen = pickPathLen;
    }
    return;
  }
  const under = dn == 0 || (pickPathLen > dn && memory.compare(d, pickPath, dn) == 0 && load<u8>(pickPath + dn) == 47);
  if (under && (pickFd < 0 || dn > pickNameLen)) {
    pickFd = fd;
    pickNameLen = dn;
    pickRel = pickPath + (dn == 0 ? 0 : dn + 1);
    pickRelLen = pickPathLen - (dn == 0 ? 0 : dn + 1);
  }
}

/**
 * Opens the --config file through the preopened directory that holds it: an absolute path under a
 * preopen's name, or a relative one under "." (wasmedge --dir GUEST:HOST). Returns its length in FILE.
 */
function readFile(): u32 {
  if (P2) return readFileP2();
  pickStart();
  for (let fd: u32 = 3; fd < 256; fd++) {
    const e = fd_prestat_get(fd, PRESTAT);
    if (e == ERRNO_BADF) break; // preopens are numbered from 3 without gaps
    if (e != 0 || load<u8>(PRESTAT) != 0) continue;
    const dn = load<u32>(PRESTAT, 4);
    if (dn > 1024 || fd_prestat_dir_name(fd, DIRNAME, dn) != 0) continue;
    pickOffer(<i32>fd, DIRNAME, dn);
  }
  if (pickFd < 0) fileError("no preopened directory holds it; run wasmedge with --dir GUEST:HOST", 0);
  const e = path_open(<u32>pickFd, LOOKUP_SYMLINK_FOLLOW, pickRel, pickRelLen, 0, RIGHT_FD_READ, 0, 0, FDOUT);
  if (e != 0) fileError("", e);
  const fd = load<u32>(FDOUT);
  let n: u32 = 0;
  for (;;) {
    store<u32>(IOV, <u32>(FILE + n));
    store<u32>(IOV, FILE_CAP - n, 4);
    store<u32>(NREAD, 0);
    const r = fd_read(fd, IOV, 1, NREAD);
    if (r != 0) fileError("", r);
    const got = load<u32>(NREAD);
    if (got == 0) break;
    n += got;
    if (n == FILE_CAP) fileError("larger than 64 KiB", 0);
  }
  fd_close(fd);
  return n;
}

/**
 * readFile on WASI 0.2: the preopens of wasi:filesystem/preopens (wasmtime --dir HOST::GUEST), chosen
 * as above; the file read by descriptor.read in 16 KiB pieces (each lands in the bump area, copied).
 */
function readFileP2(): u32 {
  const RET = memory.data(16, 8);
  pickStart();
  bumpReset();
  get_directories(RET);
  const list = <usize>load<u32>(RET);
  const count = load<u32>(RET, 4);
  for (let k: u32 = 0; k < count; k++)
    pickOffer(load<i32>(list + k * 12), <usize>load<u32>(list + k * 12, 4), load<u32>(list + k * 12, 8));
  if (pickFd < 0) fileError("no preopened directory holds it; run wasmtime with --dir HOSTDIR::GUESTDIR", 0);
  // path-flags symlink-follow, no open-flags, descriptor-flags read
  descriptor_open_at(pickFd, 1, pickRel, pickRelLen, 0, 1, RET);
  if (load<u8>(RET) != 0) fileError("", fsErrno(<u32>load<u8>(RET, 4)));
  const fd = load<i32>(RET, 4);
  let n: u32 = 0;
  for (;;) {
    bumpReset();
    descriptor_read(fd, 16384, <u64>n, RET);
    if (load<u8>(RET) != 0) fileError("", fsErrno(<u32>load<u8>(RET, 4)));
    const got = load<u32>(RET, 8);
    if (n + got > FILE_CAP) fileError("larger than 64 KiB", 0);
    memory.copy(FILE + n, <usize>load<u32>(RET, 4), got);
    n += got;
    if (got == 0 || load<u8>(RET, 12) != 0) break;
    if (n == FILE_CAP) fileError("larger than 64 KiB", 0);
  }
  descriptor_drop(fd);
  return n;
}

/** The schema path of key k equals the n bytes at p. */
function pathIs(k: u32, p: usize, n: u32): bool {
  const r = kf(k, KF.Path);
  return bytesEq(refPtr(r), refLen(r), p, n);
}

/** NAME is a group: some key's path starts with NAME + ".". */
function isGroup(): bool {
  for (let k: u32 = 0; k < KEY_COUNT; k++) {
    const r = kf(k, KF.Path);
    if (refLen(r) > nameLen && memory.compare(refPtr(r), NAME, nameLen) == 0 && load<u8>(refPtr(r) + nameLen) == 46) return true;
  }
  return false;
}

/** The file's object o under the prefix NAME[0, prefixLen). */
function walk(o: i32, prefixLen: u32): void {
  for (let m = nFirst(o); m >= 0; m = nNext(nNext(m))) {
    const v = nNext(m);
    nameLen = prefixLen;
    nameAdd(nPtr(m), nLen(m));
    let key: i32 = -1;
    for (let k: u32 = 0; k < KEY_COUNT && key < 0; k++) if (pathIs(k, NAME, nameLen)) key = <i32>k;
    if (key >= 0) {
      if (!mine(<u32>key)) {
        errHead();
        putStr("not supported by the wasi host (only by ");
        const hosts = kf(<u32>key, KF.Hosts);
        let first = true;
        for (let h: u32 = 0; h < 4; h++) {
          if ((hosts & (1 << h)) == 0) continue;
          if (!first) putStr(", ");
          first = false;
          putStr(h == 0 ? "node" : h == 1 ? "native" : h == 2 ? "wasi" : "firmware");
        }
        putStr(")");
        errEnd();
      }
      checkValue(<u32>key, v);
    } else if (isGroup()) {
      if (nType(v) != J.Object) bad("expected an object", v);
      const sub = nameLen;
      nameAddStr(".");
      walk(v, sub + 1);
    } else {
      errHead();
      putStr("unknown key");
      if (prefixLen > 0) {
        putStr(" (expected ");
        let count = 0;
        for (let k: u32 = 0; k < KEY_COUNT; k++) {
          const r = kf(k, KF.Path);
          if (!mine(k) || refLen(r) <= prefixLen || memory.compare(refPtr(r), NAME, prefixLen) != 0) continue;
          const rest = refPtr(r) + prefixLen;
          const rn = refLen(r) - prefixLen;
          const dot = indexOf(rest, rn, 46);
          const len = dot < 0 ? rn : <u32>dot;
          let dup = false;
          for (let j: u32 = 0; j < k && !dup; j++) {
            const q = kf(j, KF.Path);
            if (mine(j) && refLen(q) > prefixLen + len && memory.compare(refPtr(q), refPtr(r), prefixLen + len) == 0) {
              const c = load<u8>(refPtr(q) + prefixLen + len);
              dup = c == 46 || refLen(q) == prefixLen + len;
            } else if (mine(j) && refLen(q) == prefixLen + len && memory.compare(refPtr(q), refPtr(r), prefixLen + len) == 0) dup = true;
          }
          if (dup) continue;
          if (count++ > 0) putStr(", ");
          putBytes(rest, len);
        }
        putStr(")");
      }
      errEnd();
    }
  }
}

// ---- defaults, derived, cross-key -----------------------------------------------------------------

const DEFAULT_LISTEN = memory.data<u8>([117, 100, 112, 58, 49, 50, 55, 46, 48, 46, 48, 46, 49, 58, 53, 48, 54, 48]); // udp:127.0.0.1:5060
const LOCALHOST = memory.data<u8>([108, 111, 99, 97, 108, 104, 111, 115, 116]);

/** Key k's schema default (the WASI host listens on UDP only: its own default listen). */
function setDefault(k: u32): void {
  if (k == K.Listen && !P2) { // the wasmtime build: the schema's default (UDP and TCP)
    const a = newArray();
    push(a, newString(DEFAULT_LISTEN, 18));
    setValue(k, a, 0);
    return;
  }
  if (kf(k, KF.HasDefault) == 0) return;
  const t = kf(k, KF.Type);
  if (t == KType.String) setValue(k, newString(refPtr(kf(k, KF.DefStr)), refLen(kf(k, KF.DefStr))), 0);
  else if (t == KType.List) {
    const a = newArray();
    const l = kf(k, KF.DefList);
    for (let j: u32 = 0; j < listCount(l); j++) push(a, newString(refPtr(listRef(l, j)), refLen(listRef(l, j))));
    setValue(k, a, 0);
  } else setValue(k, -1, <i64>kf(k, KF.DefInt));
  store<u8>(V_FLAG + <usize>k, 1); // set, not given
}

/** The host span of a listen string "udp:HOST:PORT" (IPv6 keeps its brackets). */
function listenHost(i: i32, out: usize): u32 {
  const p = nPtr(i);
  let c = nLen(i);
  while (c > 4 && load<u8>(p + c - 1) != 58) c--;
  store<u32>(out, <u32>(p + 4));
  return c - 1 - 4;
}
const SPAN: usize = memory.data(4, 4);

/** Reads the file (if any) and resolves the whole configuration; exits 2 on any error. */
export function configLoad(): void {
  if (filePtr != 0) {
    const n = readFile();
    const root = parse(FILE, n);
    if (root < 0) {
      nameSet(changetype<usize>(0), 0);
      nameAddStr("--config");
      errHead();
      putStr("file \"");
      putEscaped(filePtr, fileLen);
      putStr("\" is not valid JSON (");
      putStr(errorWhat);
      if (errorAtEnd) putStr(" at end of input");
      else {
        putStr(" at position ");
        putU64(errorAt);
      }
      putStr(")");
      errEnd();
    }
    nameLen = 0;
    nameAddStr("(file)");
    if (nType(root) != J.Object) bad("expected an object", root);
    nameLen = 0;
    walk(root, 0);
  }
  for (let k: u32 = 0; k < KEY_COUNT; k++) {
    if ((load<u8>(F_FLAG + <usize>k) & 1) != 0) {
      store<i32>(V_NODE + (<usize>k << 2), load<i32>(F_NODE + (<usize>k << 2)));
      store<i64>(V_NUM + (<usize>k << 3), load<i64>(F_NUM + (<usize>k << 3)));
      store<u8>(V_FLAG + <usize>k, 3);
    } else if (!isSet(k) && mine(k)) setDefault(k);
  }
  for (let k: u32 = 0; k < KEY_COUNT; k++) {
    const le = kf(k, KF.Le);
    if (le == 0 || !isSet(k) || !isSet(le - 1)) continue;
    const a = valueNum(k), b = valueNum(le - 1);
    if (a > b) {
      const r = kf(k, KF.Path);
      nameSet(refPtr(r), refLen(r));
      errHead();
      putStr("must not exceed ");
      putRef(kf(le - 1, KF.Path));
      putStr(" (");
      putU64(<u64>b);
      putStr("), got ");
      putU64(<u64>a);
      errEnd();
    }
  }
  // listen: at most this host's socket count, no duplicates
  const listens = valueNode(K.Listen);
  if (nLen(listens) > MAX_LISTEN) {
    nameSet(changetype<usize>(0), 0);
    nameAddStr("listen");
    errHead();
    putStr("at most 64 listen addresses on the wasi host, got \"");
    putU64(nLen(listens));
    putStr("\"");
    errEnd();
  }
  let idx: u32 = 0;
  for (let l = nFirst(listens); l >= 0; l = nNext(l)) {
    for (let o = nFirst(listens); o != l; o = nNext(o)) {
      if (!bytesEq(nPtr(o), nLen(o), nPtr(l), nLen(l)) || eqStr(nPtr(l) + nLen(l) - 2, 2, ":0")) continue;
      nameSet(changetype<usize>(0), 0);
      nameAddStr("listen");
      nameAddIndex(idx);
      errHead();
      putStr("duplicate listen address ");
      show(l);
      errEnd();
    }
    idx++;
  }
  // domains: localhost plus each listen host (IPv6 bracketed), wildcards skipped
  const d = valueNode(K.Domains);
  if (d < 0 || nLen(d) == 0) {
    const a = newArray();
    push(a, newString(LOCALHOST, 9));
    for (let l = nFirst(listens); l >= 0; l = nNext(l)) {
      const hn = listenHost(l, SPAN);
      const hp = <usize>load<u32>(SPAN);
      if (eqStr(hp, hn, "0.0.0.0") || eqStr(hp, hn, "[::]")) continue;
      let dup = false;
      for (let o = nFirst(a); o >= 0; o = nNext(o)) dup = dup || bytesEq(nPtr(o), nLen(o), hp, hn);
      if (!dup) push(a, newString(hp, hn));
    }
    setValue(K.Domains, a, 0);
    store<u8>(V_FLAG + <usize>K.Domains, 1);
  }
  if (!isSet(K.Realm)) {
    const first = nFirst(valueNode(K.Domains));
    nameSet(changetype<usize>(0), 0);
    nameAddStr("realm (default: the first domain)");
    checkString(KCheck.Realm, first);
    setValue(K.Realm, first, 0);
    store<u8>(V_FLAG + <usize>K.Realm, 1);
  }
}

// ---- what the host reads --------------------------------------------------------------------------

export function configLevel(): i32 { return <i32>valueNum(K.LogLevel); }
export function configTrace(): bool { return valueNum(K.Trace) != 0; }
export function configPrefault(): bool { return valueNum(K.Prefault) != 0; }
export function usersCount(): u32 { return isSet(K.Users) ? nLen(valueNode(K.Users)) : 0; }

// ---- the secure default ---------------------------------------------------------------------------

function isLoopback(l: i32): bool {
  const hn = listenHost(l, SPAN);
  const hp = <usize>load<u32>(SPAN);
  if (eqStr(hp, hn, "localhost")) return true;
  if (parse4(hp, hn, ADDR)) return load<u8>(ADDR) == 127;
  if (hn < 2 || !parse6(hp + 1, hn - 2, ADDR)) return false;
  if (load<u64>(ADDR) != 0) return false;
  const lo = load<u64>(ADDR + 8);
  return lo == 0x0100000000000000 || ((lo & 0xffffffff) == 0xffff0000 && load<u8>(ADDR + 12) == 127);
}

/** No users and a listen address that is not loopback: exit 2, unless "allowUnauthenticated". */
export function configCheckSecure(): void {
  if (usersCount() > 0 || valueNum(K.AllowUnauthenticated) != 0) return;
  for (let l = nFirst(valueNode(K.Listen)); l >= 0; l = nNext(l)) {
    if (isLoopback(l)) continue;
    toStderr();
    putStr("config error: listening on ");
    putBytes(nPtr(l), nLen(l));
    putStr(" with no \"users\" would let anyone register and relay calls; add \"users\" (and \"realm\") or set \"allowUnauthenticated\": true\n");
    flush();
    sysExit(2);
  }
}

// ---- printing -------------------------------------------------------------------------------------

function indent(n: u32): void {
  for (let i: u32 = 0; i < n; i++) putStr("  ");
}

/** Segment s of key k's path (its offset within the path text, length in SEG_LEN). */
let segLen: u32 = 0;
function segment(k: u32, s: u32): usize {
  const r = kf(k, KF.Path);
  let p = refPtr(r);
  let n = refLen(r);
  for (let i: u32 = 0; i < s; i++) {
    const dot = <u32>indexOf(p, n, 46);
    p += dot + 1;
    n -= dot + 1;
  }
  const dot = indexOf(p, n, 46);
  segLen = dot < 0 ? n : <u32>dot;
  return p;
}
function depth(k: u32): u32 {
  const r = kf(k, KF.Path);
  let d: u32 = 0;
  for (let i: u32 = 0; i < refLen(r); i++) if (load<u8>(refPtr(r) + i) == 46) d++;
  return d;
}
/** Leading groups key a and key b share, among the first max. */
function common(a: u32, b: u32, max: u32): u32 {
  let n: u32 = 0;
  while (n < max) {
    const pa = segment(a, n);
    const la = segLen;
    const pb = segment(b, n);
    if (la != segLen || memory.compare(pa, pb, la) != 0) break;
    n++;
  }
  return n;
}

function printValue(k: u32): void {
  const t = kf(k, KF.Type);
  const v = valueNode(k);
  if (t == KType.Bool) putStr(valueNum(k) != 0 ? "true" : "false");
  else if (t == KType.Int) putU64(<u64>valueNum(k));
  else if (t == KType.Enum) {
    putByte(0x22);
    putRef(listRef(kf(k, KF.Values), <u32>valueNum(k)));
    putByte(0x22);
  } else if (t == KType.Users) {
    putByte(0x5b);
    for (let u = nFirst(v); u >= 0; u = nNext(u)) {
      if (u != nFirst(v)) putStr(", ");
      putStr("{\"username\": ");
      show(member(u, "username"));
      if (member(u, "password") >= 0) putStr(", \"password\": \"***\"");
      if (member(u, "ha1") >= 0) putStr(", \"ha1\": \"***\"");
      if (member(u, "ha1Sha256") >= 0) putStr(", \"ha1Sha256\": \"***\"");
      putByte(0x7d);
    }
    putByte(0x5d);
  } else if (kf(k, KF.Secret) != 0) putStr("\"***\"");
  else show(v);
}

/** --print-config: the effective configuration as JSON (a valid configuration file). */
export function configPrint(): void {
  toStdout();
  putByte(0x7b);
  let prev: i32 = -1;
  let open: u32 = 0;
  let first = true;
  for (let k: u32 = 0; k < KEY_COUNT; k++) {
    if (!mine(k) || !isSet(k)) continue;
    const groups = depth(k);
    const same: u32 = prev < 0 ? <u32>0 : common(<u32>prev, k, open < groups ? open : groups);
    while (open > same) {
      putByte(10);
      indent(open);
      putByte(0x7d);
      open--;
      first = false;
    }
    while (open < groups) {
      putStr(first ? "\n" : ",\n");
      indent(open + 1);
      putByte(0x22);
      putBytes(segment(k, open), segLen);
      putStr("\": {");
      open++;
      first = true;
    }
    putStr(first ? "\n" : ",\n");
    first = false;
    indent(open + 1);
    putByte(0x22);
    putBytes(segment(k, groups), segLen);
    putStr("\": ");
    printValue(k);
    prev = <i32>k;
  }
  while (open > 0) {
    putByte(10);
    indent(open);
    putByte(0x7d);
    open--;
  }
  putStr("\n}\n");
  flush();
}

// ---- --help ---------------------------------------------------------------------------------------

let col: u32 = 0;
/** Words of the n bytes at p, wrapped at WIDTH, each line indented by `ind`. */
function wrapBytes(p: usize, n: u32, ind: u32): void {
  let i: u32 = 0;
  col = 0;
  while (i < n) {
    while (i < n && load<u8>(p + i) == 32) i++;
    if (i >= n) break;
    let j = i;
    while (j < n && load<u8>(p + j) != 32) j++;
    const w = j - i;
    if (col > 0 && ind + col + 1 + w > WIDTH) {
      putByte(10);
      col = 0;
    }
    if (col == 0) for (let s: u32 = 0; s < ind; s++) putByte(32);
    else {
      putByte(32);
      col++;
    }
    putBytes(p + i, w);
    col += w;
    i = j;
  }
  putByte(10);
}

const LINE: usize = memory.data(512);
let lineLen: u32 = 0;
function lineStr(s: string): void {
  for (let i = 0; i < s.length && lineLen < 512; i++) store<u8>(LINE + lineLen++, <u8>s.charCodeAt(i));
}
function lineBytes(p: usize, n: u32): void {
  if (lineLen + n > 512) n = 512 - lineLen;
  memory.copy(LINE + lineLen, p, n);
  lineLen += n;
}
function lineMetavar(k: u32): void {
  const c = kf(k, KF.Check);
  if (c == KCheck.Listen) lineStr(P2 ? "udp|tcp:HOST:PORT" : "udp:HOST:PORT");
  else if (c == KCheck.Domain) lineStr("NAME");
  else if (c == KCheck.File) lineStr("FILE");
  else if (kf(k, KF.Type) == KType.Enum) {
    const l = kf(k, KF.Values);
    for (let j: u32 = 0; j < listCount(l); j++) {
      if (j > 0) lineStr("|");
      lineBytes(refPtr(listRef(l, j)), refLen(listRef(l, j)));
    }
  } else lineStr("VALUE");
}
/** "  FLAG   doc" with the doc wrapped at column 23. */
function option(doc: usize, docLen: u32): void {
  putStr("  ");
  putBytes(LINE, lineLen);
  if (lineLen < 21) {
    for (let s = lineLen; s < 21; s++) putByte(32);
    // the first line continues after the flag: wrap as if indented, without the indent
    let i: u32 = 0;
    col = 0;
    while (i < docLen) {
      while (i < docLen && load<u8>(doc + i) == 32) i++;
      if (i >= docLen) break;
      let j = i;
      while (j < docLen && load<u8>(doc + j) != 32) j++;
      const w = j - i;
      if (col > 0 && <u32>23 + col + 1 + w > WIDTH) {
        putByte(10);
        for (let s: u32 = 0; s < 23; s++) putByte(32);
        col = 0;
      } else if (col > 0) {
        putByte(32);
        col++;
      }
      putBytes(doc + i, w);
      col += w;
      i = j;
    }
    putByte(10);
  } else {
    putByte(10);
    wrapBytes(doc, docLen, 23);
  }
}
const DOC: usize = memory.data(1024);
let docLen: u32 = 0;
function docStr(s: string): void {
  for (let i = 0; i < s.length && docLen < 1024; i++) store<u8>(DOC + docLen++, <u8>s.charCodeAt(i));
}
function docRef(r: u32): void {
  let n = refLen(r);
  if (docLen + n > 1024) n = 1024 - docLen;
  memory.copy(DOC + docLen, refPtr(r), n);
  docLen += n;
}

function putTypeText(k: u32): void {
  const t = kf(k, KF.Type);
  const l = kf(k, KF.Values);
  if (t == KType.Bool) putStr("true|false");
  else if (t == KType.Int) {
    if (kf(k, KF.Max) == U31) {
      putStr("integer >= ");
      putU64(kf(k, KF.Min));
    } else {
      putStr("integer ");
      putU64(kf(k, KF.Min));
      putStr("..");
      putU64(kf(k, KF.Max));
    }
  } else if (t == KType.Enum) {
    for (let j: u32 = 0; j < listCount(l); j++) {
      if (j > 0) putByte(0x7c);
      putByte(0x22);
      putRef(listRef(l, j));
      putByte(0x22);
    }
  } else if (t == KType.String) {
    putStr("string (");
    putCheckName(kf(k, KF.Check));
    putStr(")");
  } else if (t == KType.List) {
    putByte(0x5b);
    if (kf(k, KF.Check) == KCheck.Enum)
      for (let j: u32 = 0; j < listCount(l); j++) {
        if (j > 0) putByte(0x7c);
        putByte(0x22);
        putRef(listRef(l, j));
        putByte(0x22);
      }
    else putCheckName(kf(k, KF.Check));
    putStr(", ...]");
  } else if (t == KType.Users) putStr("[user, ...]");
  else if (t == KType.Patterns) {
    putStr("[text|{\"hex\"}, ...] (<= ");
    putU64(kf(k, KF.MaxItems));
    putStr(", <= ");
    putU64(kf(k, KF.MaxBytes));
    putStr(" bytes each)");
  } else {
    putStr("hex, ");
    putU64(kf(k, KF.MinDigits));
    putStr("..");
    putU64(kf(k, KF.MaxDigits));
    putStr(" digits");
  }
}

function putCheckName(c: u32): void {
  switch (c) {
    case KCheck.Listen: putStr("listen"); break;
    case KCheck.Domain: putStr("domain"); break;
    case KCheck.Cidr: putStr("cidr"); break;
    case KCheck.Token: putStr("token"); break;
    case KCheck.DenyUri: putStr("denyUri"); break;
    case KCheck.TypeRule: putStr("typeRule"); break;
    case KCheck.SipUri: putStr("sipUri"); break;
    case KCheck.Realm: putStr("realm"); break;
    case KCheck.File: putStr("file"); break;
    default: putStr("string");
  }
}

function putDefault(k: u32): void {
  if (k == K.Listen) {
    if (P2) putStr("; default [\"udp:127.0.0.1:5060\", \"tcp:127.0.0.1:5060\"]");
    else putStr("; default [\"udp:127.0.0.1:5060\"]");
    return;
  }
  if (kf(k, KF.HasDefault) == 0) {
    if (kf(k, KF.DefaultDoc) != 0) {
      putStr("; default: ");
      putRef(kf(k, KF.DefaultDoc));
    }
    return;
  }
  putStr("; default ");
  const t = kf(k, KF.Type);
  if (t == KType.Bool) putStr(kf(k, KF.DefInt) != 0 ? "true" : "false");
  else if (t == KType.Int) putU64(kf(k, KF.DefInt));
  else if (t == KType.Enum) {
    putByte(0x22);
    putRef(listRef(kf(k, KF.Values), kf(k, KF.DefInt)));
    putByte(0x22);
  } else if (t == KType.String) {
    putByte(0x22);
    putRef(kf(k, KF.DefStr));
    putByte(0x22);
  } else {
    const l = kf(k, KF.DefList);
    putByte(0x5b);
    for (let j: u32 = 0; j < listCount(l); j++) {
      if (j > 0) putByte(0x2c);
      putByte(0x22);
      putRef(listRef(l, j));
      putByte(0x22);
    }
    putByte(0x5d);
  }
}

/** --help: the synopsis and options (meta flags, the schema's), every key of this host, the tail. */
export function configUsage(head: string, name: string, tail: string): void {
  toStdout();
  putStr(head);
  putStr("\n\n");
  lineLen = 0;
  lineStr("usage: ");
  lineStr(name);
  const indentTo = lineLen;
  lineStr(" [--config FILE]");
  for (let pass: u32 = 0; pass <= KEY_COUNT; pass++) {
    const start = lineLen;
    if (pass < KEY_COUNT) {
      const k = pass;
      if (kf(k, KF.Flag) == 0 || !mine(k)) continue;
      lineStr(" [");
      lineBytes(refPtr(kf(k, KF.Flag)), refLen(kf(k, KF.Flag)));
      if (kf(k, KF.Type) != KType.Bool) {
        lineStr(" ");
        lineMetavar(k);
      }
      lineStr("]");
      if (kf(k, KF.Type) == KType.List) lineStr("...");
    } else lineStr(" [--print-config]");
    if (lineLen > WIDTH) {
      putBytes(LINE, start);
      putByte(10);
      const n = lineLen - start;
      memory.copy(LINE + indentTo, LINE + start, n);
      for (let s: u32 = 0; s < indentTo; s++) store<u8>(LINE + s, 32);
      lineLen = indentTo + n;
    }
  }
  putBytes(LINE, lineLen);
  putStr("\n       ");
  putStr(name);
  putStr(" --help | --version\n\noptions:\n");
  lineLen = 0;
  lineStr("--config FILE");
  docLen = 0;
  docStr("read a JSON configuration file (keys below; through a preopened directory: wasmedge --dir GUEST:HOST); flags override it");
  option(DOC, docLen);
  for (let k: u32 = 0; k < KEY_COUNT; k++) {
    if (kf(k, KF.Flag) == 0 || !mine(k)) continue;
    const t = kf(k, KF.Type);
    lineLen = 0;
    lineBytes(refPtr(kf(k, KF.Flag)), refLen(kf(k, KF.Flag)));
    if (t != KType.Bool) {
      lineStr(" ");
      lineMetavar(k);
    }
    docLen = 0;
    docStr(t == KType.List ? "one of \"" : "set \"");
    docRef(kf(k, KF.Path));
    docStr(t == KType.Bool ? "\" to true: " : t == KType.List ? "\" (repeatable; replaces the file's list): " : "\": ");
    docRef(kf(k, KF.Doc));
    option(DOC, docLen);
  }
  lineLen = 0;
  lineStr("--print-config");
  docLen = 0;
  docStr("print the effective configuration as JSON and exit (binds nothing; secrets as \"***\")");
  option(DOC, docLen);
  lineLen = 0;
  lineStr("--help");
  docLen = 0;
  docStr("print this help and exit");
  option(DOC, docLen);
  lineLen = 0;
  lineStr("--version");
  docLen = 0;
  docStr("print the version and the core build (board) and exit");
  option(DOC, docLen);
  putStr("\nconfiguration file (JSON; unknown keys are errors; every key: docs/CONFIG.md):\n  {\n");
  let prev: i32 = -1;
  let open: u32 = 0;
  for (let k: u32 = 0; k < KEY_COUNT; k++) {
    if (!mine(k)) continue;
    const groups = depth(k);
    const same: u32 = prev < 0 ? <u32>0 : common(<u32>prev, k, open < groups ? open : groups);
    while (open > same) {
      open--;
      indent(open + 2);
      putStr("}\n");
    }
    while (open < groups) {
      indent(open + 2);
      putByte(0x22);
      putBytes(segment(k, open), segLen);
      putStr("\": {\n");
      open++;
    }
    indent(open + 2);
    putByte(0x22);
    putBytes(segment(k, groups), segLen);
    putStr("\"  ");
    putTypeText(k);
    if (kf(k, KF.Unit) != 0) {
      putStr("; ");
      putRef(kf(k, KF.Unit));
    }
    putDefault(k);
    if (kf(k, KF.Le) != 0) {
      putStr("; <= ");
      putRef(kf(kf(k, KF.Le) - 1, KF.Path));
    }
    if (kf(k, KF.Secret) != 0) putStr("; secret");
    putByte(10);
    wrapBytes(refPtr(kf(k, KF.Doc)), refLen(kf(k, KF.Doc)), 2 * (open + 2) + 4);
    prev = <i32>k;
  }
  while (open > 0) {
    open--;
    indent(open + 2);
    putStr("}\n");
  }
  putStr("  }\n");
  let others = 0;
  for (let k: u32 = 0; k < KEY_COUNT; k++) {
    if (mine(k)) continue;
    putStr(others++ == 0 ? "  (keys of other hosts, refused here: \"" : ", \"");
    putRef(kf(k, KF.Path));
    putByte(0x22);
  }
  if (others > 0) putStr(")\n");
  putByte(10);
  docLen = 0;
  docStr(tail);
  wrapBytes(DOC, docLen, 0);
  flush();
}

// ---- applying to the core -------------------------------------------------------------------------

const HEXBUF: usize = memory.data(64);

function hexVal(c: u32): u32 {
  c = lower(c);
  return c <= 57 ? c - 48 : c - 87;
}

/** hex digits -> bytes at out; the byte count. */
function hexBytes(p: usize, n: u32, out: usize): u32 {
  for (let i: u32 = 0; i + 1 < n; i += 2) store<u8>(out + i / 2, <u8>((hexVal(load<u8>(p + i)) << 4) | hexVal(load<u8>(p + i + 1))));
  return n / 2;
}

/** Key k's result r of a core call: anything but Ok exits 2 naming NAME. shown: the node (or -1). */
function result(k: u32, r: i32, set: bool, shownNode: i32, shownNum: i64, secret: bool): void {
  if (r == CfgResult.Ok) return;
  errHead();
  if (r == CfgResult.Unknown) {
    putStr(set ? "the core does not know config key " : "the core does not know config kind ");
    putU64(kf(k, KF.CoreId));
    putStr(" (");
    putRef(kf(k, KF.CoreName));
    putStr("): rebuild the core");
  } else if (r == CfgResult.NotInBuild) {
    putStr("not in this core build (board ");
    putStr(CORE_BOARD);
    putStr(" leaves it out)");
  }
  else if (r == -1000) {
    if (!secret && shownNode >= 0) {
      show(shownNode);
      putByte(32);
    }
    putStr("exceeds the core's cfg buffer");
  } else if (set) {
    putStr(r == CfgResult.Refused ? "value " : "the core refused ");
    if (kf(k, KF.Type) == KType.Int) putU64(<u64>shownNum);
    else {
      if (shownNode >= 0) show(shownNode);
      else printValue(k);
      putStr(" (");
      putU64(<u64>shownNum);
      putStr(")");
    }
    if (r == CfgResult.Refused) putStr(" is out of the core's range");
    else {
      putStr(" (");
      putNumber(<f64>r);
      putStr(")");
    }
  } else if (secret || shownNode < 0) {
    putStr("the core refused it (");
    putNumber(<f64>r);
    putStr(": table full, too long or does not parse)");
  } else {
    putStr("the core refused ");
    show(shownNode);
    putStr(" (");
    putNumber(<f64>r);
    putStr(": table full or does not parse)");
  }
  errEnd();
}

/** sip_cfg_add of the n bytes at p (already copied when p is the cfg buffer). */
function add(k: u32, p: usize, n: u32, shown: i32, secret: bool): void {
  const cfg = sip_cfg_ptr();
  let r: i32 = -1000;
  if (n <= sip_cfg_cap()) {
    if (p != cfg) memory.copy(cfg, p, n);
    r = sip_cfg_add(<i32>kf(k, KF.CoreId), n);
  }
  if (secret) memory.fill(cfg, 0, sip_cfg_cap()); // the core wipes secret kinds too
  result(k, r, false, shown, 0, secret);
}

/** A user's credential line "name:WHAT=VALUE" (HA1 hex in lower case) into the cfg buffer; its length. */
function userLine(u: i32, what: string, v: i32): u32 {
  const cfg = sip_cfg_ptr();
  const cap = sip_cfg_cap();
  const name = member(u, "username");
  let n: u32 = 0;
  const need = nLen(name) + 2 + <u32>what.length + nLen(v);
  if (need > cap) return need; // too long: add() refuses it without writing
  memory.copy(cfg, nPtr(name), nLen(name));
  n = nLen(name);
  store<u8>(cfg + n++, 58);
  for (let i = 0; i < what.length; i++) store<u8>(cfg + n++, <u8>what.charCodeAt(i));
  store<u8>(cfg + n++, 61);
  const lowerHex = what != "password";
  for (let i: u32 = 0; i < nLen(v); i++) {
    const c = <u32>load<u8>(nPtr(v) + i);
    store<u8>(cfg + n++, <u8>(lowerHex ? lower(c) : c));
  }
  return n;
}

/** Applies every core key, walking the table (realm before users; a random nonce secret when none). */
export function configApply(): void {
  const cfg = sip_cfg_ptr();
  for (let k: u32 = 0; k < KEY_COUNT; k++) {
    const core = kf(k, KF.Core);
    if (core == 0 || !mine(k)) continue;
    const r = kf(k, KF.Path);
    nameSet(refPtr(r), refLen(r));
    const secret = kf(k, KF.Secret) != 0;
    if (!isSet(k)) {
      if (k == K.NonceSecret) { // 32 random bytes per start
        sysRandom(cfg, 32);
        add(k, cfg, 32, -1, true);
      }
      continue;
    }
    const t = kf(k, KF.Type);
    const v = valueNode(k);
    if (core == 1) {
      let n: i64 = valueNum(k);
      if (t == KType.List) { // base-4 digits of the 1-based indices, least significant first
        n = 0;
        let count: u32 = 0;
        for (let e = nFirst(v); e >= 0; e = nNext(e)) count++;
        for (let i: i32 = <i32>count - 1; i >= 0; i--) {
          let e = nFirst(v);
          for (let j: i32 = 0; j < i; j++) e = nNext(e);
          n = n * 4 + <i64>enumIndex(k, e) + 1;
        }
      }
      result(k, sip_cfg_set(<i32>kf(k, KF.CoreId), <f64>n), true, t == KType.List ? v : -1, n, false);
      continue;
    }
    if (t == KType.String) add(k, nPtr(v), nLen(v), v, secret);
    else if (t == KType.Hex) add(k, HEXBUF, hexBytes(nPtr(v), nLen(v), HEXBUF), -1, true);
    else {
      let idx: u32 = 0;
      for (let e = nFirst(v); e >= 0; e = nNext(e)) {
        nameSet(refPtr(r), refLen(r));
        nameAddIndex(idx++);
        if (t == KType.List) add(k, nPtr(e), nLen(e), e, secret);
        else if (t == KType.Patterns) {
          if (nType(e) == J.String) add(k, nPtr(e), nLen(e), e, false);
          else {
            const h = member(e, "hex");
            add(k, HEXBUF, hexBytes(nPtr(h), nLen(h), HEXBUF), -1, false);
          }
        } else if (t == KType.Users) {
          const pass = member(e, "password"), ha1 = member(e, "ha1"), sha = member(e, "ha1Sha256");
          if (pass >= 0) add(k, cfg, userLine(e, "password", pass), -1, true);
          if (ha1 >= 0) add(k, cfg, userLine(e, "ha1", ha1), -1, true);
          if (sha >= 0) add(k, cfg, userLine(e, "ha1sha256", sha), -1, true);
        }
      }
    }
  }
}

/** The domains (a list node), for the "core ready" line. */
export function domainsNode(): i32 { return valueNode(K.Domains); }
export function realmNode(): i32 { return valueNode(K.Realm); }
export function listensNode(): i32 { return valueNode(K.Listen); }
