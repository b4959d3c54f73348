// The media relay's packet forwarding on the Node host (docs/ABI.md "Media relay"): the core decides which
// legs exist, their ports, peers, flags and idle times; this file binds the ports, forwards RTP and RTCP
// between partner legs, latches sources (symmetric RTP: a party behind NAT is answered where its packets
// come from), counts packets, bytes and RTP sequence gaps per leg, reports idle streams and ports that
// cannot be bound to the core, and writes each leg's counters to the usage log when it closes.
//
// Latching (symmetric RTP), the same rule as the native host's (host/c/relay.c). Each socket of a leg
// (RTP; RTCP unless RtcpMux) learns where its party's packets come from, and the partner sends there.
// Latching the first packet from anywhere lets a stranger who guesses a freshly opened port and sends
// first take the stream ("RTP bleed"), so a packet's source is compared with the leg's SDP address and
// port (the RTP port; the RTCP port on the RTCP socket) and is of one of three kinds:
//   1 exact      the SDP's address and port: latches at once, replacing a latch of kind 2 or 3;
//   2 same addr  the SDP's address at another port (a NAT that remaps ports): latches when nothing is
//                latched yet, or replaces a latch of kind 3;
//   3 other      another address: latches only when nothing is latched yet and the SDP's address cannot
//                be where the party's packets come from: family not known (0), unspecified, or private or
//                NAT-side (10/8, 172.16/12, 192.168/16, 100.64/10, 169.254/16, fc00::/7, fe80::/10,
//                IPv4-mapped IPv6 of those). A phone behind NAT whose SDP shows its own private address
//                still latches to its NAT's public address; one with a concrete (public, or loopback)
//                address is only learnt from that address.
// Any other packet is dropped and counted. A kind-1 latch is strict (no other source replaces it); an
// Open that changes the leg's peer (a re-INVITE to another address) unlatches both sockets.
import dgram from "node:dgram";
import { RelayOp, RelayFlag, RelayReport } from "./numbers.js";
import { format4, format6, formatAddr, writeAddr, numericLookup } from "./addr.js";

/** The kinds of a packet's source (the comment above). */
const enum Latch {
  None = 0,
  Exact = 1,
  SameAddr = 2,
  Other = 3,
}

/** The relay record's fields (docs/ABI.md "Media relay"). */
export const RELAY = { op: 0, leg: 4, partner: 8, port: 12, flags: 14, family: 16, local: 17, peerPort: 18, rtcpPort: 20, idle: 22, addr: 24, call: 40, callIdLen: 44, iface: 46, callId: 48 } as const;

interface Side {
  sock: dgram.Socket;
  /** latched source "addr|port", or null: not yet */
  latched: string | null;
  latchedAddr: string;
  latchedPort: number;
  /** the kind of the packet that latched it (Latch.None: not latched) */
  kind: Latch;
}

interface Leg {
  leg: number;
  /** the address its sockets are bound on (its interface's, of its local family) */
  bindAddr: string;
  partner: number;
  port: number;
  flags: number;
  family: number;
  peerAddr: string;
  /** the peer's address as a source is compared with it (IPv4-mapped IPv6 as IPv4), "" when not known */
  peerKey: string;
  /** the SDP address cannot be where the party's packets come from: another address may latch (kind 3) */
  peerUnreliable: boolean;
  peerPort: number;
  rtcpPort: number;
  idleMs: number;
  callId: string;
  rtp: Side;
  rtcp: Side | null;
  lastIn: number;
  reported: boolean;
  packets: number;
  bytes: number;
  dropped: number;
  lost: number;
  seq: number; // last RTP sequence number seen, -1 none
}

export interface RelayHooks {
  /** now in the core's clock (ms) */
  now(): number;
  /** tell the core (sip_relay_report) and drain its output */
  report(leg: number, what: number): void;
  log(level: "info" | "warn" | "debug", msg: string, fields: object): void;
  usage(record: Record<string, unknown>): void;
}

const IDLE_CHECK_MS = 1000;

/** A source address's bytes (scratch of the per-packet check). */
const srcBytes = Buffer.alloc(16);

/** The peer address in the record's 16 bytes at mem[at] of `family`: its text with IPv4-mapped IPv6
 * folded to IPv4 (the key a source's address is compared with; "" when the family is not known), and
 * whether it cannot be where a party's packets come from (not known, unspecified, private or NAT-side;
 * loopback is concrete). */
function sdpAddr(family: number, mem: Uint8Array, at: number): { key: string; unreliable: boolean } {
  if (family !== 4 && family !== 6) return { key: "", unreliable: true };
  let mapped = family === 6 && mem[at + 10] === 0xff && mem[at + 11] === 0xff;
  for (let i = 0; mapped && i < 10; i++) if (mem[at + i] !== 0) mapped = false;
  if (family === 4 || mapped) {
    const o = mapped ? at + 12 : at;
    const a = mem[o], b = mem[o + 1];
    const unreliable = (a === 0 && b === 0 && mem[o + 2] === 0 && mem[o + 3] === 0) || a === 10 || (a === 172 && (b & 0xf0) === 16) ||
      (a === 192 && b === 168) || (a === 100 && (b & 0xc0) === 64) || (a === 169 && b === 254);
    return { key: format4(mem, o), unreliable };
  }
  let zero = true;
  for (let i = 0; zero && i < 16; i++) if (mem[at + i] !== 0) zero = false;
  const unreliable = zero || (mem[at] & 0xfe) === 0xfc || (mem[at] === 0xfe && (mem[at + 1] & 0xc0) === 0x80);
  return { key: format6(mem, at), unreliable };
}

export class Relay {
  private readonly legs = new Map<number, Leg>();
  private readonly sweeper: NodeJS.Timeout;
  /** host counters for the stats line */
  readonly stats = { relayPackets: 0, relayDropped: 0, relayBindFailed: 0 };

  /** addresses: the bind address of each family of each interface, by the core's interface number
   * ("mediaRelay.addresses", config.mjs relayInterfaces). */
  constructor(private readonly addresses: readonly { 4?: string; 6?: string }[], private readonly hooks: RelayHooks) {
    this.sweeper = setInterval(() => this.sweep(), IDLE_CHECK_MS);
    this.sweeper.unref();
  }

  get open(): number {
    return this.legs.size;
  }

  /** Applies the record at `at` of memory `mem` (after sip_poll_relay returned `op`). */
  apply(op: number, mem: Uint8Array, dv: DataView, at: number): void {
    const leg = dv.getUint32(at + RELAY.leg, true);
    if (op === RelayOp.Close) {
      this.close(leg);
      return;
    }
    if (op !== RelayOp.Open) return;
    const family = mem[at + RELAY.family];
    const peerAddr = family === 4 ? format4(mem, at + RELAY.addr) : family === 6 ? format6(mem, at + RELAY.addr) : "";
    const sdp = sdpAddr(family, mem, at + RELAY.addr);
    const n = dv.getUint16(at + RELAY.callIdLen, true);
    const rec = {
      partner: dv.getUint32(at + RELAY.partner, true),
      port: dv.getUint16(at + RELAY.port, true),
      flags: dv.getUint16(at + RELAY.flags, true),
      family,
      local: mem[at + RELAY.local],
      peerAddr,
      peerPort: dv.getUint16(at + RELAY.peerPort, true),
      rtcpPort: dv.getUint16(at + RELAY.rtcpPort, true),
      idleMs: dv.getUint16(at + RELAY.idle, true) * 1000,
      callId: Buffer.from(mem.subarray(at + RELAY.callId, at + RELAY.callId + n)).toString("latin1"),
    };
    let l = this.legs.get(leg);
    if (!l) {
      l = this.bind(leg, rec.port, rec.local, mem[at + RELAY.iface], (rec.flags & RelayFlag.RtcpMux) !== 0);
      if (!l) return;
    } else if (((rec.flags & RelayFlag.RtcpMux) !== 0) !== (l.rtcp === null)) {
      // the answer changed rtcp-mux (declined it: the RTCP port is bound now; took it: it is closed)
      if (l.rtcp) {
        l.rtcp.sock.close();
        l.rtcp = null;
      } else {
        l.rtcp = this.side(l, leg, rec.port + 1, rec.local);
      }
    }
    // a new peer (a re-INVITE to another address, an answer to an offer): latch again
    if (l.peerAddr !== rec.peerAddr || l.peerPort !== rec.peerPort || l.family !== rec.family) {
      l.rtp.latched = null;
      l.rtp.kind = Latch.None;
      if (l.rtcp) {
        l.rtcp.latched = null;
        l.rtcp.kind = Latch.None;
      }
    }
    l.partner = rec.partner;
    l.flags = rec.flags;
    l.family = rec.family;
    l.peerAddr = rec.peerAddr;
    l.peerKey = sdp.key;
    l.peerUnreliable = sdp.unreliable;
    l.peerPort = rec.peerPort;
    l.rtcpPort = rec.rtcpPort;
    l.idleMs = rec.idleMs;
    l.callId = rec.callId;
    l.reported = false;
    l.lastIn = this.hooks.now(); // an update (hold, resume) starts the idle time again
  }

  private bind(leg: number, port: number, family: number, iface: number, mux: boolean): Leg | null {
    const addr = this.addresses[iface]?.[family === 6 ? 6 : 4];
    if (!addr) {
      this.failed(leg, port, `no relay address of IPv${family} on interface ${iface}`, false);
      return null;
    }
    const l: Leg = {
      leg, bindAddr: addr, partner: -1, port, flags: 0, family: 0, peerAddr: "", peerKey: "", peerUnreliable: true, peerPort: 0, rtcpPort: 0, idleMs: 0, callId: "",
      rtp: null as unknown as Side, rtcp: null, lastIn: this.hooks.now(), reported: false,
      packets: 0, bytes: 0, dropped: 0, lost: 0, seq: -1,
    };
    l.rtp = this.side(l, leg, port, family);
    l.rtcp = mux ? null : this.side(l, leg, port + 1, family);
    this.legs.set(leg, l);
    return l;
  }

  /**
   * One socket of leg l, bound to `port` on its interface's address of `family` before this returns (a
   * lookup that answers at once: the host applies the relay's records before it sends the messages that
   * announce them, so a party's first packet never finds the port unbound). A failure, to bind or later,
   * is handled on the next turn of the loop, outside the core call that opened the leg.
   */
  private side(l: Leg, leg: number, port: number, family: number): Side {
    const sock = dgram.createSocket({ type: family === 6 ? "udp6" : "udp4", reuseAddr: false, lookup: numericLookup as never });
    const s: Side = { sock, latched: null, latchedAddr: "", latchedPort: 0, kind: Latch.None };
    sock.on("error", (e) => {
      try {
        sock.close();
      } catch {
        // never bound: nothing to close
      }
      setImmediate(() => this.failed(leg, port, (e as NodeJS.ErrnoException).code ?? e.message));
    });
    sock.on("message", (msg, r) => this.onPacket(leg, s === l.rtp, s, msg, r));
    sock.bind(port, l.bindAddr);
    return s;
  }

  /** A leg's port could not be bound (or its socket failed): reported once, the leg dropped. */
  private failed(leg: number, port: number, why: string, known = true): void {
    const l = this.legs.get(leg);
    if (known && !l) return; // its other socket's failure was reported already
    this.stats.relayBindFailed++;
    this.hooks.log("warn", "relay port not bound", { leg, port, error: why });
    if (l) this.drop(l);
    this.hooks.report(leg, RelayReport.BindFailed);
  }

  private onPacket(leg: number, isRtp: boolean, s: Side, msg: Buffer, r: dgram.RemoteInfo): void {
    const l = this.legs.get(leg);
    if (!l) return;
    const src = `${r.address}|${r.port}`;
    if (s.latched !== src) {
      // not from the latched source (or none yet): latch, replace, or drop (the comment at the top)
      const kind = this.latchKind(l, s, r);
      const take = kind === Latch.Exact ? s.kind !== Latch.Exact
        : kind === Latch.SameAddr ? s.kind === Latch.None || s.kind === Latch.Other
        : s.kind === Latch.None && l.peerUnreliable;
      if (!take) {
        l.dropped++;
        this.stats.relayDropped++;
        return;
      }
      s.latched = src;
      s.latchedAddr = r.address;
      s.latchedPort = r.port;
      s.kind = kind;
    }
    l.lastIn = this.hooks.now();
    l.packets++;
    l.bytes += msg.length;
    // RTCP on the RTP socket (rtcp-mux, or a party that muxes though its answer did not agree): told apart
    // by its packet type (RFC 5761 §4: 64..95 are never RTP's)
    if (isRtp && msg.length >= 2 && msg[1] >= 192 && msg[1] <= 223) isRtp = false;
    if (isRtp && msg.length >= 12 && msg[0] >> 6 === 2) {
      const seq = msg.readUInt16BE(2);
      if (l.seq >= 0) {
        const gap = (seq - l.seq - 1) & 0xffff;
        if (gap > 0 && gap < 0x8000) l.lost += gap; // ahead: the packets between are missing
      }
      if (l.seq < 0 || ((seq - l.seq) & 0xffff) < 0x8000) l.seq = seq;
    }
    const p = this.legs.get(l.partner);
    if (!p) return;
    const out = isRtp || !p.rtcp ? p.rtp : p.rtcp;
    const latched = isRtp ? p.rtp : p.rtcp ?? p.rtp;
    let addr: string;
    let port: number;
    if (latched.latched !== null) {
      addr = latched.latchedAddr;
      port = latched.latchedPort;
    } else if (p.family !== 0 && p.peerPort !== 0) {
      addr = p.peerAddr;
      port = isRtp ? p.peerPort : p.rtcpPort;
    } else {
      l.dropped++;
      this.stats.relayDropped++;
      return; // the partner's party is not known yet (an offer not answered) and has sent nothing
    }
    out.sock.send(msg, port, addr);
    this.stats.relayPackets++;
  }

  /** The kind of a packet from r on side s of leg l: the SDP's address and port of that socket (the RTCP
   * port on the RTCP socket, the RTP port under rtcp-mux), its address only, or another. */
  private latchKind(l: Leg, s: Side, r: dgram.RemoteInfo): Latch {
    if (l.peerKey === "") return Latch.Other;
    const f = writeAddr(r.address, srcBytes, 0); // IPv4-mapped IPv6 folded to IPv4, as the SDP's
    if (formatAddr(f, srcBytes, 0) !== l.peerKey) return Latch.Other;
    return r.port === (s === l.rtcp ? l.rtcpPort : l.peerPort) ? Latch.Exact : Latch.SameAddr;
  }

  /** Reports each stream with no packet either way for its idle time (once; the core ends the call). */
  private sweep(): void {
    const now = this.hooks.now();
    for (const l of this.legs.values()) {
      if (l.idleMs === 0 || l.reported) continue;
      const p = this.legs.get(l.partner);
      const last = Math.max(l.lastIn, p ? p.lastIn : 0);
      if (now - last < l.idleMs) continue;
      l.reported = true;
      if (p) p.reported = true;
      this.hooks.log("info", "relay idle", { leg: l.leg, callId: l.callId, idleS: l.idleMs / 1000 });
      this.hooks.report(l.leg, RelayReport.Idle);
    }
  }

  private close(leg: number): void {
    const l = this.legs.get(leg);
    if (!l) return;
    this.hooks.usage({
      event: "relay", callId: l.callId, leg: l.leg, port: l.port, video: (l.flags & RelayFlag.Video) !== 0,
      packets: l.packets, bytes: l.bytes, lost: l.lost, dropped: l.dropped,
      ...(l.rtp.latched ? { source: `${l.rtp.latchedAddr}:${l.rtp.latchedPort}` } : {}),
    });
    this.drop(l);
  }

  private drop(l: Leg): void {
    this.legs.delete(l.leg);
    for (const s of [l.rtp, l.rtcp]) {
      if (!s) continue;
      try {
        s.sock.close();
      } catch {
        // closed already (an error closed it)
      }
    }
  }

  stop(): void {
    clearInterval(this.sweeper);
    for (const l of [...this.legs.values()]) this.close(l.leg);
  }
}
