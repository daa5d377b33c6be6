// One level of a set-associative, physically indexed and tagged cache of 64-byte lines.
// Replacement is true LRU by access stamp: on a miss the victim is an invalid way if there
// is one, else the way least recently used. (Skylake's L1 uses tree-PLRU and its L2/LLC
// adaptive policies that are not published exactly; LRU is the documented simplification,
// deterministic and close to PLRU for the access patterns here.)
// Each line remembers which owner filled it, so eviction can later be attributed.

import type { CacheLevelProfile } from './profile-schema.ts';

export class SetAssocCache {
  readonly name: string;
  readonly sets: number;
  readonly ways: number;
  readonly latency: number;
  private readonly setMask: number;
  /** Line number (HPA / line size) per way, -1 when invalid. */
  private readonly tags: Float64Array;
  private readonly stamps: Float64Array;
  /** Owner id that filled the line, and whether the fill was an instruction fetch. */
  readonly fillOwner: Int32Array;
  readonly fillFetch: Uint8Array;
  /** Owner and fetch flag of the line the last fill evicted (-1: it evicted nothing). */
  lastVictimOwner = -1;
  lastVictimFetch = 0;
  private clock = 0;

  constructor(name: string, p: CacheLevelProfile) {
    this.name = name;
    this.ways = p.ways;
    this.sets = p.sizeBytes / (p.ways * p.lineBytes);
    this.latency = p.latency;
    this.setMask = this.sets - 1;
    this.tags = new Float64Array(this.sets * this.ways).fill(-1);
    this.stamps = new Float64Array(this.sets * this.ways);
    this.fillOwner = new Int32Array(this.sets * this.ways);
    this.fillFetch = new Uint8Array(this.sets * this.ways);
  }

  /** Looks `line` up; on a hit refreshes its LRU stamp and returns true. */
  lookup(line: number): boolean {
    const base = (line & this.setMask) * this.ways;
    const tags = this.tags;
    for (let w = 0; w < this.ways; w++) {
      if (tags[base + w] === line) {
        this.stamps[base + w] = ++this.clock;
        return true;
      }
    }
    return false;
  }

  /** True if `line` is present, without touching LRU state. */
  contains(line: number): boolean {
    const base = (line & this.setMask) * this.ways;
    for (let w = 0; w < this.ways; w++) if (this.tags[base + w] === line) return true;
    return false;
  }

  /** Inserts `line` (known absent); returns the evicted line number or -1. */
  fill(line: number, owner: number, fetch = 0): number {
    const base = (line & this.setMask) * this.ways;
    const tags = this.tags;
    const stamps = this.stamps;
    let victim = base;
    let oldest = Infinity;
    for (let w = 0; w < this.ways; w++) {
      const i = base + w;
      if (tags[i] === -1) {
        victim = i;
        break;
      }
      if (stamps[i]! < oldest) {
        oldest = stamps[i]!;
        victim = i;
      }
    }
    const evicted = tags[victim]!;
    this.lastVictimOwner = evicted === -1 ? -1 : this.fillOwner[victim]!;
    this.lastVictimFetch = this.fillFetch[victim]!;
    tags[victim] = line;
    stamps[victim] = ++this.clock;
    this.fillOwner[victim] = owner;
    this.fillFetch[victim] = fetch;
    return evicted;
  }

  /** Removes `line` if present; returns whether it was. */
  invalidate(line: number): boolean {
    const base = (line & this.setMask) * this.ways;
    for (let w = 0; w < this.ways; w++) {
      if (this.tags[base + w] === line) {
        this.tags[base + w] = -1;
        return true;
      }
    }
    return false;
  }

  invalidateAll(): void {
    this.tags.fill(-1);
  }

  /** Number of valid lines (for tests and reports). */
  occupancy(): number {
    let n = 0;
    for (let i = 0; i < this.tags.length; i++) if (this.tags[i] !== -1) n++;
    return n;
  }
}
