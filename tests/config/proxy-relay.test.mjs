// The proxy's media relay configuration ("mediaRelay.mode", issue 14) on the two hosts that relay: the
// Node host (host/shared/config.mjs) and the native server binary (host/c/config.c) give the same message
// for the same mistake, naming the key; a good configuration prints back its mode; a core without the
// relay (board micro) refuses the relay's keys by name when it starts, never runs without them.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const dir = mkdtempSync(join(tmpdir(), "sipling-relaycfg-"));
const HOSTS = [["node", [process.execPath, join(root, "host/node/cli.mjs")]], ["native", [join(root, "build/server/sipling")]]];
const RANGE = { addresses: ["127.0.0.1"], portMin: 20000, portMax: 20099 };
const base = (mediaRelay, extra = {}) => ({ listen: ["udp:127.0.0.1:0"], mediaRelay, ...extra });

let n = 0;
function run(argv, config, more = []) {
  const f = join(dir, `c${++n}.json`);
  writeFileSync(f, JSON.stringify(config));
  return spawnSync(argv[0], [...argv.slice(1), "--config", f, ...more], { encoding: "utf8", timeout: 20_000, env: { ...process.env, SIPLING_NO_BUILD: "1" } });
}

/** [configuration, the error line every host prints] */
const CASES = [
  [base({ mode: "sometimes" }), `config error: "mediaRelay.mode": expected one of never|always|nat, got "sometimes"`],
  [base({ mode: "always" }), `config error: "mediaRelay.mode": the relay needs "mediaRelay": {"addresses": [...]}`],
  [base({ mode: "nat", addresses: ["127.0.0.1"] }), `config error: "mediaRelay.mode": the relay needs "mediaRelay": {"portMin", "portMax"}`],
  [base({ mode: "always", ...RANGE }, { recordRoute: false }),
    `config error: "mediaRelay.mode": the proxy relays only calls it Record-Routes (their BYE must come through it): "recordRoute": false relays nothing`],
];

for (const [host, argv] of HOSTS) {
  test(`${host}: each mistake in the proxy's media relay is refused with the same message, naming the key`, () => {
    for (const [config, want] of CASES) {
      const r = run(argv, config, ["--print-config"]);
      assert.notEqual(r.status, 0, `${JSON.stringify(config)} was accepted`);
      assert.equal(r.stderr.trim().split("\n").pop(), want, JSON.stringify(config));
    }
  });

  test(`${host}: a good configuration prints back its mode; "never" needs nothing else`, () => {
    for (const mode of ["always", "nat"]) {
      const r = run(argv, base({ mode, ...RANGE }), ["--print-config"]);
      assert.equal(r.status, 0, r.stderr);
      assert.equal(JSON.parse(r.stdout).mediaRelay.mode, mode);
    }
    const never = run(argv, base({ mode: "never" }), ["--print-config"]);
    assert.equal(never.status, 0, never.stderr);
  });
}

test("a core without the relay (board micro) refuses the relay's keys by name at start, on both hosts", () => {
  const config = base({ mode: "always", ...RANGE });
  for (const [argv, cfg] of [[HOSTS[0][1], { ...config, board: "micro" }], [[join(root, "build/micro/sipling")], config]]) {
    const r = run(argv, cfg);
    assert.notEqual(r.status, 0, "started without its relay");
    assert.match(r.stderr.trim().split("\n").pop(), /^config error: "mediaRelay\.(addresses\[0\]|mode)": not in this core build \(board micro leaves it out\)$/);
  }
});
