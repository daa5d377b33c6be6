/* A client of the echo server (examples/echo.yaml, examples/chain.yaml): argv[1] is the
   server's id, which a scenario passes as {server: NAME}; argv[2] is a message. Three calls
   with a number in a register, then the message through the shared buffer. Exit status 0
   when every call succeeded. */
#include "libc.h"
#include "example.h"

int main(int argc, char **argv) {
  if (argc < 2) {
    dprintf(2, "usage: %s SERVER-ID [MESSAGE]\n", argv[0]);
    return 2;
  }
  uint64_t server = parse_u64(argv[1]);
  const char *message = argc > 2 ? argv[2] : "hello, skybridge";
  int failed = 0;
  for (uint64_t x = 41; x < 44; x++) {
    sb_result r = sb_call(server, ECHO_ADD, x, 0);
    if (r.status != 0) failed = 1;
    printf("add %lu -> %s %lu\n", x, sb_status_name(r.status), r.value);
  }
  /* The message goes through the buffer this process shares with the server. */
  char *buf = (char *)sb_buffer(server);
  uint64_t n = strlen(message);
  if (buf == 0 || n >= sb_buffer_bytes(server)) {
    printf("no room for the message in the shared buffer\n");
    return 1;
  }
  memcpy(buf, message, n + 1);
  sb_result r = sb_call(server, ECHO_UPPER, n, 0);
  if (r.status != 0 || r.value != n) failed = 1;
  printf("upper \"%s\" -> %s \"%s\"\n", message, sb_status_name(r.status), buf);
  return failed;
}
