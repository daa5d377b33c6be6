// Native side of the CPU differential tests: runs x86-64 snippets on the host at fixed
// addresses and reports the architectural state afterwards. Built and driven by ../native.ts,
// which passes CODE_BASE, DATA_BASE, DATA_BYTES and CODE_BYTES with -D.
//
// Protocol (little-endian, stdin → stdout), one record per case, until EOF:
// Every field is 8-byte aligned (byte strings are zero-padded to a multiple of 8) so that the
// reader can use BigUint64Array views.
//   in:  u32 flags (bit 0: data area same as the previous case's input, no bytes follow),
//        u32 code length, u64 gpr[16], u64 rflags, u64 xmm[32] (lo, hi per register),
//        code bytes (padded), then DATA_BYTES bytes of data area unless bit 0.
//   out: u64 kind = 0 (ok): u64 gpr[16], u64 rflags (CF PF AF ZF SF DF OF only), u64 xmm[32],
//        then the changed runs of the data area as (u32 offset, u32 length, bytes (padded)),
//        ended by a run of length 0;
//        kind = signal number: u64 rip (the ucontext RIP: after the INT3 for SIGTRAP, at the
//        faulting instruction otherwise).
#define _GNU_SOURCE
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#define PAGE 4096
#define ARITH_FLAGS 0xcd5ull /* CF PF AF ZF SF DF OF */
#define HIDDEN __attribute__((visibility("hidden")))

struct state {
  uint64_t gpr[16]; /* offset 0 */
  uint64_t rflags;  /* offset 128 */
  uint64_t xmm[32]; /* offset 136 */
};

HIDDEN struct state in_st, out_st;
HIDDEN uint64_t host_rsp, code_entry;
HIDDEN uint32_t mxcsr_init = 0x1f80; /* round to nearest, all exceptions masked */

void run_case(void);
void exit_case(void);

// run_case switches to the case's registers and jumps to the code; the code falls through into
// `jmp exit_case`, which saves every register while touching none of them first (RIP-relative
// stores), then takes the runner's own stack back. Flags go through popfq/pushfq on a slot in
// in_st/out_st, never on the case's stack, so the data area sees only the case's own writes.
#define XMM16(op)                                                                          \
  op(0) op(1) op(2) op(3) op(4) op(5) op(6) op(7) op(8) op(9) op(10) op(11) op(12) op(13) \
      op(14) op(15)
#define LOADX(i) "movdqu in_st+136+16*" #i "(%rip), %xmm" #i "\n"
#define SAVEX(i) "movdqu %xmm" #i ", out_st+136+16*" #i "(%rip)\n"
__asm__(".text\n"
        ".globl run_case\n.hidden run_case\n.type run_case,@function\n"
        "run_case:\n"
        "push %rbx\npush %rbp\npush %r12\npush %r13\npush %r14\npush %r15\n"
        "mov %rsp, host_rsp(%rip)\n"
        "ldmxcsr mxcsr_init(%rip)\n" XMM16(LOADX)
        "lea in_st+128(%rip), %rsp\n"
        "popfq\n"
        "mov in_st+0(%rip), %rax\nmov in_st+8(%rip), %rcx\nmov in_st+16(%rip), %rdx\n"
        "mov in_st+24(%rip), %rbx\nmov in_st+40(%rip), %rbp\nmov in_st+48(%rip), %rsi\n"
        "mov in_st+56(%rip), %rdi\nmov in_st+64(%rip), %r8\nmov in_st+72(%rip), %r9\n"
        "mov in_st+80(%rip), %r10\nmov in_st+88(%rip), %r11\nmov in_st+96(%rip), %r12\n"
        "mov in_st+104(%rip), %r13\nmov in_st+112(%rip), %r14\nmov in_st+120(%rip), %r15\n"
        "mov in_st+32(%rip), %rsp\n"
        "jmp *code_entry(%rip)\n"
        ".globl exit_case\n.hidden exit_case\n.type exit_case,@function\n"
        "exit_case:\n"
        "mov %rax, out_st+0(%rip)\nmov %rcx, out_st+8(%rip)\nmov %rdx, out_st+16(%rip)\n"
        "mov %rbx, out_st+24(%rip)\nmov %rsp, out_st+32(%rip)\nmov %rbp, out_st+40(%rip)\n"
        "mov %rsi, out_st+48(%rip)\nmov %rdi, out_st+56(%rip)\nmov %r8, out_st+64(%rip)\n"
        "mov %r9, out_st+72(%rip)\nmov %r10, out_st+80(%rip)\nmov %r11, out_st+88(%rip)\n"
        "mov %r12, out_st+96(%rip)\nmov %r13, out_st+104(%rip)\nmov %r14, out_st+112(%rip)\n"
        "mov %r15, out_st+120(%rip)\n"
        "lea out_st+136(%rip), %rsp\n" /* pushfq stores at out_st+128 */
        "pushfq\n"
        "cld\n" XMM16(SAVEX)
        "mov host_rsp(%rip), %rsp\n"
        "pop %r15\npop %r14\npop %r13\npop %r12\npop %rbp\npop %rbx\n"
        "ret\n");

static sigjmp_buf fault_env;
static volatile sig_atomic_t in_case;
static volatile int fault_sig;
static volatile uint64_t fault_rip;

static void on_fault(int sig, siginfo_t *si, void *ctx) {
  (void)si;
  if (!in_case) { /* a bug in the runner itself: die with the signal */
    signal(sig, SIG_DFL);
    raise(sig);
    return;
  }
  fault_sig = sig;
  fault_rip = (uint64_t)((ucontext_t *)ctx)->uc_mcontext.gregs[REG_RIP];
  siglongjmp(fault_env, 1); /* SA_NODEFER: no mask to restore */
}

static void die(const char *what) {
  perror(what);
  exit(2);
}

// Maps [base, base+bytes) with prot, between two PROT_NONE guard pages, at exactly that address.
static uint8_t *map_fixed(uint64_t base, size_t bytes, int prot) {
  void *want = (void *)(uintptr_t)(base - PAGE);
  void *p = mmap(want, bytes + 2 * PAGE, PROT_NONE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
  if (p != want) die("mmap");
  if (mprotect((uint8_t *)p + PAGE, bytes, prot) != 0) die("mprotect");
  return (uint8_t *)p + PAGE;
}

static void read_exact(void *p, size_t n) {
  if (fread(p, 1, n, stdin) != n) die("short read");
}

static uint8_t image[DATA_BYTES];
static uint8_t outbuf[8 + sizeof(struct state) + DATA_BYTES * 9 + 8]; /* worst: 1-byte runs */

int main(void) {
  uint8_t *data = map_fixed(DATA_BASE, DATA_BYTES, PROT_READ | PROT_WRITE);
  uint8_t *code = map_fixed(CODE_BASE, CODE_BYTES, PROT_READ | PROT_WRITE | PROT_EXEC);
  memset(code, 0xcc, CODE_BYTES);
  code_entry = CODE_BASE;

  static uint8_t altstack[1 << 16];
  stack_t ss = {.ss_sp = altstack, .ss_size = sizeof altstack, .ss_flags = 0};
  if (sigaltstack(&ss, NULL) != 0) die("sigaltstack");
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_fault;
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
  int sigs[] = {SIGSEGV, SIGILL, SIGFPE, SIGBUS, SIGTRAP};
  for (unsigned i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
    if (sigaction(sigs[i], &sa, NULL) != 0) die("sigaction");

  uint64_t host_flags;
  __asm__ volatile("pushfq\npop %0" : "=r"(host_flags));
  host_flags &= ~(ARITH_FLAGS | 0x100ull /* TF */ | 0x40000ull /* AC */);

  static char inbuf[1 << 20], obuf[1 << 20];
  setvbuf(stdin, inbuf, _IOFBF, sizeof inbuf);
  setvbuf(stdout, obuf, _IOFBF, sizeof obuf);
  uint32_t prev_len = 0;
  uint8_t pad[8];
  for (;;) {
    uint32_t hdr[2];
    size_t got = fread(hdr, 1, sizeof hdr, stdin);
    if (got == 0 && feof(stdin)) break;
    if (got != sizeof hdr) die("short header");
    uint32_t len = hdr[1];
    if (len > CODE_BYTES - 14) {
      fprintf(stderr, "code too long: %u\n", len);
      return 2;
    }
    read_exact(&in_st, sizeof in_st);
    memset(code, 0xcc, prev_len + 14);
    read_exact(code, len);
    if (len & 7) read_exact(pad, 8 - (len & 7));
    // jmp *0(%rip); .quad exit_case
    static const uint8_t jmp[6] = {0xff, 0x25, 0, 0, 0, 0};
    uint64_t target = (uint64_t)(uintptr_t)exit_case;
    memcpy(code + len, jmp, 6);
    memcpy(code + len + 6, &target, 8);
    prev_len = len;
    if (!(hdr[0] & 1)) read_exact(image, DATA_BYTES);
    memcpy(data, image, DATA_BYTES);
    in_st.rflags = host_flags | (in_st.rflags & ARITH_FLAGS);

    size_t n = 0;
    if (sigsetjmp(fault_env, 0) == 0) {
      in_case = 1;
      run_case();
      in_case = 0;
      memset(outbuf, 0, 8);
      n = 8;
      out_st.rflags &= ARITH_FLAGS;
      memcpy(outbuf + n, &out_st, sizeof out_st);
      n += sizeof out_st;
      // Changed runs; equal 8-byte words are skipped quickly.
      for (uint32_t i = 0; i < DATA_BYTES;) {
        if ((i & 7) == 0 && i + 8 <= DATA_BYTES && memcmp(data + i, image + i, 8) == 0) {
          i += 8;
          continue;
        }
        if (data[i] == image[i]) {
          i++;
          continue;
        }
        uint32_t j = i;
        while (j < DATA_BYTES && data[j] != image[j]) j++;
        uint32_t run[2] = {i, j - i};
        memcpy(outbuf + n, run, 8);
        memset(outbuf + n + 8 + ((j - i) & ~7u), 0, 8);
        memcpy(outbuf + n + 8, data + i, j - i);
        n += 8 + ((j - i + 7) & ~7u);
        i = j;
      }
      memset(outbuf + n, 0, 8);
      n += 8;
    } else {
      in_case = 0;
      uint64_t rec[2] = {(uint64_t)fault_sig, fault_rip};
      memcpy(outbuf, rec, 16);
      n = 16;
    }
    if (fwrite(outbuf, 1, n, stdout) != n) die("write");
  }
  if (fflush(stdout) != 0) die("flush");
  return 0;
}
