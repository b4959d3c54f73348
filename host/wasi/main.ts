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
  sip_peer_ptr, sip_handle_datagram, sip_handle_stream, sip_handle_conn_closed, sip_handle_timeout, sip_poll_transmit, sip_tx_ptr, sip_tx_meta_ptr,
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
import { parse4, parse6, isMapped, putPeer, putPeerOn, put4, put6 } from "./addr";
import {
  configArgs, configLoad, configUsage, configPrint, configCheckSecure, configApply, configLevel, configTrace, configPrefault,
  usersCount, domainsNode, realmNode, listensNode, wantHelp, wantPrint, wantVersion, MAX_LISTEN, CORE_BOARD,
} from "./config";
import { nFirst, nNext, nPtr, nLen } from "./json";
import { EVENT_TABLE, EVENT_FIELDS, EVENT_LIMIT, BLOB, VERSION, REF_SHIFT, REF_MASK } from "./schema";
import { Proto } from "../../assembly/host/numbers";
import { P2, sysExit, sysRandom8, sysMonotonicNs } from "./sys";
import {
  bumpReset, get_arguments, poll, pollable_drop, subscribe_duration, instance_network, create_udp_socket,
  udp_start_bind, udp_finish_bind, udp_stream, udp_local_address, udp_set_receive_buffer_size,
  udp_set_send_buffer_size, udp_receive, udp_in_subscribe, udp_check_send, udp_send,
  create_tcp_socket, tcp_start_bind, tcp_finish_bind, tcp_start_listen, tcp_finish_listen, tcp_accept,
  tcp_local_address, tcp_remote_address, tcp_subscribe, tcp_start_connect, tcp_finish_connect, tcp_drop,
  in_read, in_subscribe, in_drop, out_check_write, out_write, out_subscribe, out_drop, error_drop,
} from "./p2";

const HEAD = P2
  ? "sipling (WASI host) - SIP proxy and registrar, a WASI 0.2 component (wasi:sockets, wasi:io/poll, wasi:clocks)"
  : "sipling (WASI host) - SIP proxy and registrar on WasmEdge's socket extension";
const NAME = P2
  ? "wasmtime run -S inherit-network [--dir HOSTDIR::GUESTDIR] sipling-wasip2.wasm"
  : "wasmedge [--dir GUEST:HOST] sipling-wasi.wasm";
const TAIL = P2
  ? "UDP and TCP (at most 64 connections, a message at most 64 KiB), numeric listen addresses (port 0 picks a free port); a wildcard address advertises loopback (WASI has no interface list). Logs are JSON lines on stdout (the Node host's format). Run with -S inherit-network. Stop with SIGTERM/SIGINT (the runtime ends the process). Exit status: 0 ok, 1 runtime error, 2 usage/configuration error."
  : "UDP only, numeric listen addresses (port 0 picks a free port); a wildcard address advertises loopback (WASI has no interface list). Logs are JSON lines on stdout (the Node host's format). Stop with SIGTERM/SIGINT (the runtime ends the process). Exit status: 0 ok, 1 runtime error, 2 usage/configuration error.";

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
const L_PROTO: usize = memory.data(<i32>MAX_LISTEN); // Proto.UDP or Proto.TCP (the wasmtime build)
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

/** udp:HOST:PORT / udp:[V6]:PORT (checked by the configuration walker) -> listener slot nListen.
 * The wasmtime build takes tcp:HOST:PORT too. */
function addListen(p: usize, n: u32): void {
  const tcp = P2 && startsWith(p, n, "tcp:");
  if (tcp) store<u8>(L_PROTO + nListen, <u8>Proto.TCP);
  else store<u8>(L_PROTO + nListen, <u8>Proto.UDP);
  if (tcp) {
    // checked below as udp: (same syntax)
  } else if (P2 && (startsWith(p, n, "tls:") || startsWith(p, n, "ws:") || startsWith(p, n, "wss:")))
    usageError("--listen", "the wasmtime build listens on UDP and TCP only (udp|tcp:HOST:PORT)", p, n);
  else if (startsWith(p, n, "tcp:") || startsWith(p, n, "tls:") || startsWith(p, n, "ws:") || startsWith(p, n, "wss:"))
    usageError("--listen", "the WASI host listens on UDP only (udp:HOST:PORT)", p, n);
  if (!tcp && !startsWith(p, n, "udp:")) usageError("--listen", "expected \"udp:HOST:PORT\"", p, n);
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
// pollable (made once, polled every turn)
const L_SOCK: usize = P2 ? memory.data(<i32>(MAX_LISTEN * 4), 4) : 0;
const L_IN: usize = P2 ? memory.data(<i32>(MAX_LISTEN * 4), 4) : 0;
const L_OUT: usize = P2 ? memory.data(<i32>(MAX_LISTEN * 4), 4) : 0;
// poll's list<borrow<pollable>>: the listeners' pollables, then the timer's
const POLLS: usize = P2 ? memory.data(<i32>((MAX_LISTEN + 2 * 64 + 1) * 4), 4) : 0; // 64 = TCP_MAX
const PSLOT: usize = P2 ? memory.data(<i32>((MAX_LISTEN + 2 * 64 + 1) * 4), 4) : 0; // poll index -> connection (bit 31: output)
const READY: usize = P2 ? memory.data(<i32>((MAX_LISTEN + 2 * 64 + 1) * 4), 4) : 0;
const RET: usize = P2 ? memory.data(64, 8) : 0;
// one outgoing-datagram record: data (ptr, len) @0, option<ip-socket-address> tag @8, address @12
const OUTDG: usize = P2 ? memory.data(48, 8) : 0;
let network: i32 = -1;

/** ip-socket-address flattened: the 11 i32 after the discriminant, from family, 4/16 address bytes, port. */
const FLAT: usize = P2 ? memory.data(48, 4) : 0;
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

/**
 * Listener i's socket (TCP when tcp, else UDP; L_SOCK) bound to its address and port: create, then
 * start-bind with the flattened address, then finish-bind; any failure is fatal. Returns the socket.
 */
function openBound(i: u32, tcp: bool): i32 {
  const fam = <u32>load<u8>(L_FAM + i);
  const v6 = fam == 6 ? 1 : 0;
  if (tcp) create_tcp_socket(v6, RET);
  else create_udp_socket(v6, RET);
  if (load<u8>(RET) != 0) fatalListen(i, tcp ? "cannot open a TCP socket" : "cannot open a UDP socket", <i32>load<u8>(RET, 4));
  const h = load<i32>(RET, 4);
  store<i32>(L_SOCK + (i << 2), h);
  flatten(fam, L_ADDR + (i << 4), <u32>load<u16>(L_PORT + (i << 1)));
  const a0 = load<i32>(FLAT), a1 = load<i32>(FLAT, 4), a2 = load<i32>(FLAT, 8), a3 = load<i32>(FLAT, 12);
  const a4 = load<i32>(FLAT, 16), a5 = load<i32>(FLAT, 20), a6 = load<i32>(FLAT, 24), a7 = load<i32>(FLAT, 28);
  const a8 = load<i32>(FLAT, 32), a9 = load<i32>(FLAT, 36), a10 = load<i32>(FLAT, 40);
  if (tcp) tcp_start_bind(h, network, v6, a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, RET);
  else udp_start_bind(h, network, v6, a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, RET);
  if (load<u8>(RET) != 0) fatalListen(i, "cannot listen", <i32>load<u8>(RET, 1));
  if (tcp) tcp_finish_bind(h, RET);
  else udp_finish_bind(h, RET);
  if (load<u8>(RET) != 0) fatalListen(i, "cannot listen", <i32>load<u8>(RET, 1));
  return h;
}

function bindAllP2(): void {
  network = instance_network();
  for (let i: u32 = 0; i < nListen; i++) {
    if (load<u8>(L_PROTO + i) == <u8>Proto.TCP) {
      bindTcp(i);
      continue;
    }
    const h = openBound(i, false);
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
    store<i32>(POLLS + (i << 2), udp_in_subscribe(load<i32>(RET, 4)));
  }
}

/** Sends TX[0..n) to fam/DEST:port on listener i: check-send, then send (wasmtime allows one send per
 * check-send, whatever count check-send permitted). */
function sendP2(i: u32, fam: u32, port: u32, n: u32): i32 {
  const out = load<i32>(L_OUT + (i << 2));
  udp_check_send(out, RET);
  if (load<u8>(RET) != 0) return 1000 + <i32>load<u8>(RET, 8);
  if (load<u64>(RET, 8) == 0) return 1000 + 8; // would-block: the socket's buffer is full
  store<u32>(OUTDG, <u32>TX);
  store<u32>(OUTDG, n, 4);
  store<u8>(OUTDG, 1, 8);
  memory.fill(OUTDG + 12, 0, 32);
  store<u8>(OUTDG, fam == 6 ? 1 : 0, 12);
  store<u16>(OUTDG, <u16>port, 16);
  if (fam == 4) store<u32>(OUTDG, load<u32>(DEST), 18);
  else for (let k: u32 = 0; k < 8; k++) store<u16>(OUTDG + 24 + (k << 1), (<u16>load<u8>(DEST + (k << 1)) << 8) | <u16>load<u8>(DEST + (k << 1) + 1));
  udp_send(out, OUTDG, 1, RET);
  if (load<u8>(RET) != 0) return 1000 + <i32>load<u8>(RET, 8);
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
  let lastSweep: f64 = 0;
  for (;;) {
    flush();
    // the listeners' pollables (UDP: datagrams; TCP: a connection to accept), then per connection its
    // input's (or, connecting, its socket's), its output's when bytes wait, then the timer's
    let npoll = nListen;
    for (let c: u32 = 0; c < TCP_MAX; c++) {
      const st = load<u8>(C_ST + c);
      if (st == ST_FREE) continue;
      store<i32>(POLLS + (npoll << 2), load<i32>(C_PIN + (c << 2)));
      store<u32>(PSLOT + (npoll << 2), c);
      npoll++;
      if (st == ST_OPEN && load<u32>(C_OUTLEN + (c << 2)) > 0) {
        store<i32>(POLLS + (npoll << 2), load<i32>(C_POUT + (c << 2)));
        store<u32>(PSLOT + (npoll << 2), c | 0x80000000);
        npoll++;
      }
    }
    let timer: i32 = -1;
    let t = now();
    let deadline = armed;
    if (nConns > 0 && (deadline < 0 || deadline > t + 1000)) deadline = t + 1000; // the partial-message sweep
    if (deadline >= 0) {
      let wait = deadline - t;
      if (wait < 0) wait = 0;
      timer = subscribe_duration(<u64>Math.ceil(wait * 1e6));
      store<i32>(POLLS + (npoll << 2), timer);
      npoll++;
    }
    bumpReset();
    poll(POLLS, npoll, RET);
    // the ready list lives in the bump area, which the handlers reuse: copied first
    const nready = load<u32>(RET, 4);
    memory.copy(READY, <usize>load<u32>(RET), nready << 2);
    if (timer >= 0) pollable_drop(timer);
    for (let k: u32 = 0; k < nready; k++) {
      const x = load<u32>(READY + (k << 2));
      if (x < nListen) {
        if (load<u8>(L_PROTO + x) == <u8>Proto.TCP) acceptAll(x);
        else drainP2(x);
      } else if (timer < 0 || x != npoll - 1) {
        const slot = load<u32>(PSLOT + (x << 2));
        const c = slot & 0x7fffffff;
        const st = load<u8>(C_ST + c);
        // a slot closed (and maybe reused) by an earlier handler of this round: its pollable is gone
        if (st == ST_FREE || load<i32>(slot & 0x80000000 ? C_POUT + (c << 2) : C_PIN + (c << 2)) != load<i32>(POLLS + (x << 2))) continue;
        if (slot & 0x80000000) {
          if (!flushConn(c)) after(now());
        } else if (st == ST_CONNECTING) connected(c);
        else readConn(c);
      }
    }
    t = now();
    if (armed >= 0 && t >= armed) {
      sip_handle_timeout(t);
      after(t);
    }
    if (nConns > 0 && t - lastSweep >= 1000) {
      lastSweep = t;
      sweepPartial(t);
    }
  }
}


// ---- TCP on WASI 0.2 (wasi:sockets/tcp, wasi:io/streams) --------------------------------------------
// A fixed table of TCP_MAX connections, accepted or opened (to a destination the core names with conn
// 0 on a TCP transport): each has an input buffer (TCP_IN bytes: the bytes of a message not yet whole)
// and an output queue (TCP_OUT bytes: what the peer has not taken yet). A message that does not fit the
// input buffer, or a peer that lets more than TCP_OUT bytes queue up, closes the connection; a new
// connection when the table is full closes the one quiet for longest; one that holds part of a message
// for TCP_PARTIAL_MS is closed. Closed connections are reported to the core (sip_handle_conn_closed).

const TCP_MAX: u32 = 64;
const TCP_IN: u32 = 65536;
const TCP_OUT: u32 = 65536;
const TCP_READS: u32 = 16; // reads per connection per wake-up
const TCP_ACCEPTS: u32 = 64; // accepts per listener per wake-up
const TCP_PARTIAL_MS: f64 = 30000;
const ST_FREE: u8 = 0;
const ST_CONNECTING: u8 = 1;
const ST_OPEN: u8 = 2;

// connection slots: id, state, transport index, family, port, address, handles, buffers
const C_ID: usize = P2 ? memory.data(<i32>(TCP_MAX * 4), 4) : 0;
const C_ST: usize = P2 ? memory.data(<i32>TCP_MAX) : 0;
const C_LI: usize = P2 ? memory.data(<i32>TCP_MAX) : 0;
const C_FAM: usize = P2 ? memory.data(<i32>TCP_MAX) : 0;
const C_PORT: usize = P2 ? memory.data(<i32>(TCP_MAX * 2), 2) : 0;
const C_ADDR: usize = P2 ? memory.data(<i32>(TCP_MAX * 16), 8) : 0;
const C_SOCK: usize = P2 ? memory.data(<i32>(TCP_MAX * 4), 4) : 0;
const C_IN: usize = P2 ? memory.data(<i32>(TCP_MAX * 4), 4) : 0;
const C_OUT: usize = P2 ? memory.data(<i32>(TCP_MAX * 4), 4) : 0;
const C_PIN: usize = P2 ? memory.data(<i32>(TCP_MAX * 4), 4) : 0; // input stream's pollable (or the socket's while connecting)
const C_POUT: usize = P2 ? memory.data(<i32>(TCP_MAX * 4), 4) : 0; // output stream's pollable
const C_LAST: usize = P2 ? memory.data(<i32>(TCP_MAX * 8), 8) : 0; // last bytes either way (ms)
const C_PART: usize = P2 ? memory.data(<i32>(TCP_MAX * 8), 8) : 0; // since when part of a message waits (ms), 0 none
const C_INLEN: usize = P2 ? memory.data(<i32>(TCP_MAX * 4), 4) : 0;
const C_OUTLEN: usize = P2 ? memory.data(<i32>(TCP_MAX * 4), 4) : 0;
const C_INBUF: usize = P2 ? memory.data(<i32>(TCP_MAX * TCP_IN), 8) : 0;
const C_OUTBUF: usize = P2 ? memory.data(<i32>(TCP_MAX * TCP_OUT), 8) : 0;
let nextConn: u32 = 0;
let nConns: u32 = 0;
// listening TCP sockets: L_SOCK holds the socket, POLLS its pollable (accept readiness)
// connections closed, to report to the core after the current input (after())
const CLOSED: usize = P2 ? memory.data(<i32>(TCP_MAX * 4 * 4), 4) : 0;
let nClosed: u32 = 0;
let tcpErrors: u64 = 0;

function bindTcp(i: u32): void {
  const h = openBound(i, true);
  tcp_start_listen(h, RET);
  if (load<u8>(RET) != 0) fatalListen(i, "cannot listen", <i32>load<u8>(RET, 1));
  tcp_finish_listen(h, RET);
  if (load<u8>(RET) != 0) fatalListen(i, "cannot listen", <i32>load<u8>(RET, 1));
  if (load<u16>(L_PORT + (i << 1)) == 0) {
    tcp_local_address(h, RET);
    if (load<u8>(RET) != 0) fatalListen(i, "cannot read the bound port", <i32>load<u8>(RET, 4));
    store<u16>(L_PORT + (i << 1), load<u16>(RET, 8));
  }
  store<i32>(POLLS + (i << 2), tcp_subscribe(h));
}

/** An ip-socket-address in memory at a (tag, port @4, address @6 / @12) -> family, port, 4/16 bytes at out. */
function readSockAddr(a: usize, out: usize): u32 {
  memory.fill(out, 0, 16);
  if (load<u8>(a) == 0) {
    store<u32>(out, load<u32>(a, 6));
    return 4;
  }
  for (let g: u32 = 0; g < 8; g++) {
    const v = <u32>load<u16>(a + 12 + (g << 1));
    store<u8>(out + (g << 1), <u8>(v >> 8));
    store<u8>(out + (g << 1) + 1, <u8>v);
  }
  if (isMapped(out)) {
    const v = load<u32>(out + 12);
    memory.fill(out, 0, 16);
    store<u32>(out, v);
    return 4;
  }
  return 6;
}

/** A free slot (closing the quietest connection when the table is full); its new id. */
function newConn(li: u32, fam: u32, a: usize, port: u32, st: u8, t: f64): u32 {
  let c: u32 = TCP_MAX;
  for (let k: u32 = 0; k < TCP_MAX; k++) if (load<u8>(C_ST + k) == ST_FREE) { c = k; break; }
  if (c == TCP_MAX) {
    let q: u32 = 0;
    for (let k: u32 = 1; k < TCP_MAX; k++) if (load<f64>(C_LAST + (k << 3)) < load<f64>(C_LAST + (q << 3))) q = k;
    if (on(Level.Debug)) {
      begin(Level.Debug, "tcp connections full; closing the quietest");
      kvU64("conn", <u64>load<u32>(C_ID + (q << 2)));
      end();
    }
    closeConn(q);
    c = q;
  }
  do nextConn++; while (nextConn == 0 || findId(nextConn) < TCP_MAX);
  store<u32>(C_ID + (c << 2), nextConn);
  store<u8>(C_ST + c, st);
  store<u8>(C_LI + c, <u8>li);
  store<u8>(C_FAM + c, <u8>fam);
  store<u16>(C_PORT + (c << 1), <u16>port);
  memory.copy(C_ADDR + (c << 4), a, 16);
  store<f64>(C_LAST + (c << 3), t);
  store<f64>(C_PART + (c << 3), 0);
  store<u32>(C_INLEN + (c << 2), 0);
  store<u32>(C_OUTLEN + (c << 2), 0);
  store<i32>(C_SOCK + (c << 2), -1);
  store<i32>(C_IN + (c << 2), -1);
  store<i32>(C_OUT + (c << 2), -1);
  store<i32>(C_PIN + (c << 2), -1);
  store<i32>(C_POUT + (c << 2), -1);
  nConns++;
  return c;
}

function findId(id: u32): u32 {
  for (let k: u32 = 0; k < TCP_MAX; k++) if (load<u8>(C_ST + k) != ST_FREE && load<u32>(C_ID + (k << 2)) == id) return k;
  return TCP_MAX;
}

/** Streams of an established connection: their pollables. */
function openStreams(c: u32, inp: i32, out: i32): void {
  store<i32>(C_IN + (c << 2), inp);
  store<i32>(C_OUT + (c << 2), out);
  store<i32>(C_PIN + (c << 2), in_subscribe(inp));
  store<i32>(C_POUT + (c << 2), out_subscribe(out));
  store<u8>(C_ST + c, ST_OPEN);
}

/** Drops every handle of connection c (pollables, then streams, then the socket) and queues its close. */
function closeConn(c: u32): void {
  if (load<u8>(C_ST + c) == ST_FREE) return;
  const pin = load<i32>(C_PIN + (c << 2));
  const pout = load<i32>(C_POUT + (c << 2));
  if (pin >= 0) pollable_drop(pin);
  if (pout >= 0) pollable_drop(pout);
  const inp = load<i32>(C_IN + (c << 2));
  const out = load<i32>(C_OUT + (c << 2));
  if (inp >= 0) in_drop(inp);
  if (out >= 0) out_drop(out);
  const sock = load<i32>(C_SOCK + (c << 2));
  if (sock >= 0) tcp_drop(sock);
  store<u8>(C_ST + c, ST_FREE);
  nConns--;
  if (nClosed < TCP_MAX * 4) store<u32>(CLOSED + (nClosed++ << 2), load<u32>(C_ID + (c << 2)));
  if (on(Level.Debug)) {
    begin(Level.Debug, "tcp connection closed");
    kvU64("conn", <u64>load<u32>(C_ID + (c << 2)));
    end();
  }
}

function reportClosed(t: f64): void {
  // each report may queue transmits (and close more): drained as after() does, bounded by the queue
  for (let k: u32 = 0; k < nClosed; k++) sip_handle_conn_closed(t, load<u32>(CLOSED + (k << 2)));
  nClosed = 0;
  let n: u32;
  let guard: u32 = 0;
  while ((n = sip_poll_transmit(t)) > 0 && ++guard < 1000000) transmit(n);
  armed = sip_poll_timeout();
  let e: i32;
  while ((e = sip_poll_event()) != 0) event(e);
}

/** Accepts what listener i has waiting. */
function acceptAll(i: u32): void {
  const h = load<i32>(L_SOCK + (i << 2));
  const t = now();
  for (let k: u32 = 0; k < TCP_ACCEPTS; k++) {
    tcp_accept(h, RET);
    if (load<u8>(RET) != 0) {
      const code = <u32>load<u8>(RET, 4);
      if (code != 8 && on(Level.Debug)) { // 8: would-block, nothing more to accept
        begin(Level.Debug, "tcp accept failed");
        kvInt("errno", 1000 + <i32>code);
        end();
      }
      return;
    }
    const sock = load<i32>(RET, 4);
    const inp = load<i32>(RET, 8);
    const out = load<i32>(RET, 12);
    tcp_remote_address(sock, RET);
    const fam = load<u8>(RET) == 0 ? readSockAddr(RET + 4, DEST) : 0;
    if (fam == 0) {
      in_drop(inp);
      out_drop(out);
      tcp_drop(sock);
      continue;
    }
    const c = newConn(i, fam, DEST, <u32>load<u16>(RET, 8), ST_OPEN, t);
    store<i32>(C_SOCK + (c << 2), sock);
    openStreams(c, inp, out);
  }
}

/** Reads what connection c has (up to TCP_READS reads) and hands each whole message to the core. */
function readConn(c: u32): void {
  const inp = load<i32>(C_IN + (c << 2));
  for (let k: u32 = 0; k < TCP_READS; k++) {
    const have = load<u32>(C_INLEN + (c << 2));
    bumpReset();
    in_read(inp, <u64>(TCP_IN - have), RET);
    if (load<u8>(RET) != 0) {
      // stream-error: last-operation-failed(error) or closed
      if (load<u8>(RET, 4) == 0) error_drop(load<i32>(RET, 8));
      closeConn(c);
      after(now());
      return;
    }
    const n = load<u32>(RET, 8);
    if (n == 0) return; // nothing more now
    memory.copy(C_INBUF + c * TCP_IN + have, <usize>load<u32>(RET, 4), n);
    store<u32>(C_INLEN + (c << 2), have + n);
    const t = now();
    store<f64>(C_LAST + (c << 3), t);
    if (!feed(c, t)) return;
  }
}

/** The bytes pending on connection c to the core, message by message; false if c was closed. */
function feed(c: u32, t: f64): bool {
  const buf = C_INBUF + c * TCP_IN;
  const id = load<u32>(C_ID + (c << 2));
  const li = <u32>load<u8>(C_LI + c);
  const fam = <u32>load<u8>(C_FAM + c);
  const port = <u32>load<u16>(C_PORT + (c << 1));
  for (;;) {
    const len = load<u32>(C_INLEN + (c << 2));
    if (len == 0) {
      store<f64>(C_PART + (c << 3), 0);
      return true;
    }
    const n = len > RXCAP ? RXCAP : len;
    memory.copy(RX, buf, n);
    store<u32>(PEER, id);
    store<u8>(PEER + 4, <u8>(li + 1));
    store<u8>(PEER + 5, <u8>fam);
    store<u16>(PEER + 6, <u16>port);
    memory.copy(PEER + 8, C_ADDR + (c << 4), 16);
    store<u64>(PEER + 24, 0);
    const r = sip_handle_stream(t, n);
    if (r > 0) {
      if (trace) traceMsgOn(true, id, "in", fam, C_ADDR + (c << 4), port, buf, <u32>r);
      memory.copy(buf, buf + <usize>r, len - <u32>r);
      store<u32>(C_INLEN + (c << 2), len - <u32>r);
      after(t);
      if (load<u8>(C_ST + c) == ST_FREE || load<u32>(C_ID + (c << 2)) != id) return false; // closed meanwhile
      continue;
    }
    if (r < 0 || len >= TCP_IN) {
      // framing lost, or a message larger than the input buffer
      if (on(Level.Debug)) {
        begin(Level.Debug, r < 0 ? "tcp stream refused; connection closed" : "tcp message too large; connection closed");
        kvU64("conn", <u64>id);
        kvInt("code", r);
        end();
      }
      closeConn(c);
      after(t);
      return false;
    }
    if (load<f64>(C_PART + (c << 3)) == 0) store<f64>(C_PART + (c << 3), t);
    return true;
  }
}

/** Writes what the peer takes now from c's queue; false if c was closed. */
function flushConn(c: u32): bool {
  const out = load<i32>(C_OUT + (c << 2));
  const buf = C_OUTBUF + c * TCP_OUT;
  let len = load<u32>(C_OUTLEN + (c << 2));
  let off: u32 = 0;
  while (off < len) {
    out_check_write(out, RET);
    if (load<u8>(RET) != 0) {
      if (load<u8>(RET, 8) == 0) error_drop(load<i32>(RET, 12));
      closeConn(c);
      return false;
    }
    const permit = load<u64>(RET, 8);
    if (permit == 0) break;
    const m = <u64>(len - off) > permit ? <u32>permit : len - off;
    out_write(out, buf + off, m, RET);
    if (load<u8>(RET) != 0) {
      if (load<u8>(RET, 4) == 0) error_drop(load<i32>(RET, 8));
      closeConn(c);
      return false;
    }
    off += m;
  }
  if (off > 0) {
    memory.copy(buf, buf + off, len - off);
    store<u32>(C_OUTLEN + (c << 2), len - off);
    store<f64>(C_LAST + (c << 3), now());
  }
  return true;
}

/** TX[0..n) to connection conn (or, conn 0, to fam/DEST:port over listener i's TCP, reusing or opening). */
function tcpTransmit(i: u32, conn: u32, fam: u32, port: u32, n: u32): void {
  let c: u32 = TCP_MAX;
  if (conn != 0) {
    c = findId(conn);
    if (c == TCP_MAX) {
      if (on(Level.Debug)) {
        begin(Level.Debug, "transmit on a closed connection; dropped");
        kvU64("conn", <u64>conn);
        end();
      }
      return;
    }
  } else {
    for (let k: u32 = 0; k < TCP_MAX; k++) {
      if (load<u8>(C_ST + k) != ST_FREE && <u32>load<u8>(C_FAM + k) == fam && <u32>load<u16>(C_PORT + (k << 1)) == port &&
        memory.compare(C_ADDR + (k << 4), DEST, 16) == 0) {
        c = k;
        break;
      }
    }
    if (c == TCP_MAX) c = connect(i, fam, port);
    if (c == TCP_MAX) return;
  }
  // traced with the connection it goes on (the one opened for it when the core said conn 0)
  if (trace) traceMsgOn(true, load<u32>(C_ID + (c << 2)), "out", <u32>load<u8>(C_FAM + c), C_ADDR + (c << 4), <u32>load<u16>(C_PORT + (c << 1)), TX, n);
  const len = load<u32>(C_OUTLEN + (c << 2));
  if (len + n > TCP_OUT) {
    if (on(Level.Debug)) {
      begin(Level.Debug, "tcp peer not reading (output queue full); connection closed");
      kvU64("conn", <u64>load<u32>(C_ID + (c << 2)));
      end();
    }
    closeConn(c);
    return;
  }
  memory.copy(C_OUTBUF + c * TCP_OUT + len, TX, n);
  store<u32>(C_OUTLEN + (c << 2), len + n);
  if (load<u8>(C_ST + c) == ST_OPEN) flushConn(c);
}

/** Starts a connection to fam/DEST:port (its bytes queue until it is established); its slot, or TCP_MAX. */
function connect(i: u32, fam: u32, port: u32): u32 {
  create_tcp_socket(fam == 6 ? 1 : 0, RET);
  if (load<u8>(RET) != 0) {
    tcpErrors++;
    return TCP_MAX;
  }
  const sock = load<i32>(RET, 4);
  flatten(fam, DEST, port);
  tcp_start_connect(sock, network, fam == 6 ? 1 : 0, load<i32>(FLAT), load<i32>(FLAT, 4), load<i32>(FLAT, 8), load<i32>(FLAT, 12),
    load<i32>(FLAT, 16), load<i32>(FLAT, 20), load<i32>(FLAT, 24), load<i32>(FLAT, 28), load<i32>(FLAT, 32),
    load<i32>(FLAT, 36), load<i32>(FLAT, 40), RET);
  if (load<u8>(RET) != 0) {
    if (on(Level.Debug)) {
      begin(Level.Debug, "tcp connect failed");
      kvInt("errno", 1000 + <i32>load<u8>(RET, 1));
      end();
    }
    tcp_drop(sock);
    tcpErrors++;
    return TCP_MAX;
  }
  const c = newConn(i, fam, DEST, port, ST_CONNECTING, now());
  store<i32>(C_SOCK + (c << 2), sock);
  store<i32>(C_PIN + (c << 2), tcp_subscribe(sock)); // ready when the connection is made (or failed)
  return c;
}

/** A connecting socket's pollable fired: finish-connect (still in progress: wait again). */
function connected(c: u32): void {
  const sock = load<i32>(C_SOCK + (c << 2));
  tcp_finish_connect(sock, RET);
  if (load<u8>(RET) != 0) {
    const code = <u32>load<u8>(RET, 4);
    if (code == 8) return; // would-block: not yet
    if (on(Level.Debug)) {
      begin(Level.Debug, "tcp connect failed");
      kvU64("conn", <u64>load<u32>(C_ID + (c << 2)));
      kvInt("errno", 1000 + <i32>code);
      end();
    }
    closeConn(c);
    after(now());
    return;
  }
  const inp = load<i32>(RET, 4);
  const out = load<i32>(RET, 8);
  pollable_drop(load<i32>(C_PIN + (c << 2)));
  openStreams(c, inp, out);
  if (load<u32>(C_OUTLEN + (c << 2)) > 0 && !flushConn(c)) after(now());
}

/** Closes connections that have held part of a message for TCP_PARTIAL_MS. */
function sweepPartial(t: f64): void {
  for (let c: u32 = 0; c < TCP_MAX; c++) {
    const since = load<f64>(C_PART + (c << 3));
    if (load<u8>(C_ST + c) == ST_OPEN && since > 0 && t - since >= TCP_PARTIAL_MS) {
      if (on(Level.Debug)) {
        begin(Level.Debug, "tcp connection held part of a message too long; closed");
        kvU64("conn", <u64>load<u32>(C_ID + (c << 2)));
        end();
      }
      closeConn(c);
    }
  }
  if (nClosed > 0) after(t);
}

function fatalListen(i: u32, msg: string, errno: i32): void {
  begin(Level.Error, msg);
  key("listen");
  putByte(0x22);
  putPeerOn(isTcp(i + 1), <u32>load<u8>(L_FAM + i), L_ADDR + (i << 4), <u32>load<u16>(L_PORT + (i << 1)));
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
    putPeerOn(isTcp(i + 1), <u32>load<u8>(L_FAM + i), L_ADDR + (i << 4), <u32>load<u16>(L_PORT + (i << 1)));
    putByte(0x22);
    kvInt("transport", <i32>(i + 1));
    kvBytes("advertised", CFG, n);
    end();
    if (load<u8>(L_WILD + i) != 0 && on(Level.Warn)) {
      begin(Level.Warn, "wildcard listen address: advertising loopback (WASI has no interface list; listen on a specific address)");
      kvInt("transport", <i32>(i + 1));
      end();
    }
    const r = sip_transport_add(i + 1, <u32>load<u8>(L_PROTO + i), n);
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
  if (P2 && nClosed > 0) reportClosed(t);
}

/** Transport id tid (1-based) is a TCP listener. */
function isTcp(tid: u32): bool {
  return P2 && tid >= 1 && tid <= nListen && load<u8>(L_PROTO + tid - 1) == <u8>Proto.TCP;
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
  if (P2 && load<u8>(L_PROTO + i) == <u8>Proto.TCP) {
    tcpTransmit(i, load<u32>(TXMETA), fam, p, n);
    return;
  }
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
        begin(Level.Warn, P2 ? "destination of another address family than the UDP transport's; dropped"
          : "IPv6 destination on an IPv4 UDP transport; dropped");
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
    beginBytes(level, BLOB + (r >>> REF_SHIFT), r & REF_MASK);
    key("event");
    putByte(0x22);
    putBytes(BLOB + (r >>> REF_SHIFT), r & REF_MASK);
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
    putPeerOn(isTcp(<u32>load<u8>(pe + 4)), fam, pe + 8, <u32>load<u16>(pe + 6));
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
        keyBytes(BLOB + (r >>> REF_SHIFT), r & REF_MASK);
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
    keyBytes(BLOB + (vf >>> REF_SHIFT), vf & REF_MASK);
    putU64(<u64>value);
  } else if (value) kvU64("value", <u64>value);
  const lost = load<u32>(e + 20);
  if (lost) kvU64("lost", <u64>lost);
  key("coreTime");
  putMs(load<f64>(e + 8));
  end();
}

function traceMsg(dir: string, fam: u32, a: usize, port: u32, p: usize, n: u32): void {
  traceMsgOn(false, 0, dir, fam, a, port, p, n);
}

function traceMsgOn(tcp: bool, conn: u32, dir: string, fam: u32, a: usize, port: u32, p: usize, n: u32): void {
  begin(Level.Debug, "sip");
  kvStr("dir", dir);
  key("peer");
  putByte(0x22);
  putPeerOn(tcp, fam, a, port);
  putByte(0x22);
  if (conn) kvU64("conn", <u64>conn);
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
    putStr(P2 ? " (WASI host, WASI 0.2 component)\ncore " : " (WASI host)\ncore ");
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
