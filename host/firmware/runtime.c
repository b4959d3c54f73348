// Bare-metal replacement for wabt's wasm-rt-impl.c (wasm2c 1.0.32) on a Cortex-M4.
// - The one linear memory is a static array (.bss): no malloc, no mmap, no sbrk; it cannot grow.
// - No function type registry: types matter only to call_indirect, which the core does not use.
// - A trap longjmps to the target set by fw_try(); the caller reports it and re-instantiates the core.
// 32-bit target: explicit bounds checks (no guard pages); no call-depth counter, as the core's call
// depth is static (tools/firmware.mjs, callGraph()).
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include "wasm-rt.h"
#include "runtime.h"

#ifndef FW_MEMORY_PAGES
#define FW_MEMORY_PAGES 3
#endif
#define PAGE 65536u
#ifndef FW_MEMORY_BYTES
#define FW_MEMORY_BYTES (FW_MEMORY_PAGES * PAGE)
#endif

// The core's memory, backed from 0 up to the end of its start-up layout (FW_MEMORY_BYTES, from
// tools/firmware.mjs backedBytes(); main.c checks the core's own figure at every boot): the core lays
// out every table once at start and addresses nothing beyond, so the rest of its declared pages gets
// no RAM, and an access there is out of bounds (a trap). Not static: the core's loads and stores
// address it directly (tools/firmware.mjs, shrink()).
uint8_t fw_memory[FW_MEMORY_BYTES] __attribute__((aligned(8), section(".bss.wasm_memory")));

static bool initialized;

static jmp_buf* unwind_target;
volatile uint32_t fw_last_trap;

void wasm_rt_init(void) { initialized = true; }
bool wasm_rt_is_initialized(void) { return initialized; }
void wasm_rt_free(void) { initialized = false; }

// Function types matter only to call_indirect, which the core does not use (tools/firmware.mjs,
// callGraph(), refuses to build a core that does): nothing is stored, every type is 0.
uint32_t wasm_rt_register_func_type(uint32_t params, uint32_t results, ...) {
  (void)params;
  (void)results;
  return 0;
}

void wasm_rt_allocate_memory(wasm_rt_memory_t* m, uint32_t initial_pages, uint32_t max_pages) {
  // Only the one memory the firmware was built for exists; anything else is a build mismatch.
  if (initial_pages != FW_MEMORY_PAGES || max_pages != FW_MEMORY_PAGES) wasm_rt_trap(WASM_RT_TRAP_OOB);
  memset(fw_memory, 0, sizeof fw_memory);
  m->data = fw_memory;
  m->pages = initial_pages;
  m->max_pages = max_pages;
  m->size = FW_MEMORY_BYTES;  // the bounds of every access (those shrink() rewrites use the same constant)
}

uint32_t wasm_rt_grow_memory(wasm_rt_memory_t* m, uint32_t delta) {
  return delta == 0 ? m->pages : UINT32_MAX;  // initial == maximum: memory.grow always fails
}

void wasm_rt_free_memory(wasm_rt_memory_t* m) { m->data = 0; m->size = 0; m->pages = 0; }

void wasm_rt_trap(wasm_rt_trap_t code) {
  fw_last_trap = (uint32_t)code;
  if (unwind_target) longjmp(*unwind_target, code == 0 ? -1 : (int)code);
  fw_fatal("trap outside fw_try");
}

void fw_set_unwind(jmp_buf* target) { unwind_target = target; }
void wasm_rt_set_unwind_target(WASM_RT_UNWIND_TARGET* target) { unwind_target = target; }
WASM_RT_UNWIND_TARGET* wasm_rt_get_unwind_target(void) { return unwind_target; }

const char* wasm_rt_strerror(wasm_rt_trap_t trap) {
  switch (trap) {
    case WASM_RT_TRAP_NONE: return "none";
    case WASM_RT_TRAP_OOB: return "out of bounds memory access";
    case WASM_RT_TRAP_INT_OVERFLOW: return "integer overflow";
    case WASM_RT_TRAP_DIV_BY_ZERO: return "integer divide by zero";
    case WASM_RT_TRAP_INVALID_CONVERSION: return "invalid conversion";
    case WASM_RT_TRAP_UNREACHABLE: return "unreachable";
    case WASM_RT_TRAP_CALL_INDIRECT: return "call_indirect";
    case WASM_RT_TRAP_EXHAUSTION: return "call stack exhausted";
    default: return "trap";
  }
}
