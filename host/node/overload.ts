// Local overload control (RFC 6357 §5): the host measures how long a datagram waits before the
// server gets to it and tells the core which share of new out-of-dialog requests to refuse with 503 +
// Retry-After (sip_cfg_set key 21, per mille; the core keeps serving retransmissions, ACK, CANCEL,
// in-dialog requests, REGISTER and OPTIONS, so calls already accepted finish).
//
// The measure: every PERIOD ms a probe datagram carrying its send time goes from a loopback socket
// to our own first UDP listener, through the same kernel queue and event loop as the traffic. An
// idle server sees it within a millisecond; a saturated one only after the queue ahead of it, and a
// full queue drops it. Each wait above HIGH_MS raises the share by UP (a lost probe by LOST_UP),
// each wait below LOW_MS lowers it by DOWN, so it settles where the server keeps up; a single
// garbage-collection pause moves it by UP only, and it is back to 0 within 5 s of the load stopping.
import dgram from "node:dgram";
import { performance } from "node:perf_hooks";
import type { Logger } from "./log.js";

const PERIOD = 50;
const HIGH_MS = 30;
const LOW_MS = 10;
const UP = 30;
const LOST_UP = 100;
const DOWN = 10;
const LOST_MS = 1000; // a probe not back within this counts as lost (the queue was full)
const MAX_SHED = 990; // never refuse everything: a trickle of new calls still measures recovery
const MAGIC = 0x534c5052; // "SLPR"

export class OverloadControl {
  shed = 0;
  /** Longest wait seen since shedding began, ms (reported when it ends). */
  private worst = 0;
  private sock: dgram.Socket | null = null;
  private timer: NodeJS.Timeout | null = null;
  private port = 0;
  private addr = ""; // the probe socket's address: a probe must come from it (no remote can steer us)
  private outstanding = 0; // send time of the newest unanswered probe (0 = none)
  private readonly probe = Buffer.alloc(12);

  constructor(
    private readonly family: 4 | 6,
    private readonly host: string, // our UDP listener's address as bound
    private readonly listenPort: number,
    private readonly apply: (permille: number) => void,
    private readonly log: Logger,
  ) {}

  async start(): Promise<void> {
    const loop = this.family === 6 ? "::1" : "127.0.0.1";
    const to = this.host === "0.0.0.0" || this.host === "::" ? loop : this.host;
    const sock = dgram.createSocket(this.family === 6 ? "udp6" : "udp4");
    this.sock = sock;
    sock.on("error", () => {}); // a full send buffer loses one probe: counted as lost
    await new Promise<void>((resolve) => sock.bind(0, to, () => resolve()));
    this.port = sock.address().port;
    this.addr = sock.address().address;
    this.probe.writeUInt32LE(MAGIC, 0);
    this.timer = setInterval(() => this.tick(to), PERIOD);
    this.timer.unref();
  }

  /** Is this datagram one of our probes? (checked before the core sees anything) */
  isProbe(address: string, port: number, msg: Buffer): boolean {
    return port === this.port && msg.length === 12 && address === this.addr && msg.readUInt32LE(0) === MAGIC;
  }

  onProbe(msg: Buffer): void {
    const wait = performance.now() - msg.readDoubleLE(4);
    if (this.outstanding !== 0 && msg.readDoubleLE(4) >= this.outstanding) this.outstanding = 0;
    this.adjust(wait);
  }

  private tick(to: string): void {
    const now = performance.now();
    if (this.outstanding !== 0 && now - this.outstanding > LOST_MS) {
      this.outstanding = 0;
      this.adjust(LOST_MS, LOST_UP);
    }
    if (this.outstanding === 0) this.outstanding = now;
    this.probe.writeDoubleLE(now, 4);
    this.sock?.send(this.probe, this.listenPort, to);
  }

  private adjust(wait: number, up = UP): void {
    if (this.shed > 0 && wait > this.worst) this.worst = wait;
    const before = this.shed;
    if (wait > HIGH_MS) this.shed = Math.min(MAX_SHED, this.shed + up);
    else if (wait < LOW_MS) this.shed = Math.max(0, this.shed - DOWN);
    if (this.shed === before) return;
    this.apply(this.shed);
    if (before === 0) {
      this.worst = wait;
      this.log.warn("overload: refusing new requests with 503", { shedPermille: this.shed, waitMs: Math.round(wait) });
    } else if (this.shed === 0) {
      this.log.info("overload over", { worstWaitMs: Math.round(this.worst) });
    }
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.sock?.close();
    this.sock = null;
  }
}
