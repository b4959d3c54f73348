// Every host knows every number of host/shared/abi.json, and nothing else spells them:
//   - the core (both release builds) answers every cfg key and kind (never Unknown) and every stat id,
//     and its enums (assembly/host/numbers.ts, net/transports.ts Proto) equal abi.json's;
//   - each host's generated table names every event kind with abi.json's name, level, labels and value
//     field, and every stat: Node (host/node/numbers.ts), native and firmware (host/c/numbers.h,
//     compiled), the bridge (host/firmware/abi.mjs), WASI (host/wasi/schema.ts, decoded);
//   - no host source spells an event or stat name, or calls sip_cfg_set / sip_cfg_add / sip_stat /
//     sip_transport_add with a literal number.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync, readdirSync, mkdtempSync, writeFileSync, rmSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { transformSync } from "esbuild";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const abi = JSON.parse(readFileSync(join(root, "host/shared/abi.json"), "utf8"));
const config = JSON.parse(readFileSync(join(root, "host/shared/config.json"), "utf8"));
const pascal = (s) => s.replace(/(^|-)([a-z])/g, (_, __, c) => c.toUpperCase());
let tmp;

before(() => {
  tmp = mkdtempSync(join(tmpdir(), "sipling-numbers-"));
  for (const b of ["server", "micro"])
    assert.ok(existsSync(join(root, "build", b, "sipling.wasm")), `build/${b}/sipling.wasm (npm run build)`);
});
after(() => rmSync(tmp, { recursive: true, force: true }));

/** abi.json's events as each table should hold them. */
const EXPECTED_EVENTS = abi.events.map((e) => ({
  kind: e.value, name: e.name, level: e.level, texts: e.texts, valueField: e.valueField ?? null, usage: e.usage ?? true,
}));

function core(board) {
  const mod = new WebAssembly.Module(readFileSync(join(root, "build", board, "sipling.wasm")));
  const ex = new WebAssembly.Instance(mod, {}).exports;
  ex._initialize();
  ex.sip_init(1, 2, 0);
  return ex;
}

/** A value each cfg key takes (the schema's default where a key maps it). */
function valueFor(name) {
  const k = config.keys.find((x) => x.core?.set === name);
  if (name === "DigestAlgorithms") return 9;
  if (name === "ContactsPerAor") return 1;
  if (name === "Mode") return 0; // the proxy: what every core is; the B2BUA (1) is checked below
  if (k?.default !== undefined && typeof k.default !== "string") return Number(k.default);
  return k?.min ?? 1;
}

const KIND_TEXT = {
  Domain: "example.org", OutboundProxy: "sip:proxy.example.org", Realm: "example.org", User: "alice:password=x",
  Allow: "10.0.0.0/8", Deny: "192.0.2.1", Trusted: "127.0.0.1", BlockMethod: "MESSAGE", DenyUri: "spam@example.org",
  BodyType: "INVITE application/sdp", BodyPattern: "buy now", NonceSecret: "0123456789abcdef0123456789abcdef",
  Side: "1 trunk 0 127.0.0.9:5060 127.0.0.9:5060",
  Registration: "1 127.0.0.9:5060 alice@example.org 600 alice secret",
  GinBlock: "acme +155500xx", RelayAddress: "127.0.0.1",
};
/** Kinds only the cores with the user agent (board gateway) take; the others answer NotInBuild. */
const UA_KINDS = new Set(["Side", "Registration"]);
/** The media relay's keys, kind and stats (config.ts MEDIA_RELAY: the server, gateway and b2bua boards); a
 * core without it takes a key's 0 only and does not know the stats (-1). MediaRelay (the proxy's relay:
 * 0 never, 1 always, 2 behind NAT) refuses any other value. */
const RELAY_KEYS = new Set(["MediaRelay", "RelayPortMin", "RelayPortMax", "RelayIdle", "RelayHoldIdle", "RelayIce"]);
const RELAY_STATS = new Set(["relayLegsInUse", "relayLegCapacity"]);

for (const board of ["server", "micro", "gateway"]) {
  test(`the ${board} core knows every cfg key, kind and stat of abi.json (and not one more)`, () => {
    const ua = board === "gateway";
    const ex = core(board);
    const relay = board !== "micro"; // the server and gateway boards carry the relay
    for (const [name, k] of Object.entries(abi.cfgKeys)) {
      // the message pool's capacity: at least its reserve plus one largest message: the board's own figure
      const v = name === "RelayPortMin" ? 20000 : name === "RelayPortMax" ? 20099 : name === "MaxMessageBlocks" ? ex.sip_stat(abi.stats.indexOf("msgPoolBlocks")) : valueFor(name);
      const r = ex.sip_cfg_set(k.value, v);
      // configured capacities: the boards with sparse tables only (server here; not micro, gateway)
      const capacity = ["MaxTransactions", "MaxBindings", "MaxMessageBlocks", "MaxDialogs", "MaxRelayLegs"].includes(name) && board !== "server";
      // requests held for their transport (config.ts PARK_CAP): the server and b2bua boards; elsewhere 0 only
      const park = name === "NameTransport" && board !== "server" && v !== 0;
      const want = (RELAY_KEYS.has(name) && !relay && v !== 0) || capacity || park ? abi.cfgResults.NotInBuild.value : abi.cfgResults.Ok.value;
      assert.equal(r, want, `sip_cfg_set(${k.value} ${name}, ${v}) = ${r}`);
      if (RELAY_KEYS.has(name)) assert.equal(ex.sip_cfg_set(k.value, 0), abi.cfgResults.Ok.value, `${name} 0`);
    }
    const mr = abi.cfgKeys.MediaRelay.value;
    assert.equal(ex.sip_cfg_set(mr, 2), relay ? abi.cfgResults.Ok.value : abi.cfgResults.NotInBuild.value, "MediaRelay 2 (behind NAT)");
    assert.equal(ex.sip_cfg_set(mr, 3), relay ? abi.cfgResults.Refused.value : abi.cfgResults.NotInBuild.value, "MediaRelay 3: no such mode");
    assert.equal(ex.sip_cfg_set(mr, 0), abi.cfgResults.Ok.value);
    const used = new Set(Object.values(abi.cfgKeys).map((k) => k.value));
    const spare = [...Array(48).keys()].filter((i) => i > 0 && !used.has(i));
    assert.ok(spare.length > 5);
    for (const key of spare) assert.equal(ex.sip_cfg_set(key, 1), abi.cfgResults.Unknown.value, `key ${key} is not in abi.json`);
    const mem = () => new Uint8Array(ex.memory.buffer);
    for (const [name, k] of Object.entries(abi.cfgKinds)) {
      assert.ok(KIND_TEXT[name], `a test text for kind ${name}`);
      const bytes = Buffer.from(KIND_TEXT[name]);
      mem().set(bytes, ex.sip_cfg_ptr());
      const r = ex.sip_cfg_add(k.value, bytes.length);
      // GinBlock (RFC 6140's provider side) is the server board's only (config.ts GIN_PROVIDER)
      const left = (UA_KINDS.has(name) && !ua) || (name === "GinBlock" && board !== "server") || (name === "RelayAddress" && !relay);
      const want = left ? abi.cfgResults.NotInBuild.value : abi.cfgResults.Ok.value;
      assert.equal(r, want, `sip_cfg_add(${k.value} ${name}, "${KIND_TEXT[name]}") = ${r}`);
    }
    const kinds = Object.values(abi.cfgKinds).map((k) => k.value);
    assert.equal(ex.sip_cfg_add(Math.max(...kinds) + 1, 1), abi.cfgResults.Unknown.value);
    abi.stats.forEach((name, id) => {
      if (RELAY_STATS.has(name) && !relay) assert.equal(ex.sip_stat(id), -1, `sip_stat(${id} ${name}): not in this core`);
      else assert.ok(ex.sip_stat(id) >= 0, `sip_stat(${id} ${name})`);
    });
    assert.equal(ex.sip_stat(abi.stats.length), -1, "no stat beyond abi.json's");
    const hiding = ex.sip_cfg_set(abi.cfgKeys.TopologyHiding.value, 1);
    assert.equal(hiding, board === "server" ? abi.cfgResults.Ok.value : abi.cfgResults.NotInBuild.value);
    // the B2BUA: only a core with the user agent takes mode 1; no core takes a mode beyond it
    const b2bua = ex.sip_cfg_set(abi.cfgKeys.Mode.value, 1);
    assert.equal(b2bua, ua ? abi.cfgResults.Ok.value : abi.cfgResults.NotInBuild.value);
    assert.equal(ex.sip_cfg_set(abi.cfgKeys.Mode.value, 2), abi.cfgResults.Refused.value);
  });
}

test("the core's enums are abi.json's: assembly/host/numbers.ts, events.ts re-exports it, net/transports.ts Proto", () => {
  const nums = readFileSync(join(root, "assembly/host/numbers.ts"), "utf8");
  const enumOf = (src, name) => {
    const body = new RegExp(`export const enum ${name} \\{([\\s\\S]*?)\\}`).exec(src)[1];
    return Object.fromEntries([...body.replace(/\/\*\*[\s\S]*?\*\//g, "").matchAll(/(\w+) = (-?\d+)/g)].map((m) => [m[1], Number(m[2])]));
  };
  assert.deepEqual(enumOf(nums, "CfgKey"), Object.fromEntries(Object.entries(abi.cfgKeys).map(([n, k]) => [n, k.value])));
  assert.deepEqual(enumOf(nums, "CfgKind"), Object.fromEntries(Object.entries(abi.cfgKinds).map(([n, k]) => [n, k.value])));
  assert.deepEqual(enumOf(nums, "CfgResult"), Object.fromEntries(Object.entries(abi.cfgResults).map(([n, k]) => [n, k.value])));
  assert.deepEqual(enumOf(nums, "EventKind"), { None: 0, ...Object.fromEntries(abi.events.map((e) => [pascal(e.name), e.value])) });
  assert.deepEqual(enumOf(nums, "Stat"), { ...Object.fromEntries(abi.stats.map((s, i) => [pascal(s), i])), Count: abi.stats.length });
  assert.deepEqual(enumOf(nums, "Proto"), { None: 0, ...abi.protos });
  const events = readFileSync(join(root, "assembly/events.ts"), "utf8");
  assert.doesNotMatch(events, /enum EventKind/, "events.ts defines no EventKind of its own");
  assert.match(events, /import \{ EventKind \} from "\.\/host\/numbers";/);
  const transports = readFileSync(join(root, "assembly/net/transports.ts"), "utf8");
  assert.deepEqual(enumOf(transports, "Proto"), { None: 0, ...abi.protos }, "net/transports.ts Proto");
});

test("Node host: host/node/numbers.ts names every event, stat, key and kind", async () => {
  const js = transformSync(readFileSync(join(root, "host/node/numbers.ts"), "utf8"), { loader: "ts", format: "esm" }).code;
  const f = join(tmp, "numbers.mjs");
  writeFileSync(f, js);
  const m = await import(pathToFileURL(f).href);
  assert.equal(m.EVENTS[0], undefined);
  assert.deepEqual(m.EVENTS.slice(1).map((e, i) => ({ kind: i + 1, name: e.name, level: e.level, texts: e.texts, valueField: e.valueField ?? null, usage: e.usage })),
    EXPECTED_EVENTS);
  assert.deepEqual(m.STAT_NAMES, abi.stats);
  assert.deepEqual(Object.values(m.CFG_KEY_NAMES), Object.keys(abi.cfgKeys));
  assert.deepEqual([...m.CFG_KIND_SECRET], Object.values(abi.cfgKinds).filter((k) => k.secret).map((k) => k.value));
});

test("firmware bridge: host/firmware/abi.mjs names every event and stat; its schema is config.json's", async () => {
  const m = await import(pathToFileURL(join(root, "host/firmware/abi.mjs")).href);
  assert.deepEqual(m.EVENTS.slice(1).map((e, i) => ({ kind: i + 1, name: e.name, level: e.level, texts: e.texts, valueField: e.valueField ?? null, usage: e.usage })),
    EXPECTED_EVENTS);
  assert.deepEqual(m.STAT_NAMES, abi.stats);
  assert.deepEqual(m.SCHEMA.map((k) => k.path), config.keys.map((k) => k.path));
  assert.deepEqual(m.CfgKind, Object.fromEntries(Object.entries(abi.cfgKinds).map(([n, k]) => [n, k.value])));
});

test("native host and firmware: host/c/numbers.h and schema.h, compiled, hold every number and key", () => {
  const src = join(tmp, "dump.c");
  writeFileSync(src, `#include <stdio.h>
#include "schema.h"
int main(void) {
  printf("{\\"events\\": [");
  for (int k = 1; k < SIP_EVENT_LIMIT; k++) {
    const sip_event_info *e = &SIP_EVENTS[k];
    printf("%s{\\"kind\\": %d, \\"name\\": \\"%s\\", \\"level\\": %d, \\"texts\\": [\\"%s\\", \\"%s\\", \\"%s\\", \\"%s\\"], \\"valueField\\": %s%s%s, \\"usage\\": %s}",
      k > 1 ? ", " : "", k, e->name, e->level, e->texts[0], e->texts[1], e->texts[2], e->texts[3],
      e->value_field ? "\\"" : "", e->value_field ? e->value_field : "null", e->value_field ? "\\"" : "", e->usage ? "true" : "false");
  }
  printf("], \\"stats\\": [");
  for (int i = 0; i < SIP_STAT_COUNT; i++) printf("%s\\"%s\\"", i ? ", " : "", SIP_STAT_NAMES[i]);
  printf("], \\"keys\\": [");
  for (int i = 0; i < SK_COUNT; i++) printf("%s[\\"%s\\", %d]", i ? ", " : "", SCHEMA[i].path, SCHEMA[i].core_id);
  printf("], \\"shed\\": %d, \\"domain\\": %d, \\"udp\\": %d}\\n", SIP_CFG_KEY_SHED, SIP_CFG_KIND_DOMAIN, SIP_PROTO_UDP);
  return 0;
}
`);
  const exe = join(tmp, "dump");
  const cc = spawnSync("gcc", ["-std=c11", "-Wall", "-Wextra", "-Werror", "-I", join(root, "host/c"), src, "-o", exe], { encoding: "utf8" });
  assert.equal(cc.status, 0, cc.stderr);
  const d = JSON.parse(spawnSync(exe, { encoding: "utf8" }).stdout);
  const LEVELS = ["error", "warn", "info", "debug"];
  assert.deepEqual(d.events.map((e) => ({ ...e, level: LEVELS[e.level] })), EXPECTED_EVENTS);
  assert.deepEqual(d.stats, abi.stats);
  assert.deepEqual(d.keys.map(([p]) => p), config.keys.map((k) => k.path));
  for (const [path, id] of d.keys) {
    const k = config.keys.find((x) => x.path === path);
    const want = k.core?.set ? abi.cfgKeys[k.core.set].value : k.core?.add ? abi.cfgKinds[k.core.add].value : 0;
    assert.equal(id, want, `${path}: core number`);
  }
  assert.equal(d.shed, abi.cfgKeys.Shed.value);
  assert.equal(d.domain, abi.cfgKinds.Domain.value);
  assert.equal(d.udp, abi.protos.UDP);
});

test("WASI host: host/wasi/schema.ts's static tables decode to abi.json's events and config.json's keys", () => {
  const src = readFileSync(join(root, "host/wasi/schema.ts"), "utf8");
  const data = (name) => JSON.parse(`[${new RegExp(`export const ${name}: usize = memory\\.data<u\\d+>\\(\\[([\\s\\S]*?)\\]\\);`).exec(src)[1].replace(/\/\/.*$/gm, "").replace(/,\s*$/, "")}]`);
  const blob = Buffer.from(data("BLOB"));
  // refs are (offset << REF_SHIFT | length), REF_SHIFT read from the generated file itself
  const shift = Number(/export const REF_SHIFT: u32 = (\d+);/.exec(src)?.[1]);
  assert.ok(shift >= 12, "schema.ts declares REF_SHIFT");
  const text = (ref) => (ref === 0 ? null : blob.toString("utf8", ref >>> shift, (ref >>> shift) + (ref & ((1 << shift) - 1))));
  const table = data("EVENT_TABLE");
  const LEVELS = ["error", "warn", "info", "debug"];
  const events = [];
  for (let i = 0; i < table.length; i += 8) {
    const r = table.slice(i, i + 8);
    events.push({ kind: i / 8 + 1, name: text(r[0]), level: LEVELS[r[1]], texts: r.slice(2, 6).map(text), valueField: text(r[6]), usage: r[7] === 1 });
  }
  assert.deepEqual(events, EXPECTED_EVENTS);
  assert.deepEqual(data("STAT_TABLE").map(text), abi.stats);
  const fields = Number(/export const KEY_FIELDS: u32 = (\d+);/.exec(src)[1]);
  const keys = data("KEYS");
  assert.equal(keys.length, fields * config.keys.length);
  const paths = [];
  for (let i = 0; i < keys.length; i += fields) paths.push(text(keys[i]));
  assert.deepEqual(paths, config.keys.map((k) => k.path));
});

test("no host spells an event or stat name, or calls the ABI with a literal key, kind, stat or proto", () => {
  const generated = new Set(["host/node/numbers.ts", "host/node/schema.ts", "host/node/api-types.d.ts", "host/c/numbers.h", "host/c/schema.h", "host/firmware/abi.mjs", "host/wasi/schema.ts"]);
  const files = [];
  for (const d of ["host/node", "host/c", "host/firmware", "host/wasi", "host/shared"])
    for (const f of readdirSync(join(root, d))) if (/\.(ts|c|h|mjs)$/.test(f) && !generated.has(`${d}/${f}`)) files.push(`${d}/${f}`);
  assert.ok(files.length >= 20, `host sources: ${files.length}`);
  const names = [...abi.events.map((e) => e.name), ...abi.stats.filter((s) => /[A-Z0-9]/.test(s))];
  const literal = /\b(?:Z_sipZ_)?sip_(?:cfg_set|cfg_add|stat|transport_add)\s*\(\s*(?:&core,\s*)?(?:[^,()]+,\s*)??-?\d+\s*[,)]/;
  for (const bad of ["sip_transport_add(i + 1, 1, n)", "Z_sipZ_sip_cfg_add(&core, 1, put_cfg(b, n))", "ex.sip_cfg_set(21, 1000)", "sip_stat(&core, 14)"])
    assert.match(bad, literal, "the pattern catches a literal number");
  const offenders = [];
  for (const f of files) {
    const text = readFileSync(join(root, f), "utf8");
    for (const n of names) if (text.includes(`"${n}"`)) offenders.push(`${f}: "${n}"`);
    text.split("\n").forEach((line, i) => {
      if (literal.test(line) && !/^\s*(\/\/|\*|\/\*)/.test(line)) offenders.push(`${f}:${i + 1}: ${line.trim()}`);
    });
  }
  assert.deepEqual(offenders, []);
});
