// Zircon's kernel objects as the model lays them out in simulated memory. Field order follows
// Zircon's classes (fuchsia zircon/kernel/object/*.h, kernel/*.h); exact byte offsets are
// ours (C++ layouts depend on the compiler and on debug-only members such as canaries), so
// each block says "our choice" where Zircon does not fix it. Every field the paths use is
// read and written through the core, so its cache lines are real.

import { R } from '../../hw/core.ts';
import {
  R8,
  R9,
  R10,
  R11,
  R12,
  R13,
  R14,
  R15,
  REG_RFLAGS,
  REG_RIP,
  type TcbLayout,
} from '../tcb-layout.ts';

// ---- Status codes, rights, signals (zircon/system/public/zircon/{errors,rights,types}.h) --

export const ZX = {
  OK: 0,
  ERR_NOT_SUPPORTED: -2,
  ERR_NO_MEMORY: -4,
  ERR_INVALID_ARGS: -10,
  ERR_BAD_HANDLE: -11,
  ERR_WRONG_TYPE: -12,
  ERR_BAD_SYSCALL: -13,
  ERR_OUT_OF_RANGE: -14,
  ERR_BUFFER_TOO_SMALL: -15,
  ERR_BAD_STATE: -20,
  ERR_TIMED_OUT: -21,
  ERR_SHOULD_WAIT: -22,
  ERR_CANCELED: -23,
  ERR_PEER_CLOSED: -24,
  ERR_ACCESS_DENIED: -30,
} as const;

export const RIGHT = {
  DUPLICATE: 1 << 0,
  TRANSFER: 1 << 1,
  READ: 1 << 2,
  WRITE: 1 << 3,
  SIGNAL: 1 << 12,
  SIGNAL_PEER: 1 << 13,
  WAIT: 1 << 14,
  INSPECT: 1 << 15,
} as const;

/** ZX_DEFAULT_CHANNEL_RIGHTS = (ZX_RIGHTS_BASIC & ~DUPLICATE) | ZX_RIGHTS_IO | SIGNAL |
 *  SIGNAL_PEER (rights.h). */
export const DEFAULT_CHANNEL_RIGHTS =
  RIGHT.TRANSFER |
  RIGHT.WAIT |
  RIGHT.INSPECT |
  RIGHT.READ |
  RIGHT.WRITE |
  RIGHT.SIGNAL |
  RIGHT.SIGNAL_PEER;

export const SIGNAL = {
  CHANNEL_READABLE: 1 << 0,
  CHANNEL_WRITABLE: 1 << 1,
  CHANNEL_PEER_CLOSED: 1 << 2,
} as const;

/** ZX_OBJ_TYPE_CHANNEL (zircon/types.h); stored where the dispatcher's vtable pointer is. */
export const OBJ_TYPE_CHANNEL = 4;
/** The kernel's reading of a deadline of ZX_TIME_INFINITE (INT64_MAX, zircon/time.h): the
 *  system-call entry turns exactly those 64 bits into this value (a register read as a number
 *  cannot tell INT64_MAX from its neighbours). Deadline 0 means "do not block". */
export const TIME_INFINITE = Infinity;
/** ZX_TIME_INFINITE's bits, as user code puts them in a register. */
export const TIME_INFINITE_BITS = 0x7fff_ffff_ffff_ffffn;
/** ZX_CHANNEL_MAX_MSG_BYTES / _HANDLES (types.h). */
export const MAX_MSG_BYTES = 65536;
export const MAX_MSG_HANDLES = 64;

/** System-call numbers in RAX (Zircon generates its own from syscalls.abigen; ours). */
export const Sys = {
  handle_close: 1,
  channel_read: 2,
  channel_write: 3,
  channel_call: 4,
  object_wait_one: 5,
} as const;

// ---- Thread (our TCB: Zircon keeps the syscall frame on the thread's kernel stack and the
// MessageWaiter in ThreadDispatcher; we keep both in one object) ----------------------------

export const TCB_BYTES = 1024;
/** x86_syscall_general_regs_t order (arch/x86/include/arch/x86/registers.h): rax rbx rcx
 *  rdx rsi rdi rbp rsp r8..r15 rip rflags; RCX and R11 hold RIP and RFLAGS after SYSCALL,
 *  so their slots keep those. */
const REG = (i: number): number => i * 8;
export const TCB_RAX = REG(0);
export const TCB_STATE = 0x100;
export const TCB_SCHED_NEXT = 0x108;
export const TCB_SCHED_PREV = 0x110;
export const TCB_PRIORITY = 0x118;
/** ThreadDispatcher → ProcessDispatcher: the kernel address of the process's HandleTable. */
export const TCB_HANDLE_TABLE = 0x120;
/** ThreadDispatcher::channel_waiter_ (a ChannelDispatcher::MessageWaiter). */
export const TCB_WAITER = 0x140;
/** sys_object_wait_one's WaitSignalObserver and Event (on the kernel stack in Zircon). */
export const TCB_OBSERVER = 0x180;

export const ZIRCON_TCB: TcbLayout = {
  objectBytes: TCB_BYTES,
  saved: [
    { reg: R.RAX, offset: REG(0) },
    { reg: R.RBX, offset: REG(1) },
    { reg: REG_RIP, offset: REG(2) },
    { reg: R.RDX, offset: REG(3) },
    { reg: R.RSI, offset: REG(4) },
    { reg: R.RDI, offset: REG(5) },
    { reg: R.RBP, offset: REG(6) },
    { reg: R.RSP, offset: REG(7) },
    { reg: R8, offset: REG(8) },
    { reg: R9, offset: REG(9) },
    { reg: R10, offset: REG(10) },
    { reg: REG_RFLAGS, offset: REG(11) },
    { reg: R12, offset: REG(12) },
    { reg: R13, offset: REG(13) },
    { reg: R14, offset: REG(14) },
    { reg: R15, offset: REG(15) },
  ],
  // Zircon's x86_iframe_t (on the kernel stack) holds RCX and R11 of an interrupted thread;
  // the model keeps them in two TCB words after the syscall registers.
  trapSaved: [
    { reg: R.RCX, offset: REG(16) },
    { reg: R11, offset: REG(17) },
  ],
  schedNext: TCB_SCHED_NEXT,
  schedPrev: TCB_SCHED_PREV,
  priority: TCB_PRIORITY,
};

/** MessageWaiter (channel_dispatcher.h): list node, channel_ RefPtr, msg_, status_, txid_,
 *  then its Event (kernel/event.h: result, WaitQueue head). Offsets from TCB_WAITER. */
export const MW = {
  next: 0,
  prev: 8,
  channel: 16,
  msg: 24,
  status: 32,
  txid: 36,
  eventSignaled: 40,
  eventResult: 44,
  eventQueue: 48,
} as const;

/** WaitSignalObserver + Event (wait_signal_observer.h): observer list node, dispatcher,
 *  watched signals, signals seen, then the Event. Offsets from TCB_OBSERVER. */
export const WO = {
  next: 0,
  prev: 8,
  dispatcher: 16,
  watched: 24,
  observed: 28,
  eventSignaled: 32,
  eventResult: 36,
  eventQueue: 40,
} as const;

/** The blocked system call's locals (Zircon: on the thread's kernel stack across
 *  Event::Wait): the reply buffer and the user pointers the results go to, the channel the
 *  call holds a reference to. Offsets from TCB_LOCALS; our layout. */
export const TCB_LOCALS = 0x1c0;
export const LOC = {
  rdBytes: 0,
  actualBytes: 8,
  actualHandles: 16,
  rdNumBytes: 24,
  rdNumHandles: 28,
  out: 32,
  dispatcher: 40,
} as const;

// ---- Handles (object/handle.{h,cc}, handle_table.{h,cc}) ----------------------------------

/** Handle: process_id_, dispatcher_, rights_, base_value_, the process list node. 40 bytes
 *  (Zircon's Handle has the same five members). */
export const HANDLE_BYTES = 40;
export const H = { processId: 0, dispatcher: 8, rights: 16, baseValue: 20, next: 24, prev: 32 };
/** Handles in the arena (Zircon: kMaxHandleCount = 256 K; ours is smaller). */
export const ARENA_HANDLES = 4096;
/** base_value = generation << kHandleGenerationShift | index (handle.cc). */
export const HANDLE_INDEX_BITS = 12;
export const HANDLE_INDEX_MASK = ARENA_HANDLES - 1;
/** ZX_HANDLE_FIXED_BITS_MASK: every valid handle value has its two low bits set. */
export const HANDLE_FIXED_BITS = 3;
/** Values are (base_value << 2 | 3) ^ mixer (handle_table.cc map_handle_to_value). */
export const handleValue = (base: number, mixer: number): number =>
  ((((base << 2) | HANDLE_FIXED_BITS) ^ mixer) >>> 0) as number;
export const handleBase = (value: number, mixer: number): number => ((value ^ mixer) >>> 0) >>> 2;

/** HandleTable (in ProcessDispatcher): its BrwLock, handle count, list of Handles, the
 *  random value mixer, the process koid. Our layout, 64 bytes. */
export const HT = { lock: 0, count: 8, head: 16, tail: 24, mixer: 32, koid: 40 };
export const HT_BYTES = 64;

// ---- Dispatchers (object/dispatcher.h, channel_dispatcher.h, peered_dispatcher.h) -------

/** Dispatcher base: vtable (our object type), RefCounted count, koid, handle count, the
 *  StateTracker's signals and observer list; then ChannelDispatcher's members. */
export const CH = {
  type: 0,
  refcount: 8,
  koid: 16,
  handleCount: 24,
  signals: 28,
  observersHead: 32,
  observersTail: 40,
  peer: 48,
  peerKoid: 56,
  holder: 64,
  owner: 72,
  msgHead: 80,
  msgTail: 88,
  msgCount: 96,
  waitersHead: 104,
  waitersTail: 112,
  txid: 120,
  maxMsgCount: 124,
} as const;
export const CH_BYTES = 128;
/** PeerHolder: RefCounted count, then the Mutex both endpoints lock (kernel/mutex.h: the
 *  owner thread pointer, low bit = contended). */
export const PH = { refcount: 0, mutex: 8 } as const;
export const PH_BYTES = 64;

// ---- Message packets in PMM pages (message_packet.cc, buffer_chain.h) ---------------------

export const PAGE = 4096;
/** Buffer: a list node, then raw data (BufferChain::Buffer). */
export const BUF_NEXT = 0;
export const BUF_PREV = 8;
export const BUF_DATA = 16;
/** The BufferChain lives at the start of the first buffer's data: its buffer list head. */
export const BC = { head: BUF_DATA, tail: BUF_DATA + 8, pages: BUF_DATA + 16 } as const;
/** MessagePacket right after the BufferChain: the channel queue node, chain pointer,
 *  data_size_, payload_offset_, num_handles_, handles_ pointer; then the Handle* array,
 *  then the payload (whose first four bytes are the txid). */
export const MP = {
  next: 48,
  prev: 56,
  chain: 64,
  dataSize: 72,
  payloadOffset: 76,
  numHandles: 80,
  handles: 88,
} as const;
export const MP_HANDLES = 96;
export const payloadOffset = (numHandles: number): number => MP_HANDLES + numHandles * 8;

/** vm_page_t (vm/page.h): list node, physical address, state. 48 bytes as in Zircon. */
export const VM_PAGE_BYTES = 48;
export const VP = { next: 0, prev: 8, paddr: 16, state: 24 } as const;
export const PAGE_STATE = { FREE: 0, IPC: 6 } as const;
/** PmmNode (vm/pmm_node.h): its lock, free list head, free count (our layout). */
export const PMM = { lock: 0, freeHead: 8, freeCount: 16 } as const;

/** zx_channel_call_args_t (syscalls/types.h): 48 bytes copied in from user memory. */
export const CALL_ARGS = {
  wrBytes: 0,
  wrHandles: 8,
  rdBytes: 16,
  rdHandles: 24,
  wrNumBytes: 32,
  wrNumHandles: 36,
  rdNumBytes: 40,
  rdNumHandles: 44,
} as const;
export const CALL_ARGS_BYTES = 48;

/** Thread states kept in the TCB (kernel/thread.h thread_state). */
export const TS = { RUNNING: 1, READY: 2, BLOCKED: 3 } as const;

export { R };
