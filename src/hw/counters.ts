// Performance counters, self-describing (gem5's statistics: a name, a unit and a
// description for each, so a report prints any of them without special cases).
// They are kept per core, and within a core per (owner, mode) slot: the owner is whoever
// software says is running (a process, the kernel, the Rootkernel), the mode is the
// privilege the core is in. Hot paths increment a Float64Array slot; nothing allocates.

export const enum Mode {
  User = 0,
  Kernel = 1,
  VmxRoot = 2,
}
export const MODE_NAMES = ['user', 'kernel', 'vmx-root'] as const;
export const MODE_COUNT = 3;

interface CounterDef {
  readonly name: string;
  readonly unit: string;
  readonly description: string;
}

/** The counters, in slot order. The `C` object below gives each its index. */
export const COUNTERS = [
  { name: 'cycles', unit: 'cycles', description: 'core clock cycles' },
  { name: 'instructions', unit: 'instructions', description: 'instructions retired' },
  { name: 'loads', unit: 'accesses', description: 'data loads by software' },
  { name: 'stores', unit: 'accesses', description: 'data stores by software' },
  { name: 'fetches', unit: 'lines', description: 'instruction-fetch line accesses' },
  { name: 'dtlb.hit', unit: 'lookups', description: 'L1 DTLB hits' },
  { name: 'itlb.hit', unit: 'lookups', description: 'L1 ITLB hits' },
  { name: 'stlb.hit', unit: 'lookups', description: 'L1 TLB misses that hit the STLB' },
  { name: 'tlb.miss.data', unit: 'lookups', description: 'data translations that walked' },
  { name: 'tlb.miss.fetch', unit: 'lookups', description: 'fetch translations that walked' },
  { name: 'walk.count', unit: 'walks', description: 'page walks (two-dimensional under EPT)' },
  { name: 'walk.refs', unit: 'references', description: 'memory references made by page walks' },
  {
    name: 'walk.refs.guest',
    unit: 'references',
    description: 'walk references to guest paging entries',
  },
  { name: 'walk.refs.ept', unit: 'references', description: 'walk references to EPT entries' },
  { name: 'walk.cycles', unit: 'cycles', description: 'cycles spent in page walks' },
  { name: 'psc.hit', unit: 'lookups', description: 'guest paging-structure-cache hits' },
  { name: 'eptpsc.hit', unit: 'lookups', description: 'EPT paging-structure-cache hits' },
  { name: 'gpatlb.hit', unit: 'lookups', description: 'guest-physical mapping hits' },
  { name: 'l1i.hit', unit: 'accesses', description: 'L1I hits' },
  { name: 'l1i.miss', unit: 'accesses', description: 'L1I misses' },
  { name: 'l1d.hit', unit: 'accesses', description: 'L1D hits (software and walker)' },
  { name: 'l1d.miss', unit: 'accesses', description: 'L1D misses' },
  { name: 'l2.hit', unit: 'accesses', description: 'L2 hits' },
  { name: 'l2.miss', unit: 'accesses', description: 'L2 misses' },
  { name: 'llc.hit', unit: 'accesses', description: 'LLC hits' },
  { name: 'llc.miss', unit: 'accesses', description: 'LLC misses (served by DRAM)' },
  {
    name: 'mem.cycles',
    unit: 'cycles',
    description: 'cycles in cache/DRAM accesses (incl. walks)',
  },
  {
    name: 'tlb.invalidated',
    unit: 'entries',
    description: 'TLB and paging-structure-cache entries invalidated',
  },
  { name: 'cr3.writes', unit: 'operations', description: 'MOV to CR3' },
  { name: 'syscalls', unit: 'operations', description: 'SYSCALL instructions' },
  { name: 'vmfuncs', unit: 'operations', description: 'VMFUNC instructions executed' },
  { name: 'vmexits', unit: 'exits', description: 'VM exits, all reasons' },
  { name: 'vmexit.cpuid', unit: 'exits', description: 'VM exits for CPUID (reason 10)' },
  { name: 'vmexit.vmcall', unit: 'exits', description: 'VM exits for VMCALL (reason 18)' },
  {
    name: 'vmexit.ept-violation',
    unit: 'exits',
    description: 'VM exits for EPT violations (reason 48)',
  },
  {
    name: 'vmexit.ept-misconfig',
    unit: 'exits',
    description: 'VM exits for EPT misconfigurations (reason 49)',
  },
  {
    name: 'vmexit.vmfunc',
    unit: 'exits',
    description: 'VM exits for failed VM functions (reason 59)',
  },
  { name: 'vmexit.other', unit: 'exits', description: 'VM exits for any other reason' },
  { name: 'exceptions', unit: 'events', description: 'exceptions delivered (#PF, #UD, #GP, ...)' },
  { name: 'interrupts', unit: 'events', description: 'interrupts delivered (timer, IPI)' },
  { name: 'ipis.sent', unit: 'events', description: 'inter-processor interrupts sent' },
  {
    name: 'coherence.invalidations',
    unit: 'lines',
    description: 'lines invalidated in other cores by stores',
  },
] as const satisfies readonly CounterDef[];

export type CounterName = (typeof COUNTERS)[number]['name'];
export const COUNTER_COUNT = COUNTERS.length;
const INDEX = new Map<string, number>(COUNTERS.map((c, i) => [c.name, i]));

export function counterIndex(name: CounterName | string): number {
  const i = INDEX.get(name);
  if (i === undefined) throw new Error(`unknown counter '${name}'`);
  return i;
}

/** Counter indices for the hot paths. */
export const C = {
  cycles: 0,
  instructions: 1,
  loads: 2,
  stores: 3,
  fetches: 4,
  dtlbHit: 5,
  itlbHit: 6,
  stlbHit: 7,
  tlbMissData: 8,
  tlbMissFetch: 9,
  walks: 10,
  walkRefs: 11,
  walkRefsGuest: 12,
  walkRefsEpt: 13,
  walkCycles: 14,
  pscHit: 15,
  eptPscHit: 16,
  gpaTlbHit: 17,
  l1iHit: 18,
  l1iMiss: 19,
  l1dHit: 20,
  l1dMiss: 21,
  l2Hit: 22,
  l2Miss: 23,
  llcHit: 24,
  llcMiss: 25,
  memCycles: 26,
  tlbInvalidated: 27,
  cr3Writes: 28,
  syscalls: 29,
  vmfuncs: 30,
  vmexits: 31,
  vmexitCpuid: 32,
  vmexitVmcall: 33,
  vmexitEptViolation: 34,
  vmexitEptMisconfig: 35,
  vmexitVmfunc: 36,
  vmexitOther: 37,
  exceptions: 38,
  interrupts: 39,
  ipisSent: 40,
  coherenceInvalidations: 41,
} as const;

/** Who software says is running; 0 is "machine" (boot, unattributed). */
export class OwnerRegistry {
  private readonly names: string[] = ['machine'];
  private readonly ids = new Map<string, number>([['machine', 0]]);

  /** Returns the id for `name`, registering it on first use. */
  id(name: string): number {
    let id = this.ids.get(name);
    if (id === undefined) {
      id = this.names.length;
      this.names.push(name);
      this.ids.set(name, id);
    }
    return id;
  }

  name(id: number): string {
    return this.names[id] ?? `owner#${id}`;
  }

  get count(): number {
    return this.names.length;
  }
}

/** One core's counters: a Float64Array per (owner, mode) slot, grown as owners appear. */
export class CoreCounters {
  /** slots[owner * MODE_COUNT + mode] */
  readonly slots: Float64Array[] = [];

  slot(owner: number, mode: Mode): Float64Array {
    const i = owner * MODE_COUNT + mode;
    while (this.slots.length <= i) this.slots.push(new Float64Array(COUNTER_COUNT));
    return this.slots[i]!;
  }
}

export interface CounterFilter {
  core?: number;
  mode?: Mode;
  owner?: number;
}

/** An immutable copy of every counter at one moment; subtract two for an interval. */
export class CounterSnapshot {
  constructor(
    /** per core, per slot (owner * MODE_COUNT + mode), per counter */
    readonly data: readonly (readonly Float64Array[])[],
    readonly owners: readonly string[],
  ) {}

  static take(cores: readonly CoreCounters[], owners: OwnerRegistry): CounterSnapshot {
    const names: string[] = [];
    for (let i = 0; i < owners.count; i++) names.push(owners.name(i));
    return new CounterSnapshot(
      cores.map((c) => c.slots.map((s) => Float64Array.from(s))),
      names,
    );
  }

  /** This snapshot minus an earlier one. */
  minus(earlier: CounterSnapshot): CounterSnapshot {
    const data = this.data.map((slots, core) =>
      slots.map((s, i) => {
        const e = earlier.data[core]?.[i];
        const out = Float64Array.from(s);
        if (e) for (let k = 0; k < out.length; k++) out[k]! -= e[k]!;
        return out;
      }),
    );
    return new CounterSnapshot(data, this.owners);
  }

  /** Sum of one counter over the slots that match the filter. */
  get(name: CounterName, f: CounterFilter = {}): number {
    const k = counterIndex(name);
    let sum = 0;
    this.data.forEach((slots, core) => {
      if (f.core !== undefined && f.core !== core) return;
      slots.forEach((s, i) => {
        const owner = Math.floor(i / MODE_COUNT);
        const mode = i % MODE_COUNT;
        if (f.owner !== undefined && f.owner !== owner) return;
        if (f.mode !== undefined && f.mode !== mode) return;
        sum += s[k]!;
      });
    });
    return sum;
  }

  /** Every non-zero counter as rows, for reports and --json. */
  rows(f: CounterFilter = {}): { counter: string; unit: string; value: number }[] {
    return COUNTERS.map((c) => ({
      counter: c.name,
      unit: c.unit,
      value: this.get(c.name, f),
    })).filter((r) => r.value !== 0);
  }
}
