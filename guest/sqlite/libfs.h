/* The file store under our SQLite VFS (libsqlite-os.c): files by path, read and written at
   byte offsets, with the calls a file-system server offers (open, pread, pwrite, ftruncate,
   fstat's size, fsync, unlink, access). libmemfs.c keeps the files in memory; a store that
   talks to a file-system server implements these same functions and replaces it at link
   time, and the VFS does not change.

   Every call returns 0 (or a byte count) on success and a negative errno on failure, as the
   raw system calls do. Semantics are POSIX's: a file unlinked while open keeps its data
   until its last handle is closed; reading past the end returns fewer bytes (0 at the end);
   writing past the end, or truncating to a larger size, fills the gap with zeros. */
#pragma once
#include <stddef.h>
#include <stdint.h>

enum {
  FS_CREATE = 1, /* create the file if it does not exist (O_CREAT) */
  FS_EXCL = 2,   /* with FS_CREATE: fail with -EEXIST if it does (O_EXCL) */
};

typedef struct fs_file fs_file;

int fs_open(const char *path, int flags, fs_file **out);
int fs_close(fs_file *f);
long fs_pread(fs_file *f, void *buf, size_t n, uint64_t off);
long fs_pwrite(fs_file *f, const void *buf, size_t n, uint64_t off);
int fs_truncate(fs_file *f, uint64_t size);
int fs_size(fs_file *f, uint64_t *size);
int fs_sync(fs_file *f);
int fs_unlink(const char *path);
/* 1 if path names a file, 0 if not. */
int fs_exists(const char *path);
