// JSON-lines output without allocation: one static buffer, filled by the put* functions and written
// to a file descriptor with fd_write when full or at flush(). String literals are read in place
// (UTF-16 code units, ASCII expected); byte ranges in linear memory are copied (and escaped for JSON).
//
// Never blocking (issue 18): when stdout is a pipe or a socket (stdoutNonBlocking at start) it is
// written only as far as it can take without waiting. WasmEdge does not let a module set O_NONBLOCK on
// stdout (fd_fdstat_set_flags answers NOTCAPABLE), so each write is preceded by a poll_oneoff for
// writability with a zero timeout and is at most PIPE_CHUNK bytes (a pipe that polls writable has a
// page free). What the pipe cannot take stays in the buffer (CAP bytes: the bound); a log line that
// finds the buffer full is dropped whole and counted, and once the buffer has drained one
// {"msg":"log lines dropped","count":N} line says how many. A terminal or a file is written as before.

import {
  fd_write, fd_fdstat_get, poll_oneoff, CLOCK_MONOTONIC, ERRNO_AGAIN, ERRNO_INTR,
  EVENTTYPE_CLOCK,
} from "./wasi";
import { P2, sysRealtimeNs } from "./sys";
import {
  get_stdout, get_stderr, out_check_write, out_write, out_blocking_write_and_flush,
} from "./p2";

const CAP: u32 = 65536;
const BUF: usize = memory.data(<i32>CAP);
const IOV: usize = memory.data(8, 4);
const NW: usize = memory.data(4, 4);
const HEX: usize = memory.data<u8>([48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 97, 98, 99, 100, 101, 102]);
let pos: u32 = 0;
let target: u32 = 1;
/** stdout is polled before each write: a full pipe keeps the rest in BUF instead of waiting */
let nonBlocking = false;
const PIPE_CHUNK: u32 = 4096;
const EVENTTYPE_FD_WRITE: u8 = 2;
const PSUBS: usize = memory.data(96, 8);
const PEVENTS: usize = memory.data(64, 8);
const PN: usize = memory.data(4, 4);

/** stdout can take PIPE_CHUNK bytes now (poll_oneoff: fd_write on 1, or a zero timeout first). */
function stdoutWritable(): bool {
  memory.fill(PSUBS, 0, 96);
  store<u64>(PSUBS, 1);
  store<u8>(PSUBS + 8, EVENTTYPE_FD_WRITE);
  store<u32>(PSUBS + 16, 1);
  store<u64>(PSUBS + 48, 2);
  store<u8>(PSUBS + 56, EVENTTYPE_CLOCK);
  store<u32>(PSUBS + 64, CLOCK_MONOTONIC);
  store<u64>(PSUBS + 72, 0); // relative timeout 0
  store<u32>(PN, 0);
  if (poll_oneoff(PSUBS, PEVENTS, 2, PN) != 0) return false;
  const n = load<u32>(PN);
  for (let i: u32 = 0; i < n; i++) {
    const ev = PEVENTS + <usize>(i << 5);
    if (load<u64>(ev) == 1 && load<u16>(ev + 8) == 0) return true;
  }
  return false;
}
/** where the log line being written starts in BUF, and whether it is being dropped */
let lineStart: u32 = 0;
let skipping = false;
/** log lines dropped since the last report, and in all */
let droppedNow: u64 = 0;
export let logDropped: u64 = 0;
const FDSTAT: usize = memory.data(24, 8);


/** stdout polled before each write when it is a pipe or a socket (not a terminal or a file), if the
 * runtime can poll it; true if so. */
export function stdoutNonBlocking(): bool {
  if (P2) {
    // wasi:io/streams: check-write says how much stdout takes now (0 = not now); always asked
    nonBlocking = true;
    return true;
  }
  if (fd_fdstat_get(1, FDSTAT) != 0) return false;
  const type = load<u8>(FDSTAT); // 2 character device, 4 regular file, 0 unknown (a pipe), 5/6 sockets
  if (type == 2 || type == 4) return false;
  nonBlocking = stdoutWritable(); // an empty pipe polls writable; a runtime that cannot poll it does not
  return nonBlocking;
}

/**
 * Writes what is buffered to the current target (stdout unless toStderr() is active). Non-blocking
 * stdout: what the pipe does not take now stays buffered for the next call.
 */
export function flush(): void {
  if (P2) {
    flushP2();
    return;
  }
  let off: u32 = 0;
  let spins = 0;
  const polled = nonBlocking && target == 1;
  while (off < pos) {
    if (polled && !stdoutWritable()) {
      // the pipe is full: keep the rest (the line being written moves with it)
      memory.copy(BUF, BUF + off, pos - off);
      pos -= off;
      lineStart = lineStart > off ? lineStart - off : 0;
      return;
    }
    store<u32>(IOV, <u32>(BUF + off));
    store<u32>(IOV, polled && pos - off > PIPE_CHUNK ? PIPE_CHUNK : pos - off, 4);
    store<u32>(NW, 0);
    const e = fd_write(target, IOV, 1, NW);
    if (e == ERRNO_AGAIN || e == ERRNO_INTR) {
      if (++spins > 1000000) break;
      continue;
    }
    if (e != 0) break; // stdout gone: drop the logs rather than stop the server
    off += load<u32>(NW);
  }
  pos = 0;
  lineStart = 0;
}

// wasi:cli stdout/stderr handles (owned for the life of the process), and a return area
let hOut: i32 = -1;
let hErr: i32 = -1;
const RET: usize = P2 ? memory.data(16, 8) : 0;

/** flush() on WASI 0.2: non-blocking stdout by check-write + write, else blocking-write-and-flush. */
function flushP2(): void {
  if (hOut < 0) {
    hOut = get_stdout();
    hErr = get_stderr();
  }
  const polled = nonBlocking && target == 1;
  const h = target == 1 ? hOut : hErr;
  let off: u32 = 0;
  while (off < pos) {
    let n = pos - off > PIPE_CHUNK ? PIPE_CHUNK : pos - off; // blocking-write-and-flush: at most 4096
    if (polled) {
      out_check_write(h, RET);
      if (load<u8>(RET) != 0) break; // stdout gone: drop the logs rather than stop the server
      const permit = load<u64>(RET, 8);
      if (permit == 0) {
        // stdout cannot take more now: keep the rest (the line being written moves with it)
        memory.copy(BUF, BUF + off, pos - off);
        pos -= off;
        lineStart = lineStart > off ? lineStart - off : 0;
        return;
      }
      if (<u64>n > permit) n = <u32>permit;
      out_write(h, BUF + off, n, RET);
    } else out_blocking_write_and_flush(h, BUF + off, n, RET);
    if (load<u8>(RET) != 0) break;
    off += n;
  }
  pos = 0;
  lineStart = 0;
}

/** Route the following output to stderr (flushes stdout first); toStdout() switches back. */
export function toStderr(): void { flush(); target = 2; }
export function toStdout(): void { flush(); target = 1; }

/** Room for n more bytes: flushed when full; still full (a pipe nobody reads): the line is dropped. */
// @ts-ignore: decorator
@inline function room(n: u32): bool {
  if (pos + n > CAP) {
    flush();
    if (pos + n > CAP) {
      // the line being written goes (what came before it waits for the pipe)
      pos = lineStart;
      skipping = true;
      droppedNow++;
      logDropped++;
      return false;
    }
  }
  return true;
}

export function putByte(b: u32): void {
  if (skipping || !room(1)) return;
  store<u8>(BUF + pos++, <u8>b);
}

/** A string literal (its code units, as bytes; literals here are ASCII). */
export function putStr(s: string): void {
  const n = <u32>s.length;
  for (let i: u32 = 0; i < n; i++) putByte(<u32>s.charCodeAt(<i32>i));
}

/** Raw bytes from memory. */
export function putBytes(p: usize, n: u32): void {
  while (n > 0) {
    if (skipping || !room(1)) return;
    let k = CAP - pos;
    if (k > n) k = n;
    memory.copy(BUF + pos, p, k);
    pos += k;
    p += k;
    n -= k;
  }
}

/** Bytes from memory as the inside of a JSON string (quotes, backslashes and controls escaped). */
export function putEscaped(p: usize, n: u32): void {
  for (let i: u32 = 0; i < n; i++) {
    const c = <u32>load<u8>(p + i);
    if (c == 0x22 || c == 0x5c) {
      putByte(0x5c);
      putByte(c);
    } else if (c < 0x20 || c == 0x7f) {
      putByte(0x5c);
      if (c == 0x0a) putByte(0x6e);
      else if (c == 0x0d) putByte(0x72);
      else if (c == 0x09) putByte(0x74);
      else {
        putByte(0x75); putByte(0x30); putByte(0x30);
        putByte(<u32>load<u8>(HEX + (c >> 4)));
        putByte(<u32>load<u8>(HEX + (c & 15)));
      }
    } else putByte(c);
  }
}

export function putU64(v: u64): void {
  if (v >= 10) putU64(v / 10);
  putByte(48 + <u32>(v % 10));
}

export function putI32(v: i32): void {
  if (v < 0) {
    putByte(45);
    putU64(<u64>(-(<i64>v)));
  } else putU64(<u64>v);
}

/** Fixed digits, zero-padded. */
export function putPad(v: u32, digits: u32): void {
  let d: u32 = 1;
  for (let i: u32 = 1; i < digits; i++) d *= 10;
  while (d > 0) {
    putByte(48 + (v / d) % 10);
    d /= 10;
  }
}

export function putHexByte(b: u32): void {
  putByte(<u32>load<u8>(HEX + ((b >> 4) & 15)));
  putByte(<u32>load<u8>(HEX + (b & 15)));
}

export function putHex16(v: u32): void {
  let started = false;
  for (let s: i32 = 12; s >= 0; s -= 4) {
    const d = (v >> <u32>s) & 15;
    if (d != 0 || started || s == 0) {
      putByte(<u32>load<u8>(HEX + d));
      started = true;
    }
  }
}

/** Milliseconds as a JSON number with up to 3 decimals. */
export function putMs(v: f64): void {
  if (!(v >= 0) || v > 9e15) {
    putByte(48);
    return;
  }
  const us = <u64>(v * 1000 + 0.5);
  putU64(us / 1000);
  let f = <u32>(us % 1000);
  if (f == 0) return;
  putByte(46);
  let digits: u32 = 3;
  while (f % 10 == 0) {
    f /= 10;
    digits--;
  }
  putPad(f, digits);
}

/** Current UTC time as ISO 8601 with milliseconds (civil-from-days, H. Hinnant). */
function putIsoNow(): void {
  const ms = sysRealtimeNs() / 1000000;
  const secs = ms / 1000;
  const days = <i64>(secs / 86400);
  const sod = <u32>(secs % 86400);
  const z = days + 719468;
  const era = z / 146097;
  const doe = <u32>(z - era * 146097);
  const yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  let y = <i64>yoe + era * 400;
  const doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const mp = (5 * doy + 2) / 153;
  const d = doy - (153 * mp + 2) / 5 + 1;
  const m = mp < 10 ? mp + 3 : mp - 9;
  if (m <= 2) y++;
  putPad(<u32>y, 4); putByte(45); putPad(m, 2); putByte(45); putPad(d, 2);
  putByte(84);
  putPad(sod / 3600, 2); putByte(58); putPad((sod / 60) % 60, 2); putByte(58); putPad(sod % 60, 2);
  putByte(46); putPad(<u32>(ms % 1000), 3); putByte(90);
}

// ---- log lines: begin(level, msg) then key/value pairs, then end() --------------------------

export const enum Level { Error = 0, Warn = 1, Info = 2, Debug = 3 }
let rank: i32 = Level.Info;
export function setLevel(l: i32): void { rank = l; }
export function on(l: i32): bool { return l <= rank; }

/** A new line starts here; a pending drop report goes first once the buffer has drained. */
function lineBegin(): void {
  skipping = false;
  if (droppedNow > 0 && pos == 0) {
    const n = droppedNow;
    droppedNow = 0;
    lineStart = pos;
    putStr("{\"t\":\"");
    putIsoNow();
    putStr("\",\"level\":\"warn\",\"msg\":\"log lines dropped\",\"count\":");
    putU64(n);
    putStr("}\n");
    skipping = false;
  }
  lineStart = pos;
}

export function begin(level: i32, msg: string): void {
  lineBegin();
  putStr("{\"t\":\"");
  putIsoNow();
  putStr("\",\"level\":\"");
  putStr(level == Level.Error ? "error" : level == Level.Warn ? "warn" : level == Level.Info ? "info" : "debug");
  putStr("\",\"msg\":\"");
  putStr(msg);
  putByte(0x22);
}

/** begin() with the message as bytes in memory (e.g. a name from the schema's table). */
export function beginBytes(level: i32, p: usize, n: u32): void {
  lineBegin();
  putStr("{\"t\":\"");
  putIsoNow();
  putStr("\",\"level\":\"");
  putStr(level == Level.Error ? "error" : level == Level.Warn ? "warn" : level == Level.Info ? "info" : "debug");
  putStr("\",\"msg\":\"");
  putEscaped(p, n);
  putByte(0x22);
}

/** ,"key": with the key as bytes in memory. */
export function keyBytes(p: usize, n: u32): void {
  putStr(",\"");
  putEscaped(p, n);
  putStr("\":");
}

/** ,"key": (the value follows) */
export function key(k: string): void {
  putStr(",\"");
  putStr(k);
  putStr("\":");
}

export function kvStr(k: string, v: string): void {
  key(k);
  putByte(0x22);
  putStr(v);
  putByte(0x22);
}

export function kvBytes(k: string, p: usize, n: u32): void {
  key(k);
  putByte(0x22);
  putEscaped(p, n);
  putByte(0x22);
}

export function kvInt(k: string, v: i32): void {
  key(k);
  putI32(v);
}

export function kvU64(k: string, v: u64): void {
  key(k);
  putU64(v);
}

export function end(): void {
  putStr("}\n");
  skipping = false;
  lineStart = pos;
}
