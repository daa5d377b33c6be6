// Experiment "primitives": the cost of SkyBridge's building blocks on the simulated
// machine (the paper's Table 1 and the Rootkernel's walk-length argument). Each figure is
// the cycle counter's difference across the modelled code, after warm-up runs.

import { C, type CounterSnapshot } from '../hw/counters.ts';
import { R } from '../hw/core.ts';
import { ENC } from '../hw/encodings.ts';
import { movToCr3, swapgs, syscall, sysret } from '../hw/isa.ts';
import { mixOfCode } from '../hw/cpu/classify.ts';
import { Trap } from '../hw/traps.ts';
import { vmcall, vmEntry, vmfunc } from '../hw/vmx.ts';
import {
  row as makeRow,
  summarize,
  type Experiment,
  type ExperimentResult,
  type ResultRow,
  type RowParams,
  type RowSpec,
  type RunContext,
  type Stats,
} from './experiment.ts';
import { experimentInfo } from './catalog.ts';
import { Testbed, USER_DATA } from './testbed.ts';
import type { CpuProfile } from '../hw/profile-schema.ts';
import { Access } from '../hw/translation-state.ts';

const PAPER = 'SkyBridge, EuroSys 2019, Table 1';
const WARMUP = 8;
const RUNS = 16;

interface Measured {
  /** Mean cycles over the measured runs. */
  mean: number;
  /** Their spread. */
  stats: Stats;
  /** The machine's counters across the measured runs. */
  counters: CounterSnapshot;
}

/** Mean cycles of `op` over RUNS runs after WARMUP runs, and their spread. */
function measure(tb: Testbed, op: (i: number) => void): Measured {
  for (let i = 0; i < WARMUP; i++) op(i);
  const before = tb.core.cycles;
  const counters = tb.m.snapshot();
  const each: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const t = tb.core.cycles;
    op(i);
    each.push(tb.core.cycles - t);
  }
  return {
    mean: (tb.core.cycles - before) / RUNS,
    stats: summarize(each),
    counters: tb.m.snapshot().minus(counters),
  };
}

export function vmfuncCost(profile: CpuProfile): Measured {
  const tb = new Testbed({ profile });
  tb.addEpt(1);
  const at = tb.userCode.emit(ENC.vmfunc);
  const c = tb.core;
  return measure(tb, (i) => {
    c.regs.set(R.RAX, 0);
    c.regs.set(R.RCX, (i + 1) % 2);
    vmfunc(c, at);
  });
}

export function cr3Cost(
  profile: CpuProfile,
  pcid: boolean,
  noFlush: boolean,
): { cycles: number; stats: Stats; invalidated: number; counters: CounterSnapshot } {
  const tb = new Testbed({ profile, pcid, startCpl: 0 });
  const at = tb.kernelText.emit(ENC.movCr3Rax);
  const c = tb.core;
  const value = BigInt(tb.kernelCr3) | (noFlush ? 1n << 63n : 0n);
  let cycles = 0;
  let invalidated = 0;
  const each: number[] = [];
  const op = (measured: boolean): void => {
    c.load32(USER_DATA); // something for a flushing write to invalidate
    const before = c.cycles;
    const inv = c.ctr[C.tlbInvalidated]!;
    movToCr3(c, at, value);
    if (measured) {
      cycles += c.cycles - before;
      each.push(c.cycles - before);
      invalidated += c.ctr[C.tlbInvalidated]! - inv;
    }
  };
  for (let i = 0; i < WARMUP; i++) op(false);
  // The measured runs' loads (something for the write to invalidate) are in the counters.
  const s0 = tb.m.snapshot();
  for (let i = 0; i < RUNS; i++) op(true);
  return {
    cycles: cycles / RUNS,
    stats: summarize(each),
    invalidated: invalidated / RUNS,
    counters: tb.m.snapshot().minus(s0),
  };
}

// The straight-line sequences of the primitives below, each charged at its own mix.
/** mov rax, cr3; and rax, ~0x1800 (kernel PCID, kernel half); bts rax, 63 (no flush). */
const KPTI_TO_KERNEL = [
  0x0f, 0x20, 0xd8, 0x48, 0x25, 0xff, 0xe7, 0xff, 0xff, 0x48, 0x0f, 0xba, 0xe8, 0x3f,
];
/** mov rax, cr3; or rax, 0x1800 (user PCID, user half); bts rax, 63. */
const KPTI_TO_USER = [
  0x0f, 0x20, 0xd8, 0x48, 0x0d, 0x00, 0x18, 0x00, 0x00, 0x48, 0x0f, 0xba, 0xe8, 0x3f,
];
/** cmp rax, 256; jae +2; xor eax, eax. */
const DISPATCH = [0x48, 0x3d, 0x00, 0x01, 0x00, 0x00, 0x73, 0x02, 0x31, 0xc0];
/** vmread rcx, rax; cmp rcx, 0x12; vmread rdx, rdx; add rax, rdx; vmwrite rax, rdx. */
const VMM_HANDLER = [
  0x0f, 0x78, 0xc1, 0x48, 0x83, 0xf9, 0x12, 0x0f, 0x78, 0xd2, 0x48, 0x01, 0xd0, 0x0f, 0x79, 0xc2,
];
const KPTI_TO_KERNEL_MIX = mixOfCode('KPTI CR3 switch to the kernel', KPTI_TO_KERNEL);
const KPTI_TO_USER_MIX = mixOfCode('KPTI CR3 switch to the user', KPTI_TO_USER);
const DISPATCH_MIX = mixOfCode('no-op system call dispatch', DISPATCH);
const VMM_HANDLER_MIX = mixOfCode('VM exit handler', VMM_HANDLER);

/**
 * A no-op system call as an x86-64 kernel does it: SYSCALL; SWAPGS; a three-instruction
 * dispatch (cmp/jae/xor); SWAPGS; SYSRETQ. With KPTI, Linux's CR3 switch on entry and exit
 * (mov from CR3, mask the PCID/user bit, set bit 63, MOV to CR3), each a no-flush write.
 */
export function nullSyscall(profile: CpuProfile, kpti: boolean): Measured {
  const tb = new Testbed({ profile, kpti });
  const c = tb.core;
  const k = tb.kernelText;
  const entry = k.emit(ENC.swapgs);
  const toKernel = kpti ? k.emit(KPTI_TO_KERNEL) : 0;
  const cr3In = kpti ? k.emit(ENC.movCr3Rax) : 0;
  const dispatch = k.emit(DISPATCH);
  const toUser = kpti ? k.emit(KPTI_TO_USER) : 0;
  const cr3Out = kpti ? k.emit(ENC.movCr3Rax) : 0;
  const exitSwapgs = k.emit(ENC.swapgs);
  const ret = k.emit(ENC.sysretq);
  const user = tb.userCode.emit(ENC.syscall);
  c.lstar = entry;
  const noFlush = 1n << 63n;
  return measure(tb, () => {
    syscall(c, user);
    swapgs(c, entry);
    if (kpti) {
      c.exec(toKernel, KPTI_TO_KERNEL.length, 3, KPTI_TO_KERNEL_MIX);
      movToCr3(c, cr3In, BigInt(tb.kernelCr3) | noFlush);
    }
    c.exec(dispatch, DISPATCH.length, 3, DISPATCH_MIX);
    if (kpti) {
      c.exec(toUser, KPTI_TO_USER.length, 3, KPTI_TO_USER_MIX);
      movToCr3(c, cr3Out, BigInt(tb.userCr3) | noFlush);
    }
    swapgs(c, exitSwapgs);
    sysret(c, ret);
  });
}

/** VMCALL from the guest, a five-instruction VMM handler (read reason and length, advance
 *  the guest RIP), VMRESUME: the whole round trip as the guest sees it. */
export function vmExitRoundTrip(profile: CpuProfile): Measured {
  const tb = new Testbed({ profile });
  const c = tb.core;
  const call = tb.userCode.emit(ENC.vmcall);
  const handler = tb.vmcs.hostRip;
  for (const b of VMM_HANDLER) tb.hostCode.emit([b]);
  const resume = tb.hostCode.emit(ENC.vmresume);
  return measure(tb, () => {
    try {
      vmcall(c, call);
    } catch (e) {
      if (!(e instanceof Trap) || e.event.kind !== 'vmexit') throw e;
    }
    c.exec(handler, VMM_HANDLER.length + 1, 5, VMM_HANDLER_MIX);
    tb.vmcs.guestRip += tb.vmcs.exitInstructionLength;
    vmEntry(c, resume, true);
  });
}

interface WalkFigures {
  refs: number;
  cycles: number;
  /** References that missed every cache level. */
  dram: number;
  counters: CounterSnapshot;
}

/** One TLB-miss translation of a user data address, read from the counters. */
export function walkCost(
  profile: CpuProfile,
  mode: 'native' | 'ept4k' | 'ept1g',
  cold: boolean,
): WalkFigures {
  const tb = new Testbed({ profile, ept4k: mode === 'ept4k', startCpl: 0 });
  const c = tb.core;
  if (mode === 'native') {
    // The same guest table walked with EPT off: leave to root mode and load it there.
    try {
      vmcall(c, tb.userCode.emit(ENC.vmcall));
    } catch (e) {
      if (!(e instanceof Trap)) throw e;
    }
    movToCr3(c, tb.hostCode.emit(ENC.movCr3Rax), BigInt(tb.kernelCr3 - (tb.kernelCr3 % 4096)));
  }
  const la = USER_DATA + 4096;
  if (cold) {
    tb.m.coldStart();
    c.mmu.walker.useWalkCaches = false;
  } else {
    // Warm the walk caches and data caches through the neighbouring page.
    c.load32(USER_DATA);
  }
  const refs0 = c.ctr[C.walkRefs]!;
  const dram0 = c.ctr[C.llcMiss]!;
  const s0 = tb.m.snapshot();
  c.translateOrTrap(la, Access.Read);
  return {
    refs: c.ctr[C.walkRefs]! - refs0,
    cycles: c.ts.outLatency,
    dram: c.ctr[C.llcMiss]! - dram0,
    counters: tb.m.snapshot().minus(s0),
  };
}

function run(ctx: RunContext): ExperimentResult {
  const p = ctx.profile;
  const rows: ResultRow[] = [];
  const add = (spec: RowSpec): void => void rows.push(makeRow('primitives', spec));
  const steps = 12;
  let done = 0;
  const tick = (): void => ctx.progress?.(++done, steps);
  // Each case's counters (reproduce --counters): RUNS runs, or one walk.
  const count = (params: RowParams, snapshot: CounterSnapshot, walk = false): void =>
    ctx.counters?.add({
      params,
      repetitions: walk ? 1 : RUNS,
      per: walk ? 'walk' : 'run',
      snapshot,
    });

  const vmfunc = vmfuncCost(p);
  count({ operation: 'vmfunc', caches: 'warm' }, vmfunc.counters);
  add({
    measurement: 'VMFUNC (EPTP switch), warm',
    metric: 'cycles',
    params: { operation: 'vmfunc', caches: 'warm' },
    value: vmfunc.mean,
    unit: 'cycles',
    stats: vmfunc.stats,
    reference: 134,
    referenceSource: PAPER,
    basis: 'calibrated',
  });
  tick();
  const flush = cr3Cost(p, false, false);
  count({ operation: 'mov-cr3', pcid: false, flush: true }, flush.counters);
  add({
    measurement: 'MOV to CR3, PCID off (flushes)',
    metric: 'cycles',
    params: { operation: 'mov-cr3', pcid: false, flush: true },
    value: flush.cycles,
    unit: 'cycles',
    stats: flush.stats,
    reference: 186,
    referenceSource: PAPER,
    basis: 'calibrated',
    note: `invalidates ${flush.invalidated} TLB/PSC entries`,
  });
  tick();
  const pcidFlush = cr3Cost(p, true, false);
  count({ operation: 'mov-cr3', pcid: true, flush: true }, pcidFlush.counters);
  add({
    measurement: 'MOV to CR3, PCID on, bit 63 clear (flushes that PCID)',
    metric: 'cycles',
    params: { operation: 'mov-cr3', pcid: true, flush: true },
    value: pcidFlush.cycles,
    unit: 'cycles',
    stats: pcidFlush.stats,
    note: `invalidates ${pcidFlush.invalidated} entries`,
  });
  tick();
  const keep = cr3Cost(p, true, true);
  count({ operation: 'mov-cr3', pcid: true, flush: false }, keep.counters);
  add({
    measurement: 'MOV to CR3, PCID on, bit 63 set (no flush)',
    metric: 'cycles',
    params: { operation: 'mov-cr3', pcid: true, flush: false },
    value: keep.cycles,
    unit: 'cycles',
    stats: keep.stats,
    note: `invalidates ${keep.invalidated} entries`,
  });
  tick();
  // The Testbed turns PCIDs on with KPTI and leaves them off without.
  const sys = nullSyscall(p, false);
  count({ operation: 'syscall', kpti: false, pcid: false }, sys.counters);
  add({
    measurement: 'no-op system call, KPTI off',
    metric: 'cycles',
    params: { operation: 'syscall', kpti: false, pcid: false },
    value: sys.mean,
    unit: 'cycles',
    stats: sys.stats,
    reference: 181,
    referenceSource: PAPER,
    basis: 'calibrated',
    note: 'SYSCALL, SWAPGS, 3-instruction dispatch, SWAPGS, SYSRETQ',
  });
  tick();
  const sysKpti = nullSyscall(p, true);
  count({ operation: 'syscall', kpti: true, pcid: true }, sysKpti.counters);
  add({
    measurement: 'no-op system call, KPTI on (PCID)',
    metric: 'cycles',
    params: { operation: 'syscall', kpti: true, pcid: true },
    value: sysKpti.mean,
    unit: 'cycles',
    stats: sysKpti.stats,
    reference: 431,
    referenceSource: PAPER,
    basis: 'calibrated',
    note: 'plus two no-flush CR3 switches of 4 instructions each',
  });
  tick();
  const vmExit = vmExitRoundTrip(p);
  count({ operation: 'vm-exit-entry' }, vmExit.counters);
  add({
    measurement: 'VM exit + VM entry round trip (VMCALL, 5-instruction handler)',
    metric: 'cycles',
    params: { operation: 'vm-exit-entry' },
    value: vmExit.mean,
    unit: 'cycles',
    stats: vmExit.stats,
  });
  tick();
  for (const [mode, label, ept] of [
    ['native', 'no EPT', 'none'],
    ['ept4k', '4 KiB EPT', '4k'],
    ['ept1g', '1 GiB EPT', '1g'],
  ] as const) {
    const cold = walkCost(p, mode, true);
    count({ operation: 'tlb-miss-walk', ept, caches: 'cold' }, cold.counters, true);
    add({
      measurement: `TLB-miss walk, ${label}, nothing cached`,
      metric: 'references',
      params: { operation: 'tlb-miss-walk', ept, caches: 'cold' },
      value: cold.refs,
      unit: 'references',
      note: '4-KiB guest pages',
    });
    add({
      measurement: `TLB-miss walk, ${label}, nothing cached`,
      metric: 'cycles',
      params: { operation: 'tlb-miss-walk', ept, caches: 'cold' },
      value: cold.cycles,
      unit: 'cycles',
      note: `caches cold at the start: ${cold.dram} references from DRAM, the rest re-read lines`,
    });
    const warm = walkCost(p, mode, false);
    count({ operation: 'tlb-miss-walk', ept, caches: 'warm' }, warm.counters, true);
    add({
      measurement: `TLB-miss walk, ${label}, neighbour warm`,
      metric: 'references',
      params: { operation: 'tlb-miss-walk', ept, caches: 'warm' },
      value: warm.refs,
      unit: 'references',
      note: 'next page of the same page table',
    });
    add({
      measurement: `TLB-miss walk, ${label}, neighbour warm`,
      metric: 'cycles',
      params: { operation: 'tlb-miss-walk', ept, caches: 'warm' },
      value: warm.cycles,
      unit: 'cycles',
      note: 'walk caches and data caches warm',
    });
    tick();
  }
  return {
    id: 'primitives',
    title: 'Cost of the hardware primitives (simulated)',
    rows,
    notes: [
      'Each cycle figure is the mean over 16 runs after 8 warm-up runs of the modelled instruction sequence; references and latencies of walks are read from the walk counters.',
      'With 4 KiB pages at both levels a 2-D walk is 4 × (4 + 1) + 4 = 24 references; 1 GiB EPT pages stop each EPT walk at the PDPTE: 4 × (2 + 1) + 2 = 14.',
      'MOV CR3 figures are the instruction alone; each write follows a load, so a flushing write has a TLB entry to invalidate (the refill is not in the figure).',
    ],
  };
}

export const primitives: Experiment = { ...experimentInfo('primitives'), run };
