// A location service shared by two instances through Redis (issue 15 item 5; "location.redis") and the
// management API beside the metrics (item 6; "management", `sipling ctl`), on the Node host
// (host/node/location.ts, manage.ts) and the native host (host/c/location.c, manage.c). Each pair of
// instances runs three ways: both Node, both native, and mixed (A native, B Node: the two hosts speak one
// protocol), with Debian's redis-server started here on a loopback port (this test fails, never skips,
// without it). Shown: a phone registered at A is called through B (B forwards by A's route token, A
// delivers to the phone) and one registered at B is called through A; A restarted keeps every binding (it
// reloads its own keys as local) and calls through B still reach the phone; Redis stopped mid-test: both
// instances keep serving what they have, log that it is unreachable, and catch up when it returns (a
// phone registered at A meanwhile becomes callable through B); the management API lists and removes
// bindings and `sipling ctl` prints them. A fake Redis that answers garbage (or, to the native host, a
// bulk beyond its bound) is dropped and retried every second while the registrar keeps serving.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { join } from "node:path";
import { startServer, freePort, root } from "../integration/harness.mjs";
import { Ua, request, response, status, hdrs, token } from "../lib/sipua.mjs";
import { LIMITS } from "../../host/firmware/abi.mjs";

const running = [];
after(async () => {
  for (const p of running) await p.stop();
});

/** redis-server on 127.0.0.1:port, without persistence; resolves when it accepts connections. */
async function startRedis(port, extra = []) {
  const child = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--protected-mode", "no", ...extra], { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  const exited = new Promise((r) => child.once("exit", r));
  await new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`redis-server did not start: ${out}`)), 10_000);
    child.stdout.on("data", (d) => {
      out += d;
      if (/Ready to accept connections/.test(out)) { clearTimeout(t); resolve(); }
    });
    child.once("exit", (code) => { clearTimeout(t); reject(new Error(`redis-server exited (${code}): ${out}`)); });
  });
  const r = {
    port,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill("SIGTERM");
      await exited;
    },
  };
  running.push(r);
  return r;
}

/** The pairs (A, B) each test runs with. */
const PAIRS = [["node", "node"], ["native", "native"], ["native", "node"]];

async function instance(redisPort, port, host = "node", location = {}) {
  const srv = await startServer({
    port, tcp: false, trace: true, host,
    config: { location: { redis: `127.0.0.1:${redisPort}`, ...location }, metrics: { listen: "127.0.0.1:0" }, management: true },
  });
  running.push(srv);
  const m = await srv.waitFor((o) => o.msg === "metrics listening", 5000, "metrics listening");
  srv.api = m.url.replace(/\/metrics$/, "");
  return srv;
}

async function api(srv, path, method = "GET") {
  const r = await fetch(`${srv.api}${path}`, { method, signal: AbortSignal.timeout(3000) });
  return { status: r.status, body: await r.json() };
}

/** Polls srv's bindings of `aor` until pred holds (bounded); returns them. */
async function until(srv, aor, pred, what, ms = 6000) {
  const t0 = Date.now();
  let last;
  while (Date.now() - t0 < ms) {
    last = await api(srv, `/registrations/${encodeURIComponent(aor)}`);
    if (pred(last.status === 200 ? last.body : [])) return last.body;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail(`${what}: last ${JSON.stringify(last)}`);
}

async function register(srv, phone, user, expires = 300) {
  const r = await phone.request(srv, request(phone, {
    method: "REGISTER", ruri: "sip:127.0.0.1", from: `sip:${user}@127.0.0.1`, to: `sip:${user}@127.0.0.1`,
    callId: `reg-${user}-${phone.port}`, cseq: (phone.cseq = (phone.cseq ?? 0) + 1), contact: `<sip:${user}@127.0.0.1:${phone.port}>`,
    extra: [`Expires: ${expires}`],
  }));
  assert.equal(status(r), 200, `REGISTER ${user}`);
}

/** An INVITE from caller through `via` for `user`: the phone must get it (Request-URI its contact) and
 * answer 200, which must reach the caller. Returns the INVITE as the phone got it. */
async function callThrough(via, caller, phone, user) {
  const callId = token("call");
  caller.send(request(caller, { ruri: `sip:${user}@127.0.0.1:${via.port}`, from: `sip:caller@127.0.0.1`, callId }), via.port);
  const inv = await phone.waitFor((m) => m.startsWith("INVITE ") && hdrs(m, "Call-ID")[0] === callId, 4000);
  assert.ok(inv, `${user}'s phone gets the INVITE sent through port ${via.port}`);
  assert.match(inv.split("\r\n")[0], new RegExp(`^INVITE sip:${user}@127\\.0\\.0\\.1:${phone.port} `));
  const top = hdrs(inv, "Via")[0];
  const back = /SIP\/2\.0\/UDP ([\d.]+):(\d+)/.exec(top);
  phone.send(response(inv, 200, "OK", { toTag: token("t"), extra: [`Contact: <sip:${user}@127.0.0.1:${phone.port}>`] }), Number(back[2]), back[1]);
  const ok = await caller.waitFor((m) => status(m) === 200 && hdrs(m, "Call-ID")[0] === callId, 4000);
  assert.ok(ok, "the caller gets the 200");
  return inv;
}

for (const [hostA, hostB] of PAIRS) {
test(`A ${hostA}, B ${hostB}: calls through the other instance, a restart keeps every binding, Redis stopped and back`, async () => {
  const have = spawnSync("sh", ["-c", "command -v redis-server"]);
  assert.equal(have.status, 0, "redis-server is installed (tools/setup.mjs installs Debian's redis-server)");
  const redis = await startRedis(await freePort());
  const a = await instance(redis.port, undefined, hostA);
  const b = await instance(redis.port, undefined, hostB);
  await a.waitFor((o) => o.msg === "location service connected", 5000, "A connected");
  await b.waitFor((o) => o.msg === "location service connected", 5000, "B connected");
  const bob = await Ua.open();
  const carol = await Ua.open();
  const caller = await Ua.open();
  try {
    // a phone registered at A is called through B
    await register(a, bob, "bob");
    const [shared] = await until(b, "bob", (l) => l.length === 1, "B learns bob");
    assert.equal(shared.origin, "shared");
    assert.match(shared.path, new RegExp(`^<sip:rb[0-9a-f]{8}@127\\.0\\.0\\.1:${a.port};lr>$`));
    assert.equal(shared.contact, `sip:bob@127.0.0.1:${bob.port}`);
    const inv = await callThrough(b, caller, bob, "bob");
    assert.equal(hdrs(inv, "Record-Route").length, 2, "B and A both record-route");
    assert.equal(hdrs(inv, "Via").length, 3, "caller, B, A");

    // and the other way: a phone registered at B is called through A
    const gina = await Ua.open();
    try {
      await register(b, gina, "gina");
      const [g] = await until(a, "gina", (l) => l.length === 1, "A learns gina");
      assert.equal(g.origin, "shared");
      assert.match(g.path, new RegExp(`^<sip:rb[0-9a-f]{8}@127\\.0\\.0\\.1:${b.port};lr>$`));
      const inv2 = await callThrough(a, caller, gina, "gina");
      assert.equal(hdrs(inv2, "Via").length, 3, "caller, A, B");
    } finally {
      gina.close();
    }

    // A restarted keeps every binding: it reloads its own keys as local, B learns the new route token
    await register(a, carol, "carol");
    await until(b, "carol", (l) => l.length === 1, "B learns carol");
    const aPort = a.port;
    await a.stop();
    const a2 = await instance(redis.port, aPort, hostA);
    const mine = await api(a2, "/registrations");
    assert.deepEqual(mine.body.map((x) => `${x.aor} ${x.origin} ${x.source}`).sort(),
      [`bob local udp:127.0.0.1:${bob.port}`, `carol local udp:127.0.0.1:${carol.port}`, "gina shared null"], "both bindings are back at A, as A's own (and B's gina, shared)");
    await callThrough(a2, caller, carol, "carol"); // A routes to its restored binding
    await callThrough(b, caller, bob, "bob"); // and B through A's new route token

    // Redis stopped: both keep serving; a phone registered at A meanwhile reaches B once Redis is back
    await redis.stop();
    await a2.waitFor((o) => o.msg === "location service unreachable; serving the bindings we have, retrying", 5000, "A says Redis is unreachable");
    await b.waitFor((o) => o.msg === "location service unreachable; serving the bindings we have, retrying", 5000, "B says Redis is unreachable");
    const dave = await Ua.open();
    try {
      await register(a2, dave, "dave");
      await callThrough(b, caller, bob, "bob"); // what B has still works
      const gone = await api(b, "/registrations/dave");
      assert.equal(gone.status, 404, "B cannot know dave yet");
      const redis2 = await startRedis(redis.port); // empty: the instances publish theirs again
      await until(b, "dave", (l) => l.length === 1 && l[0].origin === "shared", "B learns dave after Redis is back", 10_000);
      await until(b, "bob", (l) => l.length === 1 && l[0].origin === "shared", "B still has bob", 10_000);
      await callThrough(b, caller, dave, "dave");
      assert.ok(a2.logs.filter((o) => o.msg === "location service connected").length >= 2, "A reconnected");
      assert.equal(a2.child.exitCode, null, "A still running");
      assert.equal(b.child.exitCode, null, "B still running");
      await redis2.stop();
    } finally {
      dave.close();
    }
  } finally {
    bob.close();
    carol.close();
    caller.close();
  }
});

}

for (const [hostA, hostB] of PAIRS) {
test(`A ${hostA}, B ${hostB}: management API and \`sipling ctl\`: list, one AOR, status, remove (a removal at A leaves B too); 404, 405, 400`, async () => {
  const redis = await startRedis(await freePort());
  const a = await instance(redis.port, undefined, hostA);
  const b = await instance(redis.port, undefined, hostB);
  await a.waitFor((o) => o.msg === "location service connected", 5000, "A connected");
  await b.waitFor((o) => o.msg === "location service connected", 5000, "B connected");
  const phone = await Ua.open();
  try {
    await register(a, phone, "erin");
    await register(a, phone, "frank");
    const list = await api(a, "/registrations");
    assert.equal(list.status, 200);
    assert.deepEqual(list.body.map((x) => x.aor).sort(), ["erin", "frank"]);
    const one = list.body.find((x) => x.aor === "erin");
    assert.deepEqual({ ...one, expires: undefined }, { aor: "erin", contact: `sip:erin@127.0.0.1:${phone.port}`, expires: undefined, q: null, origin: "local", source: `udp:127.0.0.1:${phone.port}`, path: null });
    assert.ok(one.expires > 290 && one.expires <= 300);
    const st = await api(a, "/status");
    assert.equal(st.status, 200);
    assert.equal(st.body.tables.registrations.inUse, 2);
    assert.equal(st.body.tables.registrations.capacity, LIMITS.siteRegistrations, "the site defaults' (docs/ABI.md \"Layout\")");
    assert.equal(st.body.location.connected, true);
    assert.equal(st.body.location.instance, `127.0.0.1:${a.port}`);

    // sipling ctl prints the same
    const cli = join(root, "host/node/cli.mjs");
    const env = { ...process.env, SIPLING_NO_BUILD: "1" };
    const r1 = spawnSync(process.execPath, [cli, "ctl", "--url", a.api, "registrations"], { encoding: "utf8", env });
    assert.equal(r1.status, 0, r1.stderr);
    assert.deepEqual(r1.stdout.trim().split("\n").slice(1).map((l) => l.split("\t").slice(0, 2).join(" ")).sort(),
      [`erin sip:erin@127.0.0.1:${phone.port}`, `frank sip:frank@127.0.0.1:${phone.port}`]);
    await until(b, "erin", (l) => l.length === 1, "B learns erin");
    const r2 = spawnSync(process.execPath, [cli, "ctl", "--url", a.api, "remove", "erin"], { encoding: "utf8", env });
    assert.equal(r2.status, 0, r2.stderr);
    assert.equal(r2.stdout, "removed 1\n");
    assert.equal((await api(a, "/registrations/erin")).status, 404);
    await until(b, "erin", (l) => l.length === 0, "the removal reaches B");
    const r3 = spawnSync(process.execPath, [cli, "ctl", "--url", a.api, "remove", "erin"], { encoding: "utf8", env });
    assert.equal(r3.status, 1, "nothing to remove: an error status");
    const r4 = spawnSync(process.execPath, [cli, "ctl", "--url", a.api, "frobnicate"], { encoding: "utf8", env });
    assert.equal(r4.status, 2);
    assert.match(r4.stderr, /^usage: sipling ctl/);
    assert.equal((await api(a, "/registrations", "DELETE")).status, 405);
    assert.equal((await api(a, "/status", "DELETE")).status, 405);
    assert.equal((await api(a, "/registrations/%ZZ")).status, 400);
    assert.equal((await fetch(`${a.api}/nothing-here`)).status, 404);
    // a contact that is not one of the AOR's
    assert.deepEqual(await api(a, `/registrations/frank?contact=${encodeURIComponent("sip:frank@192.0.2.1")}`, "DELETE"), { status: 404, body: { removed: 0 } });
    assert.deepEqual(await api(a, `/registrations/frank?contact=${encodeURIComponent(`sip:frank@127.0.0.1:${phone.port}`)}`, "DELETE"), { status: 200, body: { removed: 1 } });
  } finally {
    phone.close();
  }
});
}

/** A fake Redis on a loopback port that answers every command with `reply`; counts its connections. */
async function fakeRedis(reply) {
  const net = await import("node:net");
  const socks = new Set();
  const srv = net.createServer((s) => {
    socks.add(s);
    s.on("error", () => {});
    s.on("close", () => socks.delete(s));
    s.on("data", () => s.write(reply));
  });
  srv.connections = 0;
  srv.on("connection", () => srv.connections++);
  await new Promise((r) => srv.listen(0, "127.0.0.1", r));
  running.push({ stop: () => new Promise((r) => { for (const s of socks) s.destroy(); srv.close(() => r()); }) });
  return srv;
}

for (const [host, reply, error] of [
  ["node", "?what\r\n", "connection closed"],
  ["native", "?what\r\n", "malformed reply"],
  ["native", "$1000000000\r\n", "malformed reply"], // a bulk larger than the native host's bound (64 MiB)
]) {
  test(`${host}: a Redis answering ${JSON.stringify(reply)} is dropped and retried every second; the server keeps serving`, async () => {
    const fake = await fakeRedis(reply);
    const srv = await instance(fake.address().port, undefined, host);
    const warn = await srv.waitFor((o) => o.msg === "location service unreachable; serving the bindings we have, retrying", 8000, "unreachable");
    assert.equal(warn.level, "warn");
    assert.equal(warn.error, error);
    assert.equal(warn.redis, `127.0.0.1:${fake.address().port}`);
    const phone = await Ua.open();
    try {
      await register(srv, phone, "hana"); // the registrar works without Redis
      const st = await api(srv, "/status");
      assert.equal(st.body.location.connected, false);
      assert.deepEqual((await api(srv, "/registrations/hana")).body.map((x) => x.origin), ["local"]);
      const seen = fake.connections;
      await new Promise((r) => setTimeout(r, 2500));
      assert.ok(fake.connections >= seen + 4, `reconnected every second, two connections each time (${seen} then ${fake.connections} connections)`);
      assert.equal(srv.logs.filter((o) => o.msg === "location service unreachable; serving the bindings we have, retrying").length, 1, "logged once per outage");
      assert.equal(srv.child.exitCode, null);
    } finally {
      phone.close();
    }
  });
}

/** Sends RESP commands to Redis on port and resolves once every reply has come back. */
async function redisCommands(port, commands) {
  const net = await import("node:net");
  const enc = (args) => `*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join("")}`;
  const s = net.connect(port, "127.0.0.1");
  await new Promise((r, j) => { s.once("connect", r); s.once("error", j); });
  let got = "";
  const done = new Promise((r) => s.on("data", (d) => { got += d; if (got.split("\r\n").length - 1 >= commands.length) r(); }));
  s.write(commands.map(enc).join(""));
  await done;
  s.destroy();
  return got;
}

for (const host of ["node", "native"]) {
  test(`${host}: 1,200 keys of another instance (several SCAN pages) load at start as shared bindings`, async () => {
    const redis = await startRedis(await freePort());
    const n = 1200;
    const cmds = [];
    for (let i = 0; i < n; i++) {
      const line = `u${i} sip:u${i}@192.0.2.7:5060 300 -1 local udp:192.0.2.7:5060 -`;
      cmds.push(["SET", `sipling:loc:u${i} sip:u${i}@192.0.2.7:5060`, `127.0.0.1:9 ${i} ${line}`, "PX", "300000"]);
    }
    const replies = await redisCommands(redis.port, cmds);
    assert.equal(replies, "+OK\r\n".repeat(n));
    const srv = await instance(redis.port, undefined, host);
    const up = await srv.waitFor((o) => o.msg === "location service connected", 10_000, "connected");
    assert.equal(up.bindings, n);
    const all = await api(srv, "/registrations");
    assert.equal(all.body.length, n);
    assert.ok(all.body.every((b) => b.origin === "shared" && /^<sip:rb[0-9a-f]{8}@127\.0\.0\.1:9;lr>$/.test(b.path)));
    const u7 = all.body.find((b) => b.aor === "u7");
    assert.equal(u7.path, "<sip:rb00000007@127.0.0.1:9;lr>");
    assert.ok(u7.expires > 290 && u7.expires <= 300, `expires from the key's PTTL: ${u7.expires}`);
    assert.equal((await api(srv, "/status")).body.location.locationLoaded, n);
    // several pages: redis-server (Debian's redis-tools beside it) counts the SCANs it answered
    const info = spawnSync("redis-cli", ["-p", String(redis.port), "INFO", "commandstats"], { encoding: "utf8" });
    assert.equal(info.status, 0, info.stderr);
    const scans = Number(/cmdstat_scan:calls=(\d+)/.exec(info.stdout)?.[1]);
    assert.ok(scans >= 2, `SCAN answered ${scans} times`);
  });
}

for (const host of ["node", "native"]) {
  test(`${host}: the management API on the micro core: /registrations 501 (no location service), /status 200`, async () => {
    const srv = await startServer({ tcp: false, host, config: { board: "micro", metrics: { listen: "127.0.0.1:0" }, management: true } });
    running.push(srv);
    const m = await srv.waitFor((o) => o.msg === "metrics listening", 5000, "metrics listening");
    srv.api = m.url.replace(/\/metrics$/, "");
    assert.deepEqual(await api(srv, "/registrations"), { status: 501, body: { error: "this core has no location service (boards server and b2bua have it)" } });
    assert.equal((await api(srv, "/registrations/bob", "DELETE")).status, 501);
    const st = await api(srv, "/status");
    assert.equal(st.status, 200);
    assert.equal(st.body.board, "micro");
    assert.equal(st.body.location, null);
    assert.deepEqual(Object.keys(st.body.tables), ["transactions", "registrations", "aors", "messagePool", "registrarPool", "dialogs", "relayLegs"]);
  });
}

test("a Redis that requires a password (requirepass) and an ACL user: A (native) and B (node) authenticate and share; a wrong password is a warn line with Redis's reason, never the password, and the registrar keeps serving", async () => {
  const redis = await startRedis(await freePort(), ["--requirepass", "hunter2-pw", "--user", "sip", "on", ">sip-user-pw", "~*", "&*", "+@all"]);
  const a = await instance(redis.port, undefined, "native", { password: "hunter2-pw" });
  const b = await instance(redis.port, undefined, "node", { username: "sip", password: "sip-user-pw" });
  const wrong = { native: await instance(redis.port, undefined, "native", { password: "not-the-pw" }), node: await instance(redis.port, undefined, "node", { username: "sip", password: "not-the-pw" }) };
  await a.waitFor((o) => o.msg === "location service connected", 5000, "A connected");
  await b.waitFor((o) => o.msg === "location service connected", 5000, "B connected");
  const bob = await Ua.open();
  const caller = await Ua.open();
  try {
    await register(a, bob, "bob");
    await until(b, "bob", (l) => l.length === 1 && l[0].origin === "shared", "B learns bob");
    await callThrough(b, caller, bob, "bob");
    for (const [host, w] of Object.entries(wrong)) {
      const line = await w.waitFor((o) => o.msg === "location service unreachable; serving the bindings we have, retrying", 5000, `${host}: the refusal`);
      assert.match(String(line.error), /WRONGPASS|invalid password|invalid username-password/i, `${host}: Redis's reason: ${line.error}`);
      assert.ok(!JSON.stringify(w.logs).includes("not-the-pw"), `${host}: the password is never logged`);
      assert.ok(!w.logs.some((o) => o.msg === "location service connected"), `${host}: not connected`);
      const carol = await Ua.open();
      try {
        await register(w, carol, "carol"); // the registrar serves meanwhile
      } finally {
        carol.close();
      }
    }
  } finally {
    bob.close();
    caller.close();
    for (const s of [a, b, wrong.native, wrong.node]) await s.stop();
    await redis.stop();
  }
});

test("location.username without location.password, and a bad password value, are refused naming the key (both hosts); --print-config masks the password", async () => {
  const { writeFileSync, mkdtempSync, rmSync } = await import("node:fs");
  const { tmpdir } = await import("node:os");
  const dir = mkdtempSync(join(tmpdir(), "sipling-locauth-"));
  try {
    const argv = { node: [process.execPath, join(root, "host/node/cli.mjs")], native: [join(root, "build/server/sipling")] };
    const cases = [
      [{ redis: "127.0.0.1:6379", username: "sip" }, `config error: "location.username": a Redis user needs its "location.password"`],
      [{ redis: "127.0.0.1:6379", password: "" }, `config error: "location.password": expected 1..255 bytes without NUL, CR or LF, got "0 characters (not shown)"`],
      [{ redis: "127.0.0.1:6379", password: "line\nbreak" }, `config error: "location.password": expected 1..255 bytes without NUL, CR or LF, got "10 characters (not shown)"`],
      [{ redis: "127.0.0.1:6379", password: 1234 }, `config error: "location.password": expected 1..255 bytes without NUL, CR or LF, got "number"`],
    ];
    for (const [host, [exe, ...args]] of Object.entries(argv)) {
      cases.forEach(([location, want], i) => {
        const f = join(dir, `${host}${i}.json`);
        writeFileSync(f, JSON.stringify({ listen: ["udp:127.0.0.1:0"], location }));
        const r = spawnSync(exe, [...args, "--config", f], { encoding: "utf8", timeout: 20_000, env: { ...process.env, SIPLING_NO_BUILD: "1" } });
        assert.equal(r.status, 2, `${host} ${JSON.stringify(location)}: ${r.stderr}`);
        assert.equal(r.stderr.trim().split("\n").pop(), want, `${host} ${JSON.stringify(location)}`);
      });
      const f = join(dir, `${host}-ok.json`);
      writeFileSync(f, JSON.stringify({ listen: ["udp:127.0.0.1:0"], location: { redis: "127.0.0.1:6379", username: "sip", password: "s3cret-pw" } }));
      const r = spawnSync(exe, [...args, "--config", f, "--print-config"], { encoding: "utf8", timeout: 20_000, env: { ...process.env, SIPLING_NO_BUILD: "1" } });
      assert.equal(r.status, 0, r.stderr);
      const shown = JSON.parse(r.stdout).location;
      assert.equal(shown.username, "sip");
      assert.equal(shown.password, "***", `${host}: masked`);
      assert.ok(!r.stdout.includes("s3cret-pw"));
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("node and native: /status and a binding's JSON have the same shape (keys and value types)", async () => {
  const redis = await startRedis(await freePort());
  const shape = (v) => Array.isArray(v) ? v.map(shape) : v && typeof v === "object" ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, shape(x)])) : v === null ? null : typeof v;
  const seen = {};
  const phone = await Ua.open();
  try {
    for (const host of ["node", "native"]) {
      const srv = await instance(redis.port, undefined, host);
      await srv.waitFor((o) => o.msg === "location service connected", 5000, `${host} connected`);
      await register(srv, phone, `ivy-${host}`);
      const st = await api(srv, "/status");
      const mine = await api(srv, `/registrations/ivy-${host}`);
      seen[host] = { status: shape(st.body), binding: shape(mine.body) };
      await srv.stop();
    }
    assert.deepEqual(seen.native, seen.node);
    assert.deepEqual(seen.native.binding, [{ aor: "string", contact: "string", expires: "number", q: null, origin: "string", source: "string", path: null }]);
  } finally {
    phone.close();
  }
});
