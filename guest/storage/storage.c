/* The storage stack's servers, one program: a RAM-disk server (blocks in its own memory), an
   xv6-style file-system server (guest/fs) keeping its blocks on the RAM disk, and a
   block-level client that checks the RAM disk. The harness (src/experiments/storage.ts) loads
   it once per process, writes each process's connections (`serve`, `call`), the kernel and
   where to park, and starts threads at the *_main entries; a SkyBridge server's handler is
   registered as *_handler instead of a thread. */
#include "fsproto.h"
#include "rpc.h"
#include "string.h"
#include "xv6fs.h"

enum { BLOCK = 1024, RAMDISK_BLOCKS = 16 * 1024, OP_READ = 1, OP_WRITE = 2, OP_SIZE = 3,
       OP_REVIVE = 4 };
enum { E_RANGE = -1, E_BUFFER = -2, E_OP = -3 };

struct rpc_chan serve, call;
uint64_t rpc_kernel, rpc_park_target;
void *rpc_ipc_buffer;
volatile uint64_t out[8];

/* ---- RAM disk ----------------------------------------------------------------------- */

static uint8_t disk[RAMDISK_BLOCKS * BLOCK];
volatile uint64_t disk_reads, disk_writes;
/* Blocks the disk offers (0: all of it); the harness may make it smaller. */
uint64_t disk_blocks;
/* A power failure: after this many block writes (0: never) the disk keeps no more of them,
   while still answering that they were done, until OP_REVIVE (the machine restarting). */
uint64_t crash_after;
volatile uint64_t dropped_writes;

static uint64_t disk_size(void) {
  return disk_blocks != 0 && disk_blocks < RAMDISK_BLOCKS ? disk_blocks : RAMDISK_BLOCKS;
}

/* READ(first, n): n blocks into the buffer; WRITE(first, n): n blocks from it. The range is
   checked against the disk and the buffer; data crosses the buffer once each way. */
static int64_t ramdisk_op(uint64_t op, uint64_t first, uint64_t n, uint8_t *buf, uint64_t bytes,
                          uint64_t *value) {
  uint64_t size = disk_size();
  if (op == OP_SIZE) {
    *value = size;
    return 0;
  }
  if (op == OP_REVIVE) {
    crash_after = 0;
    return 0;
  }
  if (first > size || n > size - first) return E_RANGE;
  if (buf == 0 || n > bytes / BLOCK) return E_BUFFER;
  if (op == OP_READ) {
    memcpy(buf, disk + first * BLOCK, n * BLOCK);
    disk_reads += n;
  } else if (op == OP_WRITE) {
    if (crash_after != 0 && disk_writes + n > crash_after) {
      dropped_writes += n; /* lost with the power */
    } else {
      sb_copy(disk + first * BLOCK, buf, n * BLOCK);
    }
    disk_writes += n;
  } else {
    return E_OP;
  }
  *value = n;
  return 0;
}

uint64_t ramdisk_handler(uint64_t op, uint64_t a, uint64_t b, const struct sb_call *c) {
  return rpc_sb_handler(ramdisk_op, op, a, b, c);
}

void ramdisk_main(uint64_t unused, void *ipc) {
  (void)unused;
  rpc_server_main(&serve, ramdisk_op, ipc);
}

/* ---- The file-system server --------------------------------------------------------
   Its blocks are on the RAM disk (`call`), one block per request, through the shared
   buffer; it serves `serve` (FSOP_* in fsproto.h). The file system is made and mounted on
   the first request (a SkyBridge server has no thread to do it before), which the client's
   set-up makes before anything is measured. */

static struct fs fs;
static int fs_ready;
/* Why the file system would not mount (fs_strerror and fs_errdetail), for the harness. */
char fs_error[192];
static uint8_t path[FS_NAME_MAX * 8 + 1];
static uint8_t data[64 * 1024];
volatile uint64_t fs_ops, fs_block_reads, fs_block_writes;

static int bdev_read(void *ctx, uint32_t block, void *buf) {
  (void)ctx;
  fs_block_reads++;
  rpc_result r = rpc_call(&call, OP_READ, block, 1);
  if (r.status < 0) return -1;
  sb_copy(buf, rpc_buffer(&call), BLOCK);
  return 0;
}

static int bdev_write(void *ctx, uint32_t block, const void *buf) {
  (void)ctx;
  fs_block_writes++;
  memcpy(rpc_buffer(&call), buf, BLOCK);
  return rpc_call(&call, OP_WRITE, block, 1).status < 0 ? -1 : 0;
}

/* FS_E* → the negative errno libfs.h promises. */
static int64_t errno_of(int e) {
  switch (e) {
    case FS_ENOENT: return -2;
    case FS_EEXIST: return -17;
    case FS_ENOTDIR: return -20;
    case FS_EISDIR: return -21;
    case FS_ENOSPC: return -28;
    case FS_ENAMETOOLONG: return -36;
    case FS_EINVAL: return -22;
    case FS_EFBIG: return -27;
    case FS_ENFILE: return -23;
    case FS_EBADF: return -9;
    default: return -5; /* EIO */
  }
}

/* The path in the buffer, copied in and NUL-terminated within it. */
static int copy_path(const uint8_t *buf, uint64_t bytes) {
  uint64_t n = bytes < sizeof path ? bytes : sizeof path;
  sb_copy(path, buf, n);
  for (uint64_t i = 0; i < n; i++)
    if (path[i] == 0) return 0;
  return -36;
}

static int64_t fs_start(void) {
  struct fs_bdev dev = {bdev_read, bdev_write, 0, 0};
  rpc_result size = rpc_call(&call, OP_SIZE, 0, 0);
  if (size.status < 0) return -5;
  dev.nblocks = (uint32_t)size.value;
  int e = fs_mount(&fs, &dev);
  if (e == FS_EBADMAGIC) {
    e = fs_mkfs(&dev, 256);
    if (e == 0) e = fs_mount(&fs, &dev);
    if (e == 0) e = fs_mkdir(&fs, "/tmp"); /* where SQLite names its temporary files */
  }
  if (e < 0) {
    const char *what = fs_strerror(e), *detail = fs_errdetail(&fs);
    size_t n = strlen(what);
    if (n > sizeof fs_error - 1) n = sizeof fs_error - 1;
    memcpy(fs_error, what, n);
    if (detail && *detail && n + 2 < sizeof fs_error - 1) {
      fs_error[n++] = ':', fs_error[n++] = ' ';
      size_t d = strlen(detail);
      if (d > sizeof fs_error - 1 - n) d = sizeof fs_error - 1 - n;
      memcpy(fs_error + n, detail, d);
      n += d;
    }
    fs_error[n] = 0;
    return errno_of(e);
  }
  fs_ready = 1;
  return 0;
}

static int64_t fs_op(uint64_t op, uint64_t a, uint64_t b, uint8_t *buf, uint64_t bytes,
                     uint64_t *value) {
  fs_ops++;
  if (op == FSOP_RESTART) {
    /* The machine restarted: what the server held in memory is gone, the disk works again,
       and the next request mounts what the disk kept (replaying a committed log). */
    memset(&fs, 0, sizeof fs);
    fs_ready = 0;
    return rpc_call(&call, OP_REVIVE, 0, 0).status < 0 ? -5 : 0;
  }
  if (!fs_ready) {
    int64_t e = fs_start();
    if (e < 0) return e;
  }
  uint32_t inum = (uint32_t)a, n = (uint32_t)(a >> 32);
  int e = 0;
  switch (op) {
    case FSOP_OPEN: {
      if (copy_path(buf, bytes) < 0) return -36;
      int flags = (a & 1 ? FS_O_CREAT : 0) | (a & 2 ? FS_O_EXCL : 0);
      e = fs_open(&fs, (const char *)path, flags);
      if (e >= 0) *value = (uint64_t)e;
      break;
    }
    case FSOP_CLOSE:
      e = fs_close(&fs, inum);
      break;
    case FSOP_PREAD:
      if (n > bytes || n > sizeof data) return -22;
      e = fs_read(&fs, inum, b, data, n);
      if (e >= 0) {
        memcpy(buf, data, (uint64_t)e);
        *value = (uint64_t)e;
      }
      break;
    case FSOP_PWRITE:
      if (n > bytes || n > sizeof data) return -22;
      sb_copy(data, buf, n); /* copied in once: the client may change the buffer meanwhile */
      e = fs_write(&fs, inum, b, data, n);
      if (e >= 0) *value = (uint64_t)e;
      break;
    case FSOP_TRUNCATE:
      e = fs_truncate(&fs, inum, b);
      break;
    case FSOP_SIZE: {
      struct fs_stat st;
      e = fs_stat(&fs, inum, &st);
      if (e >= 0) *value = st.size;
      break;
    }
    case FSOP_SYNC:
      e = fs_fsync(&fs, inum);
      break;
    case FSOP_UNLINK:
      if (copy_path(buf, bytes) < 0) return -36;
      e = fs_unlink(&fs, (const char *)path);
      break;
    case FSOP_EXISTS:
      if (copy_path(buf, bytes) < 0) return -36;
      e = fs_open(&fs, (const char *)path, 0);
      *value = e >= 0;
      if (e >= 0) e = fs_close(&fs, (uint32_t)e);
      else if (e == FS_ENOENT) e = 0;
      break;
    default:
      return E_OP;
  }
  return e < 0 ? errno_of(e) : 0;
}

uint64_t fs_handler(uint64_t op, uint64_t a, uint64_t b, const struct sb_call *c) {
  return rpc_sb_handler(fs_op, op, a, b, c);
}

void fs_main(uint64_t unused, void *ipc) {
  (void)unused;
  rpc_server_main(&serve, fs_op, ipc);
}

/* ---- Many threads at once (experiment multicore-sqlite) ------------------------------
   Built as the program mc-storage, with STORAGE_MANY_THREADS defined; the program storage is
   built without any of it, so its image, and every single-threaded figure, is unchanged (a
   shift of code or data moves the stack's cycles by a few per cent through the caches).
   A server whose requests may be served by several threads at the same time (natively a
   serving thread on each client core; under SkyBridge the handler running on every
   client's core) takes one lock around each request: the file system's buffer cache, log,
   inodes and open files, its connection onward to the RAM disk, and the RAM disk's
   counters are each one state. The harness starts or registers the *_mt entries only when
   a server has more than one thread; with one thread it uses the entries above, which take
   no lock. The lock is a ticket lock: a request takes a ticket (LOCK XADD) and spins with
   PAUSE until its number is served, so requests enter in the order they came. Serving
   thread i serves `serves[i]`; an FS thread's own onward connection is `calls[i]`. */
#ifdef STORAGE_MANY_THREADS
enum { MAX_THREADS = 16 };
struct rpc_chan serves[MAX_THREADS], calls[MAX_THREADS];
static void *ipcs[MAX_THREADS];
static volatile uint32_t next_ticket, now_serving;
/* For the harness: requests served under the lock, those that found it taken, the PAUSE
   loops they spun and the cycles they waited (each waiter's own RDTSC). Updated only by
   the holder. */
volatile uint64_t lock_taken, lock_contended, lock_spins, lock_wait_cycles;

static inline uint64_t rdtsc(void) {
  uint32_t lo, hi;
  __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
  return ((uint64_t)hi << 32) | lo;
}

static void lock(void) {
  uint32_t me = __atomic_fetch_add(&next_ticket, 1, __ATOMIC_RELAXED);
  if (__atomic_load_n(&now_serving, __ATOMIC_ACQUIRE) != me) {
    uint64_t t0 = rdtsc(), spins = 0;
    while (__atomic_load_n(&now_serving, __ATOMIC_ACQUIRE) != me) {
      __asm__ volatile("pause");
      spins++;
    }
    lock_contended++;
    lock_spins += spins;
    lock_wait_cycles += rdtsc() - t0;
  }
  lock_taken++;
}

static void unlock(void) {
  __atomic_store_n(&now_serving, now_serving + 1, __ATOMIC_RELEASE);
}

static int64_t ramdisk_op_mt(uint64_t op, uint64_t a, uint64_t b, uint8_t *buf, uint64_t bytes,
                             uint64_t *value) {
  lock();
  int64_t st = ramdisk_op(op, a, b, buf, bytes, value);
  unlock();
  return st;
}

/* Natively, the request came in on thread i's connection (its buffer says which), and the
   file system goes on to the RAM disk through thread i's own connection and UTCB / IPC
   buffer; under SkyBridge there is one onward connection, `call`, which the lock makes
   safe to share. */
static int64_t fs_op_mt(uint64_t op, uint64_t a, uint64_t b, uint8_t *buf, uint64_t bytes,
                        uint64_t *value) {
  lock();
  for (int i = 0; i < MAX_THREADS; i++)
    if (calls[i].kind != 0 && serves[i].buffer == buf) {
      call = calls[i];
      rpc_ipc_buffer = ipcs[i];
      break;
    }
  int64_t st = fs_op(op, a, b, buf, bytes, value);
  unlock();
  return st;
}

uint64_t ramdisk_handler_mt(uint64_t op, uint64_t a, uint64_t b, const struct sb_call *c) {
  return rpc_sb_handler(ramdisk_op_mt, op, a, b, c);
}

uint64_t fs_handler_mt(uint64_t op, uint64_t a, uint64_t b, const struct sb_call *c) {
  return rpc_sb_handler(fs_op_mt, op, a, b, c);
}

/* Serving thread i of several. */
void ramdisk_main_mt(uint64_t i, void *ipc) { rpc_serve(&serves[i], ramdisk_op_mt, ipc); }

void fs_main_mt(uint64_t i, void *ipc) {
  ipcs[i] = ipc;
  rpc_serve(&serves[i], fs_op_mt, ipc);
}

/* One FS thread serving `n` clients, each with its own connection serves[i] (rpc.h's
   rpc_serve_many): no lock, one thread. */
void fs_main_many(uint64_t n, void *ipc) {
  rpc_ipc_buffer = ipc;
  rpc_serve_many(serves, n, fs_op, ipc);
}
#endif

/* ---- A block client, to check the stack below the file system ------------------------ */

/* Writes `n` blocks (block i filled with i * 7 + j), reads them back one by one and
   compares: out[0] = blocks that came back right, out[1] = the first failing status. */
void blocks_main(uint64_t n, void *ipc) {
  rpc_ipc_buffer = ipc;
  uint8_t *buf = rpc_buffer(&call);
  for (uint64_t i = 0; i < n; i++) {
    for (uint64_t j = 0; j < BLOCK; j++) buf[j] = (uint8_t)(i * 7 + j);
    rpc_result r = rpc_call(&call, OP_WRITE, i * 3, 1);
    if (r.status != 0 && out[1] == 0) out[1] = (uint64_t)r.status;
  }
  for (uint64_t i = 0; i < n; i++) {
    rpc_result r = rpc_call(&call, OP_READ, i * 3, 1);
    if (r.status != 0 && out[1] == 0) out[1] = (uint64_t)r.status;
    int same = 1;
    for (uint64_t j = 0; j < BLOCK; j++) same &= buf[j] == (uint8_t)(i * 7 + j);
    out[0] += same;
  }
  rpc_park();
}

int main(void) { return 0; }
