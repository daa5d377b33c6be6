/* The smallest useful guest: two raw writes and an exit status. No printf. */
#include "libc.h"

int main(void) {
  static const char out[] = "Hello from a skybridge guest!\n";
  static const char err[] = "hello: this line goes to stderr\n";
  write(1, out, sizeof out - 1);
  write(2, err, sizeof err - 1);
  return 3;
}
