// `sipling --version` on every host: exit 0, the release of package.json and the core build (board, and
// the wasm size where the host knows it), nothing on stderr.
import { test, before } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync, statSync } from "node:fs";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const { version } = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
const wasmBytes = (board) => statSync(join(root, "build", board, "sipling.wasm")).size;
let wasmedge;

before(() => {
  const w = spawnSync("sh", [join(root, "tools", "wasmedge.sh")], { cwd: root, encoding: "utf8", timeout: 300_000 });
  assert.equal(w.status, 0, `tools/wasmedge.sh failed:\n${w.stderr}`);
  wasmedge = w.stdout.trim().split("\n").pop().split(" ");
  const b = spawnSync(process.execPath, [join(root, "tools", "wasi.mjs"), "--quiet"], { cwd: root, encoding: "utf8", timeout: 120_000 });
  assert.equal(b.status, 0, `tools/wasi.mjs failed:\n${b.stderr}`);
});

function run(argv) {
  const r = spawnSync(argv[0], argv.slice(1), { cwd: root, encoding: "utf8", timeout: 20_000, env: { ...process.env, SIPLING_NO_BUILD: "1" } });
  assert.equal(r.status, 0, `${argv.join(" ")}: exit ${r.status}\n${r.stderr}`);
  assert.equal(r.stderr, "", "nothing on stderr");
  return r.stdout;
}

const HOSTS = {
  node: () => [process.execPath, join(root, "host", "node", "cli.mjs"), "--version"],
  native: () => [join(root, "build", "server", "sipling"), "--version"],
  "native micro": () => [join(root, "build", "micro", "sipling"), "--version"],
  wasi: () => [...wasmedge, join(root, "build", "wasi", "sipling-wasi.wasm"), "--version"],
  firmware: () => [process.execPath, join(root, "host", "firmware", "bridge.mjs"), "--version"],
};

for (const [host, argv] of Object.entries(HOSTS)) {
  test(`${host}: --version prints the release and the core build, exit 0`, () => {
    const out = run(argv());
    assert.equal(out.split("\n")[0].split(" ").slice(0, 2).join(" "), `sipling ${version}`, out);
    if (host === "node") {
      assert.match(out, new RegExp(`^core server ${wasmBytes("server")} bytes wasm`, "m"));
      assert.match(out, new RegExp(`^core micro ${wasmBytes("micro")} bytes wasm`, "m"));
    } else if (host.startsWith("native")) {
      const board = host === "native" ? "server" : "micro";
      assert.match(out, new RegExp(`^core ${board} ${wasmBytes(board)} bytes wasm`, "m"));
    } else if (host === "firmware") {
      assert.match(out, new RegExp(`^core micro ${wasmBytes("micro")} bytes wasm`, "m"));
    } else {
      assert.match(out, /^core server \(linked into this module\)$/m);
    }
  });
}
