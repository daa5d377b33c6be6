// The mitigation sets experiment "mitigations" measures (mitigations.ts): one mitigation at a
// time, each kernel's defaults and everything it offers, with the sources of each choice, and
// the words its rows use.

import type { CpuProfile } from '../hw/profile-schema.ts';
import { classCosts } from '../hw/mix.ts';
import {
  MSR_SETUP_MIX,
  RSB_FILL_INSTRUCTIONS,
  RSB_FILL_MIX,
  type MitigationConfig,
} from '../kernel/mitigations.ts';
import type { RowParams } from './experiment.ts';
import type { KernelName } from './kernels.ts';
import type { TrampolineName } from './skybridge-setup.ts';

export type MitigationSet = NonNullable<RowParams['mitigation']>;
export type TrampolineKind = NonNullable<RowParams['trampoline']>;
/** A kernel configuration: KPTI (a Subkernel flag of its own) and the other mitigations. */
export type Mit = Partial<MitigationConfig> & { kpti?: boolean };

/** One mitigation at a time, in row order. IBRS is per kernel (KernelSets.ibrs). */
const SINGLE: [MitigationSet, Mit][] = [
  ['none', {}],
  ['kpti', { kpti: true }],
  ['ibpb', { ibpb: true }],
  ['rsb-fill', { rsbFill: true }],
  ['ibrs', {}],
  ['verw', { verw: true }],
  ['l1d-flush', { l1dFlush: true }],
];

/** The single mitigations a set is made of. */
export function partsOf(mit: Mit): MitigationSet[] {
  const parts: [MitigationSet, boolean][] = [
    ['kpti', mit.kpti === true],
    ['ibpb', mit.ibpb === true],
    ['rsb-fill', mit.rsbFill === true],
    ['ibrs', (mit.ibrs ?? 'off') !== 'off'],
    ['verw', mit.verw === true],
    ['l1d-flush', mit.l1dFlush === true],
  ];
  return parts.filter(([, on]) => on).map(([name]) => name);
}

/** The protections a trampoline built with RSB filling and VERW also keeps, plus KPTI, which
 *  a VMFUNC switch does not need (no kernel on it): the like-for-like native baseline. */
export const MATCHED: Mit = { kpti: true, rsbFill: true, verw: true };

interface KernelSets {
  /** How the kernel uses IBRS (null: it does not; Zircon relies on retpolines or eIBRS). */
  ibrs: MitigationConfig['ibrs'] | null;
  /** Its defaults on a Skylake client (affected by Meltdown, Spectre v2, MDS and L1TF). */
  shipped: Mit;
  /** Everything it can be configured to apply. */
  all: Mit;
  why: string;
}

export const KERNEL_SETS: Record<KernelName, KernelSets> = {
  seL4: {
    ibrs: 'entry-exit',
    shipped: { kpti: true },
    all: { kpti: true, ibpb: true, rsbFill: true, ibrs: 'entry-exit' },
    why: 'KernelSkimWindow defaults on for x86-64; KernelX86IBPBOnContextSwitch, KernelX86RSBOnContextSwitch and KernelX86IBRSMode (ibrs_basic) default off (src/arch/x86/config.cmake); seL4 has no VERW',
  },
  'Fiasco.OC': {
    ibrs: 'entry',
    shipped: { kpti: true, verw: true },
    all: { kpti: true, ibpb: true, ibrs: 'entry', verw: true },
    why: 'the amd64-dfl template sets CONFIG_KERNEL_ISOLATION, which defaults CONFIG_INTEL_MDS_MITIGATION on; CONFIG_INTEL_IA32_BRANCH_BARRIERS (IBRS on entry, IBPB after a switch) is off (src/Kconfig); no RSB fill',
  },
  Zircon: {
    ibrs: null,
    shipped: { kpti: true, ibpb: true, rsbFill: true, verw: true },
    all: { kpti: true, ibpb: true, rsbFill: true, verw: true },
    why: 'by default on an affected CPU: page-table isolation (kernel.x86.pti.enable=2), IBPB and RSB fill on context switch, VERW on every return to user (kernel.x86.md_clear_on_user_return); its retpolines are not modelled',
  },
};

export const TRAMPOLINE: Record<TrampolineKind, TrampolineName> = {
  plain: 'sb-trampoline',
  'rsb-fill': 'sb-trampoline-rsb',
  verw: 'sb-trampoline-verw',
  hardened: 'sb-trampoline-hardened',
};

/** What each set is, in words. */
export const WHAT: Record<MitigationSet, string> = {
  none: 'no mitigation',
  kpti: 'KPTI (Meltdown): two CR3 writes per kernel entry',
  ibpb: 'IBPB (Spectre v2) on each switch to another address space',
  'rsb-fill': 'RSB fill (Spectre v2, ret2spec) on each switch to another address space',
  ibrs: 'IBRS (Spectre v2 in the kernel): WRMSR IA32_SPEC_CTRL',
  verw: 'VERW (MDS) on every return to user',
  'l1d-flush': 'L1D flush (L1TF) before every VM entry, in the Rootkernel',
  matched: 'KPTI, RSB fill and VERW: what a hardened trampoline also keeps',
  shipped: 'the kernel’s defaults on an affected CPU',
  all: 'every mitigation the kernel offers',
};

/** The sets measured on `k`'s own IPC, in row order. */
export function setsOf(k: KernelName, quick: boolean): [MitigationSet, Mit][] {
  const s = KERNEL_SETS[k];
  if (quick)
    return [
      ['none', {}],
      ['verw', { verw: true }],
      ['matched', MATCHED],
    ];
  const out = SINGLE.flatMap(([set, mit]): [MitigationSet, Mit][] => {
    if (set !== 'ibrs') return [[set, mit]];
    return s.ibrs === null ? [] : [['ibrs', { ibrs: s.ibrs }]];
  });
  out.push(['matched', MATCHED], ['shipped', s.shipped], ['all', s.all]);
  return out;
}

/** Whether a set's overhead is the sum of its parts' (measured before it, in row order). */
export function sumOfParts(
  parts: MitigationSet[],
  delta: number,
  roundTrip: (set: MitigationSet) => number | undefined,
  base: number,
): string {
  const each = parts.map((x) => (roundTrip(x) ?? NaN) - base);
  const sum = each.reduce((a, b) => a + b, 0);
  const terms = parts.map((x, i) => `${x} ${each[i]}`).join(' + ');
  return sum === delta ? `${terms}: exactly the sum of its parts` : `${terms} = ${sum} alone`;
}

/** "2 × …": how many times the mitigation's instructions ran per round trip. */
export function occurrences(p: CpuProfile, set: MitigationSet, delta: number, mit: Mit): string {
  const cost = classCosts(p.insn);
  const setup = MSR_SETUP_MIX.cycles(3, cost);
  const msr = p.ops.wrmsrBase + setup;
  const each: Partial<Record<MitigationSet, [number, string]>> = {
    ibpb: [p.ops.ibpb + setup, 'IBPB (WRMSR IA32_PRED_CMD, ops.ibpb, and 3 setup instructions)'],
    'rsb-fill': [
      RSB_FILL_MIX.cycles(RSB_FILL_INSTRUCTIONS, cost),
      `RSB fill (${RSB_FILL_INSTRUCTIONS} instructions)`,
    ],
    ibrs: [
      msr,
      `WRMSR IA32_SPEC_CTRL (ops.wrmsrBase and 3 setup instructions; ${mit.ibrs === 'entry-exit' ? 'set on entry, cleared on exit' : 'set on every entry'})`,
    ],
    verw: [p.ops.verw, 'VERW (ops.verw)'],
  };
  const e = each[set];
  if (set === 'l1d-flush') return 'no VM exit on the path, so no VM entry to flush before';
  if (set === 'kpti')
    return 'two no-flush CR3 writes (ops.movCr3NoFlush) per kernel entry, and the entry and exit blocks';
  if (e === undefined) return '';
  const n = delta / e[0];
  return Number.isInteger(n) ? `${n} × ${e[1]} per round trip` : `${e[1]}`;
}
