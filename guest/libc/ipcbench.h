/* What every IPC benchmark program shares (sel4bench's measurement, src/experiments/
   ipc-harness.ts): the stamp arrays the harness reads back from memory, the stamp itself, the
   warm-up of the arrays and the stamp's own cost. One program (one translation unit)
   includes this header. */
#pragma once
#include <stdint.h>

enum { MAX_ROUNDS = 4096 };

/* Client: before the call and after it returns; server: on arrival and before replying. */
uint64_t start_stamp[MAX_ROUNDS], end_stamp[MAX_ROUNDS];
uint64_t arrive_stamp[MAX_ROUNDS], reply_stamp[MAX_ROUNDS];
/* Cycles of two back-to-back stamps, subtracted from every figure. */
uint64_t overhead;

/* Entries of the stamp arrays to touch before measuring (set by the harness to the same value
   in a run and in its warm-up-only twin, so the touching cancels out of the instruction
   count): a benchmark's result buffer is warm, or every eighth stamp's store would open a
   cold line inside the timed window. */
uint64_t warm_rounds = 1;

static inline uint64_t rdtsc(void) {
  uint32_t lo, hi;
  __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
  return ((uint64_t)hi << 32) | lo;
}

static void warm_stamps(uint64_t *a, uint64_t *b) {
  for (uint64_t i = 0; i < warm_rounds && i < MAX_ROUNDS; i++) a[i] = b[i] = 0;
}

/* The least of a few tries: the first may fetch a cold line of this code between its two
   stamps. */
static void measure_overhead(void) {
  overhead = UINT64_MAX;
  for (int j = 0; j < 4; j++) {
    uint64_t o0 = rdtsc();
    uint64_t d = rdtsc() - o0;
    if (d < overhead) overhead = d;
  }
}
