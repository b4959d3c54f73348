// A stand-in core implementing docs/ABI.md just enough to drive the Node host in tests
// (tests/host/loop.test.mjs). Behaviour, per input message (text in RX):
//   "CONNECT <port>..."  -> transmit the message over transport 2 (TCP), conn 0, to 127.0.0.1:<port>
//   "NAME <port>..."     -> transmit over transport 1 (UDP) to the host name "localhost":<port>
//   "BAD..." (stream)    -> sip_handle_stream returns -1 (the host must close the connection)
//   anything else        -> echoed back to its source, prefixed "ECHO ", plus a reg-add event
//                           (AOR "sip:echo@test", Call-ID "c1") and a timer 20 ms later; when that
//                           timer fires, a call-end event (value 7).
// Stream framing: a message ends at the first CRLFCRLF; a bare CRLFCRLF is a keepalive -> CRLF.
// A closed connection produces a table-full event with code = conn (so tests can see it).
const RX = memory.data(65536);
const TX = memory.data(65536 + 8);
const PEER = memory.data(32);
const META = memory.data(32);
const NAME = memory.data(64);
const EVT = memory.data(64 + 256);
const CFG = memory.data(1024);

let txLen: u32 = 0;
let deadline: f64 = -1;
let evKind: i32 = 0;
let evCode: i32 = 0;
let evValue: u32 = 0;

export function sip_init(lo: u32, hi: u32, now: f64): i32 { return 0; }
export function sip_cfg_ptr(): usize { return CFG; }
export function sip_cfg_cap(): u32 { return 1024; }
export function sip_cfg_set(key: u32, value: u32): i32 { return (key >= 1 && key <= 10) || (key >= 12 && key <= 24) ? 0 : -1; }
export function sip_cfg_add(kind: u32, len: u32): i32 { return kind >= 1 && kind <= 12 ? 0 : -3; }
export function sip_transport_add(id: u32, proto: u32, len: u32): i32 { return 0; }
export function sip_rx_ptr(): usize { return RX; }
export function sip_rx_cap(): u32 { return 65536; }
export function sip_tx_ptr(): usize { return TX; }
export function sip_peer_ptr(): usize { return PEER; }
export function sip_tx_meta_ptr(): usize { return META; }
export function sip_tx_name_ptr(): usize { return NAME; }
export function sip_event_ptr(): usize { return EVT; }

function startsWith(len: u32, s: string): bool {
  const n = <u32>s.length;
  if (len < n) return false;
  for (let i: u32 = 0; i < n; i++) if (load<u8>(RX + i) != <u8>s.charCodeAt(i)) return false;
  return true;
}

function portAt(off: u32, len: u32): u16 {
  let p: u32 = 0;
  for (let i = off; i < len; i++) {
    const c = load<u8>(RX + i);
    if (c < 48 || c > 57) break;
    p = p * 10 + (c - 48);
  }
  return <u16>p;
}

function setEvent(kind: i32, code: i32, value: u32, now: f64): void {
  evKind = kind; evCode = code; evValue = value;
  store<u32>(EVT, kind); store<i32>(EVT, code, 4); store<f64>(EVT, now, 8);
  store<u32>(EVT, value, 16); store<u32>(EVT, 0, 20);
  memory.copy(EVT + 24, PEER, 32);
  const a = "sip:echo@test"; const c = "c1";
  store<u16>(EVT, <u16>a.length, 56); store<u16>(EVT, 0, 58);
  store<u16>(EVT, <u16>c.length, 60); store<u16>(EVT, 0, 62);
  for (let i = 0; i < a.length; i++) store<u8>(EVT + 64 + i, <u8>a.charCodeAt(i));
  for (let i = 0; i < c.length; i++) store<u8>(EVT + 64 + a.length + i, <u8>c.charCodeAt(i));
}

function respond(len: u32, now: f64): void {
  memory.copy(META, PEER, 32);
  if (startsWith(len, "CONNECT ")) {
    store<u32>(META, 0); store<u8>(META, 2, 4); store<u8>(META, 4, 5);
    store<u16>(META, portAt(8, len), 6);
    store<u32>(META + 8, 0x0100007f); // 127.0.0.1
    memory.copy(TX, RX, len); txLen = len;
    return;
  }
  if (startsWith(len, "NAME ")) {
    store<u32>(META, 0); store<u8>(META, 1, 4); store<u8>(META, 0, 5);
    store<u16>(META, portAt(5, len), 6);
    const h = "localhost";
    for (let i = 0; i < h.length; i++) store<u8>(NAME + i, <u8>h.charCodeAt(i));
    store<u32>(META, h.length, 24);
    memory.copy(TX, RX, len); txLen = len;
    return;
  }
  const p = "ECHO ";
  for (let i = 0; i < p.length; i++) store<u8>(TX + i, <u8>p.charCodeAt(i));
  memory.copy(TX + 5, RX, len);
  txLen = len + 5;
  setEvent(1, 200, 3600, now);
  deadline = now + 20;
}

export function sip_handle_datagram(now: f64, len: u32): i32 {
  respond(len, now);
  return <i32>len;
}

export function sip_handle_stream(now: f64, len: u32): i32 {
  if (startsWith(len, "BAD")) return -1;
  for (let i: u32 = 0; i + 3 < len; i++) {
    if (load<u8>(RX + i) == 13 && load<u8>(RX + i + 1) == 10 && load<u8>(RX + i + 2) == 13 && load<u8>(RX + i + 3) == 10) {
      const n = i + 4;
      if (n == 4) {
        memory.copy(META, PEER, 32);
        store<u8>(TX, 13); store<u8>(TX, 10, 1); txLen = 2;
      } else respond(n, now);
      return <i32>n;
    }
  }
  return 0;
}

export function sip_handle_conn_closed(now: f64, conn: u32): void {
  store<u32>(PEER, conn);
  setEvent(10, <i32>conn, 0, now);
}

export function sip_handle_timeout(now: f64): void {
  if (deadline >= 0 && now >= deadline) {
    deadline = -1;
    setEvent(8, 0, 7, now);
  }
}

export function sip_poll_transmit(now: f64): u32 {
  const n = txLen;
  txLen = 0;
  return n;
}

export function sip_poll_timeout(): f64 { return deadline; }
export function sip_shutdown(now: f64): i32 { return 0; } // no registrations of ours

export function sip_poll_event(): i32 {
  const k = evKind;
  evKind = 0;
  return k;
}
