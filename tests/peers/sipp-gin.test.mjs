// SIPconnect registration mode (RFC 6140) against SIPp as the provider (issue 13: "a SIPp provider
// scenario that checks the REGISTER (no user part, bnc, gin in Require and Proxy-Require) and then sends
// calls to numbers of the block built from the template"), on the Node and the native host:
//   - SIPp at 127.0.0.9 takes the B2BUA's trunk REGISTER (tests/sipp/provider_gin_registrar.xml: the call
//     fails unless the Contact has no user part and carries bnc, Require and Proxy-Require name gin and
//     Supported names path) and answers 200 for 600 s;
//   - then, from the same address, it calls +15550001 at the registered template: INVITE
//     sip:+15550001@OUR_ADDRESS (tests/sipp/provider_gin_uac.xml); the trunk's routing rule makes it ring
//     a phone registered on our registrar side (SIPp UAS), which answers; the provider hangs up.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { setTimeout as sleep } from "node:timers/promises";
import { startServer, sipp, describe, freePort, scratch, sf, settle, HOSTS } from "../integration/harness.mjs";

if (spawnSync("sipp", ["-v"], { encoding: "utf8" }).status !== 99) throw new Error("sipp is not installed");
const ok = (r) => assert.equal(r.code, 0, describe(r));
const hdr = (sip, name) => sip.split("\r\n\r\n")[0].split("\r\n").slice(1)
  .filter((l) => l.toLowerCase().startsWith(name.toLowerCase() + ":")).map((l) => l.slice(name.length + 1).trim());
const PROVIDER_IP = "127.0.0.9";

async function until(pred, ms, what) {
  const t0 = Date.now();
  while (!pred()) {
    if (Date.now() - t0 > ms) throw new Error(`timeout (${ms} ms) waiting for ${what}`);
    await sleep(50);
  }
}

for (const host of HOSTS) test(`${host}: SIPp as the provider checks our gin REGISTER, then calls +15550001 at the template; a local phone answers`, { timeout: 60_000 }, async () => {
  const pport = await freePort();
  // the provider's registrar first (it waits for our REGISTER), then the B2BUA
  const registrar = sipp(["-sf", sf("provider_gin_registrar.xml"), "-p", String(pport), "-m", "1", "-timeout", "15s", "-timeout_error"],
    { name: "gin-registrar", ip: PROVIDER_IP, timeoutMs: 20_000 });
  await sleep(300);
  const srv = await startServer({
    host, tcp: false,
    config: {
      board: "gateway", mode: "b2bua", domains: ["127.0.0.1"],
      sides: [
        { name: "office", role: "registrar", route: "carrier" },
        { name: "carrier", role: "trunk", address: `${PROVIDER_IP}:${pport}`, host: "carrier.example", route: "office",
          username: "acme", password: "s3cret", register: { expires: 600, mode: "gin", block: "+155500xx" },
          routes: [{ prefix: "+15550001", to: "office", strip: 9, prepend: "sipp" }] },
      ],
    },
  });
  try {
    ok(await registrar);
    await until(() => srv.logs.some((o) => o.msg === "trunk-reg" && o.detail === "registered"), 5000, "the trunk registered");
    const regs = srv.sip("out").filter((m) => m.peer.endsWith(`${PROVIDER_IP}:${pport}`) && /^REGISTER /.test(m.first));
    assert.equal(regs.length, 1);
    assert.equal(regs[0].first, "REGISTER sip:carrier.example SIP/2.0");
    assert.deepEqual(hdr(regs[0].sip, "To"), ["<sip:acme@carrier.example>"]);
    assert.match(hdr(regs[0].sip, "Contact")[0], /^<sip:127\.0\.0\.1:\d+;bnc>$/);

    // a phone on our registrar side, then the provider calls the number at the template
    const phone = await freePort();
    const csv = scratch("gin-phone.csv", "SEQUENTIAL\nsipp;127.0.0.1\n");
    ok(await sipp([`127.0.0.1:${srv.port}`, "-sf", sf("register.xml"), "-inf", csv, "-p", String(phone), "-mp", String(await freePort()),
      "-m", "1", "-timeout", "5s", "-timeout_error"], { name: "gin-reg", timeoutMs: 8000 }));
    const uas = sipp(["-sf", sf("uas.xml"), "-p", String(phone), "-mp", String(await freePort()), "-m", "1", "-timeout", "15s", "-timeout_error"],
      { name: "gin-phone", timeoutMs: 20_000 });
    await sleep(250);
    ok(await sipp([`127.0.0.1:${srv.port}`, "-sf", sf("provider_gin_uac.xml"), "-s", "+15550001", "-p", String(pport),
      "-mp", String(await freePort()), "-m", "1", "-d", "300", "-timeout", "15s", "-timeout_error"], { name: "gin-provider", ip: PROVIDER_IP, timeoutMs: 20_000 }));
    ok(await uas);
    await settle(srv);
    const inv = srv.sip("in").filter((m) => m.peer.endsWith(`${PROVIDER_IP}:${pport}`) && /^INVITE /.test(m.first));
    assert.equal(inv.length, 1);
    assert.equal(inv[0].first, `INVITE sip:+15550001@127.0.0.1:${srv.port} SIP/2.0`, "the template with the number as its user part");
    const toPhone = srv.sip("out").filter((m) => m.peer.endsWith(`:${phone}`) && /^INVITE /.test(m.first));
    assert.equal(toPhone.length, 1, "the call reached the phone");
    assert.match(toPhone[0].first, new RegExp(`^INVITE sip:sipp@127\\.0\\.0\\.1:${phone}`));
  } catch (e) {
    e.message += `\n--- server ---\n${srv.summary().slice(-4000)}`;
    throw e;
  } finally {
    await srv.stop();
  }
});
