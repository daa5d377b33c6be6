/* Byte loops, except for moving and filling memory, which copy 16 bytes at a time (one SSE
   load and store; x86 allows them unaligned) as any real C library does: a byte loop costs
   several instructions per byte, which would make SQLite's page copies, not the system
   around it, the bulk of every workload. */
#include <stdint.h>
#include "string.h"

typedef unsigned char v16 __attribute__((vector_size(16), may_alias, aligned(1)));

void *memcpy(void *dst, const void *src, size_t n) {
  unsigned char *d = dst;
  const unsigned char *s = src;
  for (; n >= 16; n -= 16, d += 16, s += 16) *(v16 *)d = *(const v16 *)s;
  while (n--) *d++ = *s++;
  return dst;
}

void *memmove(void *dst, const void *src, size_t n) {
  unsigned char *d = dst;
  const unsigned char *s = src;
  if (d < s) {
    for (; n >= 16; n -= 16, d += 16, s += 16) *(v16 *)d = *(const v16 *)s;
    while (n--) *d++ = *s++;
  } else {
    /* Backwards, so an overlapping tail is read before it is written. */
    for (; n >= 16; n -= 16) *(v16 *)(d + n - 16) = *(const v16 *)(s + n - 16);
    while (n--) d[n] = s[n];
  }
  return dst;
}

void *memset(void *dst, int c, size_t n) {
  unsigned char *d = dst;
  v16 fill;
  for (int i = 0; i < 16; i++) fill[i] = (unsigned char)c;
  for (; n >= 16; n -= 16, d += 16) *(v16 *)d = fill;
  while (n--) *d++ = (unsigned char)c;
  return dst;
}

int memcmp(const void *a, const void *b, size_t n) {
  const unsigned char *x = a, *y = b;
  for (; n; n--, x++, y++)
    if (*x != *y) return *x - *y;
  return 0;
}

size_t strlen(const char *s) {
  const char *p = s;
  while (*p) p++;
  return (size_t)(p - s);
}

int strcmp(const char *a, const char *b) {
  while (*a && *a == *b) a++, b++;
  return (unsigned char)*a - (unsigned char)*b;
}

int strncmp(const char *a, const char *b, size_t n) {
  for (; n; n--, a++, b++) {
    if (*a != *b) return (unsigned char)*a - (unsigned char)*b;
    if (!*a) return 0;
  }
  return 0;
}

char *strcpy(char *dst, const char *src) {
  char *d = dst;
  while ((*d++ = *src++)) {
  }
  return dst;
}

char *strchr(const char *s, int c) {
  for (;; s++) {
    if (*s == (char)c) return (char *)s;
    if (!*s) return 0;
  }
}
