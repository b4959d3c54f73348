// The Node host loop around one core instance (docs/ABI.md, "Call order"):
//
//   datagram      -> copy into RX, peer record -> sip_handle_datagram(now, len)
//   stream bytes  -> pending bytes into RX, peer (with conn) -> sip_handle_stream, drop consumed, repeat
//   closed conn   -> sip_handle_conn_closed(now, conn)
//   timer         -> sip_handle_timeout(now)
//   after each    -> drain sip_poll_transmit (send), sip_poll_timeout (one timer), sip_poll_event (log)
//
//   ws message    -> copy into RX, peer (with conn) -> sip_handle_datagram(now, len) (host/node/ws.ts)
//
// Per packet the host allocates only what dgram/net force: the Buffer handed to send/write (the
// core's TX buffer is reused by the next call, so its bytes are copied out first). Peer records for
// TCP connections are prebuilt per connection; IPv4 address strings are cached.
import dgram from "node:dgram";
import net from "node:net";
import type tls from "node:tls";
import dns from "node:dns";
import os from "node:os";
import { randomBytes } from "node:crypto";
import { performance } from "node:perf_hooks";
import { Core, CoreError, PEER, EVENT, Proto, CfgKey, EVENTS, prefaultHeap, type Exports } from "./abi.js";
import { CFG_KIND_SECRET, LIMITS, CfgKind, CfgResult, PROTO_NAMES, Layout } from "./numbers.js";
import { writeAddr, format4, format6, peerText, numericLookup } from "./addr.js";
import { ConfigError, type Config, type Listen } from "./config.js";
import { autoTransport, coreOps, explain, parseIpPort, relayInterfaces, trunkName } from "../shared/config.mjs";
import { MetricsServer, exposition } from "./metrics.js";
import type { Logger } from "./log.js";
import { decodeEvent, eventFields, type UsageLog, type EventRecord } from "./usage.js";
import { Relay } from "./relay.js";
import { OverloadControl } from "./overload.js";
import { Resolver, RESOLVE_ALL } from "../shared/resolver.mjs";
import { Bindings, SharedLocation, escapeAor } from "./location.js";
import { managementApi, TrunkStates } from "./manage.js";
import { EventKind } from "./numbers.js";
import { loadTls, tlsServer, tlsConnect, reasonOf, refusal, type TlsContext } from "./tls.js";
import { bindWs, remoteOf, WsLink, type WsListener } from "./ws.js";
import type { WebSocket } from "ws";

const UDP_RCVBUF = 4 * 1024 * 1024;
const UDP_SNDBUF = 4 * 1024 * 1024;
const TCP_MAX_BACKLOG = LIMITS.tcpBacklogBytes; // bytes queued for one connection before it is closed
const TCP_MAX_CONNS = LIMITS.tcpConnections; // connections at once; beyond, the quietest is closed
const TCP_PARTIAL_MS = LIMITS.tcpPartialSeconds * 1000; // part of a message held this long: closed
const TCP_SWEEP_MS = 1000;
const WS_INITIAL_MAX_MESSAGE = 65535; // until the core starts and gives its RX size (Transport.ws.setMaxMessage)
const MAX_TRANSMITS_PER_CALL = 1_000_000; // guards the drain loop against a core that never says 0

interface Transport {
  id: number;
  listen: Listen;
  proto: "udp" | "tcp" | "tls" | "ws" | "wss";
  family: 4 | 6; // of the bound socket
  bindHost: string; // numeric
  port: number; // bound port
  advertised: string; // host:port, IPv6 bracketed
  udp?: dgram.Socket;
  server?: net.Server; // a tls.Server for tls
  ws?: WsListener;
}

/** What a connection sends on and closes: a TCP socket, or a WebSocket (host/node/ws.ts). */
interface Link {
  write(buf: Buffer): unknown;
  destroy(): unknown;
  readonly writableLength: number;
}

class Conn {
  /** part of a message not yet consumed (grown as needed, at most the core's RX size) */
  pending: Buffer | null = null;
  pendLen = 0;
  /** when pending last became non-empty (performance.now()), for LIMITS.tcpPartialSeconds */
  partialSince = 0;
  /** last bytes received or sent (performance.now()): the quietest is closed when the table is full */
  active = performance.now();
  closed = false;
  /** TLS: the handshake completed (accepted connections are handed over only then) */
  secured = false;
  /** TCP connected (outgoing; accepted ones are): a TLS error before it is a connect failure, not a handshake's */
  connected = false;
  /** 32-byte peer record, written into the core's peer slot before each sip_handle_stream. */
  readonly peer = Buffer.alloc(PEER.size);
  constructor(
    readonly id: number,
    readonly sock: Link,
    readonly t: Transport,
    readonly family: number,
    readonly addr: string, // numeric, IPv4-mapped reported as IPv4
    readonly port: number,
    readonly key: string,
    readonly outgoing: boolean,
  ) {}
}


/** How long a stop waits for the answers to our de-registrations (Host.deregister): CLI and library. */
export const DEREGISTER_GRACE_MS = 2000;

export class Host {
  core: Core | null = null;
  private ex!: Exports;
  private readonly transports: (Transport | undefined)[] = [];
  private readonly conns = new Map<number, Conn>();
  private readonly byRemote = new Map<string, Conn>();
  private readonly closedQueue: number[] = [];
  /** Names the core sends to (host/shared/resolver.mjs: asynchronous, bounded, cached). */
  private readonly resolver: Resolver;
  private nextConn = 0;
  /** the tls.* files, read once when the first tls listener or outgoing TLS connection needs them */
  private tlsCtx: TlsContext | null = null;
  private sweeper: NodeJS.Timeout | null = null;
  private trunkWatch: NodeJS.Timeout | null = null;
  /** The addresses last given to the core for each trunk found by name, "SIDE|FAMILY" -> "A B" */
  private trunkAddrs = new Map<string, string>();
  /** The transport given to the core for each trunk side whose transport is chosen by RFC 3263 (watchTrunks). */
  private trunkProtos = new Map<number, "udp" | "tcp" | "tls">();
  /** The core holds the proxy's requests to names until we give their transport (askTransports). */
  private nameTransport = false;
  /** host counters joined to the stats line */
  private readonly hostStats = { tcpEvicted: 0, tcpPartialClosed: 0, tcpBacklogClosed: 0 };
  private timer: NodeJS.Timeout | null = null;
  private armedAt = -1;
  private readonly trace: boolean;
  private stopping = false;
  private overload: OverloadControl | null = null;
  /** the media relay's forwarding, when the configuration names relay addresses and the core has the relay */
  private relay: Relay | null = null;
  private relayPtr = 0;
  private readonly scratch = Buffer.alloc(16);
  /** events drained, by kind (sipling_events_total) */
  private readonly eventCounts = new Float64Array(EVENTS.length);
  /** the Prometheus endpoint ("metrics.listen") */
  private metrics: MetricsServer | null = null;
  /** the core's bindings as lines (sip_loc), the shared location service ("location.redis") */
  private bindings: Bindings | null = null;
  private location: SharedLocation | null = null;
  /** the last state of the trunks and registrations of ours (the management API's /status) */
  private readonly trunkStates = new TrunkStates();
  /** Called with every event the core reports (the library API's listener), before logging. */
  onEvent: ((ev: EventRecord) => void) | null = null;
  /** Date.now() - performance.now(), fixed at start: maps the core's `now` (event time) to wall time. */
  private readonly wallOffset = Date.now() - performance.now();
  readonly wall = (t: number) => this.wallOffset + t;
  private readonly protoOf = (tid: number) => this.transports[tid]?.proto ?? `transport${tid}`;
  private readonly onTimer = () => {
    this.timer = null;
    this.armedAt = -1;
    if (!this.core) return;
    const now = performance.now();
    this.ex.sip_handle_timeout(now);
    this.after(now);
  };

  constructor(
    private readonly cfg: Config,
    private readonly listens: Listen[],
    private readonly log: Logger,
    private readonly usage: UsageLog | null = null,
  ) {
    this.trace = cfg.trace;
    try {
      this.resolver = new Resolver({
        servers: cfg.dnsServers, timeoutMs: cfg.dnsTimeout, limits: LIMITS,
        log: (level: "warn" | "debug", msg: string, fields: object) => {
          if (this.log.on(level)) this.log.line(level, msg, fields);
        },
      });
    } catch (e) {
      // the schema's check (parseDnsServer) accepts only what setServers takes: never expected
      throw new ConfigError("dns.servers", (e as Error).message);
    }
  }

  // ---- start-up ---------------------------------------------------------------------------

  /** Binds every listener (in order; transport ids 1..n) and logs one line per listener. */
  async bind(): Promise<void> {
    let id = 0;
    for (const l of this.listens) {
      id++;
      if (id > 255) throw new ConfigError("listen", "at most 255 listen addresses");
      let host = l.host;
      let family = l.family;
      if (family === 0) {
        try {
          const r = await dns.promises.lookup(host);
          host = r.address;
          family = r.family as 4 | 6;
        } catch (e) {
          throw new StartError(`cannot listen on ${l.spec}: cannot resolve ${host} (${(e as NodeJS.ErrnoException).code})`);
        }
      }
      const t: Transport = {
        id, listen: l, proto: l.proto, family: family as 4 | 6, bindHost: host, port: l.port, advertised: "",
      };
      try {
        if (l.proto === "udp") await this.bindUdp(t);
        else if (l.proto === "tcp" || l.proto === "tls") await this.bindTcp(t);
        else await this.bindWs(t);
      } catch (e) {
        if (e instanceof ConfigError) throw e;
        throw new StartError(`cannot listen on ${l.spec}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
      }
      t.advertised = advertise(t);
      this.transports[id] = t;
      this.log.info("listening", {
        listen: peerText(t.proto, t.family, t.bindHost, t.port), transport: id, advertised: t.advertised,
      });
    }
  }

  private bindUdp(t: Transport): Promise<void> {
    const sock = dgram.createSocket({ type: t.family === 6 ? "udp6" : "udp4", lookup: numericLookup as never });
    t.udp = sock;
    return new Promise((resolve, reject) => {
      sock.once("error", reject);
      sock.bind({ address: t.bindHost, port: t.port, exclusive: true }, () => {
        sock.off("error", reject);
        sock.on("error", (e) => this.log.warn("udp socket error", { transport: t.id, error: e.message }));
        try {
          sock.setRecvBufferSize(UDP_RCVBUF);
        } catch {
          /* capped or refused: keep the default */
        }
        try {
          sock.setSendBufferSize(UDP_SNDBUF);
        } catch {
          /* idem */
        }
        if (this.log.on("debug"))
          this.log.debug("udp buffers", { transport: t.id, recv: sock.getRecvBufferSize(), send: sock.getSendBufferSize() });
        t.port = sock.address().port;
        sock.on("message", (msg, rinfo) => this.onDatagram(t, msg, rinfo));
        resolve();
      });
    });
  }

  /** The tls.* files (a ConfigError naming the key and the file when one is unreadable or invalid). */
  private tls(): TlsContext {
    return (this.tlsCtx ??= loadTls(this.cfg.tls));
  }

  private bindTcp(t: Transport): Promise<void> {
    const server = t.proto === "tls"
      ? tlsServer(this.tls(), (sock) => {
        sock.setNoDelay(true);
        this.onAccept(t, sock);
      }, (addr, port, reason) => this.log.warn("tls handshake failed", { transport: t.id, peer: this.peerOf("tls", addr, port), reason }))
      : net.createServer({ noDelay: true }, (sock) => this.onAccept(t, sock));
    t.server = server;
    return new Promise((resolve, reject) => {
      server.once("error", reject);
      server.listen({ host: t.bindHost, port: t.port, exclusive: true }, () => {
        server.off("error", reject);
        server.on("error", (e) => this.log.error(`${t.proto} server error`, { transport: t.id, error: e.message }));
        t.port = (server.address() as net.AddressInfo).port;
        resolve();
      });
    });
  }

  /** A ws: or wss: listener (RFC 7118, host/node/ws.ts); a message larger than the core's RX closes it (1009). */
  private async bindWs(t: Transport): Promise<void> {
    const c = this.cfg;
    // client certificates as on tls: listeners (tls.verifyClient, tls.peers); the files are read by
    // bindWs first (its errors name them), the verifying context at the first client
    const clients = { requestCert: c.tls.verifyClient || c.tls.peers.some((p) => p.require), refuse: (s: tls.TLSSocket) => refusal(this.tls(), s) };
    t.ws = await bindWs(t.proto === "wss", t.bindHost, t.port, { certificate: c.tls.certificate, key: c.tls.key, ca: c.tls.ca },
      WS_INITIAL_MAX_MESSAGE, (ws, sock) => this.onWsAccept(t, ws, sock),
      (level, msg, fields) => { if (this.log.on(level)) this.log.line(level, msg, { transport: t.id, ...fields }); },
      t.proto === "wss" ? clients : undefined);
    t.port = t.ws.port;
  }

  /** Instantiates the core, configures it and registers the transports. */
  startCore(mod: WebAssembly.Module): void {
    // the capacities of the configuration are the tables' sizes where the core lays them out at start
    // (server, b2bua: docs/ABI.md "Layout"), the site defaults (limits.site*) where it gives none; a value
    // above the board's is refused below by its key
    const layout: number[] = [];
    for (const [word, key, site] of [
      [Layout.Transactions, "transactions", LIMITS.siteTransactions], [Layout.Registrations, "registrations", LIMITS.siteRegistrations],
      [Layout.MessageBlocks, "messageBlocks", LIMITS.siteMessageBlocks], [Layout.Dialogs, "dialogs", LIMITS.siteDialogs],
      [Layout.RelayLegs, "relayLegs", LIMITS.siteRelayLegs],
    ] as const) layout[word] = Number(this.cfg.shared.values.get(`capacity.${key}`) ?? site);
    const core = new Core(mod, layout); // throws CoreError naming a missing export
    if (this.cfg.prefault) {
      core.prefault();
      prefaultHeap();
    }
    const ex = core.ex;
    const seed = randomBytes(8);
    const now = performance.now();
    const r = ex.sip_init(seed.readUInt32LE(0), seed.readUInt32LE(4), now);
    if (r < 0) throw new CoreError(`sip_init failed (${r})`);

    // Every core key of the configuration, walked from the schema (host/shared/config.mjs): realm
    // before users; secrets wiped from the cfg buffer and from our copy after the call; any refusal
    // is a configuration error naming the key.
    const c = this.cfg;
    for (const op of coreOps(c.shared, randomBytes)) {
      let r: number;
      if (op.op === "set") r = ex.sip_cfg_set(op.id, op.value!);
      else {
        const bytes = op.bytes!;
        try {
          if (bytes.length > core.cfgCap)
            throw new ConfigError(op.name, `${op.secret || op.text === undefined ? "" : `${JSON.stringify(op.text)} `}(${bytes.length} bytes) exceeds the core's cfg buffer (${core.cfgCap})`);
          r = ex.sip_cfg_add(op.id, core.putCfgBytes(bytes));
        } finally {
          if (op.secret || CFG_KIND_SECRET.has(op.id)) {
            bytes.fill(0);
            core.wipeCfg();
          }
        }
      }
      const err = explain(op, r, c.board);
      if (err) throw err;
    }
    const users = c.users ?? [];
    const auth = users.length > 0;

    for (const t of this.transports) {
      if (!t) continue;
      const len = core.putCfg(t.advertised);
      const res = ex.sip_transport_add(t.id, PROTO_OF[t.proto], len);
      if (res < 0) throw new CoreError(`sip_transport_add(${t.id}, ${t.proto}, "${t.advertised}") failed (${res})`);
      t.ws?.setMaxMessage(core.rxCap);
    }
    this.core = core;
    this.ex = ex;
    if (c.relayAddresses.length > 0 && ex.sip_poll_relay && ex.sip_relay_ptr) {
      // each interface's bind addresses, by the core's interface number
      const addrs = relayInterfaces(c.relayAddresses).map((f) => ({ 4: f[4]?.bind, 6: f[6]?.bind }));
      this.relayPtr = ex.sip_relay_ptr() >>> 0;
      this.relay = new Relay(addrs, {
        now: () => performance.now(),
        report: (leg, what) => {
          if (!this.core) return;
          const t = performance.now();
          ex.sip_relay_report!(t, leg, what);
          this.after(t);
        },
        log: (level, msg, fields) => this.log.line(level, msg, fields),
        usage: (r) => this.usage?.host(r),
      });
    }
    this.watchTrunks();
    // RFC 3263 §4.1 for the proxy's requests to names (docs/ABI.md "Transport by DNS"): a core that
    // holds such a request for it (server, b2bua) asks us; the others send it over UDP
    this.nameTransport = ex.sip_cfg_set(CfgKey.NameTransport, Number(true)) === CfgResult.Ok;
    this.log.info("core ready", {
      rxCap: core.rxCap, cfgCap: core.cfgCap, domains: c.domains, seed: seed.toString("hex"),
      ...(c.outboundProxy ? { outboundProxy: c.outboundProxy } : {}),
      auth: auth ? { realm: c.realm, users: users.length } : false, transportByDns: this.nameTransport,
      memory: ex.memory.buffer.byteLength, ...(core.laidOut ? { laidOut: core.laidOut } : {}),
      ...(this.usage ? { usageLog: this.usage.path } : {}),
    });
    this.after(now);
  }

  // ---- input ------------------------------------------------------------------------------

  private onDatagram(t: Transport, msg: Buffer, rinfo: dgram.RemoteInfo): void {
    const core = this.core;
    if (!core) return;
    if (this.overload?.isProbe(rinfo.address, rinfo.port, msg)) { this.overload.onProbe(msg); return; }
    const n = msg.length;
    if (n > core.rxCap) {
      if (this.log.on("debug")) this.log.debug("datagram too large; dropped", { bytes: n, peer: `${rinfo.address}:${rinfo.port}` });
      return;
    }
    core.views();
    const mem = core.mem;
    const p = core.peerPtr;
    const fam = writeAddr(rinfo.address, mem, p + PEER.addr);
    if (fam === 0) return;
    msg.copy(mem, core.rxPtr);
    const dv = core.dv;
    dv.setUint32(p + PEER.conn, 0, true);
    mem[p + PEER.transport] = t.id;
    mem[p + PEER.family] = fam;
    dv.setUint16(p + PEER.port, rinfo.port, true);
    dv.setUint32(p + PEER.flags, 0, true);
    dv.setUint32(p + PEER.flags + 4, 0, true);
    if (this.trace) this.traceMsg("in", t.proto, fam, mem, p + PEER.addr, rinfo.port, msg.toString("utf8"));
    const now = performance.now();
    this.resolver.setSource(rinfo.address); // the lookups this datagram starts count against its source
    const r = this.ex.sip_handle_datagram(now, n);
    if (r < 0 && this.log.on("debug")) this.log.debug("datagram refused", { code: r, peer: `${rinfo.address}:${rinfo.port}` });
    this.after(now);
    this.resolver.setSource("");
  }

  private newConnId(): number {
    this.nextConn = (this.nextConn + 1) >>> 0;
    if (this.nextConn === 0) this.nextConn = 1; // u32 wrap: 4 billion connections into a run
    return this.nextConn;
  }

  private makeConn(t: Transport, sock: net.Socket | WsLink, address: string, port: number, outgoing: boolean): Conn | null {
    const fam = writeAddr(address, this.scratch, 0);
    if (fam === 0) return null;
    const addr = fam === 4 ? format4(this.scratch, 0) : format6(this.scratch, 0);
    const key = remoteKey(t.proto, addr, port);
    if (this.conns.size >= TCP_MAX_CONNS) this.evictQuietest();
    const c = new Conn(this.newConnId(), sock, t, fam, addr, port, key, outgoing);
    c.peer.writeUInt32LE(c.id, PEER.conn);
    c.peer[PEER.transport] = t.id;
    c.peer[PEER.family] = fam;
    c.peer.writeUInt16LE(port, PEER.port);
    this.scratch.copy(c.peer, PEER.addr, 0, 16);
    this.conns.set(c.id, c);
    this.byRemote.set(key, c);
    if (sock instanceof WsLink) {
      sock.ws.on("message", (d: Buffer | ArrayBuffer | Buffer[]) => this.onWsMessage(c, d));
      // an error (a frame too large, bad framing) ends the WebSocket: `ws` closes it (1009, 1002...), and
      // the connection is closed for the core now, not when the close handshake ends
      sock.ws.on("error", (e) => {
        if (this.log.on("debug")) this.log.debug("ws connection error", { conn: c.id, peer: peerText(t.proto, fam, addr, port), error: e.message });
        this.onClose(c);
      });
      sock.ws.on("close", () => this.onClose(c));
    } else {
      sock.on("data", (d: Buffer) => this.onStream(c, d));
      sock.on("error", (e) => {
        // a TLS peer's failed handshake (certificate refused either way) is worth a warning
        if (t.proto === "tls" && c.connected && !c.secured) this.log.warn("tls handshake failed", { conn: c.id, peer: peerText("tls", fam, addr, port), reason: reasonOf(e) });
        else if (this.log.on("debug")) this.log.debug(`${t.proto} connection error`, { conn: c.id, peer: peerText(t.proto, fam, addr, port), error: e.message });
      });
      sock.on("close", () => this.onClose(c));
    }
    if (!this.sweeper) {
      this.sweeper = setInterval(() => this.sweep(), TCP_SWEEP_MS);
      this.sweeper.unref();
    }
    return c;
  }

  /** "tls:1.2.3.4:5061" of a socket's remote address (IPv4-mapped shown as IPv4; "?" once it is gone). */
  private peerOf(proto: string, address: string, port: number): string {
    const fam = writeAddr(address, this.scratch, 0);
    if (fam === 0) return `${proto}:?:${port}`;
    return peerText(proto, fam, fam === 4 ? format4(this.scratch, 0) : format6(this.scratch, 0), port);
  }

  /** The table is full (LIMITS.tcpConnections): the connection quiet for longest makes room. */
  private evictQuietest(): void {
    let q: Conn | null = null;
    for (const c of this.conns.values()) if (!c.closed && (!q || c.active < q.active)) q = c;
    if (!q) return;
    this.hostStats.tcpEvicted++;
    if (this.log.on("debug")) this.log.debug("tcp connections full; closing the quietest", { conn: q.id, peer: peerText(q.t.proto, q.family, q.addr, q.port) });
    this.forget(q);
    q.sock.destroy();
  }

  /** Closes connections that have held part of a message for LIMITS.tcpPartialSeconds. */
  private sweep(): void {
    const now = performance.now();
    for (const c of this.conns.values()) {
      if (c.pendLen > 0 && now - c.partialSince > TCP_PARTIAL_MS) {
        this.hostStats.tcpPartialClosed++;
        if (this.log.on("debug")) this.log.debug("tcp message incomplete too long; closing", { conn: c.id, bytes: c.pendLen, peer: peerText(c.t.proto, c.family, c.addr, c.port) });
        this.closeConn(c);
      }
    }
  }

  private onAccept(t: Transport, sock: net.Socket): void {
    if (this.stopping) {
      sock.destroy();
      return;
    }
    const c = this.makeConn(t, sock, sock.remoteAddress ?? "", sock.remotePort ?? 0, false);
    if (!c) {
      sock.destroy();
      return;
    }
    c.secured = true; // a TLS socket is handed over once its handshake completed
    c.connected = true;
    if (this.log.on("debug")) this.log.debug(`${t.proto} accepted`, { conn: c.id, peer: peerText(c.t.proto, c.family, c.addr, c.port), transport: t.id });
  }

  /** A WebSocket upgraded on a ws/wss listener: a connection like an accepted TCP one. */
  private onWsAccept(t: Transport, ws: WebSocket, sock: net.Socket): void {
    const link = new WsLink(ws);
    if (this.stopping) {
      link.destroy(1001);
      return;
    }
    const r = remoteOf(sock);
    const c = this.makeConn(t, link, r.address, r.port, false);
    if (!c) {
      link.destroy(1011);
      return;
    }
    if (this.log.on("debug")) this.log.debug("ws accepted", { conn: c.id, peer: peerText(t.proto, c.family, c.addr, c.port), transport: t.id });
  }

  /**
   * One WebSocket message: one whole SIP message (RFC 7118 §5), given to the core as a datagram that
   * carries the connection's id (so what answers it, and what goes to a binding registered by it, is
   * sent back on this WebSocket). A refused message is answered by the core (400) or dropped; the
   * WebSocket stays open, as a UDP peer would.
   */
  private onWsMessage(c: Conn, data: Buffer | ArrayBuffer | Buffer[]): void {
    const core = this.core;
    if (!core || c.closed) return;
    const msg = Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
    c.active = performance.now();
    const n = msg.length;
    if (n > core.rxCap) { // the ws maxPayload closes first; kept for a core swapped under a bound listener
      this.log.warn("ws message exceeds the RX buffer; closing", { conn: c.id, bytes: n, peer: peerText(c.t.proto, c.family, c.addr, c.port) });
      (c.sock as WsLink).destroy(1009);
      return;
    }
    core.views();
    const mem = core.mem;
    msg.copy(mem, core.rxPtr);
    c.peer.copy(mem, core.peerPtr);
    if (this.trace) this.traceMsg("in", c.t.proto, c.family, c.peer, PEER.addr, c.port, msg.toString("utf8"), c.id);
    const now = performance.now();
    this.resolver.setSource(c.addr);
    const r = this.ex.sip_handle_datagram(now, n);
    if (r < 0 && this.log.on("debug")) this.log.debug("ws message refused", { code: r, conn: c.id, peer: peerText(c.t.proto, c.family, c.addr, c.port) });
    this.after(now);
    this.resolver.setSource("");
  }

  /** Feeds a connection's bytes: RX = pending ++ data, loop sip_handle_stream per the ABI. */
  private onStream(c: Conn, data: Buffer): void {
    const core = this.core;
    if (!core || c.closed) return;
    c.active = performance.now();
    const cap = core.rxCap;
    const ex = this.ex;
    let off = 0;
    for (;;) {
      const p = c.pendLen;
      const k = Math.min(cap - p, data.length - off);
      const len = p + k;
      if (len === 0) return;
      core.views();
      const mem = core.mem;
      if (p > 0) c.pending!.copy(mem, core.rxPtr, 0, p);
      if (k > 0) data.copy(mem, core.rxPtr + p, off, off + k);
      c.peer.copy(mem, core.peerPtr);
      const text = this.trace ? mem.toString("utf8", core.rxPtr, core.rxPtr + len) : "";
      const now = performance.now();
      this.resolver.setSource(c.addr);
      const r = ex.sip_handle_stream(now, len);
      if (r > 0 && this.trace) this.traceMsg("in", c.t.proto, c.family, c.peer, PEER.addr, c.port, text.slice(0, r));
      this.after(now);
      this.resolver.setSource("");
      if (c.closed) return;
      if (r < 0) {
        this.log.warn("tcp stream refused; closing", { conn: c.id, code: r, peer: peerText(c.t.proto, c.family, c.addr, c.port) });
        this.closeConn(c);
        return;
      }
      if (r === 0) {
        if (len >= cap) {
          this.log.warn("tcp message exceeds the RX buffer; closing", { conn: c.id, bytes: len, peer: peerText(c.t.proto, c.family, c.addr, c.port) });
          this.closeConn(c);
          return;
        }
        // need more: keep what we have (len < cap, so all of data[off..] fits)
        if (k > 0) {
          if (!c.pending || c.pending.length < len) {
            const grown = Buffer.allocUnsafe(Math.min(cap, Math.max(4096, 2 ** Math.ceil(Math.log2(len)))));
            if (p > 0) c.pending!.copy(grown, 0, 0, p);
            c.pending = grown;
          }
          data.copy(c.pending, p, off, off + k);
          if (p === 0) c.partialSince = c.active;
          c.pendLen = len;
        }
        return;
      }
      const used = Math.min(r, len);
      if (used >= p) {
        c.pendLen = 0;
        if (c.pending && c.pending.length > 4096) c.pending = null; // a large message's room is not kept
        off += used - p;
      } else {
        c.pending!.copyWithin(0, used, p);
        c.pendLen = p - used;
        c.partialSince = c.active; // progress
      }
    }
  }

  private closeConn(c: Conn): void {
    c.sock.destroy(); // 'close' follows -> onClose
  }

  /** Takes a connection out of the tables (its 'close' reports it to the core). */
  private forget(c: Conn): void {
    this.conns.delete(c.id);
    if (this.byRemote.get(c.key) === c) this.byRemote.delete(c.key);
  }

  private onClose(c: Conn): void {
    if (c.closed) return;
    c.closed = true;
    c.pending = null;
    c.pendLen = 0;
    this.forget(c);
    if (this.log.on("debug")) this.log.debug(`${c.t.proto} closed`, { conn: c.id, peer: peerText(c.t.proto, c.family, c.addr, c.port) });
    if (!this.core) return;
    const now = performance.now();
    this.ex.sip_handle_conn_closed(now, c.id);
    this.after(now);
  }

  // ---- output -----------------------------------------------------------------------------

  /**
   * Applies the relay's records (its legs bound, relay.ts side), then drains transmits (the SDP that
   * names those ports goes out after they are bound), re-arms the timer, drains events (then reports
   * deferred conn closes).
   */
  private after(now: number): void {
    const ex = this.ex;
    for (;;) {
      if (this.relay) {
        let op: number;
        const core = this.core!;
        while ((op = ex.sip_poll_relay!()) !== 0) {
          core.views();
          this.relay.apply(op, core.mem, core.dv, this.relayPtr);
        }
      }
      let n: number;
      let guard = 0;
      while ((n = ex.sip_poll_transmit(now)) > 0) {
        this.transmit(n);
        if (++guard === MAX_TRANSMITS_PER_CALL) {
          this.log.error("core keeps returning transmits; drain loop cut", { count: guard });
          break;
        }
      }
      if (this.nameTransport && this.askTransports(now)) continue; // branches that go out now
      this.arm(ex.sip_poll_timeout());
      let k: number;
      while ((k = ex.sip_poll_event()) !== 0) this.event(k);
      if (this.closedQueue.length === 0) return;
      const id = this.closedQueue.shift()!;
      ex.sip_handle_conn_closed(now, id);
    }
  }

  /**
   * The requests the core holds until we choose their transport (docs/ABI.md "Transport by DNS"):
   * each name's choice by RFC 3263 §4.1 among the transports we listen on (resolver transportAsk:
   * NAPTR, else SRV; kept limits.dnsTransportTtl), answered with sip_resolved now when known, else
   * once DNS answers; a name that cannot be asked now (the resolver's bounds) gets 0: UDP. True when
   * some were answered now (their branches are the core's next transmits).
   */
  private askTransports(now: number): boolean {
    const ex = this.ex;
    const core = this.core!;
    let answered = false;
    for (;;) {
      const id = ex.sip_poll_resolve!(now) >>> 0;
      if (id === 0) break;
      core.views();
      const len = core.dv.getUint32(core.txMetaPtr + PEER.flags, true);
      const name = core.mem.toString("latin1", core.txNamePtr, core.txNamePtr + len);
      const source = this.resolver.source; // the request's: its location's lookup counts against it
      const later = (p: number) => {
        if (!this.core || this.stopping) return;
        if (this.log.on("debug")) this.log.debug("request transport", { name, transport: PROTO_NAMES[p] ?? "default" });
        const was = this.resolver.source;
        this.resolver.setSource(source);
        const t = performance.now();
        this.ex.sip_resolved!(t, id, p);
        this.after(t);
        this.resolver.setSource(was);
      };
      let known = this.resolver.transportCached(name);
      if (known < 0 && !this.resolver.transportAsk(name, this.supportedProtos(), later)) known = 0;
      if (known >= 0) {
        ex.sip_resolved!(now, id, known);
        answered = true;
      }
    }
    return answered;
  }

  /** The protocols (abi.json protos) we listen on: UDP, TCP, TLS. */
  private supportedProtos(): number[] {
    return (["udp", "tcp", "tls"] as const).filter((p) => this.transports.some((t) => t?.proto === p)).map((p) => PROTO_OF[p]);
  }

  private arm(deadline: number): void {
    if (deadline < 0) {
      if (this.timer) {
        clearTimeout(this.timer);
        this.timer = null;
        this.armedAt = -1;
      }
      return;
    }
    // An earlier timer already armed fires first; sip_handle_timeout is safe to call early and the
    // timer is re-armed then, so only an earlier deadline needs a new setTimeout.
    if (this.timer && this.armedAt <= deadline) return;
    if (this.timer) clearTimeout(this.timer);
    this.armedAt = deadline;
    this.timer = setTimeout(this.onTimer, Math.max(0, deadline - performance.now()));
  }

  private transmit(n: number): void {
    const core = this.core!;
    core.views();
    const mem = core.mem;
    const dv = core.dv;
    const m = core.txMetaPtr;
    const connId = dv.getUint32(m + PEER.conn, true);
    const tid = mem[m + PEER.transport];
    const fam = mem[m + PEER.family];
    const port = dv.getUint16(m + PEER.port, true);
    const t = this.transports[tid];
    // Copy out now: the next core call reuses the TX buffer.
    const buf = Buffer.allocUnsafe(n);
    mem.copy(buf, 0, core.txPtr, core.txPtr + n);
    if (!t) {
      this.log.warn("transmit on an unknown transport; dropped", { transport: tid, bytes: n });
      return;
    }
    if (fam === 0 && connId !== 0) {
      // a name with a live connection (a flow: a WebSocket phone's Contact names a .invalid host):
      // sent on the connection, no lookup
      const c = this.conns.get(connId);
      if (c && !c.closed) {
        this.sendTo(t, connId, c.family, c.addr, c.port, buf);
        return;
      }
    }
    if (fam === 0) {
      const nameLen = dv.getUint32(m + PEER.flags, true);
      const name = mem.toString("latin1", core.txNamePtr, core.txNamePtr + nameLen);
      this.sendToName(t, connId, name, port, dv.getUint32(m + PEER.sel, true), buf);
      return;
    }
    if (fam !== 4 && fam !== 6) {
      this.log.warn("transmit with a bad address family; dropped", { family: fam, bytes: n });
      return;
    }
    const addr = fam === 4 ? format4(mem, m + PEER.addr) : format6(mem, m + PEER.addr);
    this.sendTo(t, connId, fam, addr, port, buf);
  }

  private sendTo(t: Transport, connId: number, fam: number, addr: string, port: number, buf: Buffer, name?: string): void {
    if (this.trace) this.traceOut(t.proto, fam, addr, port, buf, connId);
    if (t.proto === "udp") {
      let dest = addr;
      if (fam !== t.family) {
        if (t.family === 6) dest = `::ffff:${addr}`;
        else {
          this.log.warn("IPv6 destination on an IPv4 UDP transport; dropped", { transport: t.id, peer: addr });
          return;
        }
      }
      if (port === 0) {
        this.log.warn("transmit to port 0; dropped", { transport: t.id, peer: addr });
        return;
      }
      try {
        t.udp!.send(buf, port, dest, (err) => {
          if (err) this.log.debug("udp send failed", { peer: `${dest}:${port}`, error: err.message });
        });
      } catch (e) {
        // a bad destination is the peer's problem, never the server's: log it and go on
        this.log.warn("udp send refused", { peer: `${dest}:${port}`, error: (e as Error).message });
      }
      return;
    }
    let c: Conn | undefined;
    if (connId !== 0) {
      c = this.conns.get(connId);
      if (!c || c.closed) {
        if (this.log.on("debug")) this.log.debug("transmit on a closed connection; dropped", { conn: connId, bytes: buf.length });
        this.closedQueue.push(connId);
        return;
      }
    } else {
      c = this.byRemote.get(remoteKey(t.proto, addr, port)); // a WebSocket is not a TCP connection, nor a TLS one
      if (t.proto === "ws" || t.proto === "wss") {
        // we never open a WebSocket: a peer on one is reached only on the connection it opened
        if (!c || c.closed) {
          if (this.log.on("debug")) this.log.debug("no WebSocket to this peer; dropped", { transport: t.id, peer: peerText(t.proto, fam, addr, port), bytes: buf.length });
          return;
        }
      } else if (!c || c.closed) c = this.connect(t, addr, port, name) ?? undefined;
      if (!c) return;
    }
    c.sock.write(buf);
    c.active = performance.now();
    if (c.sock.writableLength > TCP_MAX_BACKLOG) {
      this.hostStats.tcpBacklogClosed++;
      this.log.warn(`${t.proto} peer not reading; closing`, { conn: c.id, queued: c.sock.writableLength });
      this.closeConn(c);
    }
  }

  /**
   * Opens a connection (net and tls queue writes until it connects and, for TLS, until the handshake
   * completes); its data is fed like accepted ones.
   */
  private connect(t: Transport, addr: string, port: number, name?: string): Conn | null {
    let sock: net.Socket;
    if (t.proto === "tls") {
      try {
        sock = tlsConnect(this.tls(), addr, port, name);
      } catch (e) {
        this.log.warn("tls connection refused", { peer: peerText("tls", net.isIPv6(addr) ? 6 : 4, addr, port), reason: (e as Error).message });
        return null;
      }
    } else sock = net.connect({ host: addr, port, noDelay: true });
    const c = this.makeConn(t, sock, addr, port, true);
    if (!c) {
      sock.destroy();
      return null;
    }
    sock.once("connect", () => {
      c.connected = true;
    });
    sock.once(t.proto === "tls" ? "secureConnect" : "connect", () => {
      c.secured = true;
      if (this.log.on("debug")) this.log.debug(`${t.proto} connected`, { conn: c.id, peer: peerText(t.proto, c.family, addr, port) });
    });
    return c;
  }

  /**
   * A transmit to a name: sent once the resolver has its address (now when cached), or dropped by the
   * resolver's bounds or a failed lookup (host/shared/resolver.mjs; the core's transaction retransmits).
   * Port 0: the URI named no port, so the resolver locates the server by RFC 3263 (NAPTR, SRV) for
   * this transport's protocol and gives the port too; `sel` picks the target (docs/ABI.md "Peer record").
   */
  private sendToName(t: Transport, connId: number, name: string, port: number, sel: number, buf: Buffer): void {
    const proto = port === 0 ? PROTO_OF[t.proto] : 0;
    // over TLS, the name the server reached for it is verified by (and told, SNI); none for an IP literal
    const sni = t.proto !== "tls" || net.isIP(name.replace(/^\[(.*)\]$/, "$1")) ? undefined : name.toLowerCase().replace(/\.$/, "");
    this.resolver.send(name, t.family, buf.length, (family: 4 | 6, addr: string, later: boolean, found: number) => {
      if (this.stopping || !this.core) return;
      this.sendTo(t, connId, family, addr, port || found, buf, sni);
      // A send after a lookup is not inside a core call: flush any deferred conn closes.
      if (later && this.closedQueue.length) this.after(performance.now());
    }, proto, sel);
  }

  /**
   * Trunks found by DNS (sides[].address a name): the core sends to the name (RFC 3263 without a port)
   * and the resolver locates the provider at each send; what the core cannot know is where the
   * provider's calls come from. So each name is resolved now and every TRUNK_WATCH_MS, for each family
   * of a listen address of the trunk's transport, and every answer's addresses (each SRV target's) go to
   * the core ("addrs SIDE ADDRESS...", the family's list replaced): calls from them are the trunk's. The
   * resolver's cache keeps an answer for its TTL, so a change of the provider's DNS takes effect within
   * its TTL + TRUNK_WATCH_MS; a failed lookup leaves the addresses the core has. A trunk whose transport
   * is ours to choose (config.mjs autoTransport: a name without a port, no "transport") first gets it by
   * RFC 3263 §4.1 among the transports we listen on (resolver transportOf: NAPTR, else SRV; UDP when
   * DNS names none), given to the core at once and whenever it changes ("transport SIDE PROTO"; the
   * side's registrations wait for the first), and its addresses are then resolved for that transport.
   */
  private watchTrunks(): void {
    const sides = (this.cfg.shared.values.get("sides") ?? []) as { role?: string, address?: string, transport?: "udp" | "tcp" | "tls" }[];
    const listening = (proto: string) => [...new Set(this.transports.filter((t) => t?.proto === proto).map((t) => t!.family))];
    const supported = this.supportedProtos();
    const named = sides.flatMap((sd, i) => {
      const n = trunkName(sd.address);
      return n ? [{ i, auto: autoTransport(sd), proto: sd.transport ?? "udp", ...n }] : [];
    });
    if (named.length === 0) return;
    const addresses = (w: (typeof named)[number]) => {
      for (const family of listening(w.proto)) {
        this.resolver.send(w.name, family, 0, (fam: 4 | 6, addrs: string) => this.trunkResolved(w.i, w.name, fam, addrs),
          w.port ? 0 : PROTO_OF[w.proto], RESOLVE_ALL);
      }
    };
    const round = () => {
      if (!this.core) return;
      this.resolver.setSource("");
      for (const w of named) {
        if (!w.auto) addresses(w);
        else this.resolver.transportOf(w.name, supported, (p: number) => {
          if (!this.core || this.stopping) return;
          w.proto = p === Proto.TCP ? "tcp" : p === Proto.TLS ? "tls" : "udp";
          this.trunkTransport(w.i, w.name, w.proto);
          this.resolver.setSource("");
          addresses(w);
        });
      }
    };
    round();
    this.trunkWatch = setInterval(round, TRUNK_WATCH_MS);
    this.trunkWatch.unref();
  }

  /** Trunk side i's transport chosen by RFC 3263 §4.1: given to the core when it is new or changed. */
  private trunkTransport(i: number, name: string, proto: "udp" | "tcp" | "tls"): void {
    if (this.trunkProtos.get(i) === proto) return;
    const r = this.ex.sip_cfg_add(CfgKind.Side, this.core!.putCfg(`transport ${i} ${proto}`));
    if (r !== CfgResult.Ok) {
      this.log.warn("trunk transport refused by the core", { side: i, name, transport: proto, result: r });
      return;
    }
    this.trunkProtos.set(i, proto);
    this.log.info("trunk transport", { side: i, name, transport: proto });
    this.after(performance.now()); // the registrations that waited for it go now
  }

  /** Trunk side i's name resolved to `addrs` (space-separated, of one family): given to the core. */
  private trunkResolved(i: number, name: string, family: 4 | 6, addrs: string): void {
    if (!this.core || this.stopping) return;
    const list = addrs.split(" ").slice(0, 4).join(" ");
    const key = `${i}|${family}`;
    if (this.trunkAddrs.get(key) === list) return;
    const r = this.ex.sip_cfg_add(CfgKind.Side, this.core.putCfg(`addrs ${i} ${list}`));
    if (r !== CfgResult.Ok) {
      this.log.warn("trunk addresses refused by the core", { side: i, name, addresses: list, result: r });
      return;
    }
    this.trunkAddrs.set(key, list);
    this.log.info("trunk resolved", { side: i, name, addresses: list });
  }

  // ---- events, trace ----------------------------------------------------------------------

  /** One event: decoded once, then logged (by level) and written to the usage file. */
  private event(kind: number): void {
    const info = EVENTS[kind];
    if (info) this.eventCounts[kind]++;
    if (this.location && kind >= EventKind.RegAdd && kind <= EventKind.RegExpire) this.locationEvent(kind);
    if (kind === EventKind.TrunkReg || kind === EventKind.TrunkState) this.trunkStates.event(decodeEvent(this.core!, kind, this.protoOf), Date.now());
    const level = info?.level ?? "warn";
    const logging = this.log.on(level);
    if (!logging && !this.usage && !this.onEvent) return;
    const ev = decodeEvent(this.core!, kind, this.protoOf);
    this.usage?.event(ev, this.wall);
    if (this.onEvent) {
      try {
        this.onEvent(ev);
      } catch (e) {
        this.log.error("event listener threw", { event: ev.name, error: (e as Error).message });
      }
    }
    if (!logging) return;
    const fields: Record<string, unknown> = { event: ev.name, code: ev.code };
    if (ev.source) fields.source = ev.source;
    if (ev.conn) fields.conn = ev.conn;
    eventFields(ev, fields);
    fields.coreTime = ev.time;
    this.log.line(level, ev.name, fields);
  }

  /** A registrar change, for the shared location service: a binding of ours added or refreshed (code
   * 200) is published with its AOR's others; one removed or expired (code 0, or 200 by a REGISTER) is
   * deleted; code 1 is a shared binding's (another instance's business). */
  private locationEvent(kind: number): void {
    const core = this.core!;
    core.views();
    const e = core.eventPtr;
    if (core.dv.getInt32(e + EVENT.code, true) === 1) return;
    const aorLen = core.dv.getUint16(e + EVENT.lens, true);
    const contactLen = core.dv.getUint16(e + EVENT.lens + 2, true);
    const at = e + EVENT.text;
    const aor = Buffer.from(core.mem.subarray(at, at + aorLen));
    if (kind === EventKind.RegAdd || kind === EventKind.RegRefresh) this.location!.changed(aor);
    else this.location!.gone(escapeAor(aor), core.mem.toString("latin1", at + aorLen, at + aorLen + contactLen));
  }

  private traceMsg(dir: "in" | "out", proto: string, fam: number, b: Buffer, off: number, port: number, sip: string, conn = 0): void {
    const addr = fam === 4 ? format4(b, off) : format6(b, off);
    this.log.line("debug", "sip", { dir, peer: peerText(proto, fam, addr, port), ...(conn ? { conn } : {}), sip });
  }

  private traceOut(proto: string, fam: number, addr: string, port: number, buf: Buffer, conn: number): void {
    this.log.line("debug", "sip", { dir: "out", peer: peerText(proto, fam, addr, port), ...(conn ? { conn } : {}), sip: buf.toString("utf8") });
  }

  // ---- stats ------------------------------------------------------------------------------

  /**
   * Logs the core's sip_stat counters as one "stats" line (the same fields as the line logged at
   * stop), plus `signal` when asked for by one. Nothing is logged before the core has started.
   */
  logStats(signal?: string): void {
    const stats = this.statsLine();
    if (stats) this.log.info("stats", { ...(signal ? { signal } : {}), ...stats });
  }

  /** The fields of the stats line: the core's stats, the resolver's, the host's own (none before the core starts). */
  private statsLine(): Record<string, number> | undefined {
    const stats = this.core?.stats();
    return stats ? { ...stats, ...this.resolver.stats(), ...this.ownStats() } : undefined;
  }

  /** Starts the Prometheus endpoint when "metrics.listen" names one (host/node/metrics.ts). */
  async startMetrics(): Promise<void> {
    const spec = this.cfg.metricsListen;
    if (this.cfg.management && spec === undefined) throw new ConfigError("management", "needs metrics.listen (the API is served beside the metrics)");
    if (spec === undefined || !this.core) return;
    const a = parseIpPort(spec)!; // the schema's check took it
    const board = this.cfg.board;
    const api = this.cfg.management
      ? managementApi({ bindings: this.coreBindings(), location: () => this.location, stats: () => this.statsLine(), board }, this.trunkStates)
      : undefined;
    const hist = this.ex.sip_hist ? (series: number, slot: number) => (this.core ? this.ex.sip_hist!(series, slot) : -1) : undefined;
    const m = new MetricsServer(() => exposition(this.statsLine() ?? {}, this.eventCounts, "node", board, process.uptime(), hist), api);
    let bound: string;
    try {
      bound = await m.listen(a.addr, a.family, a.port);
    } catch (e) {
      throw new StartError(`cannot listen on metrics.listen ${spec}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    this.metrics = m;
    this.log.info("metrics listening", { url: `http://${bound}/metrics` });
  }

  private coreBindings(): Bindings {
    this.bindings ??= new Bindings(this.core!, () => performance.now(), (t) => this.after(t));
    return this.bindings;
  }

  /**
   * Joins the shared location service when "location.redis" names one (host/node/location.ts): needs a
   * core with the location service; resolves after the first attempt to connect (a Redis that is not
   * there yet is retried every second, the server serving meanwhile).
   */
  async startLocation(): Promise<void> {
    const spec = this.cfg.locationRedis;
    if (spec === undefined || !this.core) return;
    const b = this.coreBindings();
    if (!b.available) throw new ConfigError("location.redis", `needs a core with the location service (board "server" or "b2bua"; this is "${this.cfg.board}")`);
    const udp = this.transports.find((t) => t?.proto === "udp");
    const instance = this.cfg.locationAddress ?? udp?.advertised;
    if (!instance) throw new ConfigError("location.address", "needed when no udp listen gives the instance's address");
    if (/:0$/.test(instance)) throw new ConfigError("location.address", `port 0 is no address for the other instances (${instance})`);
    const r = parseIpPort(spec)!; // the schema's check took it
    this.location = new SharedLocation(b, { addr: r.addr, port: r.port, auth: this.cfg.locationAuth }, instance, this.cfg.locationPrefix,
      (level, msg, fields) => this.log.line(level, msg, fields));
    await this.location.start();
  }

  /** The host's own counters: TCP connections closed by its bounds, log and usage lines dropped. */
  private ownStats(): Record<string, number> {
    return {
      tcpConnections: this.conns.size, ...this.hostStats, logDropped: this.log.dropped,
      ...(this.relay ? { relayLegsOpen: this.relay.open, ...this.relay.stats } : {}),
      ...(this.usage ? { usageDropped: this.usage.dropped } : {}),
      ...(this.location ? { locationConnected: this.location.connected ? 1 : 0, ...this.location.stats } : {}),
    };
  }

  /** The bound listeners, in transport id order (ports as bound: a port 0 listen shows the port it got). */
  listening(): { proto: "udp" | "tcp" | "tls" | "ws" | "wss"; host: string; port: number; advertised: string }[] {
    return this.transports.filter((t): t is Transport => t !== undefined)
      .map((t) => ({ proto: t.proto, host: t.bindHost, port: t.port, advertised: t.advertised }));
  }

  // ---- stop -------------------------------------------------------------------------------

  /** Starts local overload control on the first UDP listener (config "overloadControl"). */
  async startOverloadControl(): Promise<void> {
    const t = this.transports.find((x) => x?.proto === "udp");
    if (!this.cfg.overloadControl || !t || !this.core) return;
    const ex = this.core.ex;
    this.overload = new OverloadControl(t.family, t.bindHost, t.port, (permille) => ex.sip_cfg_set(CfgKey.Shed, permille), this.log);
    await this.overload.start();
  }

  /**
   * Stopping (RFC 3261 §10.2.2): the core takes back our registrations with providers (REGISTER with
   * Expires: 0) and the host keeps serving until they are answered or `graceMs` has passed. Resolves with
   * how many were still unanswered (0: none, or nothing to de-register). close() follows.
   */
  async deregister(graceMs: number): Promise<number> {
    if (!this.core) return 0;
    const t0 = performance.now();
    let left = this.ex.sip_shutdown(t0);
    this.after(t0);
    if (left > 0) this.log.info("de-registering", { registrations: left });
    while (left > 0 && performance.now() - t0 < graceMs) {
      await new Promise((r) => setTimeout(r, 10));
      if (!this.core) return left;
      left = this.ex.sip_shutdown(performance.now());
    }
    return left;
  }

  /** Stops accepting, closes every socket and connection, forgets the core. Synchronous. */
  close(): void {
    this.stopping = true;
    this.metrics?.close();
    this.metrics = null;
    this.location?.stop();
    this.location = null;
    this.overload?.stop();
    this.relay?.stop();
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const core = this.core;
    this.core = null;
    for (const t of this.transports) {
      if (!t) continue;
      try {
        t.udp?.close();
      } catch {
        /* not bound */
      }
      t.server?.close();
      t.ws?.close();
    }
    for (const c of this.conns.values()) c.sock.destroy();
    this.conns.clear();
    this.byRemote.clear();
    if (this.sweeper) clearInterval(this.sweeper);
    this.sweeper = null;
    if (this.trunkWatch) clearInterval(this.trunkWatch);
    this.trunkWatch = null;
    if (core) {
      const stats = core.stats();
      if (stats) this.log.info("stats", { ...stats, ...this.resolver.stats(), ...this.ownStats() });
    }
    this.resolver.close();
    this.usage?.close();
  }
}

export class StartError extends Error {}

/** How often the names of trunks found by DNS are resolved again (watchTrunks). */
const TRUNK_WATCH_MS = 30_000;

/** The core's protocol number of each listen protocol (sip_transport_add). */
const PROTO_OF = { udp: Proto.UDP, tcp: Proto.TCP, tls: Proto.TLS, ws: Proto.WS, wss: Proto.WSS } as const;

/** A connection's key for reuse: connections of different protocols to one address are different ones. */
function remoteKey(proto: string, addr: string, port: number): string {
  return `${proto}|${addr}|${port}`;
}

/** host:port this transport advertises: the bound address, or for a wildcard an interface address. */
function advertise(t: Transport): string {
  let host = t.bindHost;
  if (host === "0.0.0.0" || host === "::") host = pickInterface(t.family);
  return t.family === 6 ? `[${host}]:${t.port}` : `${host}:${t.port}`;
}

function pickInterface(family: 4 | 6): string {
  const want = family === 6 ? "IPv6" : "IPv4";
  let fallback = family === 6 ? "::1" : "127.0.0.1";
  for (const list of Object.values(os.networkInterfaces())) {
    for (const a of list ?? []) {
      if (a.family !== want || (family === 6 && a.scopeid)) continue;
      if (!a.internal) return a.address;
      fallback = a.address;
    }
  }
  return fallback;
}
