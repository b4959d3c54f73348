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
