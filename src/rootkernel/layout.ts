// Where the Rootkernel puts things in host-physical memory.
//
// Guest RAM is [0, guestBytes): the base EPT maps it 1:1, so the Subkernel sees those
// host-physical addresses as its own physical memory. The Rootkernel's own region is
// [guestBytes, mem.size) (by default the top 96 MiB, as the paper keeps ~100 MiB): its code,
// its IDT, one stack per core, the view table, and a pool of 4 KiB frames for the host page
// table, the VMCS regions, the EPTP lists and every EPT table. No EPT maps any of it, so no
// guest access can reach it (an attempt is an EPT violation, SDM Vol. 3C §29.3.3.2) — with
// one deliberate exception: each core's EPTP-list page, which MapEptpList maps read/write
// into the guest-physical window just above guest RAM (see hypercalls.ts).
//
// The region's base is guestBytes, which we require to be 2 MiB aligned: the base EPT then
// needs no 4 KiB pages (1 GiB pages for whole GiBs of RAM, 2 MiB pages in the GiB holding
// the boundary), and the walk under the base EPT stays at 2-3 EPT references.

import { PAGE_1G, PAGE_2M, PAGE_4K, hex } from '../hw/addr.ts';

export const MIB = 1024 * 1024;
/** The Rootkernel's region by default (the paper: "about 100 MiB"). */
export const DEFAULT_RESERVED_BYTES = 96 * MIB;
/** Below this the frame pool could not hold a handful of views for many cores. */
export const MIN_RESERVED_BYTES = 16 * MIB;

/** Offsets inside the region. */
const CODE_OFFSET = 0;
const CODE_BYTES = 64 * 1024;
const IDT_OFFSET = CODE_OFFSET + CODE_BYTES;
const DATA_OFFSET = IDT_OFFSET + PAGE_4K;
const VIEW_TABLE_OFFSET = DATA_OFFSET + PAGE_4K;
/** View ids 0 .. MAX_VIEWS-1; entry i of the view table is view i's EPTP (0 = free). */
export const MAX_VIEWS = 1024;
const STACKS_OFFSET = 1 * MIB;
/** Per-core root-mode stack (the top 128 bytes hold the guest's saved GPRs). */
export const STACK_BYTES = 16 * 1024;
const MAX_CORES = 256;
const FRAMES_OFFSET = STACKS_OFFSET + MAX_CORES * STACK_BYTES;

/** The guest-physical window in which MapEptpList may place EPTP-list pages:
 *  [guestBytes, guestBytes + EPTP_WINDOW_BYTES). One 2 MiB-aligned EPT page table covers it. */
export const EPTP_WINDOW_BYTES = PAGE_2M;

export interface RootkernelConfig {
  /** Bytes at the top of host memory kept for the Rootkernel (multiple of 2 MiB). */
  reservedBytes?: number;
  /** L1TF: flush the L1D (WRMSR IA32_FLUSH_CMD) before every VM entry, as KVM's
   *  l1tf=flush, Fiasco (vm_vmx_ept.cpp Vm_vmx_ept::vm_entry) and Zircon (hypervisor/vcpu.cc)
   *  do on CPUs affected by L1TF. Off by default. */
  l1dFlush?: boolean;
  /** Page size of the base EPT (ept.ts buildBaseEpt): '1g' (default, the paper's choice: a
   *  1 GiB page for every whole GiB of guest RAM, 2 MiB pages in the GiB holding the
   *  boundary), '2m' or '4k' (every page that size). */
  eptPages?: EptPages;
  /** The "enable VPID" secondary control (SDM Vol. 3C §25.6.2), on by default with VPID 1.
   *  Off, the guest's translations carry VPID 0, like the host's, and every VM exit and VM
   *  entry invalidates the linear and combined mappings of VPID 0 for all PCIDs and EP4TAs
   *  (SDM Vol. 3C §29.1, §29.4.3.1; §28.1 and §28.3.3.1 in editions before 2024). */
  vpid?: boolean;
}

export type EptPages = '1g' | '2m' | '4k';
export const EPT_PAGES: readonly EptPages[] = ['1g', '2m', '4k'];

export interface Layout {
  /** Guest RAM is [0, guestBytes), mapped 1:1 by the base EPT. */
  readonly guestBytes: number;
  /** The base EPT's page size (RootkernelConfig.eptPages). */
  readonly eptPages: EptPages;
  /** = guestBytes: the first host-physical byte of the Rootkernel's region. */
  readonly regionBase: number;
  readonly regionEnd: number;
  /** Code (handler bodies and the exact bytes of the VMX instructions it executes). */
  readonly code: number;
  readonly codeBytes: number;
  /** The root-mode IDT (every gate at the fatal handler: the Rootkernel must not fault). */
  readonly idt: number;
  /** Globals: the upcall entry (8 bytes at +0). */
  readonly data: number;
  /** MAX_VIEWS eight-byte EPTPs. */
  readonly viewTable: number;
  /** The frame pool [framesBase, regionEnd). */
  readonly framesBase: number;
  /** The EPTP-list window, guest-physical. */
  readonly windowBase: number;
  readonly windowEnd: number;
}

export class LayoutError extends RangeError {
  constructor(msg: string) {
    super(`rootkernel layout: ${msg}`);
    this.name = 'LayoutError';
  }
}

/** Computes (and validates) the layout for a machine with `memBytes` of host memory. */
export function computeLayout(memBytes: number, cfg: RootkernelConfig = {}): Layout {
  const reserved = cfg.reservedBytes ?? DEFAULT_RESERVED_BYTES;
  if (!Number.isInteger(reserved) || reserved % PAGE_2M !== 0) {
    // A boundary inside a 2 MiB page would force 4 KiB pages into the base EPT.
    throw new LayoutError(`reservedBytes ${hex(reserved)} must be a multiple of 2 MiB`);
  }
  if (reserved < MIN_RESERVED_BYTES) {
    throw new LayoutError(
      `reservedBytes ${hex(reserved)} below the minimum ${hex(MIN_RESERVED_BYTES)}`,
    );
  }
  const guestBytes = memBytes - reserved;
  if (guestBytes < PAGE_2M) {
    throw new LayoutError(
      `machine memory ${hex(memBytes)} leaves no guest RAM after ${hex(reserved)}`,
    );
  }
  const eptPages = cfg.eptPages ?? '1g';
  if (!EPT_PAGES.includes(eptPages)) {
    throw new LayoutError(`eptPages ${String(eptPages)}: one of ${EPT_PAGES.join(', ')}`);
  }
  if (cfg.vpid !== undefined && typeof cfg.vpid !== 'boolean') {
    throw new LayoutError(`vpid ${String(cfg.vpid)}: true or false`);
  }
  const base = guestBytes;
  return {
    guestBytes,
    eptPages,
    regionBase: base,
    regionEnd: memBytes,
    code: base + CODE_OFFSET,
    codeBytes: CODE_BYTES,
    idt: base + IDT_OFFSET,
    data: base + DATA_OFFSET,
    viewTable: base + VIEW_TABLE_OFFSET,
    framesBase: base + FRAMES_OFFSET,
    windowBase: guestBytes,
    windowEnd: guestBytes + EPTP_WINDOW_BYTES,
  };
}

/** Top of core `i`'s root-mode stack (16-byte aligned). */
export function stackTop(l: Layout, core: number): number {
  if (core >= MAX_CORES) throw new LayoutError(`core ${core}: at most ${MAX_CORES} cores`);
  return l.regionBase + STACKS_OFFSET + (core + 1) * STACK_BYTES;
}

/** Whether [0, guestBytes) has a whole GiB at `g` (then one 1 GiB EPT page maps it). */
export function wholeGiB(l: Layout, g: number): boolean {
  return (g + 1) * PAGE_1G <= l.guestBytes;
}
