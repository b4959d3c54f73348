// tools/sections.mjs: the code of each board's release core attributed to its layers, through a build
// with a name section whose code is the release's byte for byte; and its memory after start-up
// attributed to static data and to the tables of each layer.
import { test } from "node:test";
import assert from "node:assert/strict";
import { sections } from "../tools/sections.mjs";
import { loadBoards } from "../tools/boards.mjs";

for (const b of loadBoards()) {
  test(`${b.name}: every byte of code is attributed to a named layer, and the sections add up to the file`, async (t) => {
    const s = await sections(b.name, { top: 1000 });
    const code = s.sections.find((x) => x.name === "code").bytes;
    const attributed = s.layers.reduce((n, l) => n + l.bytes, 0);
    t.diagnostic(s.layers.map((l) => `${l.layer} ${l.bytes}`).join(", "));
    // function bodies plus their count and size prefixes make the code section
    assert.ok(attributed <= code && code - attributed < 4 * s.layers.reduce((n, l) => n + l.functions, 0) + 8, `${attributed} of ${code}`);
    assert.deepEqual(s.layers.filter((l) => ["unnamed", "other"].includes(l.layer)), [], "no function without a source layer");
    for (const layer of ["wire", "txn", "proxy", "registrar", "auth", "policy"]) assert.ok(s.layers.some((l) => l.layer === layer && l.bytes > 0), layer);
    // section payloads plus their 1-byte ids and size prefixes, plus the 8-byte header, make the file
    const payload = s.sections.reduce((n, x) => n + x.bytes, 0);
    assert.ok(s.wasmBytes - payload - 8 >= 2 * s.sections.length && s.wasmBytes - payload - 8 <= 6 * s.sections.length, `${s.wasmBytes} vs ${payload}`);
    // the memory map: static data and the tables add up to the memory in use after start-up
    const m = s.memory;
    t.diagnostic(`memory ${m.used} B: ` + m.layers.map((l) => `${l.layer} ${l.bytes}`).join(", "));
    assert.equal(m.layers.reduce((n, l) => n + l.bytes, 0), m.used);
    assert.equal(m.regions.reduce((n, r) => n + r.bytes, 0) + m.staticBytes, m.used);
    assert.ok(m.staticBytes > 0 && m.staticBytes < m.used, `static ${m.staticBytes} of ${m.used}`);
    for (const name of ["assembly/txn/table/msgPool", "assembly/registrar/table/regPool", "assembly/txn/table/records"])
      assert.ok(m.regions.some((r) => r.name === name && r.bytes > 0), `${name} in the memory map`);
  });
}
