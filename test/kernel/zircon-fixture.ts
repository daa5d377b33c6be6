// Shared set-up for the Zircon tests: a machine with the Zircon Subkernel, processes that
// lay out libzircon's stubs, and helpers to put bytes in and read them from a program.

import { Machine } from '../../src/hw/machine.ts';
import { SKYLAKE } from '../../src/hw/profile.ts';
import type { Process } from '../../src/kernel/process.ts';
import type { Subkernel, SubkernelConfig } from '../../src/kernel/subkernel.ts';
import { ZirconLib } from '../../src/kernel/zircon/libzircon.ts';
import { bootZircon, type Zircon } from '../../src/kernel/zircon/zircon.ts';

export interface ZxBooted {
  m: Machine;
  k: Subkernel;
  zircon: Zircon;
}

export function bootZx(o: Partial<SubkernelConfig> & { cores?: number } = {}): ZxBooted {
  const { cores = 2, ...cfg } = o;
  const m = new Machine({ cores, memoryBytes: 1024 ** 3, profile: SKYLAKE });
  const { k, zircon } = bootZircon(m, cfg);
  return { m, k, zircon };
}

export function zxProc(
  k: Subkernel,
  name: string,
  opts: { dataBytes?: number } = {},
): { p: Process; lib: ZirconLib } {
  let lib!: ZirconLib;
  const p = k.createProcess(name, (t) => (lib = ZirconLib.layout(t)), opts);
  return { p, lib };
}
