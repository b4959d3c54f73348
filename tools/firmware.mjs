#!/usr/bin/env node
// Firmware for the mps2-an386 board (Cortex-M4 under QEMU -M mps2-an386): the micro core
// (build/micro/sipling.wasm) through wasm2c, plus host/firmware/*.c, linked bare-metal with newlib.
//   node tools/firmware.mjs [--force] [--quiet] [--json]
// Output: build/mps2-an386/sipling.elf (and sip.c/sip.h, the objects, sipling.map). Prints the
// arm-none-eabi-size figures against boards/mps2-an386/firmware.json; exits non-zero on any failure
// (a missing toolchain, a compile or link error, _sbrk/malloc in the image, data+bss over 256 KB).
// No malloc/sbrk: newlib's libnosys is not linked and no _sbrk is defined, so anything that pulls in
// the heap fails the link with "undefined reference to `_sbrk'"; the image is checked for it again.
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, copyFileSync, writeFileSync, rmSync } from "node:fs";
import { join, dirname, basename } from "node:path";
import { fileURLToPath } from "node:url";
import { spawnSync } from "node:child_process";
import { STAT_NAMES } from "../host/firmware/abi.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
export const BOARD = "mps2-an386";
export const outDir = join(root, "build", BOARD);
export const elfPath = join(outDir, "sipling.elf");
const srcDir = join(root, "host", "firmware");
const wasm = join(root, "build", "micro", "sipling.wasm");
const boardJson = join(root, "boards", BOARD, "firmware.json");
const CC = "arm-none-eabi-gcc";
// -flto (compile, and link as one unit): the core's functions and the firmware's are optimised together (6 KB less
// text than per-file -Os). No call-depth counter (WASM_RT_USE_STACK_DEPTH_COUNT=0, 12 KB of text): the
// core neither recurses nor calls indirectly, checked on every build by callGraph(), so its deepest
// chain of calls is a property of the code (FW_CALL_DEPTH, 15 frames today), and the stack size of
// mps2-an386.ld is checked against it times the largest frame (-fstack-usage) by tests/hosts/firmware.test.mjs.
export const CFLAGS = ["-mcpu=cortex-m4", "-mthumb", "-Os", "-flto", "-ffunction-sections", "-fdata-sections", "-DNDEBUG",
  "-std=gnu11", "-DWASM_RT_USE_STACK_DEPTH_COUNT=0", "-Wall", "-Wno-unused-function", "-Wno-unused-variable", "-Wno-unused-but-set-variable"];
const RAM_BYTES = 256 * 1024;

const mtime = (f) => (existsSync(f) ? statSync(f).mtimeMs : -1);

function sh(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { cwd: root, encoding: "utf8", maxBuffer: 64 << 20, ...opts });
  if (r.error) throw new Error(`${cmd}: ${r.error.code === "ENOENT" ? "not installed (apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi wabt)" : r.error.message}`);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} failed (exit ${r.status}):\n${r.stderr}${r.stdout}`);
  return r.stdout;
}

export function budgets() {
  return existsSync(boardJson) ? JSON.parse(readFileSync(boardJson, "utf8")).budgets : { textDataBssBytes: 256000, goalBytes: 153600 };
}

/** The ABI numbers the firmware includes (generated from host/shared/abi.json). */
const numbersH = join(root, "host", "c", "numbers.h");

function sources() {
  return [...readdirSync(srcDir).filter((f) => /\.(c|h|ld)$/.test(f)).map((f) => join(srcDir, f)), numbersH];
}

/** Is the ELF older than any input (core, C sources, linker script, this tool)? */
export function stale() {
  const t = mtime(elfPath);
  if (t < 0) return true;
  return [wasm, fileURLToPath(import.meta.url), ...sources()].some((f) => mtime(f) > t);
}

/**
 * Size edits of wasm2c's output, each exact for this module (checked, or the build fails):
 *  - init_memories(): one LOAD_DATA (bounds check + memcpy, inlined) per data segment (~300 here)
 *    becomes a loop over a const table of {offset, bytes, length}.
 *  - RANGE_CHECK compares against the memory's size as a constant: the module's memory is declared
 *    with initial = maximum pages, so memory.grow always fails and the size never changes.
 *  - Every load and store of the form `op(&instance->w2c_memory, (u64)(x) + K)` (nearly all of them)
 *    becomes `op_o(x, K)`: the same bounds check done in 32 bits against one constant
 *    (x > size - K - width, exactly wasm's x + K + width > size, as x < 2^32 and K + width <= size)
 *    and the access made through the static memory area's own address (fw_memory, the one memory, see
 *    runtime.c) instead of the instance's data pointer, which gcc had to reload for each access.
 *    Bounds-checked as before: an out-of-range access still traps, and the firmware recovers.
 * `backed` (default: all the pages): the bytes of the memory the firmware backs with RAM, from 0; the
 * bounds are checked against it (see backedBytes()).
 */
export function shrink(c, backed = 0) {
  const mem = /wasm_rt_allocate_memory\(&instance->w2c_memory, (\d+), (\d+)\);/.exec(c);
  if (!mem || mem[1] !== mem[2]) throw new Error("wasm2c output: expected one memory with initial == maximum pages");
  const pagesBytes = Number(mem[1]) * 65536;
  if (backed > pagesBytes) throw new Error(`backed ${backed} B > the memory's ${pagesBytes} B`);
  const size = backed || pagesBytes;
  const rc = "if (UNLIKELY(offset + (uint64_t)len > mem->size))";
  if (!c.includes(rc)) throw new Error("wasm2c output: RANGE_CHECK not in the expected form");
  c = c.replace(rc, `if (UNLIKELY(offset + (uint64_t)len > (uint64_t)${size}u))`);
  c = directAccess(c, size);
  const re = /^  LOAD_DATA\(instance->w2c_memory, (\d+)u, (data_segment_data_w2c_d\d+), (\d+)\);\n/gm;
  const rows = [];
  c = c.replace(re, (_, off, name, len) => { rows.push(`  {${off}u, ${name}, ${len}u},\n`); return ""; });
  if (rows.length === 0) return c;
  const head = "static void init_memories(Z_sip_instance_t* instance) {\n";
  const alloc = mem[0] + "\n";
  if (!c.includes(head + "  " + alloc)) throw new Error("wasm2c output: init_memories not in the expected form");
  const table = `static const struct { u32 off; const u8* src; u32 len; } fw_segments[] = {\n${rows.join("")}};\n`;
  c = c.replace(head + "  " + alloc, table + head + "  " + alloc +
    "  for (u32 i = 0; i < sizeof fw_segments / sizeof fw_segments[0]; i++) {\n" +
    "    RANGE_CHECK((&instance->w2c_memory), fw_segments[i].off, fw_segments[i].len);\n" +
    "    load_data(&instance->w2c_memory.data[fw_segments[i].off], fw_segments[i].src, fw_segments[i].len);\n  }\n");
  return c;
}

/** The load/store rewrite of shrink(): returns the edited source; throws if wasm2c's form differs. */
export function directAccess(c, size) {
  const defs = [...c.matchAll(/^DEFINE_(LOAD|STORE)\((\w+), ([^)]*)\)$/gm)];
  if (defs.length < 20 || !c.includes("#if WABT_BIG_ENDIAN")) throw new Error("wasm2c output: DEFINE_LOAD/DEFINE_STORE not in the expected form");
  const lines = [
    "// shrink(): 32-bit bounds check against the memory's constant size, access through fw_memory",
    "extern u8 fw_memory[];",
    `#define FW_MEMORY_BYTES ${size}u`,
    "#define FW_CHECK(x, k, t) if (UNLIKELY((x) > FW_MEMORY_BYTES - (k) - (u32)sizeof(t))) TRAP(OOB);",
    "#define DEFINE_LOAD_O(name, t1, t2, t3) static inline t3 name##_o(u32 x, u32 k) { \\",
    "    FW_CHECK(x, k, t1) t1 r; wasm_rt_memcpy(&r, &fw_memory[x + k], sizeof(t1)); wasm_asm(\"\" ::\"r\"(r)); return (t3)(t2)r; }",
    "#define DEFINE_STORE_O(name, t1, t2) static inline void name##_o(u32 x, u32 k, t2 v) { \\",
    "    FW_CHECK(x, k, t1) t1 w = (t1)v; wasm_rt_memcpy(&fw_memory[x + k], &w, sizeof(t1)); }",
    ...defs.map((m) => `DEFINE_${m[1]}_O(${m[2]}, ${m[3]})`),
  ];
  const last = defs[defs.length - 1];
  const at = last.index + last[0].length + 1;
  c = c.slice(0, at) + lines.join("\n") + "\n" + c.slice(at);
  const names = new Set(defs.map((m) => m[2]));
  let n = 0;
  c = c.replace(/\b(\w+)\(&instance->w2c_memory, \(u64\)\((w2c_\w+)\)(?: \+ (\d+)u)?/g, (all, op, x, k) => {
    if (!names.has(op)) return all;
    if (Number(k ?? 0) > size - 8) throw new Error(`wasm2c output: static offset ${k} beyond the memory`);
    n++;
    return `${op}_o(${x}, ${k ?? 0}u`;
  });
  if (n === 0) throw new Error("wasm2c output: no load or store in the expected form");
  return c;
}

/**
 * The bytes of the core's memory the firmware backs with RAM: its layout after start-up (stat
 * memoryBytes: static data and every table, allocated once; nothing is allocated later), plus the
 * last allocation's block, rounded up to 64. Measured by running the same .wasm's start-up here.
 * The rest of the declared pages is never addressed by the core; an access there is out of bounds
 * for the firmware and traps (shrink() checks against this size), and the firmware checks the core's
 * own figure again at every boot.
 */
export function backedBytes(file = wasm) {
  const ex = new WebAssembly.Instance(new WebAssembly.Module(readFileSync(file)), {}).exports;
  ex._initialize();
  const used = ex.sip_stat(STAT_NAMES.indexOf("memoryBytes"));
  if (!(used > 0)) throw new Error(`${file}: no memoryBytes stat`);
  return Math.ceil((used + 16) / 64) * 64;
}

/**
 * The core's call graph from wasm2c's output: { functions, maxDepth, path } where maxDepth is the
 * longest chain of calls (frames) from any function. Throws if the core calls indirectly or recurses:
 * then the depth is not bounded by the code and the firmware needs wasm2c's call-depth counter.
 */
export function callGraph(c) {
  if (/\bCALL_INDIRECT\((?!table, t, ft)/.test(c)) throw new Error("the core calls indirectly (call_indirect): its call depth is not static");
  const defs = [...c.matchAll(/^static [\w ]+?\b(w2c_\w+)\(Z_sip_instance_t\* instance[^;{]*\{\n([\s\S]*?)^\}\n/gm)];
  if (defs.length < 20) throw new Error("wasm2c output: function definitions not in the expected form");
  const calls = new Map(defs.map((m) => [m[1], [...new Set([...m[2].matchAll(/\b(w2c_\w+)\(instance\b/g)].map((x) => x[1]))]]));
  const depth = new Map(); // function -> [frames, path]
  const onStack = new Set();
  const visit = (f) => {
    if (depth.has(f)) return depth.get(f);
    if (onStack.has(f)) throw new Error(`the core recurses (${f}): its call depth is not static`);
    onStack.add(f);
    let best = [1, [f]];
    for (const g of calls.get(f) ?? []) {
      if (!calls.has(g)) continue; // an import or a macro-like name, not a core function
      const [d, p] = visit(g);
      if (d + 1 > best[0]) best = [d + 1, [f, ...p]];
    }
    onStack.delete(f);
    depth.set(f, best);
    return best;
  };
  let top = [0, []];
  for (const f of calls.keys()) { const r = visit(f); if (r[0] > top[0]) top = r; }
  const graph = { functions: calls.size, maxDepth: top[0], path: top[1] };
  Object.defineProperty(graph, "calls", { value: calls, enumerable: false }); // function -> its callees
  return graph;
}

/** Builds build/mps2-an386/sipling.elf; returns its sizes. */
export function buildFirmware({ force = false, quiet = false } = {}) {
  const log = quiet ? () => {} : (s) => process.stderr.write(s + "\n");
  if (!existsSync(wasm)) {
    log("firmware: build/micro/sipling.wasm missing: npm run build");
    sh(process.execPath, [join(root, "tools", "build.mjs"), "--quiet"], { stdio: ["ignore", "ignore", "inherit"] });
  }
  if (!force && !stale()) return firmwareSizes({ build: false });
  linkImage(wasm, outDir, elfPath, log);
  return firmwareSizes({ build: false });
}

/** wasm2c of `wasmFile`, its edits (shrink), the firmware's sources compiled and linked into `elf` in `dir`. */
function linkImage(wasmFile, dir, elf, log, stackKb = 0) {
  mkdirSync(dir, { recursive: true });
  log(`firmware: wasm2c ${wasmFile.slice(root.length + 1)} -n sip`);
  sh("wasm2c", [wasmFile, "-n", "sip", "-o", join(dir, "sip.c")]);
  const csrc = readFileSync(join(dir, "sip.c"), "utf8");
  // the static memory area is exactly the module's pages (initial == maximum, checked by shrink)
  const pages = Number(/wasm_rt_allocate_memory\(&instance->w2c_memory, (\d+), \d+\);/.exec(csrc)?.[1]);
  const graph = callGraph(csrc);
  const backed = backedBytes(wasmFile);
  writeFileSync(join(dir, "sip.c"), shrink(csrc, backed));
  // wasm-rt.h from wabt (the host's /usr/include cannot be on a cross compiler's include path)
  const rt = ["/usr/include/wasm-rt.h", "/usr/share/wabt/wasm2c/wasm-rt.h"].find(existsSync);
  if (!rt) throw new Error("wasm-rt.h not found (Debian package wabt)");
  copyFileSync(rt, join(dir, "wasm-rt.h"));
  const inc = ["-I", dir, "-I", srcDir, "-I", dirname(numbersH)];
  const objs = [];
  for (const src of [join(dir, "sip.c"), ...sources().filter((f) => f.endsWith(".c"))]) {
    const obj = join(dir, basename(src, ".c") + ".o");
    log(`firmware: cc ${basename(src)}`);
    sh(CC, [...CFLAGS, `-DFW_MEMORY_PAGES=${pages}`, `-DFW_MEMORY_BYTES=${backed}`, `-DFW_CALL_DEPTH=${graph.maxDepth}`, ...inc, "-c", src, "-o", obj]);
    objs.push(obj);
  }
  log(`firmware: link ${basename(elf)}`);
  for (const f of readdirSync(dir)) if (f.endsWith(".su")) rmSync(join(dir, f));
  sh(CC, ["-mcpu=cortex-m4", "-mthumb", "-Os", "-flto", "-flto-partition=none", "-fstack-usage", "-nostartfiles", "-T", join(srcDir, "mps2-an386.ld"),
    ...(stackKb ? [`-Wl,--defsym=STACK_SIZE=${stackKb * 1024}`] : []),
    "-Wl,--gc-sections", `-Wl,-Map=${join(dir, "sipling.map")}`, "-o", elf, ...objs, "-lc", "-lgcc"], { cwd: dir });
  writeFileSync(join(dir, "callgraph.json"), JSON.stringify({ ...graph, ...stackBound(graph, dir, stackKb), memoryBacked: backed, memoryPages: pages }) + "\n");
  const syms = sh("arm-none-eabi-nm", [elf]);
  const heap = syms.split("\n").filter((l) => /\s(_sbrk|_sbrk_r|malloc|_malloc_r|free|calloc)$/.test(l));
  if (heap.length) throw new Error(`the heap is linked in:\n${heap.join("\n")}`);
}

/**
 * The gateway core (the B2BUA with its registrar) linked the same way for the same Cortex-M4 board,
 * into build/mps2-an386/gateway/sipling.elf: its size only (the firmware's tests run the micro image).
 * Its heaviest call chain is heavier than the micro core's (848 B against 688 today); its stack is
 * 2 KB as well (checked as the micro image's is; 5 KB until the bound counted each function's frame).
 * Returns { text, data, bss, total, ram, flash }, or null when build/gateway/sipling.wasm is missing.
 */
export function gatewayImageSizes({ quiet = true } = {}) {
  const gw = join(root, "build", "gateway", "sipling.wasm");
  if (!existsSync(gw)) return null;
  const dir = join(outDir, "gateway");
  const elf = join(dir, "sipling.elf");
  const t = mtime(elf);
  if (t < 0 || [gw, fileURLToPath(import.meta.url), ...sources()].some((f) => mtime(f) > t)) {
    linkImage(gw, dir, elf, quiet ? () => {} : (s) => process.stderr.write(s + "\n"), 2);
  }
  const out = sh("arm-none-eabi-size", [elf]);
  const [text, data, bss] = out.trim().split("\n")[1].trim().split(/\s+/).map(Number);
  return { text, data, bss, total: text + data + bss, ram: data + bss, flash: text + data };
}

/** Frames above the core's deepest chain: startup, main, run, guarded, a step function, the export's
 * wrapper, and one more for a leaf helper a core function calls (softfp.c, libc.c); and room for the
 * exception frames of the two interrupts (SysTick, UART) with FPU state. */
const FW_FRAMES = 7;
const IRQ_BYTES = 2 * 104;

/**
 * The worst-case stack of the linked image: the heaviest chain of the core's calls, each function
 * counted with its own frame as gcc reports it (-fstack-usage at the LTO link; every frame must be
 * static; a function gcc inlined everywhere has no frame of its own, its locals are in its callers',
 * and its variants count together: a split .part is called by its head, and adding the alternatives,
 * .constprop or .isra, only overcounts), plus FW_FRAMES x the largest frame
 * outside the core, plus IRQ_BYTES. The chain is the wasm's (no recursion, no indirect calls:
 * callGraph); gcc may only remove calls from it. Throws if a frame is dynamic or the bound exceeds
 * the linker script's STACK_SIZE.
 */
export function stackBound(graph, dir = outDir, stackKb = 0) {
  const su = readdirSync(dir).filter((f) => f.endsWith(".su"));
  if (su.length === 0) throw new Error("no .su file from the link (-fstack-usage)");
  const frames = new Map(); // a core function (w2c_*) -> the frames of its variants, added
  let maxFrame = 0, at = "", fwFrame = 0;
  for (const f of su) {
    for (const line of readFileSync(join(dir, f), "utf8").trim().split("\n")) {
      const [where, bytes, kind] = line.split("\t");
      if (kind !== "static") throw new Error(`${where}: a ${kind} stack frame (the stack bound needs static frames)`);
      const n = Number(bytes);
      if (n > maxFrame) [maxFrame, at] = [n, where];
      const name = where.slice(where.lastIndexOf(":") + 1).split(".")[0];
      if (name.startsWith("w2c_")) frames.set(name, (frames.get(name) ?? 0) + n);
      else fwFrame = Math.max(fwFrame, n);
    }
  }
  const heaviest = new Map(); // function -> [bytes of its heaviest chain, the chain]
  const chain = (f) => {
    if (heaviest.has(f)) return heaviest.get(f);
    let best = [0, []];
    for (const g of graph.calls.get(f) ?? []) {
      if (!graph.calls.has(g)) continue;
      const r = chain(g);
      if (r[0] > best[0]) best = r;
    }
    const r = [(frames.get(f) ?? 0) + best[0], [f, ...best[1]]];
    heaviest.set(f, r);
    return r;
  };
  let core = [0, []];
  for (const f of graph.calls.keys()) { const r = chain(f); if (r[0] > core[0]) core = r; }
  const ld = readFileSync(join(srcDir, "mps2-an386.ld"), "utf8");
  const m = /STACK_SIZE = DEFINED\(STACK_SIZE\) \? STACK_SIZE : (\d+)(K?);/.exec(ld);
  if (!m) throw new Error("mps2-an386.ld: STACK_SIZE not in the expected form");
  const stackSize = stackKb ? stackKb * 1024 : Number(m[1]) * (m[2] ? 1024 : 1);
  const bound = core[0] + FW_FRAMES * fwFrame + IRQ_BYTES;
  if (bound > stackSize) throw new Error(`stack: worst case ${bound} B (the core's heaviest chain ${core[0]} B, ${core[1].join(" > ")}, + ${FW_FRAMES} x ${fwFrame} B + ${IRQ_BYTES}) exceeds STACK_SIZE ${stackSize} B (mps2-an386.ld)`);
  return {
    maxFrame, maxFrameAt: at.replace(root + "/", ""), coreStack: core[0],
    coreStackPath: core[1].map((f) => `${f}:${frames.get(f) ?? 0}`), firmwareFrame: fwFrame, stackBound: bound, stackSize,
  };
}

/** {text, data, bss, total, ram} of the ELF (arm-none-eabi-size, Berkeley format; bss includes the stack). */
export function firmwareSizes({ build = true } = {}) {
  if (build && stale()) return buildFirmware({ quiet: true });
  const out = sh("arm-none-eabi-size", [elfPath]);
  const [text, data, bss] = out.trim().split("\n")[1].trim().split(/\s+/).map(Number);
  return { text, data, bss, total: text + data + bss, ram: data + bss, flash: text + data };
}

/**
 * Where the image's bytes go (arm-none-eabi-nm -S of the ELF, its sections from arm-none-eabi-size -A):
 *   text: the core's functions (wasm2c's w2c_*), the core's data segments (their initialisers, copied
 *         into the core's memory at boot: flash and RAM both), the firmware's own code (startup, the
 *         bridge, softfp/libc, and the core's exports gcc inlined into the firmware's step functions);
 *   bss:  the core's memory (fw_memory: its static data and every table, see backedBytes()), the
 *         stack, the firmware's own variables.
 * Returns { text: {core, segments, firmware, other}, bss: {coreMemory, stack, firmware}, data }.
 */
export function firmwareBreakdown(elf = elfPath) {
  const syms = sh("arm-none-eabi-nm", ["-S", "--radix=d", elf]).trim().split("\n")
    .map((l) => l.trim().split(/\s+/)).filter((f) => f.length === 4).map(([, size, type, name]) => ({ name, type, size: Number(size) }));
  const secs = Object.fromEntries(sh("arm-none-eabi-size", ["-A", elf]).trim().split("\n").slice(2)
    .map((l) => l.trim().split(/\s+/)).filter((f) => f.length >= 2).map(([n, sz]) => [n, Number(sz)]));
  const sum = (f) => syms.filter(f).reduce((s, x) => s + x.size, 0);
  const isText = (x) => x.type === "t" || x.type === "T";
  const core = sum((x) => isText(x) && x.name.startsWith("w2c_"));
  const segments = sum((x) => isText(x) && (x.name.startsWith("data_segment_data_") || x.name === "fw_segments"));
  const firmware = sum((x) => isText(x) && !x.name.startsWith("w2c_") && !x.name.startsWith("data_segment_data_") && x.name !== "fw_segments");
  const text = secs[".text"] ?? 0;
  const coreMemory = sum((x) => (x.type === "b" || x.type === "B") && x.name === "fw_memory");
  const stack = secs[".stack"] ?? 0;
  const bss = (secs[".bss"] ?? 0) + stack;
  return {
    text: { total: text, core, segments, firmware, other: text - core - segments - firmware },
    bss: { total: bss, coreMemory, stack, firmware: bss - coreMemory - stack },
    data: secs[".data"] ?? 0,
  };
}

/** The largest symbols (arm-none-eabi-nm --size-sort), biggest first. */
export function biggestSymbols(n = 12) {
  return sh("arm-none-eabi-nm", ["--size-sort", "-S", "--radix=d", elfPath]).trim().split("\n")
    .map((l) => l.trim().split(/\s+/)).map(([, size, type, name]) => ({ name, type, size: Number(size) }))
    .sort((a, b) => b.size - a.size).slice(0, n);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const args = process.argv.slice(2);
  try {
    const s = buildFirmware({ force: args.includes("--force"), quiet: args.includes("--quiet") });
    const b = budgets();
    const ok = s.total <= b.textDataBssBytes && s.ram <= RAM_BYTES;
    if (args.includes("--json")) console.log(JSON.stringify({ board: BOARD, elf: elfPath, ...s, budgets: b, withinBudget: ok, biggest: biggestSymbols() }));
    else {
      process.stdout.write(sh("arm-none-eabi-size", [elfPath]));
      console.log(`${BOARD}: text ${s.text} + data ${s.data} + bss ${s.bss} = ${s.total} B ` +
        `(budget ${b.textDataBssBytes}, goal ${b.goalBytes}); RAM data+bss ${s.ram}/${RAM_BYTES}; flash text+data ${s.flash}`);
      console.log("largest symbols: " + biggestSymbols(8).map((x) => `${x.name} ${x.size}`).join(", "));
      if (!ok) console.log(`${BOARD}: OVER BUDGET`);
    }
    if (s.ram > RAM_BYTES) process.exit(1);
  } catch (e) {
    process.stderr.write(`firmware: ${e.message}\n`);
    process.exit(1);
  }
}
