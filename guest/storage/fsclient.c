/* The file store under our SQLite VFS (guest/sqlite/libfs.h), as a client of the file-system
   server: each call is one request over the connection `fs_chan` (rpc.h: SkyBridge or the
   kernel's IPC), bulk data through its shared buffer, in pieces of the buffer's size. */
#include "fsproto.h"
#include "libfs.h"
#include "rpc.h"
#include "string.h"

extern struct rpc_chan call; /* the connection to the file-system server */

enum { MAX_FILES = 16, EINVAL_ = 22, EMFILE_ = 24, ENAMETOOLONG_ = 36 };

struct fs_file {
  int used;
  uint64_t handle;
};
static struct fs_file files[MAX_FILES];

volatile uint64_t fs_requests;
/* Requests by operation (FSOP_* - FSOP_OPEN), for the harness. */
volatile uint64_t fs_by_op[16];

static rpc_result request(uint64_t op, uint64_t a, uint64_t b) {
  fs_requests++;
  fs_by_op[(op - FSOP_OPEN) & 15]++;
  return rpc_call(&call, op, a, b);
}

static int put_path(const char *path) {
  uint8_t *buf = rpc_buffer(&call);
  size_t n = strlen(path);
  if (n + 1 > call.bytes) return -ENAMETOOLONG_;
  memcpy(buf, path, n + 1);
  return 0;
}

int fs_open(const char *path, int flags, fs_file **out) {
  int e = put_path(path);
  if (e < 0) return e;
  int slot = 0;
  while (slot < MAX_FILES && files[slot].used) slot++;
  if (slot == MAX_FILES) return -EMFILE_;
  rpc_result r = request(FSOP_OPEN, (uint64_t)flags, 0);
  if (r.status < 0) return (int)r.status;
  files[slot].used = 1;
  files[slot].handle = r.value;
  *out = &files[slot];
  return 0;
}

int fs_close(fs_file *f) {
  rpc_result r = request(FSOP_CLOSE, f->handle, 0);
  f->used = 0;
  return (int)r.status;
}

long fs_pread(fs_file *f, void *buf, size_t n, uint64_t off) {
  uint8_t *shared = rpc_buffer(&call);
  size_t done = 0;
  while (done < n) {
    size_t piece = n - done < call.bytes ? n - done : call.bytes;
    rpc_result r = request(FSOP_PREAD, f->handle | (uint64_t)piece << 32, off + done);
    if (r.status < 0) return r.status;
    if (r.value > piece) return -EINVAL_;
    sb_copy((uint8_t *)buf + done, shared, r.value);
    done += r.value;
    if (r.value < piece) break; /* the end of the file */
  }
  return (long)done;
}

long fs_pwrite(fs_file *f, const void *buf, size_t n, uint64_t off) {
  uint8_t *shared = rpc_buffer(&call);
  size_t done = 0;
  while (done < n) {
    size_t piece = n - done < call.bytes ? n - done : call.bytes;
    memcpy(shared, (const uint8_t *)buf + done, piece);
    rpc_result r = request(FSOP_PWRITE, f->handle | (uint64_t)piece << 32, off + done);
    if (r.status < 0) return r.status;
    if (r.value < piece) return -28; /* ENOSPC: the FS kept what fitted (SQLITE_FULL) */
    done += piece;
  }
  return (long)done;
}

int fs_truncate(fs_file *f, uint64_t size) {
  return (int)request(FSOP_TRUNCATE, f->handle, size).status;
}

int fs_size(fs_file *f, uint64_t *size) {
  rpc_result r = request(FSOP_SIZE, f->handle, 0);
  if (r.status == 0) *size = r.value;
  return (int)r.status;
}

int fs_sync(fs_file *f) { return (int)request(FSOP_SYNC, f->handle, 0).status; }

int fs_unlink(const char *path) {
  int e = put_path(path);
  return e < 0 ? e : (int)request(FSOP_UNLINK, 0, 0).status;
}

int fs_exists(const char *path) {
  if (put_path(path) < 0) return 0;
  rpc_result r = request(FSOP_EXISTS, 0, 0);
  return r.status == 0 && r.value == 1;
}

/* After a simulated power failure: the FS server forgets its memory and remounts the disk;
   every handle of ours is gone with it. */
int fs_restart(void) {
  for (int i = 0; i < MAX_FILES; i++) files[i].used = 0;
  return (int)request(FSOP_RESTART, 0, 0).status;
}
