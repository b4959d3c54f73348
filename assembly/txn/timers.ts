// RFC 3261 §17 timer values (Table 4) and the proxy's Timer C (§16.8), set at run time by the host
// (sip_cfg_set keys 1–4). Every timer is derived from T1, T2 and T4 as the RFC does.

export const enum TimerKind { A, B, C, D, E, F, G, H, I, J, K, L, M }

export class TimerConfig {
  t1: i64 = 500;
  t2: i64 = 4000;
  t4: i64 = 5000;
  timerC: i64 = 180000;

  /** Timer B, F, H, J, L, M: 64·T1. */
  get t64(): i64 { return this.t1 * 64; }
  /** Timer D: at least 32 s on unreliable transports, 0 on reliable ones. */
  timerD(reliable: bool): i64 { return reliable ? 0 : (this.t64 > 32000 ? this.t64 : 32000); }
}

export const timers = new TimerConfig();
