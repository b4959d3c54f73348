// Command line and configuration file for the Node host.
//
//   sipling [--config FILE] [--listen udp|tcp:HOST:PORT]... [--domain NAME]...
//           [--log-level L] [--trace] [--usage-log FILE] [--print-config]
//   sipling --help
//
// The file is JSON whose keys mirror the flags (see USAGE). Flags override the file; repeated
// --listen / --domain flags replace the file's list. Every error names the key (or flag) and what
// was expected, and is raised as a ConfigError (the entry point prints it and exits with status 2).
import { readFileSync } from "node:fs";
import { isIP } from "node:net";
import { writeAddr } from "./addr.js";

export const USAGE = `sipling - SIP proxy and registrar (AssemblyScript core, Node host)

usage: sipling [--config FILE] [--listen udp|tcp:HOST:PORT]... [--domain NAME]...
               [--log-level error|warn|info|debug] [--trace] [--usage-log FILE]
               [--print-config]
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
  --usage-log FILE     append usage records (JSON lines) to FILE; overrides "usageLog"
  --print-config       print the effective configuration as JSON and exit (binds nothing;
                       passwords, HA1s and the nonce secret are shown as "***")
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
    "overloadControl": true,                         (refuse a share of new requests with 503
                                                      while datagrams wait > 30 ms to be read)
    "prefault": false,                               (touch all of the core's memory at start so
                                                      the OS commits it then: RSS fixed from start)
    "outboundProxy": "sip:proxy.example.org:5060",
    "board": "server",                               (which core build: server or micro)

    security:
    "realm": "sipling.example",                      (digest realm; default: the first domain)
    "users": [                                       (digest credentials; authentication is on
      {"username": "alice", "password": "secret"},    once a user exists; a username is a SIP
      {"username": "bob", "ha1": "<32 hex>"},          token of at most 60 bytes; give either a
      {"username": "carol", "ha1Sha256": "<64 hex>"}   password or ha1 and/or ha1Sha256)
    ],
    "allowUnauthenticated": false,                   (without "users", refuse to listen on a
                                                      non-loopback address unless true)
    "nonceSecret": "<hex, >= 32 digits>",            (default: 32 random bytes per start)
    "nonceExpiry": 300,                              (s; older nonces are answered stale=true)
    "access": {"allow": ["192.0.2.0/24"], "deny": ["198.51.100.7"],
               "trusted": ["10.0.0.0/8", "2001:db8::/32"],  (source networks, IPv4/IPv6 CIDR;
               "refuse": "403"},                    trusted skip auth and flood checks; refused
                                                     requests get 403/405/413/415 or "drop")
    "methods": {"block": ["MESSAGE", "SUBSCRIBE"]},  (answered 405)
    "denyUris": ["user@domain", "@domain", "@.domain", "user@"],  (Request-URIs refused;
                                                      "@.domain" also matches subdomains)
    "flood": {"limit": 0, "blockSeconds": 0,         (requests/s per source, 0 = off; s blocked)
              "action": "503",                       ("503" or "drop" for a flooding source)
              "authFailures": 0, "authWindow": 60},  (failures per source in s before it is
                                                      blocked, 0 = never)
    "body": {"maxBytes": 0,                          (largest body, 0 = no limit; else 413)
             "allowTypes": ["INVITE application/sdp", "* application/sdp"],
                                                     (per-method Content-Type allow-list, else 415)
             "messagePatterns": ["text", {"hex": "00ff"}]},  (MESSAGE bodies containing one
                                                      of these byte strings are refused, 403)
    "topologyHiding": false,                         (hide Via/Record-Route toward untrusted peers)
    "usageLog": "/var/log/sipling/usage.jsonl"       (usage records, see below)
  }

Usage records: with "usageLog" (or --usage-log) one JSON object per line is appended for each
registration (reg-add, reg-refresh, reg-remove, reg-expire), call (call-attempt, call-answer,
call-fail, call-end), auth-fail, policy-refusal, flood-blocked and table-full event, with the
fields that apply: time, event, aor, contact, expires, caller, callee, callId, source, result,
duration (s), cause, user, uri, rule, lost.

Logs are JSON lines on stdout. SIGINT/SIGTERM stop the server; SIGUSR2 logs the core's counters
as one line {"msg":"stats","signal":"SIGUSR2", ...} and keeps running (the same line is logged at
stop): txnInUse/txnCapacity (transactions), bindingsInUse/bindingCapacity, aorsInUse/aorCapacity,
msgPoolInUse/msgPoolBlocks and regPoolInUse/regPoolBlocks (pool blocks), dialogsInUse, received,
refused (parse errors), sent, refused503 (full table), eventsLost, floodSources, floodBlocked,
memoryBytes. Exit status: 0 ok, 1 runtime
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

/** A digest user: a password, or HA1(s) (MD5 and/or SHA-256). */
export interface User {
  username: string;
  password?: string;
  ha1?: string;
  ha1Sha256?: string;
}
export interface Access {
  allow?: string[];
  deny?: string[];
  trusted?: string[];
  refuse?: "403" | "drop";
}
export interface Flood {
  limit?: number;
  blockSeconds?: number;
  action?: "503" | "drop";
  authFailures?: number;
  authWindow?: number;
}
/** A MESSAGE body pattern: text (its UTF-8 bytes) or {hex} (raw bytes). */
export type Pattern = string | { hex: string };
export interface Body {
  maxBytes?: number;
  allowTypes?: string[];
  messagePatterns?: Pattern[];
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
  overloadControl: boolean;
  prefault: boolean;
  retryAfter: number;
  outboundProxy?: string;
  board: "server" | "micro";
  realm?: string; // set to the first domain once merged
  users?: User[];
  allowUnauthenticated: boolean;
  nonceSecret?: string;
  nonceExpiry?: number;
  access?: Access;
  methods?: { block?: string[] };
  denyUris?: string[];
  flood?: Flood;
  body?: Body;
  topologyHiding: boolean;
  usageLog?: string;
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
  /** An error about the configuration as a whole: "config error: " + text. */
  static plain(text: string): ConfigError {
    const e = new ConfigError("", "");
    e.message = `config error: ${text}`;
    return e;
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
    overloadControl: true,
    prefault: false,
    retryAfter: 5,
    board: "server",
    allowUnauthenticated: false,
    topologyHiding: false,
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
      case "overloadControl":
      case "prefault":
      case "recordRoute":
      case "allowUnauthenticated":
      case "topologyHiding":
        if (typeof v !== "boolean") bad(k, "expected true or false", v);
        cfg[k] = v;
        break;
      case "realm":
        cfg.realm = checkRealm(k, v);
        break;
      case "users":
        cfg.users = parseUsers(k, v);
        break;
      case "nonceSecret":
        if (typeof v !== "string" || !/^[0-9a-fA-F]*$/.test(v) || v.length % 2 !== 0 || v.length < 32 || v.length > 128)
          bad(k, "expected a hex string of 32..128 digits (16..64 bytes; even length)", typeof v === "string" ? `${v.length} characters (not shown)` : v);
        cfg.nonceSecret = v as string;
        break;
      case "nonceExpiry":
        cfg.nonceExpiry = int(k, v, 1);
        break;
      case "access":
        cfg.access = parseAccess(k, v);
        break;
      case "methods": {
        const m: { block?: string[] } = {};
        for (const [mk, mv] of Object.entries(obj(k, v))) {
          if (mk !== "block") throw new ConfigError(`${k}.${mk}`, "unknown key (expected block)");
          m.block = strList(`${k}.${mk}`, mv, checkToken);
        }
        cfg.methods = m;
        break;
      }
      case "denyUris":
        cfg.denyUris = strList(k, v, checkDenyUri);
        break;
      case "flood":
        cfg.flood = parseFlood(k, v);
        break;
      case "body":
        cfg.body = parseBody(k, v);
        break;
      case "usageLog":
        if (typeof v !== "string" || v.length === 0) bad(k, "expected a file name", v);
        cfg.usageLog = v;
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

// ---- security settings ------------------------------------------------------------------------

/** RFC 3261 token (method names, usernames here, Content-Type parts). */
const TOKEN = /^[A-Za-z0-9\-.!%*_+`'~]+$/;
const HEX32 = /^[0-9a-fA-F]{32}$/;
const HEX64 = /^[0-9a-fA-F]{64}$/;
const REALM_MAX = 64; // bytes (core: REALM_MAX)
const USERNAME_MAX = 60; // bytes (core: USER_NAME_MAX)
const PATTERN_MAX = 64; // bytes per MESSAGE body pattern (core: BODY_PATTERN_MAX)
const PATTERNS_MAX = 16; // patterns (core: BODY_PATTERNS)
const REFUSE = ["403", "drop"] as const;
const FLOOD_ACTIONS = ["503", "drop"] as const;
/** What --print-config shows instead of a secret. */
export const MASK = "***";

const checkToken = (s: string, k: string) => {
  if (!TOKEN.test(s)) bad(k, "expected a method token (letters, digits, -.!%*_+`'~)", s);
};

function checkRealm(k: string, v: unknown): string {
  if (typeof v !== "string" || v.length === 0 || Buffer.byteLength(v) > REALM_MAX || !/^[\x20-\x7e]+$/.test(v) || /["\\]/.test(v))
    bad(k, `expected printable ASCII text of 1..${REALM_MAX} bytes without '"' or '\\'`, v);
  return v;
}

function parseUsers(k: string, v: unknown): User[] {
  if (!Array.isArray(v)) bad(k, `expected an array of {"username", "password" | "ha1" | "ha1Sha256"}`, v);
  const seen = new Set<string>();
  return v.map((raw, i) => {
    const key = `${k}[${i}]`;
    const o = obj(key, raw);
    const u: Partial<User> = {};
    for (const [uk, uv] of Object.entries(o)) {
      const kk = `${key}.${uk}`;
      switch (uk) {
        case "username":
          if (typeof uv !== "string" || !TOKEN.test(uv) || Buffer.byteLength(uv) > USERNAME_MAX)
            bad(kk, `expected a SIP token of 1..${USERNAME_MAX} bytes (letters, digits, -.!%*_+\`'~; no ':')`, uv);
          if (seen.has(uv)) throw new ConfigError(kk, `duplicate user ${show(uv)}`);
          seen.add(uv);
          u.username = uv;
          break;
        case "password":
          // never echo a password back, even a malformed one
          if (typeof uv !== "string" || uv.length === 0 || /[\x00-\x1f\x7f]/.test(uv))
            bad(kk, "expected a non-empty string without control characters", typeof uv === "string" ? MASK : uv);
          u.password = uv;
          break;
        case "ha1":
          if (typeof uv !== "string" || !HEX32.test(uv))
            bad(kk, "expected 32 hex digits (MD5 of username:realm:password)", typeof uv === "string" ? `${uv.length} characters` : uv);
          u.ha1 = uv.toLowerCase();
          break;
        case "ha1Sha256":
          if (typeof uv !== "string" || !HEX64.test(uv))
            bad(kk, "expected 64 hex digits (SHA-256 of username:realm:password)", typeof uv === "string" ? `${uv.length} characters` : uv);
          u.ha1Sha256 = uv.toLowerCase();
          break;
        default:
          throw new ConfigError(kk, "unknown key (expected username, password, ha1, ha1Sha256)");
      }
    }
    if (u.username === undefined) throw new ConfigError(key, `expected a "username"`);
    const hasHa1 = u.ha1 !== undefined || u.ha1Sha256 !== undefined;
    if (u.password === undefined && !hasHa1)
      throw new ConfigError(key, `user ${show(u.username)} needs a "password" or an "ha1" / "ha1Sha256"`);
    if (u.password !== undefined && hasHa1)
      throw new ConfigError(key, `user ${show(u.username)}: give either "password" or "ha1"/"ha1Sha256", not both`);
    return u as User;
  });
}

/** IPv4 a.b.c.d[/0..32] or IPv6 [/0..128] (no zone, no brackets). */
export function isCidr(s: string): boolean {
  const slash = s.indexOf("/");
  const addr = slash < 0 ? s : s.slice(0, slash);
  const fam = isIP(addr);
  if (fam === 0 || addr.includes("%")) return false;
  if (slash < 0) return true;
  const bits = s.slice(slash + 1);
  if (!/^\d{1,3}$/.test(bits)) return false;
  return Number(bits) <= (fam === 4 ? 32 : 128);
}

const checkCidr = (s: string, k: string) => {
  if (!isCidr(s)) bad(k, "expected an IPv4 or IPv6 address or CIDR (a.b.c.d[/0-32], x:x::x[/0-128])", s);
};

function parseAccess(k: string, v: unknown): Access {
  const a: Access = {};
  for (const [ak, av] of Object.entries(obj(k, v))) {
    const kk = `${k}.${ak}`;
    if (ak === "allow" || ak === "deny" || ak === "trusted") a[ak] = strList(kk, av, checkCidr);
    else if (ak === "refuse") {
      if (!REFUSE.includes(av as never)) bad(kk, `expected "403" or "drop"`, av);
      a.refuse = av as Access["refuse"];
    } else throw new ConfigError(kk, "unknown key (expected allow, deny, trusted, refuse)");
  }
  return a;
}

/** Request-URI deny entries: "user@domain", "@domain", "@.domain", "user@". */
const checkDenyUri = (s: string, k: string) => {
  const at = s.indexOf("@");
  if (at < 0 || s.indexOf("@", at + 1) >= 0 || s.length === 1 || /[\s<>";,?]/.test(s) || s.endsWith("@."))
    bad(k, `expected "user@domain", "@domain", "@.domain" (and subdomains) or "user@"`, s);
};

function parseFlood(k: string, v: unknown): Flood {
  const f: Flood = {};
  for (const [fk, fv] of Object.entries(obj(k, v))) {
    const kk = `${k}.${fk}`;
    switch (fk) {
      case "limit":
      case "blockSeconds":
      case "authFailures":
        f[fk] = int(kk, fv, 0);
        break;
      case "authWindow":
        f.authWindow = int(kk, fv, 1);
        break;
      case "action":
        if (!FLOOD_ACTIONS.includes(fv as never)) bad(kk, `expected "503" or "drop"`, fv);
        f.action = fv as Flood["action"];
        break;
      default:
        throw new ConfigError(kk, "unknown key (expected limit, blockSeconds, action, authFailures, authWindow)");
    }
  }
  return f;
}

const TYPE_RULE = /^(\*|[A-Za-z0-9\-.!%*_+`'~]+) [A-Za-z0-9\-.!%*_+`'~]+\/[A-Za-z0-9\-.!%*_+`'~]+$/;

/** The bytes of a MESSAGE body pattern. */
export function patternBytes(p: Pattern): Buffer {
  return typeof p === "string" ? Buffer.from(p, "utf8") : Buffer.from(p.hex, "hex");
}

function parseBody(k: string, v: unknown): Body {
  const b: Body = {};
  for (const [bk, bv] of Object.entries(obj(k, v))) {
    const kk = `${k}.${bk}`;
    switch (bk) {
      case "maxBytes":
        b.maxBytes = int(kk, bv, 0);
        break;
      case "allowTypes":
        b.allowTypes = strList(kk, bv, (s, key) => {
          if (!TYPE_RULE.test(s)) bad(key, `expected "METHOD type/subtype" (METHOD may be *)`, s);
        });
        break;
      case "messagePatterns": {
        if (!Array.isArray(bv)) bad(kk, `expected an array of strings or {"hex": "..."}`, bv);
        if (bv.length > PATTERNS_MAX) bad(kk, `expected at most ${PATTERNS_MAX} patterns`, `${bv.length}`);
        b.messagePatterns = bv.map((p, i) => {
          const key = `${kk}[${i}]`;
          let out: Pattern;
          if (typeof p === "string") out = p;
          else if (typeof p === "object" && p !== null && !Array.isArray(p) && Object.keys(p).length === 1 &&
                   typeof (p as { hex?: unknown }).hex === "string" && /^([0-9a-fA-F]{2})+$/.test((p as { hex: string }).hex))
            out = { hex: (p as { hex: string }).hex };
          else return bad(key, `expected a string or {"hex": "<even number of hex digits>"}`, p);
          const n = patternBytes(out).length;
          if (n === 0 || n > PATTERN_MAX) bad(key, `expected 1..${PATTERN_MAX} bytes`, `${n} bytes`);
          return out;
        });
        break;
      }
      default:
        throw new ConfigError(kk, "unknown key (expected maxBytes, allowTypes, messagePatterns)");
    }
  }
  return b;
}

/** A loopback listen address: 127.0.0.0/8, ::1 (also IPv4-mapped), or the name localhost. */
export function isLoopback(l: Listen): boolean {
  const h = l.host.toLowerCase();
  if (l.family === 0) return h === "localhost" || h === "localhost." || h.endsWith(".localhost") || h.endsWith(".localhost.");
  if (l.family === 4) return h.startsWith("127.");
  if (h.startsWith("::ffff:")) return /^::ffff:127\./.test(h);
  const b = Buffer.alloc(16);
  return writeAddr(h, b, 0) === 6 && b.subarray(0, 15).every((x) => x === 0) && b[15] === 1;
}

/**
 * The secure default, checked before binding: no "users" and a listen address that is not
 * loopback would make an open relay, unless "allowUnauthenticated" says so.
 */
export function checkSecureDefault(cfg: Config, listens: Listen[]): void {
  if ((cfg.users?.length ?? 0) > 0 || cfg.allowUnauthenticated) return;
  const open = listens.find((l) => !isLoopback(l));
  if (open)
    throw ConfigError.plain(
      `listening on ${open.spec} with no "users" would let anyone register and relay calls; ` +
        `add "users" (and "realm") or set "allowUnauthenticated": true`,
    );
}

/** The configuration as --print-config shows it: secrets replaced by "***". */
export function printable(cfg: Config): Config {
  const out: Config = { ...cfg };
  if (cfg.users)
    out.users = cfg.users.map((u) => {
      const m: User = { username: u.username };
      if (u.password !== undefined) m.password = MASK;
      if (u.ha1 !== undefined) m.ha1 = MASK;
      if (u.ha1Sha256 !== undefined) m.ha1Sha256 = MASK;
      return m;
    });
  if (cfg.nonceSecret !== undefined) out.nonceSecret = MASK;
  return out;
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
  let usageLog: string | undefined;

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
      case "--usage-log": {
        const v = value();
        if (v.length === 0) bad("--usage-log", "expected a file name", v);
        usageLog = v;
        break;
      }
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
  if (usageLog !== undefined) cfg.usageLog = usageLog;
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
  if (cfg.realm === undefined) cfg.realm = checkRealm("realm (default: the first domain)", cfg.domains[0]);
  return { help, printConfig, config: cfg, listens };
}

