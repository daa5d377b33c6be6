/* Sieve of Eratosthenes below 100000: byte stores with a stride, nested loops. */
#include "libc.h"

#define N 100000
static unsigned char composite[N]; /* .bss: zero at start */

int main(void) {
  for (unsigned i = 2; i * i < N; i++)
    if (!composite[i])
      for (unsigned j = i * i; j < N; j += i) composite[j] = 1;

  static unsigned last[5]; /* static: a local {0} would be zeroed with an SSE store */
  unsigned count = 0;
  uint64_t sum = 0;
  for (unsigned i = 2; i < N; i++) {
    if (composite[i]) continue;
    count++;
    sum += i;
    last[count % 5] = i;
  }
  printf("primes below %d: %u, sum %lu\n", N, count, sum);
  printf("last five:");
  for (unsigned k = 1; k <= 5; k++) printf(" %u", last[(count + k) % 5]);
  printf("\n");
  return 0;
}
