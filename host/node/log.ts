// JSON-lines logger on stdout: {"t": ISO time, "level": "...", "msg": "...", ...fields}.
// Lines are batched and written once per event-loop turn (stdout to a pipe or file is a
// synchronous write per call on Linux), and flushed synchronously on exit.
import { writeSync } from "node:fs";
import type { LogLevel } from "./config.js";

const RANK: Record<LogLevel, number> = { error: 0, warn: 1, info: 2, debug: 3 };
const FLUSH_BYTES = 64 * 1024;

export class Logger {
  private rank: number;
  private buf: string[] = [];
  private bytes = 0;
  private scheduled = false;

  constructor(level: LogLevel) {
    this.rank = RANK[level];
  }

  setLevel(level: LogLevel): void {
    this.rank = RANK[level];
  }

  /** Cheap test before building fields for a line. */
  on(level: LogLevel): boolean {
    return RANK[level] <= this.rank;
  }

  error(msg: string, fields?: object): void {
    if (this.rank >= 0) this.line("error", msg, fields);
  }
  warn(msg: string, fields?: object): void {
    if (this.rank >= 1) this.line("warn", msg, fields);
  }
  info(msg: string, fields?: object): void {
    if (this.rank >= 2) this.line("info", msg, fields);
  }
  debug(msg: string, fields?: object): void {
    if (this.rank >= 3) this.line("debug", msg, fields);
  }

  /** Writes a line whatever the level (used by --trace). */
  line(level: LogLevel, msg: string, fields?: object): void {
    const head = `{"t":"${new Date().toISOString()}","level":"${level}","msg":${JSON.stringify(msg)}`;
    let s: string;
    if (fields) {
      const rest = JSON.stringify(fields, bigintSafe);
      s = rest.length > 2 ? `${head},${rest.slice(1)}\n` : `${head}}\n`;
    } else s = `${head}}\n`;
    this.buf.push(s);
    this.bytes += s.length;
    if (this.bytes >= FLUSH_BYTES) this.flush();
    else if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
  }

  flush(): void {
    this.scheduled = false;
    if (this.buf.length === 0) return;
    const s = this.buf.join("");
    this.buf = [];
    this.bytes = 0;
    const data = Buffer.from(s, "utf8");
    let off = 0;
    while (off < data.length) {
      try {
        off += writeSync(1, data, off);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === "EAGAIN") continue;
        return; // stdout gone (EPIPE): drop logs rather than crash the server
      }
    }
  }
}

function bigintSafe(_k: string, v: unknown): unknown {
  return typeof v === "bigint" ? v.toString() : v;
}
