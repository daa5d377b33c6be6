// Host throughput of whole-system simulation: simulated IPC round trips per second on the
// seL4 Subkernel (fastpath, inter-address-space) and with SkyBridge, machine boot included
// once per run of 80 round trips.

import { performance } from 'node:perf_hooks';
import { SKYLAKE } from '../src/hw/profile.ts';
import { runSel4Bench } from '../src/experiments/sel4bench.ts';
import { runSkyBridgeBench } from '../src/experiments/skybridge-bench.ts';

function rate(label: string, runs: number, perRun: number, fn: () => void): void {
  fn();
  const t0 = performance.now();
  for (let i = 0; i < runs; i++) fn();
  const s = (performance.now() - t0) / 1000;
  console.log(
    `${label.padEnd(58)} ${((runs * perRun) / s).toFixed(0).padStart(8)} round trips/s  (${((s / runs) * 1000).toFixed(1)} ms per boot + 80 round trips)`,
  );
}

export async function bench(): Promise<void> {
  rate('seL4 IPC round trips (fastpath, inter-AS)', 10, 80, () =>
    runSel4Bench(SKYLAKE, { interAs: true, words: 0, kpti: false, pcid: true }),
  );
  rate('SkyBridge round trips (registers)', 10, 80, () =>
    runSkyBridgeBench(SKYLAKE, { bytes: 0, kpti: false, pcid: true }),
  );
}
