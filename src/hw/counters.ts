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
  /** The property of `C` that holds its index (for the hot paths). */
  readonly key: string;
  readonly name: string;
  readonly unit: string;
  readonly description: string;
}

/** The counters, in slot order. The `C` object below gives each its index. */
export const COUNTERS = [
  { key: 'cycles', name: 'cycles', unit: 'cycles', description: 'core clock cycles' },
  {
    key: 'instructions',
    name: 'instructions',
    unit: 'instructions',
    description: 'instructions retired',
  },
  { key: 'loads', name: 'loads', unit: 'accesses', description: 'data loads by software' },
  { key: 'stores', name: 'stores', unit: 'accesses', description: 'data stores by software' },
  {
    key: 'fetches',
    name: 'fetches',
    unit: 'lines',
    description: 'instruction-fetch line accesses',
  },
  { key: 'dtlbHit', name: 'dtlb.hit', unit: 'lookups', description: 'L1 DTLB hits' },
  { key: 'itlbHit', name: 'itlb.hit', unit: 'lookups', description: 'L1 ITLB hits' },
  {
    key: 'stlbHit',
    name: 'stlb.hit',
    unit: 'lookups',
    description: 'L1 TLB misses that hit the STLB',
  },
  {
    key: 'tlbMissData',
    name: 'tlb.miss.data',
    unit: 'lookups',
    description: 'data translations that walked',
  },
  {
    key: 'tlbMissFetch',
    name: 'tlb.miss.fetch',
    unit: 'lookups',
    description: 'fetch translations that walked',
  },
  {
    key: 'walks',
    name: 'walk.count',
    unit: 'walks',
    description: 'page walks (two-dimensional under EPT)',
  },
  {
    key: 'walkRefs',
    name: 'walk.refs',
    unit: 'references',
    description: 'memory references made by page walks',
  },
  {
    key: 'walkRefsGuest',
    name: 'walk.refs.guest',
    unit: 'references',
    description: 'walk references to guest paging entries',
  },
  {
    key: 'walkRefsEpt',
    name: 'walk.refs.ept',
    unit: 'references',
    description: 'walk references to EPT entries',
  },
  {
    key: 'walkCycles',
    name: 'walk.cycles',
    unit: 'cycles',
    description: 'cycles spent in page walks',
  },
  {
    key: 'pscHit',
    name: 'psc.hit',
    unit: 'lookups',
    description: 'guest paging-structure-cache hits',
  },
  {
    key: 'eptPscHit',
    name: 'eptpsc.hit',
    unit: 'lookups',
    description: 'EPT paging-structure-cache hits',
  },
  {
    key: 'gpaTlbHit',
    name: 'gpatlb.hit',
    unit: 'lookups',
    description: 'guest-physical mapping hits',
  },
  { key: 'l1iHit', name: 'l1i.hit', unit: 'accesses', description: 'L1I hits' },
  { key: 'l1iMiss', name: 'l1i.miss', unit: 'accesses', description: 'L1I misses' },
  {
    key: 'l1dHit',
    name: 'l1d.hit',
    unit: 'accesses',
    description: 'L1D hits (software and walker)',
  },
  { key: 'l1dMiss', name: 'l1d.miss', unit: 'accesses', description: 'L1D misses' },
  { key: 'l2Hit', name: 'l2.hit', unit: 'accesses', description: 'L2 hits' },
  { key: 'l2Miss', name: 'l2.miss', unit: 'accesses', description: 'L2 misses' },
  { key: 'llcHit', name: 'llc.hit', unit: 'accesses', description: 'LLC hits' },
  {
    key: 'llcMiss',
    name: 'llc.miss',
    unit: 'accesses',
    description: 'LLC misses (served by DRAM)',
  },
  {
    key: 'memCycles',
    name: 'mem.cycles',
    unit: 'cycles',
    description: 'cycles in cache/DRAM accesses (incl. walks)',
  },
  {
    key: 'tlbInvalidated',
    name: 'tlb.invalidated',
    unit: 'entries',
    description: 'TLB and paging-structure-cache entries invalidated',
  },
  { key: 'cr3Writes', name: 'cr3.writes', unit: 'operations', description: 'MOV to CR3' },
  { key: 'syscalls', name: 'syscalls', unit: 'operations', description: 'SYSCALL instructions' },
  {
    key: 'vmfuncs',
    name: 'vmfuncs',
    unit: 'operations',
    description: 'VMFUNC instructions executed',
  },
  { key: 'vmexits', name: 'vmexits', unit: 'exits', description: 'VM exits, all reasons' },
  {
    key: 'vmexitCpuid',
    name: 'vmexit.cpuid',
    unit: 'exits',
    description: 'VM exits for CPUID (reason 10)',
  },
  {
    key: 'vmexitVmcall',
    name: 'vmexit.vmcall',
    unit: 'exits',
    description: 'VM exits for VMCALL (reason 18)',
  },
  {
    key: 'vmexitEptViolation',
    name: 'vmexit.ept-violation',
    unit: 'exits',
    description: 'VM exits for EPT violations (reason 48)',
  },
  {
    key: 'vmexitEptMisconfig',
    name: 'vmexit.ept-misconfig',
    unit: 'exits',
    description: 'VM exits for EPT misconfigurations (reason 49)',
  },
  {
    key: 'vmexitVmfunc',
    name: 'vmexit.vmfunc',
    unit: 'exits',
    description: 'VM exits for failed VM functions (reason 59)',
  },
  {
    key: 'vmexitOther',
    name: 'vmexit.other',
    unit: 'exits',
    description: 'VM exits for any other reason',
  },
  {
    key: 'exceptions',
    name: 'exceptions',
    unit: 'events',
    description: 'exceptions delivered (#PF, #UD, #GP, ...)',
  },
  {
    key: 'interrupts',
    name: 'interrupts',
    unit: 'events',
    description: 'interrupts delivered (timer, IPI)',
  },
  {
    key: 'ipisSent',
    name: 'ipis.sent',
    unit: 'events',
    description: 'inter-processor interrupts sent',
  },
  {
    key: 'coherenceInvalidations',
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

/** Counter indices for the hot paths, by key, derived from COUNTERS (one declaration). */
export const C = Object.fromEntries(COUNTERS.map((c, i) => [c.key, i])) as {
  readonly [K in (typeof COUNTERS)[number]['key']]: number;
};

/** Who software says is running; 0 is "machine" (boot, unattributed). */
export class OwnerRegistry {
  /** EPTP → the owner whose address space that EPT view shows (SkyBridge's server views):
   *  user code after a VMFUNC counts as that owner's. Attribution only; it changes nothing
   *  the machine does. */
  readonly byView = new Map<number, number>();
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
