// Where SkyBridge's pages live in every process (user half), and its error codes.

/** The trampoline: the same code at the same address in every client and server. */
export const TRAMPOLINE_VA = 0x7ff0_0000_0000;
export const TRAMPOLINE_BYTES = 4096;
/** Per process: its bindings as a client (server id → list index, key slot, key). */
export const BINDINGS_VA = 0x7ff0_0000_1000;
/** Per thread (by thread id): the identity page the trampoline writes before switching. */
export const IDENTITY_VA = 0x7ff4_0000_0000;
/** Per server: the calling-key table (one 8-byte key per client slot). */
export const KEY_TABLE_VA = 0x7ff0_0000_2000;
/** Per server: stack bookkeeping (word 0: the busy bitmap). */
export const SERVER_STATE_VA = 0x7ff0_0000_3000;
/** Per server: its stacks for concurrent requests. */
export const SERVER_STACKS_VA = 0x7ff0_1000_0000;
export const SERVER_STACK_BYTES = 16 * 1024;
/** Buffers shared by a client and a server, at the same address in both (one slot per
 *  binding in the whole system, so a client bound to many servers has no collisions). */
export const SHARED_VA = 0x7ff8_0000_0000;
export const SHARED_SLOT_BYTES = 64 * 1024;

/** Bytes of one binding record: list index, key slot, key, shared-buffer address. */
export const BINDING_BYTES = 32;
/** At most this many requests served at once by one server (one bitmap word). */
export const MAX_CONCURRENT = 32;
/** Client slots per server (the key table is one page). */
export const MAX_CLIENTS = 512;

/** What a direct server call returns besides results (RAX, negative on error). */
export const SbError = {
  /** All of the server's stacks are in use. */
  Busy: -1,
  /** The key presented on the call does not match the server's table. */
  BadKey: -2,
  /** The return did not come back through the server's trampoline with the key. */
  BadReturn: -3,
  /** The server faulted while handling the call. */
  ServerFault: -4,
  /** The client is not bound to this server. */
  NotBound: -5,
} as const;
