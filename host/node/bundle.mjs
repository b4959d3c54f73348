#!/usr/bin/env node
// Bundles the Node host (host/node/*.ts) into build/node/sipling.mjs (the CLI) and build/node/index.mjs
// (the library, with index.d.ts) (ESM, node20) and copies the
// cores next to it: build/server/sipling.wasm -> build/node/sipling.wasm, other boards ->
// build/node/sipling-<board>.wasm. Usage: node host/node/bundle.mjs [--quiet]
import { build } from "esbuild";
import { copyFileSync, existsSync, mkdirSync, readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const out = join(root, "build", "node");
const quiet = process.argv.includes("--quiet");
mkdirSync(out, { recursive: true });

// the CLI (runs on import) and the library (host/node/api.ts: createServer; its types are
// host/node/index.d.ts, copied beside it)
for (const [entry, file] of [["main.ts", "sipling.mjs"], ["api.ts", "index.mjs"]]) {
  await build({
    entryPoints: [join(root, "host/node", entry)],
    outfile: join(out, file),
    bundle: true,
    format: "esm",
    platform: "node",
    target: "node20",
    sourcemap: "linked",
    logLevel: "warning",
    // `ws` (SIP over WebSocket) is CommonJS: its require() of Node's modules needs a real require in ESM
    banner: { js: `// sipling Node host (${file === "index.mjs" ? "library" : "CLI"}), bundled by host/node/bundle.mjs from host/node/*.ts: do not edit.\nimport { createRequire as __siplingRequire } from "node:module";\nconst require = __siplingRequire(import.meta.url);` },
  });
}
for (const d of ["index.d.ts", "api-types.d.ts"]) copyFileSync(join(root, "host/node", d), join(out, d));

const copied = [];
const buildDir = join(root, "build");
for (const board of existsSync(buildDir) ? readdirSync(buildDir) : []) {
  const src = join(buildDir, board, "sipling.wasm");
  if (board === "node" || !existsSync(src)) continue;
  const dst = join(out, board === "server" ? "sipling.wasm" : `sipling-${board}.wasm`);
  copyFileSync(src, dst);
  copied.push(`${board} -> ${dst.slice(root.length + 1)}`);
}
if (!copied.some((c) => c.startsWith("server ")))
  console.error("bundle: warning: build/server/sipling.wasm is missing (run npm run build)");
if (!quiet) console.error(`bundled build/node/sipling.mjs; cores: ${copied.join(", ") || "none"}`);
