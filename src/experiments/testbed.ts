// A bare VMX guest on the machine, for microbenchmarks of the hardware primitives before
// any kernel runs: host page tables and IDT for root mode, an EPT (1 GiB or 4 KiB pages),
// a guest kernel page table and, with KPTI, a separate user page table (the user one maps
// only user pages and the kernel's entry text, as Linux's KPTI does). All structures are
// real bytes in simulated memory; code areas hold the real encodings of what runs there.

import { writeIdtGate } from '../hw/idt.ts';
import { PAGE_1G, PAGE_4K, PageSize } from '../hw/addr.ts';
import type { Core } from '../hw/core.ts';
import { ENC } from '../hw/encodings.ts';
import { Machine } from '../hw/machine.ts';
import {
  FrameAllocator,
  identityEpt1G,
  identityEpt4K,
  mapGuestPage,
  mapGuestRange,
  type GuestFlags,
} from '../hw/page-table-writer.ts';
import type { CpuProfile } from '../hw/profile-schema.ts';
import { Vmcs, makeEptp } from '../hw/vmcs.ts';
import { vmEntry, vmxonAndLoad } from '../hw/vmx.ts';
import type { PhysicalMemory } from '../hw/phys-mem.ts';

const MEM = 96 * 1024 * 1024;
const GUEST_TABLES = 0x10_0000;
const GUEST_FRAMES = 0x100_0000;
const HOST_CODE = 0x400_0000;
const HOST_IDT = 0x410_0000;
const HOST_STACK = 0x420_0000;
const HOST_FRAMES = 0x480_0000;

export const USER_CODE = 0x40_0000;
export const USER_DATA = 0x60_0000;
export const KERNEL_TEXT = 0x8000_0000_0000;
export const KERNEL_DATA = 0x8000_0010_0000;
export const KERNEL_IDT = 0x8000_0020_0000;
export const KERNEL_STACK_TOP = 0x8000_0030_0000;
/** PCIDs as Linux's KPTI assigns them: the user half's PCID has bit 11 set. */
export const KERNEL_PCID = 1;
export const USER_PCID = 1 | 0x800;

export interface TestbedOptions {
  profile: CpuProfile;
  ept4k?: boolean;
  kpti?: boolean;
  pcid?: boolean;
  userDataPages?: number;
  /** Privilege the guest starts in (3 by default). */
  startCpl?: 0 | 3;
}

/** Bytes written at successive addresses of one code area. */
export class CodeArea {
  private cursor: number;
  constructor(
    private readonly mem: PhysicalMemory,
    private readonly toHpa: (la: number) => number,
    base: number,
  ) {
    this.cursor = base;
  }
  /** Places `enc` and returns its address. */
  emit(enc: readonly number[]): number {
    const at = this.cursor;
    for (let i = 0; i < enc.length; i++) this.mem.write8(this.toHpa(at + i), enc[i]!);
    this.cursor += enc.length;
    return at;
  }
}

export class Testbed {
  readonly m: Machine;
  readonly core: Core;
  readonly vmcs: Vmcs;
  readonly host: FrameAllocator;
  readonly eptpList: number;
  readonly eptRoot: number;
  /** Guest CR3 values (PCID in bits 11:0 when enabled). */
  readonly kernelCr3: number;
  readonly userCr3: number;
  readonly userCode: CodeArea;
  readonly kernelText: CodeArea;
  readonly hostCode: CodeArea;
  private readonly tables: FrameAllocator;
  private frames = GUEST_FRAMES;
  private readonly kernelPml4: number;
  private readonly userPml4: number;

  constructor(o: TestbedOptions) {
    this.m = new Machine({ cores: 1, memoryBytes: MEM, profile: o.profile });
    const mem = this.m.mem;
    this.core = this.m.core(0);
    this.host = new FrameAllocator(mem, HOST_FRAMES, MEM);
    this.tables = new FrameAllocator(mem, GUEST_TABLES, GUEST_FRAMES);
    const hostPml4 = this.host.alloc();
    mapGuestPage(mem, this.host, hostPml4, 0, 0, PageSize.Size1G, { writable: true });
    this.eptRoot = o.ept4k
      ? identityEpt4K(mem, this.host, MEM)
      : identityEpt1G(mem, this.host, PAGE_1G);
    this.kernelPml4 = this.tables.alloc();
    this.userPml4 = o.kpti ? this.tables.alloc() : this.kernelPml4;
    const pcid = o.pcid ?? o.kpti ?? false;
    this.kernelCr3 = this.kernelPml4 + (pcid ? KERNEL_PCID : 0);
    this.userCr3 = this.userPml4 + (pcid && o.kpti ? USER_PCID : pcid ? KERNEL_PCID : 0);

    const user = { user: true };
    this.map(USER_CODE, 4 * PAGE_4K, user, true);
    this.map(
      USER_DATA,
      (o.userDataPages ?? 16) * PAGE_4K,
      { user: true, writable: true, noExec: true },
      true,
    );
    // The kernel's entry text is mapped in the user table too (KPTI's trampoline).
    this.map(KERNEL_TEXT, 4 * PAGE_4K, { global: !o.kpti }, true);
    this.map(KERNEL_DATA, 16 * PAGE_4K, { writable: true, noExec: true, global: !o.kpti }, false);
    this.map(KERNEL_IDT, PAGE_4K, { noExec: true }, true);
    this.map(KERNEL_STACK_TOP - 4 * PAGE_4K, 4 * PAGE_4K, { writable: true, noExec: true }, true);

    this.userCode = new CodeArea(mem, (la) => this.gpaOf(la), USER_CODE);
    this.kernelText = new CodeArea(mem, (la) => this.gpaOf(la), KERNEL_TEXT);
    this.hostCode = new CodeArea(mem, (la) => la, HOST_CODE);
    const kHandler = this.kernelText.emit([0x0f, 0x0b]); // UD2: a fault handler stub
    for (let v = 0; v < 32; v++) writeIdtGate(mem, this.gpaOf(KERNEL_IDT) + v * 16, kHandler);
    const hHandler = this.hostCode.emit([0x0f, 0x0b]);
    for (let v = 0; v < 32; v++) writeIdtGate(mem, HOST_IDT + v * 16, hHandler);

    const v = new Vmcs(this.host.alloc() as never);
    this.vmcs = v;
    this.eptpList = this.host.alloc();
    const eptp = makeEptp(this.eptRoot);
    mem.write64n(this.eptpList, eptp);
    v.eptp = eptp;
    v.enableEpt = true;
    v.enableVpid = true;
    v.vpid = 1;
    v.enableVmFunctions = true;
    v.vmFunctionControls = 1;
    v.eptpListAddress = this.eptpList;
    v.guestCr3 = o.startCpl === 0 ? this.kernelCr3 : this.userCr3;
    v.guestCpl = o.startCpl ?? 3;
    v.guestIdtBase = KERNEL_IDT;
    v.guestRsp0 = KERNEL_STACK_TOP;
    v.guestRip = USER_CODE;
    v.hostCr3 = hostPml4;
    v.hostRsp = HOST_STACK;
    const c = this.core;
    c.cr3 = hostPml4;
    c.pcide = pcid;
    c.idtBase = HOST_IDT;
    c.rsp0 = HOST_STACK;
    c.syncContext();
    vmxonAndLoad(c, v);
    v.hostRip = this.hostCode.emit([0x90]);
    vmEntry(c, this.hostCode.emit(ENC.vmlaunch), false);
  }

  /** Maps [la, la+len) to fresh guest frames, in the kernel table and, if `inUser`, the user one. */
  map(la: number, len: number, f: GuestFlags, inUser: boolean): number {
    const pa = this.frames;
    this.frames += len;
    mapGuestRange(this.m.mem, this.tables, this.kernelPml4, la, pa, len, f);
    if (inUser && this.userPml4 !== this.kernelPml4)
      mapGuestRange(this.m.mem, this.tables, this.userPml4, la, pa, len, f);
    return pa;
  }

  /** The guest-physical address behind `la` in the kernel table (identity EPT: also the HPA). */
  gpaOf(la: number): number {
    const mem = this.m.mem;
    let table = this.kernelPml4;
    for (const shift of [39, 30, 21, 12]) {
      const at = table + (Math.floor(la / 2 ** shift) % 512) * 8;
      const lo = mem.read32(at);
      const addr = (mem.read32(at + 4) & 0xfffff) * 2 ** 32 + ((lo & 0xffff_f000) >>> 0);
      if ((lo & 1) === 0) throw new RangeError(`testbed: ${la.toString(16)} not mapped`);
      if (shift === 12 || (lo & 0x80) !== 0) return addr + (la % 2 ** shift);
      table = addr;
    }
    throw new Error('unreachable');
  }

  /** Adds an identity EPT (1 GiB pages) at EPTP-list index `i`. */
  addEpt(i: number): number {
    const root = identityEpt1G(this.m.mem, this.host, PAGE_1G);
    this.m.mem.write64n(this.eptpList + i * 8, makeEptp(root));
    return root;
  }
}
