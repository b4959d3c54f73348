// sipling WASI host: a WASI command that links the core in-process (the ABI functions of
// assembly/host/abi.ts are ordinary calls here: no wasm boundary between host and core) and owns the
// event loop on WasmEdge's socket extension.
//
//   wasmedge sipling-wasi.wasm [--listen udp:HOST:PORT]... [--domain NAME]... [--log-level L] [--trace]
//
// Loop (docs/ABI.md, "Call order"): poll_oneoff on one read subscription per UDP socket plus one
// clock subscription for the core's next deadline; each readable socket is drained with
// sock_recv_from straight into the core's RX buffer, the peer record filled in place, and
// sip_handle_datagram called; after every input: sip_poll_transmit -> sock_send_to until 0,
// sip_poll_timeout -> the next clock subscription, sip_poll_event -> JSON log lines on stdout.
//
// Nothing here allocates after start-up (the build uses --runtime stub): buffers are static data,
// strings are literals, numbers are formatted digit by digit into the output buffer.
//
// Exit status: 0 ok (--help), 1 runtime error (a socket that cannot be bound), 2 usage error.

import {
  sip_init, sip_cfg_set, sip_cfg_add, sip_cfg_ptr, sip_cfg_cap, sip_transport_add, sip_rx_ptr, sip_rx_cap,
  sip_peer_ptr, sip_handle_datagram, sip_handle_timeout, sip_poll_transmit, sip_tx_ptr, sip_tx_meta_ptr,
  sip_tx_name_ptr, sip_poll_timeout, sip_poll_event, sip_event_ptr, sip_stat,
} from "../../assembly/host/abi";
import {
  args_sizes_get, args_get, clock_time_get, random_get, poll_oneoff, proc_exit, fd_fdstat_set_flags,
  sock_open, sock_setsockopt, sock_bind, sock_getlocaladdr, sock_recv_from, sock_send_to,
  ERRNO_AGAIN, ERRNO_INTR, CLOCK_MONOTONIC, FDFLAGS_NONBLOCK, EVENTTYPE_CLOCK, EVENTTYPE_FD_READ,
  ROFLAGS_DATA_TRUNCATED, AF_INET, AF_INET6, SOCK_DGRAM, SOL_SOCKET, SO_RCVBUF, SO_SNDBUF,
} from "./wasi";
import {
  flush, toStderr, toStdout, putByte, putStr, putBytes, putEscaped, putU64, putHexByte, putMs, setLevel, on,
  begin, key, kvStr, kvBytes, kvInt, kvU64, end, Level,
} from "./out";
import { parse4, parse6, isMapped, putPeer, put4, put6 } from "./addr";

const USAGE = `sipling (WASI host) - SIP proxy and registrar on WasmEdge's socket extension

usage: wasmedge sipling-wasi.wasm [--listen udp:HOST:PORT]... [--domain NAME]...
                                  [--log-level error|warn|info|debug] [--trace]
       wasmedge sipling-wasi.wasm --help

options:
  --listen SPEC        listen on SPEC = udp:HOST:PORT (repeatable; numeric IPv4, or IPv6 as [::1];
                       port 0 picks a free port). UDP only: TCP is not available in this host.
                       (default: udp:127.0.0.1:5060)
  --domain NAME        a domain this server is responsible for (repeatable)
                       (default: localhost plus the listen addresses' hosts)
  --log-level L        error, warn, info (default) or debug
  --trace              log every SIP message received and sent, in full
  --help               print this help and exit

Logs are JSON lines on stdout (the Node host's format). Stop with SIGTERM/SIGINT (the runtime ends
the process). Exit status: 0 ok, 1 runtime error, 2 usage error.
`;

// ---- static state ----------------------------------------------------------------------------

const MAX_LISTEN: u32 = 64;
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

const MAX_DOMAINS: u32 = 64;
const D_PTR: usize = memory.data(<i32>(MAX_DOMAINS * 4), 4);
const D_LEN: usize = memory.data(<i32>(MAX_DOMAINS * 4), 4);
let nDomains: u32 = 0;

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
const TIME: usize = memory.data(8, 8);
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
  clock_time_get(CLOCK_MONOTONIC, 1000, TIME);
  return <f64>(load<u64>(TIME) - t0) / 1e6;
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
  proc_exit(2);
}

function fatal(msg: string, field: string, p: usize, n: u32, errno: i32): void {
  begin(Level.Error, msg);
  if (p != 0) kvBytes(field, p, n);
  if (errno != 0) kvInt("errno", errno);
  end();
  flush();
  proc_exit(1);
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

/** udp:HOST:PORT / udp:[V6]:PORT -> listener slot nListen. */
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

function addDomain(p: usize, n: u32): void {
  if (n == 0) usageError("--domain", "expected a domain name", p, n);
  for (let i: u32 = 0; i < n; i++) {
    const c = <u32>load<u8>(p + i);
    if (c <= 32 || c == 0x22 || c == 0x3c || c == 0x3e || c == 0x3b || c == 0x2c)
      usageError("--domain", "expected a domain name (no spaces, quotes, <>;,)", p, n);
  }
  if (nDomains >= MAX_DOMAINS) usageError("--domain", "too many domains", p, n);
  store<u32>(D_PTR + (nDomains << 2), <u32>p);
  store<u32>(D_LEN + (nDomains << 2), n);
  nDomains++;
}

function parseArgs(): void {
  const sizes = memory.data(8, 4);
  if (args_sizes_get(sizes, sizes + 4) != 0) return;
  const argc = load<u32>(sizes);
  const bytes = load<u32>(sizes + 4);
  // start-up allocation (allowed: the stub runtime never frees, and this runs once)
  const argv = heap.alloc(<usize>(argc + 1) << 2);
  const buf = heap.alloc(<usize>bytes + 1);
  if (args_get(argv, buf) != 0) return;
  let wantHelp = false;
  for (let i: u32 = 1; i < argc; i++) {
    const a = <usize>load<u32>(argv + (i << 2));
    const n = strlen(a);
    // --flag=value form
    let eqAt: u32 = 0;
    if (startsWith(a, n, "--")) for (let k: u32 = 2; k < n; k++) if (load<u8>(a + k) == 61) { eqAt = k; break; }
    const fn = eqAt ? eqAt : n;
    let v: usize = 0;
    let vn: u32 = 0;
    let takes = eq(a, fn, "--listen") || eq(a, fn, "--domain") || eq(a, fn, "--log-level");
    if (takes) {
      if (eqAt) {
        v = a + eqAt + 1;
        vn = n - eqAt - 1;
      } else {
        if (i + 1 >= argc) usageError(eq(a, n, "--listen") ? "--listen" : eq(a, n, "--domain") ? "--domain" : "--log-level", "expects a value", 0, 0);
        v = <usize>load<u32>(argv + ((++i) << 2));
        vn = strlen(v);
      }
    } else if (eqAt) usageError("--help|--trace", "takes no value", a, n);
    if (eq(a, fn, "--listen")) addListen(v, vn);
    else if (eq(a, fn, "--domain")) addDomain(v, vn);
    else if (eq(a, fn, "--log-level")) {
      if (eq(v, vn, "error")) setLevel(Level.Error);
      else if (eq(v, vn, "warn")) setLevel(Level.Warn);
      else if (eq(v, vn, "info")) setLevel(Level.Info);
      else if (eq(v, vn, "debug")) setLevel(Level.Debug);
      else usageError("--log-level", "expected one of error|warn|info|debug", v, vn);
    } else if (eq(a, n, "--trace")) trace = true;
    else if (eq(a, n, "--help") || eq(a, n, "-h")) wantHelp = true;
    else {
      toStderr();
      putStr("usage error: \"");
      putEscaped(a, n);
      putStr("\": unknown option (see --help)\n");
      flush();
      proc_exit(2);
    }
  }
  if (wantHelp) {
    putStr(USAGE);
    flush();
    proc_exit(0);
  }
}

// ---- sockets ---------------------------------------------------------------------------------

function bindAll(): void {
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

function fatalListen(i: u32, msg: string, errno: i32): void {
  begin(Level.Error, msg);
  key("listen");
  putByte(0x22);
  putPeer(<u32>load<u8>(L_FAM + i), L_ADDR + (i << 4), <u32>load<u16>(L_PORT + (i << 1)));
  putByte(0x22);
  kvInt("errno", errno);
  end();
  flush();
  proc_exit(1);
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
  random_get(SEED, 8);
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

  // domains: the given ones, else localhost plus the listen hosts (IPv6 bracketed)
  if (nDomains == 0) {
    const localhost = memory.data<u8>([108, 111, 99, 97, 108, 104, 111, 115, 116]); // localhost
    memory.copy(CFG, localhost, 9);
    if (sip_cfg_add(1, 9) < 0) fatal("the core refused the domain", "domain", localhost, 9, 0);
    store<u32>(D_PTR, <u32>localhost);
    store<u32>(D_LEN, 9);
    nDomains = 1;
    for (let i: u32 = 0; i < nListen; i++) {
      if (load<u8>(L_WILD + i) != 0) continue;
      const hp = <usize>load<u32>(L_HOST + (i << 2));
      const hn = load<u32>(L_HOSTLEN + (i << 2));
      if (hp == 0 || hn > cap) continue;
      // skip duplicates of an earlier listener's host
      let dup = false;
      for (let k: u32 = 0; k < i; k++) {
        const kp = <usize>load<u32>(L_HOST + (k << 2));
        const kn = load<u32>(L_HOSTLEN + (k << 2));
        if (kp != 0 && kn == hn && memory.compare(kp, hp, hn) == 0) dup = true;
      }
      if (dup) continue;
      memory.copy(CFG, hp, hn);
      const r = sip_cfg_add(1, hn);
      if (r < 0) fatal("the core refused the domain (table full or does not parse)", "domain", hp, hn, r);
      store<u32>(D_PTR + (nDomains << 2), <u32>hp);
      store<u32>(D_LEN + (nDomains << 2), hn);
      nDomains++;
    }
  } else {
    for (let i: u32 = 0; i < nDomains; i++) {
      const p = <usize>load<u32>(D_PTR + (i << 2));
      const n = load<u32>(D_LEN + (i << 2));
      if (n > cap) fatal("domain too long for the core's cfg buffer", "domain", p, n, 0);
      memory.copy(CFG, p, n);
      const r = sip_cfg_add(1, n);
      if (r < 0) fatal("the core refused the domain (table full or does not parse)", "domain", p, n, r);
    }
  }

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
    const r = sip_transport_add(i + 1, 1, n);
    if (r < 0) fatal("sip_transport_add failed", "advertised", CFG, n, r);
  }

  if (on(Level.Info)) {
    begin(Level.Info, "core ready");
    kvU64("rxCap", <u64>RXCAP);
    kvU64("cfgCap", <u64>cap);
    key("domains");
    putByte(91);
    for (let i: u32 = 0; i < nDomains; i++) {
      if (i) putByte(44);
      putByte(0x22);
      putEscaped(<usize>load<u32>(D_PTR + (i << 2)), load<u32>(D_LEN + (i << 2)));
      putByte(0x22);
    }
    putByte(93);
    key("seed");
    putByte(0x22);
    for (let k: u32 = 0; k < 8; k++) putHexByte(<u32>load<u8>(SEED + k));
    putByte(0x22);
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
    if (sfam == 6) {
      // IPv4 destination on an IPv6 socket: ::ffff:a.b.c.d
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
  store<u32>(IOV, <u32>TX);
  store<u32>(IOV, n, 4);
  store<u32>(ADDR, <u32>DEST);
  store<u32>(ADDR, sfam == 6 ? 16 : 4, 4);
  const e = sock_send_to(load<u32>(L_FD + (i << 2)), IOV, 1, ADDR, p, 0, NREAD);
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

function event(kind: i32): void {
  const level = kind == 9 || kind == 10 ? Level.Warn : Level.Info;
  if (!on(level)) return;
  const e = EV;
  switch (kind) {
    case 1: begin(level, "reg-add"); break;
    case 2: begin(level, "reg-refresh"); break;
    case 3: begin(level, "reg-remove"); break;
    case 4: begin(level, "reg-expire"); break;
    case 5: begin(level, "call-attempt"); break;
    case 6: begin(level, "call-answer"); break;
    case 7: begin(level, "call-fail"); break;
    case 8: begin(level, "call-end"); break;
    case 9: begin(level, "bad-message"); break;
    case 10: begin(level, "table-full"); break;
    default: begin(level, "event"); break;
  }
  key("event");
  putByte(0x22);
  switch (kind) {
    case 1: putStr("reg-add"); break;
    case 2: putStr("reg-refresh"); break;
    case 3: putStr("reg-remove"); break;
    case 4: putStr("reg-expire"); break;
    case 5: putStr("call-attempt"); break;
    case 6: putStr("call-answer"); break;
    case 7: putStr("call-fail"); break;
    case 8: putStr("call-end"); break;
    case 9: putStr("bad-message"); break;
    case 10: putStr("table-full"); break;
    default: putStr("event-"); putU64(<u64>kind); break;
  }
  putByte(0x22);
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
      if (kind >= 1 && kind <= 4) key(i == 0 ? "aor" : i == 1 ? "contact" : i == 2 ? "callId" : "detail");
      else if (kind >= 5 && kind <= 8) key(i == 0 ? "caller" : i == 1 ? "callee" : i == 2 ? "callId" : "detail");
      else key(i == 0 ? "text1" : i == 1 ? "text2" : i == 2 ? "callId" : "detail");
      putByte(0x22);
      putEscaped(at, len);
      putByte(0x22);
    }
    at += len;
  }
  const value = load<u32>(e + 16);
  if (kind >= 1 && kind <= 4) kvU64("expires", <u64>value);
  else if (kind == 8) kvU64("durationMs", <u64>value);
  else if (value) kvU64("value", <u64>value);
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
}

function loop(): void {
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

function main(): void {
  clock_time_get(CLOCK_MONOTONIC, 1000, TIME);
  t0 = load<u64>(TIME);
  parseArgs();
  if (nListen == 0) {
    const dflt = memory.data<u8>([117, 100, 112, 58, 49, 50, 55, 46, 48, 46, 48, 46, 49, 58, 53, 48, 54, 48]); // udp:127.0.0.1:5060
    addListen(dflt, 18);
  }
  bindAll();
  startCore();
  begin(Level.Info, "running");
  kvStr("host", "wasi");
  kvStr("board", "server");
  kvU64("listeners", <u64>nListen);
  end();
  flush();
  loop();
}

main();
