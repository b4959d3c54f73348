// Capacities from the configuration ("capacity.*", issue 15 item 3) on the Node host and the native server
// binary: a value beyond the board's is refused at start with the same message naming the key; a good
// one is what the core then reports (the stats line at stop), and the size its tables are laid out at
// (the "core ready" line: the layout record and the core's memory; docs/ABI.md "Layout").
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { withServer, HOSTS } from "../integration/harness.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const dir = mkdtempSync(join(tmpdir(), "sipling-capcfg-"));
const ARGV = { node: [process.execPath, join(root, "host/node/cli.mjs")], native: [join(root, "build/server/sipling")] };

for (const host of HOSTS) {
  test(`${host}: a capacity beyond the board's is refused at start, naming the key`, () => {
    for (const [key, value] of [["transactions", 400_000], ["registrations", 300_000], ["messageBlocks", 10], ["dialogs", 70_000], ["relayLegs", 9000]]) {
      const f = join(dir, `${host}-${key}.json`);
      writeFileSync(f, JSON.stringify({ listen: ["udp:127.0.0.1:0"], capacity: { [key]: value } }));
      const r = spawnSync(ARGV[host][0], [...ARGV[host].slice(1), "--config", f], { encoding: "utf8", timeout: 20_000, env: { ...process.env, SIPLING_NO_BUILD: "1" } });
      assert.notEqual(r.status, 0, `${key} ${value} accepted`);
      assert.equal(r.stderr.trim().split("\n").pop(), `config error: "capacity.${key}": value ${value} is out of the core's range`);
    }
  });

  test(`${host}: configured capacities are the core's (stats), its tables laid out at them: memory a few MB, not the board's 249 MiB`, async () => {
    await withServer({ host, tcp: false, config: { capacity: { transactions: 1000, registrations: 500, messageBlocks: 4000, dialogs: 300, relayLegs: 64 } } }, async (srv) => {
      const ready = srv.logs.find((o) => o.msg === "core ready");
      assert.deepEqual(ready.laidOut, [1000, 500, 4000, 300, 64]);
      assert.ok(ready.memory > 1_000_000 && ready.memory < 5_000_000, `memory ${ready.memory}`);
      await srv.stop();
      const stats = srv.logs.filter((o) => o.msg === "stats").pop();
      assert.ok(stats, "the stats line at stop");
      assert.equal(stats.txnCapacity, 1000);
      assert.equal(stats.bindingCapacity, 500);
      assert.equal(stats.msgPoolBlocks, 4000);
    });
  });
}

test("a core whose tables are small and all its own (board micro) refuses the capacities by name, on both hosts", () => {
  for (const [argv, board] of [[ARGV.node, { board: "micro" }], [[join(root, "build/micro/sipling")], {}]]) {
    const f = join(dir, `micro-${argv.length}.json`);
    writeFileSync(f, JSON.stringify({ listen: ["udp:127.0.0.1:0"], capacity: { transactions: 8 }, ...board }));
    const r = spawnSync(argv[0], [...argv.slice(1), "--config", f], { encoding: "utf8", timeout: 20_000, env: { ...process.env, SIPLING_NO_BUILD: "1" } });
    assert.notEqual(r.status, 0, `${argv.join(" ")} accepted it`);
    assert.equal(r.stderr.trim().split("\n").pop(), `config error: "capacity.transactions": not in this core build (board micro leaves it out)`);
  }
});
