/* String instructions with a rep prefix, written out in inline asm because our libc uses
   plain loops: rep stosb/stosq/movsb/movsq, a zero count, and a backwards copy (std). */
#include "libc.h"

static unsigned char src[4096], dst[4096];

static void rep_stosb(void *d, int c, size_t n) {
  __asm__ volatile("rep stosb" : "+D"(d), "+c"(n) : "a"(c) : "memory");
}
static void rep_stosq(void *d, uint64_t v, size_t n) {
  __asm__ volatile("rep stosq" : "+D"(d), "+c"(n) : "a"(v) : "memory");
}
static void rep_movsb(void *d, const void *s, size_t n) {
  __asm__ volatile("rep movsb" : "+D"(d), "+S"(s), "+c"(n) : : "memory");
}
static void rep_movsq(void *d, const void *s, size_t n) {
  __asm__ volatile("rep movsq" : "+D"(d), "+S"(s), "+c"(n) : : "memory");
}
/* memmove for dst > src: copy from the last byte down with the direction flag set. */
static void rep_movsb_down(void *d, const void *s, size_t n) {
  d = (char *)d + n - 1;
  s = (const char *)s + n - 1;
  __asm__ volatile("std\n\trep movsb\n\tcld" : "+D"(d), "+S"(s), "+c"(n) : : "memory");
}

static uint64_t sum(const unsigned char *p, size_t n) {
  uint64_t h = 0;
  for (size_t i = 0; i < n; i++) h = h * 31 + p[i];
  return h;
}

int main(void) {
  uint32_t x = 1; /* an LCG rather than a function of i, which gcc -O2 would vectorise */
  for (unsigned i = 0; i < sizeof src; i++) src[i] = (unsigned char)((x = x * 1103515245 + 12345) >> 16);
  rep_stosb(dst, 0xab, 1000);
  printf("stosb: %lx\n", sum(dst, sizeof dst));
  rep_stosq(dst + 8, 0x0102030405060708u, 100);
  printf("stosq: %lx\n", sum(dst, sizeof dst));
  rep_movsb(dst, src + 1, 3000);
  printf("movsb: %lx\n", sum(dst, sizeof dst));
  rep_movsq(dst + 16, src, 200);
  printf("movsq: %lx\n", sum(dst, sizeof dst));
  rep_stosb(dst, 0, 0);
  rep_movsb(dst, src, 0);
  printf("count 0: %lx\n", sum(dst, sizeof dst));
  rep_movsb_down(dst + 5, dst, 2000); /* overlapping, like memmove */
  printf("movsb down: %lx\n", sum(dst, sizeof dst));
  return 0;
}
