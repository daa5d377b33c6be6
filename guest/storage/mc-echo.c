/* Many cores: an echo server and its clients, one program (experiment multicore), on seL4,
   Fiasco.OC or Zircon. The harness (src/experiments/multicore-stack.ts) loads it once per
   process: one server process (served by echo_handler under SkyBridge, or by threads at
   echo_main, one per core or a single one, natively: thread i serves serve[i], through the
   UTCB / IPC buffer it was started with) and one client process per core, each with one
   thread at client_main. Each
   client makes `warm` calls, says it is `ready`, waits until its core's clock reaches
   `start_at` (which the harness sets, the same for all, once every client is ready), then
   makes `calls` measured ones, each timed with its core's RDTSC. */
#include "rpc.h"

enum { MAX_CALLS = 4096, MAX_SERVERS = 16, OP_ECHO = 1, E_OP = -3 };

/* serve[i]: the end server thread i receives on (natively); call: a client's one end. */
struct rpc_chan serve[MAX_SERVERS], call;
uint64_t rpc_kernel, rpc_park_target;
void *rpc_ipc_buffer;

/* Knobs (set by the harness) and a client's record: each measured call's cycles, the
   window of the measured calls (first start, last end), calls made and wrong answers. */
uint64_t calls = 100, warm = 10;
volatile uint64_t start_at, ready;
uint64_t lat[MAX_CALLS], span[2];
volatile uint64_t made, errors;

static inline uint64_t rdtsc(void) {
  uint32_t lo, hi;
  __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
  return ((uint64_t)hi << 32) | lo;
}

/* The server's work: the request's word back. */
static int64_t echo_op(uint64_t op, uint64_t a, uint64_t b, uint8_t *buf, uint64_t bytes,
                       uint64_t *value) {
  (void)b, (void)buf, (void)bytes;
  if (op != OP_ECHO) return E_OP;
  *value = a;
  return 0;
}

uint64_t echo_handler(uint64_t op, uint64_t a, uint64_t b, const struct sb_call *c) {
  return rpc_sb_handler(echo_op, op, a, b, c);
}

void echo_main(uint64_t i, void *ipc) { rpc_server_main(&serve[i], echo_op, ipc); }

void client_main(uint64_t unused, void *ipc) {
  (void)unused;
  rpc_ipc_buffer = ipc;
  uint64_t n = calls < MAX_CALLS ? calls : MAX_CALLS;
  for (uint64_t i = 0; i < warm; i++) rpc_call(&call, OP_ECHO, i, 0);
  ready = 1;
  while (start_at == 0 || rdtsc() < start_at) __asm__ volatile("pause");
  span[0] = rdtsc();
  for (uint64_t i = 0; i < n; i++) {
    uint64_t t0 = rdtsc();
    rpc_result r = rpc_call(&call, OP_ECHO, i + 1000, 0);
    lat[i] = rdtsc() - t0;
    if (r.status != 0 || r.value != i + 1000) errors++;
  }
  span[1] = rdtsc();
  made = n;
  rpc_park();
}

int main(void) { return 0; }
