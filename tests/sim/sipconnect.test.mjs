// SIPconnect registration mode (RFC 6140: one REGISTER for a block of numbers) in the deterministic
// simulator, with two sipling cores playing enterprise and provider to each other:
//   enterprise  127.0.0.4  the probe core in B2BUA mode: a registrar side (alice registers there) and a
//               trunk side toward the provider, whose account acme registers with the `gin` option
//               (assembly/registrant/registrant.ts); the route rule maps +15550001 to alice
//   provider    127.0.0.5  the release core: our proxy and registrar (digest users acme and carol), with
//               the number block +155500xx provisioned for acme (cfg kind GinBlock, registrar/gin.ts)
//   carol       127.0.0.7  a phone of the provider's, calling the enterprise's numbers
// Checked: the REGISTER's shape (no user part, bnc, gin in Require and Proxy-Require, Supported: path),
// the provider's 200 (the template bound, Supported: gin), the refresh every 300 s after the 200 that
// granted 600 s for 3 virtual hours, a call to a number of the block reaching alice with the number as
// the Request-URI's user part at the enterprise, a number outside the block 480 at the provider (nothing
// to the enterprise). The registrar's rules on Require and Proxy-Require, and the registrant's check
// of a 2xx's P-Associated-URI (a scripted provider), follow; then a 420 (backoff), a 423 (Min-Expires at
// once, refreshes exactly 900 s after each 200) and the shutdown de-registration of the template.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Sim, CoreNode } from "./net.mjs";
import { Ua, parse } from "./ua.mjs";
import { Scripted, Raw } from "./scripted.mjs";

const { CfgKind, CfgResult } = await import("../../host/firmware/abi.mjs");

const ENT = "127.0.0.4:5060";
const PROVIDER = "127.0.0.5:5060";
const CAROL = "127.0.0.7:5060";
const RAW = "127.0.0.8:5060";
const SEEDS = [61, 62, 63, 64];
const S = { Idle: 0, Registering: 1, Registered: 2, Refreshing: 3, Backoff: 4, Stopped: 5 };
const HOUR = 3_600_000;

const cfg = (n, kind, text) => n.cfgAdd(kind, text);
const sideText = (n, text) => n.sideText(text);

const regEvents = (n) => n.eventLog.filter((e) => e.name === "trunk-reg");

/** The two cores, alice and carol registered; `seen` collects what crosses between the cores. */
function setup(seed) {
  const sim = new Sim({ seed, latency: [5, 20] });
  const prov = new CoreNode(sim, PROVIDER, { domains: ["127.0.0.5"], users: ["acme:password=s3cret", "carol:password=pw"], trusted: ["127.0.0.8/32"] });
  assert.equal(cfg(prov, CfgKind.GinBlock, "acme +155500xx"), CfgResult.Ok);
  const ent = new CoreNode(sim, ENT, { probe: true, domains: ["127.0.0.4"] });
  ent.ex.probe_b2bua_on(1);
  for (const t of ["0 registrar 1 127.0.0.4", `1 trunk 0 127.0.0.5 ${PROVIDER}`, "route 1 +15550001 0 9 alice"])
    assert.equal(sideText(ent, t), 1, t);
  const seen = { registers: [], okays: [], invites: [], outInvites: [] };
  sim.filter = (from, to, text) => {
    if (from === ENT && to === PROVIDER && text.startsWith("REGISTER ")) seen.registers.push({ t: sim.now, msg: parse(text) });
    if (from === PROVIDER && to === ENT && text.startsWith("SIP/2.0 200") && /\r\nCSeq: *\d+ REGISTER/i.test(text)) seen.okays.push({ t: sim.now, msg: parse(text) });
    if (from === PROVIDER && to === ENT && text.startsWith("INVITE ")) seen.invites.push(parse(text));
    if (from === ENT && to === PROVIDER && text.startsWith("INVITE ")) seen.outInvites.push(parse(text));
    return true;
  };
  assert.equal(cfg(ent, CfgKind.Registration, `1 ${PROVIDER} acme@127.0.0.5 600 acme s3cret gin=+155500xx`), CfgResult.Ok);
  const alice = new Ua(sim, "127.0.0.2:5060", "alice", { proxy: ENT, ring: 50, answer: 200 });
  const carol = new Ua(sim, CAROL, "carol", { proxy: PROVIDER, password: "pw", ring: 50, answer: 200 });
  alice.register();
  carol.register();
  return { sim, prov, ent, alice, carol, seen };
}

test("RFC 6140 registration between two sipling cores: the REGISTER's shape, the 200, refreshes every 300 s for 3 hours (many seeds)", () => {
  for (const seed of SEEDS) {
    const { sim, prov, ent, alice, carol, seen } = setup(seed);
    sim.run(3 * HOUR);
    assert.equal(alice.registered, 200);
    assert.equal(carol.registered, 200);
    // the REGISTER: To the account, Request-URI the provider's domain, a template Contact
    assert.ok(seen.registers.length >= 36, `seed ${seed}: ${seen.registers.length} REGISTERs`);
    for (const { msg } of seen.registers) {
      assert.equal(msg.ruri, "sip:127.0.0.5");
      assert.equal(msg.get("to"), "<sip:acme@127.0.0.5>");
      assert.equal(msg.get("contact"), "<sip:127.0.0.4:5060;bnc>");
      assert.doesNotMatch(msg.get("contact"), /@/, "no user part");
      assert.deepEqual(msg.all("require"), ["gin"]);
      assert.deepEqual(msg.all("proxy-require"), ["gin"]);
      assert.deepEqual(msg.all("supported"), ["path"]);
      assert.equal(msg.get("expires"), "600");
    }
    assert.equal(new Set(seen.registers.map((r) => r.msg.callId)).size, 1, "one Call-ID throughout");
    seen.registers.forEach((r, k) => assert.equal(r.msg.cseqNum, seen.registers[0].msg.cseqNum + k));
    // the provider's 200s: the template bound for 600 s, Supported: gin
    assert.ok(seen.okays.length >= 36);
    for (const { msg } of seen.okays) {
      assert.equal(msg.get("contact"), "<sip:127.0.0.4:5060;bnc>;expires=600");
      assert.ok(msg.all("supported").includes("gin"), msg.text);
    }
    // the enterprise's registrant: registered once, then a refresh exactly 300 s after each 200
    const ev = regEvents(ent);
    const reg = ev.filter((e) => e.value === S.Registered);
    assert.equal(reg.length, 36, `seed ${seed}: registrations in 3 h`); // at 0 s and every 300 s; the 37th due after 3 h
    assert.equal(ev.filter((e) => e.value === S.Backoff || e.value === S.Stopped).length, 0);
    const after = ev.map((e, k) => [e, ev[k + 1]]).filter(([e, next]) => e.value === S.Registered && next);
    assert.equal(after.length, 35, "every registration but the last is followed by a refresh");
    for (const [e, next] of after) {
      assert.equal(next.value, S.Refreshing);
      assert.equal(next.t - e.t, 300_000, `seed ${seed}: refresh at ${next.t}`);
    }
    assert.equal(ent.ex.probe_reg_state(0), S.Registered);
    assert.equal(ent.ex.probe_reg_granted(0), 600);
    // the provider holds acme's template only (carol registered once, for 600 s); no auth failure
    assert.equal(prov.stat("bindingsInUse"), 1);
    assert.equal(prov.events["auth-fail"] ?? 0, 0);
    // our registrar sent no P-Associated-URI: no trunk-assoc event
    assert.equal(ent.events["trunk-assoc"] ?? 0, 0);
  }
});

test("a call from the provider's side to a number of the block reaches the enterprise with the number as the Request-URI user, and alice", () => {
  for (const seed of SEEDS) {
    const { sim, alice, carol, seen } = setup(seed);
    sim.run(10_000);
    const id = carol.invite("+15550001", { hangupAfter: 500 });
    sim.run(sim.now + 5000);
    assert.deepEqual(carol.calls.get(id).finals, [200], `seed ${seed}\n${sim.transcript()}`);
    assert.equal(seen.invites.length, 1);
    const inv = seen.invites[0];
    assert.equal(inv.ruri, "sip:+15550001@127.0.0.4:5060", "the number in the user part, bnc gone");
    assert.equal(inv.get("to"), "<sip:+15550001@127.0.0.5>");
    const got = [...alice.calls.values()].filter((c) => c.role === "uas");
    assert.equal(got.length, 1);
    assert.equal(got[0].st.msg.ruri, "sip:alice@127.0.0.2:5060");
    assert.equal(got[0].byes, 1, "carol's hang-up reached alice");
    // a number outside the block: 480 at the provider, nothing to the enterprise
    const out = carol.invite("+15559999");
    // a number of the block the enterprise does not route: it reaches the enterprise, which refuses it
    const unrouted = carol.invite("+15550002");
    sim.run(sim.now + 5000);
    assert.deepEqual(carol.calls.get(out).finals, [480]);
    assert.deepEqual(seen.invites.map((m) => m.ruri), ["sip:+15550001@127.0.0.4:5060", "sip:+15550002@127.0.0.4:5060"]);
    assert.deepEqual(carol.calls.get(unrouted).finals, [404]);
  }
});

test("outbound calls toward the gin trunk call as numbers of its block: the caller's number as written, an extension of as many digits as the x's, else the side's number (From and PAI)", () => {
  for (const seed of SEEDS) {
    const { sim, ent, alice, seen } = setup(seed);
    assert.equal(sideText(ent, "pai 1 from"), 1);
    // "number SIDE N": a trunk's only, a number (no x)
    for (const bad of ["number 0 +15550000", "number 1 +155500xx", "number 1 15a", "number 1 +1555000000000000000000000000000000"])
      assert.equal(sideText(ent, bad), 0, bad);
    const ext = new Ua(sim, "127.0.0.3:5060", "01", { proxy: ENT });
    const full = new Ua(sim, "127.0.0.6:5060", "+15550042", { proxy: ENT });
    ext.register();
    full.register();
    sim.run(10_000);
    const fromUser = (m) => /<sip:([^@]+)@/.exec(m.get("from"))[1];
    const paiUser = (m) => /<sip:([^@]+)@/.exec(m.get("p-asserted-identity") ?? "<sip:none@>")[1];
    // one call at a time (the probe core's B2BUA table is small); each ends at the provider's 407
    const call = (ua) => { ua.invite("+15557777"); sim.run(sim.now + 3000); };
    call(ext);
    call(full);
    call(alice); // not a number of the block, no side number yet: as written
    assert.deepEqual(seen.outInvites.map((m) => [fromUser(m), paiUser(m)]),
      [["+15550001", "+15550001"], ["+15550042", "+15550042"], ["alice", "alice"]], `seed ${seed}\n${sim.transcript()}`);
    assert.equal(sideText(ent, "number 1 +15550000"), 1);
    call(alice);
    call(ext);
    assert.deepEqual(seen.outInvites.slice(3).map((m) => [fromUser(m), paiUser(m)]), [["+15550000", "+15550000"], ["+15550001", "+15550001"]]);
  }
});

test("user=phone numbers are taken without their visual separators (RFC 3966), at the provider's block and at the B2BUA's rules; without user=phone they are user names as written", () => {
  for (const seed of SEEDS) {
    const { sim, ent, alice, carol, seen } = setup(seed);
    sim.run(10_000);
    // the provider: +1-555-0001;user=phone is +15550001 of acme's block, forwarded with the number as written there
    const dashed = carol.invite("+1-555-0001", { ruriParams: ";user=phone", hangupAfter: 500 });
    sim.run(sim.now + 5000);
    assert.deepEqual(carol.calls.get(dashed).finals, [200], `seed ${seed}\n${sim.transcript()}`);
    assert.equal(seen.invites.at(-1).ruri, "sip:+15550001@127.0.0.4:5060", "the number without its separators");
    // without user=phone the user part is a name, matched as written: in no block
    const plain = carol.invite("+1-555-0001");
    sim.run(sim.now + 5000);
    assert.deepEqual(carol.calls.get(plain).finals, [480]);
    // the enterprise B2BUA: alice's call to +555-(777)-77.77;user=phone leaves as the number +5557777777 toward the provider
    assert.equal(sideText(ent, "route 0 +555 1 0"), 1);
    alice.invite("+555-(777)-77.77", { ruriParams: ";user=phone" });
    sim.run(sim.now + 3000);
    const out = seen.outInvites.at(-1);
    assert.ok(out, "the call left toward the provider");
    assert.equal(out.ruri, "sip:+5557777777@127.0.0.5", `seed ${seed}`);
  }
});

/** A stateless raw sender at RAW (a trusted source of the provider): sends texts, records responses. */
class RawPbx extends Raw {
  constructor(sim) {
    super(sim, RAW, PROVIDER);
  }
  register(n, extra, contact = "<sip:127.0.0.8:5060;bnc>") {
    this.send([
      "REGISTER sip:127.0.0.5 SIP/2.0", `Via: SIP/2.0/UDP ${RAW};branch=z9hG4bK-raw${n}`, "Max-Forwards: 70",
      "From: <sip:pbx@127.0.0.5>;tag=r1", "To: <sip:pbx@127.0.0.5>", "Call-ID: raw-1", `CSeq: ${n} REGISTER`,
      `Contact: ${contact}`, "Expires: 600", ...extra, "Content-Length: 0", "", "",
    ].join("\r\n"));
  }
}

test("our registrar: Require gin and path accepted, other tags 420 naming only them; Proxy-Require: gin passes the proxy; a bnc contact with a user part under gin is 400", () => {
  const sim = new Sim({ seed: 65, latency: [5, 20] });
  const prov = new CoreNode(sim, PROVIDER, { domains: ["127.0.0.5"], trusted: ["127.0.0.8/32"] });
  assert.equal(cfg(prov, CfgKind.GinBlock, "pbx +4930123x"), CfgResult.Ok);
  const raw = new RawPbx(sim);
  const cases = [
    [["Require: gin, foo", "Proxy-Require: gin"], 420, ["foo"]],
    [["Require: gin", "Proxy-Require: gin, bar"], 420, ["bar"]],
    [["Require: gin", "Proxy-Require: gin", "Supported: path"], 200, []],
  ];
  cases.forEach(([extra], k) => raw.register(k + 1, extra));
  sim.run(1000);
  assert.equal(raw.got.length, 3);
  cases.forEach(([, status, unsupported], k) => {
    const r = raw.got.find((m) => m.cseqNum === k + 1);
    assert.equal(r.status, status, `case ${k}: ${r.text}`);
    assert.deepEqual(r.all("unsupported"), unsupported);
  });
  const ok = raw.got.find((m) => m.cseqNum === 3);
  assert.equal(ok.get("contact"), "<sip:127.0.0.8:5060;bnc>;expires=600");
  assert.deepEqual(ok.all("supported").sort(), ["gin", "path"]);
  assert.equal(prov.stat("bindingsInUse"), 1);
  // a template with a user part (gin required): 400, nothing stored
  raw.register(4, ["Require: gin", "Proxy-Require: gin"], "<sip:pbx@127.0.0.8:5060;bnc>");
  // a REGISTER without any Require is as before: 200
  raw.register(5, []);
  sim.run(2000);
  assert.equal(raw.got.find((m) => m.cseqNum === 4).status, 400);
  assert.equal(raw.got.find((m) => m.cseqNum === 5).status, 200);
  // block texts: good ones taken, bad ones refused
  for (const bad of ["pbx", "pbx ", " +4930x", "pbx +49x3", "pbx 49+3", "p@x +49", "pbx +4930 x"]) assert.equal(cfg(prov, CfgKind.GinBlock, bad), CfgResult.Refused, bad);
  for (let k = 1; k < 8; k++) assert.equal(cfg(prov, CfgKind.GinBlock, `pbx${k} +49${k}xx`), CfgResult.Ok);
  assert.equal(cfg(prov, CfgKind.GinBlock, "pbx9 +499xx"), CfgResult.Refused, "the table of 8 is full");
});

test("the registrant's gin options: texts taken in either order, a bad block refused; P-Associated-URI logged and checked against the block", () => {
  const sim = new Sim({ seed: 66, latency: [5, 20] });
  const gw = new CoreNode(sim, ENT, { probe: true, domains: ["127.0.0.4"] });
  for (const t of [`- ${PROVIDER} a@p 600 gin`, `- ${PROVIDER} b@p 600 u pw persist gin=+1x`, `- ${PROVIDER} c@p 600 u pw gin persist`, `- ${PROVIDER} d@p 600 u gin`])
    assert.equal(cfg(gw, CfgKind.Registration, t), CfgResult.Ok, t);
  for (const t of [`- ${PROVIDER} e@p 600 gin=+1x2`, `- ${PROVIDER} e@p 600 gin=`, `- ${PROVIDER} e@p 600 gin=abc`, `- ${PROVIDER} e@p 600 u pw gin persist x`])
    assert.equal(cfg(gw, CfgKind.Registration, t), CfgResult.Refused, t);

  const outcomes = [];
  for (const [label, block, pau, listed, outside, detail] of [
    ["all in the block", "gin=+155500xx", "<sip:+15550001@p>, <sip:+15550099@p;user=phone>", 2, 0, "in-block"],
    ["one outside", "gin=+155500xx", "<sip:+15550001@p>, <sips:+15560001@p>, <tel:+15550002>", 3, 2, "outside-block"],
    ["no block configured", "gin", "<sip:+15550001@p>", 1, 0, "unchecked"],
  ]) {
    const sim2 = new Sim({ seed: 67, latency: [5, 20] });
    new Scripted(sim2, PROVIDER, (msg) => [200, [`Contact: ${msg.get("contact")};expires=600`, `P-Associated-URI: ${pau}`]]);
    const ent = new CoreNode(sim2, ENT, { probe: true, domains: ["127.0.0.4"] });
    assert.equal(cfg(ent, CfgKind.Registration, `- ${PROVIDER} acme@p 600 ${block}`), CfgResult.Ok);
    sim2.run(1000);
    assert.equal(ent.ex.probe_reg_state(0), S.Registered, label);
    const e = ent.eventLog.filter((x) => x.name === "trunk-assoc");
    assert.equal(e.length, 1, label);
    assert.deepEqual([e[0].code, e[0].value, e[0].texts[0], e[0].texts[1], e[0].texts[2], e[0].texts[3]], [listed, outside, "acme@p", PROVIDER, pau, detail], label);
    outcomes.push(detail);
  }
  assert.deepEqual(outcomes, ["in-block", "outside-block", "unchecked"]);
});

test("a registrar without gin answers 420: the account backs off as after any failure (30 s ±20 %), and tries again", () => {
  const sim = new Sim({ seed: 68, latency: [5, 20] });
  const reg = new Scripted(sim, PROVIDER, (msg, k) => (k < 2 ? [420, ["Unsupported: gin"]] : [200, [`Contact: ${msg.get("contact")};expires=600`]]));
  const ent = new CoreNode(sim, ENT, { probe: true, domains: ["127.0.0.4"] });
  assert.equal(cfg(ent, CfgKind.Registration, `- ${PROVIDER} acme@p 600 gin`), CfgResult.Ok);
  sim.run(HOUR);
  const ev = regEvents(ent);
  const backoffs = ev.filter((e) => e.value === S.Backoff);
  assert.deepEqual(backoffs.map((e) => e.code), [420, 420]);
  const gap1 = reg.got[1].t - reg.got[0].t;
  const gap2 = reg.got[2].t - reg.got[1].t;
  assert.ok(gap1 >= 24_000 && gap1 <= 36_100, `first wait ${gap1}`);
  assert.ok(gap2 >= 48_000 && gap2 <= 72_100, `second wait ${gap2}`);
  assert.equal(ent.ex.probe_reg_state(0), S.Registered);
});

test("a 423 is answered as for any account: the next gin REGISTER asks the Min-Expires at once, with the same template and option tags", () => {
  const sim = new Sim({ seed: 69, latency: [5, 20] });
  const reg = new Scripted(sim, PROVIDER, (msg) =>
    Number(msg.get("expires")) < 1800 ? [423, ["Min-Expires: 1800"]] : [200, [`Contact: ${msg.get("contact")};expires=1800`]]);
  const ent = new CoreNode(sim, ENT, { probe: true, domains: ["127.0.0.4"] });
  assert.equal(cfg(ent, CfgKind.Registration, `- ${PROVIDER} acme@p 600 gin=+155500xx`), CfgResult.Ok);
  sim.run(HOUR);
  assert.deepEqual(reg.got.slice(0, 2).map((r) => r.expires), [600, 1800]);
  assert.ok(reg.got[1].t - reg.got[0].t <= 40, "at once");
  for (const { msg } of reg.got) {
    assert.equal(msg.get("contact"), "<sip:127.0.0.4:5060;bnc>");
    assert.deepEqual([msg.all("require"), msg.all("proxy-require"), msg.all("supported")], [["gin"], ["gin"], ["path"]]);
  }
  assert.equal(ent.ex.probe_reg_granted(0), 1800);
  // 1 h: the first, the 423's answer, then refreshes at 15, 30 and 45 min
  assert.equal(reg.got.length, 5);
  const ev = regEvents(ent);
  // each refresh exactly 900 s (half the 1800 granted) after the 200 before it
  const gaps = ev.map((e, k) => [ev[k - 1], e]).filter(([, e]) => e.value === S.Refreshing).map(([before, e]) => [before.value, e.t - before.t]);
  assert.deepEqual(gaps, [[S.Registered, 900_000], [S.Registered, 900_000], [S.Registered, 900_000]]);
});

test("shutdown de-registers the template (Expires: 0, the bnc Contact): the provider forgets it and a number of the block is 480 again", () => {
  const { sim, prov, ent, carol, seen } = setup(70);
  sim.run(10_000);
  assert.equal(prov.stat("bindingsInUse"), 2, "acme's template and carol's contact");
  assert.equal(ent.ex.probe_reg_shutdown(sim.now), 1);
  ent.drain();
  sim.run(sim.now + 2000);
  const last = seen.registers.at(-1).msg;
  assert.equal(last.get("expires"), "0");
  assert.equal(last.get("contact"), "<sip:127.0.0.4:5060;bnc>");
  assert.deepEqual(last.all("require"), ["gin"]);
  assert.equal(prov.stat("bindingsInUse"), 1, "carol's only");
  assert.equal(ent.ex.probe_reg_state(0), S.Idle);
  const id = carol.invite("+15550001");
  sim.run(sim.now + 5000);
  assert.deepEqual(carol.calls.get(id).finals, [480]);
  assert.equal(seen.invites.length, 0);
});
