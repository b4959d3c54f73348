// as-pect 8.1.0 configuration for the core's unit tests (assembly/__tests__/*.spec.ts), run by
// `npm run test:txn` (= `asp --config as-pect.config.js`).
//
// Compiler options live in as-pect.asconfig.json (as-pect 8 always compiles with
// `asc <entry> --config ./as-pect.asconfig.json --target noCoverage`; that file adds the as-pect runtime
// entry, its transform and the exports the runner needs).
//
// Board constants: none are passed, so assembly/config.ts takes its defaults (the micro board:
// MAX_TXN 16, MSG_BLOCKS 48, MAX_TXQ 32). The tests read those constants instead of hard-coding them.
export default {
  /** Test files. */
  entries: ["assembly/__tests__/**/*.spec.ts"],
  /** Files added to every test compilation (shared helpers). */
  include: ["assembly/__tests__/**/*.include.ts"],
  disclude: [/node_modules/],
  async instantiate(memory, createImports, instantiate, binary) {
    return instantiate(binary, createImports({ env: { memory } }));
  },
  outputBinary: false,
};
