// Fiasco.OC's kernel objects on amd64, in simulated memory. Where a layout is Fiasco's own
// (the entry frame, the UTCB, a capability-table entry, the message tag, the error codes)
// the source is named beside it; where Fiasco's C++ compiler decides (the order of fields in
// Context/Receiver/Sender/Thread, the Task and Ipc_gate objects) the offsets are our choice,
// in the order the classes declare their members, and say so. Source read: kernkonzept/fiasco
// at 245fce53 (docs/research/sel4-fastpath.md §7).

import {
  R,
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

// ---- The thread block -------------------------------------------------------------------
// A Fiasco thread is one block holding the Thread object at its start and the thread's
// kernel stack above it; the entry path finds the thread by masking RSP with the block size
// (low_level.h ESP_TO_TCB_AT). THREAD_BLOCK_SIZE is 0x2000 with CONFIG_CONTEXT_8K
// (src/kern/config_tcbsize.h).

export const THREAD_BLOCK_SIZE = 0x2000;

/** Thread fields (offsets our choice, in Context → Receiver → Sender → Thread order). */
export const TH = {
  /** Kobject: the "vtable" word (which kind of object this is, see VTABLE). */
  vtable: 0,
  /** Context::_state (thread_state.cpp bits, TS below). */
  state: 8,
  /** Context::_kernel_sp: saved kernel stack pointer while switched out. */
  kernelSp: 16,
  /** Context::_space: the Task. */
  space: 24,
  /** Context::_utcb: Ku_mem_ptr<Utcb>, the kernel (physmap) and the user address. */
  utcbKernel: 32,
  utcbUser: 40,
  /** Sched_context: priority and ready-list links (read by the common ready queues). */
  prio: 48,
  readyNext: 56,
  readyPrev: 64,
  /** Context::_home_cpu. */
  homeCpu: 72,
  /** Receiver::_partner: whom a closed wait waits for (0: open wait). */
  partner: 80,
  /** Receiver::_rcv_regs: the syscall frame the message tag and label are written to. */
  rcvRegs: 88,
  /** Receiver::_sender_list: head of the priority-sorted list of waiting senders. */
  senderList: 96,
  /** Sender's Prio_list item: next and prev in the receiver's sender list, its priority. */
  senderNext: 104,
  senderPrev: 112,
  /** Sender::_wait_queue: the list this thread waits in (0: none). */
  waitQueue: 120,
  /** Thread::_from_spec, _snd_regs, _ipc_send_rights (do_ipc's send phase). */
  fromSpec: 128,
  sndRegs: 136,
  sendRights: 144,
  /** Receiver::_implicit_reply_cap: the caller (Thread pointer) | its rights in bits 1:0. */
  replyCap: 152,
  /** Receiver::_cur_reply_cap_slot (points at replyCap for the implicit slot). */
  curReplySlot: 160,
  /** Receiver::_partner_reply_cap: the callee's reply slot that names this caller. */
  partnerReplyCap: 168,
  partnerInSenderList: 176,
  /** Receiver::_timeout. */
  timeout: 184,
  /** Thread::_utcb_handler (exception UTCB; never set here). */
  utcbHandler: 192,
  /** Context::_fs_base, _gs_base (gs_base = &utcb->utcb_addr), segment selectors. */
  fsBase: 200,
  gsBase: 208,
  segs: 216,
  /** Context::_drq_q head, _helper, _running_on_cpu. */
  drq: 224,
  helper: 232,
  currentCpu: 240,
} as const;

/** thread_state.cpp. */
export const TS = {
  Invalid: 0,
  Ready: 0x1,
  SendWait: 0x4,
  ReceiveWait: 0x8,
  ReceiveInProgress: 0x10,
  IpcMask: 0x4 | 0x8 | 0x10,
  IpcTransfer: 0x20,
  TransferFailed: 0x40,
  Cancel: 0x80,
  Dead: 0x200,
} as const;

// The entry frame at the top of the block (entry_frame-amd64.cpp Syscall_post_frame,
// Syscall_frame, Syscall_pre_frame, Return_frame; pushed by entry.S syscall_entry_text and
// entry-native.S entry_sys_fast_ipc_c + SAVE_STATE_SYSEXIT): 23 words.
export const FRAME = THREAD_BLOCK_SIZE - 23 * 8;
export const F = {
  r15: FRAME + 0,
  r14: FRAME + 8,
  r13: FRAME + 16,
  r12: FRAME + 24,
  r11: FRAME + 32,
  r10: FRAME + 40,
  r9: FRAME + 48,
  r8: FRAME + 56,
  /** Syscall_frame: _rdi = the UTCB (user address), _rsi = the label ("from"), _rdx = the
   *  object reference (capability index << 12 | operation), _rcx = the timeout pair (pushed
   *  from R8: SYSCALL clobbers RCX), _rax = the message tag. */
  rdi: FRAME + 64,
  rsi: FRAME + 72,
  rbp: FRAME + 80,
  reserved: FRAME + 88,
  rbx: FRAME + 96,
  rdx: FRAME + 104,
  timeout: FRAME + 112,
  rax: FRAME + 120,
  rip: FRAME + 144,
  cs: FRAME + 152,
  rflags: FRAME + 160,
  rsp: FRAME + 168,
  ss: FRAME + 176,
} as const;

/** The registers the entry path stores, in push order (ss and cs are immediates, charged as
 *  instructions of the entry block); the exit path pops them in the same frame. R8 and R11
 *  appear twice, as in Fiasco's frame (the timeout slot, the flags slot). */
export const FIASCO_TCB: TcbLayout = {
  objectBytes: THREAD_BLOCK_SIZE,
  saved: [
    { reg: R.RSP, offset: F.rsp },
    { reg: REG_RFLAGS, offset: F.rflags },
    { reg: REG_RIP, offset: F.rip },
    { reg: R.RAX, offset: F.rax },
    { reg: R8, offset: F.timeout },
    { reg: R.RDX, offset: F.rdx },
    { reg: R.RBX, offset: F.rbx },
    { reg: R.RBP, offset: F.rbp },
    { reg: R.RSI, offset: F.rsi },
    { reg: R.RDI, offset: F.rdi },
    { reg: R8, offset: F.r8 },
    { reg: R9, offset: F.r9 },
    { reg: R10, offset: F.r10 },
    { reg: R11, offset: F.r11 },
    { reg: R12, offset: F.r12 },
    { reg: R13, offset: F.r13 },
    { reg: R14, offset: F.r14 },
    { reg: R15, offset: F.r15 },
  ],
  // An interrupt's Return_frame keeps RCX in the Syscall_frame's _rcx slot (R11 is in `saved`).
  trapSaved: [{ reg: R.RCX, offset: F.timeout }],
  schedNext: TH.readyNext,
  schedPrev: TH.readyPrev,
  priority: TH.prio,
};

// ---- Other kernel objects (offsets our choice) -------------------------------------------

/** Task: Kobject vtable, Obj_space_phys::_dir (the capability directory), Mem_space. */
export const TASK = { vtable: 0, capDir: 8, pdir: 16, asid: 24, bytes: 32 } as const;
/** Ipc_gate (ipc_gate.cpp): Kobject vtable, _thread (bound thread), _id (the label, its two
 *  low bits zero), _wait_q (senders waiting for a bind). */
export const GATE = { vtable: 0, thread: 8, id: 16, waitQ: 24, bytes: 32 } as const;

/** Which kind of object a capability names: the model's vtables, one word each in kernel
 *  data, so a virtual invoke is two loads (object → vtable → function), as in C++. */
export const Kind = { Thread: 1, Task: 2, IpcGate: 3 } as const;
export type KindValue = (typeof Kind)[keyof typeof Kind];

// ---- Capability tables (obj_space_phys_util.cpp, obj_space_types.cpp) ---------------------
// Obj_space_phys: a directory page of 512 pointers to capability-table pages; a table page
// holds Caps_per_page = 4096 / sizeof(Obj::Entry) = 128 entries of 32 bytes: the
// Capability word (Kobject_iface* | rights CW,CS in bits 1:0), the H_list_item mapping
// links (two words) and the Mapping flags word (CD, ...).

export const CAP_ENTRY_BYTES = 32;
export const CAPS_PER_PAGE = 128;
export const CAPS_PER_PAGE_LD2 = 7;
export const DIR_SLOTS = 512;
/** A capability index names slot `index`; the object reference in RDX is index << 12 |
 *  operation (l4_types.cpp L4_obj_ref::Cap_shift). */
export const CAP_SHIFT = 12;

/** L4_fpage::Rights for object capabilities (l4_fpage.cpp): CW write (object specific), CS
 *  special (e.g. binding a gate), CR read (implied for every present entry), CD delete. */
export const Rights = { CW: 0x1, CS: 0x2, CR: 0x4, CD: 0x8, CWS: 0x3 } as const;

/** L4_obj_ref operation bits (l4_types.cpp). */
export const Op = {
  Send: 1,
  Recv: 2,
  OpenWait: 4,
  Reply: 8,
  Call: 1 | 2,
  Wait: 4 | 2,
  ReplyAndWait: 4 | 1 | 2 | 8,
} as const;
/** L4_obj_ref::Invalid: the special "no object" selector (bit 11), used with Reply/Wait. */
export const INVALID_CAP = 0x800;

export const objRef = (index: number, op: number): number => index * 2 ** CAP_SHIFT + op;
export const refOp = (ref: number): number => ref % 16;
export const refIndex = (ref: number): number => Math.floor(ref / 2 ** CAP_SHIFT);
export const refSpecial = (ref: number): boolean => (ref & INVALID_CAP) !== 0;

// ---- The UTCB (l4_types.cpp class Utcb, 1 KiB, "must be 2^n bytes") -----------------------

export const UTCB = {
  /** Mword values[Max_words]: the message registers. */
  values: 0,
  utcbAddr: 63 * 8,
  bufDesc: 64 * 8,
  buffers: 65 * 8,
  /** L4_error error (a TCR) after buffers[Max_buffers]. */
  error: (65 + 58) * 8,
  freeMarker: (66 + 58) * 8,
  user: (67 + 58) * 8,
  bytes: 1024,
} as const;
export const MAX_WORDS = 63;

// ---- The message tag (l4_types.cpp L4_msg_tag): words 5:0, items 11:6, flags 15:12, the
// label (protocol) above. Labels are signed in Fiasco; a JS number holds 53 bits, so the
// model keeps a 37-bit two's-complement label (enough for every protocol number). ----------

export const TagFlag = { TransferFpu: 0x1000, Schedule: 0x2000, Propagate: 0x4000, Error: 0x8000 };
const LABEL_BITS = 37;
export function msgTag(label: number, words: number, items = 0, flags = 0): number {
  const l = label < 0 ? 2 ** LABEL_BITS + label : label;
  return l * 65536 + flags + ((items & 63) << 6) + (words & 63);
}
export const tagWords = (t: number): number => t & 63;
export const tagItems = (t: number): number => (t >>> 6) & 63;
export const tagFlags = (t: number): number => t & 0xf000;
export const tagHasError = (t: number): boolean => (t & TagFlag.Error) !== 0;
export function tagLabel(t: number): number {
  const l = Math.floor(t / 65536);
  return l >= 2 ** (LABEL_BITS - 1) ? l - 2 ** LABEL_BITS : l;
}
/** The tag with its error flag set (Kobject_iface::commit_error). */
export const withError = (t: number): number => (tagHasError(t) ? t : t + TagFlag.Error);

/** L4_error codes written to the UTCB's error TCR (l4_error.cpp); bit 0 = receive phase. */
export const L4Error = {
  None: 0,
  Timeout: 2,
  RTimeout: 3,
  NotExistent: 4,
  Canceled: 6,
  RCanceled: 7,
  Overflow: 8,
  RNoReplyCap: 19,
} as const;

/** L4_err (l4_types.cpp): negative results in the tag's label (Kobject_iface::commit_result). */
export const L4Err = { EPerm: 1, ENoent: 2, EInval: 22, EBadproto: 39 } as const;
/** L4_msg_tag protocols a kernel object checks (l4_types.cpp). */
export const Proto = { None: 0, Kobject: -10, Thread: -12, Task: -11 } as const;
