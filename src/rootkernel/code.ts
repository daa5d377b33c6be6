// The Rootkernel's code: where each of its routines sits in its region and how many
// instructions it retires. Handlers are TypeScript; what they cost is charged as code at
// these addresses (Core.exec: instruction fetch through the host page table, ITLB and L1I,
// plus the instructions at their mix's class costs) and as their memory accesses, made
// separately through the core.
// VMREAD/VMWRITE are counted as ordinary instructions (the profile has no figure for them;
// they touch no memory the model sees, the VMCS being held on chip). Loads and stores are not
// in these counts: each memory access made through the core retires its own instruction.
//
// The bytes of a handler body are placeholders (NOPs): the model charges fetches by address
// and never decodes them. The VMX instructions the Rootkernel really executes — VMLAUNCH,
// VMRESUME, INVEPT — are at their own addresses in their exact encodings, because the
// machine runs an architectural instruction only where its bytes are (encodings.ts).

import type { Core } from '../hw/core.ts';
import { ENC } from '../hw/encodings.ts';
import type { PhysicalMemory } from '../hw/phys-mem.ts';
import { Mix } from '../hw/mix.ts';

/** The handlers' mix, an estimate like their counts: register moves, compares, VMREAD and
 *  VMWRITE (no figure in the cost table; charged as ALU operations, as the primitives'
 *  VM exit handler is), and one conditional branch in four. */
const ROOTKERNEL_MIX = new Mix(
  'Rootkernel handlers',
  { alu: 3, branch: 1 },
  'estimate: tight assembly of register moves, compares, VMREAD/VMWRITE (as ALU) and branches',
);

export interface Routine {
  /** Offset from the start of the code area. */
  readonly at: number;
  readonly bytes: number;
  /** Instructions per run (for loops: per iteration). */
  readonly instructions: number;
}

const r = (at: number, bytes: number, instructions: number): Routine => ({
  at,
  bytes,
  instructions,
});

/** Instruction counts are what a tight assembly implementation would retire. */
export const ROUTINES = {
  /** VM-exit entry: (15 GPR stores, made as accesses), VMREAD the exit reason, dispatch. */
  exitEntry: r(0x000, 96, 8),
  /** (15 GPR loads, made as accesses), VMWRITE guest RIP; then VMRESUME. */
  exitPath: r(0x080, 80, 4),
  /** CPUID emulation: read EAX/ECX, select leaf, write four registers. */
  cpuid: r(0x100, 64, 16),
  /** VMCALL: bounds-check RAX, jump table, load arguments. */
  vmcallDispatch: r(0x180, 48, 10),
  /** Per-call fixed work (argument checks, view-table slot, bookkeeping). */
  createView: r(0x200, 64, 14),
  remapPage: r(0x240, 64, 16),
  destroyView: r(0x280, 64, 14),
  bindClientServer: r(0x2c0, 64, 16),
  mapEptpList: r(0x300, 64, 16),
  setUpcall: r(0x340, 32, 6),
  eptpValue: r(0x360, 32, 6),
  /** One EPT level of a walk: index, (load entry), test present/large, extract address. */
  walkStep: r(0x400, 32, 5),
  /** Per entry of a table copy: (load), test non-leaf (recurse), (store), loop. */
  copyLoop: r(0x440, 32, 3),
  /** Per entry of a large-page split: compute address | flags, (store), loop. */
  splitLoop: r(0x480, 24, 3),
  /** Per entry of a new empty table: (store zero), loop. */
  zeroLoop: r(0x4c0, 16, 2),
  /** Per entry of an EPTP-list scan: (load), compare, loop. */
  scanLoop: r(0x500, 16, 2),
  /** EPT violation / failed VMFUNC: VMREAD GPA, GLA, qualification, RIP, RSP, CPL;
   *  VMWRITE RIP, RSP, CPL, RFLAGS, EPTP; set the upcall registers. */
  violation: r(0x580, 96, 26),
  /** Before the L1D flush's WRMSR: MSR number into ECX, the command into EDX:EAX. */
  l1dFlushSetup: r(0x600, 12, 3),
} as const;
export type RoutineName = keyof typeof ROUTINES;

/** Offsets of the instructions executed by their exact bytes. */
export const SITES = {
  vmlaunch: 0x800,
  vmresume: 0x810,
  invept: 0x820,
  /** WRMSR IA32_FLUSH_CMD (RootkernelConfig.l1dFlush). */
  l1dFlush: 0x830,
  /** The root-mode IDT's every gate points here: UD2 (the Rootkernel must not fault). */
  fatal: 0x840,
} as const;

/** Writes the code area at boot (uncharged: it is the Rootkernel's image being loaded). */
export function writeCode(mem: PhysicalMemory, base: number, bytes: number): void {
  mem.fill(base, bytes, 0x90);
  mem.writeBytes(base + SITES.vmlaunch, Uint8Array.from(ENC.vmlaunch));
  mem.writeBytes(base + SITES.vmresume, Uint8Array.from(ENC.vmresume));
  mem.writeBytes(base + SITES.invept, Uint8Array.from(ENC.invept));
  mem.writeBytes(base + SITES.l1dFlush, Uint8Array.from(ENC.wrmsr));
  mem.writeBytes(base + SITES.fatal, Uint8Array.from([0x0f, 0x0b]));
}

/** Runs `name` (`times` iterations for a loop body) on `core`. */
export function run(core: Core, codeBase: number, name: RoutineName, times = 1): void {
  const x = ROUTINES[name];
  core.exec(codeBase + x.at, x.bytes, x.instructions * times, ROOTKERNEL_MIX);
}
