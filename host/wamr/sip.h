/* Stands in for wasm2c's sip.h when host/c/ is built against WAMR (tools/wamr.mjs): the same names
 * host/c/main.c calls, each a call into the core through WAMR's interpreter (engine.c). Only what
 * main.c uses is here; the core's exports are looked up once, at instantiation. */
#ifndef SIPLING_WAMR_SIP_H
#define SIPLING_WAMR_SIP_H

#include <stdint.h>
#include "wasm-rt-impl.h"

typedef uint8_t u8;
typedef uint32_t u32;
typedef int32_t s32;
typedef uint64_t u64;
typedef double f64;

typedef struct Z_sip_instance_t {
  int unused;
} Z_sip_instance_t;

void Z_sip_init_module(void);
void Z_sip_instantiate(Z_sip_instance_t *);
wasm_rt_memory_t *Z_sipZ_memory(Z_sip_instance_t *);
void Z_sipZ__initialize(Z_sip_instance_t *);

u32 Z_sipZ_sip_rx_ptr(Z_sip_instance_t *);
u32 Z_sipZ_sip_rx_cap(Z_sip_instance_t *);
u32 Z_sipZ_sip_peer_ptr(Z_sip_instance_t *);
u32 Z_sipZ_sip_tx_ptr(Z_sip_instance_t *);
u32 Z_sipZ_sip_tx_meta_ptr(Z_sip_instance_t *);
u32 Z_sipZ_sip_tx_name_ptr(Z_sip_instance_t *);
u32 Z_sipZ_sip_cfg_ptr(Z_sip_instance_t *);
u32 Z_sipZ_sip_cfg_cap(Z_sip_instance_t *);
u32 Z_sipZ_sip_event_ptr(Z_sip_instance_t *);
u32 Z_sipZ_sip_init(Z_sip_instance_t *, u32, u32, f64);
u32 Z_sipZ_sip_cfg_set(Z_sip_instance_t *, u32, f64);
u32 Z_sipZ_sip_cfg_add(Z_sip_instance_t *, u32, u32);
u32 Z_sipZ_sip_transport_add(Z_sip_instance_t *, u32, u32, u32);
u32 Z_sipZ_sip_handle_datagram(Z_sip_instance_t *, f64, u32);
u32 Z_sipZ_sip_handle_stream(Z_sip_instance_t *, f64, u32);
void Z_sipZ_sip_handle_conn_closed(Z_sip_instance_t *, f64, u32);
void Z_sipZ_sip_handle_timeout(Z_sip_instance_t *, f64);
u32 Z_sipZ_sip_poll_transmit(Z_sip_instance_t *, f64);
u32 Z_sipZ_sip_shutdown(Z_sip_instance_t *, f64);
f64 Z_sipZ_sip_poll_timeout(Z_sip_instance_t *);
u32 Z_sipZ_sip_poll_event(Z_sip_instance_t *);
u32 Z_sipZ_sip_poll_relay(Z_sip_instance_t *);
u32 Z_sipZ_sip_relay_ptr(Z_sip_instance_t *);
void Z_sipZ_sip_relay_report(Z_sip_instance_t *, f64, u32, u32);
f64 Z_sipZ_sip_stat(Z_sip_instance_t *, u32);
f64 Z_sipZ_sip_hist(Z_sip_instance_t *, u32, u32);
u32 Z_sipZ_sip_loc_ptr(Z_sip_instance_t *);
u32 Z_sipZ_sip_loc(Z_sip_instance_t *, u32, f64, u32);
u32 Z_sipZ_sip_poll_resolve(Z_sip_instance_t *, f64);
void Z_sipZ_sip_resolved(Z_sip_instance_t *, f64, u32, u32);
u32 Z_sipZ_sip_layout_ptr(Z_sip_instance_t *);

#endif
