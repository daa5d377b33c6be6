/* Our OS layer under SQLite, checked: the file store's own semantics (libfs.h), then SQLite
   through the VFS doing what needs the files to behave: a rollback that reads the journal
   back, a transaction larger than the page cache (pages spill to the database file and are
   read back), a database closed and opened again, VACUUM (which truncates), the journal
   modes that delete, truncate and keep the journal, and an in-memory temporary table. In
   between, the VFS's own methods on a file without a name.
   Prints "ok"/"FAIL" per check and exits with the number of failures. */
#include "libc.h"
#include "libfs.h"
#include "libsqlite-os.h"
#include "sqlite3.h"

/* Rows of 100-byte text in 1 KiB pages: about ROWS / 8 pages, several times the cache of
   10 pages. (Small pages: the same spills and journal traffic for a quarter of the copying.) */
#ifndef ROWS
#define ROWS 600
#endif
enum { PAGE_SIZE = 1024 };

static int failures;
static sqlite3 *db;

static void check(const char *what, int ok) {
  printf("%s %s\n", ok ? "ok  " : "FAIL", what);
  if (!ok) failures++;
}

static _Noreturn void fail(const char *what) {
  dprintf(2, "sqlite-vfs: %s: %s\n", what, db ? sqlite3_errmsg(db) : "no database");
  exit_group(100);
}

static void exec(const char *sql) {
  if (sqlite3_exec(db, sql, 0, 0, 0) != SQLITE_OK) fail(sql);
}

/* The first column of the first row of sql, as an integer. */
static sqlite3_int64 one(const char *sql) {
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(db, sql, -1, &st, 0) != SQLITE_OK) fail(sql);
  if (sqlite3_step(st) != SQLITE_ROW) fail(sql);
  sqlite3_int64 v = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  return v;
}

/* SQL text made by SQLite's printf, in a buffer that the next call reuses. */
static const char *sqlf(const char *fmt, ...) {
  static char buf[512];
  va_list ap;
  va_start(ap, fmt);
  sqlite3_vsnprintf(sizeof buf, buf, fmt, ap);
  va_end(ap);
  return buf;
}

static uint64_t size_of(const char *path) {
  fs_file *f;
  uint64_t n = 0;
  if (fs_open(path, 0, &f) < 0) return (uint64_t)-1;
  fs_size(f, &n);
  fs_close(f);
  return n;
}

static void store(void) {
  fs_file *a, *b;
  unsigned char buf[16];
  printf("-- the file store\n");
  check("open without FS_CREATE: ENOENT", fs_open("/x", 0, &a) == -ENOENT);
  check("create", fs_open("/x", FS_CREATE | FS_EXCL, &a) == 0 && fs_exists("/x") == 1);
  check("create again, exclusive: EEXIST", fs_open("/x", FS_CREATE | FS_EXCL, &b) == -EEXIST);
  check("write past the end", fs_pwrite(a, "abc", 3, 5000) == 3);
  uint64_t n = 0;
  check("size is 5003", fs_size(a, &n) == 0 && n == 5003);
  memset(buf, 0xff, sizeof buf);
  check("the gap reads as zeros", fs_pread(a, buf, 4, 4997) == 4 && buf[0] == 0 &&
                                      buf[2] == 0 && buf[3] == 'a');
  check("short read at the end", fs_pread(a, buf, 16, 5000) == 3 && buf[2] == 'c');
  check("read at the end: 0", fs_pread(a, buf, 16, 5003) == 0);
  check("truncate to 5001, then extend", fs_truncate(a, 5001) == 0 && fs_truncate(a, 6000) == 0);
  check("bytes cut off read as zeros", fs_pread(a, buf, 3, 5000) == 3 && buf[0] == 'a' &&
                                           buf[1] == 0 && buf[2] == 0);
  static unsigned char big[70000];
  for (unsigned i = 0; i < sizeof big; i++) big[i] = (unsigned char)(i * 7 + (i >> 8));
  check("a 70000-byte write (the buffer grows)", fs_pwrite(a, big, sizeof big, 1) == 70000);
  int same = 1;
  for (unsigned i = 0; i < sizeof big; i += 997) {
    fs_pread(a, buf, 1, 1 + i);
    same &= buf[0] == big[i];
  }
  check("and reads back", same && fs_pread(a, buf, 1, 0) == 1 && buf[0] == 0);
  check("a second handle on it", fs_open("/x", FS_CREATE, &b) == 0);
  check("unlink while open", fs_unlink("/x") == 0 && fs_exists("/x") == 0);
  check("the open file still reads", fs_pread(b, buf, 1, 70000) == 1 && buf[0] == big[69999]);
  check("unlink again: ENOENT", fs_unlink("/x") == -ENOENT);
  check("a new file of the same name is empty",
        fs_close(a) == 0 && fs_open("/x", FS_CREATE, &a) == 0 && fs_size(a, &n) == 0 && n == 0);
  check("close both", fs_close(a) == 0 && fs_close(b) == 0 && fs_unlink("/x") == 0);
}

/* The VFS called directly: a file SQLite would open without a name (a temporary file). */
static void vfs_direct(void) {
  sqlite3_vfs *vfs = sqlite3_vfs_find(0);
  check("the default VFS is ours", vfs && strcmp(vfs->zName, "skybridge") == 0);
  sqlite3_file *f = sqlite3_malloc(vfs->szOsFile);
  if (!f) fail("sqlite3_malloc");
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_TEMP_JOURNAL;
  check("a file without a name opens", vfs->xOpen(vfs, 0, f, flags, &flags) == SQLITE_OK);
  check("and has no name in the store", fs_exists("/tmp/sqlite-temp-0") == 0);
  char buf[8];
  sqlite3_int64 size = 0;
  check("write at 8192, size 8197", f->pMethods->xWrite(f, "hello", 5, 8192) == SQLITE_OK &&
                                         f->pMethods->xFileSize(f, &size) == SQLITE_OK &&
                                         size == 8197);
  check("a short read says so and fills with zeros",
        f->pMethods->xRead(f, buf, 8, 8192) == SQLITE_IOERR_SHORT_READ &&
            memcmp(buf, "hello\0\0\0", 8) == 0);
  check("truncate", f->pMethods->xTruncate(f, 100) == SQLITE_OK &&
                        f->pMethods->xFileSize(f, &size) == SQLITE_OK && size == 100);
  check("close", f->pMethods->xClose(f) == SQLITE_OK);
  sqlite3_free(f);
  check("deleting a missing file: SQLITE_IOERR_DELETE_NOENT",
        vfs->xDelete(vfs, "/none", 0) == SQLITE_IOERR_DELETE_NOENT);
}

static void open_db(void) {
  if (sqlite3_open("/t.db", &db) != SQLITE_OK) fail("open /t.db");
}

static void close_db(void) {
  if (sqlite3_close(db) != SQLITE_OK) fail("close");
  db = 0;
}

int main(void) {
  store();
  if (sqlite_guest_init() != SQLITE_OK) fail("sqlite_guest_init");
  /* SQLite's PRNG from a fixed seed, not from the VFS's getrandom: the program then takes
     the same path on the host, under valgrind and in the simulator, run after run. */
  sqlite3_test_control(SQLITE_TESTCTRL_PRNG_SEED, 1, (sqlite3 *)0);
  printf("-- the VFS\n");
  vfs_direct();
  printf("-- SQLite on the VFS\n");
  open_db();
  exec(sqlf("PRAGMA page_size = %d; PRAGMA cache_size = 10;"
            " CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT)",
            PAGE_SIZE));
  check("the database file exists", fs_exists("/t.db") == 1);
  exec(sqlf("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < %d)"
            " INSERT INTO t SELECT i, printf('%%0100d', i * 7919 %% 10007) FROM n",
            ROWS));
  sqlite3_int64 pages = one("PRAGMA page_count");
  check("more pages than the cache holds", pages > 50);
  check("no journal after the commit", fs_exists("/t.db-journal") == 0);
  check("the file is page_count pages", size_of("/t.db") == (uint64_t)pages * PAGE_SIZE);
  sqlite3_int64 sum = one("SELECT SUM(CAST(v AS INTEGER)) FROM t");

  exec(sqlf("BEGIN; UPDATE t SET v = 'x'; DELETE FROM t WHERE k > %d", ROWS / 2));
  check("inside a transaction, a journal", fs_exists("/t.db-journal") == 1);
  check("the changes are seen", one("SELECT COUNT(*) FROM t WHERE v = 'x'") == ROWS / 2);
  exec("ROLLBACK");
  check("rollback restores every row", one("SELECT COUNT(*) FROM t") == ROWS &&
                                           one("SELECT SUM(CAST(v AS INTEGER)) FROM t") == sum);
  check("and deletes the journal", fs_exists("/t.db-journal") == 0);

  close_db();
  open_db();
  check("closed and opened again: the same rows",
        one("SELECT SUM(CAST(v AS INTEGER)) FROM t") == sum);
  check("integrity", one("SELECT integrity_check = 'ok' FROM pragma_integrity_check") == 1);

  exec("DELETE FROM t WHERE k % 4 != 0; VACUUM");
  sqlite3_int64 after = one("PRAGMA page_count");
  check("VACUUM shrinks the file",
        after < pages && size_of("/t.db") == (uint64_t)after * PAGE_SIZE);
  check("and keeps the rows", one("SELECT COUNT(*) FROM t") == ROWS / 4);

  exec("PRAGMA journal_mode = TRUNCATE; UPDATE t SET v = v || 'a' WHERE k < 200");
  check("journal_mode=TRUNCATE leaves an empty journal", size_of("/t.db-journal") == 0);
  exec("PRAGMA journal_mode = PERSIST; UPDATE t SET v = v || 'b' WHERE k < 200");
  check("journal_mode=PERSIST keeps it", size_of("/t.db-journal") > 0);
  exec("PRAGMA journal_mode = DELETE");
  check("journal_mode=DELETE deletes it", fs_exists("/t.db-journal") == 0);

  exec("CREATE TEMP TABLE s AS SELECT k, v FROM t ORDER BY v DESC");
  check("a temporary table (in memory)", one("SELECT COUNT(*) FROM s") == ROWS / 4);
  check("the time is after 1970", one("SELECT julianday('now') > 2440587.5") == 1);
  close_db();
  printf("%d failed\n", failures);
  return failures;
}
