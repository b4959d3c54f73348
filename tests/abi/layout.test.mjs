// The tables laid out at start from the host's capacities (issue 15 item 3; docs/ABI.md "Layout";
// assembly/config.ts Layout, util/alloc.ts): on the server and b2bua boards the capacities written in the
// layout record before `_initialize` are the tables' sizes, and the core's memory grows from its static data
// to what they need (at most a page more); nothing is allocated afterwards.
//   board's      nothing written: the board's capacities, the memory of before (within two pages)
//   configured   a small site's capacities: the record and the stats say them, the memory is what they
//                need (within two pages of the core's own count), a small fraction of the board's, and
//                grows by the same bytes for each added unit of a capacity (the memory per capacity unit)
//   beyond       a capacity above the board's is laid out as the board's, and the configuration key that
//                says it is then refused (the host names the key)
//   fixed        the micro and gateway cores have no layout record (0): their tables are the board's
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const abi = JSON.parse(readFileSync(join(root, "host/shared/abi.json"), "utf8"));
const stat = (name) => abi.stats.indexOf(name);
const key = (name) => abi.cfgKeys[name].value;
const PAGE = 65536;
const WORDS = abi.enums.Layout.values.Count.value;
const modules = new Map();

/** A core of `board` laid out at `caps` ([transactions, registrations, messageBlocks, dialogs, relayLegs]). */
function laidOut(board, caps = []) {
  if (!modules.has(board)) modules.set(board, new WebAssembly.Module(readFileSync(join(root, "build", board, "sipling.wasm"))));
  const ex = new WebAssembly.Instance(modules.get(board), {}).exports;
  const at = ex.sip_layout_ptr() >>> 0;
  if (caps.length) new Uint32Array(ex.memory.buffer, at, WORDS).set(caps);
  ex._initialize();
  assert.equal(ex.sip_init(1, 2, 0), 0);
  return { ex, at, record: at ? [...new Uint32Array(ex.memory.buffer, at, WORDS)] : null, bytes: ex.memory.buffer.byteLength, used: ex.sip_stat(stat("memoryBytes")) };
}

const BOARD = { server: [393216, 262144, 196608, 65536, 8192], b2bua: [196608, 65536, 131072, 32768, 8192] };
const SMALL = [4096, 2000, 4096, 1000, 512];

for (const board of ["server", "b2bua"]) {
  test(`${board}: nothing laid out: the board's capacities, its memory only what its tables use`, () => {
    const c = laidOut(board);
    assert.deepEqual(c.record, BOARD[board]);
    assert.ok(c.bytes >= c.used && c.bytes - c.used <= 2 * PAGE, `memory ${c.bytes} B for ${c.used} B used`);
    assert.equal(c.ex.sip_stat(stat("txnCapacity")), BOARD[board][0]);
  });

  test(`${board}: a small site's capacities are the tables' sizes; memory follows them`, () => {
    const c = laidOut(board, SMALL);
    assert.deepEqual(c.record, SMALL);
    assert.equal(c.ex.sip_stat(stat("txnCapacity")), 4096);
    assert.equal(c.ex.sip_stat(stat("bindingCapacity")), 2000);
    assert.equal(c.ex.sip_stat(stat("msgPoolBlocks")), 4096);
    assert.ok(c.bytes >= c.used && c.bytes - c.used <= 2 * PAGE, `memory ${c.bytes} B for ${c.used} B used`);
    const full = laidOut(board);
    assert.ok(c.bytes * 10 < full.bytes, `${c.bytes} B laid out small, ${full.bytes} B the board's`);
    // the keys that state them are accepted as laid out, and refused above
    for (const [name, i] of [["MaxTransactions", 0], ["MaxBindings", 1], ["MaxMessageBlocks", 2], ["MaxDialogs", 3], ["MaxRelayLegs", 4]]) {
      assert.equal(c.ex.sip_cfg_set(key(name), SMALL[i]), abi.cfgResults.Ok.value, name);
      assert.equal(c.ex.sip_cfg_set(key(name), SMALL[i] + 1), abi.cfgResults.Refused.value, `${name} above the layout`);
    }
    // each unit of a capacity costs the same bytes at any size: memory per unit, measured from the layout
    for (const [i, what] of [[0, "transaction"], [1, "registration"], [2, "message block"]]) {
      const one = SMALL.slice();
      const two = SMALL.slice();
      one[i] *= 2;
      two[i] *= 4;
      const [u1, u2] = [laidOut(board, one).used, laidOut(board, two).used];
      const per1 = (u1 - c.used) / SMALL[i];
      const per2 = (u2 - u1) / (2 * SMALL[i]);
      assert.ok(per1 > 0 && Math.abs(per2 - per1) / per1 < 0.1, `${board} per ${what}: ${per1} then ${per2} B`);
    }
  });

  test(`${board}: a capacity above the board's is laid out as the board's, and its key refused`, () => {
    const above = BOARD[board].map((v) => v + 2);
    const c = laidOut(board, above);
    assert.deepEqual(c.record, BOARD[board]);
    assert.equal(c.ex.sip_cfg_set(key("MaxTransactions"), above[0]), abi.cfgResults.Refused.value);
    assert.equal(c.ex.sip_cfg_set(key("MaxDialogs"), above[3]), abi.cfgResults.Refused.value);
  });
}

test("micro and gateway: no layout record; their capacities are the board's", () => {
  for (const board of ["micro", "gateway"]) {
    const c = laidOut(board);
    assert.equal(c.at, 0, board);
    assert.equal(c.ex.sip_cfg_set(key("MaxDialogs"), 1), abi.cfgResults.NotInBuild.value);
  }
});
