// The core's ABI as seen from Node (docs/ABI.md is the contract): export names, record layouts,
// codes, and a Core wrapper that checks the exports and keeps cached views of linear memory.
//
// Peer record (32 bytes, little-endian), at sip_peer_ptr() (input) and sip_tx_meta_ptr() (output):
//   +0 u32 conn | +4 u8 transport | +5 u8 family | +6 u16 port | +8 u8[16] addr | +24 u32 flags | +28 u32 reserved
// Event record at sip_event_ptr():
//   +0 u32 kind | +4 i32 code | +8 f64 time | +16 u32 value | +20 u32 lost | +24 Peer(32)
//   +56 u16 len1..len4 | +64 text1 text2 text3 text4

export const PEER = { conn: 0, transport: 4, family: 5, port: 6, addr: 8, flags: 24, sel: 28, size: 32 } as const;
export const EVENT = { kind: 0, code: 4, time: 8, value: 16, lost: 20, peer: 24, lens: 56, text: 64 } as const;

// Every ABI number (protos, config keys and kinds, results, event kinds, stat ids) and the event and
// stat names come from host/shared/abi.json through the generated ./numbers.ts.
export { Proto, PROTO_NAMES, CfgKey, CfgKind, CfgResult, EventKind, EVENTS, STAT_NAMES } from "./numbers.js";
import { STAT_NAMES, Layout } from "./numbers.js";
import v8 from "node:v8";
import vm from "node:vm";

/** The exports the host calls, in the ABI's call order (the first missing one is reported). */
export const REQUIRED_EXPORTS = [
  "memory", "_initialize", "sip_init",
  "sip_cfg_ptr", "sip_cfg_cap", "sip_cfg_set", "sip_cfg_add", "sip_transport_add",
  "sip_rx_ptr", "sip_rx_cap", "sip_peer_ptr",
  "sip_handle_datagram", "sip_handle_stream", "sip_handle_conn_closed", "sip_handle_timeout",
  "sip_poll_transmit", "sip_tx_ptr", "sip_tx_meta_ptr", "sip_tx_name_ptr",
  "sip_poll_timeout", "sip_poll_event", "sip_event_ptr", "sip_shutdown",
] as const;

export interface Exports {
  memory: WebAssembly.Memory;
  _initialize(): void;
  sip_init(seedLo: number, seedHi: number, now: number): number;
  sip_cfg_ptr(): number;
  sip_cfg_cap(): number;
  sip_cfg_set(key: number, value: number): number;
  sip_cfg_add(kind: number, len: number): number;
  sip_transport_add(id: number, proto: number, len: number): number;
  sip_rx_ptr(): number;
  sip_rx_cap(): number;
  sip_peer_ptr(): number;
  sip_handle_datagram(now: number, len: number): number;
  sip_handle_stream(now: number, len: number): number;
  sip_handle_conn_closed(now: number, conn: number): void;
  sip_handle_timeout(now: number): void;
  sip_poll_transmit(now: number): number;
  sip_tx_ptr(): number;
  sip_tx_meta_ptr(): number;
  sip_tx_name_ptr(): number;
  sip_poll_timeout(): number;
  sip_poll_event(): number;
  sip_event_ptr(): number;
  sip_shutdown(now: number): number;
  sip_stat?(id: number): number;
  /** the media relay (docs/ABI.md "Media relay"): cores without it return 0 / do nothing */
  sip_poll_relay?(): number;
  sip_relay_ptr?(): number;
  sip_relay_report?(now: number, leg: number, what: number): void;
  /** the location service as text lines (LocOp): server and b2bua cores; sip_loc_ptr 0 elsewhere */
  sip_loc_ptr?(): number;
  sip_loc?(op: number, now: number, arg: number): number;
  /** the requests held for their transport (docs/ABI.md "Transport by DNS"): 0 / nothing where the core has none */
  sip_poll_resolve?(now: number): number;
  sip_resolved?(now: number, id: number, proto: number): void;
  /** the layout record (docs/ABI.md "Layout"): 0 where the core's tables are fixed */
  sip_layout_ptr?(): number;
  /** a response-time histogram's slot (abi.json "histograms"); -1 where the core keeps none */
  sip_hist?(series: number, slot: number): number;
}

export class CoreError extends Error {}

/** Names of the required exports the module lacks (empty = complete). */
export function missingExports(mod: WebAssembly.Module): string[] {
  const have = new Set(WebAssembly.Module.exports(mod).map((e) => e.name));
  return REQUIRED_EXPORTS.filter((n) => !have.has(n));
}

/**
 * One instance of the core. `mem` (a Buffer) and `dv` (a DataView) cover the whole linear memory;
 * call `views()` before touching them: it rebuilds them only if the memory grew (the old
 * ArrayBuffer is then detached and its byteLength reads 0).
 */
export class Core {
  readonly ex: Exports;
  mem!: Buffer;
  dv!: DataView;
  readonly rxPtr: number;
  readonly rxCap: number;
  readonly peerPtr: number;
  readonly txPtr: number;
  readonly txMetaPtr: number;
  readonly txNamePtr: number;
  readonly eventPtr: number;
  readonly cfgPtr: number;
  readonly cfgCap: number;

  /** The capacities laid out (docs/ABI.md "Layout", by Layout word), or null where the core has fixed
   * tables. */
  readonly laidOut: number[] | null;

  /**
   * `layout`: the capacities to lay the tables out at, by Layout word (docs/ABI.md "Layout"; 0 = the board's), written
   * before `_initialize` where the core lays its tables out (server, b2bua); ignored elsewhere.
   */
  constructor(mod: WebAssembly.Module, layout: readonly number[] = []) {
    const missing = missingExports(mod);
    if (missing.length) {
      const err = new CoreError(`core lacks export ${missing[0]}: build the core first (npm run build)`);
      (err as CoreError & { missing: string[] }).missing = missing;
      throw err;
    }
    const inst = new WebAssembly.Instance(mod, {});
    this.ex = inst.exports as unknown as Exports;
    const at = this.ex.sip_layout_ptr ? this.ex.sip_layout_ptr() >>> 0 : 0;
    if (at !== 0) new Uint32Array(this.ex.memory.buffer, at, Layout.Count).set(Array.from({ length: Layout.Count }, (_, i) => layout[i] ?? 0));
    this.ex._initialize();
    this.laidOut = at !== 0 ? Array.from(new Uint32Array(this.ex.memory.buffer, at, Layout.Count)) : null;
    this.refresh();
    const ex = this.ex;
    this.rxPtr = ex.sip_rx_ptr() >>> 0;
    this.rxCap = ex.sip_rx_cap() >>> 0;
    this.peerPtr = ex.sip_peer_ptr() >>> 0;
    this.txPtr = ex.sip_tx_ptr() >>> 0;
    this.txMetaPtr = ex.sip_tx_meta_ptr() >>> 0;
    this.txNamePtr = ex.sip_tx_name_ptr() >>> 0;
    this.eventPtr = ex.sip_event_ptr() >>> 0;
    this.cfgPtr = ex.sip_cfg_ptr() >>> 0;
    this.cfgCap = ex.sip_cfg_cap() >>> 0;
  }

  refresh(): void {
    const ab = this.ex.memory.buffer;
    this.mem = Buffer.from(ab);
    this.dv = new DataView(ab);
  }

  /** Cheap check, once per host call: rebuild the views if memory.buffer changed. */
  views(): void {
    if (this.mem.length === 0) this.refresh(); // a grown memory detaches the old buffer
  }

  /** Writes text into the cfg buffer; returns its byte length (throws if it does not fit). */
  putCfg(text: string): number {
    this.views();
    const n = Buffer.byteLength(text, "utf8");
    if (n > this.cfgCap) throw new CoreError(`"${text}" (${n} bytes) exceeds the core's cfg buffer (${this.cfgCap})`);
    this.mem.write(text, this.cfgPtr, n, "utf8");
    return n;
  }

  /** Writes raw bytes into the cfg buffer; returns the length. Never echoes them (secrets). */
  putCfgBytes(bytes: Uint8Array): number {
    this.views();
    if (bytes.length > this.cfgCap) throw new CoreError(`${bytes.length} bytes exceed the core's cfg buffer (${this.cfgCap})`);
    this.mem.set(bytes, this.cfgPtr);
    return bytes.length;
  }

  /** Zeroes the cfg buffer (after a secret; the core wipes it too). */
  wipeCfg(): void {
    this.views();
    this.mem.fill(0, this.cfgPtr, this.cfgPtr + this.cfgCap);
  }

  /** Writes every page of the core's memory (each byte it holds, unchanged) so the OS commits the
   * pages now: the process's RSS is then fixed from start-up, like a microcontroller's RAM. */
  prefault(): void {
    const m = new Uint8Array(this.ex.memory.buffer);
    for (let i = 0; i < m.length; i += 4096) m[i] = m[i];
  }

  stats(): Record<string, number> | undefined {
    const f = this.ex.sip_stat;
    if (typeof f !== "function") return undefined;
    const out: Record<string, number> = {};
    STAT_NAMES.forEach((n, i) => {
      const v = f(i);
      if (v >= 0) out[n] = v; // an older core answers -1 for an id it does not know
    });
    return out;
  }
}

/**
 * Grows V8's young generation to its limit now (prefault's other half): V8 starts it at 1 MB and
 * doubles it under a high allocation rate up to its fixed maximum (32 MB), which a busy server reaches
 * in its first minute. Objects that survive a few scavenges are allocated and dropped, then a full GC
 * gives the old generation back. About 250 ms at start.
 */
export function prefaultHeap(): void {
  for (let round = 0; round < 3; round++) {
    let keep: unknown[] | null = [];
    for (let i = 0; i < 400_000; i++) keep.push({ a: i, b: [i, i + 1] });
    keep = null;
  }
  v8.setFlagsFromString("--expose-gc");
  (vm.runInNewContext("gc") as () => void)();
}
