/* Experiment indirect (src/experiments/indirect.ts): what an IPC costs the code around it
   (Mi et al., EuroSys 2019: IPC pollutes the caller's TLB and caches beyond its own
   cycles). The client reads one 32-bit word per 64-byte line of a working set of `ws_bytes`
   (ws_touch below), then, when `with_ipc` is set, makes one round trip to a server that
   replies at once with an empty message, `passes` times. The same image is loaded as the
   client and as the server; the harness writes the knobs into each process's memory before
   its thread starts, and reads the client's counters at the labels ws_touch, ws_touch_done
   and client_done (stopping there costs no simulated cycle: it is the harness looking at the
   machine's counters, as perf does).

   Transports (`via`), each with its kernel's idiom for an empty request and reply:
     VIA_SEL4      seL4_Call / seL4_Recv + seL4_ReplyRecv on an endpoint (client slot and
                   server slot in `target`)
     VIA_FIASCO    l4_ipc_call through an IPC gate / l4_ipc_wait + l4_ipc_reply_and_wait
     VIA_ZIRCON    zx_channel_call of a 4-byte message (the txid) / zx_object_wait_one +
                   zx_channel_read + zx_channel_write of the txid back
     VIA_SKYBRIDGE sb_call into null_handler, on the client's own thread */
#include <stdint.h>
#include "libfiasco.h"
#include "libsel4.h"
#include "libzircon.h"
#include "skybridge.h"

enum { VIA_SEL4 = 1, VIA_FIASCO = 2, VIA_ZIRCON = 3, VIA_SKYBRIDGE = 4 };
enum { WS_MAX = 1 << 20 };

/* Knobs (the harness sets them): the transport, the client's end or the server's (an seL4
   slot, a Fiasco gate slot, a Zircon handle, a SkyBridge server id), passes to make, the
   working set's size, whether an IPC follows each pass; the kernel (VIA_SEL4, VIA_FIASCO or
   VIA_ZIRCON, under any transport) and where the client waits for good when it is done (an
   seL4 endpoint slot no one sends to, a Zircon channel no one writes to). */
uint64_t via, target, passes, ws_bytes, with_ipc, kernel, park_target;
/* The client's record: passes made, and failed calls (a non-zero status). */
volatile uint64_t made, failures;

/* The working set, page-aligned, in the client's .bss. */
uint8_t ws[WS_MAX] __attribute__((aligned(4096)));

/* ws_touch(base, bytes): one load per 64-byte line, in address order. Assembly, so that the
   code between the labels is exactly this loop whatever gcc does around it: 3 instructions
   to set up, 4 per line (the load, the pointer step, the compare, the branch). */
void ws_touch(const uint8_t *base, uint64_t bytes);
void client_done(void);
__asm__(
    ".text\n"
    ".globl ws_touch, ws_touch_done, client_done\n"
    ".type ws_touch, @function\n"
    "ws_touch:\n"
    "  lea (%rdi,%rsi), %rsi\n"
    "  cmp %rsi, %rdi\n"
    "  jae ws_touch_done\n"
    "1:\n"
    "  mov (%rdi), %eax\n"
    "  add $64, %rdi\n"
    "  cmp %rsi, %rdi\n"
    "  jb 1b\n"
    "ws_touch_done:\n"
    "  ret\n"
    ".size ws_touch, .-ws_touch\n"
    /* Where the client's measured passes end (the harness stops there and reads the counters). */
    ".type client_done, @function\n"
    "client_done:\n"
    "  ret\n"
    ".size client_done, .-client_done\n");

/* One empty request and its reply; a non-zero result is a failed call. */
static uint64_t ipc(l4_utcb_t *utcb) {
  switch (via) {
    case VIA_SEL4: {
      seL4_Word mr[4] = {0, 0, 0, 0};
      seL4_Call(target, seL4_MessageInfo_new(0, 0, 0), mr);
      return 0;
    }
    case VIA_FIASCO:
      return l4_msgtag_has_error(
          l4_ipc_call(target << L4_CAP_SHIFT, utcb, l4_msgtag(0, 0, 0, 0), L4_IPC_NEVER));
    case VIA_ZIRCON: {
      uint32_t req = 0, rep = 0, nb, nh;
      zx_channel_call_args_t args = {&req, 0, &rep, 0, 4, 0, 4, 0};
      return (uint32_t)zx_channel_call((zx_handle_t)target, 0, ZX_TIME_INFINITE, &args, &nb, &nh);
    }
    case VIA_SKYBRIDGE:
      return (uint64_t)sb_call(target, 0, 0, 0).status;
  }
  return 1;
}

/* The client's work is done: it blocks for good, and the kernel goes quiet. */
static __attribute__((noreturn)) void park(void) {
  for (;;) {
    if (kernel == VIA_SEL4) {
      seL4_Word mr[4] = {0, 0, 0, 0}, badge;
      seL4_Recv(park_target, mr, &badge);
    } else if (kernel == VIA_FIASCO) {
      l4_ipc_sleep(L4_IPC_NEVER);
    } else {
      zx_signals_t seen;
      zx_object_wait_one((zx_handle_t)park_target, ZX_CHANNEL_READABLE, ZX_TIME_INFINITE, &seen);
    }
  }
}

/* rdi: unused; rsi: the thread's IPC buffer / UTCB (createThread maps it there). */
void client_main(uint64_t unused, l4_utcb_t *utcb) {
  (void)unused;
  for (uint64_t i = 0; i < passes; i++) {
    ws_touch(ws, ws_bytes < WS_MAX ? ws_bytes : WS_MAX);
    if (with_ipc && ipc(utcb) != 0) failures++;
    made = i + 1;
  }
  client_done();
  park();
}

/* SkyBridge's server: the handler replies at once (xor eax, eax; ret). */
uint64_t null_handler(uint64_t a, uint64_t b, uint64_t c, const struct sb_call *call) {
  (void)a, (void)b, (void)c, (void)call;
  return 0;
}

/* A native server: replies at once to every request, forever. */
void server_main(uint64_t unused, l4_utcb_t *utcb) {
  (void)unused;
  if (via == VIA_SEL4) {
    seL4_Word mr[4] = {0, 0, 0, 0}, badge;
    seL4_Recv(target, mr, &badge);
    for (;;) seL4_ReplyRecv(target, seL4_MessageInfo_new(0, 0, 0), mr, &badge);
  } else if (via == VIA_FIASCO) {
    l4_umword_t label;
    l4_ipc_wait(utcb, &label, L4_IPC_NEVER);
    for (;;) l4_ipc_reply_and_wait(utcb, l4_msgtag(0, 0, 0, 0), &label, L4_IPC_NEVER);
  } else {
    zx_handle_t ch = (zx_handle_t)target;
    uint32_t msg = 0, nb, nh;
    zx_signals_t seen;
    for (;;) {
      zx_object_wait_one(ch, ZX_CHANNEL_READABLE, ZX_TIME_INFINITE, &seen);
      /* The reply carries the request's txid (its first four bytes) back. */
      if (zx_channel_read(ch, 0, &msg, 0, 4, 0, &nb, &nh) == ZX_OK) zx_channel_write(ch, 0, &msg, 4, 0, 0);
    }
  }
}

int main(void) { return 0; }
