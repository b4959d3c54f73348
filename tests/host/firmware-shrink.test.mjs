// The firmware's edits of wasm2c's output (tools/firmware.mjs): shrink() must keep wasm's semantics
// exactly. A small module with loads and stores at static offsets runs through wasm2c + shrink() and the
// host's gcc, next to the same .wasm in Node: every access gives the same value, or traps in both, at
// the edges of the memory (the last bytes, one past them, 2^32 - 1). callGraph() refuses a core that
// recurses or calls indirectly (the firmware has no call-depth counter) and measures the real core.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync, readFileSync, rmSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { shrink, callGraph, stackBound } from "../../tools/firmware.mjs";

const root = new URL("../..", import.meta.url).pathname;

const WAT = `(module
  (memory (export "memory") 1 1)
  (data (i32.const 16) "sipling")
  (func (export "ld") (param i32) (result i32) (i32.load offset=8 (local.get 0)))
  (func (export "ld8") (param i32) (result i32) (i32.load8_u offset=100 (local.get 0)))
  (func (export "ld0") (param i32) (result i32) (i32.load16_u (local.get 0)))
  (func (export "ld64") (param i32) (result i32) (i32.wrap_i64 (i64.load offset=4 (local.get 0))))
  (func (export "st") (param i32 i32) (i32.store offset=12 (local.get 0) (local.get 1)))
  (func (export "st8") (param i32 i32) (i32.store8 offset=100 (local.get 0) (local.get 1))))`;

const ADDRS = [0, 8, 16, 1000, 65524, 65527, 65528, 65529, 65535, 65536, 65435, 65436, 65523, 65524, 65525, 0x7fffffff, 0xfffffff8, 0xffffffff];
const OPS = [["ld", 1], ["ld8", 1], ["ld0", 1], ["ld64", 1], ["st", 2], ["st8", 2]];

function inNode(wasm) {
  const ex = new WebAssembly.Instance(new WebAssembly.Module(wasm), {}).exports;
  const out = [];
  for (const [op, arity] of OPS) {
    for (const a of ADDRS) {
      try {
        const r = arity === 1 ? ex[op](a | 0) : (ex[op](a | 0, 0x5a5a5a5a), ex.ld0(Math.min(a, 65534) | 0));
        out.push(`${op} ${a} ${r >>> 0}`);
      } catch (e) {
        assert.ok(e instanceof WebAssembly.RuntimeError, String(e));
        out.push(`${op} ${a} trap`);
      }
    }
  }
  return out;
}

const MAIN = `#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include "sip.h"
#include "runtime.h"
void fw_fatal(const char* why) { fprintf(stderr, "fatal %s\\n", why); exit(3); }
static Z_sip_instance_t m;
int main(void) {
  static const unsigned addrs[] = {${ADDRS.join("u, ")}u};
  wasm_rt_init();
  Z_sip_init_module();
  Z_sip_instantiate(&m);
  const char* names[] = {"ld", "ld8", "ld0", "ld64", "st", "st8"};
  for (int op = 0; op < 6; op++)
    for (unsigned i = 0; i < sizeof addrs / sizeof addrs[0]; i++) {
      jmp_buf jb;
      unsigned a = addrs[i];
      volatile unsigned r = 0;
      if (setjmp(jb) == 0) {
        fw_set_unwind(&jb);
        switch (op) {
          case 0: r = Z_sipZ_ld(&m, a); break;
          case 1: r = Z_sipZ_ld8(&m, a); break;
          case 2: r = Z_sipZ_ld0(&m, a); break;
          case 3: r = Z_sipZ_ld64(&m, a); break;
          case 4: Z_sipZ_st(&m, a, 0x5a5a5a5au); r = Z_sipZ_ld0(&m, a < 65534 ? a : 65534); break;
          case 5: Z_sipZ_st8(&m, a, 0x5a5a5a5au); r = Z_sipZ_ld0(&m, a < 65534 ? a : 65534); break;
        }
        fw_set_unwind(0);
        printf("%s %u %u\\n", names[op], a, r);
      } else {
        fw_set_unwind(0);
        printf("%s %u trap\\n", names[op], a);
      }
    }
  return 0;
}
`;

test("shrink(): wasm2c + the firmware's edits give wasm's results and traps at every edge of the memory", () => {
  const dir = mkdtempSync(join(tmpdir(), "sipling-shrink-"));
  try {
    writeFileSync(join(dir, "t.wat"), WAT);
    execFileSync("wat2wasm", [join(dir, "t.wat"), "-o", join(dir, "t.wasm")]);
    execFileSync("wasm2c", [join(dir, "t.wasm"), "-n", "sip", "-o", join(dir, "sip.c")]);
    const raw = readFileSync(join(dir, "sip.c"), "utf8");
    const c = shrink(raw);
    assert.ok((c.match(/\bi(32|64)_(load|store)\w*_o\(w2c_/g) ?? []).length >= 6, "the loads and stores were rewritten");
    writeFileSync(join(dir, "sip.c"), c);
    writeFileSync(join(dir, "main.c"), MAIN);
    const rt = ["/usr/include/wasm-rt.h", "/usr/share/wabt/wasm2c/wasm-rt.h"].find(existsSync);
    execFileSync("gcc", ["-std=gnu11", "-O2", "-DWASM_RT_USE_STACK_DEPTH_COUNT=0", "-DFW_MEMORY_PAGES=1", "-I", dir, "-I", join(root, "host/firmware"),
      "-I", rt.replace(/\/wasm-rt\.h$/, ""), "-o", join(dir, "t"), join(dir, "main.c"), join(dir, "sip.c"), join(root, "host/firmware/runtime.c")]);
    const native = execFileSync(join(dir, "t"), { encoding: "utf8" }).trim().split("\n");
    const node = inNode(readFileSync(join(dir, "t.wasm")));
    assert.deepEqual(native, node);
    assert.ok(node.some((l) => l.endsWith(" trap")) && node.some((l) => !l.endsWith(" trap")), "both outcomes were exercised");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

function wasm2cOf(wat) {
  const dir = mkdtempSync(join(tmpdir(), "sipling-graph-"));
  try {
    writeFileSync(join(dir, "t.wat"), wat);
    execFileSync("wat2wasm", [join(dir, "t.wat"), "-o", join(dir, "t.wasm")]);
    execFileSync("wasm2c", [join(dir, "t.wasm"), "-n", "sip", "-o", join(dir, "sip.c")]);
    return readFileSync(join(dir, "sip.c"), "utf8");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const FILL = Array.from({ length: 24 }, (_, i) => `(func $f${i} (export "f${i}") (result i32) (i32.const ${i}))`).join("\n");

test("callGraph(): the depth of a call chain; a module that recurses or calls indirectly is refused", () => {
  const chain = wasm2cOf(`(module ${FILL}
    (func $c (result i32) (i32.add (call $f1) (call $f2)))
    (func $b (result i32) (call $c))
    (func (export "a") (result i32) (call $b)))`);
  assert.equal(callGraph(chain).maxDepth, 4);
  const rec = wasm2cOf(`(module ${FILL}
    (func $even (export "even") (param i32) (result i32) (if (result i32) (local.get 0) (then (call $odd (i32.sub (local.get 0) (i32.const 1)))) (else (i32.const 1))))
    (func $odd (param i32) (result i32) (if (result i32) (local.get 0) (then (call $even (i32.sub (local.get 0) (i32.const 1)))) (else (i32.const 0)))))`);
  assert.throws(() => callGraph(rec), /recurses/);
  const ind = wasm2cOf(`(module ${FILL}
    (type $t (func (result i32)))
    (table 1 funcref) (elem (i32.const 0) $f0)
    (func (export "x") (result i32) (call_indirect (type $t) (i32.const 0))))`);
  assert.throws(() => callGraph(ind), /indirect/);
});

test("callGraph(): the micro core neither recurses nor calls indirectly; its deepest chain is what the firmware reports", () => {
  const wasm = join(root, "build/micro/sipling.wasm");
  assert.ok(existsSync(wasm), "build/micro/sipling.wasm (npm test builds it)");
  const dir = mkdtempSync(join(tmpdir(), "sipling-graph-"));
  try {
    execFileSync("wasm2c", [wasm, "-n", "sip", "-o", join(dir, "sip.c")]);
    const g = callGraph(readFileSync(join(dir, "sip.c"), "utf8"));
    assert.ok(g.functions > 100 && g.maxDepth > 5 && g.maxDepth < 40, JSON.stringify({ functions: g.functions, maxDepth: g.maxDepth }));
    assert.equal(g.path.length, g.maxDepth);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("stackBound(): the heaviest chain of calls, each function with its own frame (an inlined one with none, its variants added), + the firmware's frames; a dynamic frame is refused", () => {
  const dir = mkdtempSync(join(tmpdir(), "sipling-su-"));
  try {
    // a -> b -> c, a -> d; b was inlined everywhere (no frame of its own); c has a clone and a split part
    const calls = new Map([["w2c_a", ["w2c_b", "w2c_d"]], ["w2c_b", ["w2c_c", "wasm_rt_trap"]], ["w2c_c", []], ["w2c_d", []]]);
    const graph = { functions: 4, maxDepth: 3, path: ["w2c_a", "w2c_b", "w2c_c"] };
    Object.defineProperty(graph, "calls", { value: calls, enumerable: false });
    const su = (lines) => writeFileSync(join(dir, "x.lto.su"), lines.map(([w, n, k = "static"]) => `${w}\t${n}\t${k}`).join("\n") + "\n");
    su([["sip.c:1:1:w2c_a", 10], ["sip.c:2:1:w2c_c.constprop.0", 30], ["sip.c:3:1:w2c_c.part.0", 50], ["sip.c:4:1:w2c_d", 40], ["main.c:5:1:guarded", 20], ["libc.c:6:1:memcpy", 8]]);
    const b = stackBound(graph, dir);
    assert.equal(b.coreStack, 90, "a (10) + b (inlined: 0) + c (its variants: 30 + 50; a part runs below its head), heavier than a + d (50)");
    assert.deepEqual(b.coreStackPath, ["w2c_a:10", "w2c_b:0", "w2c_c:80"]);
    assert.equal(b.firmwareFrame, 20);
    assert.equal(b.stackBound, 90 + 7 * 20 + 2 * 104);
    su([["sip.c:1:1:w2c_a", 10], ["sip.c:4:1:w2c_d", 40, "dynamic"]]);
    assert.throws(() => stackBound(graph, dir), /dynamic stack frame/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
