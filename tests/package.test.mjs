// The release package, as a user gets it. In a fresh copy of the repository's files (no build/):
//   1. `npm run footprint -- --json` prints only JSON on stdout (the builds it runs report on stderr);
//   2. `npm pack` builds what ships (prepack: tools/release.mjs) and packs it: the .wasm of every board,
//      the bundled Node host and library with types, build/include/sipling.h, docs, examples, licence;
//      no sources, tests, corpora or crash files.
// Then, in an empty folder, `npm install <tarball>` (no compiler there: the package has no dependencies)
// and `npx sipling --version`, a server started with `npx sipling` that answers OPTIONS, and a module
// that imports the library by package name.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, mkdirSync, rmSync, copyFileSync, symlinkSync, existsSync, statSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { Ua, request, status, hdrs, firstLine } from "./lib/sipua.mjs";
import { freePort } from "./integration/harness.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const { version } = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
// The npm that runs this test (npm test sets npm_execpath), else the one on PATH: never the old npm
// some devDependency brings into node_modules/.bin, which npm test puts first on PATH.
const NPM = process.env.npm_execpath && /npm-cli\.js$/.test(process.env.npm_execpath) ? [process.execPath, process.env.npm_execpath] : ["npm"];
// A user's environment: none of the npm_* variables npm test exports (npm_config_local_prefix would
// make an npm command in another folder act on this repository) and no node_modules/.bin on PATH.
const ENV = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k) && k !== "INIT_CWD"));
ENV.PATH = (process.env.PATH ?? "").split(":").filter((d) => !d.includes("node_modules/.bin")).join(":");
ENV.npm_config_update_notifier = "false";
const npm = (args, cwd, opts = {}) =>
  spawnSync(NPM[0], [...NPM.slice(1), ...args, "--loglevel=warn"], { cwd, encoding: "utf8", timeout: 600_000, env: ENV, ...opts });
let tmp, copy, user, tarball;
const children = new Set();

before(() => {
  tmp = mkdtempSync(join(tmpdir(), "sipling-pkg-"));
  copy = join(tmp, "repo");
  user = join(tmp, "user");
  mkdirSync(copy);
  mkdirSync(user);
  // the repository's files (tracked and new, not ignored): what a clone has, without build/
  const ls = spawnSync("git", ["ls-files", "-z", "--cached", "--others", "--exclude-standard"], { cwd: root, encoding: "utf8" });
  assert.equal(ls.status, 0, ls.stderr);
  for (const f of ls.stdout.split("\0").filter(Boolean)) {
    if (!existsSync(join(root, f))) continue; // deleted in the work tree
    mkdirSync(dirname(join(copy, f)), { recursive: true });
    copyFileSync(join(root, f), join(copy, f));
  }
  symlinkSync(join(root, "node_modules"), join(copy, "node_modules"), "dir");
});

after(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

test("npm run footprint -- --json prints only JSON on stdout, right after a clean checkout (no build/)", () => {
  assert.equal(existsSync(join(copy, "build")), false);
  const r = npm(["run", "footprint", "--", "--json"], copy);
  assert.equal(r.status, 0, r.stderr);
  const rows = JSON.parse(r.stdout); // throws on anything but JSON
  assert.deepEqual(rows.map((x) => x.board).sort(), ["b2bua", "gateway", "micro", "mps2-an386", "server"].sort());
  assert.ok(rows.every((x) => x.withinBudget === true), JSON.stringify(rows.map((x) => [x.board, x.withinBudget])));
});

test("npm pack: the built cores, Node host, library, types, C header, docs and licence; no sources or tests", (t) => {
  const r = npm(["pack", "--json", "--pack-destination", tmp], copy);
  assert.equal(r.status, 0, r.stderr);
  const [info] = JSON.parse(r.stdout.slice(r.stdout.indexOf("[")));
  tarball = join(tmp, info.filename);
  const files = info.files.map((f) => f.path).sort();
  t.diagnostic(`tarball ${info.filename}: ${statSync(tarball).size} bytes packed, ${info.unpackedSize} unpacked, ${files.length} files`);
  for (const f of ["package.json", "README.md", "LICENSE", "host/node/cli.mjs", "build/node/sipling.mjs", "build/node/index.mjs",
    "build/node/index.d.ts", "build/node/api-types.d.ts", "build/micro/sipling.wasm", "build/server/sipling.wasm",
    "build/gateway/sipling.wasm", "build/b2bua/sipling.wasm", "build/include/sipling.h", "docs/ABI.md", "docs/CONFIG.md", "docs/EMBEDDING.md", "examples/proxy.json",
    "examples/library.mjs", "examples/b2bua-trunk-registrar.json", "examples/b2bua-trunk-trunk.json"])
    assert.ok(files.includes(f), `ships ${f}`);
  const unwanted = files.filter((f) => /^(tests|assembly|tools|bench|boards|host\/(c|wasi|firmware|shared)|\.ci)\//.test(f) || /\.(ts|map|bin)$/.test(f) && !f.endsWith(".d.ts"));
  assert.deepEqual(unwanted, [], "no sources, tests, corpora, crash files or source maps");
  assert.ok(files.length <= 34, `a small package: ${files.length} files`); // 31: the cores, host, types, header, docs, examples, ctl.mjs
  // the header is the one the release step generated from these very cores
  const h = readFileSync(join(copy, "build/include/sipling.h"), "utf8");
  assert.match(h, new RegExp(`#define SIPLING_VERSION "${version.replace(/\./g, "\\.")}"`));
  assert.match(h, /X\(sip_handle_datagram, "\(Fi\)i", int32_t, \(double a0, int32_t a1\)\)/);
});

test("installed from the tarball in an empty folder: npx sipling --version, a server that answers OPTIONS, the library by name; no compiler", async () => {
  assert.ok(tarball, "the pack test ran");
  writeFileSync(join(user, "package.json"), JSON.stringify({ name: "user-app", version: "1.0.0", private: true, type: "module" }));
  const i = npm(["install", "--no-audit", "--no-fund", "--offline", tarball], user);
  assert.equal(i.status, 0, i.stderr);
  assert.equal(existsSync(join(user, "node_modules", "assemblyscript")), false, "no assemblyscript installed");
  assert.equal(existsSync(join(user, "node_modules", "esbuild")), false, "no esbuild installed");

  // npx sipling --version (npm exec, with the npm above: npx on PATH may be the old one)
  const v = spawnSync(NPM[0], [...NPM.slice(1), "exec", "--no", "--", "sipling", "--version"], { cwd: user, encoding: "utf8", timeout: 60_000, env: ENV });
  assert.equal(v.status, 0, v.stderr);
  assert.match(v.stdout, new RegExp(`^sipling ${version.replace(/\./g, "\\.")} \\(Node host`));
  assert.match(v.stdout, /^core server \d+ bytes wasm/m);
  assert.match(v.stdout, /^core micro \d+ bytes wasm/m);

  // sipling ctl ships too (host/node/ctl.mjs, the management API's client)
  const c = spawnSync(NPM[0], [...NPM.slice(1), "exec", "--no", "--", "sipling", "ctl", "--help"], { cwd: user, encoding: "utf8", timeout: 60_000, env: ENV });
  assert.equal(c.status, 0, c.stderr);
  assert.match(c.stdout, /^usage: sipling ctl/);
  // the CLI on its embedded defaults, on a port of ours: the bin npx ran above, started directly so
  // that stopping it stops the server (npx would leave it running as its child)
  const port = await freePort();
  const bin = join(user, "node_modules", ".bin", "sipling");
  const p = spawn(process.execPath, [bin, "--listen", `udp:127.0.0.1:${port}`], { cwd: user, stdio: ["ignore", "pipe", "pipe"], env: ENV });
  children.add(p);
  let out = "";
  p.stdout.on("data", (d) => (out += d));
  p.stderr.on("data", (d) => (out += d));
  const deadline = Date.now() + 20_000;
  while (!/"msg":"running"/.test(out) && Date.now() < deadline && p.exitCode === null) await new Promise((r) => setTimeout(r, 50));
  assert.match(out, /"msg":"running"/, `the server started:\n${out}`);
  const ua = await Ua.open("127.0.0.1");
  try {
    const r = await ua.request({ port, address: "127.0.0.1" }, request(ua, { method: "OPTIONS", ruri: `sip:127.0.0.1:${port}`, from: "sip:lb@127.0.0.1" }));
    assert.equal(status(r), 200, firstLine(r));
    assert.ok(hdrs(r, "Allow").length > 0, "with Allow");
  } finally {
    ua.close();
    p.kill("SIGTERM");
  }
  const code = p.exitCode ?? (await new Promise((r) => p.on("exit", (c) => r(c))));
  assert.equal(code, 0, `stopped by SIGTERM with status 0:\n${out}`);

  // the library, imported by package name from the user's own module
  writeFileSync(join(user, "app.mjs"), [
    'import { createServer } from "sipling";',
    'const s = createServer({ listen: ["udp:127.0.0.1:0"], users: [{ username: "a", password: "pw-app-1" }] });',
    "const [l] = await s.start();",
    'console.log(JSON.stringify({ port: l.port, capacity: s.stats().txnCapacity }));',
    "await s.stop();",
  ].join("\n"));
  const a = spawnSync(process.execPath, ["app.mjs"], { cwd: user, encoding: "utf8", timeout: 30_000, env: ENV });
  assert.equal(a.status, 0, a.stderr);
  const got = JSON.parse(a.stdout);
  assert.ok(got.port > 0 && got.capacity > 0, a.stdout);
});
