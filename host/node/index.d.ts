// Types of the sipling Node library (host/node/api.ts, bundled into build/node/index.mjs). Written by
// hand around the generated api-types.d.ts (configuration and event names, from the schema and abi.json);
// tests/api/types.test.mjs compiles a user's module against it with tsc --strict.
import { EventEmitter } from "node:events";
import type { SiplingConfig, SiplingUser, SiplingSide, SiplingEventName } from "./api-types.js";

export type { SiplingConfig, SiplingUser, SiplingSide, SiplingEventName };

/** The release (package.json "version"). */
export declare const VERSION: string;

/** A configuration key with a bad value, or a key this host does not know; `message` names the key. */
export declare class ConfigError extends Error {
  readonly key: string;
}
/** The core file lacks an export this host needs (a core from another release). */
export declare class CoreError extends Error {}
/** A listener that cannot be bound (address in use, not an address of this machine). */
export declare class StartError extends Error {}

export interface ServerOptions {
  /** JSON log lines on stdout at the configuration's logLevel, like the CLI (default false). */
  log?: boolean;
}

/** A bound listener; a listen address with port 0 shows the port it got. */
export interface Listening {
  proto: "udp" | "tcp" | "tls" | "ws" | "wss";
  /** the bound numeric address */
  host: string;
  port: number;
  /** host:port as written into Via and Record-Route (IPv6 bracketed) */
  advertised: string;
}

/**
 * An event: the fields of its log line. Registrations carry aor, contact, callId and expires (s);
 * calls caller, callee, callId (and durationMs at call-end); auth-fail user and uri; policy-refusal
 * caller, uri and rule. `time` is wall-clock ms, `source` "udp:1.2.3.4:5060" when known, `code` the
 * SIP status the core answered (0 when none).
 */
export interface SiplingEvent {
  name: SiplingEventName | string;
  code: number;
  time: number;
  source?: string;
  /** events the core had to drop before this one (its queue was full) */
  lost?: number;
  aor?: string;
  contact?: string;
  callId?: string;
  expires?: number;
  caller?: string;
  callee?: string;
  cause?: string;
  durationMs?: number;
  user?: string;
  uri?: string;
  rule?: string;
  [field: string]: unknown;
}

export declare class SiplingServer extends EventEmitter {
  /** Checks the configuration like the CLI does (throws ConfigError naming the key). */
  constructor(config: SiplingConfig, options?: ServerOptions);
  /** Binds every listener and starts the core; resolves with the bound listeners. Once only. */
  start(): Promise<Listening[]>;
  /** Takes back our registrations with providers (Expires: 0; up to 2 s for the answers), then closes
   * every socket and connection and flushes the usage log; the server cannot be restarted. */
  stop(): Promise<void>;
  /** The bound listeners (empty before start and after stop). */
  listening(): Listening[];
  /** The core's counters by name (docs/ABI.md "Stats"), empty before start and after stop. */
  stats(): Record<string, number>;

  on(event: "event" | SiplingEventName, listener: (e: SiplingEvent) => void): this;
  once(event: "event" | SiplingEventName, listener: (e: SiplingEvent) => void): this;
  off(event: "event" | SiplingEventName, listener: (e: SiplingEvent) => void): this;
}

/** A server from a configuration object: what the JSON configuration file holds (docs/CONFIG.md). */
export declare function createServer(config: SiplingConfig, options?: ServerOptions): SiplingServer;
