// The whole machine: host-physical memory, the caches, the cores, and the interrupts that
// pass between them. Each core keeps its own clock; cores interact only through memory
// (caches) and interrupts, and interrupts are ordered by (arrival cycle, send sequence) so
// the same program gives the same interleaving on any host.

import { CounterSnapshot, OwnerRegistry } from './counters.ts';
import { DecodeCache } from './cpu/decode-cache.ts';
import { Interpreter } from './cpu/interpreter.ts';
import { Core, RFLAGS_IF, type CoreEnv } from './core.ts';
import { C } from './counters.ts';
import { wrmsr, MSR } from './isa.ts';
import { MemoryHierarchy } from './memory-hierarchy.ts';
import { PhysicalMemory } from './phys-mem.ts';
import type { CpuProfile } from './profile-schema.ts';
import { SKYLAKE } from './profile.ts';
import { Trace } from './trace.ts';
import { Trap } from './traps.ts';
import { ExitReason } from './vmcs.ts';

export interface MachineConfig {
  cores: number;
  /** Host-physical memory in bytes (a multiple of 2 MiB). */
  memoryBytes: number;
  profile: CpuProfile;
}

export const DEFAULT_MACHINE: MachineConfig = {
  cores: 4,
  memoryBytes: 4 * 1024 * 1024 * 1024,
  profile: SKYLAKE,
};

/** Told of every Machine constructed while registered (see Machine.observe). */
export type MachineObserver = (m: Machine) => void;
const observers = new Set<MachineObserver>();

export class Machine implements CoreEnv {
  readonly profile: CpuProfile;
  readonly mem: PhysicalMemory;
  readonly caches: MemoryHierarchy;
  readonly owners = new OwnerRegistry();
  readonly trace = new Trace();
  readonly cores: Core[] = [];
  /** Decoded user instructions by host-physical address, shared by all cores. */
  readonly decodes: DecodeCache;
  /** Each core's user-mode interpreter (same index as `cores`). */
  readonly cpus: Interpreter[] = [];
  private readonly ep4tas = new Map<number, number>();
  private seq = 0;

  constructor(config: Partial<MachineConfig> = {}) {
    const c = { ...DEFAULT_MACHINE, ...config };
    if (!Number.isInteger(c.cores) || c.cores < 1 || c.cores > 256) {
      throw new RangeError(`cores must be an integer from 1 to 256, got ${c.cores}`);
    }
    this.profile = c.profile;
    this.mem = new PhysicalMemory(c.memoryBytes);
    this.caches = new MemoryHierarchy(c.profile, c.cores);
    for (let i = 0; i < c.cores; i++) this.cores.push(new Core(i, this));
    this.decodes = new DecodeCache(this.mem);
    for (const core of this.cores) this.cpus.push(new Interpreter(core, this.decodes));
    this.trace.clock = (core) => this.cores[core]!.cycles;
    this.trace.ownerName = (owner) => this.owners.name(owner);
    for (const o of observers) o(this);
  }

  /**
   * Calls `observer` with every Machine constructed until the returned function is called:
   * for tools that watch runs built deep inside code they do not control (`skybridge trace`
   * turns tracing on in the machine a benchmark builds).
   */
  static observe(observer: MachineObserver): () => void {
    observers.add(observer);
    return () => void observers.delete(observer);
  }

  /** Starts recording the trace (src/hw/trace.ts): every core's context now, and from here
   *  on context changes, architectural events, and TLB and cache misses. */
  startTrace(): void {
    this.trace.enabled = true;
    this.caches.tracer = this.trace;
    for (const c of this.cores) {
      c.mmu.tracer = this.trace;
      c.traceContext(true);
    }
  }

  /** Stops recording; the events stay in `trace.events`. */
  stopTrace(): void {
    this.trace.enabled = false;
    this.caches.tracer = null;
    for (const c of this.cores) c.mmu.tracer = null;
  }

  core(i: number): Core {
    const c = this.cores[i];
    if (c === undefined) throw new RangeError(`no core ${i}`);
    return c;
  }

  /** Ids start at 1; 0 means "EPT off". */
  ep4taId(ep4ta: number): number {
    let id = this.ep4tas.get(ep4ta);
    if (id === undefined) {
      id = this.ep4tas.size + 1;
      this.ep4tas.set(ep4ta, id);
    }
    return id;
  }

  snapshot(): CounterSnapshot {
    return CounterSnapshot.take(
      this.cores.map((c) => c.counters),
      this.owners,
    );
  }

  // ---- Interrupts ---------------------------------------------------------------------

  /** Queues `vector` to arrive at `core` at cycle `time`. */
  post(core: Core, time: number, vector: number): void {
    const p = { time, seq: this.seq++, vector };
    const q = core.pending;
    let i = q.length;
    while (i > 0 && (q[i - 1]!.time > time || (q[i - 1]!.time === time && q[i - 1]!.seq > p.seq)))
      i--;
    q.splice(i, 0, p);
  }

  /** Arms the local APIC timer (TSC-deadline mode) of `core`. */
  setTimer(core: Core, deadline: number, vector: number): void {
    this.post(core, deadline, vector);
  }

  /** Sends an IPI from `from` (WRMSR to the x2APIC ICR at `rip`); it arrives after the
   *  profile's delivery latency. */
  sendIpi(from: Core, rip: number, target: number, vector: number): void {
    const to = this.core(target);
    wrmsr(from, rip, MSR.X2APIC_ICR, vector, () => {
      this.post(to, from.cycles + this.profile.ops.ipiLatency, vector);
      if (this.trace.enabled)
        this.trace.emit(from.id, from.cycles, 'ipi', `to core ${target} vector ${vector}`, {
          target,
          vector,
        });
    });
  }

  /** Whether an interrupt has arrived at `core` and is not masked. */
  interruptDue(core: Core): boolean {
    const p = core.pending[0];
    return p !== undefined && p.time <= core.cycles && (core.rflags & RFLAGS_IF) !== 0;
  }

  /**
   * Delivers the first arrived interrupt: a VM exit (reason 1) in non-root mode with
   * "external-interrupt exiting", else through the IDT of the running (guest) kernel, which
   * leaves the core in CPL 0 at the handler. Returns the vector. For a caller that drives
   * the kernel's code itself; `takeInterrupt` is the variant that unwinds the interrupted code.
   */
  deliverInterrupt(core: Core): number {
    const p = core.pending.shift();
    if (p === undefined) throw new Error(`core ${core.id}: no pending interrupt`);
    core.ctr[C.interrupts]++;
    if (this.trace.enabled)
      this.trace.emit(core.id, core.cycles, 'interrupt', `vector ${p.vector}`, {
        vector: p.vector,
      });
    if (core.nonRoot && core.vmcs?.externalInterruptExiting) {
      core.vmExit(ExitReason.ExternalInterrupt, 0, 0, 0);
    }
    core.charge(this.profile.ops.interruptEntry);
    core.deliver(p.vector, -1, false);
    return p.vector;
  }

  /** Delivers the first arrived interrupt (see deliverInterrupt) and throws the Trap that
   *  unwinds the interrupted code. */
  takeInterrupt(core: Core): never {
    const rip = core.rip;
    const vector = this.deliverInterrupt(core);
    throw new Trap(core.id, { kind: 'interrupt', vector, rip });
  }

  /** HLT: the core sleeps until its next interrupt arrives (its clock jumps there). The
   *  caller enables interrupts first (STI; HLT), as an idle loop does. */
  halt(core: Core): void {
    const p = core.pending[0];
    if (p === undefined)
      throw new Trap(core.id, { kind: 'shutdown', reason: 'HLT with no interrupt pending' });
    if (p.time > core.cycles) core.charge(p.time - core.cycles);
  }

  /** The core to run next: the one whose clock is earliest (ties: lowest id). */
  nextCore(runnable: (c: Core) => boolean = () => true): Core | undefined {
    let best: Core | undefined;
    for (const c of this.cores)
      if (runnable(c) && (best === undefined || c.cycles < best.cycles)) best = c;
    return best;
  }

  /** A cold start: empties every cache and translation structure (not architectural). */
  coldStart(): void {
    this.caches.flushAll();
    for (const c of this.cores) c.mmu.flushAll();
  }
}
