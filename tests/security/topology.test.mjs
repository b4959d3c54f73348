// Topology hiding (config "topologyHiding": true) against the real server (Node host + bundled wasm
// core) on loopback, with SIPp on three loopback addresses:
//   127.0.0.1  the proxy + registrar
//   127.0.0.2  the caller (SIPp UAC)
//   127.0.0.3  the callee (SIPp registers sip:uas@127.0.0.3:PORT, then answers as UAS)
// The scenarios (tests/sipp/security/topo_*.xml) keep IP addresses out of the identity headers
// (From sip:alice@sipling.test, To names the proxy, Call-ID <n>-<pid>@sipling.test via SIPp's
// -cid_str, SDP 192.0.2.1), so
// "no 127.0.0.2 in what the callee receives" (and vice versa) is a statement about topology: only
// Via and Contact name the peers, and those are what the proxy hides toward untrusted peers.
// Assertions use both the server trace (--trace: every message sent to each peer) and the SIPp
// message logs (-trace_msg: what each SIPp actually received).
//
// Two subtests pin server bugs found here, since fixed:
//   - "the callee's ACK names no 127.0.0.2": the ACK for a 2xx, routed by its tE token, is sent with
//     only our Via but with the caller's real Contact (request.ts ackTo calls markHidden(.., false)
//     and never substitutes the tC token, unlike forwardBranch/hideRequest);
//   - "the responses forwarded to the untrusted caller still hide the callee": with the callee
//     trusted, the 180/200 go to the untrusted caller with the callee's real Contact (response.ts
//     hideResponse only acts when the request was hidden toward the response's sender).
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { root, sipp, describe as describeRun, freePort, scratch, sf, withServer, settle, HOSTS } from "../integration/harness.mjs";

if (spawnSync("sipp", ["-v"], { encoding: "utf8" }).status !== 99) throw new Error("sipp is not installed (npm test runs tools/setup.mjs)");
if (!existsSync(join(root, "build", "node", "sipling.mjs"))) throw new Error("build/node/sipling.mjs missing (npm run build && npm run bundle)");

const CALLER = "127.0.0.2", CALLEE = "127.0.0.3";
const sec = (name) => sf(join("security", name));


/** SIPp from another loopback address (the harness's sipp with `ip`). */
const sippFrom = (ip, args, { timeoutMs = 12_000, name = "sipp" } = {}) => sipp(args, { ip, timeoutMs, name });
const ok = (r) => assert.equal(r.code, 0, describeRun(r));

/** Messages SIPp logged as received (-trace_msg), each normalized to CRLF line ends. */
function received(r) {
  return r.messages.split(/^-{20,}.*$/m)
    .map((b) => /^\s*\S+ message received \[\d+\] bytes :\s*\n\n([\s\S]*)$/.exec(b)?.[1])
    .filter(Boolean).map((m) => m.replace(/\r?\n/g, "\r\n").trim());
}
const first = (m) => m.split("\r\n")[0];
const head = (m) => m.split("\r\n\r\n")[0];
const hdrs = (sip, name) => head(sip).split("\r\n").slice(1)
  .filter((l) => l.toLowerCase().startsWith(name.toLowerCase() + ":")).map((l) => l.slice(name.length + 1).trim());
/** Via values of a message, comma-separated values split. */
const vias = (sip) => hdrs(sip, "Via").flatMap((v) => v.split(/,(?=\s*SIP\/)/).map((x) => x.trim()));

/** Traced messages the server sent to / received from `ip:port` whose first line matches `re`. */
const out = (srv, ip, port, re) => srv.sip("out").filter((m) => m.peer.endsWith(`${ip}:${port}`) && re.test(m.first));
const inn = (srv, ip, port, re) => srv.sip("in").filter((m) => m.peer.endsWith(`${ip}:${port}`) && re.test(m.first));

/** Registers sip:uas@127.0.0.3:port (REGISTER sent from 127.0.0.3:port). */
async function registerCallee(srv, port) {
  const csv = scratch("uas.csv", "SEQUENTIAL\nuas;127.0.0.1\n");
  const r = await sippFrom(CALLEE, [`127.0.0.1:${srv.port}`, "-sf", sf("register.xml"), "-inf", csv, "-p", String(port),
    "-m", "1", "-timeout", "5s", "-timeout_error"], { name: "reg-uas", timeoutMs: 8000 });
  ok(r);
  // the host writes log lines once per event-loop turn: the 200 can reach SIPp before the event line reaches us
  const reg = await srv.waitFor((o) => (o.event === "reg-add" || o.msg === "reg-add") && o.aor === "uas", 2000, "reg-add for uas");
  assert.equal(reg.contact, `sip:uas@${CALLEE}:${port}`, "the callee's registered contact");
}

/** One call: the callee UAS on 127.0.0.3, the caller UAC on 127.0.0.2. Returns both runs and ports. */
async function call(srv, { uas, uac, uasExtra = [], uacExtra = [], tag }) {
  const uasPort = await freePort(), uacPort = await freePort();
  await registerCallee(srv, uasPort);
  const u = sippFrom(CALLEE, ["-sf", sec(uas), "-p", String(uasPort), "-mp", String(await freePort()), "-m", "1",
    "-timeout", "8s", "-timeout_error", ...uasExtra], { name: `uas-${tag}` });
  await sleep(250); // let it bind before the INVITE comes
  const c = await sippFrom(CALLER, [`127.0.0.1:${srv.port}`, "-sf", sec(uac), "-s", "uas", "-p", String(uacPort),
    "-mp", String(await freePort()), "-m", "1", "-timeout", "8s", "-timeout_error", "-cid_str", "%u-%p@sipling.test", ...uacExtra], { name: `uac-${tag}` });
  const e = await u;
  await settle(srv); // the server's trace of the call, all of it
  return { c, e, uasPort, uacPort };
}

const tokenRe = (kind, srv) => new RegExp(`^<sip:${kind}[0-9a-f]{16}@127\\.0\\.0\\.1:${srv.port}>$`);
const noIp = (msgs, ip, what) => {
  for (const m of msgs) assert.ok(!head(m).includes(ip), `${what} names ${ip}:\n${m}`);
};

/** Our Record-Route on this server: its address, lr and the dialog MAC (proxy/rrmac.ts). */
const rrOf = (srv) => new RegExp(`^<sip:127\\.0\\.0\\.1:${srv.port};lr;dlg=[0-9a-f]{16}>$`);
/** Exactly one value, our Record-Route. */
const oneRr = (values, srv, what) => {
  assert.equal(values.length, 1, `${what}: one value (${JSON.stringify(values)})`);
  assert.match(values[0], rrOf(srv), what);
};
const ourViaRe = (srv) => new RegExp(`^SIP/2\\.0/UDP 127\\.0\\.0\\.1:${srv.port};branch=z9hG4bK`);
/** Via without the proxy's rport / received edits. */
const bareVia = (v) => v.replace(/;(rport|received)(=[^;]*)?/g, "");
const isResp = (code, method) => (m) => new RegExp(`^SIP/2\\.0 ${code} `).test(m.first) && new RegExp(`\\b${method}$`).test(hdrs(m.sip, "CSeq")[0] ?? "");

// Each test runs one call and checks the requirements as subtests (sharing the call), so a failure
// names the requirement it breaks while the others are still checked.

for (const host of HOSTS) {
  test(`${host}: topology hiding, caller hangs up (INVITE/100/180/200/ACK, BYE/200 from the caller)`, { timeout: 30_000 }, async (t) => {
    await withServer({ host, config: { topologyHiding: true } }, async (srv) => {
      const { c, e, uasPort, uacPort } = await call(srv, { uas: "topo_uas.xml", uac: "topo_uac.xml", uacExtra: ["-d", "300"], tag: "a" });
      ok(c); ok(e);
      const eRecv = received(e), cRecv = received(c);
      const inv = out(srv, CALLEE, uasPort, /^INVITE /);
      const ok200 = out(srv, CALLER, uacPort, /./).filter(isResp(200, "INVITE"));

      await t.test("1. the callee's INVITE: no 127.0.0.2, only the proxy's Via, a tC token Contact, our Record-Route", () => {
        assert.equal(inv.length, 1, "one INVITE to the callee");
        noIp([inv[0].sip], CALLER, "the INVITE sent to the callee (trace)");
        assert.deepEqual(vias(inv[0].sip).length, 1, `only the proxy's Via: ${vias(inv[0].sip).join(" | ")}`);
        assert.match(vias(inv[0].sip)[0], ourViaRe(srv));
        assert.equal(hdrs(inv[0].sip, "Contact").length, 1);
        assert.match(hdrs(inv[0].sip, "Contact")[0], tokenRe("tC", srv), "the caller's Contact is a tC token");
        oneRr(hdrs(inv[0].sip, "Record-Route"), srv, "our Record-Route");
        const eInv = eRecv.filter((m) => /^INVITE /.test(m));
        assert.equal(eInv.length, 1, `the callee SIPp received one INVITE; received: ${eRecv.map(first).join(" | ")}`);
        noIp(eInv, CALLER, "the INVITE the callee received (SIPp log)");
        assert.equal(vias(eInv[0]).length, 1, "one Via in the callee's INVITE (SIPp log)");
      });

      await t.test("2. the caller's 200 OK: no 127.0.0.3, the caller's own Via, a tE token Contact", () => {
        const callerInv = inn(srv, CALLER, uacPort, /^INVITE /)[0];
        assert.ok(callerInv, "the caller's INVITE reached the proxy");
        const origVia = vias(callerInv.sip);
        assert.equal(origVia.length, 1);
        assert.ok(ok200.length >= 1, "200 for the INVITE relayed to the caller");
        for (const m of [...ok200, ...out(srv, CALLER, uacPort, /^SIP\/2\.0 1\d\d /)]) noIp([m.sip], CALLEE, `${m.first} sent to the caller (trace)`);
        const rv = vias(ok200[0].sip);
        assert.equal(rv.length, 1, `the 200's Via is the caller's own only: ${rv.join(" | ")}`);
        assert.equal(bareVia(rv[0]), bareVia(origVia[0]), "the caller's original Via put back");
        assert.match(hdrs(ok200[0].sip, "Contact")[0] ?? "", tokenRe("tE", srv), "the callee's Contact is a tE token");
        for (const m of out(srv, CALLER, uacPort, /^SIP\/2\.0 180 /)) assert.match(hdrs(m.sip, "Contact")[0] ?? "", tokenRe("tE", srv), "180 Contact is a tE token");
        assert.ok(cRecv.some((m) => /^SIP\/2\.0 200 /.test(m)), `the caller SIPp received the 200; received: ${cRecv.map(first).join(" | ")}`);
        noIp(cRecv, CALLEE, "a message the caller received (SIPp log)");
      });

      await t.test("3. ACK and BYE reach the callee through the tE token (only our Via, no Route); the BYE's 200 reaches the caller", () => {
        const tokenE = hdrs(ok200[0]?.sip ?? "", "Contact")[0]?.slice(1, -1);
        for (const method of ["ACK", "BYE"]) {
          const fromCaller = inn(srv, CALLER, uacPort, new RegExp(`^${method} `));
          assert.ok(fromCaller.length >= 1, `the caller sent ${method} to the proxy`);
          assert.equal(fromCaller[0].first, `${method} ${tokenE} SIP/2.0`, `${method} Request-URI is the tE token`);
          oneRr(hdrs(fromCaller[0].sip, "Route"), srv, `${method} routed by our Record-Route`);
          const toCallee = out(srv, CALLEE, uasPort, new RegExp(`^${method} `));
          assert.ok(toCallee.length >= 1, `${method} forwarded to the callee`);
          assert.equal(toCallee[0].first, `${method} sip:uas@${CALLEE}:${uasPort} SIP/2.0`, `${method} sent to the real contact`);
          assert.equal(vias(toCallee[0].sip).length, 1, `${method} to the callee carries only our Via`);
          assert.match(vias(toCallee[0].sip)[0], ourViaRe(srv));
          assert.equal(hdrs(toCallee[0].sip, "Route").length, 0, `${method}: our Route removed`);
        }
        assert.ok(eRecv.some((m) => /^ACK /.test(m)) && eRecv.some((m) => /^BYE /.test(m)), "the callee SIPp received ACK and BYE");
        const byeOk = out(srv, CALLER, uacPort, /./).filter(isResp(200, "BYE"));
        assert.ok(byeOk.length >= 1, "the BYE's 200 relayed to the caller");
        noIp(byeOk.map((m) => m.sip), CALLEE, "the BYE's 200 sent to the caller");
        assert.ok(cRecv.some((m) => /^SIP\/2\.0 200 /.test(m) && /BYE/.test(hdrs(m, "CSeq")[0])), "the caller SIPp received the BYE's 200");
      });

      await t.test("3. the callee's BYE names no 127.0.0.2 (Contact a tC token)", () => {
        const bye = out(srv, CALLEE, uasPort, /^BYE /);
        noIp(bye.map((m) => m.sip), CALLER, "the BYE sent to the callee (trace)");
        noIp(eRecv.filter((m) => /^BYE /.test(m)), CALLER, "the BYE the callee received (SIPp log)");
        assert.match(hdrs(bye[0]?.sip ?? "", "Contact")[0] ?? "", tokenRe("tC", srv));
      });

      await t.test("3. the callee's ACK names no 127.0.0.2 (its Contact too)", () => {
        noIp(eRecv.filter((m) => /^ACK /.test(m)), CALLER, "the ACK the callee received (SIPp log)");
        noIp(out(srv, CALLEE, uasPort, /^ACK /).map((m) => m.sip), CALLER, "the ACK sent to the callee (trace)");
      });

      await t.test("nothing sent to either side names the other", () => {
        noIp(out(srv, CALLER, uacPort, /./).map((m) => m.sip), CALLEE, "a message sent to the caller");
        noIp(out(srv, CALLEE, uasPort, /^(?!ACK )/).map((m) => m.sip), CALLER, "a message (other than the ACK, see above) sent to the callee");
      });
    });
  });

  test(`${host}: topology hiding, callee hangs up (INVITE/180/200/ACK, BYE/200 from the callee)`, { timeout: 30_000 }, async (t) => {
    await withServer({ host, config: { topologyHiding: true } }, async (srv) => {
      const { c, e, uasPort, uacPort } = await call(srv, { uas: "topo_uas_bye.xml", uac: "topo_uac_recvbye.xml", uasExtra: ["-d", "300"], tag: "b" });
      ok(c); ok(e);
      const inv = out(srv, CALLEE, uasPort, /^INVITE /)[0];
      const byeIn = inn(srv, CALLEE, uasPort, /^BYE /);

      await t.test("4. the callee's BYE (to the tC token) reaches the caller's real contact with no 127.0.0.3 in it", () => {
        assert.ok(inv, "INVITE to the callee");
        const tokenC = hdrs(inv.sip, "Contact")[0]?.slice(1, -1);
        assert.match(`<${tokenC}>`, tokenRe("tC", srv));
        assert.ok(byeIn.length >= 1, "the callee's BYE reached the proxy");
        assert.equal(byeIn[0].first, `BYE ${tokenC} SIP/2.0`, "the callee's BYE targets the tC token");
        const bye = out(srv, CALLER, uacPort, /^BYE /);
        assert.ok(bye.length >= 1, "BYE forwarded to the caller");
        assert.equal(bye[0].first, `BYE sip:alice@${CALLER}:${uacPort} SIP/2.0`, "BYE sent to the caller's real contact");
        noIp(bye.map((m) => m.sip), CALLEE, "the BYE sent to the caller (trace)");
        assert.equal(vias(bye[0].sip).length, 1, `only our Via on the BYE to the caller: ${vias(bye[0].sip).join(" | ")}`);
        assert.match(vias(bye[0].sip)[0], ourViaRe(srv));
        assert.equal(hdrs(bye[0].sip, "Route").length, 0, "our Route removed");
        assert.match(hdrs(bye[0].sip, "Contact")[0] ?? "", tokenRe("tE", srv), "the callee's Contact is a tE token");
        const cBye = received(c).filter((m) => /^BYE /.test(m));
        assert.ok(cBye.length >= 1, "the caller SIPp received the BYE");
        noIp(cBye, CALLEE, "the BYE the caller received (SIPp log)");
      });

      await t.test("4. the BYE's 200 goes back to the callee with its own Via and no 127.0.0.2", () => {
        const byeOk = out(srv, CALLEE, uasPort, /./).filter(isResp(200, "BYE"));
        assert.ok(byeOk.length >= 1, "the BYE's 200 relayed to the callee");
        noIp(byeOk.map((m) => m.sip), CALLER, "the BYE's 200 sent to the callee");
        assert.deepEqual(vias(byeOk[0].sip).map(bareVia), vias(byeIn[0].sip).map(bareVia), "the callee's own Via put back on the BYE's 200");
      });

      await t.test("nothing sent to either side names the other (the ACK aside: see the first test)", () => {
        noIp(out(srv, CALLER, uacPort, /./).map((m) => m.sip), CALLEE, "a message sent to the caller");
        noIp(out(srv, CALLEE, uasPort, /^(?!ACK )/).map((m) => m.sip), CALLER, "a message sent to the callee");
      });
    });
  });

  test(`${host}: topology hiding with the callee trusted (access.trusted 127.0.0.3/32)`, { timeout: 30_000 }, async (t) => {
    await withServer({ host, config: { topologyHiding: true, access: { trusted: [`${CALLEE}/32`] } } }, async (srv) => {
      const { c, e, uasPort, uacPort } = await call(srv, { uas: "topo_uas.xml", uac: "topo_uac.xml", uacExtra: ["-d", "300"], tag: "t" });
      ok(c); ok(e);

      await t.test("5. the call works and the trusted callee's INVITE keeps the caller's Via (no hiding toward a trusted peer)", () => {
        const inv = out(srv, CALLEE, uasPort, /^INVITE /);
        assert.equal(inv.length, 1, "one INVITE to the callee");
        const v = vias(inv[0].sip);
        assert.equal(v.length, 2, `our Via on top of the caller's: ${v.join(" | ")}`);
        assert.match(v[0], ourViaRe(srv));
        const callerVia = vias(inn(srv, CALLER, uacPort, /^INVITE /)[0].sip)[0];
        assert.equal(bareVia(v[1]), bareVia(callerVia), "the caller's Via kept as sent");
        assert.equal(hdrs(inv[0].sip, "Contact")[0], `<sip:alice@${CALLER}:${uacPort}>`, "the caller's real Contact");
        oneRr(hdrs(inv[0].sip, "Record-Route"), srv, "our Record-Route");
        assert.ok(out(srv, CALLEE, uasPort, /^ACK /).length >= 1, "ACK reached the callee");
        assert.ok(out(srv, CALLEE, uasPort, /^BYE /).length >= 1, "BYE reached the callee");
        assert.ok(out(srv, CALLER, uacPort, /./).filter(isResp(200, "BYE")).length >= 1, "the BYE's 200 reached the caller");
      });

      await t.test("the responses forwarded to the untrusted caller still hide the callee (tE token Contact, no 127.0.0.3)", () => {
        const ok200 = out(srv, CALLER, uacPort, /./).filter(isResp(200, "INVITE"));
        assert.ok(ok200.length >= 1, "200 relayed to the caller");
        noIp(ok200.map((m) => m.sip), CALLEE, "the 200 sent to the untrusted caller");
        assert.match(hdrs(ok200[0].sip, "Contact")[0] ?? "", tokenRe("tE", srv), "tE token toward the untrusted caller");
      });
    });
  });
}
