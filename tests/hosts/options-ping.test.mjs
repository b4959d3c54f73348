// OPTIONS to the server itself (Request-URI with no user part) is a health check or keepalive: load
// balancers and trunks ping this way, and Kamailio's dispatcher counts only 200 as alive. With users
// configured it is answered 200 with Allow, Accept and Supported before authentication (Kamailio's
// default configuration does the same); "optionsBeforeAuth": false makes it authenticate like any
// request. An OPTIONS to a user is handled as any request. On every host of the harness.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startServer, HOSTS } from "../integration/harness.mjs";
import { Ua, request, hdrs, status, firstLine, challenges, authorization } from "../lib/sipua.mjs";

const REALM = "sipling.test";
const PW = "alice-Ping-pw-7";

/** Asserts a 200 to OPTIONS for the server: Allow (with the methods we route), Accept, Supported. */
function isPong(r, what) {
  assert.equal(status(r), 200, `${what}: ${firstLine(r)}`);
  const allow = hdrs(r, "Allow").join(", ").split(/\s*,\s*/);
  for (const m of ["INVITE", "ACK", "CANCEL", "BYE", "OPTIONS", "REGISTER"]) assert.ok(allow.includes(m), `${what}: Allow has ${m} (${allow})`);
  assert.deepEqual(hdrs(r, "Accept"), ["application/sdp"], `${what}: Accept`);
  assert.deepEqual(hdrs(r, "Supported"), ["path"], `${what}: Supported`);
  assert.deepEqual(hdrs(r, "Proxy-Authenticate"), [], `${what}: no challenge`);
}

for (const host of HOSTS) {
  const servers = {};
  let ping, alice;
  before(async () => {
    ping = await Ua.open("127.0.0.5"); // a load balancer: a stranger to the registrar
    alice = await Ua.open("127.0.0.6");
    const config = { realm: REALM, users: [{ username: "alice", password: PW }], timers: { t1: 100 } };
    servers.on = await startServer({ host, config });
    servers.off = await startServer({ host, config: { ...config, optionsBeforeAuth: false } });
  });
  after(async () => {
    for (const s of Object.values(servers)) await s?.stop();
    ping?.close();
    alice?.close();
  });

  test(`${host}: with users configured, OPTIONS to the server itself gets 200 (Allow, Accept, Supported) without a challenge`, async () => {
    const srv = servers.on;
    for (const ruri of [`sip:127.0.0.1:${srv.port}`, "sip:127.0.0.1", "sip:localhost"]) {
      const r = await ping.request(srv, request(ping, { method: "OPTIONS", ruri, from: "sip:dispatcher@lb.test", contact: null }));
      isPong(r, `OPTIONS ${ruri}`);
    }
    // Max-Forwards 0 (SIP "ping" of some monitors) is answered too, not 483
    const r = await ping.request(srv, request(ping, { method: "OPTIONS", ruri: "sip:127.0.0.1", from: "sip:mon@lb.test", maxForwards: 0 }));
    isPong(r, "OPTIONS with Max-Forwards 0");
  });

  test(`${host}: an OPTIONS to a user is not a health check: a stranger gets 403, nothing about the user`, async () => {
    const r = await ping.request(servers.on, request(ping, { method: "OPTIONS", ruri: "sip:alice@127.0.0.1", from: "sip:dispatcher@lb.test" }));
    assert.equal(status(r), 403, firstLine(r));
  });

  test(`${host}: "optionsBeforeAuth": false: the ping must authenticate, and gets 200 once it does`, async () => {
    const srv = servers.off;
    const stranger = await ping.request(srv, request(ping, { method: "OPTIONS", ruri: "sip:127.0.0.1", from: "sip:dispatcher@lb.test" }));
    assert.notEqual(status(stranger), 200, `a stranger is not answered 200: ${firstLine(stranger)}`);
    assert.ok([403, 407].includes(status(stranger)), firstLine(stranger));
    const o = { method: "OPTIONS", ruri: "sip:127.0.0.1", from: "sip:alice@127.0.0.1" };
    const r1 = await alice.request(srv, request(alice, o));
    assert.equal(status(r1), 407, `alice is challenged: ${firstLine(r1)}`);
    const c = challenges(r1, "Proxy-Authenticate")[0];
    const auth = authorization({ user: "alice", pass: PW, realm: REALM, nonce: c.nonce, uri: o.ruri, method: "OPTIONS" });
    const r2 = await alice.request(srv, request(alice, { ...o, cseq: 2, extra: [`Proxy-Authorization: ${auth}`] }));
    isPong(r2, "authenticated OPTIONS");
  });
}
