// Kamailio (Debian 5.6) as a service provider's registrar (issue 13: "our REGISTERs must be accepted and
// refreshed, and calls from Kamailio to our registered Contact must reach a local phone"), with
// tests/peers/kamailio-registrar.cfg, on loopback (127.0.0.9), started and stopped by each test. On the
// Node and the native host:
//   - the trunk asks 60 s; Kamailio (min_expires 120, min_expires_mode 1) answers 423 with Min-Expires;
//     we ask again with 120 at once, with the answer to its first 401 (its nonce), which it takes, and
//     it saves our Contact for 120 s;
//   - a customer of the provider (SIPp) calls our account's AOR about the DID +15550001 (in To);
//     Kamailio's lookup sends it to our Contact; the trunk's "called": "to" and a routing rule make it
//     ring a phone registered on our registrar side (SIPp UAS), which answers; the customer hangs up;
//   - SIGTERM: our REGISTER with Expires: 0 (the same Call-ID, the next CSeq) removes the binding, and the
//     server exits once Kamailio has answered it.
// And the refresh: with max_expires 10 Kamailio grants 10 s of the 60 we ask; we refresh every 5 s
// (half), one Call-ID, CSeq up by one each time (RFC 3261 §10.2.4), each refresh one REGISTER carrying the
// answer to Kamailio's first challenge (its nonce, the nonce count going up), taken without a new 401.
// And pass-through: a phone's own provider account registers at Kamailio only once the phone registered
// with us, takes the provider's call to the phone, and is taken back at SIGTERM.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { setTimeout as sleep } from "node:timers/promises";
import { startServer, sipp, describe, freePort, scratch, sf, settle, HOSTS } from "../integration/harness.mjs";
import { startKamailio, PROVIDER_IP, ACCOUNT } from "./kamailio.mjs";

if (spawnSync("sipp", ["-v"], { encoding: "utf8" }).status !== 99) throw new Error("sipp is not installed");
const ok = (r) => assert.equal(r.code, 0, describe(r));
const hdr = (sip, name) => sip.split("\r\n\r\n")[0].split("\r\n").slice(1)
  .filter((l) => l.toLowerCase().startsWith(name.toLowerCase() + ":")).map((l) => l.slice(name.length + 1).trim());

/** The B2BUA: our phones' registrar side and the provider's trunk, which registers with `register`. */
function b2bua(host, kport, register) {
  return startServer({
    host, tcp: false,
    config: {
      board: "gateway", mode: "b2bua", domains: ["127.0.0.1"],
      sides: [
        { name: "office", role: "registrar", route: "carrier" },
        { name: "carrier", role: "trunk", address: `${PROVIDER_IP}:${kport}`, host: ACCOUNT.realm, route: "office",
          username: ACCOUNT.user, password: ACCOUNT.password, register, called: "to",
          routes: [{ prefix: "+15550001", to: "office", strip: 9, prepend: "sipp" }] },
      ],
    },
  });
}

/** Kamailio's "saved" lines: [{ contact, expires, cseq, callId }]. */
const saved = (kam) => [...kam.log.matchAll(/saved sip:acme@carrier\.example contact (\S+) expires (\S+) cseq (\d+) callid (\S+)/g)]
  .map((m) => ({ contact: m[1], expires: m[2], cseq: Number(m[3]), callId: m[4] }));

async function until(pred, ms, what) {
  const t0 = Date.now();
  while (!pred()) {
    if (Date.now() - t0 > ms) throw new Error(`timeout (${ms} ms) waiting for ${what}`);
    await sleep(50);
  }
}

/**
 * Kamailio with kamailio-registrar.cfg and `fill` around fn(kam, kport, s): fn puts the server it starts
 * in s.srv (null once it stopped it itself); a failure carries both logs; both are stopped at the end.
 */
async function withKamailio(fill, fn) {
  const kport = await freePort();
  const kam = await startKamailio("kamailio-registrar.cfg", kport, fill);
  const s = { srv: null };
  try {
    await fn(kam, kport, s);
  } catch (e) {
    e.message += `\n--- kamailio ---\n${kam.log.slice(-3000)}${s.srv ? `\n--- server ---\n${s.srv.summary().slice(-4000)}` : ""}`;
    throw e;
  } finally {
    await s.srv?.stop();
    await kam.stop();
  }
}

/** A phone (SIPp, user "sipp") registered on the registrar side of server `srv`; its port. */
async function registerPhone(srv) {
  const phone = await freePort();
  const csv = scratch("kamreg-phone.csv", "SEQUENTIAL\nsipp;127.0.0.1\n");
  ok(await sipp([`127.0.0.1:${srv.port}`, "-sf", sf("register.xml"), "-inf", csv, "-p", String(phone), "-mp", String(await freePort()),
    "-m", "1", "-timeout", "5s", "-timeout_error"], { name: "reg", timeoutMs: 8000 }));
  return phone;
}

/** The phone at `phone` answers (SIPp UAS) while a customer of the provider calls acme's AOR about the
 * DID +15550001 through Kamailio at `kport`, and hangs up; both scenarios must pass. */
async function customerCall(kport, phone) {
  const uas = sipp(["-sf", sf("uas.xml"), "-p", String(phone), "-mp", String(await freePort()), "-m", "1", "-timeout", "15s", "-timeout_error"],
    { name: "phone", timeoutMs: 20_000 });
  await sleep(250);
  ok(await sipp([`${PROVIDER_IP}:${kport}`, "-sf", sf("provider_did_uac.xml"), "-s", ACCOUNT.user, "-p", String(await freePort()),
    "-mp", String(await freePort()), "-m", "1", "-d", "300", "-timeout", "15s", "-timeout_error"], { name: "customer", ip: PROVIDER_IP, timeoutMs: 20_000 }));
  ok(await uas);
}

for (const host of HOSTS) test(`${host}: our trunk registers at Kamailio (423 → Min-Expires, 401 answered), a call from Kamailio to our Contact reaches a local phone, SIGTERM de-registers`, { timeout: 60_000 }, () => withKamailio({ MINEXP: 120, MAXEXP: 120 }, async (kam, kport, s) => {
    const srv = (s.srv = await b2bua(host, kport, { expires: 60 }));
    await until(() => saved(kam).length >= 1, 10_000, "Kamailio saving our Contact");
    await settle(srv);
    const regs = srv.sip("out").filter((m) => m.peer.endsWith(`${PROVIDER_IP}:${kport}`) && /^REGISTER /.test(m.first));
    const answers = srv.sip("in").filter((m) => m.peer.endsWith(`${PROVIDER_IP}:${kport}`) && /^SIP\/2\.0 \d+ /.test(m.first) && /CSeq: \d+ REGISTER/i.test(m.sip));
    // 60 s asked (challenged, answered), 423; 120 s asked at once with the answer to the same challenge
    // (its nonce; this Kamailio offers no qop, so no nonce count), which it takes: 200, no second 401
    assert.deepEqual(regs.map((m) => hdr(m.sip, "Expires")[0]).slice(0, 3), ["60", "60", "120"], `60, then the Min-Expires\n${srv.summary().slice(-3000)}`);
    assert.deepEqual(regs.slice(0, 3).map((m) => hdr(m.sip, "Authorization").length), [0, 1, 1]);
    assert.match(hdr(regs[2].sip, "Authorization")[0], /^Digest username="acme", realm="carrier\.example"/);
    const nonceOf = (m) => /nonce="([^"]+)"/.exec(hdr(m.sip, "Authorization")[0])?.[1];
    assert.equal(nonceOf(regs[2]), nonceOf(regs[1]), "the kept challenge's nonce");
    assert.equal(answers.filter((m) => /^SIP\/2\.0 401 /.test(m.first)).length, 1, "challenged once");
    const a423 = answers.filter((m) => /^SIP\/2\.0 423 /.test(m.first));
    assert.equal(a423.length, 1);
    assert.equal(hdr(a423[0].sip, "Min-Expires")[0], "120");
    assert.equal(answers.filter((m) => /^SIP\/2\.0 200 /.test(m.first)).length, 1);
    // Kamailio's stock `if (!save("location")) sl_reply_error();` sends a second, stateless 500 to the
    // REGISTER save() already answered 423: it reaches a completed transaction and changes nothing
    const states = srv.logs.filter((o) => o.msg === "trunk-reg").map((o) => o.detail);
    assert.deepEqual(states, ["registering", "registered"], "no backoff for the stray 500");
    const callIds = new Set(regs.map((m) => hdr(m.sip, "Call-ID")[0]));
    assert.equal(callIds.size, 1, "one Call-ID");
    const [s0] = saved(kam);
    assert.match(s0.contact, /^<sip:acme@127\.0\.0\.1:\d+>$/);

    // a phone on our registrar side, then the provider's customer calls the DID
    const phone = await registerPhone(srv);
    await customerCall(kport, phone);
    await settle(srv);
    const inv = srv.sip("in").filter((m) => m.peer.endsWith(`${PROVIDER_IP}:${kport}`) && /^INVITE /.test(m.first));
    assert.equal(inv.length >= 1, true, "Kamailio sent the call to us");
    assert.match(inv[0].first, /^INVITE sip:acme@127\.0\.0\.1:\d+ SIP\/2\.0$/, "to the Contact we registered");
    assert.match(kam.log, /routing INVITE to sip:acme@127\.0\.0\.1:\d+ \(To sip:\+15550001@carrier\.example;user=phone\)/);
    const toPhone = srv.sip("out").filter((m) => m.peer.endsWith(`:${phone}`) && /^INVITE /.test(m.first));
    assert.equal(toPhone.length >= 1, true, "the call reached the phone");
    assert.match(toPhone[0].first, new RegExp(`^INVITE sip:sipp@127\\.0\\.0\\.1:${phone}`));

    // the stop: de-registration at Kamailio, then the exit
    const t0 = Date.now();
    const end = await srv.stop();
    const took = Date.now() - t0;
    s.srv = null;
    assert.equal(end.code, 0);
    const all = saved(kam);
    const last = all[all.length - 1];
    assert.equal(last.expires, "0", `Kamailio took our Expires: 0\n${kam.log.slice(-2000)}`);
    assert.equal(last.callId, s0.callId, "the registration's Call-ID");
    assert.ok(last.cseq > s0.cseq, "a later CSeq");
    assert.ok(took < 2500, `stopped ${took} ms after SIGTERM`);
}));

for (const host of HOSTS) test(`${host}: Kamailio grants 10 s of our 60: we refresh every 5 s with one Call-ID and the next CSeq`, { timeout: 60_000 }, () => withKamailio({ MINEXP: 5, MAXEXP: 10 }, async (kam, kport, s) => {
    const srv = (s.srv = await b2bua(host, kport, { expires: 60 }));
    await until(() => saved(kam).length >= 3, 20_000, "three saves (the registration and two refreshes)");
    const all = saved(kam);
    assert.equal(new Set(all.map((x) => x.callId)).size, 1, "one Call-ID");
    for (let k = 1; k < all.length; k++) assert.ok(all[k].cseq > all[k - 1].cseq, "CSeq up");
    await settle(srv);
    const ok200 = srv.sip("in").filter((m) => m.peer.endsWith(`${PROVIDER_IP}:${kport}`) && /^SIP\/2\.0 200 /.test(m.first) && /CSeq: \d+ REGISTER/i.test(m.sip));
    assert.match(hdr(ok200[0].sip, "Contact")[0] ?? "", /;expires=10\b/, "Kamailio granted 10 s");
    // each refresh is one REGISTER with the answer to Kamailio's first challenge (its nonce, the count
    // going up), taken at once: one 401 in all, and the refreshes (every REGISTER after the first two)
    // 5 s apart, ±0.5 s of scheduling
    const all401 = srv.sip("in").filter((m) => m.peer.endsWith(`${PROVIDER_IP}:${kport}`) && /^SIP\/2\.0 401 /.test(m.first));
    assert.equal(all401.length, 1, "challenged once");
    const regs = srv.sip("out").filter((m) => m.peer.endsWith(`${PROVIDER_IP}:${kport}`) && /^REGISTER /.test(m.first)).slice(2);
    assert.ok(regs.every((m) => hdr(m.sip, "Authorization").length === 1), "every refresh with credentials");
    const times = regs.map((m) => srv.logs.find((o) => o.msg === "sip" && o.sip === m.sip)?.t).map((t) => new Date(t).getTime());
    assert.ok(times.length >= 2, `${times.length} refreshes`);
    for (let k = 1; k < times.length; k++) {
      const gap = times[k] - times[k - 1];
      assert.ok(gap > 4500 && gap < 5500, `refresh ${k - 1} after ${gap} ms (half of 10 s)`);
    }
}));

// Individual registration pass-through against Kamailio: our phone "sipp" has the provider account acme
// ("passthrough"); nothing registers at Kamailio until the phone registers with us; then acme does
// (digest answered), a customer's call to acme reaches the phone through Kamailio's lookup, and SIGTERM
// takes acme's binding back.
for (const host of HOSTS) test(`${host}: pass-through: the phone's registration with us brings its provider account's at Kamailio; the provider's call to it rings the phone`, { timeout: 60_000 }, () => withKamailio({ MINEXP: 60, MAXEXP: 3600 }, async (kam, kport, s) => {
    const srv = (s.srv = await startServer({
      host, tcp: false,
      config: {
        board: "gateway", mode: "b2bua", domains: ["127.0.0.1"],
        sides: [
          { name: "office", role: "registrar", route: "carrier" },
          { name: "carrier", role: "trunk", address: `${PROVIDER_IP}:${kport}`, host: ACCOUNT.realm, route: "office",
            passthrough: [{ user: "sipp", username: ACCOUNT.user, password: ACCOUNT.password }] },
        ],
      },
    }));
    await sleep(1500);
    assert.equal(saved(kam).length, 0, "nothing registers before the phone does");
    const phone = await registerPhone(srv);
    await until(() => saved(kam).length >= 1, 10_000, "Kamailio saving the pass-through account");
    const [s0] = saved(kam);
    assert.match(s0.contact, /^<sip:acme@127\.0\.0\.1:\d+>$/);
    assert.equal(s0.expires, "3600");
    await customerCall(kport, phone);
    await settle(srv);
    const toPhone = srv.sip("out").filter((m) => m.peer.endsWith(`:${phone}`) && /^INVITE /.test(m.first));
    assert.equal(toPhone.length >= 1, true, "the call to acme reached the phone");
    const end = await srv.stop();
    s.srv = null;
    assert.equal(end.code, 0);
    const all = saved(kam);
    assert.equal(all[all.length - 1].expires, "0", "SIGTERM took the account's binding back");
}));
