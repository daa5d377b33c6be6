// The caches of the whole machine: L1I, L1D and L2 per core, one LLC shared by all.
// Levels are non-inclusive, non-exclusive: a miss fills every level it missed in, and an
// eviction at one level does not invalidate the others. Writes allocate and are
// write-back; the bandwidth of write-backs is not charged. A store invalidates the line in
// every other core's private caches (write-invalidate coherence): their next access to it
// misses to the LLC, which is what a cross-core transfer costs to first order.

import { C } from './counters.ts';
import { SetAssocCache } from './cache.ts';
import type { CpuProfile } from './profile-schema.ts';
import type { MissTracer } from './trace.ts';

export const enum AccessKind {
  Load = 0,
  Store = 1,
  Fetch = 2,
}

/** Cache levels as numbered in eviction records. */
export const enum Level {
  L1I = 0,
  L1D = 1,
  L2 = 2,
  LLC = 3,
}
export const LEVEL_NAMES = ['L1I', 'L1D', 'L2', 'LLC'] as const;

/**
 * Who evicted whose lines: a count per (level, victim owner, victim was code, evictor
 * owner, evictor was fetching). Off unless an experiment asks (it costs a map update per
 * eviction); answers "what exactly got evicted, and by whom".
 */
export class EvictionLog {
  readonly counts = new Map<number, number>();

  static key(
    level: number,
    victim: number,
    victimFetch: number,
    evictor: number,
    evictorFetch: number,
  ): number {
    return (((level * 4096 + victim) * 2 + victimFetch) * 4096 + evictor) * 2 + evictorFetch;
  }

  record(
    level: number,
    victim: number,
    victimFetch: number,
    evictor: number,
    evictorFetch: number,
  ): void {
    const k = EvictionLog.key(level, victim, victimFetch, evictor, evictorFetch);
    this.counts.set(k, (this.counts.get(k) ?? 0) + 1);
  }

  /** All records as rows. */
  entries(): {
    level: number;
    victim: number;
    victimFetch: number;
    evictor: number;
    evictorFetch: number;
    count: number;
  }[] {
    const out = [];
    for (const [k, count] of this.counts) {
      let r = k;
      const evictorFetch = r % 2;
      r = Math.floor(r / 2);
      const evictor = r % 4096;
      r = Math.floor(r / 4096);
      const victimFetch = r % 2;
      r = Math.floor(r / 2);
      const victim = r % 4096;
      const level = Math.floor(r / 4096);
      out.push({ level, victim, victimFetch, evictor, evictorFetch, count });
    }
    return out;
  }

  clear(): void {
    this.counts.clear();
  }
}

export interface CoreCaches {
  readonly l1i: SetAssocCache;
  readonly l1d: SetAssocCache;
  readonly l2: SetAssocCache;
}

export class MemoryHierarchy {
  readonly cores: CoreCaches[];
  readonly llc: SetAssocCache;
  readonly dramLatency: number;
  readonly lineBytes: number;
  private readonly invLine: number;
  /** Set to record evictions (see EvictionLog). */
  evictions: EvictionLog | null = null;
  /** Set while the machine is traced: told of every access that misses the L1. */
  tracer: MissTracer | null = null;

  constructor(profile: CpuProfile, coreCount: number) {
    const c = profile.caches;
    this.cores = [];
    for (let i = 0; i < coreCount; i++) {
      this.cores.push({
        l1i: new SetAssocCache(`core${i}.l1i`, c.l1i),
        l1d: new SetAssocCache(`core${i}.l1d`, c.l1d),
        l2: new SetAssocCache(`core${i}.l2`, c.l2),
      });
    }
    this.llc = new SetAssocCache('llc', c.llc);
    this.dramLatency = c.dramLatency;
    this.lineBytes = c.l1d.lineBytes;
    this.invLine = 1 / c.l1d.lineBytes;
  }

  /**
   * One access to the line holding `hpa` from `core`; returns its latency in cycles and
   * counts hits and misses into `ctr` (the core's current counter slot).
   */
  access(core: number, hpa: number, kind: AccessKind, owner: number, ctr: Float64Array): number {
    // Multiplying by the reciprocal of a power of two is exact in floating point.
    const line = Math.floor(hpa * this.invLine);
    const cc = this.cores[core]!;
    const fetch = kind === AccessKind.Fetch ? 1 : 0;
    const l1 = fetch ? cc.l1i : cc.l1d;
    let lat: number;
    if (kind === AccessKind.Store && this.cores.length > 1) this.invalidateOthers(core, line, ctr);
    if (l1.lookup(line)) {
      ctr[kind === AccessKind.Fetch ? C.l1iHit : C.l1dHit]++;
      lat = l1.latency;
    } else {
      ctr[kind === AccessKind.Fetch ? C.l1iMiss : C.l1dMiss]++;
      // Where it was served, for the trace: 0 L2, 1 LLC, 2 DRAM (SERVED_BY).
      let servedBy = 0;
      if (cc.l2.lookup(line)) {
        ctr[C.l2Hit]++;
        lat = cc.l2.latency;
      } else {
        ctr[C.l2Miss]++;
        if (this.llc.lookup(line)) {
          ctr[C.llcHit]++;
          lat = this.llc.latency;
          servedBy = 1;
        } else {
          ctr[C.llcMiss]++;
          lat = this.dramLatency;
          servedBy = 2;
          this.fillAt(this.llc, Level.LLC, line, owner, fetch);
        }
        this.fillAt(cc.l2, Level.L2, line, owner, fetch);
      }
      this.fillAt(l1, fetch ? Level.L1I : Level.L1D, line, owner, fetch);
      if (this.tracer !== null) this.tracer.cacheMiss(core, hpa, fetch === 1, servedBy);
    }
    ctr[C.memCycles] += lat;
    return lat;
  }

  private fillAt(c: SetAssocCache, level: Level, line: number, owner: number, fetch: number): void {
    c.fill(line, owner, fetch);
    const log = this.evictions;
    if (log !== null && c.lastVictimOwner >= 0)
      log.record(level, c.lastVictimOwner, c.lastVictimFetch, owner, fetch);
  }

  private invalidateOthers(core: number, line: number, ctr: Float64Array): void {
    for (let i = 0; i < this.cores.length; i++) {
      if (i === core) continue;
      const o = this.cores[i]!;
      const a = o.l1d.invalidate(line);
      const b = o.l1i.invalidate(line);
      const c = o.l2.invalidate(line);
      if (a || b || c) ctr[C.coherenceInvalidations]++;
    }
  }

  /** Empties every cache (a cold start). */
  flushAll(): void {
    for (const c of this.cores) {
      c.l1i.invalidateAll();
      c.l1d.invalidateAll();
      c.l2.invalidateAll();
    }
    this.llc.invalidateAll();
  }
}
