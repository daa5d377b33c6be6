/* guest/fs as a guest program: a short session over a RAM disk in .bss (files, a directory,
   a file past the direct blocks, a hole, unlink, a full disk, a crash in a write of two
   transactions and its recovery, fsck, a damaged superblock), one line per step.
   test/guest-fs/fs.test.ts builds it twice, for the host (glibc) and as a guest (our libc,
   the guests' flags), and runs the guest build in the simulator: both must print the same
   bytes. It is built with a small cache and log (-DFS_NBUF=24 -DFS_LOGSIZE=16) so that a
   13000-byte write takes two transactions. */
#ifdef FS_GUEST
#include "libc.h"
#else
#include <stdio.h>
#include <string.h>
#endif
#include "xv6fs.h"

#define NBLK 48
static uint8_t disk[NBLK][FS_BSIZE];
static long writes, crash_after = -1;
static struct fs fs;
static uint8_t buf[26 * 1024];
static uint32_t scratch[2048];

static int rd(void *ctx, uint32_t b, void *out) {
  (void)ctx;
  if (b >= NBLK) return -1;
  memcpy(out, disk[b], FS_BSIZE);
  return 0;
}

static int wr(void *ctx, uint32_t b, const void *in) {
  (void)ctx;
  if (b >= NBLK) return -1;
  writes++;
  if (crash_after >= 0 && writes > crash_after) return 0; /* lost in the crash */
  memcpy(disk[b], in, FS_BSIZE);
  return 0;
}

static const struct fs_bdev dev = {rd, wr, 0, NBLK};

static void fill(uint32_t seed, uint32_t off, uint32_t n) {
  for (uint32_t i = 0; i < n; i++)
    buf[i] = (uint8_t)((off + i) * 31u + seed * 7u + ((off + i) >> 8));
}

static uint32_t sum(const uint8_t *p, uint32_t n) {
  uint32_t h = 2166136261u;
  for (uint32_t i = 0; i < n; i++) h = (h ^ p[i]) * 16777619u;
  return h;
}

static void show(const char *what, long r) {
  printf("%s: %ld%s%s\n", what, r, r < 0 ? " " : "", r < 0 ? fs_strerror((int)r) : "");
}

static void check(void) {
  struct fs_fsck_report rep;
  int r = fs_fsck(&fs, scratch, sizeof scratch, &rep);
  if (r < 0) printf("fsck: %s (%s)\n", fs_strerror(r), fs_errdetail(&fs));
  else printf("fsck: files %u dirs %u orphans %u used %u free %u\n", rep.files, rep.dirs,
              rep.orphans, rep.used_blocks, rep.free_blocks);
}

static void contents(const char *path) {
  int f = fs_open(&fs, path, 0);
  struct fs_stat st;
  if (f < 0 || fs_stat(&fs, (uint32_t)f, &st) < 0) {
    show(path, f);
    return;
  }
  int32_t n = fs_read(&fs, (uint32_t)f, 0, buf, sizeof buf);
  printf("%s: size %u read %d sum %08x\n", path, (unsigned)st.size, n,
         n > 0 ? sum(buf, (uint32_t)n) : 0);
  fs_close(&fs, (uint32_t)f);
}

int main(void) {
  show("mkfs", fs_mkfs(&dev, 20));
  show("mount", fs_mount(&fs, &dev));
  int a = fs_open(&fs, "/a", FS_O_CREAT);
  show("open /a", a);
  fill(1, 0, 13000);
  show("write /a 13000 (past the 12 direct blocks)", fs_write(&fs, (uint32_t)a, 0, buf, 13000));
  show("mkdir /d", fs_mkdir(&fs, "/d"));
  int x = fs_open(&fs, "/d/x", FS_O_CREAT | FS_O_EXCL);
  show("open /d/x", x);
  fill(2, 5000, 100);
  show("write /d/x at 5000 (a hole before)", fs_write(&fs, (uint32_t)x, 5000, buf, 100));
  show("open /d/x excl", fs_open(&fs, "/d/x", FS_O_CREAT | FS_O_EXCL));
  show("unlink /d", fs_unlink(&fs, "/d"));
  contents("/a");
  contents("/d/x");
  check();
  int big = fs_open(&fs, "/big", FS_O_CREAT);
  fill(3, 0, 12000);
  show("write /big 12000 (more than the disk holds)", fs_write(&fs, (uint32_t)big, 0, buf, 12000));
  show("write /big at its end", fs_write(&fs, (uint32_t)big, 9216, buf, 1000));
  check();
  show("close /big", fs_close(&fs, (uint32_t)big));
  show("unlink /big", fs_unlink(&fs, "/big"));
  check();
  /* a crash in the middle of a write that takes several transactions */
  writes = 0;
  crash_after = 15;
  fill(4, 0, 13000);
  show("write /a 13000 again, crashing after 15 block writes",
       fs_write(&fs, (uint32_t)a, 0, buf, 13000));
  crash_after = -1;
  show("mount after the crash", fs_mount(&fs, &dev));
  /* the first transaction's blocks are new, the rest as before */
  a = fs_open(&fs, "/a", 0);
  int32_t n = fs_read(&fs, (uint32_t)a, 0, buf + 13000, 13000);
  uint32_t new_bytes = 0, old_bytes = 0;
  fill(4, 0, 13000);
  while (new_bytes < 13000 && buf[13000 + new_bytes] == buf[new_bytes]) new_bytes++;
  fill(1, 0, 13000);
  while (new_bytes + old_bytes < 13000 &&
         buf[13000 + new_bytes + old_bytes] == buf[new_bytes + old_bytes])
    old_bytes++;
  printf("/a: read %d: %u bytes new, then %u as before\n", n, new_bytes, old_bytes);
  check();
  /* damage: the superblock's magic */
  disk[1][0] ^= 1;
  int r = fs_mount(&fs, &dev);
  printf("mount a damaged image: %s (%s)\n", fs_strerror(r), fs_errdetail(&fs));
  return 0;
}
