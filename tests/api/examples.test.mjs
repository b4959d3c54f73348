// The examples run as documented: examples/proxy.json is a valid configuration for the Node and native
// hosts, and examples/library.mjs starts a server, reports where it listens and stops on SIGINT.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { readFileSync } from "node:fs";
import { Ua, request, status, firstLine } from "../lib/sipua.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");

for (const name of ["proxy.json", "proxy-large.json", "proxy-media-relay.json", "proxy-tls.json"]) {
  for (const [host, argv] of [["node", [process.execPath, join(root, "host/node/cli.mjs")]], ["native", [join(root, "build/server/sipling")]]]) {
    test(`${host}: examples/${name} is a valid configuration (--print-config shows it back, secrets masked)`, () => {
      const r = spawnSync(argv[0], [...argv.slice(1), "--config", join(root, "examples", name), "--print-config"], {
        encoding: "utf8", timeout: 20_000, env: { ...process.env, SIPLING_NO_BUILD: "1" },
      });
      assert.equal(r.status, 0, r.stderr);
      const shown = JSON.parse(r.stdout);
      const file = JSON.parse(readFileSync(join(root, "examples", name), "utf8"));
      assert.deepEqual(shown.listen, file.listen);
      assert.equal(shown.realm, file.realm);
      assert.deepEqual(shown.users.map((u) => u.username), ["alice", "bob"]);
      assert.ok(!r.stdout.includes("change-me"), "passwords are not printed");
      if (file.mediaRelay) assert.deepEqual(shown.mediaRelay, file.mediaRelay);
      if (file.tls) assert.deepEqual(shown.tls, file.tls);
      if (file.capacity) assert.deepEqual(shown.capacity, file.capacity);
    });
  }
}

for (const name of ["b2bua-trunk-registrar.json", "b2bua-trunk-trunk.json", "b2bua-trunk-register.json", "sipconnect-static.json", "passthrough.json", "b2bua-media-relay.json"]) {
  for (const [host, argv] of [["node", [process.execPath, join(root, "host/node/cli.mjs")]], ["native", [join(root, "build/gateway/sipling")]]]) {
    test(`${host}: examples/${name} is a valid B2BUA configuration (--print-config shows its sides back)`, () => {
      const file = JSON.parse(readFileSync(join(root, "examples", name), "utf8"));
      const r = spawnSync(argv[0], [...argv.slice(1), "--config", join(root, "examples", name), "--print-config"], {
        encoding: "utf8", timeout: 20_000, env: { ...process.env, SIPLING_NO_BUILD: "1" },
      });
      assert.equal(r.status, 0, r.stderr);
      const shown = JSON.parse(r.stdout);
      assert.equal(shown.mode, "b2bua");
      assert.equal(shown.board, "gateway");
      const canon = (x) => Array.isArray(x) ? x.map(canon) : x && typeof x === "object" ? Object.fromEntries(Object.entries(x).sort().map(([k, v]) => [k, canon(v)])) : x;
      const sorted = (sides) => sides.map((x) => JSON.stringify(canon(x)));
      // a trunk's password shows masked
      const masked = (x) => ({ ...x, ...(x.password ? { password: "***" } : {}), ...(x.passthrough ? { passthrough: x.passthrough.map((e) => ({ ...e, password: "***" })) } : {}) });
      assert.deepEqual(sorted(shown.sides), sorted(file.sides.map(masked)));
    });
  }
  test(`native: the server board's binary refuses examples/${name} by its board`, () => {
    const n = spawnSync(join(root, "build/server/sipling"), ["--config", join(root, "examples", name), "--print-config"], { encoding: "utf8", timeout: 20_000 });
    assert.notEqual(n.status, 0);
    assert.match(n.stderr, /config error: "board": this binary is built for board "server", got "gateway"/);
  });
}

for (const [host, argv] of [["node", [process.execPath, join(root, "host/node/cli.mjs")]], ["native", [join(root, "build/server/sipling")]]]) {
  test(`${host}: examples/proxy-shared-location.json is a valid configuration (--print-config shows its location service and management API back)`, () => {
    const file = join(root, "examples", "proxy-shared-location.json");
    const r = spawnSync(argv[0], [...argv.slice(1), "--config", file, "--print-config"], { encoding: "utf8", timeout: 20_000, env: { ...process.env, SIPLING_NO_BUILD: "1" } });
    assert.equal(r.status, 0, r.stderr);
    const shown = JSON.parse(r.stdout);
    assert.deepEqual(shown.location, { redis: "127.0.0.1:6379", prefix: "sipling" });
    assert.equal(shown.management, true);
    assert.deepEqual(shown.metrics, { listen: "127.0.0.1:9100" });
  });
}

test("examples/library.mjs: starts, answers OPTIONS on the port it prints, prints stats and stops on SIGINT", async () => {
  const p = spawn(process.execPath, [join(root, "examples/library.mjs")], { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  p.stdout.on("data", (d) => (out += d));
  p.stderr.on("data", (d) => (out += d));
  const exited = new Promise((r) => p.on("exit", (code, sig) => r({ code, sig })));
  try {
    const deadline = Date.now() + 15_000;
    while (!/listening on udp:127\.0\.0\.1:\d+/.test(out) && Date.now() < deadline && p.exitCode === null) await new Promise((r) => setTimeout(r, 50));
    const m = /listening on udp:127\.0\.0\.1:(\d+)/.exec(out);
    assert.ok(m, `it printed its address:\n${out}`);
    const ua = await Ua.open("127.0.0.1");
    try {
      const r = await ua.request({ port: +m[1], address: "127.0.0.1" }, request(ua, { method: "OPTIONS", ruri: `sip:127.0.0.1:${m[1]}`, from: "sip:x@127.0.0.1" }));
      assert.equal(status(r), 200, firstLine(r));
    } finally {
      ua.close();
    }
    p.kill("SIGINT");
    const { code } = await exited;
    assert.equal(code, 0, out);
    assert.match(out, /^stats \{[^}]*txnCapacity: \d+/m);
  } finally {
    if (p.exitCode === null) p.kill("SIGKILL");
  }
});
