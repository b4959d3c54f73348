// Firmware-side declarations shared by runtime.c, startup.c and main.c.
#ifndef FW_RUNTIME_H
#define FW_RUNTIME_H
#include <setjmp.h>
#include <stdint.h>

extern volatile uint32_t fw_last_trap;
/** Where wasm_rt_trap() longjmps to (NULL: fatal). */
void fw_set_unwind(jmp_buf* target);
/** Unrecoverable: report over the UART, then reset the board. */
__attribute__((noreturn)) void fw_fatal(const char* why);

/** Milliseconds since boot (SysTick). */
uint64_t fw_millis(void);
/** SysTick current value register (for the seed). */
uint32_t fw_systick_val(void);
void fw_systick_start(uint32_t cpu_hz);
/** Stack bottom/top from the linker script, for the high-water mark. */
extern uint32_t __stack_bottom__[], __stack_top__[];
#endif
