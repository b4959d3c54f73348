// The Node host's command line (host/node/cli.mjs): --help, configuration errors (exit 2, naming
// the key, no stack trace), flags overriding the file (--print-config). Binds no sockets: every
// case either fails validation or prints and exits before listening.
import { test, before } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const cli = join(root, "host", "node", "cli.mjs");
let dir;

before(() => {
  // The CLI runs the bundle: (re)build it from host/node/*.ts (fast; esbuild).
  const r = spawnSync(process.execPath, [join(root, "host", "node", "bundle.mjs"), "--quiet"], { cwd: root, encoding: "utf8" });
  assert.equal(r.status, 0, `bundle failed: ${r.stderr}`);
  dir = mkdtempSync(join(tmpdir(), "sipling-cli-"));
  process.on("exit", () => rmSync(dir, { recursive: true, force: true }));
});

/** Runs the CLI (never rebuilding the core: SIPLING_NO_BUILD) and returns {status, stdout, stderr}. */
function run(...args) {
  const r = spawnSync(process.execPath, [cli, ...args], {
    cwd: root, encoding: "utf8", timeout: 10_000, env: { ...process.env, SIPLING_NO_BUILD: "1" },
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function configFile(name, value) {
  const f = join(dir, name);
  writeFileSync(f, typeof value === "string" ? value : JSON.stringify(value));
  return f;
}

function assertConfigError(r, ...needles) {
  assert.equal(r.status, 2, `exit status (stderr: ${r.stderr})`);
  for (const n of needles) assert.ok(r.stderr.includes(n), `stderr should contain ${JSON.stringify(n)}: ${r.stderr}`);
  assert.doesNotMatch(r.stderr, /\n\s+at /, "no stack trace");
  assert.equal(r.stdout, "", "nothing on stdout");
}

test("--help prints usage and exits 0", () => {
  const r = run("--help");
  assert.equal(r.status, 0);
  assert.match(r.stdout, /usage: sipling \[--config FILE\] \[--listen udp\|tcp\|tls\|ws\|wss:HOST:PORT\]\.\.\. \[--domain NAME\]\.\.\./);
  for (const flag of ["--config", "--listen", "--domain", "--log-level", "--trace", "--print-config", "--help"])
    assert.ok(r.stdout.includes(flag), `help mentions ${flag}`);
});

test("no arguments: UDP and TCP on 127.0.0.1:5060, domains localhost + listen hosts", () => {
  const r = run("--print-config");
  assert.equal(r.status, 0, r.stderr);
  const c = JSON.parse(r.stdout);
  assert.deepEqual(c.listen, ["udp:127.0.0.1:5060", "tcp:127.0.0.1:5060"]);
  assert.deepEqual(c.domains, ["localhost", "127.0.0.1"]);
  assert.equal(c.logLevel, "info");
  assert.equal(c.trace, false);
  assert.equal(c.board, "server");
  assert.deepEqual(c.timers, { t1: 500, t2: 4000, t4: 5000, timerC: 180000 });
});

test("a bad listen string in the file names the key and what was expected", () => {
  const f = configFile("bad-listen.json", { listen: ["udp:127.0.0.1:5060", "foo"] });
  assertConfigError(run("--config", f), `config error: "listen[1]": expected "udp|tcp|tls|ws|wss:HOST:PORT", got "foo"`);
});

test("bad listen strings: port out of range, unbracketed IPv6, unknown protocol", () => {
  for (const bad of ["udp:127.0.0.1:70000", "tcp:::1:5060", "sctp:127.0.0.1:5061", "udp:127.0.0.1"]) {
    const f = configFile("bad-listen2.json", { listen: [bad] });
    assertConfigError(run("--config", f), `"listen[0]"`, JSON.stringify(bad));
  }
});

test("a bad --listen flag names the flag", () => {
  assertConfigError(run("--listen", "udp:1.2.3.4"), `"--listen": expected "udp|tcp|tls|ws|wss:HOST:PORT", got "udp:1.2.3.4"`);
});

test("an unknown key is an error", () => {
  const f = configFile("unknown.json", { listen: ["udp:127.0.0.1:5060"], bogus: 1 });
  assertConfigError(run("--config", f), `"bogus": unknown key`);
});

test("an unknown nested key is an error naming its path", () => {
  const f = configFile("unknown-nested.json", { timers: { t1: 500, t3: 1 } });
  assertConfigError(run("--config", f), `"timers.t3": unknown key`);
});

test("a wrong type for logLevel names the key and the expected values", () => {
  const f = configFile("loglevel.json", { logLevel: 3 });
  assertConfigError(run("--config", f), `"logLevel": expected one of error|warn|info|debug, got 3`);
});

test("wrong types elsewhere: trace, timers.t1, registrar.maxExpires, board", () => {
  const cases = [
    [{ trace: "yes" }, `"trace": expected true or false`],
    [{ timers: { t1: -5 } }, `"timers.t1": expected an integer`],
    [{ registrar: { maxExpires: 1.5 } }, `"registrar.maxExpires": expected an integer`],
    [{ board: "esp32" }, `"board": expected one of server|micro`],
    [{ outboundProxy: "proxy.example.org" }, `"outboundProxy": expected a SIP URI`],
    [{ domains: "example.org" }, `"domains": expected an array of strings`],
    [[1, 2], `expected an object`],
  ];
  for (const [value, needle] of cases) assertConfigError(run("--config", configFile("types.json", value)), needle);
});

test("a bad --log-level flag names the flag", () => {
  assertConfigError(run("--log-level", "verbose"), `"--log-level": expected one of error|warn|info|debug, got "verbose"`);
});

test("a missing config file exits 2 naming --config and the file", () => {
  const f = join(dir, "does-not-exist.json");
  assertConfigError(run("--config", f), `"--config"`, f, "ENOENT");
});

test("a config file that is not JSON exits 2", () => {
  assertConfigError(run("--config", configFile("broken.json", "{ listen: ")), `"--config"`, "not valid JSON");
});

test("an unknown option and a missing value are usage errors", () => {
  assertConfigError(run("--frobnicate"), `usage error: "--frobnicate": unknown option`);
  assertConfigError(run("--config"), `usage error: "--config": expected a value`);
});

test("flags override the file", () => {
  const f = configFile("override.json", {
    listen: ["udp:127.0.0.1:5080"],
    domains: ["a.example"],
    logLevel: "warn",
    trace: false,
    timers: { t1: 250 },
    registrar: { maxContactsPerAor: 4 },
    recordRoute: false,
    outboundProxy: "sip:proxy.example:5060",
  });
  const r = run("--config", f, "--listen", "tcp:[::1]:5090", "--listen=udp:127.0.0.1:5091", "--log-level", "debug", "--trace", "--print-config");
  assert.equal(r.status, 0, r.stderr);
  const c = JSON.parse(r.stdout);
  assert.deepEqual(c.listen, ["tcp:[::1]:5090", "udp:127.0.0.1:5091"], "--listen replaces the file's list");
  assert.equal(c.logLevel, "debug");
  assert.equal(c.trace, true);
  assert.deepEqual(c.domains, ["a.example"], "file value kept when no flag is given");
  assert.equal(c.timers.t1, 250);
  assert.equal(c.timers.t2, 4000, "unset keys keep defaults");
  assert.equal(c.registrar.maxContactsPerAor, 4);
  assert.equal(c.recordRoute, false);
  assert.equal(c.outboundProxy, "sip:proxy.example:5060");

  const r2 = run("--config", f, "--domain", "b.example", "--domain", "c.example", "--print-config");
  assert.deepEqual(JSON.parse(r2.stdout).domains, ["b.example", "c.example"]);
});

test("default domains follow the listen hosts (IPv6 bracketed, wildcards skipped)", () => {
  const r = run("--listen", "udp:[::1]:5060", "--listen", "tcp:0.0.0.0:5060", "--listen", "udp:10.1.2.3:5070", "--print-config");
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout).domains, ["localhost", "[::1]", "10.1.2.3"]);
});

test("--print-config output is a valid config file", () => {
  const first = run("--listen", "tcp:[::1]:5090", "--domain", "x.example", "--trace", "--print-config");
  assert.equal(first.status, 0, first.stderr);
  const f = configFile("roundtrip.json", first.stdout);
  const second = run("--config", f, "--print-config");
  assert.equal(second.status, 0, second.stderr);
  assert.deepEqual(JSON.parse(second.stdout), JSON.parse(first.stdout));
});

test("overloadControl and prefault: on and off by default, booleans only", () => {
  const d = JSON.parse(run("--print-config").stdout);
  assert.equal(d.overloadControl, true);
  assert.equal(d.prefault, false);
  const f = configFile("overload.json", { overloadControl: false, prefault: true });
  const c = JSON.parse(run("--config", f, "--print-config").stdout);
  assert.equal(c.overloadControl, false);
  assert.equal(c.prefault, true);
  assertConfigError(run("--config", configFile("overload-bad.json", { overloadControl: "yes" })), `"overloadControl"`);
});

test("cross-key checks: minExpires above maxExpires", () => {
  const f = configFile("expires.json", { registrar: { minExpires: 600, maxExpires: 300, defaultExpires: 300 } });
  assertConfigError(run("--config", f), `"registrar.minExpires"`);
});
