/* SQLite's OS layer for our guests: sqlite3_os_init/sqlite3_os_end, a VFS over libfs.h, and
   the heap. SQLite's locks are kept per handle and never conflict: one process, one
   connection per file, until a file-system server arbitrates between processes. */
#include "libc.h"
#include "libfs.h"
#include "libsqlite-os.h"
#include "sqlite3.h"

/* ---- Memory: memsys5 over a fixed arena --------------------------------------------------
   A .bss array rather than mmap: its addresses are then the same on the host, under valgrind
   and in the simulator, so nothing that compares heap pointers can take another path. */
enum { HEAP_BYTES = 8 << 20, HEAP_MIN_ALLOC = 64 };
static unsigned char heap[HEAP_BYTES] __attribute__((aligned(64)));

int sqlite_guest_init(void) {
  int rc = sqlite3_config(SQLITE_CONFIG_HEAP, heap, HEAP_BYTES, HEAP_MIN_ALLOC);
  return rc == SQLITE_OK ? sqlite3_initialize() : rc;
}

/* ---- Files ------------------------------------------------------------------------------ */

struct vfs_file {
  sqlite3_file base; /* first: SQLite sees a sqlite3_file */
  fs_file *f;
  int lock; /* SQLITE_LOCK_NONE .. SQLITE_LOCK_EXCLUSIVE */
};

static fs_file *fsof(sqlite3_file *file) { return ((struct vfs_file *)file)->f; }

static int vfs_close(sqlite3_file *file) {
  return fs_close(fsof(file)) < 0 ? SQLITE_IOERR_CLOSE : SQLITE_OK;
}

/* A short read fills the rest of the buffer with zeros and says so (SQLite requires both). */
static int vfs_read(sqlite3_file *file, void *buf, int amt, sqlite3_int64 off) {
  long n = fs_pread(fsof(file), buf, (size_t)amt, (uint64_t)off);
  if (n < 0) return SQLITE_IOERR_READ;
  if (n < amt) {
    memset((char *)buf + n, 0, (size_t)(amt - n));
    return SQLITE_IOERR_SHORT_READ;
  }
  return SQLITE_OK;
}

static int vfs_write(sqlite3_file *file, const void *buf, int amt, sqlite3_int64 off) {
  long n = fs_pwrite(fsof(file), buf, (size_t)amt, (uint64_t)off);
  if (n == -ENOMEM || n == -ENOSPC || n == -EFBIG) return SQLITE_FULL;
  return n == amt ? SQLITE_OK : SQLITE_IOERR_WRITE;
}

static int vfs_truncate(sqlite3_file *file, sqlite3_int64 size) {
  return fs_truncate(fsof(file), (uint64_t)size) < 0 ? SQLITE_IOERR_TRUNCATE : SQLITE_OK;
}

static int vfs_sync(sqlite3_file *file, int flags) {
  (void)flags;
  return fs_sync(fsof(file)) < 0 ? SQLITE_IOERR_FSYNC : SQLITE_OK;
}

static int vfs_file_size(sqlite3_file *file, sqlite3_int64 *size) {
  uint64_t n;
  if (fs_size(fsof(file), &n) < 0) return SQLITE_IOERR_FSTAT;
  *size = (sqlite3_int64)n;
  return SQLITE_OK;
}

static int vfs_lock(sqlite3_file *file, int level) {
  struct vfs_file *p = (struct vfs_file *)file;
  if (level > p->lock) p->lock = level;
  return SQLITE_OK;
}

static int vfs_unlock(sqlite3_file *file, int level) {
  struct vfs_file *p = (struct vfs_file *)file;
  if (level < p->lock) p->lock = level;
  return SQLITE_OK;
}

/* No other connection can hold a RESERVED lock on our files. */
static int vfs_check_reserved_lock(sqlite3_file *file, int *out) {
  (void)file;
  *out = 0;
  return SQLITE_OK;
}

static int vfs_file_control(sqlite3_file *file, int op, void *arg) {
  (void)file, (void)op, (void)arg;
  return SQLITE_NOTFOUND;
}

static int vfs_sector_size(sqlite3_file *file) {
  (void)file;
  return 4096;
}

/* As the unix VFS by default: writing a byte never damages bytes around it. No claim of
   atomic writes, so SQLite keeps its full rollback-journal protocol. */
static int vfs_device_characteristics(sqlite3_file *file) {
  (void)file;
  return SQLITE_IOCAP_POWERSAFE_OVERWRITE;
}

static const sqlite3_io_methods io_methods = {
    .iVersion = 1, /* no shared memory (no WAL), no memory-mapped I/O */
    .xClose = vfs_close,
    .xRead = vfs_read,
    .xWrite = vfs_write,
    .xTruncate = vfs_truncate,
    .xSync = vfs_sync,
    .xFileSize = vfs_file_size,
    .xLock = vfs_lock,
    .xUnlock = vfs_unlock,
    .xCheckReservedLock = vfs_check_reserved_lock,
    .xFileControl = vfs_file_control,
    .xSectorSize = vfs_sector_size,
    .xDeviceCharacteristics = vfs_device_characteristics,
};

/* ---- The VFS ---------------------------------------------------------------------------- */

enum { MAX_PATHNAME = 255 };

/* A file SQLite opens without a name (a temporary file) gets one from this counter and is
   unlinked at once, as the unix VFS does with a delete-on-close file: it lives until closed. */
static unsigned temp_files;

static int vfs_open(sqlite3_vfs *vfs, sqlite3_filename name, sqlite3_file *file, int flags,
                    int *out_flags) {
  (void)vfs;
  struct vfs_file *p = (struct vfs_file *)file;
  p->base.pMethods = 0; /* on failure SQLite must not call xClose */
  char temp[32];
  if (!name) {
    sqlite3_snprintf(sizeof temp, temp, "/tmp/sqlite-temp-%u", temp_files++);
    name = temp;
    flags |= SQLITE_OPEN_CREATE | SQLITE_OPEN_EXCLUSIVE | SQLITE_OPEN_DELETEONCLOSE;
  }
  int fsflags = (flags & SQLITE_OPEN_CREATE ? FS_CREATE : 0) |
                (flags & SQLITE_OPEN_EXCLUSIVE ? FS_EXCL : 0);
  if (fs_open(name, fsflags, &p->f) < 0) return SQLITE_CANTOPEN;
  if (flags & SQLITE_OPEN_DELETEONCLOSE) fs_unlink(name);
  p->lock = SQLITE_LOCK_NONE;
  p->base.pMethods = &io_methods;
  if (out_flags) *out_flags = flags;
  return SQLITE_OK;
}

static int vfs_delete(sqlite3_vfs *vfs, const char *name, int sync_dir) {
  (void)vfs, (void)sync_dir;
  int rc = fs_unlink(name);
  if (rc == -ENOENT) return SQLITE_IOERR_DELETE_NOENT;
  return rc < 0 ? SQLITE_IOERR_DELETE : SQLITE_OK;
}

/* Every file that exists may be read and written. */
static int vfs_access(sqlite3_vfs *vfs, const char *name, int flags, int *out) {
  (void)vfs, (void)flags;
  *out = fs_exists(name) > 0;
  return SQLITE_OK;
}

/* Paths are the store's own: a name is already its full path. */
static int vfs_full_pathname(sqlite3_vfs *vfs, const char *name, int n, char *out) {
  (void)vfs;
  if ((int)strlen(name) >= n) return SQLITE_CANTOPEN;
  strcpy(out, name);
  return SQLITE_OK;
}

/* The two things SQLite asks of the operating system beyond files: random bytes and the
   time. Linux's calls by default; a program on a microkernel's own system calls (the storage
   stack's client) defines these itself, and the linker takes its definitions. */
__attribute__((weak)) long sqlite_os_random(void *buf, size_t n) { return getrandom(buf, n, 0); }
__attribute__((weak)) int sqlite_os_realtime(struct timespec *ts) {
  return clock_gettime(CLOCK_REALTIME, ts);
}

/* getrandom(2); if the kernel has none (-ENOSYS), the rest stays as SQLite passed it. */
static int vfs_randomness(sqlite3_vfs *vfs, int n, char *out) {
  (void)vfs;
  for (int done = 0; done < n;) {
    long got = sqlite_os_random(out + done, (size_t)(n - done));
    if (got <= 0) break;
    done += (int)got;
  }
  return n;
}

/* Nothing else runs in this process to wait for. */
static int vfs_sleep(sqlite3_vfs *vfs, int microseconds) {
  (void)vfs;
  return microseconds;
}

/* The Julian day in milliseconds, from CLOCK_REALTIME (the unix VFS's formula). */
static int vfs_current_time_int64(sqlite3_vfs *vfs, sqlite3_int64 *now) {
  (void)vfs;
  static const sqlite3_int64 unix_epoch = 24405875 * (sqlite3_int64)8640000;
  struct timespec ts;
  if (sqlite_os_realtime(&ts) < 0) return SQLITE_ERROR;
  *now = unix_epoch + ts.tv_sec * (sqlite3_int64)1000 + ts.tv_nsec / 1000000;
  return SQLITE_OK;
}

static int vfs_current_time(sqlite3_vfs *vfs, double *now) {
  sqlite3_int64 ms;
  int rc = vfs_current_time_int64(vfs, &ms);
  if (rc == SQLITE_OK) *now = ms / 86400000.0;
  return rc;
}

static int vfs_get_last_error(sqlite3_vfs *vfs, int n, char *out) {
  (void)vfs, (void)n, (void)out;
  return 0;
}

static sqlite3_vfs vfs = {
    .iVersion = 2, /* up to xCurrentTimeInt64; no system-call overrides */
    .szOsFile = sizeof(struct vfs_file),
    .mxPathname = MAX_PATHNAME,
    .zName = "skybridge",
    .xOpen = vfs_open,
    .xDelete = vfs_delete,
    .xAccess = vfs_access,
    .xFullPathname = vfs_full_pathname,
    /* xDlOpen, xDlError, xDlSym, xDlClose: none (SQLITE_OMIT_LOAD_EXTENSION) */
    .xRandomness = vfs_randomness,
    .xSleep = vfs_sleep,
    .xCurrentTime = vfs_current_time,
    .xGetLastError = vfs_get_last_error,
    .xCurrentTimeInt64 = vfs_current_time_int64,
};

int sqlite3_os_init(void) { return sqlite3_vfs_register(&vfs, 1); }

int sqlite3_os_end(void) { return SQLITE_OK; }
