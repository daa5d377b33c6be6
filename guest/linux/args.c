/* argc and argv as laid out on the initial stack. argv[0] is whatever the caller passed. */
#include "libc.h"

int main(int argc, char **argv) {
  printf("argc=%d\n", argc);
  for (int i = 0; i < argc; i++) printf("argv[%d]=\"%s\" (%u bytes)\n", i, argv[i],
                                         (unsigned)strlen(argv[i]));
  printf("argv[argc] is NULL: %s\n", argv[argc] ? "NO" : "yes");
  return 0;
}
