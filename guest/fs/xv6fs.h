/* xv6fs: an xv6-style file system as a freestanding library (see README.md in this folder).

   The design is MIT xv6's: a superblock, a write-ahead log, an inode table, a free-block
   bitmap, directories made of fixed-size entries, files made of direct and indirect block
   pointers, and a buffer cache. Ours adds a double-indirect block per inode (files up to
   FS_MAXFILE, a little over 64 MiB), files with holes, files that stay alive while open
   after their last name is gone, a clean FS_ENOSPC (xv6 panics) and a mount that refuses a
   damaged image with an error naming what is wrong.

   No globals, no allocation: everything lives in the struct fs the caller provides
   (FS_NBUF * 1040 bytes plus about 2 KiB: 68,688 bytes with the defaults below). The
   caller serialises calls; the library is not re-entrant on one struct fs.

   Every function returns a value >= 0 on success and a negative FS_E* code on failure;
   fs_strerror(code) names a code and fs_errdetail(fs) says what exactly was wrong (which
   field, block or inode) for the last error that had a detail. */
#pragma once
#include <stddef.h>
#include <stdint.h>

/* ---- Sizes (the compile-time ones may be overridden with -D) ------------------------- */

#define FS_BSIZE 1024 /* bytes per block, xv6's BSIZE */

/* Buffer-cache blocks inside struct fs (FS_NBUF KiB). Must exceed FS_LOGSIZE by at least
   8: every block a transaction changes stays pinned in the cache until it is installed. */
#ifndef FS_NBUF
#define FS_NBUF 64
#endif

/* Blocks one transaction may change (the log's data area; fs_mkfs makes a log of
   FS_LOGSIZE + 1 blocks, the first being the header). At most 255 (one header block). */
#ifndef FS_LOGSIZE
#define FS_LOGSIZE 30
#endif
#define FS_MINLOG 16 /* smallest log data area fs_mount accepts */

/* Inodes fs_open can hold open at once (an unlinked file lives until its last close). */
#ifndef FS_NOPEN
#define FS_NOPEN 64
#endif

#define FS_NAME_MAX 59 /* bytes in one path component */
#define FS_NDIRECT 12
#define FS_NINDIRECT (FS_BSIZE / 4) /* 256 block numbers per indirect block */
#define FS_MAXFILE_BLOCKS (FS_NDIRECT + FS_NINDIRECT + FS_NINDIRECT * FS_NINDIRECT)
#define FS_MAXFILE ((uint64_t)FS_MAXFILE_BLOCKS * FS_BSIZE) /* 67,383,296 bytes */
#define FS_ROOTINO 1u                                      /* inode number of "/" */
#define FS_MAXBLOCKS (1u << 24) /* largest image fs_mkfs/fs_mount accept (16 GiB) */

/* ---- Error codes ------------------------------------------------------------------- */

enum {
  FS_EIO = -1,           /* the block device failed (the struct fs is then unusable) */
  FS_ENOENT = -2,        /* no such file or directory */
  FS_EEXIST = -3,        /* the name exists (FS_O_CREAT|FS_O_EXCL, fs_mkdir) */
  FS_ENOTDIR = -4,       /* a path component before the last is not a directory */
  FS_EISDIR = -5,        /* the operation needs a regular file */
  FS_ENOSPC = -6,        /* no free data block or no free inode */
  FS_ENAMETOOLONG = -7,  /* a path component is longer than FS_NAME_MAX */
  FS_EINVAL = -8,        /* bad argument: relative path, removing "/", ".", ".." ... */
  FS_ENOTEMPTY = -9,     /* fs_unlink of a directory that still has entries */
  FS_EFBIG = -10,        /* past FS_MAXFILE */
  FS_ENFILE = -11,       /* FS_NOPEN inodes are open already */
  FS_EBADF = -12,        /* the inode number is not a live inode (or not open, fs_close) */
  FS_EBADMAGIC = -20,    /* mount: not an xv6fs image (magic, version or block size) */
  FS_EBADSIZE = -21,     /* mount: a superblock size is out of range */
  FS_EBADLAYOUT = -22,   /* mount: the superblock's regions do not follow from its sizes */
  FS_EBADSUM = -23,      /* mount: the superblock's checksum does not match */
  FS_EBADLOG = -24,      /* mount: the log header is damaged */
  FS_EBADROOT = -25,     /* mount: the root directory is damaged */
  FS_EBADINODE = -26,    /* mount: an inode has a bad type, size or block pointer */
  FS_EBADBITMAP = -27,   /* mount: the bitmap marks a used block free */
  FS_ECORRUPT = -28,     /* damage found later (by an operation or by fs_fsck) */
};

/* ---- Flags and types ---------------------------------------------------------------- */

enum { FS_O_CREAT = 1, FS_O_TRUNC = 2, FS_O_EXCL = 4 };
enum { FS_T_FREE = 0, FS_T_DIR = 1, FS_T_FILE = 2 };

/* The block device: read or write one FS_BSIZE block; 0 or a negative error. A write that
   returns must be durable (the log's commit point relies on it) and a block is written
   whole or not at all. */
struct fs_bdev {
  int (*read)(void *ctx, uint32_t block, void *buf);
  int (*write)(void *ctx, uint32_t block, const void *buf);
  void *ctx;
  uint32_t nblocks;
};

/* Block 1 of the image (little-endian fields; the rest of the block is zero). */
struct fs_superblock {
  uint32_t magic;      /* FS_MAGIC */
  uint32_t version;    /* FS_VERSION */
  uint32_t bsize;      /* FS_BSIZE */
  uint32_t size;       /* blocks in the image */
  uint32_t nblocks;    /* data blocks: size - datastart */
  uint32_t ninodes;    /* inode slots, including unused slot 0 */
  uint32_t nlog;       /* log blocks: 1 header + the data area */
  uint32_t logstart;   /* first log block (the header); always 2 */
  uint32_t inodestart; /* first inode block */
  uint32_t bmapstart;  /* first bitmap block */
  uint32_t datastart;  /* first data block (the root directory's first block) */
  uint32_t checksum;   /* FNV-1a over the fields above */
};
#define FS_MAGIC 0x66367678u /* "xv6f" */
#define FS_VERSION 1u

struct fs_stat {
  uint32_t inum;
  uint32_t type;  /* FS_T_DIR or FS_T_FILE */
  uint32_t nlink; /* names for a file; 1 + subdirectories for a directory; 0 once unlinked */
  uint64_t size;  /* bytes */
};

struct fs_statfs {
  uint32_t size;         /* blocks in the image */
  uint32_t datablocks;   /* blocks for files and directories */
  uint32_t free_blocks;  /* of those, free */
  uint32_t inodes;       /* inodes that can exist (excluding slot 0) */
  uint32_t free_inodes;  /* of those, free */
  uint32_t logblocks;    /* the log's data area */
};

struct fs_fsck_report {
  uint32_t files, dirs;
  uint32_t orphans;     /* inodes with no name (open after unlink, or left by a crash) */
  uint32_t used_blocks; /* data-area blocks referenced, indirect blocks included */
  uint32_t free_blocks;
};

/* Counters a caller may read (and reset) to see what the file system cost. */
struct fs_counters {
  uint64_t dev_reads, dev_writes; /* block-device calls */
  uint64_t cache_hits, cache_misses;
  uint64_t commits;   /* transactions written to the log */
  uint64_t logged;    /* blocks those transactions logged */
  uint64_t aborts;    /* transactions rolled back (FS_ENOSPC and damage) */
};

/* ---- State (treat as opaque) ------------------------------------------------------- */

union fs_block {
  uint8_t b[FS_BSIZE];
  uint32_t w[FS_BSIZE / 4];
};

struct fs_buf {
  union fs_block d;
  uint32_t blockno;
  uint16_t refcnt; /* users holding it, plus 1 while it is in the current transaction */
  uint8_t valid;   /* d holds the block's contents */
  uint8_t logged;  /* in the current transaction */
  int16_t prev, next; /* LRU list, most recent first */
  int16_t hnext;      /* hash chain */
  uint8_t hashed;
  uint8_t unused;
};

#define FS_NHASH 64

struct fs {
  struct fs_buf buf[FS_NBUF];
  struct fs_bdev dev;
  struct fs_superblock sb;
  uint32_t logcap;  /* the log's data area, from the superblock */
  uint32_t log_n;   /* blocks in the current transaction */
  uint32_t log_block[FS_LOGSIZE];
  int16_t log_buf[FS_LOGSIZE];
  int16_t hash[FS_NHASH];
  int16_t mru, lru;
  int dead;   /* nonzero (an error code) once the device failed during a commit */
  int tx_err; /* set when a transaction cannot be logged; it is aborted */
  uint32_t bhint, ihint; /* where the next block and inode searches start */
  struct {
    uint32_t inum, refs;
  } open[FS_NOPEN];
  struct fs_counters count;
  union fs_block head; /* the log header as last written */
  char detail[120];
};

/* ---- API ----------------------------------------------------------------------------- */

/* Writes an empty file system over the whole device: the root directory and room for at
   least ninodes inodes including the root (rounded up to fill the inode blocks). 0, or
   FS_EINVAL (device too small or too large, ninodes out of range), FS_EIO. */
int fs_mkfs(const struct fs_bdev *dev, uint32_t ninodes);

/* Mounts the image on dev into *fs: checks the superblock, replays a committed log, then
   checks the root directory, every inode (type, size, block pointers) and the bitmap
   entries those pointers and the metadata regions need, and frees inodes left without a
   name by a crash. 0, or one of FS_EBADMAGIC, FS_EBADSIZE, FS_EBADLAYOUT, FS_EBADSUM,
   FS_EBADLOG, FS_EBADROOT, FS_EBADINODE, FS_EBADBITMAP (fs_errdetail says which field,
   block or inode), FS_EIO. Until a mount succeeds, every other call returns its error
   (FS_EINVAL for a zeroed struct fs that was never mounted). Mounting again forgets the
   open files (and frees those that had no name). There is no unmount: everything is on
   the device whenever no call is running. */
int fs_mount(struct fs *fs, const struct fs_bdev *dev);

/* Opens a file or directory by absolute path; returns its inode number (> 0). flags:
   FS_O_CREAT creates a regular file if the name is free, FS_O_EXCL with it fails with
   FS_EEXIST if the name exists, FS_O_TRUNC empties a regular file. Each successful open
   must be balanced by fs_close. Errors: FS_ENOENT, FS_EEXIST, FS_ENOTDIR, FS_EISDIR
   (FS_O_CREAT or FS_O_TRUNC on a directory), FS_ENAMETOOLONG, FS_EINVAL (not absolute),
   FS_ENOSPC, FS_ENFILE, FS_ECORRUPT, FS_EIO. Repeated and trailing slashes are ignored;
   "." and ".." are directory entries like any other. */
int fs_open(struct fs *fs, const char *path, int flags);

/* Drops one open reference; the last close of an unlinked file frees it. 0 or FS_EBADF. */
int fs_close(struct fs *fs, uint32_t inum);

/* Reads up to n bytes at off; returns the count (short at the end of file, 0 past it).
   Holes read as zeros. FS_EBADF, FS_EISDIR, FS_ECORRUPT, FS_EIO. */
int32_t fs_read(struct fs *fs, uint32_t inum, uint64_t off, void *buf, uint32_t n);

/* Writes n bytes at off (past the end leaves a hole of zeros); returns n. The write is
   one transaction per log's worth of blocks, each committed before the next starts: a
   crash leaves a prefix of it. When the disk fills, what fitted is kept and the count is
   returned if it is > 0, else FS_ENOSPC. FS_EFBIG if off + n > FS_MAXFILE (nothing is
   written), FS_EBADF, FS_EISDIR, FS_ECORRUPT, FS_EIO. */
int32_t fs_write(struct fs *fs, uint32_t inum, uint64_t off, const void *buf, uint32_t n);

/* Sets a regular file's size: shrinking frees the blocks past it (in several transactions
   if they do not fit in one; a crash leaves the file cut at a block boundary in between),
   growing adds a hole. 0, FS_EFBIG, FS_EBADF, FS_EISDIR, FS_ECORRUPT, FS_EIO. */
int fs_truncate(struct fs *fs, uint32_t inum, uint64_t size);

/* 0 and *st, or FS_EBADF / FS_EIO. */
int fs_stat(struct fs *fs, uint32_t inum, struct fs_stat *st);

/* Removes a name. A directory must be empty (FS_ENOTEMPTY). The inode is freed when its
   last name is gone and it is not open. FS_ENOENT, FS_ENOTDIR, FS_EINVAL ("/", ".", ".."),
   FS_ENAMETOOLONG, FS_ECORRUPT, FS_EIO. */
int fs_unlink(struct fs *fs, const char *path);

/* Creates a directory; returns its inode number. FS_EEXIST, FS_ENOENT (no parent),
   FS_ENOTDIR, FS_ENOSPC, FS_ENAMETOOLONG, FS_EINVAL, FS_ECORRUPT, FS_EIO. */
int fs_mkdir(struct fs *fs, const char *path);

/* Every call commits before it returns, so this only checks inum: 0, FS_EBADF, FS_EIO. */
int fs_fsync(struct fs *fs, uint32_t inum);

/* Directory listing: returns 1 and the next entry at or after *pos (then advances *pos),
   or 0 at the end. name gets FS_NAME_MAX + 1 bytes at most. "." and ".." are listed. */
int fs_readdir(struct fs *fs, uint32_t dir, uint32_t *pos, char *name, uint32_t *inum);

/* Free blocks and inodes (scans the bitmap and the inode table). */
int fs_statfs(struct fs *fs, struct fs_statfs *st);

/* Full consistency check of the mounted file system: every block in the data area is
   either free in the bitmap and referenced by no inode, or used and referenced exactly
   once; every pointer is in range; directories are well formed and name live inodes;
   each inode's nlink equals the names it has; no data block lies past a file's end.
   scratch must hold fs_fsck_scratch(fs) bytes. 0 and *rep (may be NULL), or FS_ECORRUPT
   with fs_errdetail saying what is wrong, FS_EINVAL (scratch too small), FS_EIO. */
size_t fs_fsck_scratch(const struct fs *fs);
int fs_fsck(struct fs *fs, void *scratch, size_t len, struct fs_fsck_report *rep);

/* A constant string naming an error code ("no space left on device"). */
const char *fs_strerror(int code);

/* What exactly the last error with a detail was about ("" if none). */
const char *fs_errdetail(const struct fs *fs);
