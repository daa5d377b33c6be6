/* sel4bench's IPC benchmark shape with Zircon's own calls, as machine code on the Zircon
   Subkernel (as Fuchsia's channel round-trip microbenchmarks do them): the client loops on
   zx_channel_call of a message whose first four bytes are the txid; the server loops on
   zx_object_wait_one(READABLE), zx_channel_read, and zx_channel_write of a reply carrying the
   request's txid. Stamps: the client's before the call and after it returns; the server's
   after zx_channel_read returns and before zx_channel_write. The harness
   (src/experiments/zircon-bench.ts) creates the channels, starts the threads at client_main
   and server_main with the handle values in registers, and reads the stamps (and the first
   failing status, if any) from each process's memory afterwards. */
#include "ipcbench.h"
#include "libzircon.h"

enum { MAX_WORDS = ZX_CHANNEL_MAX_MSG_BYTES / 4 };

/* The first failing call's zx_status_t (0: none), its 32 bits zero-extended. */
uint64_t client_status, server_status;

/* Each side's own buffers, so that client and server can share one process. Words, so the
   txid is a plain uint32_t load and store. */
static uint32_t client_send[MAX_WORDS], client_recv[MAX_WORDS];
static uint32_t server_send[MAX_WORDS], server_recv[MAX_WORDS];

/* The message body: byte i is i mod 256 (the txid's four bytes are the kernel's). */
static void fill(uint32_t *buf, uint64_t bytes) {
  uint8_t *b = (uint8_t *)buf;
  for (uint64_t i = 0; i < bytes; i++) b[i] = (uint8_t)i;
}

/* Waits for a message on a channel no one writes to: the thread blocks for good and the
   kernel goes quiet. */
static __attribute__((noreturn)) void park(zx_handle_t park_channel) {
  zx_signals_t observed;
  for (;;) zx_object_wait_one(park_channel, ZX_CHANNEL_READABLE, ZX_TIME_INFINITE, &observed);
}

/* rdi = rounds, rsi = message bytes, rdx = the channel, r8 = the park channel. RCX is not an
   argument: a new thread enters user mode by SYSRET, which takes its RIP from RCX. */
void client_main(uint64_t rounds, uint64_t bytes, zx_handle_t channel, uint64_t rip,
                 zx_handle_t park_channel) {
  warm_stamps(start_stamp, end_stamp);
  measure_overhead();
  fill(client_send, bytes);
  uint32_t actual_bytes, actual_handles;
  for (uint64_t i = 0; i < rounds && i < MAX_ROUNDS; i++) {
    zx_channel_call_args_t args = {
        .wr_bytes = client_send,
        .wr_handles = 0,
        .rd_bytes = client_recv,
        .rd_handles = 0,
        .wr_num_bytes = (uint32_t)bytes,
        .wr_num_handles = 0,
        .rd_num_bytes = (uint32_t)bytes,
        .rd_num_handles = 0,
    };
    start_stamp[i] = rdtsc();
    zx_status_t st =
        zx_channel_call(channel, 0, ZX_TIME_INFINITE, &args, &actual_bytes, &actual_handles);
    end_stamp[i] = rdtsc();
    if (st != ZX_OK) {
      client_status = (uint32_t)st;
      break;
    }
  }
  park(park_channel);
}

void server_main(uint64_t rounds, uint64_t bytes, zx_handle_t channel, uint64_t rip,
                 zx_handle_t park_channel) {
  warm_stamps(arrive_stamp, reply_stamp);
  fill(server_send, bytes);
  uint32_t actual_bytes, actual_handles;
  zx_signals_t observed;
  for (uint64_t i = 0; i < rounds && i < MAX_ROUNDS; i++) {
    zx_status_t st = zx_object_wait_one(channel, ZX_CHANNEL_READABLE | ZX_CHANNEL_PEER_CLOSED,
                                        ZX_TIME_INFINITE, &observed);
    if (st == ZX_OK)
      st = zx_channel_read(channel, 0, server_recv, 0, (uint32_t)bytes, 0, &actual_bytes,
                           &actual_handles);
    arrive_stamp[i] = rdtsc();
    if (st != ZX_OK) {
      server_status = (uint32_t)st;
      break;
    }
    server_send[0] = server_recv[0];
    reply_stamp[i] = rdtsc();
    st = zx_channel_write(channel, 0, server_send, (uint32_t)bytes, 0, 0);
    if (st != ZX_OK) {
      server_status = (uint32_t)st;
      break;
    }
  }
  park(park_channel);
}

int main(void) { return 0; }
