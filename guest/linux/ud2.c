/* UD2 (0f 0b), the architecturally defined invalid opcode: #UD (SIGILL on Linux). */
#include "libc.h"

int main(void) {
  printf("executing ud2\n");
  __asm__ volatile(".byte 0x0f, 0x0b");
  printf("still alive?!\n");
  return 0;
}
