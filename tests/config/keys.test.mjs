// Settings that are read: for each configuration key whose effect no other suite shows end to end,
// the running server with the key set against the same server without it, over real SIP on loopback,
// and the difference observed. (The security keys are shown by tests/security/*, digestAlgorithms by
// tests/security/security.test.mjs and tests/peers/baresip.test.mjs, board by the table-full test of
// tests/security/usage.test.mjs, outboundProxy and access.trusted by tests/security/relay.test.mjs.)
// Every test runs on every host of tests/integration/harness.mjs that implements the key.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { startServer, settle, HOSTS } from "../integration/harness.mjs";
import { Ua, Sink, request, response, hdrs, status, firstLine, challenges, authorization, token } from "../lib/sipua.mjs";

/** Starts a server with `config`, runs fn(srv), always stops it. */
async function withSrv(host, config, fn) {
  const srv = await startServer({ host, config });
  try { return await fn(srv); } finally { await srv.stop(); }
}

/** Registers `ua` for `user` (no users configured: no digest); returns the final response. */
function register(srv, ua, user, extra = []) {
  return ua.request(srv, request(ua, { method: "REGISTER", ruri: "sip:127.0.0.1", from: `sip:${user}@127.0.0.1`, to: `sip:${user}@127.0.0.1`,
    callId: token("reg"), contact: `<sip:${user}@${ua.address}:${ua.port}>`, extra }));
}

/** Arrival times (ms) of the copies of one request at `ua`, for `ms`. */
async function arrivals(ua, pred, ms) {
  const t0 = Date.now();
  const times = [];
  while (Date.now() - t0 < ms) {
    const m = await ua.waitFor(pred, ms - (Date.now() - t0));
    if (!m) break;
    times.push(Date.now());
  }
  return times;
}
const gaps = (t) => t.slice(1).map((x, i) => x - t[i]);

for (const host of HOSTS) {
  test(`${host}: recordRoute false: a call to a registered contact carries no Record-Route (true: ours)`, async () => {
    for (const recordRoute of [true, false]) {
      await withSrv(host, { recordRoute }, async (srv) => {
        const callee = await Ua.open("127.0.0.3"), caller = await Ua.open("127.0.0.5");
        try {
          assert.equal(status(await register(srv, callee, "bob")), 200);
          const callId = token("rr");
          caller.send(request(caller, { ruri: "sip:bob@127.0.0.1", from: "sip:a@elsewhere.test", callId }), srv.port);
          const inv = await callee.waitFor((t) => /^INVITE /.test(t) && hdrs(t, "Call-ID")[0] === callId, 2000);
          assert.ok(inv, "the call reaches bob");
          if (recordRoute) assert.equal(hdrs(inv, "Record-Route").length, 1, "recordRoute true: our Record-Route");
          else assert.deepEqual(hdrs(inv, "Record-Route"), [], "recordRoute false: none");
        } finally { callee.close(); caller.close(); }
      });
    }
  });

  test(`${host}: registrar.maxContactsPerAor 1: a second contact is refused (403); the default takes it`, async () => {
    for (const [max, second] of [[1, 403], [undefined, 200]]) {
      await withSrv(host, max ? { registrar: { maxContactsPerAor: max } } : {}, async (srv) => {
        const a = await Ua.open("127.0.0.3"), b = await Ua.open("127.0.0.4");
        try {
          assert.equal(status(await register(srv, a, "carol")), 200);
          assert.equal(status(await register(srv, b, "carol")), second, `maxContactsPerAor ${max ?? "default"}`);
        } finally { a.close(); b.close(); }
      });
    }
  });

  test(`${host}: registrar.minExpires / maxExpires / defaultExpires shape what a REGISTER gets`, async () => {
    await withSrv(host, { registrar: { minExpires: 120, maxExpires: 900, defaultExpires: 300 } }, async (srv) => {
      const ua = await Ua.open("127.0.0.3");
      try {
        const brief = await register(srv, ua, "dave", ["Expires: 30"]);
        assert.equal(status(brief), 423);
        assert.deepEqual(hdrs(brief, "Min-Expires"), ["120"]);
        const long = await register(srv, ua, "dave", ["Expires: 99999"]);
        assert.equal(status(long), 200);
        assert.match(hdrs(long, "Contact")[0], /;expires=900\b/, "capped at maxExpires");
        const none = await register(srv, ua, "erin");
        assert.match(hdrs(none, "Contact")[0], /;expires=300\b/, "defaultExpires");
      } finally { ua.close(); }
    });
  });

  test(`${host}: retryAfter: our 503s (registrar full, transaction table full) carry the configured Retry-After`, async () => {
    await withSrv(host, { board: "micro", retryAfter: 17, timers: { t1: 500 } }, async (srv) => {
      const ua = await Ua.open("127.0.0.3");
      try {
        // the micro registrar holds 32 AORs
        let r;
        for (let i = 0; i < 40; i++) {
          r = await register(srv, ua, `u${i}`);
          if (status(r) !== 200) break;
        }
        assert.equal(status(r), 503, "the AOR table fills");
        assert.deepEqual(hdrs(r, "Retry-After"), ["17"]);
      } finally { ua.close(); }
    });
  });

  test(`${host}: timers.t1 and timers.t2 set the retransmission intervals of a relayed request`, async () => {
    for (const [t1, t2, want] of [[100, 200, [100, 200, 200]], [100, 800, [100, 200, 400]]]) {
      const sink = await Sink.open("127.0.0.9");
      const peer = await Ua.open("127.0.0.4");
      try {
        await withSrv(host, { timers: { t1, t2 }, access: { trusted: ["127.0.0.4/32"] } }, async (srv) => {
          const callId = token("t2");
          peer.send(request(peer, { method: "OPTIONS", ruri: `sip:x@127.0.0.9:${sink.port}`, from: "sip:p@elsewhere.test", callId }), srv.port);
          const t = await arrivals(sink.ua, (m) => hdrs(m, "Call-ID")[0] === callId, 1200);
          const g = gaps(t).slice(0, 3);
          assert.equal(g.length, 3, `at least four copies within 1.2 s (t1 ${t1}, t2 ${t2}): ${g}`);
          g.forEach((x, i) => assert.ok(Math.abs(x - want[i]) <= 60, `t1 ${t1}, t2 ${t2}: interval ${i + 1} is ${x} ms, expected ~${want[i]} (${g})`));
        });
      } finally { sink.close(); peer.close(); }
    }
  });

  test(`${host}: timers.t4 is how long a finished client transaction lingers (Timer K)`, async () => {
    const inUse = async (srv) => {
      const mark = srv.logs.length;
      await settle(srv);
      return srv.logs.slice(mark).find((l) => l.msg === "stats").txnInUse;
    };
    for (const [t4, want] of [[300, 0], [5000, 1]]) {
      const peer = await Ua.open("127.0.0.4"), target = await Ua.open("127.0.0.6");
      try {
        // t1 10 ms: the server transaction's Timer J (64·T1) is over in 640 ms
        await withSrv(host, { timers: { t1: 10, t2: 40, t4 }, access: { trusted: ["127.0.0.4/32"] } }, async (srv) => {
          const callId = token("t4");
          const text = request(peer, { method: "OPTIONS", ruri: `sip:x@127.0.0.6:${target.port}`, from: "sip:p@elsewhere.test", callId });
          peer.send(text, srv.port);
          const got = await target.waitFor((m) => hdrs(m, "Call-ID")[0] === callId, 2000);
          target.send(response(got, 200, "OK", { toTag: "k" }), srv.port);
          assert.ok(await peer.waitFor((m) => status(m) === 200, 2000), "the 200 comes back");
          await sleep(1500);
          assert.equal(await inUse(srv), want, `t4 ${t4}: transactions in use 1.5 s after the answer`);
        });
      } finally { peer.close(); target.close(); }
    }
  });

  test(`${host}: timers.timerC: a branch that only rings is CANCELled after Timer C`, async () => {
    await withSrv(host, { timers: { timerC: 1000 } }, async (srv) => {
      const callee = await Ua.open("127.0.0.3"), caller = await Ua.open("127.0.0.5");
      try {
        assert.equal(status(await register(srv, callee, "frank")), 200);
        const callId = token("tc");
        caller.send(request(caller, { ruri: "sip:frank@127.0.0.1", from: "sip:a@elsewhere.test", callId }), srv.port);
        const inv = await callee.waitFor((t) => /^INVITE /.test(t), 2000);
        callee.send(response(inv, 180, "Ringing", { toTag: "f1" }), srv.port);
        const t0 = Date.now();
        const cancel = await callee.waitFor((t) => /^CANCEL /.test(t), 3000);
        assert.ok(cancel, "a CANCEL after Timer C");
        assert.ok(Date.now() - t0 >= 800, `not before ~1 s (${Date.now() - t0} ms)`);
      } finally { callee.close(); caller.close(); }
    });
  });

  test(`${host}: domains: a request for an extra domain reaches the registrar; without it, it is another domain (403 for a stranger)`, async () => {
    for (const [domains, want] of [[["localhost", "127.0.0.1", "example.org"], 480], [undefined, 403]]) {
      await withSrv(host, domains ? { domains } : {}, async (srv) => {
        const ua = await Ua.open("127.0.0.5");
        try {
          const r = await ua.request(srv, request(ua, { ruri: "sip:gina@example.org", from: "sip:a@elsewhere.test" }));
          assert.equal(status(r), want, `domains ${JSON.stringify(domains)}: ${firstLine(r)}`);
        } finally { ua.close(); }
      });
    }
  });

  test(`${host}: nonceSecret: the same secret keeps a dialog's Record-Route valid across a restart; a fresh one does not`, async () => {
    const nonceSecret = "00112233445566778899aabbccddeeff";
    const rrOf = async (config) => withSrv(host, config, async (srv) => {
      const callee = await Ua.open("127.0.0.3"), caller = await Ua.open("127.0.0.5");
      try {
        assert.equal(status(await register(srv, callee, "hank")), 200);
        caller.send(request(caller, { ruri: "sip:hank@127.0.0.1", from: "sip:a@elsewhere.test", fromTag: "ft1", callId: "ns-call" }), srv.port);
        const inv = await callee.waitFor((t) => /^INVITE /.test(t), 2000);
        return { rr: hdrs(inv, "Record-Route")[0], port: srv.port };
      } finally { callee.close(); caller.close(); }
    });
    const first = await rrOf({ nonceSecret });
    // a BYE of that dialog to a restarted server, with the route set it recorded, toward hank's phone
    const bye = async (config) => withSrv(host, config, async (srv) => {
      const ua = await Ua.open("127.0.0.5"), hank = await Ua.open("127.0.0.3");
      try {
        const rr = first.rr.replace(`:${first.port};`, `:${srv.port};`); // the new server's port
        const text = request(ua, { method: "BYE", ruri: `sip:hank@127.0.0.3:${hank.port}`, from: "sip:a@elsewhere.test", fromTag: "ft1",
          to: "sip:hank@127.0.0.1", toTag: "h1", callId: "ns-call", cseq: 2, route: [rr] });
        ua.send(text, srv.port);
        const atHank = await hank.waitFor((t) => /^BYE /.test(t), 1500);
        const answer = await ua.waitFor((t) => status(t) >= 200, atHank ? 10 : 1500);
        return { atHank, answer };
      } finally { ua.close(); hank.close(); }
    });
    // the MAC covers no address or port, so the same key recognises the route on another port
    const same = await bye({ nonceSecret });
    assert.ok(same.atHank, `same secret: the BYE is routed to hank (the server answered ${firstLine(same.answer)})`);
    const other = await bye({ nonceSecret: "ffeeddccbbaa99887766554433221100" });
    assert.equal(other.atHank, null, "another secret: nothing reaches hank");
    assert.equal(status(other.answer), 404, `another secret: the route is not ours any more (${firstLine(other.answer)})`);
  });

  test(`${host}: flood.blockSeconds: a blocked source is served again once the block is over; Retry-After is what is left of it`, async () => {
    await withSrv(host, { flood: { limit: 5, blockSeconds: 2 } }, async (srv) => {
      const ua = await Ua.open("127.0.0.8");
      try {
        for (let i = 0; i < 20; i++) ua.send(request(ua, { method: "OPTIONS", ruri: "sip:127.0.0.1", from: "sip:f@elsewhere.test" }), srv.port);
        await srv.waitFor((l) => l.event === "flood-blocked", 2000, "flood-blocked");
        const blocked = await ua.request(srv, request(ua, { method: "OPTIONS", ruri: "sip:127.0.0.1", from: "sip:f@elsewhere.test" }));
        assert.equal(status(blocked), 503);
        assert.ok(+hdrs(blocked, "Retry-After")[0] >= 1 && +hdrs(blocked, "Retry-After")[0] <= 2, `Retry-After ${hdrs(blocked, "Retry-After")}`);
        await sleep(2300);
        const again = await ua.request(srv, request(ua, { method: "OPTIONS", ruri: "sip:127.0.0.1", from: "sip:f@elsewhere.test" }));
        assert.equal(status(again), 200, "served again after blockSeconds");
      } finally { ua.close(); }
    });
  });

  test(`${host}: flood.authWindow: failures further apart than the window never add up to a block`, async () => {
    const REALM = "keys.test";
    for (const [authWindow, blockedWant] of [[1, false], [60, true]]) {
      await withSrv(host, { realm: REALM, users: [{ username: "ivy", password: "ivy-pw-123" }], flood: { authFailures: 3, authWindow, blockSeconds: 30 } }, async (srv) => {
        const ua = await Ua.open("127.0.0.8");
        try {
          for (let i = 0; i < 3; i++) {
            const o = { method: "REGISTER", ruri: "sip:127.0.0.1", from: "sip:ivy@127.0.0.1", to: "sip:ivy@127.0.0.1", callId: token("aw") };
            const r1 = await ua.request(srv, request(ua, o));
            const c = challenges(r1, "WWW-Authenticate")[0];
            const auth = authorization({ user: "ivy", pass: "wrong", realm: REALM, nonce: c.nonce, uri: o.ruri, method: "REGISTER" });
            await ua.request(srv, request(ua, { ...o, cseq: 2, extra: [`Authorization: ${auth}`] }));
            await sleep(700);
          }
          const blocked = srv.logs.some((l) => l.event === "flood-blocked");
          assert.equal(blocked, blockedWant, `authWindow ${authWindow}: three failures 0.7 s apart ${blockedWant ? "block" : "do not block"}`);
        } finally { ua.close(); }
      });
    }
  });

  test(`${host}: logLevel and trace: debug lines and message traces only when asked for`, async () => {
    // (the harness needs the info-level "running" line, so "quiet" is info, not warn)
    const quiet = await startServer({ host, logLevel: "info", trace: false });
    const loud = await startServer({ host, logLevel: "debug", trace: true });
    try {
      const ua = await Ua.open("127.0.0.5");
      try {
        for (const srv of [quiet, loud]) assert.equal(status(await ua.request(srv, request(ua, { method: "OPTIONS", ruri: "sip:127.0.0.1", from: "sip:a@b.test" }))), 200);
      } finally { ua.close(); }
      await settle(quiet);
      await settle(loud);
      assert.equal(quiet.logs.filter((l) => l.msg === "sip" || l.level === "debug").length, 0, "info, no trace: no debug or sip lines");
      assert.ok(loud.logs.some((l) => l.msg === "sip"), "trace: sip lines");
      assert.ok(loud.logs.some((l) => l.level === "debug"), "debug: debug lines");
    } finally {
      await quiet.stop();
      await loud.stop();
    }
  });
}

test("node: prefault: the core's memory is resident from the start (server board)", async () => {
  const rssKb = (pid) => +/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))[1];
  const rss = {};
  let memory = 0;
  for (const prefault of [false, true]) {
    const srv = await startServer({ config: { prefault }, trace: false, logLevel: "info" });
    try {
      await sleep(300);
      rss[prefault] = rssKb(srv.child.pid);
      memory = srv.logs.find((o) => o.msg === "core ready").memory;
    } finally { await srv.stop(); }
  }
  // the server core's memory is what the site defaults lay out (44 MB, docs/ABI.md "Layout"); prefaulted,
  // it is all resident at start
  assert.ok(memory > 40e6, `the core's memory ${memory} B`);
  assert.ok(rss.true * 1024 > memory, `prefault: RSS ${rss.true} kB holds the core's ${memory} B`);
  assert.ok((rss.true - rss.false) * 1024 > memory / 2, `prefault adds resident memory (${rss.false} -> ${rss.true} kB)`);
});
