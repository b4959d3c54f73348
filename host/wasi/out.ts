// JSON-lines output without allocation: one static buffer, filled by the put* functions and written
// to a file descriptor with fd_write when full or at flush(). String literals are read in place
// (UTF-16 code units, ASCII expected); byte ranges in linear memory are copied (and escaped for JSON).

import { fd_write, clock_time_get, CLOCK_REALTIME, ERRNO_AGAIN, ERRNO_INTR } from "./wasi";

const CAP: u32 = 65536;
const BUF: usize = memory.data(<i32>CAP);
const IOV: usize = memory.data(8, 4);
const NW: usize = memory.data(4, 4);
const TIME: usize = memory.data(8, 8);
const HEX: usize = memory.data<u8>([48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 97, 98, 99, 100, 101, 102]);
let pos: u32 = 0;
let target: u32 = 1;

/** Writes everything buffered to the current target (stdout unless toStderr() is active). */
export function flush(): void {
  let off: u32 = 0;
  let spins = 0;
  while (off < pos) {
    store<u32>(IOV, <u32>(BUF + off));
    store<u32>(IOV, pos - off, 4);
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
}

/** Route the following output to stderr (flushes stdout first); toStdout() switches back. */
export function toStderr(): void { flush(); target = 2; }
export function toStdout(): void { flush(); target = 1; }

// @ts-ignore: decorator
@inline function room(n: u32): void {
  if (pos + n > CAP) flush();
}

export function putByte(b: u32): void {
  room(1);
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
    room(1);
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
  store<u64>(TIME, 0);
  clock_time_get(CLOCK_REALTIME, 1000000, TIME);
  const ms = load<u64>(TIME) / 1000000;
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

export function begin(level: i32, msg: string): void {
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
}
