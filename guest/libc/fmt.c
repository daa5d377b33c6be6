#include "fmt.h"
#include "linux.h"
#include "string.h"

/* Variadic functions would otherwise save xmm0-7 in their prologue (movaps, skipped at run
   time when al == 0); keeping them general-register-only keeps SSE out of the libc. */
#define NO_SSE __attribute__((target("general-regs-only")))

size_t fmt_u64(char *buf, uint64_t v) {
  char tmp[20];
  size_t n = 0;
  do {
    tmp[n++] = (char)('0' + v % 10);
    v /= 10;
  } while (v);
  for (size_t i = 0; i < n; i++) buf[i] = tmp[n - 1 - i];
  return n;
}

size_t fmt_i64(char *buf, int64_t v) {
  if (v >= 0) return fmt_u64(buf, (uint64_t)v);
  buf[0] = '-';
  return 1 + fmt_u64(buf + 1, -(uint64_t)v); /* unsigned negation: INT64_MIN is fine */
}

static size_t fmt_hex_case(char *buf, uint64_t v, const char *digits) {
  char tmp[16];
  size_t n = 0;
  do {
    tmp[n++] = digits[v & 15];
    v >>= 4;
  } while (v);
  for (size_t i = 0; i < n; i++) buf[i] = tmp[n - 1 - i];
  return n;
}

size_t fmt_hex(char *buf, uint64_t v) { return fmt_hex_case(buf, v, "0123456789abcdef"); }

/* Output is buffered per call and written with as few write(2)s as possible. */
struct out {
  int fd, total;
  size_t len;
  char buf[256];
};

static void flush(struct out *o) {
  if (o->len) write(o->fd, o->buf, o->len);
  o->len = 0;
}

static void put(struct out *o, char c) {
  if (o->len == sizeof o->buf) flush(o);
  o->buf[o->len++] = c;
  o->total++;
}

static void pad(struct out *o, char c, int n) {
  while (n-- > 0) put(o, c);
}

/* Emits s (n bytes) in a field of the given width. Zero padding goes after a leading '-'. */
static void field(struct out *o, const char *s, size_t n, int width, int left, int zero) {
  int fill = width - (int)n;
  if (left) {
    for (size_t i = 0; i < n; i++) put(o, s[i]);
    pad(o, ' ', fill);
    return;
  }
  if (zero && n && s[0] == '-') {
    put(o, '-');
    s++, n--;
  }
  pad(o, zero ? '0' : ' ', fill);
  for (size_t i = 0; i < n; i++) put(o, s[i]);
}

NO_SSE int vdprintf(int fd, const char *fmt, va_list ap) {
  struct out o; /* not zero-initialised: that would cost a rep stos over buf per call */
  o.fd = fd, o.total = 0, o.len = 0;
  char num[24];
  for (; *fmt; fmt++) {
    if (*fmt != '%') {
      put(&o, *fmt);
      continue;
    }
    int left = 0, zero = 0, width = 0, longs = 0;
    for (;; fmt++) {
      if (fmt[1] == '-') left = 1;
      else if (fmt[1] == '0') zero = 1;
      else break;
    }
    while (fmt[1] >= '0' && fmt[1] <= '9') width = width * 10 + (*++fmt - '0');
    while (fmt[1] == 'l' || fmt[1] == 'z') longs++, fmt++;
    const char *s = num;
    size_t n;
    switch (*++fmt) {
    case 'd':
    case 'i':
      n = fmt_i64(num, longs ? va_arg(ap, long) : va_arg(ap, int));
      break;
    case 'u':
      n = fmt_u64(num, longs ? va_arg(ap, unsigned long) : va_arg(ap, unsigned));
      break;
    case 'x':
      n = fmt_hex(num, longs ? va_arg(ap, unsigned long) : va_arg(ap, unsigned));
      break;
    case 'X':
      n = fmt_hex_case(num, longs ? va_arg(ap, unsigned long) : va_arg(ap, unsigned),
                       "0123456789ABCDEF");
      break;
    case 'p':
      num[0] = '0', num[1] = 'x';
      n = 2 + fmt_hex(num + 2, (uintptr_t)va_arg(ap, void *));
      break;
    case 'c':
      num[0] = (char)va_arg(ap, int);
      n = 1;
      break;
    case 's':
      s = va_arg(ap, const char *);
      if (!s) s = "(null)";
      n = strlen(s);
      zero = 0;
      break;
    case '%':
      num[0] = '%';
      n = 1;
      break;
    default: /* unknown conversion (or a trailing '%'): print it as is */
      if (!*fmt) fmt--;
      num[0] = '%';
      n = 1;
      break;
    }
    field(&o, s, n, width, left, zero);
  }
  flush(&o);
  return o.total;
}

NO_SSE int dprintf(int fd, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vdprintf(fd, fmt, ap);
  va_end(ap);
  return n;
}

NO_SSE int printf(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vdprintf(1, fmt, ap);
  va_end(ap);
  return n;
}
