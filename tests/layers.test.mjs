// The core's layers depend only downward: wire -> transactions (TU-neutral) -> transaction users ->
// the ABI. Every import of every core source file (assembly/, test-only code excluded) is checked
// against the rank of its directory below; an import of a higher rank fails, naming the file and line.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, readdirSync, statSync } from "node:fs";
import { join, dirname, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "assembly");

// rank of a source file: by its path relative to assembly/, longest prefix first
const RANKS = [
  ["host/numbers.ts", 0], // the ABI numbers (generated from the one source, tools/gen-abi.mjs): a leaf
  ["config.ts", 0], ["util/", 0], ["crypto/", 0],
  ["wire/", 1], ["net/", 1],
  ["events.ts", 2],
  ["txn/", 3], ["auth/", 3], ["policy/", 3],
  ["tu/", 4], // the registry of transaction users: what a transaction's owner byte means
  ["dialog/", 5], ["registrar/", 5], ["media/", 5], // media: SDP and the relay's legs, used by the transaction users
  ["proxy/", 6], ["b2bua/", 6], ["registrant/", 6],
  ["host/", 7], ["index.ts", 7],
];
const EXCLUDED = ["testing/", "__tests__/"];

function isDir(p) {
  try { return statSync(p).isDirectory(); } catch { return false; }
}

function rankOf(rel) {
  const hit = RANKS.filter(([p]) => rel === p || rel.startsWith(p)).sort((a, b) => b[0].length - a[0].length)[0];
  return hit ? hit[1] : null;
}

function sources(dir) {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? sources(p) : p.endsWith(".ts") ? [p] : [];
  });
}

const files = sources(root).map((p) => relative(root, p)).filter((rel) => !EXCLUDED.some((e) => rel.startsWith(e)));

test("every core source file has a layer", () => {
  assert.ok(files.length > 50, `${files.length} files`);
  assert.deepEqual(files.filter((f) => rankOf(f) === null), []);
});

/** Upward imports of one source file (its path relative to assembly/, its text): "file:line ..." each. */
function upward(rel, text) {
  const bad = [];
  text.split("\n").forEach((line, i) => {
    const m = /^\s*(?:import|export)\b[^"']*from\s+["'](\.[^"']+)["']/.exec(line);
    if (!m) return;
    const abs = resolve(dirname(join(root, rel)), m[1]);
    const target = relative(root, isDir(abs) ? join(abs, "index.ts") : abs + ".ts");
    const to = rankOf(target);
    if (to === null) bad.push(`${rel}:${i + 1} imports ${m[1]}: no layer`);
    else if (to > rankOf(rel)) bad.push(`${rel}:${i + 1} (layer ${rankOf(rel)}) imports ${m[1]} (layer ${to})`);
  });
  return bad;
}

test("imports go only to the same or a lower layer (txn/ knows no transaction user)", () => {
  let imports = 0;
  const bad = [];
  for (const rel of files) {
    const text = readFileSync(join(root, rel), "utf8");
    imports += (text.match(/^\s*(?:import|export)\b[^"']*from\s+["']\./gm) ?? []).length;
    bad.push(...upward(rel, text));
  }
  assert.ok(imports > 200, `${imports} imports checked`);
  assert.deepEqual(bad, []);
});

test("the check catches an upward import: the transaction layer importing the proxy or the TU registry", () => {
  assert.deepEqual(upward("txn/table.ts", 'import { proxyRequest } from "../proxy/request";'),
    ['txn/table.ts:1 (layer 3) imports ../proxy/request (layer 6)']);
  assert.equal(upward("txn/table.ts", 'import { Owner } from "../tu/owner";').length, 1);
  assert.deepEqual(upward("proxy/forward.ts", 'import { Owner } from "../tu/owner";'), []);
});
