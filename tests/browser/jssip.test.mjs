// A real browser on SIP over secure WebSocket (RFC 7118): Debian's Chromium, driven by playwright-core,
// loads a page served here on 127.0.0.1 that runs JsSIP (the npm package, bundled for the browser by
// esbuild at test start). The page registers alice over wss to the Node host (a self-signed
// certificate made by the openssl CLI into a temp dir), then calls bob, a SIPp UAS on 127.0.0.9
// registered over UDP, through the proxy: the INVITE goes WSS -> UDP (Record-Route twice), the UAS
// answers with an SDP the browser's RTCPeerConnection takes, JsSIP ACKs through the Record-Route and
// hangs up after a second. The test reads the page's states (registered, progress, confirmed, ended)
// and SIPp's result. Fails (never skips) when chromium, sipp or openssl is missing. Chromium runs with
// a fresh profile (--user-data-dir) in a temp dir; the browser, SIPp and the servers are stopped with bounded
// timeouts at the end.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createServer } from "node:http";
import { mkdtempSync, rmSync, readFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { build } from "esbuild";
import { chromium } from "playwright-core";
import { withServer, freePort, sipp, sf, scratch, describe, root } from "../integration/harness.mjs";

const CHROMIUM = "/usr/bin/chromium";
const UAS_IP = "127.0.0.9";
for (const [what, ok] of [[CHROMIUM, existsSync(CHROMIUM)], ["sipp", spawnSync("sh", ["-c", "command -v sipp"]).status === 0], ["openssl", spawnSync("sh", ["-c", "command -v openssl"]).status === 0]])
  if (!ok) throw new Error(`missing: ${what} (tools/setup.mjs installs it)`);

const dir = mkdtempSync(join(tmpdir(), "sipling-browser-"));
const cleanups = [];
after(async () => {
  for (const f of cleanups.reverse()) {
    try {
      await Promise.race([f(), new Promise((r) => setTimeout(r, 5000))]);
    } catch { /* already gone */ }
  }
  rmSync(dir, { recursive: true, force: true });
});

/** A self-signed certificate for 127.0.0.1 (openssl CLI). */
function certificate() {
  const cert = join(dir, "cert.pem"), key = join(dir, "key.pem");
  const r = spawnSync("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert, "-days", "1",
    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"], { encoding: "utf8", timeout: 30_000 });
  assert.equal(r.status, 0, `openssl: ${r.stderr}`);
  return { cert, key };
}

/** JsSIP from node_modules as one browser script (global JsSIP). */
async function jssipBundle() {
  const r = await build({
    entryPoints: [join(root, "node_modules", "jssip", "lib", "JsSIP.js")], bundle: true, format: "iife", globalName: "JsSIP",
    platform: "browser", write: false, logLevel: "silent", minify: true,
  });
  return r.outputFiles[0].text;
}

/** The page: registers alice over wss, calls bob, hangs up a second after the call is confirmed. */
const PAGE = `<!doctype html><html><head><meta charset="utf-8"><title>sipling wss</title><script src="/jssip.js"></script></head><body><script>
window.states = [];
const note = (s, detail) => { window.states.push(detail ? s + ":" + detail : s); };
const params = new URLSearchParams(location.search);
const socket = new JsSIP.WebSocketInterface(params.get("ws"));
const ua = new JsSIP.UA({ sockets: [socket], uri: "sip:alice@127.0.0.1", register: true, register_expires: 600, session_timers: false, connection_recovery_min_interval: 2, connection_recovery_max_interval: 4 });
ua.on("connected", () => note("connected"));
ua.on("registered", () => { note("registered"); call(); });
ua.on("registrationFailed", (e) => note("registrationFailed", e.cause));
let called = false;
function call() {
  if (called) return;
  called = true;
  const session = ua.call("sip:bob@127.0.0.1", {
    mediaConstraints: { audio: true, video: false }, pcConfig: { iceServers: [] },
    eventHandlers: {
      progress: (e) => note("progress", e.response ? String(e.response.status_code) : ""),
      confirmed: () => { note("confirmed"); setTimeout(() => session.terminate(), 1000); },
      ended: (e) => note("ended", e.cause),
      failed: (e) => note("failed", e.cause),
    },
  });
}
ua.start();
</script></body></html>`;

test("Chromium + JsSIP: REGISTER over wss, a call to a SIPp UAS over UDP through the proxy, confirmed and ended", { timeout: 90_000 }, async () => {
  const { cert, key } = certificate();
  const js = await jssipBundle();
  const http = createServer((req, res) => {
    if (req.url === "/jssip.js") { res.writeHead(200, { "Content-Type": "text/javascript" }); res.end(js); return; }
    if (req.url.startsWith("/?")) { res.writeHead(200, { "Content-Type": "text/html" }); res.end(PAGE); return; }
    res.writeHead(404); res.end();
  });
  await new Promise((r) => http.listen(0, "127.0.0.1", r));
  cleanups.push(() => new Promise((r) => http.close(r)));
  const pagePort = http.address().port;

  const wssPort = await freePort();
  await withServer({ tcp: false, listen: [`wss:127.0.0.1:${wssPort}`], config: { tls: { certificate: cert, key } } }, async (srv) => {
    // bob: SIPp on 127.0.0.9 registers over UDP, then answers one call there
    const bobPort = await freePort();
    const csv = scratch("bob.csv", "SEQUENTIAL\nbob;127.0.0.1\n");
    const reg = await sipp([`127.0.0.1:${srv.port}`, "-sf", sf("register.xml"), "-inf", csv, "-p", String(bobPort), "-mp", String(await freePort()),
      "-m", "1", "-timeout", "5s", "-timeout_error"], { name: "reg-bob", ip: UAS_IP, timeoutMs: 8000 });
    assert.equal(reg.code, 0, describe(reg));
    const uas = sipp(["-sf", sf("uas_webrtc.xml"), "-p", String(bobPort), "-mp", String(await freePort()), "-m", "1", "-timeout", "30s", "-timeout_error"],
      { name: "uas-bob", ip: UAS_IP, timeoutMs: 40_000 });
    cleanups.push(() => uas.kill());

    // a fresh profile in the temp dir (playwright passes it as --user-data-dir); the self-signed wss
    // certificate accepted for this context only
    // HOME and the XDG folders in the temp dir too: Chromium's crash reports, NSS database, dconf and
    // PulseAudio files go there, not into the user's home
    const home = mkdtempSync(join(dir, "home-"));
    const context = await chromium.launchPersistentContext(mkdtempSync(join(dir, "profile-")), {
      executablePath: CHROMIUM, timeout: 30_000, ignoreHTTPSErrors: true,
      env: { ...process.env, HOME: home, XDG_CONFIG_HOME: join(home, ".config"), XDG_CACHE_HOME: join(home, ".cache"), XDG_DATA_HOME: join(home, ".local", "share") },
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream"],
    });
    cleanups.push(() => context.close());
    const page = await context.newPage();
    const consoleLines = [];
    page.on("console", (m) => consoleLines.push(m.text()));
    await page.goto(`http://127.0.0.1:${pagePort}/?ws=${encodeURIComponent(`wss://127.0.0.1:${wssPort}`)}`, { timeout: 15_000 });
    const states = async () => page.evaluate(() => window.states);
    try {
      await page.waitForFunction(() => window.states.some((s) => s.startsWith("ended") || s.startsWith("failed") || s.startsWith("registrationFailed")), null, { timeout: 30_000 });
    } catch (e) {
      e.message += `\npage states: ${JSON.stringify(await states())}\nconsole: ${consoleLines.slice(-20).join("\n")}`;
      throw e;
    }
    const s = await states();
    const r = await uas;
    assert.deepEqual(s.filter((x) => x !== "connected" && !x.startsWith("progress")), ["registered", "confirmed", "ended:Terminated"], `page states: ${JSON.stringify(s)}`);
    assert.ok(s.includes("progress:180"), `the 180 reached the browser: ${JSON.stringify(s)}`);
    assert.equal(r.code, 0, describe(r));
    assert.equal(r.stats.ok, 1, describe(r));

    // what the proxy saw: alice's REGISTER and INVITE over wss, the INVITE forwarded to bob over UDP
    const reg2 = srv.sip("in", /^REGISTER sip:127\.0\.0\.1 /).find((m) => m.peer.startsWith("wss:"));
    assert.ok(reg2, "alice's REGISTER came over wss");
    assert.match(reg2.sip, /\r\nVia: SIP\/2\.0\/WSS [a-z0-9]+\.invalid;branch=/i);
    const out = srv.sip("out", /^INVITE sip:bob@/).find((m) => m.peer.startsWith("udp:"));
    assert.ok(out, "the INVITE went to bob over UDP");
    const rr = (/\r\nRecord-Route: ([^\r]+)/i.exec(out.sip)?.[1] ?? "").split(/,\s*/);
    assert.equal(rr.length, 2, `two Record-Routes: ${rr}`);
    assert.match(rr[1], new RegExp(`@127\\.0\\.0\\.1:${wssPort};transport=wss;lr;dlg=`), `the second faces the wss caller with its flow: ${rr[1]}`);
  });
});
