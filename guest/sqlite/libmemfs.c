/* libfs.h kept in memory: a fixed table of files, each a growable buffer of anonymous mmap
   pages. A buffer grows by doubling (a new mapping, the contents copied, the old one
   unmapped), so appending costs amortised O(1) per byte. Nothing outlives the process. */
#include "libc.h"
#include "libfs.h"

enum { MEMFS_FILES = 32, MEMFS_HANDLES = 32, MEMFS_NAME_MAX = 256, PAGE = 4096 };

struct node {
  char name[MEMFS_NAME_MAX];
  unsigned char *data; /* cap bytes mapped; [0, size) is the file, the rest is unused */
  uint64_t size, cap;
  int linked; /* has a name (a file unlinked while open keeps its data but loses its name) */
  int opens;  /* handles open on it */
};

struct fs_file {
  struct node *node; /* 0: the handle slot is free */
};

static struct node nodes[MEMFS_FILES];
static struct fs_file handles[MEMFS_HANDLES];

static int in_use(const struct node *n) { return n->linked || n->opens > 0; }

static struct node *lookup(const char *path) {
  for (int i = 0; i < MEMFS_FILES; i++)
    if (nodes[i].linked && strcmp(nodes[i].name, path) == 0) return &nodes[i];
  return 0;
}

/* Frees a node nobody can reach any more: no name and no handle. */
static void release(struct node *n) {
  if (in_use(n)) return;
  if (n->data) munmap(n->data, n->cap);
  n->data = 0;
  n->size = n->cap = 0;
}

/* Makes room for `want` bytes; new bytes past size are zero (fresh mappings are). */
static int reserve(struct node *n, uint64_t want) {
  if (want <= n->cap) return 0;
  if (want > ((uint64_t)1 << 40)) return -EFBIG;
  uint64_t cap = n->cap ? n->cap : PAGE;
  while (cap < want) cap *= 2;
  void *p = mmap(0, cap, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if ((uintptr_t)p > MAP_FAILED_MAX) return -ENOMEM;
  if (n->data) {
    memcpy(p, n->data, n->size);
    munmap(n->data, n->cap);
  }
  n->data = p;
  n->cap = cap;
  return 0;
}

/* Sets the size, zeroing what a shrink gives back so that a later growth reads zeros. */
static int resize(struct node *n, uint64_t size) {
  if (size < n->size) {
    memset(n->data + size, 0, n->size - size);
  } else {
    int rc = reserve(n, size);
    if (rc < 0) return rc;
  }
  n->size = size;
  return 0;
}

int fs_open(const char *path, int flags, fs_file **out) {
  if (strlen(path) >= MEMFS_NAME_MAX) return -ENAMETOOLONG;
  struct fs_file *h = 0;
  for (int i = 0; i < MEMFS_HANDLES && !h; i++)
    if (!handles[i].node) h = &handles[i];
  if (!h) return -EMFILE;
  struct node *n = lookup(path);
  if (n && (flags & FS_CREATE) && (flags & FS_EXCL)) return -EEXIST;
  if (!n) {
    if (!(flags & FS_CREATE)) return -ENOENT;
    for (int i = 0; i < MEMFS_FILES && !n; i++)
      if (!in_use(&nodes[i])) n = &nodes[i];
    if (!n) return -ENOSPC;
    strcpy(n->name, path);
    n->linked = 1;
  }
  n->opens++;
  h->node = n;
  *out = h;
  return 0;
}

int fs_close(fs_file *f) {
  struct node *n = f->node;
  if (!n) return -EBADF;
  f->node = 0;
  n->opens--;
  release(n);
  return 0;
}

long fs_pread(fs_file *f, void *buf, size_t len, uint64_t off) {
  const struct node *n = f->node;
  if (!n) return -EBADF;
  if (off >= n->size) return 0;
  if (len > n->size - off) len = n->size - off;
  memcpy(buf, n->data + off, len);
  return (long)len;
}

long fs_pwrite(fs_file *f, const void *buf, size_t len, uint64_t off) {
  struct node *n = f->node;
  if (!n) return -EBADF;
  if (off + len > n->size) {
    int rc = resize(n, off + len); /* zero-fills any gap between the old end and off */
    if (rc < 0) return rc;
  }
  memcpy(n->data + off, buf, len);
  return (long)len;
}

int fs_truncate(fs_file *f, uint64_t size) {
  if (!f->node) return -EBADF;
  return resize(f->node, size);
}

int fs_size(fs_file *f, uint64_t *size) {
  if (!f->node) return -EBADF;
  *size = f->node->size;
  return 0;
}

int fs_sync(fs_file *f) { return f->node ? 0 : -EBADF; }

int fs_unlink(const char *path) {
  struct node *n = lookup(path);
  if (!n) return -ENOENT;
  n->linked = 0;
  n->name[0] = 0;
  release(n);
  return 0;
}

int fs_exists(const char *path) { return lookup(path) != 0; }
