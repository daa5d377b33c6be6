// A small guest for the machine's tests: one core in VMX non-root mode with an EPT, a
// guest page table, code pages holding real instruction bytes, data pages, an IDT and a
// kernel stack. Everything is built in simulated memory in the architectural formats.

import { writeIdtGate } from '../../src/hw/idt.ts';
import { PAGE_1G, PAGE_4K, PageSize } from '../../src/hw/addr.ts';
import { ENC } from '../../src/hw/encodings.ts';
import { Machine, type MachineConfig } from '../../src/hw/machine.ts';
import {
  FrameAllocator,
  mapEptPage,
  mapGuestPage,
  mapGuestRange,
  identityEpt1G,
  identityEpt4K,
  type GuestFlags,
} from '../../src/hw/page-table-writer.ts';
import { Vmcs, makeEptp } from '../../src/hw/vmcs.ts';
import { vmEntry, vmxonAndLoad } from '../../src/hw/vmx.ts';
import type { Core } from '../../src/hw/core.ts';
import { SKYLAKE } from '../../src/hw/profile.ts';

export const MEM = 64 * 1024 * 1024;
/** Guest page-table frames (GPA = HPA under the identity EPT). */
const GUEST_TABLES = 0x10_0000;
/** Host frames: EPTs, VMCS, EPTP list, host page tables. */
const HOST_FRAMES = 0x300_0000;
/** Guest data frames. */
export const GUEST_DATA_PA = 0x100_0000;

export const USER_CODE = 0x40_0000;
export const USER_DATA = 0x60_0000;
export const KERNEL_CODE = 0x8000_0000_0000;
export const KERNEL_DATA = 0x8000_0010_0000;
export const IDT = 0x8000_0020_0000;
export const KSTACK_TOP = 0x8000_0030_0000;
export const HOST_CODE = 0x200_0000;
const HOST_IDT = 0x280_0000;

export interface GuestOptions {
  ept4k?: boolean;
  vpid?: boolean;
  pcide?: boolean;
  vmFunctions?: boolean;
  cores?: number;
  cpl?: 0 | 3;
  machine?: Partial<MachineConfig>;
}

export class Guest {
  readonly m: Machine;
  readonly core: Core;
  readonly host: FrameAllocator;
  readonly tables: FrameAllocator;
  readonly vmcs: Vmcs;
  readonly eptRoot: number;
  readonly pml4: number;
  readonly eptpList: number;
  private codeCursor = USER_CODE;
  private kcodeCursor = KERNEL_CODE;
  private hostCursor = HOST_CODE;
  private dataNext = GUEST_DATA_PA;

  constructor(o: GuestOptions = {}) {
    this.m = new Machine({ cores: o.cores ?? 1, memoryBytes: MEM, profile: SKYLAKE, ...o.machine });
    this.core = this.m.core(0);
    const mem = this.m.mem;
    this.host = new FrameAllocator(mem, HOST_FRAMES, MEM);
    this.tables = new FrameAllocator(mem, GUEST_TABLES, GUEST_DATA_PA);
    // Host (root-mode) identity page table with 1 GiB pages, for the VMM's own code.
    const hostPml4 = this.host.alloc();
    mapGuestPage(mem, this.host, hostPml4, 0, 0, PageSize.Size1G, { writable: true });
    this.eptRoot = o.ept4k
      ? identityEpt4K(mem, this.host, MEM)
      : identityEpt1G(mem, this.host, PAGE_1G);
    this.pml4 = this.tables.alloc();
    // Guest mappings.
    this.mapData(USER_CODE, 2 * PAGE_4K, { user: true });
    this.mapData(USER_DATA, 16 * PAGE_4K, { user: true, writable: true, noExec: true });
    this.mapData(KERNEL_CODE, 2 * PAGE_4K, { global: true });
    this.mapData(KERNEL_DATA, 4 * PAGE_4K, { writable: true, noExec: true, global: true });
    this.mapData(IDT, PAGE_4K, { noExec: true, global: true });
    this.mapData(KSTACK_TOP - 2 * PAGE_4K, 2 * PAGE_4K, {
      writable: true,
      noExec: true,
      global: true,
    });
    // An IDT whose every gate points at KERNEL_CODE + 0x800.
    for (let v = 0; v < 32; v++) this.writeGate(v, KERNEL_CODE + 0x800);
    // VMX.
    this.vmcs = new Vmcs(this.host.alloc() as never);
    this.eptpList = this.host.alloc();
    const eptp = makeEptp(this.eptRoot);
    mem.write64n(this.eptpList, eptp);
    const v = this.vmcs;
    v.enableEpt = true;
    v.enableVpid = o.vpid ?? true;
    v.vpid = 1;
    v.eptp = eptp;
    v.enableVmFunctions = o.vmFunctions ?? true;
    v.vmFunctionControls = 1;
    v.eptpListAddress = this.eptpList;
    v.guestCr3 = this.pml4 + (o.pcide ? 1 : 0);
    v.guestCpl = o.cpl ?? 3;
    v.hostCr3 = hostPml4;
    v.hostRip = HOST_CODE + 0x100;
    v.hostRsp = HOST_CODE + 0x10_0000;
    const c = this.core;
    c.cr3 = hostPml4;
    c.pcide = o.pcide ?? false;
    // The host's own IDT (identity-mapped) with every gate at HOST_CODE + 0x800.
    c.idtBase = HOST_IDT;
    c.rsp0 = HOST_CODE + 0x10_0000;
    for (let vec = 0; vec < 32; vec++) writeIdtGate(mem, HOST_IDT + vec * 16, HOST_CODE + 0x800);
    v.guestIdtBase = IDT;
    v.guestRsp0 = KSTACK_TOP;
    c.syncContext();
    vmxonAndLoad(c, v);
    const launch = this.hostCode(ENC.vmlaunch);
    v.guestRip = USER_CODE;
    v.guestRsp = KSTACK_TOP - 0x100;
    vmEntry(c, launch, false);
  }

  /**
   * Launches core `i` (of a machine built with `cores` > i) into the same guest: its own
   * VMCS (VPID i + 1, the same EPT, EPTP list and guest page table), the host's IDT and
   * page table for root mode, and a kernel stack page of its own below core 0's.
   */
  launchCore(i: number, cpl: 0 | 3 = 3): Core {
    const c = this.m.core(i);
    const v0 = this.vmcs;
    const v = new Vmcs(this.host.alloc() as never);
    v.enableEpt = true;
    v.enableVpid = v0.enableVpid;
    v.vpid = i + 1;
    v.eptp = makeEptp(this.eptRoot);
    v.enableVmFunctions = v0.enableVmFunctions;
    v.vmFunctionControls = v0.vmFunctionControls;
    v.eptpListAddress = this.eptpList;
    v.guestCr3 = this.pml4 + (this.core.pcide ? 1 : 0);
    v.guestCpl = cpl;
    v.hostCr3 = v0.hostCr3;
    v.hostRip = v0.hostRip;
    v.hostRsp = v0.hostRsp - i * PAGE_4K;
    v.guestIdtBase = IDT;
    v.guestRsp0 = KSTACK_TOP - i * PAGE_4K;
    c.cr3 = v0.hostCr3;
    c.pcide = this.core.pcide;
    c.idtBase = HOST_IDT;
    c.rsp0 = v.hostRsp;
    c.syncContext();
    vmxonAndLoad(c, v);
    v.guestRip = USER_CODE;
    v.guestRsp = KSTACK_TOP - i * PAGE_4K - 0x100;
    vmEntry(c, this.hostCode(ENC.vmlaunch), false);
    return c;
  }

  /** Maps [la, la+len) to fresh guest frames. */
  mapData(la: number, len: number, f: GuestFlags): number {
    const pa = this.dataNext;
    this.dataNext += len;
    mapGuestRange(this.m.mem, this.tables, this.pml4, la, pa, len, f);
    return pa;
  }

  /** The guest-physical (= host-physical under the identity EPT) address behind `la`. */
  resolve(la: number): number {
    const mem = this.m.mem;
    let table = this.pml4;
    for (const shift of [39, 30, 21, 12]) {
      const at = table + (Math.floor(la / 2 ** shift) % 512) * 8;
      const lo = mem.read32(at);
      const hi = mem.read32(at + 4);
      const addr = (hi & 0xfffff) * 2 ** 32 + ((lo & 0xffff_f000) >>> 0);
      if (shift === 12 || (lo & 0x80) !== 0) return addr + (la % 2 ** shift);
      table = addr;
    }
    throw new Error('unreachable');
  }

  /** Writes instruction bytes at the next free user-code address; returns it. */
  userCode(enc: readonly number[]): number {
    const at = this.codeCursor;
    this.m.mem.writeBytes(this.resolve(at), Uint8Array.from(enc));
    this.codeCursor += enc.length;
    return at;
  }

  kernelCode(enc: readonly number[]): number {
    const at = this.kcodeCursor;
    this.m.mem.writeBytes(this.resolve(at), Uint8Array.from(enc));
    this.kcodeCursor += enc.length;
    return at;
  }

  /** Host code lives at its identity address. */
  hostCode(enc: readonly number[]): number {
    const at = this.hostCursor;
    this.m.mem.writeBytes(at, Uint8Array.from(enc));
    this.hostCursor += enc.length;
    return at;
  }

  writeGate(vector: number, handler: number): void {
    writeIdtGate(this.m.mem, this.resolve(IDT) + vector * 16, handler);
  }

  /** Adds an EPT (identity, 1 GiB pages) to the EPTP list at `index`; returns its root. */
  addEpt(index: number, build?: (root: number) => void): number {
    const root = this.host.alloc();
    if (build) build(root);
    else mapEptPage(this.m.mem, this.host, root, 0, 0, PageSize.Size1G);
    this.m.mem.write64n(this.eptpList + index * 8, makeEptp(root));
    return root;
  }
}
