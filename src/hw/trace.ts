// An optional trace of what the machine does, off by default: the context each core runs in
// (mode, owner, EPT view) whenever it changes, the architectural events (system calls, CR3
// writes, VMFUNCs, VM exits and entries, exceptions, interrupts, IPIs), and TLB and cache
// misses. `skybridge trace` turns it into a Chrome trace-event file (src/report/trace-file.ts).
//
// Off, it costs the hot paths a null or boolean check and nothing else: callers test
// `enabled` (or the MMU's and caches' `tracer`, null unless tracing) before they build an
// event, so no string or object is made.

import { MODE_NAMES } from './counters.ts';
import type { Access } from './translation-state.ts';

/** What an event records; `context` marks the start of a new (mode, owner, view) on a core. */
export type TraceKind =
  | 'context'
  | 'syscall'
  | 'sysret'
  | 'cr3'
  | 'vmfunc'
  | 'vmexit'
  | 'vmentry'
  | 'exception'
  | 'interrupt'
  | 'ipi'
  | 'tlb-miss'
  | 'cache-miss';

export interface TraceEvent {
  core: number;
  /** The core's cycle counter when it happened. */
  cycle: number;
  kind: TraceKind;
  detail: string;
  args?: Record<string, string | number | boolean>;
}

/** Where a cache access that missed the L1 was served (memory-hierarchy.ts). */
export const SERVED_BY = ['L2', 'LLC', 'DRAM'] as const;
const ACCESS_NAMES = ['read', 'write', 'fetch'] as const;

/** What the MMU and the caches call on a miss while tracing. */
export interface MissTracer {
  tlbMiss(core: number, la: number, access: Access): void;
  /** `servedBy` indexes SERVED_BY; `fetch` for the L1I. */
  cacheMiss(core: number, hpa: number, fetch: boolean, servedBy: number): void;
}

const hex = (n: number): string => `0x${n.toString(16)}`;

export class Trace implements MissTracer {
  enabled = false;
  readonly events: TraceEvent[] = [];
  /** Upper bound on kept events, so a long run cannot exhaust memory. */
  limit = 1_000_000;
  /** Events not kept because the limit was reached. */
  dropped = 0;
  /** Each core's cycle counter, for events raised below the core (misses); set by Machine. */
  clock: (core: number) => number = () => 0;
  /** An owner's name (the machine's OwnerRegistry); set by Machine. */
  ownerName: (owner: number) => string = (owner) => `owner#${owner}`;
  /** The context last written for each core, "mode/owner/ept", so only changes are. */
  private readonly contexts: string[] = [];

  /**
   * A core's context from `cycle` on: its mode, its owner and its EPT root (-1: EPT off).
   * Written when it differs from the core's last one, or always with `force`.
   */
  context(
    core: number,
    cycle: number,
    mode: number,
    owner: number,
    ept: number,
    force: boolean,
  ): void {
    const key = `${mode}/${owner}/${ept}`;
    if (!force && this.contexts[core] === key) return;
    this.contexts[core] = key;
    const name = this.ownerName(owner);
    this.emit(core, cycle, 'context', `${MODE_NAMES[mode]} ${name}`, {
      mode: MODE_NAMES[mode]!,
      owner: name,
      ept: ept < 0 ? 'off' : hex(ept),
    });
  }

  emit(
    core: number,
    cycle: number,
    kind: TraceKind,
    detail: string,
    args?: Record<string, string | number | boolean>,
  ): void {
    if (!this.enabled) return;
    if (this.events.length >= this.limit) {
      this.dropped++;
      return;
    }
    this.events.push(
      args === undefined ? { core, cycle, kind, detail } : { core, cycle, kind, detail, args },
    );
  }

  tlbMiss(core: number, la: number, access: Access): void {
    const what = ACCESS_NAMES[access];
    this.emit(core, this.clock(core), 'tlb-miss', `${what} ${hex(la)}`, {
      la: hex(la),
      access: what,
    });
  }

  cacheMiss(core: number, hpa: number, fetch: boolean, servedBy: number): void {
    const by = SERVED_BY[servedBy]!;
    this.emit(core, this.clock(core), 'cache-miss', `${fetch ? 'L1I' : 'L1D'} miss, from ${by}`, {
      hpa: hex(hpa),
      level: fetch ? 'L1I' : 'L1D',
      servedBy: by,
    });
  }

  clear(): void {
    this.events.length = 0;
    this.dropped = 0;
    this.contexts.length = 0;
  }
}
