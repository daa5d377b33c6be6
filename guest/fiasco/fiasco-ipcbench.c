/* sel4bench's IPC benchmark (apps/ipc) as machine code on the Fiasco.OC Subkernel: a client
   calls an IPC gate bound to the server thread (l4_ipc_call), the server waits once in
   l4_ipc_wait and then answers with l4_ipc_reply_and_wait; each stamps RDTSC in its own code
   (client: before the call and after it returns; server: on arrival and before replying). The
   harness (src/experiments/fiasco-bench.ts) starts the threads at client_main and server_main,
   passes the parameters in registers, and reads the stamps from each process's memory
   afterwards. Capabilities (the harness puts them): client slot 1 = the gate (CW); the server
   needs none. Each thread parks in l4_ipc_sleep when it is done. */
#include "libfiasco.h"

enum { MAX_ROUNDS = 4096, GATE = 1 << L4_CAP_SHIFT };

uint64_t start_stamp[MAX_ROUNDS], end_stamp[MAX_ROUNDS];
uint64_t arrive_stamp[MAX_ROUNDS], reply_stamp[MAX_ROUNDS];
uint64_t overhead;

/* Entries of the stamp arrays to touch before measuring (set by the harness to the same value
   in a run and in its warm-up-only twin, so the touching cancels out of the instruction
   count): a benchmark's result buffer is warm, or every eighth stamp's store would open a
   cold line inside the timed window. */
uint64_t warm_rounds = 1;

static void warm_stamps(uint64_t *a, uint64_t *b) {
  for (uint64_t i = 0; i < warm_rounds && i < MAX_ROUNDS; i++) a[i] = b[i] = 0;
}

/* Every word of a Fiasco message goes through the UTCB's message registers. */
static void set_message(l4_utcb_t *utcb, l4_umword_t words) {
  l4_msg_regs_t *m = l4_utcb_mr_u(utcb);
  for (l4_umword_t i = 0; i < words; i++) m->mr[i] = i + 1;
}

static __attribute__((noreturn)) void park(void) {
  for (;;) l4_ipc_sleep(L4_IPC_NEVER);
}

/* rdi = rounds, rsi = message words, rdx = the UTCB (passed in: the Subkernel does not set
   the user GS base that upstream's l4_utcb() reads it through). */
void client_main(l4_umword_t rounds, l4_umword_t words, l4_utcb_t *utcb) {
  warm_stamps(start_stamp, end_stamp);
  /* The least of a few tries: the first may fetch a cold line of this code between its two
     stamps. */
  overhead = UINT64_MAX;
  for (int j = 0; j < 4; j++) {
    uint64_t o0 = rdtsc();
    uint64_t d = rdtsc() - o0;
    if (d < overhead) overhead = d;
  }
  l4_msgtag_t tag = l4_msgtag(0, words, 0, 0);
  for (l4_umword_t i = 0; i < rounds && i < MAX_ROUNDS; i++) {
    set_message(utcb, words);
    start_stamp[i] = rdtsc();
    l4_ipc_call(GATE, utcb, tag, L4_IPC_NEVER);
    end_stamp[i] = rdtsc();
  }
  park();
}

void server_main(l4_umword_t rounds, l4_umword_t words, l4_utcb_t *utcb) {
  warm_stamps(arrive_stamp, reply_stamp);
  l4_msgtag_t tag = l4_msgtag(0, words, 0, 0);
  l4_umword_t label;
  l4_ipc_wait(utcb, &label, L4_IPC_NEVER);
  for (l4_umword_t i = 0; i < rounds && i < MAX_ROUNDS; i++) {
    arrive_stamp[i] = rdtsc();
    set_message(utcb, words);
    reply_stamp[i] = rdtsc();
    l4_ipc_reply_and_wait(utcb, tag, &label, L4_IPC_NEVER);
  }
  park();
}

int main(void) { return 0; }
