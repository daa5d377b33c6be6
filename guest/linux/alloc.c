/* brk and anonymous mmap. Addresses differ from run to run (ASLR), so only sizes, sums and
   yes/no comparisons are printed. */
#include "libc.h"

typedef uint64_t __attribute__((may_alias)) u64_alias; /* read bytes as words */

static const char *yes(int ok) { return ok ? "yes" : "NO"; }

/* Loops with an early exit or a recurrence: gcc -O2 would vectorise the obvious versions. */
static uint64_t fill_and_sum(unsigned char *p, size_t n, unsigned seed) {
  int zero = 1;
  for (size_t i = 0; i < n; i++)
    if (p[i]) {
      zero = 0;
      break;
    }
  for (size_t i = 0; i < n; i++) p[i] = (unsigned char)((seed = seed * 1103515245 + 12345) >> 16);
  uint64_t sum = 0;
  for (size_t i = 0; i + 8 <= n; i += 8) sum = sum * 31 + *(const u64_alias *)(p + i);
  printf("  %lu bytes were zero: %s, sum %lu\n", (unsigned long)n, yes(zero), sum);
  return sum;
}

int main(void) {
  char *b0 = brk(0);
  printf("brk(0) twice gives the same break: %s\n", yes(brk(0) == b0));
  char *b1 = brk(b0 + 65536);
  printf("brk grows by 65536: %s\n", yes(b1 == b0 + 65536));
  fill_and_sum((unsigned char *)b0, 65536, 3);
  char *b2 = brk(b1 + 200000);
  printf("brk grows by 200000 more: %s, brk(0) agrees: %s\n", yes(b2 == b1 + 200000),
         yes(brk(0) == b2));
  char first = b0[0], last = b0[65535];
  fill_and_sum((unsigned char *)b1, 200000, 5);
  printf("old heap contents kept: %s\n", yes(b0[0] == first && b0[65535] == last));
  printf("brk below the heap fails and keeps the break: %s\n", yes(brk((void *)4096) == b2));
  printf("brk shrinks back: %s\n", yes(brk(b0) == b0 && brk(0) == b0));

  size_t len = 5 * 4096;
  unsigned char *m = mmap(0, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  int ok = (uintptr_t)m < MAP_FAILED_MAX;
  printf("mmap 5 pages: %s, page aligned: %s\n", yes(ok), yes(((uintptr_t)m & 4095) == 0));
  if (!ok) return 1;
  fill_and_sum(m, len, 7);
  unsigned char *m2 = mmap(0, 10000, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  printf("mmap 10000 bytes: %s, distinct: %s\n", yes((uintptr_t)m2 < MAP_FAILED_MAX),
         yes((uintptr_t)m2 + 12288 <= (uintptr_t)m || (uintptr_t)m + len <= (uintptr_t)m2));
  fill_and_sum(m2, 12288, 11); /* the length is rounded up to whole pages */
  printf("munmap: %d %d\n", munmap(m, len), munmap(m2, 10000));
  printf("munmap of an unaligned address: %s\n", yes(munmap(m + 1, 4096) == -22));
  return 0;
}
