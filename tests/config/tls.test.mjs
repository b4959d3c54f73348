// The tls.* keys (host/shared/config.json) on the Node host and the native server binary: a "tls:"
// listen address without tls.certificate or tls.key, tls.verifyClient without tls.ca, a file that cannot
// be read, one that is no PEM certificate or key, and a key that is not the certificate's are each refused
// at start (exit 2) with one line naming the key (and the file); --print-config shows the keys. The
// WASI host's refusals are in tests/hosts/wasi-config.test.mjs, the firmware's below (config.mjs).
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { HOSTS } from "../integration/harness.mjs";
import { load } from "../../host/shared/config.mjs";
import { SCHEMA } from "../../host/firmware/abi.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const dir = mkdtempSync(join(tmpdir(), "sipling-tlscfg-"));
after(() => rmSync(dir, { recursive: true, force: true }));
const ARGV = { node: [process.execPath, join(root, "host/node/cli.mjs")], native: [join(root, "build/server/sipling")] };
const f = (n) => join(dir, n);

function openssl(...args) {
  const r = spawnSync("openssl", args, { cwd: dir, encoding: "utf8", timeout: 30_000 });
  assert.equal(r.status, 0, `openssl ${args.join(" ")}:\n${r.stderr}`);
}
openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "a.key", "-out", "a.pem", "-days", "2", "-subj", "/CN=127.0.0.1");
openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "b.key", "-out", "b.pem", "-days", "2", "-subj", "/CN=other");
writeFileSync(f("junk.pem"), "not a PEM file\n");

let n = 0;
/** Runs `host` on a configuration whose listen is UDP plus one TLS address; {status, stderr, stdout}. */
function run(host, tls, { listen = ["udp:127.0.0.1:0", "tls:127.0.0.1:0"], extra = [] } = {}) {
  const file = f(`c${++n}.json`);
  writeFileSync(file, JSON.stringify({ listen, ...(tls === undefined ? {} : { tls }) }));
  const [exe, ...args] = ARGV[host];
  return spawnSync(exe, [...args, "--config", file, ...extra], { encoding: "utf8", timeout: 20_000, env: { ...process.env, SIPLING_NO_BUILD: "1" } });
}
const lastLine = (r) => r.stderr.trim().split("\n").pop();

for (const host of HOSTS) {
  test(`${host}: a tls listen address needs tls.certificate and tls.key; verifyClient needs tls.ca (refused naming the key)`, () => {
    for (const [tls, want] of [
      [undefined, `config error: "tls.certificate": a "tls:" listen address (listen[1]) needs "tls.certificate" (a PEM file)`],
      [{ certificate: f("a.pem") }, `config error: "tls.key": a "tls:" listen address (listen[1]) needs "tls.key" (a PEM file)`],
      [{ certificate: f("a.pem"), key: f("a.key"), verifyClient: true }, `config error: "tls.verifyClient": verifying clients needs "tls.ca" (the CAs their certificates are checked against)`],
    ]) {
      const r = run(host, tls);
      assert.equal(r.status, 2, `${JSON.stringify(tls)}: status ${r.status}\n${r.stderr}`);
      assert.equal(lastLine(r), want);
    }
  });

  test(`${host}: an unreadable or invalid PEM file is refused at start naming the key and the file, never a crash`, () => {
    const ok = { certificate: f("a.pem"), key: f("a.key") };
    for (const [tls, key, re] of [
      [{ ...ok, certificate: f("missing.pem") }, "tls.certificate", /cannot read "[^"]*missing\.pem": /],
      [{ ...ok, key: f("missing.key") }, "tls.key", /cannot read "[^"]*missing\.key": /],
      [{ ...ok, ca: f("missing-ca.pem") }, "tls.ca", /cannot read "[^"]*missing-ca\.pem": /],
      [{ ...ok, certificate: f("junk.pem") }, "tls.certificate", /"[^"]*junk\.pem"/],
      [{ ...ok, key: f("junk.pem") }, "tls.key", /"[^"]*junk\.pem"/],
      [{ ...ok, ca: f("junk.pem") }, "tls.ca", /"[^"]*junk\.pem"/],
      [{ ...ok, key: f("b.key") }, "tls.key", /"[^"]*b\.key"/],
    ]) {
      const r = run(host, tls);
      assert.equal(r.status, 2, `${JSON.stringify(tls)}: status ${r.status}\n${r.stderr}`);
      const line = lastLine(r);
      assert.ok(line.startsWith(`config error: "${key}": `), `${JSON.stringify(tls)}: ${line}`);
      assert.match(line, re);
      assert.doesNotMatch(r.stderr, /\n\s+at |Segmentation|Aborted/, "no stack trace, no crash");
    }
  });

  test(`${host}: a malformed tls.peers entry, or one requiring a certificate without tls.ca, is refused naming the entry`, () => {
    const ok = { certificate: f("a.pem"), key: f("a.key") };
    const expected = `expected "CIDR require|none [NAME]" (an IPv4 or IPv6 address or CIDR, then require or none, then optionally a DNS name: "192.0.2.10 require sip.carrier.example")`;
    for (const bad of ["192.0.2.10", "192.0.2.10 maybe", "192.0.2.0/33 require", "carrier.example require", "192.0.2.10 require bad_name", "192.0.2.10 none a.example extra", "192.0.2.10  require", "::1 require -x.example"]) {
      const r = run(host, { ...ok, ca: f("a.pem"), peers: ["10.0.0.0/8 none", bad] });
      assert.equal(r.status, 2, `${JSON.stringify(bad)}: status ${r.status}\n${r.stderr}`);
      assert.equal(lastLine(r), `config error: "tls.peers[1]": ${expected}, got ${JSON.stringify(bad)}`);
    }
    const r = run(host, { ...ok, peers: ["10.0.0.0/8 none", "2001:db8::/32 require carrier.example"] });
    assert.equal(r.status, 2, r.stderr);
    assert.equal(lastLine(r), `config error: "tls.peers[1]": requiring a client certificate needs "tls.ca" (the CAs it is checked against)`);
    const good = run(host, { ...ok, ca: f("a.pem"), peers: ["10.0.0.0/8 none", "2001:db8::/32 require carrier.example", "192.0.2.10 none sip.carrier.example"] }, { extra: ["--print-config"] });
    assert.equal(good.status, 0, good.stderr);
    assert.deepEqual(JSON.parse(good.stdout).tls.peers, ["10.0.0.0/8 none", "2001:db8::/32 require carrier.example", "192.0.2.10 none sip.carrier.example"]);
  });

  test(`${host}: --print-config shows the tls keys and their defaults`, () => {
    const r = run(host, { certificate: f("a.pem"), key: f("a.key") }, { extra: ["--print-config"] });
    assert.equal(r.status, 0, r.stderr);
    const cfg = JSON.parse(r.stdout);
    assert.deepEqual(cfg.listen, ["udp:127.0.0.1:0", "tls:127.0.0.1:0"]);
    assert.equal(cfg.tls.certificate, f("a.pem"));
    assert.equal(cfg.tls.key, f("a.key"));
    assert.equal(cfg.tls.verifyClient, false);
    assert.equal(cfg.tls.verifyServer, true);
  });
}

test("the firmware (the shared walker for its host) refuses a tls listen address and the tls keys by name", () => {
  const spec = { schema: SCHEMA, host: "firmware", name: "sipling-firmware" };
  assert.throws(() => load(["--listen", "tls:127.0.0.1:5061"], spec), { message: /"--listen": expected "udp:HOST:PORT" \(the firmware host supports UDP only\)/ });
  const file = f("fw.json");
  writeFileSync(file, JSON.stringify({ listen: ["udp:127.0.0.1:5060"], tls: { certificate: f("a.pem") } }));
  assert.throws(() => load(["--config", file], spec), { message: /"tls.certificate": not supported by the firmware host/ });
});
