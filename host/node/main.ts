// Entry point of the Node host (bundled into build/node/sipling.mjs; launched by host/node/cli.mjs).
// Exit status: 0 ok (also --help, --print-config, a signal), 1 runtime error, 2 usage/config error.
import { readFileSync } from "node:fs";
import { VERSION } from "./numbers.js";
import { findWasm, wasmCandidates, coreLines } from "./cores.js";
import { parseCli, ConfigError, USAGE, checkSecureDefault, printable, type Cli } from "./config.js";
import { Logger } from "./log.js";
import { CoreError } from "./abi.js";
import { Host, StartError, DEREGISTER_GRACE_MS } from "./host.js";
import { UsageLog } from "./usage.js";

function die(code: number, text: string): never {
  process.stderr.write(text.endsWith("\n") ? text : text + "\n");
  process.exit(code);
}

/** --version: the release and each core build this host can load (board, file, wasm size). */
function versionText(): string {
  return `sipling ${VERSION} (Node host, Node ${process.versions.node})\n${coreLines(["server", "micro", "gateway", "b2bua"]).join("\n")}\n`;
}

export async function main(argv: string[]): Promise<void> {
  let cli: Cli;
  try {
    cli = parseCli(argv);
  } catch (e) {
    if (e instanceof ConfigError) die(2, e.message);
    throw e;
  }
  if (cli.help) {
    process.stdout.write(USAGE);
    return;
  }
  if (cli.version) {
    process.stdout.write(versionText());
    return;
  }
  if (cli.printConfig) {
    process.stdout.write(JSON.stringify(printable(cli.config), null, 2) + "\n");
    return;
  }
  // The secure default, before anything is bound: no users + a non-loopback address = open relay.
  try {
    checkSecureDefault(cli.config);
  } catch (e) {
    if (e instanceof ConfigError) die(2, e.message);
    throw e;
  }

  const cfg = cli.config;
  const log = new Logger(cfg.logLevel);
  let flushUsage = () => {};
  const fail = (code: number, msg: string, fields?: object): never => {
    log.error(msg, fields);
    log.flush();
    flushUsage();
    process.exit(code);
  };
  process.on("uncaughtException", (e) => fail(1, "internal error", { error: e.message, stack: e.stack }));

  const file = findWasm(cfg.board);
  if (!file)
    fail(1, `core not found for board "${cfg.board}": build the core first (npm run build && npm run bundle)`, { looked: wasmCandidates(cfg.board) });
  let mod: WebAssembly.Module;
  try {
    mod = new WebAssembly.Module(readFileSync(file!));
  } catch (e) {
    return fail(1, `cannot load the core ${file}: ${(e as Error).message}`);
  }

  let usage: UsageLog | null = null;
  if (cfg.usageLog !== undefined) {
    try {
      usage = new UsageLog(cfg.usageLog, (msg, fields) => log.error(msg, fields));
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
      log.flush();
      die(2, new ConfigError("usageLog", `cannot open ${JSON.stringify(cfg.usageLog)} for appending (${code})`).message);
    }
  }
  let host: Host;
  try {
    host = new Host(cfg, cli.listens, log, usage);
  } catch (e) {
    if (e instanceof ConfigError) {
      log.flush();
      die(2, e.message);
    }
    throw e;
  }
  if (usage) flushUsage = () => usage!.flush();
  let stopped = false;
  const stop = async (signal: string) => {
    if (stopped) return;
    stopped = true;
    log.info("stopping", { signal });
    await host.deregister(DEREGISTER_GRACE_MS);
    host.close();
    log.info("stopped");
    log.flush();
    process.exit(0);
  };
  process.on("SIGINT", () => void stop("SIGINT"));
  process.on("SIGTERM", () => void stop("SIGTERM"));
  // SIGUSR2: log the core's counters now (one "stats" line, see --help), the server keeps running.
  process.on("SIGUSR2", () => {
    if (stopped) return;
    host.logStats("SIGUSR2");
    log.flush();
  });

  try {
    await host.bind();
    host.startCore(mod!);
    await host.startOverloadControl();
    await host.startMetrics();
    await host.startLocation();
  } catch (e) {
    host.close();
    if (e instanceof ConfigError) {
      log.flush();
      die(2, e.message);
    }
    if (e instanceof CoreError) {
      const missing = (e as CoreError & { missing?: string[] }).missing;
      fail(1, e.message, missing && missing.length > 1 ? { core: file, missing } : { core: file });
    }
    if (e instanceof StartError) fail(1, e.message);
    throw e;
  }
  log.info("running", { core: file, board: cfg.board, pid: process.pid });
}

main(process.argv.slice(2)).catch((e) => {
  process.stderr.write(`sipling: ${(e as Error)?.stack ?? e}\n`);
  process.exit(1);
});
