/* A hostile client (examples/hostile.yaml): what a program bound to a server might try
   against SkyBridge, each attempt printed with what it got. argv[1] is the server it is
   bound to; argv[2] names the last attempt, the one that ends it:
     jump    enter the trampoline's server half in its own view (UD2: its thread stops)
     vmfunc  VMFUNC to a view that is not in its EPTP list (a VM exit: its process is killed)
     write   write its own binding record, which is read-only (#PF: its thread stops)
   It uses only what any program can read: its binding record, and the trampoline's bytes,
   mapped read-execute at SB_TRAMPOLINE, where it finds the two VMFUNC sites by looking for
   0F 01 D4. */
#include "libc.h"
#include "example.h"

#define STR_(x) #x
#define STR(x) STR_(x)

/* Enters the trampoline at `site` as if sb_call had got there: its callee-saved registers
   saved, its thread block forged (a call in flight, this stack to come back to, `key` as
   the call's key), ECX = index, R12 = slot, R13 = key. Whatever the trampoline or the
   kernel does about it comes back here through the trampoline's own return path: the
   status. */
long forge(uint64_t index, uint64_t slot, uint64_t key, uint64_t site);
__asm__(".text\n"
        "forge:\n"
        "  push %rbx\n  push %rbp\n  push %r12\n  push %r13\n  push %r14\n  push %r15\n"
        "  mov %rsp, %gs:" STR(SB_TB_RSP) "\n"
        "  mov %rdx, %gs:" STR(SB_TB_KEY) "\n"
        "  movq $0, %gs:" STR(SB_TB_FROM) "\n"
        "  movq $1, %gs:" STR(SB_TB_FLIGHT) "\n"
        "  mov %rsi, %r12\n  mov %rdx, %r13\n  xor %r14d, %r14d\n"
        "  mov %rcx, %r8\n  mov %rdi, %rcx\n  xor %eax, %eax\n  jmp *%r8\n");

/* Jumps into the trampoline at `site` with ECX = index and nothing forged. */
static void enter(uint64_t site, uint64_t index) {
  __asm__ volatile("xor %%eax, %%eax\n\tjmp *%0" : : "r"(site), "c"(index) : "rax", "memory");
}

/* The n-th (0 or 1) VMFUNC in the trampoline, found by reading its code. */
static uint64_t vmfunc_site(int n) {
  const volatile uint8_t *code = (const volatile uint8_t *)SB_TRAMPOLINE;
  for (uint64_t i = 0; i + 2 < 4096; i++)
    if (code[i] == 0x0f && code[i + 1] == 0x01 && code[i + 2] == 0xd4 && n-- == 0)
      return SB_TRAMPOLINE + i;
  return 0;
}

int main(int argc, char **argv) {
  if (argc < 3) {
    dprintf(2, "usage: %s SERVER-ID jump|vmfunc|write\n", argv[0]);
    return 2;
  }
  uint64_t server = parse_u64(argv[1]);
  const char *last = argv[2];
  const volatile uint64_t *record = sb_record(server);
  uint64_t index = record[SB_REC_INDEX / 8], slot = record[SB_REC_SLOT / 8];
  uint64_t call_site = vmfunc_site(0), return_site = vmfunc_site(1);

  sb_result r = sb_call(server, ECHO_ADD, 1, 0);
  printf("an honest call: %s %lu\n", sb_status_name(r.status), r.value);

  r = sb_call(server + 1, ECHO_ADD, 1, 0);
  printf("a call to server %lu, which it is not bound to: %s\n", server + 1,
         sb_status_name(r.status));

  /* Straight into the server's view at the return VMFUNC, skipping the key check: the
     server's half finds no call there, and the kernel unwinds the thread back to it. */
  long s = forge(index, slot, 0, return_site);
  printf("VMFUNC into the server's view at the return site: %s\n", sb_status_name(s));

  /* Another client's slot, with guessed keys: the server counts the failures against this
     process's view of it (which the caller cannot forge) and locks the view after 8. */
  uint64_t victim = slot == 0 ? 1 : 0, bad = 0, locked = 0, other = 0;
  for (uint64_t i = 0; i < 12; i++) {
    s = forge(index, victim, 0x1234567 + i * 7919, call_site);
    if (s == SB_EBADKEY) bad++;
    else if (s == SB_ELOCKED) locked++;
    else other++;
  }
  printf("12 guessed keys for slot %lu: %lu SB_EBADKEY, %lu SB_ELOCKED, %lu other\n", victim, bad,
         locked, other);

  r = sb_call(server, ECHO_ADD, 1, 0);
  printf("an honest call after guessing: %s\n", sb_status_name(r.status));

  if (strcmp(last, "jump") == 0) {
    printf("last: jumping into the trampoline's server half in its own view\n");
    enter(call_site + 3, 0);
  } else if (strcmp(last, "vmfunc") == 0) {
    printf("last: VMFUNC to view 300, which is not in its list\n");
    enter(call_site, 300);
  } else if (strcmp(last, "write") == 0) {
    printf("last: writing its binding record\n");
    *(volatile uint64_t *)record = 1;
  }
  printf("still here: the last attempt was not stopped\n");
  return 1;
}
