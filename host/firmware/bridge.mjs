#!/usr/bin/env node
// Bridge between UDP sockets on this machine and the sipling firmware running in QEMU (-M mps2-an386).
//   node host/firmware/bridge.mjs [--config FILE] [--listen udp:HOST:PORT]... [--domain NAME]...
//                                 [--log-level L] [--trace] [--elf FILE] [--qemu FILE]
//                                 [--config-line LINE]... [--print-config]
// The configuration is the one of every host (host/shared/config.json, checked by the shared walker
// host/shared/config.mjs over the generated host/firmware/abi.mjs): keys the bridge does not implement
// are refused, the secure default applies, and the core keys go to the firmware in its 'C' frame as
// "set KEY VALUE" / "add KIND HEX" lines (host/firmware/main.c); a line the core refuses is a
// configuration error naming its key (exit 2).
// QEMU's UART0 is this process's pipe (-serial stdio); both directions carry SLIP frames whose first
// byte is the kind (host/firmware/main.c lists them). Every datagram received on a listen socket goes
// to the firmware as a 'D' frame (32-byte peer record of docs/ABI.md + the bytes); every 'D' frame from
// the firmware is sent from the socket of its transport id to the peer of its TX meta record.
// The firmware's events and logs are printed as JSON lines like the Node host's; {"msg":"running"}
// once the firmware has applied the configuration. Commands on stdin (one a line): "stats" prints the
// core's counters and the firmware's stack high-water mark; "trap" makes the firmware raise a wasm
// trap (it reports it and restarts its core). SIGINT/SIGTERM stop QEMU and exit.
// This board has no TCP (the firmware has no stream transport): a tcp listen is refused.
// A 'D' frame to a host name (peer family 0) is resolved by host/shared/resolver.mjs (dns.servers,
// dns.timeout; never blocking, bounded and cached as on the Node host). The bridge cannot tell which
// input a transmit follows (the firmware runs apart, under QEMU), so all its lookups count as one
// source: at most limits.dnsPerSource of them are in flight.
import dgram from "node:dgram";
import { spawn } from "node:child_process";
import { existsSync, statSync } from "node:fs";
import { lineWriter } from "../shared/logstream.mjs";
import { randomBytes } from "node:crypto";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { createInterface } from "node:readline";
import { EVENTS, STAT_NAMES, SCHEMA, LIMITS, VERSION, Proto } from "./abi.mjs";
import { ConfigError, load, usage, printable, checkSecureDefault, coreOps, explain, wrap } from "../shared/config.mjs";
import { Resolver, RESOLVER_STATS } from "../shared/resolver.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
/** The firmware's counters after the core's (host/firmware/main.c stats_step). */
const FW_STATS = ["stackBytesUsed", "traps", "framesDropped", "uptimeMs", "callDepthMax"];
/** The firmware's 'C' frame holds at most this many bytes (host/firmware/main.c CONFIG_CAP). */
const CONFIG_CAP = 1024;
/** The core build the firmware runs (boards/mps2-an386: the micro core). */
const CORE_BOARD = "micro";
const LEVELS = ["error", "warn", "info", "debug"];

export const SPEC = {
  schema: SCHEMA, host: "firmware", name: "node host/firmware/bridge.mjs",
  // the schema's default listens on UDP and TCP; this board has UDP only
  defaults: { listen: ["udp:127.0.0.1:5060"] },
  extraFlags: {
    "--elf": { value: true, meta: "FILE", doc: "firmware image (default build/mps2-an386/sipling.elf, built when stale)" },
    "--qemu": { value: true, meta: "FILE", doc: "qemu-system-arm to run (default: from PATH)" },
    "--config-line": { value: true, repeat: true, meta: "LINE", doc: "a raw firmware configuration line after the configuration's, e.g. \"set 1 250\" (debugging)" },
  },
};

const USAGE = usage(SPEC, {
  head: "sipling firmware bridge - UDP sockets here, the sipling firmware (micro core, Cortex-M4) under QEMU",
  tail: wrap(`Logs are JSON lines on stdout; the firmware's events with the Node host's fields. Commands on stdin:
"stats" (the core's counters: ${STAT_NAMES.join(", ")}; then ${FW_STATS.join(", ")};
then the resolver's: ${RESOLVER_STATS.join(", ")}; then logDropped, uartDropped), "trap", "stop".
SIGINT/SIGTERM stop QEMU and exit. Exit status: 0 ok, 1 runtime error, 2 usage/configuration error
(also a configuration the firmware refuses).`, 0, 100),
});

// ---- JSON lines ------------------------------------------------------------------------------------
// Never blocking, never growing (issue 18): host/shared/logstream.mjs, at most LIMITS.logQueueBytes
// waiting in front of a stdout nobody reads; the stats line carries logDropped.
let rank = 2;
const logOut = lineWriter({
  maxQueue: LIMITS.logQueueBytes,
  notice: (count) => JSON.stringify({ t: new Date().toISOString(), level: "warn", msg: "log lines dropped", count }) + "\n",
});
function line(level, msg, fields) {
  if (LEVELS.indexOf(level) > rank) return;
  logOut.write(JSON.stringify({ t: new Date().toISOString(), level, msg, ...fields }) + "\n");
}
function fail(msg, fields) {
  line("error", msg, fields);
  process.exitCode = 2;
  return new Error(msg);
}

/**
 * The firmware's configuration lines: one transport per listener, then every core key of the
 * configuration (host/shared/config.mjs coreOps: realm before users, a random nonce secret when none
 * is given), then the raw --config-line extras. `ops[i]` is the op of line i + 1 (undefined for
 * transports and extras).
 */
export function firmwareConfig(cfg, listens, extra) {
  const lines = listens.map((l) => `transport udp ${l.family === 6 ? `[${l.host}]` : l.host}:${l.port}`);
  const ops = lines.map(() => undefined);
  for (const op of coreOps(cfg, randomBytes)) {
    lines.push(op.op === "set" ? `set ${op.id} ${op.value}` : `add ${op.id} ${op.bytes.toString("hex")}`);
    ops.push(op);
  }
  for (const x of extra) {
    lines.push(x);
    ops.push(undefined);
  }
  return { text: lines.join("\n") + "\n", lines, ops };
}

// ---- SLIP -----------------------------------------------------------------------------------------------
const END = 0xc0, ESC = 0xdb, ESC_END = 0xdc, ESC_ESC = 0xdd;
export function slipEncode(...parts) {
  let n = 2;
  for (const p of parts) for (const c of p) n += c === END || c === ESC ? 2 : 1;
  const out = Buffer.allocUnsafe(n);
  let o = 0;
  out[o++] = END;
  for (const p of parts)
    for (const c of p) {
      if (c === END) { out[o++] = ESC; out[o++] = ESC_END; }
      else if (c === ESC) { out[o++] = ESC; out[o++] = ESC_ESC; }
      else out[o++] = c;
    }
  out[o++] = END;
  return out;
}
export class SlipDecoder {
  constructor(onFrame) { this.onFrame = onFrame; this.buf = Buffer.alloc(8192); this.len = 0; this.esc = false; }
  push(chunk) {
    for (const c0 of chunk) {
      let c = c0;
      if (c === END) {
        if (this.len) this.onFrame(Buffer.from(this.buf.subarray(0, this.len)));
        this.len = 0; this.esc = false;
        continue;
      }
      if (c === ESC) { this.esc = true; continue; }
      if (this.esc) { c = c === ESC_END ? END : c === ESC_ESC ? ESC : c; this.esc = false; }
      if (this.len === this.buf.length) { const b = Buffer.alloc(this.buf.length * 2); this.buf.copy(b); this.buf = b; }
      this.buf[this.len++] = c;
    }
  }
}

// ---- peer records --------------------------------------------------------------------------------------
function peerRecord(transport, rinfo) {
  const p = Buffer.alloc(32);
  p[4] = transport;
  if (rinfo.family === "IPv6" || rinfo.family === 6) {
    // an IPv4-mapped address on a v6 socket is still an IPv6 peer for the core
    p[5] = 6;
    ip6Bytes(rinfo.address).copy(p, 8);
  } else {
    p[5] = 4;
    rinfo.address.split(".").forEach((x, i) => (p[8 + i] = Number(x)));
  }
  p.writeUInt16LE(rinfo.port, 6);
  return p;
}
function ip6Bytes(addr) {
  const out = Buffer.alloc(16);
  let a = addr.split("%")[0];
  if (a.includes(".")) { // ::ffff:1.2.3.4
    const i = a.lastIndexOf(":");
    const v4 = a.slice(i + 1).split(".").map(Number);
    a = `${a.slice(0, i)}:${((v4[0] << 8) | v4[1]).toString(16)}:${((v4[2] << 8) | v4[3]).toString(16)}`;
  }
  const [head, tail] = a.includes("::") ? a.split("::") : [a, null];
  const h = head ? head.split(":") : [];
  const t = tail ? tail.split(":") : [];
  const groups = tail === null ? h : [...h, ...Array(8 - h.length - t.length).fill("0"), ...t];
  groups.forEach((g, i) => out.writeUInt16BE(parseInt(g || "0", 16), i * 2));
  return out;
}
function ip6Text(b, off) {
  const g = [];
  for (let i = 0; i < 8; i++) g.push(b.readUInt16BE(off + 2 * i).toString(16));
  return g.join(":").replace(/(^|:)0(:0)+(:|$)/, "::").replace(/:::+/, "::");
}
function peerText(fam, addr, port) { return fam === 6 ? `udp:[${addr}]:${port}` : `udp:${addr}:${port}`; }

// ---- the bridge ----------------------------------------------------------------------------------------
export async function main(argv) {
  let args, cfg;
  try {
    ({ args, cfg } = load(argv, SPEC));
    if (cfg && !args.printConfig) checkSecureDefault(cfg);
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    process.stderr.write(`${e.message}\n`);
    process.exitCode = 2;
    return;
  }
  if (args.help) { process.stdout.write(USAGE); return; }
  if (args.version) {
    const core = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "build", "micro", "sipling.wasm");
    const size = existsSync(core) ? `${statSync(core).size} bytes wasm` : "not built";
    process.stdout.write(`sipling ${VERSION} (firmware bridge: Cortex-M4 firmware in QEMU mps2-an386)\ncore micro ${size} (compiled into the firmware by wasm2c)\n`);
    return;
  }
  if (args.printConfig) { process.stdout.write(JSON.stringify(printable(cfg), null, 2) + "\n"); return; }
  rank = LEVELS.indexOf(cfg.values.get("logLevel"));
  const o = {
    listens: cfg.listens.map((l) => ({ ...l })), domains: cfg.values.get("domains"), trace: cfg.values.get("trace"),
    elf: args.extra["--elf"] ?? null, qemu: args.extra["--qemu"] ?? "qemu-system-arm", extra: args.extra["--config-line"] ?? [],
  };
  for (const l of o.listens) {
    if (l.family === 0) l.family = 4; // "localhost": the loopback address
    if (l.host === "localhost") l.host = "127.0.0.1";
  }

  let elf = o.elf;
  if (!elf) {
    const fw = await import(join(root, "tools", "firmware.mjs"));
    try {
      if (fw.stale()) fw.buildFirmware({ quiet: true });
    } catch (e) {
      throw fail("firmware build failed", { error: e.message });
    }
    elf = fw.elfPath;
  }
  if (!existsSync(elf)) throw fail("firmware image missing", { elf });

  // sockets first: port 0 is resolved before the configuration is written
  const socks = [];
  for (const l of o.listens) {
    const s = dgram.createSocket({ type: l.family === 6 ? "udp6" : "udp4", ipv6Only: l.family === 6, recvBufferSize: 1 << 20 });
    await new Promise((res, rej) => { s.once("error", rej); s.bind(l.port, l.host, () => { s.off("error", rej); res(); }); })
      .catch((e) => { throw fail("cannot listen", { listen: l.spec, error: e.message }); });
    l.port = s.address().port;
    socks.push(s);
  }
  const listenText = o.listens.map((l) => `udp:${l.family === 6 ? `[${l.host}]` : l.host}:${l.port}`);
  const fwc = firmwareConfig(cfg, o.listens, o.extra);
  const config = fwc.text;
  if (Buffer.byteLength(config) > CONFIG_CAP) {
    for (const s of socks) s.close();
    process.stderr.write(`config error: the configuration takes ${Buffer.byteLength(config)} bytes of firmware configuration lines, ` +
      `more than the firmware's ${CONFIG_CAP} (fewer users, lists or patterns)\n`);
    process.exitCode = 2;
    return;
  }

  const qemuArgs = ["-M", "mps2-an386", "-nodefaults", "-display", "none", "-monitor", "none", "-nic", "none",
    "-serial", "stdio", "-kernel", elf];
  const qemu = spawn(o.qemu, qemuArgs, { stdio: ["pipe", "pipe", "pipe"] });
  let stopping = false, running = false;
  const stop = (code) => {
    if (stopping) return;
    stopping = true;
    resolver.close();
    for (const s of socks) { try { s.close(); } catch { /* closed */ } }
    if (qemu.exitCode === null && qemu.pid) { try { process.kill(qemu.pid, "SIGTERM"); } catch { /* gone */ } }
    const hard = setTimeout(() => { try { process.kill(qemu.pid, "SIGKILL"); } catch { /* gone */ } }, 2000);
    hard.unref();
    process.exitCode = code;
    line("info", "stopped", { code });
    process.stdin.destroy(); // the command reader would keep the process alive
  };
  process.on("SIGINT", () => stop(0));
  process.on("SIGTERM", () => stop(0));
  process.on("exit", () => { if (qemu.exitCode === null && qemu.pid) { try { process.kill(qemu.pid, "SIGKILL"); } catch { /* gone */ } } });
  qemu.on("error", (e) => { line("error", "cannot start qemu", { qemu: o.qemu, error: e.message }); stop(2); });
  qemu.on("exit", (code, sig) => {
    if (!stopping) { line("error", "qemu exited", { code, signal: sig }); stop(1); }
  });
  qemu.stdin.on("error", () => {});
  createInterface({ input: qemu.stderr }).on("line", (l) => {
    if (!/has no peer/.test(l)) line("warn", "qemu", { text: l });
  });
  const resolver = new Resolver({
    servers: cfg.values.get("dns.servers"), timeoutMs: cfg.values.get("dns.timeout"), limits: LIMITS,
    log: (level, msg, fields) => line(level, msg, fields),
  });
  const toFirmware = (...parts) => { if (!stopping) qemu.stdin.write(slipEncode(...parts)); };
  // datagrams wait for the UART at most LIMITS.bridgeUartBytes; beyond, dropped and counted (a flood
  // must not grow the bridge's memory: the UART carries ~10 KB/s)
  let uartDropped = 0;

  for (let i = 0; i < socks.length; i++) {
    const tid = i + 1;
    socks[i].on("message", (msg, rinfo) => {
      if (o.trace) line("debug", "sip", { dir: "in", peer: peerText(rinfo.family === "IPv6" ? 6 : 4, rinfo.address, rinfo.port), sip: msg.toString("latin1") });
      if (qemu.stdin.writableLength + msg.length > LIMITS.bridgeUartBytes) {
        uartDropped++;
        return;
      }
      toFirmware(Buffer.from("D"), peerRecord(tid, rinfo), msg);
    });
    socks[i].on("error", (e) => line("warn", "socket error", { listen: listenText[i], error: e.message }));
  }

  const send = (tid, fam, addr, port, payload) => {
    const s = socks[tid - 1];
    if (!s) { line("warn", "datagram for an unknown transport", { transport: tid }); return; }
    if (o.trace) line("debug", "sip", { dir: "out", peer: peerText(fam, addr, port), sip: payload.toString("latin1") });
    s.send(payload, port, addr, (e) => { if (e) line("warn", "send failed", { peer: peerText(fam, addr, port), error: e.message }); });
  };

  const onFrame = (f) => {
    const kind = String.fromCharCode(f[0]);
    const body = f.subarray(1);
    switch (kind) {
      case "B":
        line("info", "firmware booted", { firmware: body.toString("latin1"), qemuPid: qemu.pid });
        toFirmware(Buffer.from("C"), Buffer.from(config, "utf8"));
        break;
      case "R": {
        const text = body.toString("latin1");
        if (!text.startsWith("ok")) {
          // the first refused line, named by its key (never echoed: it may hold a secret)
          const m = /line=(\d+) result=(-?\d+)/.exec(text);
          const at = m ? Number(m[1]) - 1 : -1;
          const op = fwc.ops[at];
          const err = op ? explain(op, Number(m[2]), CORE_BOARD) : null;
          const what = err ? err.message
            : at >= 0 && at < fwc.lines.length && !fwc.lines[at].startsWith("add ")
              ? `config error: the firmware refused line ${at + 1} ${JSON.stringify(fwc.lines[at])} (${m[2]})`
              : `config error: the firmware refused its configuration (${text})`;
          process.stderr.write(`${what}\n`);
          line("error", "firmware rejected its configuration", { status: text });
          stop(2);
          break;
        }
        if (!running) {
          running = true;
          line("info", "running", { board: "mps2-an386", listen: listenText, domains: o.domains, status: text, pid: process.pid, qemuPid: qemu.pid });
        } else line("warn", "firmware restarted", { status: text });
        break;
      }
      case "D": {
        if (body.length < 32) break;
        const tid = body[4], fam = body[5], port = body.readUInt16LE(6);
        let payload = body.subarray(32);
        if (fam === 4) send(tid, 4, `${body[8]}.${body[9]}.${body[10]}.${body[11]}`, port, payload);
        else if (fam === 6) send(tid, 6, ip6Text(body, 8), port, payload);
        else if (fam === 0) {
          const n = Math.min(body.readUInt32LE(24), 64);
          const name = payload.subarray(0, n).toString("latin1");
          payload = Buffer.from(payload.subarray(n));
          const want = socks[tid - 1]?.type === "udp6" ? 6 : 4;
          // port 0: no port in the URI, RFC 3263 for UDP (the bridge's only transport) finds one
          resolver.send(name, want, payload.length, (family, addr, _later, found) => send(tid, family, addr, port || found, payload), port ? 0 : Proto.UDP, body.readUInt32LE(28));
        }
        break;
      }
      case "E": event(body); break;
      case "L": {
        const text = body.toString("latin1");
        line(/^(trap|fatal)/.test(text) ? "error" : "warn", "firmware", { text });
        break;
      }
      case "S": {
        const st = {};
        const names = [...STAT_NAMES, ...FW_STATS];
        for (let i = 0; i * 4 + 4 <= body.length && i < names.length; i++) st[names[i]] = body.readUInt32LE(i * 4);
        line("info", "stats", { ...st, ...resolver.stats(), logDropped: logOut.dropped, uartDropped });
        break;
      }
      default: line("warn", "unknown frame from the firmware", { kind: f[0] });
    }
  };
  const event = (e) => {
    if (e.length < 64) return;
    const kind = e.readUInt32LE(0);
    const info = EVENTS[kind];
    const name = info?.name ?? `event-${kind}`;
    const fields = { event: name, code: e.readInt32LE(4) };
    const fam = e[24 + 5];
    if (fam === 4) fields.source = peerText(4, `${e[32]}.${e[33]}.${e[34]}.${e[35]}`, e.readUInt16LE(30));
    else if (fam === 6) fields.source = peerText(6, ip6Text(e, 32), e.readUInt16LE(30));
    const labels = info?.texts ?? ["text1", "text2", "text3", "text4"];
    let at = 64;
    for (let i = 0; i < 4; i++) {
      const len = e.readUInt16LE(56 + 2 * i);
      if (len) fields[labels[i]] = e.toString("utf8", at, Math.min(at + len, e.length));
      at += len;
    }
    const value = e.readUInt32LE(16);
    if (info?.valueField) fields[info.valueField] = value;
    else if (value) fields.value = value;
    const lost = e.readUInt32LE(20);
    if (lost) fields.lost = lost;
    fields.coreTime = e.readDoubleLE(8);
    line(info?.level ?? "warn", name, fields);
  };
  const dec = new SlipDecoder(onFrame);
  qemu.stdout.on("data", (chunk) => dec.push(chunk));

  if (!process.stdin.isTTY) {
    createInterface({ input: process.stdin }).on("line", (l) => {
      const c = l.trim();
      if (c === "stats") toFirmware(Buffer.from("S"));
      else if (c === "trap") toFirmware(Buffer.from("X"));
      else if (c === "stop") stop(0);
      else if (c) line("warn", "unknown command", { command: c });
    });
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main(process.argv.slice(2)).catch((e) => {
    if (!process.exitCode) { line("error", "bridge failed", { error: e.message }); process.exitCode = 2; }
    process.exit();
  });
}
