/* Calls into a writable data array: the page is not executable, so the fetch page-faults
   (#PF with the instruction-fetch bit; SIGSEGV on Linux). */
#include "libc.h"

static unsigned char code[64] = {0xc3}; /* a ret, which must never run */

int main(void) {
  printf("calling into .data\n");
  void (*volatile fn)(void) = (void (*)(void))code;
  fn();
  printf("still alive?!\n");
  return 0;
}
