// Builds guest page tables and EPTs in simulated memory, in the architectural formats.
// This is setup-time software (the Subkernel and Rootkernel use it while booting and in
// tests); it writes memory directly and charges no cycles. Code that changes tables while
// the system runs does so through a core's stores, so its cost is counted.

import { PAGE_1G, PAGE_2M, PAGE_4K, PageSize, PAGE_BYTES, hex } from './addr.ts';
import { addrOf, hi32, lo32 } from './bits.ts';
import {
  EPT_PS,
  EPT_R,
  EPT_W,
  EPT_X,
  PTE_P,
  PTE_PS,
  PTE_RW,
  PTE_US,
  PTE_XD_HI,
  PTE_G,
} from './formats.ts';
import type { PhysicalMemory } from './phys-mem.ts';
import { MAXPHYADDR } from './addr.ts';

/** Hands out zeroed 4 KiB frames from [base, limit), in order (deterministic). */
export class FrameAllocator {
  private next: number;
  constructor(
    private readonly mem: PhysicalMemory,
    base: number,
    private readonly limit: number,
    /** Maps an address this allocator hands out to where its bytes are (identity by default). */
    readonly toHpa: (a: number) => number = (a) => a,
  ) {
    if (base % PAGE_4K !== 0) throw new RangeError(`allocator base ${hex(base)} not 4 KiB aligned`);
    this.next = base;
  }

  alloc(): number {
    if (this.next + PAGE_4K > this.limit)
      throw new RangeError(`out of frames at ${hex(this.next)}`);
    const a = this.next;
    this.next += PAGE_4K;
    this.mem.fill(this.toHpa(a), PAGE_4K, 0);
    return a;
  }

  get used(): number {
    return this.next;
  }
}

export interface GuestFlags {
  writable?: boolean;
  user?: boolean;
  noExec?: boolean;
  global?: boolean;
}

const LEVEL_SHIFT = [0, 12, 21, 30, 39];

function writeEntry(
  mem: PhysicalMemory,
  at: number,
  addr: number,
  lowFlags: number,
  hiFlags: number,
): void {
  mem.write32(at, (lo32(addr) & 0xffff_f000) | lowFlags);
  mem.write32(at + 4, (hi32(addr) & 0xf_ffff) | hiFlags);
}

/**
 * Maps the guest page at linear `la` to (guest-)physical `pa` with `size`, creating tables
 * from `alloc`. Upper levels get the most permissive rights (P, R/W, U/S) so the leaf
 * decides, as operating systems usually do.
 */
export function mapGuestPage(
  mem: PhysicalMemory,
  alloc: FrameAllocator,
  root: number,
  la: number,
  pa: number,
  size: PageSize,
  f: GuestFlags = {},
): void {
  const span = PAGE_BYTES[size];
  if (la % span !== 0 || pa % span !== 0)
    throw new RangeError(`mapping ${hex(la)} → ${hex(pa)} not aligned to ${span}`);
  const leafLevel = size === PageSize.Size4K ? 1 : size === PageSize.Size2M ? 2 : 3;
  let table = root;
  for (let level = 4; level > leafLevel; level--) {
    const at = alloc.toHpa(table) + (Math.floor(la / 2 ** LEVEL_SHIFT[level]!) % 512) * 8;
    const lo = mem.read32(at);
    if ((lo & PTE_P) === 0) {
      const t = alloc.alloc();
      writeEntry(mem, at, t, PTE_P | PTE_RW | PTE_US, 0);
      table = t;
    } else {
      if ((lo & PTE_PS) !== 0) throw new RangeError(`${hex(la)} already inside a large page`);
      table = addrOf(lo, mem.read32(at + 4), MAXPHYADDR);
    }
  }
  const at = alloc.toHpa(table) + (Math.floor(la / 2 ** LEVEL_SHIFT[leafLevel]!) % 512) * 8;
  const low =
    PTE_P |
    (f.writable ? PTE_RW : 0) |
    (f.user ? PTE_US : 0) |
    (f.global ? PTE_G : 0) |
    (size !== PageSize.Size4K ? PTE_PS : 0);
  writeEntry(mem, at, pa, low, f.noExec ? PTE_XD_HI : 0);
}

/** Removes the 4 KiB mapping of `la` (its PTE becomes 0); false if none was there. The
 *  caller invalidates the TLBs (INVLPG). Tables emptied are kept. */
export function unmapGuestPage(
  mem: PhysicalMemory,
  alloc: FrameAllocator,
  root: number,
  la: number,
): boolean {
  let table = root;
  for (let level = 4; level >= 1; level--) {
    const at = alloc.toHpa(table) + (Math.floor(la / 2 ** LEVEL_SHIFT[level]!) % 512) * 8;
    const lo = mem.read32(at);
    if ((lo & PTE_P) === 0) return false;
    if (level === 1) {
      mem.write32(at, 0);
      mem.write32(at + 4, 0);
      return true;
    }
    if ((lo & PTE_PS) !== 0) throw new RangeError(`${hex(la)} is inside a large page`);
    table = addrOf(lo, mem.read32(at + 4), MAXPHYADDR);
  }
  return false;
}

/** Maps [la, la+len) to [pa, pa+len) with 4 KiB pages. */
export function mapGuestRange(
  mem: PhysicalMemory,
  alloc: FrameAllocator,
  root: number,
  la: number,
  pa: number,
  len: number,
  f: GuestFlags = {},
): void {
  for (let off = 0; off < len; off += PAGE_4K)
    mapGuestPage(mem, alloc, root, la + off, pa + off, PageSize.Size4K, f);
}

export interface EptRights {
  read?: boolean;
  write?: boolean;
  exec?: boolean;
}

/** Maps guest-physical `gpa` to host-physical `hpa` with `size` in the EPT at `root`
 *  (host-physical tables). Memory type WB (6) at the leaf. */
export function mapEptPage(
  mem: PhysicalMemory,
  alloc: FrameAllocator,
  root: number,
  gpa: number,
  hpa: number,
  size: PageSize,
  r: EptRights = { read: true, write: true, exec: true },
): void {
  const span = PAGE_BYTES[size];
  if (gpa % span !== 0 || hpa % span !== 0)
    throw new RangeError(`EPT mapping ${hex(gpa)} → ${hex(hpa)} not aligned`);
  const leafLevel = size === PageSize.Size4K ? 1 : size === PageSize.Size2M ? 2 : 3;
  let table = root;
  for (let level = 4; level > leafLevel; level--) {
    const at = table + (Math.floor(gpa / 2 ** LEVEL_SHIFT[level]!) % 512) * 8;
    const lo = mem.read32(at);
    if ((lo & 7) === 0) {
      const t = alloc.alloc();
      writeEntry(mem, at, t, EPT_R | EPT_W | EPT_X, 0);
      table = t;
    } else {
      if ((lo & EPT_PS) !== 0) throw new RangeError(`${hex(gpa)} already inside a large EPT page`);
      table = addrOf(lo, mem.read32(at + 4), MAXPHYADDR);
    }
  }
  const at = table + (Math.floor(gpa / 2 ** LEVEL_SHIFT[leafLevel]!) % 512) * 8;
  const low =
    (r.read ? EPT_R : 0) |
    (r.write ? EPT_W : 0) |
    (r.exec ? EPT_X : 0) |
    (6 << 3) |
    (size !== PageSize.Size4K ? EPT_PS : 0);
  writeEntry(mem, at, hpa, low, 0);
}

/** An identity EPT over [0, bytes) with 1 GiB pages (the Rootkernel's base EPT shape). */
export function identityEpt1G(mem: PhysicalMemory, alloc: FrameAllocator, bytes: number): number {
  const root = alloc.alloc();
  for (let a = 0; a < bytes; a += PAGE_1G) mapEptPage(mem, alloc, root, a, a, PageSize.Size1G);
  return root;
}

/** An identity EPT over [0, bytes) with 4 KiB pages (for comparison runs). */
export function identityEpt4K(mem: PhysicalMemory, alloc: FrameAllocator, bytes: number): number {
  const root = alloc.alloc();
  for (let a = 0; a < bytes; a += PAGE_4K) mapEptPage(mem, alloc, root, a, a, PageSize.Size4K);
  return root;
}

export { PAGE_2M };
