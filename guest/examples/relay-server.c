/* The middle of a chain client -> relay -> echo (examples/chain.yaml). Its handler calls the
   next server from the client's thread, as a client itself: the scenario binds this process
   to that server and writes the server's id into next_server (set: {next_server: {server:
   echo}}) before anything runs. ECHO_ADD comes back with one more added (each hop adds one);
   ECHO_UPPER's bytes go through this server's own buffer with the next server, never the
   client's. */
#include "libc.h"
#include "example.h"

enum { MAX_TEXT = 256 };

uint64_t next_server;

uint64_t relay_handler(uint64_t op, uint64_t a, uint64_t b, const struct sb_call *call) {
  if (op == ECHO_ADD) {
    sb_result r = sb_call(next_server, op, a, b);
    return r.status != 0 ? (uint64_t)r.status : r.value + 1;
  }
  if (op != ECHO_UPPER) return ~0ull;
  char text[MAX_TEXT];
  uint8_t *next = sb_buffer(next_server);
  if (a > MAX_TEXT || next == 0 || a > sb_buffer_bytes(next_server)) return ~0ull;
  if (!sb_copy_in(text, call, 0, a)) return ~0ull;
  memcpy(next, text, a);
  sb_result r = sb_call(next_server, op, a, b);
  if (r.status != 0 || r.value != a) return ~0ull;
  memcpy(text, next, a);
  sb_copy_out(call, 0, text, a);
  return a;
}

int main(void) { return 0; }
