// Where SkyBridge's pages are in every client and server, the words in them, and the status
// codes of a call: the same numbers as guest/skybridge/skybridge-layout.h, which the
// trampoline and the C API are built from (test/skybridge/layout.test.ts compares the two).

/** The trampoline: the same code at the same address in every client and server. */
export const TRAMPOLINE_VA = 0x7ff0_0000_0000;
export const TRAMPOLINE_BYTES = 4096;
// The pages a call touches sit at different page numbers modulo 16, so that they fall in
// different sets of the L1 DTLB (64 entries, 4 ways: 16 sets indexed by the low bits of the
// page number): on 64 KiB boundaries they all shared set 0 and evicted one another. Binding
// records (page 0 of their region: set 0), the tag (set 10), a server's state, fails, keys
// and slots (sets 5-9), the first stack's top page (set 3), thread blocks (set = thread id
// mod 16).
/** The tag page (read-only): which EPT view the code runs in. */
export const TAG_VA = 0x7ff0_0001_a000;
export const Tag = { index: 0, server: 8, caller: 16, pid: 24 } as const;
/** A client's binding records (read-only), one per server id. */
export const BINDINGS_VA = 0x7ff0_0010_0000;
export const BINDING_BYTES = 64;
export const MAX_SERVERS = 1024;
export const Rec = { index: 0, slot: 8, key: 16, buffer: 24, bytes: 32 } as const;
/** A server's pages: state and failed checks (read-write), keys and slots (read-only). */
export const SERVER_VA = 0x7ff0_0020_5000;
export const St = { busy: 0, stacks: 8, id: 16, handler: 24, lock: 32 } as const;
export const FAILS_OFFSET = 0x1000;
export const KEYS_OFFSET = 0x2000;
export const SLOTS_OFFSET = 0x3000;
/** Pages of a server's tables: state, fails, keys, two of slot buffers. */
export const SERVER_PAGES = 5;
export const MAX_CALLERS = 512;
export const MAX_SLOTS = 512;
/** A server's stacks, one per request it serves at once. */
export const SERVER_STACKS_VA = 0x7ff0_1000_0000;
export const SERVER_STACK_BYTES = 16 * 1024;
/** At most this many requests served at once by one server (one bitmap word). */
export const MAX_CONCURRENT = 64;
/** Thread blocks: GS base = THREADS_VA + thread id × 4096, a page of each address space. */
export const THREADS_VA = 0x7ff4_0000_0000;
export const Tb = { flight: 0, rsp: 8, key: 16, from: 24, server: 32, held: 40 } as const;
/** Buffers shared by a client and a server, at the same address in both (one slot per
 *  binding in the whole system). */
export const SHARED_VA = 0x7ff8_0000_0000;
export const SHARED_SLOT_BYTES = 64 * 1024;
/** Entries of an EPTP list (SDM Vol. 3C §24.6.14: one 4 KiB page of 8-byte EPTPs). */
export const LIST_ENTRIES = 512;

/** The status of a call (RAX after sb_call), negative on error. */
export const SbError = {
  /** All of the server's stacks are in use. */
  Busy: -1,
  /** The key presented does not match the server's table. */
  BadKey: -2,
  /** The return did not come back through the server's half with the call's key. */
  BadReturn: -3,
  /** The server faulted while handling the call; the kernel killed it. */
  ServerFault: -4,
  /** No binding to that server from this address space. */
  NotBound: -5,
  /** Too many failed key checks from this caller: its calls are refused. */
  Locked: -6,
  /** A call from this address space is already in flight on this thread. */
  Reentrant: -7,
  /** The call overran the server's time budget; the kernel unwound it. */
  Timeout: -8,
  /** The binding was revoked, or the server died, during the call. */
  Revoked: -9,
  /** The kernel unwound a call whose landing did not add up. */
  Aborted: -10,
  /** What a system call returns in a server's view. */
  Syscall: -11,
} as const;

export const SB_ERROR_NAMES: Record<number, string> = Object.fromEntries(
  Object.entries(SbError).map(([k, v]) => [v, k]),
);
