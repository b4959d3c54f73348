// Kamailio (Debian 5.6) as a service provider's proxy in front of the provider's phone, the B2BUA's trunk
// side pointing at it: a phone registered on our registrar side calls out; Kamailio challenges the
// B2BUA's INVITE with 407 (qop=auth); the B2BUA answers with the trunk's credentials (RFC 3261 §22.3)
// and the call goes through Kamailio to a SIPp UAS and back, and is hung up through Kamailio's
// Record-Route. The phone never sees the challenge. Kamailio is started and stopped by the test, on
// loopback (127.0.0.9), with tests/peers/kamailio-provider.cfg.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { setTimeout as sleep } from "node:timers/promises";
import { startServer, sipp, describe, freePort, scratch, sf, settle, HOSTS } from "../integration/harness.mjs";
import { startKamailio, PROVIDER_IP, ACCOUNT } from "./kamailio.mjs";

if (spawnSync("sipp", ["-v"], { encoding: "utf8" }).status !== 99) throw new Error("sipp is not installed");
const ok = (r) => assert.equal(r.code, 0, describe(r));
const hdrs = (sip, name) => sip.split("\r\n\r\n")[0].split("\r\n").slice(1)
  .filter((l) => l.toLowerCase().startsWith(name.toLowerCase() + ":")).map((l) => l.slice(name.length + 1).trim());

for (const host of HOSTS) test(`${host}: phone → B2BUA → Kamailio (407, answered with the trunk's credentials) → SIPp UAS, and the BYE back through it`, { timeout: 60_000 }, async () => {
  const kport = await freePort(), uport = await freePort();
  const kam = await startKamailio("kamailio-provider.cfg", kport, { UAS: `${PROVIDER_IP}:${uport}` });
  const srv = await startServer({
    host,
    tcp: false,
    config: {
      board: "gateway", mode: "b2bua", domains: ["127.0.0.1"],
      sides: [
        { name: "office", role: "registrar", route: "carrier" },
        { name: "carrier", role: "trunk", address: `${PROVIDER_IP}:${kport}`, route: "office", username: ACCOUNT.user, password: ACCOUNT.password },
      ],
    },
  });
  try {
    const phone = await freePort();
    const csv = scratch("kam-phone.csv", "SEQUENTIAL\nsipp;127.0.0.1\n");
    ok(await sipp([`127.0.0.1:${srv.port}`, "-sf", sf("register.xml"), "-inf", csv, "-p", String(phone), "-mp", String(await freePort()),
      "-m", "1", "-timeout", "5s", "-timeout_error"], { name: "reg", timeoutMs: 8000 }));
    const callee = sipp(["-sf", sf("uas.xml"), "-i", PROVIDER_IP, "-p", String(uport), "-mp", String(await freePort()), "-m", "1",
      "-timeout", "15s", "-timeout_error"], { name: "provider-phone", ip: PROVIDER_IP, timeoutMs: 20_000 });
    await sleep(250);
    ok(await sipp([`127.0.0.1:${srv.port}`, "-sf", sf("b2bua_uac.xml"), "-p", String(phone), "-mp", String(await freePort()), "-m", "1",
      "-s", "15551234", "-d", "300", "-timeout", "15s", "-timeout_error"], { name: "phone", timeoutMs: 20_000 }));
    ok(await callee);
    await settle(srv);
    const invites = srv.sip("out").filter((m) => m.peer.endsWith(`${PROVIDER_IP}:${kport}`) && /^INVITE /.test(m.first));
    assert.equal(invites.length, 2, `the INVITE, then again with credentials\n${srv.summary().slice(-4000)}`);
    assert.deepEqual(hdrs(invites[0].sip, "Proxy-Authorization"), []);
    const pa = hdrs(invites[1].sip, "Proxy-Authorization")[0];
    assert.match(pa, new RegExp(`^Digest username="acme", realm="carrier\\.example", nonce="[^"]+", uri="sip:15551234@${PROVIDER_IP}:${kport}", response="[0-9a-f]{32}", algorithm=MD5, cnonce="[0-9a-f]{8}", qop=auth, nc=00000001`));
    assert.equal(hdrs(invites[1].sip, "Call-ID")[0], hdrs(invites[0].sip, "Call-ID")[0], "the same Call-ID");
    assert.deepEqual(hdrs(invites[1].sip, "CSeq"), ["2 INVITE"]);
    const got407 = srv.sip("in").filter((m) => m.peer.endsWith(`${PROVIDER_IP}:${kport}`) && /^SIP\/2\.0 407/.test(m.first));
    assert.equal(got407.length >= 1, true, "Kamailio challenged");
    assert.equal(srv.sip("out").filter((m) => m.peer.endsWith(`:${phone}`) && /^SIP\/2\.0 407/.test(m.first)).length, 0, "the phone never saw the challenge");
    assert.match(kam.log, /authorized INVITE sip:15551234@127\.0\.0\.9:\d+ for acme/, "Kamailio accepted our credentials");
    const bye = srv.sip("out").filter((m) => m.peer.endsWith(`${PROVIDER_IP}:${kport}`) && /^BYE /.test(m.first));
    assert.equal(bye.length >= 1, true, "the BYE went to the provider's proxy");
    assert.match(hdrs(bye[0].sip, "Route")[0] ?? "", new RegExp(`^<sip:${PROVIDER_IP.replaceAll(".", "\\.")}:${kport};lr`), "through Kamailio's Record-Route");
  } catch (e) {
    e.message += `\n--- kamailio ---\n${kam.log.slice(-3000)}\n--- server ---\n${srv.summary().slice(-4000)}`;
    throw e;
  } finally {
    await srv.stop();
    await kam.stop();
  }
});
