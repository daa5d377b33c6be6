/* Byte 0x06 (push es in 32-bit code) is no instruction at all in 64-bit mode: a decoder
   reports it as invalid and the CPU raises #UD (SIGILL on Linux). */
#include "libc.h"

int main(void) {
  printf("executing byte 0x06\n");
  __asm__ volatile(".byte 0x06");
  printf("still alive?!\n");
  return 0;
}
