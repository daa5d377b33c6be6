// Experiment "ipc": sel4bench's IPC cases on the simulated machine, for the seL4 Subkernel
// (native IPC). SkyBridge rows join these once it exists.

import {
  row as makeRow,
  type Experiment,
  type ExperimentResult,
  type IpcStats,
  type ResultRow,
  type RowParams,
  type RowSpec,
  type RunContext,
} from './experiment.ts';
import { experimentInfo } from './catalog.ts';
import { runSel4Bench, type IpcCase } from './sel4bench.ts';
import { runSkyBridgeBench, type SbCase } from './skybridge-bench.ts';
import { KERNELS, nativeIpc, type KernelName, type NativeIpc } from './kernels.ts';
import { SKYBRIDGE_PHASES } from '../report/schema.ts';
import type { CounterSnapshot } from '../hw/counters.ts';

const SEL4BENCH =
  'sel4bench, Skylake i7-6700, no Meltdown mitigation (sel4.systems/About/Performance)';

function label(c: IpcCase): string {
  const parts = [
    c.interAs ? 'inter-AS' : 'intra-AS',
    `${c.words} words`,
    c.kpti ? 'KPTI' : 'no KPTI',
    c.pcid ? 'PCID' : 'no PCID',
  ];
  if (c.crossCore) parts.push('server on another core');
  return parts.join(', ');
}

/** One decimal at most, for numbers inside notes. */
const r1 = (v: number): number => Math.round(v * 10) / 10;

const L4RE = 'L4Re performance page, one-way inter-address-space IPC, Xeon Gold 6248R (TSC cycles)';

/** The message each kernel's native benchmark sends in `nativeIpc` (src/experiments/kernels.ts). */
const NATIVE_MESSAGE: Record<KernelName, RowParams> = {
  seL4: { words: 0 },
  'Fiasco.OC': { words: 0 },
  Zircon: { bytes: 4 },
};

/** The keys of SkyBridge's phases, by the names skybridge-bench.ts gives them. */
const PHASE_KEYS: Record<string, (typeof SKYBRIDGE_PHASES)[number]> = {
  'client entry (save, binding record, thread block)': 'client-entry',
  'VMFUNC to the server': 'vmfunc-to-server',
  'server entry (tag, key check, stack)': 'server-entry',
  handler: 'handler',
  'server exit (free stack, key)': 'server-exit',
  'VMFUNC back': 'vmfunc-back',
  'client exit (checks, restore)': 'client-exit',
};

/** The statistics the kernel's benchmark returned alongside its means (nativeIpc passes its
 *  result through). */
function nativeStats(n: NativeIpc): IpcStats {
  const s = (n as NativeIpc & { stats?: IpcStats }).stats;
  if (s === undefined) throw new Error('native IPC benchmark: no statistics');
  return s;
}

/** Hands a case's counters across its measured round trips to --counters. */
function roundTrips(
  ctx: RunContext,
  group: string,
  params: RowParams,
  repetitions: number,
  snapshot: CounterSnapshot,
): void {
  ctx.counters?.add({ group, params, repetitions, per: 'round trip', snapshot });
}

const add =
  (rows: ResultRow[]) =>
  (spec: RowSpec): void =>
    void rows.push(makeRow('ipc', spec));

/** The three kernels side by side: native round trip, SkyBridge built into the same kernel,
 *  and how much faster SkyBridge is (the ratio of the two round trips): the experiment's
 *  first rows (group 'kernels'), which README.md's table shows. */
export function kernelRows(ctx: RunContext): ResultRow[] {
  const rows: ResultRow[] = [];
  const push = add(rows);
  const group = 'kernels';
  for (const kpti of [false, true]) {
    for (const name of KERNELS) {
      const n = nativeIpc(name, ctx.profile, kpti, true);
      const ns = nativeStats(n);
      const sb = runSkyBridgeBench(ctx.profile, { kernel: name, bytes: 0, kpti, pcid: true });
      const cfg = `inter-AS, ${kpti ? 'KPTI' : 'no KPTI'}, PCID`;
      const common = { kernel: name, interAs: true, crossCore: false, kpti, pcid: true } as const;
      const native: RowParams = { ...common, mechanism: 'native', ...NATIVE_MESSAGE[name] };
      const sbParams: RowParams = { ...common, mechanism: 'skybridge', bytes: 0, chain: false };
      roundTrips(ctx, group, native, ns.roundTrip.n, n.counters);
      roundTrips(ctx, group, sbParams, sb.stats.roundTrip.n, sb.counters);
      if (!kpti) {
        push({
          group,
          measurement: `${name} one-way call, ${cfg}`,
          metric: 'call',
          params: native,
          value: n.call,
          unit: 'cycles',
          stats: ns.call,
          note: n.how,
          ...(name === 'seL4'
            ? { reference: 375, referenceSource: SEL4BENCH, basis: 'reproduced' as const }
            : name === 'Fiasco.OC'
              ? { reference: 1172, referenceSource: L4RE, basis: 'reproduced' as const }
              : {}),
        });
      }
      push({
        group,
        measurement: `${name} round trip, ${cfg}`,
        metric: 'roundtrip',
        params: native,
        value: n.roundTrip,
        unit: 'cycles',
        stats: ns.roundTrip,
        note: `${n.instructions} instructions`,
      });
      push({
        group,
        measurement: `${name} + SkyBridge round trip, ${cfg}`,
        metric: 'roundtrip',
        params: sbParams,
        value: sb.roundTrip,
        unit: 'cycles',
        stats: sb.stats.roundTrip,
        note: `${sb.instructions} instructions`,
      });
      push({
        group,
        measurement: `SkyBridge speed-up on ${name}, ${cfg}`,
        metric: 'speedup',
        params: common,
        value: Math.round((n.roundTrip / sb.roundTrip) * 100) / 100,
        unit: '× faster',
        note: `${r1(n.roundTrip)} → ${r1(sb.roundTrip)} cycles per round trip`,
      });
    }
  }
  return rows;
}

function run(ctx: RunContext): ExperimentResult {
  const cases: IpcCase[] = [];
  for (const interAs of [true, false])
    for (const words of [0, 10])
      for (const kpti of [false, true])
        for (const pcid of [true, false]) cases.push({ interAs, words, kpti, pcid });
  cases.push({ interAs: true, words: 0, kpti: false, pcid: true, crossCore: true });
  const rows: ResultRow[] = kernelRows(ctx);
  const push = add(rows);
  cases.forEach((c, i) => {
    const r = runSel4Bench(ctx.profile, c);
    const l = label(c);
    const reference = c.interAs && c.words === 0 && !c.kpti && c.pcid && !c.crossCore;
    const path = c.crossCore || c.words > 4 ? 'slowpath' : 'fastpath';
    const group = 'sel4bench';
    const params: RowParams = {
      kernel: 'seL4',
      mechanism: 'native',
      interAs: c.interAs,
      crossCore: c.crossCore ?? false,
      kpti: c.kpti,
      pcid: c.pcid,
      words: c.words,
    };
    roundTrips(ctx, group, params, r.stats.roundTrip.n, r.counters);
    push({
      group,
      measurement: `seL4 call, ${l}`,
      metric: 'call',
      params,
      value: r.call,
      unit: 'cycles',
      stats: r.stats.call,
      note: `one way, ${path}`,
      ...(reference
        ? { reference: 375, referenceSource: SEL4BENCH, basis: 'reproduced' as const }
        : {}),
    });
    push({
      group,
      measurement: `seL4 reply, ${l}`,
      metric: 'reply',
      params,
      value: r.reply,
      unit: 'cycles',
      stats: r.stats.reply,
      note: `one way, ${path}`,
      ...(reference
        ? { reference: 382, referenceSource: SEL4BENCH, basis: 'reproduced' as const }
        : {}),
    });
    push({
      group,
      measurement: `seL4 round trip, ${l}`,
      metric: 'roundtrip',
      params,
      value: r.roundTrip,
      unit: 'cycles',
      stats: r.stats.roundTrip,
      note: `${r.instructions} instructions per round trip`,
    });
    ctx.progress?.(i + 1, cases.length);
  });
  // SkyBridge on the same machine and kernel configuration.
  const sbCases: SbCase[] = [
    { bytes: 0, kpti: false, pcid: true },
    { bytes: 1024, kpti: false, pcid: true },
    { bytes: 4096, kpti: false, pcid: true },
    { bytes: 0, kpti: true, pcid: true },
    { bytes: 0, kpti: false, pcid: true, chain: true },
  ];
  const base = runSel4Bench(ctx.profile, { interAs: true, words: 0, kpti: false, pcid: true });
  const baseKpti = runSel4Bench(ctx.profile, { interAs: true, words: 0, kpti: true, pcid: true });
  const group = 'skybridge';
  for (const c of sbCases) {
    const r = runSkyBridgeBench(ctx.profile, c);
    const what = c.chain
      ? 'chain client → A → B, registers'
      : c.bytes === 0
        ? 'registers'
        : `${c.bytes} B through the shared buffer`;
    const l = `${what}, ${c.kpti ? 'KPTI' : 'no KPTI'}`;
    const common = {
      kernel: c.kernel ?? 'seL4',
      interAs: true,
      crossCore: false,
      kpti: c.kpti,
      pcid: c.pcid,
    } as const;
    const params: RowParams = {
      ...common,
      mechanism: 'skybridge',
      bytes: c.bytes,
      chain: c.chain ?? false,
    };
    roundTrips(ctx, group, params, r.stats.roundTrip.n, r.counters);
    if (!c.chain) {
      push({
        group,
        measurement: `SkyBridge call, ${l}`,
        metric: 'call',
        params,
        value: r.call,
        unit: 'cycles',
        stats: r.stats.call,
        note: 'one way: caller stamp to handler stamp',
      });
      push({
        group,
        measurement: `SkyBridge return, ${l}`,
        metric: 'reply',
        params,
        value: r.reply,
        unit: 'cycles',
        stats: r.stats.reply,
        note: 'one way: handler stamp to caller stamp',
      });
    }
    push({
      group,
      measurement: `SkyBridge round trip, ${l}`,
      metric: 'roundtrip',
      params,
      value: r.roundTrip,
      unit: 'cycles',
      stats: r.stats.roundTrip,
      note: `${r.instructions} instructions per round trip`,
    });
    if (c.bytes === 0 && !c.kpti && !c.chain) {
      for (const [phase, cycles] of Object.entries(r.phases)) {
        const key = PHASE_KEYS[phase];
        if (key === undefined) throw new Error(`SkyBridge bench: unknown phase '${phase}'`);
        push({
          group,
          measurement: `  SkyBridge round trip breakdown: ${phase}`,
          metric: 'phase',
          params: { ...params, phase: key },
          value: cycles,
          unit: 'cycles',
          stats: r.stats.phases[phase]!,
          note: phase === 'handler' ? "includes the benchmark's two RDTSC stamps" : '',
        });
      }
      push({
        group,
        measurement: 'SkyBridge vs seL4 fastpath round trip (inter-AS, no KPTI, PCID)',
        metric: 'speedup',
        params: common,
        value: Math.round((base.roundTrip / r.roundTrip) * 100) / 100,
        unit: '× faster',
        note: `seL4 ${base.roundTrip} cycles, SkyBridge ${r.roundTrip}`,
      });
    }
    if (c.bytes === 0 && c.kpti && !c.chain) {
      push({
        group,
        measurement: 'SkyBridge vs seL4 fastpath round trip (inter-AS, KPTI, PCID)',
        metric: 'speedup',
        params: common,
        value: Math.round((baseKpti.roundTrip / r.roundTrip) * 100) / 100,
        unit: '× faster',
        note: `seL4 ${baseKpti.roundTrip} cycles, SkyBridge ${r.roundTrip}: no kernel entry, so KPTI costs SkyBridge nothing`,
      });
    }
  }
  return {
    id: 'ipc',
    title:
      'IPC latency: seL4, Fiasco.OC and Zircon, natively and with SkyBridge, sel4bench style (stamp in caller, stamp in callee, stamp overhead subtracted)',
    rows,
    notes: [
      'First rows: the three Subkernels with their native IPC and with SkyBridge built in, same machine, same configuration; "× faster" is the native round trip divided by SkyBridge\'s.',
      'Mean of 64 IPCs after 16 warm-up IPCs; client priority 100, server 101; one core unless stated.',
      "One-way figures across cores compare two cores' clocks, which the model keeps in step through the IPI's arrival time.",
      "Native clients and servers are machine code built by gcc (guest/sel4, guest/fiasco, guest/zircon) calling each kernel through its own register ABI; SkyBridge's trampoline (guest/skybridge/sb-trampoline.S) and handlers are machine code too.",
      "Kernel paths are instruction counts per block (src/kernel/*/paths.ts: Fiasco.OC's walked in its compiled kernel, seL4's and Zircon's estimated from their source), each block charged at its code's instruction mix (counted in compiled seL4 10.1.1 and Fiasco.OC; Zircon's a stand-in) at the same per-class costs as user code (Agner Fog, LLVM's Skylake model): no parameter is derived from sel4bench's or L4Re's figures, so the rows beside them are reproduced (docs/calibration.md).",
    ],
  };
}

export const ipc: Experiment = { ...experimentInfo('ipc'), run };
