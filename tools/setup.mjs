#!/usr/bin/env node
// Test prerequisites that npm cannot install: Debian packages (SIPp from `sip-tester`). Installs what is
// missing with apt-get when running as root (CI, fresh machines); otherwise says what to run and fails,
// so that no test is ever skipped silently because a tool is missing.
import { spawnSync } from "node:child_process";

const needed = [{ cmd: "sipp", pkg: "sip-tester" }];

function has(cmd) {
  return spawnSync("sh", ["-c", `command -v ${cmd}`], { stdio: "ignore" }).status === 0;
}

const missing = needed.filter((n) => !has(n.cmd));
if (missing.length === 0) process.exit(0);
const pkgs = missing.map((m) => m.pkg);
if (process.getuid && process.getuid() !== 0) {
  console.error(`setup: missing ${missing.map((m) => m.cmd).join(", ")}; install with: sudo apt-get install -y ${pkgs.join(" ")}`);
  process.exit(1);
}
console.log(`setup: installing ${pkgs.join(" ")} with apt-get`);
const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
for (const args of [["update", "-qq"], ["install", "-y", "-qq", ...pkgs]]) {
  const r = spawnSync("apt-get", args, { stdio: "inherit", env });
  if (r.status !== 0) {
    console.error(`setup: apt-get ${args.join(" ")} failed (${r.status})`);
    process.exit(1);
  }
}
const still = missing.filter((n) => !has(n.cmd));
if (still.length) {
  console.error(`setup: still missing after install: ${still.map((m) => m.cmd).join(", ")}`);
  process.exit(1);
}
