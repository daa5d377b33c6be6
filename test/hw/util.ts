// Helpers shared by the machine's tests: trap predicates, a VM exit + VM entry round trip,
// and ways to ask a core's translation caches what they hold.

import { PAGE_BYTES, type PageSize } from '../../src/hw/addr.ts';
import { C } from '../../src/hw/counters.ts';
import type { Core } from '../../src/hw/core.ts';
import { ENC } from '../../src/hw/encodings.ts';
import { F_GLOBAL, F_VALID, type TranslationCache } from '../../src/hw/tlb.ts';
import { Access } from '../../src/hw/translation-state.ts';
import { Trap } from '../../src/hw/traps.ts';
import type { Vmcs } from '../../src/hw/vmcs.ts';
import { vmcall, vmEntry } from '../../src/hw/vmx.ts';
import type { Guest } from './guest.ts';

export const isException =
  (vector: number, errorCode?: number) =>
  (e: unknown): boolean =>
    e instanceof Trap &&
    e.event.kind === 'exception' &&
    e.event.vector === vector &&
    (errorCode === undefined || e.event.errorCode === errorCode);

export const isVmExit =
  (reason: number) =>
  (e: unknown): boolean =>
    e instanceof Trap && e.event.kind === 'vmexit' && e.event.reason === reason;

export const isGP = isException(13, 0);
export const isUD = isException(6);

/** Translates `la` on `core` and says whether that took a page walk (it fills the TLBs). */
export function walks(core: Core, la: number, access: Access = Access.Read): boolean {
  const before = core.ctr[C.walks]!;
  const hpa = core.mmu.translate(la, access);
  if (hpa < 0) throw new Error(`translation of ${la.toString(16)} faulted (${core.ts.fault})`);
  return core.ctr[C.walks]! !== before;
}

const codeOf = new WeakMap<Guest, { vmcall: number; vmresume: number }>();

/** Leaves the guest by VMCALL (a VM exit, reason 18), runs `inRoot` in VMX root operation
 *  (e.g. to change the VMCS), then VMRESUMEs. */
export function exitAndResume(g: Guest, inRoot?: (v: Vmcs) => void): void {
  let code = codeOf.get(g);
  if (code === undefined) {
    code = { vmcall: g.userCode(ENC.vmcall), vmresume: g.hostCode(ENC.vmresume) };
    codeOf.set(g, code);
  }
  exitToRoot(g, code.vmcall);
  inRoot?.(g.vmcs);
  vmEntry(g.core, code.vmresume, true);
}

/** VMCALL at `at` (guest code): a VM exit; the core is in root mode afterwards. */
export function exitToRoot(g: Guest, at = g.userCode(ENC.vmcall)): void {
  let trap: unknown;
  try {
    vmcall(g.core, at);
  } catch (e) {
    trap = e;
  }
  if (!isVmExit(18)(trap)) throw new Error(`expected a VMCALL exit, got ${String(trap)}`);
}

export interface EntrySel {
  vpid?: number;
  pcid?: number;
  ep?: number;
  global?: boolean;
  /** Only entries covering this linear address. */
  la?: number;
}

/** Valid entries of `t` matching the selector. */
export function countIn(t: TranslationCache, sel: EntrySel = {}): number {
  let n = 0;
  for (let i = 0; i < t.entries; i++) {
    const f = t.flags[i]!;
    if ((f & F_VALID) === 0) continue;
    if (sel.vpid !== undefined && t.vpid[i] !== sel.vpid) continue;
    if (sel.pcid !== undefined && t.pcid[i] !== sel.pcid) continue;
    if (sel.ep !== undefined && t.ep[i] !== sel.ep) continue;
    if (sel.global !== undefined && ((f & F_GLOBAL) !== 0) !== sel.global) continue;
    if (sel.la !== undefined) {
      const span = PAGE_BYTES[t.size[i] as PageSize];
      if (Math.floor(sel.la / span) !== t.vpn[i]) continue;
    }
    n++;
  }
  return n;
}

/** The structures holding linear and combined mappings (TLBs). */
export function linearTlbs(core: Core): TranslationCache[] {
  const t = core.ts.tc;
  return [t.dtlb4k, t.dtlb2m, t.dtlb1g, t.itlb4k, t.itlb2m, t.stlb, t.stlb1g];
}

/** The guest paging-structure caches. */
export function guestPscs(core: Core): TranslationCache[] {
  const t = core.ts.tc;
  return [t.pml4e, t.pdpte, t.pde];
}

/** Guest-physical mappings and the EPT paging-structure caches. */
export function eptCaches(core: Core): TranslationCache[] {
  const t = core.ts.tc;
  return [t.gpa, t.eptPml4e, t.eptPdpte, t.eptPde];
}

export function count(structs: TranslationCache[], sel: EntrySel = {}): number {
  let n = 0;
  for (const t of structs) n += countIn(t, sel);
  return n;
}
