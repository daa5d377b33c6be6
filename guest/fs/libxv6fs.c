/* xv6fs: an xv6-style file system, freestanding (see xv6fs.h for the API and README.md for
   the layout on disk and the log protocol). Our own code, after the design of MIT xv6.

   Conventions. Every change to a block happens in a buffer of the cache and is followed by
   log_write(), which puts the block in the current transaction and pins the buffer until
   the transaction is installed. A transaction is begun by begin_op() and ended by
   end_op(): on success it is committed (logged blocks to the log, header, home locations,
   header cleared); on failure it is aborted, which drops its buffers so that the cache
   again matches the disk, untouched since the transaction began. Inodes are copied into a
   struct inode for the length of one call and written back by iupdate(). */
#include "xv6fs.h"

#include "../libc/string.h"

#define BPB (FS_BSIZE * 8)            /* bitmap bits per block */
#define DIRENT_SIZE 64                /* bytes per directory entry */
#define DPB (FS_BSIZE / DIRENT_SIZE)  /* directory entries per block */
#define DINODE_SIZE 64                /* bytes per on-disk inode */
#define IPB (FS_BSIZE / DINODE_SIZE)  /* inodes per block */
#define NADDRS (FS_NDIRECT + 2)       /* direct, single indirect, double indirect */
#define MAXINODES (1u << 20)

/* Log slots one more data block of a write may need: the block, its bitmap block, the
   single-indirect block or the two double-indirect levels with their bitmap blocks, and
   the inode's block. */
#define WRITE_ROOM 7
/* Log slots freeing one more block may need: bitmap, the block holding the pointer, the
   level above it, the inode's block. */
#define FREE_ROOM 4

_Static_assert(FS_NBUF >= FS_LOGSIZE + 8, "FS_NBUF must exceed FS_LOGSIZE by 8");
_Static_assert(FS_LOGSIZE >= FS_MINLOG && FS_LOGSIZE <= FS_BSIZE / 4 - 1, "FS_LOGSIZE");
_Static_assert(FS_NBUF < 32000, "buffer indexes are int16_t");

/* Views of a block's bytes; may_alias because the same bytes are read as several types. */
struct __attribute__((may_alias)) dinode {
  uint16_t type;
  uint16_t nlink;
  uint32_t size;
  uint32_t addrs[NADDRS];
};
struct __attribute__((may_alias)) dirent {
  uint32_t inum;
  char name[DIRENT_SIZE - 4]; /* NUL-terminated */
};
typedef uint32_t __attribute__((may_alias)) u32a;

_Static_assert(sizeof(struct dinode) == DINODE_SIZE, "dinode size");
_Static_assert(sizeof(struct dirent) == DIRENT_SIZE, "dirent size");
_Static_assert(FS_NAME_MAX == DIRENT_SIZE - 5, "FS_NAME_MAX");
_Static_assert(sizeof(struct fs_superblock) <= FS_BSIZE, "superblock size");

struct inode {
  uint32_t inum;
  struct dinode d;
};

/* ---- Error details -------------------------------------------------------------------- */

/* Records an error detail: msg with its first and second '#' (decimal) or '$' (hex)
   replaced by a and b. */
static int fail(struct fs *fs, int code, const char *msg, uint32_t a, uint32_t b) {
  char *o = fs->detail;
  char *end = fs->detail + sizeof fs->detail - 1;
  int nth = 0;
  for (; *msg && o < end; msg++) {
    if (*msg != '#' && *msg != '$') {
      *o++ = *msg;
      continue;
    }
    uint32_t v = nth++ == 0 ? a : b, base = *msg == '#' ? 10 : 16;
    char digits[10];
    int k = 0;
    do digits[k++] = "0123456789abcdef"[v % base];
    while ((v /= base) && k < 10);
    if (base == 16 && o + 2 < end) *o++ = '0', *o++ = 'x';
    while (k && o < end) *o++ = digits[--k];
  }
  *o = 0;
  return code;
}

const char *fs_errdetail(const struct fs *fs) { return fs->detail; }

const char *fs_strerror(int code) {
  switch (code) {
  case 0: return "success";
  case FS_EIO: return "block device error";
  case FS_ENOENT: return "no such file or directory";
  case FS_EEXIST: return "file exists";
  case FS_ENOTDIR: return "not a directory";
  case FS_EISDIR: return "is a directory";
  case FS_ENOSPC: return "no space left on device";
  case FS_ENAMETOOLONG: return "file name too long";
  case FS_EINVAL: return "invalid argument";
  case FS_ENOTEMPTY: return "directory not empty";
  case FS_EFBIG: return "file too large";
  case FS_ENFILE: return "too many open files";
  case FS_EBADF: return "not a live inode";
  case FS_EBADMAGIC: return "not an xv6fs image";
  case FS_EBADSIZE: return "superblock size out of range";
  case FS_EBADLAYOUT: return "superblock layout inconsistent";
  case FS_EBADSUM: return "superblock checksum mismatch";
  case FS_EBADLOG: return "log header damaged";
  case FS_EBADROOT: return "root directory damaged";
  case FS_EBADINODE: return "inode table damaged";
  case FS_EBADBITMAP: return "free-block bitmap inconsistent";
  case FS_ECORRUPT: return "file system damaged";
  default: return "unknown error";
  }
}

/* ---- Buffer cache --------------------------------------------------------------------- */

static void cache_init(struct fs *fs) {
  for (int i = 0; i < FS_NHASH; i++) fs->hash[i] = -1;
  for (int i = 0; i < FS_NBUF; i++) {
    struct fs_buf *b = &fs->buf[i];
    b->blockno = 0;
    b->refcnt = 0;
    b->valid = b->logged = b->hashed = 0;
    b->hnext = -1;
    b->prev = (int16_t)(i - 1);
    b->next = (int16_t)(i + 1 < FS_NBUF ? i + 1 : -1);
  }
  fs->mru = 0;
  fs->lru = FS_NBUF - 1;
}

static void lru_remove(struct fs *fs, int i) {
  struct fs_buf *b = &fs->buf[i];
  if (b->prev >= 0) fs->buf[b->prev].next = b->next;
  else fs->mru = b->next;
  if (b->next >= 0) fs->buf[b->next].prev = b->prev;
  else fs->lru = b->prev;
}

static void lru_front(struct fs *fs, int i) {
  struct fs_buf *b = &fs->buf[i];
  b->prev = -1;
  b->next = fs->mru;
  if (fs->mru >= 0) fs->buf[fs->mru].prev = (int16_t)i;
  fs->mru = (int16_t)i;
  if (fs->lru < 0) fs->lru = (int16_t)i;
}

static void hash_remove(struct fs *fs, int i) {
  struct fs_buf *b = &fs->buf[i];
  if (!b->hashed) return;
  int16_t *p = &fs->hash[b->blockno % FS_NHASH];
  while (*p != i) p = &fs->buf[*p].hnext;
  *p = b->hnext;
  b->hashed = 0;
}

/* The buffer for block bno, its contents not necessarily valid; NULL if every buffer is
   in use (which the sizes make impossible). */
static struct fs_buf *bget(struct fs *fs, uint32_t bno) {
  int h = (int)(bno % FS_NHASH);
  for (int i = fs->hash[h]; i >= 0; i = fs->buf[i].hnext) {
    if (fs->buf[i].blockno == bno) {
      fs->buf[i].refcnt++;
      return &fs->buf[i];
    }
  }
  for (int i = fs->lru; i >= 0; i = fs->buf[i].prev) {
    struct fs_buf *b = &fs->buf[i];
    if (b->refcnt) continue;
    hash_remove(fs, i);
    b->blockno = bno;
    b->valid = 0;
    b->refcnt = 1;
    b->hnext = fs->hash[h];
    fs->hash[h] = (int16_t)i;
    b->hashed = 1;
    return b;
  }
  return 0;
}

static int bread(struct fs *fs, uint32_t bno, struct fs_buf **out) {
  struct fs_buf *b = bget(fs, bno);
  if (!b) return fail(fs, FS_EIO, "buffer cache exhausted reading block #", bno, 0);
  if (!b->valid) {
    fs->count.cache_misses++;
    fs->count.dev_reads++;
    if (fs->dev.read(fs->dev.ctx, bno, b->d.b) < 0) {
      b->refcnt--;
      return fail(fs, FS_EIO, "device read of block # failed", bno, 0);
    }
    b->valid = 1;
  } else {
    fs->count.cache_hits++;
  }
  *out = b;
  return 0;
}

static void brelse(struct fs *fs, struct fs_buf *b) {
  if (--b->refcnt == 0) {
    int i = (int)(b - fs->buf);
    lru_remove(fs, i);
    lru_front(fs, i);
  }
}

static int dev_write(struct fs *fs, uint32_t bno, const void *data) {
  fs->count.dev_writes++;
  if (fs->dev.write(fs->dev.ctx, bno, data) < 0) {
    fs->dead = FS_EIO;
    return fail(fs, FS_EIO, "device write of block # failed", bno, 0);
  }
  return 0;
}

/* ---- Log ------------------------------------------------------------------------------ */

static int begin_op(struct fs *fs) {
  if (fs->dead) return fs->dead;
  fs->tx_err = 0;
  return 0;
}

/* Adds b (just changed) to the current transaction and pins it. */
static void log_write(struct fs *fs, struct fs_buf *b) {
  if (b->logged) return;
  if (fs->log_n >= fs->logcap) {
    /* Cannot happen with the WRITE_ROOM/FREE_ROOM checks; the change is dropped with the
       whole transaction rather than left in a buffer the disk does not match. */
    b->valid = 0;
    if (!fs->tx_err) fs->tx_err = fail(fs, FS_EIO, "transaction overflows the log (# blocks)",
                                       fs->logcap, 0);
    return;
  }
  fs->log_block[fs->log_n] = b->blockno;
  fs->log_buf[fs->log_n] = (int16_t)(b - fs->buf);
  fs->log_n++;
  b->logged = 1;
  b->refcnt++;
}

static uint32_t log_room(const struct fs *fs) { return fs->logcap - fs->log_n; }

/* Rolls the current transaction back: its buffers are dropped (the disk still has what
   they held before it). */
static void log_abort(struct fs *fs) {
  for (uint32_t i = 0; i < fs->log_n; i++) {
    struct fs_buf *b = &fs->buf[fs->log_buf[i]];
    b->valid = 0;
    b->logged = 0;
    brelse(fs, b);
  }
  if (fs->log_n) fs->count.aborts++;
  fs->log_n = 0;
}

/* The header: n, then the home block of each logged block. Words past n are left from
   earlier commits; recovery reads only n of them. */
static int write_head(struct fs *fs, uint32_t n) {
  fs->head.w[0] = n;
  for (uint32_t i = 0; i < n; i++) fs->head.w[1 + i] = fs->log_block[i];
  return dev_write(fs, fs->sb.logstart, &fs->head);
}

static int commit(struct fs *fs) {
  uint32_t n = fs->log_n;
  if (n == 0) return 0;
  int r = 0;
  for (uint32_t i = 0; i < n && r == 0; i++)
    r = dev_write(fs, fs->sb.logstart + 1 + i, fs->buf[fs->log_buf[i]].d.b);
  if (r == 0) r = write_head(fs, n); /* the commit point */
  for (uint32_t i = 0; i < n && r == 0; i++)
    r = dev_write(fs, fs->log_block[i], fs->buf[fs->log_buf[i]].d.b);
  if (r == 0) r = write_head(fs, 0);
  for (uint32_t i = 0; i < n; i++) {
    struct fs_buf *b = &fs->buf[fs->log_buf[i]];
    b->logged = 0;
    brelse(fs, b);
  }
  fs->log_n = 0;
  if (r == 0) {
    fs->count.commits++;
    fs->count.logged += n;
  }
  return r;
}

/* Ends the transaction: commits it if r >= 0 (and nothing went wrong while logging),
   aborts it otherwise. Returns r or the error. */
static int end_op(struct fs *fs, int r) {
  if (r >= 0 && fs->tx_err) r = fs->tx_err;
  if (r < 0) {
    log_abort(fs);
    return r;
  }
  int c = commit(fs);
  return c < 0 ? c : r;
}

/* Replays a committed log (the header lists its blocks) and clears the header. */
static int recover(struct fs *fs) {
  union fs_block d, *h = &fs->head;
  if (fs->dev.read(fs->dev.ctx, fs->sb.logstart, h) < 0)
    return fail(fs, FS_EIO, "device read of block # failed", fs->sb.logstart, 0);
  uint32_t n = h->w[0];
  if (n == 0) return 0;
  if (n > fs->logcap)
    return fail(fs, FS_EBADLOG, "log header lists # blocks, the log holds #", n, fs->logcap);
  for (uint32_t i = 0; i < n; i++) {
    uint32_t home = h->w[1 + i];
    if (home < fs->sb.inodestart || home >= fs->sb.size)
      return fail(fs, FS_EBADLOG, "log entry # names block # outside the inode, bitmap and "
                                  "data areas", i, home);
  }
  for (uint32_t i = 0; i < n; i++) {
    if (fs->dev.read(fs->dev.ctx, fs->sb.logstart + 1 + i, &d) < 0)
      return fail(fs, FS_EIO, "device read of block # failed", fs->sb.logstart + 1 + i, 0);
    int r = dev_write(fs, h->w[1 + i], &d);
    if (r < 0) return r;
  }
  h->w[0] = 0;
  return dev_write(fs, fs->sb.logstart, h);
}

/* ---- Blocks --------------------------------------------------------------------------- */

static uint32_t bitmap_block(const struct fs *fs, uint32_t bno) {
  return fs->sb.bmapstart + bno / BPB;
}

/* A zeroed buffer for a block just allocated (not read: its old contents do not matter). */
static int bzero_new(struct fs *fs, uint32_t bno) {
  struct fs_buf *b = bget(fs, bno);
  if (!b) return fail(fs, FS_EIO, "buffer cache exhausted zeroing block #", bno, 0);
  memset(b->d.b, 0, FS_BSIZE);
  b->valid = 1;
  log_write(fs, b);
  brelse(fs, b);
  return 0;
}

/* Allocates a zeroed data block, searching the bitmap from the hint. */
static int balloc(struct fs *fs, uint32_t *out) {
  uint32_t size = fs->sb.size, start = fs->sb.datastart;
  uint32_t bno = fs->bhint >= start && fs->bhint < size ? fs->bhint : start;
  uint32_t left = size - start;
  while (left > 0) {
    struct fs_buf *b;
    int r = bread(fs, bitmap_block(fs, bno), &b);
    if (r < 0) return r;
    uint32_t end = (bno / BPB + 1) * BPB;
    if (end > size) end = size;
    while (bno < end && left > 0) {
      uint32_t bit = bno % BPB;
      uint8_t byte = b->d.b[bit / 8];
      if ((bit & 7) == 0 && byte == 0xff && end - bno >= 8 && left >= 8) {
        bno += 8;
        left -= 8;
        continue;
      }
      if (!(byte & (1u << (bit & 7)))) {
        b->d.b[bit / 8] = (uint8_t)(byte | (1u << (bit & 7)));
        log_write(fs, b);
        brelse(fs, b);
        fs->bhint = bno + 1;
        *out = bno;
        return bzero_new(fs, bno);
      }
      bno++;
      left--;
    }
    brelse(fs, b);
    if (bno >= size) bno = start;
  }
  return fail(fs, FS_ENOSPC, "no free data block (# in the data area)", size - start, 0);
}

static int bfree(struct fs *fs, uint32_t bno) {
  if (bno < fs->sb.datastart || bno >= fs->sb.size)
    return fail(fs, FS_ECORRUPT, "freeing block # outside the data area", bno, 0);
  struct fs_buf *b;
  int r = bread(fs, bitmap_block(fs, bno), &b);
  if (r < 0) return r;
  uint32_t bit = bno % BPB;
  uint8_t mask = (uint8_t)(1u << (bit & 7));
  if (!(b->d.b[bit / 8] & mask)) {
    brelse(fs, b);
    return fail(fs, FS_ECORRUPT, "freeing block # which is already free", bno, 0);
  }
  b->d.b[bit / 8] &= (uint8_t)~mask;
  log_write(fs, b);
  brelse(fs, b);
  if (bno < fs->bhint) fs->bhint = bno;
  return 0;
}

static int in_data(const struct fs *fs, uint32_t a) {
  return a >= fs->sb.datastart && a < fs->sb.size;
}

/* ---- Inodes --------------------------------------------------------------------------- */

static uint32_t inode_block(const struct fs *fs, uint32_t inum) {
  return fs->sb.inodestart + inum / IPB;
}

/* Copies inode inum into *ip; FS_EBADF unless it is a live inode. */
static int iget(struct fs *fs, uint32_t inum, struct inode *ip) {
  if (inum < 1 || inum >= fs->sb.ninodes) return FS_EBADF;
  struct fs_buf *b;
  int r = bread(fs, inode_block(fs, inum), &b);
  if (r < 0) return r;
  ip->inum = inum;
  ip->d = ((struct dinode *)b->d.b)[inum % IPB];
  brelse(fs, b);
  if (ip->d.type != FS_T_DIR && ip->d.type != FS_T_FILE) return FS_EBADF;
  return 0;
}

/* Writes *ip back to its block (in the current transaction). */
static int iupdate(struct fs *fs, const struct inode *ip) {
  struct fs_buf *b;
  int r = bread(fs, inode_block(fs, ip->inum), &b);
  if (r < 0) return r;
  ((struct dinode *)b->d.b)[ip->inum % IPB] = ip->d;
  log_write(fs, b);
  brelse(fs, b);
  return 0;
}

/* Allocates an inode of the given type (nlink 0, empty) into *ip. */
static int ialloc(struct fs *fs, uint16_t type, struct inode *ip) {
  uint32_t n = fs->sb.ninodes;
  uint32_t inum = fs->ihint >= 1 && fs->ihint < n ? fs->ihint : 1;
  for (uint32_t tried = 0; tried < n - 1;) {
    struct fs_buf *b;
    int r = bread(fs, inode_block(fs, inum), &b);
    if (r < 0) return r;
    struct dinode *di = (struct dinode *)b->d.b;
    uint32_t end = (inum / IPB + 1) * IPB;
    if (end > n) end = n;
    for (; inum < end && tried < n - 1; inum++, tried++) {
      if (di[inum % IPB].type != FS_T_FREE) continue;
      memset(&di[inum % IPB], 0, sizeof *di);
      di[inum % IPB].type = type;
      log_write(fs, b);
      ip->inum = inum;
      ip->d = di[inum % IPB];
      brelse(fs, b);
      fs->ihint = inum + 1;
      return 0;
    }
    brelse(fs, b);
    if (inum >= n) inum = 1;
  }
  return fail(fs, FS_ENOSPC, "no free inode (# inodes)", n - 1, 0);
}

/* Entry idx of indirect block blk: *out = the block number (0: none), allocated if alloc. */
static int ind_entry(struct fs *fs, struct inode *ip, uint32_t blk, uint32_t idx, int alloc,
                     uint32_t *out) {
  struct fs_buf *b;
  int r = bread(fs, blk, &b);
  if (r < 0) return r;
  uint32_t a = ((u32a *)b->d.w)[idx];
  if (a == 0 && alloc) {
    r = balloc(fs, &a);
    if (r == 0) {
      ((u32a *)b->d.w)[idx] = a;
      log_write(fs, b);
    }
  }
  brelse(fs, b);
  if (r < 0) return r;
  if (a && !in_data(fs, a))
    return fail(fs, FS_ECORRUPT, "inode #: indirect entry points to block # outside the data "
                                 "area", ip->inum, a);
  *out = a;
  return 0;
}

/* A pointer slot of the inode itself. */
static int inode_slot(struct fs *fs, struct inode *ip, int k, int alloc, uint32_t *out) {
  uint32_t a = ip->d.addrs[k];
  if (a == 0 && alloc) {
    int r = balloc(fs, &a);
    if (r < 0) return r;
    ip->d.addrs[k] = a;
  }
  if (a && !in_data(fs, a))
    return fail(fs, FS_ECORRUPT, "inode #: pointer to block # outside the data area", ip->inum,
                a);
  *out = a;
  return 0;
}

/* The disk block holding file block bn (0: a hole), allocating it (and the indirect
   blocks on the way) if alloc. The caller writes *ip back. */
static int bmap(struct fs *fs, struct inode *ip, uint32_t bn, int alloc, uint32_t *out) {
  uint32_t a;
  int r;
  if (bn < FS_NDIRECT) return inode_slot(fs, ip, (int)bn, alloc, out);
  bn -= FS_NDIRECT;
  if (bn < FS_NINDIRECT) {
    if ((r = inode_slot(fs, ip, FS_NDIRECT, alloc, &a)) < 0) return r;
    if (!a) return *out = 0, 0;
    return ind_entry(fs, ip, a, bn, alloc, out);
  }
  bn -= FS_NINDIRECT;
  if (bn >= FS_NINDIRECT * FS_NINDIRECT) return FS_EFBIG;
  if ((r = inode_slot(fs, ip, FS_NDIRECT + 1, alloc, &a)) < 0) return r;
  if (!a) return *out = 0, 0;
  if ((r = ind_entry(fs, ip, a, bn / FS_NINDIRECT, alloc, &a)) < 0) return r;
  if (!a) return *out = 0, 0;
  return ind_entry(fs, ip, a, bn % FS_NINDIRECT, alloc, out);
}

/* Ends the current transaction and begins the next one in the middle of a long operation;
   *ip (already consistent) is written first. */
static int split(struct fs *fs, struct inode *ip) {
  int r = iupdate(fs, ip);
  if ((r = end_op(fs, r)) < 0) return r;
  return begin_op(fs);
}

/* Frees every file block >= keep under indirect block blk, highest first. blk's entries
   map file blocks from fbase, one each (depth 1) or FS_NINDIRECT each through a depth-1
   block (depth 2). *lowest is the lowest file block freed so far: everything from it up
   is gone, so when the log fills the file is cut there and the transaction committed. */
static int free_tree(struct fs *fs, struct inode *ip, uint32_t blk, int depth, uint32_t fbase,
                     uint32_t keep, uint32_t *lowest) {
  struct fs_buf *b;
  int r = bread(fs, blk, &b);
  if (r < 0) return r;
  uint32_t span = depth == 2 ? FS_NINDIRECT : 1;
  for (uint32_t i = FS_NINDIRECT; i-- > 0;) {
    uint32_t cbase = fbase + i * span;
    if (cbase + span <= keep) break; /* this entry and the ones below stay */
    uint32_t a = ((u32a *)b->d.w)[i];
    if (!a) continue;
    if (!in_data(fs, a)) {
      r = fail(fs, FS_ECORRUPT, "inode #: indirect entry points to block # outside the data "
                                "area", ip->inum, a);
      break;
    }
    if (depth == 2) {
      if ((r = free_tree(fs, ip, a, 1, cbase, keep, lowest)) < 0) break;
      if (cbase < keep) continue; /* still holds blocks below the cut */
    }
    if (log_room(fs) < FREE_ROOM) {
      if (ip->d.size > *lowest * FS_BSIZE) ip->d.size = *lowest * FS_BSIZE;
      if ((r = split(fs, ip)) < 0) break;
    }
    if ((r = bfree(fs, a)) < 0) break;
    ((u32a *)b->d.w)[i] = 0;
    log_write(fs, b);
    if (depth == 1) *lowest = cbase;
  }
  brelse(fs, b);
  return r;
}

/* Frees a block the inode points to directly (slot k). */
static int free_slot(struct fs *fs, struct inode *ip, int k, uint32_t lowest) {
  int r;
  if (log_room(fs) < FREE_ROOM) {
    if (ip->d.size > lowest * FS_BSIZE) ip->d.size = lowest * FS_BSIZE;
    if ((r = split(fs, ip)) < 0) return r;
  }
  if ((r = bfree(fs, ip->d.addrs[k])) < 0) return r;
  ip->d.addrs[k] = 0;
  return 0;
}

/* Frees every block of *ip at file block keep and above, highest first, in as many
   transactions as needed (one is open on entry and on return). The caller sets the final
   size and writes *ip back. */
static int shrink(struct fs *fs, struct inode *ip, uint32_t keep) {
  const uint32_t D0 = FS_NDIRECT + FS_NINDIRECT; /* first double-indirect file block */
  uint32_t lowest = FS_MAXFILE_BLOCKS;
  int r;
  for (int k = 0; k < NADDRS; k++)
    if (ip->d.addrs[k] && !in_data(fs, ip->d.addrs[k]))
      return fail(fs, FS_ECORRUPT, "inode #: pointer to block # outside the data area",
                  ip->inum, ip->d.addrs[k]);
  uint32_t a = ip->d.addrs[FS_NDIRECT + 1];
  if (a && keep < FS_MAXFILE_BLOCKS) {
    if ((r = free_tree(fs, ip, a, 2, D0, keep, &lowest)) < 0) return r;
    if (keep <= D0 && (r = free_slot(fs, ip, FS_NDIRECT + 1, lowest)) < 0) return r;
  }
  a = ip->d.addrs[FS_NDIRECT];
  if (a && keep < D0) {
    if ((r = free_tree(fs, ip, a, 1, FS_NDIRECT, keep, &lowest)) < 0) return r;
    if (keep <= FS_NDIRECT && (r = free_slot(fs, ip, FS_NDIRECT, lowest)) < 0) return r;
  }
  for (uint32_t i = FS_NDIRECT; i-- > keep;) {
    if (!ip->d.addrs[i]) continue;
    if ((r = free_slot(fs, ip, (int)i, lowest)) < 0) return r;
    lowest = i;
  }
  return 0;
}

/* Starts a new transaction when the log has fewer than room free slots (*ip must be
   consistent with what is on the way to the disk). */
static int ensure_room(struct fs *fs, struct inode *ip, uint32_t room) {
  if (log_room(fs) >= room) return 0;
  return split(fs, ip);
}

/* ---- File contents -------------------------------------------------------------------- */

static int32_t readi(struct fs *fs, struct inode *ip, uint64_t off, uint8_t *dst, uint32_t n) {
  if (off >= ip->d.size) return 0;
  if (n > ip->d.size - off) n = (uint32_t)(ip->d.size - off);
  uint32_t done = 0;
  while (done < n) {
    uint64_t pos = off + done;
    uint32_t boff = (uint32_t)(pos % FS_BSIZE);
    uint32_t m = n - done < FS_BSIZE - boff ? n - done : FS_BSIZE - boff;
    uint32_t a;
    int r = bmap(fs, ip, (uint32_t)(pos / FS_BSIZE), 0, &a);
    if (r < 0) return r;
    if (!a) {
      memset(dst + done, 0, m);
    } else {
      struct fs_buf *b;
      if ((r = bread(fs, a, &b)) < 0) return r;
      memcpy(dst + done, b->d.b + boff, m);
      brelse(fs, b);
    }
    done += m;
  }
  return (int32_t)done;
}

/* Writes a few bytes (a directory entry) inside the current transaction, allocating
   blocks; the caller writes *ip back. */
static int writei(struct fs *fs, struct inode *ip, uint32_t off, const void *src, uint32_t n) {
  const uint8_t *s = src;
  uint32_t done = 0;
  while (done < n) {
    uint32_t pos = off + done, boff = pos % FS_BSIZE;
    uint32_t m = n - done < FS_BSIZE - boff ? n - done : FS_BSIZE - boff;
    uint32_t a;
    struct fs_buf *b;
    int r = bmap(fs, ip, pos / FS_BSIZE, 1, &a);
    if (r < 0) return r;
    if ((r = bread(fs, a, &b)) < 0) return r;
    memcpy(b->d.b + boff, s + done, m);
    log_write(fs, b);
    brelse(fs, b);
    done += m;
  }
  if (off + n > ip->d.size) ip->d.size = off + n;
  return 0;
}

/* ---- Directories ---------------------------------------------------------------------- */

static int name_is(const struct dirent *de, const char *name, uint32_t len) {
  return len <= FS_NAME_MAX && memcmp(de->name, name, len) == 0 && de->name[len] == 0;
}

/* Looks name up in directory dp: 0 with *inum and *off (of the entry), or FS_ENOENT; in
   both cases *free_off is where a new entry would go (a free slot or the end). */
static int dir_lookup(struct fs *fs, struct inode *dp, const char *name, uint32_t len,
                      uint32_t *inum, uint32_t *off, uint32_t *free_off) {
  uint32_t size = dp->d.size;
  uint32_t fo = size;
  for (uint32_t boff = 0; boff < size; boff += FS_BSIZE) {
    uint32_t a;
    struct fs_buf *b;
    int r = bmap(fs, dp, boff / FS_BSIZE, 0, &a);
    if (r < 0) return r;
    if (!a) return fail(fs, FS_ECORRUPT, "directory # has a hole at block #", dp->inum,
                        boff / FS_BSIZE);
    if ((r = bread(fs, a, &b)) < 0) return r;
    const struct dirent *de = (const struct dirent *)b->d.b;
    for (uint32_t e = 0; e < DPB && boff + e * DIRENT_SIZE < size; e++) {
      if (de[e].inum == 0) {
        if (fo == size) fo = boff + e * DIRENT_SIZE;
        continue;
      }
      if (name_is(&de[e], name, len)) {
        *inum = de[e].inum;
        *off = boff + e * DIRENT_SIZE;
        *free_off = fo;
        brelse(fs, b);
        return 0;
      }
    }
    brelse(fs, b);
  }
  *free_off = fo;
  return FS_ENOENT;
}

static int dir_link(struct fs *fs, struct inode *dp, const char *name, uint32_t len,
                    uint32_t inum, uint32_t off) {
  struct dirent de;
  memset(&de, 0, sizeof de);
  de.inum = inum;
  memcpy(de.name, name, len);
  return writei(fs, dp, off, &de, sizeof de);
}

/* 1 if directory dp holds nothing but "." and "..". */
static int dir_empty(struct fs *fs, struct inode *dp) {
  for (uint32_t boff = 0; boff < dp->d.size; boff += FS_BSIZE) {
    uint32_t a;
    struct fs_buf *b;
    int r = bmap(fs, dp, boff / FS_BSIZE, 0, &a);
    if (r < 0) return r;
    if (!a) return fail(fs, FS_ECORRUPT, "directory # has a hole at block #", dp->inum,
                        boff / FS_BSIZE);
    if ((r = bread(fs, a, &b)) < 0) return r;
    const struct dirent *de = (const struct dirent *)b->d.b;
    for (uint32_t e = 0; e < DPB && boff + e * DIRENT_SIZE < dp->d.size; e++) {
      if (de[e].inum && !name_is(&de[e], ".", 1) && !name_is(&de[e], "..", 2)) {
        brelse(fs, b);
        return 0;
      }
    }
    brelse(fs, b);
  }
  return 1;
}

/* An inode a directory entry names: it must be live. */
static int iget_named(struct fs *fs, uint32_t inum, struct inode *ip, uint32_t dir) {
  int r = iget(fs, inum, ip);
  if (r == FS_EBADF)
    return fail(fs, FS_ECORRUPT, "directory # names inode # which is not in use", dir, inum);
  return r;
}

/* Resolves all but the last component of an absolute path: *dp is the parent directory,
   *name and *len the last component (len 0 when the path is "/"). */
static int walk_parent(struct fs *fs, const char *path, struct inode *dp, const char **name,
                       uint32_t *len) {
  if (!path || path[0] != '/') return fail(fs, FS_EINVAL, "path is not absolute", 0, 0);
  int r = iget(fs, FS_ROOTINO, dp);
  if (r == FS_EBADF) return fail(fs, FS_ECORRUPT, "root inode is not in use", 0, 0);
  if (r < 0) return r;
  const char *p = path;
  while (*p == '/') p++;
  if (!*p) {
    *name = p;
    *len = 0;
    return 0;
  }
  for (;;) {
    const char *q = p;
    while (*q && *q != '/') q++;
    uint32_t l = (uint32_t)(q - p);
    if (l > FS_NAME_MAX) return FS_ENAMETOOLONG;
    if (dp->d.type != FS_T_DIR) return FS_ENOTDIR;
    const char *rest = q;
    while (*rest == '/') rest++;
    if (!*rest) {
      *name = p;
      *len = l;
      return 0;
    }
    uint32_t inum, off, fo;
    if ((r = dir_lookup(fs, dp, p, l, &inum, &off, &fo)) < 0) return r;
    uint32_t parent = dp->inum;
    if ((r = iget_named(fs, inum, dp, parent)) < 0) return r;
    p = rest;
  }
}

/* ---- Open inodes ---------------------------------------------------------------------- */

static int open_find(const struct fs *fs, uint32_t inum) {
  for (int i = 0; i < FS_NOPEN; i++)
    if (fs->open[i].inum == inum) return i;
  return -1;
}

static void open_add(struct fs *fs, uint32_t inum) {
  int i = open_find(fs, inum);
  if (i < 0) i = open_find(fs, 0); /* the caller checked there is a free slot */
  fs->open[i].inum = inum;
  fs->open[i].refs++;
}

/* Frees an inode with no name left: its blocks, then the inode. A crash in between leaves
   an inode with nlink 0, which the next mount frees. */
static int ifree(struct fs *fs, uint32_t inum) {
  struct inode ip;
  int r = iget(fs, inum, &ip);
  if (r < 0) return r;
  if ((r = begin_op(fs)) < 0) return r;
  r = shrink(fs, &ip, 0);
  ip.d.size = 0;
  if (r >= 0) r = ensure_room(fs, &ip, 1);
  if (r >= 0) {
    memset(&ip.d, 0, sizeof ip.d);
    r = iupdate(fs, &ip);
  }
  r = end_op(fs, r);
  if (r >= 0 && inum < fs->ihint) fs->ihint = inum;
  return r;
}

/* ---- API ------------------------------------------------------------------------------ */

/* Every call but fs_mount starts here: a file system that failed (a device error during a
   commit) or was never mounted successfully refuses everything. */
#define LIVE(fs)                                                                            \
  do {                                                                                      \
    if ((fs)->dead) return (fs)->dead;                                                      \
    if ((fs)->sb.magic != FS_MAGIC) return FS_EINVAL;                                       \
  } while (0)

int fs_open(struct fs *fs, const char *path, int flags) {
  LIVE(fs);
  struct inode dp, ip;
  const char *name;
  uint32_t len, inum, off, fo;
  int r = walk_parent(fs, path, &dp, &name, &len);
  if (r < 0) return r;
  if (len == 0) { /* "/" */
    if ((flags & FS_O_CREAT) && (flags & FS_O_EXCL)) return FS_EEXIST;
    if (flags & (FS_O_CREAT | FS_O_TRUNC)) return FS_EISDIR;
    inum = FS_ROOTINO;
    if (open_find(fs, inum) < 0 && open_find(fs, 0) < 0) return FS_ENFILE;
  } else {
    r = dir_lookup(fs, &dp, name, len, &inum, &off, &fo);
    if (r == 0) {
      if ((flags & FS_O_CREAT) && (flags & FS_O_EXCL)) return FS_EEXIST;
      if ((r = iget_named(fs, inum, &ip, dp.inum)) < 0) return r;
      if ((flags & (FS_O_CREAT | FS_O_TRUNC)) && ip.d.type == FS_T_DIR) return FS_EISDIR;
      if (open_find(fs, inum) < 0 && open_find(fs, 0) < 0) return FS_ENFILE;
      if ((flags & FS_O_TRUNC) && ip.d.size > 0) {
        if ((r = begin_op(fs)) < 0) return r;
        r = shrink(fs, &ip, 0);
        ip.d.size = 0;
        if (r >= 0) r = ensure_room(fs, &ip, 1);
        if (r >= 0) r = iupdate(fs, &ip);
        if ((r = end_op(fs, r)) < 0) return r;
      }
    } else if (r == FS_ENOENT) {
      if (!(flags & FS_O_CREAT)) return FS_ENOENT;
      if (open_find(fs, 0) < 0) return FS_ENFILE;
      if ((r = begin_op(fs)) < 0) return r;
      r = ialloc(fs, FS_T_FILE, &ip);
      if (r >= 0) {
        ip.d.nlink = 1;
        r = iupdate(fs, &ip);
      }
      struct dinode before = dp.d;
      if (r >= 0) r = dir_link(fs, &dp, name, len, ip.inum, fo);
      if (r >= 0 && memcmp(&before, &dp.d, sizeof before) != 0) r = iupdate(fs, &dp);
      if ((r = end_op(fs, r)) < 0) return r;
      inum = ip.inum;
    } else {
      return r;
    }
  }
  open_add(fs, inum);
  return (int)inum;
}

int fs_close(struct fs *fs, uint32_t inum) {
  int i = inum ? open_find(fs, inum) : -1;
  if (i < 0) return FS_EBADF;
  if (--fs->open[i].refs > 0) return 0;
  fs->open[i].inum = 0;
  LIVE(fs);
  struct inode ip;
  int r = iget(fs, inum, &ip);
  if (r < 0) return r;
  if (ip.d.nlink == 0) return ifree(fs, inum);
  return 0;
}

int32_t fs_read(struct fs *fs, uint32_t inum, uint64_t off, void *buf, uint32_t n) {
  LIVE(fs);
  struct inode ip;
  int r = iget(fs, inum, &ip);
  if (r < 0) return r;
  if (ip.d.type == FS_T_DIR) return FS_EISDIR;
  if (n > 0x7fffffffu) n = 0x7fffffffu;
  return readi(fs, &ip, off, buf, n);
}

int32_t fs_write(struct fs *fs, uint32_t inum, uint64_t off, const void *buf, uint32_t n) {
  LIVE(fs);
  struct inode ip;
  int r = iget(fs, inum, &ip);
  if (r < 0) return r;
  if (ip.d.type == FS_T_DIR) return FS_EISDIR;
  if (off > FS_MAXFILE || n > FS_MAXFILE - off) return FS_EFBIG;
  if (n == 0) return 0;
  const uint8_t *src = buf;
  uint32_t done = 0, done_tx = 0; /* bytes written; of those, before this transaction */
  struct dinode orig = ip.d;      /* an overwrite inside the file leaves the inode alone */
  if ((r = begin_op(fs)) < 0) return r;
  while (done < n) {
    if (log_room(fs) < WRITE_ROOM) {
      r = memcmp(&orig, &ip.d, sizeof orig) ? iupdate(fs, &ip) : 0;
      if ((r = end_op(fs, r)) < 0 || (r = begin_op(fs)) < 0) return r;
      orig = ip.d;
      done_tx = done;
    }
    uint64_t pos = off + done;
    uint32_t boff = (uint32_t)(pos % FS_BSIZE);
    uint32_t m = n - done < FS_BSIZE - boff ? n - done : FS_BSIZE - boff;
    uint32_t a;
    struct fs_buf *b;
    r = bmap(fs, &ip, (uint32_t)(pos / FS_BSIZE), 1, &a);
    if (r == FS_ENOSPC) break;
    if (r >= 0 && m == FS_BSIZE) {
      /* the whole block is replaced: no need to read it first */
      if (!(b = bget(fs, a))) r = fail(fs, FS_EIO, "buffer cache exhausted at block #", a, 0);
      else b->valid = 1;
    } else if (r >= 0) {
      r = bread(fs, a, &b);
    }
    if (r < 0) return end_op(fs, r);
    memcpy(b->d.b + boff, src + done, m);
    log_write(fs, b);
    brelse(fs, b);
    done += m;
    if (pos + m > ip.d.size) ip.d.size = (uint32_t)(pos + m);
  }
  if (r == FS_ENOSPC && done == done_tx) {
    /* nothing written in this transaction: drop it (and any indirect block it took) */
    end_op(fs, FS_ENOSPC);
    return done ? (int32_t)done : FS_ENOSPC;
  }
  r = memcmp(&orig, &ip.d, sizeof orig) ? iupdate(fs, &ip) : 0;
  if ((r = end_op(fs, r)) < 0) return r;
  return (int32_t)done;
}

int fs_truncate(struct fs *fs, uint32_t inum, uint64_t size) {
  LIVE(fs);
  struct inode ip;
  int r = iget(fs, inum, &ip);
  if (r < 0) return r;
  if (ip.d.type == FS_T_DIR) return FS_EISDIR;
  if (size > FS_MAXFILE) return FS_EFBIG;
  if (size == ip.d.size) return 0;
  if ((r = begin_op(fs)) < 0) return r;
  if (size < ip.d.size) {
    uint32_t keep = (uint32_t)((size + FS_BSIZE - 1) / FS_BSIZE);
    r = shrink(fs, &ip, keep);
    if (ip.d.size > keep * FS_BSIZE) ip.d.size = keep * FS_BSIZE; /* all above is freed */
    if (r >= 0 && size % FS_BSIZE) {
      /* zero the kept block's tail, so that growing the file again reads zeros there */
      uint32_t a;
      r = ensure_room(fs, &ip, 2);
      if (r >= 0) r = bmap(fs, &ip, keep - 1, 0, &a);
      if (r >= 0 && a) {
        struct fs_buf *b;
        if ((r = bread(fs, a, &b)) >= 0) {
          memset(b->d.b + size % FS_BSIZE, 0, FS_BSIZE - size % FS_BSIZE);
          log_write(fs, b);
          brelse(fs, b);
        }
      }
    }
    if (r >= 0) r = ensure_room(fs, &ip, 1);
  }
  if (r >= 0) {
    ip.d.size = (uint32_t)size;
    r = iupdate(fs, &ip);
  }
  r = end_op(fs, r);
  return r < 0 ? r : 0;
}

int fs_stat(struct fs *fs, uint32_t inum, struct fs_stat *st) {
  LIVE(fs);
  struct inode ip;
  int r = iget(fs, inum, &ip);
  if (r < 0) return r;
  st->inum = inum;
  st->type = ip.d.type;
  st->nlink = ip.d.nlink;
  st->size = ip.d.size;
  return 0;
}

int fs_fsync(struct fs *fs, uint32_t inum) {
  LIVE(fs);
  struct inode ip;
  return iget(fs, inum, &ip);
}

int fs_mkdir(struct fs *fs, const char *path) {
  LIVE(fs);
  struct inode dp, ip;
  const char *name;
  uint32_t len, inum, off, fo;
  int r = walk_parent(fs, path, &dp, &name, &len);
  if (r < 0) return r;
  if (len == 0) return FS_EEXIST;
  r = dir_lookup(fs, &dp, name, len, &inum, &off, &fo);
  if (r == 0) return FS_EEXIST;
  if (r != FS_ENOENT) return r;
  if (dp.d.nlink >= 0xffff)
    return fail(fs, FS_EINVAL, "directory # has too many links", dp.inum, 0);
  if ((r = begin_op(fs)) < 0) return r;
  r = ialloc(fs, FS_T_DIR, &ip);
  if (r >= 0) {
    ip.d.nlink = 1;
    r = dir_link(fs, &ip, ".", 1, ip.inum, 0);
  }
  if (r >= 0) r = dir_link(fs, &ip, "..", 2, dp.inum, DIRENT_SIZE);
  if (r >= 0) r = iupdate(fs, &ip);
  if (r >= 0) r = dir_link(fs, &dp, name, len, ip.inum, fo);
  if (r >= 0) {
    dp.d.nlink++;
    r = iupdate(fs, &dp);
  }
  if ((r = end_op(fs, r)) < 0) return r;
  return (int)ip.inum;
}

int fs_unlink(struct fs *fs, const char *path) {
  LIVE(fs);
  struct inode dp, ip;
  const char *name;
  uint32_t len, inum, off, fo;
  int r = walk_parent(fs, path, &dp, &name, &len);
  if (r < 0) return r;
  if (len == 0) return fail(fs, FS_EINVAL, "cannot remove the root directory", 0, 0);
  if ((len == 1 && name[0] == '.') || (len == 2 && name[0] == '.' && name[1] == '.'))
    return fail(fs, FS_EINVAL, "cannot remove . or ..", 0, 0);
  if ((r = dir_lookup(fs, &dp, name, len, &inum, &off, &fo)) < 0) return r;
  if ((r = iget_named(fs, inum, &ip, dp.inum)) < 0) return r;
  if (ip.d.nlink == 0)
    return fail(fs, FS_ECORRUPT, "directory # names inode # whose nlink is 0", dp.inum, inum);
  if (ip.d.type == FS_T_DIR) {
    if ((r = dir_empty(fs, &ip)) < 0) return r;
    if (!r) return FS_ENOTEMPTY;
  }
  if ((r = begin_op(fs)) < 0) return r;
  struct dirent de;
  memset(&de, 0, sizeof de);
  r = writei(fs, &dp, off, &de, sizeof de);
  if (r >= 0 && ip.d.type == FS_T_DIR) {
    dp.d.nlink--; /* its ".." */
    ip.d.nlink = 0;
    r = iupdate(fs, &dp);
  } else if (r >= 0) {
    ip.d.nlink--;
  }
  if (r >= 0) r = iupdate(fs, &ip);
  if ((r = end_op(fs, r)) < 0) return r;
  if (ip.d.nlink == 0 && open_find(fs, inum) < 0) return ifree(fs, inum);
  return 0;
}

int fs_readdir(struct fs *fs, uint32_t dir, uint32_t *pos, char *name, uint32_t *inum) {
  LIVE(fs);
  struct inode dp;
  int r = iget(fs, dir, &dp);
  if (r < 0) return r;
  if (dp.d.type != FS_T_DIR) return FS_ENOTDIR;
  for (uint32_t e = *pos; (uint64_t)e * DIRENT_SIZE < dp.d.size; e++) {
    uint32_t a;
    struct fs_buf *b;
    if ((r = bmap(fs, &dp, e / DPB, 0, &a)) < 0) return r;
    if (!a) return fail(fs, FS_ECORRUPT, "directory # has a hole at block #", dir, e / DPB);
    if ((r = bread(fs, a, &b)) < 0) return r;
    const struct dirent *de = &((const struct dirent *)b->d.b)[e % DPB];
    if (de->inum) {
      uint32_t k = 0;
      for (; k < FS_NAME_MAX && de->name[k]; k++) name[k] = de->name[k];
      name[k] = 0;
      *inum = de->inum;
      *pos = e + 1;
      brelse(fs, b);
      return 1;
    }
    brelse(fs, b);
  }
  *pos = dp.d.size / DIRENT_SIZE;
  return 0;
}

/* Counts the clear bits for blocks [from, to) of the bitmap. */
static int count_free(struct fs *fs, uint32_t from, uint32_t to, uint32_t *out) {
  uint32_t n = 0;
  for (uint32_t bno = from; bno < to;) {
    struct fs_buf *b;
    int r = bread(fs, bitmap_block(fs, bno), &b);
    if (r < 0) return r;
    uint32_t end = (bno / BPB + 1) * BPB;
    if (end > to) end = to;
    for (; bno < end; bno++) {
      uint32_t bit = bno % BPB;
      if (!(b->d.b[bit / 8] & (1u << (bit & 7)))) n++;
    }
    brelse(fs, b);
  }
  *out = n;
  return 0;
}

int fs_statfs(struct fs *fs, struct fs_statfs *st) {
  LIVE(fs);
  st->size = fs->sb.size;
  st->datablocks = fs->sb.nblocks;
  st->inodes = fs->sb.ninodes - 1;
  st->logblocks = fs->logcap;
  int r = count_free(fs, fs->sb.datastart, fs->sb.size, &st->free_blocks);
  if (r < 0) return r;
  uint32_t nfree = 0;
  for (uint32_t inum = 1; inum < fs->sb.ninodes; inum++) {
    struct fs_buf *b;
    if ((r = bread(fs, inode_block(fs, inum), &b)) < 0) return r;
    if (((struct dinode *)b->d.b)[inum % IPB].type == FS_T_FREE) nfree++;
    brelse(fs, b);
  }
  st->free_inodes = nfree;
  return 0;
}

/* ---- mkfs and mount ------------------------------------------------------------------- */

static uint32_t sb_checksum(const struct fs_superblock *sb) {
  const uint8_t *p = (const uint8_t *)sb;
  uint32_t h = 2166136261u;
  for (size_t i = 0; i < offsetof(struct fs_superblock, checksum); i++) {
    h ^= p[i];
    h *= 16777619u;
  }
  return h;
}

static uint32_t div_up(uint32_t a, uint32_t b) { return a / b + (a % b != 0); }

int fs_mkfs(const struct fs_bdev *dev, uint32_t ninodes) {
  uint32_t size = dev->nblocks;
  if (size > FS_MAXBLOCKS || ninodes < 1 || ninodes >= MAXINODES) return FS_EINVAL;
  struct fs_superblock sb;
  memset(&sb, 0, sizeof sb);
  sb.magic = FS_MAGIC;
  sb.version = FS_VERSION;
  sb.bsize = FS_BSIZE;
  sb.size = size;
  sb.ninodes = div_up(ninodes + 1, IPB) * IPB;
  sb.nlog = FS_LOGSIZE + 1;
  sb.logstart = 2;
  sb.inodestart = sb.logstart + sb.nlog;
  sb.bmapstart = sb.inodestart + sb.ninodes / IPB;
  sb.datastart = sb.bmapstart + div_up(size, BPB);
  if (sb.datastart + 2 > size) return FS_EINVAL; /* room for the root and one more block */
  sb.nblocks = size - sb.datastart;
  sb.checksum = sb_checksum(&sb);

  union fs_block blk;
  memset(&blk, 0, sizeof blk);
  int r = 0;
  for (uint32_t b = 0; b < sb.bmapstart && r == 0; b++)
    if (b != 1 && (b <= sb.logstart || b >= sb.inodestart)) r = dev->write(dev->ctx, b, &blk);
  for (uint32_t k = 0; k < sb.datastart - sb.bmapstart && r == 0; k++) {
    /* used: the metadata, the root's block, and the bits past the end of the image */
    for (uint32_t byte = 0; byte < FS_BSIZE; byte++) {
      uint32_t first = k * BPB + byte * 8, v = 0;
      if (first + 7 <= sb.datastart || first >= size) v = 0xff;
      else if (first <= sb.datastart || first + 7 >= size)
        for (uint32_t bit = 0; bit < 8; bit++)
          if (first + bit <= sb.datastart || first + bit >= size) v |= 1u << bit;
      blk.b[byte] = (uint8_t)v;
    }
    r = dev->write(dev->ctx, sb.bmapstart + k, &blk);
  }
  /* the root directory: inode 1, its block the first data block */
  memset(&blk, 0, sizeof blk);
  struct dirent *de = (struct dirent *)blk.b;
  de[0].inum = FS_ROOTINO;
  de[0].name[0] = '.';
  de[1].inum = FS_ROOTINO;
  de[1].name[0] = de[1].name[1] = '.';
  if (r == 0) r = dev->write(dev->ctx, sb.datastart, &blk);
  memset(&blk, 0, sizeof blk);
  struct dinode *di = &((struct dinode *)blk.b)[FS_ROOTINO % IPB];
  di->type = FS_T_DIR;
  di->nlink = 1;
  di->size = 2 * DIRENT_SIZE;
  di->addrs[0] = sb.datastart;
  if (r == 0) r = dev->write(dev->ctx, sb.inodestart + FS_ROOTINO / IPB, &blk);
  /* the superblock last: an interrupted mkfs leaves no valid image */
  memset(&blk, 0, sizeof blk);
  memcpy(blk.b, &sb, sizeof sb);
  if (r == 0) r = dev->write(dev->ctx, 1, &blk);
  return r < 0 ? FS_EIO : 0;
}

static int bit_isset(struct fs *fs, uint32_t bno, int *set) {
  struct fs_buf *b;
  int r = bread(fs, bitmap_block(fs, bno), &b);
  if (r < 0) return r;
  uint32_t bit = bno % BPB;
  *set = (b->d.b[bit / 8] >> (bit & 7)) & 1;
  brelse(fs, b);
  return 0;
}

/* The superblock's sizes and regions, field by field. */
static int check_super(struct fs *fs, const struct fs_superblock *sb, uint32_t devblocks) {
  if (sb->magic != FS_MAGIC)
    return fail(fs, FS_EBADMAGIC, "magic number is $, not $ (xv6f)", sb->magic, FS_MAGIC);
  if (sb->version != FS_VERSION)
    return fail(fs, FS_EBADMAGIC, "version # (this library reads #)", sb->version,
                FS_VERSION);
  if (sb->bsize != FS_BSIZE)
    return fail(fs, FS_EBADMAGIC, "block size # (this library reads #)", sb->bsize, FS_BSIZE);
  if (sb->size > devblocks)
    return fail(fs, FS_EBADSIZE, "image of # blocks on a device of #", sb->size, devblocks);
  if (sb->size > FS_MAXBLOCKS || sb->size < 8)
    return fail(fs, FS_EBADSIZE, "image size # blocks out of range (8 to #)", sb->size,
                FS_MAXBLOCKS);
  if (sb->ninodes < 2 || sb->ninodes > MAXINODES || sb->ninodes % IPB)
    return fail(fs, FS_EBADSIZE, "inode count # out of range (a multiple of # up to 2^20)",
                sb->ninodes, IPB);
  if (sb->nlog < FS_MINLOG + 1 || sb->nlog > FS_LOGSIZE + 1)
    return fail(fs, FS_EBADSIZE, "log of # blocks; this build handles up to #", sb->nlog,
                FS_LOGSIZE + 1);
  if (sb->logstart != 2)
    return fail(fs, FS_EBADLAYOUT, "log starts at block #, not #", sb->logstart, 2);
  if (sb->inodestart != sb->logstart + sb->nlog)
    return fail(fs, FS_EBADLAYOUT, "inode table starts at block #, not #", sb->inodestart,
                sb->logstart + sb->nlog);
  if (sb->bmapstart != sb->inodestart + sb->ninodes / IPB)
    return fail(fs, FS_EBADLAYOUT, "bitmap starts at block #, not #", sb->bmapstart,
                sb->inodestart + sb->ninodes / IPB);
  if (sb->datastart != sb->bmapstart + div_up(sb->size, BPB))
    return fail(fs, FS_EBADLAYOUT, "data area starts at block #, not #", sb->datastart,
                sb->bmapstart + div_up(sb->size, BPB));
  if (sb->datastart + 2 > sb->size)
    return fail(fs, FS_EBADLAYOUT, "data area starts at block # of #", sb->datastart,
                sb->size);
  if (sb->nblocks != sb->size - sb->datastart)
    return fail(fs, FS_EBADLAYOUT, "# data blocks, not #", sb->nblocks,
                sb->size - sb->datastart);
  if (sb->checksum != sb_checksum(sb))
    return fail(fs, FS_EBADSUM, "checksum is $, the fields give $", sb->checksum,
                sb_checksum(sb));
  return 0;
}

/* The root directory: a live directory whose first entries are "." and ".." (itself). */
static int check_root(struct fs *fs) {
  struct inode ip;
  int r = iget(fs, FS_ROOTINO, &ip);
  if (r == FS_EBADF || (r == 0 && ip.d.type != FS_T_DIR))
    return fail(fs, FS_EBADROOT, "root inode has type #, not a directory", ip.d.type, 0);
  if (r < 0) return r;
  if (ip.d.nlink < 1 || ip.d.size < 2 * DIRENT_SIZE || ip.d.size % DIRENT_SIZE ||
      !in_data(fs, ip.d.addrs[0]))
    return fail(fs, FS_EBADROOT, "root inode: nlink #, size #", ip.d.nlink, ip.d.size);
  struct fs_buf *b;
  if ((r = bread(fs, ip.d.addrs[0], &b)) < 0) return r;
  const struct dirent *de = (const struct dirent *)b->d.b;
  int ok = de[0].inum == FS_ROOTINO && name_is(&de[0], ".", 1) &&
           de[1].inum == FS_ROOTINO && name_is(&de[1], "..", 2);
  brelse(fs, b);
  if (!ok) return fail(fs, FS_EBADROOT, "root directory's block # lacks . and ..",
                       ip.d.addrs[0], 0);
  return 0;
}

/* Every inode: type, size, pointers in range and marked used; *orphans counts the live
   ones without a name. */
static int check_inodes(struct fs *fs, uint32_t *orphans) {
  uint32_t n = 0;
  for (uint32_t inum = 1; inum < fs->sb.ninodes; inum++) {
    struct inode ip;
    struct fs_buf *b;
    int r = bread(fs, inode_block(fs, inum), &b);
    if (r < 0) return r;
    ip.d = ((struct dinode *)b->d.b)[inum % IPB];
    brelse(fs, b);
    if (ip.d.type == FS_T_FREE) continue;
    if (ip.d.type > FS_T_FILE)
      return fail(fs, FS_EBADINODE, "inode # has type #", inum, ip.d.type);
    if (ip.d.size > FS_MAXFILE)
      return fail(fs, FS_EBADINODE, "inode # has size #", inum, ip.d.size);
    if (ip.d.type == FS_T_DIR && ip.d.size % DIRENT_SIZE)
      return fail(fs, FS_EBADINODE, "directory inode # has size #", inum, ip.d.size);
    for (int k = 0; k < NADDRS; k++) {
      uint32_t a = ip.d.addrs[k];
      if (!a) continue;
      if (!in_data(fs, a))
        return fail(fs, FS_EBADINODE, "inode # points to block # outside the data area", inum,
                    a);
      int set;
      if ((r = bit_isset(fs, a, &set)) < 0) return r;
      if (!set)
        return fail(fs, FS_EBADBITMAP, "block # of inode # is free in the bitmap", a, inum);
    }
    if (ip.d.nlink == 0) n++;
  }
  *orphans = n;
  return 0;
}

static int mount(struct fs *fs, const struct fs_bdev *dev);

int fs_mount(struct fs *fs, const struct fs_bdev *dev) {
  int r = mount(fs, dev);
  fs->dead = r < 0 ? r : 0;
  return r;
}

static int mount(struct fs *fs, const struct fs_bdev *dev) {
  fs->dev = *dev;
  cache_init(fs);
  fs->log_n = 0;
  fs->logcap = 0;
  fs->dead = 0;
  fs->tx_err = 0;
  fs->bhint = fs->ihint = 0;
  memset(fs->open, 0, sizeof fs->open);
  memset(&fs->count, 0, sizeof fs->count);
  fs->detail[0] = 0;
  memset(&fs->sb, 0, sizeof fs->sb);

  union fs_block blk;
  if (dev->nblocks < 2 || dev->read(dev->ctx, 1, &blk) < 0)
    return fail(fs, FS_EIO, "device read of block # failed", 1, 0);
  struct fs_superblock sb;
  memcpy(&sb, blk.b, sizeof sb);
  int r = check_super(fs, &sb, dev->nblocks);
  if (r < 0) return r;
  fs->sb = sb;
  fs->logcap = sb.nlog - 1;
  if ((r = recover(fs)) < 0) return r;
  if ((r = check_root(fs)) < 0) return r;
  uint32_t orphans = 0;
  if ((r = check_inodes(fs, &orphans)) < 0) return r;
  for (uint32_t bno = 0; bno < sb.datastart; bno++) {
    int set;
    if ((r = bit_isset(fs, bno, &set)) < 0) return r;
    if (!set) return fail(fs, FS_EBADBITMAP, "metadata block # is free in the bitmap", bno, 0);
  }
  for (uint32_t inum = 1; orphans && inum < sb.ninodes; inum++) {
    struct inode ip;
    r = iget(fs, inum, &ip);
    if (r == FS_EBADF) continue;
    if (r < 0) return r;
    if (ip.d.nlink) continue;
    if ((r = ifree(fs, inum)) < 0) return r;
    orphans--;
  }
  fs->count.dev_reads = fs->count.dev_writes = 0;
  return 0;
}

/* ---- fsck ----------------------------------------------------------------------------- */

struct fsck {
  struct fs *fs;
  u32a *refs;    /* names of each inode */
  uint8_t *seen; /* a bit per block: referenced */
  uint32_t inum, nb; /* the inode being walked and its size in blocks */
};

size_t fs_fsck_scratch(const struct fs *fs) {
  return (size_t)fs->sb.ninodes * 4 + (fs->sb.size + 7) / 8;
}

static int mark(struct fsck *c, uint32_t a) {
  struct fs *fs = c->fs;
  if (!in_data(fs, a))
    return fail(fs, FS_ECORRUPT, "inode # points to block # outside the data area", c->inum, a);
  if (c->seen[a / 8] & (1u << (a & 7)))
    return fail(fs, FS_ECORRUPT, "block # is referenced twice (the second time by inode #)", a,
                c->inum);
  c->seen[a / 8] |= (uint8_t)(1u << (a & 7));
  int set, r = bit_isset(fs, a, &set);
  if (r < 0) return r;
  if (!set) return fail(fs, FS_ECORRUPT, "block # of inode # is free in the bitmap", a, c->inum);
  return 0;
}

/* Marks the blocks of indirect block blk (depth 1: data blocks from file block fbase;
   depth 2: depth-1 blocks). */
static int mark_tree(struct fsck *c, uint32_t blk, int depth, uint32_t fbase) {
  int r = mark(c, blk);
  if (r < 0) return r;
  struct fs_buf *b;
  if ((r = bread(c->fs, blk, &b)) < 0) return r;
  for (uint32_t i = 0; i < FS_NINDIRECT && r == 0; i++) {
    uint32_t a = ((u32a *)b->d.w)[i];
    if (!a) continue;
    if (depth == 2) {
      r = mark_tree(c, a, 1, fbase + i * FS_NINDIRECT);
    } else if (fbase + i >= c->nb) {
      r = fail(c->fs, FS_ECORRUPT, "inode # has a data block past its end (file block #)",
               c->inum, fbase + i);
    } else {
      r = mark(c, a);
    }
  }
  brelse(c->fs, b);
  return r;
}

/* Checks directory dp's entries and counts the names they give. */
static int check_dir(struct fsck *c, struct inode *dp) {
  struct fs *fs = c->fs;
  for (uint32_t e = 0; e < dp->d.size / DIRENT_SIZE; e++) {
    uint32_t a;
    struct fs_buf *b;
    int r = bmap(fs, dp, e / DPB, 0, &a);
    if (r < 0) return r;
    if (!a) return fail(fs, FS_ECORRUPT, "directory # has a hole at block #", dp->inum, e / DPB);
    if ((r = bread(fs, a, &b)) < 0) return r;
    struct dirent de = ((const struct dirent *)b->d.b)[e % DPB];
    brelse(fs, b);
    int dot = name_is(&de, ".", 1), dotdot = name_is(&de, "..", 2);
    if ((e == 0) != dot || (e == 1) != dotdot || (e < 2 && !de.inum))
      return fail(fs, FS_ECORRUPT, "directory #: entry # misplaces . or ..", dp->inum, e);
    if (!de.inum) continue;
    if (!de.name[0] || memchr(de.name, 0, sizeof de.name) == 0)
      return fail(fs, FS_ECORRUPT, "directory #: entry # has a bad name", dp->inum, e);
    struct inode t;
    if ((r = iget_named(fs, de.inum, &t, dp->inum)) < 0) return r;
    if (dot && de.inum != dp->inum)
      return fail(fs, FS_ECORRUPT, "directory #: . names inode #", dp->inum, de.inum);
    if ((dotdot || dot) && t.d.type != FS_T_DIR)
      return fail(fs, FS_ECORRUPT, "directory #: .. names inode #", dp->inum, de.inum);
    if (dotdot && dp->inum == FS_ROOTINO && de.inum != FS_ROOTINO)
      return fail(fs, FS_ECORRUPT, "root's .. names inode #", de.inum, 0);
    if (!dot) c->refs[de.inum]++;
  }
  return 0;
}

int fs_fsck(struct fs *fs, void *scratch, size_t len, struct fs_fsck_report *rep) {
  LIVE(fs);
  if (len < fs_fsck_scratch(fs) || ((uintptr_t)scratch & 3))
    return fail(fs, FS_EINVAL, "fsck needs # bytes of 4-aligned scratch", fs_fsck_scratch(fs),
                0);
  struct fsck c = {fs, (u32a *)scratch, (uint8_t *)scratch + (size_t)fs->sb.ninodes * 4, 0, 0};
  memset(scratch, 0, fs_fsck_scratch(fs));
  struct fs_fsck_report rp;
  memset(&rp, 0, sizeof rp);
  int r;
  for (uint32_t inum = 1; inum < fs->sb.ninodes; inum++) {
    struct inode ip;
    r = iget(fs, inum, &ip);
    if (r == FS_EBADF) {
      struct fs_buf *b;
      if ((r = bread(fs, inode_block(fs, inum), &b)) < 0) return r;
      uint16_t type = ((struct dinode *)b->d.b)[inum % IPB].type;
      brelse(fs, b);
      if (type != FS_T_FREE) return fail(fs, FS_ECORRUPT, "inode # has type #", inum, type);
      continue;
    }
    if (r < 0) return r;
    if (ip.d.size > FS_MAXFILE) return fail(fs, FS_ECORRUPT, "inode # has size #", inum, ip.d.size);
    if (ip.d.type == FS_T_DIR && ip.d.size % DIRENT_SIZE)
      return fail(fs, FS_ECORRUPT, "directory # has size #", inum, ip.d.size);
    c.inum = inum;
    c.nb = div_up(ip.d.size, FS_BSIZE);
    for (uint32_t k = 0; k < FS_NDIRECT; k++) {
      if (!ip.d.addrs[k]) continue;
      if (k >= c.nb)
        return fail(fs, FS_ECORRUPT, "inode # has a data block past its end (file block #)",
                    inum, k);
      if ((r = mark(&c, ip.d.addrs[k])) < 0) return r;
    }
    if (ip.d.addrs[FS_NDIRECT] && (r = mark_tree(&c, ip.d.addrs[FS_NDIRECT], 1, FS_NDIRECT)) < 0)
      return r;
    if (ip.d.addrs[FS_NDIRECT + 1] &&
        (r = mark_tree(&c, ip.d.addrs[FS_NDIRECT + 1], 2, FS_NDIRECT + FS_NINDIRECT)) < 0)
      return r;
    if (ip.d.type == FS_T_DIR) {
      rp.dirs++;
      if (ip.d.nlink && (r = check_dir(&c, &ip)) < 0) return r;
    } else {
      rp.files++;
    }
  }
  for (uint32_t inum = 1; inum < fs->sb.ninodes; inum++) {
    struct inode ip;
    r = iget(fs, inum, &ip);
    if (r == FS_EBADF) {
      if (c.refs[inum])
        return fail(fs, FS_ECORRUPT, "inode # is free but has # names", inum, c.refs[inum]);
      continue;
    }
    if (r < 0) return r;
    if (ip.d.nlink == 0 && c.refs[inum] == 0) {
      rp.orphans++;
      continue;
    }
    if (ip.d.nlink != c.refs[inum])
      return fail(fs, FS_ECORRUPT, "inode # has nlink # but a different number of names",
                  inum, ip.d.nlink);
  }
  if (c.refs[FS_ROOTINO] == 0) return fail(fs, FS_ECORRUPT, "root directory has no name", 0, 0);
  for (uint32_t bno = 0; bno < fs->sb.size;) {
    struct fs_buf *b;
    if ((r = bread(fs, bitmap_block(fs, bno), &b)) < 0) return r;
    uint32_t end = (bno / BPB + 1) * BPB;
    if (end > fs->sb.size) end = fs->sb.size;
    for (; bno < end; bno++) {
      uint32_t bit = bno % BPB;
      int set = (b->d.b[bit / 8] >> (bit & 7)) & 1;
      int seen = (c.seen[bno / 8] >> (bno & 7)) & 1;
      if (bno < fs->sb.datastart) {
        if (!set) {
          brelse(fs, b);
          return fail(fs, FS_ECORRUPT, "metadata block # is free in the bitmap", bno, 0);
        }
      } else if (set != seen) {
        brelse(fs, b);
        return fail(fs, FS_ECORRUPT, "block # is used in the bitmap but referenced by no inode",
                    bno, 0);
      } else if (set) {
        rp.used_blocks++;
      } else {
        rp.free_blocks++;
      }
    }
    brelse(fs, b);
  }
  if (rep) *rep = rp;
  return 0;
}
