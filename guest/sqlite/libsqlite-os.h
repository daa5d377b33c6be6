/* SQLite's operating-system layer in our guests (SQLITE_OS_OTHER): its memory and its VFS.
   The VFS, "skybridge", keeps files in the store of libfs.h (in memory for now: libmemfs.c).
   Call sqlite_guest_init() once, before any other sqlite3_* function. */
#pragma once

/* Gives SQLite its heap and initialises it, which registers the VFS as the default; returns
   SQLITE_OK or SQLite's error code. */
int sqlite_guest_init(void);
