// Harness for the SIPp integration tests: starts the real server (host/node/cli.mjs, bundled core)
// on fresh loopback ports, collects its JSON log lines, and runs bounded SIPp processes.
import { spawn } from "node:child_process";
import { createSocket } from "node:dgram";
import { createServer } from "node:net";
import { mkdtempSync, writeFileSync, readFileSync, existsSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";

export const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
export const sippDir = join(root, "tests", "sipp");
const cli = join(root, "host", "node", "cli.mjs");

export const workDir = mkdtempSync(join(tmpdir(), "sipling-it-"));
process.on("exit", () => { if (!process.env.SIPLING_IT_KEEP) rmSync(workDir, { recursive: true, force: true }); });

let fileSeq = 0;
/** Writes a scratch file (CSV, config) into the run's temp dir and returns its path. */
export function scratch(name, text) {
  const f = join(workDir, `${++fileSeq}-${name}`);
  writeFileSync(f, text);
  return f;
}

// Ports: a per-process block (so parallel test files/processes do not collide), each candidate
// checked free on both UDP and TCP before use. Blocks of 10 per port leave room for SIPp media.
let nextPort = 20000 + (process.pid % 1500) * 20;
function bindable(port) {
  return new Promise((resolve) => {
    const u = createSocket("udp4");
    u.once("error", () => { u.close(); resolve(false); });
    u.bind(port, "127.0.0.1", () => {
      const t = createServer();
      t.once("error", () => { u.close(); resolve(false); });
      t.listen(port, "127.0.0.1", () => { t.close(() => { u.close(); resolve(true); }); });
    });
  });
}
/** A port free on UDP and TCP (127.0.0.1). */
export async function freePort() {
  for (let i = 0; i < 200; i++) {
    const p = nextPort; nextPort += 10;
    if (nextPort > 60000) nextPort = 20000;
    if (await bindable(p)) return p;
  }
  throw new Error("no free port");
}

/**
 * An even base port for a media relay's range whose first `pairs` port pairs are free on UDP at the
 * time (a random draw from [lo, lo + 2 × span), so parallel test files rarely meet). The default draw,
 * with the 64 ports a test's range spans, stays below Linux's ephemeral ports (32768-60999): a socket
 * that a parallel test binds to port 0 (SIPp, a UA, an outgoing connection) cannot take a relay port
 * between this check and the relay's bind (CI45: a Node relay test's call got 500, a leg not bound).
 */
export async function relayBase({ pairs = 2, lo = 20000, span = 6000 } = {}) {
  for (let i = 0; i < 50; i++) {
    const base = lo + 2 * Math.floor(Math.random() * span);
    const ok = await Promise.all(Array.from({ length: 2 * pairs }, (_, k) => new Promise((res) => {
      const s = createSocket("udp4");
      s.once("error", () => res(false));
      s.bind(base + k, "127.0.0.1", () => s.close(() => res(true)));
    })));
    if (ok.every(Boolean)) return base;
  }
  throw new Error("no free relay port range");
}

/** The hosts the security suites run against: the Node host and the native host (wasm2c). */
export const HOSTS = ["node", "native"];

/** The command line of a host: [executable, ...args before the server's own options]. */
function hostCommand(host, config, exe) {
  if (host === "node") return [process.execPath, cli];
  if (host === "native") {
    const bin = exe ?? join(root, "build", config.board ?? "server", "sipling");
    if (!existsSync(bin)) throw new Error(`${bin} missing (npm run build builds the native host)`);
    return [bin];
  }
  throw new Error(`unknown host ${host} (expected one of ${HOSTS.join(", ")})`);
}

/**
 * Starts the server: the Node host (default) or the native host (`host: "native"`, the binary of
 * config.board; `exe`: another native binary, e.g. one built from an older commit for a before/after
 * figure); `listen`: further listen addresses (e.g. "tls:127.0.0.1:PORT", "ws:127.0.0.1:PORT"). Returns { port, logs, sip(filter), stop(), waitFor(pred) }. `logs` holds every parsed JSON
 * log line; with trace (default on) `sip` lines carry each message.
 */
export async function startServer({ port, config = {}, trace = true, logLevel = "debug", tcp = true, host = "node", exe: nativeExe, listen = [] } = {}) {
  port ??= await freePort();
  const [exe, ...args] = hostCommand(host, config, nativeExe);
  args.push("--listen", `udp:127.0.0.1:${port}`);
  if (tcp) args.push("--listen", `tcp:127.0.0.1:${port}`);
  for (const l of listen) args.push("--listen", l);
  if (Object.keys(config).length) args.push("--config", scratch("config.json", JSON.stringify(config)));
  if (trace) args.push("--trace");
  args.push("--log-level", logLevel);
  const child = spawn(exe, args, {
    cwd: root, env: { ...process.env, SIPLING_NO_BUILD: "1" }, stdio: ["ignore", "pipe", "pipe"],
  });
  const logs = [];
  let stderr = "";
  let buf = "";
  const waiters = new Set();
  child.stdout.setEncoding("utf8");
  child.stdout.on("data", (d) => {
    buf += d;
    let i;
    while ((i = buf.indexOf("\n")) >= 0) {
      const line = buf.slice(0, i); buf = buf.slice(i + 1);
      if (!line.trim()) continue;
      let o;
      try { o = JSON.parse(line); } catch { o = { msg: "unparsed", line }; }
      logs.push(o);
      for (const w of waiters) w();
    }
  });
  child.stderr.setEncoding("utf8");
  child.stderr.on("data", (d) => { stderr += d; });
  const exited = new Promise((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })));

  function waitFor(pred, timeoutMs = 5000, what = "log line") {
    return new Promise((resolve, reject) => {
      let done = false;
      const check = () => {
        const hit = logs.find(pred);
        if (hit) { cleanup(); resolve(hit); return true; }
        return false;
      };
      const timer = setTimeout(() => { cleanup(); reject(new Error(`timeout waiting for ${what}; stderr: ${stderr}`)); }, timeoutMs);
      const onExit = () => { if (done) return; cleanup(); reject(new Error(`server exited while waiting for ${what}; stderr: ${stderr}; logs: ${JSON.stringify(logs.slice(-5))}`)); };
      const cleanup = () => { done = true; clearTimeout(timer); waiters.delete(check); };
      if (check()) return;
      waiters.add(check);
      exited.then(onExit);
    });
  }

  let stopped = false;
  async function stop() {
    if (stopped) return exited;
    stopped = true;
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGTERM");
      const t = setTimeout(() => child.kill("SIGKILL"), 3000);
      await exited;
      clearTimeout(t);
    }
    return exited;
  }

  try {
    await waitFor((o) => o.msg === "running", 10_000, "the server's running line");
  } catch (e) {
    await stop();
    throw e;
  }
  return {
    port, logs, waitFor, stop, child, host,
    get stderr() { return stderr; },
    /** Traced SIP messages: [{dir, peer, sip, first}] optionally filtered by dir and a regexp on the text. */
    sip(dir, re) {
      return logs.filter((o) => o.msg === "sip" && (!dir || o.dir === dir) && (!re || re.test(o.sip)))
        .map((o) => ({ dir: o.dir, peer: o.peer, sip: o.sip, first: o.sip.split("\r\n")[0] }));
    },
    events(name) { return logs.filter((o) => o.msg === name || o.event === name); },
    /** A compact trace for assertion messages: "in  udp:... INVITE sip:..." per message. */
    summary() {
      return logs.map((o) => o.msg === "sip"
        ? `${o.dir === "in" ? "<-" : "->"} ${o.peer} ${o.sip.split("\r\n")[0]}`
        : `   ${o.msg} ${JSON.stringify(Object.fromEntries(Object.entries(o).filter(([k]) => k !== "t" && k !== "msg" && k !== "level")))}`).join("\n");
    },
  };
}

/**
 * Waits until every line the server logged so far has reached us: the log is one ordered stream, so
 * once the stats line asked for now (SIGUSR2) arrives, everything logged before it has too. (A SIPp
 * run can end before the server's trace of its last message is read from the pipe.)
 */
export async function settle(srv) {
  const mark = srv.logs.length;
  srv.child.kill("SIGUSR2");
  await srv.waitFor((o) => o.msg === "stats" && srv.logs.indexOf(o) >= mark, 5000, "the stats line (log barrier)");
}

/**
 * Runs SIPp bounded by -m/-timeout (the caller's args) and a hard kill timer. Adds -i `ip` (127.0.0.1;
 * another loopback address for a second source), -nostdin, -trace_err with a per-run error file and,
 * unless `traceMessages` is false (a flood), -trace_msg. Resolves {name, code, stdout, stderr, errors,
 * messages, cmd, stats}.
 */
export function sipp(args, { timeoutMs = 15_000, name = "sipp", ip = "127.0.0.1", traceMessages = true } = {}) {
  const errFile = scratch(`${name}-err.log`, "");
  const msgFile = scratch(`${name}-msg.log`, "");
  const all = [...args, "-i", ip, "-nostdin", "-trace_err", "-error_file", errFile,
    ...(traceMessages ? ["-trace_msg", "-message_file", msgFile] : []), "-buff_size", "1048576"];
  let child;
  const p = new Promise((resolve) => {
    child = spawn("sipp", all, { cwd: workDir, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "", stderr = "";
    child.stdout.setEncoding("utf8"); child.stderr.setEncoding("utf8");
    child.stdout.on("data", (d) => { stdout += d; if (stdout.length > 200_000) stdout = stdout.slice(-100_000); });
    child.stderr.on("data", (d) => { stderr += d; });
    let killed = false;
    const hard = setTimeout(() => { killed = true; child.kill("SIGKILL"); }, timeoutMs);
    child.once("exit", (code, signal) => {
      clearTimeout(hard);
      const errors = existsSync(errFile) ? readFileSync(errFile, "utf8") : "";
      const messages = existsSync(msgFile) ? readFileSync(msgFile, "utf8") : "";
      resolve({ name, code, signal, killed, stdout, stderr, errors, messages, cmd: `sipp ${all.join(" ")}`,
        /** Successful/failed call counts from the final statistics screen. */
        stats: {
          ok: +(/Successful call\s*\|\s*\d+\s*\|\s*(\d+)/.exec(stdout)?.[1] ?? NaN),
          failed: +(/Failed call\s*\|\s*\d+\s*\|\s*(\d+)/.exec(stdout)?.[1] ?? NaN),
        },
      });
    });
  });
  /** Stops this SIPp early (SIGTERM to its own pid). */
  p.kill = () => { if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM"); };
  return p;
}

/** A one-line-per-issue description of a SIPp run for assertion messages. */
export function describe(r) {
  const screen = r.stdout.split("------------------------------ Scenario Screen").pop()?.split("----------------------------- Statistics Screen")[0] ?? "";
  return `${r.name}: ${r.cmd}\nexit ${r.code}${r.signal ? ` (${r.signal})` : ""}${r.killed ? " KILLED by harness timeout" : ""}\n` +
    `errors:\n${r.errors.slice(0, 3000)}\nstderr:\n${r.stderr.slice(0, 1500)}\nscreen:${screen.slice(0, 3000)}`;
}

export const sf = (name) => join(sippDir, name);

/** Runs `fn(srv)` against a fresh server, always stopping it; on failure appends the trace summary. */
export async function withServer(opts, fn) {
  const srv = await startServer(opts);
  try {
    await fn(srv);
  } catch (e) {
    if (e && typeof e === "object") {
      e.message += `\n--- server log (port ${srv.port}) ---\n${srv.summary().slice(-6000)}`;
      if (typeof e.stack === "string") e.stack = e.message + "\n" + e.stack.split("\n").filter((l) => /^\s+at /.test(l)).join("\n");
    }
    throw e;
  } finally {
    await srv.stop();
  }
}
