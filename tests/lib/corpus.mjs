// Corpus helpers for the robustness tests, the fuzzer and the bench: the .sip torture messages,
// the PROTOS c07-sip cases (unpacked on demand, placeholders filled), a seeded PRNG and a byte-level
// mutator. Everything works on Buffers (binary); nothing is ever decoded as UTF-8.
import { readFileSync, readdirSync, existsSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { spawnSync } from "node:child_process";
import { root } from "./core.mjs";

export const corpusDir = join(root, "tests", "corpus");
export const protosDir = join(corpusDir, "protos-c07-sip");
export const protosCasesDir = join(protosDir, "cases");
export const protosTar = join(corpusDir, "protos-c07-sip.tar.xz");

function walk(dir, out) {
  for (const n of readdirSync(dir).sort()) {
    const p = join(dir, n);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (n.endsWith(".sip")) out.push(p);
  }
  return out;
}

/**
 * Every .sip message of the corpus (rfc4475, rfc5118, their variants/ and extras/), sorted.
 * Returns [{ name: "rfc4475/3.1.1.1_wsinv.sip", path, bytes: Buffer }].
 */
export function corpusFiles() {
  const paths = [];
  for (const d of ["rfc4475", "rfc5118"]) {
    const p = join(corpusDir, d);
    if (existsSync(p)) walk(p, paths);
  }
  return paths.map((path) => ({ name: relative(corpusDir, path), path, bytes: readFileSync(path) }));
}

/** Unpacks tests/corpus/protos-c07-sip.tar.xz if the cases folder is missing; returns the cases dir. */
export function ensureProtos() {
  if (existsSync(join(protosCasesDir, "0004526"))) return protosCasesDir;
  const r = spawnSync("tar", ["-xJf", protosTar, "-C", corpusDir], { stdio: ["ignore", "inherit", "inherit"] });
  if (r.status !== 0 || !existsSync(join(protosCasesDir, "0000000"))) {
    throw new Error(`could not unpack ${protosTar} (tar exit ${r.status})`);
  }
  return protosCasesDir;
}

/** The PROTOS case file names (0000000 … 0004526), sorted. */
export function protosCases() {
  const dir = ensureProtos();
  return readdirSync(dir).filter((n) => /^\d{7}$/.test(n)).sort().map((name) => ({ name, path: join(dir, name) }));
}

/** Splits a PROTOS case file into its two length-prefixed PDUs: [invite, teardown] (raw templates). */
export function splitProtos(buf) {
  const out = [];
  let i = 0;
  while (i < buf.length && out.length < 2) {
    const sp = buf.indexOf(0x20, i);
    if (sp < 0) break;
    const n = Number(buf.subarray(i, sp).toString("latin1"));
    if (!Number.isInteger(n) || n < 0) throw new Error(`bad PROTOS length prefix at ${i}`);
    out.push(buf.subarray(sp + 1, sp + 1 + n));
    i = sp + 1 + n;
  }
  if (out.length !== 2) throw new Error(`PROTOS case holds ${out.length} PDUs, expected 2`);
  return out;
}

/** Replaces every occurrence of `from` (Buffer) by `to` (Buffer) in `buf`. */
export function replaceAll(buf, from, to) {
  let i = buf.indexOf(from);
  if (i < 0) return buf;
  const parts = [];
  let start = 0;
  while (i >= 0) {
    parts.push(buf.subarray(start, i), to);
    start = i + from.length;
    i = buf.indexOf(from, start);
  }
  parts.push(buf.subarray(start));
  return Buffer.concat(parts);
}

const CRLFCRLF = Buffer.from("\r\n\r\n", "latin1");

export const PROTOS_VALUES = {
  "<To>": "bob@127.0.0.1",
  "<From>": "alice@127.0.0.1",
  "<From-Address>": "127.0.0.1",
  "<From-IP>": "127.0.0.1",
  "<Local-Port>": "5060",
  "<Call-ID>": "protos-c07",
  "<CSeq>": "1",
  "<Teardown-Method>": "CANCEL",
};

function fillOne(tpl, branch) {
  let b = tpl;
  const values = { ...PROTOS_VALUES, "<Branch-ID>": branch };
  for (const [k, v] of Object.entries(values)) b = replaceAll(b, Buffer.from(k, "latin1"), Buffer.from(v, "latin1"));
  const h = b.indexOf(CRLFCRLF);
  const bodyLen = h < 0 ? 0 : b.length - (h + 4);
  return replaceAll(b, Buffer.from("<Content-Length>", "latin1"), Buffer.from(String(bodyLen), "latin1"));
}

/**
 * Fills a PROTOS case file's placeholders. `buf` is the whole case file; `branch` is the Branch-ID
 * digits (default "1"). <Content-Length> is set last, to the real body length (bytes after the first
 * CRLFCRLF) after every other substitution. Returns { invite, teardown } as Buffers.
 */
export function fillProtos(buf, branch = "1") {
  const [inv, td] = splitProtos(buf);
  return { invite: fillOne(inv, branch), teardown: fillOne(td, branch) };
}

/** Reads + fills PROTOS case `name` ("0000000"). */
export function loadProtosCase(name) {
  return fillProtos(readFileSync(join(ensureProtos(), name)), String(Number(name) + 1));
}

// ------------------------------------------------------------------------------------------------
// Seeded PRNG (xorshift32) and the mutator.

/** xorshift32: rng() → uint32; rng.int(n) → [0, n); rng.pick(arr); rng.seed is the start seed. */
export function makeRng(seed) {
  let s = seed >>> 0 || 0x9e3779b9;
  const next = () => {
    s ^= s << 13; s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5; s >>>= 0;
    return s;
  };
  next.seed = seed >>> 0;
  next.int = (n) => (n <= 0 ? 0 : next() % n);
  next.pick = (a) => a[next() % a.length];
  next.chance = (p) => next() / 4294967296 < p;
  return next;
}

const CR = 0x0d, LF = 0x0a;
const INTERESTING = [0x00, 0x0d, 0x0a, 0x09, 0x20, 0x3a, 0x3b, 0x2c, 0x3c, 0x3e, 0x22, 0x5c, 0x25, 0x40,
  0x3d, 0x2f, 0x7f, 0x80, 0xc0, 0xc3, 0xff, 0xfe, 0xe2, 0x30, 0x39, 0x2d];
const TOKENS = ["\r\n", "\r", "\n", "\r\n ", "\r\n\t", "\r\n\r\n", ":", ";", ",", "<", ">", "\"", "\\", "%",
  "%00", "@", "[", "]", "::", "sip:", "SIP/2.0", "z9hG4bK", ";branch=", ";tag=", "Content-Length: ",
  "l: ", "Via: SIP/2.0/UDP ", "CSeq: ", "4294967296", "-1", "99999999999999999999", "0", "\x00", "\xff\xfe",
  "\xc3\x28", "\xe2\x82", "\xf0\x9f\x98", "\xed\xa0\x80"];
const tokenBufs = TOKENS.map((t) => Buffer.from(t, "latin1"));

/** Start offsets of every line (after each LF) in buf. */
function lineStarts(buf) {
  const s = [0];
  for (let i = 0; i < buf.length; i++) if (buf[i] === LF && i + 1 < buf.length) s.push(i + 1);
  return s;
}
/** [start, end) of a random line, end including its line terminator. */
function pickLine(buf, rng) {
  const starts = lineStarts(buf);
  const k = rng.int(starts.length);
  const start = starts[k];
  const end = k + 1 < starts.length ? starts[k + 1] : buf.length;
  return [start, end];
}
const cat = (...p) => Buffer.concat(p);

const OPS = [
  // byte flips / sets
  function flip(b, r) { if (!b.length) return b; const o = Buffer.from(b); o[r.int(o.length)] ^= 1 << r.int(8); return o; },
  function setByte(b, r) { if (!b.length) return b; const o = Buffer.from(b); o[r.int(o.length)] = r.int(256); return o; },
  function setInteresting(b, r) { if (!b.length) return b; const o = Buffer.from(b); o[r.int(o.length)] = r.pick(INTERESTING); return o; },
  // inserts / deletes
  function insertBytes(b, r) {
    const at = r.int(b.length + 1), n = 1 + r.int(8);
    const ins = Buffer.alloc(n);
    for (let i = 0; i < n; i++) ins[i] = r.chance(0.5) ? r.pick(INTERESTING) : r.int(256);
    return cat(b.subarray(0, at), ins, b.subarray(at));
  },
  function insertToken(b, r) { const at = r.int(b.length + 1); return cat(b.subarray(0, at), r.pick(tokenBufs), b.subarray(at)); },
  function deleteBytes(b, r) { if (!b.length) return b; const at = r.int(b.length), n = 1 + r.int(Math.min(16, b.length - at)); return cat(b.subarray(0, at), b.subarray(at + n)); },
  // CRLF games
  function insertCrOrLf(b, r) {
    const at = r.int(b.length + 1);
    return cat(b.subarray(0, at), Buffer.from([r.chance(0.5) ? CR : LF]), b.subarray(at));
  },
  function removeCrOrLf(b, r) {
    const idx = [];
    for (let i = 0; i < b.length; i++) if (b[i] === CR || b[i] === LF) idx.push(i);
    if (!idx.length) return b;
    const at = r.pick(idx);
    return cat(b.subarray(0, at), b.subarray(at + 1));
  },
  function crlfToLf(b, r) { // all CRLF → LF, or all LF → CRLF
    return r.chance(0.5) ? replaceAllBuf(b, "\r\n", "\n") : replaceAllBuf(replaceAllBuf(b, "\r\n", "\n"), "\n", "\r\n");
  },
  function duplicateLine(b, r) { const [s, e] = pickLine(b, r); return cat(b.subarray(0, e), b.subarray(s, e), b.subarray(e)); },
  function removeLine(b, r) { const [s, e] = pickLine(b, r); return cat(b.subarray(0, s), b.subarray(e)); },
  function foldLine(b, r) { // split a line with a fold: "\r\n " (or "\r\n\t", or a bad fold)
    const [s, e] = pickLine(b, r);
    if (e - s < 2) return b;
    const at = s + 1 + r.int(e - s - 1);
    const fold = r.pick(["\r\n ", "\r\n\t", "\r\n  \t ", "\n ", "\r ", "\r\n"]);
    return cat(b.subarray(0, at), Buffer.from(fold, "latin1"), b.subarray(at));
  },
  function truncate(b, r) { return b.subarray(0, r.int(b.length + 1)); },
  function swapLines(b, r) {
    const [s1, e1] = pickLine(b, r), [s2, e2] = pickLine(b, r);
    if (s1 === s2) return b;
    const [a, c] = s1 < s2 ? [[s1, e1], [s2, e2]] : [[s2, e2], [s1, e1]];
    if (a[1] > c[0]) return b;
    return cat(b.subarray(0, a[0]), b.subarray(c[0], c[1]), b.subarray(a[1], c[0]), b.subarray(a[0], a[1]), b.subarray(c[1]));
  },
  // header duplication (a header line repeated many times)
  function duplicateHeaderMany(b, r) {
    const [s, e] = pickLine(b, r);
    const n = 2 + r.int(r.chance(0.2) ? 400 : 20);
    const parts = [b.subarray(0, e)];
    for (let i = 0; i < n; i++) parts.push(b.subarray(s, e));
    parts.push(b.subarray(e));
    return Buffer.concat(parts);
  },
  // huge values: repeat a chunk of the message in place
  function repeatChunk(b, r) {
    if (!b.length) return b;
    const at = r.int(b.length), n = 1 + r.int(Math.min(32, b.length - at));
    const times = 2 + r.int(r.chance(0.3) ? 4000 : 200);
    const chunk = b.subarray(at, at + n);
    const parts = [b.subarray(0, at + n)];
    for (let i = 0; i < times; i++) parts.push(chunk);
    parts.push(b.subarray(at + n));
    return Buffer.concat(parts);
  },
  function hugeDigits(b, r) { // replace a run of digits by a very long number
    const idx = [];
    for (let i = 0; i < b.length; i++) if (b[i] >= 0x30 && b[i] <= 0x39 && (i === 0 || b[i - 1] < 0x30 || b[i - 1] > 0x39)) idx.push(i);
    if (!idx.length) return b;
    let s = r.pick(idx), e = s;
    while (e < b.length && b[e] >= 0x30 && b[e] <= 0x39) e++;
    const rep = r.pick(["4294967295", "4294967296", "18446744073709551616", "9".repeat(1 + r.int(300)), "0".repeat(1 + r.int(50)) + "1", "-1", "", " 1", "1 "]);
    return cat(b.subarray(0, s), Buffer.from(rep, "latin1"), b.subarray(e));
  },
  // NULs and non-UTF-8 bytes
  function insertNul(b, r) { const at = r.int(b.length + 1); return cat(b.subarray(0, at), Buffer.alloc(1 + r.int(r.chance(0.1) ? 200 : 3)), b.subarray(at)); },
  function nonUtf8(b, r) {
    const at = r.int(b.length + 1);
    const seq = r.pick([[0xff], [0xfe, 0xff], [0xc0, 0x80], [0xc3], [0xe2, 0x82], [0xed, 0xa0, 0x80], [0xf8, 0x88, 0x80, 0x80, 0x80], [0x80, 0x80, 0x80], [0xf4, 0x90, 0x80, 0x80]]);
    return cat(b.subarray(0, at), Buffer.from(seq), b.subarray(at));
  },
  function splice(b, r) { // copy a random range of the message over another place
    if (b.length < 2) return b;
    const s = r.int(b.length), n = 1 + r.int(Math.min(64, b.length - s)), at = r.int(b.length + 1);
    return cat(b.subarray(0, at), b.subarray(s, s + n), b.subarray(at));
  },
];

function replaceAllBuf(b, from, to) { return replaceAll(b, Buffer.from(from, "latin1"), Buffer.from(to, "latin1")); }

export const MUTATION_OPS = OPS.map((f) => f.name);

/**
 * Applies 1–4 random mutations to `buf` (never modified) with `rng`. The result is clamped to
 * `maxLen` bytes (the probe's rxCap) when given. Returns a new Buffer.
 */
export function mutate(buf, rng, maxLen = Infinity) {
  let b = buf;
  const n = 1 + (rng.chance(0.6) ? 0 : rng.int(4));
  for (let i = 0; i < n; i++) {
    b = OPS[rng.int(OPS.length)](b, rng);
    if (b.length > maxLen * 2) b = b.subarray(0, maxLen); // keep intermediate sizes bounded
  }
  if (b.length > maxLen) b = b.subarray(0, maxLen);
  return b === buf ? Buffer.from(buf) : b;
}

/** True when `buf` has a Content-Length (or compact `l`) header in its header section. */
export function hasContentLength(buf) {
  const h = buf.indexOf(CRLFCRLF);
  const head = (h < 0 ? buf : buf.subarray(0, h)).toString("latin1");
  return /\r?\n(content-length|l)[ \t]*:/i.test(head);
}

/** Body length (bytes after the first CRLFCRLF), or -1 when there is none. */
export function bodyLength(buf) {
  const h = buf.indexOf(CRLFCRLF);
  return h < 0 ? -1 : buf.length - (h + 4);
}

/** Names of the wire errors by number (assembly/wire/errors.ts WireError), for reports. */
export const WIRE_ERROR_NAMES = ["None", "Empty", "StartLine", "Method", "RequestUri", "Version",
  "VersionUnsupported", "StatusCode", "HeaderLine", "TooManyHeaders", "TooLarge", "HeadersUnterminated",
  "ContentLength", "ContentLengthConflict", "ContentLengthTooBig", "ContentLengthMissing", "MissingHeader",
  "DuplicateHeader", "CSeq", "CSeqMethodMismatch", "CSeqMethodMismatchUnknown", "MaxForwards", "Via", "From",
  "To", "CallId", "Contact", "Route", "Expires", "UriScheme", "RequestUriHeaders", "ContentType", "NeedMore",
  "ControlChar", "ResponseHeaders", "OptionTags"];

// ------------------------------------------------------------------------------------------------
// Structure-aware mutations (the ABI fuzzer, tests/fuzz/fast.mjs): they know what a SIP message
// looks like — header lines, values, Content-Length, folding, the start line — and break exactly
// one of those things hard. Every op is (buf, rng, maxLen) → Buffer and never modifies `buf`.

const lat = (s) => Buffer.from(s, "latin1");

/** Header section [0, headEnd) (up to and including the last header's line end), body offset. */
function splitHead(buf) {
  const h = buf.indexOf(CRLFCRLF);
  if (h >= 0) return { headEnd: h + 2, bodyOff: h + 4 };
  const l = buf.indexOf(lat("\n\n"));
  if (l >= 0) return { headEnd: l + 1, bodyOff: l + 2 };
  return { headEnd: buf.length, bodyOff: buf.length };
}

/** Header lines of the header section: [{ start, end (incl. terminator), name, colon }] (start line excluded). */
export function headerLines(buf) {
  const { headEnd } = splitHead(buf);
  const out = [];
  let i = buf.indexOf(LF);
  if (i < 0 || i >= headEnd) return out;
  i++;
  while (i < headEnd) {
    let e = buf.indexOf(LF, i);
    if (e < 0 || e > headEnd) e = headEnd; else e++;
    // folded continuation lines belong to the previous header
    while (e < headEnd && (buf[e] === 0x20 || buf[e] === 0x09)) {
      const e2 = buf.indexOf(LF, e);
      e = e2 < 0 || e2 > headEnd ? headEnd : e2 + 1;
    }
    const colon = buf.indexOf(0x3a, i);
    const name = colon > i && colon < e ? buf.toString("latin1", i, colon).trim().toLowerCase() : "";
    out.push({ start: i, end: e, name, colon: colon > i && colon < e ? colon : -1 });
    i = e;
  }
  return out;
}

const HEADER_ALIASES = {
  via: ["via", "v"], contact: ["contact", "m"], cseq: ["cseq"], "content-length": ["content-length", "l"],
  to: ["to", "t"], from: ["from", "f"], "call-id": ["call-id", "i"], "max-forwards": ["max-forwards"],
  route: ["route"], "record-route": ["record-route"], expires: ["expires"], "content-type": ["content-type", "c"],
  "proxy-require": ["proxy-require"], require: ["require"], supported: ["supported", "k"], path: ["path"],
  authorization: ["authorization"], "proxy-authorization": ["proxy-authorization"],
};
const SYNTH = {
  via: "Via: SIP/2.0/UDP 192.0.2.9:5060;branch=z9hG4bKsynth1;rport",
  contact: "Contact: <sip:synth@192.0.2.9:5060>;expires=60",
  cseq: "CSeq: 7 INVITE",
  "content-length": "Content-Length: 0",
  to: "To: <sip:bob@localhost>",
  from: "From: <sip:alice@localhost>;tag=synth",
  "call-id": "Call-ID: synth@192.0.2.9",
  "max-forwards": "Max-Forwards: 70",
  route: "Route: <sip:127.0.0.1:5060;lr>",
  "record-route": "Record-Route: <sip:192.0.2.77;lr>",
  expires: "Expires: 3600",
  "content-type": "Content-Type: application/sdp",
  "proxy-require": "Proxy-Require: foo",
  require: "Require: 100rel",
  supported: "Supported: path, outbound",
  path: "Path: <sip:192.0.2.55;lr>",
  authorization: 'Authorization: Digest username="alice", realm="localhost", nonce="abc", uri="sip:localhost", response="00000000000000000000000000000000"',
  "proxy-authorization": 'Proxy-Authorization: Digest username="alice", realm="localhost", nonce="abc", uri="sip:localhost", response="0"',
};
const HEADER_KEYS = Object.keys(SYNTH);

/** Lines of header `key` (any alias). */
function linesOf(buf, key) {
  const names = HEADER_ALIASES[key] || [key];
  return headerLines(buf).filter((l) => names.includes(l.name));
}
/** Inserts `line` (no terminator) after the start line. */
function insertHeader(buf, line) {
  const i = buf.indexOf(LF);
  const at = i < 0 ? buf.length : i + 1;
  return cat(buf.subarray(0, at), lat(line + "\r\n"), buf.subarray(at));
}
/** Replaces the value of header line l (from after the colon to before its terminator). */
function replaceValue(buf, l, value) {
  let e = l.end;
  while (e > l.colon + 1 && (buf[e - 1] === LF || buf[e - 1] === CR)) e--;
  return cat(buf.subarray(0, l.colon + 1), typeof value === "string" ? lat(value) : value, buf.subarray(e));
}
function valueOf(buf, l) {
  let e = l.end;
  while (e > l.colon + 1 && (buf[e - 1] === LF || buf[e - 1] === CR)) e--;
  return buf.subarray(l.colon + 1, e);
}
function pickHeaderLine(buf, r, key) {
  const ls = key ? linesOf(buf, key) : headerLines(buf).filter((l) => l.colon >= 0);
  return ls.length ? r.pick(ls) : null;
}
const clampLen = (b, maxLen) => (b.length > maxLen ? b.subarray(0, maxLen) : b);

const BAD_CL = ["-1", " -0", "4294967296", "4294967295", "99999999999999999999", "abc", "1e3", "0x10", " 12 ", "12, 13",
  "+5", "", " ", "0 0", "00000000000000000000000000000000001", "\t3", "3;x=1", "65536", "65535", "100000", "1.0", "٣"];
const FOLDS = ["\r\n ", "\r\n\t", "\r\n \t ", "\r\n                ", "\n ", "\r ", "\r\n\r\n "];

export const STRUCT_OPS = [
  // a Via / Contact / CSeq / Content-Length / ... header line repeated N times
  function dupHeader(b, r, maxLen) {
    const key = r.pick(["via", "via", "contact", "contact", "cseq", "content-length", "to", "from", "call-id", "max-forwards", "route", "record-route", "expires", "path", "supported", "authorization"]);
    let l = pickHeaderLine(b, r, key);
    if (!l) { b = insertHeader(b, SYNTH[key]); l = pickHeaderLine(b, r, key); if (!l) return b; }
    const n = r.pick([1, 2, 3, 7, 30, 63, 64, 65, 255, 256, 257, 1000, 5000]);
    const line = b.subarray(l.start, l.end);
    const copies = Math.max(1, Math.min(n, Math.floor((maxLen * 1.2) / Math.max(1, line.length))));
    const parts = [b.subarray(0, l.end)];
    for (let i = 0; i < copies; i++) parts.push(line);
    parts.push(b.subarray(l.end));
    return Buffer.concat(parts);
  },
  // a header value repeated to a huge size (up to ~60 KB, clamped to the RX buffer)
  function hugeValue(b, r, maxLen) {
    const l = pickHeaderLine(b, r, r.chance(0.5) ? r.pick(HEADER_KEYS) : null);
    if (!l) return b;
    const v = valueOf(b, l);
    const unit = v.length ? v : lat("x");
    const target = Math.min(r.pick([200, 1024, 4000, 8192, 16384, 60000, 61440]), Math.max(16, maxLen - (b.length - v.length) - 8));
    const times = Math.max(1, Math.ceil(target / unit.length));
    const sep = r.pick(["", ",", ";", " ", ";a=b"]);
    const parts = [];
    for (let i = 0; i < times && parts.length * (unit.length + sep.length) < target + unit.length; i++) { if (i && sep) parts.push(lat(sep)); parts.push(unit); }
    return replaceValue(b, l, clampLen(Buffer.concat(parts), target));
  },
  // bad Content-Length: negative, huge, non-digit, several, compact + long form, wrong for the body
  function badContentLength(b, r) {
    const ls = linesOf(b, "content-length");
    const which = r.int(5);
    const bl = Math.max(0, bodyLength(b));
    const val = which === 0 ? r.pick(BAD_CL) : which === 1 ? String(bl + 1 + r.int(100)) : which === 2 ? String(Math.max(0, bl - 1 - r.int(50))) : r.pick(BAD_CL);
    if (which === 3 || !ls.length) return insertHeader(b, `${r.pick(["Content-Length", "l", "content-length", "CONTENT-LENGTH"])}: ${r.chance(0.5) ? bl : val}`);
    if (which === 4) { // several different values
      let o = b;
      for (let i = 0, n = 2 + r.int(3); i < n; i++) o = insertHeader(o, `${r.pick(["Content-Length", "l"])}: ${r.chance(0.5) ? bl + i : r.pick(BAD_CL)}`);
      return o;
    }
    return replaceValue(b, r.pick(ls), " " + val);
  },
  // a header value folded over hundreds of lines
  function deepFold(b, r) {
    const l = pickHeaderLine(b, r, r.chance(0.5) ? r.pick(["via", "contact", "to", "from", "cseq", "call-id", "content-length", "route"]) : null);
    if (!l) return b;
    const v = valueOf(b, l);
    const n = r.pick([2, 10, 100, 300, 700, 2000]);
    const fold = lat(r.pick(FOLDS));
    const parts = [];
    if (r.chance(0.5) && v.length > 1) {
      // fold between characters of the value
      const step = Math.max(1, Math.floor(v.length / Math.min(n, v.length)));
      for (let i = 0; i < v.length; i += step) { parts.push(v.subarray(i, i + step)); parts.push(fold); }
      parts.pop();
    } else {
      // empty folds before the value
      for (let i = 0; i < n; i++) parts.push(fold);
      parts.push(v);
    }
    return replaceValue(b, l, Buffer.concat(parts));
  },
  // bytes that are not UTF-8 in a header value, the Request-URI or a header name
  function nonUtf8Struct(b, r) {
    const seqs = [[0xff], [0xfe, 0xff], [0xc0, 0x80], [0xc3], [0xe2, 0x82], [0xed, 0xa0, 0x80], [0xf8, 0x88, 0x80, 0x80, 0x80], [0x80], [0xf4, 0x90, 0x80, 0x80], [0xef, 0xbb, 0xbf]];
    const seq = Buffer.from(r.pick(seqs));
    const l = pickHeaderLine(b, r, null);
    let at;
    if (l && r.chance(0.7)) at = r.chance(0.8) ? l.colon + 1 + r.int(Math.max(1, l.end - l.colon - 1)) : l.start + r.int(Math.max(1, l.colon - l.start));
    else { const e = b.indexOf(LF); at = r.int((e < 0 ? b.length : e) + 1); }
    return cat(b.subarray(0, at), seq, b.subarray(at));
  },
  // NULs in the start line, a header name or value, or the body
  function nulStruct(b, r) {
    const n = r.pick([1, 1, 2, 16, 300]);
    const l = pickHeaderLine(b, r, null);
    const at = l && r.chance(0.6) ? l.start + r.int(Math.max(1, l.end - l.start)) : r.int(b.length + 1);
    return cat(b.subarray(0, at), Buffer.alloc(n), b.subarray(at));
  },
  // CRLF games: bare CR / bare LF line ends, CRLFCRLF inside the headers, leading CRLFs, CR-only
  function crlfGames(b, r) {
    const k = r.int(7);
    if (k === 0) { // some CRLFs become bare CR or bare LF
      const parts = [];
      let s = 0;
      for (let i = b.indexOf(lat("\r\n")); i >= 0; i = b.indexOf(lat("\r\n"), i + 2)) {
        if (r.chance(0.3)) { parts.push(b.subarray(s, i), lat(r.chance(0.5) ? "\r" : "\n")); s = i + 2; }
      }
      parts.push(b.subarray(s));
      return Buffer.concat(parts);
    }
    if (k === 1) { // CRLFCRLF inside the header section
      const ls = headerLines(b);
      if (!ls.length) return b;
      const l = r.pick(ls);
      return cat(b.subarray(0, l.start), lat(r.pick(["\r\n", "\r\n\r\n", "\n\n", "\r\r", "\r\n\r\n\r\n"])), b.subarray(l.start));
    }
    if (k === 2) return cat(lat("\r\n".repeat(1 + r.int(r.chance(0.1) ? 2000 : 4))), b); // leading CRLFs (keepalive-like)
    if (k === 3) return replaceAllBuf(b, "\r\n", "\r"); // CR only
    if (k === 4) { // a CR or LF in the middle of a header value
      const l = pickHeaderLine(b, r, null);
      if (!l) return b;
      const at = l.colon + 1 + r.int(Math.max(1, l.end - l.colon - 2));
      return cat(b.subarray(0, at), lat(r.pick(["\r", "\n", "\r\n", "\r\r\n", "\n\r"])), b.subarray(at));
    }
    if (k === 5) { // the blank line removed or doubled
      const h = b.indexOf(CRLFCRLF);
      if (h < 0) return cat(b, CRLFCRLF);
      return r.chance(0.5) ? cat(b.subarray(0, h + 2), b.subarray(h + 4)) : cat(b.subarray(0, h), lat("\r\n\r\n\r\n\r\n"), b.subarray(h + 4));
    }
    // whitespace before the colon / a header line starting with whitespace (a fold of the start line)
    const l = pickHeaderLine(b, r, null);
    if (!l) return b;
    return r.chance(0.5) ? cat(b.subarray(0, l.colon), lat(r.pick([" ", "\t", "  \t"])), b.subarray(l.colon)) : cat(b.subarray(0, l.start), lat(" "), b.subarray(l.start));
  },
  // start-line corruption
  function startLine(b, r) {
    let e = b.indexOf(LF);
    if (e < 0) e = b.length;
    let se = e;
    if (se > 0 && b[se - 1] === CR) se--;
    const line = b.toString("latin1", 0, se);
    const parts = line.split(" ");
    const k = r.int(12);
    let out;
    if (k === 0) out = line.toLowerCase();
    else if (k === 1) out = line.replace(/ /g, r.pick(["  ", "\t", " \t "]));
    else if (k === 2) out = parts.slice(0, r.int(parts.length)).join(" ");
    else if (k === 3) out = line.replace("SIP/2.0", r.pick(["SIP/3.0", "SIP/2.00", "SIP/2", "sip/2.0", "SIP /2.0", "SIP/2.0 ", "HTTP/1.1", "SIP/20", "SIP/2.0/UDP"]));
    else if (k === 4) out = line.startsWith("SIP/") ? `SIP/2.0 ${r.pick(["0", "99", "700", "1000", "-1", "2000", "20x", "", "4294967396", "100"])} ${parts.slice(2).join(" ")}` : `${r.pick(["INVITE", "ACK", "BYE", "CANCEL", "REGISTER", "OPTIONS", "FOO", "INVITEX", "I", "INV\x00ITE", "M".repeat(300), "regISTER", "PRACK", "SUBSCRIBE", "NOTIFY", "MESSAGE", "UPDATE", "INFO", "REFER", "PUBLISH"])} ${parts.slice(1).join(" ")}`;
    else if (k === 5) out = `${parts[0]} ${r.pick(["sip:", "sip:@", "sip:a@", "sips:bob@localhost", "tel:+1234", "http://x", "sip:bob@[::1]", "sip:bob@[::1", "sip:bob@localhost:0", "sip:bob@localhost:99999", "sip:bob@localhost;transport=tcp", "sip:bob@localhost;maddr=255.255.255.255", "sip:bob@0.0.0.0", "sip:%00@localhost", "sip:bob@localhost?Route=x", "*", "sip:bob@localhost:5060;lr", "sip:ft00000001@127.0.0.1:5060;lr", "sip:" + "a".repeat(2000) + "@localhost", "sip:bob@" + "h".repeat(300)])} ${parts.slice(2).join(" ") || "SIP/2.0"}`;
    else if (k === 6) out = line.startsWith("SIP/") ? `INVITE sip:bob@localhost SIP/2.0` : `SIP/2.0 200 OK`; // request ↔ response
    else if (k === 7) out = "";
    else if (k === 8) out = line + " " + r.pick(["x", "SIP/2.0", "\x00"]);
    else if (k === 9) out = r.pick(["\r\n", " ", "\t"]) + line;
    else if (k === 10) out = line.replace(/[A-Z]/, (c) => String.fromCharCode(c.charCodeAt(0) ^ (1 << r.int(8))));
    else out = line.slice(0, r.int(line.length + 1)) + line.slice(r.int(line.length + 1));
    return cat(lat(out), b.subarray(se));
  },
  // headers the proxy acts on, with odd values: Via params, Max-Forwards, CSeq, Expires, Route / flow tokens
  function oddValues(b, r) {
    const key = r.pick(["via", "max-forwards", "cseq", "expires", "route", "contact", "to", "from", "record-route", "proxy-require", "call-id", "content-type"]);
    const VALS = {
      via: ["SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKsL0000000100000000deadbeef", "SIP/2.0/TCP 192.0.2.1;branch=z9hG4bK1;received=1.2.3.4;rport=1", "SIP/2.0/UDP [::1]:5060;branch=z9hG4bK2", "SIP/2.0/UDP 192.0.2.1;maddr=224.2.0.1;ttl=16;branch=z9hG4bK3", "SIP/2.0/SCTP x;branch=z9hG4bK", "SIP/2.0/UDP 192.0.2.1;branch=", "SIP/2.0/UDP 192.0.2.1;rport;rport;branch=z9hG4bKa;branch=z9hG4bKb", "SIP/2.0/UDP 192.0.2.1:0;branch=z9hG4bK4", "SIP/2.0/WS h.invalid;branch=z9hG4bK5", "SIP/2.0/UDP 192.0.2.1" + ";p".repeat(200) + ";branch=z9hG4bK6"],
      "max-forwards": ["0", "1", "255", "256", "-1", "4294967296", "", "70 70"],
      cseq: ["0 INVITE", "4294967295 INVITE", "4294967296 INVITE", "1 ACK", "1 CANCEL", "1 FOO", "1", "INVITE", "-1 INVITE", "1 invite", "2 REGISTER", "3 BYE"],
      expires: ["0", "-1", "4294967295", "4294967296", "abc", "", "60", "1"],
      route: ["<sip:127.0.0.1:5060;lr>", "<sip:127.0.0.1:5060;lr>, <sip:192.0.2.3;lr>", "<sip:ft00000001@127.0.0.1:5060;transport=tcp;lr>", "<sip:ftffffffff@127.0.0.1:5060;lr>", "<sip:127.0.0.1:5060>", "<sip:localhost;lr>", "<sips:127.0.0.1:5060;lr>", "<tel:1>", "<sip:[::1]:5060;lr>", "<sip:host.invalid;lr>", "<sip:127.0.0.1:5060;lr;maddr=0.0.0.0>"],
      contact: ["*", "<sip:a@192.0.2.1>;expires=0", "<sip:a@192.0.2.1>;q=2", "<sip:a@192.0.2.1>;q=0.5, <sip:b@192.0.2.2>;q=0.9", "<sip:a@[::1]:5062;transport=tcp>", "sip:a@192.0.2.1;expires=60", "<sip:a@host.example>", "<sips:a@192.0.2.1>", "\"x\" <sip:a@192.0.2.1>;+sip.instance=\"<urn:uuid:1>\";reg-id=1", "<>", "<tel:1>"],
      to: ["<sip:bob@localhost>;tag=", "<sip:bob@localhost>;tag=a;tag=b", "sip:bob@localhost", "<sip:tC00000000000000000@127.0.0.1:5060>", "\"\" <sip:@localhost>", "<sip:bob@localhost>;tag=" + "t".repeat(300)],
      from: ["<sip:alice@localhost>", "<sip:alice@localhost>;tag=", "<sip:alice@localhost>;tag=x;tag=y", "sip:alice@localhost;tag=1"],
      "record-route": ["<sip:127.0.0.1:5060;lr>", "<sip:ft00000002@127.0.0.1:5060;transport=tcp;lr>", "<sip:192.0.2.4;lr>, <sip:192.0.2.5;lr>"],
      "proxy-require": ["", "foo", "foo, bar", ","],
      "call-id": ["", "a@b@c", "x".repeat(300), "é"],
      "content-type": ["", "application/sdp", "multipart/mixed;boundary=x", "text/plain;charset=\"x", "/"],
    };
    const l = pickHeaderLine(b, r, key);
    const v = " " + r.pick(VALS[key]);
    if (!l || r.chance(0.2)) return insertHeader(b, `${SYNTH[key].split(":")[0]}:${v}`);
    return replaceValue(b, l, v);
  },
  // a header removed (mandatory ones included)
  function dropHeader(b, r) {
    const l = pickHeaderLine(b, r, r.chance(0.6) ? r.pick(["via", "to", "from", "call-id", "cseq", "max-forwards", "content-length", "contact"]) : null);
    if (!l) return b;
    return cat(b.subarray(0, l.start), b.subarray(l.end));
  },
  // the body: grown, shrunk or replaced, Content-Length fixed up (or not)
  function bodyGames(b, r) {
    const { bodyOff } = splitHead(b);
    const head = b.subarray(0, bodyOff);
    const body = r.pick([lat(""), lat("v=0\r\n"), Buffer.alloc(r.int(3000), 0x41), lat("\r\n\r\n"), lat("INVITE sip:x SIP/2.0\r\n\r\n"), Buffer.alloc(8, 0xff)]);
    let o = cat(bodyOff >= b.length && b.indexOf(CRLFCRLF) < 0 ? cat(head, CRLFCRLF) : head, body);
    if (r.chance(0.7)) {
      const ls = linesOf(o, "content-length");
      if (ls.length) o = replaceValue(o, ls[0], " " + body.length);
    }
    return o;
  },
];

export const STRUCT_OP_NAMES = STRUCT_OPS.map((f) => f.name);

/** 1–3 structure-aware mutations (sometimes followed by one byte-level one); clamped to maxLen. */
export function mutateStructured(buf, rng, maxLen = Infinity) {
  let b = buf;
  const n = 1 + (rng.chance(0.7) ? 0 : rng.int(3));
  for (let i = 0; i < n; i++) {
    b = STRUCT_OPS[rng.int(STRUCT_OPS.length)](b, rng, maxLen);
    if (b.length > maxLen * 2) b = b.subarray(0, maxLen);
  }
  if (rng.chance(0.15)) b = OPS[rng.int(OPS.length)](b, rng);
  if (b.length > maxLen) b = b.subarray(0, maxLen);
  return b === buf ? Buffer.from(buf) : b;
}

// ------------------------------------------------------------------------------------------------
// Message builders and readers for realistic dialogs (REGISTER, INVITE, CANCEL, ACK, BYE, responses).

/**
 * A request. o: { method, ruri, via: [values] | value, from, fromTag, to, toTag, callId, cseq,
 * cseqMethod, contact, maxForwards, expires, route: [values], extra: [lines], body, contentType }.
 */
export function sipRequest(o) {
  const m = o.method;
  const lines = [`${m} ${o.ruri} SIP/2.0`];
  for (const v of [].concat(o.via ?? [])) lines.push(`Via: ${v}`);
  lines.push(`Max-Forwards: ${o.maxForwards ?? 70}`);
  for (const rt of o.route ?? []) lines.push(`Route: ${rt}`);
  lines.push(`From: ${o.from}${o.fromTag ? `;tag=${o.fromTag}` : ""}`);
  lines.push(`To: ${o.to}${o.toTag ? `;tag=${o.toTag}` : ""}`);
  lines.push(`Call-ID: ${o.callId}`);
  lines.push(`CSeq: ${o.cseq} ${o.cseqMethod ?? m}`);
  if (o.contact) lines.push(`Contact: ${o.contact}`);
  if (o.expires !== undefined) lines.push(`Expires: ${o.expires}`);
  for (const x of o.extra ?? []) lines.push(x);
  const body = o.body ? lat(o.body) : Buffer.alloc(0);
  if (body.length) lines.push(`Content-Type: ${o.contentType ?? "application/sdp"}`);
  lines.push(`Content-Length: ${body.length}`, "", "");
  return cat(lat(lines.join("\r\n")), body);
}

/** The value of the first header `key` (any alias; latin1; folding undone), or null. */
export function headerValue(buf, key) {
  const ls = linesOf(buf, key);
  if (!ls.length) return null;
  return valueOf(buf, ls[0]).toString("latin1").replace(/\r?\n[ \t]+/g, " ").trim();
}
/** Every value of header `key` (each line's whole value). */
export function headerValues(buf, key) {
  return linesOf(buf, key).map((l) => valueOf(buf, l).toString("latin1").replace(/\r?\n[ \t]+/g, " ").trim());
}
/** The start line (latin1, no terminator). */
export function startLineOf(buf) {
  let e = buf.indexOf(LF);
  if (e < 0) e = buf.length;
  return buf.toString("latin1", 0, e).replace(/\r$/, "");
}
/** The top Via's branch parameter of a message, or null. */
export function topViaBranch(buf) {
  const v = headerValue(buf, "via");
  if (!v) return null;
  const m = /;\s*branch\s*=\s*([^;,\s]+)/i.exec(v.split(",")[0]);
  return m ? m[1] : null;
}

/**
 * A response to the request `req` (a Buffer): every Via (in order), From, To (+ toTag when given and
 * the To has none), Call-ID, CSeq copied. o: { toTag, reason, contact, extra: [lines], body, recordRoute: [values] }.
 */
export function sipResponseFor(req, code, o = {}) {
  const lines = [`SIP/2.0 ${code} ${o.reason ?? REASONS[code] ?? "Whatever"}`];
  for (const l of linesOf(req, "via")) lines.push(`Via: ${valueOf(req, l).toString("latin1").trim()}`);
  for (const v of o.recordRoute ?? headerValues(req, "record-route")) lines.push(`Record-Route: ${v}`);
  const from = headerValue(req, "from");
  let to = headerValue(req, "to");
  if (from !== null) lines.push(`From: ${from}`);
  if (to !== null) {
    if (o.toTag && !/;\s*tag=/i.test(to)) to += `;tag=${o.toTag}`;
    lines.push(`To: ${to}`);
  }
  const cid = headerValue(req, "call-id");
  if (cid !== null) lines.push(`Call-ID: ${cid}`);
  const cseq = headerValue(req, "cseq");
  if (cseq !== null) lines.push(`CSeq: ${cseq}`);
  if (o.contact) lines.push(`Contact: ${o.contact}`);
  for (const x of o.extra ?? []) lines.push(x);
  const body = o.body ? lat(o.body) : Buffer.alloc(0);
  if (body.length) lines.push("Content-Type: application/sdp");
  lines.push(`Content-Length: ${body.length}`, "", "");
  return cat(lat(lines.join("\r\n")), body);
}

export const REASONS = {
  100: "Trying", 180: "Ringing", 181: "Call Is Being Forwarded", 183: "Session Progress", 199: "Early Dialog Terminated",
  200: "OK", 202: "Accepted", 300: "Multiple Choices", 302: "Moved Temporarily", 401: "Unauthorized",
  404: "Not Found", 407: "Proxy Authentication Required", 408: "Request Timeout", 480: "Temporarily Unavailable",
  481: "Call/Transaction Does Not Exist", 486: "Busy Here", 487: "Request Terminated", 488: "Not Acceptable Here",
  500: "Server Internal Error", 503: "Service Unavailable", 600: "Busy Everywhere", 603: "Decline", 604: "Does Not Exist Anywhere",
  606: "Not Acceptable",
};

export const SDP = "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\nm=audio 49170 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n";
