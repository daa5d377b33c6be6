/* The user side of the Fiasco.OC Subkernel's IPC system call, as l4re-core's l4sys writes it
   for amd64: l4_ipc (l4sys/include/ARCH-amd64/L4API-l4f/ipc.h) and the generic l4_ipc_call,
   l4_ipc_reply_and_wait, l4_ipc_wait, l4_ipc_receive, l4_ipc_sleep on top of it
   (l4sys/include/ipc.h). RDX = the capability index | the operation flags, RAX = the message
   tag, RSI = the label, R8 = the timeout pair; after the SYSCALL RAX holds the returned tag and
   RSI the label. RDI = the UTCB, as src/kernel/fiasco/libfiasco.ts passes it (upstream's stub
   leaves RDI undefined: the kernel finds the UTCB through the thread). Message words live in
   the UTCB's message registers (l4sys/include/ARCH-amd64/utcb.h, l4_utcb_mr_u). */
#pragma once
#include <stdint.h>

typedef uint64_t l4_umword_t;
typedef l4_umword_t l4_cap_idx_t;
typedef struct l4_utcb_t l4_utcb_t;
typedef struct { l4_umword_t raw; } l4_msgtag_t;
typedef struct { uint32_t raw; } l4_timeout_t;

/* consts.h: a capability index is slot << L4_CAP_SHIFT. Upstream's L4_INVALID_CAP is
   ~0UL << 11; the Subkernel reads RDX as a double (objects.ts INVALID_CAP), where those high
   bits would round away the operation bits, so we pass bit 11 alone (L4_INVALID_CAP_BIT),
   the bit the kernel tests. */
enum { L4_CAP_SHIFT = 12, L4_INVALID_CAP = 1UL << 11 };

/* l4_syscall_flags_t (consts.h), Fiasco's L4_obj_ref operations (l4_types.cpp). */
enum {
  L4_SYSF_SEND = 1,
  L4_SYSF_RECV = 2,
  L4_SYSF_OPEN_WAIT = 4,
  L4_SYSF_REPLY = 8,
  L4_SYSF_CALL = L4_SYSF_SEND | L4_SYSF_RECV,
  L4_SYSF_WAIT = L4_SYSF_OPEN_WAIT | L4_SYSF_RECV,
  L4_SYSF_REPLY_AND_WAIT = L4_SYSF_OPEN_WAIT | L4_SYSF_CALL | L4_SYSF_REPLY,
};

/* L4_IPC_NEVER: both timeouts "never" (raw 0). */
#define L4_IPC_NEVER ((l4_timeout_t){0})

/* UTCB (ARCH-amd64/utcb.h): 63 message registers at offset 0, the thread control registers
   (error first) at word 123. */
enum { L4_UTCB_GENERIC_DATA_SIZE = 63, L4_UTCB_THREAD_REGS_OFFSET = 123 * 8 };
typedef struct { l4_umword_t mr[L4_UTCB_GENERIC_DATA_SIZE]; } l4_msg_regs_t;

static inline l4_msg_regs_t *l4_utcb_mr_u(l4_utcb_t *u) { return (l4_msg_regs_t *)u; }

static inline l4_umword_t l4_utcb_error_u(l4_utcb_t *u) {
  return *(volatile l4_umword_t *)((char *)u + L4_UTCB_THREAD_REGS_OFFSET);
}

/* types.h l4_msgtag: label 63:16, flags 15:12, items 11:6, words 5:0. */
static inline l4_msgtag_t l4_msgtag(long label, unsigned words, unsigned items, unsigned flags) {
  return (l4_msgtag_t){((l4_umword_t)label << 16) | (flags & 0xf000) | ((items & 0x3f) << 6) |
                       (words & 0x3f)};
}
static inline unsigned l4_msgtag_words(l4_msgtag_t t) { return t.raw & 0x3f; }
static inline int l4_msgtag_has_error(l4_msgtag_t t) { return (t.raw & 0x8000) != 0; }

/* The one system call; the clobbers are upstream's (RCX and R11 by SYSCALL, R15 by the
   kernel's entry). */
static inline l4_msgtag_t l4_ipc(l4_cap_idx_t dest, l4_utcb_t *utcb, l4_umword_t flags,
                                 l4_umword_t slabel, l4_msgtag_t tag, l4_umword_t *rlabel,
                                 l4_timeout_t timeout) {
  register l4_umword_t to __asm__("r8") = timeout.raw;
  l4_umword_t ref = dest | flags;
  __asm__ volatile("syscall"
                   : "+d"(ref), "+S"(slabel), "+D"(utcb), "+a"(tag.raw)
                   : "r"(to)
                   : "memory", "cc", "rcx", "r11", "r15");
  if (rlabel) *rlabel = slabel;
  return tag;
}

static inline l4_msgtag_t l4_ipc_call(l4_cap_idx_t dest, l4_utcb_t *utcb, l4_msgtag_t tag,
                                      l4_timeout_t timeout) {
  return l4_ipc(dest, utcb, L4_SYSF_CALL, 0, tag, 0, timeout);
}

static inline l4_msgtag_t l4_ipc_reply_and_wait(l4_utcb_t *utcb, l4_msgtag_t tag,
                                                l4_umword_t *label, l4_timeout_t timeout) {
  return l4_ipc(L4_INVALID_CAP, utcb, L4_SYSF_REPLY_AND_WAIT, 0, tag, label, timeout);
}

static inline l4_msgtag_t l4_ipc_send(l4_cap_idx_t dest, l4_utcb_t *utcb, l4_msgtag_t tag,
                                      l4_timeout_t timeout) {
  return l4_ipc(dest, utcb, L4_SYSF_SEND, 0, tag, 0, timeout);
}

static inline l4_msgtag_t l4_ipc_wait(l4_utcb_t *utcb, l4_umword_t *label, l4_timeout_t timeout) {
  return l4_ipc(L4_INVALID_CAP, utcb, L4_SYSF_WAIT, 0, (l4_msgtag_t){0}, label, timeout);
}

static inline l4_msgtag_t l4_ipc_receive(l4_cap_idx_t src, l4_utcb_t *utcb, l4_timeout_t timeout) {
  return l4_ipc(src, utcb, L4_SYSF_RECV, 0, (l4_msgtag_t){0}, 0, timeout);
}

/* A closed wait on no one (the kernel takes the invalid capability as the thread itself). */
static inline l4_msgtag_t l4_ipc_sleep(l4_timeout_t timeout) {
  return l4_ipc_receive(L4_INVALID_CAP, 0, timeout);
}

