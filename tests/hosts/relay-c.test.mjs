// The native host's media relay engine (host/c/relay.c) with real UDP sockets on loopback, IPv4 and
// IPv6: tests/hosts/relay-c/driver.c, built here with gcc against relay.c alone, plays each scenario as
// the two parties of a stream (and a third party) and checks what arrives where, from which relay port,
// and the reports (Idle, BindFailed, Closed with its counters). One driver run per scenario and family;
// each wait inside is bounded (1 s for a datagram, 3 s for an Idle report).
import { test, before } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const driver = join(mkdtempSync(join(tmpdir(), "sipling-relay-")), "driver");

before(() => {
  const cc = process.env.CC || "gcc";
  const src = [join(root, "tests", "hosts", "relay-c", "driver.c"), join(root, "host", "c", "relay.c")];
  const args = ["-O2", "-std=c11", "-D_GNU_SOURCE", "-Wall", "-Wextra", "-Werror", "-pthread", "-I", join(root, "host", "c"), ...src, "-o", driver];
  const r = spawnSync(cc, args, { encoding: "utf8", timeout: 60_000 });
  assert.equal(r.status, 0, `${cc} ${args.join(" ")} failed:\n${r.stderr}`);
});

/** Runs `driver scenario family` (under `wrap`, a command that execs its arguments): resolves with {code, out}. */
function run(scenario, family, wrap = []) {
  return new Promise((resolve, reject) => {
    const argv = [...wrap, driver, scenario, String(family)];
    const p = spawn(argv[0], argv.slice(1), { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    p.stdout.on("data", (d) => (out += d));
    p.stderr.on("data", (d) => (out += d));
    const timer = setTimeout(() => p.kill("SIGKILL"), 20_000);
    p.on("error", reject);
    p.on("exit", (code, sig) => {
      clearTimeout(timer);
      resolve({ code: sig ? `signal ${sig}` : code, out });
    });
  });
}

const SCENARIOS = {
  forward: "RTP and RTCP forwarded both ways, each out of the partner leg's port of its kind",
  mux: "rtcp-mux: one port a leg, RTCP told by its type, and a muxed leg towards one that is not",
  latch: "a NATed sender latches: the reply goes to its source; a third party and the SDP port are dropped",
  relatch: "a re-Open with a new peer relatches; the old source is dropped",
  idle: "Idle reported once per leg after 1 s of silence on the stream, not while packets flow",
  close: "Close unbinds, stops forwarding and reports packets, bytes, sequence gaps and unsent",
  bindfail: "a taken RTP or RTCP port reports BindFailed and leaves nothing bound",
  record: "the core's relay record (docs/ABI.md layout) applied by relay_apply_record opens and closes legs",
  queue: "full command queues make the caller wait, all commands apply; a full report queue counts what it loses",
  stranger: "a stranger who sends first from another address than the SDP's is dropped; the party then latches",
  private: "an SDP address that is not known, unspecified or private latches to the first source; a concrete one does not",
  replace: "a latch to the SDP's address at another port is replaced by the SDP's exact port (RTP and RTCP)",
  strict: "a latch to the SDP's exact port is not replaced by the same address at another port",
};

// "nat" needs the phone's private address on lo: run in a network namespace of its own (unshare -rn: an
// unprivileged user and network namespace; nothing outside it changes), skipped where that is refused.
const NETNS = "ip link set lo up && ip addr add 192.168.1.10/32 dev lo && ip addr add fd00::10/128 dev lo nodad && ip addr add 2001:db8::1/128 dev lo nodad";
const netns = spawnSync("unshare", ["-rn", "sh", "-c", NETNS], { encoding: "utf8", timeout: 10_000 });
const netnsSkip = netns.status === 0 ? false : `no network namespace (unshare -rn): ${(netns.stderr || netns.error?.message || "").trim()}`;

for (const family of [4, 6]) {
  test(`relay.c IPv${family} nat: a phone behind NAT (its SDP private): the NAT latches, the SDP's address at another port replaces it, the SDP's port replaces that`, { timeout: 30_000, skip: netnsSkip }, async () => {
    const r = await run("nat", family, ["unshare", "-rn", "sh", "-c", `${NETNS} && exec "$0" "$@"`]);
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, new RegExp(`^ok nat IPv${family}$`, "m"));
  });
  for (const [name, what] of Object.entries(SCENARIOS)) {
    test(`relay.c IPv${family} ${name}: ${what}`, { timeout: 30_000 }, async () => {
      const r = await run(name, family);
      assert.equal(r.code, 0, r.out);
      assert.match(r.out, new RegExp(`^ok ${name} IPv${family}$`, "m"));
    });
  }
}
