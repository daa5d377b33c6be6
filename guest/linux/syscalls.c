/* Time, randomness and a syscall a simulator may not implement. Only environment-independent
   facts are printed, but the getpid line differs between a real kernel ("supported") and a
   simulator answering ENOSYS, so this program is not compared with the host. */
#include "libc.h"

int main(void) {
  struct timespec t0, t1;
  int r0 = clock_gettime(CLOCK_MONOTONIC, &t0);
  int r1 = clock_gettime(CLOCK_MONOTONIC, &t1);
  int later = t1.tv_sec > t0.tv_sec || (t1.tv_sec == t0.tv_sec && t1.tv_nsec >= t0.tv_nsec);
  printf("clock_gettime: %d %d, monotonic: %s\n", r0, r1, later ? "yes" : "NO");
  unsigned char rnd[16];
  printf("getrandom: %ld\n", getrandom(rnd, sizeof rnd, 0));
  long pid = syscall0(SYS_getpid);
  if (pid == -ENOSYS) printf("getpid: ENOSYS\n");
  else if (pid < 0) printf("getpid: error %ld\n", pid);
  else printf("getpid: supported\n");
  return 0;
}
