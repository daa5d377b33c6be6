// Kernel instructions with a cost of their own that the machine has no function for (Fiasco
// and Zircon both use these). Where src/hw/isa.ts executes an instruction (WRMSR, SWAPGS,
// RDTSC, MOV CR3) the personalities call it directly instead.

import type { Core } from '../hw/core.ts';
import type { Block } from './code-layout.ts';

/** A locked read-modify-write whose memory access the caller has made: its own cost on
 *  top (ops.lockRmw; ops.xchgMem for XCHG with memory). */
export function locked(core: Core, xchg = false): void {
  core.charge(xchg ? core.profile.ops.xchgMem : core.profile.ops.lockRmw);
}

/** One instruction the model does not execute (XSAVES, XRSTORS), at its own bytes, at the
 *  profile's figure for it. */
export function priced(core: Core, b: Block, cycles: number): void {
  core.fetch(b.at, b.bytes);
  core.retire(cycles);
}
