/* Fibonacci: an iterative 64-bit loop (wrapping past F(93)) and a doubly recursive one for
   deep call/return traffic. */
#include "libc.h"

__attribute__((noipa)) static uint64_t fib_iter(unsigned n) {
  uint64_t a = 0, b = 1;
  while (n--) {
    uint64_t t = a + b;
    a = b;
    b = t;
  }
  return a;
}

__attribute__((noipa)) static uint64_t fib_rec(unsigned n) {
  return n < 2 ? n : fib_rec(n - 1) + fib_rec(n - 2);
}

int main(void) {
  static const unsigned ns[] = {0, 1, 2, 10, 50, 90, 93, 94, 100, 1000};
  for (unsigned i = 0; i < sizeof ns / sizeof ns[0]; i++)
    printf("fib_iter(%u) = %lu = 0x%lx\n", ns[i], fib_iter(ns[i]), fib_iter(ns[i]));
  for (unsigned n = 0; n <= 24; n += 6) printf("fib_rec(%u) = %lu\n", n, fib_rec(n));
  return 0;
}
