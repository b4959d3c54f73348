// The boards: the compiler options of each are a target of the top-level asconfig.json (the one source
// of compile options: `npx asc assembly/index.ts --target <board>` builds the release core exactly as
// tools/build.mjs does); boards/<name>/board.json holds what is not a compiler option (description,
// why its optimisation level, budget). Read without building anything.
import { readFileSync, readdirSync, existsSync } from "node:fs";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";

export const root = join(dirname(fileURLToPath(import.meta.url)), "..");

/** asconfig.json, parsed. */
export function asconfig() {
  return JSON.parse(readFileSync(join(root, "asconfig.json"), "utf8"));
}

/**
 * Every board with a core target: { name, description, budget, ..., target (its asconfig target),
 * memoryPages, constants ({ SIP_MAX_MSG: 4096, ... }), optimize ("-O3z" style, for messages) }.
 */
export function loadBoards() {
  const dir = join(root, "boards");
  const targets = asconfig().targets ?? {};
  return readdirSync(dir)
    .filter((n) => existsSync(join(dir, n, "board.json")))
    .sort()
    .map((n) => {
      const b = JSON.parse(readFileSync(join(dir, n, "board.json"), "utf8"));
      if (b.name !== n) throw new Error(`boards/${n}/board.json: "name" must be "${n}"`);
      const t = targets[n];
      if (!t) throw new Error(`boards/${n}/board.json: asconfig.json has no target "${n}"`);
      const constants = {};
      for (const u of t.use ?? []) {
        const [k, v] = u.split("=");
        if (k.startsWith("SIP_")) constants[k] = Number(v);
      }
      // fixed memory, except where the tables are laid out at start (config.ts Layout): there memory
      // grows from the static data to what the host's capacities need, at most maximumMemory
      if (t.initialMemory !== t.maximumMemory && !constants.SIP_SPARSE_TABLES)
        throw new Error(`asconfig.json targets.${n}: initialMemory must equal maximumMemory (fixed memory) on a board without SIP_SPARSE_TABLES`);
      if (t.initialMemory > t.maximumMemory) throw new Error(`asconfig.json targets.${n}: initialMemory above maximumMemory`);
      const optimize = `-O${t.optimizeLevel ?? 0}${["", "s", "z"][t.shrinkLevel ?? 0]}`;
      return { ...b, target: t, memoryPages: t.maximumMemory, constants, optimize };
    });
}
