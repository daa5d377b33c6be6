/* One request/reply interface over four transports, chosen at run time by the harness:
   SkyBridge (sb_call into a handler) or each kernel's own IPC (seL4 Call/ReplyRecv, Fiasco.OC
   l4_ipc_call/l4_ipc_reply_and_wait through an IPC gate, Zircon zx_channel_call and a server
   loop of wait/read/write). A request is an operation and two words; the reply a status and a
   word. Bulk data goes through a buffer shared by the two processes on every transport (the
   harness maps it; SkyBridge's own for SkyBridge), so the transports differ only in how
   control and the three words cross: what the comparison is about. */
#pragma once
#include <stdint.h>
#include "libsel4.h"
#include "libfiasco.h"
#include "libzircon.h"
#include "skybridge.h"

enum { RPC_SKYBRIDGE = 1, RPC_SEL4 = 2, RPC_FIASCO = 3, RPC_ZIRCON = 4 };

/* One end of a connection, as the harness writes it into the process's memory. */
struct rpc_chan {
  uint64_t kind;
  uint64_t target;  /* SkyBridge server id | seL4 endpoint slot | Fiasco gate slot | channel handle */
  uint8_t *buffer;  /* the shared buffer (SkyBridge: filled in from sb_buffer) */
  uint64_t bytes;
};

typedef struct {
  int64_t status;
  uint64_t value;
} rpc_result;

/* The UTCB / IPC buffer of the process's calling thread, set by its main: rpc_call uses it
   (on Fiasco.OC the message registers are in it). One per process: a process whose threads
   call out concurrently on Fiasco.OC needs one per thread. A serving loop uses its own
   thread's, which it is given (rpc_serve), so a process may have many serving threads. */
extern void *rpc_ipc_buffer;

static inline uint8_t *rpc_buffer(struct rpc_chan *c) {
  if (c->kind == RPC_SKYBRIDGE && c->buffer == 0) {
    c->buffer = sb_buffer(c->target);
    c->bytes = sb_buffer_bytes(c->target);
  }
  return c->buffer;
}

static inline rpc_result rpc_call(struct rpc_chan *c, uint64_t op, uint64_t a, uint64_t b) {
  rpc_result r = {0, 0};
  switch (c->kind) {
    case RPC_SKYBRIDGE: {
      /* A SkyBridge handler returns one word: the value, or a negative status. */
      sb_result s = sb_call(c->target, op, a, b);
      r.status = s.status != 0 ? s.status : (int64_t)s.value < 0 ? (int64_t)s.value : 0;
      r.value = r.status == 0 ? s.value : 0;
      break;
    }
    case RPC_SEL4: {
      seL4_Word mr[4] = {op, a, b, 0};
      seL4_Call(c->target, seL4_MessageInfo_new(0, 0, 3), mr);
      r.status = (int64_t)mr[1];
      r.value = mr[0];
      break;
    }
    case RPC_FIASCO: {
      l4_umword_t *mr = l4_utcb_mr_u(rpc_ipc_buffer)->mr;
      mr[0] = op, mr[1] = a, mr[2] = b;
      l4_msgtag_t t = l4_ipc_call(c->target << L4_CAP_SHIFT, rpc_ipc_buffer, l4_msgtag(0, 3, 0, 0),
                                  L4_IPC_NEVER);
      r.status = l4_msgtag_has_error(t) ? -100 : (int64_t)mr[1];
      r.value = mr[0];
      break;
    }
    case RPC_ZIRCON: {
      uint32_t req[8] = {0, 0, (uint32_t)op, (uint32_t)(op >> 32), (uint32_t)a, (uint32_t)(a >> 32),
                         (uint32_t)b, (uint32_t)(b >> 32)};
      uint32_t rep[6] = {0};
      uint32_t nb, nh;
      zx_channel_call_args_t args = {req, 0, rep, 0, sizeof req, 0, sizeof rep, 0};
      zx_status_t st = zx_channel_call((zx_handle_t)c->target, 0, ZX_TIME_INFINITE, &args, &nb, &nh);
      r.status = st != ZX_OK ? -200 + st : (int64_t)(rep[2] | (uint64_t)rep[3] << 32);
      r.value = rep[4] | (uint64_t)rep[5] << 32;
      break;
    }
    default:
      r.status = -1000;
  }
  return r;
}

/* A server's work: (op, a, b) with the connection's shared buffer → status, value. */
typedef int64_t (*rpc_handler)(uint64_t op, uint64_t a, uint64_t b, uint8_t *buffer,
                               uint64_t bytes, uint64_t *value);

/* A server's two entries, from its work `h`: the SkyBridge handler (the reply packed into the
   one word a handler returns: the value, or a negative status) and the thread that serves
   the kernel's own IPC. */
static inline uint64_t rpc_sb_handler(rpc_handler h, uint64_t op, uint64_t a, uint64_t b,
                                      const struct sb_call *c) {
  uint64_t v = 0;
  int64_t st = h(op, a, b, c->buffer, c->buffer_bytes, &v);
  return st < 0 ? (uint64_t)st : v;
}

static inline __attribute__((noreturn)) void rpc_serve(struct rpc_chan *c, rpc_handler h,
                                                       void *ipc);

static inline __attribute__((noreturn)) void rpc_server_main(struct rpc_chan *c, rpc_handler h,
                                                             void *ipc) {
  rpc_ipc_buffer = ipc;
  rpc_serve(c, h, ipc);
}

/* Serves requests on `c` forever with the kernel's own IPC, on the thread whose UTCB / IPC
   buffer is `ipc` (SkyBridge servers have no loop: their handler is called on the client's
   thread). */
static inline __attribute__((noreturn)) void rpc_serve(struct rpc_chan *c, rpc_handler h,
                                                       void *ipc) {
  uint8_t *buf = c->buffer;
  if (c->kind == RPC_SEL4) {
    seL4_Word mr[4] = {0}, badge;
    seL4_Recv(c->target, mr, &badge);
    for (;;) {
      uint64_t v = 0;
      int64_t st = h(mr[0], mr[1], mr[2], buf, c->bytes, &v);
      mr[0] = v, mr[1] = (seL4_Word)st;
      seL4_ReplyRecv(c->target, seL4_MessageInfo_new(0, 0, 2), mr, &badge);
    }
  } else if (c->kind == RPC_FIASCO) {
    l4_umword_t label;
    l4_utcb_t *utcb = ipc;
    l4_umword_t *mr = l4_utcb_mr_u(utcb)->mr;
    l4_ipc_wait(utcb, &label, L4_IPC_NEVER);
    for (;;) {
      uint64_t v = 0;
      int64_t st = h(mr[0], mr[1], mr[2], buf, c->bytes, &v);
      mr[0] = v, mr[1] = (l4_umword_t)st;
      l4_ipc_reply_and_wait(utcb, l4_msgtag(0, 2, 0, 0), &label, L4_IPC_NEVER);
    }
  } else {
    zx_handle_t ch = (zx_handle_t)c->target;
    uint32_t req[8], rep[6];
    uint32_t nb, nh;
    zx_signals_t seen;
    for (;;) {
      zx_object_wait_one(ch, ZX_CHANNEL_READABLE, ZX_TIME_INFINITE, &seen);
      if (zx_channel_read(ch, 0, req, 0, sizeof req, 0, &nb, &nh) != ZX_OK) continue;
      uint64_t v = 0;
      int64_t st = h(req[2] | (uint64_t)req[3] << 32, req[4] | (uint64_t)req[5] << 32,
                     req[6] | (uint64_t)req[7] << 32, buf, c->bytes, &v);
      rep[0] = req[0], rep[1] = 0;
      rep[2] = (uint32_t)st, rep[3] = (uint32_t)((uint64_t)st >> 32);
      rep[4] = (uint32_t)v, rep[5] = (uint32_t)(v >> 32);
      zx_channel_write(ch, 0, rep, sizeof rep, 0, 0);
    }
  }
}

/* One serving thread for `n` clients that all reach it through one endpoint (seL4, client i
   holding a send capability badged i + 1) or through gates bound to it (Fiasco.OC, client
   i's gate labelled 4 * (i + 1)): the badge or label says whose request it is, and the
   request is served with that client's connection `c[i]` (its own shared buffer, which the
   client may be filling while another client's request is served). A request from no known
   client is answered with status -1000. (Zircon needs a port for this: not here.) */
static inline __attribute__((noreturn)) void rpc_serve_many(struct rpc_chan *c, uint64_t n,
                                                            rpc_handler h, void *ipc) {
  if (c[0].kind == RPC_SEL4) {
    seL4_Word mr[4] = {0}, badge;
    seL4_Recv(c[0].target, mr, &badge);
    for (;;) {
      uint64_t v = 0, i = badge - 1;
      int64_t st = i < n ? h(mr[0], mr[1], mr[2], c[i].buffer, c[i].bytes, &v) : -1000;
      mr[0] = v, mr[1] = (seL4_Word)st;
      seL4_ReplyRecv(c[0].target, seL4_MessageInfo_new(0, 0, 2), mr, &badge);
    }
  } else {
    l4_umword_t label;
    l4_utcb_t *utcb = ipc;
    l4_umword_t *mr = l4_utcb_mr_u(utcb)->mr;
    l4_ipc_wait(utcb, &label, L4_IPC_NEVER);
    for (;;) {
      uint64_t v = 0, i = (label >> 2) - 1;
      int64_t st = i < n ? h(mr[0], mr[1], mr[2], c[i].buffer, c[i].bytes, &v) : -1000;
      mr[0] = v, mr[1] = (l4_umword_t)st;
      l4_ipc_reply_and_wait(utcb, l4_msgtag(0, 2, 0, 0), &label, L4_IPC_NEVER);
    }
  }
}

/* Where a thread waits for good when its work is done (the kernel then goes quiet): the
   harness sets `rpc_kernel` (RPC_SEL4/FIASCO/ZIRCON: the kernel under any transport) and
   `rpc_park_target` (an seL4 endpoint slot no one sends to, or a Zircon channel). */
extern uint64_t rpc_kernel, rpc_park_target;

static inline __attribute__((noreturn)) void rpc_park(void) {
  for (;;) {
    if (rpc_kernel == RPC_SEL4) {
      seL4_Word mr[4] = {0}, badge;
      seL4_Recv(rpc_park_target, mr, &badge);
    } else if (rpc_kernel == RPC_FIASCO) {
      l4_ipc_sleep(L4_IPC_NEVER);
    } else {
      zx_signals_t seen;
      zx_object_wait_one((zx_handle_t)rpc_park_target, ZX_CHANNEL_READABLE, ZX_TIME_INFINITE, &seen);
    }
  }
}
