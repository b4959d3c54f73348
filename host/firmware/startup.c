// Cortex-M4 start-up for the MPS2-AN386 (QEMU -M mps2-an386): vector table, reset handler (copy .data,
// zero .bss), SysTick millisecond clock, fault handlers. No C library start-up code is linked.
#include <stdint.h>
#include <string.h>
#include "runtime.h"

extern uint32_t __data_load__[], __data_start__[], __data_end__[], __bss_start__[], __bss_end__[];
int main(void);
void uart0_rx_irq(void);

#define SYST_CSR (*(volatile uint32_t*)0xE000E010)
#define SYST_RVR (*(volatile uint32_t*)0xE000E014)
#define SYST_CVR (*(volatile uint32_t*)0xE000E018)

static volatile uint32_t ms_lo, ms_hi;

void fw_systick_start(uint32_t cpu_hz) {
  SYST_RVR = cpu_hz / 1000u - 1u;
  SYST_CVR = 0;
  SYST_CSR = 7;  // processor clock, interrupt, enable
}
uint32_t fw_systick_val(void) { return SYST_CVR; }

static void systick_irq(void) {
  uint32_t lo = ms_lo + 1;
  if (lo == 0) ms_hi++;
  ms_lo = lo;
}

uint64_t fw_millis(void) {
  uint32_t hi, lo;
  do { hi = ms_hi; lo = ms_lo; } while (hi != ms_hi);
  return ((uint64_t)hi << 32) | lo;
}

__attribute__((noreturn)) static void reset_handler(void) {
  // paint the stack for the high-water mark (below the current frame)
  uint32_t* sp;
  __asm volatile("mov %0, sp" : "=r"(sp));
  for (uint32_t* p = __stack_bottom__; p < sp - 16; p++) *p = 0x5AC4u;
  memcpy(__data_start__, __data_load__, (uintptr_t)__data_end__ - (uintptr_t)__data_start__);
  memset(__bss_start__, 0, (uintptr_t)__bss_end__ - (uintptr_t)__bss_start__);
  main();
  fw_fatal("main returned");
}

static void hardfault_handler(void) { fw_fatal("hardfault"); }
static void fault_handler(void) { fw_fatal("fault"); }
static void default_handler(void) { fw_fatal("unexpected interrupt"); }

typedef void (*vector_t)(void);
__attribute__((section(".vectors"), used)) const vector_t vector_table[16 + 32] = {
  (vector_t)__stack_top__,
  reset_handler,
  fault_handler,      // NMI
  hardfault_handler,  // HardFault
  fault_handler,      // MemManage
  fault_handler,      // BusFault
  fault_handler,      // UsageFault
  0, 0, 0, 0,
  default_handler,    // SVCall
  default_handler,    // DebugMon
  0,
  default_handler,    // PendSV
  systick_irq,        // SysTick
  uart0_rx_irq,       // IRQ 0: UART0 RX
  [17 ... 47] = default_handler,
};
