// tools/sections.mjs: the code of each board's release core attributed to its layers, through a build
// with a name section whose code is the release's byte for byte.
import { test } from "node:test";
import assert from "node:assert/strict";
import { sections } from "../tools/sections.mjs";
import { loadBoards } from "../tools/boards.mjs";

for (const b of loadBoards()) {
  test(`${b.name}: every byte of code is attributed to a named layer, and the sections add up to the file`, (t) => {
    const s = sections(b.name);
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
  });
}
