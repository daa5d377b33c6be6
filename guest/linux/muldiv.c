/* 64- and 32-bit integer arithmetic. Operands come from non-const globals through noipa
   functions, so gcc must emit the real mul/imul/div/idiv/shift/rotate instructions instead of
   folding them. No UB: no INT64_MIN / -1, no signed overflow, shift counts below 64. */
#include "libc.h"

#define NOIPA __attribute__((noipa))
#define INT64_MIN_ (-0x7fffffffffffffffL - 1)

int64_t sv[] = {0, 1, -1, 7, -7, 3, -3, 1000000007, -123456789012345L, 0x7fffffffffffffffL,
                INT64_MIN_};
uint64_t uv[] = {0, 1, 2, 3, 10, 0xffffffffu, 0x100000000u, 0xdeadbeefcafebabeu,
                 0x8000000000000000u, 0xffffffffffffffffu};
int32_t sv32[] = {0, 1, -1, 7, -7, 100, -2147483647 - 1, 2147483647};

NOIPA static uint64_t umul(uint64_t a, uint64_t b) { return a * b; }
NOIPA static uint64_t umulhi(uint64_t a, uint64_t b) {
  return (uint64_t)(((unsigned __int128)a * b) >> 64); /* mul */
}
NOIPA static int64_t smulhi(int64_t a, int64_t b) {
  return (int64_t)(((__int128)a * b) >> 64); /* one-operand imul */
}
NOIPA static uint64_t udiv(uint64_t a, uint64_t b) { return a / b; }
NOIPA static uint64_t umod(uint64_t a, uint64_t b) { return a % b; }
NOIPA static int64_t sdiv(int64_t a, int64_t b) { return a / b; }
NOIPA static int64_t smod(int64_t a, int64_t b) { return a % b; }
NOIPA static int32_t sdiv32(int32_t a, int32_t b) { return a / b; }
NOIPA static int32_t smod32(int32_t a, int32_t b) { return a % b; }
NOIPA static uint32_t udiv32(uint32_t a, uint32_t b) { return a / b; }
NOIPA static uint64_t div10(uint64_t a) { return a / 10; } /* reciprocal multiply */
NOIPA static int64_t sdiv7(int64_t a) { return a / 7; }
NOIPA static uint64_t shl(uint64_t a, unsigned n) { return a << (n & 63); }
NOIPA static uint64_t shr(uint64_t a, unsigned n) { return a >> (n & 63); }
NOIPA static int64_t sar(int64_t a, unsigned n) { return a >> (n & 63); }
NOIPA static uint64_t rol(uint64_t a, unsigned n) { return (a << (n & 63)) | (a >> (-n & 63)); }
NOIPA static uint64_t ror(uint64_t a, unsigned n) { return (a >> (n & 63)) | (a << (-n & 63)); }
NOIPA static uint32_t rol32(uint32_t a, unsigned n) { return (a << (n & 31)) | (a >> (-n & 31)); }
NOIPA static uint64_t bswap(uint64_t a) { return __builtin_bswap64(a); }
NOIPA static int clz(uint64_t a) { return a ? __builtin_clzll(a) : 64; }
NOIPA static int ctz(uint64_t a) { return a ? __builtin_ctzll(a) : 64; }
NOIPA static int popcount(uint64_t a) { /* SWAR: __builtin_popcount would need libgcc */
  a = a - ((a >> 1) & 0x5555555555555555u);
  a = (a & 0x3333333333333333u) + ((a >> 2) & 0x3333333333333333u);
  a = (a + (a >> 4)) & 0x0f0f0f0f0f0f0f0fu;
  return (int)((a * 0x0101010101010101u) >> 56);
}

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

int main(void) {
  for (unsigned i = 0; i < COUNT(uv); i++)
    for (unsigned j = 0; j < COUNT(uv); j++) {
      uint64_t a = uv[i], b = uv[j];
      printf("u %lx %lx: mul %lx hi %lx", a, b, umul(a, b), umulhi(a, b));
      if (b) printf(" div %lu mod %lu", udiv(a, b), umod(a, b));
      printf("\n");
    }
  for (unsigned i = 0; i < COUNT(sv); i++)
    for (unsigned j = 0; j < COUNT(sv); j++) {
      int64_t a = sv[i], b = sv[j];
      printf("s %ld %ld: mul %lx hi %ld", a, b, umul((uint64_t)a, (uint64_t)b), smulhi(a, b));
      if (b && !(a == INT64_MIN_ && b == -1)) printf(" div %ld mod %ld", sdiv(a, b), smod(a, b));
      printf("\n");
    }
  for (unsigned i = 0; i < COUNT(sv32); i++)
    for (unsigned j = 0; j < COUNT(sv32); j++) {
      int32_t a = sv32[i], b = sv32[j];
      if (!b || (a == -2147483647 - 1 && b == -1)) continue;
      printf("s32 %d %d: div %d mod %d udiv %u\n", a, b, sdiv32(a, b), smod32(a, b),
             udiv32((uint32_t)a, (uint32_t)b));
    }
  for (unsigned i = 0; i < COUNT(sv); i++)
    printf("c %ld: /10u %lu /7 %ld\n", sv[i], div10((uint64_t)sv[i]), sdiv7(sv[i]));
  static const unsigned counts[] = {0, 1, 4, 31, 32, 33, 63, 64, 65};
  for (unsigned i = 0; i < COUNT(uv); i++)
    for (unsigned k = 0; k < COUNT(counts); k++) {
      unsigned n = counts[k];
      uint64_t a = uv[i];
      printf("sh %lx %u: shl %lx shr %lx sar %ld rol %lx ror %lx rol32 %x\n", a, n, shl(a, n),
             shr(a, n), sar((int64_t)a, n), rol(a, n), ror(a, n), rol32((uint32_t)a, n));
    }
  for (unsigned i = 0; i < COUNT(uv); i++)
    printf("bits %lx: bswap %lx clz %d ctz %d popcount %d\n", uv[i], bswap(uv[i]), clz(uv[i]),
           ctz(uv[i]), popcount(uv[i]));
  printf("min %ld %lx, min/2 %ld, min%%3 %ld, min>>63 %ld, -min %ld\n", sv[10], sv[10],
         sdiv(sv[10], 2), smod(sv[10], 3), sar(sv[10], 63), (int64_t)(0 - (uint64_t)sv[10]));
  return 0;
}
