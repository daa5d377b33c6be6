// One logical processor: registers, privilege and VMX mode, its MMU and caches, its cycle
// counter, and the memory operations software performs through it. Instructions with an
// architectural effect live in isa.ts and vmx.ts, one function each; this file holds the
// state they share and the paths every access takes.

import { PAGE_4K, hex } from './addr.ts';
import { C, CoreCounters, Mode, type OwnerRegistry } from './counters.ts';
import { AccessKind, type MemoryHierarchy } from './memory-hierarchy.ts';
import { Mmu } from './mmu.ts';
import type { PhysicalMemory } from './phys-mem.ts';
import type { CpuProfile } from './profile-schema.ts';
import { Access, FaultKind, TranslationState, makeTranslationCaches } from './translation-state.ts';
import { Trap, Vector } from './traps.ts';
import { ExitReason, type Vmcs } from './vmcs.ts';
import type { Trace } from './trace.ts';
import { RegisterFile } from './registers.ts';
import { blockCycles, classCosts, type Mix } from './mix.ts';
import { Cls } from './cpu/insn.ts';

/** Register indices into `regs`. */
export const R = {
  RAX: 0,
  RCX: 1,
  RDX: 2,
  RBX: 3,
  RSP: 4,
  RBP: 5,
  RSI: 6,
  RDI: 7,
  R11: 11,
} as const;

export const RFLAGS_IF = 1 << 9;
/** Code-segment selectors; the low two bits are the privilege level. */
export const CS_KERNEL = 0x10;
export const CS_USER = 0x33;
export const SS_KERNEL = 0x18;
export const SS_USER = 0x2b;

/** What a core needs from the machine around it. */
export interface CoreEnv {
  readonly mem: PhysicalMemory;
  readonly caches: MemoryHierarchy;
  readonly profile: CpuProfile;
  readonly owners: OwnerRegistry;
  readonly trace: Trace;
  /** Small integer id for an EP4TA, shared by all cores. */
  ep4taId(ep4ta: number): number;
}

/** Straight-line code at an address: what `Core.run` executes. */
export interface CodeBlock {
  readonly at: number;
  readonly bytes: number;
  readonly instructions: number;
  readonly mix: Mix;
}

export interface PendingInterrupt {
  time: number;
  seq: number;
  vector: number;
}

export class Core {
  readonly id: number;
  readonly env: CoreEnv;
  readonly profile: CpuProfile;
  readonly counters = new CoreCounters();
  readonly ts: TranslationState;
  readonly mmu: Mmu;

  cycles = 0;
  rip = 0;
  readonly regs = new RegisterFile();
  rflags = 0x2;
  cpl = 0;
  /** In VMX non-root operation (running a guest). */
  nonRoot = false;
  /** After VMXON. */
  vmxOn = false;
  vmcs: Vmcs | null = null;
  /** CR3 as loaded (bit 63 never kept). */
  cr3 = 0;
  pcide = false;
  smep = false;
  smap = false;
  gsBase = 0;
  kernelGsBase = 0;
  /** IA32_LSTAR: the SYSCALL entry point. */
  lstar = 0;
  /** TSS.RSP0: the stack an interrupt from user mode switches to. */
  rsp0 = 0;
  /** IDTR base (linear); -1 until software loads one. */
  idtBase = -1;
  cr2 = 0;
  owner = 0;
  halted = false;
  /** Host-physical addresses of the first fetched byte and of the next page's first byte. */
  private fetchHpa = 0;
  private fetchHpaNextPage = 0;
  readonly pending: PendingInterrupt[] = [];

  /** The counter slot of the current (owner, mode). */
  ctr: Float64Array;
  /** The profile's per-class instruction costs, in Cls order (profile.insn). */
  readonly classCost: Float64Array;
  /** Cycles per instruction of each Mix by id, computed on first use (NaN: not yet). */
  private mixCost = new Float64Array(64).fill(NaN);
  private readonly loadCost: number;
  private readonly storeCost: number;
  private readonly l1iLatency: number;
  private readonly l1dLatency: number;
  private readonly tlbL1Latency: number;

  constructor(id: number, env: CoreEnv) {
    this.id = id;
    this.env = env;
    this.profile = env.profile;
    this.ts = new TranslationState(
      env.mem,
      env.caches,
      makeTranslationCaches(env.profile, id),
      env.profile,
    );
    this.ts.core = id;
    this.mmu = new Mmu(this.ts);
    this.classCost = classCosts(env.profile.insn);
    this.loadCost = this.classCost[Cls.Load]!;
    this.storeCost = this.classCost[Cls.Store]!;
    this.l1iLatency = env.profile.caches.l1i.latency;
    this.l1dLatency = env.profile.caches.l1d.latency;
    this.tlbL1Latency = env.profile.tlb.l1Latency;
    this.ctr = this.counters.slot(0, Mode.VmxRoot);
    this.syncContext();
  }

  get mode(): Mode {
    // VMX root operation needs VMXON first: a core never in VMX operation (a kernel on bare
    // hardware) is in user or kernel mode by its CPL, as a guest is.
    if (!this.nonRoot && this.vmxOn) return Mode.VmxRoot;
    return this.cpl === 3 ? Mode.User : Mode.Kernel;
  }

  /** The owner user mode counts as in its own view (set by the kernel on its way out). */
  userOwner = 0;

  /** Says who is running from now on, for the counters (and cache-line ownership). */
  setOwner(owner: number): void {
    this.owner = owner;
    this.syncContext();
  }

  /** Recomputes the translation context and counter slot after a change of CR3, CR4,
   *  EPTP, VPID, mode or owner. */
  syncContext(): void {
    const s = this.ts;
    this.ctr = this.counters.slot(this.owner, this.mode);
    s.ctr = this.ctr;
    s.owner = this.owner;
    s.user = this.cpl === 3;
    s.smep = this.smep;
    s.smap = this.smap;
    s.updateRights();
    s.pcid = this.pcide ? this.cr3 % PAGE_4K : 0;
    s.cr3Base = this.cr3 - (this.cr3 % PAGE_4K);
    const v = this.vmcs;
    if (this.nonRoot && v !== null) {
      s.vpid = v.enableVpid ? v.vpid : 0;
      s.eptOn = v.enableEpt;
      s.eptRoot = v.enableEpt ? v.eptp - (v.eptp % PAGE_4K) : 0;
      s.ep = v.enableEpt ? this.env.ep4taId(s.eptRoot) : 0;
      s.eptAd = v.enableEpt && (v.eptp & 0x40) !== 0;
    } else {
      s.vpid = 0;
      s.eptOn = false;
      s.eptRoot = 0;
      s.ep = 0;
      s.eptAd = false;
    }
    if (this.env.trace.enabled) this.traceContext(false);
  }

  /** Tells the trace the core's context (mode, owner, EPT view); it keeps only changes,
   *  unless `force` (the start of a trace). */
  traceContext(force: boolean): void {
    this.env.trace.context(
      this.id,
      this.cycles,
      this.mode,
      this.owner,
      this.ts.eptOn ? this.ts.eptRoot : -1,
      force,
    );
  }

  /** Charges `n` cycles to the current slot. */
  charge(n: number): void {
    this.cycles += n;
    this.ctr[C.cycles] += n;
  }

  /** Charges one retired instruction plus `cycles` (a privileged operation's own cost). */
  retire(cycles: number): void {
    this.ctr[C.instructions]++;
    this.charge(cycles);
  }

  // ---- Memory access ----------------------------------------------------------------

  /** Translates for an access, throwing the architectural event on a fault. */
  translateOrTrap(la: number, access: Access): number {
    const hpa = this.mmu.translate(la, access);
    if (hpa < 0) this.raiseTranslationFault(access);
    return hpa;
  }

  /**
   * One data access (a load or store instruction, not crossing a line); returns its
   * host-physical address. Timing follows the classic CPU-time model, instruction costs +
   * miss penalties (Hennessy & Patterson, ch. 2/B): the access is one instruction at the
   * interpreter's cost for a load or a store (profile.insn); an L1 DTLB hit and an L1D hit
   * are overlapped by the out-of-order core
   * (Skylake issues two loads and one store per cycle; stores drain through the store
   * buffer), and any latency beyond them (STLB lookup, page walk, L2/LLC/DRAM) is charged in
   * full, without overlap between misses. Instruction fetch is charged the same way.
   */
  private dataAccess(la: number, access: Access): number {
    const hpa = this.mmu.translate(la, access);
    if (hpa < 0) this.raiseTranslationFault(access);
    const kind = access === Access.Write ? AccessKind.Store : AccessKind.Load;
    const lat = this.env.caches.access(this.id, hpa, kind, this.owner, this.ctr);
    const ctr = this.ctr;
    ctr[access === Access.Write ? C.stores : C.loads]++;
    ctr[C.instructions]++;
    const tlbExtra = this.ts.outLatency - this.tlbL1Latency;
    const memExtra = lat - this.l1dLatency;
    const own = access === Access.Write ? this.storeCost : this.loadCost;
    this.charge(own + (tlbExtra > 0 ? tlbExtra : 0) + (memExtra > 0 ? memExtra : 0));
    return hpa;
  }

  /**
   * Charges an access already translated to `hpa` whose hit costs are part of the
   * instruction's own figure: a microcoded instruction's (an IDT gate read, a frame push or
   * pop: the profile's figure includes them hitting the L1 DTLB and L1D) or an interpreted
   * instruction's (its class cost covers the hit). Only latency beyond those hits is charged.
   */
  chargeBeyondHits(hpa: number, write: boolean): void {
    const kind = write ? AccessKind.Store : AccessKind.Load;
    const lat = this.env.caches.access(this.id, hpa, kind, this.owner, this.ctr);
    const extra =
      Math.max(0, this.ts.outLatency - this.tlbL1Latency) + Math.max(0, lat - this.l1dLatency);
    if (extra > 0) this.charge(extra);
  }

  /** A 64-bit load by microcode (IRETQ's pops): value below 2^53, charged as above. */
  microcodeLoad64(la: number): number {
    this.splitCheck(la, 8);
    const hpa = this.translateOrTrap(la, Access.Read);
    this.chargeBeyondHits(hpa, false);
    return this.env.mem.readU32(hpa + 4) * 0x1_0000_0000 + this.env.mem.readU32(hpa);
  }

  private splitCheck(la: number, size: number): void {
    // `la & 63` keeps the low bits exactly even above 2^32 (ToInt32 is modulo 2^32).
    if ((la & 63) + size > 64) {
      throw new RangeError(`access ${hex(la)}+${size} crosses a cache line; split it`);
    }
  }

  load8(la: number): number {
    return this.env.mem.read8(this.dataAccess(la, Access.Read));
  }

  load32(la: number): number {
    this.splitCheck(la, 4);
    return this.env.mem.readU32(this.dataAccess(la, Access.Read));
  }

  /** A 64-bit load of a value known to be below 2^53 (pointers, counts). */
  load64(la: number): number {
    this.splitCheck(la, 8);
    const hpa = this.dataAccess(la, Access.Read);
    return this.env.mem.readU32(hpa + 4) * 0x1_0000_0000 + this.env.mem.readU32(hpa);
  }

  store8(la: number, v: number): void {
    this.env.mem.write8(this.dataAccess(la, Access.Write), v);
  }

  store32(la: number, v: number): void {
    this.splitCheck(la, 4);
    this.env.mem.writeU32(this.dataAccess(la, Access.Write), v);
  }

  store64(la: number, v: number): void {
    this.splitCheck(la, 8);
    this.env.mem.write64n(this.dataAccess(la, Access.Write), v);
  }

  /** Stores register `i` exactly (all 64 bits) at `la`: one 8-byte store. */
  storeReg(la: number, i: number): void {
    this.splitCheck(la, 8);
    const hpa = this.dataAccess(la, Access.Write);
    this.env.mem.writeU32(hpa, this.regs.lo[i]!);
    this.env.mem.writeU32(hpa + 4, this.regs.hi[i]!);
  }

  /** Loads register `i` exactly from `la`: one 8-byte load. */
  loadReg(la: number, i: number): void {
    this.splitCheck(la, 8);
    const hpa = this.dataAccess(la, Access.Read);
    this.regs.lo[i] = this.env.mem.readU32(hpa);
    this.regs.hi[i] = this.env.mem.readU32(hpa + 4);
  }

  /** Touches one line for reading without using its value (e.g. a struct field read
   *  whose value the model keeps elsewhere). */
  touch(la: number, write = false): void {
    this.dataAccess(la, write ? Access.Write : Access.Read);
  }

  /** Reads `len` bytes at `la`, one access per line touched (as a string copy would). */
  readBytes(la: number, len: number): Uint8Array {
    const out = new Uint8Array(len);
    let off = 0;
    while (off < len) {
      const a = la + off;
      const n = Math.min(64 - (a % 64), len - off);
      const hpa = this.dataAccess(a, Access.Read);
      out.set(this.env.mem.readBytes(hpa, n), off);
      off += n;
    }
    return out;
  }

  writeBytes(la: number, bytes: Uint8Array): void {
    let off = 0;
    while (off < bytes.length) {
      const a = la + off;
      const n = Math.min(64 - (a % 64), bytes.length - off);
      const hpa = this.dataAccess(a, Access.Write);
      this.env.mem.writeBytes(hpa, bytes.subarray(off, off + n));
      off += n;
    }
  }

  // ---- Instruction fetch and execution ------------------------------------------------

  /**
   * Fetches the code bytes [rip, rip+len) through the ITLB and L1I. An L1I and ITLB hit is
   * hidden by the front end (decoded-µop delivery overlaps execution), so only the latency
   * beyond a hit is charged: an STLB hit or walk, an L2/LLC/DRAM access.
   */
  fetch(rip: number, len: number): void {
    let a = rip;
    const end = rip + len;
    while (a < end) {
      const hpa = this.translateOrTrap(a, Access.Fetch);
      if (a === rip) this.fetchHpa = hpa;
      else if (a % PAGE_4K === 0) this.fetchHpaNextPage = hpa;
      const lat = this.env.caches.access(this.id, hpa, AccessKind.Fetch, this.owner, this.ctr);
      this.ctr[C.fetches]++;
      const extra =
        Math.max(0, this.ts.outLatency - this.tlbL1Latency) + Math.max(0, lat - this.l1iLatency);
      if (extra > 0) this.charge(extra);
      a = a - (a % 64) + 64;
    }
  }

  /**
   * Runs straight-line code the model does not decode: `instructions` instructions occupying
   * `bytes` bytes at `rip`, whose classes divide as `mix` says. Fetches them and charges each
   * instruction its mix's mean class cost (the interpreter's table); memory operands are
   * separate load/store calls.
   */
  exec(rip: number, bytes: number, instructions: number, mix: Mix): void {
    this.fetch(rip, bytes);
    this.ctr[C.instructions] += instructions;
    let cpi = this.mixCost[mix.id]!;
    if (cpi !== cpi) cpi = this.cacheMixCost(mix);
    this.charge(blockCycles(instructions, cpi));
    this.rip = rip + bytes;
  }

  /** Runs a block of straight-line code (see exec). */
  run(b: CodeBlock): void {
    this.exec(b.at, b.bytes, b.instructions, b.mix);
  }

  private cacheMixCost(mix: Mix): number {
    if (mix.id >= this.mixCost.length) {
      const grown = new Float64Array(mix.id * 2 + 1).fill(NaN);
      grown.set(this.mixCost);
      this.mixCost = grown;
    }
    return (this.mixCost[mix.id] = mix.cyclesPerInstruction(this.classCost));
  }

  /**
   * Fetches the instruction at `rip` and checks its bytes are `enc`; anything else there
   * means the instruction is not at this address, which the model reports as #UD.
   */
  fetchInstruction(rip: number, enc: readonly number[]): void {
    this.fetch(rip, enc.length);
    const mem = this.env.mem;
    const pageEnd = rip - (rip % PAGE_4K) + PAGE_4K;
    for (let i = 0; i < enc.length; i++) {
      const a = rip + i;
      const hpa = a < pageEnd ? this.fetchHpa + i : this.fetchHpaNextPage + (a - pageEnd);
      if (mem.read8(hpa) !== enc[i]) {
        this.rip = rip;
        this.raiseException(Vector.UD, -1);
      }
    }
    this.rip = rip;
  }

  // ---- Events -----------------------------------------------------------------------

  /** A translation fault: #PF to the guest, or an EPT violation/misconfiguration exit. */
  raiseTranslationFault(access: Access): never {
    const s = this.ts;
    if (s.fault === FaultKind.PageFault) this.raiseException(Vector.PF, s.pfec, s.faultLa);
    const reason =
      s.fault === FaultKind.EptViolation ? ExitReason.EptViolation : ExitReason.EptMisconfig;
    void access;
    this.vmExit(reason, s.eptQual, s.faultGpa, s.faultLa);
  }

  /**
   * Delivers exception `vector` (error code < 0: none). In non-root mode an exception whose
   * bit is set in the exception bitmap causes a VM exit (SDM Vol. 3C §26.2); otherwise it
   * goes through the guest IDT: the gate is read, a frame is pushed on the kernel stack
   * (TSS.RSP0 when coming from CPL 3), and the core continues at the handler in CPL 0.
   */
  raiseException(vector: number, errorCode: number, cr2 = 0): never {
    this.ctr[C.exceptions]++;
    if (this.env.trace.enabled)
      this.env.trace.emit(this.id, this.cycles, 'exception', `vector ${vector}`, {
        vector,
        errorCode,
        rip: hex(this.rip),
        ...(vector === Vector.PF ? { cr2: hex(cr2) } : {}),
      });
    if (this.nonRoot && this.vmcs !== null && (this.vmcs.exceptionBitmap & (1 << vector)) !== 0) {
      // A #PF that causes a VM exit leaves CR2 unwritten, and the exit qualification is the
      // faulting linear address (SDM Vol. 3C §28.1, §28.2.1).
      this.vmExit(ExitReason.ExceptionOrNmi, vector === Vector.PF ? cr2 : 0, 0, cr2);
    }
    if (vector === Vector.PF) this.cr2 = cr2;
    this.charge(this.profile.ops.exceptionEntry);
    const at = this.rip;
    this.deliver(vector, errorCode, vector === Vector.DF);
    throw new Trap(this.id, {
      kind: 'exception',
      vector,
      errorCode: Math.max(errorCode, 0),
      cr2,
      // Where it happened (the saved RIP in the frame), not the handler the core is now at.
      rip: at,
    });
  }

  /** The IDT gate read and frame push shared by exceptions and interrupts. A page fault
   *  while delivering becomes #DF, and one while delivering #DF a triple fault (SDM §6.15);
   *  an EPT violation while delivering is a VM exit like any other. */
  deliver(vector: number, errorCode: number, isDoubleFault: boolean): void {
    const fromRip = this.rip;
    const fromCpl = this.cpl;
    const fromRsp = this.regs.get(R.RSP);
    const fromFlags = this.rflags;
    // Gate reads and frame pushes are supervisor accesses whatever the CPL (SDM §4.6).
    this.cpl = 0;
    this.syncContext();
    const fail = (why: string): never => {
      this.cpl = fromCpl;
      this.rip = fromRip;
      this.syncContext();
      if (isDoubleFault) this.tripleFault(`delivering vector ${vector}: ${why}`);
      this.deliver(Vector.DF, 0, true);
      throw new Trap(this.id, {
        kind: 'exception',
        vector: Vector.DF,
        errorCode: 0,
        cr2: 0,
        rip: fromRip,
      });
    };
    const access = (la: number, write: boolean): number => {
      const hpa = this.mmu.translate(la, write ? Access.Write : Access.Read);
      if (hpa < 0) {
        if (this.ts.fault !== FaultKind.PageFault) this.raiseTranslationFault(Access.Read);
        return fail(`page fault at ${hex(la)}`);
      }
      this.chargeBeyondHits(hpa, write);
      return hpa;
    };
    if (this.idtBase < 0) fail('no IDT loaded');
    const mem = this.env.mem;
    const gate = access(this.idtBase + vector * 16, false);
    // 64-bit gate (SDM §6.14.1): offset 15:0, selector, IST, attributes (P = bit 15 of the
    // second dword), offset 31:16, offset 63:32.
    const w0 = mem.readU32(gate);
    const w1 = mem.readU32(gate + 4);
    const w2 = mem.readU32(gate + 8);
    if ((w1 & 0x8000) === 0) fail(`IDT gate ${vector} not present`);
    const handler = w2 * 0x1_0000_0000 + (((w1 & 0xffff_0000) >>> 0) | (w0 & 0xffff));
    let sp = fromCpl === 3 ? this.rsp0 : fromRsp;
    sp -= sp % 16;
    const frame = [
      fromCpl === 3 ? SS_USER : SS_KERNEL,
      fromRsp,
      fromFlags,
      fromCpl === 3 ? CS_USER : CS_KERNEL,
      fromRip,
    ];
    if (errorCode >= 0) frame.push(errorCode);
    for (const v of frame) {
      sp -= 8;
      mem.write64n(access(sp, true), v);
    }
    this.regs.set(R.RSP, sp);
    this.rflags &= ~RFLAGS_IF;
    this.rip = handler;
  }

  /** A triple fault: a VM exit in non-root mode (reason 2), else the machine shuts down. */
  tripleFault(why: string): never {
    if (this.nonRoot) this.vmExit(ExitReason.TripleFault, 0, 0, 0);
    throw new Trap(this.id, { kind: 'shutdown', reason: `triple fault (${why})` });
  }

  /** VM exit (SDM Vol. 3C ch. 28): records the reason, saves guest state, loads host state.
   *  Without VPID, linear and combined mappings of VPID 0 are invalidated. */
  vmExit(reason: number, qualification: number, gpa: number, gla: number): never {
    const v = this.vmcs;
    if (!this.nonRoot || v === null) throw new Error('VM exit outside VMX non-root operation');
    v.exitReason = reason;
    v.exitQualification = qualification;
    v.guestPhysicalAddress = gpa;
    v.guestLinearAddress = gla;
    v.guestRip = this.rip;
    v.guestRsp = this.regs.get(R.RSP);
    v.guestRflags = this.rflags;
    v.guestCr3 = this.cr3;
    v.guestCpl = this.cpl;
    v.guestIdtBase = this.idtBase;
    v.guestRsp0 = this.rsp0;
    this.ctr[C.vmexits]++;
    this.ctr[exitCounter(reason)]++;
    this.charge(this.profile.ops.vmExit);
    if (this.env.trace.enabled)
      this.env.trace.emit(this.id, this.cycles, 'vmexit', `reason ${reason}`, {
        reason,
        qualification: hex(qualification),
        rip: hex(this.rip),
      });
    this.nonRoot = false;
    this.cpl = 0;
    this.cr3 = v.hostCr3;
    this.rip = v.hostRip;
    this.regs.set(R.RSP, v.hostRsp);
    this.idtBase = v.hostIdtBase;
    this.rsp0 = v.hostRsp0;
    if (!v.enableVpid) this.mmu.onVmTransitionWithoutVpid();
    this.syncContext();
    throw new Trap(this.id, {
      kind: 'vmexit',
      reason,
      qualification,
      guestPhysical: gpa,
      guestLinear: gla,
      rip: v.guestRip,
    });
  }
}

function exitCounter(reason: number): number {
  switch (reason) {
    case ExitReason.Cpuid:
      return C.vmexitCpuid;
    case ExitReason.Vmcall:
      return C.vmexitVmcall;
    case ExitReason.EptViolation:
      return C.vmexitEptViolation;
    case ExitReason.EptMisconfig:
      return C.vmexitEptMisconfig;
    case ExitReason.Vmfunc:
      return C.vmexitVmfunc;
    default:
      return C.vmexitOther;
  }
}
