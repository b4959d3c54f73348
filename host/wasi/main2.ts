// The entry of the wasmtime build of the WASI host (node tools/wasi.mjs --p2): the same host as
// main.ts, compiled with SIP_WASI_P2=1, as a WASI 0.2 command component. tools/wasi.mjs renames the
// export `run` to `wasi:cli/run@0.2.12#run`, turns `_initialize` (the module's top-level code) into its
// start function, and makes the component with wasm-tools (world wit/world.wit, `wasip2`).
import { main } from "./main";
import { bumpAlloc } from "./p2";

/** wasi:cli/run: result (0 = ok); main() ends the process itself (wasi:cli/exit) or never returns. */
export function run(): i32 {
  main();
  return 0;
}

/** The canonical ABI's allocator for the lists and strings the runtime returns: a bump area (p2.ts). */
export function cabi_realloc(old: usize, oldSize: usize, align: usize, size: usize): usize {
  return bumpAlloc(old, oldSize, align, size);
}
