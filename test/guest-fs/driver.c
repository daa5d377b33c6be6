/* Host-side driver for guest/fs/libxv6fs.c (test/guest-fs/fs.test.ts builds it with the
   host gcc): a RAM block device that can "crash" (drop every write after the N-th) or fail
   a write, and a command interpreter reading stdin, one result line per command:

     mkfs BLOCKS INODES      a new RAM disk, formatted       mount         (re)mount it
     open PATH FLAGS         c t x = CREAT TRUNC EXCL, - none; prints the inode number
     close INUM              write PATH OFF LEN SEED         read PATH OFF LEN (count, hash)
     verify PATH OFF LEN SEED                                truncate PATH SIZE
     stat PATH    fsync PATH    mkdir PATH    unlink PATH    ls PATH    fsck    statfs
     fill PATH SEED CHUNK    append CHUNK bytes at a time until an error
     sb    counters          the superblock, the commit counters
     save    restore         copy the image aside and back
     poke BLOCK OFF BYTE...  put32 BLOCK OFF VALUE   change the image under the file system
     crash N    failwrite N  drop every write after N more / fail the N-th from now
     reboot                  writes reach the disk again (then mount recovers)
     crashtest BLOCKS INODES the scripted crash-consistency workload (one summary line)
     randomtest SEED OPS STRIDE [BLOCKS]   the same on a random workload

   Commands that take a path open it, act on the inode and close it. File contents are
   patterns: byte i of a write with seed s is pattern(s, offset + i), and seed 0 is zeros,
   so a test can check contents without shipping data. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "xv6fs.h"

/* ---- RAM disk ------------------------------------------------------------------------- */

struct ram {
  uint8_t *data;
  uint32_t nblocks;
  uint64_t reads, writes;
  int64_t crash_after; /* writes past this count are dropped (-1: never) */
  int crashed;
  int64_t fail_write; /* this write (1-based) returns an error (-1: none) */
  uint8_t *dirty;     /* a byte per block: written since the last snapshot restore */
};

static struct ram disk;

static int ram_read(void *ctx, uint32_t block, void *buf) {
  struct ram *r = ctx;
  if (block >= r->nblocks) return -1;
  r->reads++;
  memcpy(buf, r->data + (size_t)block * FS_BSIZE, FS_BSIZE);
  return 0;
}

static int ram_write(void *ctx, uint32_t block, const void *buf) {
  struct ram *r = ctx;
  if (block >= r->nblocks) return -1;
  r->writes++;
  if (r->fail_write >= 0 && (int64_t)r->writes == r->fail_write) return -5;
  if (r->crash_after >= 0 && (int64_t)r->writes > r->crash_after) {
    r->crashed = 1;
    return 0; /* the machine is off: the write never reaches the disk */
  }
  memcpy(r->data + (size_t)block * FS_BSIZE, buf, FS_BSIZE);
  if (r->dirty) r->dirty[block] = 1;
  return 0;
}

static struct fs_bdev bdev(void) {
  struct fs_bdev d = {ram_read, ram_write, &disk, disk.nblocks};
  return d;
}

static void disk_new(uint32_t nblocks) {
  free(disk.data);
  free(disk.dirty);
  memset(&disk, 0, sizeof disk);
  disk.nblocks = nblocks;
  disk.data = calloc(nblocks, FS_BSIZE);
  disk.crash_after = -1;
  disk.fail_write = -1;
}

/* ---- Helpers ---------------------------------------------------------------------------- */

static struct fs FS;
static uint8_t *saved;
static uint32_t fsck_scratch[1 << 20];

static uint8_t pattern(uint32_t seed, uint64_t pos) {
  if (seed == 0) return 0;
  uint32_t x = (uint32_t)pos * 2654435761u ^ seed * 0x9e3779b9u ^ (uint32_t)(pos >> 9);
  x ^= x >> 15;
  return (uint8_t)(x ^ (x >> 8));
}

static void fill_pattern(uint8_t *buf, uint32_t seed, uint64_t off, uint32_t n) {
  for (uint32_t i = 0; i < n; i++) buf[i] = pattern(seed, off + i);
}

static uint32_t fnv(const uint8_t *p, size_t n) {
  uint32_t h = 2166136261u;
  for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 16777619u;
  return h;
}

static const char *errname(int e) {
  switch (e) {
  case FS_EIO: return "EIO";
  case FS_ENOENT: return "ENOENT";
  case FS_EEXIST: return "EEXIST";
  case FS_ENOTDIR: return "ENOTDIR";
  case FS_EISDIR: return "EISDIR";
  case FS_ENOSPC: return "ENOSPC";
  case FS_ENAMETOOLONG: return "ENAMETOOLONG";
  case FS_EINVAL: return "EINVAL";
  case FS_ENOTEMPTY: return "ENOTEMPTY";
  case FS_EFBIG: return "EFBIG";
  case FS_ENFILE: return "ENFILE";
  case FS_EBADF: return "EBADF";
  case FS_EBADMAGIC: return "EBADMAGIC";
  case FS_EBADSIZE: return "EBADSIZE";
  case FS_EBADLAYOUT: return "EBADLAYOUT";
  case FS_EBADSUM: return "EBADSUM";
  case FS_EBADLOG: return "EBADLOG";
  case FS_EBADROOT: return "EBADROOT";
  case FS_EBADINODE: return "EBADINODE";
  case FS_EBADBITMAP: return "EBADBITMAP";
  case FS_ECORRUPT: return "ECORRUPT";
  default: return "E?";
  }
}

/* Prints "ok" or the error's name (with the detail for damage errors). */
static void report(int r) {
  if (r >= 0) printf("ok\n");
  else if (r <= FS_EBADMAGIC) printf("%s: %s\n", errname(r), fs_errdetail(&FS));
  else printf("%s\n", errname(r));
}

static int check_fsck(struct fs *fs, struct fs_fsck_report *rep) {
  return fs_fsck(fs, fsck_scratch, sizeof fsck_scratch, rep);
}

/* Reads a whole file into a malloc'ed buffer; its size in *size. */
static int slurp(struct fs *fs, const char *path, uint8_t **out, uint32_t *size, int *type) {
  int inum = fs_open(fs, path, 0);
  if (inum < 0) return inum;
  struct fs_stat st;
  int r = fs_stat(fs, (uint32_t)inum, &st);
  if (r < 0) return r;
  *type = (int)st.type;
  *size = (uint32_t)st.size;
  *out = malloc(st.size + 1);
  if (st.type == FS_T_FILE) {
    int32_t n = fs_read(fs, (uint32_t)inum, 0, *out, (uint32_t)st.size);
    if (n != (int32_t)st.size) r = n < 0 ? n : FS_EIO;
  }
  fs_close(fs, (uint32_t)inum);
  return r;
}

/* ---- Crash-consistency test ------------------------------------------------------------- */

enum { OP_CREATE, OP_WRITE, OP_TRUNC, OP_UNLINK, OP_MKDIR };
struct op {
  int kind;
  char path[24];
  uint32_t off, len, seed; /* write: off, len, seed; trunc: len is the size */
  int32_t res; /* what it returned in the reference run: < 0 failed (ENOSPC), or a count */
};

/* The bytes a write op wrote (a disk that filled up cuts it short). */
static uint32_t wlen(const struct op *o) {
  return o->res < 0 ? 0 : (uint32_t)o->res < o->len ? (uint32_t)o->res : o->len;
}

#define MF 48
struct mfile {
  char path[24];
  int kind; /* 0 absent, FS_T_FILE, FS_T_DIR */
  uint32_t size, cap;
  uint8_t *data;
};

static void reserve(struct mfile *f, uint32_t size) {
  if (size <= f->cap) return;
  uint32_t cap = f->cap ? f->cap : 4096;
  while (cap < size) cap *= 2;
  f->data = realloc(f->data, cap);
  f->cap = cap;
}
struct model {
  struct mfile f[MF];
  int n;
};

static struct op ops[256];
static int nops;

static void add_op(int kind, const char *path, uint32_t off, uint32_t len, uint32_t seed) {
  struct op *o = &ops[nops++];
  o->kind = kind;
  snprintf(o->path, sizeof o->path, "%s", path);
  o->off = off;
  o->len = len;
  o->seed = seed;
  o->res = INT32_MAX;
}

static void build_workload(void) {
  nops = 0;
  add_op(OP_MKDIR, "/d", 0, 0, 0);
  add_op(OP_CREATE, "/a", 0, 0, 0);
  add_op(OP_WRITE, "/a", 0, 3000, 1);
  add_op(OP_CREATE, "/d/b", 0, 0, 0);
  add_op(OP_WRITE, "/d/b", 0, 20000, 2);
  add_op(OP_WRITE, "/a", 1000, 5000, 3);
  add_op(OP_CREATE, "/c", 0, 0, 0);
  add_op(OP_WRITE, "/c", 0, 300000, 4); /* past the single-indirect blocks, several transactions */
  add_op(OP_TRUNC, "/a", 0, 500, 0);
  add_op(OP_WRITE, "/a", 20000, 100, 5); /* a hole */
  add_op(OP_UNLINK, "/d/b", 0, 0, 0);
  add_op(OP_CREATE, "/d/e", 0, 0, 0);
  add_op(OP_WRITE, "/d/e", 0, 10000, 6);
  add_op(OP_TRUNC, "/c", 0, 100000, 0);
  add_op(OP_WRITE, "/c", 50000, 2000, 7);
  for (int i = 0; i < 20; i++) { /* the root directory grows past one block */
    char p[16];
    snprintf(p, sizeof p, "/f%02d", i);
    add_op(OP_CREATE, p, 0, 0, 0);
    if (i % 4 == 0) add_op(OP_WRITE, p, 0, 100 + 300 * (uint32_t)i, 10 + (uint32_t)i);
  }
  add_op(OP_UNLINK, "/d/e", 0, 0, 0);
  add_op(OP_UNLINK, "/d", 0, 0, 0);
  add_op(OP_MKDIR, "/d", 0, 0, 0);
  add_op(OP_CREATE, "/d/g", 0, 0, 0);
  add_op(OP_WRITE, "/d/g", 4000, 3000, 8);
  add_op(OP_UNLINK, "/c", 0, 0, 0);
  add_op(OP_TRUNC, "/a", 0, 0, 0);
  /* a sparse file with 40 double-indirect blocks: cutting it changes more blocks than one
     transaction may, so the truncate commits in steps */
  add_op(OP_CREATE, "/s", 0, 0, 0);
  for (uint32_t i = 0; i < 40; i++)
    add_op(OP_WRITE, "/s", (FS_NDIRECT + FS_NINDIRECT) * FS_BSIZE + i * 256 * FS_BSIZE + 5, 10,
           40 + i);
  add_op(OP_TRUNC, "/s", 0, 1 << 20, 0);
  add_op(OP_UNLINK, "/s", 0, 0, 0);
}

static uint64_t rng;
static uint32_t rnd(uint32_t n) { /* xorshift64*, uniform enough for picking operations */
  rng ^= rng >> 12;
  rng ^= rng << 25;
  rng ^= rng >> 27;
  return (uint32_t)((rng * 2685821657736338717ull) >> 33) % n;
}

static struct mfile *mfind(struct model *m, const char *path);
static void mapply(struct model *m, const struct op *o);

/* A random workload of valid operations: files in / and in /q, written at random offsets
   (some past the end, some past the single-indirect blocks), truncated, unlinked and
   created again, and a directory /q2 made and removed. */
static void build_random(uint64_t seed, int n) {
  static const char *files[] = {"/r0", "/r1", "/r2", "/r3", "/q/r4", "/q/r5"};
  struct model m = {0};
  rng = seed * 0x9e3779b97f4a7c15ull + 1;
  nops = 0;
  add_op(OP_MKDIR, "/q", 0, 0, 0);
  mapply(&m, &ops[0]);
  while (nops < n) {
    const char *p = files[rnd(6)];
    struct mfile *f = mfind(&m, p);
    uint32_t k = rnd(10);
    if (f->kind == 0) {
      add_op(OP_CREATE, p, 0, 0, 0);
    } else if (k < 5) {
      uint32_t off = rnd(4) == 0 ? 270 * 1024 + rnd(100000) : rnd(f->size + 20000);
      add_op(OP_WRITE, p, off, 1 + (rnd(3) == 0 ? rnd(60000) : rnd(3000)), 1 + rnd(1000));
    } else if (k < 7) {
      add_op(OP_TRUNC, p, 0, rnd(3) == 0 ? 0 : rnd(f->size + 5000), 0);
    } else if (k < 8) {
      add_op(OP_UNLINK, p, 0, 0, 0);
    } else {
      struct mfile *d = mfind(&m, "/q2");
      add_op(d->kind ? OP_UNLINK : OP_MKDIR, "/q2", 0, 0, 0);
    }
    mapply(&m, &ops[nops - 1]);
  }
  for (int i = 0; i < m.n; i++) free(m.f[i].data);
}

static struct mfile *mfind(struct model *m, const char *path) {
  for (int i = 0; i < m->n; i++)
    if (strcmp(m->f[i].path, path) == 0) return &m->f[i];
  struct mfile *f = &m->f[m->n++];
  snprintf(f->path, sizeof f->path, "%s", path);
  f->kind = 0;
  f->size = 0;
  return f;
}

static void mcopy(struct model *dst, const struct model *src) {
  for (int i = 0; i < src->n; i++) {
    uint8_t *d = dst->f[i].data;
    uint32_t cap = dst->f[i].cap;
    dst->f[i] = src->f[i];
    dst->f[i].data = d;
    dst->f[i].cap = cap;
    reserve(&dst->f[i], src->f[i].size);
    if (src->f[i].size) memcpy(dst->f[i].data, src->f[i].data, src->f[i].size);
  }
  dst->n = src->n;
}

static void mapply(struct model *m, const struct op *o) {
  struct mfile *f = mfind(m, o->path);
  if (o->res < 0) return; /* it failed and changed nothing */
  switch (o->kind) {
  case OP_CREATE: f->kind = FS_T_FILE; f->size = 0; break;
  case OP_MKDIR: f->kind = FS_T_DIR; f->size = 0; break;
  case OP_UNLINK: f->kind = 0; f->size = 0; break;
  case OP_WRITE:
    reserve(f, o->off + wlen(o));
    if (o->off > f->size) memset(f->data + f->size, 0, o->off - f->size);
    fill_pattern(f->data + o->off, o->seed, o->off, wlen(o));
    if (o->off + wlen(o) > f->size) f->size = o->off + wlen(o);
    break;
  case OP_TRUNC:
    reserve(f, o->len);
    if (o->len > f->size) memset(f->data + f->size, 0, o->len - f->size);
    f->size = o->len;
    break;
  }
}

static int run_op(struct fs *fs, const struct op *o) {
  int r, inum;
  switch (o->kind) {
  case OP_CREATE:
    inum = fs_open(fs, o->path, FS_O_CREAT | FS_O_EXCL);
    return inum < 0 ? inum : fs_close(fs, (uint32_t)inum);
  case OP_MKDIR: return fs_mkdir(fs, o->path);
  case OP_UNLINK: return fs_unlink(fs, o->path);
  case OP_WRITE:
  case OP_TRUNC:
    inum = fs_open(fs, o->path, 0);
    if (inum < 0) return inum;
    if (o->kind == OP_TRUNC) {
      r = fs_truncate(fs, (uint32_t)inum, o->len);
    } else {
      uint8_t *buf = malloc(o->len);
      fill_pattern(buf, o->seed, o->off, o->len);
      r = fs_write(fs, (uint32_t)inum, o->off, buf, o->len);
      free(buf);
    }
    fs_close(fs, (uint32_t)inum);
    return r;
  }
  return FS_EINVAL;
}

/* 1 if the file system holds exactly m's version of f. */
static int same(struct fs *fs, const struct mfile *f, uint32_t size, const uint8_t *data,
                int kind) {
  uint8_t *got = 0;
  uint32_t gsize = 0;
  int type = 0;
  int r = slurp(fs, f->path, &got, &gsize, &type);
  int ok;
  if (kind == 0) ok = r == FS_ENOENT;
  else if (r < 0) ok = 0;
  else if (type != kind) ok = 0;
  else if (kind == FS_T_DIR) ok = 1;
  else ok = gsize == size && (size == 0 || memcmp(got, data, size) == 0);
  free(got);
  return ok;
}

/* Whether f is in a state a partly committed op o may leave (before = b). */
static int intermediate(struct fs *fs, const struct op *o, const struct mfile *b) {
  uint8_t *got = 0;
  uint32_t gsize = 0;
  int type = 0, ok = 0;
  if (slurp(fs, o->path, &got, &gsize, &type) < 0 || type != FS_T_FILE) goto out;
  if (o->kind == OP_WRITE) {
    uint32_t j = 0;
    while (j < wlen(o) && o->off + j < gsize && got[o->off + j] == pattern(o->seed, o->off + j))
      j++;
    uint32_t esize = b->size > o->off + j ? b->size : o->off + j;
    uint8_t *e = calloc(1, esize + 1);
    if (b->size) memcpy(e, b->data, b->size);
    fill_pattern(e + o->off, o->seed, o->off, j);
    ok = j > 0 && gsize == esize && memcmp(got, e, esize) == 0;
    free(e);
  } else if (o->kind == OP_TRUNC) {
    ok = gsize % FS_BSIZE == 0 && gsize > o->len && gsize < b->size &&
         (gsize == 0 || memcmp(got, b->data, gsize) == 0);
  }
out:
  free(got);
  return ok;
}

/* Every directory of the model lists exactly the names the model has there (the path of
   the interrupted op may be either way). */
static int names_match(struct fs *fs, const struct model *m, const char *skip) {
  for (int i = -1; i < m->n; i++) {
    const char *dir = i < 0 ? "/" : m->f[i].path;
    if (i >= 0 && m->f[i].kind != FS_T_DIR) continue;
    int d = fs_open(fs, dir, 0);
    if (d < 0) {
      if (strcmp(dir, skip) == 0) continue;
      return 0;
    }
    uint32_t pos = 0, inum;
    char name[FS_NAME_MAX + 1];
    int ok = 1;
    while (ok && fs_readdir(fs, (uint32_t)d, &pos, name, &inum) == 1) {
      if (!strcmp(name, ".") || !strcmp(name, "..")) continue;
      char path[64];
      snprintf(path, sizeof path, "%s%s%s", dir, strcmp(dir, "/") ? "/" : "", name);
      if (!strcmp(path, skip)) continue;
      int found = 0;
      for (int k = 0; k < m->n; k++)
        if (!strcmp(m->f[k].path, path) && m->f[k].kind) found = 1;
      ok = found;
    }
    fs_close(fs, (uint32_t)d);
    if (!ok) return 0;
  }
  return 1;
}

/* Runs ops[] once to learn where each op's block writes end, then again for every crash
   point (every stride-th block write), checking the recovered file system each time. */
static void crashtest(uint32_t nblocks, uint32_t ninodes, uint32_t stride) {
  clock_t t0 = clock();
  disk_new(nblocks);
  struct fs_bdev d = bdev();
  if (fs_mkfs(&d, ninodes) < 0) {
    printf("crashtest mkfs failed\n");
    return;
  }
  uint8_t *image = malloc((size_t)nblocks * FS_BSIZE);
  memcpy(image, disk.data, (size_t)nblocks * FS_BSIZE);
  disk.dirty = calloc(nblocks, 1);

  /* the reference run: where each op's writes end, and how many commits it made */
  uint64_t wend[256];
  int multi = 0, enospc = 0;
  if (fs_mount(&FS, &d) < 0) return;
  disk.writes = 0;
  struct model ref = {0};
  for (int k = 0; k < nops; k++) {
    uint64_t c0 = FS.count.commits;
    int r = run_op(&FS, &ops[k]);
    /* a full disk may refuse an op; then a later op on what it would have made finds
       nothing */
    int absent = mfind(&ref, ops[k].path)->kind == 0;
    if (r < 0 && r != FS_ENOSPC && !(r == FS_ENOENT && absent && ops[k].kind != OP_CREATE)) {
      printf("crashtest reference op %d %s: %s\n", k, ops[k].path, errname(r));
      return;
    }
    if (ops[k].kind == OP_WRITE && r >= 0 && (uint32_t)r != ops[k].len) enospc++;
    if (r < 0) enospc++;
    ops[k].res = r < 0 ? r : ops[k].kind == OP_WRITE ? r : INT32_MAX;
    r = 0;
    wend[k] = disk.writes;
    if (FS.count.commits - c0 > 1) multi++;
    /* without a crash: fsck passes and every file is as the model has it */
    mapply(&ref, &ops[k]);
    uint64_t w0 = disk.writes;
    for (int i = 0; i < ref.n && r >= 0; i++)
      if (!same(&FS, &ref.f[i], ref.f[i].size, ref.f[i].data, ref.f[i].kind)) r = FS_ECORRUPT;
    if (r < 0 || !names_match(&FS, &ref, "") || check_fsck(&FS, 0) < 0) {
      printf("crashtest reference op %d %s: the file system differs from the model: %s\n", k,
             ops[k].path, fs_errdetail(&FS));
      return;
    }
    if (disk.writes != w0) {
      printf("crashtest: reading wrote to the disk\n");
      return;
    }
  }
  uint64_t total = disk.writes;
  for (int i = 0; i < ref.n; i++) free(ref.f[i].data);

  struct model cur = {0}, next = {0}, scratch = {0};
  int done = -1; /* cur = state after `done` ops */
  uint64_t before = 0, after = 0, inter = 0, failures = 0, points = 0;
  int last = 0;
  for (uint64_t n = 0; !last; n = n + stride < total ? n + stride : total) {
    last = n == total;
    /* restore the freshly made image */
    for (uint32_t b = 0; b < nblocks; b++)
      if (disk.dirty[b]) {
        memcpy(disk.data + (size_t)b * FS_BSIZE, image + (size_t)b * FS_BSIZE, FS_BSIZE);
        disk.dirty[b] = 0;
      }
    disk.writes = 0;
    disk.crashed = 0;
    disk.crash_after = -1;
    if (fs_mount(&FS, &d) < 0) {
      printf("crashtest mount of the fresh image failed\n");
      return;
    }
    disk.crash_after = (int64_t)n;
    for (int k = 0; k < nops && !disk.crashed; k++) run_op(&FS, &ops[k]);
    disk.crash_after = -1;
    points++;

    int ops_done = 0; /* ops whose every write reached the disk */
    while (ops_done < nops && wend[ops_done] <= n) ops_done++;
    while (done < ops_done) {
      done++;
      if (done == 0) {
        cur.n = 0;
      } else {
        mapply(&cur, &ops[done - 1]);
      }
      mcopy(&next, &cur);
      if (done < nops) mapply(&next, &ops[done]);
    }
    const struct op *o = done < nops ? &ops[done] : 0;
    const char *why = 0;
    /* the power fails again while mount replays the log (or frees orphans): after 0 to 4
       of its block writes, dropped if it has not written that many */
    disk.writes = 0;
    disk.crash_after = (int64_t)(points % 5);
    fs_mount(&FS, &d);
    disk.crash_after = -1;
    int r = fs_mount(&FS, &d);
    if (r < 0) {
      why = "mount failed";
    } else if ((r = check_fsck(&FS, 0)) < 0) {
      why = "fsck failed";
    } else {
      /* every file but the op's target is as the model has it */
      for (int i = 0; i < next.n && !why; i++) {
        const struct mfile *f = i < cur.n ? &cur.f[i] : 0;
        if (o && !strcmp(next.f[i].path, o->path)) continue;
        if (!f || !same(&FS, f, f->size, f->data, f->kind)) why = "another file changed";
      }
      const char *skip = o ? o->path : "";
      if (!why && !names_match(&FS, &next, skip) && !names_match(&FS, &cur, skip))
        why = "unexpected names";
      if (!why && o) {
        mcopy(&scratch, &cur);
        struct mfile *b = mfind(&scratch, o->path);
        const struct mfile *a = 0;
        for (int i = 0; i < next.n; i++)
          if (!strcmp(next.f[i].path, o->path)) a = &next.f[i];
        if (same(&FS, b, b->size, b->data, b->kind)) before++;
        else if (same(&FS, a, a->size, a->data, a->kind)) after++;
        else if (intermediate(&FS, o, b)) inter++;
        else why = "the op's file is neither before, after nor a committed prefix";
      } else if (!why) {
        after++;
      }
      /* the recovered file system is usable */
      if (!why) {
        int p = fs_open(&FS, "/post", FS_O_CREAT | FS_O_TRUNC);
        uint8_t buf[5000];
        fill_pattern(buf, 99, 0, sizeof buf);
        int32_t w = p < 0 ? p : fs_write(&FS, (uint32_t)p, 0, buf, sizeof buf);
        if ((w < 0 && w != FS_ENOSPC) || (p >= 0 && fs_close(&FS, (uint32_t)p) < 0) ||
            check_fsck(&FS, 0) < 0)
          why = "recovered file system unusable";
      }
    }
    if (why) {
      if (failures < 5)
        printf("crash after write %llu (op %d %s): %s: %s\n", (unsigned long long)n, done,
               o ? o->path : "-", why, fs_errdetail(&FS));
      failures++;
    }
  }
  double secs = (double)(clock() - t0) / CLOCKS_PER_SEC;
  printf("crashtest ops=%d multi=%d enospc=%d writes=%llu points=%llu before=%llu after=%llu "
         "intermediate=%llu failures=%llu\n",
         nops, multi, enospc, (unsigned long long)total, (unsigned long long)points,
         (unsigned long long)before, (unsigned long long)after, (unsigned long long)inter,
         (unsigned long long)failures);
  fprintf(stderr, "crashtest took %.2f s\n", secs);
  free(image);
  free(disk.dirty);
  disk.dirty = 0;
}

/* ---- Commands --------------------------------------------------------------------------- */

static int parse_flags(const char *s) {
  int f = 0;
  for (; *s; s++) {
    if (*s == 'c') f |= FS_O_CREAT;
    if (*s == 't') f |= FS_O_TRUNC;
    if (*s == 'x') f |= FS_O_EXCL;
  }
  return f;
}

static const char *tname(uint32_t t) {
  return t == FS_T_DIR ? "dir" : t == FS_T_FILE ? "file" : "?";
}

static uint64_t num(const char *s) { return s ? strtoull(s, 0, 0) : 0; }

static void command(char **a, int n) {
  const char *c = a[0];
  struct fs_bdev d = bdev();
  if (!strcmp(c, "echo")) {
    for (int i = 1; i < n; i++) printf("%s%s", a[i], i + 1 < n ? " " : "\n");
  } else if (!strcmp(c, "mkfs")) {
    disk_new((uint32_t)num(a[1]));
    d = bdev();
    report(fs_mkfs(&d, (uint32_t)num(a[2])));
  } else if (!strcmp(c, "mount")) {
    report(fs_mount(&FS, &d));
  } else if (!strcmp(c, "sb")) {
    struct fs_superblock *s = &FS.sb;
    printf("size=%u nblocks=%u ninodes=%u nlog=%u logstart=%u inodestart=%u bmapstart=%u "
           "datastart=%u\n", s->size, s->nblocks, s->ninodes, s->nlog, s->logstart,
           s->inodestart, s->bmapstart, s->datastart);
  } else if (!strcmp(c, "open")) {
    int r = fs_open(&FS, a[1], parse_flags(n > 2 ? a[2] : ""));
    if (r >= 0) printf("%d\n", r);
    else report(r);
  } else if (!strcmp(c, "close")) {
    report(fs_close(&FS, (uint32_t)num(a[1])));
  } else if (!strcmp(c, "write") || !strcmp(c, "read") || !strcmp(c, "verify") ||
             !strcmp(c, "truncate") || !strcmp(c, "stat") || !strcmp(c, "fsync") ||
             !strcmp(c, "fill")) {
    int inum = fs_open(&FS, a[1], 0);
    if (inum < 0) {
      report(inum);
      return;
    }
    uint32_t in = (uint32_t)inum;
    if (!strcmp(c, "write")) {
      uint64_t off = num(a[2]);
      uint32_t len = (uint32_t)num(a[3]);
      uint8_t *buf = malloc(len + 1);
      fill_pattern(buf, (uint32_t)num(a[4]), off, len);
      int32_t r = fs_write(&FS, in, off, buf, len);
      free(buf);
      if (r >= 0) printf("%d\n", r);
      else report(r);
    } else if (!strcmp(c, "read") || !strcmp(c, "verify")) {
      uint64_t off = num(a[2]);
      uint32_t len = (uint32_t)num(a[3]);
      uint8_t *buf = malloc(len + 1);
      int32_t r = fs_read(&FS, in, off, buf, len);
      if (r < 0) {
        report(r);
      } else if (!strcmp(c, "read")) {
        printf("%d %08x\n", r, fnv(buf, (size_t)r));
      } else {
        uint32_t seed = (uint32_t)num(a[4]);
        int32_t bad = -1;
        for (int32_t i = 0; i < r && bad < 0; i++)
          if (buf[i] != pattern(seed, off + (uint64_t)i)) bad = i;
        if (r != (int32_t)len) printf("short: %d of %u\n", r, len);
        else if (bad >= 0) printf("mismatch at %llu\n", (unsigned long long)off + (uint64_t)bad);
        else printf("ok\n");
      }
      free(buf);
    } else if (!strcmp(c, "truncate")) {
      report(fs_truncate(&FS, in, num(a[2])));
    } else if (!strcmp(c, "fsync")) {
      report(fs_fsync(&FS, in));
    } else if (!strcmp(c, "fill")) {
      /* appends chunks until the disk is full */
      uint32_t chunk = (uint32_t)num(a[3]);
      uint8_t *buf = malloc(chunk);
      struct fs_stat st;
      fs_stat(&FS, in, &st);
      uint64_t off = st.size, total = 0;
      int32_t r;
      for (;;) {
        fill_pattern(buf, (uint32_t)num(a[2]), off, chunk);
        r = fs_write(&FS, in, off, buf, chunk);
        if (r < 0) break;
        off += (uint32_t)r;
        total += (uint32_t)r;
        if ((uint32_t)r < chunk) continue; /* the next write reports the error */
      }
      free(buf);
      printf("%llu then %s\n", (unsigned long long)total, errname(r));
    } else {
      struct fs_stat st;
      int r = fs_stat(&FS, in, &st);
      if (r < 0) report(r);
      else printf("inum=%u type=%s size=%llu nlink=%u\n", st.inum, tname(st.type),
                  (unsigned long long)st.size, st.nlink);
    }
    fs_close(&FS, in);
  } else if (!strcmp(c, "mkdir")) {
    int r = fs_mkdir(&FS, a[1]);
    if (r >= 0) printf("%d\n", r);
    else report(r);
  } else if (!strcmp(c, "unlink")) {
    report(fs_unlink(&FS, a[1]));
  } else if (!strcmp(c, "ls")) {
    int inum = fs_open(&FS, a[1], 0);
    if (inum < 0) {
      report(inum);
      return;
    }
    uint32_t pos = 0, child;
    char name[FS_NAME_MAX + 1];
    int r;
    const char *sep = "";
    while ((r = fs_readdir(&FS, (uint32_t)inum, &pos, name, &child)) == 1) {
      printf("%s%s", sep, name);
      sep = " ";
    }
    if (r < 0) printf("%s%s", sep, errname(r));
    printf("\n");
    fs_close(&FS, (uint32_t)inum);
  } else if (!strcmp(c, "fsck")) {
    struct fs_fsck_report rep;
    int r = check_fsck(&FS, &rep);
    if (r < 0) report(r);
    else printf("ok files=%u dirs=%u orphans=%u used=%u free=%u\n", rep.files, rep.dirs,
                rep.orphans, rep.used_blocks, rep.free_blocks);
  } else if (!strcmp(c, "statfs")) {
    struct fs_statfs st;
    int r = fs_statfs(&FS, &st);
    if (r < 0) report(r);
    else printf("free_blocks=%u free_inodes=%u datablocks=%u inodes=%u\n",
                st.free_blocks, st.free_inodes, st.datablocks, st.inodes);
  } else if (!strcmp(c, "poke")) {
    /* poke BLOCK OFFSET BYTE...: change the image under the file system */
    uint8_t *p = disk.data + num(a[1]) * FS_BSIZE + num(a[2]);
    for (int i = 3; i < n; i++) p[i - 3] = (uint8_t)num(a[i]);
    printf("ok\n");
  } else if (!strcmp(c, "put32")) {
    uint32_t v = (uint32_t)num(a[3]);
    memcpy(disk.data + num(a[1]) * FS_BSIZE + num(a[2]), &v, 4);
    printf("ok\n");
  } else if (!strcmp(c, "save")) {
    /* save / restore: a copy of the whole image, to damage it in several ways in turn */
    free(saved);
    saved = malloc((size_t)disk.nblocks * FS_BSIZE);
    memcpy(saved, disk.data, (size_t)disk.nblocks * FS_BSIZE);
    printf("ok\n");
  } else if (!strcmp(c, "restore")) {
    memcpy(disk.data, saved, (size_t)disk.nblocks * FS_BSIZE);
    printf("ok\n");
  } else if (!strcmp(c, "crash")) {
    disk.crash_after = (int64_t)(disk.writes + num(a[1]));
    printf("armed\n");
  } else if (!strcmp(c, "reboot")) {
    /* power comes back: writes reach the disk again; mount runs recovery */
    disk.crash_after = -1;
    disk.fail_write = -1;
    printf("dropped=%d\n", disk.crashed);
    disk.crashed = 0;
  } else if (!strcmp(c, "failwrite")) {
    disk.fail_write = (int64_t)(disk.writes + num(a[1]));
    printf("armed\n");
  } else if (!strcmp(c, "counters")) {
    printf("commits=%llu logged=%llu aborts=%llu\n",
           (unsigned long long)FS.count.commits, (unsigned long long)FS.count.logged,
           (unsigned long long)FS.count.aborts);
  } else if (!strcmp(c, "crashtest")) {
    build_workload();
    crashtest((uint32_t)num(a[1]), (uint32_t)num(a[2]), 1);
  } else if (!strcmp(c, "randomtest")) {
    /* randomtest SEED OPS STRIDE [BLOCKS]: a random workload (on 4096 blocks by default;
       on fewer, the disk fills up) */
    build_random(num(a[1]), (int)num(a[2]));
    crashtest(n > 4 ? (uint32_t)num(a[4]) : 4096, 64, (uint32_t)num(a[3]));
  } else {
    printf("unknown command %s\n", c);
  }
}

int main(void) {
  char line[4096];
  setvbuf(stdout, 0, _IOLBF, 0);
  while (fgets(line, sizeof line, stdin)) {
    char *a[64];
    int n = 0;
    for (char *t = strtok(line, " \t\r\n"); t && n < 64; t = strtok(0, " \t\r\n")) a[n++] = t;
    if (n == 0 || a[0][0] == '#') continue;
    command(a, n);
  }
  return 0;
}
