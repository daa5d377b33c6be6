/* Never exits and never makes a syscall after the first line: only an instruction budget or
   a timer stops it. */
#include "libc.h"

static volatile unsigned long spins;

int main(void) {
  printf("spinning forever\n");
  for (;;) spins++;
}
