// The B2BUA (board gateway, "mode": "b2bua") on the Node and the native host, against SIPp on loopback: phones on our
// registrar side (127.0.0.1) and a service provider's trunk (SIPp bound to 127.0.0.9, the trunk side's
// configured address). Every SIPp run must pass its scenario (exit 0); the server's trace shows what
// crossed between the legs and what did not.
//   phone → trunk: INVITE/180/200/ACK/BYE, a new call on the trunk leg (Call-ID, tags, Via, Contact of
//     its own, none of the phone's addresses in its headers), unknown headers and the SDP passed through
//   the trunk hangs up: its BYE reaches the phone
//   CANCEL while ringing: 200 and 487 to the phone, CANCEL to the trunk, its 487 ACKed
//   trunk → phone: the provider's call reaches the phone where it registered; with Privacy: header, without
//     the headers that may reveal its caller (RFC 3323 §5.1)
//   identity: our P-Asserted-Identity toward the trunk, a phone's own PAI/PPI dropped, Privacy: id
//     anonymising the From, the trunk side's drop list applied, other unknown headers passed
//   a phone on TCP: REGISTER and the call on one connection, the trunk leg on UDP
//   strangers: an unregistered caller gets 403 and nothing reaches the trunk
//   configuration: "mode": "b2bua" on a core without the user agent is refused, naming the key
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { setTimeout as sleep } from "node:timers/promises";
import { join } from "node:path";
import { root, startServer, sipp, describe, freePort, scratch, sf, settle, HOSTS } from "./harness.mjs";
import { Ua, request, status } from "../lib/sipua.mjs";

if (spawnSync("sipp", ["-v"], { encoding: "utf8" }).status !== 99) throw new Error("sipp is not installed (npm test runs tools/setup.mjs)");

const TRUNK_IP = "127.0.0.9";
const ok = (r) => assert.equal(r.code, 0, describe(r));
const hdrs = (sip, name) => sip.split("\r\n\r\n")[0].split("\r\n").slice(1)
  .filter((l) => l.toLowerCase().startsWith(name.toLowerCase() + ":")).map((l) => l.slice(name.length + 1).trim());
const head = (sip) => sip.split("\r\n\r\n")[0];

/**
 * A B2BUA between the registrar side and a trunk at 127.0.0.9:trunkPort (or between the given sides);
 * runs fn(srv), always stops it.
 */
async function withB2bua(host, trunkPort, fn, sides = [
  { name: "office", role: "registrar", route: "carrier", routes: [{ prefix: "00", to: "carrier", strip: 2, prepend: "+" }] },
  { name: "carrier", role: "trunk", address: `${TRUNK_IP}:${trunkPort}`, route: "office" },
], { tcp = false, users, config = {} } = {}) {
  const srv = await startServer({ host, tcp, config: { board: "gateway", mode: "b2bua", domains: ["127.0.0.1"], sides, ...(users ? { users } : {}), ...config } });
  try {
    await fn(srv);
  } catch (e) {
    if (e && typeof e === "object") {
      e.message += `\n--- server log ---\n${srv.summary().slice(-6000)}`;
      if (typeof e.stack === "string") e.stack = e.message + "\n" + e.stack.split("\n").filter((l) => /^\s+at /.test(l)).join("\n");
    }
    throw e;
  } finally {
    await srv.stop();
  }
}

const target = (srv) => `127.0.0.1:${srv.port}`;

/** Registers sip:user@127.0.0.1 from 127.0.0.1:port. */
async function register(srv, user, port) {
  const csv = scratch(`${user}.csv`, `SEQUENTIAL\n${user};127.0.0.1\n`);
  ok(await sipp([target(srv), "-sf", sf("register.xml"), "-inf", csv, "-p", String(port), "-mp", String(await freePort()),
    "-m", "1", "-timeout", "5s", "-timeout_error"], { name: `reg-${user}`, timeoutMs: 8000 }));
}

/** A SIPp UAS on ip:port (started, bound); { done } resolves to its run. */
async function uas(scenario, port, { ip = TRUNK_IP, extra = [], name = "uas" } = {}) {
  const p = sipp(["-sf", sf(scenario), "-i", ip, "-p", String(port), "-mp", String(await freePort()), "-m", "1",
    "-timeout", "10s", "-timeout_error", ...extra], { name, ip, timeoutMs: 15_000 });
  await sleep(250);
  return { done: p };
}

/** A SIPp UAC from ip:port to the B2BUA (awaited). */
async function uac(srv, scenario, port, { ip = "127.0.0.1", extra = [], name = "uac" } = {}) {
  const r = await sipp([target(srv), "-sf", sf(scenario), "-i", ip, "-p", String(port), "-mp", String(await freePort()), "-m", "1",
    "-timeout", "10s", "-timeout_error", ...extra], { name, ip, timeoutMs: 15_000 });
  await settle(srv);
  return r;
}

const toPeer = (srv, ip, port, re) => srv.sip("out").filter((m) => m.peer.endsWith(`${ip}:${port}`) && re.test(m.first));
const fromPeer = (srv, ip, port, re) => srv.sip("in").filter((m) => m.peer.endsWith(`${ip}:${port}`) && re.test(m.first));

/**
 * One call of the registered phone "sipp" through the B2BUA on `host` to a SIPp UAS as the trunk: the
 * trunk's scenario, then the phone's (calling 15551234), both passing; then check(srv, phone, trunkPort)
 * with the B2BUA's message log.
 */
async function phoneCall(host, trunkXml, phoneXml, check) {
  const trunkPort = await freePort();
  await withB2bua(host, trunkPort, async (srv) => {
    const phone = await freePort();
    await register(srv, "sipp", phone);
    const carrier = await uas(trunkXml, trunkPort, { name: "carrier" });
    ok(await uac(srv, phoneXml, phone, { extra: ["-s", "15551234"], name: "phone" }));
    ok(await carrier.done);
    check(srv, phone, trunkPort);
  });
}

for (const host of HOSTS) {
  test(`${host}: phone → trunk: a new call on the trunk leg, unknown headers and SDP passed through, BYE carried`, { timeout: 40_000 }, async () => {
    const trunkPort = await freePort();
    await withB2bua(host, trunkPort, async (srv) => {
      const phone = await freePort();
      await register(srv, "sipp", phone);
      const carrier = await uas("uas.xml", trunkPort, { name: "carrier" });
      const r = await uac(srv, "b2bua_uac.xml", phone, { extra: ["-s", "15551234", "-d", "300"], name: "phone" });
      ok(r);
      ok(await carrier.done);
      const inA = fromPeer(srv, "127.0.0.1", phone, /^INVITE /)[0];
      const outB = toPeer(srv, TRUNK_IP, trunkPort, /^INVITE /)[0];
      assert.ok(inA && outB, "the INVITE came in from the phone and went out to the trunk");
      assert.equal(outB.first, `INVITE sip:15551234@${TRUNK_IP}:${trunkPort} SIP/2.0`);
      assert.notEqual(hdrs(outB.sip, "Call-ID")[0], hdrs(inA.sip, "Call-ID")[0], "a Call-ID of its own");
      assert.ok(!head(outB.sip).includes(`:${phone}`), `none of the phone's addresses in the trunk leg's headers:\n${outB.sip}`);
      assert.deepEqual(hdrs(outB.sip, "Via").length, 1, "one Via: ours");
      assert.deepEqual(hdrs(outB.sip, "X-Account"), ["42;tier=gold"], "an unknown header and its parameter passed through");
      assert.deepEqual(hdrs(outB.sip, "Subject"), ["Performance Test"]);
      assert.deepEqual(hdrs(outB.sip, "Max-Forwards"), ["69"]);
      assert.equal(outB.sip.split("\r\n\r\n")[1], inA.sip.split("\r\n\r\n")[1], "the SDP offer byte for byte");
      const ok200 = toPeer(srv, "127.0.0.1", phone, /^SIP\/2\.0 200/).find((m) => /INVITE/.test(hdrs(m.sip, "CSeq")[0]));
      assert.ok(ok200, "the phone got a 200 for its INVITE");
      assert.deepEqual(hdrs(ok200.sip, "Contact"), [`<sip:127.0.0.1:${srv.port}>`], "the B2BUA's Contact, not the trunk's");
      assert.ok(!head(ok200.sip).includes(`:${trunkPort}`), "none of the trunk's addresses in the phone leg's headers");
      assert.match(ok200.sip.split("\r\n\r\n")[1], /^v=0\r\n/, "the SDP answer passed back");
      assert.equal(toPeer(srv, TRUNK_IP, trunkPort, /^BYE /).length >= 1, true, "the phone's BYE carried to the trunk");
    });
  });

  test(`${host}: identity toward the trunk: our P-Asserted-Identity, the phone's claims dropped, Privacy: id anonymises the From, the side's drop list applied`, { timeout: 40_000 }, async () => {
    const trunkPort = await freePort();
    const sides = [
      { name: "office", role: "registrar", route: "carrier" },
      { name: "carrier", role: "trunk", address: `${TRUNK_IP}:${trunkPort}`, route: "office", identity: { pai: "from" }, drop: ["x-office-extension"] },
    ];
    await withB2bua(host, trunkPort, async (srv) => {
      const phone = await freePort();
      await register(srv, "sipp", phone);
      const carrier = await uas("uas.xml", trunkPort, { name: "carrier" });
      ok(await uac(srv, "b2bua_uac_identity.xml", phone, { extra: ["-s", "15551234", "-d", "300"], name: "phone" }));
      ok(await carrier.done);
      const inA = fromPeer(srv, "127.0.0.1", phone, /^INVITE /)[0];
      const outB = toPeer(srv, TRUNK_IP, trunkPort, /^INVITE /)[0];
      assert.ok(inA && outB, "the INVITE came in from the phone and went out to the trunk");
      assert.deepEqual(hdrs(inA.sip, "X-Office-Extension"), ["204"], "the phone sent it");
      assert.deepEqual(hdrs(outB.sip, "P-Asserted-Identity"), [`<sip:sipp@${TRUNK_IP}:${trunkPort}>`], outB.sip);
      assert.deepEqual(hdrs(outB.sip, "P-Preferred-Identity"), []);
      assert.match(hdrs(outB.sip, "From")[0], /^"Anonymous" <sip:anonymous@anonymous\.invalid>;tag=[0-9a-f]+$/);
      assert.deepEqual(hdrs(outB.sip, "Privacy"), ["id"]);
      assert.deepEqual(hdrs(outB.sip, "X-Office-Extension"), [], "the trunk side's drop list");
      assert.deepEqual(hdrs(outB.sip, "X-Account"), ["42;tier=gold"], "other unknown headers pass");
      assert.equal(toPeer(srv, TRUNK_IP, trunkPort, /^BYE /).length >= 1, true, "the phone's BYE carried to the trunk");
    }, sides);
  });

  test(`${host}: a routing rule rewrites the number: 0033123456 dialled goes out as +33123456`, { timeout: 40_000 }, async () => {
    const trunkPort = await freePort();
    await withB2bua(host, trunkPort, async (srv) => {
      const phone = await freePort();
      await register(srv, "sipp", phone);
      const carrier = await uas("uas.xml", trunkPort, { name: "carrier" });
      ok(await uac(srv, "uac_invite.xml", phone, { extra: ["-s", "0033123456", "-d", "200"], name: "phone" }));
      ok(await carrier.done);
      const outB = toPeer(srv, TRUNK_IP, trunkPort, /^INVITE /)[0];
      assert.equal(outB.first, `INVITE sip:+33123456@${TRUNK_IP}:${trunkPort} SIP/2.0`);
      assert.deepEqual(hdrs(outB.sip, "To"), [`<sip:+33123456@${TRUNK_IP}:${trunkPort}>`]);
    });
  });

  test(`${host}: a phone on TCP: it registers and calls on one connection, the trunk leg is UDP, every answer goes back on the connection`, { timeout: 40_000 }, async () => {
    const trunkPort = await freePort();
    await withB2bua(host, trunkPort, async (srv) => {
      const phone = await freePort();
      const carrier = await uas("uas.xml", trunkPort, { name: "carrier" });
      ok(await uac(srv, "b2bua_uac_tcp.xml", phone, { extra: ["-t", "t1", "-s", "15551234", "-d", "300"], name: "phone" }));
      ok(await carrier.done);
      const tcpIn = srv.sip("in").filter((m) => m.peer.startsWith("tcp:"));
      assert.deepEqual(tcpIn.filter((m) => !/^SIP\//.test(m.first)).map((m) => m.first.split(" ")[0]), ["REGISTER", "INVITE", "ACK", "BYE"],
        "the phone's requests, all on its connection");
      const tcpOut = srv.sip("out").filter((m) => m.peer.startsWith("tcp:") && /^SIP\/2\.0 200 /.test(m.first)).map((m) => hdrs(m.sip, "CSeq")[0]);
      assert.deepEqual(tcpOut, ["1 REGISTER", "1 INVITE", "2 BYE"], "the 200s back on the connection");
      const outB = toPeer(srv, TRUNK_IP, trunkPort, /^INVITE /)[0];
      assert.ok(outB, "the call went out to the trunk");
      assert.match(hdrs(outB.sip, "Via")[0], /^SIP\/2\.0\/UDP /, "the trunk leg is UDP");
      assert.ok(!outB.peer.startsWith("tcp:"));
      assert.equal(toPeer(srv, TRUNK_IP, trunkPort, /^BYE /).length >= 1, true, "the phone's BYE carried to the trunk");
    }, undefined, { tcp: true });
  });

  test(`${host}: a trunk on TCP ("transport": "tcp"): the call to it goes on a connection of ours, the trunk hangs up on it, the phone leg stays UDP`, { timeout: 40_000 }, async () => {
    const trunkPort = await freePort();
    const sides = [
      { name: "office", role: "registrar", route: "carrier" },
      { name: "carrier", role: "trunk", address: `${TRUNK_IP}:${trunkPort}`, transport: "tcp", route: "office" },
    ];
    await withB2bua(host, trunkPort, async (srv) => {
      const phone = await freePort();
      await register(srv, "sipp", phone);
      const carrier = await uas("b2bua_uas_bye.xml", trunkPort, { name: "carrier", extra: ["-t", "t1"] });
      ok(await uac(srv, "b2bua_uac_bye.xml", phone, { extra: ["-s", "15551234"], name: "phone" }));
      ok(await carrier.done);
      const outB = toPeer(srv, TRUNK_IP, trunkPort, /^INVITE /);
      assert.equal(outB.length, 1, "the call went out to the trunk once (no retransmission on a stream)");
      assert.ok(outB[0].peer.startsWith("tcp:"), `on TCP: ${outB[0].peer}`);
      assert.match(hdrs(outB[0].sip, "Via")[0], /^SIP\/2\.0\/TCP 127\.0\.0\.1:/, "our Via names TCP");
      assert.match(hdrs(outB[0].sip, "Contact")[0], /;transport=tcp>$/, "and our Contact");
      const ack = toPeer(srv, TRUNK_IP, trunkPort, /^ACK /);
      assert.ok(ack.length === 1 && ack[0].peer === outB[0].peer, "the ACK for its 2xx on the same connection");
      const bye = fromPeer(srv, TRUNK_IP, trunkPort, /^BYE /);
      assert.ok(bye.length === 1 && bye[0].peer.startsWith("tcp:"), "the trunk's BYE came on TCP");
      assert.ok(toPeer(srv, "127.0.0.1", phone, /^BYE /).every((m) => !m.peer.startsWith("tcp:")), "the phone leg is UDP");
      assert.equal(toPeer(srv, "127.0.0.1", phone, /^BYE /).length >= 1, true, "the trunk's hang-up carried to the phone");
    }, sides, { tcp: true });
  });

  test(`${host}: the trunk hangs up: its BYE is answered and carried to the phone`, { timeout: 40_000 }, async () => {
    const trunkPort = await freePort();
    await withB2bua(host, trunkPort, async (srv) => {
      const phone = await freePort();
      await register(srv, "sipp", phone);
      const carrier = await uas("b2bua_uas_bye.xml", trunkPort, { extra: ["-d", "300"], name: "carrier" });
      ok(await uac(srv, "b2bua_uac_bye.xml", phone, { extra: ["-s", "15551234"], name: "phone" }));
      ok(await carrier.done);
      assert.equal(fromPeer(srv, TRUNK_IP, trunkPort, /^BYE /).length >= 1, true);
      assert.equal(toPeer(srv, "127.0.0.1", phone, /^BYE /).length >= 1, true);
    });
  });

  test(`${host}: hold and resume: the phone's re-INVITEs (sendonly, sendrecv) reach the trunk in its dialog and are answered`, { timeout: 40_000 }, async () => {
    await phoneCall(host, "b2bua_uas_hold.xml", "b2bua_uac_hold.xml", (srv, phone, trunkPort) => {
      const invites = toPeer(srv, TRUNK_IP, trunkPort, /^INVITE /);
      assert.equal(invites.length, 3, "the call and two re-INVITEs");
      assert.deepEqual(invites.map((m) => hdrs(m.sip, "CSeq")[0]), ["1 INVITE", "2 INVITE", "3 INVITE"]);
      assert.match(invites[1].sip, /\r\na=sendonly\r\n/, "hold");
      assert.match(invites[2].sip, /\r\na=sendrecv\r\n/, "resume");
      assert.equal(new Set(invites.map((m) => hdrs(m.sip, "Call-ID")[0])).size, 1, "one dialog on the trunk leg");
      assert.equal(toPeer(srv, TRUNK_IP, trunkPort, /^ACK /).length, 3, "each 2xx ACKed on the trunk leg");
    });
  });

  test(`${host}: reliable provisionals (RFC 3262): the trunk's 183 with Require: 100rel reaches the phone, the phone's PRACK reaches the trunk with RAck naming the trunk leg's INVITE`, { timeout: 40_000 }, async () => {
    await phoneCall(host, "b2bua_uas_prack.xml", "b2bua_uac_prack.xml", (srv, phone, trunkPort) => {
      const inPrack = fromPeer(srv, "127.0.0.1", phone, /^PRACK /);
      const outPrack = toPeer(srv, TRUNK_IP, trunkPort, /^PRACK /);
      assert.equal(inPrack.length, 1, "the phone's PRACK");
      assert.equal(outPrack.length, 1, "carried to the trunk");
      assert.deepEqual(hdrs(inPrack[0].sip, "RAck"), ["1 5 INVITE"]);
      assert.deepEqual(hdrs(outPrack[0].sip, "RAck"), ["1 1 INVITE"], "RAck names the trunk leg's INVITE");
      const inv = toPeer(srv, TRUNK_IP, trunkPort, /^INVITE /)[0];
      assert.deepEqual(hdrs(inv.sip, "Supported"), ["100rel"], "only the extension the B2BUA relays is offered");
      const rel = toPeer(srv, "127.0.0.1", phone, /^SIP\/2\.0 183/)[0];
      assert.deepEqual(hdrs(rel.sip, "Require"), ["100rel"]);
      assert.deepEqual(hdrs(rel.sip, "RSeq"), ["1"]);
    });
  });

  test(`${host}: reliable provisionals from a forking provider: the second phone's 183 is PRACKed by the B2BUA in that fork's dialog, not carried to the phone; that fork answers and the call is its dialog`, { timeout: 40_000 }, async () => {
    await phoneCall(host, "b2bua_uas_prack_fork.xml", "b2bua_uac_prack.xml", (srv, phone, trunkPort) => {
      const outPrack = toPeer(srv, TRUNK_IP, trunkPort, /^PRACK /);
      assert.deepEqual(outPrack.map((m) => hdrs(m.sip, "RAck")[0]), ["1 1 INVITE", "7 1 INVITE"], "the phone's PRACK of fork 1, ours of fork 2");
      assert.match(outPrack[1].sip, /^PRACK sip:phone2@/);
      assert.equal(fromPeer(srv, "127.0.0.1", phone, /^PRACK /).length, 1, "the phone PRACKed once");
      const rel = toPeer(srv, "127.0.0.1", phone, /^SIP\/2\.0 183/);
      assert.deepEqual(rel.map((m) => hdrs(m.sip, "RSeq")[0]), ["1"], "only the first fork's 183 reached the phone");
      assert.deepEqual(hdrs(toPeer(srv, TRUNK_IP, trunkPort, /^BYE /)[0].sip, "CSeq"), ["3 BYE"]);
    });
  });

  test(`${host}: reliable provisionals on a re-INVITE: the relayed re-INVITE offers 100rel, the trunk's reliable 183 reaches the phone, the phone's PRACK (sent while the re-INVITE is pending) reaches the trunk with RAck naming the trunk leg's re-INVITE`, { timeout: 40_000 }, async () => {
    await phoneCall(host, "b2bua_uas_reinvite_prack.xml", "b2bua_uac_reinvite_prack.xml", (srv, phone, trunkPort) => {
      const reinvite = toPeer(srv, TRUNK_IP, trunkPort, /^INVITE /)[1];
      assert.deepEqual(hdrs(reinvite.sip, "Supported"), ["100rel"], "the re-INVITE offers 100rel as the phone's did");
      assert.deepEqual(hdrs(reinvite.sip, "CSeq"), ["2 INVITE"]);
      const rel = toPeer(srv, "127.0.0.1", phone, /^SIP\/2\.0 183/);
      assert.equal(rel.length, 1);
      assert.deepEqual(hdrs(rel[0].sip, "Require"), ["100rel"]);
      assert.deepEqual(hdrs(fromPeer(srv, "127.0.0.1", phone, /^PRACK /)[0].sip, "RAck"), ["1 2 INVITE"]);
      assert.deepEqual(toPeer(srv, TRUNK_IP, trunkPort, /^PRACK /).map((m) => hdrs(m.sip, "RAck")[0]), ["1 2 INVITE"]);
    });
  });

  test(`${host}: CANCEL while ringing: 487 to the phone, CANCEL to the trunk and its 487 ACKed`, { timeout: 40_000 }, async () => {
    await phoneCall(host, "uas_cancel.xml", "uac_cancel.xml", (srv, phone, trunkPort) => {
      assert.equal(toPeer(srv, TRUNK_IP, trunkPort, /^CANCEL /).length >= 1, true, "CANCEL sent to the trunk");
      assert.equal(toPeer(srv, TRUNK_IP, trunkPort, /^ACK /).length >= 1, true, "the trunk's 487 ACKed");
    });
  });

  test(`${host}: trunk → phone: the provider's call reaches the phone where it registered`, { timeout: 40_000 }, async () => {
    const trunkPort = await freePort();
    await withB2bua(host, trunkPort, async (srv) => {
      const phone = await freePort();
      await register(srv, "callee", phone);
      const p = await uas("uas.xml", phone, { ip: "127.0.0.1", name: "phone" });
      ok(await uac(srv, "uac_invite.xml", trunkPort, { ip: TRUNK_IP, extra: ["-s", "callee", "-d", "300"], name: "carrier" }));
      ok(await p.done);
      const outA = toPeer(srv, "127.0.0.1", phone, /^INVITE /)[0];
      assert.equal(outA.first, `INVITE sip:callee@127.0.0.1:${phone} SIP/2.0`);
      assert.ok(!head(outA.sip).includes(TRUNK_IP), `none of the trunk's addresses in the phone leg's headers:\n${outA.sip}`);
    });
  });

  test(`${host}: trunk → phone with Privacy: header: the headers that may reveal the caller never reach the phone, the others do`, { timeout: 40_000 }, async () => {
    const trunkPort = await freePort();
    await withB2bua(host, trunkPort, async (srv) => {
      const phone = await freePort();
      await register(srv, "callee", phone);
      const p = await uas("uas.xml", phone, { ip: "127.0.0.1", name: "phone" });
      ok(await uac(srv, "b2bua_uac_privacy.xml", trunkPort, { ip: TRUNK_IP, extra: ["-s", "callee", "-d", "300"], name: "carrier" }));
      ok(await p.done);
      const inB = fromPeer(srv, TRUNK_IP, trunkPort, /^INVITE /)[0];
      const outA = toPeer(srv, "127.0.0.1", phone, /^INVITE /)[0];
      assert.ok(inB && outA, "the provider's INVITE came in and went out to the phone");
      for (const h of ["Subject", "Call-Info", "In-Reply-To", "Organization", "Reply-To", "User-Agent"]) {
        assert.equal(hdrs(inB.sip, h).length, 1, `the provider sent ${h}`);
        assert.deepEqual(hdrs(outA.sip, h), [], `${h} removed toward the phone`);
      }
      assert.deepEqual(hdrs(outA.sip, "X-Carrier-Ref"), ["42"], "an unknown header passes");
      assert.deepEqual(hdrs(outA.sip, "Privacy"), ["header"]);
      assert.match(hdrs(outA.sip, "From")[0], /^"Anonymous" <sip:anonymous@anonymous\.invalid>;tag=/);
    });
  });

  test(`${host}: a trunk that authenticates ("accept": "digest"): its call from another address is challenged 407, answered with its credentials, and reaches the phone`, { timeout: 40_000 }, async () => {
    const trunkPort = await freePort();
    const sides = [
      { name: "office", role: "registrar", route: "carrier" },
      { name: "carrier", role: "trunk", address: `${TRUNK_IP}:${trunkPort}`, route: "office", accept: "digest", username: "acme", password: "s3cret" },
    ];
    await withB2bua(host, trunkPort, async (srv) => {
      const phone = await freePort();
      ok(await sipp([target(srv), "-sf", join(root, "tests/sipp/security/register_auth.xml"), "-s", "callee", "-au", "callee", "-ap", "cpw",
        "-auth_uri", "127.0.0.1", "-p", String(phone), "-mp", String(await freePort()), "-m", "1", "-timeout", "6s", "-timeout_error"], { name: "reg-callee", timeoutMs: 10_000 }));
      const p = await uas("uas.xml", phone, { ip: "127.0.0.1", name: "phone" });
      const from = await freePort();
      ok(await sipp([target(srv), "-sf", join(root, "tests/sipp/security/uac_invite_auth.xml"), "-s", "callee", "-key", "caller", "acme", "-key", "srv", target(srv),
        "-au", "acme", "-ap", "s3cret", "-auth_uri", `callee@${target(srv)}`, "-d", "200", "-i", "127.0.0.6", "-p", String(from),
        "-mp", String(await freePort()), "-m", "1", "-timeout", "10s", "-timeout_error"], { name: "roaming-carrier", ip: "127.0.0.6", timeoutMs: 15_000 }));
      ok(await p.done);
      await settle(srv);
      assert.equal(toPeer(srv, "127.0.0.6", from, /^SIP\/2\.0 407 /).length, 1, "challenged once");
      const outA = toPeer(srv, "127.0.0.1", phone, /^INVITE /);
      assert.equal(outA.length, 1, "the authenticated call reached the phone");
      assert.deepEqual(hdrs(outA[0].sip, "Proxy-Authorization"), [], "the credentials do not cross");
      assert.ok(!head(outA[0].sip).includes("127.0.0.6"), "nor the provider's address");
    }, sides, { users: [{ username: "callee", password: "cpw" }] });
  });

  test(`${host}: trunk ⇄ trunk: a call from one provider goes out to the other, a call of its own`, { timeout: 40_000 }, async () => {
    const east = await freePort(), west = await freePort();
    const sides = [
      { name: "east", role: "trunk", address: `127.0.0.8:${east}`, host: "east.example", route: "west" },
      { name: "west", role: "trunk", address: `${TRUNK_IP}:${west}`, route: "east" },
    ];
    await withB2bua(host, 0, async (srv) => {
      const w = await uas("uas.xml", west, { name: "west" });
      ok(await uac(srv, "uac_invite.xml", east, { ip: "127.0.0.8", extra: ["-s", "15550001", "-d", "300"], name: "east" }));
      ok(await w.done);
      const inE = fromPeer(srv, "127.0.0.8", east, /^INVITE /)[0];
      const outW = toPeer(srv, TRUNK_IP, west, /^INVITE /)[0];
      assert.equal(outW.first, `INVITE sip:15550001@${TRUNK_IP}:${west} SIP/2.0`);
      assert.notEqual(hdrs(outW.sip, "Call-ID")[0], hdrs(inE.sip, "Call-ID")[0]);
      assert.ok(!head(outW.sip).includes("127.0.0.8"), `nothing of the east trunk's addresses toward the west:\n${outW.sip}`);
      assert.equal(toPeer(srv, TRUNK_IP, west, /^BYE /).length >= 1, true, "east's BYE carried west");
    }, sides);
  });

  test(`${host}: the provider's OPTIONS keepalive is answered 200 with Allow, Accept and Supported, and not relayed`, { timeout: 40_000 }, async () => {
    const trunkPort = await freePort();
    await withB2bua(host, trunkPort, async (srv) => {
      ok(await uac(srv, "options.xml", trunkPort, { ip: TRUNK_IP, name: "carrier" }));
      const ans = toPeer(srv, TRUNK_IP, trunkPort, /^SIP\/2\.0 200 /);
      assert.equal(ans.length, 1, "one 200");
      assert.match(hdrs(ans[0].sip, "Allow").join(", "), /\bINVITE\b.*\bPRACK\b/);
      assert.deepEqual(hdrs(ans[0].sip, "Supported"), ["100rel"]);
      assert.equal(srv.sip("out").filter((m) => /^OPTIONS /.test(m.first)).length, 0, "nothing relayed");
    });
  });

  test(`${host}: strangers: an unregistered caller gets 403 and nothing reaches the trunk`, { timeout: 40_000 }, async () => {
    const trunkPort = await freePort();
    await withB2bua(host, trunkPort, async (srv) => {
      const ua = await Ua.open("127.0.0.1");
      try {
        const r = await ua.request(srv, request(ua, { ruri: `sip:15551234@127.0.0.1:${srv.port}`, from: "sip:mallory@127.0.0.1" }), { timeoutMs: 3000 });
        assert.equal(status(r), 403);
      } finally {
        ua.close();
      }
      await settle(srv);
      assert.equal(srv.sip("out").filter((m) => m.peer.includes(TRUNK_IP)).length, 0, "nothing was sent toward the trunk");
    });
  });
}

test("\"mode\": \"b2bua\" on a core without the user agent (board server) is refused, naming the key", () => {
  const file = scratch("b2bua-server.json", JSON.stringify({
    mode: "b2bua", listen: ["udp:127.0.0.1:0"],
    sides: [{ name: "a", role: "registrar", route: "b" }, { name: "b", role: "trunk", address: "127.0.0.9:5060", route: "a" }],
  }));
  const r = spawnSync(process.execPath, [join(root, "host/node/cli.mjs"), "--config", file], {
    encoding: "utf8", timeout: 20_000, env: { ...process.env, SIPLING_NO_BUILD: "1" },
  });
  assert.notEqual(r.status, 0);
  assert.match(r.stderr + r.stdout, /config error: "mode": not in this core build \(board server leaves it out\)/);
});

// A late offer (RFC 3264 §5) between two SIPp ends: the phone's INVITE without SDP, the provider's 200 with
// the offer, the phone's ACK with the answer, which must reach the provider in the B leg's ACK (checked by
// uas_late_offer.xml); with the media relay on the trunk side, rewritten to the relay's ports both ways.
for (const host of HOSTS) {
  for (const relay of [false, true]) {
    test(`${host}: late offer${relay ? " through the media relay" : ""}: the phone's answer in its ACK reaches the provider`, { timeout: 40_000 }, async () => {
      const trunkPort = await freePort();
      const base = 40000 + 2 * Math.floor(Math.random() * 5000);
      const sides = [
        { name: "office", role: "registrar", route: "carrier" },
        { name: "carrier", role: "trunk", address: `${TRUNK_IP}:${trunkPort}`, route: "office", ...(relay ? { mediaRelay: true } : {}) },
      ];
      const config = relay ? { mediaRelay: { addresses: ["127.0.0.1"], portMin: base, portMax: base + 63 } } : {};
      await withB2bua(host, trunkPort, async (srv) => {
        const phone = await freePort();
        await register(srv, "sipp", phone);
        const carrier = await uas("uas_late_offer.xml", trunkPort, { name: "carrier" });
        const r = await uac(srv, "b2bua_uac_late_offer.xml", phone, { extra: ["-s", "15551234"], name: "phone" });
        ok(r);
        ok(await carrier.done);
        const acks = toPeer(srv, TRUNK_IP, trunkPort, /^ACK /);
        assert.equal(acks.length, 1, "one ACK to the provider");
        const body = acks[0].sip.split("\r\n\r\n")[1];
        const port = +/^m=audio (\d+) /m.exec(body)[1];
        if (relay) assert.ok(port >= base && port <= base + 63, `the answer names the relay's port: ${body}`);
        else assert.match(body, /^c=IN IP4 127\.0\.0\.1\r$/m, `the phone's answer as it wrote it: ${body}`);
      }, sides, { config });
    });
  }
}
