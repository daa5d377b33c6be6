/* SkyBridge's API for guest programs: call a server directly (no kernel on the path), find
   the buffer shared with it, and, in a server, copy request data in before checking it.
   Registration and binding are the kernel's (a scenario file or the harness names them).

   A client:
       sb_result r = sb_call(server, a, b, c);
       if (r.status < 0) ... one of the SB_E* codes ...; else use r.value
   A server's handler (named at registration):
       uint64_t handler(uint64_t a, uint64_t b, uint64_t c, const struct sb_call *call);
   runs on the client's thread, in the server's address space, on one of the server's stacks.
   A system call from a handler is refused (SB_ESYSCALL in RAX): a handler has no authority of
   its own on the client's thread, and must not have the client's. */
#pragma once
#include <stdint.h>
#include "skybridge-layout.h"

typedef struct {
  int64_t status;
  uint64_t value;
} sb_result;

/* What a handler is told, from the server's own tables (never from the client). */
struct sb_call {
  uint64_t slot;         /* the client's slot in this server's key table */
  uint8_t *buffer;       /* the buffer shared with that client (0 if none) */
  uint64_t buffer_bytes; /* its size */
  uint64_t caller;       /* the calling thread's process id (from the EPT view) */
};

typedef sb_result (*sb_call_fn)(uint64_t server, uint64_t a, uint64_t b, uint64_t c);

static inline sb_result sb_call(uint64_t server, uint64_t a, uint64_t b, uint64_t c) {
  return ((sb_call_fn)SB_TRAMPOLINE)(server, a, b, c);
}

static inline const volatile uint64_t *sb_record(uint64_t server) {
  return (const volatile uint64_t *)(SB_BINDINGS + (server << SB_BINDING_SHIFT));
}

/* The buffer this address space shares with `server`, or 0 if it is not bound. */
static inline uint8_t *sb_buffer(uint64_t server) {
  if (server >= SB_MAX_SERVERS) return 0;
  return (uint8_t *)sb_record(server)[SB_REC_BUFFER / 8];
}

static inline uint64_t sb_buffer_bytes(uint64_t server) {
  if (server >= SB_MAX_SERVERS) return 0;
  return sb_record(server)[SB_REC_BYTES / 8];
}

/* Copies n bytes, eight at a time while it can; each shared byte is read exactly once
   (volatile: the compiler may not read it again later). */
static inline void sb_copy(void *dst, const volatile void *src, uint64_t n) {
  uint8_t *d = dst;
  const volatile uint8_t *s = src;
  uint64_t i = 0;
  if ((((uint64_t)d | (uint64_t)s) & 7) == 0)
    for (; i + 8 <= n; i += 8) *(uint64_t *)(d + i) = *(const volatile uint64_t *)(s + i);
  for (; i < n; i++) d[i] = s[i];
}

/* Copies `n` bytes at `offset` of the call's shared buffer into private memory, refusing a
   range outside the buffer (returns 0) so the server checks and uses the same bytes: the
   client can change the buffer from another core at any time. */
static inline int sb_copy_in(void *dst, const struct sb_call *call, uint64_t offset, uint64_t n) {
  if (call->buffer == 0 || offset > call->buffer_bytes || n > call->buffer_bytes - offset) return 0;
  sb_copy(dst, call->buffer + offset, n);
  return 1;
}

/* Copies a reply out to the shared buffer, bounded the same way. */
static inline int sb_copy_out(const struct sb_call *call, uint64_t offset, const void *src, uint64_t n) {
  if (call->buffer == 0 || offset > call->buffer_bytes || n > call->buffer_bytes - offset) return 0;
  sb_copy(call->buffer + offset, src, n);
  return 1;
}
