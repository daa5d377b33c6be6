/* An echo server (examples/echo.yaml). A scenario registers echo_handler; the handler runs
   on each client's own thread, in this process's address space, on one of its SkyBridge
   stacks. It makes no system call (in a server's view they are refused) and keeps nothing
   between calls, so it can serve several callers at once.
     ECHO_ADD:   returns a + 1.
     ECHO_UPPER: upper-cases the first a bytes of the buffer shared with this caller. It
                 copies them in first (sb_copy_in): the client can rewrite the buffer from
                 another core at any moment, so the server works on bytes only it can see. */
#include "libc.h"
#include "example.h"

enum { MAX_TEXT = 256 };

uint64_t echo_handler(uint64_t op, uint64_t a, uint64_t b, const struct sb_call *call) {
  (void)b;
  if (op == ECHO_ADD) return a + 1;
  if (op != ECHO_UPPER) return ~0ull;
  char text[MAX_TEXT];
  if (a > MAX_TEXT || !sb_copy_in(text, call, 0, a)) return ~0ull;
  for (uint64_t i = 0; i < a; i++)
    if (text[i] >= 'a' && text[i] <= 'z') text[i] = (char)(text[i] - 'a' + 'A');
  sb_copy_out(call, 0, text, a);
  return a;
}

/* The C library's _start wants a main; a server needs no thread of its own. */
int main(void) { return 0; }
