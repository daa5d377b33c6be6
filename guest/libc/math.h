/* The little of <math.h> SQLite needs: fabs, and the constants and classifications as
   compiler built-ins (SSE2 bit operations, no library code and no x87). */
#pragma once

#define INFINITY (__builtin_inff())
#define NAN (__builtin_nanf(""))
#define HUGE_VAL (__builtin_huge_val())
#define isnan(x) __builtin_isnan(x)
#define isinf(x) __builtin_isinf_sign(x)

static inline double fabs(double x) { return __builtin_fabs(x); }
