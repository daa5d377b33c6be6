/* The SQLite amalgamation running SQL on our VFS (files in memory): a schema of customers
   and orders, a few hundred deterministic rows inserted in one transaction, then counts,
   sums, ORDER BY with LIMIT, a JOIN, an index lookup (and the plan that says so), an UPDATE,
   a DELETE, and a GROUP BY with REAL arithmetic. Every row is printed as SQLite's own text
   for its values, so the output is the same wherever the same instructions run. */
#include "libc.h"
#include "libsqlite-os.h"
#include "sqlite3.h"

enum { CUSTOMERS = 24, ORDERS = 600 };

static sqlite3 *db;

static _Noreturn void fail(const char *what) {
  dprintf(2, "sqlite-demo: %s: %s\n", what, db ? sqlite3_errmsg(db) : "no database");
  exit_group(1);
}

/* Runs one statement and prints its rows, columns separated by '|', NULL as "NULL". */
static void query(const char *title, const char *sql) {
  sqlite3_stmt *st;
  printf("-- %s\n", title);
  if (sqlite3_prepare_v2(db, sql, -1, &st, 0) != SQLITE_OK) fail(sql);
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    for (int i = 0; i < sqlite3_column_count(st); i++) {
      const unsigned char *v = sqlite3_column_text(st, i);
      printf("%s%s", i ? "|" : "", v ? (const char *)v : "NULL");
    }
    printf("\n");
  }
  if (rc != SQLITE_DONE) fail(sql);
  sqlite3_finalize(st);
}

static void exec(const char *sql) {
  if (sqlite3_exec(db, sql, 0, 0, 0) != SQLITE_OK) fail(sql);
}

/* A statement that changes rows: prints how many it changed. */
static void change(const char *title, const char *sql) {
  exec(sql);
  printf("-- %s\n%d rows\n", title, sqlite3_changes(db));
}

static uint32_t lcg_state = 12345;
static uint32_t lcg(uint32_t n) {
  lcg_state = lcg_state * 1103515245u + 12345u;
  return (lcg_state >> 8) % n;
}

static const char *const cities[] = {"Shanghai", "Boston", "Zurich", "Lyon", "Kyoto"};
static const char *const names[] = {"ada", "bo", "cy", "di", "ed", "flo", "gus", "hal"};

static void bind_ok(int rc) {
  if (rc != SQLITE_OK) fail("bind");
}

static void insert_rows(void) {
  sqlite3_stmt *st;
  exec("BEGIN");
  if (sqlite3_prepare_v2(db, "INSERT INTO customers VALUES (?1, ?2, ?3)", -1, &st, 0))
    fail("prepare customers");
  for (int i = 1; i <= CUSTOMERS; i++) {
    char name[32];
    sqlite3_snprintf(sizeof name, name, "%s-%d", names[i % 8], i);
    bind_ok(sqlite3_bind_int(st, 1, i));
    bind_ok(sqlite3_bind_text(st, 2, name, -1, SQLITE_TRANSIENT));
    bind_ok(sqlite3_bind_text(st, 3, cities[lcg(5)], -1, SQLITE_STATIC));
    if (sqlite3_step(st) != SQLITE_DONE) fail("insert customer");
    sqlite3_reset(st);
  }
  sqlite3_finalize(st);
  if (sqlite3_prepare_v2(db, "INSERT INTO orders (customer, amount, qty, note) VALUES (?, ?, ?, ?)",
                         -1, &st, 0))
    fail("prepare orders");
  for (int i = 1; i <= ORDERS; i++) {
    bind_ok(sqlite3_bind_int(st, 1, 1 + (int)lcg(CUSTOMERS)));
    bind_ok(sqlite3_bind_double(st, 2, (double)lcg(100000) / 100.0)); /* 0.00 .. 999.99 */
    bind_ok(sqlite3_bind_int(st, 3, 1 + (int)lcg(12)));
    if (i % 5 == 0) bind_ok(sqlite3_bind_null(st, 4));
    else bind_ok(sqlite3_bind_text(st, 4, names[lcg(8)], -1, SQLITE_STATIC));
    if (sqlite3_step(st) != SQLITE_DONE) fail("insert order");
    sqlite3_reset(st);
  }
  sqlite3_finalize(st);
  exec("COMMIT");
}

int main(void) {
  if (sqlite_guest_init() != SQLITE_OK) fail("sqlite_guest_init");
  /* SQLite's PRNG from a fixed seed, not from the VFS's getrandom: the program then takes
     the same path on the host, under valgrind and in the simulator, run after run. */
  sqlite3_test_control(SQLITE_TESTCTRL_PRNG_SEED, 1, (sqlite3 *)0);
  printf("SQLite %s\n", sqlite3_libversion());
  if (sqlite3_open("/demo.db", &db) != SQLITE_OK) fail("open /demo.db");
  exec("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT NOT NULL, city TEXT);"
       "CREATE TABLE orders (id INTEGER PRIMARY KEY, customer INTEGER REFERENCES customers,"
       " amount REAL, qty INTEGER, note TEXT)");
  insert_rows();
  exec("CREATE INDEX orders_customer ON orders (customer)");

  query("count", "SELECT COUNT(*), COUNT(note), COUNT(DISTINCT customer) FROM orders");
  query("sums", "SELECT SUM(qty), SUM(amount), TOTAL(amount * qty), MIN(amount), MAX(amount)"
                " FROM orders");
  query("largest five orders",
        "SELECT id, customer, amount, qty FROM orders ORDER BY amount DESC, id LIMIT 5");
  query("join: best customers by quantity",
        "SELECT c.name, c.city, COUNT(*), SUM(o.qty) FROM customers c"
        " JOIN orders o ON o.customer = c.id GROUP BY c.id ORDER BY 4 DESC, 1 LIMIT 5");
  query("index lookup plan", "EXPLAIN QUERY PLAN SELECT * FROM orders WHERE customer = 7");
  query("index lookup",
        "SELECT COUNT(*), MIN(id), MAX(id), SUM(qty) FROM orders WHERE customer = 7");
  change("update: 10% more on large quantities",
         "UPDATE orders SET amount = ROUND(amount * 1.1, 2) WHERE qty >= 10");
  change("delete: every seventh order", "DELETE FROM orders WHERE id % 7 = 0");
  query("group by city, REAL arithmetic",
        "SELECT c.city, COUNT(*), ROUND(AVG(o.amount), 3), SUM(o.amount * o.qty) / COUNT(*),"
        " printf('%.4f', SUM(o.amount) / SUM(o.qty)), MAX(o.amount) - MIN(o.amount)"
        " FROM orders o JOIN customers c ON c.id = o.customer GROUP BY c.city ORDER BY c.city");
  query("text and nulls",
        "SELECT note, COUNT(*), GROUP_CONCAT(id % 10, '') FROM orders WHERE id < 60"
        " GROUP BY note ORDER BY note NULLS FIRST");
  query("after the changes", "SELECT COUNT(*), SUM(qty), ROUND(SUM(amount), 2) FROM orders");
  query("integrity", "PRAGMA integrity_check");
  query("pages", "PRAGMA page_count");
  if (sqlite3_close(db) != SQLITE_OK) fail("close");
  db = 0;
  printf("done\n");
  return 0;
}
