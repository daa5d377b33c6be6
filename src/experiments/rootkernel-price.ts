// `reproduce rootkernel-price`: what SkyBridge's hypervisor costs a process that never uses
// SkyBridge. The same YCSB run as `reproduce sqlite` (SQLite over the FS and RAM-disk
// servers, each kernel's own IPC) on the same machine, with the kernel on bare hardware (no
// Rootkernel: no VMX operation, 1-D page walks, no VM exits) and on the Rootkernel with base
// EPTs of 1 GiB pages (the paper's choice), 2 MiB pages (what a machine whose guest RAM holds
// no whole GiB gets) and 4 KiB pages. Every frame sits at the same physical address on all
// four (subkernel.ts), so they differ only in how addresses are translated. Rows: throughput
// and its loss against bare hardware, page walks, their references to guest and EPT entries,
// TLB misses and VM exits, per run-phase operation and per record of the start and load.

import type {
  Experiment,
  ExperimentResult,
  ResultRow,
  RowParams,
  RunContext,
} from './experiment.ts';
import { row } from './experiment.ts';
import { experimentInfo } from './catalog.ts';
import { guestImage } from './guest-image.ts';
import { KERNELS } from './kernels.ts';
import { TaskPool, progressCounter } from './parallel.ts';
import { ycsbSize } from './sqlite.ts';
import { runYcsb, type Translation, type YcsbCase, type YcsbResult } from './sqlite-ycsb.ts';
import type { Platform } from './storage.ts';

const EPT: Record<Platform, 'none' | '1g' | '2m' | '4k'> = {
  bare: 'none',
  'ept-1g': '1g',
  'ept-2m': '2m',
  'ept-4k': '4k',
};
const LABEL: Record<Platform, string> = {
  bare: 'bare hardware',
  'ept-1g': 'Rootkernel, 1 GiB EPT pages',
  'ept-2m': 'Rootkernel, 2 MiB EPT pages',
  'ept-4k': 'Rootkernel, 4 KiB EPT pages',
};

function plan(ctx: RunContext): YcsbCase[] {
  const kernels = ctx.quick ? (['seL4'] as const) : KERNELS;
  const platforms: readonly Platform[] = ctx.quick
    ? ['bare', 'ept-1g', 'ept-4k']
    : ['bare', 'ept-1g', 'ept-2m', 'ept-4k'];
  const { records, operations } = ycsbSize(ctx, 20);
  return kernels.flatMap((kernel) =>
    platforms.map((platform) => ({
      kernel,
      transport: 'native' as const,
      workload: 'a' as const,
      records,
      operations,
      platform,
    })),
  );
}

export const rootkernelPrice: Experiment = {
  ...experimentInfo('rootkernel-price'),
  run(ctx) {
    const cases = plan(ctx);
    const tick = progressCounter(cases.length, ctx.progress);
    return result(
      ctx,
      cases,
      cases.map((c) => {
        const r = runYcsb(ctx.profile, c);
        tick();
        return r;
      }),
    );
  },
  async runParallel(ctx) {
    const cases = plan(ctx);
    guestImage('storage');
    guestImage('ycsb-sqlite');
    const pool = new TaskPool(ctx.threads === undefined ? {} : { threads: ctx.threads });
    try {
      const args = cases.map((c) => ({ profile: ctx.profile, c }));
      return result(
        ctx,
        cases,
        await pool.all('ycsb', args, progressCounter(cases.length, ctx.progress)),
      );
    } finally {
      await pool.close();
    }
  },
};

function result(
  ctx: RunContext,
  cases: readonly YcsbCase[],
  results: readonly YcsbResult[],
): ExperimentResult {
  const rows: ResultRow[] = [];
  const add = (measurement: string, spec: Omit<ResultRow, 'id' | 'measurement'>): void =>
    void rows.push(row('rootkernel-price', { measurement, ...spec }));
  const bare = new Map<string, YcsbResult>();
  cases.forEach((c, i) => {
    if (c.platform === 'bare') bare.set(c.kernel, results[i]!);
  });
  cases.forEach((c, i) => {
    const x = results[i]!;
    const platform = c.platform!;
    const label = `${c.kernel}, ${LABEL[platform]}`;
    const params: RowParams = {
      kernel: c.kernel,
      mechanism: 'native',
      workload: c.workload,
      ept: EPT[platform],
    };
    if (x.badReads !== 0)
      throw new Error(
        `rootkernel-price: ${label}: ${x.badReads} reads did not find a whole record`,
      );
    add(`${label}: throughput, YCSB ${c.workload.toUpperCase()}`, {
      metric: 'ops-per-second',
      params,
      value: x.opsPerSecond,
      unit: 'ops/s',
      note: `${Math.round(x.cyclesPerOp)} cycles per operation`,
    });
    const base = bare.get(c.kernel);
    if (platform !== 'bare' && base !== undefined)
      add(`  ${label}: the Rootkernel's price in throughput`, {
        metric: 'overhead',
        params,
        value: (base.opsPerSecond / x.opsPerSecond - 1) * 100,
        unit: '% slower',
        note: `than bare hardware (${Math.round(base.opsPerSecond)} ops/s)`,
      });
    translationRows(add, label, { ...params, ycsbPhase: 'run' }, x.translation, 'operation');
    translationRows(
      add,
      label,
      { ...params, ycsbPhase: 'start-load' },
      x.startAndLoad,
      'record loaded',
    );
    add(`  ${label}: cycles per record, start and load`, {
      metric: 'cycles-per-op',
      params: { ...params, ycsbPhase: 'start-load' },
      value: x.startAndLoad.cycles,
      unit: 'cycles',
      note: 'every cache and TLB cold at the start',
    });
  });
  const [r0] = cases;
  return {
    id: 'rootkernel-price',
    title: rootkernelPrice.title,
    notes: [
      `YCSB A, ${r0?.records ?? 0} records and ${r0?.operations ?? 0} operations, each kernel's own IPC (no SkyBridge) over the storage stack of reproduce sqlite${ctx.quick ? ' (--quick: seL4 only, 20 records and operations, no 2 MiB case)' : ''}; a 2 GiB machine, so that the 1 GiB case's guest RAM holds a whole GiB (a 1 GiB machine's base EPT can only use 2 MiB pages); bare hardware leaves the Rootkernel's 96 MiB unused, so every frame sits at the same address in all cases.`,
      'Run phase per operation, start and load per record. A walk under the Rootkernel is two-dimensional; its EPT references are those the guest-physical mappings and EPT paging-structure caches did not spare (one 1 GiB mapping covers all the memory the stack uses). TLB misses are translations that walked; STLB hits are L1 TLB misses served without a walk, which 4 KiB EPT pages multiply (a translation is cached at the smaller of its guest and EPT page sizes).',
    ],
    rows,
  };
}

function translationRows(
  add: (measurement: string, spec: Omit<ResultRow, 'id' | 'measurement'>) => void,
  label: string,
  params: RowParams,
  t: Translation,
  per: string,
): void {
  const phase = params.ycsbPhase === 'run' ? 'run phase' : 'start and load';
  add(`  ${label}: page walks per ${per}, ${phase}`, {
    metric: 'walks-per-op',
    params,
    value: t.walks,
    unit: 'walks',
    note: `${t.walkCycles.toFixed(1)} cycles in walks`,
  });
  for (const tables of ['guest', 'ept'] as const)
    add(`  ${label}: walk references to ${tables} entries per ${per}, ${phase}`, {
      metric: 'walk-refs-per-op',
      params: { ...params, tables },
      value: tables === 'guest' ? t.walkRefsGuest : t.walkRefsEpt,
      unit: 'references',
      note: '',
    });
  add(`  ${label}: TLB misses per ${per}, ${phase}`, {
    metric: 'tlb-misses-per-op',
    params,
    value: t.dtlbMisses + t.itlbMisses,
    unit: 'misses',
    note: `${t.dtlbMisses.toFixed(1)} data, ${t.itlbMisses.toFixed(1)} instruction fetch`,
  });
  add(`  ${label}: L1 TLB misses served by the STLB per ${per}, ${phase}`, {
    metric: 'stlb-hits-per-op',
    params,
    value: t.stlbHits,
    unit: 'lookups',
    note: '',
  });
  add(`  ${label}: VM exits per ${per}, ${phase}`, {
    metric: 'vm-exits-per-op',
    params,
    value: t.vmExits,
    unit: 'exits',
    note: '',
  });
}
