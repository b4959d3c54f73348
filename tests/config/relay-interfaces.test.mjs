// The media relay's interfaces (issue 14: rtpengine's interface=) on the two hosts that relay: the Node
// host (host/shared/config.mjs) and the native server binary (host/c/config.c) give the same one-line
// message for the same mistake in "mediaRelay.addresses" ("[NAME/]ADDRESS[!ADVERTISED]"),
// "mediaRelay.networks" ("CIDR NAME") and a side's "relayInterface", naming the key; good configurations
// print back as written.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const dir = mkdtempSync(join(tmpdir(), "sipling-relayif-"));
const HOSTS = [["node", [process.execPath, join(root, "host/node/cli.mjs")]], ["native", [join(root, "build/server/sipling")]]];
const relay = (more) => ({ mode: "always", portMin: 20000, portMax: 20099, ...more });
const proxy = (mediaRelay) => ({ listen: ["udp:127.0.0.1:0"], mediaRelay });
const b2bua = (side, mediaRelay) => ({
  board: "b2bua", mode: "b2bua", listen: ["udp:127.0.0.1:0"], domains: ["127.0.0.1"],
  sides: [{ name: "phones", role: "registrar", route: "carrier", ...side }, { name: "carrier", role: "trunk", route: "phones", address: "127.0.0.5:5060", mediaRelay: true }],
  mediaRelay: { portMin: 20000, portMax: 20099, ...mediaRelay },
});

let n = 0;
function run(argv, config, more = []) {
  const f = join(dir, `c${++n}.json`);
  writeFileSync(f, JSON.stringify(config));
  // the native binary is built for one board: the B2BUA's configurations go to build/b2bua/sipling
  if (argv.length === 1 && config.board === "b2bua") argv = [join(root, "build/b2bua/sipling")];
  return spawnSync(argv[0], [...argv.slice(1), "--config", f, ...more], { encoding: "utf8", timeout: 20_000, env: { ...process.env, SIPLING_NO_BUILD: "1" } });
}

const SYNTAX = `expected "[NAME/]ADDRESS[!ADVERTISED]" (rtpengine's interface syntax: "10.0.0.5", "10.0.0.5!203.0.113.5", "trunk/10.0.0.5!203.0.113.5"; NAME letters, digits, - and _, 1..16)`;
const NETWORK = `expected "CIDR NAME": a network and the name of a relay interface ("192.168.0.0/16 inside")`;
/** [configuration, the error line every host prints] */
const CASES = [
  [proxy(relay({ addresses: ["10.0.0.5/24"] })), `config error: "mediaRelay.addresses[0]": expected an address without a prefix, got "10.0.0.5/24"`],
  [proxy(relay({ addresses: ["10.0.0.5!"] })), `config error: "mediaRelay.addresses[0]": ${SYNTAX}, got "10.0.0.5!"`],
  [proxy(relay({ addresses: ["10.0.0.5!203.0.113.5!1.2.3.4"] })), `config error: "mediaRelay.addresses[0]": ${SYNTAX}, got "10.0.0.5!203.0.113.5!1.2.3.4"`],
  [proxy(relay({ addresses: ["in side/10.0.0.5"] })), `config error: "mediaRelay.addresses[0]": ${SYNTAX}, got "in side/10.0.0.5"`],
  [proxy(relay({ addresses: ["10.0.0.5!::1"] })), `config error: "mediaRelay.addresses[0]": expected the advertised address of the bound address's family (IPv4), got "10.0.0.5!::1"`],
  [proxy(relay({ addresses: ["10.0.0.5", "10.0.0.6"] })), `config error: "mediaRelay.addresses[1]": the interface without a NAME already has an IPv4 address, got "10.0.0.6"`],
  [proxy(relay({ addresses: ["a/10.0.0.1", "b/10.0.0.2", "c/10.0.0.3", "d/10.0.0.4", "e/10.0.0.5"] })),
    `config error: "mediaRelay.addresses[4]": at most 4 relay interfaces (names), got a fifth: "e/10.0.0.5"`],
  [proxy(relay({ addresses: ["a/10.0.0.1", "a/10.0.0.2"] })), `config error: "mediaRelay.addresses[1]": interface "a" already has an IPv4 address, got "a/10.0.0.2"`],
  [proxy(relay({ addresses: ["10.0.0.1"], networks: ["10.0.0.0/8"] })), `config error: "mediaRelay.networks[0]": ${NETWORK}, got "10.0.0.0/8"`],
  [proxy(relay({ addresses: ["10.0.0.1"], networks: ["10.0.0.0/33 x"] })), `config error: "mediaRelay.networks[0]": ${NETWORK}, got "10.0.0.0/33 x"`],
  [proxy(relay({ addresses: ["10.0.0.1", "in/192.168.0.1"], networks: ["192.168.0.0/16 inside"] })),
    `config error: "mediaRelay.networks[0]": expected the name of a relay interface of "mediaRelay.addresses" ("in"), got "inside"`],
  [b2bua({ relayInterface: "lan" }, { addresses: ["127.0.0.1", "wan/127.0.0.2"] }),
    `config error: "sides[0].relayInterface": expected the name of a relay interface of "mediaRelay.addresses" ("wan"), got "lan"`],
  [b2bua({ relayInterface: "lan" }, { addresses: ["127.0.0.1"] }),
    `config error: "sides[0].relayInterface": expected the name of a relay interface of "mediaRelay.addresses" (none named), got "lan"`],
  [b2bua({ relayInterface: 1 }, { addresses: ["127.0.0.1"] }),
    `config error: "sides[0].relayInterface": expected the NAME of a relay interface (letters, digits, - and _, 1..16), got 1`],
];

for (const [host, argv] of HOSTS) {
  test(`${host}: each mistake in the relay's interfaces is refused with the same one-line message, naming the key`, () => {
    for (const [config, want] of CASES) {
      const r = run(argv, config, ["--print-config"]);
      assert.notEqual(r.status, 0, `${JSON.stringify(config)} was accepted`);
      assert.equal(r.stderr.trim().split("\n").pop(), want, JSON.stringify(config));
    }
  });

  test(`${host}: interfaces with advertised addresses, networks and a side's relayInterface are accepted and printed back`, () => {
    const p = relay({ addresses: ["10.0.0.5!203.0.113.5", "::1", "inside/192.168.0.1", "inside/fd00::1!fd00::2"], networks: ["192.168.0.0/16 inside", "fd00::/8 inside"] });
    const r = run(argv, proxy(p), ["--print-config"]);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout).mediaRelay.addresses, p.addresses);
    assert.deepEqual(JSON.parse(r.stdout).mediaRelay.networks, p.networks);
    const b = run(argv, b2bua({ relayInterface: "lan" }, { addresses: ["wan/127.0.0.1!127.0.0.9", "lan/127.0.0.2"] }), ["--print-config"]);
    assert.equal(b.status, 0, b.stderr);
    assert.equal(JSON.parse(b.stdout).sides[0].relayInterface, "lan");
  });
}
