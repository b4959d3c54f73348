// Loads a board's probe build (build/<board>/probe.wasm) for the tests: the release core plus the
// probes of assembly/testing/. Gives byte-level helpers over its linear memory.
import { readFileSync } from "node:fs";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";

export const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");

const cache = new Map();

/** Instantiates build/<board>/probe.wasm (fresh instance each call; module compiled once). */
export function loadProbe(board = "server") {
  let mod = cache.get(board);
  if (!mod) {
    // SIPLING_PROBE=path overrides the file (used while developing one probe module on its own).
    const file = process.env.SIPLING_PROBE || join(root, "build", board, "probe.wasm");
    mod = new WebAssembly.Module(readFileSync(file));
    cache.set(board, mod);
  }
  const inst = new WebAssembly.Instance(mod, {});
  const ex = inst.exports;
  ex._initialize();
  const mem = () => new Uint8Array(ex.memory.buffer);
  const rx = ex.sip_rx_ptr();
  const rxCap = ex.sip_rx_cap();
  return {
    ex,
    board,
    mem,
    rx,
    rxCap,
    /** Copies bytes (Uint8Array | Buffer | string) into the RX buffer; returns the length. */
    put(bytes) {
      const b = typeof bytes === "string" ? Buffer.from(bytes, "latin1") : bytes;
      if (b.length > rxCap) throw new Error(`message of ${b.length} bytes exceeds RX capacity ${rxCap}`);
      mem().set(b, rx);
      return b.length;
    },
    /** Bytes at [ptr, ptr+len) as a latin1 string (byte-exact, one char per byte). */
    str(ptr, len) {
      return Buffer.from(ex.memory.buffer, ptr, len).toString("latin1");
    },
    bytes(ptr, len) {
      return Buffer.from(new Uint8Array(ex.memory.buffer, ptr, len));
    },
    /** Writes strings one after another (a zero byte between) into the probe's scratch area
     * (probe_scratch_ptr); returns [[ptr, len], ...] for the probe exports' span arguments. */
    scratch(...strs) {
      let at = ex.probe_scratch_ptr();
      return strs.map((s) => {
        const b = Buffer.from(s, "latin1");
        new Uint8Array(ex.memory.buffer).set(b, at);
        const r = [at, b.length];
        at += b.length + 1;
        return r;
      });
    },
  };
}
