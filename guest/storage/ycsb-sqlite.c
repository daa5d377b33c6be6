/* YCSB on SQLite on the storage stack: the client process. SQLite (the amalgamation, built
   by guest/build.mjs) runs on our VFS (guest/sqlite/libsqlite-os.c), whose file store is the
   file-system server (fsclient.c), which keeps its blocks on the RAM-disk server; every
   connection is SkyBridge or the kernel's own IPC (rpc.h), as the harness chose
   (src/experiments/storage.ts). The harness writes the workload into `param`, starts
   client_main, and reads `out` afterwards. This program makes no system call of its own
   except its connection's IPC and parking at the end, so it runs on any of the kernels. */
#include "libsqlite-os.h"
#include "linux.h"
#include "rpc.h"
#include "sqlite3.h"
#include "string.h"
#include "ycsb.h"

struct rpc_chan serve, call;
uint64_t rpc_kernel, rpc_park_target;
void *rpc_ipc_buffer;

/* Workload ('a'..'f'), records, operations, seed, and whether to restart after the run (a
   crash test: the harness arms the RAM disk to lose its writes from some point on). */
uint64_t param[5] = {'a', 100, 100, 1, 0};
int fs_restart(void);
enum { OUT_STEP, OUT_RC, OUT_OPS, OUT_BAD, OUT_LOAD_CYCLES, OUT_RUN_CYCLES, OUT_FS_LOAD,
       OUT_FS_RUN, OUT_COUNT /* + YCSB_NOPTYPES */ };
/* After OUT_COUNT's counts per type: SQLITE_FULL's aftermath. */
enum { OUT_FULL_ROWS = OUT_COUNT + YCSB_NOPTYPES, OUT_FULL_OK, OUT_RESTART_OK,
       OUT_RESTART_ROWS, OUT_WORDS };
volatile uint64_t out[OUT_WORDS];
extern volatile uint64_t fs_requests;

/* Many clients at once (experiment multicore-sqlite): built as the program mc-ycsb-sqlite
   with YCSB_MANY_CLIENTS defined; ycsb-sqlite itself is built without any of it, so its
   image, and with it every figure of the single-client experiments, is unchanged (a shift
   of code or data moves SQLite's cycles by a few per cent through the caches). Each client
   has its own database in the one file system (SQLite allows one writer per database; a
   shared one would serialise the clients in SQLite's own file lock): its name is
   `db_path`. The client says it has `loaded`, waits until its core's clock reaches
   `start_at` (the same for every client, set by the harness once all have loaded), stamps
   each run-phase operation's cycles into `lat` (the first LAT_MAX), the run phase's first
   and last RDTSC into `run_span`, and at the end counts its records into `rows_at_end`. */
#ifdef YCSB_MANY_CLIENTS
enum { LAT_MAX = 4096 };
char db_path[32] = "/ycsb.db";
volatile uint64_t loaded, start_at;
uint64_t lat[LAT_MAX], run_span[2];
volatile uint64_t rows_at_end;
#define DB_PATH db_path
#else
#define DB_PATH "/ycsb.db"
#endif

/* Random bytes and the time, without Linux: SQLite's PRNG is seeded explicitly below, so
   these only have to be deterministic. */
long sqlite_os_random(void *buf, size_t n) {
  static uint64_t x = 0x9e3779b97f4a7c15ull;
  for (size_t i = 0; i < n; i++) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    ((uint8_t *)buf)[i] = (uint8_t)x;
  }
  return (long)n;
}
int sqlite_os_realtime(struct timespec *ts) {
  ts->tv_sec = 1764547200; /* 2025-12-01: any fixed time */
  ts->tv_nsec = 0;
  return 0;
}

static inline uint64_t rdtsc(void) {
  uint32_t lo, hi;
  __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
  return ((uint64_t)hi << 32) | lo;
}

static sqlite3 *db;
static struct ycsb w;
enum { MAX_FIELDS = 16 };
static sqlite3_stmt *s_read, *s_insert, *s_scan, *s_update[MAX_FIELDS];
static char value[MAX_FIELDS][256];

static __attribute__((noreturn)) void stop(uint64_t step, int rc) {
  out[OUT_RC] = (uint64_t)rc;
  out[OUT_STEP] = step; /* last: the harness watches it */
  rpc_park();
}

static __attribute__((noreturn)) void full(uint64_t step);

/* Any other result stops the client; SQLITE_FULL first checks what survived (full()). */
static void check(int rc, uint64_t step) {
  if (rc == SQLITE_FULL) full(step);
  if (rc != SQLITE_OK && rc != SQLITE_DONE && rc != SQLITE_ROW) stop(step, rc);
}

static void exec(const char *sql, uint64_t step) { check(sqlite3_exec(db, sql, 0, 0, 0), step); }

/* PRAGMA integrity_check says "ok". */
static int integrity_ok(void) {
  sqlite3_stmt *st;
  int ok = 0;
  if (sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, 0) != SQLITE_OK) return 0;
  if (sqlite3_step(st) == SQLITE_ROW) {
    const unsigned char *v = sqlite3_column_text(st, 0);
    ok = v != 0 && strcmp((const char *)v, "ok") == 0;
  }
  sqlite3_finalize(st);
  return ok;
}

static void prepare(void) {
  char sql[512];
  check(sqlite3_prepare_v2(db, "SELECT * FROM usertable WHERE YCSB_KEY = ?", -1, &s_read, 0), 10);
  check(sqlite3_prepare_v2(db,
                           "SELECT * FROM usertable WHERE YCSB_KEY >= ? ORDER BY YCSB_KEY LIMIT ?",
                           -1, &s_scan, 0),
        11);
  char *p = sql;
  p += strlen(sqlite3_snprintf(sizeof sql, p, "INSERT INTO usertable VALUES (?"));
  for (uint32_t f = 0; f < w.fieldcount; f++) p += strlen(sqlite3_snprintf(8, p, ",?"));
  sqlite3_snprintf(4, p, ")");
  check(sqlite3_prepare_v2(db, sql, -1, &s_insert, 0), 12);
  for (uint32_t f = 0; f < w.fieldcount; f++) {
    sqlite3_snprintf(sizeof sql, sql, "UPDATE usertable SET FIELD%u = ? WHERE YCSB_KEY = ?", f);
    check(sqlite3_prepare_v2(db, sql, -1, &s_update[f], 0), 13);
  }
}

/* A field's new value: YCSB's default (RandomByteIterator, its own random stream). Its
   deterministic values (dataintegrity) would make every update write what is there, which
   SQLite notices and skips. */
static void fresh_value(uint32_t f) { ycsb_random_value(&w, value[f], w.fieldlength); }

/* The disk filled up: SQLite said SQLITE_FULL. What was committed must still be there: roll
   back, check the database and count its records (out[OUT_FULL_ROWS]), then stop. */
static __attribute__((noreturn)) void full(uint64_t step) {
  if (s_insert) sqlite3_reset(s_insert);
  sqlite3_exec(db, "ROLLBACK", 0, 0, 0);
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(db, "SELECT count(*) FROM usertable", -1, &st, 0) == SQLITE_OK &&
      sqlite3_step(st) == SQLITE_ROW)
    out[OUT_FULL_ROWS] = (uint64_t)sqlite3_column_int64(st, 0);
  out[OUT_FULL_OK] = integrity_ok();
  stop(step, SQLITE_FULL);
}

static void insert(const char *key, uint32_t keylen) {
  sqlite3_bind_text(s_insert, 1, key, (int)keylen, SQLITE_STATIC);
  for (uint32_t f = 0; f < w.fieldcount; f++) {
    fresh_value(f);
    sqlite3_bind_text(s_insert, (int)f + 2, value[f], (int)w.fieldlength, SQLITE_STATIC);
  }
  check(sqlite3_step(s_insert), 20);
  sqlite3_reset(s_insert);
}

/* Reads a record; returns 1 if it was there with every field whole. */
static int read_record(const char *key, uint32_t keylen) {
  sqlite3_bind_text(s_read, 1, key, (int)keylen, SQLITE_STATIC);
  int rc = sqlite3_step(s_read), ok = rc == SQLITE_ROW;
  check(rc, 21);
  for (uint32_t f = 0; ok && f < w.fieldcount; f++)
    ok = sqlite3_column_text(s_read, (int)f + 1) != 0 &&
         sqlite3_column_bytes(s_read, (int)f + 1) == (int)w.fieldlength;
  sqlite3_reset(s_read);
  return ok;
}

static void update(const char *key, uint32_t keylen, uint32_t f) {
  fresh_value(f);
  sqlite3_bind_text(s_update[f], 1, value[f], (int)w.fieldlength, SQLITE_STATIC);
  sqlite3_bind_text(s_update[f], 2, key, (int)keylen, SQLITE_STATIC);
  check(sqlite3_step(s_update[f]), 22);
  out[OUT_BAD] += sqlite3_changes(db) != 1; /* the record must have been there */
  sqlite3_reset(s_update[f]);
}

static void scan(const char *key, uint32_t keylen, uint32_t n) {
  sqlite3_bind_text(s_scan, 1, key, (int)keylen, SQLITE_STATIC);
  sqlite3_bind_int(s_scan, 2, (int)n);
  int rc;
  while ((rc = sqlite3_step(s_scan)) == SQLITE_ROW)
    for (uint32_t f = 0; f <= w.fieldcount; f++) (void)sqlite3_column_text(s_scan, (int)f);
  check(rc, 23);
  sqlite3_reset(s_scan);
}

/* rdi: unused; rsi: the thread's IPC buffer (Fiasco.OC's UTCB). */
void client_main(uint64_t unused, void *ipc) {
  (void)unused;
  rpc_ipc_buffer = ipc;
  if (ycsb_init(&w, (char)param[0], param[1], param[2], param[3]) != 0) stop(1, 0);
  check(sqlite_guest_init(), 2);
  sqlite3_test_control(SQLITE_TESTCTRL_PRNG_SEED, (int)param[3], 0);
  check(sqlite3_open(DB_PATH, &db), 3);
  exec("PRAGMA journal_mode=DELETE", 4);
  if (w.fieldcount > MAX_FIELDS || w.fieldlength > sizeof value[0]) stop(1, 0);
  char sql[512], *p = sql;
  p += strlen(sqlite3_snprintf(sizeof sql, p, "CREATE TABLE usertable (YCSB_KEY VARCHAR(255) PRIMARY KEY"));
  for (uint32_t f = 0; f < w.fieldcount; f++)
    p += strlen(sqlite3_snprintf(16, p, ", FIELD%u TEXT", f));
  sqlite3_snprintf(4, p, ")");
  exec(sql, 5);
  prepare();
  /* Load phase: the records in order, 100 to a transaction. */
  uint64_t t0 = rdtsc(), f0 = fs_requests;
  char key[YCSB_KEY_MAX];
  for (uint64_t i = 0; i < param[1]; i++) {
    if (i % 100 == 0) exec("BEGIN", 6);
    insert(key, (uint32_t)ycsb_load_key(&w, i, key));
    if (i % 100 == 99 || i + 1 == param[1]) exec("COMMIT", 7);
  }
  uint64_t t1 = rdtsc(), f1 = fs_requests;
  out[OUT_LOAD_CYCLES] = t1 - t0;
  out[OUT_FS_LOAD] = f1 - f0;
#ifdef YCSB_MANY_CLIENTS
  loaded = 1;
  while (start_at == 0 || rdtsc() < start_at) __asm__ volatile("pause");
  t1 = rdtsc(), f1 = fs_requests;
  uint64_t t_op = t1;
#endif
  /* Run phase: each operation its own transaction (autocommit), as YCSB's JDBC binding. */
  struct ycsb_op op;
  while (ycsb_next(&w, &op)) {
    switch (op.type) {
      case YCSB_READ:
        out[OUT_BAD] += !read_record(op.key, op.keylen);
        break;
      case YCSB_UPDATE:
        update(op.key, op.keylen, op.field);
        break;
      case YCSB_INSERT:
        insert(op.key, op.keylen);
        break;
      case YCSB_SCAN:
        scan(op.key, op.keylen, op.scanlen);
        break;
      case YCSB_READMODIFYWRITE:
        out[OUT_BAD] += !read_record(op.key, op.keylen);
        update(op.key, op.keylen, op.field);
        break;
      default:
        stop(8, 0);
    }
    out[OUT_COUNT + op.type]++;
#ifdef YCSB_MANY_CLIENTS
    uint64_t now = rdtsc();
    if (out[OUT_OPS] < LAT_MAX) lat[out[OUT_OPS]] = now - t_op;
    t_op = now;
#endif
    out[OUT_OPS]++;
  }
  out[OUT_RUN_CYCLES] = rdtsc() - t1;
#ifdef YCSB_MANY_CLIENTS
  run_span[0] = t1, run_span[1] = t1 + out[OUT_RUN_CYCLES];
#endif
  out[OUT_FS_RUN] = fs_requests - f1;
  if (param[4]) {
    /* Power comes back: SQLite and the FS server start from what the disk kept. SQLite
       rolls a hot journal back; the FS replays its committed log. */
    sqlite3_finalize(s_read);
    sqlite3_finalize(s_insert);
    sqlite3_finalize(s_scan);
    for (uint32_t f = 0; f < w.fieldcount; f++) sqlite3_finalize(s_update[f]);
    s_insert = 0;
    sqlite3_close(db);
    db = 0;
    if (fs_restart() != 0) stop(30, 0);
    check(sqlite3_open(DB_PATH, &db), 31);
    out[OUT_RESTART_OK] = integrity_ok();
    /* The table, if its creation was committed before the power went. */
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, "SELECT count(*) FROM usertable", -1, &st, 0) == SQLITE_OK) {
      if (sqlite3_step(st) == SQLITE_ROW)
        out[OUT_RESTART_ROWS] = (uint64_t)sqlite3_column_int64(st, 0);
      sqlite3_finalize(st);
    }
    out[OUT_STEP] = 100;
    rpc_park();
  }
  if (!integrity_ok()) stop(9, 0);
#ifdef YCSB_MANY_CLIENTS
  sqlite3_stmt *st;
  check(sqlite3_prepare_v2(db, "SELECT count(*) FROM usertable", -1, &st, 0), 40);
  if (sqlite3_step(st) == SQLITE_ROW) rows_at_end = (uint64_t)sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
#endif
  out[OUT_STEP] = 100; /* done */
  rpc_park();
}

int main(void) { return 0; }
