// A real phone on the B2BUA's registrar side: baresip 1.0 (tests/peers/baresip.mjs) registers with digest
// at the B2BUA's registrar (board gateway, "mode": "b2bua"), calls out through the trunk side to a
// provider played by SIPp at 127.0.0.9, and takes the provider's call in; each call is established and
// hung up (by the phone outbound, by the provider inbound). Node and native hosts.
import { test } from "node:test";
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { withServer, sipp, describe, freePort, sf, settle, HOSTS } from "../integration/harness.mjs";
import { requireBaresip, withBaresip } from "./baresip.mjs";

requireBaresip();
const TRUNK_IP = "127.0.0.9";
const ok = (r) => assert.equal(r.code, 0, describe(r));
const config = (trunkPort) => ({
  board: "gateway", mode: "b2bua", domains: ["127.0.0.1"], realm: "sipling.test", users: [{ username: "alice", password: "alice-pw" }],
  sides: [
    { name: "office", role: "registrar", route: "carrier" },
    { name: "carrier", role: "trunk", address: `${TRUNK_IP}:${trunkPort}`, route: "office" },
  ],
});

for (const host of HOSTS) {
  test(`${host}: baresip registers on the B2BUA's registrar side, calls out through the trunk and takes the provider's call`, { timeout: 90_000 }, async () => {
    const trunkPort = await freePort();
    await withServer({ host, tcp: false, config: config(trunkPort) }, async (srv) => {
      await withBaresip([{ user: "alice", password: "alice-pw", server: `127.0.0.1:${srv.port}` }], async (alice) => {
        const reg = await alice.register();
        assert.equal(reg.type, "REGISTER_OK", alice.describe("register"));
        // out: alice -> B2BUA -> the provider (SIPp UAS), answered; alice hangs up
        const provider = sipp(["-sf", sf("uas.xml"), "-i", TRUNK_IP, "-p", String(trunkPort), "-mp", String(await freePort()), "-m", "1",
          "-timeout", "20s", "-timeout_error"], { name: "provider", ip: TRUNK_IP, timeoutMs: 25_000 });
        await sleep(300);
        let since = alice.mark();
        await alice.dial(`sip:15551234@127.0.0.1:${srv.port}`);
        await alice.waitFor("CALL_ESTABLISHED", { timeoutMs: 10_000, since });
        await sleep(500);
        since = alice.mark();
        await alice.hangup();
        await alice.waitFor("CALL_CLOSED", { timeoutMs: 10_000, since });
        ok(await provider);
        await settle(srv);
        const out = srv.sip("out").filter((m) => m.peer.endsWith(`${TRUNK_IP}:${trunkPort}`));
        assert.equal(out.filter((m) => /^INVITE sip:15551234@127\.0\.0\.9:\d+ /.test(m.first)).length, 1, "the call went out through the trunk side");
        assert.ok(out.some((m) => /^BYE /.test(m.first)), "alice's hang-up carried to the provider");
        // in: the provider calls alice; she answers; the provider hangs up after 1 s
        since = alice.mark();
        const caller = sipp([`127.0.0.1:${srv.port}`, "-sf", sf("uac_invite.xml"), "-s", "alice", "-i", TRUNK_IP, "-p", String(trunkPort),
          "-mp", String(await freePort()), "-m", "1", "-d", "1000", "-timeout", "20s", "-timeout_error"], { name: "provider-call", ip: TRUNK_IP, timeoutMs: 25_000 });
        await alice.waitFor("CALL_INCOMING", { timeoutMs: 10_000, since });
        await alice.accept();
        await alice.waitFor("CALL_ESTABLISHED", { timeoutMs: 10_000, since });
        await alice.waitFor("CALL_CLOSED", { timeoutMs: 15_000, since });
        ok(await caller);
      });
    });
  });
}
