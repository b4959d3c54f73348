// Helpers of the tests that run a host as a process and probe it over UDP (tests/hosts/blocked-*.test.mjs,
// tcp-bounds.test.mjs): the command line of a host, and one request's answer time.
import { join } from "node:path";
import { existsSync } from "node:fs";
import assert from "node:assert/strict";
import { root } from "./core.mjs";

/** [command, args] that run `host` ("node" | "native") on the configuration file cfg. */
export function hostCommand(host, cfg) {
  if (host === "node") return [process.execPath, [join(root, "host", "node", "cli.mjs"), "--config", cfg]];
  const bin = join(root, "build", "server", "sipling");
  assert.ok(existsSync(bin), `no ${bin}: build it with node tools/build.mjs`);
  return [bin, ["--config", cfg]];
}

/**
 * Sends `bytes` from sock to 127.0.0.1:port and resolves the time (ms) until a datagram containing
 * `tag` comes back, or -1 after ms.
 */
export function ask(sock, port, bytes, tag, ms) {
  const t0 = performance.now();
  return new Promise((res) => {
    const on = (m) => {
      if (m.toString("latin1").includes(tag)) done(performance.now() - t0);
    };
    const done = (v) => {
      clearTimeout(t);
      sock.off("message", on);
      res(v);
    };
    const t = setTimeout(() => done(-1), ms);
    sock.on("message", on);
    sock.send(bytes, port, "127.0.0.1");
  });
}
