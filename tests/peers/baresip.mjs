// A real SIP phone for the tests: baresip (Debian package baresip-core, 1.0.0), run headless with
// its own temp config dir and driven over its ctrl_tcp module (netstring-framed JSON).
//
// One process is one phone: one account, SIP on 127.0.0.1:<port> (UDP and TCP; baresip also opens
// TLS on port+1), ctrl_tcp on port+2 and RTP/RTCP in port+4..port+9. The modules loaded are only
// g711 (PCMU/PCMA), ausine (a 440 Hz sine as microphone: no sound card), account, menu (the
// commands dial/accept/hangup/uanew/... that ctrl_tcp runs) and ctrl_tcp. There is no audio
// player: received audio is decoded and dropped. Nothing is sent off 127.0.0.1: the SDP and
// Contact address is 127.0.0.1 (net_interface) and DNS points at 127.0.0.1:53 (never queried, the
// URIs are IP addresses).
//
// ctrl_tcp (baresip 1.0, modules/ctrl_tcp/ctrl_tcp.c):
//   command  {"command":"dial","params":"sip:bob@127.0.0.1:5060","token":"7"}
//   response {"response":true,"ok":true,"data":"...","token":"7"}
//   event    {"event":true,"class":"call","type":"CALL_ESTABLISHED","accountaor":"sip:alice@...",
//             "direction":"outgoing","peeruri":"sip:bob@...","id":"<call-id>","param":"..."}
// Events are only relayed to a connected client, so the account is created (and registers) after
// we connect: `register()` sends `uanew <account line>`, never the accounts file.
// Event types: REGISTERING, REGISTER_OK ("200 OK"), REGISTER_FAIL ("401 Unauthorized", or an errno
// text such as "Function not implemented"), CALL_INCOMING, CALL_RINGING, CALL_PROGRESS,
// CALL_ESTABLISHED, CALL_CLOSED (param: the reason), CALL_RTCP (param "audio", with rtcp_stats:
// sent on each RTCP sender report received, i.e. proof of media), ...
import { spawn, spawnSync } from "node:child_process";
import { connect } from "node:net";
import { mkdtempSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "../integration/harness.mjs";

const BIN = "baresip";
const OUTPUT_CAP = 400_000; // characters of stdout+stderr kept (the tail) for assertion messages

/** Throws (naming tools/setup.mjs) unless the baresip binary is installed. */
export function requireBaresip() {
  if (spawnSync("sh", ["-c", `command -v ${BIN}`], { stdio: "ignore" }).status !== 0) {
    throw new Error(`${BIN} is not installed: run \`node tools/setup.mjs\` (as root it installs the Debian package; otherwise it prints the apt-get line)`);
  }
}

/** {baresip, libre}: the installed versions ("1.0.0"; libre from dpkg, or "unknown"), for messages and pins. */
export function baresipVersion() {
  requireBaresip();
  const banner = spawnSync(BIN, ["-h"], { encoding: "utf8", timeout: 5000 });
  const baresip = /baresip v(\S+)/.exec(`${banner.stdout}${banner.stderr}`)?.[1] ?? "unknown";
  const dpkg = spawnSync("dpkg-query", ["-W", "-f", "${Version}", "libre0"], { encoding: "utf8", timeout: 5000 });
  return { baresip, libre: dpkg.status === 0 && dpkg.stdout ? dpkg.stdout : "unknown" };
}

function configText({ port, ctrlPort, rtpMin, rtpMax, ip, netIp = ip, tls }) {
  return [
    // TLS (transport "tls"): the CAs it verifies the server with, and its own certificate (PEM with
    // its key: the client certificate it presents)
    ...(tls?.cafile ? [`sip_cafile\t\t${tls.cafile}`] : []),
    ...(tls?.certificate ? [`sip_certificate\t\t${tls.certificate}`] : []),
    "poll_method\t\tepoll",
    `sip_listen\t\t${ip}:${port}`,
    "call_local_timeout\t120",
    "call_max_calls\t\t4",
    "audio_source\t\tausine,440",
    "ausrc_srate\t\t48000", // ausine only produces 48 kHz stereo; baresip resamples to 8 kHz mono
    "ausrc_channels\t\t2",
    "audio_buffer\t\t20-160",
    `rtp_ports\t\t${rtpMin}-${rtpMax}`,
    "rtcp_mux\t\tno",
    "jitter_buffer_delay\t5-10",
    "rtp_stats\t\tyes",
    "dns_server\t\t127.0.0.1:53",
    `net_interface\t\t${netIp}`,
    "module_path\t\t/usr/lib/baresip/modules",
    "module\t\t\tg711.so",
    "module\t\t\tausine.so",
    "module_app\t\taccount.so",
    "module_app\t\tmenu.so",
    "module_app\t\tctrl_tcp.so",
    `ctrl_tcp_listen\t\t127.0.0.1:${ctrlPort}`,
    "",
  ].join("\n");
}

/** Netstring framing: "<len>:<payload>,". Returns [payloads, rest]. */
function unframe(buf) {
  const out = [];
  for (;;) {
    const colon = buf.indexOf(":");
    if (colon < 0) return [out, buf];
    const len = Number(buf.slice(0, colon));
    if (!Number.isInteger(len) || len < 0) throw new Error(`ctrl_tcp: bad netstring header ${JSON.stringify(buf.slice(0, 40))}`);
    if (buf.length < colon + 1 + len + 1) return [out, buf];
    out.push(buf.slice(colon + 1, colon + 1 + len));
    buf = buf.slice(colon + 2 + len);
  }
}

/**
 * Starts one baresip phone and waits until its ctrl_tcp accepts us (it listens only once the SIP
 * stack and the modules are up). Nothing is registered yet: call `register()`.
 *
 * opts: user, password (default "secret"), authUser (default user), ip (its SIP and RTP address, another
 * loopback address for a second party that must be told apart by address; default 127.0.0.1), netIp (its
 * net_interface: the address its SDP names, default ip; baresip binds RTP to the wildcard address, so on
 * loopback its media leave from 127.0.0.1 whatever ip is), server ("127.0.0.1:PORT",
 * the registrar and the domain of the AOR; for "tls" the server's TLS port), transport "udp" | "tcp" | "tls",
 * tls ({cafile, certificate}: PEM files for sip_cafile and sip_certificate), name (for messages),
 * regint (s, default 600), startTimeoutMs, sipTrace (baresip -s, default true: in `output()`).
 *
 * Returns a phone: { name, aor, port, dir, events, register(), dial(uri), accept(), hangup(),
 * command(cmd, params), waitFor(type|pred, {timeoutMs, since}), mark(), uri(user), output(),
 * describe(what), stop() }. The password goes into baresip's account line: no ';' or '>' in it.
 */
export async function startBaresip(opts) {
  requireBaresip();
  // A port block of this process (harness.freePort checks only its base) can still be taken by
  // another process: baresip then exits at start (bind failure); try another block.
  let lastErr;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      return await startOnce(opts, await freePort());
    } catch (e) {
      lastErr = e;
      if (!e.portInUse) throw e;
    }
  }
  throw lastErr;
}

async function startOnce(opts, port) {
  const { user, password = "secret", authUser = user, server, transport = "udp", name = user,
    regint = 600, startTimeoutMs = 8000, sipTrace = true, ip = "127.0.0.1", netIp = ip, tls } = opts;
  if (!user || !server) throw new Error("startBaresip: user and server are required");
  if (!["udp", "tcp", "tls"].includes(transport)) throw new Error(`startBaresip: transport ${transport}: expected udp, tcp or tls`);
  const ctrlPort = port + 2;
  const dir = mkdtempSync(join(tmpdir(), `sipling-baresip-${name}-`));
  writeFileSync(join(dir, "config"), configText({ port, ctrlPort, rtpMin: port + 4, rtpMax: port + 9, ip, netIp, tls }));
  writeFileSync(join(dir, "accounts"), ""); // the account comes with `uanew` (see register)
  writeFileSync(join(dir, "contacts"), "");

  // stdbuf: baresip logs with stdio, block-buffered on a pipe; line-buffered we see it as it happens.
  const args = ["-oL", "-eL", BIN, "-4", "-f", dir, ...(sipTrace ? ["-s"] : [])];
  const child = spawn("stdbuf", args, { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  const keep = (d) => { out += d; if (out.length > OUTPUT_CAP) out = out.slice(-OUTPUT_CAP / 2); };
  child.stdout.setEncoding("utf8"); child.stderr.setEncoding("utf8");
  child.stdout.on("data", keep); child.stderr.on("data", keep);
  let exitInfo = null;
  const exited = new Promise((resolve) => child.once("exit", (code, signal) => { exitInfo = { code, signal }; resolve(exitInfo); }));
  child.once("error", (e) => { keep(`\n[spawn error: ${e.message}]\n`); });

  const events = [];
  const responses = new Map(); // token -> resolve
  const waiters = new Set();
  let sock = null;
  let rx = "";
  let token = 0;

  const output = () => out.replace(/\x1b\[[0-9;]*m/g, "");
  const describe = (what) => `${name} (baresip ${transport} :${port}): ${what}\n--- ${name} output (tail) ---\n${output().slice(-6000)}\n--- ${name} events ---\n${events.map((e) => `${e.type} ${e.param ?? ""}`).join("\n")}`;

  let stopped = false;
  async function stop() {
    if (!stopped) {
      stopped = true;
      sock?.destroy();
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGTERM");
        const t = setTimeout(() => child.kill("SIGKILL"), 3000);
        await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
        clearTimeout(t);
      }
      rmSync(dir, { recursive: true, force: true });
    }
    return exitInfo;
  }

  // Ready = ctrl_tcp accepts a connection; bounded, and fails at once if baresip exits.
  const deadline = Date.now() + startTimeoutMs;
  try {
    while (!sock) {
      if (exitInfo) {
        const e = new Error(describe(`exited at start (${JSON.stringify(exitInfo)})`));
        e.portInUse = /in use|EADDRINUSE/i.test(out);
        throw e;
      }
      // a port of the block taken by another process (ports here lie in the kernel's ephemeral range,
      // so an outgoing connection may hold one): baresip keeps running without that listener
      if (/Address already in use/i.test(out)) {
        const e = new Error(describe("a port of its block is in use"));
        e.portInUse = true;
        throw e;
      }
      if (Date.now() > deadline) throw new Error(describe(`ctrl_tcp 127.0.0.1:${ctrlPort} not up after ${startTimeoutMs} ms`));
      sock = await new Promise((resolve) => {
        const s = connect(ctrlPort, "127.0.0.1");
        s.once("connect", () => resolve(s));
        s.once("error", () => { s.destroy(); setTimeout(() => resolve(null), 50); });
      });
    }
  } catch (e) {
    await stop();
    throw e;
  }
  sock.setEncoding("utf8");
  sock.on("error", () => {});
  sock.on("data", (d) => {
    rx += d;
    let msgs;
    try { [msgs, rx] = unframe(rx); } catch (e) { keep(`\n[harness: ${e.message}]\n`); rx = ""; return; }
    for (const m of msgs) {
      let o;
      try { o = JSON.parse(m); } catch { keep(`\n[harness: unparsed ctrl_tcp message ${m}]\n`); continue; }
      if (o.response) {
        const r = responses.get(o.token);
        if (r) { responses.delete(o.token); r(o); }
      } else if (o.event) {
        o.at = Date.now();
        events.push(o);
        for (const w of waiters) w();
      }
    }
  });

  /** Runs one ctrl_tcp command; resolves {ok, data} (bounded). */
  function command(cmd, params, timeoutMs = 3000) {
    const t = String(++token);
    const msg = JSON.stringify(params === undefined ? { command: cmd, token: t } : { command: cmd, params, token: t });
    return new Promise((resolve, reject) => {
      if (exitInfo) { reject(new Error(describe(`exited (${JSON.stringify(exitInfo)}) before ${msg}`))); return; }
      const timer = setTimeout(() => { responses.delete(t); reject(new Error(describe(`no response to ${msg} within ${timeoutMs} ms`))); }, timeoutMs);
      responses.set(t, (o) => { clearTimeout(timer); resolve({ ok: o.ok, data: o.data }); });
      sock.write(`${Buffer.byteLength(msg)}:${msg},`);
    });
  }
  async function mustCommand(cmd, params) {
    const r = await command(cmd, params);
    if (!r.ok) throw new Error(describe(`command ${cmd} ${params ?? ""} failed: ${r.data}`));
    return r;
  }

  /**
   * The first event at index >= since that matches (a type name, an array of them, or a
   * predicate), waiting at most timeoutMs; rejects with the phone's output on timeout or exit.
   */
  function waitFor(match, { timeoutMs = 5000, since = 0 } = {}) {
    const pred = typeof match === "function" ? match
      : Array.isArray(match) ? (e) => match.includes(e.type) : (e) => e.type === match;
    const what = typeof match === "function" ? "event" : [].concat(match).join("|");
    return new Promise((resolve, reject) => {
      const check = () => {
        const hit = events.slice(since).find(pred);
        if (hit) { cleanup(); resolve(hit); }
      };
      const timer = setTimeout(() => { cleanup(); reject(new Error(describe(`no ${what} within ${timeoutMs} ms`))); }, timeoutMs);
      const onExit = () => { if (!waiters.has(check)) return; cleanup(); reject(new Error(describe(`exited (${JSON.stringify(exitInfo)}) while waiting for ${what}`))); };
      const cleanup = () => { clearTimeout(timer); waiters.delete(check); };
      waiters.add(check);
      exited.then(onExit);
      check();
    });
  }

  const domainParams = transport === "udp" ? "" : `;transport=${transport}`;
  const aor = `sip:${user}@${server}`;
  const phone = {
    name, aor, port, dir, transport, events, command, waitFor, stop, output, describe,
    /** Index for `since`: only events after this point. */
    mark: () => events.length,
    /** A SIP URI of `u` at the server, with this phone's transport. */
    uri: (u) => `sip:${u}@${server}${domainParams}`,
    /**
     * Creates the account (`uanew`), which registers at once, and resolves the first
     * REGISTER_OK or REGISTER_FAIL event after it (it does not throw on REGISTER_FAIL: check type).
     */
    async register({ timeoutMs = 8000 } = {}) {
      const since = events.length;
      const line = `<sip:${user}@${server}${domainParams}>;auth_user=${authUser};auth_pass=${password}` +
        `;regint=${regint};answermode=manual;audio_codecs=PCMU/8000/1,PCMA/8000/1;mwi=no;ptime=20`;
      await mustCommand("uanew", line);
      return waitFor(["REGISTER_OK", "REGISTER_FAIL"], { timeoutMs, since });
    },
    /** Dials `uri` (use phone.uri("bob")); resolves once baresip accepted the command. */
    dial: (uri) => mustCommand("dial", uri),
    /** Answers the current incoming call. */
    accept: () => mustCommand("accept"),
    /** Hangs up the current call. */
    hangup: () => mustCommand("hangup"),
  };
  return phone;
}

/** Runs `fn(...phones)` with phones started from each opts, always stopping them all. */
export async function withBaresip(optsList, fn) {
  const phones = [];
  try {
    for (const o of optsList) phones.push(await startBaresip(o));
    return await fn(...phones);
  } finally {
    await Promise.all(phones.map((p) => p.stop()));
  }
}

/** The caller hangs up; resolves when both phones report the call closed (8 s each at most). */
export async function hangupBoth(caller, callee) {
  const a = caller.mark(), b = callee.mark();
  await caller.hangup();
  await Promise.all([
    caller.waitFor("CALL_CLOSED", { since: a, timeoutMs: 8000 }),
    callee.waitFor("CALL_CLOSED", { since: b, timeoutMs: 8000 }),
  ]);
}
