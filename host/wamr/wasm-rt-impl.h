/* Stands in for wasm2c's wasm-rt-impl.h when host/c/ is built against WAMR (see sip.h). A failed
 * core call (a trap: WAMR sets an exception on the instance) long-jumps to the one unwind target
 * main() sets with wasm_rt_impl_try(), as a wasm2c trap does; wasm_rt_strerror() then gives WAMR's
 * exception text. */
#ifndef SIPLING_WAMR_RT_IMPL_H
#define SIPLING_WAMR_RT_IMPL_H

#include <setjmp.h>
#include <stdint.h>

typedef struct {
  uint8_t *data;
  uint64_t size;
} wasm_rt_memory_t;

typedef enum { WASM_RT_TRAP_NONE = 0, WASM_RT_TRAP_WAMR = 1 } wasm_rt_trap_t;

extern jmp_buf sipling_wamr_jmp;
#define wasm_rt_impl_try() setjmp(sipling_wamr_jmp)
void wasm_rt_init(void);
const char *wasm_rt_strerror(wasm_rt_trap_t trap);

#endif
