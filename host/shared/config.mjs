// @ts-check
// The configuration of the Node host and of the firmware bridge: command line, file, validation,
// --print-config, --help and the calls that apply it to the core, all by walking a host's generated
// schema table (host/node/schema.ts, host/firmware/abi.mjs; both from host/shared/config.json). Plain
// JavaScript so the bridge runs without a build; the Node host's TypeScript imports it as is.
//
//   sipling [--config FILE] [--listen udp|tcp|tls:HOST:PORT]... [--domain NAME]... [--log-level L]
//           [--trace] [--usage-log FILE] [--print-config]          (flags: the schema's "flag"s)
//
// Flags override the file; a repeated list flag (--listen, --domain) replaces the file's list. Every
// error is a ConfigError naming the key (or flag) and what was expected; secrets are never echoed.
// The C (host/c/config.c) and AssemblyScript (host/wasi/config.ts) validators follow the same rules
// and messages.
import { readFileSync } from "node:fs";
import { isIP } from "node:net";

/**
 * @typedef {"node" | "native" | "wasi" | "firmware"} Host
 * @typedef {{
 *   path: string, type: string, check?: string, values?: readonly string[], min?: number, max?: number,
 *   minItems?: number, maxItems?: number, unique?: boolean, maxBytes?: number, minDigits?: number,
 *   maxDigits?: number, default?: unknown, defaultDoc?: string, unit?: string, flag?: string, le?: string,
 *   core?: "set" | "add", coreName?: string, coreId?: number, secret?: boolean, hosts: readonly string[],
 *   doc: string }} SchemaKey
 * @typedef {{ proto: "udp" | "tcp" | "tls" | "ws" | "wss", host: string, port: number, family: 0 | 4 | 6, spec: string }} Listen
 * @typedef {{ username: string, password?: string, ha1?: string, ha1Sha256?: string }} User
 * @typedef {string | { hex: string }} Pattern
 * @typedef {{ prefix: string, to: string, strip: number, prepend: string }} SideRule
 * @typedef {{ name: string, role: "registrar" | "trunk", route: string, host?: string, address?: string,
 *   username?: string, password?: string, routes?: SideRule[], failover?: string,
 *   identity?: { pai?: "passthrough" | "drop" | "from", number?: string }, drop?: string[], transport?: "udp" | "tcp" | "tls",
 *   accept?: "address" | "digest", called?: "ruri" | "to" | "p-called-party-id",
 *   register?: boolean | { expires?: number, mode?: "gin", block?: string }, monitor?: number, down?: "try" | "failover" | "refuse", mediaRelay?: boolean, relayInterface?: string,
 *   passthrough?: { user: string, username: string, password: string }[] }} Side
 * @typedef {{
 *   schema: readonly SchemaKey[], host: Host, name: string,
 *   defaults?: Record<string, unknown>,
 *   extraFlags?: Record<string, { value: boolean, repeat?: boolean, doc: string, meta?: string }>,
 * }} HostSpec
 * @typedef {{ spec: HostSpec, values: Map<string, unknown>, given: Set<string>, listens: Listen[] }} Config
 * @typedef {{ help: boolean, version: boolean, printConfig: boolean, file?: string, object?: unknown, flags: Map<string, unknown>,
 *   extra: Record<string, string | string[] | boolean> }} Args
 * @typedef {{ key: SchemaKey, name: string, op: "set" | "add", id: number, value?: number, shown?: unknown,
 *   bytes?: Buffer, text?: string, secret: boolean }} CoreOp
 */

/** What --print-config shows instead of a secret. */
export const MASK = "***";

export class ConfigError extends Error {
  /** @param {string} key @param {string} what @param {boolean} [usage] */
  constructor(key, what, usage = false) {
    super(`${usage ? "usage error" : "config error"}: "${key}": ${what}`);
    /** the key (or flag) at fault */
    this.key = key;
  }
  /** An error about the configuration as a whole: "config error: " + text. @param {string} text */
  static plain(text) {
    const e = new ConfigError("", "");
    e.message = `config error: ${text}`;
    return e;
  }
}

/** @param {unknown} v */
function show(v) {
  if (v === undefined) return "nothing";
  try {
    return JSON.stringify(v);
  } catch {
    return String(v);
  }
}

/** @param {string} key @param {string} expected @param {unknown} got @returns {never} */
function bad(key, expected, got) {
  throw new ConfigError(key, `${expected}, got ${show(got)}`);
}

/** "one of a|b|c" for word values, '"403" or "drop"' otherwise. @param {readonly string[]} values */
export function expectEnum(values) {
  if (values.every((v) => /^[A-Za-z]/.test(v))) return `expected one of ${values.join("|")}`;
  const q = values.map((v) => JSON.stringify(v));
  return `expected ${q.slice(0, -1).join(", ")} or ${q[q.length - 1]}`;
}

// ---- checks (named by the schema) ---------------------------------------------------------------

const HOSTNAME = /^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$/;
const TOKEN = /^[A-Za-z0-9\-.!%*_+`'~]+$/;
const DOMAIN = /^[^\s"<>;,]+$/;
const SIP_URI = /^sips?:[^\s<>"]+$/i;
const TYPE_RULE = /^(\*|[A-Za-z0-9\-.!%*_+`'~]+) [A-Za-z0-9\-.!%*_+`'~]+\/[A-Za-z0-9\-.!%*_+`'~]+$/;
const REALM_MAX = 64; // bytes (core: REALM_MAX)
const USERNAME_MAX = 60; // bytes (core: USER_NAME_MAX)

/**
 * Listen protocols and address forms per host: the WASI host and the firmware have UDP only; SIP over
 * WebSocket (RFC 7118: ws, and wss over TLS) is the Node host's only.
 */
const LISTEN_FORMS = {
  node: { protos: ["udp", "tcp", "tls", "ws", "wss"], names: true },
  native: { protos: ["udp", "tcp", "tls"], names: true },
  wasi: { protos: ["udp"], names: false },
  firmware: { protos: ["udp"], names: false },
};

/** @param {Host} host */
export function listenExpected(host) {
  return `expected "${LISTEN_FORMS[host].protos.join("|")}:HOST:PORT"`;
}

/**
 * Parses "udp:1.2.3.4:5060", "tcp:[::1]:5060", "ws:127.0.0.1:8080" or "udp:localhost:5060"; null if malformed.
 * @param {string} spec @returns {Listen | null}
 */
export function parseListen(spec) {
  const m = /^(udp|tcp|tls|ws|wss):(\[([^\]]+)\]|[^:[\]]+):(\d{1,5})$/.exec(spec);
  if (!m) return null;
  const port = Number(m[4]);
  if (port > 65535) return null;
  const host = m[3] ?? m[2];
  const fam = isIP(host);
  if (m[3] !== undefined && fam !== 6) return null; // brackets only around IPv6
  if (fam === 0 && !HOSTNAME.test(host)) return null;
  return { proto: /** @type {"udp" | "tcp" | "tls" | "ws" | "wss"} */ (m[1]), host, port, family: /** @type {0 | 4 | 6} */ (fam), spec };
}

/**
 * One check per name of the schema: (value, key to name, host) -> nothing, or a ConfigError.
 * @type {Record<string, (s: string, k: string, host: Host) => void>}
 */
export const CHECKS = {
  listen(s, k, host) {
    const l = parseListen(s);
    const form = LISTEN_FORMS[host];
    if (!l) bad(k, listenExpected(host), s);
    if (!form.protos.includes(l.proto) && (l.proto === "ws" || l.proto === "wss"))
      throw new ConfigError(k, `ws/wss listen is supported by the Node host only (the ${host} host: ${form.protos.join(", ")}), got ${show(s)}`);
    if (!form.protos.includes(l.proto)) bad(k, `${listenExpected(host)} (the ${host} host supports UDP only)`, s);
    if (!form.names && l.family === 0 && l.host !== "localhost") bad(k, `${listenExpected(host)} with a numeric address`, s);
  },
  domain(s, k) {
    if (!DOMAIN.test(s)) bad(k, "expected a domain name (no spaces, quotes, <>;,)", s);
  },
  cidr(s, k) {
    if (!isCidr(s)) bad(k, "expected an IPv4 or IPv6 address or CIDR (a.b.c.d[/0-32], x:x::x[/0-128])", s);
  },
  token(s, k) {
    if (!TOKEN.test(s)) bad(k, "expected a method token (letters, digits, -.!%*_+`'~)", s);
  },
  denyUri(s, k) {
    const at = s.indexOf("@");
    if (at < 0 || s.indexOf("@", at + 1) >= 0 || s.length === 1 || /[\s<>";,?]/.test(s) || s.endsWith("@."))
      bad(k, `expected "user@domain", "@domain", "@.domain" (and subdomains) or "user@"`, s);
  },
  typeRule(s, k) {
    if (!TYPE_RULE.test(s)) bad(k, `expected "METHOD type/subtype" (METHOD may be *)`, s);
  },
  sipUri(s, k) {
    if (!SIP_URI.test(s)) bad(k, `expected a SIP URI "sip:host[:port]"`, s);
  },
  realm(s, k) {
    if (s.length === 0 || Buffer.byteLength(s) > REALM_MAX || !/^[\x20-\x7e]+$/.test(s) || /["\\]/.test(s))
      bad(k, `expected printable ASCII text of 1..${REALM_MAX} bytes without '"' or '\\'`, s);
  },
  file(s, k) {
    if (s.length === 0 || s.includes("\0")) bad(k, "expected a file name", s);
  },
  dnsServer(s, k) {
    if (!parseDnsServer(s)) bad(k, DNS_SERVER_EXPECTED, s);
  },
  ipPort(s, k) {
    if (!parseIpPort(s)) bad(k, IP_PORT_EXPECTED, s);
  },
  ginBlock(s, k) {
    const m = /^([^\s@%;<>]{1,32}) (\S+)$/.exec(s);
    if (!m || !isNumberBlock(m[2])) bad(k, GIN_BLOCK_EXPECTED, s);
  },
  secret(s, k) {
    if (s.length === 0 || Buffer.byteLength(s) > 255 || /[\0\r\n]/.test(s)) throw new ConfigError(k, `expected 1..255 bytes without NUL, CR or LF, got "${s.length} characters (not shown)"`);
  },
  tlsPeer(s, k) {
    if (!parseTlsPeer(s)) bad(k, TLS_PEER_EXPECTED, s);
  },
  relayAddress(s, k) {
    const r = parseRelayAddress(s);
    if (typeof r === "string") bad(k, r, s);
  },
  relayNetwork(s, k) {
    const m = /^(\S+) (\S+)$/.exec(s);
    if (!m || !isCidr(m[1]) || !RELAY_NAME.test(m[2])) bad(k, RELAY_NETWORK_EXPECTED, s);
  },
};

const TLS_PEER_EXPECTED = `expected "CIDR require|none [NAME]" (an IPv4 or IPv6 address or CIDR, then require or none, then optionally a DNS name: "192.0.2.10 require sip.carrier.example")`;

/** A DNS name (letters, digits, hyphens; dot-separated labels of 1..63; 1..253 bytes). */
const DNS_NAME = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

/**
 * An entry of tls.peers, "CIDR require|none [NAME]", as { cidr, require, name }; null if malformed.
 * @param {string} s @returns {{ cidr: string, require: boolean, name: string | undefined } | null}
 */
export function parseTlsPeer(s) {
  const w = s.split(" ");
  if (w.length < 2 || w.length > 3 || !isCidr(w[0]) || (w[1] !== "require" && w[1] !== "none")) return null;
  if (w.length === 3 && !DNS_NAME.test(w[2])) return null;
  return { cidr: w[0], require: w[1] === "require", name: w[2] };
}

const RELAY_NAME = /^[A-Za-z0-9_-]{1,16}$/;
const RELAY_ADDRESS_EXPECTED = `expected "[NAME/]ADDRESS[!ADVERTISED]" (rtpengine's interface syntax: "10.0.0.5", "10.0.0.5!203.0.113.5", "trunk/10.0.0.5!203.0.113.5"; NAME letters, digits, - and _, 1..16)`;
const RELAY_NETWORK_EXPECTED = `expected "CIDR NAME": a network and the name of a relay interface ("192.168.0.0/16 inside")`;

/**
 * A "mediaRelay.addresses" entry, "[NAME/]ADDRESS[!ADVERTISED]" (rtpengine's interface=), as
 * { name, bind, advertise, family } ("" the name of entries without one); or what was expected (text).
 * @param {string} s @returns {{ name: string, bind: string, advertise: string, family: 4 | 6 } | string}
 */
export function parseRelayAddress(s) {
  const slash = s.indexOf("/");
  let name = "";
  let rest = s;
  if (slash >= 0 && isIP(s.slice(0, slash)) === 0) {
    // a NAME (an address before the slash is one with a prefix)
    if (!RELAY_NAME.test(s.slice(0, slash))) return RELAY_ADDRESS_EXPECTED;
    name = s.slice(0, slash);
    rest = s.slice(slash + 1);
  }
  if (rest.includes("/")) return "expected an address without a prefix";
  const [bind, advertise = bind, more] = rest.split("!");
  const fam = isIP(bind);
  if (more !== undefined || fam === 0 || isIP(advertise) === 0 || bind.includes("%") || advertise.includes("%")) return RELAY_ADDRESS_EXPECTED;
  if (isIP(advertise) !== fam) return `expected the advertised address of the bound address's family (IPv${fam})`;
  return { name, bind, advertise, family: /** @type {4 | 6} */ (fam) };
}

/**
 * The relay's interfaces from "mediaRelay.addresses", in the order their names first appear (the
 * first the default; index = the core's interface number): each with its addresses by family.
 * @param {string[]} list @returns {{ name: string, 4?: { bind: string, advertise: string }, 6?: { bind: string, advertise: string } }[]}
 */
export function relayInterfaces(list) {
  /** @type {{ name: string, 4?: { bind: string, advertise: string }, 6?: { bind: string, advertise: string } }[]} */
  const out = [];
  for (const s of list) {
    const r = parseRelayAddress(s);
    if (typeof r === "string") continue;
    let f = out.find((x) => x.name === r.name);
    if (!f) out.push((f = { name: r.name }));
    f[r.family] ??= { bind: r.bind, advertise: r.advertise };
  }
  return out;
}

const GIN_BLOCK_EXPECTED = `expected "ACCOUNT BLOCK": an AOR user part and a number block ("acme +155500xx": one x per trailing digit)`;

const DNS_SERVER_EXPECTED = "expected an IP address with an optional port (192.0.2.53, 192.0.2.53:5353, ::1, [::1]:5353)";

/**
 * "192.0.2.53", "192.0.2.53:5353", "::1", "[::1]" or "[::1]:5353" as { addr, family, port } (port 53
 * when absent); null if malformed.
 * @param {string} s @returns {{ addr: string, family: 4 | 6, port: number } | null}
 */
export function parseDnsServer(s) {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+))(?::(\d{1,5}))?$/.exec(s);
  const addr = m ? m[1] ?? m[2] : s;
  const port = m?.[3] !== undefined ? Number(m[3]) : 53;
  const fam = isIP(addr);
  if (fam === 0 || addr.includes("%") || port === 0 || port > 65535) return null;
  if (m && (m[2] !== undefined ? fam !== 4 : fam !== 6)) return null; // brackets around IPv6 only
  if (!m && fam !== 6) return null; // a bare IPv6 (its colons defeat the pattern)
  return { addr, family: /** @type {4 | 6} */ (fam), port };
}

const IP_PORT_EXPECTED = `expected "IP:PORT" with a numeric address (127.0.0.1:9090, [::1]:9090)`;

/**
 * "127.0.0.1:9090" or "[::1]:9090" as { addr, family, port } (port 0..65535, 0: any free port); null if
 * malformed (a name, no port, IPv6 without brackets, a zone).
 * @param {string} s @returns {{ addr: string, family: 4 | 6, port: number } | null}
 */
export function parseIpPort(s) {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(s);
  if (!m) return null;
  const addr = m[1] ?? m[2];
  const port = Number(m[3]);
  const fam = isIP(addr);
  if (fam === 0 || addr.includes("%") || port > 65535) return null;
  if (m[2] !== undefined ? fam !== 4 : fam !== 6) return null; // brackets around IPv6 only
  return { addr, family: /** @type {4 | 6} */ (fam), port };
}

/** What a string check expects, for a value that is not even a string. @param {string} check @param {Host} host */
function stringExpected(check, host) {
  return {
    listen: listenExpected(host), domain: "expected a domain name", cidr: "expected an IPv4 or IPv6 address or CIDR",
    token: "expected a method token", denyUri: `expected "user@domain", "@domain", "@.domain" or "user@"`,
    typeRule: `expected "METHOD type/subtype"`, sipUri: `expected a SIP URI "sip:host[:port]"`,
    realm: "expected printable ASCII text", file: "expected a file name", dnsServer: DNS_SERVER_EXPECTED, ginBlock: GIN_BLOCK_EXPECTED, tlsPeer: TLS_PEER_EXPECTED, secret: "expected 1..255 bytes without NUL, CR or LF",
    ipPort: IP_PORT_EXPECTED, relayAddress: RELAY_ADDRESS_EXPECTED, relayNetwork: RELAY_NETWORK_EXPECTED,
  }[check] ?? "expected a string";
}

/** IPv4 a.b.c.d[/0..32] or IPv6 [/0..128] (no zone, no brackets). @param {string} s */
export function isCidr(s) {
  const slash = s.indexOf("/");
  const addr = slash < 0 ? s : s.slice(0, slash);
  const fam = isIP(addr);
  if (fam === 0 || addr.includes("%")) return false;
  if (slash < 0) return true;
  const bits = s.slice(slash + 1);
  if (!/^\d{1,3}$/.test(bits)) return false;
  return Number(bits) <= (fam === 4 ? 32 : 128);
}

/** @param {string} k @param {unknown} v @returns {Record<string, unknown>} */
function object(k, v) {
  if (typeof v !== "object" || v === null || Array.isArray(v)) bad(k, "expected an object", v);
  return /** @type {Record<string, unknown>} */ (v);
}

/** @param {string} k @param {unknown} v @returns {User[]} */
function checkUsers(k, v) {
  if (!Array.isArray(v)) bad(k, `expected an array of {"username", "password" | "ha1" | "ha1Sha256"}`, v);
  const seen = new Set();
  return v.map((raw, i) => {
    const key = `${k}[${i}]`;
    const o = object(key, raw);
    /** @type {Partial<User>} */
    const u = {};
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
          if (typeof uv !== "string" || !/^[0-9a-fA-F]{32}$/.test(uv))
            bad(kk, "expected 32 hex digits (MD5 of username:realm:password)", typeof uv === "string" ? `${uv.length} characters` : uv);
          u.ha1 = uv.toLowerCase();
          break;
        case "ha1Sha256":
          if (typeof uv !== "string" || !/^[0-9a-fA-F]{64}$/.test(uv))
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
    return /** @type {User} */ (u);
  });
}

const SIDE_ADDRESS = /^(?:(\d{1,3}(?:\.\d{1,3}){3})|\[([0-9a-fA-F:.]+)\]):(\d{1,5})$/;
// a trunk found by DNS: a host name (labels of letters, digits and -, at least one letter) with or without
// :PORT; at most SIDE_NAME_MAX bytes in all (the core's registrant keeps 48)
const SIDE_NAME = /^(?=[^:]*[A-Za-z])([A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*)(?::(\d{1,5}))?$/;
const SIDE_NAME_MAX = 48;
export const SIDE_ADDRESS_EXPECTED = "expected IP:PORT or a DNS name, NAME or NAME:PORT, of at most 48 bytes (IPv6 as [::1]:5060; a name without a port is located by RFC 3263: NAPTR, SRV, then its address on 5060, 5061 for tls)";

/**
 * A trunk's address as a DNS name ({ name, port }: port 0 when it has none, RFC 3263), or null for IP:PORT.
 * @param {string | undefined} a
 */
export function trunkName(a) {
  const m = a === undefined ? null : SIDE_NAME.exec(a);
  return m ? { name: m[1].toLowerCase(), port: Number(m[2] ?? 0) } : null;
}
/**
 * Whether trunk side sd's transport is the host's choice by RFC 3263 §4.1: its address a name without a
 * port and no "transport" given. The host then resolves the name's NAPTR records (else its SRV records)
 * among the transports it listens on, gives the core "transport SIDE PROTO" (UDP when DNS names none),
 * and the side's registrations, configured with the option "auto", wait for that.
 * @param {{ role?: string, address?: string, transport?: string }} sd
 */
export function autoTransport(sd) {
  const n = sd.role === "trunk" && sd.transport === undefined ? trunkName(sd.address) : null;
  return n !== null && n.port === 0;
}
const SIDE_KEYS = "name, role, route, host, address, transport, accept, called, username, password, routes, failover, identity, drop, register, monitor, down, passthrough, mediaRelay, relayInterface";
const PASSTHROUGH_KEYS = "user, username, password"; // a trunk's "passthrough" entries
// a trunk's "called": where the number of a call from it is read (b2bua/call.ts Called), as the core's word
const CALLED = { ruri: "ruri", to: "to", "p-called-party-id": "pcpi" };
// a trunk's "down": a call toward it while it is down (no registration in force, pings unanswered: Down)
const DOWN_POLICIES = ["try", "failover", "refuse"];
const MONITOR_SECONDS = [5, 3600]; // a trunk's "monitor": seconds between its OPTIONS pings
const REGISTER_EXPIRES = [60, 86400, 3600]; // a trunk's "register": {"expires"}: least, most, default (s)
const NUMBER_BLOCK_EXPECTED = `expected a number block: "+" (optional) and digits, then one "x" per trailing digit, 1..32 bytes ("+155500xx")`;

/** Whether number n is one of block b (the core's blockMatch). @param {string} n @param {string} b */
function numberInBlock(n, b) {
  return n.length === b.length && [...b].every((c, i) => (c === "x" ? /[0-9]/.test(n[i]) : c === n[i]));
}

/** A number block (the core's util/numblock.ts): [+]digits then x's, 1..32 bytes. @param {string} s */
export function isNumberBlock(s) {
  return s.length >= 1 && s.length <= 32 && /^\+?[0-9]*x*$/.test(s);
}
const PAI_MODES = ["passthrough", "drop", "from"];
const DROP_NAMES = 8; // config.ts B2B_DROP_NAMES
// the headers each B2BUA leg writes itself (wire/emit.ts legOwned), long and compact names: never passed,
// so never worth a drop list's place
const LEG_OWNED = new Set(["via", "v", "from", "f", "to", "t", "call-id", "i", "cseq", "max-forwards", "contact", "m",
  "content-length", "l", "route", "record-route", "path", "authorization", "proxy-authorization", "www-authenticate",
  "proxy-authenticate", "require", "proxy-require", "supported", "k", "unsupported", "timestamp"]);
const RULE_KEYS = "prefix, to, strip, prepend";
const AFFIX = /^[A-Za-z0-9+*#._-]{0,24}$/;

/** A side's routing rules: [{"prefix", "to", "strip"?, "prepend"?}]. @param {string} k @param {unknown} v @returns {SideRule[]} */
function checkRules(k, v) {
  if (!Array.isArray(v)) bad(k, `expected an array of {${RULE_KEYS}}`, v);
  if (v.length > 16) bad(k, "expected at most 16 rules", `${v.length}`);
  return v.map((raw, i) => {
    const kk = `${k}[${i}]`;
    const o = object(kk, raw);
    /** @type {Partial<SideRule>} */
    const r = { strip: 0, prepend: "" };
    for (const [rk, rv] of Object.entries(o)) {
      const f = `${kk}.${rk}`;
      if (rk === "prefix" || rk === "prepend") {
        if (typeof rv !== "string" || !AFFIX.test(rv)) bad(f, "expected 0..24 of 0-9 A-Z a-z + * # . _ -", rv);
        r[rk] = rv;
      } else if (rk === "to") {
        if (typeof rv !== "string") bad(f, "expected the name of another side", rv);
        r.to = rv;
      } else if (rk === "strip") {
        if (typeof rv !== "number" || !Number.isInteger(rv) || rv < 0 || rv > 32) bad(f, "expected an integer in 0..32", rv);
        r.strip = rv;
      } else throw new ConfigError(f, `unknown key (expected ${RULE_KEYS})`);
    }
    if (r.prefix === undefined) throw new ConfigError(kk, `expected a "prefix" ("" for any number)`);
    if (r.to === undefined) throw new ConfigError(kk, `expected a "to" (the side the call goes to)`);
    return { prefix: r.prefix, to: r.to, strip: r.strip ?? 0, prepend: r.prepend ?? "" };
  });
}

/** A trunk's password (its own or a pass-through account's): never echoed back; no white space (the
 * core's side text is space-separated). @param {string} f @param {unknown} v @returns {string} */
function checkSidePassword(f, v) {
  if (typeof v !== "string" || !/^[\x21-\x7e]{1,64}$/.test(v)) bad(f, "expected 1..64 printable ASCII characters without spaces", typeof v === "string" ? MASK : v);
  return /** @type {string} */ (v);
}

/**
 * B2BUA sides: [{"name", "role": "registrar"|"trunk", "route": NAME, "host"?, "address"? }] (a trunk's
 * address IP:PORT, IPv6 as [::1]:5060; at most one registrar side; every route names another side).
 * @param {SchemaKey} key @param {string} k @param {unknown} v @returns {Side[]}
 */
function checkSides(key, k, v) {
  if (!Array.isArray(v)) bad(k, `expected an array of {${SIDE_KEYS}}`, v);
  const most = key.maxItems ?? Infinity;
  if (v.length > most) bad(k, `expected at most ${most} sides`, `${v.length}`);
  const sides = v.map((raw, i) => {
    const kk = `${k}[${i}]`;
    const o = object(kk, raw);
    /** @type {Partial<Side>} */
    const sd = {};
    for (const [sk, sv] of Object.entries(o)) {
      const f = `${kk}.${sk}`;
      switch (sk) {
        case "name":
          if (typeof sv !== "string" || !/^[A-Za-z0-9_-]{1,32}$/.test(sv)) bad(f, "expected a name of 1..32 letters, digits, - or _", sv);
          sd.name = sv;
          break;
        case "role":
          if (sv !== "registrar" && sv !== "trunk") bad(f, `expected "registrar" or "trunk"`, sv);
          sd.role = sv;
          break;
        case "route":
          if (typeof sv !== "string") bad(f, "expected the name of another side", sv);
          sd.route = sv;
          break;
        case "host":
          if (typeof sv !== "string" || !/^[^\s"<>;,]{1,64}$/.test(sv)) bad(f, "expected host[:port] of 1..64 bytes (no spaces, quotes, <>;,)", sv);
          sd.host = sv;
          break;
        case "address": {
          const m = typeof sv === "string" ? SIDE_ADDRESS.exec(sv) : null;
          const n = typeof sv === "string" && !m ? SIDE_NAME.exec(sv) : null;
          const ok = m ? Number(m[3]) >= 1 && Number(m[3]) <= 65535 && (m[1] ? isIP(m[1]) === 4 : isIP(m[2]) === 6)
            : n !== null && (n[2] === undefined || (Number(n[2]) >= 1 && Number(n[2]) <= 65535)) && sv.length <= SIDE_NAME_MAX;
          if (!ok) bad(f, SIDE_ADDRESS_EXPECTED, sv);
          sd.address = /** @type {string} */ (sv);
          break;
        }
        case "transport":
          // how calls to a trunk go (b2bua/call.ts: its requests to us come on whatever it uses)
          if (sv !== "udp" && sv !== "tcp" && sv !== "tls") bad(f, `expected "udp", "tcp" or "tls"`, sv);
          sd.transport = sv;
          break;
        case "accept":
          // how a trunk's calls are known: by its address, or also by its credentials from anywhere
          if (sv !== "address" && sv !== "digest") bad(f, `expected "address" or "digest"`, sv);
          sd.accept = sv;
          break;
        case "called":
          // where a trunk's calls have the number called (a call to our registered Contact has our account
          // in its Request-URI; providers put the number in To or P-Called-Party-ID)
          if (typeof sv !== "string" || !Object.hasOwn(CALLED, sv)) bad(f, `expected "ruri", "to" or "p-called-party-id"`, sv);
          sd.called = sv;
          break;
        case "username":
          if (typeof sv !== "string" || !TOKEN.test(sv) || Buffer.byteLength(sv) > 32) bad(f, "expected a SIP token of 1..32 bytes", sv);
          sd.username = sv;
          break;
        case "routes":
          sd.routes = checkRules(f, sv);
          break;
        case "failover":
          if (typeof sv !== "string") bad(f, "expected the name of another side", sv);
          sd.failover = sv;
          break;
        case "identity": {
          // what we assert toward this side (b2bua/call.ts PaiMode)
          // and "number": a trunk's calling number for callers with none of its gin block (b2bua/call.ts callerNumber)
          if (typeof sv !== "object" || sv === null || Array.isArray(sv)) bad(f, "expected an object {pai, number}", sv);
          for (const [ik, iv] of Object.entries(sv)) {
            if (ik === "pai") {
              if (typeof iv !== "string" || !PAI_MODES.includes(iv)) bad(`${f}.pai`, `expected "passthrough", "drop" or "from"`, iv);
            } else if (ik === "number") {
              if (typeof iv !== "string" || iv.includes("x") || !isNumberBlock(iv)) bad(`${f}.number`, `expected a number: "+" (optional) and digits, 1..32 bytes ("+15550100")`, iv);
            } else {
              throw new ConfigError(`${f}.${ik}`, "unknown key (expected pai, number)");
            }
          }
          sd.identity = /** @type {Side["identity"]} */ ({ ...sv });
          break;
        }
        case "drop":
          // header names not passed to this side's leg
          if (!Array.isArray(sv)) bad(f, `expected an array of at most ${DROP_NAMES} header names`, sv);
          if (sv.length > DROP_NAMES) bad(f, `expected at most ${DROP_NAMES} header names`, `${sv.length}`);
          sv.forEach((h, j) => {
            if (typeof h !== "string" || !TOKEN.test(h) || h.length > 32) bad(`${f}[${j}]`, "expected a header name (a SIP token of 1..32 bytes)", h);
            if (LEG_OWNED.has(h.toLowerCase())) throw new ConfigError(`${f}[${j}]`, `${show(h)} is written by each leg itself and never passes (nothing to drop)`);
          });
          sd.drop = [...sv];
          break;
        case "register": {
          // a trunk that registers with its provider (the core's registrant): true, or {"expires": N, "mode":
          // "gin" (RFC 6140, SIPconnect registration mode), "block": the numbers provisioned}
          if (typeof sv !== "boolean" && (typeof sv !== "object" || sv === null || Array.isArray(sv))) bad(f, `expected true, false or {"expires": N, "mode": "gin", "block": BLOCK}`, sv);
          if (typeof sv === "object") {
            for (const [rk, rv] of Object.entries(sv)) {
              if (rk === "mode") {
                if (rv !== "gin") bad(`${f}.mode`, `expected "gin"`, rv);
              } else if (rk === "block") {
                if (typeof rv !== "string" || !isNumberBlock(rv)) bad(`${f}.block`, NUMBER_BLOCK_EXPECTED, rv);
              } else if (rk !== "expires") {
                throw new ConfigError(`${f}.${rk}`, "unknown key (expected expires, mode, block)");
              } else if (!Number.isInteger(rv) || rv < REGISTER_EXPIRES[0] || rv > REGISTER_EXPIRES[1]) {
                bad(`${f}.expires`, `expected an integer in ${REGISTER_EXPIRES[0]}..${REGISTER_EXPIRES[1]}`, rv);
              }
            }
            if (sv.block !== undefined && sv.mode !== "gin") throw new ConfigError(`${f}.block`, `a number block is for "mode": "gin"`);
            sd.register = { ...sv };
          } else sd.register = sv;
          break;
        }
        case "passthrough":
          // individual registration pass-through: a local user's own account with the provider
          if (!Array.isArray(sv)) bad(f, `expected an array of {${PASSTHROUGH_KEYS}}`, sv);
          sd.passthrough = sv.map((e, j) => {
            const ek = `${f}[${j}]`;
            const o = object(ek, e);
            for (const [pk, pv] of Object.entries(o)) {
              if (pk === "user" || pk === "username") {
                if (typeof pv !== "string" || !TOKEN.test(pv) || Buffer.byteLength(pv) > 32) bad(`${ek}.${pk}`, "expected a SIP token of 1..32 bytes", pv);
              } else if (pk === "password") {
                checkSidePassword(`${ek}.${pk}`, pv);
              } else throw new ConfigError(`${ek}.${pk}`, `unknown key (expected ${PASSTHROUGH_KEYS})`);
            }
            for (const need of ["user", "username", "password"]) if (o[need] === undefined) throw new ConfigError(ek, `expected a "${need}"`);
            return /** @type {{ user: string, username: string, password: string }} */ ({ ...o });
          });
          break;
        case "monitor":
          // static mode: the trunk pinged with OPTIONS every N s, down while a ping goes unanswered
          if (!Number.isInteger(sv) || sv < MONITOR_SECONDS[0] || sv > MONITOR_SECONDS[1]) bad(f, `expected an integer in ${MONITOR_SECONDS[0]}..${MONITOR_SECONDS[1]} (seconds between OPTIONS pings)`, sv);
          sd.monitor = sv;
          break;
        case "mediaRelay":
          // the media of this side's calls through our relay (media/relay.ts; "mediaRelay" keys)
          if (typeof sv !== "boolean") bad(f, "expected true or false", sv);
          sd.mediaRelay = sv;
          break;
        case "relayInterface":
          // the relay interface of the legs facing this side (a NAME of "mediaRelay.addresses": checkRelayInterfaces)
          if (typeof sv !== "string" || !RELAY_NAME.test(sv)) bad(f, "expected the NAME of a relay interface (letters, digits, - and _, 1..16)", sv);
          sd.relayInterface = sv;
          break;
        case "down":
          if (typeof sv !== "string" || !DOWN_POLICIES.includes(sv)) bad(f, `expected "try", "failover" or "refuse"`, sv);
          sd.down = sv;
          break;
        case "password":
          sd.password = checkSidePassword(f, sv);
          break;
        default:
          throw new ConfigError(f, `unknown key (expected ${SIDE_KEYS})`);
      }
    }
    for (const need of ["name", "role", "route"]) if (sd[need] === undefined) throw new ConfigError(kk, `expected a "${need}"`);
    if (sd.role === "trunk" && sd.address === undefined) throw new ConfigError(kk, `a trunk needs its "address" (IP:PORT or a DNS name)`);
    if (sd.role === "registrar" && sd.address !== undefined) throw new ConfigError(`${kk}.address`, "a registrar side has no address (its phones register)");
    if (sd.role === "registrar" && sd.transport !== undefined) throw new ConfigError(`${kk}.transport`, "a registrar side's calls go where each phone registered from, on its transport");
    if (sd.role === "registrar" && sd.accept !== undefined) throw new ConfigError(`${kk}.accept`, "a registrar side's calls are known by where each phone registered from");
    if (sd.role === "registrar" && sd.called !== undefined) throw new ConfigError(`${kk}.called`, "a registrar side's calls have the number in the Request-URI (its phones dial it)");
    if (sd.accept === "digest" && sd.username === undefined) throw new ConfigError(`${kk}.accept`, `a trunk that takes calls by digest needs its "username" and "password"`);
    if ((sd.username === undefined) !== (sd.password === undefined)) throw new ConfigError(kk, `give both "username" and "password" (a trunk's credentials), or neither`);
    if (sd.role === "registrar" && sd.username !== undefined) throw new ConfigError(`${kk}.username`, "credentials are a trunk's (for its proxy's challenges)");
    if (sd.register !== undefined && sd.register !== false) {
      if (sd.role === "registrar") throw new ConfigError(`${kk}.register`, "a registrar side does not register (its phones register with us)");
      if (sd.username === undefined) throw new ConfigError(`${kk}.register`, `a trunk that registers needs its "username" and "password"`);
    }
    if (sd.role === "registrar" && sd.passthrough !== undefined) throw new ConfigError(`${kk}.passthrough`, "pass-through accounts are a trunk's (the provider's accounts of our users)");
    if (sd.identity?.number !== undefined) {
      if (sd.role === "registrar") throw new ConfigError(`${kk}.identity.number`, "a calling number is a trunk's (for callers with none of its number block)");
      const block = typeof sd.register === "object" ? sd.register.block : undefined;
      if (block !== undefined && !numberInBlock(sd.identity.number, block))
        throw new ConfigError(`${kk}.identity.number`, `${show(sd.identity.number)} is not a number of the trunk's block ${show(block)}`);
    }
    if (sd.role === "registrar" && sd.monitor !== undefined) throw new ConfigError(`${kk}.monitor`, "a registrar side's phones are not pinged (a trunk is)");
    if (sd.down !== undefined) {
      if (sd.role === "registrar") throw new ConfigError(`${kk}.down`, "a registrar side is never down (a trunk is, when it registers or is monitored)");
      if (sd.monitor === undefined && (sd.register === undefined || sd.register === false))
        throw new ConfigError(`${kk}.down`, `a trunk is known down only when it registers ("register") or is pinged ("monitor")`);
      if (sd.down === "failover" && sd.failover === undefined)
        throw new ConfigError(`${kk}.down`, `"failover" needs the side's "failover" (the side its calls go to meanwhile)`);
    }
    return /** @type {Side} */ (sd);
  });
  const names = sides.map((sd) => sd.name);
  sides.forEach((sd, i) => {
    if (names.indexOf(sd.name) !== i) throw new ConfigError(`${k}[${i}].name`, `duplicate side ${show(sd.name)}`);
    if (sd.route === sd.name) throw new ConfigError(`${k}[${i}].route`, "a side routes its calls to another side, not to itself");
    if (!names.includes(sd.route)) throw new ConfigError(`${k}[${i}].route`, `no side named ${show(sd.route)}`);
    if (sd.failover !== undefined) {
      if (sd.failover === sd.name) throw new ConfigError(`${k}[${i}].failover`, "a side fails over to another side, not to itself");
      if (!names.includes(sd.failover)) throw new ConfigError(`${k}[${i}].failover`, `no side named ${show(sd.failover)}`);
    }
    (sd.routes ?? []).forEach((r, j) => {
      if (r.to === sd.name) throw new ConfigError(`${k}[${i}].routes[${j}].to`, "a rule sends calls to another side, not to its own");
      if (!names.includes(r.to)) throw new ConfigError(`${k}[${i}].routes[${j}].to`, `no side named ${show(r.to)}`);
    });
  });
  if (sides.reduce((n, sd) => n + (sd.routes?.length ?? 0), 0) > 16) throw new ConfigError(k, "at most 16 routing rules in all");
  if (sides.filter((sd) => sd.role === "registrar").length > 1) throw new ConfigError(k, "at most one registrar side");
  return sides;
}

/** The bytes of a MESSAGE body pattern. @param {Pattern} p */
export function patternBytes(p) {
  return typeof p === "string" ? Buffer.from(p, "utf8") : Buffer.from(p.hex, "hex");
}

/** @param {SchemaKey} key @param {string} k @param {unknown} v @returns {Pattern[]} */
function checkPatterns(key, k, v) {
  if (!Array.isArray(v)) bad(k, `expected an array of strings or {"hex": "..."}`, v);
  const most = key.maxItems ?? Infinity;
  const maxBytes = key.maxBytes ?? Infinity;
  if (v.length > most) bad(k, `expected at most ${most} patterns`, `${v.length}`);
  return v.map((p, i) => {
    const kk = `${k}[${i}]`;
    /** @type {Pattern} */
    let out;
    if (typeof p === "string") out = p;
    else if (typeof p === "object" && p !== null && !Array.isArray(p) && Object.keys(p).length === 1 &&
             typeof p.hex === "string" && /^([0-9a-fA-F]{2})+$/.test(p.hex)) out = { hex: p.hex };
    else return bad(kk, `expected a string or {"hex": "<even number of hex digits>"}`, p);
    const n = patternBytes(out).length;
    if (n === 0 || n > maxBytes) bad(kk, `expected 1..${maxBytes} bytes`, `${n} bytes`);
    return out;
  });
}

/**
 * Checks one value of a key (named `k`: the key, an element path or a flag). Returns the value to
 * keep (users' hex digits in lower case).
 * @param {SchemaKey} key @param {unknown} v @param {string} k @param {Host} host @returns {unknown}
 */
export function checkValue(key, v, k, host) {
  switch (key.type) {
    case "bool":
      if (typeof v !== "boolean") bad(k, "expected true or false", v);
      return v;
    case "int": {
      const min = key.min ?? 0, max = key.max ?? 0x7fffffff;
      if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) bad(k, `expected an integer in ${min}..${max}`, v);
      return v;
    }
    case "enum":
      if (typeof v !== "string" || !key.values?.includes(v)) bad(k, expectEnum(key.values ?? []), v);
      return v;
    case "string":
      if (typeof v !== "string") bad(k, stringExpected(key.check ?? "", host), key.secret ? typeof v : v);
      CHECKS[key.check ?? ""]?.(v, k, host);
      return v;
    case "list": {
      const isEnum = key.check === "enum";
      if (!Array.isArray(v)) bad(k, isEnum ? `expected an array of ${(key.values ?? []).map((x) => JSON.stringify(x)).join(" | ")}` : "expected an array of strings", v);
      if (key.minItems !== undefined && v.length < key.minItems)
        bad(k, `expected at least ${key.minItems} ${key.minItems === 1 ? "element" : "elements"}`, v);
      if (key.maxItems !== undefined && v.length > key.maxItems) bad(k, `expected at most ${key.maxItems} elements`, `${v.length}`);
      v.forEach((s, i) => checkElement(key, s, `${k}[${i}]`, host));
      if (key.unique) v.forEach((s, i) => { if (v.indexOf(s) !== i) throw new ConfigError(`${k}[${i}]`, `duplicate ${show(s)}`); });
      return [...v];
    }
    case "users":
      return checkUsers(k, v);
    case "patterns":
      return checkPatterns(key, k, v);
    case "sides":
      return checkSides(key, k, v);
    case "hex": {
      const lo = key.minDigits ?? 0, hi = key.maxDigits ?? Infinity;
      if (typeof v !== "string" || !/^[0-9a-fA-F]*$/.test(v) || v.length % 2 !== 0 || v.length < lo || v.length > hi)
        bad(k, `expected a hex string of ${lo}..${hi} digits (${lo / 2}..${hi / 2} bytes; even length)`,
          typeof v === "string" ? (key.secret ? `${v.length} characters (not shown)` : v) : key.secret ? typeof v : v);
      return v;
    }
  }
  throw new Error(`schema: ${key.path}: unknown type ${key.type}`);
}

/** One element of a list (or a list flag's value). @param {SchemaKey} key @param {unknown} s @param {string} k @param {Host} host */
function checkElement(key, s, k, host) {
  if (key.check === "enum") {
    if (typeof s !== "string" || !key.values?.includes(s)) bad(k, expectEnum(key.values ?? []), s);
    return;
  }
  if (typeof s !== "string") bad(k, "expected a string", s);
  CHECKS[key.check ?? ""]?.(s, k, host);
}

// ---- command line and file ----------------------------------------------------------------------

/** @param {SchemaKey} k @param {Host} host */
function metavar(k, host) {
  if (k.check === "listen") return `${LISTEN_FORMS[host].protos.join("|")}:HOST:PORT`;
  if (k.check === "domain") return "NAME";
  if (k.check === "file") return "FILE";
  if (k.type === "enum") return (k.values ?? []).join("|");
  return "VALUE";
}

/** @param {HostSpec} spec */
function flagKeys(spec) {
  return spec.schema.filter((k) => k.flag && k.hosts.includes(spec.host));
}

/**
 * Parses argv (without node and script): meta flags, the schema's flags, the host's extra flags.
 * @param {string[]} argv @param {HostSpec} spec @returns {Args}
 */
export function parseArgs(argv, spec) {
  /** @type {Args} */
  const out = { help: false, version: false, printConfig: false, flags: new Map(), extra: {} };
  const byFlag = new Map(flagKeys(spec).map((k) => [/** @type {string} */ (k.flag), k]));
  for (let i = 0; i < argv.length; i++) {
    let a = argv[i];
    /** @type {string | undefined} */
    let inline;
    const eq = a.startsWith("--") ? a.indexOf("=") : -1;
    if (eq > 0) {
      inline = a.slice(eq + 1);
      a = a.slice(0, eq);
    }
    const flag = a;
    const value = () => {
      if (inline !== undefined) return inline;
      const v = argv[++i];
      if (v === undefined) throw new ConfigError(flag, "expected a value after it", true);
      return v;
    };
    const noValue = () => {
      if (inline !== undefined) throw new ConfigError(flag, `takes no value, got ${show(inline)}`, true);
    };
    if (a === "--help" || a === "-h") {
      noValue();
      out.help = true;
      continue;
    }
    if (a === "--print-config") {
      noValue();
      out.printConfig = true;
      continue;
    }
    if (a === "--version" || a === "-V") {
      noValue();
      out.version = true;
      continue;
    }
    if (a === "--config") {
      out.file = value();
      continue;
    }
    const key = byFlag.get(a);
    if (key) {
      if (key.type === "bool") {
        noValue();
        out.flags.set(key.path, true);
      } else if (key.type === "list") {
        const v = value();
        checkElement(key, v, a, spec.host);
        const list = /** @type {string[] | undefined} */ (out.flags.get(key.path)) ?? [];
        list.push(v);
        out.flags.set(key.path, list);
      } else out.flags.set(key.path, checkValue(key, value(), a, spec.host));
      continue;
    }
    const x = spec.extraFlags?.[a];
    if (x) {
      if (!x.value) {
        noValue();
        out.extra[a] = true;
      } else if (x.repeat) {
        const v = value();
        out.extra[a] = [.../** @type {string[]} */ (out.extra[a] ?? []), v];
      } else out.extra[a] = value();
      continue;
    }
    throw new ConfigError(a, `unknown option (see ${spec.name} --help)`, true);
  }
  return out;
}

/** @param {string} file @returns {unknown} */
export function readConfigFile(file) {
  let text;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    const code = /** @type {NodeJS.ErrnoException} */ (e).code ?? String(e);
    throw new ConfigError("--config", `cannot read file ${show(file)} (${code})`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new ConfigError("--config", `file ${show(file)} is not valid JSON (${/** @type {Error} */ (e).message})`);
  }
}

/**
 * Walks a parsed configuration file against the schema into cfg.values.
 * @param {Config} cfg @param {unknown} raw
 */
export function applyFile(cfg, raw) {
  const { schema, host } = cfg.spec;
  /** @param {Record<string, unknown>} o @param {string} prefix */
  const walk = (o, prefix) => {
    for (const [name, v] of Object.entries(o)) {
      const path = prefix + name;
      const key = schema.find((k) => k.path === path);
      if (key) {
        if (!key.hosts.includes(host))
          throw new ConfigError(path, `not supported by the ${host} host (only by ${key.hosts.join(", ")})`);
        cfg.values.set(path, checkValue(key, v, path, host));
        cfg.given.add(path);
      } else if (schema.some((k) => k.path.startsWith(path + "."))) walk(object(path, v), path + ".");
      else {
        const children = [...new Set(schema.filter((k) => k.path.startsWith(prefix) && k.hosts.includes(host))
          .map((k) => k.path.slice(prefix.length).split(".")[0]))];
        throw new ConfigError(path, prefix ? `unknown key (expected ${children.join(", ")})` : "unknown key");
      }
    }
  };
  walk(object("(file)", raw), "");
}

/** localhost plus each listen host (IPv6 bracketed), wildcards skipped. @param {Listen[]} listens */
export function defaultDomains(listens) {
  const out = ["localhost"];
  for (const l of listens) {
    if (l.host === "0.0.0.0" || l.host === "::") continue;
    const d = l.family === 6 ? `[${l.host}]` : l.host;
    if (!out.includes(d)) out.push(d);
  }
  return out;
}

/**
 * The whole configuration: argv's file, then its flags, then defaults, derived defaults (domains,
 * realm) and the cross-key checks.
 * @param {HostSpec} spec @param {Args} args @returns {Config}
 */
export function resolve(spec, args) {
  /** @type {Config} */
  const cfg = { spec, values: new Map(), given: new Set(), listens: [] };
  if (args.file !== undefined) applyFile(cfg, readConfigFile(args.file));
  if (args.object !== undefined) applyFile(cfg, args.object);
  for (const [path, v] of args.flags) {
    cfg.values.set(path, v);
    cfg.given.add(path);
  }
  for (const k of spec.schema) {
    if (!k.hosts.includes(spec.host) || cfg.values.has(k.path)) continue;
    const d = spec.defaults && k.path in spec.defaults ? spec.defaults[k.path] : k.default;
    if (d !== undefined) cfg.values.set(k.path, Array.isArray(d) ? [...d] : d);
  }
  for (const k of spec.schema) {
    if (!k.le) continue;
    const a = cfg.values.get(k.path), b = cfg.values.get(k.le);
    if (typeof a === "number" && typeof b === "number" && a > b) throw new ConfigError(k.path, `must not exceed ${k.le} (${b}), got ${a}`);
  }
  const specs = /** @type {string[]} */ (cfg.values.get("listen"));
  cfg.listens = specs.map((s) => /** @type {Listen} */ (parseListen(s)));
  const seen = new Set();
  cfg.listens.forEach((l, i) => {
    const id = `${l.proto}:${l.host}:${l.port}`;
    if (l.port !== 0 && seen.has(id)) throw new ConfigError(`listen[${i}]`, `duplicate listen address ${show(l.spec)}`);
    seen.add(id);
  });
  const domains = /** @type {string[] | undefined} */ (cfg.values.get("domains"));
  if (!domains || domains.length === 0) cfg.values.set("domains", defaultDomains(cfg.listens));
  if (!cfg.values.has("realm")) {
    const first = /** @type {string[]} */ (cfg.values.get("domains"))[0];
    CHECKS.realm(first, "realm (default: the first domain)", spec.host);
    cfg.values.set("realm", first);
  }
  const sides = /** @type {Side[] | undefined} */ (cfg.values.get("sides"));
  checkTrunkTransports(cfg);
  checkWss(cfg);
  checkMediaRelay(cfg);
  checkRelayInterfaces(cfg);
  checkTls(cfg);
  if (cfg.values.has("location.username") && !cfg.values.has("location.password"))
    throw new ConfigError("location.username", `a Redis user needs its "location.password"`);
  if (cfg.values.get("mode") === "b2bua" && (sides?.length ?? 0) < 2)
    throw new ConfigError("sides", `"mode": "b2bua" needs at least two sides (e.g. a registrar side and a trunk)`);
  if (cfg.values.get("mode") !== "b2bua" && (sides?.length ?? 0) > 0)
    throw new ConfigError("sides", `sides are the B2BUA's: set "mode": "b2bua" (and a board with it, "board": "gateway")`);
  return cfg;
}

/**
 * A configuration object (what a configuration file holds, already parsed: the library API) resolved
 * like a file with no flags. @param {unknown} object @param {HostSpec} spec @returns {Config}
 */
export function fromObject(object, spec) {
  return resolve(spec, { help: false, version: false, printConfig: false, flags: new Map(), extra: {}, object });
}

/** Parses argv and resolves the configuration (nothing but help when --help is given). @param {string[]} argv @param {HostSpec} spec */
export function load(argv, spec) {
  const args = parseArgs(argv, spec);
  if (args.help || args.version) return { args, cfg: null };
  return { args, cfg: resolve(spec, args) };
}

// ---- the secure default -------------------------------------------------------------------------

/** A loopback listen address: 127.0.0.0/8, ::1 (also IPv4-mapped), or the name localhost. @param {Listen} l */
export function isLoopback(l) {
  const h = l.host.toLowerCase();
  if (l.family === 0) return h === "localhost" || h === "localhost." || h.endsWith(".localhost") || h.endsWith(".localhost.");
  if (l.family === 4) return h.startsWith("127.");
  const canon = new URL(`http://[${h}]/`).hostname; // compressed form, e.g. [::1], [::ffff:7f00:1]
  return canon === "[::1]" || /^\[::ffff:7f[0-9a-f]{2}:[0-9a-f]{1,4}\]$/.test(canon);
}

/**
 * A side with "mediaRelay": true, or the proxy's "mediaRelay.mode" other than "never" (which also needs
 * "recordRoute"), needs the relay's addresses and port range (a call it cannot relay gets
 * 503, never a silent pass-through: so a configuration that could relay nothing is refused here), and a
 * port range the other way round is refused naming its key.
 * @param {Config} cfg
 */
function checkMediaRelay(cfg) {
  const sides = /** @type {Side[] | undefined} */ (cfg.values.get("sides")) ?? [];
  const min = /** @type {number | undefined} */ (cfg.values.get("mediaRelay.portMin"));
  const max = /** @type {number | undefined} */ (cfg.values.get("mediaRelay.portMax"));
  if ((min === undefined) !== (max === undefined)) throw new ConfigError(min === undefined ? "mediaRelay.portMin" : "mediaRelay.portMax", "the relay's port range needs both portMin and portMax");
  if (min !== undefined && max !== undefined) {
    if (min % 2 !== 0) throw new ConfigError("mediaRelay.portMin", `expected an even port (RTP even, RTCP odd), got ${min}`);
    if (max <= min) throw new ConfigError("mediaRelay.portMax", `expected a port above portMin (${min}), got ${max}`);
  }
  const mode = /** @type {string | undefined} */ (cfg.values.get("mediaRelay.mode")) ?? "never";
  if (mode !== "never" && cfg.values.get("recordRoute") === false)
    throw new ConfigError("mediaRelay.mode", `the proxy relays only calls it Record-Routes (their BYE must come through it): "recordRoute": false relays nothing`);
  const i = sides.findIndex((sd) => sd.mediaRelay);
  if (i < 0 && mode === "never") return;
  const who = i >= 0 ? `sides[${i}].mediaRelay` : "mediaRelay.mode";
  const addrs = /** @type {string[] | undefined} */ (cfg.values.get("mediaRelay.addresses")) ?? [];
  if (addrs.length === 0) throw new ConfigError(who, `the relay needs "mediaRelay": {"addresses": [...]}`);
  if (min === undefined) throw new ConfigError(who, `the relay needs "mediaRelay": {"portMin", "portMax"}`);
}

/**
 * The relay's interfaces (rtpengine's interface=, "mediaRelay.addresses" entries with one NAME): at
 * most RELAY_IFACES, each with one address of each family at most; the names that "mediaRelay.networks"
 * and a side's "relayInterface" give must be among them.
 * @param {Config} cfg
 */
function checkRelayInterfaces(cfg) {
  const addrs = /** @type {string[] | undefined} */ (cfg.values.get("mediaRelay.addresses")) ?? [];
  /** @type {Map<string, Set<number>>} */
  const seen = new Map();
  addrs.forEach((a, j) => {
    const r = parseRelayAddress(a);
    if (typeof r === "string") return;
    const fams = seen.get(r.name) ?? new Set();
    const what = r.name === "" ? "the interface without a NAME" : `interface ${show(r.name)}`;
    if (!seen.has(r.name) && seen.size === RELAY_IFACES)
      throw new ConfigError(`mediaRelay.addresses[${j}]`, `at most ${RELAY_IFACES} relay interfaces (names), got a fifth: ${show(a)}`);
    if (fams.has(r.family)) throw new ConfigError(`mediaRelay.addresses[${j}]`, `${what} already has an IPv${r.family} address, got ${show(a)}`);
    fams.add(r.family);
    seen.set(r.name, fams);
  });
  const names = relayInterfaces(addrs).map((f) => f.name);
  const known = `(${names.filter((n) => n !== "").map(show).join(", ") || "none named"})`;
  /** @type {string[] | undefined} */ (cfg.values.get("mediaRelay.networks"))?.forEach((n, j) => {
    const name = n.split(" ")[1];
    if (!names.includes(name)) throw new ConfigError(`mediaRelay.networks[${j}]`, `expected the name of a relay interface of "mediaRelay.addresses" ${known}, got ${show(name)}`);
  });
  /** @type {Side[]} */ (cfg.values.get("sides") ?? []).forEach((sd, i) => {
    if (sd.relayInterface !== undefined && !names.includes(sd.relayInterface))
      throw new ConfigError(`sides[${i}].relayInterface`, `expected the name of a relay interface of "mediaRelay.addresses" ${known}, got ${show(sd.relayInterface)}`);
  });
}

/** Relay interfaces of the core (config.ts RELAY_IFACES). */
const RELAY_IFACES = 4;

/**
 * A tls listen address needs our certificate and its key (the files themselves are read when the host
 * starts: an unreadable or invalid one is refused then, naming the key and the file).
 * @param {Config} cfg
 */
function checkTls(cfg) {
  if (cfg.values.get("tls.verifyClient") === true && !cfg.values.has("tls.ca"))
    throw new ConfigError("tls.verifyClient", `verifying clients needs "tls.ca" (the CAs their certificates are checked against)`);
  const peers = /** @type {string[] | undefined} */ (cfg.values.get("tls.peers")) ?? [];
  const j = peers.findIndex((p) => parseTlsPeer(p)?.require);
  if (j >= 0 && !cfg.values.has("tls.ca"))
    throw new ConfigError(`tls.peers[${j}]`, `requiring a client certificate needs "tls.ca" (the CAs it is checked against)`);
  const i = cfg.listens.findIndex((l) => l.proto === "tls");
  if (i < 0) return;
  for (const key of ["tls.certificate", "tls.key"])
    if (!cfg.values.has(key)) throw new ConfigError(key, `a "tls:" listen address (listen[${i}]) needs "${key}" (a PEM file)`);
}

/**
 * A trunk side on "transport": "tcp" ("tls") needs a tcp (tls) listen address of its address's family (its leg's Via
 * and Contact name it, and the leg's connection is one of that transport's): refused otherwise, naming
 * the side's key.
 * @param {Config} cfg
 */
function checkTrunkTransports(cfg) {
  const sides = /** @type {Side[] | undefined} */ (cfg.values.get("sides")) ?? [];
  const users = /** @type {User[] | undefined} */ (cfg.values.get("users")) ?? [];
  sides.forEach((sd, i) => {
    // a digest trunk's username joins the users our realm checks: it must name no phone's account
    if (sd.accept === "digest" && users.some((u) => u.username === sd.username))
      throw new ConfigError(`sides[${i}].username`, `${show(sd.username)} is also a user in "users": a digest trunk needs a name of its own`);
    const proto = sd.transport;
    if ((proto !== "tcp" && proto !== "tls") || sd.address === undefined) return;
    if (trunkName(sd.address)) { // a name: resolved for the family of a listen address of the transport
      if (!cfg.listens.some((l) => l.proto === proto))
        throw new ConfigError(`sides[${i}].transport`, `a trunk on ${proto} needs a "${proto}:" listen address`);
      return;
    }
    const family = sd.address.startsWith("[") ? 6 : 4;
    if (!cfg.listens.some((l) => l.proto === proto && (l.family === family || l.family === 0)))
      throw new ConfigError(`sides[${i}].transport`, `a trunk on ${proto} needs a "${proto}:" listen address of its family (IPv${family})`);
  });
}

/**
 * A "wss:" listen address needs the TLS certificate and key ("tls.certificate", "tls.key"): refused
 * otherwise, naming the missing key.
 * @param {Config} cfg
 */
function checkWss(cfg) {
  const i = cfg.listens.findIndex((l) => l.proto === "wss");
  if (i < 0) return;
  for (const key of ["tls.certificate", "tls.key"])
    if (cfg.values.get(key) === undefined)
      throw new ConfigError(key, `listen[${i}] ${show(cfg.listens[i].spec)} (secure WebSocket) needs "${key}"`);
}

/**
 * No "users" and a listen address that is not loopback would make an open relay, unless
 * "allowUnauthenticated" says so. Checked before anything is bound.
 * @param {Config} cfg
 */
export function checkSecureDefault(cfg) {
  const users = /** @type {User[] | undefined} */ (cfg.values.get("users"));
  if ((users?.length ?? 0) > 0 || cfg.values.get("allowUnauthenticated") === true) return;
  const open = cfg.listens.find((l) => !isLoopback(l));
  if (open)
    throw ConfigError.plain(
      `listening on ${open.spec} with no "users" would let anyone register and relay calls; ` +
        `add "users" (and "realm") or set "allowUnauthenticated": true`,
    );
}

// ---- printing -----------------------------------------------------------------------------------

/**
 * The configuration as --print-config shows it (nested objects in schema order; secrets "***");
 * a valid configuration file itself.
 * @param {Config} cfg @returns {Record<string, unknown>}
 */
export function printable(cfg) {
  /** @type {Record<string, any>} */
  const out = {};
  for (const k of cfg.spec.schema) {
    if (!k.hosts.includes(cfg.spec.host) || !cfg.values.has(k.path)) continue;
    let v = cfg.values.get(k.path);
    if (k.type === "users")
      v = /** @type {User[]} */ (v).map((u) => {
        /** @type {Record<string, string>} */
        const m = { username: u.username };
        if (u.password !== undefined) m.password = MASK;
        if (u.ha1 !== undefined) m.ha1 = MASK;
        if (u.ha1Sha256 !== undefined) m.ha1Sha256 = MASK;
        return m;
      });
    else if (k.type === "sides")
      v = /** @type {Side[]} */ (v).map((sd) => {
        const shown = sd.password === undefined ? { ...sd } : { ...sd, password: MASK };
        if (sd.passthrough) shown.passthrough = sd.passthrough.map((e) => ({ ...e, password: MASK }));
        return shown;
      });
    else if (k.secret) v = MASK;
    const parts = k.path.split(".");
    let o = out;
    for (const p of parts.slice(0, -1)) o = o[p] ??= {};
    o[parts[parts.length - 1]] = v;
  }
  return out;
}

/**
 * `text` as lines of at most `width` columns, each indented by `indent` spaces.
 * @param {string} text @param {number} indent @param {number} width
 */
export function wrap(text, indent, width) {
  const pad = " ".repeat(indent);
  const out = [];
  let line = "";
  for (const w of text.split(/\s+/)) {
    if (line && indent + line.length + 1 + w.length > width) {
      out.push(pad + line);
      line = w;
    } else line = line ? `${line} ${w}` : w;
  }
  if (line) out.push(pad + line);
  return out.join("\n");
}

/** @param {SchemaKey} k */
function typeText(k) {
  switch (k.type) {
    case "bool": return "true|false";
    case "int": return k.max === 0x7fffffff ? `integer >= ${k.min}` : `integer ${k.min}..${k.max}`;
    case "enum": return (k.values ?? []).map((v) => JSON.stringify(v)).join("|");
    case "string": return `string (${k.check})`;
    case "list": return k.check === "enum" ? `[${(k.values ?? []).map((v) => JSON.stringify(v)).join("|")}, ...]` : `[${k.check}, ...]`;
    case "users": return "[user, ...]";
    case "sides": return `[{${SIDE_KEYS}}, ...]`;
    case "patterns": return `[text|{"hex"}, ...] (<= ${k.maxItems}, <= ${k.maxBytes} bytes each)`;
    case "hex": return `hex, ${k.minDigits}..${k.maxDigits} digits`;
  }
  return k.type;
}

/**
 * --help: the host's head, the synopsis and options (meta, the schema's flags, the host's extras),
 * every configuration key of this host (a tree, as in the file), the host's tail.
 * @param {HostSpec} spec @param {{ head: string, tail: string }} text
 */
export function usage(spec, text) {
  const { schema, host, name } = spec;
  const flags = flagKeys(spec);
  const syn = ["[--config FILE]", ...flags.map((k) => {
    if (k.type === "bool") return `[${k.flag}]`;
    return `[${k.flag} ${metavar(k, host)}]${k.type === "list" ? "..." : ""}`;
  }), ...Object.entries(spec.extraFlags ?? {}).map(([f, x]) => `[${f}${x.value ? ` ${x.meta ?? "VALUE"}` : ""}]${x.repeat ? "..." : ""}`), "[--print-config]"];
  const lines = [text.head, ""];
  let line = `usage: ${name}`;
  const indent = " ".repeat(line.length);
  for (const s of syn) {
    if (line.length + 1 + s.length > 100) {
      lines.push(line);
      line = indent;
    }
    line += " " + s;
  }
  lines.push(line, `${" ".repeat(7)}${name} --help | --version`, "", "options:");
  const opt = (/** @type {string} */ f, /** @type {string} */ d) => {
    const body = wrap(d, 23, 100);
    lines.push(f.length < 21 ? `  ${f.padEnd(21)}${body.slice(23)}` : `  ${f}\n${body}`);
  };
  opt("--config FILE", "read a JSON configuration file (keys below); flags override it");
  for (const k of flags) {
    const what = k.type === "bool" ? `set "${k.path}" to true` : k.type === "list" ? `one of "${k.path}" (repeatable; replaces the file's list)` : `set "${k.path}"`;
    opt(k.type === "bool" ? /** @type {string} */ (k.flag) : `${k.flag} ${metavar(k, host)}`, `${what}: ${k.doc}`);
  }
  for (const [f, x] of Object.entries(spec.extraFlags ?? {})) opt(x.value ? `${f} ${x.meta ?? "VALUE"}` : f, x.doc);
  opt("--print-config", `print the effective configuration as JSON and exit (binds nothing; secrets as "${MASK}")`);
  opt("--help", "print this help and exit");
  opt("--version", "print the version and the core build (board, wasm size) and exit");
  lines.push("", `configuration file (JSON; unknown keys are errors; every key: docs/CONFIG.md):`, "  {");
  /** @type {string[]} */
  let open = [];
  for (const k of schema) {
    if (!k.hosts.includes(host)) continue;
    const parts = k.path.split(".");
    const groups = parts.slice(0, -1);
    let same = 0;
    while (same < open.length && same < groups.length && open[same] === groups[same]) same++;
    while (open.length > same) {
      open.pop();
      lines.push(`  ${"  ".repeat(open.length + 1)}}`);
    }
    while (open.length < groups.length) {
      lines.push(`  ${"  ".repeat(open.length + 1)}"${groups[open.length]}": {`);
      open.push(groups[open.length]);
    }
    const pad = "  ".repeat(open.length + 2);
    const dflt = k.default !== undefined ? `default ${JSON.stringify(k.default)}` : k.defaultDoc ? `default: ${k.defaultDoc}` : "";
    const info = [typeText(k), k.unit ?? "", dflt, k.le ? `<= ${k.le}` : "", k.secret ? "secret" : ""].filter(Boolean).join("; ");
    lines.push(`${pad}"${parts[parts.length - 1]}"  ${info}`, wrap(k.doc, pad.length + 4, 100));
  }
  while (open.length) {
    open.pop();
    lines.push(`  ${"  ".repeat(open.length + 1)}}`);
  }
  lines.push("  }");
  const other = schema.filter((k) => !k.hosts.includes(host)).map((k) => `"${k.path}"`);
  if (other.length) lines.push(`  (keys of other hosts, refused here: ${other.join(", ")})`);
  lines.push("", text.tail);
  return lines.join("\n") + (text.tail.endsWith("\n") ? "" : "\n");
}

// ---- applying to the core -----------------------------------------------------------------------

/**
 * The core calls a configuration makes, in schema order (realm before users): sip_cfg_set per
 * numeric key, sip_cfg_add per string, list element, user credential and pattern. nonceSecret, when
 * absent, is `random(32)`.
 * @param {Config} cfg @param {(n: number) => Buffer} random @returns {CoreOp[]}
 */
export function coreOps(cfg, random) {
  /** @type {CoreOp[]} */
  const ops = [];
  for (const k of cfg.spec.schema) {
    if (!k.core || !k.hosts.includes(cfg.spec.host)) continue;
    const id = /** @type {number} */ (k.coreId);
    let v = cfg.values.get(k.path);
    if (v === undefined && k.type === "hex" && k.path === "nonceSecret") v = random(32).toString("hex");
    if (v === undefined) continue;
    if (k.core === "set") {
      ops.push({ key: k, name: k.path, op: "set", id, value: setValue(k, v), shown: v, secret: false });
      continue;
    }
    /** @param {string} name @param {Buffer} bytes @param {string | undefined} text */
    const add = (name, bytes, text) => ops.push({ key: k, name, op: "add", id, bytes, text, secret: !!k.secret });
    switch (k.type) {
      case "string":
        add(k.path, Buffer.from(/** @type {string} */ (v), "utf8"), /** @type {string} */ (v));
        break;
      case "list":
        /** @type {string[]} */ (v).forEach((s, i) => {
          const t = relayText(k.path, s, cfg);
          add(`${k.path}[${i}]`, Buffer.from(t, "utf8"), t);
        });
        break;
      case "users":
        /** @type {User[]} */ (v).forEach((u, i) => {
          if (u.password !== undefined) add(`${k.path}[${i}]`, Buffer.from(`${u.username}:password=${u.password}`, "utf8"), undefined);
          if (u.ha1 !== undefined) add(`${k.path}[${i}]`, Buffer.from(`${u.username}:ha1=${u.ha1}`, "utf8"), undefined);
          if (u.ha1Sha256 !== undefined) add(`${k.path}[${i}]`, Buffer.from(`${u.username}:ha1sha256=${u.ha1Sha256}`, "utf8"), undefined);
        });
        break;
      case "patterns":
        /** @type {Pattern[]} */ (v).forEach((p, i) => add(`${k.path}[${i}]`, patternBytes(p), typeof p === "string" ? p : undefined));
        break;
      case "sides": {
        // "INDEX registrar|trunk ROUTE HOST [IP:PORT]" (abi.json cfgKinds.Side); a trunk's host is its
        // address unless given, a registrar side's the first domain
        const list = /** @type {Side[]} */ (v);
        const names = list.map((sd) => sd.name);
        const firstDomain = /** @type {string[]} */ (cfg.values.get("domains"))[0];
        // a text shown as it is, and one holding a password (secret: never shown)
        const text = (/** @type {string} */ name, /** @type {string} */ t) => add(name, Buffer.from(t, "utf8"), t);
        const secret = (/** @type {string} */ name, /** @type {string} */ t) =>
          ops.push({ key: k, name, op: "add", id, bytes: Buffer.from(t, "utf8"), text: undefined, secret: true });
        list.forEach((sd, i) => {
          const host = sd.host ?? (sd.role === "trunk" ? sd.address : firstDomain);
          const t = `${i} ${sd.role} ${names.indexOf(sd.route)} ${host}${sd.address ? ` ${sd.address}` : ""}`;
          if (sd.password === undefined) text(`${k.path}[${i}]`, t);
          else secret(`${k.path}[${i}]`, `${t} ${sd.username} ${sd.password}`);
        });
        // then registrations ("register SIDE IP:PORT USER@HOST EXPIRES USER PASSWORD [options]": the
        // registrant's account for a trunk with "register", and one per pass-through account, its option
        // "follow=USER": idle until the local user registers; over TCP or TLS with the trunk's transport;
        // "auto": waiting for the transport the host chooses, autoTransport)
        /** @param {number} i @param {Side} sd @param {string} user @param {string} password @param {number} expires @param {string} options */
        const registration = (i, sd, user, password, expires, options) =>
          `register ${i} ${sd.address} ${user}@${sd.host ?? sd.address} ${expires} ${user} ${password}${options}${sd.transport === "tcp" || sd.transport === "tls" ? ` ${sd.transport}` : autoTransport(sd) ? " auto" : ""}`;
        list.forEach((sd, i) => {
          if (sd.register === undefined || sd.register === false) return;
          const r = typeof sd.register === "object" ? sd.register : {};
          const gin = r.mode === "gin" ? (r.block !== undefined ? ` gin=${r.block}` : " gin") : "";
          secret(`${k.path}[${i}].register`, registration(i, sd, /** @type {string} */ (sd.username), /** @type {string} */ (sd.password), r.expires ?? REGISTER_EXPIRES[2], gin));
        });
        list.forEach((sd, i) => (sd.passthrough ?? []).forEach((e, j) =>
          secret(`${k.path}[${i}].passthrough[${j}]`, registration(i, sd, e.username, e.password, REGISTER_EXPIRES[2], ` follow=${e.user}`))));
        // then failovers ("failover SIDE OTHER") and the rules: "route FROM PREFIX TO STRIP [PREPEND]" ("-": any number)
        list.forEach((sd, i) => {
          if (sd.failover !== undefined) text(`${k.path}[${i}].failover`, `failover ${i} ${names.indexOf(sd.failover)}`);
        });
        // then the one-word options ("transport SIDE udp|tcp", "accept", "called", "down", "monitor", "pai
        // SIDE MODE") and drop lists ("drop SIDE NAME", a name a text)
        list.forEach((sd, i) => {
          if (sd.transport !== undefined) text(`${k.path}[${i}].transport`, `transport ${i} ${sd.transport}`);
          if (sd.accept !== undefined) text(`${k.path}[${i}].accept`, `accept ${i} ${sd.accept}`);
          if (sd.called !== undefined) text(`${k.path}[${i}].called`, `called ${i} ${CALLED[sd.called]}`);
          if (sd.down !== undefined) text(`${k.path}[${i}].down`, `down ${i} ${sd.down}`);
          if (sd.monitor !== undefined) text(`${k.path}[${i}].monitor`, `monitor ${i} ${sd.monitor}`);
          if (sd.mediaRelay) text(`${k.path}[${i}].mediaRelay`, `relay ${i} on`);
          if (sd.relayInterface !== undefined)
            text(`${k.path}[${i}].relayInterface`, `relayif ${i} ${relayInterfaces(/** @type {string[]} */ (cfg.values.get("mediaRelay.addresses") ?? [])).findIndex((f) => f.name === sd.relayInterface)}`);
          if (sd.identity?.pai !== undefined) text(`${k.path}[${i}].identity.pai`, `pai ${i} ${sd.identity.pai}`);
          if (sd.identity?.number !== undefined) text(`${k.path}[${i}].identity.number`, `number ${i} ${sd.identity.number}`);
          (sd.drop ?? []).forEach((h, j) => text(`${k.path}[${i}].drop[${j}]`, `drop ${i} ${h}`));
        });
        list.forEach((sd, i) => (sd.routes ?? []).forEach((r, j) =>
          text(`${k.path}[${i}].routes[${j}]`, `route ${i} ${r.prefix || "-"} ${names.indexOf(r.to)} ${r.strip}${r.prepend ? ` ${r.prepend}` : ""}`)));
        break;
      }
      case "hex":
        add(k.path, Buffer.from(/** @type {string} */ (v), "hex"), undefined);
        break;
    }
  }
  // a digest trunk's credentials, among the users our realm checks (b2bua/call.ts digestSide): after
  // everything else, so after the realm their digests are made with
  const usersKey = cfg.spec.schema.find((u) => u.path === "users");
  /** @type {Side[]} */ (cfg.values.get("sides") ?? []).forEach((sd, i) => {
    if (sd.accept !== "digest" || !usersKey) return;
    ops.push({ key: usersKey, name: `sides[${i}].accept`, op: "add", id: /** @type {number} */ (usersKey.coreId),
      bytes: Buffer.from(`${sd.username}:password=${sd.password}`, "utf8"), text: undefined, secret: true });
  });
  return ops;
}

/**
 * The core's text of a list entry: a relay address "[NAME/]BIND[!ADVERTISED]" as "[IFACE ]ADVERTISED"
 * (the interface's number; none for the first, as before interfaces), a relay network "CIDR NAME" as
 * "net IFACE CIDR" (cfg kind RelayAddress); any other as it is.
 * @param {string} path @param {string} s @param {Config} cfg
 */
function relayText(path, s, cfg) {
  if (path !== "mediaRelay.addresses" && path !== "mediaRelay.networks") return s;
  const names = relayInterfaces(/** @type {string[]} */ (cfg.values.get("mediaRelay.addresses") ?? [])).map((f) => f.name);
  if (path === "mediaRelay.networks") {
    const [cidr, name] = s.split(" ");
    return `net ${names.indexOf(name)} ${cidr}`;
  }
  const r = /** @type {{ name: string, advertise: string }} */ (parseRelayAddress(s));
  const i = names.indexOf(r.name);
  return i === 0 ? r.advertise : `${i} ${r.advertise}`;
}

/** The integer sip_cfg_set gets (config.json's $comment rules). @param {SchemaKey} k @param {unknown} v */
export function setValue(k, v) {
  if (k.type === "bool") return v ? 1 : 0;
  if (k.type === "int") return /** @type {number} */ (v);
  const values = k.values ?? [];
  if (k.type === "enum") return values.indexOf(/** @type {string} */ (v));
  const list = /** @type {string[]} */ (v);
  let n = 0;
  for (let i = list.length - 1; i >= 0; i--) n = n * 4 + values.indexOf(list[i]) + 1;
  return n;
}

/**
 * The ConfigError for a core result of an op (null when accepted). NotInBuild names the board.
 * @param {CoreOp} op @param {number} r @param {string} board @returns {ConfigError | null}
 */
export function explain(op, r, board) {
  if (r >= 0) return null;
  const k = op.key;
  if (r === -1) return new ConfigError(op.name, `the core does not know ${op.op === "set" ? "config key" : "config kind"} ${op.id} (${k.coreName}): rebuild the core`);
  if (r === -3) return new ConfigError(op.name, `not in this core build (board ${board} leaves it out)`);
  if (op.op === "set") {
    const shown = typeof op.shown === "number" ? String(op.shown) : `${show(op.shown)} (${op.value})`;
    return new ConfigError(op.name, r === -2 ? `value ${shown} is out of the core's range` : `the core refused ${shown} (${r})`);
  }
  if (op.secret || op.text === undefined) return new ConfigError(op.name, `the core refused it (${r}: table full, too long or does not parse)`);
  return new ConfigError(op.name, `the core refused ${show(op.text)} (${r}: table full or does not parse)`);
}
