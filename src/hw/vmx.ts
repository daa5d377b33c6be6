// VMX instructions, one function each, checks in the SDM's order. VMFUNC is the one
// SkyBridge lives on: SDM Vol. 2C "VMFUNC—Invoke VM function" and Vol. 3C §26.5.6 (VM
// functions) and §26.5.6.3 (EPTP switching).

import { hex } from './addr.ts';
import { C } from './counters.ts';
import { ENC } from './encodings.ts';
import { type Core, R } from './core.ts';
import { AccessKind } from './memory-hierarchy.ts';
import { Vector } from './traps.ts';
import { ExitReason, isValidEptp, type Vmcs } from './vmcs.ts';

/** Enters VMX operation and makes `vmcs` current (VMXON + VMPTRLD; boot-time, uncharged). */
export function vmxonAndLoad(core: Core, vmcs: Vmcs): void {
  if (core.cpl !== 0) throw new Error('VMXON requires CPL 0');
  core.vmxOn = true;
  core.vmcs = vmcs;
}

/**
 * VMFUNC (SDM Vol. 2C): #UD outside VMX non-root operation, if the "enable VM functions"
 * control is 0, or if EAX ≥ 64; a VM exit (reason 59) if VM function EAX is not enabled.
 * Function 0, EPTP switching (§26.5.6.3): a VM exit if ECX ≥ 512 or if entry ECX of the
 * EPTP list is not a valid EPTP; otherwise that entry becomes the EPTP. Legal at any CPL.
 * No TLB flush: cached mappings are tagged with their EP4TA and simply stop matching.
 */
export function vmfunc(core: Core, rip: number): void {
  core.fetchInstruction(rip, ENC.vmfunc);
  const v = core.vmcs;
  if (!core.nonRoot || v === null || !v.enableVmFunctions) core.raiseException(Vector.UD, -1);
  const eax = core.regs.get(R.RAX) % 0x1_0000_0000;
  if (eax >= 64) core.raiseException(Vector.UD, -1);
  v.exitInstructionLength = ENC.vmfunc.length;
  if (eax >= 32 || ((v.vmFunctionControls >>> eax) & 1) === 0)
    core.vmExit(ExitReason.Vmfunc, 0, 0, 0);
  // Only function 0 exists; the others are reserved and cannot be enabled.
  const ecx = core.regs.get(R.RCX) % 0x1_0000_0000;
  if (ecx >= 512) core.vmExit(ExitReason.Vmfunc, 0, 0, 0);
  // The EPTP-list read is a host-physical memory access through the caches. The measured
  // cost of VMFUNC (ops.vmfunc) includes this read hitting the L1D, so only latency beyond
  // an L1D hit is added.
  const entry = v.eptpListAddress + ecx * 8;
  const lat = core.env.caches.access(core.id, entry, AccessKind.Load, core.owner, core.ctr);
  const extra = lat - core.profile.caches.l1d.latency;
  if (extra > 0) core.charge(extra);
  const lo = core.env.mem.read32(entry);
  const hi = core.env.mem.read32(entry + 4);
  if (!isValidEptp(lo, hi)) core.vmExit(ExitReason.Vmfunc, 0, 0, 0);
  v.eptp = hi * 0x1_0000_0000 + lo;
  core.ctr[C.vmfuncs]++;
  core.rip = rip + ENC.vmfunc.length;
  core.retire(core.profile.ops.vmfunc);
  // The new view takes effect for translation, counters and the trace after the charge, so
  // the VMFUNC counts where it ran and a trace shows the view from where it ends. User code
  // in a server's view counts as the server's (attribution only).
  if (core.cpl === 3) core.setOwner(core.env.owners.byView.get(v.eptp) ?? core.userOwner);
  else core.syncContext();
  if (core.env.trace.enabled)
    core.env.trace.emit(core.id, core.cycles, 'vmfunc', `EPTP[${ecx}] = ${hex(v.eptp)}`, {
      index: ecx,
      eptp: hex(v.eptp),
      rip: hex(rip),
    });
}

/** VMCALL (SDM Vol. 2C): in non-root operation, always a VM exit (reason 18). */
export function vmcall(core: Core, rip: number): void {
  core.fetchInstruction(rip, ENC.vmcall);
  if (!core.nonRoot) core.raiseException(Vector.UD, -1);
  core.vmcs!.exitInstructionLength = ENC.vmcall.length;
  core.vmExit(ExitReason.Vmcall, 0, 0, 0);
}

/** A VMX instruction that failed with VMfailValid (error numbers, SDM Vol. 3C §31.4). */
export class VmxFail extends Error {
  constructor(
    readonly errorNumber: number,
    what: string,
  ) {
    super(`VMX instruction failed (VM-instruction error ${errorNumber}): ${what}`);
    this.name = 'VmxFail';
  }
}

/**
 * VMLAUNCH / VMRESUME (SDM Vol. 2C; checks §27.2–27.3): in root mode at CPL 0 with a
 * current VMCS; launch state must match the instruction; the EPTP must be valid; VPID must
 * be non-zero when enabled. Loads guest state and enters non-root mode. Without VPID the
 * linear and combined mappings of VPID 0 are invalidated. The VMM advances the guest RIP
 * past an exiting instruction itself (guestRip += exitInstructionLength) before resuming.
 */
export function vmEntry(core: Core, rip: number, resume: boolean): void {
  core.fetchInstruction(rip, resume ? ENC.vmresume : ENC.vmlaunch);
  if (!core.vmxOn || core.nonRoot) core.raiseException(Vector.UD, -1);
  const v = core.vmcs;
  if (v === null) throw new VmxFail(0, 'no current VMCS');
  if (resume && !v.launched) throw new VmxFail(5, 'VMRESUME with non-launched VMCS');
  if (!resume && v.launched) throw new VmxFail(4, 'VMLAUNCH with non-clear VMCS');
  if (v.enableEpt && !isValidEptp(v.eptp % 0x1_0000_0000, Math.floor(v.eptp / 0x1_0000_0000))) {
    throw new VmxFail(7, `invalid EPTP ${hex(v.eptp)}`);
  }
  if (v.enableVpid && v.vpid === 0) throw new VmxFail(7, 'VPID enabled with VPID 0');
  if (v.enableVmFunctions && (v.vmFunctionControls & 1) !== 0 && v.eptpListAddress % 4096 !== 0) {
    throw new VmxFail(7, 'EPTP-list address not 4 KiB aligned');
  }
  v.launched = true;
  core.retire(core.profile.ops.vmEntry);
  core.nonRoot = true;
  core.cpl = v.guestCpl;
  core.cr3 = v.guestCr3;
  core.rip = v.guestRip;
  core.rflags = v.guestRflags;
  core.regs.set(R.RSP, v.guestRsp);
  v.hostIdtBase = core.idtBase;
  v.hostRsp0 = core.rsp0;
  core.idtBase = v.guestIdtBase;
  core.rsp0 = v.guestRsp0;
  if (!v.enableVpid) core.mmu.onVmTransitionWithoutVpid();
  core.syncContext();
  if (core.env.trace.enabled)
    core.env.trace.emit(core.id, core.cycles, 'vmentry', `to ${hex(core.rip)}`, {
      to: hex(core.rip),
    });
}

/** INVEPT (SDM Vol. 2C): #UD outside root operation; type 1 single-context (the EPTP's
 *  EP4TA), type 2 all-context; other types fail. Local to this core. */
export function invept(core: Core, rip: number, type: number, eptp: number): void {
  core.fetchInstruction(rip, ENC.invept);
  if (!core.vmxOn || core.nonRoot) core.raiseException(Vector.UD, -1);
  if (type !== 1 && type !== 2) throw new VmxFail(28, `INVEPT type ${type} not supported`);
  const ep = type === 1 ? core.env.ep4taId(eptp - (eptp % 4096)) : -1;
  core.mmu.invept(type, ep);
  core.rip = rip + ENC.invept.length;
  core.retire(core.profile.ops.invept);
}

/** INVVPID (SDM Vol. 2C): #UD outside root operation; types 0–3; VPID 0 is invalid for
 *  types 0, 1 and 3 (VMfailValid). Local to this core. */
export function invvpid(core: Core, rip: number, type: number, vpid: number, la = 0): void {
  core.fetchInstruction(rip, ENC.invvpid);
  if (!core.vmxOn || core.nonRoot) core.raiseException(Vector.UD, -1);
  if (type > 3 || (type !== 2 && vpid === 0)) {
    throw new VmxFail(28, `INVVPID type ${type} with VPID ${vpid}`);
  }
  core.mmu.invvpid(type, vpid, la);
  core.rip = rip + ENC.invvpid.length;
  core.retire(core.profile.ops.invvpid);
}
