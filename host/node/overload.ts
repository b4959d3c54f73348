// Local overload control (RFC 6357 §5): the host measures how long a datagram waits before the
// server gets to it and tells the core which share of new out-of-dialog requests to refuse with 503 +
// Retry-After (sip_cfg_set key 21, per mille; the core keeps serving retransmissions, ACK, CANCEL,
// in-dialog requests, REGISTER and OPTIONS, so calls already accepted finish).
//
// The measure: every PERIOD_MS a probe datagram carrying its send time goes from a loopback socket
// to our own first UDP listener, through the same kernel queue and event loop as the traffic. An
// idle server sees it within a millisecond; a saturated one only after the queue ahead of it, and a
// full queue drops it. Once per period the rule below gets the period's longest wait: the longest
// wait of the probes that came back, or the age of the oldest probe still out (it has waited at
// least that long), and whether a probe was lost (out longer than LOST_MS: the queue overflowed).
// A probe cannot be sent while the process is stopped or paused for a garbage collection, so a tick
// that runs late sends its probe with the lateness in it, and when that probe finds a queue (waits
// over HIGH_MS), the lateness counts as wait too: what arrived during the pause waited for the pause
// and then for the queue after it, as the native host's kernel time stamps would show.
//
// The rule (OverloadRule; host/c/overload.c implements the same rule with the same constants, fed by
// the kernel's arrival time stamps instead of probes):
// - Evidence before shedding. A datagram read at time t after waiting w > HIGH_MS proves the queue
//   held something older than HIGH_MS from t - w + HIGH_MS until t. Consecutive periods over HIGH_MS
//   join into one stretch; a period at or under HIGH_MS ends it. Shedding starts only once a stretch
//   lasts ONSET_MS (or a probe is lost). Then the share starts where rising by UP per period of the
//   stretch would have taken it, so waiting for evidence costs no ground against a real overload.
// - While shedding: a period over HIGH_MS raises the share by UP (a lost probe by LOST_UP), one under
//   LOW_MS lowers it by DOWN, one in between holds it (hysteresis: start over 30 ms, ease off under
//   10 ms), so the share settles where the server keeps up. At 0 shedding ends ("overload over"), and
//   starting again needs fresh evidence.
// Why: local overload control (RFC 6357 §5) has a server reject the work it cannot serve in time, so
// that the load it accepts is served well; it must do so only while overloaded, since a 503 to a call
// the server could have served is a failed call for nothing. A garbage-collection pause (tens of ms) or a burst delays the
// queue for less than the pause and its catch-up, which at half load is about twice the pause less
// 2 x HIGH_MS, so pauses up to ~150 ms at half load shed nothing; an overload keeps the queue behind
// for as long as it lasts and is shed within ONSET_MS + one period. A lost probe needs no more
// evidence: a queue that overflows is the overload itself. A single stall longer than
// ONSET_MS + HIGH_MS (280 ms) does shed: for that long the server was not serving, and the backlog
// it leaves is served better with the share that a stretch of that length earns.
import dgram from "node:dgram";
import { performance } from "node:perf_hooks";
import type { Logger } from "./log.js";

export const PERIOD_MS = 50; // one measure per period
export const HIGH_MS = 30; // a wait over this is behind (and, while shedding, raises the share)
export const LOW_MS = 10; // while shedding, a wait under this lowers the share
export const ONSET_MS = 250; // how long the queue must stay behind before shedding starts
export const UP = 30; // per mille per period over HIGH_MS
export const LOST_UP = 100; // per mille for a lost probe (a full queue)
export const DOWN = 10; // per mille per period under LOW_MS: from 700, 3.5 s to 0 once the load stops
export const MAX_SHED = 990; // never refuse everything: a trickle of new calls still measures recovery
const LOST_MS = 1000; // a probe not back within this counts as lost (the queue was full)
const MAGIC = 0x534c5052; // "SLPR"
const PROBE_LEN = 20; // magic u32, send time f64 (ms), lateness of the tick that sent it f64 (ms)

/** The decision rule alone: no clock, no socket (tests feed it synthetic periods). */
export class OverloadRule {
  /** The share of new out-of-dialog requests to refuse, per mille. */
  shed = 0;
  /** The stretch that started the current shedding (ms), for the log. */
  onsetMs = 0;
  /** The longest wait since shedding started (ms), for the log. */
  worst = 0;
  private behind = false; // the last period was over HIGH_MS
  private since = 0; // the current stretch: the queue was behind from `since` ...
  private until = 0; // ... until `until` (ms)

  /**
   * One period: `wait` is its longest queue wait (ms; 0 when nothing was read), `at` when the datagram
   * that waited it was read (ms, any one clock), `lost` whether the queue overflowed in the period.
   * Returns the new share, per mille.
   */
  period(wait: number, at: number, lost = false): number {
    if (wait > HIGH_MS) {
      const from = at - wait + HIGH_MS;
      if (!this.behind || from < this.since) this.since = from;
      this.until = at;
      this.behind = true;
    } else {
      this.behind = false;
    }
    if (this.shed === 0) {
      const stretch = this.behind ? this.until - this.since : 0;
      if (stretch < ONSET_MS && !lost) return 0;
      this.onsetMs = stretch;
      this.worst = wait;
      this.shed = Math.min(MAX_SHED, UP * Math.floor(stretch / PERIOD_MS) + (lost ? LOST_UP : 0));
      return this.shed;
    }
    if (wait > this.worst) this.worst = wait;
    if (lost) this.shed = Math.min(MAX_SHED, this.shed + LOST_UP);
    else if (wait > HIGH_MS) this.shed = Math.min(MAX_SHED, this.shed + UP);
    else if (wait < LOW_MS) this.shed = Math.max(0, this.shed - DOWN);
    return this.shed;
  }
}

export class OverloadControl {
  private readonly rule = new OverloadRule();
  private sock: dgram.Socket | null = null;
  private timer: NodeJS.Timeout | null = null;
  private port = 0;
  private addr = ""; // the probe socket's address: a probe must come from it (no remote can steer us)
  private outstanding = 0; // send time of the oldest unanswered probe (0 = none)
  private wait = 0; // longest wait of the probes back this period, ms
  private waitAt = 0; // when that probe was read
  private shedSince = 0; // when shedding started
  private lastTick = 0; // when the previous tick ran
  private readonly probe = Buffer.alloc(PROBE_LEN);

  constructor(
    private readonly family: 4 | 6,
    private readonly host: string, // our UDP listener's address as bound
    private readonly listenPort: number,
    private readonly apply: (permille: number) => void,
    private readonly log: Logger,
  ) {}

  get shed(): number {
    return this.rule.shed;
  }

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
    this.timer = setInterval(() => this.tick(to), PERIOD_MS);
    this.timer.unref();
  }

  /** Is this datagram one of our probes? (checked before the core sees anything) */
  isProbe(address: string, port: number, msg: Buffer): boolean {
    return port === this.port && msg.length === PROBE_LEN && address === this.addr && msg.readUInt32LE(0) === MAGIC;
  }

  onProbe(msg: Buffer): void {
    const now = performance.now();
    const sent = msg.readDoubleLE(4);
    let wait = now - sent;
    if (wait > HIGH_MS) wait += msg.readDoubleLE(12); // a queue after a pause: the pause was wait too
    if (wait > this.wait) { this.wait = wait; this.waitAt = now; }
    if (this.outstanding !== 0 && sent >= this.outstanding) this.outstanding = 0;
  }

  /** End of a period: the rule gets its measure, then the next probe goes out. */
  private tick(to: string): void {
    const now = performance.now();
    let wait = this.wait, at = this.waitAt, lost = false;
    if (this.outstanding !== 0) {
      const age = now - this.outstanding; // still in the queue: it has waited at least this long
      if (age > LOST_MS) { lost = true; this.outstanding = 0; }
      if (age > wait) { wait = age; at = now; }
    }
    this.wait = 0;
    const late = this.lastTick === 0 ? 0 : Math.max(0, now - this.lastTick - PERIOD_MS);
    this.lastTick = now;
    const before = this.rule.shed;
    const shed = this.rule.period(wait, at, lost);
    if (shed !== before) {
      this.apply(shed);
      if (before === 0) {
        this.shedSince = now;
        this.log.warn("overload: refusing new requests with 503", {
          shedPermille: shed, waitMs: Math.round(wait), behindMs: Math.round(this.rule.onsetMs), lost,
        });
      } else if (shed === 0) {
        this.log.info("overload over", { worstWaitMs: Math.round(this.rule.worst), shedMs: Math.round(now - this.shedSince) });
      }
    }
    if (this.outstanding === 0) this.outstanding = now;
    this.probe.writeDoubleLE(now, 4);
    this.probe.writeDoubleLE(late, 12);
    this.sock?.send(this.probe, this.listenPort, to);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.sock?.close();
    this.sock = null;
  }
}
