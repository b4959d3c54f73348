// What baresip 1.0 (Debian bookworm: baresip 1.0.0, libre 1.1.0) does with digest challenges,
// pinned against a stand-in registrar (fake-registrar.mjs) that sends exactly the 401/407 each case
// asks for and checks the credentials that come back. This is the contract the server's challenge
// has to meet for baresip (tests/peers/baresip.test.mjs runs the real server).
//
// libre 1.1.0 src/sip/auth.c auth_handler() walks EVERY WWW-Authenticate (then Proxy-Authenticate)
// header and stops with ENOSYS at the first whose algorithm is set and is not MD5. So the order
// does not help: MD5 then SHA-256 fails like SHA-256 then MD5. Its Authorization carries no
// algorithm parameter (RFC 2617: MD5). After a failure sipreg retries 30-60 s later
// (failwait(1) = 60 s x [0.5, 1]), then backs off; a wrong password is sent again on each fresh
// 401 until libre's loop guard stops at the 16th consecutive 401 (1 + 15 REGISTERs).
import { test } from "node:test";
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { baresipVersion, withBaresip } from "./baresip.mjs";
import { startFakeRegistrar } from "./fake-registrar.mjs";

const version = baresipVersion();
if (!/^1\.0\./.test(version.baresip)) {
  throw new Error(`these expectations pin baresip 1.0 (libre 1.1.0); installed: baresip ${version.baresip}, libre ${version.libre}: establish them again for this version`);
}

/** Registers alice against a stand-in offering `algorithms`; returns {ev, reg, ph output}. */
async function registerAgainst(algorithms, { password = "secret" } = {}) {
  const reg = await startFakeRegistrar({ user: "alice", password: "secret", algorithms });
  try {
    return await withBaresip([{ user: "alice", password, server: `127.0.0.1:${reg.port}` }], async (ph) => {
      const ev = await ph.register();
      await sleep(300); // anything baresip would still send after the event
      return { ev, requests: reg.requests.slice(), describe: (w) => ph.describe(w) };
    });
  } finally {
    await reg.close();
  }
}

const REFUSED = "Function not implemented"; // ENOSYS
const cases = [
  // challenge headers, in order  -> REGISTER_OK, or REGISTER_FAIL with this text
  { algorithms: ["SHA-256", "MD5"], fail: REFUSED },
  { algorithms: ["MD5", "SHA-256"], fail: REFUSED },
  { algorithms: ["MD5"] },
  { algorithms: ["SHA-256"], fail: REFUSED },
  { algorithms: [""] }, // no algorithm parameter
];

for (const { algorithms, fail } of cases) {
  const name = algorithms.map((a) => a || "(no algorithm)").join(", ");
  test(`baresip 1.0 and a 401 offering ${name} (qop=auth): ${fail ? `fails, "${fail}"` : "registers"}`, { timeout: 20_000 }, async () => {
    const { ev, requests, describe } = await registerAgainst(algorithms);
    const regs = requests.filter((r) => r.method === "REGISTER");
    if (fail) {
      assert.deepEqual([ev.type, ev.param], ["REGISTER_FAIL", fail], describe("outcome"));
      assert.equal(regs.length, 1, describe("no second REGISTER: the challenge was refused, not answered"));
    } else {
      assert.deepEqual([ev.type, ev.param], ["REGISTER_OK", "200 OK"], describe("outcome"));
      assert.equal(regs.length, 2, describe("REGISTER, then REGISTER with credentials"));
      const a = regs[1].auth;
      assert.ok(a?.ok, describe(`valid MD5 credentials: ${JSON.stringify(a?.fields)}`));
      assert.equal(a.fields.algorithm, undefined, "no algorithm parameter in the Authorization (MD5 by default)");
      assert.equal(a.fields.qop, "auth");
    }
  });
}

test("baresip 1.0 with a wrong password: 16 REGISTERs (libre's loop guard), then REGISTER_FAIL \"401 Unauthorized\" (the next attempt comes 30-60 s later)", { timeout: 20_000 }, async () => {
  const { ev, requests, describe } = await registerAgainst(["MD5"], { password: "wrong" });
  assert.deepEqual([ev.type, ev.param], ["REGISTER_FAIL", "401 Unauthorized"], describe("outcome"));
  const regs = requests.filter((r) => r.method === "REGISTER");
  assert.equal(regs.length, 16, describe("REGISTERs"));
  assert.ok(regs.slice(1).every((r) => r.auth && !r.auth.ok), describe("each retry carries (wrong) credentials"));
});

/** Alice (registered, MD5) dials bob through a stand-in that 407s the INVITE offering `inviteAlgorithms`. */
async function dialAgainst(inviteAlgorithms, { proxyPassword = "secret" } = {}) {
  const reg = await startFakeRegistrar({ user: "alice", password: proxyPassword, algorithms: ["MD5"], challengeInvite: true, inviteAlgorithms });
  try {
    return await withBaresip([{ user: "alice", password: "secret", server: `127.0.0.1:${reg.port}` }], async (ph) => {
      await ph.register();
      const since = ph.mark();
      await ph.dial(ph.uri("bob"));
      const closed = await ph.waitFor("CALL_CLOSED", { since });
      await sleep(300);
      return { closed, invites: reg.requests.filter((r) => r.method === "INVITE"), describe: (w) => ph.describe(w) };
    });
  } finally {
    await reg.close();
  }
}

for (const { algorithms, fail } of cases) {
  const name = algorithms.map((a) => a || "(no algorithm)").join(", ");
  test(`baresip 1.0 and a 407 to INVITE offering ${name}: ${fail ? `call closed, "${fail}"` : "answers it"}`, { timeout: 20_000 }, async () => {
    const { closed, invites, describe } = await dialAgainst(algorithms);
    if (fail) {
      assert.equal(closed.param, fail, describe("call outcome"));
      assert.equal(invites.length, 1, describe("no second INVITE"));
    } else {
      // The stand-in answers an authenticated INVITE 486: the end of this case.
      assert.equal(closed.param, "486 Busy Here", describe("call outcome"));
      assert.equal(invites.length, 2, describe("INVITE, then INVITE with credentials"));
      assert.ok(invites[1].auth?.ok, describe(`valid Proxy-Authorization: ${JSON.stringify(invites[1].auth?.fields)}`));
    }
  });
}

test("baresip 1.0 and a second 407 (wrong password) to INVITE: gives up after one retry", { timeout: 20_000 }, async () => {
  const { closed, invites, describe } = await dialAgainst(["MD5"], { proxyPassword: "not-alices" });
  assert.equal(closed.param, "407 Proxy Authentication Required", describe("call outcome"));
  assert.equal(invites.length, 2, describe("INVITE, INVITE with credentials, no more"));
});
