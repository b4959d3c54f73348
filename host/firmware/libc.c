// The four string routines the image calls (memcpy, memmove, memset, strlen), small: newlib's are
// unrolled for speed (944 B of text here); these copy a word at a time when both ends are 4-byte
// aligned and a byte at a time otherwise. Same results as the C library's (checked by
// tests/host/firmware-libcalls.test.mjs, which compiles this file under other names with the host's gcc
// and compares each with the host's C library over every alignment and overlap). Built without the
// optimisation that turns a copy loop into a call of memcpy (it would call itself).
#include <stddef.h>
#include <stdint.h>

#define FW_LIBC __attribute__((used, optimize("no-tree-loop-distribute-patterns")))
/* a word of any object's bytes (may alias every type, as these routines' accesses do) */
typedef uint32_t __attribute__((may_alias)) fw_word;

/* memmove's work, under a name gcc does not know (a memcpy written as a call of memmove with restrict
   pointers is turned back into a call of memcpy: itself) */
FW_LIBC static void* fw_move(void* dst, const void* src, size_t n) {
  unsigned char* d = dst;
  const unsigned char* s = src;
  if (d == s || n == 0) return dst;
  if (d < s || d >= s + n) {              /* forward: no overlap, or the destination below */
    if ((((uintptr_t)d | (uintptr_t)s) & 3) == 0) {
      for (; n >= 4; n -= 4, d += 4, s += 4) *(fw_word*)d = *(const fw_word*)s;
    }
    while (n--) *d++ = *s++;
  } else {                                /* backward: the destination overlaps above */
    d += n;
    s += n;
    if ((((uintptr_t)d | (uintptr_t)s) & 3) == 0) {
      for (; n >= 4; n -= 4) { d -= 4; s -= 4; *(fw_word*)d = *(const fw_word*)s; }
    }
    while (n--) *--d = *--s;
  }
  return dst;
}

FW_LIBC void* memmove(void* dst, const void* src, size_t n) { return fw_move(dst, src, n); }

FW_LIBC void* memcpy(void* restrict dst, const void* restrict src, size_t n) { return fw_move(dst, src, n); }

FW_LIBC void* memset(void* dst, int c, size_t n) {
  unsigned char* d = dst;
  if (((uintptr_t)d & 3) == 0) {
    uint32_t w = (unsigned char)c * 0x01010101u;
    for (; n >= 4; n -= 4, d += 4) *(fw_word*)d = w;
  }
  while (n--) *d++ = (unsigned char)c;
  return dst;
}

FW_LIBC size_t strlen(const char* s) {
  const char* p = s;
  while (*p) p++;
  return (size_t)(p - s);
}
