// Page tables in guest memory, in the x86-64 format, built by the kernel. Every address
// space shares the kernel half (PML4 entries 256-511 point at the kernel's own PDPTs).
// With KPTI, a process has two roots: the user one maps its user half plus only what the
// CPU needs at a kernel entry (the entry text, the IDT, the interrupt stacks), and the
// kernel runs on its own root (seL4's "SKIM window", Linux's PTI).
//
// Tables are written while loading (uncharged, like a boot loader's work); the cost of
// walking them at run time is the machine's.

import { PAGE_1G, PAGE_4K, PageSize } from '../hw/addr.ts';
import type { PhysicalMemory } from '../hw/phys-mem.ts';
import {
  FrameAllocator,
  mapGuestPage,
  mapGuestRange,
  unmapGuestPage,
  type GuestFlags,
} from '../hw/page-table-writer.ts';
import { KERNEL_TEXT, KERNEL_TEXT_BYTES, PHYSMAP_BASE } from './layout.ts';

/** Guest-physical frames for the kernel's own use (tables, objects, user pages). */
export class GuestFrames {
  readonly alloc: FrameAllocator;
  constructor(
    readonly mem: PhysicalMemory,
    base: number,
    limit: number,
  ) {
    // Guest-physical = host-physical for guest RAM under the Rootkernel's 1:1 base EPT.
    this.alloc = new FrameAllocator(mem, base, limit);
  }

  frame(): number {
    return this.alloc.alloc();
  }

  /** The next frame's address: it only grows (frames are never given back). */
  get used(): number {
    return this.alloc.used;
  }

  /** `n` contiguous zeroed frames. */
  frames(n: number): number {
    const first = this.alloc.alloc();
    for (let i = 1; i < n; i++) this.alloc.alloc();
    return first;
  }
}

export class KernelSpace {
  /** The kernel's own root: the kernel half only. */
  readonly pml4: number;
  readonly textGpa: number;

  constructor(
    readonly frames: GuestFrames,
    guestBytes: number,
    text: Uint8Array,
  ) {
    const mem = frames.mem;
    this.pml4 = frames.frame();
    for (let gpa = 0; gpa < guestBytes; gpa += PAGE_1G) {
      mapGuestPage(mem, frames.alloc, this.pml4, PHYSMAP_BASE + gpa, gpa, PageSize.Size1G, {
        writable: true,
        noExec: true,
        global: true,
      });
    }
    this.textGpa = frames.frames(KERNEL_TEXT_BYTES / PAGE_4K);
    mem.writeBytes(this.textGpa, text);
    // Kernel text: read-only, executable, global; never writable.
    mapGuestRange(mem, frames.alloc, this.pml4, KERNEL_TEXT, this.textGpa, KERNEL_TEXT_BYTES, {
      global: true,
    });
  }

  /** Copies the kernel half of the root into a new root. */
  shareInto(root: number): void {
    const mem = this.frames.mem;
    for (let i = 256; i < 512; i++) {
      mem.write32(root + i * 8, mem.read32(this.pml4 + i * 8));
      mem.write32(root + i * 8 + 4, mem.read32(this.pml4 + i * 8 + 4));
    }
  }
}

export interface KptiWindow {
  /** Kernel-half linear ranges (la, gpa, len) the CPU touches before the entry switches CR3. */
  ranges: { la: number; gpa: number; len: number; flags: GuestFlags }[];
}

export class AddressSpace {
  /** Root the process's threads run on in user mode. */
  readonly userRoot: number;
  /** Root the kernel runs on while serving this process (the same without KPTI). */
  readonly kernelRoot: number;

  constructor(
    readonly kernel: KernelSpace,
    /** The PCID (seL4: the ASID) of this address space, 1..2047. */
    readonly asid: number,
    kpti: KptiWindow | null,
  ) {
    const frames = kernel.frames;
    if (kpti === null) {
      this.userRoot = frames.frame();
      kernel.shareInto(this.userRoot);
      this.kernelRoot = this.userRoot;
    } else {
      this.userRoot = frames.frame();
      this.kernelRoot = kernel.pml4;
      for (const r of kpti.ranges)
        mapGuestRange(frames.mem, frames.alloc, this.userRoot, r.la, r.gpa, r.len, r.flags);
    }
  }

  /** Maps user pages [la, la+len) to guest frames from `gpa`. */
  map(la: number, gpa: number, len: number, f: GuestFlags): void {
    if (la >= PHYSMAP_BASE)
      throw new RangeError(`user mapping ${la.toString(16)} in the kernel half`);
    mapGuestRange(this.kernel.frames.mem, this.kernel.frames.alloc, this.userRoot, la, gpa, len, {
      ...f,
      user: true,
    });
  }

  /** Removes the user page at `la`; false if it was not mapped. */
  unmap(la: number): boolean {
    if (la >= PHYSMAP_BASE)
      throw new RangeError(`user unmapping ${la.toString(16)} in the kernel half`);
    return unmapGuestPage(this.kernel.frames.mem, this.kernel.frames.alloc, this.userRoot, la);
  }
}
