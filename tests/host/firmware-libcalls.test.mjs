// The firmware's own versions of what it would otherwise link from libgcc and newlib (smaller: see each
// file), held to the originals' results. host/firmware/libc.c: memcpy, memmove, memset and strlen,
// compared with the host's C library. host/firmware/softfp.c: the firmware's own double <-> 64-bit integer conversions, double
// comparisons and 64-bit division (they replace libgcc's, which pull double addition and
// multiplication, three comparison functions and a 700-byte divider into the image) must give exactly
// what C's operations give. The file is compiled with the
// host's gcc next to a harness that computes the same values both ways and compares bit for bit:
// powers of two and their neighbours, every tie between two doubles above 2^53 (round to nearest, ties
// to even), the ends of the ranges, and a million values from a PRNG spread over every magnitude; for
// comparisons, every pair of zeros, infinities, NaNs, subnormals and neighbours, and PRNG pairs; for
// division, dividends and divisors of every magnitude and sign (the zero divisor and INT64_MIN / -1
// excepted: wasm2c traps on them before dividing).
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const root = new URL("../..", import.meta.url).pathname;

const HARNESS = String.raw`
#include <stdint.h>
#include <stdio.h>
#include <string.h>
unsigned long long __aeabi_d2ulz(double);
long long __aeabi_d2lz(double);
double __aeabi_ul2d(unsigned long long);
double __aeabi_l2d(long long);
uint64_t fw_udivmod64(uint64_t, uint64_t, uint64_t*);
int64_t fw_divmod64(int64_t, int64_t, int64_t*);
int __aeabi_dcmpeq(double, double);
int __aeabi_dcmplt(double, double);
int __aeabi_dcmple(double, double);
int __aeabi_dcmpge(double, double);
int __aeabi_dcmpgt(double, double);
static unsigned long n, bad;
static uint64_t bits(double d) { uint64_t b; memcpy(&b, &d, 8); return b; }
static void check_u(uint64_t u) {
  n++;
  if (bits(__aeabi_ul2d(u)) != bits((double)u)) { if (!bad++) printf("ul2d %llu\n", (unsigned long long)u); }
  int64_t s = (int64_t)u;
  n++;
  if (bits(__aeabi_l2d(s)) != bits((double)s)) { if (!bad++) printf("l2d %lld\n", (long long)s); }
}
static void check_d(double d) {
  if (d != d) return;
  if (d > -9223372036854775808.0 - 1 && d < 9223372036854775808.0) {
    n++;
    if (__aeabi_d2lz(d) != (long long)d) { if (!bad++) printf("d2lz %.17g\n", d); }
  }
  if (d > -1.0 && d < 18446744073709551616.0) {
    n++;
    if (__aeabi_d2ulz(d) != (unsigned long long)d) { if (!bad++) printf("d2ulz %.17g\n", d); }
  }
}
static void check_div(uint64_t a, uint64_t b) {
  if (b != 0) {
    uint64_t r, q = fw_udivmod64(a, b, &r);
    n++;
    if (q != a / b || r != a % b) { if (!bad++) printf("udiv %llu %llu\n", (unsigned long long)a, (unsigned long long)b); }
  }
  int64_t x = (int64_t)a, y = (int64_t)b;
  if (y != 0 && !(x == INT64_MIN && y == -1)) {
    int64_t r, q = fw_divmod64(x, y, &r);
    n++;
    if (q != x / y || r != x % y) { if (!bad++) printf("div %lld %lld\n", (long long)x, (long long)y); }
  }
}
static void check_cmp(double a, double b) {
  n++;
  if (__aeabi_dcmpeq(a, b) != (a == b) || __aeabi_dcmplt(a, b) != (a < b) || __aeabi_dcmple(a, b) != (a <= b) ||
      __aeabi_dcmpge(a, b) != (a >= b) || __aeabi_dcmpgt(a, b) != (a > b)) {
    if (!bad++) printf("cmp %.17g %.17g\n", a, b);
  }
}
static double from_bits(uint64_t b) { double d; memcpy(&d, &b, 8); return d; }
static uint64_t s = 0x9e3779b97f4a7c15ULL;
static uint64_t next(void) { s ^= s << 13; s ^= s >> 7; s ^= s << 17; return s; }
int main(void) {
  for (int e = 0; e < 64; e++) {
    uint64_t p = 1ULL << e;
    for (int k = -3; k <= 3; k++) check_u(p + (uint64_t)(int64_t)k);
    if (e > 53) for (int k = 0; k < 64; k++) {
      uint64_t half = 1ULL << (e - 53), q = (next() & ~(2 * half - 1)) | (1ULL << e);
      check_u(q + half); check_u(q + 3 * half); check_u(q + half - 1); check_u(q + half + 1);
    }
  }
  check_u(0); check_u(UINT64_MAX); check_u((uint64_t)INT64_MAX); check_u((uint64_t)INT64_MIN);
  for (int i = 0; i < 1000000; i++) {
    uint64_t u = next() >> (next() & 63);
    check_u(u);
    double d = (double)(int64_t)u;
    check_d(d); check_d(-d); check_d(d + 0.5); check_d(d / 3.0); check_d(-d / 7.0);
    uint64_t v = next() >> (next() & 63);
    check_cmp(d, (double)(int64_t)v); check_cmp(-d, d); check_cmp(from_bits(next()), from_bits(next()));
    check_cmp(d, d); check_cmp(from_bits(u), from_bits(u + 1));
    check_div(u, v); check_div(u, 1000); check_div(0 - u, 1000); check_div(u, 0 - v); check_div(u, v >> 32);
  }
  uint64_t ends[] = { 0, 1, 2, 999, 1000, 1001, 0xffffffffULL, 0x100000000ULL, (uint64_t)INT64_MAX, (uint64_t)INT64_MIN, UINT64_MAX, UINT64_MAX - 1 };
  for (unsigned i = 0; i < sizeof ends / sizeof ends[0]; i++)
    for (unsigned j = 0; j < sizeof ends / sizeof ends[0]; j++) check_div(ends[i], ends[j]);
  double edges[] = { 0.0, -0.0, 0.25, -0.75, 1.0, -1.0, 1.5, 4503599627370495.5, 4503599627370496.0,
    9007199254740993.0, 9223372036854774784.0, -9223372036854775808.0, 18446744073709549568.0, 5e-324 };
  for (unsigned i = 0; i < sizeof edges / sizeof edges[0]; i++) check_d(edges[i]);
  uint64_t special[] = { 0, 1ULL << 63, 1, (1ULL << 63) | 1, 0x000fffffffffffffULL, 0x0010000000000000ULL,
    0x3ff0000000000000ULL, 0xbff0000000000000ULL, 0x7fefffffffffffffULL, 0xffefffffffffffffULL,
    0x7ff0000000000000ULL, 0xfff0000000000000ULL, 0x7ff0000000000001ULL, 0x7ff8000000000000ULL,
    0xfff8000000000000ULL, 0xffffffffffffffffULL };
  for (unsigned i = 0; i < sizeof special / sizeof special[0]; i++)
    for (unsigned j = 0; j < sizeof special / sizeof special[0]; j++) check_cmp(from_bits(special[i]), from_bits(special[j]));
  printf("%lu %lu\n", n, bad);
  return 0;
}
`;

const LIBC_HARNESS = String.raw`
#include <stdint.h>
#include <stdio.h>
#include <string.h>
void* fw_memmove(void*, const void*, size_t);
void* fw_memcpy(void*, const void*, size_t);
void* fw_memset(void*, int, size_t);
size_t fw_strlen(const char*);
static unsigned char a[200], b[200], ref[200];
static void fill(unsigned char* p, unsigned seed) { for (int i = 0; i < 200; i++) p[i] = (unsigned char)(seed * 31 + i * 7); }
int main(void) {
  unsigned long n = 0, bad = 0;
  for (int dst = 0; dst < 12; dst++) for (int src = 0; src < 12; src++) for (int len = 0; len < 70; len++) {
    /* between two buffers: memcpy and memmove */
    fill(a, 1); fill(b, 2); memcpy(ref, b, 200); memcpy(ref + dst, a + src, len);
    fw_memcpy(b + dst, a + src, len); n++; if (memcmp(b, ref, 200)) { if (!bad++) printf("memcpy %d %d %d\n", dst, src, len); }
    fill(b, 2); fw_memmove(b + dst, a + src, len); n++; if (memcmp(b, ref, 200)) { if (!bad++) printf("memmove %d %d %d\n", dst, src, len); }
    /* within one buffer, overlapping either way */
    fill(a, 3); memcpy(ref, a, 200); memmove(ref + dst, ref + src, len);
    void* r = fw_memmove(a + dst, a + src, len); n++; if (memcmp(a, ref, 200) || r != a + dst) { if (!bad++) printf("overlap %d %d %d\n", dst, src, len); }
    fill(a, 4); memcpy(ref, a, 200); memset(ref + dst, 0x100 + src * 17, len);
    r = fw_memset(a + dst, 0x100 + src * 17, len); n++; if (memcmp(a, ref, 200) || r != a + dst) { if (!bad++) printf("memset %d %d %d\n", dst, src, len); }
    fill(a, 5); for (int i = 0; i < 200; i++) if (!a[i]) a[i] = 1; a[dst + len] = 0;
    n++; if (fw_strlen((const char*)a + dst) != strlen((const char*)a + dst)) { if (!bad++) printf("strlen %d %d\n", dst, len); }
  }
  printf("%lu %lu\n", n, bad);
  return 0;
}
`;

test("libc.c: the image's memcpy, memmove, memset and strlen equal the C library's at every alignment and overlap", () => {
  const dir = mkdtempSync(join(tmpdir(), "fwlibc-"));
  try {
    writeFileSync(join(dir, "h.c"), LIBC_HARNESS);
    const exe = join(dir, "h");
    execFileSync("gcc", ["-O2", "-fno-builtin", "-Dmemmove=fw_memmove", "-Dmemcpy=fw_memcpy", "-Dmemset=fw_memset", "-Dstrlen=fw_strlen",
      "-c", "-o", join(dir, "libc.o"), join(root, "host/firmware/libc.c")]);
    execFileSync("gcc", ["-O2", "-o", exe, join(dir, "h.c"), join(dir, "libc.o")]);
    const out = execFileSync(exe, { encoding: "utf8" }).trim().split("\n");
    const [n, bad] = out[out.length - 1].split(" ").map(Number);
    assert.equal(bad, 0, `mismatches: ${bad}; first: ${out[0]}`);
    assert.ok(n > 40_000, `${n} calls compared`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("softfp.c: its double <-> 64-bit integer conversions, double comparisons and 64-bit division equal C's, bit for bit", () => {
  const dir = mkdtempSync(join(tmpdir(), "softfp-"));
  try {
    writeFileSync(join(dir, "h.c"), HARNESS);
    const exe = join(dir, "h");
    execFileSync("gcc", ["-O2", "-fno-builtin", "-o", exe, join(dir, "h.c"), join(root, "host/firmware/softfp.c")]);
    const out = execFileSync(exe, { encoding: "utf8" }).trim().split("\n");
    const [n, bad] = out[out.length - 1].split(" ").map(Number);
    assert.equal(bad, 0, `mismatches: ${bad}; first: ${out[0]}`);
    assert.ok(n > 10_000_000, `${n} conversions compared`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
