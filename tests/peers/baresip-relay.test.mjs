// Real phones through the B2BUA's media relay (issue 14): two baresip 1.0 processes with audio (a 440 Hz
// sine as the microphone, G.711 at 20 ms): alice on the registrar side, bob as the provider on the trunk
// side (a trunk is an address: bob's, 127.0.0.9), the trunk's media relayed ("mediaRelay": true). alice
// calls bob; both send audio, and each side's RTCP reports reach the other through the relay; neither
// phone's SDP reaches the other (each sees the relay's ports); alice puts bob on hold and resumes
// (re-INVITEs with a=sendonly and back), and bob's audio reaches alice again after the resume; at the
// hang-up each relay leg's usage record counts what its phone sent. Node and native hosts.
// bob's SDP names 127.0.0.1 (netIp), where his media come from: baresip binds RTP to the wildcard
// address, so on loopback it sends from 127.0.0.1 whatever its SIP address, and the relay never latches
// a source at another address than the SDP's when that one is concrete, not private (RTP bleed: the
// latching rule in host/c/relay.c and host/node/relay.ts).
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { withServer, settle, scratch, relayBase, HOSTS } from "../integration/harness.mjs";
import { requireBaresip, withBaresip, hangupBoth } from "./baresip.mjs";

requireBaresip();

const bodyOf = (sip) => sip.slice(sip.indexOf("\r\n\r\n") + 4);
const rtcp = (ph, since, pred = () => true) =>
  ph.waitFor((e) => e.type === "CALL_RTCP" && e.param === "audio" && e.rtcp_stats?.rx?.sent > 0 && pred(e), { since, timeoutMs: 20_000 });

for (const host of HOSTS) {
  test(`${host}: baresip to baresip through the relay: audio both ways, hold and resume, counters at the end`, { timeout: 120_000 }, async () => {
    const base = await relayBase({ pairs: 4, lo: 40000, span: 5000 });
    const usage = scratch(`baresip-relay-${host}.jsonl`, "");
    await withBaresip([{ name: "bob", user: "bob", password: "x", server: "127.0.0.9:9", ip: "127.0.0.9", netIp: "127.0.0.1", regint: 0 }], async (bob) => {
      const config = {
        board: "gateway", mode: "b2bua", domains: ["127.0.0.1"], usageLog: usage,
        sides: [
          { name: "office", role: "registrar", route: "carrier" },
          { name: "carrier", role: "trunk", address: `127.0.0.9:${bob.port}`, route: "office", mediaRelay: true },
        ],
        mediaRelay: { addresses: ["127.0.0.1"], portMin: base, portMax: base + 63, idle: 30 },
      };
      await withServer({ host, tcp: false, config }, async (srv) => {
        await withBaresip([{ name: "alice", user: "alice", password: "x", server: `127.0.0.1:${srv.port}` }], async (alice) => {
          // bob's account exists so that he can take calls; it does not register (regint 0)
          await bob.command("uanew", `<sip:bob@127.0.0.9:${bob.port}>;regint=0;answermode=manual;audio_codecs=PCMU/8000/1;ptime=20`);
          assert.equal((await alice.register()).type, "REGISTER_OK", alice.describe("register"));
          const a0 = alice.mark(), b0 = bob.mark();
          await alice.dial(alice.uri("bob"));
          await bob.waitFor("CALL_INCOMING", { since: b0, timeoutMs: 8000 });
          await bob.accept();
          await Promise.all([alice.waitFor("CALL_ESTABLISHED", { since: a0, timeoutMs: 8000 }), bob.waitFor("CALL_ESTABLISHED", { since: b0, timeoutMs: 8000 })]);
          // audio both ways: each side's RTCP sender reports (with what the other sent) arrive through the relay
          const [ra, rb] = await Promise.all([rtcp(alice, a0), rtcp(bob, b0)]);
          assert.ok(ra.rtcp_stats.tx.sent > 0 && rb.rtcp_stats.tx.sent > 0, `alice ${JSON.stringify(ra.rtcp_stats)}, bob ${JSON.stringify(rb.rtcp_stats)}`);
          // the SDP each phone got names the relay's ports, not the other phone's
          await settle(srv);
          const toBob = srv.sip("out").find((m) => m.peer.endsWith(`:${bob.port}`) && m.first.startsWith("INVITE "));
          const toAlice = srv.sip("out").find((m) => /^SIP\/2\.0 200 /.test(m.first) && /^CSeq: \d+ INVITE/m.test(m.sip) && !m.peer.endsWith(`:${bob.port}`));
          for (const [what, m] of [["bob's INVITE", toBob], ["alice's 200", toAlice]]) {
            assert.ok(m, what);
            const port = +/^m=audio (\d+) /m.exec(bodyOf(m.sip))[1];
            assert.ok(port >= base && port <= base + 63, `${what} names a relay port: ${bodyOf(m.sip)}`);
          }
          // hold and resume by alice
          const h0 = alice.mark();
          assert.equal((await alice.command("hold")).ok, true, "hold");
          await sleep(3000);
          await settle(srv);
          const holds = srv.sip("out").filter((m) => m.peer.endsWith(`:${bob.port}`) && m.first.startsWith("INVITE ") && /^a=sendonly\r?$/m.test(bodyOf(m.sip)));
          assert.equal(holds.length, 1, "alice's hold (a=sendonly) went to bob, rewritten");
          const before = (await rtcp(alice, h0)).rtcp_stats.rx.sent; // bob's sent count while held
          assert.equal((await alice.command("resume")).ok, true, "resume");
          const r0 = alice.mark();
          // bob sends again after the resume: an SR of his, through the relay, with more packets sent
          const after = await rtcp(alice, r0, (e) => e.rtcp_stats.rx.sent > before + 50);
          assert.ok(after.rtcp_stats.rx.sent > before + 50, `bob's audio after the resume: ${before} -> ${after.rtcp_stats.rx.sent}`);
          await hangupBoth(alice, bob);
          await settle(srv);
        });
      });
      // the usage log: two legs, each with its phone's packets (hundreds at 50 a second), no source but the phone's
      const records = readFileSync(usage, "utf8").trim().split("\n").map((l) => JSON.parse(l)).filter((o) => o.event === "relay");
      assert.equal(records.length, 2, JSON.stringify(records));
      for (const r of records) {
        assert.ok(r.packets > 300, `a leg relayed its phone's audio: ${JSON.stringify(r)}`);
        assert.equal(r.dropped, 0, `nothing from another source: ${JSON.stringify(r)}`);
      }
    });
  });
}
