// host/shared/logstream.mjs (the firmware bridge's stdout): a child process writes 20,000 lines to a
// stdout pipe the test does not read. Its event loop keeps turning, at most maxQueue bytes wait, the
// rest is dropped and counted, and once the test reads, one notice line says how many; every line that
// comes out is whole.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { join, dirname } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const CHILD = `
import { lineWriter } from ${JSON.stringify(pathToFileURL(join(root, "host/shared/logstream.mjs")).href)};
const w = lineWriter({ maxQueue: 65536, notice: (count) => JSON.stringify({ msg: "log lines dropped", count }) + "\\n" });
let ticks = 0;
const iv = setInterval(() => ticks++, 10);
const t0 = Date.now();
for (let i = 0; i < 20000; i++) {
  w.write(JSON.stringify({ msg: "line", i, pad: "x".repeat(200) }) + "\\n");
  if (i % 1000 === 999) await new Promise((r) => setTimeout(r, 20));
}
process.stderr.write(JSON.stringify({ dropped: w.dropped, ticks, ms: Date.now() - t0 }) + "\\n");
process.stdin.once("data", () => { w.write(JSON.stringify({ msg: "last" }) + "\\n"); clearInterval(iv); setTimeout(() => process.exit(0), 500); });
`;

test("lines to a stdout nobody reads: the writer never blocks, holds at most maxQueue, counts and reports the rest", { timeout: 60_000 }, async () => {
  const child = spawn(process.execPath, ["--input-type=module", "-e", CHILD], { stdio: ["pipe", "pipe", "pipe"] });
  child.stdout.pause();
  let err = "";
  child.stderr.on("data", (d) => (err += d));
  for (let i = 0; i < 200 && !err.includes("\n"); i++) await sleep(50);
  assert.ok(err.includes("\n"), `the child never finished writing with its stdout unread: ${err}`);
  const r = JSON.parse(err.split("\n")[0]);
  // ~4.5 MB of lines against a pipe (64 KiB) and a 64 KiB queue: most are dropped, and the loop kept turning
  assert.ok(r.dropped > 15000 && r.dropped < 20000, `dropped ${r.dropped} of 20,000`);
  assert.ok(r.ticks >= 10, `the child's timers kept running while stdout was full: ${r.ticks} ticks in ${r.ms} ms`);
  let out = "";
  child.stdout.on("data", (d) => (out += d));
  child.stdout.resume();
  await sleep(300);
  child.stdin.write("go\n");
  const code = await new Promise((res) => child.on("exit", res));
  assert.equal(code, 0, err);
  const lines = out.split("\n").filter(Boolean).map((l) => JSON.parse(l)); // every line whole
  const notices = lines.filter((l) => l.msg === "log lines dropped");
  assert.ok(notices.length >= 1, "a report once the pipe drained");
  assert.equal(notices.reduce((a, n) => a + n.count, 0), r.dropped, "the reports count every dropped line");
  assert.equal(lines.filter((l) => l.msg === "line").length, 20000 - r.dropped, "every line not dropped came out");
  assert.equal(lines.at(-1).msg, "last");
});
