/* sel4bench's IPC benchmark (apps/ipc) as machine code on the seL4 Subkernel: a client
   calls, a server answers with ReplyRecv; each stamps RDTSC in its own code (client: before
   the call and after it returns; server: on arrival and before replying). The harness
   (src/experiments/sel4bench.ts) starts the threads at client_main and server_main, passes
   the parameters in registers, and reads the stamps from each process's memory afterwards.
   Capabilities (the harness mints them): client slot 1 = the endpoint (send, grant reply),
   server slot 2 = the endpoint (receive), slot 3 in both = an endpoint no one sends to, where
   each thread parks when it is done. */
#include "ipcbench.h"
#include "libsel4.h"


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
  measure_overhead();
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
