/* What the example programs share: the echo server's operations, a number from argv, and
   a name for a call's status. */
#pragma once
#include <stdint.h>
#include "skybridge.h"

/* The first argument of every call to an echo server (or a relay in front of one). */
enum {
  ECHO_ADD = 0,   /* returns a + 1 */
  ECHO_UPPER = 1, /* upper-cases the first a bytes of the shared buffer; returns a */
};

/* A decimal number (a scenario passes a server's id as one: {server: NAME}). */
static inline uint64_t parse_u64(const char *s) {
  uint64_t v = 0;
  while (*s >= '0' && *s <= '9') v = v * 10 + (uint64_t)(*s++ - '0');
  return v;
}

static inline const char *sb_status_name(int64_t status) {
  switch (status) {
    case 0: return "ok";
    case SB_EBUSY: return "SB_EBUSY";
    case SB_EBADKEY: return "SB_EBADKEY";
    case SB_EBADRETURN: return "SB_EBADRETURN";
    case SB_ESERVERFAULT: return "SB_ESERVERFAULT";
    case SB_ENOTBOUND: return "SB_ENOTBOUND";
    case SB_ELOCKED: return "SB_ELOCKED";
    case SB_EREENTRANT: return "SB_EREENTRANT";
    case SB_ETIMEOUT: return "SB_ETIMEOUT";
    case SB_EREVOKED: return "SB_EREVOKED";
    case SB_EABORTED: return "SB_EABORTED";
    case SB_ESYSCALL: return "SB_ESYSCALL";
    default: return "unknown status";
  }
}
