/* 64-bit division by a zero read from a volatile: #DE (SIGFPE on Linux). */
#include "libc.h"

static volatile long zero;

int main(void) {
  printf("dividing by zero\n");
  long q = 1000 / zero;
  printf("still alive?! %ld\n", q);
  return 0;
}
