// The Node library API (bundled into build/node/index.mjs; types in host/node/index.d.ts):
//
//   import { createServer } from "sipling";
//   const server = createServer({ listen: ["udp:127.0.0.1:5060"], users: [{ username: "alice", password: "..." }] });
//   server.on(name, (e) => ...);     // an event by name (docs/ABI.md), or "event" for all
//   await server.start();            // binds, starts the core; resolves with the bound listeners
//   server.stats();                  // the core's counters, by name
//   await server.stop();
//
// The configuration object is what the JSON configuration file holds (docs/CONFIG.md): the same
// schema, checks and secure default as the CLI; a bad key throws a ConfigError naming it. Events are
// the core's (docs/ABI.md "Events"): each is emitted under its name and as "event". Logging is off unless `{ log: true }` (then JSON lines on
// stdout at the configuration's logLevel, like the CLI).
import { EventEmitter } from "node:events";
import { readFileSync } from "node:fs";
import { configFromObject, checkSecureDefault, ConfigError, type Config, type Listen } from "./config.js";
import { Logger } from "./log.js";
import { Host, DEREGISTER_GRACE_MS } from "./host.js";
import { UsageLog, eventFields, type EventRecord } from "./usage.js";
import { findWasm, wasmCandidates } from "./cores.js";
import { VERSION } from "./numbers.js";
import type { ServerOptions, Listening, SiplingEvent } from "./index.js";

export { ConfigError, VERSION };
export type { ServerOptions, Listening, SiplingEvent };
export { CoreError } from "./abi.js";
export { StartError } from "./host.js";

/** A logger that writes nothing (the library's default). */
class Silent extends Logger {
  constructor() {
    super("error");
  }
  override on(): boolean {
    return false;
  }
  override line(): void {}
}

function toEvent(ev: EventRecord, wall: (t: number) => number): SiplingEvent {
  const out: SiplingEvent = { name: ev.name, code: ev.code, time: Math.round(wall(ev.time)) };
  if (ev.source) out.source = ev.source;
  return eventFields(ev, out) as SiplingEvent;
}

export class SiplingServer extends EventEmitter {
  readonly config: Config;
  private readonly listens: Listen[];
  private readonly log: Logger;
  private host: Host | null = null;
  private usage: UsageLog | null = null;
  private state: "new" | "starting" | "running" | "stopped" = "new";

  constructor(config: unknown, options: ServerOptions = {}) {
    super();
    const { config: cfg, listens } = configFromObject(config ?? {});
    checkSecureDefault(cfg);
    this.config = cfg;
    this.listens = listens;
    this.log = options.log ? new Logger(cfg.logLevel) : new Silent();
  }

  /** Binds every listener and starts the core; resolves with the bound listeners. Once only. */
  async start(): Promise<Listening[]> {
    if (this.state !== "new") throw new Error(`sipling: start() on a server that is ${this.state}`);
    this.state = "starting";
    const cfg = this.config;
    const file = findWasm(cfg.board);
    if (!file) throw new Error(`sipling: no core for board "${cfg.board}" (looked at ${wasmCandidates(cfg.board).join(", ")})`);
    const mod = new WebAssembly.Module(readFileSync(file));
    if (cfg.usageLog !== undefined) {
      try {
        this.usage = new UsageLog(cfg.usageLog, (msg, fields) => this.log.error(msg, fields));
      } catch (e) {
        this.state = "stopped";
        const code = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
        throw new ConfigError("usageLog", `cannot open ${JSON.stringify(cfg.usageLog)} for appending (${code})`);
      }
    }
    const host = new Host(cfg, this.listens, this.log, this.usage);
    host.onEvent = (ev) => {
      const e = toEvent(ev, host.wall);
      this.emit(e.name, e);
      this.emit("event", e);
    };
    this.host = host;
    try {
      await host.bind();
      host.startCore(mod);
      await host.startOverloadControl();
    await host.startMetrics();
    await host.startLocation();
    } catch (e) {
      this.shut();
      throw e;
    }
    this.state = "running";
    this.log.info("running", { core: file, board: cfg.board, pid: process.pid });
    return host.listening();
  }

  /** The bound listeners (empty before start and after stop). */
  listening(): Listening[] {
    return this.state === "running" && this.host ? this.host.listening() : [];
  }

  /** The core's counters by name (docs/ABI.md "stats"); empty before start and after stop. */
  stats(): Record<string, number> {
    return this.host?.core?.stats() ?? {};
  }

  /** Takes back our registrations with providers (REGISTER with Expires: 0, waiting up to 2 s for the
   * answers, as the CLI does), then closes every socket and connection and flushes the usage log; the
   * server cannot be started again. */
  async stop(): Promise<void> {
    if (this.state === "stopped") return;
    if (this.state === "running" && this.host) await this.host.deregister(DEREGISTER_GRACE_MS);
    if (this.state === "stopped") return; // a second stop() ran meanwhile
    this.shut();
    this.log.flush();
  }

  private shut(): void {
    this.state = "stopped";
    if (this.host) this.host.close(); // closes the usage log too
    else this.usage?.close();
    this.host = null;
    this.usage = null;
  }
}

/** A server from a configuration object (the configuration file's content); see SiplingServer. */
export function createServer(config: unknown, options?: ServerOptions): SiplingServer {
  return new SiplingServer(config, options);
}
