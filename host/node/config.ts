// Command line and configuration file of the Node host: the shared walker (host/shared/config.mjs)
// over the generated schema (host/node/schema.ts, from host/shared/config.json), plus this host's
// --help text and a typed view of the keys the host itself reads.
//
//   sipling [--config FILE] [--listen udp|tcp|tls|ws|wss:HOST:PORT]... [--domain NAME]...
//           [--log-level L] [--trace] [--usage-log FILE] [--print-config]
//   sipling --help
//
// Flags override the file; repeated --listen / --domain flags replace the file's list. Every error
// names the key (or flag) and what was expected, and is raised as a ConfigError (the entry point
// prints it and exits with status 2).
import {
  ConfigError, MASK, load, fromObject, usage, wrap, printable as printableOf, checkSecureDefault as secureDefault, patternBytes, parseTlsPeer,
  type Config as SharedConfig, type HostSpec, type Listen as SharedListen, type User as SharedUser,
} from "../shared/config.mjs";
import { SCHEMA } from "./schema.js";
import { STAT_NAMES } from "./numbers.js";

export { ConfigError, MASK, patternBytes };
export type Listen = SharedListen;
export type User = SharedUser;
export type Proto = "udp" | "tcp" | "tls" | "ws" | "wss";
export type LogLevel = "error" | "warn" | "info" | "debug";
export const LOG_LEVELS: readonly LogLevel[] = ["error", "warn", "info", "debug"];

export const SPEC: HostSpec = { schema: SCHEMA, host: "node", name: "sipling" };

export const USAGE = usage(SPEC, {
  head: "sipling - SIP proxy and registrar (AssemblyScript core, Node host)",
  tail: `Usage records: with "usageLog" (or --usage-log) one JSON object per line is appended for each
usage event (registrations, calls, auth-fail, policy-refusal, flood-blocked, table-full; docs/ABI.md)
with the fields that apply: time, event, the event's text fields (aor, contact, caller, callee, user,
uri, callId, cause, rule), expires or duration (s), source, result, lost.

${wrap(`Logs are JSON lines on stdout. SIGINT/SIGTERM stop the server; SIGUSR2 logs the core's counters
as one line {"msg":"stats","signal":"SIGUSR2", ...} and keeps running (the same line is logged at
stop): ${STAT_NAMES.join(", ")}. Exit status: 0 ok, 1 runtime error (e.g. a socket that cannot be
bound, a core without the ABI), 2 usage/configuration error.`, 0, 100)}
Environment: SIPLING_WASM=FILE loads that core instead of the bundled one.
`,
});

/** The keys the Node host reads itself (the rest only go to the core). */
export interface Config {
  readonly shared: SharedConfig;
  readonly listen: readonly string[];
  readonly domains: readonly string[];
  readonly logLevel: LogLevel;
  readonly trace: boolean;
  readonly overloadControl: boolean;
  readonly prefault: boolean;
  readonly board: "server" | "micro" | "gateway" | "b2bua";
  readonly realm?: string;
  readonly users?: readonly User[];
  readonly outboundProxy?: string;
  readonly usageLog?: string;
  /** dns.servers (IP, IP:port, [IPv6]:port), or undefined: the system's */
  readonly dnsServers?: readonly string[];
  /** dns.timeout, ms */
  readonly dnsTimeout: number;
  /** mediaRelay.addresses: where relay ports are bound */
  readonly relayAddresses: readonly string[];
  /** metrics.listen: the Prometheus endpoint's IP:PORT, or undefined: off */
  readonly metricsListen?: string;
  /** management: the JSON API beside the metrics */
  readonly management: boolean;
  /** location.redis: the Redis server of the shared location service, IP:PORT, or undefined: off */
  readonly locationRedis?: string;
  /** location.address: this instance's SIP address for the others (default: its first udp listen) */
  readonly locationAddress?: string;
  readonly locationPrefix: string;
  /** location.username and location.password: AUTH on the Redis connections (no password: none) */
  readonly locationAuth: { readonly username?: string; readonly password: string } | undefined;
  /** the tls.* keys (files read when the TLS listeners are set up, host/node/tls.ts) */
  readonly tls: TlsConfig;
}

export interface TlsConfig {
  readonly certificate?: string;
  readonly key?: string;
  readonly ca?: string;
  readonly verifyClient: boolean;
  readonly verifyServer: boolean;
  /** tls.peers, parsed: per network, a client certificate required or not, and the name to verify */
  readonly peers: readonly { readonly cidr: string; readonly require: boolean; readonly name: string | undefined }[];
}

export interface Cli {
  help: boolean;
  version: boolean;
  printConfig: boolean;
  config: Config;
  listens: Listen[];
}

function view(c: SharedConfig): Config {
  const v = c.values;
  return {
    shared: c,
    listen: v.get("listen") as string[],
    domains: v.get("domains") as string[],
    logLevel: v.get("logLevel") as LogLevel,
    trace: v.get("trace") as boolean,
    overloadControl: v.get("overloadControl") as boolean,
    prefault: v.get("prefault") as boolean,
    board: v.get("board") as "server" | "micro" | "gateway" | "b2bua",
    realm: v.get("realm") as string | undefined,
    users: v.get("users") as User[] | undefined,
    outboundProxy: v.get("outboundProxy") as string | undefined,
    usageLog: v.get("usageLog") as string | undefined,
    dnsServers: v.get("dns.servers") as string[] | undefined,
    dnsTimeout: v.get("dns.timeout") as number,
    relayAddresses: (v.get("mediaRelay.addresses") as string[] | undefined) ?? [],
    metricsListen: v.get("metrics.listen") as string | undefined,
    management: v.get("management") as boolean,
    locationRedis: v.get("location.redis") as string | undefined,
    locationAddress: v.get("location.address") as string | undefined,
    locationPrefix: v.get("location.prefix") as string,
    locationAuth: v.has("location.password")
      ? { username: v.get("location.username") as string | undefined, password: v.get("location.password") as string }
      : undefined,
    tls: {
      certificate: v.get("tls.certificate") as string | undefined,
      key: v.get("tls.key") as string | undefined,
      ca: v.get("tls.ca") as string | undefined,
      verifyClient: v.get("tls.verifyClient") as boolean,
      verifyServer: v.get("tls.verifyServer") as boolean,
      peers: ((v.get("tls.peers") as string[] | undefined) ?? []).map((p) => parseTlsPeer(p)!),
    },
  };
}

/** Parses argv (without node and script), reads the file, merges, validates. */
export function parseCli(argv: string[]): Cli {
  const { args, cfg } = load(argv, SPEC);
  if (!cfg) return { help: args.help, version: args.version, printConfig: args.printConfig, config: null as unknown as Config, listens: [] };
  return { help: false, version: false, printConfig: args.printConfig, config: view(cfg), listens: cfg.listens };
}

/** A configuration object (the JSON file's content, parsed), resolved and checked like a file. */
export function configFromObject(object: unknown): { config: Config; listens: Listen[] } {
  const cfg = fromObject(object, SPEC);
  return { config: view(cfg), listens: cfg.listens };
}

/** The configuration as --print-config shows it: secrets replaced by "***". */
export function printable(cfg: Config): Record<string, unknown> {
  return printableOf(cfg.shared);
}

/** The secure default, checked before binding (see host/shared/config.mjs). */
export function checkSecureDefault(cfg: Config): void {
  secureDefault(cfg.shared);
}
