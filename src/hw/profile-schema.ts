// The shape of a CPU profile, validated with zod. A profile is data (gem5's lesson: a
// structure's parameters live apart from its mechanism); `profile.ts` holds the default
// and the loader. Every number a cost comes from is a field here.

import { z } from 'zod';

const nonNeg = z.number().finite().nonnegative();
const posInt = z.number().int().positive();

const cacheLevel = z.object({
  sizeBytes: posInt,
  ways: posInt,
  lineBytes: posInt,
  /** Load-to-use latency of a hit at this level, in cycles. */
  latency: nonNeg,
});

const tlbLevel = z.object({ entries: posInt, ways: posInt });

export const profileSchema = z.object({
  name: z.string(),
  /** Core clock, used only to convert DRAM nanoseconds to cycles and for reports. */
  frequencyGHz: z.number().positive(),
  caches: z.object({
    l1i: cacheLevel,
    l1d: cacheLevel,
    l2: cacheLevel,
    llc: cacheLevel,
    /** Load-to-use latency of a miss in every cache level, in cycles. */
    dramLatency: nonNeg,
  }),
  tlb: z.object({
    dtlb4k: tlbLevel,
    dtlb2m: tlbLevel,
    dtlb1g: tlbLevel,
    itlb4k: tlbLevel,
    itlb2m: tlbLevel,
    stlb: tlbLevel,
    stlb1g: tlbLevel,
    /** Guest-physical mappings (GPA → HPA), tagged by EP4TA (SDM Vol. 3C §29.4.1). */
    gpa: tlbLevel,
    l1Latency: nonNeg,
    stlbLatency: nonNeg,
  }),
  /** Paging-structure caches (SDM Vol. 3A §4.10.3; §29.4.1 for EPT). */
  psc: z.object({
    pml4e: tlbLevel,
    pdpte: tlbLevel,
    pde: tlbLevel,
    eptPml4e: tlbLevel,
    eptPdpte: tlbLevel,
    eptPde: tlbLevel,
  }),
  /** Cycles charged for each privileged operation itself (its effects cost separately). */
  ops: z.object({
    syscall: nonNeg,
    sysret: nonNeg,
    swapgs: nonNeg,
    movCr3: nonNeg,
    movCr3NoFlush: nonNeg,
    vmfunc: nonNeg,
    vmExit: nonNeg,
    vmEntry: nonNeg,
    cpuid: nonNeg,
    invlpg: nonNeg,
    invpcid: nonNeg,
    invept: nonNeg,
    invvpid: nonNeg,
    interruptEntry: nonNeg,
    iret: nonNeg,
    ipiSend: nonNeg,
    wrmsrBase: nonNeg,
    /** A locked read-modify-write: LOCK CMPXCHG / XADD / ADD on memory (kernel locks,
     *  reference counts), charged on top of its memory access. */
    lockRmw: nonNeg,
    /** XCHG with a memory operand (implicitly locked), on top of its memory access. */
    xchgMem: nonNeg,
    /** XSAVE/XSAVEC/XSAVES and XRSTOR/XRSTORS of a thread's extended (FPU/SSE/AVX) state. */
    xsave: nonNeg,
    xrstor: nonNeg,
    ipiLatency: nonNeg,
    ibpb: nonNeg,
    l1dFlush: nonNeg,
    verw: nonNeg,
    rdtsc: nonNeg,
    exceptionEntry: nonNeg,
  }),
  /** Cycles charged per instruction by class for interpreted (user) machine code: the
   *  reciprocal throughput on the profile's core; memory operands add only latency beyond an
   *  L1 hit, as for every access (see src/hw/cpu/insn.ts for which instruction is in which
   *  class). */
  insn: z.object({
    alu: nonNeg,
    shift: nonNeg,
    shiftCl: nonNeg,
    rotateCarry: nonNeg,
    lea: nonNeg,
    mul: nonNeg,
    div32: nonNeg,
    div64: nonNeg,
    load: nonNeg,
    store: nonNeg,
    push: nonNeg,
    pop: nonNeg,
    branch: nonNeg,
    branchTaken: nonNeg,
    call: nonNeg,
    ret: nonNeg,
    bits: nonNeg,
    string: nonNeg,
    locked: nonNeg,
    xchgMem: nonNeg,
    pause: nonNeg,
    sseMove: nonNeg,
    sseAdd: nonNeg,
    sseMul: nonNeg,
    sseDiv: nonNeg,
    sseSqrt: nonNeg,
    sseCvt: nonNeg,
    nop: nonNeg,
    sseShuffle: nonNeg,
    sseInsert: nonNeg,
    sseDivSingle: nonNeg,
    sseSqrtSingle: nonNeg,
  }),
  /** Where each figure comes from, by dotted path ("caches.l1d.latency"). */
  sources: z.record(z.string(), z.string()),
});

export type CpuProfile = z.infer<typeof profileSchema>;
export type CacheLevelProfile = z.infer<typeof cacheLevel>;
export type TlbLevelProfile = z.infer<typeof tlbLevel>;
