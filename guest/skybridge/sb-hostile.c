/* Clients, servers and attacks on SkyBridge, as machine code. The test harness
   (test/skybridge/world.ts) loads this one program as every process of a scene, registers
   the handlers it names, binds clients, writes parameters into `param` and distinct secrets
   into `secret` through physical memory, starts threads at the entries below, and reads
   `out` and `secret` back from physical memory afterwards. Each entry ends its thread with
   exit(2) (status 0) unless the attack stops it first. */
#include "linux.h"
#include "skybridge.h"

/* Written by the harness: the trampoline's labels and what each scene needs. */
enum {
  P_VMFUNC_CALL, P_VMFUNC_RETURN, P_SERVER_ENTRY, P_CLIENT_RETURN, P_ABORT,
  P_CHAIN_NEXT, P_OTHER_INDEX, P_SERVER, P_COUNT
};
uint64_t param[P_COUNT + 8];
/* Each process's own secret: the harness plants it and checks it is still there. */
uint64_t secret[8] = {1, 2, 3, 4, 5, 6, 7, 8};
/* What the entries report: out[0..] written by the thread that ran. */
volatile uint64_t out[32];
/* Server side: calls served, and a private copy of a request with a canary after it. */
volatile uint64_t served;
struct {
  uint8_t data[16];
  uint64_t canary;
} priv = {{0}, 0xc0ffee};

static __attribute__((noreturn)) void done(void) {
  syscall1(SYS_exit, 0);
  __builtin_unreachable();
}

/* ---- Handlers (run on a client's thread, in this process's address space) ------------- */

uint64_t echo_handler(uint64_t a, uint64_t b, uint64_t c, const struct sb_call *call) {
  (void)b, (void)c, (void)call;
  served++;
  return a + 1;
}

/* The server's own secret word a: what a caller may learn only through the server. */
uint64_t secret_handler(uint64_t a, uint64_t b, uint64_t c, const struct sb_call *call) {
  (void)b, (void)c, (void)call;
  return secret[a & 7];
}

/* What the handler was told about the call (a = which field). */
uint64_t info_handler(uint64_t a, uint64_t b, uint64_t c, const struct sb_call *call) {
  (void)b, (void)c;
  switch (a) {
    case 0: return call->buffer_bytes;
    case 1: return call->caller;
    case 2: return call->slot;
    default: return (uint64_t)call->buffer;
  }
}

uint64_t fault_handler(uint64_t a, uint64_t b, uint64_t c, const struct sb_call *call) {
  (void)a, (void)b, (void)c, (void)call;
  volatile uint64_t *nowhere = (volatile uint64_t *)param[P_COUNT]; /* 0: never mapped */
  *nowhere = 1;
  return 0;
}

/* The first call never returns (while another core may run the server's code too). */
uint64_t spin_handler(uint64_t a, uint64_t b, uint64_t c, const struct sb_call *call) {
  (void)b, (void)c, (void)call;
  if (++served == 1)
    for (;;) __asm__ volatile("pause");
  return a + 1;
}

/* A system call from a handler: what does it act as? (It is refused.) */
uint64_t syscall_handler(uint64_t a, uint64_t b, uint64_t c, const struct sb_call *call) {
  (void)a, (void)b, (void)c, (void)call;
  return (uint64_t)syscall3(SYS_write, 1, (long)"handler\n", 8);
}

/* Calls on to param[P_CHAIN_NEXT] from the client's thread. */
uint64_t chain_handler(uint64_t a, uint64_t b, uint64_t c, const struct sb_call *call) {
  (void)call;
  sb_result r = sb_call(param[P_CHAIN_NEXT], a, b, c);
  return r.status < 0 ? (uint64_t)r.status : r.value * 10;
}

/* Jumps straight to the return VMFUNC, into the caller's own view (index 0), with value 42
   and key a (0: the caller's real key, which the server can read from its key table). */
uint64_t early_return_handler(uint64_t a, uint64_t b, uint64_t c, const struct sb_call *call) {
  (void)b, (void)c;
  register uint64_t r11 __asm__("r11") =
      a ? a : ((volatile uint64_t *)(SB_SERVER + SB_KEYS))[call->slot];
  register uint64_t r10 __asm__("r10") = 0;
  register uint64_t site __asm__("r8") = param[P_VMFUNC_RETURN];
  __asm__ volatile("xor %%ecx, %%ecx\n\tmov $42, %%edx\n\txor %%eax, %%eax\n\tjmp *%2"
                   :
                   : "r"(r11), "r"(r10), "r"(site)
                   : "rax", "rcx", "rdx", "memory");
  __builtin_unreachable();
}

/* From inside a call, VMFUNCs to another server in the caller's list (index
   param[P_OTHER_INDEX]) at the call site, guessing a key for slot 0. */
uint64_t hop_handler(uint64_t a, uint64_t b, uint64_t c, const struct sb_call *call) {
  (void)b, (void)c, (void)call;
  register uint64_t r12 __asm__("r12") = 0;
  register uint64_t r13 __asm__("r13") = a | 1;
  register uint64_t r14 __asm__("r14") = 0;
  register uint64_t site __asm__("r8") = param[P_VMFUNC_CALL];
  __asm__ volatile("xor %%eax, %%eax\n\tjmp *%3"
                   :
                   : "c"(param[P_OTHER_INDEX]), "r"(r12), "r"(r13), "r"(site), "r"(r14)
                   : "rax", "memory");
  __builtin_unreachable();
}

/* Returns not to the trampoline but to its client half's return path (in this server's
   view): the address on its stack replaced. */
uint64_t wrong_return_handler(uint64_t a, uint64_t b, uint64_t c, const struct sb_call *call);
__asm__(".text\n"
        ".globl wrong_return_handler\n"
        "wrong_return_handler:\n"
        "  mov param+8*3(%rip), %rax\n" /* param[P_CLIENT_RETURN] */
        "  mov %rax, (%rsp)\n"
        "  xor %eax, %eax\n"
        "  ret\n");

/* Keeps what it finds in R8-R11 and XMM0-XMM1 on entry (in its own out[0..5]), then
   leaves its own secret in RSI, RDI, R8, R9 and XMM0, XMM1, XMM7. */
uint64_t peek_handler(uint64_t a, uint64_t b, uint64_t c, const struct sb_call *call);
__asm__(".text\n"
        ".globl peek_handler\n"
        "peek_handler:\n"
        "  mov %r8, out(%rip)\n  mov %r9, out+8(%rip)\n  mov %r10, out+16(%rip)\n"
        "  mov %r11, out+24(%rip)\n  movq %xmm0, out+32(%rip)\n  movq %xmm1, out+40(%rip)\n"
        "  xor %eax, %eax\n"
        "  mov secret(%rip), %rdx\n"
        "  mov %rdx, %rsi\n  mov %rdx, %rdi\n  mov %rdx, %r8\n  mov %rdx, %r9\n"
        "  movq %rdx, %xmm0\n  movq %rdx, %xmm1\n  movq %rdx, %xmm7\n"
        "  ret\n");

/* Calls `server` with its own secret in R8-R11 and XMM0-XMM1; out[0] = the handler's result
   (0), out[1] = what it finds in RSI, RDI, R8, R9, XMM0, XMM1, XMM7 after the
   call, or-ed (0: nothing of the server's). */
void peek_main(uint64_t server) {
  uint64_t seen, left;
  __asm__ volatile(
      "mov secret(%%rip), %%r8\n  mov %%r8, %%r9\n  mov %%r8, %%r10\n  mov %%r8, %%r11\n"
      "movq %%r8, %%xmm0\n  movq %%r8, %%xmm1\n"
      "mov %2, %%rdi\n  xor %%esi, %%esi\n  xor %%edx, %%edx\n  xor %%ecx, %%ecx\n"
      "movabs $" "0x7ff000000000" ", %%rax\n  call *%%rax\n"
      "mov %%rdx, %0\n"
      "mov %%rsi, %1\n  or %%rdi, %1\n  or %%r8, %1\n  or %%r9, %1\n"
      "movq %%xmm0, %%rax\n  or %%rax, %1\n  movq %%xmm1, %%rax\n  or %%rax, %1\n"
      "movq %%xmm7, %%rax\n  or %%rax, %1\n"
      : "=&r"(seen), "=&r"(left)
      : "r"(server)
      : "rax", "rcx", "rdx", "rsi", "rdi", "r8", "r9", "r10", "r11", "xmm0", "xmm1", "xmm2",
        "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12",
        "xmm13", "xmm14", "xmm15", "memory", "cc");
  out[0] = seen;
  out[1] = left;
  done();
}

/* Checks the request's length and copies that many bytes, from a private copy (safe). */
uint64_t checked_handler(uint64_t a, uint64_t b, uint64_t c, const struct sb_call *call) {
  (void)a, (void)b, (void)c;
  uint64_t req[3];
  if (!sb_copy_in(req, call, 0, sizeof req)) return ~0ull;
  if (req[0] > sizeof priv.data) return ~1ull;
  for (uint64_t i = 0; i < req[0]; i++) priv.data[i] = (uint8_t)req[1];
  served++;
  return req[0];
}

/* The same, reading the length again from the shared buffer after the check (unsafe). */
uint64_t unchecked_handler(uint64_t a, uint64_t b, uint64_t c, const struct sb_call *call) {
  (void)a, (void)b, (void)c;
  volatile uint64_t *req = (volatile uint64_t *)call->buffer;
  if (req[0] > sizeof priv.data) return ~1ull;
  /* Some work between the check and the use (say, on the request's header). */
  uint64_t h = 0;
  for (volatile int k = 0; k < 32; k++) h = h * 31 + req[1];
  served += h & 0;
  uint64_t n = req[0]; /* read again for the use: the check above no longer holds */
  for (volatile uint64_t i = 0; i < n && i < 64; i++) priv.data[i] = (uint8_t)req[1];
  served++;
  return req[0];
}

/* ---- Clients -------------------------------------------------------------------------- */

/* n calls to `server` with argument a; out[0] = successes, out[1] = the last status,
   out[2] = the last value. */
void client_main(uint64_t server, uint64_t a, uint64_t n) {
  for (uint64_t i = 0; i < n; i++) {
    sb_result r = sb_call(server, a, 0, 0);
    if (r.status == 0) out[0]++;
    out[1] = (uint64_t)r.status;
    out[2] = r.value;
  }
  done();
}

/* A call with a request of length `len` filled with byte `fill` in the shared buffer. */
void request_main(uint64_t server, uint64_t len, uint64_t fill) {
  volatile uint64_t *buf = (volatile uint64_t *)sb_buffer(server);
  buf[0] = len;
  buf[1] = fill;
  sb_result r = sb_call(server, 0, 0, 0);
  out[1] = (uint64_t)r.status;
  out[2] = r.value;
  done();
}

/* Sets the request's length to 1 or 200 at random (xorshift64) for `n` rounds (from
   another core; a regular alternation would meet the other core in the same phase). */
void flipper_main(uint64_t server, uint64_t n) {
  volatile uint64_t *buf = (volatile uint64_t *)sb_buffer(server);
  uint64_t x = 88172645463325252ull;
  for (uint64_t i = 0; i < n; i++) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    buf[0] = (x & 1) ? 200 : 1;
  }
  done();
}

/* Calls `server` with a request of length 1 `n` times (the flipper races it). */
void racer_main(uint64_t server, uint64_t n) {
  volatile uint64_t *buf = (volatile uint64_t *)sb_buffer(server);
  buf[1] = 0xab;
  for (uint64_t i = 0; i < n; i++) {
    buf[0] = 1;
    sb_result r = sb_call(server, 0, 0, 0);
    if (r.status == 0) out[0]++;
    out[1] = (uint64_t)r.status;
  }
  done();
}

/* Writes `value` at `addr` (a page it may not write), then reports it got through. */
void write_main(uint64_t addr, uint64_t value) {
  *(volatile uint64_t *)addr = value;
  out[0] = 1;
  done();
}

/* Writes the VMFUNC bytes into `addr` (its own data, or an anonymous page), then jumps
   there with ECX = index. */
void exec_main(uint64_t addr, uint64_t index) {
  volatile uint8_t *p = (volatile uint8_t *)addr;
  p[0] = 0x0f, p[1] = 0x01, p[2] = 0xd4, p[3] = 0xc3;
  __asm__ volatile("xor %%eax, %%eax\n\tcall *%1" : : "c"(index), "r"(addr) : "rax", "memory");
  out[0] = 1;
  done();
}

/* mmap: a writable page, then an executable one; out[0..1] = their addresses (or errors),
   out[2] = the result of asking for both at once. */
void mmap_main(void) {
  out[0] = (uint64_t)syscall6(SYS_mmap, 0, 4096, 3, 0x22, -1, 0);
  out[1] = (uint64_t)syscall6(SYS_mmap, 0, 4096, 5, 0x22, -1, 0);
  out[2] = (uint64_t)syscall6(SYS_mmap, 0, 4096, 7, 0x22, -1, 0);
  exec_main(out[0], 1);
}

/* Jumps into the trampoline at `target` with ECX = index, R12 = slot, R13 = key, R14 = 0:
   entering it in its middle. */
void jump_main(uint64_t target, uint64_t index, uint64_t slot, uint64_t key) {
  register uint64_t r12 __asm__("r12") = slot;
  register uint64_t r13 __asm__("r13") = key;
  register uint64_t r14 __asm__("r14") = 0;
  register uint64_t to __asm__("r8") = target;
  __asm__ volatile("xor %%eax, %%eax\n\tjmp *%0"
                   :
                   : "r"(to), "c"(index), "r"(r12), "r"(r13), "r"(r14)
                   : "rax", "memory");
  __builtin_unreachable();
}

/* One key guess through the trampoline's VMFUNC, with a thread block forged so that the
   return comes back here cleanly: returns the status. (index, slot, key, the VMFUNC site.) */
long guess_once(uint64_t index, uint64_t slot, uint64_t key, uint64_t site);
__asm__(".text\n"
        "guess_once:\n"
        "  push %rbx\n  push %rbp\n  push %r12\n  push %r13\n  push %r14\n  push %r15\n"
        "  mov %rsp, %gs:8\n  mov %rdx, %gs:16\n  movq $0, %gs:24\n  movq $1, %gs:0\n"
        "  mov %rsi, %r12\n  mov %rdx, %r13\n  xor %r14d, %r14d\n"
        "  mov %rcx, %r8\n  mov %rdi, %rcx\n  xor %eax, %eax\n  jmp *%r8\n");

/* n guesses at slot `slot` of the server at list index `index`; out[0] = refusals as
   BadKey, out[1] = as Locked, out[2] = other, out[3] = cycles per guess (RDTSC); then an
   honest call to server param[P_SERVER]: out[4] = its status. */
void guess_main(uint64_t index, uint64_t slot, uint64_t n) {
  uint32_t lo, hi;
  __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
  uint64_t t0 = ((uint64_t)hi << 32) | lo;
  for (uint64_t i = 0; i < n; i++) {
    long s = guess_once(index, slot, 0x1234567 + i * 7919, param[P_VMFUNC_CALL]);
    if (s == SB_EBADKEY) out[0]++;
    else if (s == SB_ELOCKED) out[1]++;
    else out[2]++;
  }
  __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
  out[3] = n ? ((((uint64_t)hi << 32) | lo) - t0) / n : 0;
  out[4] = (uint64_t)sb_call(param[P_SERVER], 1, 0, 0).status;
  done();
}

/* Writes `index` into every word of its thread block (where an older design kept the view
   the kernel would resume it in), enters the kernel (a system call), then reads the server
   state page's address, which only a server's view maps: out[0] = 1 if that read worked. */
void scribble_main(uint64_t index) {
  for (int i = 0; i < 8; i++) __asm__ volatile("mov %0, %%gs:(,%1,8)" : : "r"(index), "r"((uint64_t)i) : "memory");
  syscall3(SYS_write, 1, (long)"scribbled\n", 10);
  out[1] = *(volatile uint64_t *)(SB_SERVER + SB_ST_ID);
  out[0] = 1;
  done();
}

/* Spins for `n` rounds without a system call (another core's victim or a bystander). */
void spin_main(uint64_t n) {
  for (volatile uint64_t i = 0; i < n; i++) __asm__ volatile("pause");
  out[0] = 1;
  done();
}

int main(void) { return 0; }
