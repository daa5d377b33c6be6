// A minimal guest on the Rootkernel, built as a Subkernel's boot would build it: two page
// tables in guest RAM (a "client" and a "server" process, sharing the kernel half), an IDT,
// kernel stacks, and code pages holding the real bytes of the instructions the tests run.
// Under the base EPT guest-physical = host-physical in guest RAM, so boot-time writes go
// straight to memory (uncharged); everything after launch goes through a core.

import { writeIdtGate } from '../../src/hw/idt.ts';
import { PAGE_1G, PAGE_4K, PageSize } from '../../src/hw/addr.ts';
import { type Core, R } from '../../src/hw/core.ts';
import { ENC } from '../../src/hw/encodings.ts';
import { Machine } from '../../src/hw/machine.ts';
import {
  FrameAllocator,
  mapGuestPage,
  mapGuestRange,
  type GuestFlags,
} from '../../src/hw/page-table-writer.ts';
import { SKYLAKE } from '../../src/hw/profile.ts';
import { Trap } from '../../src/hw/traps.ts';
import { sysret } from '../../src/hw/isa.ts';
import { Rootkernel, type ExitOutcome } from '../../src/rootkernel/rootkernel.ts';
import type { RootkernelConfig } from '../../src/rootkernel/layout.ts';

export const GIB = PAGE_1G;
export const MIB = 1024 * 1024;

export const USER_CODE = 0x40_0000;
export const USER_DATA = 0x60_0000;
/** A user page whose guest-physical frame is inside the Rootkernel's region. */
export const USER_EVIL = 0x70_0000;
export const KERNEL_CODE = 0x8000_0000_0000;
export const IDT = 0x8000_0020_0000;
export const KSTACK_TOP = 0x8000_0030_0000;
/** The kernel's direct map of guest-physical [0, 2 GiB), 1 GiB pages, like Linux's. */
export const PHYSMAP = 0x4000_0000_0000;
/** Every IDT gate leads here. */
export const GATE_HANDLER = KERNEL_CODE + 0x800;
export const UPCALL = KERNEL_CODE + 0xc00;
export const CLIENT_VALUE = 0x1111_1111;
export const SERVER_VALUE = 0x2222_2222;

const TABLES = 0x100_0000;
const DATA = 0x200_0000;

export interface FixtureOptions {
  cores?: number;
  memoryBytes?: number;
  rk?: RootkernelConfig;
}

export class Fixture {
  readonly m: Machine;
  readonly rk: Rootkernel;
  readonly clientRoot: number;
  readonly serverRoot: number;
  readonly clientData: number;
  readonly serverData: number;
  /** Code sites (linear addresses holding the instruction's bytes). */
  readonly site: Record<'vmcall' | 'cpuid' | 'movCr3' | 'sysret' | 'wrmsr' | 'kvmfunc', number> &
    Record<'uvmfunc' | 'usyscall' | 'ucpuid' | 'ucode', number>;
  private readonly tables: FrameAllocator;
  private dataNext = DATA;
  private kcode = KERNEL_CODE;
  private ucode = USER_CODE;

  constructor(o: FixtureOptions = {}) {
    this.m = new Machine({
      cores: o.cores ?? 2,
      memoryBytes: o.memoryBytes ?? 2 * GIB,
      profile: SKYLAKE,
    });
    this.rk = new Rootkernel(this.m, o.rk);
    const mem = this.m.mem;
    this.tables = new FrameAllocator(mem, TABLES, DATA);
    this.clientRoot = this.tables.alloc();
    this.serverRoot = this.tables.alloc();
    const both = [this.clientRoot, this.serverRoot];
    // Kernel half, identical in both.
    const kcodePa = this.frames(2);
    const idtPa = this.frames(1);
    const cores = this.m.cores.length;
    const stackPa = this.frames(2 * cores);
    for (const root of both) {
      this.map(root, KERNEL_CODE, kcodePa, 2, { global: true });
      this.map(root, IDT, idtPa, 1, { noExec: true, global: true });
      this.map(root, KSTACK_TOP - 2 * cores * PAGE_4K, stackPa, 2 * cores, {
        writable: true,
        noExec: true,
      });
      for (let g = 0; g < 2; g++) {
        mapGuestPage(mem, this.tables, root, PHYSMAP + g * GIB, g * GIB, PageSize.Size1G, {
          writable: true,
          noExec: true,
        });
      }
    }
    // User half: shared code at the same address (like a trampoline), data that differs.
    const ucodePa = this.frames(1);
    this.clientData = this.frames(1);
    this.serverData = this.frames(1);
    for (const root of both) this.map(root, USER_CODE, ucodePa, 1, { user: true });
    this.map(this.clientRoot, USER_DATA, this.clientData, 1, { user: true, writable: true });
    this.map(this.serverRoot, USER_DATA, this.serverData, 1, { user: true, writable: true });
    this.map(this.clientRoot, USER_EVIL, this.rk.guestBytes + 0x10_0000, 1, {
      user: true,
      writable: true,
      noExec: true,
    });
    mem.write32(this.clientData, CLIENT_VALUE);
    mem.write32(this.serverData, SERVER_VALUE);
    for (let v = 0; v < 256; v++) writeIdtGate(mem, idtPa + v * 16, GATE_HANDLER);
    this.site = {
      vmcall: this.kernelCode(ENC.vmcall),
      cpuid: this.kernelCode(ENC.cpuid),
      movCr3: this.kernelCode(ENC.movCr3Rax),
      sysret: this.kernelCode(ENC.sysretq),
      wrmsr: this.kernelCode(ENC.wrmsr),
      kvmfunc: this.kernelCode(ENC.vmfunc),
      uvmfunc: this.userCode(ENC.vmfunc),
      usyscall: this.userCode(ENC.syscall),
      ucpuid: this.userCode(ENC.cpuid),
      ucode: this.userCode([0x90, 0x90, 0x90, 0x90]),
    };
  }

  /** Kernel stack top of core `i`. */
  kstack(i: number): number {
    return KSTACK_TOP - i * 2 * PAGE_4K;
  }

  /** Launches `core` into the guest kernel (CPL 0, client page table). */
  launch(core: Core): void {
    core.lstar = GATE_HANDLER;
    this.rk.launch(core, {
      cr3: this.clientRoot,
      rip: KERNEL_CODE + 0x100,
      rsp: this.kstack(core.id) - 0x100,
      idtBase: IDT,
      rsp0: this.kstack(core.id),
    });
  }

  launchAll(): void {
    for (const c of this.m.cores) this.launch(c);
  }

  /** VMCALL from the guest kernel, handled by the Rootkernel; returns RAX. */
  hc(core: Core, call: number, ...args: number[]): number {
    return this.rk.call(core, this.site.vmcall, call, ...args);
  }

  /** Drops `core` to user mode at `rip` with SYSRET (as the Subkernel would). */
  toUser(core: Core, rip = this.site.ucode): void {
    core.regs.set(R.RCX, rip);
    core.regs.set(R.R11, 0x2);
    sysret(core, this.site.sysret);
  }

  /** Runs `fn`, which must end in a VM exit, and lets the Rootkernel handle it. */
  exit(core: Core, fn: () => void): ExitOutcome {
    const t = trapOf(fn);
    if (t === undefined || t.event.kind !== 'vmexit') {
      throw new Error(`expected a VM exit, got ${t === undefined ? 'nothing' : t.message}`);
    }
    return this.rk.handleExit(core, t);
  }

  private frames(n: number): number {
    const pa = this.dataNext;
    this.dataNext += n * PAGE_4K;
    return pa;
  }

  private map(root: number, la: number, pa: number, pages: number, f: GuestFlags): void {
    mapGuestRange(this.m.mem, this.tables, root, la, pa, pages * PAGE_4K, f);
  }

  private kernelCode(enc: readonly number[]): number {
    const at = this.kcode;
    this.m.mem.writeBytes(guestPa(this.m, this.clientRoot, at), Uint8Array.from(enc));
    this.kcode += 16;
    return at;
  }

  private userCode(enc: readonly number[]): number {
    const at = this.ucode;
    this.m.mem.writeBytes(guestPa(this.m, this.clientRoot, at), Uint8Array.from(enc));
    this.ucode += 16;
    return at;
  }
}

/** Runs `fn` and returns the Trap it throws (undefined if none; other errors propagate). */
export function trapOf(fn: () => void): Trap | undefined {
  try {
    fn();
  } catch (e) {
    if (e instanceof Trap) return e;
    throw e;
  }
  return undefined;
}

/** The guest-physical address behind `la` in the table at `root` (uncharged walk). */
export function guestPa(m: Machine, root: number, la: number): number {
  let table = root;
  for (const shift of [39, 30, 21, 12]) {
    const e = readEntry(m, table + (Math.floor(la / 2 ** shift) % 512) * 8);
    if ((e & 1) === 0) throw new Error(`${la.toString(16)} not mapped`);
    const addr = e - (e % PAGE_4K);
    if (shift === 12 || (e & 0x80) !== 0) return addr - (addr % 2 ** shift) + (la % 2 ** shift);
    table = addr;
  }
  throw new Error('unreachable');
}

/** An 8-byte entry as a number (bit 63, XD, folded in as 2^63; fine for the low bits). */
export function readEntry(m: Machine, at: number): number {
  return (m.mem.read32(at + 4) & 0x7fff_ffff) * 2 ** 32 + m.mem.read32(at);
}

/** The host-physical address `gpa` maps to under the EPT at `root`, or -1 (uncharged). */
export function eptLookup(m: Machine, root: number, gpa: number): number {
  let table = root;
  const spans = [0, PAGE_4K, 2 * MIB, GIB, 512 * GIB];
  for (let level = 4; level >= 1; level--) {
    const e = readEntry(m, table + (Math.floor(gpa / spans[level]!) % 512) * 8);
    if ((e & 7) === 0) return -1;
    const addr = e - (e % PAGE_4K);
    if (level === 1 || (e & 0x80) !== 0) return addr + (gpa % spans[level]!);
    table = addr;
  }
  return -1;
}
