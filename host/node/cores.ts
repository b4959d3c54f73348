// Where the Node host finds the core of a board: $SIPLING_WASM, else next to the bundle
// (build/node/sipling.wasm for server, sipling-<board>.wasm for the others: what the package ships),
// else build/<board>/ of the repository. Shared by the CLI (main.ts) and the library (api.ts).
import { existsSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** Candidate files of a board's core, in the order they are tried. */
export function wasmCandidates(board: string): string[] {
  if (process.env.SIPLING_WASM) return [resolve(process.env.SIPLING_WASM)];
  const here = dirname(fileURLToPath(import.meta.url));
  return [
    join(here, board === "server" ? "sipling.wasm" : `sipling-${board}.wasm`),
    join(here, "..", board, "sipling.wasm"),
  ];
}

/** The core file of a board, or undefined when none of the candidates exists. */
export function findWasm(board: string): string | undefined {
  return wasmCandidates(board).find((f) => existsSync(f));
}

/** One line per board for --version: "core BOARD N bytes wasm (FILE)". */
export function coreLines(boards: readonly string[]): string[] {
  return boards.map((board) => {
    const f = findWasm(board);
    return f ? `core ${board} ${statSync(f).size} bytes wasm (${f})` : `core ${board}: not built`;
  });
}
