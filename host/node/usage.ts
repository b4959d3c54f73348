// Event records of the core, decoded once (docs/ABI.md, "Events"), and the usage file: one JSON
// object per line for the events an accountant or auditor wants (registrations, calls, refusals).
//
// The file is opened for appending, non-blocking (O_NONBLOCK: a FIFO nobody reads, or nobody opened
// for reading, must not stop the server); lines are buffered and written in batches (at most FLUSH_MS
// after the first pending line, or at FLUSH_BYTES). What the file does not take now waits, at most
// LIMITS.usageQueueBytes in all; a record beyond that is dropped and counted (the next record written
// carries "lost", the stats line the total, usageDropped). On stop what is queued is written for at
// most CLOSE_WAIT_MS, so a SIGTERM loses nothing unless the file stays full.
import { openSync, writeSync, closeSync, fsyncSync, constants } from "node:fs";
import { LIMITS } from "./numbers.js";
import { EVENT, PEER, EVENTS, type Core } from "./abi.js";
import { format4, format6, peerText } from "./addr.js";

/** One event record, as read from sip_event_ptr() (texts are "" when absent). */
export interface EventRecord {
  kind: number;
  name: string;
  code: number;
  /** the core's `now` of the call that produced it (ms, performance.now() clock) */
  time: number;
  value: number;
  lost: number;
  /** "udp:1.2.3.4:5060", or undefined when the record has no address */
  source?: string;
  conn: number;
  text: [string, string, string, string];
}

/** Decodes the event record at core.eventPtr. protoOf maps a transport id to "udp" / "tcp". */
export function decodeEvent(core: Core, kind: number, protoOf: (transport: number) => string): EventRecord {
  core.views();
  const mem = core.mem;
  const dv = core.dv;
  const e = core.eventPtr;
  const pe = e + EVENT.peer;
  const fam = mem[pe + PEER.family];
  let source: string | undefined;
  if (fam === 4 || fam === 6)
    source = peerText(
      protoOf(mem[pe + PEER.transport]), fam,
      fam === 4 ? format4(mem, pe + PEER.addr) : format6(mem, pe + PEER.addr),
      dv.getUint16(pe + PEER.port, true),
    );
  const text: [string, string, string, string] = ["", "", "", ""];
  let at = e + EVENT.text;
  for (let i = 0; i < 4; i++) {
    const len = dv.getUint16(e + EVENT.lens + 2 * i, true);
    if (len) text[i] = mem.toString("utf8", at, at + len);
    at += len;
  }
  return {
    kind,
    name: EVENTS[kind]?.name ?? `event-${kind}`,
    code: dv.getInt32(e + EVENT.code, true),
    time: dv.getFloat64(e + EVENT.time, true),
    value: dv.getUint32(e + EVENT.value, true),
    lost: dv.getUint32(e + EVENT.lost, true),
    source,
    conn: dv.getUint32(pe + PEER.conn, true),
    text,
  };
}

/**
 * An event's fields as its log line names them (abi.json's labels): the four texts under their labels,
 * the value under its field name (or "value" when the kind names none and it is nonzero), lost when
 * nonzero. Written into `out`; used by the log line and by the library's events.
 */
export function eventFields(ev: EventRecord, out: Record<string, unknown>): Record<string, unknown> {
  const info = EVENTS[ev.kind];
  const labels = info?.texts ?? ["text1", "text2", "text3", "text4"];
  for (let i = 0; i < 4; i++) if (ev.text[i]) out[labels[i]] = ev.text[i];
  if (info?.valueField) out[info.valueField] = ev.value;
  else if (ev.value) out.value = ev.value;
  if (ev.lost) out.lost = ev.lost;
  return out;
}

/** Kinds written to the usage file (abi.json: every kind but those marked usage false). */
export function isUsageEvent(kind: number): boolean {
  return EVENTS[kind]?.usage ?? false;
}

/** Text labels that stay out of usage records (generic or free-form fields). */
const NOT_IN_USAGE = new Set(["text1", "text2", "detail"]);

/**
 * The usage record of an event (empty fields left out), from abi.json's event table: time, event,
 * the text fields under their labels (but text1, text2, detail), the value field (a field ending in
 * "Ms" becomes seconds under the name without it), source, result (the code, when nonzero).
 * host/c/usage.c writes the same records. wall maps core time to Date ms.
 */
export function usageRecord(ev: EventRecord, wall: (t: number) => number): Record<string, unknown> {
  const r: Record<string, unknown> = { time: new Date(wall(ev.time)).toISOString(), event: ev.name };
  const info = EVENTS[ev.kind];
  if (info) {
    info.texts.forEach((label, i) => {
      if (ev.text[i] && !NOT_IN_USAGE.has(label)) r[label] = ev.text[i];
    });
    const vf = info.valueField;
    if (vf?.endsWith("Ms")) r[vf.slice(0, -2)] = Math.round(ev.value) / 1000; // ms -> s, 3 decimals
    else if (vf) r[vf] = ev.value;
  }
  if (ev.source) r.source = ev.source;
  if (ev.code) r.result = ev.code;
  return r;
}

const FLUSH_BYTES = 64 * 1024;
const FLUSH_MS = 200;
const RETRY_MS = 50; // while the file is full (EAGAIN)
const CLOSE_WAIT_MS = 1000;

export class UsageLog {
  private fd: number;
  /** bytes the file has not taken yet (written first), then the lines batched since */
  private held: Buffer | null = null;
  private buf: string[] = [];
  private bytes = 0;
  private timer: NodeJS.Timeout | null = null;
  /** events the core dropped (queue full) or that were not usage events, or records we dropped, not yet reported */
  private lostPending = 0;
  private failed = false;
  /** records dropped here because the queue was full (all time) */
  dropped = 0;

  /** Opens (creates) the file for appending; throws the fs error (code ENOENT, EACCES, ENXIO for a FIFO with no reader, ...). */
  constructor(
    readonly path: string,
    private readonly onError: (msg: string, fields: object) => void,
    private readonly maxQueue: number = LIMITS.usageQueueBytes,
  ) {
    this.fd = openSync(path, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NONBLOCK, 0o640);
  }

  /** Records an event if it is a usage event (carrying over the core's lost count either way). */
  event(ev: EventRecord, wall: (t: number) => number): void {
    this.lostPending += ev.lost;
    if (!isUsageEvent(ev.kind)) return;
    if (this.fd < 0) return;
    const r = usageRecord(ev, wall);
    if (this.lostPending) r.lost = this.lostPending; // records missing before this one
    const line = JSON.stringify(r) + "\n";
    if (this.queued() + line.length > this.maxQueue) {
      this.dropped++;
      this.lostPending++;
      return;
    }
    this.lostPending = 0;
    this.write(line);
  }

  /** Records one of the host's own usage records (the media relay's per-leg counters), stamped now. */
  host(fields: Record<string, unknown>): void {
    if (this.fd < 0) return;
    const line = JSON.stringify({ time: new Date().toISOString(), ...fields }) + "\n";
    if (this.queued() + line.length > this.maxQueue) {
      this.dropped++;
      this.lostPending++;
      return;
    }
    this.write(line);
  }

  /** bytes waiting: held by the file plus batched */
  queued(): number {
    return (this.held?.length ?? 0) + this.bytes;
  }

  private write(line: string): void {
    this.buf.push(line);
    this.bytes += line.length;
    if (this.bytes >= FLUSH_BYTES) this.flush();
    else this.schedule(FLUSH_MS);
  }

  private schedule(ms: number): void {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.flush();
    }, ms);
    this.timer.unref();
  }

  /** Writes what the file takes now, never waiting for it; the rest waits (retried every RETRY_MS). */
  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.fd < 0) return;
    if (this.buf.length) {
      const more = Buffer.from(this.buf.join(""), "utf8");
      this.held = this.held ? Buffer.concat([this.held, more]) : more;
      this.buf = [];
      this.bytes = 0;
    }
    const data = this.held;
    if (!data) return;
    let off = 0;
    while (off < data.length) {
      try {
        off += writeSync(this.fd, data, off);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === "EAGAIN") break; // full: the rest waits
        if (code === "EINTR") continue;
        if (!this.failed) this.onError("cannot write the usage log; records dropped", { file: this.path, error: code ?? String(e) });
        this.failed = true;
        this.held = null;
        return;
      }
    }
    this.failed = false;
    this.held = off < data.length ? data.subarray(off) : null;
    if (this.held) this.schedule(RETRY_MS);
  }

  /** Flushes (waiting at most CLOSE_WAIT_MS for a full file) and closes the file. */
  close(): void {
    const until = Date.now() + CLOSE_WAIT_MS;
    this.flush();
    while (this.held && Date.now() < until) {
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10);
      this.flush();
    }
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.held) {
      this.onError("usage log still full at stop; records dropped", { file: this.path, bytes: this.held.length });
      this.held = null;
    }
    if (this.fd < 0) return;
    try {
      fsyncSync(this.fd);
    } catch {
      /* not a regular file (e.g. /dev/stdout): nothing to sync */
    }
    closeSync(this.fd);
    this.fd = -1;
  }
}
