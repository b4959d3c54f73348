// The registrant (assembly/registrant/registrant.ts) in the deterministic simulator: a probe core (the
// gateway's role: the user agent core) with registrations of its own (cfg kind Registration) toward a
// provider's registrar — a second core running our registrar with digest users (the real thing), or a
// scripted registrar (below) where a scenario needs answers our registrar never gives (423 by rule, stale
// nonces, 403, 503 with Retry-After, silence). Times are exact where the core decides them: the
// `trunk-reg` events carry the core's clock, and a TU timer fires at its deadline in the simulator.
//   a refresh carries the credentials of the registrar's last challenge (its nonce, the nonce count going
//     up): no 401 in an hour when the nonce lives longer; with nonces of 60 s, each refresh's stale=true
//     is answered at once, never a failure.
//   registers with digest and refreshes at half the granted expiry, hours of virtual time, many seeds:
//     one Call-ID and From tag for every REGISTER, CSeq increasing, each refresh exactly 300 s after the
//     200 that granted 600 s.
//   423: the next REGISTER asks the Min-Expires at once; refreshes follow at half of it.
//   stale nonce: a second challenge with stale=true is answered again; one without is not (backoff).
//   403 stops (state visible, nothing sent for hours); with `persist` it backs off instead.
//   503 / silence: waits of 30 s doubling (±20 %, not all alike), Retry-After honoured exactly,
//     every retry on the other address (failover); registered again once an address answers.
//   shutdown: a REGISTER with Expires: 0, the same Call-ID, the next CSeq; the account idle.
//   a full table, and texts that do not parse, are refused (never a trap).
import { test } from "node:test";
import assert from "node:assert/strict";
import { Sim, CoreNode } from "./net.mjs";
import { parse } from "./ua.mjs";
import { Scripted } from "./scripted.mjs";
import { createHash } from "node:crypto";

const { CfgKind, CfgResult } = await import("../../host/firmware/abi.mjs");

const GW = "127.0.0.4:5060";
const PROVIDER = "127.0.0.5:5060";
const SPARE = "127.0.0.6:5060";
const SILENT = "127.0.0.9:5060"; // nothing attached: what is sent there vanishes
const SEEDS = [51, 52, 53, 54, 55, 56, 57, 58];
const S = { Idle: 0, Registering: 1, Registered: 2, Refreshing: 3, Backoff: 4, Stopped: 5 };
const HOUR = 3_600_000;

/** Adds a registration text to core node n; returns sip_cfg_add's result. */
function addReg(n, text) {
  const b = Buffer.from(text, "latin1");
  n.mem().set(b, n.ptr.cfg);
  const r = n.ex.sip_cfg_add(CfgKind.Registration, b.length);
  n.drain(); // arms the first REGISTER
  return r;
}

/** The gateway's core: the probe build (user agent core, 4 accounts) of the server board. */
function gateway(sim) {
  return new CoreNode(sim, GW, { probe: true, domains: ["127.0.0.4"] });
}

/** trunk-reg events of node n, as [t, state, code]. */
const regEvents = (n) => n.eventLog.filter((e) => e.name === "trunk-reg").map((e) => [e.t, e.value, e.code, e]);

const md5 = (s) => createHash("md5").update(s, "latin1").digest("hex");

/** Whether REGISTER msg carries a right MD5 digest answer for nonce, user, password (qop-less). */
function digestOk(msg, nonce, user, password, realm = "prov") {
  const auth = msg.get("authorization");
  if (!auth) return false;
  const p = Object.fromEntries([...auth.matchAll(/(\w+)=(?:"([^"]*)"|([^,\s]+))/g)].map((m) => [m[1], m[2] ?? m[3]]));
  if (p.nonce !== nonce || p.username !== user) return false;
  const ha1 = md5(`${user}:${realm}:${password}`);
  return p.response === md5(`${ha1}:${nonce}:${md5(`REGISTER:${p.uri}`)}`);
}

const contactOf = (msg) => msg.get("contact");

test("registers with digest at our registrar and refreshes at half the granted expiry, for hours (many seeds)", () => {
  for (const seed of SEEDS) {
    const sim = new Sim({ seed, latency: [5, 20] });
    const prov = new CoreNode(sim, PROVIDER, { domains: ["127.0.0.5"], users: ["alice:password=s3cret"] });
    const gw = gateway(sim);
    const seen = [];
    const prevFilter = sim.filter;
    sim.filter = (from, to, text) => {
      if (to === PROVIDER && text.startsWith("REGISTER ")) seen.push({ t: sim.now, msg: parse(text) });
      return prevFilter ? prevFilter(from, to, text) : true;
    };
    assert.equal(addReg(gw, `0 ${PROVIDER} alice@127.0.0.5 600 alice s3cret`), CfgResult.Ok);
    sim.run(3 * HOUR);
    const ev = regEvents(gw);
    const registered = ev.filter(([, s]) => s === S.Registered);
    // 3 h at a refresh every 300 s: the first registration and 35 refreshes (the 36th is due at 3 h)
    assert.ok(registered.length >= 35, `seed ${seed}: ${registered.length} registrations`);
    for (const [, , code] of registered) assert.equal(code, 200);
    assert.equal(ev.filter(([, s]) => s === S.Backoff || s === S.Stopped).length, 0, `seed ${seed}: no failure`);
    // every refresh starts exactly 300 s after the 200 that granted 600 s
    for (let k = 0; k < ev.length; k++) {
      if (ev[k][1] !== S.Registered) continue;
      const next = ev[k + 1];
      if (!next) continue;
      assert.equal(next[1], S.Refreshing, `seed ${seed}: after registered`);
      assert.equal(next[0] - ev[k][0], 300_000, `seed ${seed}: refresh time`);
    }
    assert.equal(gw.ex.probe_reg_state(0), S.Registered);
    assert.equal(gw.ex.probe_reg_granted(0), 600);
    // one Call-ID and From tag throughout; CSeq up by one each time; challenged, then answered
    const ids = new Set(seen.map((r) => r.msg.callId));
    const tags = new Set(seen.map((r) => r.msg.fromTag));
    assert.equal(ids.size, 1, `seed ${seed}: Call-IDs ${[...ids]}`);
    assert.equal(tags.size, 1);
    seen.forEach((r, k) => assert.equal(r.msg.cseqNum, seen[0].msg.cseqNum + k, `seed ${seed}: CSeq ${k}`));
    assert.ok(seen.filter((r) => r.msg.get("authorization")).length >= 35);
    const first = seen[0].msg;
    assert.equal(first.ruri, "sip:127.0.0.5");
    assert.match(first.get("to"), /^<sip:alice@127\.0\.0\.5>$/);
    assert.equal(contactOf(first), "<sip:alice@127.0.0.4:5060>");
    assert.equal(first.get("expires"), "600");
    // the provider's registrar holds our binding, and logged no authentication failure
    assert.equal(prov.stat("bindingsInUse"), 1);
    assert.equal(prov.events["auth-fail"] ?? 0, 0);
    // the events name the account, the registrar and the Call-ID
    const e = registered[0][3];
    assert.deepEqual(e.texts.slice(0, 2), ["alice@127.0.0.5", PROVIDER]);
    assert.equal(e.texts[2], first.callId);
    assert.equal(e.texts[3], "registered");
  }
});

test("a refresh answers the registrar's last challenge before it asks (its nonce, the next nonce count): no 401 while the nonce lives; an expired one is answered again after its stale=true", () => {
  for (const [expiry, seed] of [[3600, 71], [60, 72]]) {
    const sim = new Sim({ seed, latency: [5, 20] });
    const prov = new CoreNode(sim, PROVIDER, { domains: ["127.0.0.5"], users: ["alice:password=s3cret"], set: { NonceExpiry: expiry } });
    const gw = gateway(sim);
    const regs = [];
    const challenges = [];
    sim.filter = (from, to, text) => {
      if (to === PROVIDER && text.startsWith("REGISTER ")) regs.push(parse(text));
      if (from === PROVIDER && text.startsWith("SIP/2.0 401 ")) challenges.push(parse(text));
      return true;
    };
    assert.equal(addReg(gw, `0 ${PROVIDER} alice@127.0.0.5 600 alice s3cret`), CfgResult.Ok);
    sim.run(HOUR);
    const ev = regEvents(gw);
    assert.equal(ev.filter(([, st]) => st === S.Backoff || st === S.Stopped).length, 0, `nonce expiry ${expiry}: no failure`);
    assert.equal(ev.filter(([, st]) => st === S.Registered).length, 12, "registered at 0 and refreshed every 300 s");
    assert.equal(prov.events["auth-fail"] ?? 0, 0, "no answer of ours refused");
    const auth = (m) => Object.fromEntries([...(m.get("authorization") ?? "").matchAll(/(\w+)=(?:"([^"]*)"|([^,\s]+))/g)].map((x) => [x[1], x[2] ?? x[3]]));
    if (expiry === 3600) {
      // one challenge in the hour: every refresh carried its nonce, counting on
      assert.equal(challenges.length, 1, "one 401 in an hour");
      assert.equal(regs.length, 13, "the first REGISTER, its answer, 11 refreshes");
      const nonce = auth(regs[1]).nonce;
      regs.slice(1).forEach((m, k) => {
        const p = auth(m);
        assert.equal(p.nonce, nonce, `REGISTER ${k + 1}: the first challenge's nonce`);
        assert.equal(p.nc, (k + 1).toString(16).padStart(8, "0"), `REGISTER ${k + 1}: nonce count`);
      });
    } else {
      // every refresh's nonce had expired: its stale=true answered at once, with a count of 1
      assert.equal(challenges.length, 12);
      assert.ok(challenges.slice(1).every((c) => /stale=true/i.test(c.get("www-authenticate"))), "stale=true each time");
      assert.equal(regs.length, 1 + 2 * 11 + 1, "each refresh sent twice: with the old nonce, then the new");
      for (let k = 2; k < regs.length; k += 2) assert.equal(auth(regs[k]).nc, "00000002", `refresh ${k / 2}: the kept nonce, counted on`);
    }
  }
});

test("423: the Min-Expires is adopted at once and the refresh follows at half of it", () => {
  for (const seed of SEEDS.slice(0, 4)) {
    const sim = new Sim({ seed, latency: [5, 20] });
    const reg = new Scripted(sim, PROVIDER, (msg) =>
      Number(msg.get("expires")) < 1800 ? [423, ["Min-Expires: 1800"]] : [200, [`Contact: ${contactOf(msg)};expires=1800`]]);
    const gw = gateway(sim);
    assert.equal(addReg(gw, `- ${PROVIDER} bob@prov.example 300`), 0);
    sim.run(HOUR);
    assert.deepEqual(reg.got.slice(0, 2).map((r) => r.expires), [300, 1800]);
    assert.ok(reg.got.slice(1).every((r) => r.expires === 1800));
    assert.equal(gw.ex.probe_reg_asked(0), 1800);
    assert.equal(gw.ex.probe_reg_granted(0), 1800);
    // the second REGISTER went at once (within two network crossings of the first), not after a wait
    assert.ok(reg.got[1].t - reg.got[0].t <= 40, `seed ${seed}: ${reg.got[1].t - reg.got[0].t} ms`);
    const ev = regEvents(gw);
    const reg1 = ev.find(([, s]) => s === S.Registered);
    const refresh = ev.find(([, s], k) => s === S.Refreshing && k > ev.indexOf(reg1));
    assert.equal(refresh[0] - reg1[0], 900_000);
    assert.equal(ev.filter(([, s]) => s === S.Backoff).length, 0);
    // 1 h: the first and three refreshes (at 15, 30, 45 min); the 423 once
    assert.equal(reg.got.length, 5);
  }
});

test("a stale nonce is answered again; a second challenge without stale=true is not (backoff)", () => {
  for (const seed of SEEDS.slice(0, 4)) {
    const sim = new Sim({ seed, latency: [5, 20] });
    const ch = (nonce, stale) => [401, [`WWW-Authenticate: Digest realm="prov", nonce="${nonce}"${stale ? ", stale=true" : ""}`]];
    const reg = new Scripted(sim, PROVIDER, (msg, k) => {
      if (k === 0) return ch("n1", false);
      if (k === 1) return digestOk(msg, "n1", "carol", "pw") ? ch("n2", true) : [403];
      if (k === 2) return digestOk(msg, "n2", "carol", "pw") ? [200, ["Expires: 120"]] : [403];
      return [200, ["Expires: 120"]];
    });
    const gw = gateway(sim);
    assert.equal(addReg(gw, `- ${PROVIDER} carol@prov.example 120 carol pw`), 0);
    sim.run(30_000);
    assert.equal(reg.got.length, 3);
    assert.equal(gw.ex.probe_reg_state(0), S.Registered);
    assert.equal(gw.ex.probe_reg_granted(0), 120);

    // a registrar that refuses our answer with a fresh challenge (not stale): no third answer, a backoff
    const sim2 = new Sim({ seed, latency: [5, 20] });
    const reg2 = new Scripted(sim2, PROVIDER, (msg, k) => ch(`m${k}`, false));
    const gw2 = gateway(sim2);
    assert.equal(addReg(gw2, `- ${PROVIDER} carol@prov.example 120 carol wrong`), 0);
    sim2.run(20_000);
    assert.equal(reg2.got.length, 2, "the challenge and one answer");
    assert.equal(gw2.ex.probe_reg_state(0), S.Backoff);
    const last = regEvents(gw2).at(-1);
    assert.deepEqual([last[1], last[2]], [S.Backoff, 401]);
  }
});

test("403 stops the account (state visible, nothing sent for hours); with persist it backs off", () => {
  for (const seed of SEEDS.slice(0, 4)) {
    for (const status of [403, 404]) {
      const sim = new Sim({ seed, latency: [5, 20] });
      const reg = new Scripted(sim, PROVIDER, () => [status]);
      const gw = gateway(sim);
      assert.equal(addReg(gw, `1 ${PROVIDER},${SPARE} dave@prov.example 600`), 0);
      sim.run(5 * HOUR);
      assert.equal(reg.got.length, 1, `seed ${seed} ${status}: REGISTERs`);
      assert.equal(gw.ex.probe_reg_state(0), S.Stopped);
      assert.equal(gw.ex.probe_reg_due(0), 0);
      const last = regEvents(gw).at(-1);
      assert.deepEqual([last[1], last[2], last[3].texts[3]], [S.Stopped, status, "stopped"]);
    }
    const sim = new Sim({ seed, latency: [5, 20] });
    const reg = new Scripted(sim, PROVIDER, () => [403]);
    const gw = gateway(sim);
    assert.equal(addReg(gw, `1 ${PROVIDER} dave@prov.example 600 persist`), 0);
    sim.run(HOUR);
    // waits of 30, 60, 120, 240, 480, 960, 1920 s (±20 %): the 7th REGISTER by 1890 × 1.2 s, the 8th
    // not before 3810 × 0.8 s, the 9th not before 5730 × 0.8 s (past the hour); never stopped
    assert.ok(reg.got.length >= 7 && reg.got.length <= 8, `seed ${seed}: ${reg.got.length}`);
    assert.equal(regEvents(gw).filter(([, s]) => s === S.Stopped).length, 0);
    assert.equal(gw.ex.probe_reg_state(0), S.Backoff);
  }
});

test("503 and silence: growing, jittered waits, every retry on the other address, Retry-After honoured", () => {
  const ratios = new Set();
  for (const seed of SEEDS) {
    const sim = new Sim({ seed, latency: [5, 20] });
    const a = new Scripted(sim, PROVIDER, () => [503]);
    const b = new Scripted(sim, SPARE, () => [503]);
    const gw = gateway(sim);
    assert.equal(addReg(gw, `- ${PROVIDER},${SPARE} erin@prov.example 600`), 0);
    sim.run(4 * HOUR);
    const ev = regEvents(gw);
    // each backoff is followed by the next attempt exactly its wait later: 30 s × 2^(f-1) up to 30 min, ±20 %
    let f = 0;
    for (let k = 0; k + 1 < ev.length; k++) {
      if (ev[k][1] !== S.Backoff) continue;
      f++;
      assert.equal(ev[k][2], 503);
      assert.equal(ev[k + 1][1], S.Registering);
      const wait = ev[k + 1][0] - ev[k][0];
      const base = Math.min(30_000 * 2 ** (f - 1), 1_800_000);
      assert.ok(wait >= base * 0.8 && wait <= base * 1.2, `seed ${seed}: failure ${f} waited ${wait}, base ${base}`);
      ratios.add(Math.round((wait / base) * 1000));
    }
    assert.ok(f >= 8, `seed ${seed}: ${f} failures in 4 h`);
    // the addresses alternate: PROVIDER first, then SPARE, PROVIDER, ...
    const order = [...a.got.map((r) => [r.t, "a"]), ...b.got.map((r) => [r.t, "b"])].sort((x, y) => x[0] - y[0]).map(([, w]) => w);
    order.forEach((w, k) => assert.equal(w, k % 2 === 0 ? "a" : "b", `seed ${seed}: attempt ${k}`));
    // each event names the address it was about
    assert.equal(ev[0][3].texts[1], PROVIDER);
  }
  assert.ok(ratios.size > 10, `jitter: ${ratios.size} distinct wait ratios`);

  for (const seed of SEEDS.slice(0, 4)) {
    // Retry-After longer than the backoff: waited exactly; the next address then registers
    const sim = new Sim({ seed, latency: [5, 20] });
    new Scripted(sim, PROVIDER, () => [503, ["Retry-After: 3600 (maintenance)"]]);
    const b = new Scripted(sim, SPARE, (msg) => [200, [`Contact: ${contactOf(msg)};expires=600`]]);
    const gw = gateway(sim);
    assert.equal(addReg(gw, `- ${PROVIDER},${SPARE} erin@prov.example 600`), 0);
    sim.run(2 * HOUR);
    const ev = regEvents(gw);
    assert.deepEqual(ev.slice(0, 4).map(([, s]) => s), [S.Registering, S.Backoff, S.Registering, S.Registered]);
    assert.equal(ev[2][0] - ev[1][0], 3_600_000);
    // registered at SPARE, and it stays there for its refreshes
    assert.equal(ev[3][3].texts[1], SPARE);
    assert.ok(b.got.length >= 12);
    assert.equal(gw.ex.probe_reg_failures(0), 0);

    // silence (Timer F, 32 s) on the first address: a 408, the wait, the second address registers
    const sim2 = new Sim({ seed, latency: [5, 20] });
    const b2 = new Scripted(sim2, SPARE, (msg) => [200, [`Contact: ${contactOf(msg)};expires=600`]]);
    const gw2 = gateway(sim2);
    assert.equal(addReg(gw2, `- ${SILENT},${SPARE} erin@prov.example 600`), 0);
    sim2.run(120_000);
    const ev2 = regEvents(gw2);
    assert.deepEqual(ev2.slice(0, 4).map(([, s, c]) => [s, c]), [[S.Registering, 0], [S.Backoff, 408], [S.Registering, 0], [S.Registered, 200]]);
    assert.equal(ev2[1][0] - ev2[0][0], 32_000, "Timer F: 64·T1");
    const w = ev2[2][0] - ev2[1][0];
    assert.ok(w >= 24_000 && w <= 36_000, `wait ${w}`);
    assert.equal(b2.got.length, 1);
  }
});

test("shutdown de-registers: Expires 0, the same Call-ID, the next CSeq; the account idle", () => {
  for (const seed of SEEDS.slice(0, 4)) {
    const sim = new Sim({ seed, latency: [5, 20] });
    const reg = new Scripted(sim, PROVIDER, (msg) => [200, [`Contact: ${contactOf(msg)};expires=${msg.get("expires")}`]]);
    const gw = gateway(sim);
    assert.equal(addReg(gw, `- ${PROVIDER} frank@prov.example 600`), 0);
    assert.equal(addReg(gw, `- ${SILENT} gina@prov.example 600`), 0); // never registered: nothing to remove
    sim.run(400_000); // registered, refreshed once
    assert.equal(reg.got.length, 2);
    assert.equal(gw.ex.probe_reg_shutdown(sim.now), 1);
    gw.drain();
    sim.run(sim.now + 10_000);
    assert.equal(reg.got.length, 3);
    const [r1, , r3] = reg.got;
    assert.equal(r3.expires, 0);
    assert.equal(r3.msg.callId, r1.msg.callId);
    assert.equal(r3.msg.cseqNum, reg.got[1].msg.cseqNum + 1);
    assert.equal(contactOf(r3.msg), contactOf(r1.msg));
    assert.equal(gw.ex.probe_reg_state(0), S.Idle);
    const last = regEvents(gw).filter(([, , , e]) => e.texts[0] === "frank@prov.example").at(-1);
    assert.deepEqual([last[1], last[2]], [S.Idle, 200]);
    // nothing more is sent by either account
    const n = reg.got.length;
    sim.run(sim.now + 2 * HOUR);
    assert.equal(reg.got.length, n);
    assert.equal(gw.ex.probe_reg_due(1), 0);
  }
});

test("a full table and texts that do not parse are refused, never a trap", () => {
  const sim = new Sim({ seed: 7 });
  const gw = gateway(sim);
  const refused = CfgResult.Refused;
  for (const bad of [
    "", "-", `- ${PROVIDER}`, `- ${PROVIDER} alice@x`, `- ${PROVIDER} alice@x 0`, `- ${PROVIDER} alice@x -1`,
    `- 127.0.0.5 alice@x 60`, `- ${PROVIDER} alice 60`, `- ${PROVIDER} @x 60`, `- ${PROVIDER} alice@ 60`,
    `- ${PROVIDER},${SPARE},127.0.0.7:5060 alice@x 60`, `- ${PROVIDER}, alice@x 60`, `x ${PROVIDER} alice@x 60`,
    `999 ${PROVIDER} alice@x 60`, `- ${PROVIDER} alice@x 60 onlyuser`, `- ${PROVIDER} alice@x 60 u p persist extra`,
    `- ${PROVIDER} alice@x 60 u p later`, `- ${PROVIDER} a"b@x 60`, `- ${PROVIDER} ${"u".repeat(33)}@x 60`,
    `- ${PROVIDER} alice@${"d".repeat(65)} 60`, `- ${PROVIDER} alice@x 60 u ${"p".repeat(65)}`, "\u00ff".repeat(300),
  ]) {
    assert.equal(addReg(gw, bad), refused, JSON.stringify(bad));
  }
  assert.equal(gw.ex.probe_reg_count(), 0);
  for (let k = 0; k < 3; k++) assert.equal(addReg(gw, `${k} [::1]:5060,${PROVIDER} u${k}@prov.example 60 u${k} p persist`), 0, `account ${k}`);
  // a trunk side's registration comes as a Side text ("register " and a Registration text: config.mjs)
  const side = (text) => {
    const b = Buffer.from(text, "latin1");
    gw.mem().set(b, gw.ptr.cfg);
    return gw.ex.sip_cfg_add(CfgKind.Side, b.length);
  };
  assert.equal(side(`register 1 ${PROVIDER}`), refused);
  assert.equal(side(`register 1 ${PROVIDER} u3@prov.example 60 u3 p`), 0);
  assert.equal(gw.ex.probe_reg_count(), 4);
  assert.equal(side(`register 2 ${PROVIDER} u4@prov.example 60 u4 p`), refused, "the table is full");
  assert.equal(addReg(gw, `- ${PROVIDER} late@prov.example 60`), refused, "the table is full");
  assert.equal(gw.ex.probe_reg_count(), 4);
  // the cfg buffer is wiped after a registration (it holds a password)
  assert.equal(gw.mem().subarray(gw.ptr.cfg, gw.ptr.cfg + 64).every((b) => b === 0), true);
  sim.run(60_000); // they run (the IPv6 address has no transport here: a failure and the other address)
  assert.ok(regEvents(gw).length > 0);
});

test("the release cores without the user agent refuse Registration as not in this build", () => {
  const sim = new Sim({ seed: 1 });
  for (const board of ["micro", "server"]) {
    const n = new CoreNode(sim, `127.0.0.${board === "micro" ? 20 : 21}:5060`, { board });
    assert.equal(addReg(n, `- ${PROVIDER} alice@x 60`), CfgResult.NotInBuild);
  }
});
