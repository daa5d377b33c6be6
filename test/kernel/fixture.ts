// Shared set-up for the Subkernel tests: a machine with the seL4 personality booted on the
// Rootkernel, processes that lay out libsel4's stubs (and whatever else a test needs) in
// their text, and a software page-table walker that reads the kernel's tables straight
// from physical memory, independently of the MMU, so a test can look at a process's bytes
// without going through any core.

import { Machine } from '../../src/hw/machine.ts';
import { SKYLAKE } from '../../src/hw/profile.ts';
import type { CodeLayout } from '../../src/kernel/code-layout.ts';
import type { Process } from '../../src/kernel/process.ts';
import { Sel4, type Sel4Options } from '../../src/kernel/sel4/sel4.ts';
import { Sel4Lib } from '../../src/kernel/sel4/libsel4.ts';
import { DEFAULT_CONFIG, Subkernel, type SubkernelConfig } from '../../src/kernel/subkernel.ts';

export interface BootOptions extends Partial<SubkernelConfig> {
  cores?: number;
  fastpath?: boolean;
}

export interface Booted {
  m: Machine;
  k: Subkernel;
  sel4: Sel4;
}

/** A machine (1 GiB, as sel4bench's experiment uses) running the seL4 Subkernel. */
export function boot(o: BootOptions = {}): Booted {
  const { cores = 2, fastpath = true, ...cfg } = o;
  const m = new Machine({ cores, memoryBytes: 1024 ** 3, profile: SKYLAKE });
  const opts: Sel4Options = { fastpath };
  const sel4 = new Sel4(opts);
  const k = new Subkernel(m, sel4, { ...DEFAULT_CONFIG, ...cfg });
  sel4.attach(k);
  return { m, k, sel4 };
}

export interface Proc<T = Record<string, never>> {
  p: Process;
  lib: Sel4Lib;
  /** Whatever `extra` laid out in the text (blocks, instruction sites). */
  at: T;
}

/** A process whose text holds libsel4's stubs, then what `extra` lays out. */
export function proc<T = Record<string, never>>(
  k: Subkernel,
  name: string,
  extra?: (t: CodeLayout) => T,
  opts: { textBytes?: number; dataBytes?: number } = {},
): Proc<T> {
  let lib!: Sel4Lib;
  let at = {} as T;
  const p = k.createProcess(
    name,
    (t) => {
      lib = Sel4Lib.layout(t);
      if (extra) at = extra(t);
    },
    opts,
  );
  return { p, lib, at };
}

const TWO32 = 2 ** 32;
/** Physical address bits 51:12 of a page-table entry read as two 32-bit halves. */
const frameOf = (lo: number, hi: number): number => (hi & 0xfffff) * TWO32 + (lo & 0xffff_f000);

/**
 * Walks the 4-level table at `root` (guest-physical = host-physical under the base EPT)
 * for linear address `la`, reading memory directly. Returns the physical address or null
 * when some level is not present.
 */
export function walk(m: Machine, root: number, la: number): number | null {
  let table = root;
  for (let level = 3; level >= 0; level--) {
    const index = Math.floor(la / 2 ** (12 + 9 * level)) % 512;
    const lo = m.mem.read32(table + index * 8);
    const hi = m.mem.read32(table + index * 8 + 4);
    if ((lo & 1) === 0) return null;
    const pageBits = 12 + 9 * level;
    if (level === 0 || (level <= 2 && (lo & 0x80) !== 0)) {
      const base = frameOf(lo, hi);
      const pageBase = base - (base % 2 ** pageBits);
      return pageBase + (la % 2 ** pageBits);
    }
    table = frameOf(lo, hi);
  }
  return null;
}

/** Physical bytes of `p` at user address `la` (which must be mapped). */
export function peek(m: Machine, p: Process, la: number, n: number): Uint8Array {
  const pa = walk(m, p.space.userRoot, la);
  if (pa === null) throw new Error(`${p.name}: ${la.toString(16)} not mapped`);
  return m.mem.readBytes(pa, n);
}
