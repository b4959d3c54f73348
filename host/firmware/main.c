// sipling firmware main loop for the MPS2-AN386 (Cortex-M4): the wasm2c'd core behind a SLIP-framed
// UART. The host side (bridge.mjs) turns UDP datagrams into frames and back.
//
// Frames (SLIP, RFC 1055; the first payload byte is the kind):
//   bridge -> firmware
//     'C' text   configuration, one item a line: "transport udp HOST:PORT" (ids 1, 2, ... in order),
//                "set KEY VALUE" (sip_cfg_set), "add KIND HEX" (sip_cfg_add of the bytes HEX encodes:
//                any text, secrets and binary patterns alike), "domain NAME" (add of a domain as text).
//                Resets the core and applies it, in order. KEY and KIND are host/shared/abi.json's
//                numbers (the bridge writes these lines from the configuration schema).
//     'D' peer(32) bytes      one received datagram (peer record as in docs/ABI.md)
//     'S'        stats request
//     'X'        trap test: raises a wasm trap inside the guarded region (recovery is then reported)
//   firmware -> bridge
//     'B' text   booted; waiting for a 'C' frame (compiled-in defaults after FW_CONFIG_WAIT_MS)
//     'R' text   configured and running: "ok transports=N domains=N errors=0", or "error ... errors=N
//                line=L result=R" (the first refused line, 1-based, and the core's result; the
//                line's text is never echoed: it may hold a secret)
//     'D' meta(32) [name] bytes   one datagram to send (name present when family == 0, its length = flags)
//     'E' record one event record (docs/ABI.md: 64 bytes + texts)
//     'L' text   a log line (traps, dropped frames, faults)
//     'S' u32[]  stats: sip_stat(0 .. SIP_STAT_COUNT-1), stack bytes used, traps, frames dropped, uptime
//                ms, the core's deepest call chain (static, FW_CALL_DEPTH)
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include "numbers.h" /* host/c/numbers.h: the ABI numbers, generated from host/shared/abi.json */
#include "runtime.h"
#include "sip.h"

#define CPU_HZ 25000000u
#define BAUD 115200u
#define FW_CONFIG_WAIT_MS 2000u
#define SEED_LO 0x51b1e5edu
#define SEED_HI 0x9e3779b9u

/* ---- CMSDK APB UART0 (QEMU hw/char/cmsdk-apb-uart.c; mps2.c puts UART0 at 0x40004000, RX IRQ 0) ---- */
#define UART0 0x40004000u
#define UART_DATA (*(volatile uint32_t*)(UART0 + 0x00))
#define UART_STATE (*(volatile uint32_t*)(UART0 + 0x04))
#define UART_CTRL (*(volatile uint32_t*)(UART0 + 0x08))
#define UART_INTSTATUS (*(volatile uint32_t*)(UART0 + 0x0C))  // write 1 to clear
#define UART_BAUDDIV (*(volatile uint32_t*)(UART0 + 0x10))
#define STATE_TXFULL 1u
#define STATE_RXFULL 2u
#define CTRL_TXEN 1u
#define CTRL_RXEN 2u
#define CTRL_RXIE 8u
#define NVIC_ISER0 (*(volatile uint32_t*)0xE000E100)
#define SCB_AIRCR (*(volatile uint32_t*)0xE000ED0C)

static void uart_init(void) {
  UART_BAUDDIV = CPU_HZ / BAUD;  // QEMU only moves bytes when BAUDDIV >= 16
  UART_CTRL = CTRL_TXEN | CTRL_RXEN | CTRL_RXIE;
  NVIC_ISER0 = 1u << 0;
}
void uart0_rx_irq(void) { UART_INTSTATUS = 2u; }  // only wakes the main loop from WFI
static void uart_put(uint8_t c) {
  while (UART_STATE & STATE_TXFULL) {}
  UART_DATA = c;
}
static int uart_get(void) { return (UART_STATE & STATE_RXFULL) ? (int)(UART_DATA & 0xFF) : -1; }

/* ---- SLIP ---- */
#define SLIP_END 0xC0
#define SLIP_ESC 0xDB
#define SLIP_ESC_END 0xDC
#define SLIP_ESC_ESC 0xDD

static void slip_begin(uint8_t kind) { uart_put(SLIP_END); uart_put(kind); }
static void slip_bytes(const uint8_t* p, uint32_t n) {
  while (n--) {
    uint8_t c = *p++;
    if (c == SLIP_END) { uart_put(SLIP_ESC); uart_put(SLIP_ESC_END); }
    else if (c == SLIP_ESC) { uart_put(SLIP_ESC); uart_put(SLIP_ESC_ESC); }
    else uart_put(c);
  }
}
static void slip_end(void) { uart_put(SLIP_END); }
static void send_text(uint8_t kind, const char* a, const char* b) {
  slip_begin(kind);
  slip_bytes((const uint8_t*)a, strlen(a));
  if (b) slip_bytes((const uint8_t*)b, strlen(b));
  slip_end();
}

/* A frame is decoded where it is used, not into a buffer of its own (which would cost as much RAM as the
   core's receive buffer): a 'D' frame's peer record and datagram straight into the core's peer record
   and receive buffer, any other frame's text into the receive buffer as well (it belongs to the host
   between calls into the core), or, before the core first starts, into the start of its memory. */
#define CONFIG_CAP 1024
extern uint8_t fw_memory[];
static uint8_t* mem;
static uint32_t rx_ptr, rx_cap, peer_ptr;
static uint8_t frame_kind;
static uint32_t frame_len;  /* bytes of the frame so far, its kind included */
static uint8_t frame_esc, frame_over;
static uint32_t frames_dropped, traps;

/** Where byte i of the frame's payload (after the kind) goes, or 0 if it does not fit. */
static uint8_t* frame_at(uint32_t i) {
  if (frame_kind == 'D') {
    if (!mem) return 0;
    if (i < 32) return mem + peer_ptr + i;
    return i - 32 < rx_cap ? mem + rx_ptr + (i - 32) : 0;
  }
  if (i >= CONFIG_CAP) return 0;
  return mem ? (i < rx_cap ? mem + rx_ptr + i : 0) : fw_memory + i;
}
/** The payload of a complete non-'D' frame. */
static const uint8_t* frame_text(void) { return mem ? mem + rx_ptr : fw_memory; }

/** Feeds one byte; returns 1 when a complete frame is in place. */
static int slip_feed(uint8_t c) {
  if (c == SLIP_END) {
    int done = frame_len > 0 && !frame_over;
    if (frame_over) {
      frames_dropped++;
      if (frame_kind == 'D') send_text('L', "datagram dropped: larger than the core's buffer, or before the core started", 0);
      if (frame_kind == 'C') send_text('R', "error config too long", 0);
    }
    if (!done) frame_len = 0;
    frame_esc = frame_over = 0;
    return done;
  }
  if (c == SLIP_ESC) { frame_esc = 1; return 0; }
  if (frame_esc) { c = c == SLIP_ESC_END ? SLIP_END : c == SLIP_ESC_ESC ? SLIP_ESC : c; frame_esc = 0; }
  if (frame_over) return 0;
  if (frame_len == 0) { frame_kind = c; frame_len = 1; return 0; }
  uint8_t* p = frame_at(frame_len - 1);
  if (p) { *p = c; frame_len++; }
  else frame_over = 1;
  return 0;
}

/* ---- the core ---- */
static Z_sip_instance_t core;
static uint32_t tx_ptr, meta_ptr, name_ptr, cfg_ptr, cfg_cap, event_ptr;
static double deadline = -1;

static const char default_config[] = "transport udp 127.0.0.1:5060\ndomain localhost\ndomain 127.0.0.1\n";
static char config[CONFIG_CAP];
static uint32_t config_len;

static double now_ms(void) { return (double)fw_millis(); }

static char* utoa10(uint32_t v, char* end) {  // writes backwards, returns start; *end must be room for NUL
  *end = 0;
  do { *--end = (char)('0' + v % 10); v /= 10; } while (v);
  return end;
}

static uint32_t put_cfg(const char* s, uint32_t n) {
  if (n > cfg_cap) n = cfg_cap;
  memcpy(mem + cfg_ptr, s, n);
  return n;
}

static uint32_t parse_u32(const char* s, const char* e, int* ok) {
  uint32_t v = 0;
  *ok = s < e;
  for (; s < e; s++) {
    if (*s < '0' || *s > '9') { *ok = 0; break; }
    v = v * 10 + (uint32_t)(*s - '0');
  }
  return v;
}

static int word_is(const char* s, uint32_t n, const char* w) { return strlen(w) == n && memcmp(s, w, n) == 0; }

static int hex_digit(char c) {
  return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/** HEX (an even count of digits) -> the cfg buffer; its byte count, or -1 if malformed or too long. */
static int put_hex(const char* s, const char* e) {
  uint32_t n = 0;
  if ((e - s) & 1) return -1;
  for (; s < e; s += 2, n++) {
    int hi = hex_digit(s[0]), lo = hex_digit(s[1]);
    if (hi < 0 || lo < 0 || n >= cfg_cap) return -1;
    mem[cfg_ptr + n] = (uint8_t)(hi << 4 | lo);
  }
  return (int)n;
}

/** Appends text s to status[0, n) within cap (room kept for the NUL); the new length. */
static uint32_t put_text(char* status, uint32_t n, uint32_t cap, const char* s) {
  for (; *s && n + 1 < cap; s++) status[n++] = *s;
  return n;
}

/** Appends label and v in decimal. */
static __attribute__((noinline)) uint32_t put_number(char* status, uint32_t n, uint32_t cap, const char* label, uint32_t v) {
  char num[12];
  return put_text(status, put_text(status, n, cap, label), cap, utoa10(v, num + 11));
}

/** Applies the stored configuration to a freshly initialised core. Writes a summary to `status`. */
static int apply_config(char* status, uint32_t cap) {
  uint32_t transports = 0, domains = 0, errors = 0, line = 0, bad_line = 0;
  int bad_result = 0;
  const char* p = config;
  const char* end = config + config_len;
  while (p < end) {
    const char* nl = memchr(p, '\n', (size_t)(end - p));
    const char* le = nl ? nl : end;
    const char* a = p;
    line++;
    while (a < le && *a == ' ') a++;
    const char* ae = a;
    while (ae < le && *ae != ' ') ae++;
    const char* b = ae;
    while (b < le && *b == ' ') b++;
    const char* be = le;
    while (be > b && (be[-1] == ' ' || be[-1] == '\r')) be--;
    // the second word (a number for set/add) and what follows it
    const char* k = b;
    while (k < be && *k != ' ') k++;
    const char* v = k;
    while (v < be && *v == ' ') v++;
    int ok1, ok2;
    int r = 0;
    if (ae == a) { /* blank */ }
    else if (word_is(a, (uint32_t)(ae - a), "transport")) {
      // "udp HOST:PORT"
      if (!word_is(b, (uint32_t)(k - b), "udp")) r = -100;
      else r = (int)Z_sipZ_sip_transport_add(&core, ++transports, SIP_PROTO_UDP, put_cfg(v, (uint32_t)(be - v)));
    } else if (word_is(a, (uint32_t)(ae - a), "domain")) {
      r = (int)Z_sipZ_sip_cfg_add(&core, SIP_CFG_KIND_DOMAIN, put_cfg(b, (uint32_t)(be - b)));
      if (r == 0) domains++;
    } else if (word_is(a, (uint32_t)(ae - a), "add")) {
      uint32_t kind = parse_u32(b, k, &ok1);
      int n = put_hex(v, be);
      r = ok1 && n >= 0 ? (int)Z_sipZ_sip_cfg_add(&core, kind, (uint32_t)n) : -100;
      if (r == 0 && kind == SIP_CFG_KIND_DOMAIN) domains++;
    } else if (word_is(a, (uint32_t)(ae - a), "set")) {
      uint32_t key = parse_u32(b, k, &ok1);
      uint32_t val = parse_u32(v, be, &ok2);
      r = ok1 && ok2 ? (int)Z_sipZ_sip_cfg_set(&core, key, (double)val) : -100;
    } else r = -101;
    if (r < 0 && errors++ == 0) {
      bad_line = line;
      bad_result = r;
    }
    p = nl ? nl + 1 : end;
  }
  // the summary, one part after the other (no array of parts and numbers on the stack: this frame is
  // the image's largest, which sizes the stack, see mps2-an386.ld)
  uint32_t n = 0;
  n = put_text(status, n, cap, errors || !transports ? "error" : "ok");
  n = put_number(status, n, cap, " transports=", transports);
  n = put_number(status, n, cap, " domains=", domains);
  n = put_number(status, n, cap, " errors=", errors);
  if (errors) {
    n = put_number(status, n, cap, " line=", bad_line);
    n = put_number(status, n, cap, " result=-", (uint32_t)-bad_result);
  }
  status[n] = 0;
  return errors || !transports ? -1 : 0;
}

static void core_pointers(void) {
  mem = core.w2c_memory.data;
  rx_ptr = Z_sipZ_sip_rx_ptr(&core);
  rx_cap = Z_sipZ_sip_rx_cap(&core);
  peer_ptr = Z_sipZ_sip_peer_ptr(&core);
  tx_ptr = Z_sipZ_sip_tx_ptr(&core);
  meta_ptr = Z_sipZ_sip_tx_meta_ptr(&core);
  name_ptr = Z_sipZ_sip_tx_name_ptr(&core);
  cfg_ptr = Z_sipZ_sip_cfg_ptr(&core);
  cfg_cap = Z_sipZ_sip_cfg_cap(&core);
  event_ptr = Z_sipZ_sip_event_ptr(&core);
}

static void drain(void) {
  double now = now_ms();
  uint32_t n;
  while ((n = Z_sipZ_sip_poll_transmit(&core, now)) > 0) {
    const uint8_t* meta = mem + meta_ptr;
    slip_begin('D');
    slip_bytes(meta, 32);
    if (meta[5] == 0) {  // family 0: a host name for the bridge to resolve
      uint32_t len;
      memcpy(&len, meta + 24, 4);
      slip_bytes(mem + name_ptr, len > 64 ? 64 : len);
    }
    slip_bytes(mem + tx_ptr, n);
    slip_end();
  }
  deadline = Z_sipZ_sip_poll_timeout(&core);
  while (Z_sipZ_sip_poll_event(&core) != 0) {
    const uint8_t* ev = mem + event_ptr;
    uint32_t len = 64;
    for (int i = 0; i < 4; i++) len += (uint32_t)(ev[56 + 2 * i] | (ev[57 + 2 * i] << 8));
    if (len > 2048) len = 2048;
    slip_begin('E');
    slip_bytes(ev, len);
    slip_end();
  }
}

/* ---- guarded execution: a trap longjmps back here ---- */
typedef void (*step_fn)(void);
static int guarded(step_fn fn) {
  jmp_buf jb;
  int t = setjmp(jb);
  if (t == 0) {
    fw_set_unwind(&jb);
    fn();
    fw_set_unwind(0);
    return 0;
  }
  fw_set_unwind(0);
  return t;
}

static char boot_status[96];
static int boot_result;
static void core_boot_step(void) {
  if (frame_len > 0) frame_over = 1;  // a frame arriving in the core's memory is lost with it
  Z_sip_instantiate(&core);
  core_pointers();
  Z_sipZ__initialize(&core);
  Z_sipZ_sip_init(&core, SEED_LO ^ fw_systick_val(), SEED_HI ^ (uint32_t)fw_millis(), now_ms());
  boot_result = apply_config(boot_status, sizeof boot_status);
  // the core's layout must lie within the RAM backing its memory (runtime.c): a core built without
  // the firmware being rebuilt would otherwise trap on its first access beyond it. (stat + 16 > bytes,
  // compared as stat > bytes - 16: both are integers, exact as doubles; no double addition in the image)
  if (Z_sipZ_sip_stat(&core, SIP_STAT_MEMORY_BYTES) > (double)(FW_MEMORY_BYTES - 16)) fw_fatal("the core's memory exceeds FW_MEMORY_BYTES: rebuild the firmware");
  drain();
}
static void core_boot(void) {
  if (guarded(core_boot_step) != 0) fw_fatal("trap while starting the core");
}

static void on_trap(int code) {
  traps++;
  send_text('L', "trap: ", wasm_rt_strerror((wasm_rt_trap_t)code));
  core_boot();  // a trap may leave the core's tables half-updated: start it again from its config
  send_text('L', "core restarted: ", boot_status);
}

static uint32_t cur_len;
static void datagram_step(void) {
  Z_sipZ_sip_handle_datagram(&core, now_ms(), cur_len);
  drain();
}
static void timeout_step(void) {
  Z_sipZ_sip_handle_timeout(&core, now_ms());
  drain();
}
static void trap_test_step(void) { wasm_rt_trap(WASM_RT_TRAP_UNREACHABLE); }

static uint32_t stack_used(void) {
  uint32_t* p = __stack_bottom__;
  while (p < __stack_top__ && *p == 0x5AC4u) p++;
  return (uint32_t)((uintptr_t)__stack_top__ - (uintptr_t)p);
}

#ifndef FW_CALL_DEPTH
#error "FW_CALL_DEPTH: the core's deepest chain of calls, from tools/firmware.mjs (callGraph)"
#endif
/* after the core's: stack bytes used, traps, frames dropped, uptime ms, the core's static call depth */
#define FW_STATS 5
static uint32_t stats_out[SIP_STAT_COUNT + FW_STATS];
static void stats_step(void) {
  for (int i = 0; i < SIP_STAT_COUNT; i++) stats_out[i] = (uint32_t)Z_sipZ_sip_stat(&core, (uint32_t)i);
  stats_out[SIP_STAT_COUNT] = stack_used();
  stats_out[SIP_STAT_COUNT + 1] = traps;
  stats_out[SIP_STAT_COUNT + 2] = frames_dropped;
  stats_out[SIP_STAT_COUNT + 3] = (uint32_t)fw_millis();
  stats_out[SIP_STAT_COUNT + 4] = FW_CALL_DEPTH;
}

static void run(step_fn fn) {
  int t = guarded(fn);
  if (t) on_trap(t);
}

static void configure(const uint8_t* text, uint32_t n) {
  memcpy(config, text, n);  // n <= CONFIG_CAP (frame_at)
  config_len = n;
  core_boot();
  send_text('R', boot_status, 0);
}

static void handle_frame(void) {
  switch (frame_kind) {
    case 'D':
      if (frame_len < 33) break;
      cur_len = frame_len - 33;  // at most rx_cap (frame_at)
      run(datagram_step);
      break;
    case 'C':
      configure(frame_text(), frame_len - 1);
      break;
    case 'S':
      run(stats_step);
      slip_begin('S');
      slip_bytes((const uint8_t*)stats_out, sizeof stats_out);
      slip_end();
      break;
    case 'X':
      run(trap_test_step);
      break;
    default:
      frames_dropped++;
  }
}

__attribute__((noreturn)) void fw_fatal(const char* why) {
  __asm volatile("cpsid i");
  send_text('L', "fatal: ", why);
  SCB_AIRCR = 0x05FA0004u;  // SYSRESETREQ: the board starts again and asks for its configuration
  for (;;) {}
}

int main(void) {
  uart_init();
  fw_systick_start(CPU_HZ);
  wasm_rt_init();
  Z_sip_init_module();
  send_text('B', "sipling mps2-an386", 0);

  // wait for the bridge's configuration; fall back to the compiled-in defaults
  uint64_t until = fw_millis() + FW_CONFIG_WAIT_MS;
  int configured = 0;
  while (!configured && fw_millis() < until) {
    int c = uart_get();
    if (c < 0) { __asm volatile("wfi"); continue; }
    if (slip_feed((uint8_t)c)) {
      if (frame_kind == 'C') { configure(frame_text(), frame_len - 1); configured = 1; }
      frame_len = 0;
      frame_over = 0;
    }
  }
  if (!configured) configure((const uint8_t*)default_config, sizeof default_config - 1);

  for (;;) {
    int c, any = 0;
    while ((c = uart_get()) >= 0) {
      any = 1;
      if (slip_feed((uint8_t)c)) {
        handle_frame();
        frame_len = 0;
        frame_over = 0;
        break;  // look at the timers between frames
      }
    }
    if (deadline >= 0 && now_ms() >= deadline) { run(timeout_step); continue; }
    if (!any) __asm volatile("wfi");
  }
}
