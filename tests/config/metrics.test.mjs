// "metrics.listen" (issue 15 item 4: the Prometheus endpoint) on the two hosts that serve it: the Node host
// (host/shared/config.mjs) and the native server binary (host/c/config.c) give the same message for the
// same mistake, naming the key; a good address prints back; off by default (no "metrics" in a printed
// default configuration). The firmware bridge and the WASI host refuse the key by their key lists.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname, basename } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const dir = mkdtempSync(join(tmpdir(), "sipling-metricscfg-"));
const HOSTS = [["node", [process.execPath, join(root, "host/node/cli.mjs")]], ["native", [join(root, "build/server/sipling")]]];
const base = (metrics) => ({ listen: ["udp:127.0.0.1:0"], metrics });

let n = 0;
function run(argv, config, more = []) {
  const f = join(dir, `c${++n}.json`);
  writeFileSync(f, JSON.stringify(config));
  return spawnSync(argv[0], [...argv.slice(1), "--config", f, ...more], { encoding: "utf8", timeout: 20_000, env: { ...process.env, SIPLING_NO_BUILD: "1" } });
}

const EXPECTED = `expected "IP:PORT" with a numeric address (127.0.0.1:9090, [::1]:9090)`;
/** [configuration, the error line every host prints] */
const CASES = [
  ...["localhost:9090", "127.0.0.1", "::1:9090", "[127.0.0.1]:9090", "127.0.0.1:65536", "127.0.0.1:", "127.0.0.1:90x", "", "[fe80::1%eth0]:9090", "1.2.3:9090"]
    .map((v) => [base({ listen: v }), `config error: "metrics.listen": ${EXPECTED}, got ${JSON.stringify(v)}`]),
  [base({ listen: 9090 }), `config error: "metrics.listen": ${EXPECTED}, got 9090`],
  [base({ listen: ["127.0.0.1:9090"] }), `config error: "metrics.listen": ${EXPECTED}, got ["127.0.0.1:9090"]`],
  [base({ port: 9090 }), `config error: "metrics.port": unknown key (expected listen)`],
];

for (const [host, argv] of HOSTS) {
  test(`${host}: each mistake in "metrics.listen" is refused with the same message, naming the key`, () => {
    for (const [config, want] of CASES) {
      const r = run(argv, config, ["--print-config"]);
      assert.equal(r.status, 2, `${JSON.stringify(config)}: exit status (stderr: ${r.stderr})`);
      assert.equal(r.stderr.trim().split("\n").pop(), want, JSON.stringify(config));
    }
  });

  test(`${host}: a good address prints back; the endpoint is off by default`, () => {
    for (const listen of ["127.0.0.1:9090", "0.0.0.0:0", "[::1]:9100", "[::]:65535"]) {
      const r = run(argv, base({ listen }), ["--print-config"]);
      assert.equal(r.status, 0, r.stderr);
      assert.deepEqual(JSON.parse(r.stdout).metrics, { listen }, listen);
    }
    const r = run(argv, { listen: ["udp:127.0.0.1:0"] }, ["--print-config"]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).metrics, undefined, "no metrics key by default");
  });
}

test("the firmware bridge refuses the key by its key list, naming it", () => {
  const r = run([process.execPath, join(root, "host/firmware/bridge.mjs")], { metrics: { listen: "127.0.0.1:9090" } }, ["--print-config"]);
  assert.equal(r.status, 2, r.stderr);
  assert.equal(r.stderr.trim().split("\n").pop(), `config error: "metrics.listen": not supported by the firmware host (only by node, native)`);
});

test("the WASI host refuses the key by its key list, naming it", () => {
  // the runtime and the WASI build as tests/hosts/wasi-config.test.mjs gets them (cached after the first run)
  const w = spawnSync("sh", [join(root, "tools", "wasmedge.sh")], { cwd: root, encoding: "utf8", timeout: 300_000 });
  assert.equal(w.status, 0, `tools/wasmedge.sh failed:\n${w.stderr}`);
  const runtime = w.stdout.trim().split("\n").pop().split(" ");
  const b = spawnSync(process.execPath, [join(root, "tools", "wasi.mjs"), "--quiet"], { cwd: root, encoding: "utf8", timeout: 120_000 });
  assert.equal(b.status, 0, `tools/wasi.mjs failed:\n${b.stdout}${b.stderr}`);
  const f = join(dir, "wasi.json");
  writeFileSync(f, JSON.stringify({ metrics: { listen: "127.0.0.1:9090" } }));
  const r = spawnSync(runtime[0], [...runtime.slice(1), "--dir", `/cfg:${dir}`, join(root, "build", "wasi", "sipling-wasi.wasm"),
    "--config", `/cfg/${basename(f)}`, "--print-config"], { encoding: "utf8", timeout: 15_000 });
  assert.equal(r.status, 2, r.stderr);
  assert.match(r.stderr.trim().split("\n").pop(), /^config error: "metrics\.listen": not supported by the wasi host/);
});
