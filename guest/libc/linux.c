#include "linux.h"

long write(int fd, const void *buf, size_t len) {
  return syscall3(SYS_write, fd, (long)buf, (long)len);
}

_Noreturn void exit_group(int status) {
  syscall1(SYS_exit_group, status);
  __builtin_unreachable();
}

void *brk(void *addr) { return (void *)syscall1(SYS_brk, (long)addr); }

void *mmap(void *addr, size_t len, int prot, int flags, int fd, long off) {
  return (void *)syscall6(SYS_mmap, (long)addr, (long)len, prot, flags, fd, off);
}

int munmap(void *addr, size_t len) { return (int)syscall2(SYS_munmap, (long)addr, (long)len); }

int clock_gettime(int clock, struct timespec *ts) {
  return (int)syscall2(SYS_clock_gettime, clock, (long)ts);
}

long getrandom(void *buf, size_t len, unsigned flags) {
  return syscall3(SYS_getrandom, (long)buf, (long)len, flags);
}
