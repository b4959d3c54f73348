// JSON-lines logger on stdout: {"t": ISO time, "level": "...", "msg": "...", ...fields}.
//
// Writing never blocks the server and never holds more than LIMITS.logQueueBytes. Lines are batched
// and handed on once per event-loop turn. When stdout is a pipe or a socket it is written through a
// non-blocking stream (a reader that stops reading fills the pipe; a blocking write would then stop
// the server): what the pipe cannot take waits in the queue, and a line that would take the queue over
// its bound is dropped and counted. Once the queue has drained, one "log lines dropped" line says how
// many were lost; the stats line carries the total (logDropped). A file, a terminal or /dev/null is
// written synchronously (they do not stay full). A write to a pipe with room goes out at once (libuv
// tries it before queueing), so the lines of a stop reach a reader; what a full pipe still holds at
// exit is lost.
import { writeSync, fstatSync } from "node:fs";
import net from "node:net";
import type { LogLevel } from "./config.js";
import { LIMITS } from "./numbers.js";

const RANK: Record<LogLevel, number> = { error: 0, warn: 1, info: 2, debug: 3 };
const FLUSH_BYTES = 64 * 1024;

/** Where the lines go: a non-blocking stream for a pipe or socket, else synchronous writes to fd. */
export interface LogSink {
  /** true when data was taken whole (written, or queued by the stream); false: nothing was taken */
  write(data: Buffer): boolean;
  /** bytes taken but not yet written */
  pending(): number;
  /** called once when pending() falls to 0 after having been above it */
  onDrain(cb: () => void): void;
}

class FdSink implements LogSink {
  constructor(private readonly fd: number) {}
  write(data: Buffer): boolean {
    let off = 0;
    while (off < data.length) {
      try {
        off += writeSync(this.fd, data, off);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === "EAGAIN") return off > 0; // a non-blocking fd we did not expect
        return true; // stdout gone (EPIPE, EBADF): drop logs rather than stop the server
      }
    }
    return true;
  }
  pending(): number {
    return 0;
  }
  onDrain(): void {}
}

/** stdout as a pipe or socket: libuv writes what the pipe takes now and queues the rest. */
class StreamSink implements LogSink {
  private readonly sock: net.Socket;
  private gone = false;
  constructor(fd: number) {
    this.sock = new net.Socket({ fd, readable: false, writable: true });
    this.sock.on("error", () => {
      this.gone = true; // EPIPE: the reader went away; drop logs rather than stop the server
    });
    // the stream must not keep the process alive on its own
    (this.sock as unknown as { _handle?: { unref?: () => void } })._handle?.unref?.();
  }
  write(data: Buffer): boolean {
    if (this.gone || this.sock.destroyed) return true;
    this.sock.write(data);
    return true;
  }
  pending(): number {
    return this.gone || this.sock.destroyed ? 0 : this.sock.writableLength;
  }
  onDrain(cb: () => void): void {
    this.sock.once("drain", cb);
  }
}

/** The sink for fd 1: a stream when it is a pipe or socket, synchronous writes otherwise. */
export function stdoutSink(fd = 1): LogSink {
  try {
    const st = fstatSync(fd);
    if (st.isFIFO() || st.isSocket()) return new StreamSink(fd);
  } catch {
    /* closed stdout: writes fail and are dropped */
  }
  return new FdSink(fd);
}

export class Logger {
  private rank: number;
  private buf: string[] = [];
  private bytes = 0;
  private scheduled = false;
  private sink: LogSink | null = null;
  private waitingDrain = false;
  /** lines dropped since the last "log lines dropped" line, and in all */
  private droppedNow = 0;
  dropped = 0;

  constructor(
    level: LogLevel,
    private readonly makeSink: () => LogSink = () => stdoutSink(1),
    private readonly maxQueue: number = LIMITS.logQueueBytes,
  ) {
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
    const s = format(level, msg, fields);
    // the bound: what the sink holds plus what this turn has batched, lines counted in UTF-16 units
    // (a line is at least its length in bytes / 3)
    if (this.bytes + s.length + this.pendingBytes() > this.maxQueue) {
      this.dropped++;
      this.droppedNow++;
      return;
    }
    this.buf.push(s);
    this.bytes += s.length;
    if (this.bytes >= FLUSH_BYTES) this.flush();
    else if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
  }

  private pendingBytes(): number {
    return this.sink ? this.sink.pending() : 0;
  }

  /** Hands the batched lines to stdout (never blocks on a pipe or socket). */
  flush(): void {
    this.scheduled = false;
    if (this.buf.length === 0) return;
    const sink = (this.sink ??= this.makeSink());
    const data = Buffer.from(this.buf.join(""), "utf8");
    this.buf = [];
    this.bytes = 0;
    if (!sink.write(data)) {
      // nothing could be taken (should not happen with our sinks): the batch is lost, counted
      this.dropped += countLines(data);
      this.droppedNow += countLines(data);
    }
    if (this.droppedNow > 0 && !this.waitingDrain) {
      if (sink.pending() === 0) this.reportDropped();
      else {
        this.waitingDrain = true;
        sink.onDrain(() => {
          this.waitingDrain = false;
          this.reportDropped();
          this.flush();
        });
      }
    }
  }

  /** One line saying how many lines were dropped since the last such line. */
  private reportDropped(): void {
    if (this.droppedNow === 0) return;
    const n = this.droppedNow;
    this.droppedNow = 0;
    const s = format("warn", "log lines dropped", { count: n, total: this.dropped, reason: "stdout is not being read fast enough" });
    this.buf.push(s);
    this.bytes += s.length;
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
  }
}

function format(level: LogLevel, msg: string, fields?: object): string {
  const head = `{"t":"${new Date().toISOString()}","level":"${level}","msg":${JSON.stringify(msg)}`;
  if (fields) {
    const rest = JSON.stringify(fields, bigintSafe);
    return rest.length > 2 ? `${head},${rest.slice(1)}\n` : `${head}}\n`;
  }
  return `${head}}\n`;
}

function countLines(b: Buffer): number {
  let n = 0;
  for (let i = b.indexOf(10); i >= 0; i = b.indexOf(10, i + 1)) n++;
  return n;
}

function bigintSafe(_k: string, v: unknown): unknown {
  return typeof v === "bigint" ? v.toString() : v;
}
