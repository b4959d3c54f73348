// The Node library API, used the way a user's module uses it: imported by package name ("sipling"
// resolves through package.json "exports" to build/node/index.mjs), configured with the object a
// configuration file holds, driven by real SIP over loopback.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer, ConfigError, SiplingServer, VERSION } from "sipling";
import { Ua, request, status, firstLine, registerDigest } from "../lib/sipua.mjs";
import { readFileSync } from "node:fs";

const REALM = "sipling.test";
const PW = "alice-Lib-pw-3";

test("createServer: start on port 0, a digest REGISTER gives a reg-add event and counts in stats(), stop frees the port", async () => {
  assert.equal(VERSION, JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")).version);
  const server = createServer({ listen: ["udp:127.0.0.1:0"], realm: REALM, users: [{ username: "alice", password: PW }], timers: { t1: 100 } });
  assert.ok(server instanceof SiplingServer);
  assert.deepEqual(server.listening(), [], "nothing bound before start()");
  const events = [];
  const regs = [];
  server.on("event", (e) => events.push(e));
  server.on("reg-add", (e) => regs.push(e));
  const bound = await server.start();
  assert.equal(bound.length, 1);
  assert.equal(bound[0].proto, "udp");
  assert.equal(bound[0].host, "127.0.0.1");
  assert.ok(bound[0].port > 0, `a port was picked: ${bound[0].port}`);
  assert.deepEqual(server.listening(), bound);
  await assert.rejects(server.start(), /start\(\) on a server that is running/);

  const ua = await Ua.open("127.0.0.6");
  try {
    const srv = { port: bound[0].port, address: "127.0.0.1" };
    const r = await registerDigest(srv, ua, { user: "alice", pass: PW, realm: REALM, expires: 300 });
    assert.equal(status(r), 200, firstLine(r));
    await new Promise((res) => setImmediate(res));
    assert.equal(regs.length, 1, `one reg-add event: ${JSON.stringify(events)}`);
    assert.equal(regs[0].name, "reg-add");
    assert.equal(regs[0].aor, "alice", "the AOR (one user namespace for all our domains)");
    assert.match(regs[0].contact, new RegExp(`127\\.0\\.0\\.6:${ua.port}`));
    assert.equal(regs[0].expires, 300);
    assert.equal(regs[0].source, `udp:127.0.0.6:${ua.port}`);
    assert.ok(Math.abs(regs[0].time - Date.now()) < 10_000, "wall-clock time");
    assert.ok(events.some((e) => e.name === "reg-add"), "also emitted as \"event\"");
    const stats = server.stats();
    assert.equal(stats.received, 2, `the challenged and the authenticated REGISTER: ${JSON.stringify(stats)}`);
    assert.equal(stats.bindingsInUse, 1, "alice's binding");
    assert.ok(stats.bindingCapacity > 1);

    await server.stop();
    assert.deepEqual(server.stats(), {}, "no counters after stop");
    assert.deepEqual(server.listening(), []);
    // the port is free again: a second server binds it
    const again = createServer({ listen: [`udp:127.0.0.1:${bound[0].port}`], allowUnauthenticated: false });
    const b2 = await again.start();
    assert.equal(b2[0].port, bound[0].port);
    await again.stop();
  } finally {
    ua.close();
    await server.stop();
  }
});

test("createServer: a bad configuration throws a ConfigError naming the key, before anything is bound", () => {
  assert.throws(() => createServer({ flood: { limit: -1 } }), (e) => e instanceof ConfigError && e.key === "flood.limit" && /"flood\.limit"/.test(e.message));
  assert.throws(() => createServer({ nosuchkey: 1 }), (e) => e instanceof ConfigError && e.key === "nosuchkey");
  // the secure default holds for the library too: no users on a non-loopback address is an open relay
  assert.throws(() => createServer({ listen: ["udp:0.0.0.0:0"] }), (e) => e instanceof ConfigError && /relay|users/.test(e.message));
});

test("stop() takes back a trunk's registration first (Expires: 0, answered), as the CLI does", async () => {
  const { createSocket } = await import("node:dgram");
  const sock = createSocket("udp4");
  await new Promise((ok) => sock.bind(0, "127.0.0.1", ok));
  const got = [];
  sock.on("message", (m, from) => {
    const text = m.toString("latin1");
    if (!text.startsWith("REGISTER ")) return;
    got.push(text);
    const head = text.split("\r\n").filter((l) => /^(via|from|to|call-id|cseq):/i.test(l)).map((l) => (/^to:/i.test(l) ? `${l};tag=r1` : l));
    const expires = /\r\nExpires: 0\r\n/.test(text) ? 0 : 600;
    sock.send(Buffer.from(["SIP/2.0 200 OK", ...head, `Expires: ${expires}`, "Content-Length: 0", "", ""].join("\r\n"), "latin1"), from.port, from.address);
  });
  const server = createServer({
    board: "gateway", mode: "b2bua", listen: ["udp:127.0.0.1:0"], domains: ["127.0.0.1"],
    sides: [{ name: "office", role: "registrar", route: "carrier" },
      { name: "carrier", role: "trunk", address: `127.0.0.1:${sock.address().port}`, host: "prov.example", route: "office",
        username: "acme", password: "lib-trunk-pw", register: { expires: 600 } }],
  });
  const states = [];
  server.on("trunk-reg", (e) => states.push(e.detail));
  try {
    await server.start();
    const t0 = Date.now();
    while (!states.includes("registered") && Date.now() - t0 < 5000) await new Promise((ok) => setTimeout(ok, 20));
    assert.ok(states.includes("registered"), `registered: ${states}`);
    await server.stop();
    assert.equal(got.length, 2, "the REGISTER, then the de-registration");
    assert.match(got[1], /\r\nExpires: 0\r\n/);
    assert.ok(states.at(-1) === "idle", `the account is idle once its de-registration was answered: ${states}`);
  } finally {
    await server.stop();
    sock.close();
  }
});
