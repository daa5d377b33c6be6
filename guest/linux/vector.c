/* Loops that gcc 12 -O2 auto-vectorises with SSE2 (the only program that should contain SSE):
   fixed trip counts that are multiples of the vector width, so no scalar epilogue is needed. */
#include "libc.h"

#define N 256
static int32_t a[N], b[N], c[N];
static int16_t h[N], k[N];
static uint8_t bytes[N];

int main(void) {
  uint32_t x = 1; /* scalar LCG input (a recurrence, so this loop stays scalar) */
  for (int i = 0; i < N; i++) {
    x = x * 1103515245 + 12345;
    a[i] = (int32_t)(x >> 8) - (1 << 22);
    h[i] = (int16_t)(x >> 3);
    bytes[i] = (uint8_t)(x >> 24);
  }
  for (int i = 0; i < N; i++) b[i] = i * 3 - 100;      /* affine fill */
  for (int i = 0; i < N; i++) c[i] = a[i] + b[i];     /* element-wise add */
  for (int i = 0; i < N; i++) k[i] = h[i] * h[i];     /* 16-bit multiply, wrapping */
  uint32_t sum = 0; /* unsigned: the total exceeds INT32_MAX */
  for (int i = 0; i < N; i++) sum += c[i];            /* reduction */
  uint32_t bsum = 0;
  for (int i = 0; i < N; i++) bsum += bytes[i];       /* widening reduction */
  uint32_t kxor = 0;
  for (int i = 0; i < N; i++) kxor ^= (uint16_t)k[i]; /* xor reduction */
  int32_t lo = c[0], hi = c[0];
  for (int i = 0; i < N; i++) {                       /* min/max reductions */
    lo = c[i] < lo ? c[i] : lo;
    hi = c[i] > hi ? c[i] : hi;
  }
  printf("sum %u bytes %u xor %x min %d max %d\n", sum, bsum, kxor, lo, hi);
  printf("c[0] %d c[255] %d k[7] %d\n", c[0], c[N - 1], k[7]);
  return 0;
}
