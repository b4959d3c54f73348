// The mps2-an386 firmware end to end: the micro core through wasm2c on a Cortex-M4 under QEMU, behind
// host/firmware/bridge.mjs, driven by SIPp over UDP (REGISTER, a call through the record-routing proxy,
// a CANCELled call), plus trap recovery, the stats frame and the image size. Fails when
// qemu-system-arm, arm-none-eabi-gcc, wasm2c or sipp is missing (tools/setup.mjs installs them). Every child is stopped by its PID.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync, rmSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import dgram from "node:dgram";
import { createInterface } from "node:readline";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const bridgePath = join(root, "host", "firmware", "bridge.mjs");
const sippDir = join(root, "tests", "sipp");
const fwSippDir = join(root, "host", "firmware", "sipp");
const has = (cmd) => spawnSync("sh", ["-c", `command -v ${cmd}`]).status === 0;
const missing = ["qemu-system-arm", "arm-none-eabi-gcc", "wasm2c", "sipp"].filter((c) => !has(c));
// Never skip: npm test installs these (tools/setup.mjs); a missing one fails the file.
if (missing.length) throw new Error(`missing: ${missing.join(", ")} (tools/setup.mjs installs them)`);
const skip = false;

const children = new Set();
let bridge = null, qemuPid = 0, proxyPort = 0, tmp = "";
const lines = [];
const waiters = [];

function kill(pid, sig = "SIGKILL") {
  try { process.kill(pid, sig); } catch { /* gone */ }
}

function freeUdpPort() {
  return new Promise((res) => {
    const s = dgram.createSocket("udp4");
    s.bind(0, "127.0.0.1", () => { const p = s.address().port; s.close(() => res(p)); });
  });
}

/** Resolves with the first bridge JSON line (seen from index `from`) that matches. */
function waitLine(pred, ms, from = 0) {
  const hit = lines.slice(from).find(pred);
  if (hit) return Promise.resolve(hit);
  return new Promise((res, rej) => {
    const w = { pred, res, from };
    const t = setTimeout(() => { waiters.splice(waiters.indexOf(w), 1); rej(new Error(`no matching bridge line within ${ms} ms; last: ${JSON.stringify(lines.slice(-5))}`)); }, ms);
    w.res = (l) => { clearTimeout(t); res(l); };
    waiters.push(w);
  });
}

/** Runs SIPp with a hard deadline; resolves {code, out}. */
function sipp(args, hardMs) {
  return new Promise((res) => {
    const p = spawn("sipp", [...args, "-i", "127.0.0.1", "-m", "1", "-nostdin", "-timeout_error"], { cwd: tmp, stdio: ["ignore", "pipe", "pipe"] });
    children.add(p.pid);
    let out = "";
    p.stdout.on("data", (d) => { out += d; if (out.length > 200000) out = out.slice(-100000); });
    p.stderr.on("data", (d) => { out += d; });
    const t = setTimeout(() => kill(p.pid), hardMs);
    p.on("exit", (code, sig) => { clearTimeout(t); children.delete(p.pid); res({ code: code ?? sig, out: out.slice(-3000) }); });
  });
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

before(async () => {
  if (skip) return;
  tmp = mkdtempSync(join(tmpdir(), "sipling-fw-"));
  writeFileSync(join(tmp, "users.csv"), "SEQUENTIAL\nuas;127.0.0.1\n");
  const fw = await import(join(root, "tools", "firmware.mjs"));
  fw.firmwareSizes({ build: true }); // builds when stale (a few seconds)
  // its own process group: qemu (the bridge's child) is stopped with it even when the firmware never
  // reports "running" (a hang at boot), before its pid is known here
  bridge = spawn(process.execPath, [bridgePath, "--listen", "udp:127.0.0.1:0"], { stdio: ["pipe", "pipe", "pipe"], detached: true });
  children.add(bridge.pid);
  bridge.stderr.on("data", (d) => process.stderr.write(d));
  createInterface({ input: bridge.stdout }).on("line", (l) => {
    let j;
    try { j = JSON.parse(l); } catch { j = { msg: "raw", text: l }; }
    lines.push(j);
    for (const w of [...waiters]) if (w.pred(j)) { waiters.splice(waiters.indexOf(w), 1); w.res(j); }
  });
  const running = await waitLine((j) => j.msg === "running", 20000);
  qemuPid = running.qemuPid;
  children.add(qemuPid);
  proxyPort = Number(running.listen[0].split(":").pop());
});

after(async () => {
  if (bridge && bridge.exitCode === null) {
    bridge.stdin.write("stop\n");
    const done = new Promise((r) => bridge.once("exit", r));
    await Promise.race([done, sleep(3000)]);
  }
  for (const pid of children) kill(pid);
  if (bridge) kill(-bridge.pid); // the group: a qemu whose pid never reached us
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

let uasPort = 0;
test("firmware: REGISTER through the bridge (SIPp)", { skip, timeout: 30000 }, async () => {
  uasPort = await freeUdpPort();
  const from = lines.length;
  const r = await sipp([`127.0.0.1:${proxyPort}`, "-sf", join(sippDir, "register.xml"), "-inf", "users.csv",
    "-p", String(uasPort), "-timeout", "10s"], 20000);
  assert.equal(r.code, 0, r.out);
  const ev = await waitLine((j) => j.msg === "reg-add", 3000, from);
  assert.equal(ev.aor, "uas");
  assert.equal(ev.expires, 3600);
});

test("firmware: a call INVITE/ACK/BYE through the record-routing proxy (SIPp uas + uac)", { skip, timeout: 40000 }, async () => {
  const from = lines.length;
  const uas = sipp(["-sf", join(sippDir, "uas.xml"), "-p", String(uasPort), "-timeout", "15s"], 25000);
  await sleep(400);
  const uac = await sipp([`127.0.0.1:${proxyPort}`, "-sf", join(sippDir, "uac_invite.xml"), "-s", "uas", "-d", "200",
    "-p", String(await freeUdpPort()), "-timeout", "15s"], 25000);
  const u = await uas;
  assert.equal(uac.code, 0, uac.out);
  assert.equal(u.code, 0, u.out);
  await waitLine((j) => j.msg === "call-answer" && j.code === 200, 3000, from);
});

test("firmware: a CANCELled call (200 to CANCEL, 487 to INVITE)", { skip, timeout: 40000 }, async () => {
  const from = lines.length;
  const uas = sipp(["-sf", join(fwSippDir, "uas_cancel.xml"), "-p", String(uasPort), "-timeout", "5s"], 12000);
  await sleep(400);
  const uac = await sipp([`127.0.0.1:${proxyPort}`, "-sf", join(fwSippDir, "uac_cancel.xml"), "-s", "uas",
    "-p", String(await freeUdpPort()), "-timeout", "10s"], 20000);
  assert.equal(uac.code, 0, uac.out);
  await waitLine((j) => j.msg === "call-fail" && j.code === 487, 3000, from);
  const u = await uas;
  // the UAS also requires the proxy's hop-by-hop ACK of the 487 (RFC 3261 §17.1.1.3)
  assert.equal(u.code, 0, u.out);
});

test("firmware: stats frame (capacities, stack high-water mark)", { skip, timeout: 10000 }, async () => {
  const from = lines.length;
  bridge.stdin.write("stats\n");
  const s = await waitLine((j) => j.msg === "stats", 5000, from);
  assert.equal(s.txnCapacity, 16);
  assert.equal(s.aorCapacity, 32);
  assert.ok(s.bindingsInUse >= 1);
  assert.ok(s.received >= 8, `received ${s.received}`);
  // the worst case computed at build time (call graph x largest frame) bounds what was used, and fits
  const g = JSON.parse(readFileSync(join(root, "build", "mps2-an386", "callgraph.json"), "utf8"));
  assert.ok(s.stackBytesUsed > 0 && s.stackBytesUsed <= g.stackBound, `stack ${s.stackBytesUsed} of a worst case ${g.stackBound}`);
  assert.ok(g.stackBound <= g.stackSize, `worst case ${g.stackBound} within STACK_SIZE ${g.stackSize}`);
  assert.equal(s.callDepthMax, g.maxDepth, "the firmware reports the core's deepest call chain");
  assert.equal(s.traps, 0);
});

/** A request from a plain UDP socket at 127.0.0.1:port (no SIPp: the test reads each response). */
function sipRequest({ method, ruri, user, port, callId, contact }) {
  return [`${method} ${ruri} SIP/2.0`, `Via: SIP/2.0/UDP 127.0.0.1:${port};branch=z9hG4bK${callId}`, "Max-Forwards: 70",
    `From: <sip:${user}@127.0.0.1>;tag=t${callId}`, `To: <sip:${method === "REGISTER" ? user : "dave"}@127.0.0.1>`,
    `Call-ID: ${callId}`, `CSeq: 1 ${method}`, ...(contact ? [`Contact: ${contact}`] : []),
    ...(method === "REGISTER" ? ["Expires: 60"] : []), "Content-Length: 0", "", ""].join("\r\n");
}

test("firmware: the transaction table full answers 503 with Retry-After (never a trap)", { skip, timeout: 30000 }, async () => {
  const sock = dgram.createSocket("udp4");
  await new Promise((r) => sock.bind(0, "127.0.0.1", r));
  const port = sock.address().port;
  const got = [];
  sock.on("message", (m) => got.push(m.toString("latin1")));
  const statusOf = (t) => Number(/^SIP\/2\.0 (\d{3})/.exec(t)?.[1]);
  try {
    // dave's phone is a loopback sink that never answers: every INVITE holds a server and a client
    // transaction until Timer B (32 s), and the micro core has 16
    sock.send(sipRequest({ method: "REGISTER", ruri: "sip:127.0.0.1", user: "dave", port, callId: "fwreg1", contact: "<sip:dave@127.0.0.9:5999>" }), proxyPort, "127.0.0.1");
    for (let i = 0; i < 50 && !got.some((t) => / fwreg1\r\n/.test(t) && statusOf(t) === 200); i++) await sleep(100);
    const r200 = got.find((t) => / fwreg1\r\n/.test(t) && statusOf(t) === 200);
    assert.ok(r200, `REGISTER answered 200: ${got.join("\n---\n").slice(0, 600)}`);
    // the binding's expires, (deadline - now + 999) / 1000 in the core: an i64.div_s, which the image
    // does with host/firmware/softfp.c's __aeabi_ldivmod
    assert.match(r200, /\r\nContact: <sip:dave@127\.0\.0\.9:5999>;expires=60\r\n/);
    for (let i = 0; i < 12; i++) {
      sock.send(sipRequest({ method: "INVITE", ruri: "sip:dave@127.0.0.1", user: "erin", port, callId: `fwfull${i}` }), proxyPort, "127.0.0.1");
      await sleep(150); // the UART carries ~10 KB/s
    }
    let r503;
    for (let i = 0; i < 50 && !r503; i++) { await sleep(100); r503 = got.find((t) => statusOf(t) === 503); }
    assert.ok(r503, `a 503 once the table is full; got ${got.map(statusOf).join(",")}`);
    assert.match(r503, /\r\nRetry-After: \d+/i);
    const from = lines.length;
    bridge.stdin.write("stats\n");
    const s = await waitLine((j) => j.msg === "stats", 5000, from);
    assert.equal(s.txnInUse, 16, "the table is full, not more");
    assert.ok(s.refused503 >= 1);
    assert.equal(s.traps, 0);
  } finally {
    sock.close();
  }
});

test("firmware: a wasm trap is reported and the core restarts (REGISTER works again)", { skip, timeout: 30000 }, async () => {
  const from = lines.length;
  bridge.stdin.write("trap\n");
  await waitLine((j) => j.msg === "firmware" && /^trap: unreachable/.test(j.text), 5000, from);
  await waitLine((j) => j.msg === "firmware" && /^core restarted: ok/.test(j.text), 5000, from);
  const r = await sipp([`127.0.0.1:${proxyPort}`, "-sf", join(sippDir, "register.xml"), "-inf", "users.csv",
    "-p", String(await freeUdpPort()), "-timeout", "10s"], 20000);
  assert.equal(r.code, 0, r.out);
  bridge.stdin.write("stats\n");
  const s = await waitLine((j) => j.msg === "stats" && j.traps === 1, 5000, from);
  assert.equal(s.bindingsInUse, 1); // the restart emptied the registrar; the new REGISTER is the only one
});

test("firmware: a tcp listen is refused", { skip, timeout: 10000 }, () => {
  const r = spawnSync(process.execPath, [bridgePath, "--listen", "tcp:127.0.0.1:5060"], { encoding: "utf8", timeout: 8000 });
  assert.equal(r.status, 2);
  assert.match(r.stderr, /supports UDP only/);
});

test("firmware: image size (arm-none-eabi-size)", { skip, timeout: 30000 }, async (t) => {
  const fw = await import(join(root, "tools", "firmware.mjs"));
  const s = fw.firmwareSizes({ build: true });
  const b = fw.budgets();
  t.diagnostic(`text ${s.text} + data ${s.data} + bss ${s.bss} = ${s.total} B; budget ${b.textDataBssBytes}, goal ${b.goalBytes}; RAM ${s.ram} B`);
  assert.ok(s.ram <= 256 * 1024, `data+bss ${s.ram} > 256 KiB`);
  // the core's memory is static (.bss), backed up to the end of the core's start-up layout
  const g = JSON.parse(readFileSync(join(root, "build", "mps2-an386", "callgraph.json"), "utf8"));
  const used = fw.backedBytes(join(root, "build", "micro", "sipling.wasm"));
  assert.equal(g.memoryBacked, used, "the firmware backs what the micro core's layout uses");
  assert.ok(used <= g.memoryPages * 65536);
  assert.ok(s.text > 0 && s.bss >= used, "the core's memory is static memory (.bss)");
  assert.ok(s.total <= b.textDataBssBytes, `text+data+bss ${s.total} > budget ${b.textDataBssBytes}`);
});
