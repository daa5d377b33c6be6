// Experiment "ipc": sel4bench's IPC cases on the simulated machine, for the seL4 Subkernel
// (native IPC). SkyBridge rows join these once it exists.

import type { Experiment, ExperimentResult, ResultRow, RunContext } from './experiment.ts';
import { runSel4Bench, type IpcCase } from './sel4bench.ts';
import { runSkyBridgeBench, type SbCase } from './skybridge-bench.ts';
import { KERNELS, nativeIpc } from './kernels.ts';

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

/** The three kernels side by side: native round trip, SkyBridge built into the same kernel,
 *  and how much faster SkyBridge is (the ratio of the two round trips). */
function kernelRows(ctx: RunContext): ResultRow[] {
  const rows: ResultRow[] = [];
  for (const kpti of [false, true]) {
    for (const name of KERNELS) {
      const n = nativeIpc(name, ctx.profile, kpti, true);
      const sb = runSkyBridgeBench(ctx.profile, { kernel: name, bytes: 0, kpti, pcid: true });
      const cfg = `inter-AS, ${kpti ? 'KPTI' : 'no KPTI'}, PCID`;
      if (!kpti) {
        rows.push({
          measurement: `${name} one-way call, ${cfg}`,
          value: n.call,
          unit: 'cycles',
          note: n.how,
          ...(name === 'seL4'
            ? { reference: 375, referenceSource: SEL4BENCH, basis: 'calibrated' as const }
            : name === 'Fiasco.OC'
              ? { reference: 1172, referenceSource: L4RE, basis: 'reproduced' as const }
              : {}),
        });
      }
      rows.push({
        measurement: `${name} round trip, ${cfg}`,
        value: n.roundTrip,
        unit: 'cycles',
        note: `${n.instructions} instructions`,
      });
      rows.push({
        measurement: `${name} + SkyBridge round trip, ${cfg}`,
        value: sb.roundTrip,
        unit: 'cycles',
        note: `${sb.instructions} instructions`,
      });
      rows.push({
        measurement: `SkyBridge speed-up on ${name}, ${cfg}`,
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
  cases.forEach((c, i) => {
    const r = runSel4Bench(ctx.profile, c);
    const l = label(c);
    const reference = c.interAs && c.words === 0 && !c.kpti && c.pcid && !c.crossCore;
    const path = c.crossCore || c.words > 4 ? 'slowpath' : 'fastpath';
    rows.push({
      measurement: `seL4 call, ${l}`,
      value: r.call,
      unit: 'cycles',
      note: `one way, ${path}`,
      ...(reference ? { reference: 375, referenceSource: SEL4BENCH, basis: 'calibrated' as const } : {}),
    });
    rows.push({
      measurement: `seL4 reply, ${l}`,
      value: r.reply,
      unit: 'cycles',
      note: `one way, ${path}`,
      ...(reference ? { reference: 382, referenceSource: SEL4BENCH, basis: 'calibrated' as const } : {}),
    });
    rows.push({
      measurement: `seL4 round trip, ${l}`,
      value: r.roundTrip,
      unit: 'cycles',
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
  for (const c of sbCases) {
    const r = runSkyBridgeBench(ctx.profile, c);
    const what = c.chain
      ? 'chain client → A → B, registers'
      : c.bytes === 0
        ? 'registers'
        : `${c.bytes} B through the shared buffer`;
    const l = `${what}, ${c.kpti ? 'KPTI' : 'no KPTI'}`;
    if (!c.chain) {
      rows.push({
        measurement: `SkyBridge call, ${l}`,
        value: r.call,
        unit: 'cycles',
        note: 'one way: caller stamp to handler stamp',
      });
      rows.push({
        measurement: `SkyBridge return, ${l}`,
        value: r.reply,
        unit: 'cycles',
        note: 'one way: handler stamp to caller stamp',
      });
    }
    rows.push({
      measurement: `SkyBridge round trip, ${l}`,
      value: r.roundTrip,
      unit: 'cycles',
      note: `${r.instructions} instructions per round trip`,
    });
    if (c.bytes === 0 && !c.kpti && !c.chain) {
      for (const [phase, cycles] of Object.entries(r.phases)) {
        rows.push({
          measurement: `  SkyBridge round trip breakdown: ${phase}`,
          value: cycles,
          unit: 'cycles',
          note: phase === 'handler' ? "includes the benchmark's two RDTSC stamps" : '',
        });
      }
      rows.push({
        measurement: 'SkyBridge vs seL4 fastpath round trip (inter-AS, no KPTI, PCID)',
        value: Math.round((base.roundTrip / r.roundTrip) * 100) / 100,
        unit: '× faster',
        note: `seL4 ${base.roundTrip} cycles, SkyBridge ${r.roundTrip}`,
      });
    }
    if (c.bytes === 0 && c.kpti && !c.chain) {
      rows.push({
        measurement: 'SkyBridge vs seL4 fastpath round trip (inter-AS, KPTI, PCID)',
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
      "Native clients and servers are machine code built by gcc (guest/sel4, guest/fiasco, guest/zircon) calling each kernel through its own register ABI; SkyBridge's trampoline and handlers are still TypeScript blocks.",
      "Kernel paths are charged as instruction counts estimated from each kernel's source (src/kernel/*/paths.ts) at the profile's CPI for kernel code, which was chosen with sel4bench's seL4 figure in view (docs/research/profile-sources.md): the seL4 rows are partly calibrated, not independent reproductions.",
    ],
  };
}

export const ipc: Experiment = {
  id: 'ipc',
  title: 'IPC latency',
  description:
    "the three kernels' native IPC against SkyBridge in each; sel4bench's cases on seL4 (call, reply, round trip; same/different AS; 0/10 words; KPTI; PCID; cross-core); SkyBridge's message sizes, breakdown and chain",
  run,
};
