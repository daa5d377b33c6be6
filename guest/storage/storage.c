/* The storage stack's processes, one program: a RAM-disk server (blocks in its own memory),
   and a block-level client that checks it. The harness (src/experiments/storage.ts) loads
   it once per process, writes each process's connections (`serve`, `call`), the kernel and
   where to park, and starts threads at the *_main entries; a SkyBridge server's handler is
   registered as *_handler instead of a thread. */
#include "rpc.h"
#include "string.h"

enum { BLOCK = 1024, RAMDISK_BLOCKS = 16 * 1024, OP_READ = 1, OP_WRITE = 2, OP_SIZE = 3 };
enum { E_RANGE = -1, E_BUFFER = -2, E_OP = -3 };

struct rpc_chan serve, call;
uint64_t rpc_kernel, rpc_park_target;
void *rpc_ipc_buffer;
volatile uint64_t out[8];

/* ---- RAM disk ----------------------------------------------------------------------- */

static uint8_t disk[RAMDISK_BLOCKS * BLOCK];
volatile uint64_t disk_reads, disk_writes;

/* READ(first, n): n blocks into the buffer; WRITE(first, n): n blocks from it. The range is
   checked against the disk and the buffer; data crosses the buffer once each way. */
static int64_t ramdisk_op(uint64_t op, uint64_t first, uint64_t n, uint8_t *buf, uint64_t bytes,
                          uint64_t *value) {
  if (op == OP_SIZE) {
    *value = RAMDISK_BLOCKS;
    return 0;
  }
  if (first > RAMDISK_BLOCKS || n > RAMDISK_BLOCKS - first) return E_RANGE;
  if (buf == 0 || n > bytes / BLOCK) return E_BUFFER;
  if (op == OP_READ) {
    memcpy(buf, disk + first * BLOCK, n * BLOCK);
    disk_reads += n;
  } else if (op == OP_WRITE) {
    sb_copy(disk + first * BLOCK, buf, n * BLOCK);
    disk_writes += n;
  } else {
    return E_OP;
  }
  *value = n;
  return 0;
}

uint64_t ramdisk_handler(uint64_t op, uint64_t a, uint64_t b, const struct sb_call *c) {
  uint64_t v = 0;
  int64_t st = ramdisk_op(op, a, b, c->buffer, c->buffer_bytes, &v);
  return st < 0 ? (uint64_t)st : v;
}

void ramdisk_main(uint64_t unused, void *ipc) {
  (void)unused;
  rpc_ipc_buffer = ipc;
  rpc_serve(&serve, ramdisk_op);
}

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
