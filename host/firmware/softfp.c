// Conversions between double and 64-bit integers for the Cortex-M4 image (soft float), on the bits
// of the double. gcc calls these for C's (int64_t)x, (uint64_t)x, (double)i and (double)u; in the
// image they serve wasm2c's i64.trunc_sat_f64_s (the core turning the host's `now` into
// milliseconds, after wasm2c's own range check), f64.convert_i64_s (the core's figures returned to
// the host) and the firmware's clock. libgcc's versions share one object with double addition
// (__adddf3) and compute with double multiplications (__muldf3): 1.8 KB of text in the image for
// these four conversions alone. These are exact as C's conversions are: truncation toward zero for
// double -> integer (a value beyond the range, which wasm2c never passes, saturates; NaN gives the
// largest value), and round to nearest, ties to even, for integer -> double (what wasm's
// f64.convert_i64_* requires). tests/host/firmware-softfp.test.mjs compiles this file with the
// host's gcc and compares every function with C's own conversion.
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
