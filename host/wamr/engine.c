/* The core under WAMR's interpreter, behind the wasm2c names host/c/main.c calls (sip.h here).
 * The core (.wasm embedded by core.S) is loaded and instantiated once; its exports are looked up
 * once; each call passes its arguments in WAMR's 32-bit cells (an f64 takes two). A failed call is a
 * trap: it long-jumps to main()'s one unwind target (wasm-rt-impl.h), which logs it and exits 1.
 * The core imports nothing and never grows its memory (initial = maximum pages), so the linear
 * memory's address is taken once. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wasm_export.h"

#include "sip.h"

extern const uint8_t sipling_wasm[], sipling_wasm_end[];

jmp_buf sipling_wamr_jmp;

#define STACK_BYTES (256 * 1024) /* WAMR's operand and frame stack for the core's calls */

static wasm_module_t module;
static wasm_module_inst_t inst;
static wasm_exec_env_t env;
static wasm_rt_memory_t memory;
static uint8_t *module_bytes; /* WAMR's loader may patch the buffer it is given: a writable copy */

enum {
  F_initialize, F_rx_ptr, F_rx_cap, F_peer_ptr, F_tx_ptr, F_tx_meta_ptr, F_tx_name_ptr, F_cfg_ptr,
  F_cfg_cap, F_event_ptr, F_init, F_cfg_set, F_cfg_add, F_transport_add, F_handle_datagram,
  F_handle_stream, F_handle_conn_closed, F_handle_timeout, F_poll_transmit, F_poll_timeout,
  F_poll_event, F_stat, F_shutdown, F_poll_relay, F_relay_ptr, F_relay_report, F_hist, F_loc_ptr, F_loc,
  F_poll_resolve, F_resolved, F_layout_ptr, F_COUNT
};
static const char *const NAMES[F_COUNT] = {
  "_initialize", "sip_rx_ptr", "sip_rx_cap", "sip_peer_ptr", "sip_tx_ptr", "sip_tx_meta_ptr",
  "sip_tx_name_ptr", "sip_cfg_ptr", "sip_cfg_cap", "sip_event_ptr", "sip_init", "sip_cfg_set",
  "sip_cfg_add", "sip_transport_add", "sip_handle_datagram", "sip_handle_stream",
  "sip_handle_conn_closed", "sip_handle_timeout", "sip_poll_transmit", "sip_poll_timeout",
  "sip_poll_event", "sip_stat", "sip_shutdown", "sip_poll_relay", "sip_relay_ptr", "sip_relay_report",
  "sip_hist", "sip_loc_ptr", "sip_loc", "sip_poll_resolve", "sip_resolved", "sip_layout_ptr",
};
static wasm_function_inst_t fn[F_COUNT];

static void fail(const char *what, const char *detail) {
  fprintf(stderr, "sipling: WAMR: %s: %s\n", what, detail);
  exit(1);
}

/* host/c/main.c's main() is compiled as sipling_host_main (CMakeLists.txt) and runs on a thread of
 * its own: WAMR (this 2020 release) asks for the calling thread's stack bounds on every
 * wasm_runtime_call_wasm, and glibc answers that for the process's main thread by reading
 * /proc/self/maps (measured: about a fifth of the CPU under SIPp load); for another thread it is a
 * lookup. The main thread then blocks every signal, so SIGTERM, SIGINT and SIGUSR2 reach the host's
 * handlers on its thread and interrupt its poll() as they do in the native host. */
int sipling_host_main(int argc, char **argv);

#define HOST_THREAD_STACK (8u << 20)
static int host_argc;
static char **host_argv;

static void *host_thread(void *arg) {
  (void)arg;
  exit(sipling_host_main(host_argc, host_argv));
}

int main(int argc, char **argv) {
  host_argc = argc, host_argv = argv;
  pthread_attr_t attr;
  pthread_t t;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, HOST_THREAD_STACK);
  int e = pthread_create(&t, &attr, host_thread, NULL);
  if (e != 0) fail("pthread_create", strerror(e));
  sigset_t all;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, NULL);
  pthread_join(t, NULL); /* the host thread ends the process with exit() */
  return 1;
}

void wasm_rt_init(void) {
  if (!wasm_runtime_init()) fail("wasm_runtime_init", "failed");
}

const char *wasm_rt_strerror(wasm_rt_trap_t trap) {
  const char *e = inst ? wasm_runtime_get_exception(inst) : NULL;
  return trap == WASM_RT_TRAP_NONE ? "none" : e ? e : "unknown";
}

void Z_sip_init_module(void) {
  char err[256] = "";
  size_t n = (size_t)(sipling_wasm_end - sipling_wasm);
  module_bytes = malloc(n);
  if (!module_bytes) fail("load", "out of memory");
  memcpy(module_bytes, sipling_wasm, n);
  module = wasm_runtime_load(module_bytes, (uint32_t)n, err, sizeof err);
  if (!module) fail("wasm_runtime_load", err);
}

/* The core's linear memory as main.c reads it: taken again after a call that may grow it (WAMR moves it). */
static void memory_view(void) {
  uint32_t start = 0, end = 0;
  if (!wasm_runtime_get_app_addr_range(inst, 0, &start, &end)) fail("memory", "the core has no linear memory");
  memory.data = wasm_runtime_addr_app_to_native(inst, 0);
  memory.size = end;
}

void Z_sip_instantiate(Z_sip_instance_t *core) {
  (void)core;
  char err[256] = "";
  /* heap 0: the core manages its own memory; WAMR adds no app heap */
  inst = wasm_runtime_instantiate(module, STACK_BYTES, 0, err, sizeof err);
  if (!inst) fail("wasm_runtime_instantiate", err);
  env = wasm_runtime_create_exec_env(inst, STACK_BYTES);
  if (!env) fail("wasm_runtime_create_exec_env", "failed");
  for (int i = 0; i < F_COUNT; i++) {
    fn[i] = wasm_runtime_lookup_function(inst, NAMES[i], NULL);
    if (!fn[i]) fail("the core does not export", NAMES[i]);
  }
  memory_view();
}

wasm_rt_memory_t *Z_sipZ_memory(Z_sip_instance_t *core) {
  (void)core;
  return &memory;
}

/* One call: argc cells in and out of a[]; a trap long-jumps to main()'s unwind target. */
static inline void call(int f, uint32_t argc, uint32_t *a) {
  if (!wasm_runtime_call_wasm(env, fn[f], argc, a)) longjmp(sipling_wamr_jmp, WASM_RT_TRAP_WAMR);
}
static inline void put_f64(uint32_t *a, double v) { memcpy(a, &v, sizeof v); }
static inline double get_f64(const uint32_t *a) {
  double v;
  memcpy(&v, a, sizeof v);
  return v;
}

static u32 call_u32_0(int f) {
  uint32_t a[2] = {0};
  call(f, 0, a);
  return a[0];
}

void Z_sipZ__initialize(Z_sip_instance_t *c) {
  (void)c;
  uint32_t a[2] = {0};
  call(F_initialize, 0, a);
  memory_view(); /* the server and b2bua cores grow their memory here to their tables (docs/ABI.md "Layout") */
}

#define GETTER(name, F) \
  u32 Z_sipZ_##name(Z_sip_instance_t *c) { \
    (void)c; \
    return call_u32_0(F); \
  }
GETTER(sip_rx_ptr, F_rx_ptr)
GETTER(sip_rx_cap, F_rx_cap)
GETTER(sip_peer_ptr, F_peer_ptr)
GETTER(sip_tx_ptr, F_tx_ptr)
GETTER(sip_tx_meta_ptr, F_tx_meta_ptr)
GETTER(sip_tx_name_ptr, F_tx_name_ptr)
GETTER(sip_cfg_ptr, F_cfg_ptr)
GETTER(sip_cfg_cap, F_cfg_cap)
GETTER(sip_event_ptr, F_event_ptr)
GETTER(sip_poll_event, F_poll_event)
GETTER(sip_poll_relay, F_poll_relay)
GETTER(sip_relay_ptr, F_relay_ptr)
GETTER(sip_loc_ptr, F_loc_ptr)
GETTER(sip_layout_ptr, F_layout_ptr)

/* A call of the time and two u32 arguments, no result. */
static void call_now_2(int f, f64 now, u32 x, u32 y) {
  uint32_t a[4];
  put_f64(a, now);
  a[2] = x;
  a[3] = y;
  call(f, 4, a);
}

void Z_sipZ_sip_resolved(Z_sip_instance_t *c, f64 now, u32 id, u32 proto) {
  (void)c;
  call_now_2(F_resolved, now, id, proto);
}

void Z_sipZ_sip_relay_report(Z_sip_instance_t *c, f64 now, u32 leg, u32 what) {
  (void)c;
  call_now_2(F_relay_report, now, leg, what);
}

u32 Z_sipZ_sip_init(Z_sip_instance_t *c, u32 a0, u32 a1, f64 now) {
  (void)c;
  uint32_t a[4] = {a0, a1};
  put_f64(a + 2, now);
  call(F_init, 4, a);
  return a[0];
}

u32 Z_sipZ_sip_cfg_set(Z_sip_instance_t *c, u32 key, f64 value) {
  (void)c;
  uint32_t a[3] = {key};
  put_f64(a + 1, value);
  call(F_cfg_set, 3, a);
  return a[0];
}

u32 Z_sipZ_sip_cfg_add(Z_sip_instance_t *c, u32 kind, u32 len) {
  (void)c;
  uint32_t a[2] = {kind, len};
  call(F_cfg_add, 2, a);
  return a[0];
}

u32 Z_sipZ_sip_transport_add(Z_sip_instance_t *c, u32 id, u32 proto, u32 len) {
  (void)c;
  uint32_t a[3] = {id, proto, len};
  call(F_transport_add, 3, a);
  return a[0];
}

static u32 call_now_u32(int f, f64 now, u32 x) {
  uint32_t a[3];
  put_f64(a, now);
  a[2] = x;
  call(f, 3, a);
  return a[0];
}

u32 Z_sipZ_sip_handle_datagram(Z_sip_instance_t *c, f64 now, u32 len) {
  (void)c;
  return call_now_u32(F_handle_datagram, now, len);
}

u32 Z_sipZ_sip_handle_stream(Z_sip_instance_t *c, f64 now, u32 len) {
  (void)c;
  return call_now_u32(F_handle_stream, now, len);
}

void Z_sipZ_sip_handle_conn_closed(Z_sip_instance_t *c, f64 now, u32 conn) {
  (void)c;
  call_now_u32(F_handle_conn_closed, now, conn);
}

void Z_sipZ_sip_handle_timeout(Z_sip_instance_t *c, f64 now) {
  (void)c;
  uint32_t a[2];
  put_f64(a, now);
  call(F_handle_timeout, 2, a);
}

/* A call of one argument, the time, and a u32 result. */
static u32 call_now(int f, f64 now) {
  uint32_t a[2];
  put_f64(a, now);
  call(f, 2, a);
  return a[0];
}

u32 Z_sipZ_sip_poll_transmit(Z_sip_instance_t *c, f64 now) {
  (void)c;
  return call_now(F_poll_transmit, now);
}

u32 Z_sipZ_sip_shutdown(Z_sip_instance_t *c, f64 now) {
  (void)c;
  return call_now(F_shutdown, now);
}

u32 Z_sipZ_sip_poll_resolve(Z_sip_instance_t *c, f64 now) {
  (void)c;
  return call_now(F_poll_resolve, now);
}

f64 Z_sipZ_sip_poll_timeout(Z_sip_instance_t *c) {
  (void)c;
  uint32_t a[2] = {0};
  call(F_poll_timeout, 0, a);
  return get_f64(a);
}

f64 Z_sipZ_sip_stat(Z_sip_instance_t *c, u32 i) {
  (void)c;
  uint32_t a[2] = {i};
  call(F_stat, 1, a);
  return get_f64(a);
}

f64 Z_sipZ_sip_hist(Z_sip_instance_t *c, u32 series, u32 slot) {
  (void)c;
  uint32_t a[2] = {series, slot};
  call(F_hist, 2, a);
  return get_f64(a);
}

u32 Z_sipZ_sip_loc(Z_sip_instance_t *c, u32 op, f64 now, u32 arg) {
  (void)c;
  uint32_t a[4] = {op};
  put_f64(a + 1, now);
  a[3] = arg;
  call(F_loc, 4, a);
  return a[0];
}
