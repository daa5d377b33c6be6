// A seL4 Subkernel with SkyBridge built in, for the SkyBridge tests.
import { Machine } from '../../src/hw/machine.ts';
import { SKYLAKE } from '../../src/hw/profile.ts';
import { Sel4 } from '../../src/kernel/sel4/sel4.ts';
import { DEFAULT_CONFIG, Subkernel, type SubkernelConfig } from '../../src/kernel/subkernel.ts';
import { SkyBridge } from '../../src/skybridge/skybridge.ts';

export function bootSkyBridge(cfg: Partial<SubkernelConfig> = {}, cores = 1) {
  const m = new Machine({ cores, memoryBytes: 1024 ** 3, profile: SKYLAKE });
  const sel4 = new Sel4();
  const sb = new SkyBridge({ seed: 7 });
  const k = new Subkernel(m, sel4, { ...DEFAULT_CONFIG, ...cfg }, [sb]);
  sel4.attach(k);
  return { m, k, sel4, sb };
}
