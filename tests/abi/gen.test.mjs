// tools/gen-abi.mjs: every generated file (the core's and each host's numbers and schema tables,
// docs/ABI.md's tables, docs/CONFIG.md) is what host/shared/abi.json and config.json give; --check
// fails naming each stale output, and the generator refuses a schema that names an unknown number.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, mkdirSync, cpSync, readFileSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const gen = join(root, "tools", "gen-abi.mjs");
const OUTPUTS = ["assembly/host/numbers.ts", "host/node/numbers.ts", "host/node/schema.ts", "host/firmware/abi.mjs",
  "host/c/numbers.h", "host/c/schema.h", "host/wasi/schema.ts", "host/node/api-types.d.ts", "docs/ABI.md", "docs/CONFIG.md"];
let tmp;

before(() => {
  tmp = mkdtempSync(join(tmpdir(), "sipling-gen-"));
});
after(() => rmSync(tmp, { recursive: true, force: true }));

/** A copy of the sources and outputs in a scratch tree. */
function scratch(name) {
  const d = join(tmp, name);
  for (const f of ["package.json", "host/shared/abi.json", "host/shared/config.json", ...OUTPUTS]) {
    mkdirSync(dirname(join(d, f)), { recursive: true });
    cpSync(join(root, f), join(d, f));
  }
  return d;
}

const run = (...args) => spawnSync(process.execPath, [gen, ...args], { encoding: "utf8" });

test("the committed outputs are up to date (node tools/gen-abi.mjs --check)", () => {
  const r = run("--check");
  assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
  assert.match(r.stdout, /10 outputs up to date/);
});

test("--check names every output a new event kind makes stale, and writing fixes them", () => {
  const d = scratch("event");
  const abi = JSON.parse(readFileSync(join(d, "host/shared/abi.json"), "utf8"));
  const value = Math.max(...abi.events.map((e) => e.value)) + 1; // the next free number
  abi.events.push({ value, name: "test-kind", level: "info", texts: ["a", "b", "callId", "detail"] });
  writeFileSync(join(d, "host/shared/abi.json"), JSON.stringify(abi, null, 2));
  const r = run("--check", "--root", d);
  assert.equal(r.status, 1);
  const stale = /stale \(run node tools\/gen-abi\.mjs\): (.*)/.exec(r.stderr)[1].split(", ");
  assert.deepEqual(stale.sort(), ["assembly/host/numbers.ts", "docs/ABI.md", "host/c/numbers.h", "host/firmware/abi.mjs",
    "host/node/numbers.ts", "host/wasi/schema.ts", "host/node/api-types.d.ts"].sort());
  assert.equal(run("--root", d).status, 0);
  assert.equal(run("--check", "--root", d).status, 0);
  assert.match(readFileSync(join(d, "host/c/numbers.h"), "utf8"), new RegExp(`SIP_EVENT_TEST_KIND = ${value},`));
  assert.match(readFileSync(join(d, "assembly/host/numbers.ts"), "utf8"), new RegExp(`TestKind = ${value},`));
});

test("a schema key naming no cfgKey, or an unknown check, is refused (exit 2)", () => {
  for (const [edit, needle] of [
    [(c) => { c.keys.find((k) => k.path === "timers.t1").core.set = "T9"; }, `"timers.t1": core.set names no cfgKey: T9`],
    [(c) => { c.keys.find((k) => k.path === "realm").check = "bogus"; }, `"realm": unknown check bogus`],
    [(c) => { c.keys.find((k) => k.path === "prefault").hosts = ["node", "mars"]; }, `"prefault": unknown host mars`],
  ]) {
    const d = scratch(`bad-${needle.length}`);
    const cfg = JSON.parse(readFileSync(join(d, "host/shared/config.json"), "utf8"));
    edit(cfg);
    writeFileSync(join(d, "host/shared/config.json"), JSON.stringify(cfg));
    const r = run("--check", "--root", d);
    assert.equal(r.status, 2, r.stderr);
    assert.ok(r.stderr.includes(needle), `${needle} in ${r.stderr}`);
  }
});

test("the metrics table (abi.json \"metrics\"): a stat without a family, a counter without _total or a gauge with it is refused (exit 2)", () => {
  for (const [edit, needle] of [
    [(a) => { a.stats.push("newThing"); }, "stat newThing has no metrics family"],
    [(a) => { a.metrics.families.find((f) => f.name === "sipling_messages_sent_total").name = "sipling_messages_sent"; }, "counters (and only counters) end _total"],
    [(a) => { a.metrics.families.find((f) => f.name === "sipling_dialogs_in_use").name = "sipling_dialogs_total"; }, "counters (and only counters) end _total"],
    [(a) => { a.metrics.families.find((f) => f.name === "sipling_aors_in_use").from = "bindingsInUse"; }, "field bindingsInUse is in"],
  ]) {
    const d = scratch(`metrics-${needle.length}-${Math.random().toString(36).slice(2, 6)}`);
    const abi = JSON.parse(readFileSync(join(d, "host/shared/abi.json"), "utf8"));
    edit(abi);
    writeFileSync(join(d, "host/shared/abi.json"), JSON.stringify(abi));
    const r = run("--check", "--root", d);
    assert.equal(r.status, 2, r.stderr);
    assert.ok(r.stderr.includes(needle), `${needle} in ${r.stderr}`);
  }
});
