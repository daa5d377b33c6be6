// Host throughput of the storage stack: simulated YCSB operations (SQLite over the FS and
// RAM-disk servers) per host second, on seL4 with its own IPC and with SkyBridge. Steady
// state: the same run with 50 and with 250 operations after the same load, the difference
// divided by 200, so boot, load and set-up cancel out. Wall-clock time measures only the
// simulator; it never enters a simulated figure.

import { performance } from 'node:perf_hooks';
import { SKYLAKE } from '../src/hw/profile.ts';
import { runYcsb } from '../src/experiments/sqlite-ycsb.ts';

function seconds(fn: () => void): number {
  const t0 = performance.now();
  fn();
  return (performance.now() - t0) / 1000;
}

export async function bench(): Promise<void> {
  for (const transport of ['native', 'skybridge'] as const) {
    const run = (operations: number): void =>
      void runYcsb(SKYLAKE, { kernel: 'seL4', transport, workload: 'a', records: 100, operations });
    run(20); // warm the JIT
    const short = seconds(() => run(50));
    const long = seconds(() => run(250));
    const perOp = (long - short) / 200;
    console.log(
      `YCSB A on SQLite over the storage stack, seL4, ${transport.padEnd(9)} ${(1 / perOp).toFixed(0).padStart(6)} operations/s`,
    );
  }
}
