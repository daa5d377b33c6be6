/* SkyBridge's IPC benchmark, measured as sel4bench measures a kernel's (ipcbench.h): the
   client stamps RDTSC right before sb_call and right after it returns, the server's handler
   on arrival and right before it returns. The harness (src/experiments/skybridge-bench.ts)
   loads this program as the client and as each server, registers `server_handler` (or, for
   the middle of a chain, `chain_handler`), binds them, and starts client_main. Longer
   messages go through the shared buffer: the client writes it before the call and the
   handler copies it in (sb_copy_in), as a careful server does. The client exits through the
   Linux layer when done. */
#include "ipcbench.h"
#include "linux.h"
#include "skybridge.h"

/* Set by the harness in the chain's middle server: the server it calls on. */
uint64_t chain_next;
/* The server's private copy of a request. */
static uint8_t request[SB_MAX_SLOTS * 16];

uint64_t server_handler(uint64_t i, uint64_t bytes, uint64_t unused, const struct sb_call *call) {
  (void)unused;
  if (i < MAX_ROUNDS) arrive_stamp[i] = rdtsc();
  if (bytes > 0 && !sb_copy_in(request, call, 0, bytes < sizeof request ? bytes : sizeof request))
    return ~0ull;
  uint64_t r = i + 1;
  if (i < MAX_ROUNDS) reply_stamp[i] = rdtsc();
  return r;
}

/* The middle of client -> A -> B: A's handler calls B from the client's thread. */
uint64_t chain_handler(uint64_t i, uint64_t bytes, uint64_t unused, const struct sb_call *call) {
  (void)unused;
  (void)call;
  if (i < MAX_ROUNDS) arrive_stamp[i] = rdtsc();
  sb_result r = sb_call(chain_next, i, bytes, 0);
  if (i < MAX_ROUNDS) reply_stamp[i] = rdtsc();
  return r.status < 0 ? ~0ull : r.value;
}

/* rdi = rounds, rsi = the server's id, rdx = message bytes (through the shared buffer). */
void client_main(uint64_t rounds, uint64_t server, uint64_t bytes) {
  warm_stamps(start_stamp, end_stamp);
  measure_overhead();
  uint8_t *buf = sb_buffer(server);
  uint64_t failures = 0;
  for (uint64_t i = 0; i < rounds && i < MAX_ROUNDS; i++) {
    uint64_t t0 = rdtsc();
    start_stamp[i] = t0;
    for (uint64_t j = 0; j < bytes / 8; j++) ((uint64_t *)buf)[j] = j;
    sb_result r = sb_call(server, i, bytes, 0);
    end_stamp[i] = rdtsc();
    if (r.status != 0 || r.value != i + 1) failures++;
  }
  syscall1(SYS_exit_group, failures == 0 ? 0 : 1);
}

/* Not used: the harness starts threads at client_main (the C library's _start wants one). */
int main(void) { return 0; }
