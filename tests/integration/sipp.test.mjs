// SIPp against the real server (Node host + bundled wasm core) on loopback: registrar, proxying
// with Record-Route / loose routing, CANCEL, failures, forking (parallel and q-ordered serial),
// retransmissions (Timer A, absorbed UAC retransmissions), TCP->UDP, Max-Forwards, Proxy-Require,
// a full transaction table on the micro board, OPTIONS keepalive.
// Every test starts its own server with --trace and asserts both what SIPp saw (exit 0 = every
// call passed its scenario) and what the server logged/sent. Needs `sipp` (SIPp 3.6) on PATH.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { root, startServer, sipp, describe, freePort, scratch, sf, settle } from "./harness.mjs";

const haveSipp = spawnSync("sipp", ["-v"], { encoding: "utf8" }).status === 99;
const haveBundle = existsSync(join(root, "build", "node", "sipling.mjs"));
// Never skip: npm test installs SIPp (tools/setup.mjs) and bundles the host first, so a missing one is
// a failure to report, not a reason to pass quietly.
if (!haveSipp) throw new Error("sipp is not installed (npm test runs tools/setup.mjs, which installs sip-tester)");
if (!haveBundle) throw new Error("build/node/sipling.mjs missing (npm run build && npm run bundle)");
const skip = false;

/** Runs `fn(srv)` against a fresh server, always stopping it; on failure appends the trace summary. */
async function withServer(opts, fn) {
  const srv = await startServer(opts);
  try {
    await fn(srv);
  } catch (e) {
    if (e && typeof e === "object") {
      const add = `\n--- server log (port ${srv.port}) ---\n${srv.summary().slice(-6000)}`;
      e.message += add;
      if (typeof e.stack === "string") e.stack = e.message + "\n" + e.stack.split("\n").filter((l) => /^\s+at /.test(l)).join("\n");
    }
    throw e;
  } finally {
    await srv.stop();
  }
}

const target = (srv) => `127.0.0.1:${srv.port}`;
const ok = (r) => assert.equal(r.code, 0, describe(r));

/** Registers sip:user@127.0.0.1:port (the port a UAS will then listen on) with register.xml. */
async function register(srv, user, port, { q } = {}) {
  const csv = scratch(`${user}.csv`, q === undefined ? `SEQUENTIAL\n${user};127.0.0.1\n` : `SEQUENTIAL\n${user};127.0.0.1;${q}\n`);
  const r = await sipp([target(srv), "-sf", sf(q === undefined ? "register.xml" : "register_q.xml"), "-inf", csv,
    "-p", String(port), "-mp", String(await freePort()), "-m", "1", "-timeout", "5s", "-timeout_error"], { name: `reg-${user}`, timeoutMs: 8000 });
  ok(r);
  return r;
}

/** Starts a UAS listening on `port`; resolves (after it bound) to { done } (its run, awaitable). */
async function uas(scenario, port, extra = [], { timeout = "8s", name = "uas" } = {}) {
  const p = sipp(["-sf", sf(scenario), "-p", String(port), "-mp", String(await freePort()), "-m", "1", "-timeout", timeout, "-timeout_error", ...extra],
    { name, timeoutMs: 15_000 });
  await sleep(250); // let it bind before anyone sends to it
  return { done: p }; // not the bare promise: an async function would adopt it and wait for the UAS
}

/** Runs a UAC against the server (awaited). */
async function uac(srv, scenario, extra = [], { timeout = "10s", name = "uac", port } = {}) {
  port ??= await freePort();
  const r = await sipp([target(srv), "-sf", sf(scenario), "-p", String(port), "-mp", String(await freePort()), "-m", "1", "-timeout", timeout, "-timeout_error", ...extra],
    { name, timeoutMs: 14_000 });
  r.port = port;
  await settle(srv); // the server's trace of the run, all of it
  return r;
}

const peer = (port, t = "udp") => `${t}:127.0.0.1:${port}`;
/** Traced messages sent to / received from one peer port whose first line matches `re`. */
const out = (srv, port, re) => srv.sip("out").filter((m) => m.peer.endsWith(`:${port}`) && re.test(m.first));
const inn = (srv, port, re) => srv.sip("in").filter((m) => m.peer.endsWith(`:${port}`) && re.test(m.first));
const hdrs = (sip, name) => sip.split("\r\n\r\n")[0].split("\r\n").slice(1)
  .filter((l) => l.toLowerCase().startsWith(name.toLowerCase() + ":")).map((l) => l.slice(name.length + 1).trim());
/**
 * The proxy's client transaction must ACK a non-2xx final response itself (RFC 3261 17.1.1.3): an ACK
 * to the callee on the forwarded INVITE's branch, with only the proxy's Via (the caller's ACK for the
 * relayed response is absorbed, not forwarded).
 */
function assertHopByHopAck(srv, port, inv, what) {
  const acks = out(srv, port, /^ACK /);
  assert.ok(acks.length >= 1, `the proxy ACKed the callee's ${what} hop-by-hop (no ACK was sent to ${peer(port)})`);
  for (const a of acks) {
    assert.equal(branchOf(a.sip), branchOf(inv.sip), `ACK for the ${what} uses the forwarded INVITE's branch`);
    assert.equal(hdrs(a.sip, "Via").length, 1, "only the proxy's Via: the caller's ACK was not forwarded");
    assert.equal(a.first, `ACK ${inv.first.split(" ")[1]} SIP/2.0`, "same Request-URI as the INVITE");
  }
}
const branchOf = (sip) => /branch=([^;,\s]+)/.exec(hdrs(sip, "Via")[0] ?? "")?.[1];

test("OPTIONS to the proxy itself is answered 200 (keepalive)", { skip, timeout: 20_000 }, async () => {
  await withServer({}, async (srv) => {
    const r = await uac(srv, "options.xml", [], { timeout: "5s" });
    ok(r);
    const resp = out(srv, r.port, /^SIP\/2\.0 /);
    assert.equal(resp.length, 1, "one response");
    assert.match(resp[0].first, /^SIP\/2\.0 200 /);
  });
});

test("REGISTER: add with expires, refresh, second contact, unregister one, wildcard unregister, 423 below Min-Expires", { skip, timeout: 20_000 }, async () => {
  await withServer({}, async (srv) => {
    const port = await freePort();
    const r = await uac(srv, "reg_sequence.xml", [], { port, timeout: "8s" });
    ok(r);
    const a = `sip:reguser@127.0.0.1:${port}`;
    assert.ok(srv.events("reg-add").some((e) => e.aor === "reguser" && e.contact === a && e.expires === 3600), "reg-add for contact A, expires 3600");
    assert.ok(srv.events("reg-refresh").some((e) => e.aor === "reguser" && e.contact === a), "reg-refresh for contact A");
    assert.ok(srv.events("reg-add").some((e) => e.aor === "reguser" && e.contact === `sip:reguser-b@127.0.0.1:${port}`), "reg-add for contact B");
    assert.ok(srv.events("reg-remove").some((e) => e.aor === "reguser" && e.contact === a), "reg-remove for contact A");
    const finals = out(srv, port, /^SIP\/2\.0 /).map((m) => m.first.split(" ")[1]);
    assert.deepEqual(finals, ["200", "200", "200", "200", "200", "423"]);
    const r423 = out(srv, port, /^SIP\/2\.0 423/)[0].sip;
    assert.deepEqual(hdrs(r423, "Min-Expires"), ["60"]);
    // the wildcard removed every binding: a call to reguser now fails with 480
    const c = await uac(srv, "uac_reject_480.xml", ["-s", "reguser"], { timeout: "5s" });
    ok(c);
  });
});

test("call between two registered UAs: INVITE/100/180/200/ACK, BYE loose-routed via Record-Route", { skip, timeout: 20_000 }, async () => {
  await withServer({}, async (srv) => {
    const uasPort = await freePort();
    await register(srv, "callee", uasPort);
    const pu = await uas("uas.xml", uasPort);
    const c = await uac(srv, "uac_invite.xml", ["-s", "callee", "-d", "200"]);
    const u = await pu.done;
    ok(c);
    const rr = new RegExp(`^<sip:127\\.0\\.0\\.1:${srv.port};lr;dlg=[0-9a-f]{16}>$`);
    const inv = out(srv, uasPort, /^INVITE /);
    assert.equal(inv.length, 1, "one INVITE to the callee");
    assert.match(inv[0].first, new RegExp(`^INVITE sip:callee@127\\.0\\.0\\.1:${uasPort} SIP/2\\.0$`), "Request-URI is the registered contact");
    const rrs = hdrs(inv[0].sip, "Record-Route");
    assert.equal(rrs.length, 1, "one Record-Route");
    assert.match(rrs[0], rr, "our Record-Route, with the dialog MAC");
    assert.deepEqual(hdrs(inv[0].sip, "Max-Forwards"), ["69"], "Max-Forwards decremented");
    assert.equal(hdrs(inv[0].sip, "Via").length, 2, "our Via on top of the caller's");
    assert.match(hdrs(inv[0].sip, "Via")[0], new RegExp(`^SIP/2\\.0/UDP 127\\.0\\.0\\.1:${srv.port};branch=z9hG4bK`));
    assert.equal(out(srv, c.port, /^SIP\/2\.0 100 /).length, 1, "100 Trying to the caller");
    assert.equal(out(srv, c.port, /^SIP\/2\.0 180 /).length, 1, "180 relayed");
    assert.equal(out(srv, c.port, /^SIP\/2\.0 200 /).length, 2, "200 for INVITE and for BYE relayed");
    // ACK and BYE came to us (loose routing) and went on to the callee, without our Route
    for (const m of ["ACK", "BYE"]) {
      const i = inn(srv, c.port, new RegExp(`^${m} `));
      assert.equal(i.length, 1, `${m} from the caller reached the proxy`);
      assert.deepEqual(hdrs(i[0].sip, "Route"), rrs, `${m} carries our Record-Route as its Route`);
      const o = out(srv, uasPort, new RegExp(`^${m} sip:127\\.0\\.0\\.1:${uasPort}`));
      assert.equal(o.length, 1, `${m} forwarded to the callee's Contact`);
      assert.deepEqual(hdrs(o[0].sip, "Route"), [], `our Route was stripped from the ${m}`);
    }
    assert.ok(srv.events("call-attempt").length >= 1, "call-attempt logged");
    assert.ok(srv.events("call-answer").length >= 1, "call-answer logged");
    ok(u); // the callee's scenario (e.g. its mandatory ACK) completed
  });
});

test("CANCEL before answer: 200 for CANCEL, the proxy cancels the branch, caller gets 487 and ACKs", { skip, timeout: 20_000 }, async () => {
  await withServer({}, async (srv) => {
    const uasPort = await freePort();
    await register(srv, "ringer", uasPort);
    const pu = await uas("uas_cancel.xml", uasPort);
    const c = await uac(srv, "uac_cancel.xml", ["-s", "ringer"]);
    const u = await pu.done;
    ok(c);
    const inv = out(srv, uasPort, /^INVITE /)[0];
    const cancel = out(srv, uasPort, /^CANCEL /);
    assert.equal(cancel.length, 1, "one CANCEL to the callee");
    assert.equal(branchOf(cancel[0].sip), branchOf(inv.sip), "CANCEL matches the forwarded INVITE's branch");
    assert.match(out(srv, c.port, /^SIP\/2\.0 487 /)[0]?.first ?? "", /487/, "487 relayed to the caller");
    assert.equal(inn(srv, c.port, /^ACK /).length, 1, "caller's ACK for the 487 reached the proxy");
    assertHopByHopAck(srv, uasPort, inv, "487");
    ok(u); // the callee's scenario (e.g. its mandatory ACK) completed
  });
});

test("486 Busy Here from the callee reaches the caller; the proxy ACKs the 486 hop-by-hop", { skip, timeout: 20_000 }, async () => {
  await withServer({}, async (srv) => {
    const uasPort = await freePort();
    await register(srv, "busy", uasPort);
    const pu = await uas("uas_busy.xml", uasPort);
    const c = await uac(srv, "uac_reject_486.xml", ["-s", "busy"]);
    const u = await pu.done;
    ok(c);
    const inv = out(srv, uasPort, /^INVITE /)[0];
    assertHopByHopAck(srv, uasPort, inv, "486");
    assert.equal(out(srv, c.port, /^SIP\/2\.0 486 /).length, 1, "486 relayed once");
    assert.ok(srv.events("call-fail").length >= 1, "call-fail logged");
    ok(u); // the callee's scenario (e.g. its mandatory ACK) completed
  });
});

test("INVITE to an AOR that is not registered is rejected with 480", { skip, timeout: 20_000 }, async () => {
  await withServer({}, async (srv) => {
    const c = await uac(srv, "uac_reject_480.xml", ["-s", "nobody"]);
    ok(c);
    const resp = out(srv, c.port, /^SIP\/2\.0 [2-6]/);
    assert.deepEqual(resp.map((m) => m.first.split(" ")[1]), ["480"]);
    assert.equal(srv.sip("out").filter((m) => /^INVITE /.test(m.first)).length, 0, "nothing forwarded");
  });
});

test("parallel fork: two contacts of one AOR both ring, one answers, the other is CANCELled (487)", { skip, timeout: 20_000 }, async () => {
  await withServer({}, async (srv) => {
    const p1 = await freePort(), p2 = await freePort();
    await register(srv, "fork", p1);
    await register(srv, "fork", p2);
    const winner = await uas("uas_pause.xml", p1, ["-d", "400"], { name: "uas-win" });
    const loser = await uas("uas_cancel.xml", p2, [], { name: "uas-lose" });
    const c = await uac(srv, "uac_invite.xml", ["-s", "fork", "-d", "200"]);
    const [w, l] = await Promise.all([winner.done, loser.done]);
    ok(c);
    assert.equal(out(srv, p1, /^INVITE /).length, 1, "INVITE to contact 1");
    assert.equal(out(srv, p2, /^INVITE /).length, 1, "INVITE to contact 2");
    assert.equal(out(srv, p2, /^CANCEL /).length, 1, "the losing branch was CANCELled");
    assert.equal(out(srv, p1, /^CANCEL /).length, 0, "the answering branch was not CANCELled");
    assert.equal(out(srv, c.port, /^SIP\/2\.0 487 /).length, 0, "the caller never sees the 487");
    assert.equal(out(srv, p1, /^BYE /).length, 1, "BYE went to the answering branch");
    assertHopByHopAck(srv, p2, out(srv, p2, /^INVITE /)[0], "487 (losing branch)");
    ok(w); ok(l); // both callees' scenarios completed (the loser needs the proxy's ACK for its 487)
  });
});

test("serial fork by q: q=1.0 contact answers 486, then the q=0.5 contact is tried and answers 200", { skip, timeout: 20_000 }, async () => {
  await withServer({}, async (srv) => {
    const hi = await freePort(), lo = await freePort();
    await register(srv, "serial", hi, { q: "1.0" });
    await register(srv, "serial", lo, { q: "0.5" });
    const busy = await uas("uas_busy.xml", hi, [], { name: "uas-busy" });
    const good = await uas("uas.xml", lo, [], { name: "uas-ok" });
    const c = await uac(srv, "uac_invite.xml", ["-s", "serial", "-d", "200"]);
    const [b, g] = await Promise.all([busy.done, good.done]);
    ok(c);
    const invHi = srv.logs.findIndex((o) => o.msg === "sip" && o.dir === "out" && o.peer === peer(hi) && /^INVITE /.test(o.sip));
    const busyIn = srv.logs.findIndex((o) => o.msg === "sip" && o.dir === "in" && o.peer === peer(hi) && /^SIP\/2\.0 486/.test(o.sip));
    const invLo = srv.logs.findIndex((o) => o.msg === "sip" && o.dir === "out" && o.peer === peer(lo) && /^INVITE /.test(o.sip));
    assert.ok(invHi >= 0 && busyIn > invHi && invLo > busyIn, `q=1.0 tried first, q=0.5 only after its 486 (${invHi}, ${busyIn}, ${invLo})`);
    assert.equal(out(srv, c.port, /^SIP\/2\.0 486 /).length, 0, "caller does not see the 486");
    assert.equal(out(srv, c.port, /^SIP\/2\.0 200 /).length, 2, "caller gets 200 (INVITE, BYE)");
    assertHopByHopAck(srv, hi, out(srv, hi, /^INVITE /)[0], "486 (q=1.0 branch)");
    ok(b); ok(g); // both callees' scenarios completed (the busy one needs the proxy's ACK for its 486)
  });
});

test("Timer A: the proxy retransmits the INVITE to a UAS that does not answer at once; the call completes", { skip, timeout: 20_000 }, async () => {
  await withServer({ config: { timers: { t1: 100 } } }, async (srv) => {
    const uasPort = await freePort();
    await register(srv, "slow", uasPort);
    // the UAS ignores the INVITE (and its retransmissions) for 450 ms, as if the first ones were lost
    const pu = await uas("uas_pause.xml", uasPort, ["-d", "450"]);
    const c = await uac(srv, "uac_invite.xml", ["-s", "slow", "-d", "200"]);
    const u = await pu.done;
    ok(c);
    const inv = out(srv, uasPort, /^INVITE /);
    assert.ok(inv.length >= 2, `INVITE retransmitted to the UAS (sent ${inv.length}x)`);
    assert.ok(inv.every((m) => m.sip === inv[0].sip), "retransmissions are identical");
    assert.equal(inn(srv, c.port, /^INVITE /).length, 1, "the caller sent it once");
    ok(u); // the callee's scenario (e.g. its mandatory ACK) completed
  });
});

test("a UAC's INVITE retransmission is absorbed by the server transaction (not forwarded again)", { skip, timeout: 20_000 }, async () => {
  await withServer({}, async (srv) => {
    const uasPort = await freePort();
    await register(srv, "absorb", uasPort);
    const pu = await uas("uas_pause.xml", uasPort, ["-d", "400"]);
    const c = await uac(srv, "uac_invite_retrans.xml", ["-s", "absorb", "-d", "200"]);
    const u = await pu.done;
    ok(c);
    assert.ok(inn(srv, c.port, /^INVITE /).length >= 2, "the caller retransmitted its INVITE");
    assert.equal(out(srv, uasPort, /^INVITE /).length, 1, "forwarded once");
    assert.ok(out(srv, c.port, /^SIP\/2\.0 100 /).length >= 2, "the retransmission was answered with the last provisional (100)");
    ok(u); // the callee's scenario (e.g. its mandatory ACK) completed
  });
});

test("caller on TCP, callee on UDP: double Record-Route, full call with BYE from the caller", { skip, timeout: 20_000 }, async () => {
  await withServer({}, async (srv) => {
    const uasPort = await freePort();
    await register(srv, "udpcallee", uasPort);
    const pu = await uas("uas.xml", uasPort);
    const c = await uac(srv, "uac_invite.xml", ["-s", "udpcallee", "-d", "200", "-t", "t1"]);
    const u = await pu.done;
    ok(c);
    const inv = out(srv, uasPort, /^INVITE /);
    assert.equal(inv.length, 1);
    assert.equal(inv[0].peer, peer(uasPort, "udp"));
    const rr = hdrs(inv[0].sip, "Record-Route").flatMap((v) => v.split(/,(?=\s*<)/)).map((s) => s.trim());
    assert.equal(rr.length, 2, `two Record-Route values: ${JSON.stringify(rr)}`);
    assert.ok(rr.every((v) => v.includes(`127.0.0.1:${srv.port}`) && /;lr/.test(v)), JSON.stringify(rr));
    assert.ok(rr.some((v) => /transport=tcp/i.test(v)), `one of them names TCP: ${JSON.stringify(rr)}`);
    const tcpIn = srv.sip("in").filter((m) => m.peer.startsWith("tcp:"));
    assert.ok(tcpIn.some((m) => /^BYE /.test(m.first)), "BYE came over TCP");
    assert.equal(out(srv, uasPort, /^BYE /).length, 1, "BYE forwarded to the UDP callee");
    assert.ok(srv.sip("out").some((m) => m.peer.startsWith("tcp:") && /^SIP\/2\.0 200 /.test(m.first) && /BYE/.test(hdrs(m.sip, "CSeq")[0])), "200 for BYE back over TCP");
    ok(u); // the callee's scenario (e.g. its mandatory ACK) completed
  });
});

test("Max-Forwards: 0 on an INVITE is answered 483 and not forwarded", { skip, timeout: 20_000 }, async () => {
  await withServer({}, async (srv) => {
    const uasPort = await freePort();
    await register(srv, "hops", uasPort);
    const c = await uac(srv, "uac_maxfwd0_483.xml", ["-s", "hops"]);
    ok(c);
    assert.deepEqual(out(srv, c.port, /^SIP\/2\.0 [2-6]/).map((m) => m.first.split(" ")[1]), ["483"]);
    assert.equal(out(srv, uasPort, /^INVITE /).length, 0, "nothing forwarded");
  });
});

test("unknown Proxy-Require option is answered 420 with Unsupported naming it", { skip, timeout: 20_000 }, async () => {
  await withServer({}, async (srv) => {
    const uasPort = await freePort();
    await register(srv, "ext", uasPort);
    const c = await uac(srv, "uac_proxyrequire_420.xml", ["-s", "ext"]);
    ok(c);
    const r = out(srv, c.port, /^SIP\/2\.0 [2-6]/);
    assert.deepEqual(r.map((m) => m.first.split(" ")[1]), ["420"]);
    assert.deepEqual(hdrs(r[0].sip, "Unsupported"), ["x-sipling-nosuchext"]);
    assert.equal(out(srv, uasPort, /^INVITE /).length, 0, "nothing forwarded");
  });
});

test("full transaction table (micro board): excess INVITEs get 503 + Retry-After, the server recovers", { skip, timeout: 30_000 }, async () => {
  await withServer({ config: { board: "micro", retryAfter: 7 } }, async (srv) => {
    const uasPort = await freePort();
    await register(srv, "flood", uasPort);
    // the callee rings and only rejects (486) after 2 s, so the calls that got through hold their
    // transactions meanwhile; it is stopped once the callers are done (how many calls it gets is not fixed)
    const pu = sipp(["-sf", sf("uas_busy.xml"), "-p", String(uasPort), "-mp", String(await freePort()), "-d", "2000",
      "-m", "1000", "-timeout", "9s"], { name: "uas-flood", timeoutMs: 12_000 });
    await sleep(250);
    const calls = 40;
    const c = await uac(srv, "uac_flood.xml", ["-s", "flood", "-r", "200", "-l", String(calls), "-m", String(calls)], { timeout: "10s" });
    await sleep(600); // let the last ACKs reach the callee
    pu.kill();
    await pu;
    // every call ended (503, or 180 then 486) and was ACKed: SIPp exit 0
    ok(c);
    assert.equal(c.stats.ok, calls, describe(c));
    const r503 = out(srv, c.port, /^SIP\/2\.0 503 /);
    assert.ok(r503.length > 0, "some callers got 503");
    assert.ok(r503.every((m) => hdrs(m.sip, "Retry-After")[0] === "7"), "503 carries Retry-After: 7 (config retryAfter)");
    assert.ok(srv.events("table-full").length > 0, "table-full logged");
    const fwd = new Set(out(srv, uasPort, /^INVITE /).map((m) => branchOf(m.sip)));
    assert.ok(fwd.size > 0 && fwd.size < calls, `some calls went through (${fwd.size} of ${calls})`);
    // the server still works: OPTIONS to itself -> 200
    const o = await uac(srv, "options.xml", [], { timeout: "5s", name: "options-after" });
    ok(o);
    assert.match(out(srv, o.port, /^SIP\/2\.0 /)[0]?.first ?? "", /^SIP\/2\.0 200 /);
    // every 486 the callee sent was ACKed by the proxy
    const acked = new Set(out(srv, uasPort, /^ACK /).map((m) => branchOf(m.sip)));
    const missing = [...fwd].filter((b) => !acked.has(b));
    assert.deepEqual(missing, [], `486 not ACKed by the proxy for ${missing.length} of ${fwd.size} forwarded INVITEs`);
  });
});
