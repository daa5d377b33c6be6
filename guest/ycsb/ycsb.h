/* YCSB's core workload (workloads A-F) as a freestanding C library: the request generators
   and the operation stream of YCSB's CoreWorkload, for one client thread. Our own code,
   written from a reading of YCSB (github.com/brianfrankcooper/YCSB, core/src/main/java/
   site/ycsb/): each rule below names the file and class it follows. See README.md.

   Needs only <stdint.h> and <stddef.h>: it builds with the guests' flags (-ffreestanding
   -nostdlib -fno-builtin) and with a hosted gcc. The zipfian generators use doubles (SSE2
   scalar arithmetic on x86-64; no x87, no libm: log, exp and pow are ours). Results are the
   same on every host whose doubles are IEEE binary64 rounded to nearest with no fused
   multiply-add (x86-64 always; elsewhere compile with -ffp-contract=off).

   Typical use:
     struct ycsb w;
     ycsb_init(&w, 'a', records, ops, seed);
     for (i = 0; i < records; i++) ycsb_load_key(&w, i, key);   // load phase: insert key
     while (ycsb_next(&w, &op)) ...                             // run phase: ops operations
   and ycsb_value(&w, key, field, buf, w.fieldlength) for each field's bytes. */
#pragma once
#include <stddef.h>
#include <stdint.h>

/* ---- The random source --------------------------------------------------------------- */

/* SplitMix64 (Steele, Lea and Flood, "Fast splittable pseudorandom number generators",
   OOPSLA 2014; Java's SplittableRandom): a 64-bit counter stepped by the golden gamma
   0x9e3779b97f4a7c15 and passed through a bijective mixer. YCSB draws from Java's
   ThreadLocalRandom, which is built the same way (gamma counter and a 64-bit mixer); its
   streams are seeded per thread and cannot be reproduced, so we do not try to match its
   numbers, only its construction. SplitMix64 passes BigCrush, has 8 bytes of state, accepts
   any 64-bit seed, and costs one add, three xor-shifts and two multiplies per number: only
   64-bit integer operations, so the same numbers on every host and in the simulator. */
struct ycsb_rng {
  uint64_t state;
};
void ycsb_rng_seed(struct ycsb_rng *r, uint64_t seed);
uint64_t ycsb_rng_next(struct ycsb_rng *r);
/* Uniform in [0, 1) on the 2^53 grid, as Java's nextDouble: (next >> 11) * 2^-53. */
double ycsb_rng_double(struct ycsb_rng *r);

/* ---- Our math (no libm in the guests) ---------------------------------------------------- */

/* Natural logarithm, exponential, and pow(x, y) = e^(y ln x) for x >= 0, for the zipfian
   generators. ln x and the product y ln x are carried in two doubles, so each result is
   within about 1 ulp of the exact one: the host test measures the worst relative error
   against glibc over the generators' arguments ((i+1)^0.99 for zeta, (2/n)^0.01 for eta,
   x^100 with x in [0.5, 1] for Gray's formula) and over the normal range, and requires it
   below 2^-51. ycsb_log(x < 0) and ycsb_pow(x < 0, y) return a NaN. */
double ycsb_log(double x);
double ycsb_exp(double x);
double ycsb_pow(double x, double y);

/* ---- Hashing and key names (site/ycsb/Utils.java, workloads/CoreWorkload.java) ------------ */

/* Utils.fnvhash64: FNV-1a over the value's 8 bytes, least significant first, then Java's
   Math.abs (so INT64_MIN would stay negative). */
int64_t ycsb_fnvhash64(int64_t v);

/* Longest key text: "user", zero padding up to YCSB_MAX_ZEROPADDING digits, a sign, a NUL. */
#define YCSB_MAX_ZEROPADDING 40
#define YCSB_KEY_MAX 64

/* ---- Generators (site/ycsb/generator/) --------------------------------------------------- */

/* ZipfianGenerator.ZIPFIAN_CONSTANT. */
#define YCSB_ZIPFIAN_CONSTANT 0.99

/* UniformLongGenerator: lb..ub inclusive, as Math.abs(nextLong()) % (ub - lb + 1) + lb. */
struct ycsb_uniform {
  int64_t lb, interval;
};
void ycsb_uniform_init(struct ycsb_uniform *g, int64_t lb, int64_t ub);
int64_t ycsb_uniform_next(struct ycsb_uniform *g, struct ycsb_rng *r);

/* ZipfianGenerator: items min..max, item min the most popular, by Gray et al.'s method
   ("Quickly Generating Billion-Record Synthetic Databases", SIGMOD 1994) as YCSB codes it.
   zetan is the sum of 1/i^theta for i = 1..items; when next is asked for more items than
   zetan was computed for, the sum is extended by the new terms (the incremental zeta). */
struct ycsb_zipfian {
  int64_t base;          /* min */
  int64_t items;         /* max - min + 1, fixed at construction */
  int64_t countforzeta;  /* the item count zetan was summed over */
  double theta, alpha, zetan, eta, zeta2theta;
  double half_pow_theta; /* 0.5^theta, which YCSB recomputes at every draw */
};
/* Computes zeta over max - min + 1 items (one pow per item). */
void ycsb_zipfian_init(struct ycsb_zipfian *z, int64_t min, int64_t max, double theta);
/* With a precomputed zetan (as ScrambledZipfianGenerator does). */
void ycsb_zipfian_init_zeta(struct ycsb_zipfian *z, int64_t min, int64_t max, double theta,
                            double zetan);
/* ZipfianGenerator.nextLong(itemcount); nextValue() is next(z, r, z->items). */
int64_t ycsb_zipfian_next(struct ycsb_zipfian *z, struct ycsb_rng *r, int64_t itemcount);

/* ScrambledZipfianGenerator: a zipfian value over ITEM_COUNT + 1 = 10^10 + 1 items with the
   precomputed ZETAN, hashed with fnvhash64, modulo the item count: popular items scattered
   over min..max. Only for theta = 0.99 (YCSB's default). */
#define YCSB_SCRAMBLED_ITEM_COUNT 10000000000LL
#define YCSB_SCRAMBLED_ZETAN 26.46902820178302
struct ycsb_scrambled {
  struct ycsb_zipfian z;
  int64_t min, itemcount;
};
void ycsb_scrambled_init(struct ycsb_scrambled *g, int64_t min, int64_t max);
int64_t ycsb_scrambled_next(struct ycsb_scrambled *g, struct ycsb_rng *r);

/* CounterGenerator / AcknowledgedCounterGenerator. One client thread: each insert is
   acknowledged as soon as it is issued, so the acknowledged limit is simply next - 1 and the
   acknowledgement window is not needed (see README.md). */
struct ycsb_counter {
  int64_t next;
};
static inline int64_t ycsb_counter_next(struct ycsb_counter *c) { return c->next++; }
static inline int64_t ycsb_counter_last(const struct ycsb_counter *c) { return c->next - 1; }

/* SkewedLatestGenerator: last - zipfian(last), over the counter's last value, with a
   ZipfianGenerator built over the counter's last value at construction (so last + 1 - 1
   items) and extended incrementally as the counter grows. */
struct ycsb_latest {
  struct ycsb_zipfian z;
};
void ycsb_latest_init(struct ycsb_latest *g, const struct ycsb_counter *basis);
int64_t ycsb_latest_next(struct ycsb_latest *g, struct ycsb_rng *r,
                         const struct ycsb_counter *basis);

/* ---- The core workload (workloads/CoreWorkload.java, workloads/workloada..f) -------------- */

enum ycsb_optype {
  YCSB_READ,
  YCSB_UPDATE,
  YCSB_INSERT,
  YCSB_SCAN,
  YCSB_READMODIFYWRITE,
  YCSB_NOPTYPES
};
enum ycsb_dist { YCSB_UNIFORM, YCSB_ZIPFIAN, YCSB_LATEST };

struct ycsb_op {
  enum ycsb_optype type;
  /* The record: its number (insert order, 0..) and its key, buildKeyName(keynum). For a
     SCAN, the first key; for an INSERT, the new record's. */
  int64_t keynum;
  char key[YCSB_KEY_MAX]; /* NUL-terminated */
  uint32_t keylen;
  /* SCAN: how many records to scan from key (scanlength generator); else 0. */
  uint32_t scanlen;
  /* UPDATE and READMODIFYWRITE: the one field written (writeallfields=false), 0..fieldcount-1;
     else 0. READ, SCAN and the read of READMODIFYWRITE read all fields (readallfields=true
     in every workload file); INSERT writes all fields. */
  uint32_t field;
};

struct ycsb {
  /* The workload: set by ycsb_init. The first group may be changed before the first
     ycsb_next; the rest fix the generators built by ycsb_init. */
  uint32_t fieldcount;  /* 10 (fieldcount) */
  uint32_t fieldlength; /* 100 (fieldlength; constant field length distribution) */
  uint32_t zeropadding; /* 1 (zeropadding), at most YCSB_MAX_ZEROPADDING */
  int orderedinserts;   /* 0 (insertorder=hashed) */
  uint32_t minscanlength, maxscanlength; /* 1 and 1000; workload E: 1..100 */

  char workload; /* 'a'..'f' */
  int64_t recordcount, operationcount;
  double proportion[YCSB_NOPTYPES]; /* readproportion, updateproportion, insertproportion,
                                       scanproportion, readmodifywriteproportion */
  enum ycsb_dist requestdistribution;

  /* State. */
  struct ycsb_rng rng;   /* every draw of the operation stream */
  struct ycsb_rng vrng;  /* ycsb_random_value's bytes only */
  struct ycsb_counter insertkeys; /* transactioninsertkeysequence, from recordcount */
  struct ycsb_uniform uniform;    /* keychooser when requestdistribution=uniform */
  struct ycsb_scrambled scrambled;/* ... zipfian */
  struct ycsb_latest latest;      /* ... latest */
  int64_t done;                   /* operations given so far */
};

/* Sets up workload 'a'..'f' (or 'A'..'F') for records records (>= 1; >= 2 for D) and ops
   operations, with its generators seeded from seed. Returns 0, or -1 for an unknown workload
   or a record count out of range (1..2^31-1 as YCSB's int keys). Workload D's latest
   generator sums zeta over records - 1 items here (one pow each). */
int ycsb_init(struct ycsb *w, char workload, uint64_t records, uint64_t ops, uint64_t seed);

/* buildKeyName(keynum): "user" and the decimal of fnvhash64(keynum) (or of keynum itself
   with orderedinserts), zero-padded to zeropadding digits. Writes it and a NUL into buf
   (YCSB_KEY_MAX bytes) and returns its length. */
size_t ycsb_key(const struct ycsb *w, int64_t keynum, char *buf);
/* The load phase inserts records 0..recordcount-1 in order (CoreWorkload.doInsert with
   keysequence from insertstart = 0): record i's key. */
size_t ycsb_load_key(const struct ycsb *w, uint64_t i, char *buf);

/* The next operation of the run phase (CoreWorkload.doTransaction). Returns 1, or 0 once
   operationcount operations have been given. An INSERT's record counts as inserted from
   this call on (later operations may pick it). */
int ycsb_next(struct ycsb *w, struct ycsb_op *op);

/* "field" and the decimal of field (fieldnameprefix + i), NUL-terminated; returns the
   length. buf: 16 bytes. */
size_t ycsb_field_name(uint32_t field, char *buf);

/* A field's value: CoreWorkload.buildDeterministicValue(key, fieldname) (the dataintegrity
   mode's value): key, ':', the field name, then ':' and the decimal of Java's
   String.hashCode of everything so far, repeated, cut to len bytes. Writes exactly len bytes
   (no NUL) and returns len. The same (key, field, len) always gives the same bytes, so a
   reader can check what it reads. */
size_t ycsb_value(const struct ycsb *w, const char *key, uint32_t field, char *buf, size_t len);

/* Alternatively, YCSB's default random value (RandomByteIterator): len printable bytes,
   six from each 32-bit draw of w->vrng (a stream of its own, so the operation stream is the
   same whichever value function is used). */
size_t ycsb_random_value(struct ycsb *w, char *buf, size_t len);

/* "READ", "UPDATE", "INSERT", "SCAN", "READMODIFYWRITE". */
const char *ycsb_opname(enum ycsb_optype t);
