/* The user side of the Zircon Subkernel's system calls, as the vDSO's x86-64 wrappers make
   them (zircon/system/ulib/zircon/syscalls-x86-64.S, zircon-syscall-x86.S): the number in
   EAX, arguments 1..6 in RDI RSI RDX R10 R8 R9 (R10 instead of RCX, which SYSCALL takes for
   the return RIP), 7 and 8 in R12 R13; a zx_status_t comes back in EAX. The kernel restores
   every other register on the way out (kernel/arch/x86/syscall.S
   x86_syscall_cleanup_and_return); SYSCALL/SYSRET clobber RCX and R11. The numbers are the
   Subkernel's (src/kernel/zircon/objects.ts Sys), not Fuchsia's generated ones. */
#pragma once
#include <stdint.h>

/* zircon/types.h */
typedef int32_t zx_status_t;
typedef uint32_t zx_handle_t;
typedef uint32_t zx_signals_t;
typedef int64_t zx_time_t;

/* zircon/errors.h */
enum {
  ZX_OK = 0,
  ZX_ERR_INVALID_ARGS = -10,
  ZX_ERR_BAD_HANDLE = -11,
  ZX_ERR_TIMED_OUT = -21,
  ZX_ERR_SHOULD_WAIT = -22,
  ZX_ERR_PEER_CLOSED = -24,
};

/* zircon/types.h: channel signals, ZX_CHANNEL_MAX_MSG_BYTES. */
#define ZX_CHANNEL_READABLE ((zx_signals_t)1u << 0)
#define ZX_CHANNEL_WRITABLE ((zx_signals_t)1u << 1)
#define ZX_CHANNEL_PEER_CLOSED ((zx_signals_t)1u << 2)
#define ZX_CHANNEL_MAX_MSG_BYTES 65536u
#define ZX_HANDLE_INVALID ((zx_handle_t)0)

/* zircon/time.h. */
#define ZX_TIME_INFINITE ((zx_time_t)0x7fffffffffffffffLL)

/* zircon/types.h: what zx_channel_call copies in from user memory (48 bytes). */
typedef struct {
  const void *wr_bytes;
  const zx_handle_t *wr_handles;
  void *rd_bytes;
  zx_handle_t *rd_handles;
  uint32_t wr_num_bytes;
  uint32_t wr_num_handles;
  uint32_t rd_num_bytes;
  uint32_t rd_num_handles;
} zx_channel_call_args_t;

enum { ZX_SYS_handle_close = 1, ZX_SYS_channel_read = 2, ZX_SYS_channel_write = 3,
       ZX_SYS_channel_call = 4, ZX_SYS_object_wait_one = 5 };

/* One wrapper per argument count, as the vDSO has: short calls leave R12/R13 alone. */
static inline zx_status_t zx_syscall4(uint64_t nr, uint64_t a0, uint64_t a1, uint64_t a2,
                                      uint64_t a3) {
  register uint64_t r10 __asm__("r10") = a3;
  __asm__ volatile("syscall"
                   : "+a"(nr)
                   : "D"(a0), "S"(a1), "d"(a2), "r"(r10)
                   : "rcx", "r11", "memory");
  return (zx_status_t)nr;
}

static inline zx_status_t zx_syscall6(uint64_t nr, uint64_t a0, uint64_t a1, uint64_t a2,
                                      uint64_t a3, uint64_t a4, uint64_t a5) {
  register uint64_t r10 __asm__("r10") = a3;
  register uint64_t r8 __asm__("r8") = a4;
  register uint64_t r9 __asm__("r9") = a5;
  __asm__ volatile("syscall"
                   : "+a"(nr)
                   : "D"(a0), "S"(a1), "d"(a2), "r"(r10), "r"(r8), "r"(r9)
                   : "rcx", "r11", "memory");
  return (zx_status_t)nr;
}

static inline zx_status_t zx_syscall8(uint64_t nr, uint64_t a0, uint64_t a1, uint64_t a2,
                                      uint64_t a3, uint64_t a4, uint64_t a5, uint64_t a6,
                                      uint64_t a7) {
  register uint64_t r10 __asm__("r10") = a3;
  register uint64_t r8 __asm__("r8") = a4;
  register uint64_t r9 __asm__("r9") = a5;
  register uint64_t r12 __asm__("r12") = a6;
  register uint64_t r13 __asm__("r13") = a7;
  __asm__ volatile("syscall"
                   : "+a"(nr)
                   : "D"(a0), "S"(a1), "d"(a2), "r"(r10), "r"(r8), "r"(r9), "r"(r12), "r"(r13)
                   : "rcx", "r11", "memory");
  return (zx_status_t)nr;
}

static inline zx_status_t zx_handle_close(zx_handle_t handle) {
  return zx_syscall4(ZX_SYS_handle_close, handle, 0, 0, 0);
}

/* Handles in a message are not supported by the Subkernel (ZX_ERR_NOT_SUPPORTED). */
static inline zx_status_t zx_channel_write(zx_handle_t handle, uint32_t options, const void *bytes,
                                           uint32_t num_bytes, const zx_handle_t *handles,
                                           uint32_t num_handles) {
  return zx_syscall6(ZX_SYS_channel_write, handle, options, (uint64_t)bytes, num_bytes,
                     (uint64_t)handles, num_handles);
}

static inline zx_status_t zx_channel_read(zx_handle_t handle, uint32_t options, void *bytes,
                                          zx_handle_t *handles, uint32_t num_bytes,
                                          uint32_t num_handles, uint32_t *actual_bytes,
                                          uint32_t *actual_handles) {
  return zx_syscall8(ZX_SYS_channel_read, handle, options, (uint64_t)bytes, (uint64_t)handles,
                     num_bytes, num_handles, (uint64_t)actual_bytes, (uint64_t)actual_handles);
}

/* The kernel puts its own txid in the first four bytes of the queued request
   (channel_dispatcher.cc ChannelDispatcher::Call); the reply must carry it back. */
static inline zx_status_t zx_channel_call(zx_handle_t handle, uint32_t options, zx_time_t deadline,
                                          const zx_channel_call_args_t *args,
                                          uint32_t *actual_bytes, uint32_t *actual_handles) {
  return zx_syscall6(ZX_SYS_channel_call, handle, options, (uint64_t)deadline, (uint64_t)args,
                     (uint64_t)actual_bytes, (uint64_t)actual_handles);
}

static inline zx_status_t zx_object_wait_one(zx_handle_t handle, zx_signals_t signals,
                                             zx_time_t deadline, zx_signals_t *observed) {
  return zx_syscall4(ZX_SYS_object_wait_one, handle, signals, (uint64_t)deadline,
                     (uint64_t)observed);
}

