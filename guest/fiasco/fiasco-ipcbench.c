/* sel4bench's IPC benchmark (apps/ipc) as machine code on the Fiasco.OC Subkernel: a client
   calls an IPC gate bound to the server thread (l4_ipc_call), the server waits once in
   l4_ipc_wait and then answers with l4_ipc_reply_and_wait; each stamps RDTSC in its own code
   (client: before the call and after it returns; server: on arrival and before replying). The
   harness (src/experiments/fiasco-bench.ts) starts the threads at client_main and server_main,
   passes the parameters in registers, and reads the stamps from each process's memory
   afterwards. Capabilities (the harness puts them): client slot 1 = the gate (CW); the server
   needs none. Each thread parks in l4_ipc_sleep when it is done. */
#include "ipcbench.h"
#include "libfiasco.h"

enum { GATE = 1 << L4_CAP_SHIFT };


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
  measure_overhead();
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
