// Where a personality keeps the fields the common core needs in its thread control block.
// The TCB is a kernel object in guest memory; the entry path stores the user registers
// into it and the exit path loads them back, so those costs are real loads and stores at
// the personality's own offsets (seL4's `tcb_t.registers`, Fiasco's entry frame, ...).

import { R } from '../hw/core.ts';

/** Pseudo-registers saved beside the sixteen general-purpose ones. */
export const REG_RIP = 16;
export const REG_RFLAGS = 17;

export interface TcbLayout {
  /** Bytes of the whole TCB object (naturally aligned). */
  readonly objectBytes: number;
  /** Byte offset, from the object's start, of each saved register (GPR index, REG_RIP,
   *  REG_RFLAGS). The entry path saves them in the array's order. */
  readonly saved: readonly { reg: number; offset: number }[];
  /** Registers saved only when the thread enters by an interrupt or exception (and restored
   *  only on the IRETQ exit): those SYSCALL clobbers, RCX and R11, which a preempted thread's
   *  machine code still needs. Saved after `saved`, so they win where slots are shared. */
  readonly trapSaved: readonly { reg: number; offset: number }[];
  /** Offsets of the scheduler's queue links. */
  readonly schedNext: number;
  readonly schedPrev: number;
  /** Offset of the thread's priority (one byte). */
  readonly priority: number;
}

/** x86-64 GPR indices, for layouts. */
export { R };
export const R8 = 8;
export const R9 = 9;
export const R10 = 10;
export const R11 = 11;
export const R12 = 12;
export const R13 = 13;
export const R14 = 14;
export const R15 = 15;
