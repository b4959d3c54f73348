// Helpers of the tests that run a host as a process: the command line of a host, and one request's
// answer time over UDP (tests/hosts/blocked-*.test.mjs, tcp-bounds.test.mjs); a file's processes (run
// to completion, or a server started and its JSON log lines awaited), SIPp, and the SIPp suite that
// every server binary faces (tests/hosts/native.test.mjs, wamr.test.mjs, wasmtime.test.mjs).
import { test } from "node:test";
import { join } from "node:path";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { spawn, spawnSync } from "node:child_process";
import net from "node:net";
import dgram from "node:dgram";
import assert from "node:assert/strict";
import { root } from "./core.mjs";

/** [command, args] that run `host` ("node" | "native") on the configuration file cfg. */
export function hostCommand(host, cfg) {
  if (host === "node") return [process.execPath, [join(root, "host", "node", "cli.mjs"), "--config", cfg]];
  const bin = join(root, "build", "server", "sipling");
  assert.ok(existsSync(bin), `no ${bin}: build it with node tools/build.mjs`);
  return [bin, ["--config", cfg]];
}

/**
 * Sends `bytes` from sock to 127.0.0.1:port and resolves the time (ms) until a datagram containing
 * `tag` comes back, or -1 after ms.
 */
export function ask(sock, port, bytes, tag, ms) {
  const t0 = performance.now();
  return new Promise((res) => {
    const on = (m) => {
      if (m.toString("latin1").includes(tag)) done(performance.now() - t0);
    };
    const done = (v) => {
      clearTimeout(t);
      sock.off("message", on);
      res(v);
    };
    const t = setTimeout(() => done(-1), ms);
    sock.on("message", on);
    sock.send(bytes, port, "127.0.0.1");
  });
}

// ---- a host's processes: the helpers of tests/hosts/{native,wamr,wasmtime}.test.mjs ---------------

/** A port free for both UDP and TCP on 127.0.0.1. */
export async function freePort() {
  for (let i = 0; i < 50; i++) {
    const srv = net.createServer();
    await new Promise((r) => srv.listen(0, "127.0.0.1", r));
    const port = srv.address().port;
    const u = dgram.createSocket("udp4");
    const ok = await new Promise((r) => {
      u.once("error", () => r(false));
      u.bind(port, "127.0.0.1", () => r(true));
    });
    await new Promise((r) => srv.close(r));
    if (ok) {
      await new Promise((r) => u.close(r));
      return port;
    }
  }
  throw new Error("no free port");
}

/** SIPp (SIPp 3.6, Debian sip-tester) is on PATH. */
export const hasSipp = () => spawnSync("sipp", ["-v"], { encoding: "utf8" }).stdout?.includes("SIPp") ?? false;

/** Resolves the first line of server s (see procs().start) that pred accepts; throws after ms or once s exited. */
export async function waitFor(s, pred, ms) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const hit = s.lines.find(pred);
    if (hit) return hit;
    if (s.child.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`no matching log line within ${ms} ms; stdout:\n${s.raw.slice(-6000)}\nstderr:\n${s.err.slice(-3000)}`);
}

export const sippReport = (r) => `sipp exit ${r.code}/${r.signal}\n${r.err.slice(-2000)}`;

/**
 * The processes of one test file: children run in `dir` (made by mkdir(), in before()), each with a
 * hard timeout and killed by PID; cleanup() (in after()) kills what is left and removes dir.
 */
export function procs(prefix) {
  const children = new Set();
  const p = {
    dir: undefined,
    mkdir() {
      p.dir = mkdtempSync(join(tmpdir(), prefix));
      return p.dir;
    },
    cleanup() {
      for (const c of children) if (c.exitCode === null && c.signalCode === null) process.kill(c.pid, "SIGKILL");
      if (p.dir) rmSync(p.dir, { recursive: true, force: true });
    },
    /** Runs a command to completion; SIGKILLed by PID after `ms`. Resolves {code, signal, out, err}. */
    run(cmd, args, ms, opts = {}) {
      return new Promise((resolve) => {
        const c = spawn(cmd, args, { cwd: p.dir, stdio: ["ignore", "pipe", "pipe"], ...opts });
        children.add(c);
        let out = "";
        let err = "";
        c.stdout.on("data", (d) => (out += d));
        c.stderr.on("data", (d) => (err += d));
        const timer = setTimeout(() => process.kill(c.pid, "SIGKILL"), ms);
        c.on("close", (code, signal) => {
          clearTimeout(timer);
          children.delete(c);
          resolve({ code, signal, out, err });
        });
      });
    },
    /**
     * Starts a server; resolves once it logs "running" (within `ready` ms), SIGKILLed by PID after `ms`.
     * Resolves {child, lines (parsed stdout JSON), raw, err, exit (promise of {code, signal})}.
     */
    async start(cmd, args, { ms = 60_000, ready = 5000 } = {}) {
      const c = spawn(cmd, args, { cwd: p.dir, stdio: ["ignore", "pipe", "pipe"] });
      children.add(c);
      const s = { child: c, lines: [], raw: "", err: "", exit: null };
      const timer = setTimeout(() => process.kill(c.pid, "SIGKILL"), ms);
      s.exit = new Promise((resolve) => c.on("close", (code, signal) => {
        clearTimeout(timer);
        children.delete(c);
        resolve({ code, signal });
      }));
      c.stderr.on("data", (d) => (s.err += d));
      let partial = "";
      c.stdout.on("data", (d) => {
        s.raw += d;
        partial += d;
        let nl;
        while ((nl = partial.indexOf("\n")) >= 0) {
          const line = partial.slice(0, nl);
          partial = partial.slice(nl + 1);
          s.lines.push(JSON.parse(line)); // every stdout line must be JSON
        }
      });
      await waitFor(s, (l) => l.msg === "running", ready);
      return s;
    },
    /** SIPp bounded by -m 1, -timeout and a kill timer. */
    sipp(args, ms = 15_000) {
      return p.run("sipp", ["-i", "127.0.0.1", "-m", "1", "-nostdin", "-timeout", `${Math.floor(ms / 1000) - 2}s`,
        "-timeout_error", "-trace_err", ...args], ms);
    },
  };
  return p;
}

// ---- the SIPp suite every server host faces ------------------------------------------------------

const scen = join(root, "tests", "sipp");
const own = join(root, "tests", "hosts", "sipp");

/**
 * Registers the SIPp scenario tests that every host binary faces, in this order: the server's
 * listeners, REGISTER over UDP and over TCP, a call through the proxy over UDP and over TCP (a
 * connection the proxy opens), CANCEL of a ringing call and the ACK of its 487, SIGTERM; then, given
 * `micro`, the micro board's full AOR table. Throws (never skips) when SIPp is not installed.
 *
 * p: procs() of the test file. start(args): starts the server binary on args (p.start). Options:
 * - serverTest: the first test's name; running(line): the host's own assertions on its "running" line.
 * - traceConn: the trace line of a message sent on a TCP connection names the connection (conn).
 * - stop: "graceful" (SIGTERM: "stopped", exit 0, stats logged) or the name of a test that SIGTERM
 *   only ends the process (the runtime's default action) with nothing on stderr.
 * - micro: { start(args), running?(line) }: the micro board's binary, and assertions on its "running" line.
 * - options: node:test options of every test (e.g. a timeout).
 */
export function sippSuite(p, { start, serverTest, running = () => {}, traceConn = false, stop = "graceful", micro, options = {} }) {
  // Never skip: npm test installs SIPp first (tools/setup.mjs).
  if (!hasSipp()) throw new Error("sipp is not installed (tools/setup.mjs installs sip-tester)");
  const { sipp } = p;
  let srv;
  let P;
  let uasPort;

  test(serverTest, options, async () => {
    P = await freePort();
    uasPort = await freePort();
    srv = await start(["--listen", `udp:127.0.0.1:${P}`, "--listen", `tcp:127.0.0.1:${P}`, "--trace"]);
    const listening = srv.lines.filter((l) => l.msg === "listening").map((l) => l.listen);
    assert.deepEqual(listening, [`udp:127.0.0.1:${P}`, `tcp:127.0.0.1:${P}`]);
    assert.match(srv.lines[0].t, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    running(srv.lines.find((l) => l.msg === "running"));
  });

  test("SIPp REGISTER over UDP", options, async () => {
    const csv = join(p.dir, "users.csv");
    writeFileSync(csv, "SEQUENTIAL\nuas;127.0.0.1\n");
    const r = await sipp([`127.0.0.1:${P}`, "-sf", join(scen, "register.xml"), "-inf", csv, "-p", String(uasPort)]);
    assert.equal(r.code, 0, sippReport(r));
    const ev = await waitFor(srv, (l) => l.msg === "reg-add", 2000);
    assert.equal(ev.event, "reg-add");
    assert.equal(ev.aor, "uas");
    assert.equal(ev.contact, `sip:uas@127.0.0.1:${uasPort}`);
    assert.equal(ev.expires, 3600);
    assert.equal(ev.source, `udp:127.0.0.1:${uasPort}`);
    assert.equal(typeof ev.coreTime, "number");
    const tr = await waitFor(srv, (l) => l.msg === "sip" && l.dir === "in" && l.sip.startsWith("REGISTER "), 2000);
    assert.equal(tr.peer, `udp:127.0.0.1:${uasPort}`);
    assert.ok(srv.lines.some((l) => l.msg === "sip" && l.dir === "out" && l.sip.startsWith("SIP/2.0 200 OK")));
  });

  test("SIPp REGISTER over TCP (another user)", options, async () => {
    const csv = join(p.dir, "users-tcp.csv");
    writeFileSync(csv, "SEQUENTIAL\ntcpuser;127.0.0.1\n");
    const port = await freePort();
    const r = await sipp([`127.0.0.1:${P}`, "-t", "t1", "-sf", join(scen, "register.xml"), "-inf", csv, "-p", String(port)]);
    assert.equal(r.code, 0, sippReport(r));
    const ev = await waitFor(srv, (l) => l.msg === "reg-add" && l.aor === "tcpuser", 2000);
    assert.match(ev.source, /^tcp:127\.0\.0\.1:\d+$/);
    assert.ok(ev.conn > 0);
  });

  test("SIPp call through the proxy (UDP): INVITE/180/200/ACK/BYE to the registered UAS", options, async () => {
    const uas = sipp(["-sf", join(scen, "uas.xml"), "-p", String(uasPort)]);
    await new Promise((r) => setTimeout(r, 300));
    const uac = await sipp([`127.0.0.1:${P}`, "-sf", join(scen, "uac_invite.xml"), "-s", "uas", "-d", "200", "-p", String(await freePort())]);
    const u = await uas;
    assert.equal(uac.code, 0, `uac: ${sippReport(uac)}`);
    assert.equal(u.code, 0, `uas: ${sippReport(u)}`);
    await waitFor(srv, (l) => l.msg === "call-attempt" && l.callee?.includes("sip:uas@"), 2000);
    const ans = await waitFor(srv, (l) => l.msg === "call-answer", 2000);
    assert.equal(ans.code, 200);
    const inv = srv.lines.filter((l) => l.msg === "sip" && l.dir === "out" && l.peer === `udp:127.0.0.1:${uasPort}` && /^INVITE /.test(l.sip));
    assert.equal(inv.length, 1, "one INVITE to the callee");
    assert.match(inv[0].sip, new RegExp(`\r\nRecord-Route: <sip:127\\.0\\.0\\.1:${P};lr;dlg=[0-9a-f]{16}>\r\n`));
  });

  test("SIPp call over TCP: the proxy opens a connection to the target (transport=tcp)", options, async () => {
    // The UAS listens on TCP only; its binding (registered over UDP) names it with transport=tcp, so the
    // proxy must open a connection to it. The caller calls its AOR: a stranger may only reach our
    // registered users, never an address of its choosing (tests/security/relay.test.mjs).
    const port = await freePort();
    const reg = readFileSync(join(scen, "register.xml"), "utf8");
    const tcpReg = reg.replace("Contact: <sip:[field0]@[local_ip]:[local_port]>", "Contact: <sip:[field0]@[local_ip]:[field2];transport=tcp>");
    assert.notEqual(tcpReg, reg);
    const regFile = join(p.dir, "register_tcp_contact.xml");
    writeFileSync(regFile, tcpReg);
    const csv = join(p.dir, "users-tcpuas.csv");
    writeFileSync(csv, `SEQUENTIAL\ntcpuas;127.0.0.1;${port}\n`);
    const r = await sipp([`127.0.0.1:${P}`, "-sf", regFile, "-inf", csv, "-p", String(await freePort())]);
    assert.equal(r.code, 0, sippReport(r));
    await waitFor(srv, (l) => l.msg === "reg-add" && l.aor === "tcpuas", 2000);
    const uas = sipp(["-t", "t1", "-sf", join(scen, "uas.xml"), "-p", String(port)]);
    await new Promise((res) => setTimeout(res, 300));
    const uac = await sipp([`127.0.0.1:${P}`, "-t", "t1", "-sf", join(scen, "uac_invite.xml"), "-s", "tcpuas", "-d", "200",
      "-p", String(await freePort())]);
    const u = await uas;
    assert.equal(uac.code, 0, `uac: ${sippReport(uac)}`);
    assert.equal(u.code, 0, `uas: ${sippReport(u)}`);
    const out = srv.lines.find((l) => l.msg === "sip" && l.dir === "out" && l.peer === `tcp:127.0.0.1:${port}` && l.sip.startsWith("INVITE "));
    assert.ok(out, "INVITE sent over TCP to the UAS");
    if (traceConn) assert.ok(out.conn > 0, "on a connection");
  });

  // tests/sipp/uac_cancel.xml is shared; the UAS is tests/hosts/sipp/uas_cancel.xml, which keeps both of
  // the INVITE's Vias for its 487 (tests/sipp/uas_cancel.xml keeps only the first: the proxy's).
  let cancelUas;
  test("SIPp CANCEL of a ringing call: 200 to the CANCEL, then the UAS's 487", options, async () => {
    const uas = sipp(["-sf", join(own, "uas_cancel.xml"), "-p", String(uasPort)], 8000);
    await new Promise((r) => setTimeout(r, 300));
    const uac = await sipp([`127.0.0.1:${P}`, "-sf", join(scen, "uac_cancel.xml"), "-s", "uas", "-p", String(await freePort())]);
    assert.equal(uac.code, 0, `uac: ${sippReport(uac)}`);
    const fail = await waitFor(srv, (l) => l.msg === "call-fail", 2000);
    assert.equal(fail.code, 487);
    cancelUas = await uas;
  });

  test("SIPp CANCEL: the proxy ACKs the UAS's 487 (RFC 3261 17.1.1.3)", options, () => {
    assert.ok(cancelUas, "the CANCEL test ran");
    assert.equal(cancelUas.code, 0, `uas: ${sippReport(cancelUas)}`);
  });

  if (stop === "graceful") {
    test("SIGTERM stops the server: \"stopped\", exit 0", options, async () => {
      process.kill(srv.child.pid, "SIGTERM");
      const e = await srv.exit;
      assert.equal(e.code, 0);
      assert.equal(srv.lines.at(-1).msg, "stopped");
      const stats = srv.lines.find((l) => l.msg === "stats");
      assert.ok(stats.received > 0 && stats.sent > 0);
      assert.equal(srv.err, "");
    });
  } else {
    test(stop, options, async () => {
      process.kill(srv.child.pid, "SIGTERM");
      const e = await srv.exit;
      assert.ok(e.signal === "SIGTERM" || e.code !== null, JSON.stringify(e));
      assert.equal(srv.err, "");
    });
  }

  if (!micro) return;
  test("micro board: a full AOR table answers 503 and the server keeps running", options, async () => {
    // micro: 32 AORs (assembly/config.ts MAX_AORS default); 40 users register, 8 must get 503.
    const port = await freePort();
    const m = await micro.start(["--listen", `udp:127.0.0.1:${port}`, "--trace"]);
    const csv = join(p.dir, "many.csv");
    writeFileSync(csv, "SEQUENTIAL\n" + Array.from({ length: 40 }, (_, i) => `m${i + 1};127.0.0.1\n`).join(""));
    const r = await p.run("sipp", ["-i", "127.0.0.1", "-m", "40", "-r", "50", "-nostdin", "-timeout", "8s", `127.0.0.1:${port}`,
      "-sf", join(scen, "register.xml"), "-inf", csv, "-p", String(await freePort())], 12_000);
    assert.notEqual(r.code, 0, "8 registrations fail");
    // the last lines may still be in the pipe when SIPp exits
    const is503 = (l) => l.msg === "sip" && l.dir === "out" && l.sip.startsWith("SIP/2.0 503 ");
    await waitFor(m, () => m.lines.filter(is503).length >= 8, 3000).catch(() => {});
    assert.equal(m.lines.filter((l) => l.msg === "reg-add").length, 32);
    const refused = m.lines.filter(is503);
    assert.ok(refused.length >= 8, `503s: ${refused.length}`);
    assert.match(refused[0].sip, /\r\nRetry-After: 5\r\n/);
    process.kill(m.child.pid, "SIGTERM");
    assert.equal((await m.exit).code, 0);
    const line = m.lines.find((l) => l.msg === "running");
    assert.equal(line.board, "micro");
    micro.running?.(line);
  });
}
