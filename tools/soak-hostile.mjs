#!/usr/bin/env node
// The hostile-input soak (issue 18; tests/soak/hostile.mjs says what it sends and checks): mutated SIP
// over UDP and TCP against running servers, a liveness OPTIONS every --check-every inputs, RSS sampled
// after the first --first inputs, at the end and after --idle-secs of idleness. Prints the figures per
// host; exit 1 when a host breaks a rule (a liveness miss, RSS at the end or after the idle period more
// than --slack over the first sample), 2 on a usage or set-up error.
//
// Usage: npm run soak:hostile -- [--host node|native|micro|wasi|all] [--udp N (1000000)] [--tcp N (200000)]
//          [--rate R (6000 inputs/s)] [--check-every N (2000)] [--first N (100000)] [--idle-secs S (60)]
//          [--seed S] [--slack F (0.05)] [--node-arg ARG]... [--json FILE] [--no-netns]
//          [--prefault] [--wasi-aot]
//   wasi is UDP only: it gets --udp + --tcp inputs over UDP. WasmEdge runs the module in its interpreter
//   (about 1,300 inputs/s here: give it a --rate it can take) unless --wasi-aot, which compiles it
//   first (wasmedge compile, into .cache/wasmedge/) and runs that.
//
// Isolation: the soak re-runs itself in a network namespace of its own (unshare -n, loopback only), so
// no input and nothing the server sends or resolves can leave this machine's loopback. Without unshare
// it stops (exit 2) unless --no-netns is given (then host names in inputs may reach the system's resolver
// until the hosts read "dns.servers").
import { parseArgs } from "node:util";
import { spawnSync } from "node:child_process";
import { writeFileSync, mkdtempSync, rmSync, existsSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { runHostile, formatRun, HOSTS } from "../tests/soak/hostile.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const { values } = parseArgs({
  options: {
    host: { type: "string", default: "all" },
    udp: { type: "string", default: "1000000" },
    tcp: { type: "string", default: "200000" },
    rate: { type: "string", default: "6000" },
    "check-every": { type: "string", default: "2000" },
    first: { type: "string", default: "100000" },
    "idle-secs": { type: "string", default: "60" },
    seed: { type: "string", default: "18" },
    slack: { type: "string", default: "0.05" },
    "max-secs": { type: "string" },
    "node-arg": { type: "string", multiple: true, default: [] },
    "log-level": { type: "string", default: "info" },
    json: { type: "string" },
    "no-netns": { type: "boolean", default: false },
    prefault: { type: "boolean", default: false },
    "wasi-aot": { type: "boolean", default: false },
  },
});
const usage = (msg) => {
  console.error(`soak:hostile: ${msg}`);
  process.exit(2);
};
const int = (k) => {
  const v = Number(values[k]);
  if (!Number.isInteger(v) || v < 0) usage(`--${k} must be a whole number`);
  return v;
};
const hosts = values.host === "all" ? HOSTS : values.host.split(",");
for (const h of hosts) if (!HOSTS.includes(h)) usage(`--host: ${h} is not one of ${HOSTS.join(", ")}, all`);

// WasmEdge is fetched (needs the network) before entering the namespace.
let wasmedge = process.env.SOAK_WASMEDGE ? JSON.parse(process.env.SOAK_WASMEDGE) : null;
if (hosts.includes("wasi") && !wasmedge) {
  const w = spawnSync("sh", [join(root, "tools", "wasmedge.sh")], { cwd: root, encoding: "utf8", timeout: 300_000 });
  if (w.status !== 0) usage(`tools/wasmedge.sh failed (cannot fetch or run WasmEdge):\n${w.stderr}`);
  wasmedge = w.stdout.trim().split("\n").pop().split(" ");
}

let wasiModule = process.env.SOAK_WASI_MODULE;
if (hosts.includes("wasi") && values["wasi-aot"] && !wasiModule) {
  const wasm = join(root, "build", "wasi", "sipling-wasi.wasm");
  if (!existsSync(wasm)) usage(`no ${wasm}: build it with node tools/wasi.mjs`);
  wasiModule = join(root, ".cache", "wasmedge", "sipling-wasi-aot.so");
  if (!existsSync(wasiModule) || statSync(wasiModule).mtimeMs < statSync(wasm).mtimeMs) {
    const c = spawnSync(wasmedge[0], [...wasmedge.slice(1), "compile", wasm, wasiModule], { encoding: "utf8", timeout: 600_000 });
    if (c.status !== 0) usage(`wasmedge compile failed:\n${c.stderr}${c.stdout}`);
  }
}

if (!process.env.SOAK_NETNS && !values["no-netns"]) {
  // unshare -n as root, unshare -rn (a user namespace) otherwise; lo is down in a new namespace
  // A mount namespace too: /etc/resolv.conf there names 127.0.0.1, where the soak's silent DNS socket
  // listens on port 53, so a host that asks the system's resolver asks it (and waits for nothing).
  const flag = process.getuid?.() === 0 ? "-nm" : "-rnm";
  const resolv = join(mkdtempSync(join(tmpdir(), "sipling-soak-ns-")), "resolv.conf");
  writeFileSync(resolv, "nameserver 127.0.0.1\n");
  const setup = `ip link set lo up && mount --bind ${resolv} /etc/resolv.conf`;
  const probe = spawnSync("unshare", [flag, "--", "sh", "-c", setup], { encoding: "utf8" });
  if (probe.status !== 0)
    usage(`cannot make a network and mount namespace (unshare ${flag}: ${(probe.stderr || probe.error?.message || "").trim()}); ` +
      "run as root or where user namespaces are allowed, or pass --no-netns");
  const r = spawnSync("unshare", [flag, "--", "sh", "-c", `${setup} && exec "$0" "$@"`, process.execPath, ...process.argv.slice(1)], {
    stdio: "inherit", env: { ...process.env, SOAK_NETNS: "1", ...(wasmedge ? { SOAK_WASMEDGE: JSON.stringify(wasmedge) } : {}), ...(wasiModule ? { SOAK_WASI_MODULE: wasiModule } : {}) },
  });
  rmSync(dirname(resolv), { recursive: true, force: true });
  process.exit(r.status ?? 1);
}

const opts = {
  udp: int("udp"), tcp: int("tcp"), rate: int("rate"), checkEvery: int("check-every"), firstAt: int("first"),
  idleSecs: int("idle-secs"), seed: int("seed"), rssSlack: Number(values.slack), wasmedge, nodeArgs: values["node-arg"],
  logLevel: values["log-level"], maxSecs: values["max-secs"] ? Number(values["max-secs"]) : undefined,
  log: (line) => console.log(`soak:hostile: ${line}`),
  dnsPort: process.env.SOAK_NETNS ? 53 : 0, // the system's resolver asks it too (see above)
  wasiModule,
  prefault: values.prefault, // config "prefault" on every host
};
if (!(opts.rssSlack >= 0)) usage("--slack must be a number >= 0");
if (opts.rate === 0 || opts.checkEvery === 0) usage("--rate and --check-every must be above 0");

console.log(`soak:hostile: hosts ${hosts.join(", ")}; ${opts.udp} UDP + ${opts.tcp} TCP inputs each at ${opts.rate}/s, seed ${opts.seed}` +
  `${opts.prefault ? ", prefault" : ""}${wasiModule ? `, wasi AOT-compiled (${wasiModule})` : ""}` +
  `${process.env.SOAK_NETNS ? ", in a network namespace of its own" : ", NOT isolated (--no-netns)"}`);
const runs = [];
for (const host of hosts) {
  const f = await runHostile({ ...opts, host });
  runs.push(f);
  console.log(formatRun(f));
}
if (values.json) writeFileSync(values.json, JSON.stringify(runs, null, 2));
const failed = runs.filter((f) => f.failures.length);
console.log(`soak:hostile: ${runs.length - failed.length} passed, ${failed.length} failed`);
process.exit(failed.length ? 1 : 0);
