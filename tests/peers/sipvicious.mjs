// SIPVicious 0.3.x (Debian package `sipvicious`: svmap, svwar, svcrack; pip names them
// sipvicious_svmap …) as a test peer: each wrapper runs the real tool against a loopback target,
// bounded by a hard kill timer, with a private HOME and working directory (the tools keep sessions
// under ~/.sipvicious only with -s/--resume, which we never pass), and returns the parsed result
// plus the raw output for assertion messages. A missing tool is an error naming tools/setup.mjs.
//
// What the tools send and how they decide (read from /usr/share/sipvicious/sipvicious/*.py, 0.3.3):
//   common   one UDP socket bound to 0.0.0.0:-P (the next free port if taken; svwar and svcrack ignore
//            -b), Via "SIP/2.0/UDP <-x>:<-P>;branch=z9hG4bK-<n>;rport", User-Agent: friendly-scanner,
//            Accept: application/sdp, Max-Forwards 70. One request per select() timeout (-t, 5 ms)
//            with nothing to read; the run ends when the list is done (then it drains replies until
//            a socket timeout: 3 s for svmap/svwar, 10 s for svcrack) or after --maximumtime (10 s)
//            without any reply. The exit code is 0 whatever happened (2 for bad options): results
//            are the table on stdout and the log on stderr ("LEVEL:logger:message").
//   svmap    OPTIONS sip:<-e, 100>@<host>, From = To = "sipvicious"<sip:100@1.1.1.1>;tag=hex(ip,port
//            of the target), Contact sip:100@<-x>:<-P>. ANY reply makes a device: table row
//            "ip:port | User Agent", the agent being the reply's Server (else User-Agent) header, or
//            "unknown".
//   svwar    first a request for a random 32-bit number (the "surely nonexistent" extension): its
//            reply's first line is BADUSER. If that reply is 401/407/403 it stops ("SIP server
//            replied with an authentication request for an unknown extension") unless --force.
//            Then per extension (-d file or -e range): -m REGISTER (default: REGISTER sip:<host>),
//            INVITE or OPTIONS (<METHOD> sip:<ext>@<host>), From = To = "<ext>"<sip:<ext>@<host>>
//            with From tag = hex(<ext> 0x01 <random>) — the extension is read back from the reply's
//            From tag —, Contact sip:<ext>@<host>. A reply whose first line differs from BADUSER
//            is a find (401/403/407 "reqauth", 200 "noauth", other "weird"); 100/180 are ignored;
//            the same line as BADUSER is "not found" only for 404/481/503/100/180/200/603 — any
//            other (a 401/407 BADUSER included) is "an unknown response" and ends the scan. For
//            INVITE it ACKs every final reply (and BYEs a 200).
//   svcrack  REGISTER (or -m) sip:<host> for -u, From = To = "<user>" <sip:<user>@<host>>, Contact
//            sip:123@1.1.1.1. It answers the FIRST WWW-/Proxy-Authenticate of each 401/407
//            (MD5 or MD5-sess only; qop must be quoted), on the challenge's Call-ID with CSeq 2,
//            nc counting up across nonces, the guess hex-encoded in the From tag. A 200 is the
//            password (read back from the From tag); 403 and 100 are ignored; 404 stops ("User
//            not found"); any other reply (503 included) stops ("We got an unknown response").
// Never passed: -R (mails a report to the author) and -A (connects to msn.com to learn our address).
import { spawn, spawnSync } from "node:child_process";
import { createSocket } from "node:dgram";
import { mkdtempSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const SETUP = "node tools/setup.mjs (Debian package sipvicious)";
const NAMES = {
  svmap: ["svmap", "sipvicious_svmap"],
  svwar: ["svwar", "sipvicious_svwar"],
  svcrack: ["svcrack", "sipvicious_svcrack"],
};

/** Private HOME and working directory of every run of this process. */
const home = mkdtempSync(join(tmpdir(), "sipling-sipvicious-"));
process.on("exit", () => { if (!process.env.SIPLING_IT_KEEP) rmSync(home, { recursive: true, force: true }); });
let fileSeq = 0;
function listFile(name, lines) {
  const f = join(home, `${++fileSeq}-${name}.txt`);
  writeFileSync(f, lines.map((l) => `${l}\n`).join(""));
  return f;
}

const found = new Map();
/** The command that runs `tool` (svmap, svwar, svcrack); throws naming tools/setup.mjs if none. */
export function command(tool) {
  if (found.has(tool)) return found.get(tool);
  for (const name of NAMES[tool]) {
    if (spawnSync("sh", ["-c", `command -v ${name}`], { stdio: "ignore" }).status === 0) {
      found.set(tool, name);
      return name;
    }
  }
  throw new Error(`SIPVicious ${tool} is not installed (looked for ${NAMES[tool].join(", ")}): run ${SETUP}`);
}

/** The installed version ("0.3.3"); throws like command() when missing. */
export function version() {
  const r = spawnSync(command("svwar"), ["--version"], { encoding: "utf8", env: { ...process.env, HOME: home } });
  return /v(\d+\.\d+\.\d+)/.exec(r.stdout + r.stderr)?.[1] ?? "unknown";
}

/** A UDP port free on 0.0.0.0 right now (svwar and svcrack bind the wildcard address). */
export function freeUdpPort() {
  return new Promise((resolve, reject) => {
    const s = createSocket("udp4");
    s.once("error", reject);
    s.bind(0, "0.0.0.0", () => { const p = s.address().port; s.close(() => resolve(p)); });
  });
}

function loopback(host) {
  if (!/^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host)) throw new Error(`SIPVicious target ${host} is not a loopback address`);
  return host;
}

/**
 * Runs `tool` with `args`: SIGINT after stopAfterMs (the tools catch it as ^C and still print their
 * results), SIGKILL after timeoutMs. Resolves {tool, cmd, code, signal, killed, interrupted, stdout, stderr}.
 */
function run(tool, args, { timeoutMs, stopAfterMs }) {
  const cmd = command(tool);
  return new Promise((resolve) => {
    const child = spawn(cmd, args, {
      cwd: home, stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, HOME: home, PYTHONUNBUFFERED: "1", PYTHONDONTWRITEBYTECODE: "1" },
    });
    let stdout = "", stderr = "", killed = false, interrupted = false;
    child.stdout.setEncoding("utf8"); child.stderr.setEncoding("utf8");
    child.stdout.on("data", (d) => { stdout += d; });
    child.stderr.on("data", (d) => { stderr += d; });
    const soft = stopAfterMs ? setTimeout(() => { interrupted = true; child.kill("SIGINT"); }, stopAfterMs) : null;
    const hard = setTimeout(() => { killed = true; child.kill("SIGKILL"); }, timeoutMs);
    child.once("exit", (code, signal) => {
      clearTimeout(hard); if (soft) clearTimeout(soft);
      resolve({ tool, cmd: `${cmd} ${args.join(" ")}`, code, signal, killed, interrupted, stdout, stderr });
    });
  });
}

/** Rows of the tool's result table (pptable: "| a | b |" lines), header row first. */
function table(stdout) {
  return stdout.split("\n").filter((l) => /^\|.*\|\s*$/.test(l))
    .map((l) => l.trim().slice(1, -1).split("|").map((c) => c.trim()));
}

/** Python's repr of a str or bytes ('...', "...", b'...') back to text. */
export function unrepr(s) {
  const m = /^b?(['"])([^]*)\1$/.exec(s.trim());
  if (!m) return s;
  return m[2].replace(/\\(x[0-9a-fA-F]{2}|[rnt'"\\])/g, (_, e) =>
    e[0] === "x" ? String.fromCharCode(parseInt(e.slice(1), 16)) : { r: "\r", n: "\n", t: "\t" }[e] ?? e);
}

/** Log records ({level, logger, msg}) of stderr; continuation lines are appended to the record. */
function logRecords(stderr) {
  const out = [];
  for (const line of stderr.split("\n")) {
    const m = /^(DEBUG|INFO|WARNING|ERROR|CRITICAL):([^:]*):(.*)$/.exec(line);
    if (m) out.push({ level: m[1], logger: m[2], msg: m[3] });
    else if (out.length) out[out.length - 1].msg += "\n" + line;
  }
  return out;
}

/** Problems every run can have: a Python exception, a bad option, a kill. */
function crash(r) {
  if (r.killed) return "killed by the harness timeout";
  if (r.code !== 0 && !r.interrupted) return `exit code ${r.code}${r.signal ? ` (${r.signal})` : ""}`;
  if (/Unhandled exception|Traceback \(most recent call last\)/.test(r.stderr)) return "python exception";
  return null;
}

/** A one-line-per-item description of a run for assertion messages. */
export function describe(r) {
  return `${r.tool}: ${r.cmd}\nexit ${r.code}${r.signal ? ` (${r.signal})` : ""}${r.killed ? " KILLED" : ""}${r.interrupted ? " (stopped with SIGINT)" : ""}` +
    `\nstdout:\n${r.stdout.slice(-4000)}\nstderr:\n${r.stderr.slice(-6000)}`;
}

/**
 * svmap: an OPTIONS sweep (or -m METHOD) of `host` over `ports` (a list or an svmap range string).
 * Resolves the run plus {devices: [{device: "ip:port", userAgent}], replies: [text], crashed}.
 */
export async function svmap({ host = "127.0.0.1", ports, method = "OPTIONS", extension, localPort, timeoutMs = 15_000, stopAfterMs } = {}) {
  loopback(host);
  localPort ??= await freeUdpPort();
  const args = ["-vvv", "-b", host, "-x", host, "-P", String(localPort), "-p", Array.isArray(ports) ? ports.join(",") : String(ports), "-m", method];
  if (extension !== undefined) args.push("-e", String(extension));
  args.push(host);
  const r = await run("svmap", args, { timeoutMs, stopAfterMs });
  const rows = table(r.stdout);
  const devices = rows[0]?.[0] === "SIP Device" ? rows.slice(1).map(([device, userAgent]) => ({ device, userAgent })) : [];
  const replies = logRecords(r.stderr).filter((x) => x.logger === "DrinkOrSip" && x.msg.startsWith("data: ")).map((x) => unrepr(x.msg.slice(6)));
  return { ...r, devices, replies, foundNothing: /WARNING:root:found nothing/.test(r.stderr), crashed: crash(r) };
}

/**
 * svwar: extension enumeration of `extensions` (written to a -d dictionary) with `method`
 * (REGISTER, INVITE, OPTIONS); `force` skips its initial check (see the header). Resolves the run plus
 *   found:       [{extension, auth}] from its table ("reqauth", "noauth", "weird"),
 *   foundNothing its own "found nothing",
 *   badUser:     the first line of the reply to the random extension (null if none),
 *   probed:      the extensions it sent a request for,
 *   replies:     every reply it received, in order (svwar --debug), the random extension's first,
 *   outcome:     "scanned" (baseline taken, then probed), "refused: auth for unknown extension",
 *                "no response", or the crash.
 */
export async function svwar({ host = "127.0.0.1", port, extensions, method = "REGISTER", force = false, localPort, maximumTime = 5, timeoutMs = 20_000, stopAfterMs } = {}) {
  loopback(host);
  localPort ??= await freeUdpPort();
  const args = ["-vvv", "--debug", "-x", host, "-P", String(localPort), "-p", String(port), "-m", method,
    "--maximumtime", String(maximumTime), "-d", listFile("extensions", extensions)];
  if (force) args.push("--force");
  args.push(host);
  const r = await run("svwar", args, { timeoutMs, stopAfterMs });
  const log = logRecords(r.stderr);
  const rows = table(r.stdout);
  const found = rows[0]?.[0] === "Extension" ? rows.slice(1).map(([extension, auth]) => ({ extension, auth })) : [];
  const replies = r.stdout.split("\n").filter((l) => /^b['"]/.test(l)).map(unrepr);
  const badUser = /^Bad user = (.*)$/.exec(log.find((x) => x.logger === "TakeASip" && x.level === "DEBUG" && x.msg.startsWith("Bad user = "))?.msg ?? "")?.[1] ?? null;
  const probed = log.filter((x) => x.msg.startsWith("sending request for ")).map((x) => x.msg.slice(20));
  const crashed = crash(r);
  const outcome = crashed ?? (/replied with an authentication request for an unknown extension/.test(r.stderr) ? "refused: auth for unknown extension"
    : /No server response/.test(r.stderr) ? "no response" : badUser !== null ? "scanned" : "no baseline");
  return { ...r, found, foundNothing: /WARNING:root:found nothing/.test(r.stderr), badUser, probed, replies, outcome, crashed };
}

/**
 * svcrack: password guessing for `user` with `passwords` (a -d dictionary, tried in order). Resolves
 * the run plus
 *   found:    [{user, password}] from its table ("[no password]" when no authentication was asked),
 *   tried:    the passwords it sent, in order,
 *   stopped:  why it stopped: "cracked", "unknown response" (e.g. a 503), "user not found",
 *             "no server response", "no response for a while", "dictionary exhausted", then
 *             "interrupted" (stopAfterMs, for no other reason), or the crash,
 *   unknown:  the replies it did not understand (the one that stopped it).
 */
export async function svcrack({ host = "127.0.0.1", port, user, passwords, method = "REGISTER", localPort, maximumTime = 5, timeoutMs = 25_000, stopAfterMs } = {}) {
  loopback(host);
  localPort ??= await freeUdpPort();
  const args = ["-vvv", "-x", host, "-P", String(localPort), "-p", String(port), "-m", method, "-u", user,
    "--maximumtime", String(maximumTime), "-d", listFile("passwords", passwords), host];
  const r = await run("svcrack", args, { timeoutMs, stopAfterMs });
  const log = logRecords(r.stderr).filter((x) => x.logger === "ASipOfRedWine");
  const rows = table(r.stdout);
  const found = rows[0]?.[0] === "Extension" ? rows.slice(1).map(([u, password]) => ({ user: u, password })) : [];
  const tried = log.filter((x) => x.level === "DEBUG" && x.msg.startsWith("trying ")).map((x) => x.msg.slice(7));
  const unknown = [];
  log.forEach((x, i) => { if (x.msg === "We got an unknown response" && log[i + 1]?.level === "DEBUG") unknown.push(unrepr(log[i + 1].msg)); });
  const crashed = crash(r);
  const has = (re) => re.test(r.stderr);
  const stopped = crashed ?? (found.length ? "cracked"
    : has(/We got an unknown response/) ? "unknown response" : has(/User not found/) ? "user not found"
    : has(/no server response/) ? "no server response" : has(/since we last received a response/) ? "no response for a while"
    : has(/no more passwords/) ? "dictionary exhausted" : r.interrupted || has(/caught your control\^c/) ? "interrupted" : "unknown");
  return { ...r, found, foundNothing: has(/WARNING:root:found nothing/), tried, unknown, stopped, crashed };
}
