// Command line and configuration file for the Node host.
//
//   sipling [--config FILE] [--listen udp|tcp:HOST:PORT]... [--domain NAME]...
//           [--log-level L] [--trace] [--print-config]
//   sipling --help
//
// The file is JSON whose keys mirror the flags (see USAGE). Flags override the file; repeated
// --listen / --domain flags replace the file's list. Every error names the key (or flag) and what
// was expected, and is raised as a ConfigError (the entry point prints it and exits with status 2).
import { readFileSync } from "node:fs";
import { isIP } from "node:net";

export const USAGE = `sipling - SIP proxy and registrar (AssemblyScript core, Node host)

usage: sipling [--config FILE] [--listen udp|tcp:HOST:PORT]... [--domain NAME]...
               [--log-level error|warn|info|debug] [--trace] [--print-config]
       sipling --help

options:
  --config FILE        read a JSON configuration file (keys below); flags override it
  --listen SPEC        listen on SPEC = udp:HOST:PORT or tcp:HOST:PORT (repeatable; IPv6 as
                       [::1]); replaces the file's "listen" list
                       (default: udp:127.0.0.1:5060 and tcp:127.0.0.1:5060)
  --domain NAME        a domain this server is responsible for (repeatable); replaces the
                       file's "domains" (default: localhost plus the listen addresses' hosts)
  --log-level L        error, warn, info (default) or debug
  --trace              log every SIP message received and sent, in full
  --print-config       print the effective configuration as JSON and exit (binds nothing)
  --help               print this help and exit

configuration file (JSON; unknown keys are errors):
  {
    "listen": ["udp:127.0.0.1:5060", "tcp:[::1]:5060"],
    "domains": ["example.org"],
    "logLevel": "info",
    "trace": false,
    "timers": {"t1": 500, "t2": 4000, "t4": 5000, "timerC": 180000},        (ms)
    "registrar": {"minExpires": 60, "maxExpires": 3600, "defaultExpires": 3600,
                  "maxContactsPerAor": 8},                                   (s, count)
    "recordRoute": true,
    "retryAfter": 5,                                                         (s, on 503)
    "outboundProxy": "sip:proxy.example.org:5060",
    "board": "server"                                (which core build: server or micro)
  }

Logs are JSON lines on stdout. SIGINT/SIGTERM stop the server. Exit status: 0 ok, 1 runtime
error (e.g. a socket that cannot be bound, a core without the ABI), 2 usage/configuration error.
Environment: SIPLING_WASM=FILE loads that core instead of the bundled one.
`;

export type LogLevel = "error" | "warn" | "info" | "debug";
export const LOG_LEVELS: readonly LogLevel[] = ["error", "warn", "info", "debug"];
export type Proto = "udp" | "tcp";

/** One listen address, parsed. host is unbracketed ("::1"); family 4/6, or 0 for a host name. */
export interface Listen {
  proto: Proto;
  host: string;
  port: number;
  family: 0 | 4 | 6;
  spec: string;
}

export interface Timers { t1: number; t2: number; t4: number; timerC: number }
export interface Registrar {
  minExpires: number;
  maxExpires: number;
  defaultExpires: number;
  maxContactsPerAor?: number; // unset = the board's default
}

/** The effective configuration (what --print-config shows; valid as a config file itself). */
export interface Config {
  listen: string[];
  domains: string[];
  logLevel: LogLevel;
  trace: boolean;
  timers: Timers;
  registrar: Registrar;
  recordRoute: boolean;
  retryAfter: number;
  outboundProxy?: string;
  board: "server" | "micro";
}

export interface Cli {
  help: boolean;
  printConfig: boolean;
  config: Config;
  listens: Listen[];
}

export class ConfigError extends Error {
  constructor(key: string, what: string, public readonly usage = false) {
    super(`${usage ? "usage error" : "config error"}: "${key}": ${what}`);
  }
}

const BOARDS = ["server", "micro"] as const;
const U31 = 0x7fffffff;

function show(v: unknown): string {
  if (v === undefined) return "nothing";
  try {
    return JSON.stringify(v);
  } catch {
    return String(v);
  }
}

const LISTEN_EXPECTED = `expected "udp|tcp:HOST:PORT"`;
const HOSTNAME = /^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$/;

/** Parses "udp:1.2.3.4:5060", "tcp:[::1]:5060" or "udp:localhost:5060"; null if malformed. */
export function parseListen(spec: string): Listen | null {
  const m = /^(udp|tcp):(\[([^\]]+)\]|[^:[\]]+):(\d{1,5})$/.exec(spec);
  if (!m) return null;
  const port = Number(m[4]);
  if (port > 65535) return null;
  const host = m[3] ?? m[2];
  const fam = isIP(host);
  if (m[3] !== undefined && fam !== 6) return null; // brackets only around IPv6
  if (fam === 0 && !HOSTNAME.test(host)) return null;
  return { proto: m[1] as Proto, host, port, family: fam as 0 | 4 | 6, spec };
}

const DOMAIN = /^[^\s"<>;,]+$/;
const PROXY = /^sips?:[^\s<>"]+$/i;

function defaults(): Config {
  return {
    listen: ["udp:127.0.0.1:5060", "tcp:127.0.0.1:5060"],
    domains: [],
    logLevel: "info",
    trace: false,
    timers: { t1: 500, t2: 4000, t4: 5000, timerC: 180000 },
    registrar: { minExpires: 60, maxExpires: 3600, defaultExpires: 3600 },
    recordRoute: true,
    retryAfter: 5,
    board: "server",
  };
}

function int(key: string, v: unknown, min: number, max = U31): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max)
    return bad(key, `expected an integer in ${min}..${max}`, v);
  return v;
}

function bad(key: string, expected: string, got: unknown): never {
  throw new ConfigError(key, `${expected}, got ${show(got)}`);
}

function obj(key: string, v: unknown): Record<string, unknown> {
  if (typeof v !== "object" || v === null || Array.isArray(v)) bad(key, "expected an object", v);
  return v as Record<string, unknown>;
}

function strList(key: string, v: unknown, check: (s: string, k: string) => void): string[] {
  if (!Array.isArray(v)) bad(key, "expected an array of strings", v);
  return v.map((s, i) => {
    const k = `${key}[${i}]`;
    if (typeof s !== "string") bad(k, "expected a string", s);
    check(s, k);
    return s;
  });
}

const checkListen = (s: string, k: string) => {
  if (!parseListen(s)) bad(k, LISTEN_EXPECTED, s);
};
const checkDomain = (s: string, k: string) => {
  if (!DOMAIN.test(s)) bad(k, "expected a domain name (no spaces, quotes, <>;,)", s);
};

/** Applies a parsed config-file object onto cfg, checking every key. */
export function applyFile(cfg: Config, raw: unknown): void {
  const o = obj("(file)", raw);
  for (const [k, v] of Object.entries(o)) {
    switch (k) {
      case "listen":
        cfg.listen = strList(k, v, checkListen);
        if (cfg.listen.length === 0) bad(k, "expected at least one listen address", v);
        break;
      case "domains":
        cfg.domains = strList(k, v, checkDomain);
        break;
      case "logLevel":
        if (!LOG_LEVELS.includes(v as LogLevel)) bad(k, `expected one of ${LOG_LEVELS.join("|")}`, v);
        cfg.logLevel = v as LogLevel;
        break;
      case "trace":
      case "recordRoute":
        if (typeof v !== "boolean") bad(k, "expected true or false", v);
        cfg[k] = v;
        break;
      case "retryAfter":
        cfg.retryAfter = int(k, v, 0);
        break;
      case "outboundProxy":
        if (typeof v !== "string" || !PROXY.test(v)) bad(k, `expected a SIP URI "sip:host[:port]"`, v);
        cfg.outboundProxy = v;
        break;
      case "board":
        if (!BOARDS.includes(v as never)) bad(k, `expected one of ${BOARDS.join("|")}`, v);
        cfg.board = v as Config["board"];
        break;
      case "timers": {
        for (const [tk, tv] of Object.entries(obj(k, v))) {
          const key = `timers.${tk}`;
          if (tk !== "t1" && tk !== "t2" && tk !== "t4" && tk !== "timerC")
            throw new ConfigError(key, "unknown key (expected t1, t2, t4, timerC)");
          cfg.timers[tk] = int(key, tv, 1);
        }
        break;
      }
      case "registrar": {
        for (const [rk, rv] of Object.entries(obj(k, v))) {
          const key = `registrar.${rk}`;
          if (rk === "maxContactsPerAor") cfg.registrar.maxContactsPerAor = int(key, rv, 1);
          else if (rk === "minExpires" || rk === "maxExpires" || rk === "defaultExpires")
            cfg.registrar[rk] = int(key, rv, 0);
          else
            throw new ConfigError(
              key,
              "unknown key (expected minExpires, maxExpires, defaultExpires, maxContactsPerAor)",
            );
        }
        break;
      }
      default:
        throw new ConfigError(k, "unknown key");
    }
  }
}

/** Cross-key checks, run on the merged configuration. */
function checkMerged(cfg: Config): void {
  const r = cfg.registrar;
  if (r.minExpires > r.maxExpires)
    throw new ConfigError("registrar.minExpires", `must not exceed registrar.maxExpires (${r.maxExpires}), got ${r.minExpires}`);
  if (r.defaultExpires > r.maxExpires || r.defaultExpires < r.minExpires)
    throw new ConfigError(
      "registrar.defaultExpires",
      `must lie in registrar.minExpires..maxExpires (${r.minExpires}..${r.maxExpires}), got ${r.defaultExpires}`,
    );
  if (cfg.timers.t1 > cfg.timers.t2)
    throw new ConfigError("timers.t1", `must not exceed timers.t2 (${cfg.timers.t2}), got ${cfg.timers.t1}`);
}

/** Default domains: localhost plus each listen host (IPv6 bracketed), wildcards skipped. */
export function defaultDomains(listens: Listen[]): string[] {
  const out = ["localhost"];
  for (const l of listens) {
    if (l.host === "0.0.0.0" || l.host === "::") continue;
    const d = l.family === 6 ? `[${l.host}]` : l.host;
    if (!out.includes(d)) out.push(d);
  }
  return out;
}

function readConfigFile(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? String(e);
    throw new ConfigError("--config", `cannot read file ${show(file)} (${code})`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new ConfigError("--config", `file ${show(file)} is not valid JSON (${(e as Error).message})`);
  }
}

/** Parses argv (without node and script), reads the file, merges, validates. */
export function parseCli(argv: string[]): Cli {
  let help = false;
  let printConfig = false;
  let file: string | undefined;
  const listen: string[] = [];
  const domains: string[] = [];
  let logLevel: string | undefined;
  let trace = false;

  for (let i = 0; i < argv.length; i++) {
    let a = argv[i];
    let inline: string | undefined;
    const eq = a.startsWith("--") ? a.indexOf("=") : -1;
    if (eq > 0) {
      inline = a.slice(eq + 1);
      a = a.slice(0, eq);
    }
    const value = (): string => {
      if (inline !== undefined) return inline;
      const v = argv[++i];
      if (v === undefined) throw new ConfigError(a, "expected a value after it", true);
      return v;
    };
    const noValue = () => {
      if (inline !== undefined) throw new ConfigError(a, `takes no value, got ${show(inline)}`, true);
    };
    switch (a) {
      case "--help":
      case "-h":
        noValue();
        help = true;
        break;
      case "--print-config":
        noValue();
        printConfig = true;
        break;
      case "--trace":
        noValue();
        trace = true;
        break;
      case "--config":
        file = value();
        break;
      case "--listen": {
        const v = value();
        if (!parseListen(v)) bad("--listen", LISTEN_EXPECTED, v);
        listen.push(v);
        break;
      }
      case "--domain": {
        const v = value();
        checkDomain(v, "--domain");
        domains.push(v);
        break;
      }
      case "--log-level": {
        const v = value();
        if (!LOG_LEVELS.includes(v as LogLevel)) bad("--log-level", `expected one of ${LOG_LEVELS.join("|")}`, v);
        logLevel = v;
        break;
      }
      default:
        throw new ConfigError(a, "unknown option (see sipling --help)", true);
    }
  }

  const cfg = defaults();
  if (help) return { help, printConfig, config: cfg, listens: [] };
  if (file !== undefined) applyFile(cfg, readConfigFile(file));
  if (listen.length) cfg.listen = listen;
  if (domains.length) cfg.domains = domains;
  if (logLevel) cfg.logLevel = logLevel as LogLevel;
  if (trace) cfg.trace = true;
  checkMerged(cfg);
  const listens = cfg.listen.map((s) => parseListen(s)!);
  const seen = new Set<string>();
  cfg.listen.forEach((s, i) => {
    const l = listens[i];
    const key = `${l.proto}:${l.host}:${l.port}`;
    if (l.port !== 0 && seen.has(key)) throw new ConfigError(`listen[${i}]`, `duplicate listen address ${show(s)}`);
    seen.add(key);
  });
  if (cfg.domains.length === 0) cfg.domains = defaultDomains(listens);
  return { help, printConfig, config: cfg, listens };
}

