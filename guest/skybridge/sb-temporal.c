/* Temporal isolation under SkyBridge, as machine code: whose time a call uses, what a slow
   server does to its clients, a timer tick inside a handler, the server's budget. The harness
   (src/experiments/temporal.ts) loads this one program as every process, registers
   work_handler, binds clients, sets the knobs below through physical memory, starts threads
   at client_main or bystander_main, and reads the records back from physical memory.
   Every time is the core's own RDTSC. */
#include "linux.h"
#include "skybridge.h"

enum { MAX_CALLS = 2048, MAX_GAPS = 1024 };

/* Knobs, set by the harness per process (0: off). */
uint64_t max_calls = MAX_CALLS; /* requests a client makes */
uint64_t run_cycles;            /* a client stops starting requests after this long */
uint64_t pause_max;             /* a random wait of 0..pause_max-1 cycles before each request */
uint64_t retry_until;           /* a request retries SB_EBUSY answers for this many cycles */
uint64_t gap_threshold = 1000;  /* a bystander records gaps in its loop longer than this */
uint64_t seed = 88172645463325252ull;

/* A client's record of each request: when it started, how long until the last answer, the
   final status, how many sb_calls it took, what the handler returned (the cycles it ran) and
   what it saw (the longest gap in its own loop, and the server id the tag page showed right
   after that gap). */
uint64_t req_start[MAX_CALLS], req_cycles[MAX_CALLS], req_attempts[MAX_CALLS];
uint64_t req_value[MAX_CALLS], req_gap[MAX_CALLS], req_view[MAX_CALLS];
int64_t req_status[MAX_CALLS];
uint64_t requests;

/* A bystander's record: where its loop stopped running and for how long, when it started
   and ended, and how many rounds its loop made. */
uint64_t gap_at[MAX_GAPS], gap_len[MAX_GAPS];
uint64_t gaps, window[2], rounds;

static inline uint64_t rdtsc(void) {
  uint32_t lo, hi;
  __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
  return ((uint64_t)hi << 32) | lo;
}

static __attribute__((noreturn)) void done(void) {
  syscall1(SYS_exit, 0);
  __builtin_unreachable();
}

/* `iters` rounds of a fixed loop (a fixed amount of work, so time the thread spends
   elsewhere shows as added latency); reports the longest gap between two rounds and the
   view after it through the shared buffer; returns the cycles it took. */
uint64_t work_handler(uint64_t iters, uint64_t b, uint64_t c, const struct sb_call *call) {
  (void)b, (void)c;
  uint64_t t0 = rdtsc(), last = t0, maxgap = 0, view = 0;
  for (uint64_t i = 0; i < iters; i++) {
    uint64_t t = rdtsc();
    if (t - last > maxgap) {
      maxgap = t - last;
      view = *(const volatile uint64_t *)(SB_TAG + SB_TAG_SERVER);
    }
    last = t;
  }
  uint64_t out[2] = {maxgap, view};
  sb_copy_out(call, 0, out, sizeof out);
  return last - t0;
}

/* Never returns, and keeps writing the word of its thread block where the trampoline notes
   each call (SB_TB_SERVER), as if calls kept starting: the kernel must not restart the
   budget for it (it counts from the caller's own block, which no server can write). */
uint64_t restart_handler(uint64_t a, uint64_t b, uint64_t c, const struct sb_call *call) {
  (void)a, (void)b, (void)c, (void)call;
  for (;;) __asm__ volatile("movq $0, %%gs:%c0" : : "i"(SB_TB_SERVER) : "memory");
}

/* Requests to `server`, each asking for `iters` rounds of work, until max_calls or
   run_cycles; with retry_until, a request answered SB_EBUSY calls again until served. */
void client_main(uint64_t server, uint64_t iters) {
  volatile uint64_t *buf = (volatile uint64_t *)sb_buffer(server);
  uint64_t start = rdtsc(), x = seed;
  for (uint64_t i = 0; i < max_calls && i < MAX_CALLS; i++) {
    if (run_cycles && rdtsc() - start >= run_cycles) break;
    if (pause_max) {
      x ^= x << 13, x ^= x >> 7, x ^= x << 17;
      uint64_t w = x % pause_max, p0 = rdtsc();
      while (rdtsc() - p0 < w) {
      }
    }
    buf[0] = buf[1] = 0;
    uint64_t t0 = rdtsc(), n = 0;
    sb_result r;
    do {
      r = sb_call(server, iters, 0, 0);
      n++;
    } while (r.status == SB_EBUSY && retry_until && rdtsc() - t0 < retry_until);
    req_cycles[i] = rdtsc() - t0;
    req_start[i] = t0;
    req_status[i] = r.status;
    req_attempts[i] = n;
    req_value[i] = r.value;
    req_gap[i] = buf[0];
    req_view[i] = buf[1];
    requests = i + 1;
  }
  done();
}

/* Reads RDTSC in a loop for `cycles`, recording every gap longer than gap_threshold: the
   time the thread was not running (another thread's slice, a timer tick). */
void bystander_main(uint64_t cycles) {
  uint64_t t0 = rdtsc(), last = t0, n = 0;
  for (;; n++) {
    uint64_t t = rdtsc();
    if (t - last > gap_threshold && gaps < MAX_GAPS) {
      gap_at[gaps] = last;
      gap_len[gaps] = t - last;
      gaps++;
    }
    last = t;
    if (t - t0 >= cycles) break;
  }
  window[0] = t0, window[1] = last, rounds = n;
  done();
}

int main(void) { return 0; }
