/* Code for the kernel tests of preemption and cross-core interleaving: the test starts
   threads at the *_thread entry points (several threads in one process, sharing `counter`);
   main runs each body once, single-threaded, so the program is also host-comparable. */
#include "libc.h"

enum { ROUNDS = 20000 };

volatile unsigned long counter;
volatile unsigned long checksum[4];

/* A read-modify-write in three instructions (load, add, store): an interleaving between the
   load and the store loses an update. */
void racer_plain(void) {
  for (int i = 0; i < ROUNDS; i++) counter = counter + 1;
}

/* The same with LOCK ADD: never loses one. */
void racer_locked(void) {
  for (int i = 0; i < ROUNDS; i++) __atomic_fetch_add(&counter, 1, __ATOMIC_RELAXED);
}

/* Keeps many values live in registers across a long loop: preemption must preserve every
   one of them (each kernel saves and restores the whole user context). */
unsigned long mixer(unsigned long seed) {
  unsigned long a = seed, b = seed ^ 0x9e3779b97f4a7c15ul, c = seed * 3, d = ~seed, e = 7, f = 11,
                g = 13, h = 17, k = 19, m = 23, n = 29;
  for (int i = 0; i < ROUNDS; i++) {
    a += b ^ (c >> 3);
    b = (b << 7) | (b >> 57);
    c ^= d + e;
    d -= f * 5;
    e += g ^ h;
    f = f * 31 + k;
    g ^= m << 2;
    h += n;
    k = k * 7 + a;
    m ^= b;
    n += c ^ d;
  }
  return a ^ b ^ c ^ d ^ e ^ f ^ g ^ h ^ k ^ m ^ n;
}

static __attribute__((noreturn)) void thread_exit(void) {
  for (;;) syscall1(SYS_exit, 0);
}

void racer_plain_thread(void) { racer_plain(); thread_exit(); }
void racer_locked_thread(void) { racer_locked(); thread_exit(); }
/* The thread's index arrives in RDI (the test sets it), its result goes to checksum[i]. */
void mixer_thread(unsigned long i) { checksum[i & 3] = mixer(i + 1); thread_exit(); }

int main(void) {
  racer_plain();
  racer_locked();
  printf("counter %lu\n", counter);
  for (unsigned long i = 0; i < 4; i++) printf("mixer(%lu) %lx\n", i + 1, mixer(i + 1));
  return 0;
}
