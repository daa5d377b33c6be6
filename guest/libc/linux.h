/* Raw Linux x86-64 system calls. Wrappers return what the kernel returns: a negative errno
   on failure (there is no errno variable). */
#pragma once
#include <stddef.h>
#include <stdint.h>

enum {
  SYS_write = 1, SYS_mmap = 9, SYS_munmap = 11, SYS_brk = 12, SYS_getpid = 39, SYS_exit = 60,
  SYS_clock_gettime = 228, SYS_exit_group = 231, SYS_getrandom = 318,
};
enum {
  ENOENT = 2, EBADF = 9, ENOMEM = 12, EEXIST = 17, EINVAL = 22, EMFILE = 24, EFBIG = 27,
  ENOSPC = 28, ENAMETOOLONG = 36, ENOSYS = 38,
};
enum { PROT_READ = 1, PROT_WRITE = 2, MAP_PRIVATE = 0x02, MAP_ANONYMOUS = 0x20 };
enum { CLOCK_REALTIME = 0, CLOCK_MONOTONIC = 1 };
#define MAP_FAILED_MAX ((uintptr_t)-4096) /* results above this are -errno */

struct timespec { long tv_sec; long tv_nsec; };

/* The syscall instruction clobbers rcx (return rip) and r11 (rflags). */
static inline long syscall0(long n) {
  long r;
  __asm__ volatile("syscall" : "=a"(r) : "a"(n) : "rcx", "r11", "memory");
  return r;
}
static inline long syscall1(long n, long a) {
  long r;
  __asm__ volatile("syscall" : "=a"(r) : "a"(n), "D"(a) : "rcx", "r11", "memory");
  return r;
}
static inline long syscall2(long n, long a, long b) {
  long r;
  __asm__ volatile("syscall" : "=a"(r) : "a"(n), "D"(a), "S"(b) : "rcx", "r11", "memory");
  return r;
}
static inline long syscall3(long n, long a, long b, long c) {
  long r;
  __asm__ volatile("syscall" : "=a"(r) : "a"(n), "D"(a), "S"(b), "d"(c) : "rcx", "r11", "memory");
  return r;
}
static inline long syscall6(long n, long a, long b, long c, long d, long e, long f) {
  long r;
  register long r10 __asm__("r10") = d;
  register long r8 __asm__("r8") = e;
  register long r9 __asm__("r9") = f;
  __asm__ volatile("syscall"
                   : "=a"(r)
                   : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
                   : "rcx", "r11", "memory");
  return r;
}

long write(int fd, const void *buf, size_t len);
_Noreturn void exit_group(int status);
void *brk(void *addr); /* raw: returns the new break, or the unchanged one on failure */
void *mmap(void *addr, size_t len, int prot, int flags, int fd, long off);
int munmap(void *addr, size_t len);
int clock_gettime(int clock, struct timespec *ts);
long getrandom(void *buf, size_t len, unsigned flags);
