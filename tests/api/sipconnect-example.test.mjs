// examples/sipconnect-registration.json (the enterprise: a B2BUA whose trunk registers in SIPconnect
// registration mode, RFC 6140) and examples/sipconnect-provider.json (the provider: our proxy and
// registrar with the block +155500xx provisioned for the account acme) run against each other on
// loopback, as the files are, only their ports moved to free ones: alice registers at the enterprise,
// carol (the provider's user) calls +15550001 at the provider, and the call reaches alice. Each
// enterprise host (Node, native gateway) against the Node provider; both files also print back.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { freePort } from "../integration/harness.mjs";
import { Ua, request, registerDigest, challenges, authorization, status, firstLine, hdrs, token } from "../lib/sipua.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const dir = mkdtempSync(join(tmpdir(), "sipling-sipconnect-"));
const NODE = [process.execPath, join(root, "host/node/cli.mjs")];
const HOSTS = [["node", NODE, NODE], ["native", [join(root, "build/gateway/sipling")], [join(root, "build/server/sipling")]]];
const read = (name) => JSON.parse(readFileSync(join(root, "examples", name), "utf8"));
const ENV = { ...process.env, SIPLING_NO_BUILD: "1" };

for (const [host, entArgv, provArgv] of HOSTS) {
  test(`${host}: the two SIPconnect examples print back as written`, () => {
    const show = (argv, name) => {
      const r = spawnSync(argv[0], [...argv.slice(1), "--config", join(root, "examples", name), "--print-config"], { encoding: "utf8", timeout: 20_000, env: ENV });
      assert.equal(r.status, 0, r.stderr);
      assert.ok(!r.stdout.includes("change-me"), "passwords are not printed");
      return JSON.parse(r.stdout);
    };
    const ent = read("sipconnect-registration.json");
    assert.deepEqual(show(entArgv, "sipconnect-registration.json").sides[1].register, ent.sides[1].register);
    const prov = read("sipconnect-provider.json");
    assert.deepEqual(show(provArgv, "sipconnect-provider.json").registrar.ginBlocks, prov.registrar.ginBlocks);
  });
}

/** Starts argv with config (written to a file); returns { p, out(), stop() }. */
function start(argv, config) {
  const f = join(dir, `${token("c")}.json`);
  writeFileSync(f, JSON.stringify(config));
  const p = spawn(argv[0], [...argv.slice(1), "--config", f], { stdio: ["ignore", "pipe", "pipe"], env: ENV });
  let out = "";
  p.stdout.on("data", (d) => (out += d));
  p.stderr.on("data", (d) => (out += d));
  const exited = new Promise((ok) => p.once("exit", ok));
  return { p, out: () => out, stop: async () => { p.kill("SIGTERM"); await Promise.race([exited, new Promise((ok) => setTimeout(ok, 5000))]); if (p.exitCode === null) p.kill("SIGKILL"); } };
}

for (const [host, entArgv] of HOSTS) {
  test(`${host} enterprise, Node provider: the examples run against each other; carol's call to +15550001 reaches alice`, { timeout: 40_000 }, async () => {
    const provPort = await freePort(), entPort = await freePort();
    const prov = read("sipconnect-provider.json");
    prov.listen = [`udp:127.0.0.9:${provPort}`];
    const ent = read("sipconnect-registration.json");
    ent.listen = [`udp:127.0.0.1:${entPort}`];
    ent.sides[1].address = `127.0.0.9:${provPort}`;
    const P = start(NODE, prov);
    const E = start(entArgv, ent);
    // both serving before anything is sent (a loaded machine starts the Node host in seconds)
    for (const [who, x] of [["provider", P], ["enterprise", E]]) {
      const t0 = Date.now();
      while (!x.out().includes('"msg":"running"') && Date.now() - t0 < 15_000) await new Promise((ok) => setTimeout(ok, 50));
      assert.ok(x.out().includes('"msg":"running"'), `the ${who} did not start\n${x.out()}`);
    }
    const alice = await Ua.open("127.0.0.2"), carol = await Ua.open("127.0.0.3");
    try {
      const pass = ent.users.find((u) => u.username === "alice").password;
      let reg = null;
      for (let k = 0; k < 50 && status(reg) !== 200; k++) {
        reg = await registerDigest({ port: entPort }, alice, { user: "alice", pass, realm: ent.realm, callId: `reg-alice-${k}` }).catch(() => null);
        if (status(reg) !== 200) await new Promise((ok) => setTimeout(ok, 200));
      }
      assert.equal(status(reg), 200, `alice registered at the enterprise\n${E.out()}`);
      // carol calls the enterprise's number at the provider (digest: 407 answered); until the
      // enterprise's REGISTER is in, the provider answers 480
      const carolPass = prov.users.find((u) => u.username === "carol").password;
      const ruri = "sip:+15550001@127.0.0.9";
      const finals = [];
      let inv = null;
      for (let k = 0; k < 20 && !inv; k++) {
        const callId = token("call");
        const o = { ruri, from: "sip:carol@127.0.0.9", callId, contact: `<sip:carol@127.0.0.3:${carol.port}>` };
        carol.send(request(carol, { ...o, cseq: 1 }), provPort, "127.0.0.9"); // (Ua.request sends to 127.0.0.1 only)
        const r1 = await carol.waitFor((t) => status(t) >= 200 && hdrs(t, "Call-ID")[0] === callId, 2000);
        assert.equal(status(r1), 407, firstLine(r1));
        const c = challenges(r1, "Proxy-Authenticate").find((x) => x.alg === "MD5");
        const auth = authorization({ user: "carol", pass: carolPass, realm: prov.realm, nonce: c.nonce, uri: ruri, method: "INVITE" });
        carol.send(request(carol, { ...o, cseq: 2, extra: [`Proxy-Authorization: ${auth}`] }), provPort, "127.0.0.9");
        inv = await alice.waitFor((t) => /^INVITE /.test(t), 1500);
        if (!inv) finals.push(status(await carol.waitFor((t) => status(t) >= 300 && hdrs(t, "Call-ID")[0] === callId, 1000)));
      }
      assert.ok(inv, `the call reached alice (carol's finals before: ${finals})\nprovider:\n${P.out()}\nenterprise:\n${E.out()}`);
      assert.equal(firstLine(inv), `INVITE sip:alice@127.0.0.2:${alice.port} SIP/2.0`);
      assert.ok(finals.every((s) => s === 480), `before the enterprise registered: ${finals}`);
    } finally {
      alice.close();
      carol.close();
      await E.stop();
      await P.stop();
    }
  });
}
