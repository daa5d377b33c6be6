/* The file-system server's requests (storage.c serves them; fsclient.c makes them). Paths and
   data travel in the connection's shared buffer; a reply's value is a handle, a byte count
   or a size, and its status 0 or a negative errno. Reads and writes carry the handle in the
   low 32 bits of the first word and the byte count in the high 32; the second word is the
   offset. */
#pragma once

enum {
  FSOP_OPEN = 16,   /* a = flags (libfs.h FS_CREATE, FS_EXCL); path in the buffer → handle */
  FSOP_CLOSE,       /* a = handle */
  FSOP_PREAD,       /* a = handle | n << 32, b = offset → bytes, into the buffer */
  FSOP_PWRITE,      /* a = handle | n << 32, b = offset, bytes in the buffer → bytes */
  FSOP_TRUNCATE,    /* a = handle, b = size */
  FSOP_SIZE,        /* a = handle → size */
  FSOP_SYNC,        /* a = handle: durable when it returns */
  FSOP_UNLINK,      /* path in the buffer */
  FSOP_EXISTS,      /* path in the buffer → 1 or 0 */
  FSOP_RESTART,     /* tests: forget everything in memory, as after a power failure */
};
