// "location.*" (the shared location service, issue 15 item 5) and "management" (item 6): keys of the Node
// and native hosts. Mistakes are refused naming the key, before or at start, with the same messages on
// both: a Redis address that is not IP:PORT, a key prefix that is not a token, the service on a core
// without it (micro), the API without metrics.listen, an instance address with port 0; the firmware
// bridge refuses the keys by its key list.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const dir = mkdtempSync(join(tmpdir(), "sipling-loccfg-"));
const NODE = [process.execPath, join(root, "host/node/cli.mjs")];
/** each host's command line for a board */
const HOSTS = { node: () => NODE, native: (board) => [join(root, "build", board, "sipling")] };
let n = 0;
function run(argv, config, more = []) {
  const f = join(dir, `c${++n}.json`);
  writeFileSync(f, JSON.stringify({ listen: ["udp:127.0.0.1:0"], ...config }));
  return spawnSync(argv[0], [...argv.slice(1), "--config", f, ...more], { encoding: "utf8", timeout: 20_000, env: { ...process.env, SIPLING_NO_BUILD: "1" } });
}
const last = (r) => r.stderr.trim().split("\n").pop();

for (const [name, cmd] of Object.entries(HOSTS)) {
test(`${name}: malformed location keys are refused naming the key; good ones print back`, () => {
  const NODE = cmd("server");
  let r = run(NODE, { location: { redis: "localhost:6379" } }, ["--print-config"]);
  assert.equal(r.status, 2);
  assert.equal(last(r), `config error: "location.redis": expected "IP:PORT" with a numeric address (127.0.0.1:9090, [::1]:9090), got "localhost:6379"`);
  r = run(NODE, { location: { redis: "127.0.0.1:6379", prefix: "a b" } }, ["--print-config"]);
  assert.equal(r.status, 2);
  assert.match(last(r), /^config error: "location\.prefix": expected a method token/);
  r = run(NODE, { location: { redis: "127.0.0.1:6379", address: "127.0.0.1:5060", prefix: "site-1" }, management: true, metrics: { listen: "127.0.0.1:0" } }, ["--print-config"]);
  assert.equal(r.status, 0, r.stderr);
  const c = JSON.parse(r.stdout);
  assert.deepEqual(c.location, { redis: "127.0.0.1:6379", address: "127.0.0.1:5060", prefix: "site-1" });
  assert.equal(c.management, true);
});

test(`${name}: the location service on the micro core, the API without metrics.listen, an address with port 0: refused at start naming the key`, () => {
  const NODE = cmd("server");
  let r = run(cmd("micro"), { board: "micro", location: { redis: "127.0.0.1:1" } });
  assert.equal(r.status, 2, r.stderr);
  assert.equal(last(r), `config error: "location.redis": needs a core with the location service (board "server" or "b2bua"; this is "micro")`);
  r = run(NODE, { management: true });
  assert.equal(r.status, 2, r.stderr);
  assert.equal(last(r), `config error: "management": needs metrics.listen (the API is served beside the metrics)`);
  r = run(NODE, { location: { redis: "127.0.0.1:1", address: "127.0.0.1:0" } });
  assert.equal(r.status, 2, r.stderr);
  assert.match(last(r), /^config error: "location\.address": port 0 is no address for the other instances \(127\.0\.0\.1:0\)$/);
});
}

test("the firmware bridge refuses the keys by its key list", () => {
  for (const [name, argv] of [["firmware", [process.execPath, join(root, "host/firmware/bridge.mjs")]]]) {
    for (const [config, key] of [[{ location: { redis: "127.0.0.1:6379" } }, "location.redis"], [{ management: true }, "management"]]) {
      const r = run(argv, config, ["--print-config"]);
      assert.equal(r.status, 2, `${name} ${key}: ${r.stderr}`);
      assert.equal(last(r), `config error: "${key}": not supported by the ${name} host (only by node, native)`);
    }
  }
});
