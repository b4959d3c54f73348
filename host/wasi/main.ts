// sipling WASI host: a WASI command that links the core in-process (the ABI functions of
// assembly/host/abi.ts are ordinary calls here: no wasm boundary between host and core) and owns the
// event loop on WasmEdge's socket extension.
//
//   wasmedge [--dir GUEST:HOST] sipling-wasi.wasm [--config FILE] [--listen udp:HOST:PORT]...
//            [--domain NAME]... [--log-level L] [--trace] [--print-config]
//
// The configuration is the one of every host (host/shared/config.json), walked from the generated
// ./schema.ts by ./config.ts: the file is read through a preopened directory (wasmedge --dir),
// keys this host does not implement are refused, the secure default applies, and every core key is
// applied with sip_cfg_set / sip_cfg_add (any refusal exits 2 naming the key).
//
// Loop (docs/ABI.md, "Call order"): poll_oneoff on one read subscription per UDP socket plus one
// clock subscription for the core's next deadline; each readable socket is drained with
// sock_recv_from straight into the core's RX buffer, the peer record filled in place, and
// sip_handle_datagram called; after every input: sip_poll_transmit -> sock_send_to until 0,
// sip_poll_timeout -> the next clock subscription, sip_poll_event -> JSON log lines on stdout.
//
// Names: this host has no DNS and never blocks on one. WasmEdge's only resolver call, sock_getaddrinfo,
// is synchronous (it returns when the lookup ends: a silent DNS server holds it for its whole timeout)
// and there is no asynchronous one to poll; so a transmit to a host name (peer family 0) is sent only
// when the name is an IP literal, else dropped with a warning (its transaction retransmits, then times
// out). dns.servers and dns.timeout are not keys of this host: the configuration refuses them. Route
// by address (outboundProxy sip:192.0.2.1, contacts registered with addresses).
//
// Nothing here allocates after start-up (the build uses --runtime stub): buffers are static data,
// strings are literals, numbers are formatted digit by digit into the output buffer.
//
// Exit status: 0 ok (--help, --print-config), 1 runtime error (a socket that cannot be bound), 2 usage
// or configuration error.

import {
  sip_init, sip_cfg_set, sip_cfg_add, sip_cfg_ptr, sip_cfg_cap, sip_transport_add, sip_rx_ptr, sip_rx_cap,
  sip_peer_ptr, sip_handle_datagram, sip_handle_timeout, sip_poll_transmit, sip_tx_ptr, sip_tx_meta_ptr,
  sip_tx_name_ptr, sip_poll_timeout, sip_poll_event, sip_event_ptr, sip_stat,
} from "../../assembly/host/abi";
import {
  args_sizes_get, args_get, poll_oneoff, fd_fdstat_set_flags,
  sock_open, sock_setsockopt, sock_bind, sock_getlocaladdr, sock_recv_from, sock_send_to,
  ERRNO_AGAIN, ERRNO_INTR, CLOCK_MONOTONIC, FDFLAGS_NONBLOCK, EVENTTYPE_CLOCK, EVENTTYPE_FD_READ,
  ROFLAGS_DATA_TRUNCATED, AF_INET, AF_INET6, SOCK_DGRAM, SOL_SOCKET, SO_RCVBUF, SO_SNDBUF,
} from "./wasi";
import {
  flush, toStderr, toStdout, putByte, putStr, putBytes, putEscaped, putU64, putHexByte, putMs, setLevel, on,
  begin, beginBytes, key, keyBytes, kvStr, kvBytes, kvInt, kvU64, end, Level, stdoutNonBlocking,
} from "./out";
import { parse4, parse6, isMapped, putPeer, put4, put6 } from "./addr";
import {
  configArgs, configLoad, configUsage, configPrint, configCheckSecure, configApply, configLevel, configTrace, configPrefault,
  usersCount, domainsNode, realmNode, listensNode, wantHelp, wantPrint, wantVersion, MAX_LISTEN, CORE_BOARD,
} from "./config";
import { nFirst, nNext, nPtr, nLen } from "./json";
import { EVENT_TABLE, EVENT_FIELDS, EVENT_LIMIT, BLOB, VERSION } from "./schema";
import { Proto } from "../../assembly/host/numbers";
import { P2, sysExit, sysRandom8, sysMonotonicNs } from "./sys";
import {
  bumpReset, get_arguments, poll, pollable_drop, subscribe_duration, instance_network, create_udp_socket,
  udp_start_bind, udp_finish_bind, udp_stream, udp_local_address, udp_set_receive_buffer_size,
  udp_set_send_buffer_size, udp_receive, udp_in_subscribe, udp_check_send, udp_send,
} from "./p2";

const HEAD = P2
  ? "sipling (WASI host) - SIP proxy and registrar, a WASI 0.2 component (wasi:sockets, wasi:io/poll, wasi:clocks)"
  : "sipling (WASI host) - SIP proxy and registrar on WasmEdge's socket extension";
const NAME = P2
  ? "wasmtime run -S inherit-network,cli-exit-with-code [--dir HOSTDIR::GUESTDIR] sipling-wasip2.wasm"
  : "wasmedge [--dir GUEST:HOST] sipling-wasi.wasm";
const TAIL = "UDP only, numeric listen addresses (port 0 picks a free port); a wildcard address advertises loopback (WASI has no interface list). Logs are JSON lines on stdout (the Node host's format). Stop with SIGTERM/SIGINT (the runtime ends the process). Exit status: 0 ok, 1 runtime error, 2 usage/configuration error.";

// ---- static state ----------------------------------------------------------------------------

const RECV_BURST: u32 = 256; // datagrams read from one socket per wake-up before polling again
const SOCK_BUF: u32 = 4 * 1024 * 1024;

// per listener: fd, family, port, bind address (16), advertised text (64 + len)
const L_FD: usize = memory.data(<i32>(MAX_LISTEN * 4), 4);
const L_FAM: usize = memory.data(<i32>MAX_LISTEN);
const L_PORT: usize = memory.data(<i32>(MAX_LISTEN * 2), 2);
const L_ADDR: usize = memory.data(<i32>(MAX_LISTEN * 16), 8);
const L_HOST: usize = memory.data(<i32>(MAX_LISTEN * 4), 4); // arg pointer of the host text
const L_HOSTLEN: usize = memory.data(<i32>(MAX_LISTEN * 4), 4);
const L_WILD: usize = memory.data(<i32>MAX_LISTEN);
let nListen: u32 = 0;


// poll_oneoff: one read subscription per listener, then the clock one (48 bytes each); events 32 bytes
const SUBS: usize = memory.data(<i32>((MAX_LISTEN + 1) * 48), 8);
const EVENTS: usize = memory.data(<i32>((MAX_LISTEN + 1) * 32), 8);
const NEVENTS: usize = memory.data(4, 4);

// socket call scratch
const IOV: usize = memory.data(8, 4);
const ADDR: usize = memory.data(8, 4); // {u32 buf, u32 len}
const ADDRBUF: usize = memory.data(128, 8);
const PORT: usize = memory.data(4, 4);
const NREAD: usize = memory.data(4, 4);
const ROFLAGS: usize = memory.data(4, 4);
const FAMOUT: usize = memory.data(4, 4);
const FD: usize = memory.data(4, 4);
const OPT: usize = memory.data(4, 4);
const SEED: usize = memory.data(8, 8);
const DEST: usize = memory.data(16, 8);

let t0: u64 = 0;
let trace = false;
let armed: f64 = -1; // the core's next deadline (ms), -1 = none
let sendErrors: u64 = 0;

// core addresses (fixed for the life of the process)
let RX: usize = 0;
let RXCAP: u32 = 0;
let PEER: usize = 0;
let TX: usize = 0;
let TXMETA: usize = 0;
let TXNAME: usize = 0;
let EV: usize = 0;
let CFG: usize = 0;

function now(): f64 {
  return <f64>(sysMonotonicNs() - t0) / 1e6;
}

// ---- errors ----------------------------------------------------------------------------------

function usageError(flag: string, what: string, p: usize, n: u32): void {
  toStderr();
  putStr("usage error: \"");
  putStr(flag);
  putStr("\": ");
  putStr(what);
  if (p != 0) {
    putStr(", got \"");
    putEscaped(p, n);
    putByte(0x22);
  }
  putByte(10);
  flush();
  sysExit(2);
}

function fatal(msg: string, field: string, p: usize, n: u32, errno: i32): void {
  begin(Level.Error, msg);
  if (p != 0) kvBytes(field, p, n);
  if (errno != 0) kvInt("errno", errno);
  end();
  flush();
  sysExit(1);
}

// ---- arguments -------------------------------------------------------------------------------

function eq(p: usize, n: u32, s: string): bool {
  if (n != <u32>s.length) return false;
  for (let i: u32 = 0; i < n; i++) if (<u32>load<u8>(p + i) != <u32>s.charCodeAt(<i32>i)) return false;
  return true;
}

function startsWith(p: usize, n: u32, s: string): bool {
  const m = <u32>s.length;
  if (n < m) return false;
  for (let i: u32 = 0; i < m; i++) if (<u32>load<u8>(p + i) != <u32>s.charCodeAt(<i32>i)) return false;
  return true;
}

function strlen(p: usize): u32 {
  let n: u32 = 0;
  while (load<u8>(p + n) != 0) n++;
  return n;
}

/** udp:HOST:PORT / udp:[V6]:PORT (checked by the configuration walker) -> listener slot nListen. */
function addListen(p: usize, n: u32): void {
  if (startsWith(p, n, "tcp:") || startsWith(p, n, "tls:") || startsWith(p, n, "ws:") || startsWith(p, n, "wss:"))
    usageError("--listen", "the WASI host listens on UDP only (udp:HOST:PORT)", p, n);
  if (!startsWith(p, n, "udp:")) usageError("--listen", "expected \"udp:HOST:PORT\"", p, n);
  if (nListen >= MAX_LISTEN) usageError("--listen", "too many listen addresses (at most 64)", p, n);
  // port: digits after the last ':'
  let c = n;
  while (c > 4 && load<u8>(p + c - 1) != 58) c--;
  if (c <= 5 || c == n || n - c > 5) usageError("--listen", "expected \"udp:HOST:PORT\"", p, n);
  let port: u32 = 0;
  for (let i = c; i < n; i++) {
    const d = <u32>load<u8>(p + i);
    if (d < 48 || d > 57) usageError("--listen", "expected \"udp:HOST:PORT\"", p, n);
    port = port * 10 + d - 48;
  }
  if (port > 65535) usageError("--listen", "port out of range", p, n);
  let h = p + 4;
  let hn = c - 1 - 4;
  const i = nListen;
  const a = L_ADDR + (i << 4);
  memory.fill(a, 0, 16);
  let fam: u32 = 0;
  if (hn >= 2 && load<u8>(h) == 91 && load<u8>(h + hn - 1) == 93) {
    if (parse6(h + 1, hn - 2, a)) fam = 6;
  } else if (parse4(h, hn, a)) fam = 4;
  else if (eq(h, hn, "localhost")) {
    store<u32>(a, 0x0100007f);
    fam = 4;
    h = changetype<usize>(0); // advertise 127.0.0.1
  }
  if (fam == 0) usageError("--listen", "expected a numeric address (a.b.c.d or [v6]) in \"udp:HOST:PORT\"", p, n);
  store<u8>(L_FAM + i, <u8>fam);
  store<u16>(L_PORT + (i << 1), <u16>port);
  store<u32>(L_HOST + (i << 2), <u32>h);
  store<u32>(L_HOSTLEN + (i << 2), hn);
  let wild = true;
  for (let k: u32 = 0; k < (fam == 4 ? 4 : 16); k++) if (load<u8>(a + k) != 0) wild = false;
  store<u8>(L_WILD + i, wild ? 1 : 0);
  nListen++;
}

// the command line, in static memory (nothing is allocated here, not even at start-up)
const ARGS_CAP: u32 = 32768;
const ARGC_CAP: u32 = 1024;
const ARGS: usize = memory.data(<i32>ARGS_CAP);
const ARGV: usize = memory.data(<i32>(ARGC_CAP * 4), 4);

function parseArgs(): void {
  if (P2) {
    parseArgsP2();
    return;
  }
  const sizes = memory.data(8, 4);
  if (args_sizes_get(sizes, sizes + 4) != 0) return;
  const argc = load<u32>(sizes);
  const bytes = load<u32>(sizes + 4);
  if (argc > ARGC_CAP || bytes > ARGS_CAP) {
    toStderr();
    putStr("usage error: the command line is too long (at most 1024 arguments, 32 KiB)\n");
    flush();
    sysExit(2);
  }
  if (args_get(ARGV, ARGS) != 0) return;
  configArgs(ARGV, argc);
}

/** wasi:cli/environment get-arguments (a list<string> in the bump area), copied into ARGS/ARGV NUL-terminated. */
function parseArgsP2(): void {
  const ret = memory.data(8, 4);
  bumpReset();
  get_arguments(ret);
  const list = <usize>load<u32>(ret);
  const argc = load<u32>(ret, 4);
  let bytes: u32 = 0;
  for (let i: u32 = 0; i < argc && bytes <= ARGS_CAP; i++) bytes += load<u32>(list + (i << 3), 4) + 1;
  if (argc > ARGC_CAP || bytes > ARGS_CAP) {
    toStderr();
    putStr("usage error: the command line is too long (at most 1024 arguments, 32 KiB)\n");
    flush();
    sysExit(2);
  }
  let at = ARGS;
  for (let i: u32 = 0; i < argc; i++) {
    const n = load<u32>(list + (i << 3), 4);
    memory.copy(at, <usize>load<u32>(list + (i << 3)), n);
    store<u8>(at + n, 0);
    store<u32>(ARGV + (i << 2), <u32>at);
    at += n + 1;
  }
  configArgs(ARGV, argc);
}

// ---- sockets ---------------------------------------------------------------------------------

function bindAll(): void {
  if (P2) {
    bindAllP2();
    return;
  }
  for (let i: u32 = 0; i < nListen; i++) {
    const fam = <u32>load<u8>(L_FAM + i);
    const a = L_ADDR + (i << 4);
    let e = sock_open(fam == 6 ? AF_INET6 : AF_INET, SOCK_DGRAM, FD);
    if (e != 0) fatalListen(i, "cannot open a UDP socket", e);
    const fd = load<u32>(FD);
    store<u32>(L_FD + (i << 2), fd);
    store<i32>(OPT, <i32>SOCK_BUF);
    sock_setsockopt(fd, SOL_SOCKET, SO_RCVBUF, OPT, 4); // capped by net.core.rmem_max; best effort
    store<i32>(OPT, <i32>SOCK_BUF);
    sock_setsockopt(fd, SOL_SOCKET, SO_SNDBUF, OPT, 4);
    store<u32>(ADDR, <u32>a);
    store<u32>(ADDR, fam == 6 ? 16 : 4, 4);
    e = sock_bind(fd, ADDR, <u32>load<u16>(L_PORT + (i << 1)));
    if (e != 0) fatalListen(i, "cannot listen", e);
    if (load<u16>(L_PORT + (i << 1)) == 0) {
      // port 0: ask which one we got
      memory.fill(ADDRBUF, 0, 128);
      store<u32>(ADDR, <u32>ADDRBUF);
      store<u32>(ADDR, 16, 4); // WasmEdge 0.14 takes 4 or 16 here (INVAL for 128)
      store<u32>(PORT, 0);
      e = sock_getlocaladdr(fd, ADDR, FAMOUT, PORT);
      if (e != 0) fatalListen(i, "cannot read the bound port", e);
      store<u16>(L_PORT + (i << 1), <u16>load<u32>(PORT));
    }
    e = fd_fdstat_set_flags(fd, FDFLAGS_NONBLOCK);
    if (e != 0) fatalListen(i, "cannot make the socket non-blocking", e);
    // read subscription i: userdata = i + 1
    const s = SUBS + i * 48;
    memory.fill(s, 0, 48);
    store<u64>(s, <u64>(i + 1));
    store<u8>(s + 8, EVENTTYPE_FD_READ);
    store<u32>(s + 16, fd);
  }
}

// ---- sockets on WASI 0.2 (wasi:sockets/udp, wasi:io/poll) ---------------------------------------
// per listener: the udp-socket, its incoming and outgoing datagram streams, the incoming stream's
// pollable (made once, polled every turn), and how many datagrams check-send still permits
const L_SOCK: usize = memory.data(<i32>(MAX_LISTEN * 4), 4);
const L_IN: usize = memory.data(<i32>(MAX_LISTEN * 4), 4);
const L_OUT: usize = memory.data(<i32>(MAX_LISTEN * 4), 4);
const L_PERMIT: usize = memory.data(<i32>(MAX_LISTEN * 4), 4);
// poll's list<borrow<pollable>>: the listeners' pollables, then the timer's
const POLLS: usize = memory.data(<i32>((MAX_LISTEN + 1) * 4), 4);
const RET: usize = memory.data(64, 8);
// one outgoing-datagram record: data (ptr, len) @0, option<ip-socket-address> tag @8, address @12
const OUTDG: usize = memory.data(48, 8);
let network: i32 = -1;

/** ip-socket-address flattened: the 11 i32 after the discriminant, from family, 4/16 address bytes, port. */
const FLAT: usize = memory.data(48, 4);
function flatten(fam: u32, a: usize, port: u32): void {
  memory.fill(FLAT, 0, 48);
  store<i32>(FLAT, <i32>port);
  if (fam == 4) {
    for (let k: u32 = 0; k < 4; k++) store<i32>(FLAT + ((1 + k) << 2), <i32>load<u8>(a + k));
  } else {
    // flow-info 0, eight u16 groups (network order in memory), scope-id 0
    for (let k: u32 = 0; k < 8; k++) store<i32>(FLAT + ((2 + k) << 2), (<i32>load<u8>(a + (k << 1)) << 8) | <i32>load<u8>(a + (k << 1) + 1));
  }
}

function bindAllP2(): void {
  network = instance_network();
  for (let i: u32 = 0; i < nListen; i++) {
    const fam = <u32>load<u8>(L_FAM + i);
    const a = L_ADDR + (i << 4);
    create_udp_socket(fam == 6 ? 1 : 0, RET);
    if (load<u8>(RET) != 0) fatalListen(i, "cannot open a UDP socket", <i32>load<u8>(RET, 4));
    const h = load<i32>(RET, 4);
    store<i32>(L_SOCK + (i << 2), h);
    flatten(fam, a, <u32>load<u16>(L_PORT + (i << 1)));
    udp_start_bind(h, network, fam == 6 ? 1 : 0, load<i32>(FLAT), load<i32>(FLAT, 4), load<i32>(FLAT, 8), load<i32>(FLAT, 12),
      load<i32>(FLAT, 16), load<i32>(FLAT, 20), load<i32>(FLAT, 24), load<i32>(FLAT, 28), load<i32>(FLAT, 32),
      load<i32>(FLAT, 36), load<i32>(FLAT, 40), RET);
    if (load<u8>(RET) != 0) fatalListen(i, "cannot listen", <i32>load<u8>(RET, 1));
    udp_finish_bind(h, RET);
    if (load<u8>(RET) != 0) fatalListen(i, "cannot listen", <i32>load<u8>(RET, 1));
    udp_set_receive_buffer_size(h, <u64>SOCK_BUF, RET); // best effort (capped by net.core.rmem_max)
    udp_set_send_buffer_size(h, <u64>SOCK_BUF, RET);
    if (load<u16>(L_PORT + (i << 1)) == 0) {
      udp_local_address(h, RET);
      if (load<u8>(RET) != 0) fatalListen(i, "cannot read the bound port", <i32>load<u8>(RET, 4));
      store<u16>(L_PORT + (i << 1), load<u16>(RET, 8));
    }
    // unconnected streams: every datagram names its peer
    udp_stream(h, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, RET);
    if (load<u8>(RET) != 0) fatalListen(i, "cannot open the datagram streams", <i32>load<u8>(RET, 4));
    store<i32>(L_IN + (i << 2), load<i32>(RET, 4));
    store<i32>(L_OUT + (i << 2), load<i32>(RET, 8));
    store<u32>(L_PERMIT + (i << 2), 0);
    store<i32>(POLLS + (i << 2), udp_in_subscribe(load<i32>(RET, 4)));
  }
}

/** Sends TX[0..n) to fam/DEST:port on listener i (wasi:sockets/udp send, within check-send's permit). */
function sendP2(i: u32, fam: u32, port: u32, n: u32): i32 {
  const out = load<i32>(L_OUT + (i << 2));
  let permit = load<u32>(L_PERMIT + (i << 2));
  if (permit == 0) {
    udp_check_send(out, RET);
    if (load<u8>(RET) != 0) return 1000 + <i32>load<u8>(RET, 8);
    const p = load<u64>(RET, 8);
    permit = p > 1024 ? 1024 : <u32>p;
    if (permit == 0) return 1000 + 8; // would-block: the socket's buffer is full
  }
  store<u32>(OUTDG, <u32>TX);
  store<u32>(OUTDG, n, 4);
  store<u8>(OUTDG, 1, 8);
  memory.fill(OUTDG + 12, 0, 32);
  store<u8>(OUTDG, fam == 6 ? 1 : 0, 12);
  store<u16>(OUTDG, <u16>port, 16);
  if (fam == 4) store<u32>(OUTDG, load<u32>(DEST), 18);
  else for (let k: u32 = 0; k < 8; k++) store<u16>(OUTDG + 24 + (k << 1), (<u16>load<u8>(DEST + (k << 1)) << 8) | <u16>load<u8>(DEST + (k << 1) + 1));
  udp_send(out, OUTDG, 1, RET);
  store<u32>(L_PERMIT + (i << 2), permit - 1);
  if (load<u8>(RET) != 0) {
    store<u32>(L_PERMIT + (i << 2), 0); // ask again after an error
    return 1000 + <i32>load<u8>(RET, 8);
  }
  return load<u64>(RET, 8) == 1 ? 0 : 1000 + 8;
}

/** drain() on WASI 0.2: receive one datagram at a time (into the bump area, copied to the core's RX). */
function drainP2(i: u32): void {
  const inp = load<i32>(L_IN + (i << 2));
  for (let k: u32 = 0; k < RECV_BURST; k++) {
    bumpReset();
    udp_receive(inp, 1, RET);
    if (load<u8>(RET) != 0) {
      // e.g. connection-refused from an earlier send's ICMP error: not fatal for a UDP server
      if (on(Level.Debug)) {
        begin(Level.Debug, "udp receive error");
        kvInt("transport", <i32>(i + 1));
        kvInt("errno", 1000 + <i32>load<u8>(RET, 4));
        end();
      }
      continue;
    }
    if (load<u32>(RET, 8) == 0) return; // nothing more now
    const dg = <usize>load<u32>(RET, 4); // incoming-datagram: data (ptr, len) @0, ip-socket-address @8
    const n = load<u32>(dg, 4);
    const tag = load<u8>(dg, 8);
    const port = <u32>load<u16>(dg, 12);
    memory.fill(PEER + 8, 0, 16);
    let fam: u32 = 4;
    if (tag == 0) store<u32>(PEER + 8, load<u32>(dg, 14));
    else {
      fam = 6;
      for (let g: u32 = 0; g < 8; g++) {
        const v = <u32>load<u16>(dg + 20 + (g << 1));
        store<u8>(PEER + 8 + (g << 1), <u8>(v >> 8));
        store<u8>(PEER + 9 + (g << 1), <u8>v);
      }
      if (isMapped(PEER + 8)) {
        const v = load<u32>(PEER + 20);
        memory.fill(PEER + 8, 0, 16);
        store<u32>(PEER + 8, v);
        fam = 4;
      }
    }
    if (n > RXCAP) {
      if (on(Level.Debug)) {
        begin(Level.Debug, "datagram too large; dropped");
        kvU64("bytes", <u64>n);
        end();
      }
      continue;
    }
    memory.copy(RX, <usize>load<u32>(dg), n);
    input(i, fam, port, n);
  }
}

function loopP2(): void {
  for (;;) {
    flush();
    let npoll = nListen;
    let timer: i32 = -1;
    let t = now();
    if (armed >= 0) {
      let wait = armed - t;
      if (wait < 0) wait = 0;
      timer = subscribe_duration(<u64>Math.ceil(wait * 1e6));
      store<i32>(POLLS + (npoll << 2), timer);
      npoll++;
    }
    bumpReset();
    poll(POLLS, npoll, RET);
    const ready = <usize>load<u32>(RET);
    const nready = load<u32>(RET, 4);
    // the ready list lives in the bump area, which drain reuses: take the indices first
    let mask: u64 = 0; // listeners 0..63 (MAX_LISTEN = 64)
    for (let k: u32 = 0; k < nready; k++) {
      const x = load<u32>(ready + (k << 2));
      if (x < nListen) mask |= (<u64>1) << x;
    }
    if (timer >= 0) pollable_drop(timer);
    for (let x: u32 = 0; x < nListen; x++) if (mask & ((<u64>1) << x)) drainP2(x);
    t = now();
    if (armed >= 0 && t >= armed) {
      sip_handle_timeout(t);
      after(t);
    }
  }
}

function fatalListen(i: u32, msg: string, errno: i32): void {
  begin(Level.Error, msg);
  key("listen");
  putByte(0x22);
  putPeer(<u32>load<u8>(L_FAM + i), L_ADDR + (i << 4), <u32>load<u16>(L_PORT + (i << 1)));
  putByte(0x22);
  kvInt("errno", errno);
  end();
  flush();
  sysExit(1);
}

/** host:port this listener advertises, written at `out` (the cfg buffer); returns its length. */
function advertised(i: u32, out: usize): u32 {
  let o: u32 = 0;
  const fam = <u32>load<u8>(L_FAM + i);
  const hp = <usize>load<u32>(L_HOST + (i << 2));
  const hn = load<u32>(L_HOSTLEN + (i << 2));
  if (load<u8>(L_WILD + i) != 0 || hp == 0) {
    // no interface list in WASI: a wildcard advertises loopback (bind a specific address instead)
    if (fam == 6) {
      store<u8>(out, 91); store<u8>(out + 1, 58); store<u8>(out + 2, 58); store<u8>(out + 3, 49); store<u8>(out + 4, 93); // [::1]
      o = 5;
    } else {
      // 127.0.0.1
      store<u64>(out, 0x302e302e37323131); // "127.0.0." little-endian
      store<u8>(out + 8, 49);
      o = 9;
    }
  } else {
    memory.copy(out, hp, hn);
    o = hn;
  }
  store<u8>(out + o++, 58);
  let port = <u32>load<u16>(L_PORT + (i << 1));
  let d: u32 = 10000;
  let started = false;
  while (d > 0) {
    const digit = (port / d) % 10;
    if (digit != 0 || started || d == 1) {
      store<u8>(out + o++, <u8>(48 + digit));
      started = true;
    }
    d /= 10;
  }
  return o;
}

// ---- the core --------------------------------------------------------------------------------

function startCore(): void {
  sysRandom8(SEED);
  const t = now();
  sip_init(load<u32>(SEED), load<u32>(SEED + 4), t);
  RX = sip_rx_ptr();
  RXCAP = sip_rx_cap();
  PEER = sip_peer_ptr();
  TX = sip_tx_ptr();
  TXMETA = sip_tx_meta_ptr();
  TXNAME = sip_tx_name_ptr();
  EV = sip_event_ptr();
  CFG = sip_cfg_ptr();
  const cap = sip_cfg_cap();

  // every core key of the configuration, walked from the schema (exits 2 naming a refused key)
  configApply();

  for (let i: u32 = 0; i < nListen; i++) {
    const n = advertised(i, CFG);
    begin(Level.Info, "listening");
    key("listen");
    putByte(0x22);
    putPeer(<u32>load<u8>(L_FAM + i), L_ADDR + (i << 4), <u32>load<u16>(L_PORT + (i << 1)));
    putByte(0x22);
    kvInt("transport", <i32>(i + 1));
    kvBytes("advertised", CFG, n);
    end();
    if (load<u8>(L_WILD + i) != 0 && on(Level.Warn)) {
      begin(Level.Warn, "wildcard listen address: advertising loopback (WASI has no interface list; listen on a specific address)");
      kvInt("transport", <i32>(i + 1));
      end();
    }
    const r = sip_transport_add(i + 1, Proto.UDP, n);
    if (r < 0) fatal("sip_transport_add failed", "advertised", CFG, n, r);
  }

  if (on(Level.Info)) {
    begin(Level.Info, "core ready");
    kvU64("rxCap", <u64>RXCAP);
    kvU64("cfgCap", <u64>cap);
    key("domains");
    putByte(91);
    const domains = domainsNode();
    for (let d = nFirst(domains); d >= 0; d = nNext(d)) {
      if (d != nFirst(domains)) putByte(44);
      putByte(0x22);
      putEscaped(nPtr(d), nLen(d));
      putByte(0x22);
    }
    putByte(93);
    key("seed");
    putByte(0x22);
    for (let k: u32 = 0; k < 8; k++) putHexByte(<u32>load<u8>(SEED + k));
    putByte(0x22);
    key("auth");
    if (usersCount() > 0) {
      putStr("{\"realm\":\"");
      putEscaped(nPtr(realmNode()), nLen(realmNode()));
      putStr("\",\"users\":");
      putU64(<u64>usersCount());
      putByte(0x7d);
    } else putStr("false");
    end();
  }
  after(t);
}

// ---- output: transmits, timer, events -------------------------------------------------------

function after(t: f64): void {
  let n: u32;
  let guard: u32 = 0;
  while ((n = sip_poll_transmit(t)) > 0) {
    transmit(n);
    if (++guard == 1000000) {
      begin(Level.Error, "core keeps returning transmits; drain loop cut");
      end();
      break;
    }
  }
  armed = sip_poll_timeout();
  let k: i32;
  while ((k = sip_poll_event()) != 0) event(k);
}

function transmit(n: u32): void {
  const tid = <u32>load<u8>(TXMETA + 4);
  let fam = <u32>load<u8>(TXMETA + 5);
  const port = <u32>load<u16>(TXMETA + 6);
  if (tid == 0 || tid > nListen) {
    if (on(Level.Warn)) {
      begin(Level.Warn, "transmit on an unknown transport; dropped");
      kvInt("transport", <i32>tid);
      kvU64("bytes", <u64>n);
      end();
    }
    return;
  }
  const i = tid - 1;
  const sfam = <u32>load<u8>(L_FAM + i);
  memory.fill(DEST, 0, 16);
  if (fam == 0) {
    // a host name: only numeric text can be sent without DNS
    const len = load<u32>(TXMETA + 24);
    if (parse4(TXNAME, len, DEST)) fam = 4;
    else if (len >= 2 && load<u8>(TXNAME) == 91 && load<u8>(TXNAME + len - 1) == 93 && parse6(TXNAME + 1, len - 2, DEST)) fam = 6;
    else if (parse6(TXNAME, len, DEST)) fam = 6;
    else {
      if (on(Level.Warn)) {
        begin(Level.Warn, "cannot resolve destination (no DNS in the WASI host); dropped");
        kvBytes("name", TXNAME, len);
        end();
      }
      return;
    }
  } else if (fam == 4 || fam == 6) memory.copy(DEST, TXMETA + 8, fam == 4 ? 4 : 16);
  else {
    if (on(Level.Warn)) {
      begin(Level.Warn, "transmit with a bad address family; dropped");
      kvInt("family", <i32>fam);
      end();
    }
    return;
  }
  const p = port != 0 ? port : 5060;
  if (trace) traceMsg("out", fam, DEST, p, TX, n);
  if (fam != sfam) {
    if (sfam == 6 && !P2) {
      // IPv4 destination on an IPv6 socket: ::ffff:a.b.c.d (wasi:sockets refuses IPv4-mapped addresses)
      const v = load<u32>(DEST);
      store<u64>(DEST, 0);
      store<u32>(DEST + 8, 0xffff0000);
      store<u32>(DEST + 12, v);
    } else {
      if (on(Level.Warn)) {
        begin(Level.Warn, "IPv6 destination on an IPv4 UDP transport; dropped");
        kvInt("transport", <i32>tid);
        end();
      }
      return;
    }
  }
  let e: i32;
  if (P2) e = sendP2(i, sfam, p, n);
  else {
    store<u32>(IOV, <u32>TX);
    store<u32>(IOV, n, 4);
    store<u32>(ADDR, <u32>DEST);
    store<u32>(ADDR, sfam == 6 ? 16 : 4, 4);
    e = sock_send_to(load<u32>(L_FD + (i << 2)), IOV, 1, ADDR, p, 0, NREAD);
  }
  if (e != 0) {
    sendErrors++;
    if (on(Level.Debug)) {
      begin(Level.Debug, "send failed; dropped");
      kvInt("errno", e);
      key("peer");
      putByte(0x22);
      putPeer(fam, TXMETA + 8, p);
      putByte(0x22);
      end();
    }
  }
}

/** A u32 field of event kind k's record in the generated table (name, level, 4 labels, value field, usage). */
function ev(k: i32, f: u32): u32 { return load<u32>(EVENT_TABLE + (<usize>((<u32>k - 1) * EVENT_FIELDS + f) << 2)); }

/** Logs an event by its abi.json name, level and field labels. */
function event(kind: i32): void {
  const known = kind >= 1 && <u32>kind < EVENT_LIMIT;
  const level = known ? <i32>ev(kind, 1) : Level.Warn;
  if (!on(level)) return;
  const e = EV;
  if (known) {
    const r = ev(kind, 0);
    beginBytes(level, BLOB + (r >>> 12), r & 0xfff);
    key("event");
    putByte(0x22);
    putBytes(BLOB + (r >>> 12), r & 0xfff);
    putByte(0x22);
  } else {
    begin(level, "event");
    key("event");
    putStr("\"event-");
    putU64(<u64>kind);
    putByte(0x22);
  }
  kvInt("code", load<i32>(e + 4));
  const pe = e + 24;
  const fam = <u32>load<u8>(pe + 5);
  if (fam == 4 || fam == 6) {
    key("source");
    putByte(0x22);
    putPeer(fam, pe + 8, <u32>load<u16>(pe + 6));
    putByte(0x22);
  }
  const conn = load<u32>(pe);
  if (conn) kvU64("conn", <u64>conn);
  let at = e + 64;
  for (let i: u32 = 0; i < 4; i++) {
    const len = <u32>load<u16>(e + 56 + (i << 1));
    if (len) {
      if (known) {
        const r = ev(kind, 2 + i);
        keyBytes(BLOB + (r >>> 12), r & 0xfff);
      } else key(i == 0 ? "text1" : i == 1 ? "text2" : i == 2 ? "text3" : "text4");
      putByte(0x22);
      putEscaped(at, len);
      putByte(0x22);
    }
    at += len;
  }
  const value = load<u32>(e + 16);
  const vf = known ? ev(kind, 6) : 0;
  if (vf != 0) {
    keyBytes(BLOB + (vf >>> 12), vf & 0xfff);
    putU64(<u64>value);
  } else if (value) kvU64("value", <u64>value);
  const lost = load<u32>(e + 20);
  if (lost) kvU64("lost", <u64>lost);
  key("coreTime");
  putMs(load<f64>(e + 8));
  end();
}

function traceMsg(dir: string, fam: u32, a: usize, port: u32, p: usize, n: u32): void {
  begin(Level.Debug, "sip");
  kvStr("dir", dir);
  key("peer");
  putByte(0x22);
  putPeer(fam, a, port);
  putByte(0x22);
  kvBytes("sip", p, n);
  end();
}

// ---- input -----------------------------------------------------------------------------------

/** Reads up to RECV_BURST datagrams from listener i into the core. */
function drain(i: u32): void {
  const fd = load<u32>(L_FD + (i << 2));
  const sfam = <u32>load<u8>(L_FAM + i);
  for (let k: u32 = 0; k < RECV_BURST; k++) {
    store<u32>(IOV, <u32>RX);
    store<u32>(IOV, RXCAP, 4);
    store<u32>(ADDR, <u32>(PEER + 8)); // the address lands in the peer record itself
    store<u32>(ADDR, 16, 4);
    store<u32>(PORT, 0);
    store<u32>(NREAD, 0);
    store<u32>(ROFLAGS, 0);
    memory.fill(PEER + 8, 0, 16);
    const e = sock_recv_from(fd, IOV, 1, ADDR, 0, PORT, NREAD, ROFLAGS);
    if (e == ERRNO_AGAIN) return;
    if (e == ERRNO_INTR) continue;
    if (e != 0) {
      // e.g. ECONNREFUSED from an earlier send's ICMP error: not fatal for a UDP server
      if (on(Level.Debug)) {
        begin(Level.Debug, "udp receive error");
        kvInt("transport", <i32>(i + 1));
        kvInt("errno", e);
        end();
      }
      continue;
    }
    const n = load<u32>(NREAD);
    const raw = load<u32>(PORT) & 0xffff;
    const port = ((raw & 0xff) << 8) | (raw >> 8); // network -> host order
    if (load<u16>(ROFLAGS) & ROFLAGS_DATA_TRUNCATED) {
      if (on(Level.Debug)) {
        begin(Level.Debug, "datagram too large; dropped");
        kvU64("bytes", <u64>n);
        end();
      }
      continue;
    }
    let fam = sfam;
    if (fam == 6 && isMapped(PEER + 8)) {
      const v = load<u32>(PEER + 20);
      memory.fill(PEER + 8, 0, 16);
      store<u32>(PEER + 8, v);
      fam = 4;
    }
    input(i, fam, port, n);
  }
}

/** The datagram in RX (n bytes, the address already in the peer record) from listener i to the core. */
function input(i: u32, fam: u32, port: u32, n: u32): void {
  store<u32>(PEER, 0);
  store<u8>(PEER + 4, <u8>(i + 1));
  store<u8>(PEER + 5, <u8>fam);
  store<u16>(PEER + 6, <u16>port);
  store<u64>(PEER + 24, 0);
  if (trace) traceMsg("in", fam, PEER + 8, port, RX, n);
  const t = now();
  const r = sip_handle_datagram(t, n);
  if (r < 0 && on(Level.Debug)) {
    begin(Level.Debug, "datagram refused");
    kvInt("code", r);
    key("peer");
    putByte(0x22);
    putPeer(fam, PEER + 8, port);
    putByte(0x22);
    end();
  }
  after(t);
}

function loop(): void {
  if (P2) {
    loopP2();
    return;
  }
  for (;;) {
    flush();
    let nsubs = nListen;
    let t = now();
    if (armed >= 0) {
      let wait = armed - t;
      if (wait < 0) wait = 0;
      const s = SUBS + nsubs * 48;
      memory.fill(s, 0, 48);
      store<u64>(s, 0); // userdata 0 = the timer
      store<u8>(s + 8, EVENTTYPE_CLOCK);
      store<u32>(s + 16, CLOCK_MONOTONIC);
      store<u64>(s + 24, <u64>Math.ceil(wait * 1e6)); // relative, ns
      store<u64>(s + 32, 0); // precision
      store<u16>(s + 40, 0); // flags: relative
      nsubs++;
    }
    store<u32>(NEVENTS, 0);
    const e = poll_oneoff(SUBS, EVENTS, nsubs, NEVENTS);
    if (e != 0 && e != ERRNO_INTR) fatal("poll_oneoff failed", "", 0, 0, e);
    const ne = load<u32>(NEVENTS);
    for (let k: u32 = 0; k < ne; k++) {
      const ev = EVENTS + k * 32;
      const ud = <u32>load<u64>(ev);
      const type = load<u8>(ev + 10);
      if (type == EVENTTYPE_FD_READ && ud >= 1 && ud <= nListen) drain(ud - 1);
    }
    t = now();
    if (armed >= 0 && t >= armed) {
      sip_handle_timeout(t);
      after(t);
    }
  }
}

// ---- main ------------------------------------------------------------------------------------

export function main(): void {
  t0 = sysMonotonicNs();
  parseArgs();
  if (wantHelp) {
    configUsage(HEAD, NAME, TAIL);
    sysExit(0);
  }
  if (wantVersion) {
    putStr("sipling ");
    putStr(VERSION);
    putStr(" (WASI host)\ncore ");
    putStr(CORE_BOARD);
    putStr(" (linked into this module)\n");
    flush();
    sysExit(0);
  }
  configLoad();
  if (wantPrint) {
    configPrint();
    sysExit(0);
  }
  // the secure default, before anything is bound: no users + a non-loopback address = open relay
  configCheckSecure();
  setLevel(configLevel());
  trace = configTrace();
  // a stdout pipe nobody reads must not stop the server: written non-blocking, bounded (out.ts)
  const nbStdout = stdoutNonBlocking();
  const listens = listensNode();
  for (let l = nFirst(listens); l >= 0; l = nNext(l)) addListen(nPtr(l), nLen(l));
  bindAll();
  startCore();
  if (configPrefault()) {
    // every page of the linear memory (the core's and ours) written, each byte unchanged, so the
    // runtime's memory is committed now: RSS is flat from start-up instead of climbing to the fixed
    // budget as the core first uses its tables
    const top = <usize>memory.size() << 16;
    for (let p: usize = 0; p < top; p += 4096) store<u8>(p, load<u8>(p));
  }
  begin(Level.Info, "running");
  kvStr("host", P2 ? "wasip2" : "wasi");
  kvStr("board", CORE_BOARD);
  kvU64("listeners", <u64>nListen);
  kvStr("stdout", nbStdout ? "non-blocking" : "blocking");
  end();
  flush();
  loop();
}

if (!P2) main(); // the wasmtime build: main2.ts exports wasi:cli/run, which calls main()
