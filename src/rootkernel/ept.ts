// EPT tables: the frame pool they come from, the base EPT built at boot, and the run-time
// edits (copy a tree, walk, map a 4 KiB page splitting large pages on the way). Formats:
// SDM Vol. 3C §29.3.2, Tables 29-1..29-6 (R/W/X in bits 2:0, memory type in 5:3 at a leaf,
// bit 7 = large page at PDPTE/PDE level, address in bits 51:12).
//
// Boot-time construction writes memory directly and is not charged (it is the Rootkernel
// setting itself up before any guest runs). Everything after boot goes through
// `core.load64` / `core.store64` in root mode, so it costs what the caches and the host
// TLB say, and is attributed to the 'rootkernel' owner in the vmx-root mode.

import { PAGE_1G, PAGE_2M, PAGE_4K, PageSize } from '../hw/addr.ts';
import type { Core } from '../hw/core.ts';
import { EPT_PS, EPT_R, EPT_W, EPT_X } from '../hw/formats.ts';
import { FrameAllocator, mapEptPage } from '../hw/page-table-writer.ts';
import type { PhysicalMemory } from '../hw/phys-mem.ts';
import { run } from './code.ts';
import type { Layout } from './layout.ts';

/** Write-back memory type in a leaf (bits 5:3 = 6). */
export const EPT_WB = 6 << 3;
export const EPT_RWX = EPT_R | EPT_W | EPT_X;
/** Bytes covered by one entry at each level (1 = PT … 4 = PML4). */
const SPAN = [0, PAGE_4K, PAGE_2M, PAGE_1G, 512 * PAGE_1G];

/** 4 KiB frames from the Rootkernel's region, with a free list so destroyed views' tables
 *  are reused. FrameAllocator zeroes a fresh frame uncharged; run-time code writes all 512
 *  entries of every new table with charged stores anyway, which is where software pays. */
export class FramePool {
  private readonly fresh: FrameAllocator;
  private readonly free: number[] = [];

  constructor(
    mem: PhysicalMemory,
    base: number,
    private readonly limit: number,
  ) {
    this.fresh = new FrameAllocator(mem, base, limit);
  }

  private get freshLeft(): number {
    return Math.floor((this.limit - this.fresh.used) / PAGE_4K);
  }

  /** A frame, or -1 if the pool is exhausted. */
  take(): number {
    const f = this.free.pop();
    if (f !== undefined) return f;
    if (this.freshLeft === 0) return -1;
    return this.fresh.alloc();
  }

  give(frame: number): void {
    this.free.push(frame);
  }

  get available(): number {
    return this.free.length + this.freshLeft;
  }

  /** For boot-time builders that want a FrameAllocator. */
  get allocator(): FrameAllocator {
    return this.fresh;
  }
}

/**
 * The base EPT (boot time, uncharged): [0, guestBytes) 1:1, RWX, write-back, with pages of
 * `l.eptPages`. '1g' (the paper's choice, and the default): a GiB entirely of guest RAM is
 * one 1 GiB page and the GiB holding the boundary gets a PD of 2 MiB pages up to it
 * (guestBytes is 2 MiB aligned, layout.ts); '2m' and '4k': every page that size. Nothing at
 * or above guestBytes. Returns the PML4's address.
 *
 * The page size sets how deep the EPT half of every 2-D walk goes when the EPT
 * paging-structure caches miss (SDM Vol. 3C §29.3.2: a 1 GiB leaf is the PDPTE, 2 reads; a
 * 2 MiB leaf the PDE, 3; a 4 KiB leaf the PTE, 4), and caps the size of the TLB entries a
 * walk fills (a translation is cached at the smaller of its guest and EPT page sizes,
 * §29.4.2), which is why the Rootkernel maps with the largest pages it can.
 */
export function buildBaseEpt(mem: PhysicalMemory, pool: FramePool, l: Layout): number {
  const a = pool.allocator;
  const root = a.alloc();
  let p = 0;
  if (l.eptPages === '1g') {
    for (; p + PAGE_1G <= l.guestBytes; p += PAGE_1G) {
      mapEptPage(mem, a, root, p, p, PageSize.Size1G);
    }
  }
  if (l.eptPages !== '4k') {
    for (; p < l.guestBytes; p += PAGE_2M) mapEptPage(mem, a, root, p, p, PageSize.Size2M);
  }
  for (; p < l.guestBytes; p += PAGE_4K) mapEptPage(mem, a, root, p, p, PageSize.Size4K);
  return root;
}

/** Splits an entry value into the table/page address and its low flag bits. Entries the
 *  Rootkernel writes never set bits 63:52, so the value is an exact double below 2^52. */
const addrOf = (v: number): number => v - (v % PAGE_4K);
const present = (v: number): boolean => (v & 7) !== 0;
const large = (v: number): boolean => (v & EPT_PS) !== 0;

/** Run-time EPT work on one core, every access charged. */
export class EptEditor {
  constructor(
    private readonly core: Core,
    private readonly codeBase: number,
    private readonly pool: FramePool,
  ) {}

  /**
   * Copies the table tree at `src` (a table of `level`, 4 = PML4): every entry read and
   * written, child tables copied recursively, leaves shared. New frames go to `out`.
   * Returns the copy's address, or -1 if the pool ran out (frames in `out` are the caller's
   * to give back).
   */
  copyTree(src: number, level: number, out: number[]): number {
    const dst = this.pool.take();
    if (dst < 0) return -1;
    out.push(dst);
    const c = this.core;
    run(c, this.codeBase, 'copyLoop', 512);
    for (let i = 0; i < 512; i++) {
      let v = c.load64(src + i * 8);
      if (level > 1 && present(v) && !large(v)) {
        const child = this.copyTree(addrOf(v), level - 1, out);
        if (child < 0) return -1;
        v = child + (v % PAGE_4K);
      }
      c.store64(dst + i * 8, v);
    }
    return dst;
  }

  /** The host-physical address `gpa` maps to under the EPT at `root`, or -1 if none. */
  lookup(root: number, gpa: number): number {
    const c = this.core;
    let table = root;
    for (let level = 4; level >= 1; level--) {
      run(c, this.codeBase, 'walkStep');
      const v = c.load64(table + (Math.floor(gpa / SPAN[level]!) % 512) * 8);
      if (!present(v)) return -1;
      if (level === 1 || large(v)) return addrOf(v) + (gpa % SPAN[level]!);
      table = addrOf(v);
    }
    return -1;
  }

  /**
   * Makes the 4 KiB page `gpa` map `hpa` with `rights` (R/W/X bits) in the EPT at `root`.
   * A large page on the way is split into 512 entries of the next size that map the same
   * memory with the same rights; a missing table is created empty. The new table is filled
   * before its parent entry points at it, so a walk on another core never sees a half-built
   * table. New frames go to `out`. Returns false if the pool ran out (the EPT then still
   * maps what it mapped before: a finished split changes no translation).
   */
  map4k(root: number, gpa: number, hpa: number, rights: number, out: number[]): boolean {
    const c = this.core;
    let table = root;
    for (let level = 4; level > 1; level--) {
      run(c, this.codeBase, 'walkStep');
      const at = table + (Math.floor(gpa / SPAN[level]!) % 512) * 8;
      const v = c.load64(at);
      if (present(v) && !large(v)) {
        table = addrOf(v);
        continue;
      }
      const t = this.pool.take();
      if (t < 0) return false;
      out.push(t);
      if (present(v)) this.split(t, v, level);
      else this.zero(t);
      c.store64(at, t + EPT_RWX);
      table = t;
    }
    run(c, this.codeBase, 'walkStep');
    c.store64(table + (Math.floor(gpa / PAGE_4K) % 512) * 8, hpa + rights + EPT_WB);
    return true;
  }

  /** Fills `t` with the 512 next-level pages the large leaf `v` (at `level`) covers. */
  private split(t: number, v: number, level: number): void {
    const c = this.core;
    const base = addrOf(v);
    const childSpan = SPAN[level - 1]!;
    // Rights, memory type and ignore-PAT carry over; bit 7 stays only for 2 MiB children.
    const flags = (v % PAGE_4K) & ~EPT_PS & 0x7f;
    const ps = level - 1 > 1 ? EPT_PS : 0;
    run(c, this.codeBase, 'splitLoop', 512);
    for (let i = 0; i < 512; i++) c.store64(t + i * 8, base + i * childSpan + flags + ps);
  }

  private zero(t: number): void {
    run(this.core, this.codeBase, 'zeroLoop', 512);
    for (let i = 0; i < 512; i++) this.core.store64(t + i * 8, 0);
  }
}
