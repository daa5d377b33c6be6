/* Number formatting and a small printf: %d %i %u %x %X %c %s %p %%, with the flags '-' and '0',
   a field width, and the length modifiers l, ll and z. No floating point. */
#pragma once
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* Each writes v into buf (room for 20 digits and a sign) and returns the length; no NUL. */
size_t fmt_u64(char *buf, uint64_t v);
size_t fmt_i64(char *buf, int64_t v);
size_t fmt_hex(char *buf, uint64_t v);

int vdprintf(int fd, const char *fmt, va_list ap);
int dprintf(int fd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
