// Host throughput of the machine model: simulated memory references per second with TLB
// hits and with TLB misses, and page walks per second. Wall-clock time is used here only
// to measure the simulator; it never enters a simulated figure.

import { performance } from 'node:perf_hooks';
import { SKYLAKE } from '../src/hw/profile.ts';
import { Testbed, USER_DATA } from '../src/experiments/testbed.ts';
import { Access } from '../src/hw/translation-state.ts';
import { C } from '../src/hw/counters.ts';

function rate(label: string, n: number, unit: string, fn: () => void): number {
  fn(); // warm the JIT on a first pass
  const t0 = performance.now();
  fn();
  const s = (performance.now() - t0) / 1000;
  const r = n / s;
  console.log(`${label.padEnd(58)} ${(r / 1e6).toFixed(2).padStart(8)} M ${unit}/s`);
  return r;
}

export async function bench(): Promise<void> {
  // TLB hits: 8 pages, every line, loads and stores (guest user mode under 1 GiB EPT).
  {
    const tb = new Testbed({ profile: SKYLAKE, userDataPages: 8 });
    const c = tb.core;
    const N = 4_000_000;
    rate('loads+stores, TLB-hit mix (8 pages, L1D-resident)', N, 'references', () => {
      for (let i = 0; i < N; i++) {
        const la = USER_DATA + ((i * 64) % (8 * 4096));
        if ((i & 3) === 0) c.store32(la, i);
        else c.load32(la);
      }
    });
  }
  // TLB misses: 4096 pages (16 MiB), one line per page in a stride that defeats the STLB.
  {
    const pages = 4096;
    const tb = new Testbed({ profile: SKYLAKE, userDataPages: pages });
    const c = tb.core;
    const N = 1_000_000;
    const w0 = c.ctr[C.walks]!;
    rate(`loads, TLB-miss mix (${pages} pages, 1 line per page)`, N, 'references', () => {
      for (let i = 0; i < N; i++) c.load32(USER_DATA + ((i * 4096 * 7) % (pages * 4096)));
    });
    const walks = c.ctr[C.walks]! - w0;
    console.log(
      `${'  of which walked'.padEnd(58)} ${((100 * walks) / (2 * N)).toFixed(1).padStart(8)} %`,
    );
  }
  // Page walks alone (2-D, 1 GiB EPT, walk caches on).
  {
    const tb = new Testbed({ profile: SKYLAKE, userDataPages: 64 });
    const w = tb.core.mmu.walker;
    const N = 1_000_000;
    rate('page walks (2-D, 1 GiB EPT, walk caches on)', N, 'walks', () => {
      for (let i = 0; i < N; i++) w.walk(USER_DATA + (i % 64) * 4096, Access.Read);
    });
    const tb2 = new Testbed({ profile: SKYLAKE, userDataPages: 64, ept4k: true });
    const w2 = tb2.core.mmu.walker;
    w2.useWalkCaches = false;
    rate('page walks (2-D, 4 KiB EPT, 24 references each)', N / 4, 'walks', () => {
      for (let i = 0; i < N / 4; i++) w2.walk(USER_DATA + (i % 64) * 4096, Access.Read);
    });
  }
}
