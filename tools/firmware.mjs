#!/usr/bin/env node
// Firmware for the mps2-an386 board (Cortex-M4 under QEMU -M mps2-an386): the micro core
// (build/micro/sipling.wasm) through wasm2c, plus host/firmware/*.c, linked bare-metal with newlib.
//   node tools/firmware.mjs [--force] [--quiet] [--json]
// Output: build/mps2-an386/sipling.elf (and sip.c/sip.h, the objects, sipling.map). Prints the
// arm-none-eabi-size figures against boards/mps2-an386/firmware.json; exits non-zero on any failure
// (a missing toolchain, a compile or link error, _sbrk/malloc in the image, data+bss over 256 KB).
// No malloc/sbrk: newlib's libnosys is not linked and no _sbrk is defined, so anything that pulls in
// the heap fails the link with "undefined reference to `_sbrk'"; the image is checked for it again.
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, copyFileSync, writeFileSync } from "node:fs";
import { join, dirname, basename } from "node:path";
import { fileURLToPath } from "node:url";
import { spawnSync } from "node:child_process";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
export const BOARD = "mps2-an386";
export const outDir = join(root, "build", BOARD);
export const elfPath = join(outDir, "sipling.elf");
const srcDir = join(root, "host", "firmware");
const wasm = join(root, "build", "micro", "sipling.wasm");
const boardJson = join(root, "boards", BOARD, "firmware.json");
const CC = "arm-none-eabi-gcc";
// -flto (compile, and link as one unit): the core's functions and the firmware's are optimised together (6 KB less
// text than per-file -Os); the largest frame stays 168 B (-fstack-usage at link), so the stack size
// reasoning of mps2-an386.ld holds.
export const CFLAGS = ["-mcpu=cortex-m4", "-mthumb", "-Os", "-flto", "-ffunction-sections", "-fdata-sections", "-DNDEBUG",
  "-std=gnu11", "-DWASM_RT_MAX_CALL_STACK_DEPTH=32", "-Wall", "-Wno-unused-function", "-Wno-unused-variable", "-Wno-unused-but-set-variable"];
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
 * Two size edits of wasm2c's output, both exact for this module (checked, or the build fails):
 *  - init_memories(): one LOAD_DATA (bounds check + memcpy, inlined) per data segment (~300 here)
 *    becomes a loop over a const table of {offset, bytes, length}.
 *  - RANGE_CHECK compares against the memory's size as a constant: the module's memory is declared
 *    with initial = maximum pages, so memory.grow always fails and the size never changes.
 */
export function shrink(c) {
  const mem = /wasm_rt_allocate_memory\(&instance->w2c_memory, (\d+), (\d+)\);/.exec(c);
  if (!mem || mem[1] !== mem[2]) throw new Error("wasm2c output: expected one memory with initial == maximum pages");
  const rc = "if (UNLIKELY(offset + (uint64_t)len > mem->size))";
  if (!c.includes(rc)) throw new Error("wasm2c output: RANGE_CHECK not in the expected form");
  c = c.replace(rc, `if (UNLIKELY(offset + (uint64_t)len > (uint64_t)${Number(mem[1]) * 65536}u))`);
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

/** Builds build/mps2-an386/sipling.elf; returns its sizes. */
export function buildFirmware({ force = false, quiet = false } = {}) {
  const log = quiet ? () => {} : (s) => process.stderr.write(s + "\n");
  if (!existsSync(wasm)) {
    log("firmware: build/micro/sipling.wasm missing: npm run build");
    sh(process.execPath, [join(root, "tools", "build.mjs"), "--quiet"], { stdio: ["ignore", "ignore", "inherit"] });
  }
  if (!force && !stale()) return firmwareSizes({ build: false });
  mkdirSync(outDir, { recursive: true });
  log(`firmware: wasm2c ${basename(wasm)} -n sip`);
  sh("wasm2c", [wasm, "-n", "sip", "-o", join(outDir, "sip.c")]);
  const csrc = readFileSync(join(outDir, "sip.c"), "utf8");
  // the static memory area is exactly the module's pages (initial == maximum, checked by shrink)
  const pages = Number(/wasm_rt_allocate_memory\(&instance->w2c_memory, (\d+), \d+\);/.exec(csrc)?.[1]);
  writeFileSync(join(outDir, "sip.c"), shrink(csrc));
  // wasm-rt.h from wabt (the host's /usr/include cannot be on a cross compiler's include path)
  const rt = ["/usr/include/wasm-rt.h", "/usr/share/wabt/wasm2c/wasm-rt.h"].find(existsSync);
  if (!rt) throw new Error("wasm-rt.h not found (Debian package wabt)");
  copyFileSync(rt, join(outDir, "wasm-rt.h"));
  const inc = ["-I", outDir, "-I", srcDir, "-I", dirname(numbersH)];
  const objs = [];
  for (const src of [join(outDir, "sip.c"), ...sources().filter((f) => f.endsWith(".c"))]) {
    const obj = join(outDir, basename(src, ".c") + ".o");
    log(`firmware: cc ${basename(src)}`);
    sh(CC, [...CFLAGS, `-DFW_MEMORY_PAGES=${pages}`, ...inc, "-c", src, "-o", obj]);
    objs.push(obj);
  }
  log("firmware: link sipling.elf");
  sh(CC, ["-mcpu=cortex-m4", "-mthumb", "-Os", "-flto", "-flto-partition=none", "-nostartfiles", "-T", join(srcDir, "mps2-an386.ld"),
    "-Wl,--gc-sections", `-Wl,-Map=${join(outDir, "sipling.map")}`, "-o", elfPath, ...objs, "-lc", "-lgcc"]);
  const syms = sh("arm-none-eabi-nm", [elfPath]);
  const heap = syms.split("\n").filter((l) => /\s(_sbrk|_sbrk_r|malloc|_malloc_r|free|calloc)$/.test(l));
  if (heap.length) throw new Error(`the heap is linked in:\n${heap.join("\n")}`);
  return firmwareSizes({ build: false });
}

/** {text, data, bss, total, ram} of the ELF (arm-none-eabi-size, Berkeley format; bss includes the stack). */
export function firmwareSizes({ build = true } = {}) {
  if (build && stale()) return buildFirmware({ quiet: true });
  const out = sh("arm-none-eabi-size", [elfPath]);
  const [text, data, bss] = out.trim().split("\n")[1].trim().split(/\s+/).map(Number);
  return { text, data, bss, total: text + data + bss, ram: data + bss, flash: text + data };
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
