// Writer: a bounded output cursor over the transmit buffer (AS itoa_buffered, smoltcp `emit` into
// exactly `buffer_len()`). Every put checks the room left; the first put that does not fit marks the
// writer failed and every later put is a no-op, so `finish()` returns 0 instead of a truncated
// message. Messages are built by copying spans of the received message and adding short literals:
// nothing is re-serialised from an object model.

import { Ch } from "../util/chars";
import { TEXT, T_SUPPORTED_PATH } from "./tables";

export class Writer {
  start: usize = 0;
  ptr: usize = 0;
  end: usize = 0;
  ok: bool = true;

  /** Begin writing at [out, out+cap). */
  begin(out: usize, cap: u32): Writer {
    this.start = out;
    this.ptr = out;
    this.end = out + <usize>cap;
    this.ok = true;
    return this;
  }

  /** Room for n more bytes? Marks the writer failed when not. */
  private room(n: usize): bool {
    if (!this.ok || this.end - this.ptr < n) {
      this.ok = false;
      return false;
    }
    return true;
  }

  /** Copy [p, p+len). */
  bytes(p: usize, len: u32): void {
    if (!this.room(<usize>len)) return;
    memory.copy(this.ptr, p, len);
    this.ptr += len;
  }

  /** One byte. */
  byte(c: u32): void {
    if (!this.room(1)) return;
    store<u8>(this.ptr, <u8>c);
    this.ptr++;
  }

  /** An ASCII string literal (static data: no allocation). */
  lit(s: string): void {
    const n = <usize>s.length;
    if (!this.room(n)) return;
    const src = changetype<usize>(s);
    for (let i: usize = 0; i < n; i++) store<u8>(this.ptr + i, load<u16>(src + (i << 1)));
    this.ptr += n;
  }

  /** A text of the packed table (tables.ts): (offset << 8) | length. */
  text(code: u32): void {
    this.bytes(TEXT + <usize>(code >> 8), code & 0xff);
  }

  /** Decimal digits of n. */
  u32(n: u32): void {
    let digits: usize = 1;
    for (let t = n; t >= 10; t /= 10) digits++;
    if (!this.room(digits)) return;
    let q = this.ptr + digits;
    do {
      q--;
      store<u8>(q, <u8>(Ch.D0 + n % 10));
      n /= 10;
    } while (n != 0);
    this.ptr += digits;
  }

  /** CRLF: the last two bytes of a text of the packed table ("Supported: path\r\n"), copied as one. */
  crlf(): void {
    this.bytes(TEXT + <usize>(T_SUPPORTED_PATH >> 8) + <usize>(T_SUPPORTED_PATH & 0xff) - 2, 2);
  }

  /** Bytes written so far (meaningful only while ok). */
  get length(): u32 {
    return <u32>(this.ptr - this.start);
  }

  /** Length of the finished message, or 0 when any put did not fit. */
  finish(): u32 {
    return this.ok ? <u32>(this.ptr - this.start) : 0;
  }
}
