// Conversions between double and 64-bit integers, comparisons of doubles, and 64-bit division, for
// the Cortex-M4 image (soft float, no 64-bit divide instruction), done with integer operations. gcc
// calls these for C's (int64_t)x, (uint64_t)x, (double)i, (double)u, x < y (and ==, <=, >=, >) on
// doubles, and / and % on 64-bit integers; in the image they
// serve wasm2c's i64.trunc_sat_f64_s (the core turning the host's `now` into milliseconds, after
// wasm2c's own range check), f64.convert_i64_s (the core's figures returned to the host), the
// firmware's clock and timer deadline, wasm2c's range checks, and the core's i64.div_s / i64.rem_u
// (milliseconds to seconds, after wasm2c's divide-by-zero and overflow checks). libgcc's conversions
// share one object with double addition (__adddf3) and compute with double multiplications
// (__muldf3), its comparisons are three 120-byte functions behind flag-setting wrappers, and its
// 64-bit division is a 700-byte __udivmoddi4: 3 KB of text in the image for these. These are exact as
// C's operations are: IEEE 754 comparisons (any NaN is unordered: every comparison false but !=;
// -0 == +0),
// truncation toward zero for double -> integer (a value beyond the range, which wasm2c never passes,
// saturates; NaN gives the largest value), round to nearest, ties to even, for integer -> double (what
// wasm's f64.convert_i64_* requires), and C's quotient and remainder (truncated; the remainder has the
// dividend's sign). tests/host/firmware-libcalls.test.mjs compiles this file with the host's gcc and
// compares every function with C's own operations; the ARM entry points of the division (register
// pairs in and out, AEABI) are checked on the image by tests/hosts/firmware.test.mjs (a REGISTER's
// expires, computed with i64.div_s).
#include <stdint.h>
#include <string.h>

/* |x| truncated toward zero, for the bits of x without its sign; UINT64_MAX from 2^64 up (and Inf, NaN). */
static uint64_t fw_trunc_magnitude(uint64_t bits) {
  int exp = (int)(bits >> 52) & 0x7ff;
  if (exp < 1023) return 0;               /* |x| < 1: zero, subnormals, fractions */
  if (exp >= 1023 + 64) return UINT64_MAX;
  uint64_t m = (bits & 0xfffffffffffffULL) | (1ULL << 52);
  int shift = exp - 1075;                 /* |x| = m * 2^shift, m < 2^53 */
  return shift >= 0 ? m << shift : m >> -shift;
}

__attribute__((used)) unsigned long long __aeabi_d2ulz(double x) {
  uint64_t b;
  memcpy(&b, &x, sizeof b);
  if (b >> 63) return 0;                  /* negative: (-1, 0] truncates to 0; below that C has no value */
  return fw_trunc_magnitude(b);
}

__attribute__((used)) long long __aeabi_d2lz(double x) {
  uint64_t b;
  memcpy(&b, &x, sizeof b);
  uint64_t m = fw_trunc_magnitude(b & ~(1ULL << 63));
  if (b >> 63) return m >= (1ULL << 63) ? INT64_MIN : -(long long)m;
  return m > (uint64_t)INT64_MAX ? INT64_MAX : (long long)m;
}

/* The double nearest u (ties to even), with `sign` as its sign bit. */
static double fw_from_magnitude(uint64_t u, uint64_t sign) {
  uint64_t bits = sign;
  if (u != 0) {
    int exp = 63 - __builtin_clzll(u);    /* 2^exp <= u < 2^(exp+1) */
    uint64_t m;
    if (exp <= 52) {
      m = u << (52 - exp);                /* exact */
    } else {
      int shift = exp - 52;
      m = u >> shift;
      uint64_t rest = u & ((1ULL << shift) - 1), half = 1ULL << (shift - 1);
      if (rest > half || (rest == half && (m & 1))) {
        m++;
        if (m >> 53) { m >>= 1; exp++; }  /* rounded up to the next power of two */
      }
    }
    bits |= ((uint64_t)(exp + 1023) << 52) | (m & 0xfffffffffffffULL);
  }
  double d;
  memcpy(&d, &bits, sizeof d);
  return d;
}

__attribute__((used)) double __aeabi_ul2d(unsigned long long u) { return fw_from_magnitude(u, 0); }

__attribute__((used)) double __aeabi_l2d(long long x) {
  return x < 0 ? fw_from_magnitude(0 - (uint64_t)x, 1ULL << 63) : fw_from_magnitude((uint64_t)x, 0);
}

/* -1, 0 or 1 as a < b, a == b, a > b; 2 when unordered (either is NaN). */
static int fw_dcmp(double a, double b) {
  const uint64_t sign = 1ULL << 63, inf = 0x7ff0000000000000ULL;
  uint64_t x, y;
  memcpy(&x, &a, sizeof x);
  memcpy(&y, &b, sizeof y);
  if ((x & ~sign) > inf || (y & ~sign) > inf) return 2;
  if (((x | y) & ~sign) == 0) return 0;   /* +0 and -0 */
  /* order the bit patterns as the values: negative ones reversed below the positive ones */
  x = (x & sign) ? ~x : x | sign;
  y = (y & sign) ? ~y : y | sign;
  return x < y ? -1 : x > y;
}

__attribute__((used)) int __aeabi_dcmpeq(double a, double b) { return fw_dcmp(a, b) == 0; }
__attribute__((used)) int __aeabi_dcmplt(double a, double b) { return fw_dcmp(a, b) == -1; }
__attribute__((used)) int __aeabi_dcmple(double a, double b) { int r = fw_dcmp(a, b); return r == -1 || r == 0; }
__attribute__((used)) int __aeabi_dcmpge(double a, double b) { int r = fw_dcmp(a, b); return r == 0 || r == 1; }
__attribute__((used)) int __aeabi_dcmpgt(double a, double b) { return fw_dcmp(a, b) == 1; }

/* n / d, and n % d into *rem, unsigned (d != 0: wasm2c traps on a zero divisor before calling):
   the hardware's 32-bit divide when both fit in 32 bits, else shift and subtract, one quotient bit a
   step from the divisor's top bit under the dividend's. */
__attribute__((used, noinline)) uint64_t fw_udivmod64(uint64_t n, uint64_t d, uint64_t* rem) {
  if (d == 0 || n < d) { *rem = n; return 0; }
  if ((n >> 32) == 0) {
    uint32_t a = (uint32_t)n, b = (uint32_t)d, q = a / b;
    *rem = a - q * b;
    return q;
  }
  int shift = __builtin_clzll(d) - __builtin_clzll(n);
  uint64_t q = 0;
  d <<= shift;
  for (int i = 0; i <= shift; i++) {
    q <<= 1;
    if (n >= d) { n -= d; q |= 1; }
    d >>= 1;
  }
  *rem = n;
  return q;
}

/* n / d truncated toward zero, and n % d (the sign of n) into *rem (d != 0 and not INT64_MIN / -1:
   wasm2c traps on both before calling). */
__attribute__((used, noinline)) int64_t fw_divmod64(int64_t n, int64_t d, int64_t* rem) {
  uint64_t un = n < 0 ? 0 - (uint64_t)n : (uint64_t)n, ud = d < 0 ? 0 - (uint64_t)d : (uint64_t)d, ur;
  uint64_t uq = fw_udivmod64(un, ud, &ur);
  *rem = (int64_t)(n < 0 ? 0 - ur : ur);
  return (int64_t)((n < 0) != (d < 0) ? 0 - uq : uq);
}

#if defined(__arm__)
/* The AEABI entry points: dividend in r0:r1, divisor in r2:r3; quotient back in r0:r1 and remainder
   in r2:r3. The remainder goes through a stack slot whose address is the fifth argument. */
__attribute__((naked, used)) void __aeabi_uldivmod(void) {
  __asm__ volatile(
      "push {r4, lr}\n\t"
      "sub sp, sp, #16\n\t"
      "add r4, sp, #8\n\t"
      "str r4, [sp]\n\t"
      "bl fw_udivmod64\n\t"
      "ldrd r2, r3, [sp, #8]\n\t"
      "add sp, sp, #16\n\t"
      "pop {r4, pc}\n\t");
}

__attribute__((naked, used)) void __aeabi_ldivmod(void) {
  __asm__ volatile(
      "push {r4, lr}\n\t"
      "sub sp, sp, #16\n\t"
      "add r4, sp, #8\n\t"
      "str r4, [sp]\n\t"
      "bl fw_divmod64\n\t"
      "ldrd r2, r3, [sp, #8]\n\t"
      "add sp, sp, #16\n\t"
      "pop {r4, pc}\n\t");
}
#endif
