#!/usr/bin/env node
// `sipling` launcher. Makes sure build/node/sipling.mjs is up to date, then runs it:
//   - the core (build/server/sipling.wasm) missing or older than assembly/**/*.ts or asconfig.json -> the wasm build
//   - the bundle missing or older than host/node/*.ts, host/shared/config.mjs or a core -> node host/node/bundle.mjs
// With SIPLING_NO_BUILD=1 nothing is rebuilt (it only says what to run when the bundle is missing).
import { existsSync, readdirSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { spawnSync } from "node:child_process";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
// `sipling ctl ...`: the management API's client (host/node/ctl.mjs), no server, no build
if (process.argv[2] === "ctl") {
  const { ctl } = await import("./ctl.mjs");
  process.exit(await ctl(process.argv.slice(3)));
}
const bundle = join(root, "build", "node", "sipling.mjs");

const mtime = (f) => (existsSync(f) ? statSync(f).mtimeMs : -1);
function newest(dir, exts) {
  let t = -1;
  if (!existsSync(dir)) return t;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) t = Math.max(t, newest(p, exts));
    else if (exts.some((x) => e.name.endsWith(x))) t = Math.max(t, mtime(p));
  }
  return t;
}
function run(what, args) {
  process.stderr.write(`sipling: ${what}\n`);
  const r = spawnSync(process.execPath, args, { cwd: root, stdio: ["ignore", 2, 2] });
  if (r.status !== 0) {
    process.stderr.write(`sipling: "${what}" failed; fix it, then run: npm run build && npm run bundle\n`);
    process.exit(1);
  }
}

const isRepo = existsSync(join(root, "assembly")) && existsSync(join(root, "host", "node", "main.ts"));
if (isRepo && !process.env.SIPLING_NO_BUILD) {
  const wasm = join(root, "build", "server", "sipling.wasm");
  if (mtime(wasm) < newest(join(root, "assembly"), [".ts"]) || mtime(wasm) < newest(join(root, "boards"), [".json"]) ||
      mtime(wasm) < mtime(join(root, "asconfig.json")))
    // the Node host needs only the wasm cores (not the native host or the firmware and their toolchains)
    run("core out of date: node tools/build.mjs --wasm-only", [join(root, "tools", "build.mjs"), "--quiet", "--wasm-only"]);
  const b = mtime(bundle);
  const wasms = ["server", "micro"].map((x) => mtime(join(root, "build", x, "sipling.wasm")));
  if (b < newest(join(root, "host", "node"), [".ts"]) || b < newest(join(root, "host", "shared"), [".mjs"]) || b < Math.max(...wasms) ||
      mtime(join(root, "build", "node", "sipling.wasm")) < wasms[0])
    run("bundle out of date: npm run bundle", [join(root, "host", "node", "bundle.mjs"), "--quiet"]);
}
if (!existsSync(bundle)) {
  process.stderr.write("sipling: build/node/sipling.mjs is missing: run npm run build && npm run bundle\n");
  process.exit(1);
}
await import(pathToFileURL(bundle).href);
