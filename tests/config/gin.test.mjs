// SIPconnect registration mode (RFC 6140) in the configuration of the two hosts that run it, the Node
// host (host/shared/config.mjs) and the native binary (host/c/config.c):
//   - a trunk's "register": {"mode": "gin", "block"} and the registrar's "registrar.ginBlocks": the same
//     mistakes refused with the same message by both hosts, naming the key; good values printed back;
//   - on the wire, each host as the enterprise: its REGISTER to a registrar socket of the test is RFC
//     6140's (a Contact without a user part carrying bnc, Require: gin, Proxy-Require: gin, Supported: path);
//   - each host as the provider: a gin REGISTER from a test socket binds its template, and an INVITE to
//     a number of the configured block reaches that socket with the number as the Request-URI's user.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync, spawn } from "node:child_process";
import { createSocket } from "node:dgram";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { startServer } from "../integration/harness.mjs";
import { Ua, request, hdrs, status, firstLine, token } from "../lib/sipua.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const dir = mkdtempSync(join(tmpdir(), "sipling-gincfg-"));
const HOSTS = [["node", [process.execPath, join(root, "host/node/cli.mjs")]], ["native", [join(root, "build/gateway/sipling")]]];
const REG = { name: "office", role: "registrar", route: "carrier" };
const TRUNK = { name: "carrier", role: "trunk", address: "127.0.0.9:5060", route: "office", username: "acme", password: "s3cret" };
const b2bua = (register) => ({ board: "gateway", mode: "b2bua", listen: ["udp:127.0.0.1:0"], sides: [REG, { ...TRUNK, register }] });
const proxy = (ginBlocks) => ({ board: "gateway", listen: ["udp:127.0.0.1:0"], registrar: { ginBlocks } });

let n = 0;
function run(argv, config, more = []) {
  const f = join(dir, `c${++n}.json`);
  writeFileSync(f, JSON.stringify(config));
  return spawnSync(argv[0], [...argv.slice(1), "--config", f, ...more], { encoding: "utf8", timeout: 20_000, env: { ...process.env, SIPLING_NO_BUILD: "1" } });
}
const lastLine = (r) => r.stderr.trim().split("\n").pop();

/** [configuration, the key its error names, a word its message has] */
const MISTAKES = [
  [b2bua({ mode: "sip" }), "sides[1].register.mode", `expected "gin"`],
  [b2bua({ mode: "gin", block: "+1555x0" }), "sides[1].register.block", "number block"],
  [b2bua({ mode: "gin", block: "" }), "sides[1].register.block", "number block"],
  [b2bua({ block: "+155500xx" }), "sides[1].register.block", `"mode": "gin"`],
  [b2bua({ mode: "gin", blocks: "+1" }), "sides[1].register.blocks", "unknown key (expected expires, mode, block)"],
  [proxy(["acme"]), "registrar.ginBlocks[0]", "ACCOUNT BLOCK"],
  [proxy(["acme +15x5"]), "registrar.ginBlocks[0]", "ACCOUNT BLOCK"],
  [proxy(["a@b +155"]), "registrar.ginBlocks[0]", "ACCOUNT BLOCK"],
];

test("both hosts refuse the same gin mistakes with the same message, naming the key", () => {
  for (const [config, key, word] of MISTAKES) {
    const lines = HOSTS.map(([, argv]) => {
      const r = run(argv, config);
      assert.notEqual(r.status, 0, `${JSON.stringify(config)} was accepted`);
      return lastLine(r);
    });
    assert.equal(lines[0], lines[1], "the same message on both hosts");
    assert.ok(lines[0].startsWith(`config error: "${key}": `), lines[0]);
    assert.ok(lines[0].includes(word), lines[0]);
  }
});

for (const [host, argv] of HOSTS) {
  test(`${host}: "register" with mode gin and a block, and registrar.ginBlocks, print back as given`, () => {
    for (const register of [{ mode: "gin" }, { mode: "gin", block: "+155500xx" }, { expires: 600, mode: "gin", block: "+4930123x" }, { mode: "gin", expires: 900 }, { expires: 900, mode: "gin", block: "+1555" }]) {
      const r = run(argv, b2bua(register), ["--print-config"]);
      assert.equal(r.status, 0, r.stderr);
      assert.deepEqual(JSON.parse(r.stdout).sides[1].register, register);
    }
    const blocks = ["acme +155500xx", "pbx +4930123x"];
    const r = run(argv, proxy(blocks), ["--print-config"]);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout).registrar.ginBlocks, blocks);
  });

  test(`${host}: as the enterprise, a trunk with "mode": "gin" sends RFC 6140's REGISTER to its provider`, async () => {
    const sock = createSocket("udp4");
    await new Promise((ok) => sock.bind(0, "127.0.0.1", ok));
    const got = [];
    sock.on("message", (m) => {
      const text = m.toString("latin1");
      if (text.startsWith("REGISTER ")) got.push(text);
    });
    const f = join(dir, `c${++n}.json`);
    writeFileSync(f, JSON.stringify({ ...b2bua({ expires: 600, mode: "gin", block: "+155500xx" }),
      sides: [REG, { ...TRUNK, address: `127.0.0.1:${sock.address().port}`, host: "prov.example", register: { expires: 600, mode: "gin", block: "+155500xx" } }] }));
    const p = spawn(argv[0], [...argv.slice(1), "--config", f], { stdio: ["ignore", "ignore", "pipe"], env: { ...process.env, SIPLING_NO_BUILD: "1" } });
    let err = "";
    p.stderr.on("data", (d) => (err += d));
    try {
      const t0 = Date.now();
      while (got.length < 1 && Date.now() - t0 < 10_000) await new Promise((ok) => setTimeout(ok, 50));
      assert.equal(got.length >= 1, true, `no REGISTER; stderr: ${err}`);
      const reg = got[0];
      assert.match(reg, /^REGISTER sip:prov\.example SIP\/2\.0\r\n/);
      assert.match(reg, /\r\nTo: <sip:acme@prov\.example>\r\n/);
      assert.deepEqual(hdrs(reg, "Contact").map((c) => c.replace(/:\d+;/, ":PORT;")), ["<sip:127.0.0.1:PORT;bnc>"], "no user part, bnc");
      assert.deepEqual(hdrs(reg, "Require"), ["gin"]);
      assert.deepEqual(hdrs(reg, "Proxy-Require"), ["gin"]);
      assert.deepEqual(hdrs(reg, "Supported"), ["path"]);
      assert.deepEqual(hdrs(reg, "Expires"), ["600"]);
    } finally {
      p.kill("SIGKILL");
      sock.close();
    }
  });

  test(`${host}: as the provider, registrar.ginBlocks routes a number of the block to the account's bnc contact, the number as the Request-URI user`, async () => {
    const srv = await startServer({ host, config: { registrar: { ginBlocks: ["acme +155500xx"] } } });
    const pbx = await Ua.open("127.0.0.3"), caller = await Ua.open("127.0.0.5");
    try {
      const reg = await pbx.request(srv, request(pbx, { method: "REGISTER", ruri: "sip:127.0.0.1", from: "sip:acme@127.0.0.1", to: "sip:acme@127.0.0.1",
        callId: token("reg"), contact: `<sip:${pbx.address}:${pbx.port};bnc>`, extra: ["Require: gin", "Proxy-Require: gin", "Supported: path", "Expires: 600"] }));
      assert.equal(status(reg), 200, reg && firstLine(reg));
      assert.deepEqual(hdrs(reg, "Contact"), [`<sip:${pbx.address}:${pbx.port};bnc>;expires=600`]);
      const callId = token("gin");
      caller.send(request(caller, { ruri: "sip:+15550042@127.0.0.1", from: "sip:carol@elsewhere.test", callId }), srv.port);
      const inv = await pbx.waitFor((t) => /^INVITE /.test(t) && hdrs(t, "Call-ID")[0] === callId, 3000);
      assert.ok(inv, "the call reaches the enterprise's template contact");
      assert.equal(firstLine(inv), `INVITE sip:+15550042@${pbx.address}:${pbx.port} SIP/2.0`);
      // outside the block: nobody (480), nothing to the enterprise
      const out = await caller.request(srv, request(caller, { ruri: "sip:+15560042@127.0.0.1", from: "sip:carol@elsewhere.test", callId: token("out") }));
      assert.equal(status(out), 480);
    } finally {
      pbx.close();
      caller.close();
      await srv.stop();
    }
  });
}
