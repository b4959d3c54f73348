// Real phones against the real server (Node host + bundled core): two baresip 1.0 processes
// (tests/peers/baresip.mjs) register with digest, alice calls bob through the server (her INVITE
// is challenged 407, as every request from the server's own domains is), bob answers, audio flows
// both ways (RTCP sender reports received on both sides), alice hangs up; over UDP, then TCP.
// A phone with a wrong password must fail to register, without a retry loop.
//
// What baresip 1.0 needs from the server (pinned against a stand-in in baresip-digest.test.mjs):
// its libre 1.1.0 reads EVERY WWW-Authenticate / Proxy-Authenticate header of a 401/407 and gives
// up (ENOSYS, "Register: Function not implemented", REGISTER_FAIL; a call closes with the same
// text) as soon as one of them has an algorithm other than MD5, whatever the order. It registers
// only when every challenge is MD5 (or has no algorithm parameter). A server that offers MD5 and
// SHA-256, in either order, cannot register it: the tests with the default configuration fail
// until the server's default challenge is one baresip accepts, and the last test until the host
// takes the "digestAlgorithms" setting.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { root, withServer, settle, HOSTS } from "../integration/harness.mjs";
import { requireBaresip, withBaresip, hangupBoth } from "./baresip.mjs";

requireBaresip();
if (!existsSync(join(root, "build", "node", "sipling.mjs"))) throw new Error("build/node/sipling.mjs missing (npm run build && npm run bundle)");

const REALM = "sipling.test";
const PW = { alice: "secret", bob: "bob-secret" };
const CONFIG = { realm: REALM, users: [{ username: "alice", password: PW.alice }, { username: "bob", password: PW.bob }] };
const hdr = (sip, name) => sip.split("\r\n\r\n")[0].split("\r\n").slice(1)
  .filter((l) => l.toLowerCase().startsWith(name.toLowerCase() + ":")).map((l) => l.slice(l.indexOf(":") + 1).trim());
const callIdOf = (sip) => hdr(sip, "Call-ID")[0] ?? hdr(sip, "i")[0];
/** "INVITE" for a request, "407" for a response. */
const label = (first) => /^SIP\/2\.0 (\d{3})/.exec(first)?.[1] ?? first.split(" ")[0];
const isRequest = (first) => !first.startsWith("SIP/2.0");
/** Drops immediate repeats (UDP retransmissions) from a list of labels. */
const squeeze = (l) => l.filter((x, i) => i === 0 || x !== l[i - 1]);

/** Assertion text: what baresip needs, the phone's own words, and the server's challenge lines. */
async function registerFailure(ph, ev, srv) {
  await settle(srv);
  const challenges = srv.sip("out", /^SIP\/2\.0 401 /).slice(-1).map((m) => hdr(m.sip, "WWW-Authenticate").join("\n  ")).join("");
  return `${ph.name} did not register: ${ev.type} "${ev.param ?? ""}".\n` +
    (/not implemented/i.test(ev.param ?? "") ? "baresip 1.0 (libre 1.1.0) refuses a 401/407 as soon as ONE of its challenges has an algorithm other than MD5, " +
      "in any position; it registers only if every challenge is algorithm=MD5 (or has no algorithm).\n" : "") +
    `server's last challenge:\n  ${challenges}\n` + ph.describe("");
}

/** The traced messages of one Call-ID, as {dir, first, sip}. */
const dialog = (srv, callId) => srv.sip().filter((m) => callIdOf(m.sip) === callId);

for (const host of HOSTS) {
for (const transport of ["udp", "tcp"]) {
  test(`${host}: baresip over ${transport}: both phones register with digest, alice calls bob (407 answered), audio both ways, alice hangs up`, { timeout: 90_000 }, async () => {
    await withServer({ host, config: CONFIG }, async (srv) => {
      const server = `127.0.0.1:${srv.port}`;
      await withBaresip([
        { user: "alice", password: PW.alice, server, transport },
        { user: "bob", password: PW.bob, server, transport },
      ], async (alice, bob) => {
        // --- registration: REGISTER, 401, REGISTER with credentials, 200 for each phone
        for (const ph of [alice, bob]) {
          const ev = await ph.register();
          if (ev.type !== "REGISTER_OK") assert.fail(await registerFailure(ph, ev, srv));
        }
        await settle(srv);
        for (const ph of [alice, bob]) {
          const first = srv.sip("in", /^REGISTER /).find((m) => (hdr(m.sip, "From")[0] ?? hdr(m.sip, "f")[0] ?? "").includes(`sip:${ph.name}@`));
          assert.ok(first, `the server received a REGISTER from ${ph.name}\n${srv.summary()}`);
          const reg = dialog(srv, callIdOf(first.sip));
          assert.deepEqual(reg.slice(0, 4).map((m) => `${m.dir} ${label(m.first)}`), ["in REGISTER", "out 401", "in REGISTER", "out 200"],
            `${ph.name}'s registration in the server's trace`);
          assert.equal(hdr(reg[0].sip, "Authorization").length, 0, "the first REGISTER carries no credentials");
          assert.match(hdr(reg[2].sip, "Authorization")[0] ?? "", new RegExp(`username="${ph.name}"`), "the second REGISTER answers the challenge");
        }

        // --- the call
        const a0 = alice.mark(), b0 = bob.mark();
        await alice.dial(alice.uri("bob"));
        const incoming = await bob.waitFor("CALL_INCOMING", { since: b0, timeoutMs: 8000 });
        assert.match(incoming.peeruri, /^sip:alice@/, "bob sees alice calling");
        await bob.accept();
        await Promise.all([
          alice.waitFor("CALL_ESTABLISHED", { since: a0, timeoutMs: 8000 }),
          bob.waitFor("CALL_ESTABLISHED", { since: b0, timeoutMs: 8000 }),
        ]);
        // Media: baresip emits CALL_RTCP on each RTCP sender report it receives (libre sends the
        // first ~5 s into the call); its rtcp_stats are libre's: tx.sent = RTP packets this side
        // sent, rx.sent = RTP packets it received from the other side (libre rtcp_stats()).
        const rtcp = (ph, since) => ph.waitFor((e) => e.type === "CALL_RTCP" && e.param === "audio" && e.rtcp_stats?.rx?.sent > 0, { since, timeoutMs: 15_000 });
        const [ra, rb] = await Promise.all([rtcp(alice, a0), rtcp(bob, b0)]);
        assert.ok(ra.rtcp_stats.tx.sent > 0 && rb.rtcp_stats.tx.sent > 0,
          `both sides sent and received RTP: alice ${JSON.stringify(ra.rtcp_stats)}, bob ${JSON.stringify(rb.rtcp_stats)}`);
        await hangupBoth(alice, bob);
        await settle(srv);

        // --- the server's trace of the call. Alice is the client of every transaction of the
        // call (INVITE, ACK, BYE), bob of none: the requests in and the responses out are alice's
        // leg, the requests out and the responses in are bob's.
        const invite = srv.sip("in", /^INVITE sip:bob@/)[0];
        assert.ok(invite, "the server received alice's INVITE");
        const call = dialog(srv, callIdOf(invite.sip));
        const aliceLeg = squeeze(call.filter((m) => (m.dir === "in") === isRequest(m.first)).map((m) => label(m.first)));
        const bobLeg = squeeze(call.filter((m) => (m.dir === "out") === isRequest(m.first)).map((m) => label(m.first)));
        assert.deepEqual(aliceLeg, ["INVITE", "407", "ACK", "INVITE", "100", "180", "200", "ACK", "BYE", "200"], "alice's leg in the server's trace");
        assert.deepEqual(bobLeg.filter((l) => l !== "100"), ["INVITE", "180", "200", "ACK", "BYE", "200"], "bob's leg in the server's trace");
        const invites = call.filter((m) => m.dir === "in" && m.first.startsWith("INVITE"));
        assert.equal(hdr(invites[0].sip, "Proxy-Authorization").length, 0, "the first INVITE carries no credentials");
        assert.match(hdr(invites.at(-1).sip, "Proxy-Authorization")[0] ?? "", /username="alice"/, "alice answers the 407");
      });
    });
  });
}

test(`${host}: baresip with a wrong password fails to register and stops (no retry loop)`, { timeout: 60_000 }, async () => {
  await withServer({ host, config: CONFIG }, async (srv) => {
    await withBaresip([{ user: "alice", password: "not-the-password", server: `127.0.0.1:${srv.port}`, name: "alice-wrong" }], async (ph) => {
      const ev = await ph.register();
      assert.equal(ev.type, "REGISTER_FAIL", ph.describe("registered with a wrong password"));
      if (/not implemented/i.test(ev.param ?? "")) {
        assert.fail(await registerFailure(ph, ev, srv) + "\n(baresip refused the challenge itself: the password was never tried)");
      }
      assert.equal(ev.param, "401 Unauthorized", ph.describe("fails on the server's 401"));
      // libre's loop guard ends an attempt after 16 consecutive 401s; its next attempt comes
      // 30-60 s later (sipreg failwait). Within 2 s the REGISTERs must have stopped.
      await sleep(2000);
      await settle(srv);
      const n = srv.sip("in", /^REGISTER /).length;
      await sleep(1500);
      await settle(srv);
      const m = srv.sip("in", /^REGISTER /).length;
      assert.ok(n >= 2 && n <= 16, `the password was tried, a bounded number of times (${n} REGISTERs)\n${srv.summary()}`);
      assert.equal(m, n, `no REGISTER after the failure (${n}, then ${m} 1.5 s later)\n${srv.summary()}`);
    });
  });
});

test(`${host}: the default challenge is MD5 only; offering SHA-256 too (in either order) makes baresip 1.0 give up`, { timeout: 30_000 }, async () => {
  await withServer({ host, config: CONFIG }, async (srv) => {
    await withBaresip([{ user: "alice", password: PW.alice, server: `127.0.0.1:${srv.port}` }], async (ph) => {
      const ev = await ph.register();
      if (ev.type !== "REGISTER_OK") assert.fail(await registerFailure(ph, ev, srv));
      await settle(srv);
      const ch = srv.sip("out", /^SIP\/2\.0 401 /).map((m) => hdr(m.sip, "WWW-Authenticate"));
      assert.equal(ch.length, 1, "one 401");
      assert.deepEqual(ch[0].map((v) => /algorithm=([^,\s]+)/i.exec(v)?.[1]), ["MD5"], "the default 401 offers MD5 only");
    });
  });
  for (const digestAlgorithms of [["MD5", "SHA-256"], ["SHA-256", "MD5"]]) {
    await withServer({ host, config: { ...CONFIG, digestAlgorithms } }, async (srv) => {
      await withBaresip([{ user: "alice", password: PW.alice, server: `127.0.0.1:${srv.port}` }], async (ph) => {
        const ev = await ph.register();
        assert.equal(ev.type, "REGISTER_FAIL", `${JSON.stringify(digestAlgorithms)}: baresip 1.0 refuses a challenge with a SHA-256 line`);
        assert.match(ev.param ?? "", /not implemented/i);
      });
    });
  }
});
}
