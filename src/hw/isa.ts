// The non-VMX instructions with an architectural effect, one function each, in the SDM's
// order of checks (Bochs's lesson). Each fetches its own bytes at `rip` (so it runs only
// where it really is in executable memory), performs its effect and charges its cost.

import { hex } from './addr.ts';
import { C } from './counters.ts';
import { ENC } from './encodings.ts';
import { type Core, R, RFLAGS_IF } from './core.ts';
import { Trap, Vector } from './traps.ts';
import { ExitReason } from './vmcs.ts';

/** SYSCALL (SDM Vol. 2B): RCX ← next RIP, R11 ← RFLAGS, RIP ← IA32_LSTAR, CPL ← 0;
 *  IA32_FMASK clears IF (as every x86-64 kernel sets it). Touches no memory. */
export function syscall(core: Core, rip: number): void {
  core.fetchInstruction(rip, ENC.syscall);
  // Charged to the mode it starts in (user), like its fetch.
  core.ctr[C.syscalls]++;
  core.retire(core.profile.ops.syscall);
  core.regs.set(R.RCX, rip + ENC.syscall.length);
  core.regs.set(R.R11, core.rflags);
  core.rflags &= ~RFLAGS_IF;
  core.cpl = 0;
  core.rip = core.lstar;
  core.syncContext();
  if (core.env.trace.enabled)
    core.env.trace.emit(core.id, core.cycles, 'syscall', `from ${hex(rip)}`, { rip: hex(rip) });
}

/** SYSRET to 64-bit mode (SDM Vol. 2B): #GP at CPL ≠ 0 or non-canonical RCX; RIP ← RCX,
 *  RFLAGS ← R11, CPL ← 3. */
export function sysret(core: Core, rip: number): void {
  core.fetchInstruction(rip, ENC.sysretq);
  if (core.cpl !== 0) core.raiseException(Vector.GP, 0);
  const target = core.regs.get(R.RCX);
  if (target >= 2 ** 47) core.raiseException(Vector.GP, 0);
  core.retire(core.profile.ops.sysret);
  // RFLAGS ← (R11 & 3C7FD7H) | 2 (SDM Vol. 2B SYSRET: RF, VM and reserved bits cleared).
  core.rflags = ((core.regs.get(R.R11) & 0x3c7fd7) | 0x2) >>> 0;
  core.cpl = 3;
  core.rip = target;
  core.syncContext();
  if (core.env.trace.enabled)
    core.env.trace.emit(core.id, core.cycles, 'sysret', `to ${hex(target)}`, { to: hex(target) });
}

/** SWAPGS (SDM Vol. 2B): #GP at CPL ≠ 0; exchanges GS.base and IA32_KERNEL_GS_BASE. */
export function swapgs(core: Core, rip: number): void {
  core.fetchInstruction(rip, ENC.swapgs);
  if (core.cpl !== 0) core.raiseException(Vector.GP, 0);
  const t = core.gsBase;
  core.gsBase = core.kernelGsBase;
  core.kernelGsBase = t;
  core.rip = rip + ENC.swapgs.length;
  core.retire(core.profile.ops.swapgs);
}

/**
 * MOV to CR3 (SDM Vol. 2B MOV—Move to/from Control Registers; invalidation §4.10.4.1).
 * `value` is the 64-bit source as a bigint (bit 63 is the no-flush hint). #GP at CPL ≠ 0;
 * #GP if bit 63 is set with CR4.PCIDE = 0 or any bit above MAXPHYADDR (but 63) is set.
 * In non-root mode with "CR3-load exiting" it is a VM exit instead (§26.1.3).
 */
export function movToCr3(core: Core, rip: number, value: bigint): void {
  core.fetchInstruction(rip, ENC.movCr3Rax);
  if (core.cpl !== 0) core.raiseException(Vector.GP, 0);
  if (core.nonRoot && core.vmcs?.cr3LoadExiting) core.vmExit(ExitReason.CrAccess, 3 << 0, 0, 0);
  const noFlush = value >> 63n === 1n;
  const v = value & ~(1n << 63n);
  if (noFlush && !core.pcide) core.raiseException(Vector.GP, 0);
  if (v >> 46n !== 0n) core.raiseException(Vector.GP, 0);
  core.cr3 = Number(v);
  core.syncContext();
  const newPcid = core.pcide ? core.cr3 % 4096 : 0;
  core.mmu.onCr3Write(newPcid, noFlush);
  core.ctr[C.cr3Writes]++;
  core.rip = rip + ENC.movCr3Rax.length;
  core.retire(noFlush ? core.profile.ops.movCr3NoFlush : core.profile.ops.movCr3);
  if (core.env.trace.enabled)
    core.env.trace.emit(
      core.id,
      core.cycles,
      'cr3',
      `${hex(core.cr3)}${noFlush ? ' (no flush)' : ''}`,
      { cr3: hex(core.cr3), noFlush },
    );
}

/** INVLPG (SDM Vol. 2A): #GP at CPL ≠ 0. */
export function invlpg(core: Core, rip: number, la: number): void {
  core.fetchInstruction(rip, ENC.invlpgRax);
  if (core.cpl !== 0) core.raiseException(Vector.GP, 0);
  core.mmu.invlpg(la);
  core.rip = rip + ENC.invlpgRax.length;
  core.retire(core.profile.ops.invlpg);
}

/** INVPCID (SDM Vol. 2A): #GP at CPL ≠ 0, for a type > 3, for a PCID ≥ 4096, for a
 *  non-canonical address in type 0, and for types 0/1 with a non-zero PCID while
 *  CR4.PCIDE = 0. */
export function invpcid(core: Core, rip: number, type: number, pcid: number, la: number): void {
  core.fetchInstruction(rip, ENC.invpcid);
  if (core.cpl !== 0) core.raiseException(Vector.GP, 0);
  if (type > 3 || pcid >= 4096) core.raiseException(Vector.GP, 0);
  if ((type === 0 || type === 1) && !core.pcide && pcid !== 0) core.raiseException(Vector.GP, 0);
  core.mmu.invpcid(type, pcid, la);
  core.rip = rip + ENC.invpcid.length;
  core.retire(core.profile.ops.invpcid);
}

/** RDTSC: the core's cycle counter (the model's TSC runs at core clock). */
export function rdtsc(core: Core, rip: number): number {
  core.fetchInstruction(rip, ENC.rdtsc);
  core.rip = rip + ENC.rdtsc.length;
  core.retire(core.profile.ops.rdtsc);
  return core.cycles;
}

/** CPUID: always a VM exit in non-root mode (SDM Vol. 3C §26.1.2); in root mode it just
 *  runs (the model returns no leaf values). */
export function cpuid(core: Core, rip: number): void {
  core.fetchInstruction(rip, ENC.cpuid);
  if (core.nonRoot) {
    core.vmcs!.exitInstructionLength = ENC.cpuid.length;
    core.vmExit(ExitReason.Cpuid, 0, 0, 0);
  }
  core.rip = rip + ENC.cpuid.length;
  core.retire(core.profile.ops.cpuid);
}

/** IRETQ from a frame on the current stack (SDM §6.14.3): pops RIP, CS, RFLAGS, RSP, SS. */
export function iretq(core: Core, rip: number): void {
  core.fetchInstruction(rip, ENC.iretq);
  let sp = core.regs.get(R.RSP);
  const pop = (): number => {
    const v = core.microcodeLoad64(sp);
    sp += 8;
    return v;
  };
  const newRip = pop();
  const cs = pop();
  const flags = pop();
  const newRsp = pop();
  pop();
  core.retire(core.profile.ops.iret);
  core.rip = newRip;
  core.rflags = flags;
  core.regs.set(R.RSP, newRsp);
  core.cpl = cs & 3;
  core.syncContext();
}

/** Model-specific registers the model gives an effect to (SDM Vol. 4). */
export const MSR = {
  X2APIC_ICR: 0x830,
  IA32_SPEC_CTRL: 0x48,
  IA32_PRED_CMD: 0x49,
  IA32_FLUSH_CMD: 0x10b,
  IA32_FS_BASE: 0xc0000100,
  IA32_GS_BASE: 0xc0000101,
  IA32_TSC_DEADLINE: 0x6e0,
} as const;

/**
 * WRMSR (SDM Vol. 2B): #GP at CPL ≠ 0. IA32_PRED_CMD bit 0 is IBPB (branch predictors are
 * not modelled, so it costs its cycles only); IA32_FLUSH_CMD bit 0 writes back and
 * invalidates the L1D; the x2APIC ICR sends an IPI (see Machine.sendIpi).
 */
export function wrmsr(
  core: Core,
  rip: number,
  msr: number,
  value: number,
  onIcr?: (v: number) => void,
): void {
  core.fetchInstruction(rip, ENC.wrmsr);
  if (core.cpl !== 0) core.raiseException(Vector.GP, 0);
  core.rip = rip + ENC.wrmsr.length;
  const ops = core.profile.ops;
  switch (msr) {
    case MSR.IA32_PRED_CMD:
      core.retire(ops.ibpb);
      return;
    case MSR.IA32_FLUSH_CMD:
      core.env.caches.cores[core.id]!.l1d.invalidateAll();
      core.retire(ops.l1dFlush);
      return;
    case MSR.IA32_GS_BASE:
      core.gsBase = value;
      core.retire(ops.wrmsrBase);
      return;
    // Written by kernels for their cost; the machine keeps no value for them: user FS bases
    // are the interpreter's (the Linux layer), the timer is programmed by the Subkernel, and
    // IBRS/STIBP restrict branch predictors, which are not modelled (what IBRS costs the code
    // that runs under it is therefore not charged either).
    case MSR.IA32_SPEC_CTRL:
    case MSR.IA32_FS_BASE:
    case MSR.IA32_TSC_DEADLINE:
      core.retire(ops.wrmsrBase);
      return;
    case MSR.X2APIC_ICR:
      core.ctr[C.ipisSent]++;
      core.retire(ops.ipiSend);
      onIcr?.(value);
      return;
    default:
      throw new Trap(core.id, { kind: 'shutdown', reason: `WRMSR to unmodelled MSR ${hex(msr)}` });
  }
}

/** VERW at a kernel site (ENC.verw), with the MD_CLEAR microcode: see mdClear. */
export function verw(core: Core, rip: number): void {
  core.fetchInstruction(rip, ENC.verw);
  mdClear(core, rip + ENC.verw.length);
}

/**
 * What MD_CLEAR adds to VERW m16: it overwrites the store buffers, fill buffers and load
 * ports, whatever the result of VERW's permission check (Intel's MDS guidance). The buffers
 * are not modelled, so it costs its cycles, ops.verw. `next` is the following instruction:
 * the interpreter comes here for a VERW in user code (any encoding; VERW is not privileged)
 * after its own fetch, decode and check.
 */
export function mdClear(core: Core, next: number): void {
  core.rip = next;
  core.retire(core.profile.ops.verw);
}
