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
