/* sel4bench's IPC benchmark (apps/ipc) as machine code on the seL4 Subkernel: a client
   calls, a server answers with ReplyRecv; each stamps RDTSC in its own code (client: before
   the call and after it returns; server: on arrival and before replying). The harness
   (src/experiments/sel4bench.ts) starts the threads at client_main and server_main, passes
   the parameters in registers, and reads the stamps from each process's memory afterwards.
   Capabilities (the harness mints them): client slot 1 = the endpoint (send, grant reply),
   server slot 2 = the endpoint (receive), slot 3 in both = an endpoint no one sends to, where
   each thread parks when it is done. */
#include "libsel4.h"

enum { MAX_ROUNDS = 4096 };

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

/* Words beyond the fourth go through the IPC buffer (seL4_SetMR). */
static void set_long_message(seL4_IPCBuffer *ipc, seL4_Word words) {
  for (seL4_Word i = seL4_FastMessageRegisters; i < words; i++) ipc->msg[i] = i + 1;
}

static __attribute__((noreturn)) void park(void) {
  seL4_Word mr[4] = {0}, badge;
  for (;;) seL4_Recv(3, mr, &badge);
}

/* rdi = rounds, rsi = message words, rdx = the IPC buffer. */
void client_main(seL4_Word rounds, seL4_Word words, seL4_IPCBuffer *ipc) {
  warm_stamps(start_stamp, end_stamp);
  /* The least of a few tries: the first may fetch a cold line of this code between its two
     stamps. */
  overhead = UINT64_MAX;
  for (int j = 0; j < 4; j++) {
    uint64_t o0 = rdtsc();
    uint64_t d = rdtsc() - o0;
    if (d < overhead) overhead = d;
  }
  seL4_MessageInfo_t info = seL4_MessageInfo_new(0, 0, words);
  for (seL4_Word i = 0; i < rounds && i < MAX_ROUNDS; i++) {
    set_long_message(ipc, words);
    seL4_Word mr[4] = {1, 2, 3, 4};
    start_stamp[i] = rdtsc();
    seL4_Call(1, info, mr);
    end_stamp[i] = rdtsc();
  }
  park();
}

void server_main(seL4_Word rounds, seL4_Word words, seL4_IPCBuffer *ipc) {
  warm_stamps(arrive_stamp, reply_stamp);
  seL4_MessageInfo_t info = seL4_MessageInfo_new(0, 0, words);
  seL4_Word mr[4] = {0}, badge;
  seL4_Recv(2, mr, &badge);
  for (seL4_Word i = 0; i < rounds && i < MAX_ROUNDS; i++) {
    arrive_stamp[i] = rdtsc();
    set_long_message(ipc, words);
    mr[0] = 1, mr[1] = 2, mr[2] = 3, mr[3] = 4;
    reply_stamp[i] = rdtsc();
    seL4_ReplyRecv(2, info, mr, &badge);
  }
  park();
}

int main(void) { return 0; }
