// seL4's kernel objects on x86-64, in the layouts of seL4's sources (10.1.1, non-MCS,
// uniprocessor build; see docs/research/sel4-fastpath.md §1 for where each offset comes
// from): the 2 KiB TCB object whose first half is the TCB's own CNode and whose second
// half is tcb_t; 32-byte CNode slots (a 16-byte capability and a 16-byte MDB node);
// 16-byte endpoints. Capability words are declared once here and read and written as
// 32-bit halves through the core, so every field access is a real load or store.

import type { Core } from '../../hw/core.ts';
import type { PhysicalMemory } from '../../hw/phys-mem.ts';
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

// ---- TCB -------------------------------------------------------------------------------

export const TCB_OBJECT_BYTES = 2048;
/** tcb_t starts half way into the object (TCB_OFFSET = BIT(seL4_TCBBits - 1)). */
const T = 1024;
/** TCB CNode slots (tcbCTable, tcbVTable, tcbReply, tcbCaller, tcbBuffer). */
export const SLOT_CTABLE = 0;
export const SLOT_VTABLE = 32;
export const SLOT_REPLY = 64;
export const SLOT_CALLER = 96;
/** tcb_t.tcbArch.tcbContext.registers[] (after a 576-byte XSAVE area). */
export const REGS = T + 576;
export const regOffset = (index: number): number => REGS + index * 8;
/** Indices in registers[] (include/arch/x86/arch/64/mode/machine/registerset.h). */
export const RI = {
  RDI: 0,
  RSI: 1,
  RAX: 2,
  RBX: 3,
  RBP: 4,
  R12: 5,
  R13: 6,
  R14: 7,
  RDX: 8,
  R10: 9,
  R8: 10,
  R9: 11,
  R15: 12,
  FLAGS: 13,
  NextIP: 14,
  Error: 15,
  RSP: 16,
  FaultIP: 17,
  R11: 18,
  RCX: 19,
} as const;
export const TCB_STATE = T + 768;
export const TCB_BOUND_NTFN = T + 800;
export const TCB_FAULT = T + 808;
export const TCB_MCP = T + 848;
export const TCB_PRIORITY = T + 856;
export const TCB_FAULT_HANDLER = T + 872;
export const TCB_IPC_BUFFER = T + 880;
export const TCB_SCHED_NEXT = T + 888;
export const TCB_SCHED_PREV = T + 896;
export const TCB_EP_NEXT = T + 904;
export const TCB_EP_PREV = T + 912;

/** The message registers in order (msgRegisters[] = {R10, R8, R9, R15}). */
export const MSG_REGISTERS = [RI.R10, RI.R8, RI.R9, RI.R15] as const;
export const MSG_GPRS = [R10, R8, R9, R15] as const;
export const FAST_MESSAGE_REGISTERS = 4;

/** The SYSCALL entry saves these sixteen words into registers[] (traps.S
 *  handle_fastsyscall pushes 16 words; we keep the user RSP in place of Error). */
export const SEL4_TCB: TcbLayout = {
  objectBytes: TCB_OBJECT_BYTES,
  saved: [
    { reg: R.RDI, offset: regOffset(RI.RDI) },
    { reg: R.RSI, offset: regOffset(RI.RSI) },
    { reg: R.RAX, offset: regOffset(RI.RAX) },
    { reg: R.RBX, offset: regOffset(RI.RBX) },
    { reg: R.RBP, offset: regOffset(RI.RBP) },
    { reg: R12, offset: regOffset(RI.R12) },
    { reg: R13, offset: regOffset(RI.R13) },
    { reg: R14, offset: regOffset(RI.R14) },
    { reg: R.RDX, offset: regOffset(RI.RDX) },
    { reg: R10, offset: regOffset(RI.R10) },
    { reg: R8, offset: regOffset(RI.R8) },
    { reg: R9, offset: regOffset(RI.R9) },
    { reg: R15, offset: regOffset(RI.R15) },
    { reg: REG_RFLAGS, offset: regOffset(RI.FLAGS) },
    { reg: REG_RIP, offset: regOffset(RI.NextIP) },
    { reg: R.RSP, offset: regOffset(RI.RSP) },
  ],
  // seL4 saves the whole user context on an interrupt or fault (c_handle_interrupt).
  trapSaved: [
    { reg: R.RCX, offset: regOffset(RI.RCX) },
    { reg: R11, offset: regOffset(RI.R11) },
  ],
  schedNext: TCB_SCHED_NEXT,
  schedPrev: TCB_SCHED_PREV,
  priority: TCB_PRIORITY,
};

/** thread_state_t.tsType (structures_64.bf). */
export const TS = {
  Inactive: 0,
  Running: 1,
  Restart: 2,
  BlockedOnReceive: 3,
  BlockedOnSend: 4,
  BlockedOnReply: 5,
  BlockedOnNotification: 6,
  Idle: 7,
} as const;

// ---- Capabilities ------------------------------------------------------------------------

/** cap type tags (structures_64.bf cap_* tags; x86 pml4_cap is an arch cap). */
export const CapType = {
  Null: 0,
  Untyped: 2,
  Endpoint: 4,
  Notification: 6,
  Reply: 8,
  PML4: 9,
  CNode: 10,
  Thread: 12,
} as const;

/** Bit positions in a capability's first word, as (lo, hi) halves: the type is bits
 *  63:59, rights and sizes below it, a 48-bit object pointer in bits 47:0. */
const TYPE_SHIFT_HI = 27;
export const RIGHT = {
  Send: 1 << 23,
  Receive: 1 << 24,
  Grant: 1 << 25,
  GrantReply: 1 << 26,
} as const;
const PTR_HI_MASK = 0xffff;
const RADIX_SHIFT_HI = 21;
/** CNode caps: a 6-bit guard size at bits 52:47 and the CNode pointer shifted right by one
 *  in bits 46:0 (seL4 stores capCNodePtr the same way to make room). */
const GUARD_SIZE_SHIFT_HI = 15;
const CNODE_PTR_HI_MASK = 0x7fff;

export interface CapWords {
  /** word0 low and high halves. */
  w0lo: number;
  w0hi: number;
  /** word1 (badge, guard, TCB pointer or root address) as a number below 2^53. */
  w1: number;
}

export const capType = (c: CapWords): number => c.w0hi >>> TYPE_SHIFT_HI;
export const capPtr = (c: CapWords): number => (c.w0hi & PTR_HI_MASK) * 2 ** 32 + (c.w0lo >>> 0);
export const capHas = (c: CapWords, right: number): boolean => (c.w0hi & right) !== 0;
export const cnodeRadix = (c: CapWords): number => (c.w0hi >>> RADIX_SHIFT_HI) & 63;
export const cnodeGuardSize = (c: CapWords): number => (c.w0hi >>> GUARD_SIZE_SHIFT_HI) & 63;
export const cnodePtr = (c: CapWords): number =>
  ((c.w0hi & CNODE_PTR_HI_MASK) * 2 ** 32 + (c.w0lo >>> 0)) * 2;

function word0(type: number, ptr: number, extraHi: number): CapWords {
  return {
    w0lo: (ptr % 2 ** 32) >>> 0,
    w0hi: ((type << TYPE_SHIFT_HI) | extraHi | (Math.floor(ptr / 2 ** 32) & PTR_HI_MASK)) >>> 0,
    w1: 0,
  };
}

export const Cap = {
  null: (): CapWords => ({ w0lo: 0, w0hi: 0, w1: 0 }),
  endpoint: (ep: number, badge: number, rights: number): CapWords => ({
    ...word0(CapType.Endpoint, ep, rights),
    w1: badge,
  }),
  cnode: (cnode: number, radix: number, guardSize: number, guard: number): CapWords => {
    const half = cnode / 2;
    return {
      w0lo: (half % 2 ** 32) >>> 0,
      w0hi:
        ((CapType.CNode << TYPE_SHIFT_HI) |
          (radix << RADIX_SHIFT_HI) |
          (guardSize << GUARD_SIZE_SHIFT_HI) |
          (Math.floor(half / 2 ** 32) & CNODE_PTR_HI_MASK)) >>>
        0,
      w1: guard,
    };
  },
  reply: (tcb: number, master: boolean): CapWords => ({
    ...word0(CapType.Reply, 0, master ? RIGHT.GrantReply : 0),
    w1: tcb,
  }),
  /** x86-64 VTable root: word1 the PML4's physical address; the mapped ASID (PCID) in word0. */
  pml4: (pml4Gpa: number, asid: number): CapWords => ({
    w0lo: asid & 0xfff,
    w0hi: ((CapType.PML4 << TYPE_SHIFT_HI) | RIGHT.Send) >>> 0,
    w1: pml4Gpa,
  }),
  thread: (tcb: number): CapWords => ({ ...word0(CapType.Thread, tcb, 0), w1: 0 }),
};

export const pml4Asid = (c: CapWords): number => c.w0lo & 0xfff;
export const pml4IsMapped = (c: CapWords): boolean => (c.w0hi & RIGHT.Send) !== 0;

/** Reads a capability (two words) at kernel address `slot` through the core. */
export function readCap(core: Core, slot: number): CapWords {
  const w0lo = core.load32(slot);
  const w0hi = core.load32(slot + 4);
  const w1 = core.load64(slot + 8);
  return { w0lo, w0hi, w1 };
}

export function writeCap(core: Core, slot: number, c: CapWords): void {
  core.store32(slot, c.w0lo);
  core.store32(slot + 4, c.w0hi);
  core.store64(slot + 8, c.w1);
}

/** Setup-time write of a capability (the root task's retype/mint; uncharged). */
export function putCap(mem: PhysicalMemory, slotGpa: number, c: CapWords): void {
  mem.write32(slotGpa, c.w0lo);
  mem.write32(slotGpa + 4, c.w0hi);
  mem.write64n(slotGpa + 8, c.w1);
}

// ---- Endpoints -----------------------------------------------------------------------------

export const EP_BYTES = 16;
/** endpoint_t: words[0] = queue tail | state (bits 1:0), words[1] = queue head. */
export const EpState = { Idle: 0, Send: 1, Recv: 2 } as const;

// ---- Message info (seL4_MessageInfo: label 63:12, capsUnwrapped 11:9, extraCaps 8:7,
// length 6:0) ---------------------------------------------------------------------------------

export const msgLength = (info: number): number => info & 0x7f;
export const msgExtraCaps = (info: number): number => (info >>> 7) & 3;
export const msgLabel = (info: number): number => Math.floor(info / 4096);
export const msgInfo = (label: number, extraCaps: number, length: number): number =>
  label * 4096 + ((extraCaps & 3) << 7) + (length & 0x7f);

/** Errors (libsel4 seL4_Error), returned in the label of the reply's message info. */
export const Sel4Error = {
  NoError: 0,
  InvalidArgument: 1,
  InvalidCapability: 2,
  IllegalOperation: 3,
  RangeError: 4,
  FailedLookup: 6,
} as const;

/** seL4_MsgMaxLength: message registers beyond the four in CPU registers live in the IPC
 *  buffer (seL4_IPCBuffer.msg[], after its tag word). */
export const MSG_MAX_LENGTH = 120;
export const IPCBUF_MSG = 8;
/** seL4_IPCBuffer.caps_or_badges[] and receive slot (after msg[] and userData). */
export const IPCBUF_CAPS = 8 + MSG_MAX_LENGTH * 8 + 8;
export const IPCBUF_RECEIVE_INDEX = IPCBUF_CAPS + 3 * 8 + 8;

export { R, R8, R9, R10, R12, R13, R14, R15 };
