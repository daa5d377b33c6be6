/* YCSB's core workload generators (see ycsb.h and README.md). Each rule cites the YCSB file
   it follows, under core/src/main/java/site/ycsb/ of github.com/brianfrankcooper/YCSB. */
#include "ycsb.h"

/* ---- SplitMix64 ---------------------------------------------------------------------------- */

#define GOLDEN_GAMMA 0x9e3779b97f4a7c15ULL

/* Stafford's "variant 13" mixer, as in SplitMix64: a bijection of the 64-bit values. */
static uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

void ycsb_rng_seed(struct ycsb_rng *r, uint64_t seed) { r->state = seed; }

uint64_t ycsb_rng_next(struct ycsb_rng *r) {
  r->state += GOLDEN_GAMMA;
  return mix64(r->state);
}

double ycsb_rng_double(struct ycsb_rng *r) {
  return (double)(int64_t)(ycsb_rng_next(r) >> 11) * 0x1p-53;
}

/* ---- log, exp, pow ------------------------------------------------------------------------ */

union bits {
  double d;
  uint64_t u;
};

/* ln 2 split so that k * LN2_HI is exact for |k| < 2^20 (its low 21 significand bits are
   zero), and the rest. */
#define LN2_HI 6.93147180369123816490e-01 /* 0x3fe62e42fee00000 */
#define LN2_LO 1.90821492927058770002e-10 /* 0x3dea39ef35793c76 */
#define INV_LN2 1.44269504088896338700e+00
#define SQRT2 1.41421356237309514547e+00

/* Exact transformations (Knuth's TwoSum; Dekker's split and product, which need doubles
   rounded to nearest and no fused multiply-add): a + b = s + *e and a * b = p + *e. */
static double two_sum(double a, double b, double *e) {
  double s = a + b;
  double bb = s - a;
  *e = (a - (s - bb)) + (b - bb);
  return s;
}

static double split(double a, double *lo) {
  double c = 134217729.0 * a; /* 2^27 + 1 */
  double hi = c - (c - a);
  *lo = a - hi;
  return hi;
}

static double two_prod(double a, double b, double *e) {
  double p = a * b, al, bl;
  double ah = split(a, &al), bh = split(b, &bl);
  *e = ((ah * bh - p) + ah * bl + al * bh) + al * bl;
  return p;
}

/* ln x for a positive finite x, as hi + *lo with about 2^-60 relative error. x = 2^k m with
   m in (sqrt(2)/2, sqrt(2)], f = m - 1 (exact), s = f / (2 + f) (to twice double precision),
   so that ln m = 2 atanh s = 2s + 2s^3/3 + 2s^5/5 + ...: |s| <= 0.1716, the series to s^23
   is exact to 2^-62, and its terms past 2s are below 1.5 % of it, so they need only double
   precision. ln x = k ln 2 + 2s + the rest, summed with the rounding errors kept. */
static double log_parts(double x, double *lo) {
  union bits v = {x};
  int64_t k = 0;
  if ((v.u >> 52) == 0) { /* subnormal: scale into the normals */
    v.d = x * 0x1p54;
    k = -54;
  }
  k += (int64_t)(v.u >> 52) - 1023;
  v.u = (v.u & 0x000fffffffffffffULL) | 0x3ff0000000000000ULL; /* m in [1, 2) */
  if (v.d > SQRT2) {
    v.u -= 1ULL << 52; /* m / 2 */
    k++;
  }
  double f = v.d - 1.0;
  double t = 2.0 + f;
  double te = (2.0 - t) + f; /* t + te = 2 + f exactly */
  double s = f / t, pe;
  double p = two_prod(s, t, &pe);
  double sl = (((f - p) - pe) - s * te) / t; /* s + sl = f / (2 + f) */
  double z = s * s;
  double rest =
      s * z *
      (2.0 / 3 +
       z * (2.0 / 5 +
            z * (2.0 / 7 +
                 z * (2.0 / 9 +
                      z * (2.0 / 11 +
                           z * (2.0 / 13 +
                                z * (2.0 / 15 +
                                     z * (2.0 / 17 +
                                          z * (2.0 / 19 + z * (2.0 / 21 + z * (2.0 / 23)))))))))));
  double dk = (double)k, e;
  double hi = two_sum(dk * LN2_HI, 2 * s, &e); /* both terms exact */
  double low = e + (dk * LN2_LO + (2 * sl + rest));
  double sum = hi + low;
  *lo = low - (sum - hi);
  return sum;
}

double ycsb_log(double x) {
  double lo;
  if (x != x) return x;
  if (x < 0) return __builtin_nan("");
  if (x == 0) return -__builtin_inf();
  if (x == __builtin_inf()) return x;
  return log_parts(x, &lo);
}

/* 2^k as a double, for k in [-1022, 1023]. */
static double pow2(int64_t k) {
  union bits v;
  v.u = (uint64_t)(k + 1023) << 52;
  return v.d;
}

/* e^(x + xl), |xl| tiny against x: x = k ln 2 + r with k the nearest integer to x / ln 2 and
   |r| <= ln(2)/2 (x - k LN2_HI is exact); e^r by its Taylor series to r^13 (the rest is below
   2^-58 relative); then scaled by 2^k. */
static double exp_parts(double x, double xl) {
  if (x != x) return x;
  if (x > 709.782712893383973) return __builtin_inf();
  if (x < -745.133219101941108) return 0.0;
  double t = x * INV_LN2;
  int64_t k = (int64_t)(t < 0 ? t - 0.5 : t + 0.5);
  double r = (x - (double)k * LN2_HI) - ((double)k * LN2_LO - xl);
  double p = 1.0 / 6227020800.0; /* 1/13! */
  p = p * r + 1.0 / 479001600.0;
  p = p * r + 1.0 / 39916800.0;
  p = p * r + 1.0 / 3628800.0;
  p = p * r + 1.0 / 362880.0;
  p = p * r + 1.0 / 40320.0;
  p = p * r + 1.0 / 5040.0;
  p = p * r + 1.0 / 720.0;
  p = p * r + 1.0 / 120.0;
  p = p * r + 1.0 / 24.0;
  p = p * r + 1.0 / 6.0;
  p = p * r + 0.5;
  p = p * r + 1.0;
  p = p * r + 1.0;
  if (k > 1023) return p * pow2(1023) * pow2(k - 1023);
  if (k < -1022) return p * pow2(-1000) * pow2(k + 1000); /* one rounding, into subnormals */
  return p * pow2(k);
}

double ycsb_exp(double x) { return exp_parts(x, 0); }

/* e^(y ln x), with ln x and the product carried to about twice double precision, so that
   the result is within about 1 ulp. */
double ycsb_pow(double x, double y) {
  if (y == 0 || x == 1) return 1.0;
  if (x != x || y != y || x < 0) return __builtin_nan("");
  if (x == 0) return y > 0 ? 0.0 : __builtin_inf();
  if (x == __builtin_inf()) return y > 0 ? x : 0.0;
  double lo, l = log_parts(x, &lo);
  double p = y * l;
  /* Past +-746 the result is 0 or infinite anyway; and splitting huge y would overflow. */
  if (!(p > -746 && p < 746) || !(y > -1e290 && y < 1e290)) return exp_parts(p, 0);
  double pe;
  p = two_prod(y, l, &pe);
  return exp_parts(p, pe + y * lo);
}

/* ---- Hashing (Utils.java) ---------------------------------------------------------------- */

/* Java's Math.abs on a long: the negation, except that Long.MIN_VALUE stays as it is. */
static int64_t java_abs(int64_t v) { return v < 0 ? (int64_t)(0 - (uint64_t)v) : v; }

/* Utils.fnvhash64 (which Utils.hash calls): FNV-1a, 64-bit offset basis and prime, over the
   value's bytes from the least significant, then Math.abs. */
int64_t ycsb_fnvhash64(int64_t val) {
  uint64_t h = 0xcbf29ce484222325ULL;
  uint64_t v = (uint64_t)val;
  for (int i = 0; i < 8; i++) {
    h ^= v & 0xff;
    h *= 1099511628211ULL;
    v >>= 8;
  }
  return java_abs((int64_t)h);
}

/* ---- Generators -------------------------------------------------------------------------- */

/* UniformLongGenerator.nextValue: Math.abs(nextLong()) % interval + lb. */
void ycsb_uniform_init(struct ycsb_uniform *g, int64_t lb, int64_t ub) {
  g->lb = lb;
  g->interval = ub - lb + 1;
}

int64_t ycsb_uniform_next(struct ycsb_uniform *g, struct ycsb_rng *r) {
  return java_abs((int64_t)ycsb_rng_next(r)) % g->interval + g->lb;
}

/* ZipfianGenerator.zetastatic(st, n, theta, initialsum): the sum extended by 1/(i+1)^theta
   for i = st..n-1. */
static double zeta(int64_t st, int64_t n, double theta, double initialsum) {
  double sum = initialsum;
  for (int64_t i = st; i < n; i++) sum += 1 / ycsb_pow((double)(i + 1), theta);
  return sum;
}

/* ZipfianGenerator's eta, which the class computes from `items` (the count given to the
   constructor) even when nextLong has extended zetan to a larger item count: kept as is. */
static double zipfian_eta(const struct ycsb_zipfian *z) {
  return (1 - ycsb_pow(2.0 / (double)z->items, 1 - z->theta)) / (1 - z->zeta2theta / z->zetan);
}

/* ZipfianGenerator(min, max, zipfianconstant, zetan). The Java constructor also draws one
   value (nextValue()) and discards it; we do not, as our numbers are our own anyway. */
void ycsb_zipfian_init_zeta(struct ycsb_zipfian *z, int64_t min, int64_t max, double theta,
                            double zetan) {
  z->items = max - min + 1;
  z->base = min;
  z->theta = theta;
  z->zeta2theta = zeta(0, 2, theta, 0);
  z->alpha = 1.0 / (1.0 - theta);
  z->zetan = zetan;
  z->countforzeta = z->items;
  z->eta = zipfian_eta(z);
  z->half_pow_theta = ycsb_pow(0.5, theta);
}

/* ZipfianGenerator(min, max, zipfianconstant): zeta summed from scratch. */
void ycsb_zipfian_init(struct ycsb_zipfian *z, int64_t min, int64_t max, double theta) {
  ycsb_zipfian_init_zeta(z, min, max, theta, zeta(0, max - min + 1, theta, 0));
}

/* ZipfianGenerator.nextLong(itemcount). More items than zetan covers: extend zetan by the new
   terms and recompute eta. Fewer: YCSB's allowitemcountdecrease is false, so nothing is
   recomputed. Then Gray et al.: u uniform in [0, 1); item 0 if u zetan < 1, item 1 if
   u zetan < 1 + 0.5^theta, else itemcount (eta u - eta + 1)^alpha, truncated. */
int64_t ycsb_zipfian_next(struct ycsb_zipfian *z, struct ycsb_rng *r, int64_t itemcount) {
  if (itemcount > z->countforzeta) {
    z->zetan = zeta(z->countforzeta, itemcount, z->theta, z->zetan);
    z->countforzeta = itemcount;
    z->eta = zipfian_eta(z);
  }
  double u = ycsb_rng_double(r);
  double uz = u * z->zetan;
  if (uz < 1.0) return z->base;
  if (uz < 1.0 + z->half_pow_theta) return z->base + 1;
  return z->base + (int64_t)((double)itemcount * ycsb_pow(z->eta * u - z->eta + 1, z->alpha));
}

/* ScrambledZipfianGenerator(min, max): with the default constant 0.99 it uses a zipfian over
   0..ITEM_COUNT with the precomputed ZETAN; nextValue is min + fnvhash64(zipfian) % itemcount
   (Java's %, which C's matches: truncation toward zero). */
void ycsb_scrambled_init(struct ycsb_scrambled *g, int64_t min, int64_t max) {
  g->min = min;
  g->itemcount = max - min + 1;
  ycsb_zipfian_init_zeta(&g->z, 0, YCSB_SCRAMBLED_ITEM_COUNT, YCSB_ZIPFIAN_CONSTANT,
                         YCSB_SCRAMBLED_ZETAN);
}

int64_t ycsb_scrambled_next(struct ycsb_scrambled *g, struct ycsb_rng *r) {
  int64_t v = ycsb_zipfian_next(&g->z, r, g->z.items);
  return g->min + ycsb_fnvhash64(v) % g->itemcount;
}

/* SkewedLatestGenerator(basis): a ZipfianGenerator(basis.lastValue()), i.e. over
   0..last-1; nextValue is last - zipfian.nextLong(last) with last read anew each time. (Its
   constructor's discarded first draw is skipped, as for ZipfianGenerator.) */
void ycsb_latest_init(struct ycsb_latest *g, const struct ycsb_counter *basis) {
  ycsb_zipfian_init(&g->z, 0, ycsb_counter_last(basis) - 1, YCSB_ZIPFIAN_CONSTANT);
}

int64_t ycsb_latest_next(struct ycsb_latest *g, struct ycsb_rng *r,
                         const struct ycsb_counter *basis) {
  int64_t max = ycsb_counter_last(basis);
  return max - ycsb_zipfian_next(&g->z, r, max);
}

/* ---- Text -------------------------------------------------------------------------------- */

/* "00" to "99". */
static const char DIGIT_PAIRS[201] = "00010203040506070809101112131415161718192021222324252627282930313233"
                                     "34353637383940414243444546474849505152535455565758596061626364656667"
                                     "6869707172737475767778798081828384858687888990919293949596979899";

/* Java's Long.toString / Integer.toString: signed decimal, two digits per division. Returns
   the length; no NUL. */
static size_t put_i64(char *buf, int64_t v) {
  char tmp[20];
  size_t n = sizeof tmp, len = 0;
  uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
  while (u >= 100) {
    uint64_t q = u / 100;
    uint32_t r = (uint32_t)(u - q * 100) * 2;
    u = q;
    tmp[--n] = DIGIT_PAIRS[r + 1];
    tmp[--n] = DIGIT_PAIRS[r];
  }
  if (u >= 10) {
    tmp[--n] = DIGIT_PAIRS[u * 2 + 1];
    tmp[--n] = DIGIT_PAIRS[u * 2];
  } else {
    tmp[--n] = (char)('0' + u);
  }
  if (v < 0) buf[len++] = '-';
  while (n < sizeof tmp) buf[len++] = tmp[n++];
  return len;
}

/* CoreWorkload.buildKeyName(keynum, zeropadding, orderedinserts). */
size_t ycsb_key(const struct ycsb *w, int64_t keynum, char *buf) {
  char num[21];
  size_t len = 0;
  if (!w->orderedinserts) keynum = ycsb_fnvhash64(keynum);
  size_t n = put_i64(num, keynum);
  uint32_t pad = w->zeropadding > YCSB_MAX_ZEROPADDING ? YCSB_MAX_ZEROPADDING : w->zeropadding;
  buf[len++] = 'u';
  buf[len++] = 's';
  buf[len++] = 'e';
  buf[len++] = 'r';
  for (size_t i = n; i < pad; i++) buf[len++] = '0';
  for (size_t i = 0; i < n; i++) buf[len++] = num[i];
  buf[len] = 0;
  return len;
}

size_t ycsb_load_key(const struct ycsb *w, uint64_t i, char *buf) {
  return ycsb_key(w, (int64_t)i, buf);
}

size_t ycsb_field_name(uint32_t field, char *buf) {
  static const char prefix[] = "field"; /* fieldnameprefix's default */
  size_t len = 0;
  for (; prefix[len]; len++) buf[len] = prefix[len];
  len += put_i64(buf + len, field);
  buf[len] = 0;
  return len;
}

/* CoreWorkload.buildDeterministicValue(key, fieldkey): start with key ':' fieldkey; while
   shorter than the size, append ':' and the string's hashCode (Java: h = 31 h + c over its
   chars, in 32 bits, printed signed); cut to the size. The hash is kept running as bytes
   are appended; bytes past len end the loop, so neither they nor their hash are needed. */
static size_t append(char *buf, size_t len, size_t pos, uint32_t *hash, const char *s, size_t n) {
  uint32_t h = *hash;
  if (n > len - pos) n = len - pos; /* pos <= len */
  for (size_t i = 0; i < n; i++) {
    h = 31 * h + (uint32_t)(unsigned char)s[i];
    buf[pos + i] = s[i];
  }
  *hash = h;
  return pos + n;
}

size_t ycsb_value(const struct ycsb *w, const char *key, uint32_t field, char *buf, size_t len) {
  char text[24];
  uint32_t h = 0;
  size_t n = 0, pos;
  (void)w;
  while (key[n]) n++;
  if (len == 0) return 0;
  pos = append(buf, len, 0, &h, key, n);
  text[0] = ':';
  n = ycsb_field_name(field, text + 1);
  if (pos < len) pos = append(buf, len, pos, &h, text, n + 1);
  while (pos < len) {
    pos = append(buf, len, pos, &h, ":", 1);
    n = put_i64(text, (int32_t)h); /* the hash of everything up to this ':' */
    pos = append(buf, len, pos, &h, text, n);
  }
  return len;
}

/* RandomByteIterator: each 32-bit draw (ThreadLocalRandom.nextInt) gives up to six bytes,
   ' ' plus bits 0-4, 5-10, 10-14 and 16, 15-19, 20-25, 25-29 and 31 (the masks 31, 63, 95,
   31, 63, 95 after shifts of 0, 5, 10, 15, 20, 25). */
size_t ycsb_random_value(struct ycsb *w, char *buf, size_t len) {
  static const uint8_t shift[6] = {0, 5, 10, 15, 20, 25};
  static const uint8_t mask[6] = {31, 63, 95, 31, 63, 95};
  for (size_t i = 0; i < len; i += 6) {
    uint32_t bits = (uint32_t)(ycsb_rng_next(&w->vrng) >> 32);
    for (size_t j = 0; j < 6 && i + j < len; j++)
      buf[i + j] = (char)(' ' + ((bits >> shift[j]) & mask[j]));
  }
  return len;
}

const char *ycsb_opname(enum ycsb_optype t) {
  switch (t) {
  case YCSB_READ: return "READ";
  case YCSB_UPDATE: return "UPDATE";
  case YCSB_INSERT: return "INSERT";
  case YCSB_SCAN: return "SCAN";
  case YCSB_READMODIFYWRITE: return "READMODIFYWRITE";
  default: return "?";
  }
}

/* ---- The core workload ------------------------------------------------------------------- */

/* workloads/workloada..workloadf: the proportions (read, update, insert, scan,
   read-modify-write) and requestdistribution of each. Every file sets readallfields=true;
   E also maxscanlength=100 and scanlengthdistribution=uniform. */
static const struct {
  double proportion[YCSB_NOPTYPES];
  enum ycsb_dist dist;
} WORKLOADS[6] = {
    {{0.5, 0.5, 0, 0, 0}, YCSB_ZIPFIAN},   /* A: update heavy */
    {{0.95, 0.05, 0, 0, 0}, YCSB_ZIPFIAN}, /* B: read mostly */
    {{1, 0, 0, 0, 0}, YCSB_ZIPFIAN},       /* C: read only */
    {{0.95, 0, 0.05, 0, 0}, YCSB_LATEST},  /* D: read latest */
    {{0, 0, 0.05, 0.95, 0}, YCSB_ZIPFIAN}, /* E: short ranges */
    {{0.5, 0, 0, 0, 0.5}, YCSB_ZIPFIAN},   /* F: read-modify-write */
};

#define INT32_LIMIT 2147483647

/* CoreWorkload.init, with insertstart = 0 and insertcount = recordcount (their defaults). */
int ycsb_init(struct ycsb *w, char workload, uint64_t records, uint64_t ops, uint64_t seed) {
  if (workload >= 'A' && workload <= 'F') workload = (char)(workload - 'A' + 'a');
  if (workload < 'a' || workload > 'f') return -1;
  int i = workload - 'a';
  if (records < 1 || records > INT32_LIMIT || ops > INT32_LIMIT) return -1;
  if (WORKLOADS[i].dist == YCSB_LATEST && records < 2) return -1;

  /* The defaults of CoreWorkload's properties. */
  w->fieldcount = 10;
  w->fieldlength = 100;
  w->zeropadding = 1;
  w->orderedinserts = 0;
  w->minscanlength = 1;
  w->maxscanlength = workload == 'e' ? 100 : 1000;

  w->workload = workload;
  w->recordcount = (int64_t)records;
  w->operationcount = (int64_t)ops;
  for (int t = 0; t < YCSB_NOPTYPES; t++) w->proportion[t] = WORKLOADS[i].proportion[t];
  w->requestdistribution = WORKLOADS[i].dist;
  w->done = 0;

  ycsb_rng_seed(&w->rng, seed);
  struct ycsb_rng t;
  ycsb_rng_seed(&t, ~seed);
  ycsb_rng_seed(&w->vrng, ycsb_rng_next(&t));

  /* transactioninsertkeysequence = new AcknowledgedCounterGenerator(recordcount). */
  w->insertkeys.next = w->recordcount;
  switch (w->requestdistribution) {
  case YCSB_UNIFORM: /* UniformLongGenerator(insertstart, insertstart + insertcount - 1) */
    ycsb_uniform_init(&w->uniform, 0, w->recordcount - 1);
    break;
  case YCSB_ZIPFIAN: {
    /* Room for the inserts the run is expected to make: expectednewkeys =
       (int)(operationcount * insertproportion * 2.0), "2 is fudge factor"; keys picked that
       are not inserted yet are drawn again (nextKeynum). */
    int64_t expectednewkeys = (int64_t)((double)w->operationcount * w->proportion[YCSB_INSERT] * 2.0);
    ycsb_scrambled_init(&w->scrambled, 0, w->recordcount + expectednewkeys);
    break;
  }
  case YCSB_LATEST:
    ycsb_latest_init(&w->latest, &w->insertkeys);
    break;
  }
  return 0;
}

/* DiscreteGenerator.nextValue over the operations with a positive proportion, in
   CoreWorkload.createOperationGenerator's order (read, update, insert, scan, rmw): u in
   [0, 1) against each weight / total in turn. */
static enum ycsb_optype choose_operation(struct ycsb *w) {
  double sum = 0;
  int last = YCSB_READ;
  for (int t = 0; t < YCSB_NOPTYPES; t++)
    if (w->proportion[t] > 0) sum += w->proportion[t];
  double val = ycsb_rng_double(&w->rng);
  for (int t = 0; t < YCSB_NOPTYPES; t++) {
    if (!(w->proportion[t] > 0)) continue;
    double pw = w->proportion[t] / sum;
    if (val < pw) return (enum ycsb_optype)t;
    val -= pw;
    last = t;
  }
  return (enum ycsb_optype)last; /* YCSB throws here; rounding could only bring us here */
}

/* CoreWorkload.nextKeynum: draw until the key has been inserted (<= the acknowledged
   limit). */
static int64_t next_keynum(struct ycsb *w) {
  int64_t keynum;
  int64_t last = ycsb_counter_last(&w->insertkeys);
  do {
    switch (w->requestdistribution) {
    case YCSB_UNIFORM: keynum = ycsb_uniform_next(&w->uniform, &w->rng); break;
    case YCSB_LATEST: keynum = ycsb_latest_next(&w->latest, &w->rng, &w->insertkeys); break;
    default: keynum = ycsb_scrambled_next(&w->scrambled, &w->rng); break;
    }
  } while (keynum > last);
  return keynum;
}

/* fieldchooser = UniformLongGenerator(0, fieldcount - 1). */
static uint32_t choose_field(struct ycsb *w) {
  struct ycsb_uniform g;
  ycsb_uniform_init(&g, 0, (int64_t)w->fieldcount - 1);
  return (uint32_t)ycsb_uniform_next(&g, &w->rng);
}

/* CoreWorkload.doTransaction and its doTransaction* methods, in their order of draws. */
int ycsb_next(struct ycsb *w, struct ycsb_op *op) {
  if (w->done >= w->operationcount) return 0;
  w->done++;
  op->type = choose_operation(w);
  op->scanlen = 0;
  op->field = 0;
  switch (op->type) {
  case YCSB_INSERT:
    /* transactioninsertkeysequence.nextValue(), acknowledged at once (one thread). */
    op->keynum = ycsb_counter_next(&w->insertkeys);
    break;
  case YCSB_SCAN: {
    /* scanlength = UniformLongGenerator(minscanlength, maxscanlength), drawn after the
       start key. */
    op->keynum = next_keynum(w);
    struct ycsb_uniform g;
    ycsb_uniform_init(&g, w->minscanlength, w->maxscanlength);
    op->scanlen = (uint32_t)ycsb_uniform_next(&g, &w->rng);
    break;
  }
  case YCSB_UPDATE:
  case YCSB_READMODIFYWRITE:
    /* buildSingleValue: one field from fieldchooser (writeallfields=false). */
    op->keynum = next_keynum(w);
    op->field = choose_field(w);
    break;
  default: /* READ, readallfields=true: no field drawn */
    op->keynum = next_keynum(w);
    break;
  }
  op->keylen = (uint32_t)ycsb_key(w, op->keynum, op->key);
  return 1;
}
