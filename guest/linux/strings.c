/* Our mem and str functions, including overlapping memmove in both directions and memcmp's
   unsigned byte order. */
#include "libc.h"

static int sign(int v) { return (v > 0) - (v < 0); }

static char buf[64];

int main(void) {
  strcpy(buf, "0123456789abcdef");
  memmove(buf + 4, buf, 10); /* dst above src: must copy backwards */
  printf("memmove up:   %s\n", buf);
  strcpy(buf, "0123456789abcdef");
  memmove(buf, buf + 4, 10); /* dst below src: forwards */
  printf("memmove down: %s\n", buf);
  strcpy(buf, "0123456789abcdef");
  memmove(buf + 3, buf + 3, 5); /* same place */
  printf("memmove same: %s\n", buf);

  memset(buf, 'x', 8);
  memset(buf + 8, 0, 1);
  printf("memset: %s len %u\n", buf, (unsigned)strlen(buf));
  char copy[32];
  memcpy(copy, "copy me\0and not me", 19);
  printf("memcpy: %s|%s\n", copy, copy + 8);

  static const unsigned char hi[] = {0x01, 0x80}, lo[] = {0x01, 0x7f};
  printf("memcmp: %d %d %d %d\n", sign(memcmp(hi, lo, 2)), sign(memcmp(lo, hi, 2)),
         sign(memcmp(hi, lo, 1)), sign(memcmp("abc", "abd", 0)));
  printf("strcmp: %d %d %d %d %d\n", sign(strcmp("abc", "abc")), sign(strcmp("abc", "abd")),
         sign(strcmp("abd", "abc")), sign(strcmp("ab", "abc")), sign(strcmp("\xff", "a")));
  printf("strncmp: %d %d %d %d\n", sign(strncmp("abcx", "abcy", 3)),
         sign(strncmp("abcx", "abcy", 4)), sign(strncmp("a", "a\0z", 3)),
         sign(strncmp("x", "y", 0)));
  const char *s = "hello, world";
  printf("strchr: %d %d %s %d\n", (int)(strchr(s, 'o') - s), (int)(strchr(s, 0) - s),
         strchr(s, 'w'), strchr(s, 'z') == 0);
  printf("strlen: %u %u %u\n", (unsigned)strlen(""), (unsigned)strlen(s),
         (unsigned)strlen(buf));

  uint32_t h = 2166136261u; /* FNV-1a over a larger shuffled buffer */
  char big[1000];
  uint32_t x = 1; /* an LCG rather than i * k: gcc -O2 would vectorise an affine fill */
  for (unsigned i = 0; i < sizeof big; i++) big[i] = (char)((x = x * 1103515245 + 12345) >> 16);
  memmove(big + 1, big, sizeof big - 1);
  memmove(big, big + 2, sizeof big - 2);
  for (unsigned i = 0; i < sizeof big; i++) h = (h ^ (unsigned char)big[i]) * 16777619u;
  printf("fnv1a: %x\n", h);
  printf("fmt: [%5d] [%-5d] [%05d] [%x] [%X] [%c] [%s] [%%] [%lu]\n", -42, 42, -42, 0xbeefu,
         0xbeefu, 'q', "str", 18446744073709551615ul);
  return 0;
}
