// Attacks as scanners make them, with the real SIPVicious 0.3 (svmap, svwar, svcrack; what each
// sends and how it decides is in the header of tests/peers/sipvicious.mjs), against the real server
// (Node host + bundled core) configured with users and authentication-failure blocking. The
// attacker is 127.0.0.1, the users are 127.0.0.2. The product promise: "Never relay for strangers:
// what a stranger may do is as much a requirement as what a user may do". Here, a stranger may:
//   - find the server (it answers OPTIONS), and learn nothing else from the answer (1, 2);
//   - not tell a user (configured, registered) from a name nobody has: same status, same headers
//     (3; 3b shows that svwar and its parser do report a name when replies differ);
//   - not guess a password: after flood.authFailures failures the source is blocked (503), while
//     the users keep registering and calling (4; 5 shows that svcrack and its parser do report a
//     password the server accepts, placed before the block can stop it).
//   - not have the server relay for it: to another domain, or to a phone past authentication (6).
// After every attack step an OPTIONS from the users' address is answered and the server still runs.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createSocket } from "node:dgram";
import { createHash, randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { root, sipp, describe as describeSipp, freePort, sf, withServer, settle, HOSTS } from "../integration/harness.mjs";
import * as sv from "../peers/sipvicious.mjs";

if (spawnSync("sipp", ["-v"], { encoding: "utf8" }).status !== 99) throw new Error("sipp is not installed (npm test runs tools/setup.mjs)");
if (!existsSync(join(root, "build", "node", "sipling.mjs"))) throw new Error("build/node/sipling.mjs missing (npm run build && npm run bundle)");
for (const tool of ["svmap", "svwar", "svcrack"]) sv.command(tool); // throws, naming tools/setup.mjs

const ATTACKER = "127.0.0.1";
const USERS_IP = "127.0.0.2";
const REALM = "sipling.test";
/** alice and bob: fresh random passwords, in no dictionary; carol: a dictionary word (the control). */
const PW = { alice: randomBytes(12).toString("base64url"), bob: randomBytes(12).toString("base64url"), carol: "letmein" };
const FLOOD = { authFailures: 5, authWindow: 60, blockSeconds: 30 };
const config = () => ({
  realm: REALM,
  users: Object.entries(PW).map(([username, password]) => ({ username, password })),
  flood: FLOOD,
});
/** Common passwords (none of them alice's, bob's or carol's). */
const COMMON = ["123456", "password", "12345678", "qwerty", "123456789", "12345", "1234", "111111", "1234567", "dragon",
  "123123", "baseball", "abc123", "football", "monkey", "696969", "shadow", "master", "666666", "qwertyuiop",
  "alice", "alice123", "bob", "secret", "sipling"];
/** Extension names a scanner tries; alice, bob and carol are configured, the others are not. */
const EXTENSIONS = ["100", "1000", "admin", "alice", "bob", "carol", "guest", "operator", "test"];

const status = (sip) => +(/^SIP\/2\.0 (\d{3})/.exec(sip ?? "")?.[1] ?? 0);
const first = (sip) => (sip ?? "(none)").split("\r\n")[0];
const hdrs = (sip, name) => sip.split("\r\n\r\n")[0].split("\r\n").slice(1)
  .filter((l) => l.toLowerCase().startsWith(name.toLowerCase() + ":")).map((l) => l.slice(name.length + 1).trim());
/** Events by name; the host names kinds it does not know yet `event-<kind>` (ABI kinds 11..13). */
const KIND = { "auth-fail": 11, "policy-refusal": 12, "flood-blocked": 13 };
const isEvent = (o, name) => o.event === name || o.msg === name || (KIND[name] && (o.event === `event-${KIND[name]}` || o.msg === `event-${KIND[name]}`));
const events = (srv, name) => srv.logs.filter((o) => isEvent(o, name));
const fromAttacker = (o) => (o.source ?? "").startsWith(`udp:${ATTACKER}:`);
const sec = (name) => sf(join("security", name));
const ok = (r) => assert.equal(r.code, 0, describeSipp(r));
const svRun = (r) => sv.describe(r);

/** A minimal SIP UDP endpoint: requests out with retransmission, and (as a phone) answers requests. */
class Ua {
  static async open(address, { answer } = {}) {
    const s = createSocket("udp4");
    await new Promise((res, rej) => { s.once("error", rej); s.bind(0, address, res); });
    return new Ua(s, address, answer);
  }
  constructor(sock, address, answer) {
    this.sock = sock; this.address = address; this.port = sock.address().port; this.inbox = []; this.waiters = new Set();
    /** Requests received (a phone's view of what reached it). */
    this.requests = [];
    sock.on("message", (m, r) => {
      const text = m.toString("latin1");
      if (/^[A-Z]+ \S+ SIP\/2\.0\r\n/.test(text)) {
        this.requests.push(text);
        if (answer && !text.startsWith("ACK ")) sock.send(Buffer.from(answer(text), "latin1"), r.port, r.address);
        return;
      }
      this.inbox.push(text);
      for (const w of this.waiters) w();
    });
  }
  close() { this.sock.close(); }
  /** Sends `text` to the server; resolves to the first final response with its Call-ID and CSeq, or null. */
  request(srv, text, { timeoutMs = 2000, retransmitMs = 500 } = {}) {
    const callId = hdrs(text, "Call-ID")[0], cseq = hdrs(text, "CSeq")[0];
    const send = () => this.sock.send(Buffer.from(text, "latin1"), srv.port, "127.0.0.1");
    return new Promise((resolve) => {
      const match = () => {
        const i = this.inbox.findIndex((m) => status(m) >= 200 && hdrs(m, "Call-ID")[0] === callId && hdrs(m, "CSeq")[0] === cseq);
        if (i < 0) return false;
        done(this.inbox.splice(i, 1)[0]);
        return true;
      };
      const rt = setInterval(send, retransmitMs);
      const to = setTimeout(() => done(null), timeoutMs);
      const done = (m) => { clearInterval(rt); clearTimeout(to); this.waiters.delete(match); resolve(m); };
      if (match()) return;
      this.waiters.add(match);
      send();
    });
  }
}

let seq = 0;
const token = () => `${process.pid}-${++seq}-${randomBytes(3).toString("hex")}`;

/** A request as svwar builds it (svhelper.makeRequest): From = To = the extension, in our domain. */
function scannerRequest(ua, { method, user, callId = `atk-${token()}`, fromHost = "127.0.0.1" }) {
  const ruri = method === "REGISTER" ? "sip:127.0.0.1" : `sip:${user}@127.0.0.1`;
  return [
    `${method} ${ruri} SIP/2.0`,
    `Via: SIP/2.0/UDP ${ua.address}:${ua.port};branch=z9hG4bK-${token()};rport`,
    `Max-Forwards: 70`,
    `To: "${user}"<sip:${user}@127.0.0.1>`,
    `From: "${user}"<sip:${user}@${fromHost}>;tag=${randomBytes(8).toString("hex")}`,
    `User-Agent: friendly-scanner`,
    `Call-ID: ${callId}`,
    `Contact: sip:${user}@127.0.0.1`,
    `CSeq: 1 ${method}`,
    `Accept: application/sdp`,
    `Content-Length: 0`, ``, ``,
  ].join("\r\n");
}

/** A REGISTER of `user` (from the UA's own address and port), with an Authorization value or none. */
function register(ua, { user, callId, cseq, auth }) {
  return [
    `REGISTER sip:127.0.0.1 SIP/2.0`,
    `Via: SIP/2.0/UDP ${ua.address}:${ua.port};rport;branch=z9hG4bK-${token()}`,
    `Max-Forwards: 70`,
    `From: <sip:${user}@127.0.0.1>;tag=reg${seq}`,
    `To: <sip:${user}@127.0.0.1>`,
    `Call-ID: ${callId}`,
    `CSeq: ${cseq} REGISTER`,
    `Contact: <sip:${user}@${ua.address}:${ua.port}>`,
    `Expires: 3600`,
    ...(auth ? [`Authorization: ${auth}`] : []),
    `Content-Length: 0`, ``, ``,
  ].join("\r\n");
}

/** Registers `user` from `ua` with an MD5 digest (RFC 2617, qop=auth); asserts the 200. */
async function digestRegister(srv, ua, user) {
  const callId = `reg-${token()}`;
  const c401 = await ua.request(srv, register(ua, { user, callId, cseq: 1 }));
  assert.equal(status(c401), 401, `REGISTER of ${user} is challenged: ${first(c401)}`);
  const ch = hdrs(c401, "WWW-Authenticate").find((v) => /algorithm=MD5\b/i.test(v));
  assert.ok(ch, `an MD5 challenge: ${hdrs(c401, "WWW-Authenticate").join(" | ")}`);
  const nonce = /nonce="([^"]*)"/.exec(ch)[1];
  const realm = /realm="([^"]*)"/.exec(ch)[1];
  const md5 = (s) => createHash("md5").update(s).digest("hex");
  const cnonce = randomBytes(4).toString("hex"), uri = "sip:127.0.0.1";
  const response = md5(`${md5(`${user}:${realm}:${PW[user]}`)}:${nonce}:00000001:${cnonce}:auth:${md5(`REGISTER:${uri}`)}`);
  const auth = `Digest username="${user}", realm="${realm}", nonce="${nonce}", uri="${uri}", response="${response}", algorithm=MD5, qop=auth, nc=00000001, cnonce="${cnonce}"`;
  const resp = await ua.request(srv, register(ua, { user, callId, cseq: 2, auth }));
  assert.equal(status(resp), 200, `${user} registers from ${ua.address}: ${first(resp)}`);
}

/** A phone on the users' address, registered as `user`, answering every request 200 with a User-Agent. */
async function phone(srv, user) {
  const ua = await Ua.open(USERS_IP, {
    answer: (req) => {
      const keep = req.split("\r\n\r\n")[0].split("\r\n").filter((l) => /^(Via|From|To|Call-ID|CSeq):/i.test(l));
      const to = keep.findIndex((l) => /^To:/i.test(l));
      if (to >= 0 && !/;tag=/.test(keep[to])) keep[to] += `;tag=ph${seq}`;
      return ["SIP/2.0 200 OK", ...keep, `User-Agent: AcmePhone/9.9 (${user})`, "Content-Length: 0", "", ""].join("\r\n");
    },
  });
  await digestRegister(srv, ua, user);
  return ua;
}

/**
 * The server keeps serving: an OPTIONS to the server itself from the users' address (a monitor in
 * another domain, so it is not challenged) is answered, and the process is still running.
 */
async function stillServing(srv, step) {
  assert.equal(srv.child.exitCode, null, `the server process is still running after ${step}`);
  assert.equal(srv.child.signalCode, null, `the server process is still running after ${step}`);
  const ua = await Ua.open(USERS_IP);
  try {
    const text = [
      `OPTIONS sip:127.0.0.1:${srv.port} SIP/2.0`,
      `Via: SIP/2.0/UDP ${ua.address}:${ua.port};rport;branch=z9hG4bK-${token()}`,
      `Max-Forwards: 70`,
      `From: <sip:monitor@monitor.example>;tag=m${seq}`,
      `To: <sip:127.0.0.1:${srv.port}>`,
      `Call-ID: keepalive-${token()}`,
      `CSeq: 1 OPTIONS`,
      `Content-Length: 0`, ``, ``,
    ].join("\r\n");
    const r = await ua.request(srv, text, { timeoutMs: 3000 });
    assert.equal(status(r), 200, `an OPTIONS from ${USERS_IP} is answered 200 after ${step}: ${first(r)}`);
  } finally { ua.close(); }
}

/**
 * A response with what must differ between two requests made equal: the user's name (it is in the
 * request), tags, branch, Call-ID, received/rport, nonces (kept apart: compared by shape).
 */
function normalise(sip, user) {
  const name = new RegExp(`(["<:])${user}([">@])`, "g");
  return sip
    .replace(/^(From|To|f|t):.*$/gim, (l) => l.replace(name, "$1USER$2"))
    .replace(/;tag=[^;,>\s]+/g, ";tag=TAG")
    .replace(/branch=[^;,\s]+/g, "branch=BRANCH")
    .replace(/;rport=\d+/g, ";rport=PORT")
    .replace(/^(Call-ID|i):.*$/gim, "Call-ID: CALLID")
    .replace(/nonce="([^"]*)"/g, (_, n) => `nonce="<${n.length} ${/^[0-9a-f]*$/i.test(n) ? "hex" : "chars"}>"`);
}

/** Sends the same scanner request for `known` and for a name nobody has; returns the pair. */
async function compareUsers(srv, ua, method, known) {
  const unknown = `nobody${randomBytes(3).toString("hex")}`;
  const rk = await ua.request(srv, scannerRequest(ua, { method, user: known }));
  const ru = await ua.request(srv, scannerRequest(ua, { method, user: unknown }));
  return { method, known, unknown, rk, ru, same: rk !== null && ru !== null && normalise(rk, known) === normalise(ru, unknown) };
}

// 1 ---------------------------------------------------------------------------------------------
for (const host of HOSTS) {
  test(`${host}: svmap OPTIONS sweep: the server is found, as an "unknown" device; no product, version or user shows`, { timeout: 30_000 }, async () => {
    await withServer({ host, config: config() }, async (srv) => {
      // alice's phone is registered from the users' address and answers with its own User-Agent
      const alice = await phone(srv, "alice");
      // a silent port next to the server: part of the sweep, never reported
      const quiet = createSocket("udp4");
      await new Promise((res) => quiet.bind(0, "127.0.0.1", res));
      try {
        const ports = [srv.port, quiet.address().port];
        const r = await sv.svmap({ ports });
        console.log(`svmap reported: ${JSON.stringify(r.devices)}; replies: ${r.replies.map(first).join(" | ")}`);
        assert.equal(r.crashed, null, svRun(r));
        assert.deepEqual(r.devices, [{ device: `127.0.0.1:${srv.port}`, userAgent: "unknown" }], `svmap finds the server and only as "unknown"\n${svRun(r)}`);
        for (const reply of r.replies) {
          for (const h of ["Server", "User-Agent"]) assert.deepEqual(hdrs(reply, h), [], `svmap fingerprints ${h}: the reply has none\n${reply}`);
        }
        await stillServing(srv, "svmap");
      } finally { quiet.close(); alice.close(); }
    });
  });

  // 2 ---------------------------------------------------------------------------------------------
  // svmap -e NAME sends OPTIONS sip:NAME@host with From "sipvicious"<sip:100@1.1.1.1>: a stranger in
  // another domain. Today such a request for a registered user is forwarded to the user's phone (the
  // admission step challenges only requests whose From is one of our domains), so the phone's answer,
  // with its User-Agent, tells the stranger that the name is registered now and what phone it is; a
  // name nobody has gets 480 from the server. Whether strangers in other domains may reach users at
  // all (INVITE: inbound calls) is the product's decision; an OPTIONS that discloses the phone is
  // what this test pins.
  test(`${host}: svmap -e alice (OPTIONS from another domain to a registered user): the reply does not show alice's phone`, { timeout: 30_000 }, async () => {
    await withServer({ host, config: config() }, async (srv) => {
      const alice = await phone(srv, "alice");
      try {
        const e = await sv.svmap({ ports: [srv.port], extension: "alice" });
        const n = await sv.svmap({ ports: [srv.port], extension: "nobody" });
        console.log(`svmap -e alice reported: ${JSON.stringify(e.devices)}; replies: ${e.replies.map(first).join(" | ")}; ` +
          `svmap -e nobody: ${JSON.stringify(n.devices)}; replies: ${n.replies.map(first).join(" | ")}; ` +
          `alice's phone received: ${alice.requests.map(first).join(" | ") || "nothing"}`);
        await stillServing(srv, "svmap -e");
        assert.equal(e.crashed, null, svRun(e));
        assert.equal(n.crashed, null, svRun(n));
        assert.deepEqual(n.devices, [{ device: `127.0.0.1:${srv.port}`, userAgent: "unknown" }], svRun(n));
        assert.deepEqual(e.devices, n.devices, `svmap -e alice reports what svmap -e nobody reports\n${svRun(e)}`);
        assert.equal(first(e.replies[0]), first(n.replies[0]), "the same status line for alice and for nobody");
      } finally { alice.close(); }
    });
  });

  // 3 ---------------------------------------------------------------------------------------------
  const METHODS = ["REGISTER", "INVITE", "OPTIONS"];
  /** The To user of a reply (svwar's random extension for its baseline). */
  const toUser = (sip) => /^To:[^\r]*?<sip:([^@>]+)@/im.exec(sip)?.[1];

  test(`${host}: svwar (REGISTER, INVITE, OPTIONS) finds no extension: alice and bob, configured and registered, look like names nobody has`, { timeout: 60_000 }, async () => {
    await withServer({ host, config: config() }, async (srv) => {
      // alice and bob are registered from the users' address for the whole scan; carol is configured only
      const phones = [await phone(srv, "alice"), await phone(srv, "bob")];
      try {
        // as a scanner runs it: REGISTER, no --force, a list of likely names
        const plain = await sv.svwar({ port: srv.port, extensions: EXTENSIONS });
        console.log(`svwar (REGISTER, no --force): outcome "${plain.outcome}", baseline ${plain.badUser}, probed [${plain.probed}], found ${JSON.stringify(plain.found)}`);
        assert.equal(plain.crashed, null, svRun(plain));
        assert.deepEqual(plain.found, [], `svwar found extensions\n${svRun(plain)}`);
        assert.ok(plain.foundNothing, `svwar says "found nothing"\n${svRun(plain)}`);
        await stillServing(srv, "svwar");

        // --force: past its initial check. svwar ends its scan at the first reply whose first line is a
        // 401/407 equal to the baseline's ("an unknown response"), so each run probes one name.
        const runs = await Promise.all(METHODS.flatMap((method) => ["alice", "bob"].map(async (ext) =>
          ({ method, ext, r: await sv.svwar({ port: srv.port, extensions: [ext], method, force: true }) }))));
        for (const { method, ext, r } of runs) {
          const [base, probe] = [r.replies[0], r.replies.find((x) => toUser(x) === ext)];
          console.log(`svwar -m ${method} --force [${ext}]: outcome "${r.outcome}", baseline ${r.badUser}, ${ext}: ${first(probe)}, found ${JSON.stringify(r.found)}`);
          assert.equal(r.crashed, null, svRun(r));
          assert.equal(r.outcome, "scanned", `svwar took its baseline and scanned\n${svRun(r)}`);
          assert.deepEqual(r.probed, [ext], `svwar probed ${ext}\n${svRun(r)}`);
          assert.ok(probe, `svwar received the reply for ${ext}\n${svRun(r)}`);
          assert.deepEqual(r.found, [], `svwar -m ${method} tells ${ext} from a name nobody has (baseline ${r.badUser}, ${ext}: ${first(probe)})\n${svRun(r)}`);
          assert.ok(r.foundNothing, `svwar -m ${method} says "found nothing"\n${svRun(r)}`);
          // beyond svwar's first-line test: the whole reply, apart from tags, branch, Call-ID and nonce
          assert.equal(normalise(probe, ext), normalise(base, toUser(base)),
            `svwar -m ${method}: the reply for ${ext} differs from the reply for ${toUser(base)}\n--- ${ext}:\n${probe}\n--- ${toUser(base)}:\n${base}`);
        }
        await stillServing(srv, "svwar --force");

        // the same scanner request from our own client, for each configured user and a name nobody has
        const ua = await Ua.open(ATTACKER);
        try {
          for (const method of METHODS) {
            for (const known of ["alice", "bob", "carol"]) {
              const c = await compareUsers(srv, ua, method, known);
              assert.ok(c.rk && c.ru, `${method}: both answered (${known}: ${first(c.rk)}, ${c.unknown}: ${first(c.ru)})`);
              assert.equal(normalise(c.rk, known), normalise(c.ru, c.unknown),
                `${method}: the reply for ${known} differs from the reply for ${c.unknown}\n--- ${known}:\n${c.rk}\n--- ${c.unknown}:\n${c.ru}`);
            }
          }
        } finally { ua.close(); }
        await stillServing(srv, "the known/unknown comparison");
        // and no request of the stranger reached a phone
        for (const p of phones) assert.deepEqual(p.requests.map(first), [], "no scanner request reached a registered phone");
      } finally { for (const p of phones) p.close(); }
    });
  });

  // 3b --------------------------------------------------------------------------------------------
  // The control of test 3: the same tool and parser report an extension when the replies tell it
  // apart. The target is a leaky registrar in a few lines (not the server): 404 for names it does not
  // have, 401 for alice.
  test(`${host}: svwar control: against a registrar that answers 404 for unknown names and 401 for alice, svwar reports alice`, { timeout: 30_000 }, async () => {
    const leaky = createSocket("udp4");
    await new Promise((res) => leaky.bind(0, "127.0.0.1", res));
    leaky.on("message", (m, r) => {
      const req = m.toString("latin1");
      if (req.startsWith("ACK ")) return;
      const keep = req.split("\r\n\r\n")[0].split("\r\n").filter((l) => /^(Via|From|To|Call-ID|CSeq):/i.test(l))
        .map((l) => (/^To:/i.test(l) ? `${l};tag=leaky` : l));
      const line = toUser(req) === "alice" ? "SIP/2.0 401 Unauthorized" : "SIP/2.0 404 Not Found";
      const auth = line.includes("401") ? ['WWW-Authenticate: Digest realm="leaky", nonce="abc", algorithm=MD5, qop="auth"'] : [];
      leaky.send(Buffer.from([line, ...keep, ...auth, "Content-Length: 0", "", ""].join("\r\n"), "latin1"), r.port, r.address);
    });
    try {
      const r = await sv.svwar({ port: leaky.address().port, extensions: ["100", "alice", "guest"] });
      console.log(`svwar against the leaky registrar: outcome "${r.outcome}", baseline ${r.badUser}, probed [${r.probed}], found ${JSON.stringify(r.found)}`);
      assert.equal(r.crashed, null, svRun(r));
      assert.equal(r.outcome, "scanned", svRun(r));
      assert.deepEqual(r.probed, ["100", "alice", "guest"], svRun(r));
      assert.deepEqual(r.found, [{ extension: "alice", auth: "reqauth" }], `svwar reports alice\n${svRun(r)}`);
      assert.equal(r.foundNothing, false, svRun(r));
    } finally { leaky.close(); }
  });

  // 4 ---------------------------------------------------------------------------------------------
  /** SIPp from the users' address: REGISTER `user` with its password (tests/sipp/security/register_auth.xml). */
  const sippRegister = async (srv, user, port) => sipp([`127.0.0.1:${srv.port}`, "-sf", sec("register_auth.xml"), "-s", user, "-au", user, "-ap", PW[user],
    "-auth_uri", "127.0.0.1", "-p", String(port ?? await freePort()), "-m", "1", "-timeout", "6s", "-timeout_error"], { name: `reg-${user}`, ip: USERS_IP, timeoutMs: 10_000 });
  /** What the attacker's own OPTIONS gets now: the final response, or null (silence). */
  async function attackerOptions(srv) {
    const ua = await Ua.open(ATTACKER);
    try {
      return await ua.request(srv, scannerRequest(ua, { method: "OPTIONS", user: "100", fromHost: "1.1.1.1" }), { timeoutMs: 1500 });
    } finally { ua.close(); }
  }

  test(`${host}: svcrack on alice: no password found; after flood.authFailures (5) failures the attacker is blocked (503) while alice registers and calls bob from 127.0.0.2`, { timeout: 60_000 }, async () => {
    await withServer({ host, config: config() }, async (srv) => {
      // bob registers from the users' address and port his SIPp UAS then listens on
      const uasPort = await freePort();
      ok(await sippRegister(srv, "bob", uasPort));
      const uas = sipp(["-sf", sf("uas.xml"), "-p", String(uasPort), "-mp", String(await freePort()), "-m", "1", "-timeout", "30s", "-timeout_error"],
        { name: "uas-bob", ip: USERS_IP, timeoutMs: 35_000 });

      // the attack: svcrack guesses alice's password from a list of common ones (hers is not in it)
      const crack = sv.svcrack({ port: srv.port, user: "alice", passwords: COMMON });
      const blocked = await srv.waitFor((o) => isEvent(o, "flood-blocked") && fromAttacker(o), 10_000, "flood-blocked for the attacker");
      assert.ok(blocked);
      // meanwhile (svcrack waits for answers for another 10 s) alice registers and calls bob
      ok(await sippRegister(srv, "alice"));
      const call = await sipp([`127.0.0.1:${srv.port}`, "-sf", sec("uac_invite_auth.xml"), "-s", "bob", "-key", "caller", "alice", "-key", "srv", `127.0.0.1:${srv.port}`,
        "-au", "alice", "-ap", PW.alice, "-auth_uri", `bob@127.0.0.1:${srv.port}`, "-d", "200",
        "-p", String(await freePort()), "-mp", String(await freePort()), "-m", "1", "-timeout", "10s", "-timeout_error"], { name: "alice-calls-bob", ip: USERS_IP, timeoutMs: 14_000 });
      ok(call);
      ok(await uas);
      await stillServing(srv, "svcrack (alice)");
      const still = await attackerOptions(srv);
      assert.ok(still === null || status(still) === 503, `the blocked attacker gets 503 or nothing: ${first(still)}`);

      const r = await crack;
      await settle(srv);
      const fails = events(srv, "auth-fail").filter(fromAttacker);
      console.log(`svcrack -u alice: stopped "${r.stopped}" after trying [${r.tried}]; found ${JSON.stringify(r.found)}; ` +
        `unknown reply: ${first(r.unknown[0])}; server: ${fails.length} auth-fail, flood-blocked ${blocked.source}`);
      assert.equal(r.crashed, null, svRun(r));
      assert.deepEqual(r.found, [], `svcrack found a password for alice\n${svRun(r)}`);
      assert.ok(r.foundNothing, `svcrack says "found nothing"\n${svRun(r)}`);
      assert.ok(r.tried.length >= FLOOD.authFailures, `svcrack made at least ${FLOOD.authFailures} guesses: [${r.tried}]\n${svRun(r)}`);
      assert.equal(fails.length, FLOOD.authFailures, `exactly flood.authFailures failures counted before the block: ${JSON.stringify(fails)}`);
      assert.equal(r.stopped, "unknown response", `svcrack stopped on the block's 503\n${svRun(r)}`);
      assert.equal(status(r.unknown[0]), 503, `the reply that stopped svcrack: ${r.unknown[0]}`);
      const toAttacker = srv.sip("out").filter((m) => m.peer.startsWith(`udp:${ATTACKER}:`));
      assert.deepEqual(toAttacker.filter((m) => status(m.sip) === 200).map((m) => m.first), [], "no 200 to the attacker");
      assert.equal(srv.events("reg-add").filter(fromAttacker).length, 0, "no binding added for the attacker");

      // while blocked, a dictionary that starts with carol's password gets nowhere: not even a challenge
      const c = await sv.svcrack({ port: srv.port, user: "carol", passwords: [PW.carol], stopAfterMs: 3000 });
      console.log(`svcrack -u carol while blocked: stopped "${c.stopped}" after trying [${c.tried}]; found ${JSON.stringify(c.found)}; unknown reply: ${first(c.unknown[0])}`);
      assert.equal(c.crashed, null, svRun(c));
      assert.deepEqual(c.found, [], `svcrack found carol's password from a blocked source\n${svRun(c)}`);
      assert.deepEqual(c.tried, [], `a blocked source gets no challenge to answer\n${svRun(c)}`);
      assert.equal(c.stopped, "unknown response", `svcrack stopped on the block's 503\n${svRun(c)}`);
      assert.equal(status(c.unknown[0]), 503, `the blocked source is answered 503: ${c.unknown[0]}\n${svRun(c)}`);
      await stillServing(srv, "svcrack (carol, blocked)");
    });
  });

  // 5 ---------------------------------------------------------------------------------------------
  // The control of test 4: the same tool, dictionary shape and parser find a password when the server
  // checks it. carol's password comes 4th: 3 failures, fewer than flood.authFailures (5), so the guess
  // is checked; placed after the 5th failure it would be refused by the block, as test 4 shows.
  test(`${host}: svcrack control: a dictionary with carol's password 4th (after 3 failures, under flood.authFailures) finds it`, { timeout: 40_000 }, async () => {
    await withServer({ host, config: config() }, async (srv) => {
      const passwords = [...COMMON.slice(0, 3), PW.carol, ...COMMON.slice(3)];
      const r = await sv.svcrack({ port: srv.port, user: "carol", passwords });
      await settle(srv);
      const fails = events(srv, "auth-fail").filter(fromAttacker);
      console.log(`svcrack -u carol (control): stopped "${r.stopped}" after trying [${r.tried}]; found ${JSON.stringify(r.found)}; server: ${fails.length} auth-fail`);
      assert.equal(r.crashed, null, svRun(r));
      assert.deepEqual(r.found, [{ user: "carol", password: PW.carol }], `svcrack finds carol's password\n${svRun(r)}`);
      assert.equal(r.stopped, "cracked", svRun(r));
      assert.deepEqual(r.tried, passwords.slice(0, 4), `svcrack tried the list in order up to carol's password\n${svRun(r)}`);
      assert.equal(fails.length, 3, `3 failures counted: ${JSON.stringify(fails)}`);
      assert.equal(events(srv, "flood-blocked").length, 0, "no block under flood.authFailures");
      await stillServing(srv, "svcrack (control)");
    });
  });

  // 6 ---------------------------------------------------------------------------------------------
  // Beyond SIPVicious (it never aims a request past its target): the request shapes of the scans
  // above, addressed to another domain (127.0.0.9, a socket of ours) or, as a fake in-dialog request
  // (a To tag, no Route of ours), to a registered user. Admission lets both through today: requests
  // whose From is not one of our domains are not challenged, nor are requests with a To tag, and
  // routing then forwards them (to the Request-URI's host, or to the user's phone).
  test(`${host}: a stranger's request is not relayed: not to another domain (From another domain, or From ours with a To tag), not to a registered phone with a made-up To tag`, { timeout: 30_000 }, async () => {
    await withServer({ host, config: config() }, async (srv) => {
      const alice = await phone(srv, "alice");
      const far = await Ua.open("127.0.0.9", { answer: (req) => `SIP/2.0 200 OK\r\n${req.split("\r\n\r\n")[0].split("\r\n").filter((l) => /^(Via|From|To|Call-ID|CSeq):/i.test(l)).join("\r\n")}\r\nContent-Length: 0\r\n\r\n` });
      const ua = await Ua.open(ATTACKER);
      const shapes = [
        { what: "OPTIONS to another domain, From another domain", to: far, ruri: `sip:victim@127.0.0.9:${far.port}`, from: "sip:100@1.1.1.1", toTag: "" },
        { what: "INVITE to another domain, From another domain", to: far, method: "INVITE", ruri: `sip:victim@127.0.0.9:${far.port}`, from: "sip:100@1.1.1.1", toTag: "" },
        { what: "OPTIONS to another domain, From ours, with a To tag", to: far, ruri: `sip:victim@127.0.0.9:${far.port}`, from: "sip:alice@127.0.0.1", toTag: ";tag=made-up" },
        { what: "OPTIONS to alice (registered), From ours, with a To tag", to: alice, ruri: "sip:alice@127.0.0.1", from: "sip:alice@127.0.0.1", toTag: ";tag=made-up" },
      ];
      const seen = [];
      try {
        for (const s of shapes) {
          const method = s.method ?? "OPTIONS";
          const before = s.to.requests.length;
          const text = [
            `${method} ${s.ruri} SIP/2.0`,
            `Via: SIP/2.0/UDP ${ua.address}:${ua.port};branch=z9hG4bK-${token()};rport`,
            `Max-Forwards: 70`,
            `From: <${s.from}>;tag=${randomBytes(4).toString("hex")}`,
            `To: <${s.ruri.replace(/:\d+$/, "")}>${s.toTag}`,
            `User-Agent: friendly-scanner`,
            `Call-ID: relay-${token()}`,
            `CSeq: 1 ${method}`,
            `Contact: <sip:100@${ua.address}:${ua.port}>`,
            `Content-Length: 0`, ``, ``,
          ].join("\r\n");
          const r = await ua.request(srv, text, { timeoutMs: 1500 });
          await settle(srv);
          const reached = s.to.requests.slice(before).map(first);
          seen.push({ ...s, reply: first(r), reached });
          console.log(`${s.what}: the stranger got ${first(r)}; forwarded: ${reached.length ? reached.join(" | ") : "no"}`);
        }
        await stillServing(srv, "the relay attempts");
      } finally { ua.close(); far.close(); alice.close(); }
      assert.deepEqual(seen.map((s) => ({ what: s.what, forwarded: s.reached })), seen.map((s) => ({ what: s.what, forwarded: [] })),
        `forwarded for a stranger:\n${seen.filter((s) => s.reached.length).map((s) => `  ${s.what} (the stranger got ${s.reply})`).join("\n")}`);
    });
  });
}
