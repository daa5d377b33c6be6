// A set-associative translation cache: the storage behind every TLB, paging-structure
// cache and guest-physical mapping cache of a core. Each entry is tagged as SDM Vol. 3C
// §29.4 (SDM 2024 numbering; §28.3 in older editions) describes:
//   - linear and combined mappings by (VPID, PCID, EP4TA), global entries ignoring PCID;
//   - guest-physical mappings by EP4TA alone (VPID and PCID stored as -1).
// EP4TAs are represented by small integer ids handed out by the MMU. Everything is in
// typed arrays; lookups and fills allocate nothing.

import { PageSize, PAGE_BYTES } from './addr.ts';

/** Entry flag bits (a Uint16 per entry). */
export const F_VALID = 1 << 15;
export const F_GLOBAL = 1 << 7;
/** Rights accumulated over the guest levels (AND of R/W and U/S; NX is the OR of XD). */
export const F_GW = 1 << 0;
export const F_GU = 1 << 1;
export const F_GNX = 1 << 2;
/** Rights accumulated over the EPT levels (AND of R, W, X). */
export const F_ER = 1 << 3;
export const F_EW = 1 << 4;
export const F_EX = 1 << 5;
/** The leaf guest entry had D set (a write with D clear must walk to set it, SDM §4.8). */
export const F_DIRTY = 1 << 6;

/** Selector for invalidation; -1 in a field means "any". */
export interface InvalidateSel {
  vpid: number;
  pcid: number;
  ep: number;
  /** A linear (or guest-physical) address whose covering entries go; -1 for all. */
  addr: number;
  /** Whether global entries are invalidated too. */
  global: boolean;
}

/** The context of an entry for eviction records: (4096 if global, else its PCID) × 64 + its
 *  EP4TA id (ids above 63 share 63). */
export function evictionTag(global: boolean, pcid: number, ep: number): number {
  return (global ? 4096 : pcid < 0 ? 4095 : pcid) * 64 + Math.min(Math.max(ep, 0), 63);
}
export const EVICTION_TAG_SPAN = 2 ** 20;

export class TranslationCache {
  readonly name: string;
  readonly entries: number;
  readonly ways: number;
  private readonly setMask: number;
  readonly vpn: Float64Array;
  readonly size: Uint8Array;
  readonly vpid: Int32Array;
  readonly pcid: Int32Array;
  readonly ep: Int32Array;
  readonly flags: Uint16Array;
  /** The mapped frame's (or next table's) host-physical base address. */
  readonly base: Float64Array;
  private readonly stamp: Float64Array;
  private clock = 0;
  /**
   * When set, counts replacements of a valid entry by another: key victim tag ×
   * EVICTION_TAG_SPAN + newcomer tag (see evictionTag). Off by default.
   */
  evictions: Map<number, number> | null = null;

  constructor(name: string, entries: number, ways: number) {
    this.name = name;
    this.entries = entries;
    this.ways = ways;
    this.setMask = entries / ways - 1;
    this.vpn = new Float64Array(entries);
    this.size = new Uint8Array(entries);
    this.vpid = new Int32Array(entries);
    this.pcid = new Int32Array(entries);
    this.ep = new Int32Array(entries);
    this.flags = new Uint16Array(entries);
    this.base = new Float64Array(entries);
    this.stamp = new Float64Array(entries);
  }

  /** Index of the entry for page number `vpn` of size `size` under the given tags, or -1. */
  find(vpn: number, size: PageSize, vpid: number, pcid: number, ep: number): number {
    const b = (vpn & this.setMask) * this.ways;
    for (let i = b; i < b + this.ways; i++) {
      if (this.vpn[i] !== vpn) continue;
      const f = this.flags[i]!;
      if (
        (f & F_VALID) !== 0 &&
        this.size[i] === size &&
        this.ep[i] === ep &&
        this.vpid[i] === vpid &&
        (this.pcid[i] === pcid || (f & F_GLOBAL) !== 0)
      ) {
        this.stamp[i] = ++this.clock;
        return i;
      }
    }
    return -1;
  }

  /** Inserts or replaces the entry for (vpn, size, tags); LRU victim within the set. */
  insert(
    vpn: number,
    size: PageSize,
    vpid: number,
    pcid: number,
    ep: number,
    base: number,
    flags: number,
  ): number {
    const b = (vpn & this.setMask) * this.ways;
    let victim = b;
    let oldest = Infinity;
    let same = false;
    for (let i = b; i < b + this.ways; i++) {
      const f = this.flags[i]!;
      if ((f & F_VALID) === 0) {
        victim = i;
        oldest = -1;
        continue;
      }
      if (
        this.vpn[i] === vpn &&
        this.size[i] === size &&
        this.ep[i] === ep &&
        this.vpid[i] === vpid &&
        this.pcid[i] === pcid
      ) {
        victim = i;
        same = true;
        break;
      }
      if (oldest !== -1 && this.stamp[i]! < oldest) {
        oldest = this.stamp[i]!;
        victim = i;
      }
    }
    const log = this.evictions;
    if (log !== null && !same && (this.flags[victim]! & F_VALID) !== 0) {
      const v = evictionTag(
        (this.flags[victim]! & F_GLOBAL) !== 0,
        this.pcid[victim]!,
        this.ep[victim]!,
      );
      const key = v * EVICTION_TAG_SPAN + evictionTag((flags & F_GLOBAL) !== 0, pcid, ep);
      log.set(key, (log.get(key) ?? 0) + 1);
    }
    this.vpn[victim] = vpn;
    this.size[victim] = size;
    this.vpid[victim] = vpid;
    this.pcid[victim] = pcid;
    this.ep[victim] = ep;
    this.base[victim] = base;
    this.flags[victim] = flags | F_VALID;
    this.stamp[victim] = ++this.clock;
    return victim;
  }

  invalidateIndex(i: number): void {
    this.flags[i] = 0;
  }

  /** Invalidates every entry the selector matches; returns how many. Not a hot path. */
  invalidate(sel: InvalidateSel, pageShiftOf: (size: PageSize) => number = defaultShift): number {
    let n = 0;
    for (let i = 0; i < this.entries; i++) {
      const f = this.flags[i]!;
      if ((f & F_VALID) === 0) continue;
      if (sel.vpid !== -1 && this.vpid[i] !== sel.vpid) continue;
      if (sel.ep !== -1 && this.ep[i] !== sel.ep) continue;
      const g = (f & F_GLOBAL) !== 0;
      if (g && !sel.global) continue;
      if (sel.pcid !== -1 && !g && this.pcid[i] !== sel.pcid) continue;
      if (sel.addr !== -1) {
        const shift = pageShiftOf(this.size[i] as PageSize);
        if (Math.floor(sel.addr / 2 ** shift) !== this.vpn[i]) continue;
      }
      this.flags[i] = 0;
      n++;
    }
    return n;
  }

  invalidateAll(): number {
    let n = 0;
    for (let i = 0; i < this.entries; i++) {
      if ((this.flags[i]! & F_VALID) !== 0) n++;
      this.flags[i] = 0;
    }
    return n;
  }

  /** Number of valid entries (for tests). */
  occupancy(): number {
    let n = 0;
    for (let i = 0; i < this.entries; i++) if ((this.flags[i]! & F_VALID) !== 0) n++;
    return n;
  }
}

function defaultShift(size: PageSize): number {
  return Math.log2(PAGE_BYTES[size]);
}
