/* Where SkyBridge's pages are in every client and server, and its status codes: shared by
   the trampoline (assembly), the C API (skybridge.h) and the kernel
   (src/skybridge/layout.ts, which a test checks against this file). */
#pragma once

/* The trampoline's page: the same code at the same address everywhere. */
#define SB_TRAMPOLINE 0x7ff000000000
/* The tag page, read-only: which EPT view the code runs in. Words: the view's index in the
   thread's EPTP list (0: the process's own), the server it shows (0: none), the caller
   number of that view at the server, the calling process's id. */
#define SB_TAG 0x7ff00001a000
#define SB_TAG_INDEX 0
#define SB_TAG_SERVER 8
#define SB_TAG_CALLER 16
#define SB_TAG_PID 24
/* A client's binding records, read-only, one per server id. */
#define SB_BINDINGS 0x7ff000100000
#define SB_BINDING_SHIFT 6
#define SB_MAX_SERVERS 1024
#define SB_REC_INDEX 0
#define SB_REC_SLOT 8
#define SB_REC_KEY 16
#define SB_REC_BUFFER 24
#define SB_REC_BYTES 32
/* A server's own pages: its state (read-write), failed key checks per caller (read-write),
   calling keys per client slot (read-only), the shared buffer of each slot (read-only). */
#define SB_SERVER 0x7ff000205000
#define SB_ST_BUSY 0
#define SB_ST_STACKS 8
#define SB_ST_ID 16
#define SB_ST_HANDLER 24
#define SB_ST_LOCK 32
#define SB_FAILS 0x1000
#define SB_KEYS 0x2000
#define SB_SLOTS 0x3000
#define SB_MAX_CALLERS 512
#define SB_MAX_SLOTS 512
/* A server's stacks, one per request it serves at once. */
#define SB_STACKS 0x7ff010000000
#define SB_STACK_SHIFT 14
/* Thread blocks: GS base = SB_THREADS + thread id * 4096, a page of the address space the
   thread is in (each address space has its own). */
#define SB_THREADS 0x7ff400000000
#define SB_TB_FLIGHT 0
#define SB_TB_RSP 8
#define SB_TB_KEY 16
#define SB_TB_FROM 24
#define SB_TB_SERVER 32
#define SB_TB_HELD 40
/* Buffers shared by a client and a server, at the same address in both. */
#define SB_SHARED 0x7ff800000000

/* Status of a call (negative; 0 is success). */
#define SB_EBUSY -1        /* every stack of the server is in use */
#define SB_EBADKEY -2      /* the calling key did not match */
#define SB_EBADRETURN -3   /* the return did not carry the call's key */
#define SB_ESERVERFAULT -4 /* the server faulted; the kernel killed it */
#define SB_ENOTBOUND -5    /* no binding to that server from this address space */
#define SB_ELOCKED -6      /* too many failed key checks from this caller */
#define SB_EREENTRANT -7   /* a call from this address space is already in flight */
#define SB_ETIMEOUT -8     /* the call overran the server's time budget */
#define SB_EREVOKED -9     /* the binding was revoked or the server died during the call */
#define SB_EABORTED -10    /* the kernel unwound a call that came back the wrong way */
#define SB_ESYSCALL -11    /* what a system call returns in a server's view */
