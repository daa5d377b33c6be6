/* The user side of the seL4 Subkernel's system calls, as libsel4 writes them for x86-64
   (libsel4/sel4_arch_include/x86_64/sel4/sel4_arch/syscalls.h): RDX = the call number,
   RDI = the capability pointer (the badge on return), RSI = the message info, R10 R8 R9 R15 =
   message registers 0..3; longer messages continue in the IPC buffer's msg[] array. The
   numbers are the Subkernel's (src/kernel/sel4/sel4.ts Sys), not upstream seL4's. */
#pragma once
#include <stdint.h>

typedef uint64_t seL4_Word;
typedef seL4_Word seL4_CPtr;
typedef seL4_Word seL4_MessageInfo_t;

enum { seL4_SysCall = 1, seL4_SysReplyRecv = 2, seL4_SysSend = 3, seL4_SysNBSend = 4,
       seL4_SysRecv = 5, seL4_SysReply = 6, seL4_SysYield = 7 };
enum { seL4_FastMessageRegisters = 4, seL4_MsgMaxLength = 120 };

/* seL4_IPCBuffer: tag, then msg[]. */
typedef struct { seL4_Word tag; seL4_Word msg[seL4_MsgMaxLength]; } seL4_IPCBuffer;

static inline seL4_MessageInfo_t seL4_MessageInfo_new(seL4_Word label, seL4_Word caps, seL4_Word len) {
  return (label << 12) | ((caps & 3) << 7) | (len & 0x7f);
}

/* One system call with the four message registers in and out. */
static inline seL4_MessageInfo_t sel4_syscall(seL4_Word nr, seL4_CPtr *dest, seL4_MessageInfo_t info,
                                               seL4_Word *mr0, seL4_Word *mr1, seL4_Word *mr2,
                                               seL4_Word *mr3) {
  register seL4_Word r10 __asm__("r10") = *mr0;
  register seL4_Word r8 __asm__("r8") = *mr1;
  register seL4_Word r9 __asm__("r9") = *mr2;
  register seL4_Word r15 __asm__("r15") = *mr3;
  seL4_Word rdi = *dest, rsi = info;
  __asm__ volatile("syscall"
                   : "+D"(rdi), "+S"(rsi), "+r"(r10), "+r"(r8), "+r"(r9), "+r"(r15)
                   : "d"(nr)
                   : "rax", "rbx", "rcx", "r11", "memory");
  *dest = rdi;
  *mr0 = r10;
  *mr1 = r8;
  *mr2 = r9;
  *mr3 = r15;
  return rsi;
}

static inline seL4_MessageInfo_t seL4_Call(seL4_CPtr dest, seL4_MessageInfo_t info, seL4_Word mr[4]) {
  return sel4_syscall(seL4_SysCall, &dest, info, &mr[0], &mr[1], &mr[2], &mr[3]);
}

static inline seL4_MessageInfo_t seL4_ReplyRecv(seL4_CPtr src, seL4_MessageInfo_t info, seL4_Word mr[4],
                                                seL4_Word *badge) {
  seL4_MessageInfo_t r = sel4_syscall(seL4_SysReplyRecv, &src, info, &mr[0], &mr[1], &mr[2], &mr[3]);
  *badge = src;
  return r;
}

static inline seL4_MessageInfo_t seL4_Recv(seL4_CPtr src, seL4_Word mr[4], seL4_Word *badge) {
  seL4_MessageInfo_t r = sel4_syscall(seL4_SysRecv, &src, 0, &mr[0], &mr[1], &mr[2], &mr[3]);
  *badge = src;
  return r;
}

