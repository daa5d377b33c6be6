// The default CPU profile (an Intel Skylake client core, as sel4bench's i7-6700) and the
// loader for a user's own. Every figure names its source in `sources`; a figure composed
// or derived from others says how. See docs/research/profile-sources.md for the longer
// notes behind each choice.

import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { profileSchema, type CpuProfile, type CacheLevelProfile } from './profile-schema.ts';

export type { CpuProfile } from './profile-schema.ts';

const PAPER = 'SkyBridge (Mi et al., EuroSys 2019), Table 1, its Intel test machine';
const OPT = 'Intel 64 and IA-32 Architectures Optimization Reference Manual, Skylake client';
const AGNER = 'Agner Fog, "Instruction tables" (Skylake section, 2022)';
const RESEARCH = 'docs/research/profile-sources.md';
const SEVENCPU = '7-cpu.com, Intel Skylake (i7-6700) measurements';

export const SKYLAKE: CpuProfile = {
  name: 'skylake-client',
  frequencyGHz: 3.4,
  caches: {
    l1i: { sizeBytes: 32 * 1024, ways: 8, lineBytes: 64, latency: 4 },
    l1d: { sizeBytes: 32 * 1024, ways: 8, lineBytes: 64, latency: 4 },
    l2: { sizeBytes: 256 * 1024, ways: 4, lineBytes: 64, latency: 12 },
    llc: { sizeBytes: 8 * 1024 * 1024, ways: 16, lineBytes: 64, latency: 42 },
    dramLatency: 215,
  },
  tlb: {
    dtlb4k: { entries: 64, ways: 4 },
    dtlb2m: { entries: 32, ways: 4 },
    dtlb1g: { entries: 4, ways: 4 },
    itlb4k: { entries: 128, ways: 8 },
    itlb2m: { entries: 8, ways: 8 },
    stlb: { entries: 1536, ways: 12 },
    stlb1g: { entries: 16, ways: 4 },
    gpa: { entries: 1536, ways: 12 },
    l1Latency: 1,
    stlbLatency: 9,
  },
  psc: {
    pml4e: { entries: 2, ways: 2 },
    pdpte: { entries: 4, ways: 4 },
    pde: { entries: 32, ways: 32 },
    eptPml4e: { entries: 2, ways: 2 },
    eptPdpte: { entries: 4, ways: 4 },
    eptPde: { entries: 32, ways: 32 },
  },
  ops: {
    syscall: 82,
    sysret: 75,
    swapgs: 13,
    movCr3: 186,
    movCr3NoFlush: 125,
    vmfunc: 134,
    vmExit: 392,
    vmEntry: 392,
    cpuid: 100,
    invlpg: 150,
    invpcid: 200,
    invept: 400,
    invvpid: 400,
    interruptEntry: 180,
    iret: 150,
    ipiSend: 100,
    wrmsrBase: 100,
    // LLVM X86SchedSkylakeClient.td: LOCK CMPXCHG (WriteCMPXCHGRMW) 8, XCHG r,m 10 (see sources).
    lockRmw: 8,
    xchgMem: 10,
    // LLVM X86SchedSkylakeClient.td: XSAVE/XSAVEC/XSAVES 42, XRSTOR 37 (see sources).
    xsave: 42,
    xrstor: 37,
    ipiLatency: 1200,
    ibpb: 5000,
    l1dFlush: 600,
    verw: 700,
    rdtsc: 25,
    exceptionEntry: 180,
  },
  insn: {
    alu: 0.25,
    shift: 0.5,
    shiftCl: 2,
    rotateCarry: 3,
    lea: 0.5,
    mul: 1,
    div32: 26,
    div64: 42,
    load: 0.5,
    store: 1,
    push: 1,
    pop: 0.5,
    branch: 0.5,
    branchTaken: 1,
    call: 1,
    ret: 1,
    bits: 1,
    string: 1,
    sseMove: 0.33,
    sseAdd: 0.5,
    sseMul: 0.5,
    sseDiv: 4,
    sseSqrt: 6,
    sseCvt: 1,
    nop: 0.25,
    sseShuffle: 1,
    sseInsert: 2,
    sseDivSingle: 3,
    sseSqrtSingle: 3,
    // LLVM X86SchedSkylakeClient.td: LOCK CMPXCHG 8, XCHG r,m 10 (as ops.lockRmw, ops.xchgMem);
    // PAUSE up to 140 (Intel's optimization manual on Skylake; see sources).
    locked: 8,
    xchgMem: 10,
    pause: 140,
  },
  sources: {
    insn: `reciprocal throughputs on Skylake from ${AGNER} and LLVM's Skylake client scheduling model (X86SchedSkylakeClient.td): simple ALU ops, MOV, MOVZX, SETcc, CMOVcc 0.25 (ports 0, 1, 5, 6); shifts by an immediate 0.5 (ports 0, 6); shifts by CL 2 (3 µops); RCL/RCR 3 (estimate; 1 by one, ~6 by CL); LEA 0.5; IMUL/MUL 1; loads 0.5 (2 load ports), stores 1; PUSH 1, POP 0.5; branches 0.5 not taken, 1 taken (one taken branch per cycle); CALL/RET 1; BSF/BSR/POPCNT/LZCNT/TZCNT/BT 1; SSE moves, vector logic (PAND/POR/PXOR, ANDPS...) and PADD/PSUB B/W/D/Q (p015: Agner; LLVM's SKLWriteResGroup9 for PADD) 0.33; ADDSD/MULSD and the packed and single forms of add, sub, mul, min, max, compare (p01, 4-cycle FP units), vector integer saturating add/sub, compare, min/max, average and immediate shifts (LLVM WriteVecALUX, WriteVecShiftImmX: p01) 0.5; vector integer multiplies PMULLW/PMULHW/PMULHUW/PMULUDQ/PMADDWD (WriteVecIMulX, p01) 0.5; shuffles, unpacks, packs, byte shifts, MOVHLPS/MOVLHPS/SHUFPS (WriteShuffleX/WriteFShuffle: p5) 1, with PSADBW (p5) 1, shifts by an XMM count (WriteVecShiftX: p5 + p01) 1, PEXTRW (WriteVecExtract: p0 + p5) 1 and MOVMSKPS/PD, PMOVMSKB (WriteFMOVMSK: p0) 1 in the same class; PINSRW 2 (WriteVecInsert: 2 µops on p5); DIVSD/DIVPD 4, DIVSS/DIVPS 3 (WriteFDiv: divider 3 cycles single, 4 double), SQRTSD/SQRTPD 6, SQRTSS/SQRTPS 3 (WriteFSqrt); conversions 1 (CVTPD2PS, CVTPS2PD, CVTSS2SD, CVTSD2SS, CVTSI2SS, CVTDQ2PD: p5 + p01/p015, SKLWriteResGroup60), CVTDQ2PS/CVT(T)PS2DQ 0.5 (p01). Non-temporal stores (MOVNTI, MOVNTDQ, MOVNTPS/PD) as stores, 1; SFENCE/LFENCE/MFENCE 1 (LLVM: SFENCE p237 + p0156, MFENCE p237 + 2×p0156, LFENCE 2×p0156; Agner measures MFENCE at ~33 on Skylake, the store-buffer drain a fence waits for is not modelled). Exceptions charged at latency because their results are used at once: DIV/IDIV r32 26, r64 42 (lower end of Agner's 42-95 for IDIV r64; on hardware it depends on the operands). One iteration of a string instruction 1 (estimate; fast-string microcode moves more per cycle for long REP MOVSB). LOCK-prefixed read-modify-writes (LOCK ADD/XADD/CMPXCHG...) 8 and XCHG with memory 10, at LLVM's latencies (WriteCMPXCHGRMW; SKLWriteResGroup143) as the kernel's ops.lockRmw and ops.xchgMem, the store-buffer drain they wait for not modelled; PAUSE 140 (Intel 64 and IA-32 Architectures Optimization Reference Manual, Skylake microarchitecture: the PAUSE latency was extended to as many as 140 cycles, from about 10). Not modelled: dependency chains, branch mispredictions, macro-fusion; charging throughput is optimistic for dependent chains and mispredicted branches`,
    frequencyGHz:
      "i7-6700 base clock (Intel ARK); the Skylake machine of sel4bench's published results (sel4.systems, Performance)",
    'caches.l1i': `${OPT}: 32 KiB 8-way`,
    'caches.l1d': `${OPT}: 32 KiB 8-way, 4-5 cycles load-to-use (4 charged; +1 for the DTLB)`,
    'caches.l2': `${OPT}: 256 KiB 4-way, 12 cycles`,
    'caches.llc': `${SEVENCPU}: 8 MiB 16-way, 42 cycles`,
    'caches.dramLatency': `${SEVENCPU}: 42 cycles + 51 ns; at 3.4 GHz 42 + 173 = 215 cycles`,
    'tlb.dtlb4k': `${OPT}: DTLB 4 KiB 64 entries 4-way`,
    'tlb.dtlb2m': `${OPT}: DTLB 2 MiB 32 entries 4-way`,
    'tlb.dtlb1g': `${OPT}: DTLB 1 GiB 4 entries`,
    'tlb.itlb4k': `${OPT}: ITLB 4 KiB 128 entries 8-way`,
    'tlb.itlb2m': `${OPT}: ITLB 2 MiB 8 entries per thread, fully associative`,
    'tlb.stlb': `${OPT}: STLB 4 KiB + 2 MiB 1536 entries 12-way`,
    'tlb.stlb1g': `${OPT}: STLB 1 GiB 16 entries 4-way`,
    'tlb.gpa':
      'no public figure for the guest-physical TLB; assumed the geometry of the STLB (assumption)',
    'tlb.l1Latency':
      'assumed 1 cycle: an L1 DTLB hit overlaps L1D indexing on real hardware, so the model charges it inside the L1 hit',
    'tlb.stlbLatency': `${SEVENCPU}: L1 DTLB miss, STLB hit: 9 cycles`,
    psc: 'sizes not published for Skylake; split, fully associative, LRU: PML4E 2, PDPTE 4, PDE 32 (7-cpu lists a 32-entry PDE cache); Barr et al., "Translation Caching: Skip, Don\'t Walk (the Page Table)", ISCA 2010, Intel-style PML4/PDPT/PDE caches (assumption; EPT caches given the same geometry)',
    'ops.syscall': `${PAPER}: SYSCALL ~82 cycles`,
    'ops.sysret': `${PAPER}: SYSRET ~75 cycles`,
    'ops.swapgs': `derived from ${PAPER}: its no-op system call (181) ≈ SYSCALL 82 + SWAPGS 26 + SYSRET 75 = 183, so its 26 covers the entry/exit pair; an x86-64 kernel executes SWAPGS twice, 13 each`,
    'ops.movCr3': `${PAPER}: write to CR3 186 ± 10 cycles (a flushing write)`,
    'ops.movCr3NoFlush': `derived from ${PAPER}: KPTI adds (431 − 181) = 250 cycles to a no-op system call, two CR3 writes with the PCID no-flush bit (Linux KPTI with PCID): 125 each`,
    'ops.vmfunc': `${PAPER}: VMFUNC (EPTP switching) 134 ± 3 cycles`,
    'ops.vmExit': `Agesen et al., "Software Techniques for Avoiding Hardware Virtualization Exits", USENIX ATC 2012, Table 1: hardware VM exit + entry round trip 784 cycles on Sandy Bridge, the newest core measured there; split evenly between exit and entry (split is an assumption). See ${RESEARCH} §3`,
    'ops.vmEntry': `half of Agesen et al. ATC 2012's 784-cycle round trip (see ops.vmExit)`,
    'ops.cpuid':
      'estimate: CPUID executed natively (root mode) ~100 cycles; in non-root it always exits, so its cost there is the VM exit',
    'ops.invlpg': `estimate from Amit, "Optimizing the TLB Shootdown Algorithm with Page Access Tracking", USENIX ATC 2017 (~100-200 cycles); ${RESEARCH} §5`,
    'ops.invpcid': `estimate (same source family as INVLPG); ${RESEARCH} §5`,
    'ops.invept': `no published measurement; modelled as 2× INVPCID single-context (assumption); ${RESEARCH} §5`,
    'ops.invvpid': `no published measurement; modelled as 2× INVPCID single-context (assumption); ${RESEARCH} §5`,
    'ops.interruptEntry': `estimate: IDT delivery with CPL change and 5-word frame ~150-250 cycles (no clean Skylake figure); the frame's stores and the gate read are charged separately as memory accesses; ${RESEARCH} §4`,
    'ops.iret': `estimate: IRET several times SYSRET (Lutomirski's x86 entry measurements on LKML); ${RESEARCH} §4`,
    'ops.ipiSend': `estimate: WRMSR to the x2APIC ICR ~50-100 cycles at the sender; ${RESEARCH} §4`,
    'ops.wrmsrBase': `estimate, as ops.ipiSend: a WRMSR (here to IA32_GS_BASE, on a switch between threads with different GS bases) ~50-100 cycles; WRMSR is serialising, which is why Linux's FSGSBASE work avoids the base MSRs on context switches; ${RESEARCH} §4`,
    'ops.lockRmw': `LLVM's Skylake client scheduling model (llvm/lib/Target/X86/X86SchedSkylakeClient.td): LOCK CMPXCHG m,r (WriteCMPXCHGRMW) latency 8, 6 µops; LLVM gives LOCK XADD/ADD/INC/DEC no figure of their own, so they are charged the same. Charged at latency on top of the access (a locked operation is a full barrier: the instructions after it wait for it); the drain of the store buffer a locked operation waits for is not modelled, so this is a lower bound`,
    'ops.xchgMem': `LLVM's Skylake client scheduling model (llvm/lib/Target/X86/X86SchedSkylakeClient.td): XCHG r,m (SKLWriteResGroup143, implicitly locked) latency 10, 8 µops; charged on top of the access, as ops.lockRmw`,
    'ops.xsave': `LLVM's Skylake client scheduling model (llvm/lib/Target/X86/X86SchedSkylakeClient.td): XSAVE, XSAVEC, XSAVES (SKLWriteResGroup215) latency 42, 40 µops (XSAVEOPT 46); the save area's cache lines are not charged separately`,
    'ops.xrstor': `LLVM's Skylake client scheduling model (llvm/lib/Target/X86/X86SchedSkylakeClient.td): XRSTOR, XRSTOR64 (SKLWriteResGroup211) latency 37, 31 µops; XRSTORS has no figure of its own there and is charged the same`,
    'ops.ipiLatency': `estimate: ICR write to the first handler instruction on the other core ~1,000-2,000 cycles (Shinjuku, NSDI 2019, Skylake-era Xeons); ${RESEARCH} §4`,
    'ops.ibpb': `estimate: "several thousand cycles" with 2018 microcode (Linux/Xen discussions; seL4's config calls IBPB on context switch "extremely expensive"); ${RESEARCH} §5`,
    'ops.l1dFlush': `bound plus estimate: ≥512 cycles to write back 512 dirty lines (McCalpin, Intel forums); the refill afterwards is charged by the model as misses; ${RESEARCH} §5`,
    'ops.verw': `estimate: MDS buffer clearing "a few hundred cycles" (Linux MDS documentation); ${RESEARCH} §5`,
    'ops.rdtsc': 'Agner Fog, instruction tables, Skylake: RDTSC 25 cycles',
    'ops.exceptionEntry': `estimate, as ops.interruptEntry (an exception is delivered through the same IDT path)`,
  },
};

/** A profile that fails validation: every problem found, each naming its field. */
export class ProfileError extends Error {
  constructor(
    message: string,
    /** Each problem on its own ("caches.l2.sizeBytes: …"); the message has them all. */
    readonly problems: readonly string[] = [message],
  ) {
    super(message);
    this.name = 'ProfileError';
  }

  /** One error for `problems`: the problem itself if there is one, else a list. */
  static of(problems: readonly string[], prefix = ''): ProfileError {
    const head = prefix === '' ? '' : `${prefix}: `;
    if (problems.length === 1) return new ProfileError(`${head}${problems[0]!}`, problems);
    const list = problems.map((p) => `\n  ${p}`).join('');
    return new ProfileError(`${head}${problems.length} problems:${list}`, problems);
  }
}

const isPow2 = (n: number): boolean => n > 0 && (n & (n - 1)) === 0;

function checkCache(path: string, c: CacheLevelProfile, problems: string[]): void {
  if (!isPow2(c.lineBytes))
    problems.push(`${path}.lineBytes: ${c.lineBytes} is not a power of two`);
  const sets = c.sizeBytes / (c.ways * c.lineBytes);
  if (!Number.isInteger(sets) || !isPow2(sets)) {
    problems.push(
      `${path}.sizeBytes: ${c.sizeBytes} is not sets × ways × lineBytes with a power-of-two number of sets (ways ${c.ways}, lineBytes ${c.lineBytes})`,
    );
  }
}

function checkAssoc(path: string, t: { entries: number; ways: number }, problems: string[]): void {
  const sets = t.entries / t.ways;
  if (!Number.isInteger(sets) || !isPow2(sets)) {
    problems.push(
      `${path}.entries: ${t.entries} is not a power-of-two number of sets × ${t.ways} ways`,
    );
  }
}

/** Whether `v` has every key of `keys` as a finite number (the consistency rules below
 *  check only structures the schema accepted, so one bad field is reported once). */
function numbers(v: unknown, keys: readonly string[]): boolean {
  return isPlainObject(v) && keys.every((k) => typeof v[k] === 'number' && Number.isFinite(v[k]));
}

/** Every problem with a whole profile: types and ranges (zod), then the consistency rules. */
export function profileProblems(input: unknown): string[] {
  const r = profileSchema.safeParse(input);
  const problems = r.success
    ? []
    : r.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
  const bad = new Set(r.success ? [] : r.error.issues.map((i) => i.path.slice(0, 2).join('.')));
  const ok = (path: string, v: unknown, keys: readonly string[]): boolean =>
    !bad.has(path) && numbers(v, keys);
  const p = isPlainObject(input) ? input : {};
  const caches = isPlainObject(p.caches) ? p.caches : {};
  const cacheKeys = ['sizeBytes', 'ways', 'lineBytes'] as const;
  for (const k of ['l1i', 'l1d', 'l2', 'llc'] as const)
    if (ok(`caches.${k}`, caches[k], cacheKeys))
      checkCache(`caches.${k}`, caches[k] as CacheLevelProfile, problems);
  const l1d = caches.l1d;
  if (ok('caches.l1d', l1d, cacheKeys)) {
    const line = (l1d as CacheLevelProfile).lineBytes;
    for (const k of ['l1i', 'l2', 'llc'] as const) {
      const c = caches[k] as CacheLevelProfile;
      if (ok(`caches.${k}`, c, cacheKeys) && c.lineBytes !== line)
        problems.push(
          `caches.${k}.lineBytes: ${c.lineBytes} differs from caches.l1d.lineBytes ${line}; the model needs one line size`,
        );
    }
  }
  for (const group of ['tlb', 'psc'] as const) {
    const g = isPlainObject(p[group]) ? p[group] : {};
    for (const [k, v] of Object.entries(g))
      if (typeof v === 'object' && ok(`${group}.${k}`, v, ['entries', 'ways']))
        checkAssoc(`${group}.${k}`, v as { entries: number; ways: number }, problems);
  }
  return problems;
}

/** Validates a whole profile; a ProfileError names every problem. */
export function validateProfile(input: unknown): CpuProfile {
  const problems = profileProblems(input);
  if (problems.length > 0) throw ProfileError.of(problems);
  return profileSchema.parse(input);
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Deep-merges a user's partial profile over a base; unknown keys are errors. With `problems`
 * each is added there (and the rest still merged), else the first is thrown.
 */
export function mergeProfile(
  base: unknown,
  over: unknown,
  path = '',
  problems?: string[],
): unknown {
  const fail = (problem: string): void => {
    if (problems === undefined) throw new ProfileError(problem);
    problems.push(problem);
  };
  if (!isPlainObject(over)) return over;
  if (!isPlainObject(base)) {
    fail(`${path || '(root)'}: expected a value, got an object`);
    return base;
  }
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const p = path ? `${path}.${k}` : k;
    if (!(k in base) && path !== 'sources') {
      fail(
        p === 'cpi'
          ? 'cpi: no longer a parameter: kernel code is charged by its instruction mix at the insn.* class costs (docs/calibration.md)'
          : `${p}: unknown field`,
      );
      continue;
    }
    out[k] = k in base ? mergeProfile(base[k], v, p, problems) : v;
  }
  return out;
}

/** Loads a profile from a YAML or JSON file, merged over the default; a ProfileError names
 *  every problem the file has. */
export function loadProfile(file: string): CpuProfile {
  return loadProfileFile(file).profile;
}

/** loadProfile, with what the file itself holds (for `skybridge profile`'s sources). */
export function loadProfileFile(file: string): {
  profile: CpuProfile;
  data: Record<string, unknown>;
} {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new ProfileError(`cannot read profile ${file}: ${(e as Error).message}`);
  }
  let data: unknown;
  try {
    data = parseYaml(text);
  } catch (e) {
    throw new ProfileError(
      `profile ${file} is not valid YAML/JSON: ${(e as Error).message.split('\n')[0]}`,
    );
  }
  if (!isPlainObject(data))
    throw new ProfileError(`profile ${file}: expected a mapping at the top level`);
  const problems: string[] = [];
  const merged = mergeProfile(SKYLAKE, data, '', problems);
  problems.push(...profileProblems(merged));
  if (problems.length > 0) throw ProfileError.of(problems, `profile ${file}`);
  return { profile: profileSchema.parse(merged), data };
}
