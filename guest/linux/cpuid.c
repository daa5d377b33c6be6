/* CPUID from user mode: under the Rootkernel it is a VM exit, emulated, and the program goes
   on after the instruction. Prints the vendor of leaf 0 and of the hypervisor leaf. */
#include "libc.h"

static void cpuid(unsigned leaf, unsigned r[4]) {
  __asm__ volatile("cpuid" : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3]) : "a"(leaf), "c"(0));
}

int main(void) {
  unsigned r[4];
  char v[13];
  cpuid(0, r);
  memcpy(v, &r[1], 4), memcpy(v + 4, &r[3], 4), memcpy(v + 8, &r[2], 4), v[12] = 0;
  printf("vendor %s\n", v);
  cpuid(1, r);
  printf("hypervisor bit %u\n", (r[2] >> 31) & 1);
  cpuid(0x40000000u, r);
  memcpy(v, &r[1], 4), memcpy(v + 4, &r[2], 4), memcpy(v + 8, &r[3], 4), v[12] = 0;
  printf("hypervisor %s\n", v);
  return 0;
}
