// The registrar's bindings seen from the host (the core's sip_loc lines, registrar/location.ts), and a
// location service shared by several instances through Redis ("location.redis"; issue 15 item 5).
//
// A line: AOR CONTACT EXPIRES Q ORIGIN SOURCE PATH (AOR %XX-escaped, PATH the rest of the line).
//
// Redis, under the prefix P ("location.prefix"):
//   key  P:loc:AOR CONTACT    value "INSTANCE INDEX LINE", expiring with the binding (PX): every local
//                             binding of every instance (INSTANCE: its location.address, INDEX: the
//                             binding's index in its core, LINE: as the core reads it, ORIGIN local)
//   channel P:loc             "put INSTANCE INDEX LINE" when a binding is added or refreshed,
//                             "del INSTANCE AOR CONTACT" when it is removed or expires
// Another instance's binding is put into our core as `shared` with the route <sip:rbINDEX@INSTANCE;lr>:
// a call for it goes to the instance that holds the registration (its connection, its NAT address), which
// honours the token for that binding's contact only (proxy/request.ts). Our own keys, found at start, are
// put back as local (a restart keeps every binding). When Redis goes away we keep serving what we have,
// retry every second, and on its return subscribe, reload every key (adding what we missed, dropping
// shared bindings whose key is gone) and publish all of ours again. The core stays sans-I/O.
import net from "node:net";
import type { Core } from "./abi.js";
import { LocOp } from "./numbers.js";

export interface Binding {
  index: number;
  aor: string;
  contact: string;
  expires: number;
  q: number;
  origin: "local" | "shared";
  source: string;
  path: string;
}

/** A line's fields (the core writes them; null when it is not one). */
export function parseLine(index: number, line: string): Binding | null {
  const f = line.split(" ");
  if (f.length < 7) return null;
  const [aor, contact, exp, q, origin, source] = f;
  if (origin !== "local" && origin !== "shared") return null;
  return { index, aor: aor!, contact: contact!, expires: Number(exp), q: Number(q), origin, source: source!, path: f.slice(6).join(" ") };
}

export function lineOf(b: Omit<Binding, "index">): string {
  return [b.aor, b.contact, b.expires, b.q, b.origin, b.source, b.path].join(" ");
}

/** An AOR key as the core escapes it in a line: bytes that are not visible ASCII, and '%', as %XX. */
export function escapeAor(raw: Buffer): string {
  let s = "";
  for (const c of raw) s += c <= 0x20 || c >= 0x7f || c === 0x25 ? `%${c.toString(16).toUpperCase().padStart(2, "0")}` : String.fromCharCode(c);
  return s;
}

export function unescapeAor(s: string): Buffer {
  const out: number[] = [];
  for (let i = 0; i < s.length; i++) {
    if (s[i] === "%" && /^[0-9a-fA-F]{2}$/.test(s.slice(i + 1, i + 3))) {
      out.push(parseInt(s.slice(i + 1, i + 3), 16));
      i += 2;
    } else out.push(s.charCodeAt(i) & 0xff);
  }
  return Buffer.from(out);
}

/** The core's bindings through sip_loc: `after` drains what a change produced (events, the timer). */
export class Bindings {
  readonly ptr: number;
  readonly cap: number;
  constructor(private readonly core: Core, private readonly now: () => number, private readonly after: (t: number) => void) {
    const ex = core.ex;
    this.ptr = typeof ex.sip_loc_ptr === "function" ? ex.sip_loc_ptr() >>> 0 : 0;
    this.cap = this.ptr !== 0 ? ex.sip_loc!(LocOp.Capacity, 0, 0) : 0;
  }

  /** Whether the core has the location service (server and b2bua boards). */
  get available(): boolean {
    return this.ptr !== 0 && this.cap > 0;
  }

  private op(op: LocOp, arg: number): number {
    return this.core.ex.sip_loc!(op, this.now(), arg);
  }

  private write(bytes: Buffer): number {
    if (bytes.length > this.cap) return -1;
    this.core.views();
    this.core.mem.set(bytes, this.ptr);
    return bytes.length;
  }

  read(index: number): Binding | null {
    const n = this.op(LocOp.Read, index);
    if (n <= 0) return null;
    this.core.views();
    return parseLine(index, this.core.mem.toString("latin1", this.ptr, this.ptr + n));
  }

  /** Every binding, in table order. */
  all(): Binding[] {
    const out: Binding[] = [];
    for (let b = this.op(LocOp.Next, 0); b >= 0; b = this.op(LocOp.Next, b + 1)) {
      const r = this.read(b);
      if (r) out.push(r);
    }
    return out;
  }

  /** The bindings of the AOR whose key (unescaped) is `key`. */
  of(key: Buffer): Binding[] {
    const out: Binding[] = [];
    const len = this.write(key);
    if (len <= 0) return out;
    for (let b = this.op(LocOp.First, len); b >= 0; b = this.op(LocOp.Sibling, b)) {
      const r = this.read(b);
      if (r) out.push(r);
    }
    return out;
  }

  /** Insert or refresh: the binding's index, -1 (malformed), -2 (no room). */
  put(line: string): number {
    const len = this.write(Buffer.from(line, "latin1"));
    if (len <= 0) return -1;
    const t = this.now();
    const r = this.op(LocOp.Put, len);
    this.after(t);
    return r;
  }

  /** Remove `AOR [CONTACT]` (AOR escaped as in a line): how many went, -1 (malformed). */
  remove(aor: string, contact?: string): number {
    const len = this.write(Buffer.from(contact ? `${aor} ${contact}` : aor, "latin1"));
    if (len <= 0) return -1;
    const t = this.now();
    const r = this.op(LocOp.Remove, len);
    this.after(t);
    return r;
  }
}

// ---- a small Redis client (RESP2 over one socket) ---------------------------------------------------

type Reply = string | number | null | Buffer | Reply[] | Error;

/** One reply at buf[at..]: [reply, next offset], or null when incomplete. */
function parseReply(buf: Buffer, at: number): [Reply, number] | null {
  if (at >= buf.length) return null;
  const eol = buf.indexOf("\r\n", at);
  if (eol < 0) return null;
  const t = String.fromCharCode(buf[at]!);
  const head = buf.toString("latin1", at + 1, eol);
  const next = eol + 2;
  switch (t) {
    case "+": return [head, next];
    case "-": return [new Error(head), next];
    case ":": return [Number(head), next];
    case "$": {
      const n = Number(head);
      if (n < 0) return [null, next];
      if (buf.length < next + n + 2) return null;
      return [buf.subarray(next, next + n), next + n + 2];
    }
    case "*": {
      const n = Number(head);
      if (n < 0) return [null, next];
      const out: Reply[] = [];
      let p = next;
      for (let i = 0; i < n; i++) {
        const r = parseReply(buf, p);
        if (!r) return null;
        out.push(r[0]);
        p = r[1];
      }
      return [out, p];
    }
  }
  throw new Error(`redis: unexpected reply type ${JSON.stringify(t)}`);
}

function encode(args: (string | Buffer)[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const a of args) {
    const b = typeof a === "string" ? Buffer.from(a, "latin1") : a;
    parts.push(Buffer.from(`$${b.length}\r\n`), b, Buffer.from("\r\n"));
  }
  return Buffer.concat(parts);
}

const MAX_REPLY_BYTES = 64 * 1024 * 1024; // a reply larger than this is a broken peer: the connection closes

class RedisConn {
  private sock: net.Socket | null = null;
  private buf: Buffer = Buffer.alloc(0);
  private waiting: { resolve: (r: Reply) => void; reject: (e: Error) => void }[] = [];
  onPush: ((r: Reply[]) => void) | null = null;
  onClose: (() => void) | null = null;

  constructor(private readonly host: string, private readonly port: number) {}

  connect(timeoutMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const s = net.connect({ host: this.host, port: this.port });
      const fail = (e: Error) => {
        s.destroy();
        reject(e);
      };
      s.setTimeout(timeoutMs, () => fail(new Error("connect timed out")));
      s.once("error", fail);
      s.once("connect", () => {
        s.setTimeout(0);
        s.off("error", fail);
        s.setNoDelay(true);
        this.sock = s;
        s.on("data", (d: Buffer) => this.onData(d));
        s.on("error", () => s.destroy());
        s.on("close", () => this.closed());
        resolve();
      });
    });
  }

  private onData(d: Buffer): void {
    this.buf = this.buf.length ? Buffer.concat([this.buf, d]) : d;
    if (this.buf.length > MAX_REPLY_BYTES) return void this.sock?.destroy();
    let at = 0;
    for (;;) {
      let r: [Reply, number] | null;
      try {
        r = parseReply(this.buf, at);
      } catch {
        return void this.sock?.destroy();
      }
      if (!r) break;
      at = r[1];
      const w = this.waiting.shift();
      if (w) {
        if (r[0] instanceof Error) w.reject(r[0]);
        else w.resolve(r[0]);
      } else if (Array.isArray(r[0]) && this.onPush) this.onPush(r[0]);
    }
    this.buf = at >= this.buf.length ? Buffer.alloc(0) : this.buf.subarray(at);
  }

  private closed(): void {
    this.sock = null;
    this.buf = Buffer.alloc(0);
    const w = this.waiting;
    this.waiting = [];
    for (const x of w) x.reject(new Error("connection closed"));
    this.onClose?.();
  }

  get connected(): boolean {
    return this.sock !== null;
  }

  /** A command; its reply (an error reply rejects). Rejects at once when not connected. */
  command(...args: (string | Buffer)[]): Promise<Reply> {
    const s = this.sock;
    if (!s) return Promise.reject(new Error("not connected"));
    return new Promise((resolve, reject) => {
      this.waiting.push({ resolve, reject });
      s.write(encode(args));
    });
  }

  /** SUBSCRIBE: its confirmation is a push, not a reply. */
  subscribe(channel: string): void {
    this.sock?.write(encode(["SUBSCRIBE", channel]));
  }

  close(): void {
    this.onClose = null;
    this.sock?.destroy();
    this.sock = null;
  }
}

// ---- the shared location service ---------------------------------------------------------------------

export interface LocationLog {
  (level: "info" | "warn" | "debug", msg: string, fields: Record<string, unknown>): void;
}

const RETRY_MS = 1000;
const CONNECT_TIMEOUT_MS = 2000;
const str = (r: Reply) => (Buffer.isBuffer(r) ? r.toString("latin1") : typeof r === "string" ? r : "");

export class SharedLocation {
  private cmd: RedisConn;
  private sub: RedisConn;
  private readonly channel: string;
  private readonly keyPrefix: string;
  private retry: NodeJS.Timeout | null = null;
  private stopped = false;
  private first = true;
  private up = false;
  private outageLogged = false;
  /** during a resync: the keys of others' bindings seen (scanned, or put by a message meanwhile) */
  private seen: Set<string> | null = null;
  /** counters for the stats line and /status */
  readonly stats = { locationPublished: 0, locationReceived: 0, locationLoaded: 0, locationRefused: 0, locationResyncs: 0 };

  constructor(
    private readonly bindings: Bindings,
    private readonly redis: { addr: string; port: number; auth?: { username?: string; password: string } },
    readonly instance: string,
    prefix: string,
    private readonly log: LocationLog,
  ) {
    this.channel = `${prefix}:loc`;
    this.keyPrefix = `${prefix}:loc:`;
    this.cmd = new RedisConn(redis.addr, redis.port);
    this.sub = new RedisConn(redis.addr, redis.port);
  }

  get connected(): boolean {
    return this.up;
  }

  /** Connects (and keeps reconnecting); resolves after the first attempt, whether it succeeded or not. */
  start(): Promise<void> {
    return this.attempt();
  }

  stop(): void {
    this.stopped = true;
    if (this.retry) clearTimeout(this.retry);
    this.retry = null;
    this.cmd.close();
    this.sub.close();
  }

  private async attempt(): Promise<void> {
    this.retry = null;
    if (this.stopped) return;
    try {
      this.cmd = new RedisConn(this.redis.addr, this.redis.port);
      this.sub = new RedisConn(this.redis.addr, this.redis.port);
      await this.cmd.connect(CONNECT_TIMEOUT_MS);
      await this.sub.connect(CONNECT_TIMEOUT_MS);
      const a = this.redis.auth;
      if (a) {
        // both connections, before anything else (a refusal: Redis's reason, never the password)
        const args = a.username !== undefined ? ["AUTH", a.username, a.password] : ["AUTH", a.password];
        await this.cmd.command(...args);
        await this.sub.command(...args);
      }
      this.sub.onPush = (m) => this.onMessage(m);
      this.sub.subscribe(this.channel); // first, so that nothing published during the reload is missed
      this.cmd.onClose = () => this.lost("connection closed");
      this.sub.onClose = () => this.lost("connection closed");
      await this.resync();
      this.up = true;
      this.outageLogged = false;
      this.log("info", "location service connected", { redis: `${this.redis.addr}:${this.redis.port}`, instance: this.instance, bindings: this.bindings.all().length });
    } catch (e) {
      this.lost((e as Error).message);
    }
  }

  private lost(why: string): void {
    if (this.stopped) return;
    this.cmd.close();
    this.sub.close();
    if (this.up || !this.outageLogged)
      this.log("warn", "location service unreachable; serving the bindings we have, retrying", { redis: `${this.redis.addr}:${this.redis.port}`, error: why });
    this.up = false;
    this.outageLogged = true;
    if (!this.retry) this.retry = setTimeout(() => void this.attempt(), RETRY_MS);
  }

  private key(b: Pick<Binding, "aor" | "contact">): string {
    return `${this.keyPrefix}${b.aor} ${b.contact}`;
  }

  /** What another instance's binding becomes here: shared, through that instance's route token. */
  private sharedLine(instance: string, index: number, b: Binding): string {
    return lineOf({ ...b, origin: "shared", source: "-", path: `<sip:rb${index.toString(16).padStart(8, "0")}@${instance};lr>` });
  }

  /** Every key: others' bindings put as shared (ours, on the first connection, as local again); shared
   * bindings whose key is gone removed; ours published again, keys of ours we no longer hold deleted. */
  private async resync(): Promise<void> {
    this.stats.locationResyncs++;
    // a put received while the keys are read counts as seen: its key may have been set after our SCAN
    // went past it (the subscription is another connection), and the binding is live
    const seen = (this.seen = new Set<string>());
    let cursor = "0";
    do {
      const r = (await this.cmd.command("SCAN", cursor, "MATCH", `${this.keyPrefix}*`, "COUNT", "500")) as Reply[];
      cursor = str(r[0]!);
      for (const k of r[1] as Reply[]) {
        const key = str(k);
        const [v, ttl] = await Promise.all([this.cmd.command("GET", key), this.cmd.command("PTTL", key)]);
        if (v === null || typeof ttl !== "number" || ttl <= 0) continue;
        const m = /^(\S+) (\d+) (.*)$/s.exec(str(v));
        const b = m ? parseLine(Number(m[2]), m[3]!) : null;
        if (!m || !b) continue;
        b.expires = Math.ceil(ttl / 1000);
        if (m[1] === this.instance) {
          if (this.first) this.putLine(lineOf({ ...b, origin: "local" }), "restored");
          else if (!this.holdsLocal(b)) await this.cmd.command("DEL", key); // removed here while Redis was away
          continue;
        }
        seen.add(this.key(b));
        this.putLine(this.sharedLine(m[1]!, b.index, b), "loaded");
      }
    } while (cursor !== "0");
    for (const b of this.bindings.all()) {
      if (b.origin === "shared" && !seen.has(this.key(b))) this.bindings.remove(b.aor, b.contact);
    }
    this.seen = null;
    this.first = false;
    for (const b of this.bindings.all()) if (b.origin === "local") this.publishPut(b);
  }

  private holdsLocal(b: Binding): boolean {
    return this.bindings.of(unescapeAor(b.aor)).some((x) => x.origin === "local" && x.contact === b.contact);
  }

  private putLine(line: string, how: "loaded" | "restored" | "received"): void {
    const r = this.bindings.put(line);
    if (r < 0) {
      this.stats.locationRefused++;
      this.log("warn", "location binding refused by the core", { line, result: r === -2 ? "no room" : "malformed" });
      return;
    }
    if (how === "received") this.stats.locationReceived++;
    else this.stats.locationLoaded++;
  }

  private publishPut(b: Binding): void {
    if (!this.cmd.connected) return;
    const value = `${this.instance} ${b.index} ${lineOf(b)}`;
    this.cmd.command("SET", this.key(b), value, "PX", String(Math.max(1, b.expires) * 1000)).catch(() => {});
    this.cmd.command("PUBLISH", this.channel, `put ${value}`).catch(() => {});
    this.stats.locationPublished++;
  }

  /** Our registrar added or refreshed a binding of the AOR with this key: publish its local bindings. */
  changed(key: Buffer): void {
    if (!this.up) return; // the resync at reconnection publishes them
    for (const b of this.bindings.of(key)) if (b.origin === "local") this.publishPut(b);
  }

  /** A binding of ours went (removed, expired, or removed by the management API). */
  gone(aor: string, contact: string): void {
    if (!this.up) return; // the resync at reconnection deletes what we no longer hold
    this.cmd.command("DEL", this.key({ aor, contact })).catch(() => {});
    this.cmd.command("PUBLISH", this.channel, `del ${this.instance} ${aor} ${contact}`).catch(() => {});
    this.stats.locationPublished++;
  }

  private onMessage(m: Reply[]): void {
    if (str(m[0]!) !== "message" || str(m[1]!) !== this.channel) return;
    const text = str(m[2]!);
    const put = /^put (\S+) (\d+) (.*)$/s.exec(text);
    if (put) {
      if (put[1] === this.instance) return;
      const b = parseLine(Number(put[2]), put[3]!);
      if (b) {
        this.seen?.add(this.key(b));
        this.putLine(this.sharedLine(put[1]!, b.index, b), "received");
      }
      return;
    }
    const del = /^del (\S+) (\S+) (\S+)$/.exec(text);
    if (del && del[1] !== this.instance) {
      // only a shared copy goes: a phone that registered here since keeps its local binding
      const held = this.bindings.of(unescapeAor(del[2]!)).find((x) => x.contact === del[3]);
      if (held?.origin === "shared") this.bindings.remove(del[2]!, del[3]);
      this.stats.locationReceived++;
    }
  }
}
