// Kamailio (Debian 5.6) as a service provider's proxy in front of the provider's phone, the B2BUA's trunk
// side pointing at it: a phone registered on our registrar side calls out; Kamailio challenges the
// B2BUA's INVITE with 407 (qop=auth); the B2BUA answers with the trunk's credentials (RFC 3261 §22.3)
// and the call goes through Kamailio to a SIPp UAS and back, and is hung up through Kamailio's
// Record-Route. The phone never sees the challenge. Kamailio is started and stopped by the test, on
// loopback (127.0.0.9), with tests/peers/kamailio-provider.cfg.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync, existsSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { setTimeout as sleep } from "node:timers/promises";
import { startServer, sipp, describe, freePort, scratch, sf, settle, HOSTS } from "../integration/harness.mjs";
import { Ua, request, status } from "../lib/sipua.mjs";

const here = dirname(fileURLToPath(import.meta.url));
if (spawnSync("sh", ["-c", "command -v kamailio"]).status !== 0) throw new Error("kamailio is not installed (npm test runs tools/setup.mjs, which installs it)");
if (spawnSync("sipp", ["-v"], { encoding: "utf8" }).status !== 99) throw new Error("sipp is not installed");
const MPATH = ["/usr/lib/x86_64-linux-gnu/kamailio/modules/", "/usr/lib/aarch64-linux-gnu/kamailio/modules/", "/usr/lib/kamailio/modules/"]
  .find((p) => existsSync(join(p, "auth.so")));
if (!MPATH) throw new Error("kamailio's modules (auth.so) not found");

const PROVIDER_IP = "127.0.0.9";
const ACCOUNT = { realm: "carrier.example", user: "acme", password: "s3cret-acme" };
const ok = (r) => assert.equal(r.code, 0, describe(r));
const hdrs = (sip, name) => sip.split("\r\n\r\n")[0].split("\r\n").slice(1)
  .filter((l) => l.toLowerCase().startsWith(name.toLowerCase() + ":")).map((l) => l.slice(name.length + 1).trim());

/** Kamailio on 127.0.0.9:port relaying authorized calls to `uas`; resolves once it answers (405 to OPTIONS). */
async function startKamailio(port, uas) {
  const dir = mkdtempSync(join(tmpdir(), "sipling-kam-"));
  const cfg = readFileSync(join(here, "kamailio-provider.cfg"), "utf8")
    .replaceAll("@LISTEN@", `${PROVIDER_IP}:${port}`).replaceAll("@UAS@", uas).replaceAll("@MPATH@", MPATH)
    .replaceAll("@REALM@", ACCOUNT.realm).replaceAll("@USER@", ACCOUNT.user).replaceAll("@PASSWORD@", ACCOUNT.password);
  writeFileSync(join(dir, "kamailio.cfg"), cfg);
  // its own process group: Kamailio forks workers, and one that outlives the main process (as after a
  // SIGKILL of it) would hold our pipes open and this file's process with them; stop() ends the group
  const child = spawn("kamailio", ["-f", join(dir, "kamailio.cfg"), "-DD", "-E", "-Y", dir, "-w", dir],
    { stdio: ["ignore", "pipe", "pipe"], detached: true });
  const group = (sig) => { try { process.kill(-child.pid, sig); } catch { /* ESRCH: the group is gone */ } };
  let log = "";
  child.stdout.on("data", (d) => (log += d));
  child.stderr.on("data", (d) => (log += d));
  const exited = new Promise((r) => child.once("exit", (code, signal) => r({ code, signal })));
  const k = {
    get log() { return log; },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        group("SIGTERM");
        const t = setTimeout(() => group("SIGKILL"), 3000);
        await exited;
        clearTimeout(t);
      }
      group("SIGKILL"); // any worker left behind by the main process
      rmSync(dir, { recursive: true, force: true });
    },
  };
  const ua = await Ua.open("127.0.0.1");
  try {
    for (let i = 0; i < 40; i++) {
      if (child.exitCode !== null) throw new Error(`kamailio exited: ${log}`);
      ua.send(request(ua, { method: "OPTIONS", ruri: `sip:${PROVIDER_IP}:${port}`, from: "sip:probe@127.0.0.1" }), port, PROVIDER_IP);
      if (status(await ua.waitFor((m) => status(m) === 405, 250)) === 405) return k;
    }
    throw new Error(`kamailio did not answer on ${PROVIDER_IP}:${port}: ${log}`);
  } catch (e) {
    await k.stop();
    throw e;
  } finally {
    ua.close();
  }
}

for (const host of HOSTS) test(`${host}: phone → B2BUA → Kamailio (407, answered with the trunk's credentials) → SIPp UAS, and the BYE back through it`, { timeout: 60_000 }, async () => {
  const kport = await freePort(), uport = await freePort();
  const kam = await startKamailio(kport, `${PROVIDER_IP}:${uport}`);
  const srv = await startServer({
    host,
    tcp: false,
    config: {
      board: "gateway", mode: "b2bua", domains: ["127.0.0.1"],
      sides: [
        { name: "office", role: "registrar", route: "carrier" },
        { name: "carrier", role: "trunk", address: `${PROVIDER_IP}:${kport}`, route: "office", username: ACCOUNT.user, password: ACCOUNT.password },
      ],
    },
  });
  try {
    const phone = await freePort();
    const csv = scratch("kam-phone.csv", "SEQUENTIAL\nsipp;127.0.0.1\n");
    ok(await sipp([`127.0.0.1:${srv.port}`, "-sf", sf("register.xml"), "-inf", csv, "-p", String(phone), "-mp", String(await freePort()),
      "-m", "1", "-timeout", "5s", "-timeout_error"], { name: "reg", timeoutMs: 8000 }));
    const callee = sipp(["-sf", sf("uas.xml"), "-i", PROVIDER_IP, "-p", String(uport), "-mp", String(await freePort()), "-m", "1",
      "-timeout", "15s", "-timeout_error"], { name: "provider-phone", ip: PROVIDER_IP, timeoutMs: 20_000 });
    await sleep(250);
    ok(await sipp([`127.0.0.1:${srv.port}`, "-sf", sf("b2bua_uac.xml"), "-p", String(phone), "-mp", String(await freePort()), "-m", "1",
      "-s", "15551234", "-d", "300", "-timeout", "15s", "-timeout_error"], { name: "phone", timeoutMs: 20_000 }));
    ok(await callee);
    await settle(srv);
    const invites = srv.sip("out").filter((m) => m.peer.endsWith(`${PROVIDER_IP}:${kport}`) && /^INVITE /.test(m.first));
    assert.equal(invites.length, 2, `the INVITE, then again with credentials\n${srv.summary().slice(-4000)}`);
    assert.deepEqual(hdrs(invites[0].sip, "Proxy-Authorization"), []);
    const pa = hdrs(invites[1].sip, "Proxy-Authorization")[0];
    assert.match(pa, new RegExp(`^Digest username="acme", realm="carrier\\.example", nonce="[^"]+", uri="sip:15551234@${PROVIDER_IP}:${kport}", response="[0-9a-f]{32}", algorithm=MD5, cnonce="[0-9a-f]{8}", qop=auth, nc=00000001`));
    assert.equal(hdrs(invites[1].sip, "Call-ID")[0], hdrs(invites[0].sip, "Call-ID")[0], "the same Call-ID");
    assert.deepEqual(hdrs(invites[1].sip, "CSeq"), ["2 INVITE"]);
    const got407 = srv.sip("in").filter((m) => m.peer.endsWith(`${PROVIDER_IP}:${kport}`) && /^SIP\/2\.0 407/.test(m.first));
    assert.equal(got407.length >= 1, true, "Kamailio challenged");
    assert.equal(srv.sip("out").filter((m) => m.peer.endsWith(`:${phone}`) && /^SIP\/2\.0 407/.test(m.first)).length, 0, "the phone never saw the challenge");
    assert.match(kam.log, /authorized INVITE sip:15551234@127\.0\.0\.9:\d+ for acme/, "Kamailio accepted our credentials");
    const bye = srv.sip("out").filter((m) => m.peer.endsWith(`${PROVIDER_IP}:${kport}`) && /^BYE /.test(m.first));
    assert.equal(bye.length >= 1, true, "the BYE went to the provider's proxy");
    assert.match(hdrs(bye[0].sip, "Route")[0] ?? "", new RegExp(`^<sip:${PROVIDER_IP.replaceAll(".", "\\.")}:${kport};lr`), "through Kamailio's Record-Route");
  } catch (e) {
    e.message += `\n--- kamailio ---\n${kam.log.slice(-3000)}\n--- server ---\n${srv.summary().slice(-4000)}`;
    throw e;
  } finally {
    await srv.stop();
    await kam.stop();
  }
});
