/* Test driver for guest/ycsb (test/guest-ycsb/ycsb.test.ts). Built twice: with the host gcc
   and glibc (every mode), and with the guests' flags and guest/libc (-DYCSB_GUEST) for the
   simulator, where only `guest` runs: its output must match the host build's byte for byte.

   Modes (numbers in decimal; doubles printed as their 64 bits in hex):
     rng SEED N                     the first N SplitMix64 outputs, hex
     math                           (host) worst errors of ycsb_log/exp/pow against glibc
     uniform LB UB SAMPLES SEED     counts of LB..UB
     zipf ITEMS ITEMCOUNT SAMPLES SEED
                                    ZipfianGenerator(ITEMS) asked for ITEMCOUNT items: its
                                    zetan and eta after the first draw, then counts of
                                    0..ITEMCOUNT-1
     scrambled N SAMPLES SEED       ScrambledZipfianGenerator(0, N-1): counts of 0..N-1
     latest RECORDS INSERTS SAMPLES SEED
                                    SkewedLatestGenerator over a counter at RECORDS, after
                                    INSERTS more values: counts of 0..last
     mix W RECORDS OPS SEED         workload W's run: counts per operation, field, scan
                                    length; checks; a digest of the whole stream
     trace W RECORDS OPS SEED       one line per operation
     keys ORDERED PAD FIRST N       load-phase keys FIRST..FIRST+N-1
     value KEY FIELD LEN            ycsb_value
     rvalue SEED LEN                ycsb_random_value
     guest                          a bit of everything, for the host/simulator comparison */
#include "ycsb.h"
#ifdef YCSB_GUEST
#include "libc.h"
#else
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#endif

static uint64_t num(const char *s) {
  uint64_t v = 0;
  for (; *s >= '0' && *s <= '9'; s++) v = v * 10 + (uint64_t)(*s - '0');
  return v;
}

static uint64_t bits(double d) {
  union {
    double d;
    uint64_t u;
  } v = {d};
  return v.u;
}

static void hex(uint64_t v) { printf("%llx", (unsigned long long)v); }

/* FNV-1a over bytes: the digest of an operation stream. */
static uint64_t digest_bytes(uint64_t h, const void *p, size_t n) {
  const unsigned char *b = p;
  for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 1099511628211ULL;
  return h;
}

static uint64_t digest_op(uint64_t h, const struct ycsb_op *op) {
  uint64_t v[4] = {(uint64_t)op->type, (uint64_t)op->keynum, op->scanlen, op->field};
  h = digest_bytes(h, v, sizeof v);
  return digest_bytes(h, op->key, op->keylen);
}

/* Counts (of up to MAXBINS values) in one static array: the guest has no malloc. */
#define MAXBINS 5000
static uint32_t counts[MAXBINS];

static void print_counts(uint64_t n) {
  for (uint64_t i = 0; i < n; i++) printf(i ? " %u" : "%u", counts[i]);
  printf("\n");
}

static void clear_counts(void) {
  for (int i = 0; i < MAXBINS; i++) counts[i] = 0;
}

static int mode_rng(uint64_t seed, uint64_t n) {
  struct ycsb_rng r;
  ycsb_rng_seed(&r, seed);
  for (uint64_t i = 0; i < n; i++) {
    hex(ycsb_rng_next(&r));
    printf("\n");
  }
  return 0;
}

static int mode_uniform(int64_t lb, int64_t ub, uint64_t samples, uint64_t seed) {
  struct ycsb_rng r;
  struct ycsb_uniform g;
  if (ub - lb + 1 > MAXBINS) return 2;
  ycsb_rng_seed(&r, seed);
  ycsb_uniform_init(&g, lb, ub);
  clear_counts();
  for (uint64_t i = 0; i < samples; i++) {
    int64_t v = ycsb_uniform_next(&g, &r);
    if (v < lb || v > ub) return 3;
    counts[v - lb]++;
  }
  print_counts((uint64_t)(ub - lb + 1));
  return 0;
}

static int mode_zipf(int64_t items, int64_t itemcount, uint64_t samples, uint64_t seed) {
  struct ycsb_rng r;
  struct ycsb_zipfian z;
  if (itemcount > MAXBINS) return 2;
  ycsb_rng_seed(&r, seed);
  ycsb_zipfian_init(&z, 0, items - 1, YCSB_ZIPFIAN_CONSTANT);
  clear_counts();
  for (uint64_t i = 0; i < samples; i++) {
    int64_t v = ycsb_zipfian_next(&z, &r, itemcount);
    if (v < 0 || v >= itemcount) return 3;
    counts[v]++;
  }
  hex(bits(z.zetan));
  printf(" ");
  hex(bits(z.eta));
  printf("\n");
  print_counts((uint64_t)itemcount);
  return 0;
}

static int mode_scrambled(int64_t n, uint64_t samples, uint64_t seed) {
  struct ycsb_rng r;
  struct ycsb_scrambled g;
  if (n > MAXBINS) return 2;
  ycsb_rng_seed(&r, seed);
  ycsb_scrambled_init(&g, 0, n - 1);
  clear_counts();
  for (uint64_t i = 0; i < samples; i++) {
    int64_t v = ycsb_scrambled_next(&g, &r);
    if (v < 0 || v >= n) return 3;
    counts[v]++;
  }
  print_counts((uint64_t)n);
  return 0;
}

static int mode_latest(int64_t records, uint64_t inserts, uint64_t samples, uint64_t seed) {
  struct ycsb_rng r;
  struct ycsb_counter c = {records};
  struct ycsb_latest g;
  if (records + (int64_t)inserts > MAXBINS) return 2;
  ycsb_rng_seed(&r, seed);
  ycsb_latest_init(&g, &c);
  for (uint64_t i = 0; i < inserts; i++) ycsb_counter_next(&c);
  clear_counts();
  int64_t last = ycsb_counter_last(&c);
  for (uint64_t i = 0; i < samples; i++) {
    int64_t v = ycsb_latest_next(&g, &r, &c);
    if (v < 0 || v > last) return 3;
    counts[v]++;
  }
  print_counts((uint64_t)last + 1);
  return 0;
}

/* The run phase of workload w: per-type counts, per-field counts of the writes, scan-length
   counts, and checks: every key picked was inserted before (<= the last insert), inserts
   number consecutively from records, every key text is ycsb_key of its number. */
static int mode_mix(char wl, uint64_t records, uint64_t ops, uint64_t seed, int summary) {
  struct ycsb w;
  struct ycsb_op op;
  uint32_t types[YCSB_NOPTYPES] = {0}, fields[16] = {0};
  uint64_t h = 0xcbf29ce484222325ULL, n = 0, uninserted = 0, badinsert = 0, badkey = 0;
  int64_t last, maxkey = -1, minkey = -1;
  char key[YCSB_KEY_MAX];
  if (ycsb_init(&w, wl, records, ops, seed)) return 2;
  clear_counts();
  last = (int64_t)records - 1;
  while (ycsb_next(&w, &op)) {
    n++;
    types[op.type]++;
    h = digest_op(h, &op);
    if (op.type == YCSB_INSERT) {
      if (op.keynum != last + 1) badinsert++;
      last = op.keynum;
    } else if (op.keynum > last || op.keynum < 0) {
      uninserted++;
    }
    if (op.type != YCSB_INSERT) {
      if (maxkey < 0 || op.keynum > maxkey) maxkey = op.keynum;
      if (minkey < 0 || op.keynum < minkey) minkey = op.keynum;
    }
    if (op.type == YCSB_UPDATE || op.type == YCSB_READMODIFYWRITE) fields[op.field & 15]++;
    if (op.type == YCSB_SCAN && op.scanlen < MAXBINS) counts[op.scanlen]++;
    if (ycsb_key(&w, op.keynum, key) != op.keylen) badkey++;
    for (uint32_t i = 0; i <= op.keylen; i++)
      if (key[i] != op.key[i]) {
        badkey++;
        break;
      }
  }
  printf("ops %llu\n", (unsigned long long)n);
  printf("types");
  for (int t = 0; t < YCSB_NOPTYPES; t++) printf(" %u", types[t]);
  printf("\ndigest ");
  hex(h);
  printf("\nchecks %llu %llu %llu\n", (unsigned long long)uninserted,
         (unsigned long long)badinsert, (unsigned long long)badkey);
  if (summary) return 0;
  printf("keys %lld %lld %lld\n", (long long)minkey, (long long)maxkey, (long long)last);
  printf("fields");
  for (uint32_t f = 0; f < w.fieldcount; f++) printf(" %u", fields[f]);
  printf("\nscanlen ");
  print_counts(w.maxscanlength + 1);
  return 0;
}

static int mode_trace(char wl, uint64_t records, uint64_t ops, uint64_t seed) {
  struct ycsb w;
  struct ycsb_op op;
  if (ycsb_init(&w, wl, records, ops, seed)) return 2;
  while (ycsb_next(&w, &op))
    printf("%s %lld %s %u %u\n", ycsb_opname(op.type), (long long)op.keynum, op.key, op.scanlen,
           op.field);
  return 0;
}

static int mode_keys(int ordered, uint32_t pad, uint64_t first, uint64_t n) {
  struct ycsb w;
  char key[YCSB_KEY_MAX];
  ycsb_init(&w, 'a', 1000, 0, 0);
  w.orderedinserts = ordered;
  w.zeropadding = pad;
  for (uint64_t i = first; i < first + n; i++) {
    ycsb_load_key(&w, i, key);
    printf("%s\n", key);
  }
  return 0;
}

static int mode_value(const char *key, uint32_t field, uint64_t len) {
  struct ycsb w;
  static char buf[4096 + 1];
  if (len > 4096) return 2;
  ycsb_init(&w, 'a', 1000, 0, 0);
  buf[len] = 0x7f; /* must survive: exactly len bytes written */
  if (ycsb_value(&w, key, field, buf, len) != len || buf[len] != 0x7f) return 3;
  buf[len] = 0;
  printf("%s\n", buf);
  return 0;
}

static int mode_rvalue(uint64_t seed, uint64_t len) {
  struct ycsb w;
  static char buf[4096 + 1];
  if (len > 4096) return 2;
  ycsb_init(&w, 'a', 1000, 0, seed);
  ycsb_random_value(&w, buf, len);
  buf[len] = 0;
  printf("%s\n", buf);
  return 0;
}

/* The simulator's run: small versions of the modes above, plus our math at a few points. */
static int mode_guest(void) {
  static const double xs[] = {1e-300, 0.001, 0.5, 0.78, 0.999, 1, 1.5, 2, 10, 1e5, 1e10};
  int rc = 0;
  for (unsigned i = 0; i < sizeof xs / sizeof xs[0]; i++) {
    hex(bits(ycsb_log(xs[i])));
    printf(" ");
    hex(bits(ycsb_exp(-xs[i])));
    printf(" ");
    hex(bits(ycsb_pow(xs[i], 0.99)));
    printf(" ");
    hex(bits(ycsb_pow(xs[i], 100)));
    printf("\n");
  }
  rc |= mode_rng(42, 3);
  for (char wl = 'a'; wl <= 'f'; wl++) {
    printf("workload %c\n", wl);
    rc |= mode_mix(wl, 100, 25, 7, 1);
    rc |= mode_trace(wl, 100, 2, 7);
  }
  rc |= mode_keys(0, 1, 0, 3);
  rc |= mode_keys(1, 12, 5, 2);
  rc |= mode_value("user123", 3, 60);
  rc |= mode_rvalue(5, 40);
  return rc;
}

#ifndef YCSB_GUEST
/* Relative error in units of 2^-52 (between 1 and 2 ulp of a double): |a - b| / |b| / 2^-52. */
static double relerr(double a, double b) {
  if (a == b) return 0;
  return fabs(a - b) / fabs(b) / 2.220446049250313e-16;
}

static int mode_math(void) {
  double worst_log = 0, worst_exp = 0, worst_zeta = 0, worst_eta = 0, worst_gray = 0,
         worst_any = 0;
  /* log over 1e-300 .. 1e300, and around 1 */
  for (double x = 1e-300; x < 1e300; x *= 1.0137)
    if (fabs(log(x)) > 1e-3) {
      double e = relerr(ycsb_log(x), log(x));
      if (e > worst_log) worst_log = e;
    }
  for (int i = -20000; i <= 20000; i++) {
    double x = 1 + i * 1.37e-5;
    double e = fabs(ycsb_log(x) - log(x)) / 2.220446049250313e-16 / fabs(x - 1 ? log(x) : 1);
    if (x != 1 && e > worst_log) worst_log = e;
  }
  for (double x = -745; x < 709.7; x += 0.01371) {
    double e = relerr(ycsb_exp(x), exp(x));
    if (exp(x) >= 2.2250738585072014e-308 && e > worst_exp) worst_exp = e;
  }
  /* The generators' arguments: (i+1)^0.99 for zeta, (2/items)^0.01 for eta, and
     (1 - eta (1 - u))^100 for Gray's formula. */
  for (double x = 1; x < 2e10; x = x * 1.00013 + 1) {
    double e = relerr(ycsb_pow(x, 0.99), pow(x, 0.99));
    if (e > worst_zeta) worst_zeta = e;
  }
  for (double items = 1; items < 2e10; items = items * 1.001 + 1) {
    double e = relerr(ycsb_pow(2.0 / items, 0.01), pow(2.0 / items, 0.01));
    if (e > worst_eta) worst_eta = e;
  }
  for (double x = 0.5; x <= 1; x += 1.1e-6) {
    double e = relerr(ycsb_pow(x, 100), pow(x, 100));
    if (e > worst_gray) worst_gray = e;
  }
  /* Anything else in the normal range. */
  for (double x = 1e-20; x < 1e20; x *= 1.37)
    for (double y = -30; y <= 30; y += 0.73) {
      double p = pow(x, y);
      if (p < 1e-300 || p > 1e300) continue;
      double e = relerr(ycsb_pow(x, y), p);
      if (e > worst_any) worst_any = e;
    }
  printf("log %.3f\nexp %.3f\npow_zeta %.3f\npow_eta %.3f\npow_gray %.3f\npow_any %.3f\n",
         worst_log, worst_exp, worst_zeta, worst_eta, worst_gray, worst_any);
  return 0;
}
#endif

int main(int argc, char **argv) {
  if (argc < 2) return 2;
  const char *m = argv[1];
#define IS(s) (strcmp(m, s) == 0)
#define A(i) (argc > (i) ? num(argv[i]) : 0)
  if (IS("rng")) return mode_rng(A(2), A(3));
  if (IS("uniform")) return mode_uniform((int64_t)A(2), (int64_t)A(3), A(4), A(5));
  if (IS("zipf")) return mode_zipf((int64_t)A(2), (int64_t)A(3), A(4), A(5));
  if (IS("scrambled")) return mode_scrambled((int64_t)A(2), A(3), A(4));
  if (IS("latest")) return mode_latest((int64_t)A(2), A(3), A(4), A(5));
  if (IS("mix") && argc > 2) return mode_mix(argv[2][0], A(3), A(4), A(5), 0);
  if (IS("trace") && argc > 2) return mode_trace(argv[2][0], A(3), A(4), A(5));
  if (IS("keys")) return mode_keys((int)A(2), (uint32_t)A(3), A(4), A(5));
  if (IS("value") && argc > 2) return mode_value(argv[2], (uint32_t)A(3), A(4));
  if (IS("rvalue")) return mode_rvalue(A(2), A(3));
  if (IS("guest")) return mode_guest();
#ifndef YCSB_GUEST
  if (IS("math")) return mode_math();
#endif
  return 2;
}
