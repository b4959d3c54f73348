// A JSON reader for the WASI host's configuration file, without allocation: the file's bytes are read
// into a static buffer, strings are decoded (escapes resolved, UTF-8 written) into a static arena,
// and the tree is a pool of node records in static memory. Start-up only. RFC 8259: objects, arrays,
// strings with every escape, numbers, true/false/null; a string holding \u0000 is refused (no
// configuration value needs one, as in host/c/json.c); depth capped at 64.
//
// Node i: type N_TYPE[i] (J), for a string its bytes at N_PTR[i] (N_LEN[i] long, anywhere in memory:
// the arena, argv, the schema's text), for a number N_NUM[i], for an array or object its first child
// N_FIRST[i] and child count N_LEN[i] (objects: pairs, each a key string followed by its value),
// siblings linked by N_NEXT[i] (-1 ends).

import { putByte, putStr, putEscaped, putU64, putBytes } from "./out";

export const enum J { Null = 0, False = 1, True = 2, Number = 3, String = 4, Array = 5, Object = 6 }

export const FILE_CAP: u32 = 65536;
export const FILE: usize = memory.data(<i32>FILE_CAP);
const MAX_NODES: i32 = 4096;
const ARENA_CAP: u32 = 65536 + 4096; // decoded strings of the file + strings made by the host
const ARENA: usize = memory.data(<i32>ARENA_CAP);
let arenaUsed: u32 = 0;

const N_TYPE: usize = memory.data(MAX_NODES);
const N_PTR: usize = memory.data(MAX_NODES * 4, 4);
const N_LEN: usize = memory.data(MAX_NODES * 4, 4);
const N_FIRST: usize = memory.data(MAX_NODES * 4, 4);
const N_NEXT: usize = memory.data(MAX_NODES * 4, 4);
const N_NUM: usize = memory.data(MAX_NODES * 8, 8);
let nodes: i32 = 0;

export function nType(i: i32): u32 { return <u32>load<u8>(N_TYPE + <usize>i); }
export function nPtr(i: i32): usize { return <usize>load<u32>(N_PTR + (<usize>i << 2)); }
export function nLen(i: i32): u32 { return load<u32>(N_LEN + (<usize>i << 2)); }
export function nFirst(i: i32): i32 { return load<i32>(N_FIRST + (<usize>i << 2)); }
export function nNext(i: i32): i32 { return load<i32>(N_NEXT + (<usize>i << 2)); }
export function nNum(i: i32): f64 { return load<f64>(N_NUM + (<usize>i << 3)); }

/** A new node (-1 when the pool is full). */
function node(t: u32): i32 {
  if (nodes >= MAX_NODES) return -1;
  const i = nodes++;
  store<u8>(N_TYPE + <usize>i, <u8>t);
  store<u32>(N_PTR + (<usize>i << 2), 0);
  store<u32>(N_LEN + (<usize>i << 2), 0);
  store<i32>(N_FIRST + (<usize>i << 2), -1);
  store<i32>(N_NEXT + (<usize>i << 2), -1);
  store<f64>(N_NUM + (<usize>i << 3), 0);
  return i;
}

/** A string node over bytes already in memory (-1 when the pool is full). */
export function newString(p: usize, n: u32): i32 {
  const i = node(J.String);
  if (i < 0) return -1;
  store<u32>(N_PTR + (<usize>i << 2), <u32>p);
  store<u32>(N_LEN + (<usize>i << 2), n);
  return i;
}

/** An empty array node (-1 when the pool is full). */
export function newArray(): i32 { return node(J.Array); }

/** Appends child c to array a (kept in order: walks to the end; start-up lists are short). */
export function push(a: i32, c: i32): void {
  store<i32>(N_NEXT + (<usize>c << 2), -1);
  let last = nFirst(a);
  if (last < 0) store<i32>(N_FIRST + (<usize>a << 2), c);
  else {
    while (nNext(last) >= 0) last = nNext(last);
    store<i32>(N_NEXT + (<usize>last << 2), c);
  }
  store<u32>(N_LEN + (<usize>a << 2), nLen(a) + 1);
}

/** Copies n bytes into the arena (for text the host makes); 0 when full. */
export function arenaCopy(p: usize, n: u32): usize {
  if (arenaUsed + n > ARENA_CAP) return 0;
  const at = ARENA + arenaUsed;
  memory.copy(at, p, n);
  arenaUsed += n;
  return at;
}

// ---- parser -----------------------------------------------------------------------------------

let src: usize = 0;
let end: usize = 0;
let at: usize = 0;
/** After a failed parse: what went wrong (a literal) and where (byte offset). */
export let errorWhat: string = "";
export let errorAt: u32 = 0;
export let errorAtEnd: bool = false;

function fail(what: string): i32 {
  if (errorWhat.length == 0) {
    errorWhat = what;
    errorAt = <u32>(at - src);
    errorAtEnd = at >= end;
  }
  return -1;
}

function ws(): void {
  while (at < end) {
    const c = load<u8>(at);
    if (c != 0x20 && c != 0x09 && c != 0x0a && c != 0x0d) break;
    at++;
  }
}

function hex4(): i32 {
  if (end - at < 4) return -1;
  let v: i32 = 0;
  for (let i = 0; i < 4; i++) {
    const c = <i32>load<u8>(at + i);
    v <<= 4;
    if (c >= 48 && c <= 57) v |= c - 48;
    else if (c >= 97 && c <= 102) v |= c - 87;
    else if (c >= 65 && c <= 70) v |= c - 55;
    else return -1;
  }
  at += 4;
  return v;
}

function putUtf8(cp: u32): bool {
  const n: u32 = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
  if (arenaUsed + n > ARENA_CAP) return false;
  const o = ARENA + arenaUsed;
  if (n == 1) store<u8>(o, <u8>cp);
  else if (n == 2) {
    store<u8>(o, <u8>(0xc0 | (cp >> 6)));
    store<u8>(o + 1, <u8>(0x80 | (cp & 0x3f)));
  } else if (n == 3) {
    store<u8>(o, <u8>(0xe0 | (cp >> 12)));
    store<u8>(o + 1, <u8>(0x80 | ((cp >> 6) & 0x3f)));
    store<u8>(o + 2, <u8>(0x80 | (cp & 0x3f)));
  } else {
    store<u8>(o, <u8>(0xf0 | (cp >> 18)));
    store<u8>(o + 1, <u8>(0x80 | ((cp >> 12) & 0x3f)));
    store<u8>(o + 2, <u8>(0x80 | ((cp >> 6) & 0x3f)));
    store<u8>(o + 3, <u8>(0x80 | (cp & 0x3f)));
  }
  arenaUsed += n;
  return true;
}

/** At the opening quote: the decoded string node. */
function str(): i32 {
  at++;
  const start = ARENA + arenaUsed;
  for (;;) {
    if (at >= end) return fail("unterminated string");
    const c = <u32>load<u8>(at);
    if (c == 0x22) {
      at++;
      break;
    }
    if (c < 0x20) return fail("control character in string");
    if (c != 0x5c) {
      if (!putUtf8(c)) return fail("file too large");
      at++;
      continue;
    }
    at++;
    if (at >= end) return fail("unterminated string");
    const e = <u32>load<u8>(at++);
    let out: i32 = -1;
    if (e == 0x22 || e == 0x5c || e == 0x2f) out = <i32>e;
    else if (e == 0x62) out = 8;
    else if (e == 0x66) out = 12;
    else if (e == 0x6e) out = 10;
    else if (e == 0x72) out = 13;
    else if (e == 0x74) out = 9;
    else if (e == 0x75) {
      let cp = hex4();
      if (cp < 0) return fail("bad \\u escape in string");
      if (cp >= 0xd800 && cp <= 0xdbff && end - at >= 6 && load<u8>(at) == 0x5c && load<u8>(at + 1) == 0x75) {
        const save = at;
        at += 2;
        const lo = hex4();
        if (lo >= 0xdc00 && lo <= 0xdfff) cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
        else at = save;
      }
      if (cp >= 0xd800 && cp <= 0xdfff) cp = 0xfffd; // a lone surrogate
      if (cp == 0) return fail("\\u0000 in string");
      out = cp;
    } else {
      at--;
      return fail("bad escape in string");
    }
    if (!putUtf8(<u32>out)) return fail("file too large");
  }
  return newString(start, <u32>(ARENA + arenaUsed - start));
}

function digits(): u32 {
  let n: u32 = 0;
  while (at < end && load<u8>(at) >= 48 && load<u8>(at) <= 57) {
    at++;
    n++;
  }
  return n;
}

function num(): i32 {
  const start = at;
  if (load<u8>(at) == 45) at++;
  if (at < end && load<u8>(at) == 48) at++;
  else if (digits() == 0) return fail("unexpected token");
  if (at < end && load<u8>(at) == 46) {
    at++;
    if (digits() == 0) return fail("bad number");
  }
  if (at < end && (load<u8>(at) == 101 || load<u8>(at) == 69)) {
    at++;
    if (at < end && (load<u8>(at) == 43 || load<u8>(at) == 45)) at++;
    if (digits() == 0) return fail("bad number");
  }
  // value: mantissa digits, the decimal point's shift and the exponent
  let p = start;
  let neg = false;
  if (load<u8>(p) == 45) {
    neg = true;
    p++;
  }
  let m: f64 = 0;
  let scale: i32 = 0;
  let frac = false;
  for (; p < at; p++) {
    const c = <u32>load<u8>(p);
    if (c == 46) frac = true;
    else if (c == 101 || c == 69) break;
    else {
      m = m * 10 + <f64>(c - 48);
      if (frac) scale--;
    }
  }
  if (p < at) {
    p++;
    let eneg = false;
    if (load<u8>(p) == 45 || load<u8>(p) == 43) eneg = load<u8>(p++) == 45;
    let ex: i32 = 0;
    for (; p < at; p++) if (ex < 100000) ex = ex * 10 + <i32>(load<u8>(p) - 48);
    scale += eneg ? -ex : ex;
  }
  const v = scale == 0 ? m : scale > 0 ? m * Math.pow(10, <f64>scale) : m / Math.pow(10, <f64>-scale);
  const i = node(J.Number);
  if (i < 0) return fail("file too large");
  store<f64>(N_NUM + (<usize>i << 3), neg ? -v : v);
  return i;
}

function word(w: string): bool {
  const n = <u32>w.length;
  if (<u32>(end - at) < n) return false;
  for (let i: u32 = 0; i < n; i++) if (<u32>load<u8>(at + i) != <u32>w.charCodeAt(<i32>i)) return false;
  at += n;
  return true;
}

function container(depth: i32, obj: bool): i32 {
  const c = node(obj ? J.Object : J.Array);
  if (c < 0) return fail("file too large");
  const close: u32 = obj ? 0x7d : 0x5d;
  at++;
  ws();
  if (at < end && <u32>load<u8>(at) == close) {
    at++;
    return c;
  }
  let last: i32 = -1;
  let count: u32 = 0;
  // (a while with a flag: asc 0.27 loses the code after a for (;;) whose body ends in a return)
  let done = false;
  while (!done) {
    ws();
    let k: i32 = -1;
    if (obj) {
      if (at >= end || load<u8>(at) != 0x22) return fail("expected a string key");
      k = str();
      if (k < 0) return -1;
      ws();
      if (at >= end || load<u8>(at) != 0x3a) return fail("expected ':'");
      at++;
    }
    const v = value(depth + 1);
    if (v < 0) return -1;
    const first = k >= 0 ? k : v;
    if (k >= 0) store<i32>(N_NEXT + (<usize>k << 2), v);
    if (last < 0) store<i32>(N_FIRST + (<usize>c << 2), first);
    else store<i32>(N_NEXT + (<usize>last << 2), first);
    last = v;
    count++;
    ws();
    if (at < end && load<u8>(at) == 0x2c) at++;
    else if (at < end && <u32>load<u8>(at) == close) {
      at++;
      done = true;
    } else return fail(obj ? "expected ',' or '}'" : "expected ',' or ']'");
  }
  store<u32>(N_LEN + (<usize>c << 2), count);
  return c;
}

function value(depth: i32): i32 {
  if (depth > 64) return fail("nesting too deep");
  ws();
  if (at >= end) return fail("unexpected end");
  const c = load<u8>(at);
  if (c == 0x7b) return container(depth, true);
  if (c == 0x5b) return container(depth, false);
  if (c == 0x22) return str();
  if (c == 0x74) return word("true") ? node(J.True) : fail("unexpected token");
  if (c == 0x66) return word("false") ? node(J.False) : fail("unexpected token");
  if (c == 0x6e) return word("null") ? node(J.Null) : fail("unexpected token");
  return num();
}

/** Parses n bytes at p: the root node, or -1 (errorWhat / errorAt say why). */
export function parse(p: usize, n: u32): i32 {
  src = at = p;
  end = p + n;
  errorWhat = "";
  const v = value(0);
  if (v < 0) return -1;
  ws();
  if (at < end) return fail("unexpected data after the value");
  return v;
}

/** The member `name` of object o, or -1. */
export function member(o: i32, name: string): i32 {
  for (let k = nFirst(o); k >= 0; k = nNext(nNext(k))) if (eqStr(nPtr(k), nLen(k), name)) return nNext(k);
  return -1;
}

export function eqStr(p: usize, n: u32, s: string): bool {
  if (n != <u32>s.length) return false;
  for (let i: u32 = 0; i < n; i++) if (<u32>load<u8>(p + i) != <u32>s.charCodeAt(<i32>i)) return false;
  return true;
}

// ---- output -----------------------------------------------------------------------------------

/** A JSON number as JSON.stringify writes it (integers exactly; others with up to 6 decimals). */
export function putNumber(v: f64): void {
  if (!isFinite(v)) {
    putStr("null");
    return;
  }
  if (v < 0) {
    putByte(45);
    v = -v;
  }
  if (v == Math.floor(v) && v < 9007199254740992) {
    putU64(<u64>v);
    return;
  }
  const whole = Math.floor(v);
  putU64(<u64>whole);
  let f = <u64>Math.round((v - whole) * 1e6);
  if (f == 0) return;
  putByte(46);
  let d: u64 = 100000;
  let digitsLeft: i32 = 6;
  while (f % 10 == 0) {
    f /= 10;
    d /= 10;
    digitsLeft--;
  }
  for (let i = 0; i < digitsLeft; i++) {
    putByte(48 + <u32>((f / d) % 10));
    d /= 10;
  }
}

/** Node i as compact JSON (JSON.stringify). */
export function show(i: i32): void {
  const t = nType(i);
  if (t == J.Null) putStr("null");
  else if (t == J.False) putStr("false");
  else if (t == J.True) putStr("true");
  else if (t == J.Number) putNumber(nNum(i));
  else if (t == J.String) {
    putByte(0x22);
    putEscaped(nPtr(i), nLen(i));
    putByte(0x22);
  } else if (t == J.Array) {
    putByte(0x5b);
    for (let c = nFirst(i); c >= 0; c = nNext(c)) {
      if (c != nFirst(i)) putByte(0x2c);
      show(c);
    }
    putByte(0x5d);
  } else {
    putByte(0x7b);
    for (let k = nFirst(i); k >= 0; k = nNext(nNext(k))) {
      if (k != nFirst(i)) putByte(0x2c);
      show(k);
      putByte(0x3a);
      show(nNext(k));
    }
    putByte(0x7d);
  }
}

/** A string node's bytes raw (no quotes). */
export function putNode(i: i32): void {
  putBytes(nPtr(i), nLen(i));
}
