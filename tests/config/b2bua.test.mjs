// The B2BUA's configuration ("mode", "sides" with their rules and credentials) on the two hosts that run
// it: the Node host (host/shared/config.mjs) and the native gateway binary (host/c/config.c) give the
// same message for the same mistake, naming the key; a good configuration prints back the same, the
// password masked. The WASI host and the firmware refuse "sides" by name (their key lists). A trunk with
// "register" registers with its provider (the core's registrant, cfg kind Registration): its REGISTER
// reaches a registrar socket of the test's from either host.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync, spawn } from "node:child_process";
import { createSocket } from "node:dgram";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const dir = mkdtempSync(join(tmpdir(), "sipling-b2bcfg-"));
const HOSTS = [["node", [process.execPath, join(root, "host/node/cli.mjs")]], ["native", [join(root, "build/gateway/sipling")]]];
const REG = { name: "office", role: "registrar", route: "carrier" };
const TRUNK = { name: "carrier", role: "trunk", address: "127.0.0.9:5060", route: "office" };
const CREDS = { username: "acme", password: "s3cret" };
const base = (sides, extra = {}) => ({ board: "gateway", mode: "b2bua", listen: ["udp:127.0.0.1:0"], sides, ...extra });

let n = 0;
function run(argv, config, more = []) {
  const f = join(dir, `c${++n}.json`);
  writeFileSync(f, JSON.stringify(config));
  return spawnSync(argv[0], [...argv.slice(1), "--config", f, ...more], { encoding: "utf8", timeout: 20_000, env: { ...process.env, SIPLING_NO_BUILD: "1" } });
}

/** [configuration, the error line every host prints] */
const CASES = [
  [base([]), `config error: "sides": "mode": "b2bua" needs at least two sides (e.g. a registrar side and a trunk)`],
  [{ ...base([REG, TRUNK]), mode: "proxy" }, `config error: "sides": sides are the B2BUA's: set "mode": "b2bua" (and a board with it, "board": "gateway")`],
  // a trunk found by DNS: NAME or NAME:PORT (tests/hosts/trunk-dns.test.mjs); what is neither
  ...["carrier_example.test", "-carrier.test", "carrier-.test", "carrier..test", "carrier.test:0", "carrier.test:65536", "carrier.test:", "127.0.0.9",
    "[::1]", `${"a".repeat(40)}.example:5060`, "sip:carrier.test"].map((a) =>
    [base([REG, { ...TRUNK, address: a }]), `config error: "sides[1].address": expected IP:PORT or a DNS name, NAME or NAME:PORT, of at most 48 bytes (IPv6 as [::1]:5060; a name without a port is located by RFC 3263: NAPTR, SRV, then its address on 5060, 5061 for tls), got "${a}"`]),
  [base([REG, { ...TRUNK, address: "carrier.test", transport: "tcp" }]), `config error: "sides[1].transport": a trunk on tcp needs a "tcp:" listen address`],
  [base([REG, { ...TRUNK, address: undefined }]), `config error: "sides[1]": a trunk needs its "address" (IP:PORT or a DNS name)`],
  [base([{ ...REG, address: "127.0.0.1:5060" }, TRUNK]), `config error: "sides[0].address": a registrar side has no address (its phones register)`],
  [base([REG, { ...TRUNK, route: "nowhere" }]), `config error: "sides[1].route": no side named "nowhere"`],
  [base([REG, { ...TRUNK, route: "carrier" }]), `config error: "sides[1].route": a side routes its calls to another side, not to itself`],
  [base([REG, TRUNK, { ...TRUNK, name: "office" }]), `config error: "sides[2].name": duplicate side "office"`],
  [base([REG, { ...REG, name: "second" }, TRUNK]), `config error: "sides": at most one registrar side`],
  [base([REG, { ...TRUNK, role: "peer" }]), `config error: "sides[1].role": expected "registrar" or "trunk", got "peer"`],
  [base([REG, { ...TRUNK, username: "acme" }]), `config error: "sides[1]": give both "username" and "password" (a trunk's credentials), or neither`],
  [base([REG, { ...TRUNK, username: "acme", password: "has space" }]), `config error: "sides[1].password": expected 1..64 printable ASCII characters without spaces, got "***"`],
  [base([{ ...REG, routes: [{ prefix: "00", to: "office" }] }, TRUNK]), `config error: "sides[0].routes[0].to": a rule sends calls to another side, not to its own`],
  [base([{ ...REG, routes: [{ prefix: "00 1", to: "carrier" }] }, TRUNK]), `config error: "sides[0].routes[0].prefix": expected 0..24 of 0-9 A-Z a-z + * # . _ -, got "00 1"`],
  [base([{ ...REG, routes: [{ prefix: "00", to: "carrier", strip: 40 }] }, TRUNK]), `config error: "sides[0].routes[0].strip": expected an integer in 0..32, got 40`],
  [base([{ ...REG, routes: [{ to: "carrier" }] }, TRUNK]), `config error: "sides[0].routes[0]": expected a "prefix" ("" for any number)`],
  [base([REG, { ...TRUNK, failover: "carrier" }]), `config error: "sides[1].failover": a side fails over to another side, not to itself`],
  [base([REG, { ...TRUNK, failover: "backup" }]), `config error: "sides[1].failover": no side named "backup"`],
  [base([REG, { ...TRUNK, colour: "blue" }]), `config error: "sides[1].colour": unknown key (expected name, role, route, host, address, transport, accept, called, username, password, routes, failover, identity, drop, register, monitor, down, passthrough, mediaRelay, relayInterface)`],
  [base([REG, { ...TRUNK, accept: "ip" }]), `config error: "sides[1].accept": expected "address" or "digest", got "ip"`],
  [base([REG, { ...TRUNK, identity: { number: "+155500xx" } }]), `config error: "sides[1].identity.number": expected a number: "+" (optional) and digits, 1..32 bytes ("+15550100"), got "+155500xx"`],
  [base([REG, { ...TRUNK, identity: { number: 15550100 } }]), `config error: "sides[1].identity.number": expected a number: "+" (optional) and digits, 1..32 bytes ("+15550100"), got 15550100`],
  [base([REG, { ...TRUNK, identity: { name: "x" } }]), `config error: "sides[1].identity.name": unknown key (expected pai, number)`],
  [base([{ ...REG, identity: { number: "+15550100" } }, TRUNK]), `config error: "sides[0].identity.number": a calling number is a trunk's (for callers with none of its number block)`],
  [base([REG, { ...TRUNK, ...CREDS, register: { mode: "gin", block: "+155500xx" }, identity: { number: "+15560100" } }]),
    `config error: "sides[1].identity.number": "+15560100" is not a number of the trunk's block "+155500xx"`],
  [base([{ ...REG, accept: "digest" }, TRUNK]), `config error: "sides[0].accept": a registrar side's calls are known by where each phone registered from`],
  [base([REG, { ...TRUNK, accept: "digest" }]), `config error: "sides[1].accept": a trunk that takes calls by digest needs its "username" and "password"`],
  [base([REG, { ...TRUNK, accept: "digest", username: "alice", password: "pw" }], { users: [{ username: "alice", password: "x" }] }),
    `config error: "sides[1].username": "alice" is also a user in "users": a digest trunk needs a name of its own`],
  [base([REG, { ...TRUNK, transport: "sctp" }]), `config error: "sides[1].transport": expected "udp", "tcp" or "tls", got "sctp"`],
  [base([REG, { ...TRUNK, transport: "tls" }], { listen: ["udp:127.0.0.1:0", "tcp:127.0.0.1:0"] }),
    `config error: "sides[1].transport": a trunk on tls needs a "tls:" listen address of its family (IPv4)`],
  [base([{ ...REG, transport: "tcp" }, TRUNK]), `config error: "sides[0].transport": a registrar side's calls go where each phone registered from, on its transport`],
  [base([REG, { ...TRUNK, transport: "tcp" }]), `config error: "sides[1].transport": a trunk on tcp needs a "tcp:" listen address of its family (IPv4)`],
  [base([REG, { ...TRUNK, address: "[::1]:5060", transport: "tcp" }], { listen: ["udp:127.0.0.1:0", "tcp:127.0.0.1:0"] }),
    `config error: "sides[1].transport": a trunk on tcp needs a "tcp:" listen address of its family (IPv6)`],
  [base([REG, { ...TRUNK, identity: "from" }]), `config error: "sides[1].identity": expected an object {pai, number}, got "from"`],
  [base([REG, { ...TRUNK, identity: { pai: "maybe" } }]), `config error: "sides[1].identity.pai": expected "passthrough", "drop" or "from", got "maybe"`],
  [base([REG, { ...TRUNK, identity: { privacy: "id" } }]), `config error: "sides[1].identity.privacy": unknown key (expected pai, number)`],
  [base([REG, { ...TRUNK, drop: "X-Internal" }]), `config error: "sides[1].drop": expected an array of at most 8 header names, got "X-Internal"`],
  [base([REG, { ...TRUNK, drop: ["a", "b", "c", "d", "e", "f", "g", "h", "i"] }]), `config error: "sides[1].drop": expected at most 8 header names, got "9"`],
  [base([REG, { ...TRUNK, drop: ["X-Internal", "X Bad"] }]), `config error: "sides[1].drop[1]": expected a header name (a SIP token of 1..32 bytes), got "X Bad"`],
  [base([REG, { ...TRUNK, drop: ["Via"] }]), `config error: "sides[1].drop[0]": "Via" is written by each leg itself and never passes (nothing to drop)`],
  [base([REG, { ...TRUNK, ...CREDS, register: "yes" }]), `config error: "sides[1].register": expected true, false or {"expires": N, "mode": "gin", "block": BLOCK}, got "yes"`],
  [base([REG, { ...TRUNK, ...CREDS, register: { expires: 10 } }]), `config error: "sides[1].register.expires": expected an integer in 60..86400, got 10`],
  [base([REG, { ...TRUNK, ...CREDS, register: { expires: "1h" } }]), `config error: "sides[1].register.expires": expected an integer in 60..86400, got "1h"`],
  [base([REG, { ...TRUNK, ...CREDS, register: { every: 60 } }]), `config error: "sides[1].register.every": unknown key (expected expires, mode, block)`],
  [base([REG, { ...TRUNK, ...CREDS, register: true, down: "later" }]), `config error: "sides[1].down": expected "try", "failover" or "refuse", got "later"`],
  [base([REG, { ...TRUNK, ...CREDS, register: true, down: "failover" }]), `config error: "sides[1].down": "failover" needs the side's "failover" (the side its calls go to meanwhile)`],
  [base([REG, { ...TRUNK, down: "refuse" }]), `config error: "sides[1].down": a trunk is known down only when it registers ("register") or is pinged ("monitor")`],
  [base([{ ...REG, down: "refuse" }, TRUNK]), `config error: "sides[0].down": a registrar side is never down (a trunk is, when it registers or is monitored)`],
  [base([REG, { ...TRUNK, monitor: 2 }]), `config error: "sides[1].monitor": expected an integer in 5..3600 (seconds between OPTIONS pings), got 2`],
  [base([REG, { ...TRUNK, monitor: "30s" }]), `config error: "sides[1].monitor": expected an integer in 5..3600 (seconds between OPTIONS pings), got "30s"`],
  [base([{ ...REG, monitor: 30 }, TRUNK]), `config error: "sides[0].monitor": a registrar side's phones are not pinged (a trunk is)`],
  [base([REG, { ...TRUNK, passthrough: { user: "alice" } }]), `config error: "sides[1].passthrough": expected an array of {user, username, password}, got {"user":"alice"}`],
  [base([REG, { ...TRUNK, passthrough: [{ user: "alice", username: "15550001" }] }]), `config error: "sides[1].passthrough[0]": expected a "password"`],
  [base([REG, { ...TRUNK, passthrough: [{ user: "al ice", username: "1", password: "p" }] }]), `config error: "sides[1].passthrough[0].user": expected a SIP token of 1..32 bytes, got "al ice"`],
  [base([REG, { ...TRUNK, passthrough: [{ user: "a", username: "1", password: "has space" }] }]), `config error: "sides[1].passthrough[0].password": expected 1..64 printable ASCII characters without spaces, got "***"`],
  [base([REG, { ...TRUNK, passthrough: [{ user: "a", username: "1", password: "p", expires: 60 }] }]), `config error: "sides[1].passthrough[0].expires": unknown key (expected user, username, password)`],
  [base([{ ...REG, passthrough: [] }, TRUNK]), `config error: "sides[0].passthrough": pass-through accounts are a trunk's (the provider's accounts of our users)`],
  [base([REG, { ...TRUNK, called: "from" }]), `config error: "sides[1].called": expected "ruri", "to" or "p-called-party-id", got "from"`],
  [base([{ ...REG, called: "to" }, TRUNK]), `config error: "sides[0].called": a registrar side's calls have the number in the Request-URI (its phones dial it)`],
  [base([{ ...REG, register: true }, TRUNK]), `config error: "sides[0].register": a registrar side does not register (its phones register with us)`],
  [base([REG, { ...TRUNK, register: true }]), `config error: "sides[1].register": a trunk that registers needs its "username" and "password"`],
  // the media relay
  [base([REG, { ...TRUNK, mediaRelay: "yes" }]), `config error: "sides[1].mediaRelay": expected true or false, got "yes"`],
  [base([REG, { ...TRUNK, mediaRelay: true }]), `config error: "sides[1].mediaRelay": the relay needs "mediaRelay": {"addresses": [...]}`],
  [base([REG, { ...TRUNK, mediaRelay: true }], { mediaRelay: { addresses: ["127.0.0.1"] } }), `config error: "sides[1].mediaRelay": the relay needs "mediaRelay": {"portMin", "portMax"}`],
  [base([REG, TRUNK], { mediaRelay: { portMin: 20001, portMax: 20099 } }), `config error: "mediaRelay.portMin": expected an even port (RTP even, RTCP odd), got 20001`],
  [base([REG, TRUNK], { mediaRelay: { portMin: 20000, portMax: 20000 } }), `config error: "mediaRelay.portMax": expected a port above portMin (20000), got 20000`],
  [base([REG, TRUNK], { mediaRelay: { portMin: 20000 } }), `config error: "mediaRelay.portMax": the relay's port range needs both portMin and portMax`],
  [base([REG, { ...TRUNK, mediaRelay: true }], { mediaRelay: { addresses: ["127.0.0.0/8"], portMin: 20000, portMax: 20099 } }),
    `config error: "mediaRelay.addresses[0]": expected an address without a prefix, got "127.0.0.0/8"`],
];

for (const [host, argv] of HOSTS) {
  test(`${host}: each mistake in the B2BUA's sides is refused with the same message, naming the key`, () => {
    for (const [config, want] of CASES) {
      const r = run(argv, JSON.parse(JSON.stringify(config)));
      assert.notEqual(r.status, 0, `${JSON.stringify(config.sides)} was accepted`);
      assert.equal(r.stderr.trim().split("\n").pop(), want, JSON.stringify(config.sides));
      assert.ok(!r.stderr.includes("has space"), "a password is never echoed");
    }
  });

  test(`${host}: a good configuration prints back with its rules, the password masked`, () => {
    const sides = [{ ...REG, routes: [{ prefix: "00", to: "carrier", strip: 2, prepend: "+" }] },
      { ...TRUNK, username: "acme", password: "s3cret", failover: "backup", identity: { pai: "from", number: "+15550100" }, drop: ["X-Internal", "s"], routes: [{ prefix: "", to: "office", strip: 0, prepend: "" }] },
      { name: "backup", role: "trunk", address: "127.0.0.8:5060", transport: "tcp", accept: "digest", username: "peer", password: "pw2", route: "office" }];
    const r = run(argv, base(sides, { listen: ["udp:127.0.0.1:0", "tcp:127.0.0.1:0"] }), ["--print-config"]);
    assert.equal(r.status, 0, r.stderr);
    const shown = JSON.parse(r.stdout).sides;
    assert.equal(shown[1].password, "***");
    assert.ok(!r.stdout.includes("s3cret"));
    assert.deepEqual(shown[0].routes, sides[0].routes);
    assert.deepEqual(shown[1].routes, sides[1].routes);
    assert.equal(shown[1].failover, "backup");
    assert.equal(shown[2].transport, "tcp");
    assert.equal(shown[2].accept, "digest");
    assert.ok(!r.stdout.includes("pw2"), "its password masked too");
    assert.equal(shown[1].transport, undefined);
    assert.deepEqual(shown[1].identity, { pai: "from", number: "+15550100" });
    assert.deepEqual(shown[1].drop, ["X-Internal", "s"]);
    assert.equal(shown[0].identity, undefined);
    assert.equal(shown[0].drop, undefined);
    assert.equal(shown[1].register, undefined);
    assert.equal(shown[1].called, undefined);
    for (const extra of [{ monitor: 30, down: "refuse" }, { monitor: 5 }, { register: true, down: "try" },
      { address: "carrier.test" }, { address: "sip-1.Carrier.test:5070", register: true }, { address: "carrier.test", transport: "tcp", monitor: 30 }]) {
      const c = run(argv, base([REG, { ...TRUNK, ...CREDS, ...extra }], extra.transport ? { listen: ["udp:127.0.0.1:0", "tcp:[::1]:0"] } : {}), ["--print-config"]);
      assert.equal(c.status, 0, c.stderr);
      const got = JSON.parse(c.stdout).sides[1];
      for (const [key, value] of Object.entries(extra)) assert.deepEqual(got[key], value, key);
    }
    const pt = run(argv, base([REG, { ...TRUNK, passthrough: [{ user: "alice", username: "15550001", password: "pt-secret-1" }] }]), ["--print-config"]);
    assert.equal(pt.status, 0, pt.stderr);
    assert.deepEqual(JSON.parse(pt.stdout).sides[1].passthrough, [{ user: "alice", username: "15550001", password: "***" }]);
    assert.ok(!pt.stdout.includes("pt-secret"), "its password masked");
    for (const called of ["to", "p-called-party-id", "ruri"]) {
      const c = run(argv, base([REG, { ...TRUNK, called }]), ["--print-config"]);
      assert.equal(c.status, 0, c.stderr);
      assert.equal(JSON.parse(c.stdout).sides[1].called, called);
    }
  });

  test(`${host}: "register" prints back as given`, () => {
    for (const register of [true, false, { expires: 1800 }]) {
      const r = run(argv, base([REG, { ...TRUNK, ...CREDS, register }]), ["--print-config"]);
      assert.equal(r.status, 0, r.stderr);
      assert.deepEqual(JSON.parse(r.stdout).sides[1].register, register);
      assert.ok(!r.stdout.includes("s3cret"));
    }
  });

  for (const answered of [true, false]) {
    test(`${host}: a trunk with "register" sends its REGISTER to the trunk's address (AOR, Expires, digest answered); SIGTERM de-registers it${answered ? "" : ", waiting at most its grace period for an answer that never comes"}`, async () => {
      const sock = createSocket("udp4");
      await new Promise((ok) => sock.bind(0, "127.0.0.1", ok));
      const port = sock.address().port;
      const got = [];
      sock.on("message", (m, from) => {
        const text = m.toString("latin1");
        if (!text.startsWith("REGISTER ")) return;
        got.push({ t: Date.now(), text });
        if (got.length > 2 && !answered) return; // a registrar gone silent
        const head = text.split("\r\n").filter((l) => /^(via|from|to|call-id|cseq):/i.test(l));
        const answer = got.length === 1
          ? ["SIP/2.0 401 Unauthorized", ...head.map((l) => (/^to:/i.test(l) ? `${l};tag=r1` : l)), `WWW-Authenticate: Digest realm="prov", nonce="abc"`]
          : ["SIP/2.0 200 OK", ...head.map((l) => (/^to:/i.test(l) ? `${l};tag=r1` : l)), `Expires: ${/\r\nExpires: 0\r\n/.test(text) ? 0 : 1800}`];
        sock.send(Buffer.from(answer.join("\r\n") + "\r\nContent-Length: 0\r\n\r\n", "latin1"), from.port, from.address);
      });
      const f = join(dir, `c${++n}.json`);
      // "called", "down" and "passthrough" too: the core must take their texts, or the host stops at start
      writeFileSync(f, JSON.stringify(base([REG, { ...TRUNK, address: `127.0.0.1:${port}`, host: "prov.example", ...CREDS, called: "p-called-party-id",
        register: { expires: 1800 }, down: "refuse", passthrough: [{ user: "alice", username: "15550001", password: "pt-secret-1" }] }])));
      const p = spawn(argv[0], [...argv.slice(1), "--config", f], { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, SIPLING_NO_BUILD: "1" } });
      let err = "";
      let out = "";
      p.stderr.on("data", (d) => (err += d));
      p.stdout.on("data", (d) => (out += d));
      const exited = new Promise((ok) => p.once("exit", (code, signal) => ok({ code, signal, t: Date.now() })));
      try {
        const t0 = Date.now();
        while (got.length < 2 && Date.now() - t0 < 10_000) await new Promise((ok) => setTimeout(ok, 50));
        assert.equal(got.length, 2, `REGISTERs received: ${got.length}; host stderr: ${err}`);
        const [first, second] = got.map((g) => g.text);
        assert.match(first, /^REGISTER sip:prov\.example SIP\/2\.0\r\n/);
        assert.ok(got.every((g) => !g.text.includes("15550001")), "the pass-through account waits for alice (taken by the core, idle)");
        assert.match(first, /\r\nFrom: <sip:acme@prov\.example>;tag=/);
        assert.match(first, /\r\nTo: <sip:acme@prov\.example>\r\n/);
        assert.match(first, /\r\nExpires: 1800\r\n/);
        assert.match(first, /\r\nContact: <sip:acme@127\.0\.0\.1:\d+>\r\n/);
        assert.match(second, /\r\nAuthorization: Digest username="acme", realm="prov", nonce="abc", uri="sip:prov\.example", response="[0-9a-f]{32}"/);
        await new Promise((ok) => setTimeout(ok, 200)); // the 200 reaches the host
        const tStop = Date.now();
        p.kill("SIGTERM");
        const end = await Promise.race([exited, new Promise((ok) => setTimeout(() => ok(null), 8000))]);
        assert.ok(end, `the host did not stop within 8 s; stderr: ${err}`);
        assert.equal(end.code, 0, err);
        // one de-registration: answered, or retransmitted (Timer E) until the host gave up
        assert.ok(answered ? got.length === 3 : got.length >= 4, `${got.length} REGISTERs; stderr: ${err}`);
        for (const g of got.slice(3)) assert.equal(g.text, got[2].text, "a retransmission of the de-registration");
        const dereg = got[2].text;
        assert.match(dereg, /\r\nExpires: 0\r\n/);
        assert.match(dereg, /\r\nContact: <sip:acme@127\.0\.0\.1:\d+>\r\n/);
        assert.equal(dereg.match(/\r\nCall-ID: ([^\r]+)/)[1], first.match(/\r\nCall-ID: ([^\r]+)/)[1], "the registration's own Call-ID (§10.2.2)");
        const logs = out + err;
        assert.match(logs, /"msg":"de-registering".*"registrations":1/);
        const took = end.t - tStop;
        if (answered) assert.ok(took < 1500, `stopped ${took} ms after SIGTERM, once answered`);
        else assert.ok(took >= 1900 && took < 4000, `stopped ${took} ms after SIGTERM: the 2 s grace, not more`);
        assert.ok(!err.includes("s3cret"));
      } finally {
        p.kill("SIGKILL");
        sock.close();
      }
    });
  }
}

// A trunk on TCP registers over TCP: the host opens the connection to the registrar, the REGISTER's Via
// and Contact say TCP, the 200 comes back on that connection (and a stop de-registers on it).
for (const [host, argv] of HOSTS) {
  test(`${host}: a trunk with "transport": "tcp" registers over TCP (Via and Contact say so), and de-registers on it at stop`, async () => {
    const { createServer: tcpServer } = await import("node:net");
    const got = [];
    const srv = tcpServer((c) => {
      let buf = "";
      c.on("data", (d) => {
        buf += d.toString("latin1");
        let end;
        while ((end = buf.indexOf("\r\n\r\n")) >= 0) {
          const text = buf.slice(0, end + 4);
          buf = buf.slice(end + 4);
          if (!text.startsWith("REGISTER ")) continue;
          got.push(text);
          const head = text.split("\r\n").filter((l) => /^(via|from|to|call-id|cseq):/i.test(l)).map((l) => (/^to:/i.test(l) ? `${l};tag=r1` : l));
          c.write(Buffer.from(["SIP/2.0 200 OK", ...head, `Expires: ${/\r\nExpires: 0\r\n/.test(text) ? 0 : 600}`, "Content-Length: 0", "", ""].join("\r\n"), "latin1"));
        }
      });
      c.on("error", () => {});
    });
    await new Promise((ok) => srv.listen(0, "127.0.0.1", ok));
    const port = srv.address().port;
    const f = join(dir, `c${++n}.json`);
    writeFileSync(f, JSON.stringify(base([REG, { ...TRUNK, address: `127.0.0.1:${port}`, host: "prov.example", transport: "tcp", ...CREDS, register: { expires: 600 } }],
      { listen: ["udp:127.0.0.1:0", "tcp:127.0.0.1:0"] })));
    const p = spawn(argv[0], [...argv.slice(1), "--config", f], { stdio: ["ignore", "ignore", "pipe"], env: { ...process.env, SIPLING_NO_BUILD: "1" } });
    let err = "";
    p.stderr.on("data", (d) => (err += d));
    const exited = new Promise((ok) => p.once("exit", (code) => ok(code)));
    try {
      const t0 = Date.now();
      while (got.length < 1 && Date.now() - t0 < 10_000) await new Promise((ok) => setTimeout(ok, 50));
      assert.equal(got.length, 1, `a REGISTER over TCP; stderr: ${err}`);
      assert.match(got[0], /\r\nVia: SIP\/2\.0\/TCP 127\.0\.0\.1:\d+;branch=z9hG4bK/);
      assert.match(got[0], /\r\nContact: <sip:acme@127\.0\.0\.1:\d+;transport=tcp>\r\n/);
      await new Promise((ok) => setTimeout(ok, 300)); // its 200 reaches the host
      p.kill("SIGTERM");
      assert.equal(await exited, 0, err);
      assert.equal(got.length, 2, "the de-registration, on TCP too");
      assert.match(got[1], /\r\nExpires: 0\r\n/);
    } finally {
      p.kill("SIGKILL");
      srv.close();
    }
  });
}
