// Experiment "mitigations": what the Meltdown, Spectre v2, L1TF and MDS mitigations of
// today's kernels cost each kernel's own IPC and SkyBridge's path, on the same machine, and
// what SkyBridge's VMFUNC switch costs when its trampoline keeps the protections a user-mode
// switch can keep (RSB filling, VERW). Every mitigation is real instructions at the places
// each kernel executes them (src/kernel/mitigations.ts, the Rootkernel's L1D flush, the
// trampoline's variants in guest/skybridge/sb-trampoline.S); docs/mitigations.md has the
// reasoning, the sources and the figures.

import { Machine } from '../hw/machine.ts';
import type { CpuProfile } from '../hw/profile-schema.ts';
import { Hypercall } from '../rootkernel/hypercalls.ts';
import { experimentInfo } from './catalog.ts';
import {
  row,
  type Experiment,
  type ExperimentResult,
  type ResultRow,
  type RowParams,
  type RowSpec,
  type RunContext,
} from './experiment.ts';
import { RUNS } from './ipc-harness.ts';
import { bootKernel, KERNELS, nativeIpc, type KernelName } from './kernels.ts';
import { runSkyBridgeBench, type SbResult } from './skybridge-bench.ts';
import {
  KERNEL_SETS,
  occurrences,
  partsOf,
  setsOf,
  sumOfParts,
  TRAMPOLINE,
  WHAT,
  type Mit,
  type MitigationSet,
  type TrampolineKind,
} from './mitigation-sets.ts';

/** Hypercalls measured per case of the VM-exit group (after as many to warm up). */
const HYPERCALLS = 64;

/** Cycles of one VMCALL round trip (a no-op hypercall from the Subkernel: VM exit, the
 *  Rootkernel's dispatch, VM entry) on seL4, with or without the L1D flush. */
function hypercall(ctx: RunContext, l1dFlush: boolean, params: RowParams): number {
  const m = new Machine({ cores: 1, memoryBytes: 1024 ** 3, profile: ctx.profile });
  const k = bootKernel('seL4', m, { mitigations: { l1dFlush } });
  const core = m.core(0);
  for (let i = 0; i < HYPERCALLS; i++) k.hypercall(core, Hypercall.EptpValue, 0);
  const [t0, c0] = [core.cycles, m.snapshot()];
  for (let i = 0; i < HYPERCALLS; i++) k.hypercall(core, Hypercall.EptpValue, 0);
  const snapshot = m.snapshot().minus(c0);
  const group = 'vm-exit';
  ctx.counters?.add({ group, params, repetitions: HYPERCALLS, per: 'hypercall', snapshot });
  return (core.cycles - t0) / HYPERCALLS;
}

/** "client entry +701, …": how a variant's phases differ from the plain trampoline's. */
function phaseDelta(r: SbResult, base: SbResult): string {
  const short = (name: string): string => name.replace(/ \(.*\)$/, '');
  return Object.entries(r.phases)
    .map(([name, v]) => [short(name), v - (base.phases[name] ?? 0)] as const)
    .filter(([, d]) => Math.abs(d) >= 0.5)
    .map(([name, d]) => `${name} ${d > 0 ? '+' : ''}${d}`)
    .join(', ');
}

export const mitigations: Experiment = {
  ...experimentInfo('mitigations'),
  run(ctx): ExperimentResult {
    const p = ctx.profile;
    const quick = ctx.quick === true;
    const rows: ResultRow[] = [];
    const add = (spec: RowSpec): void => void rows.push(row('mitigations', spec));
    const kernels = quick ? (['seL4'] as const) : KERNELS;
    const kinds: TrampolineKind[] = quick
      ? ['plain', 'hardened']
      : ['plain', 'rsb-fill', 'verw', 'hardened'];
    const total = kernels.reduce((n, k) => n + setsOf(k, quick).length, 0) + kinds.length + 3;
    let done = 0;
    const step = (): void => ctx.progress?.(++done, total);

    // Each kernel's own IPC: round trip between two address spaces, empty message, PCID.
    const native = new Map<string, number>();
    for (const k of kernels) {
      let base = 0;
      for (const [set, mit] of setsOf(k, quick)) {
        const { kpti = false, ...m } = mit;
        const r = nativeIpc(k, p, kpti, true, undefined, m);
        step();
        const params: RowParams = {
          kernel: k,
          mechanism: 'native',
          mitigation: set,
          kpti,
          pcid: true,
        };
        ctx.counters?.add({
          group: 'native',
          params,
          repetitions: RUNS,
          per: 'round trip',
          snapshot: r.counters,
        });
        if (set === 'none') base = r.roundTrip;
        native.set(`${k} ${set}`, r.roundTrip);
        const parts = partsOf(mit);
        const how =
          set === 'shipped'
            ? `${WHAT[set]}: ${parts.join(', ')} (${KERNEL_SETS[k].why})`
            : set === 'all' || set === 'matched'
              ? `${WHAT[set]}: ${parts.join(', ')}`
              : WHAT[set];
        add({
          group: 'native',
          measurement: `${k} round trip, ${WHAT[set]}`,
          metric: 'roundtrip',
          params,
          value: r.roundTrip,
          unit: 'cycles',
          note: `${r.how}; ${how}`,
        });
        if (set !== 'none')
          add({
            group: 'native',
            measurement: `${k}: what ${set} adds to a round trip`,
            metric: 'overhead',
            params,
            value: r.roundTrip - base,
            unit: 'cycles',
            note:
              parts.length > 1
                ? sumOfParts(parts, r.roundTrip - base, (x) => native.get(`${k} ${x}`), base)
                : occurrences(p, parts[0] ?? set, r.roundTrip - base, mit),
          });
      }
    }

    // SkyBridge's path (seL4 underneath; no kernel is on the path, so the kernel is moot).
    const sb = new Map<TrampolineKind, SbResult>();
    for (const kind of kinds) {
      const r = runSkyBridgeBench(p, {
        bytes: 0,
        kpti: false,
        pcid: true,
        trampoline: TRAMPOLINE[kind],
      });
      step();
      sb.set(kind, r);
      const params: RowParams = {
        kernel: 'seL4',
        mechanism: 'skybridge',
        mitigation: 'none',
        trampoline: kind,
        kpti: false,
        pcid: true,
      };
      ctx.counters?.add({
        group: 'skybridge',
        params,
        repetitions: r.stats.roundTrip.n,
        per: 'round trip',
        snapshot: r.counters,
      });
      add({
        group: 'skybridge',
        measurement: `SkyBridge round trip, trampoline ${TRAMPOLINE[kind]}`,
        metric: 'roundtrip',
        params,
        value: r.roundTrip,
        unit: 'cycles',
        note: `${r.instructions} instructions per round trip`,
      });
      const plain = sb.get('plain')!;
      if (kind !== 'plain')
        add({
          group: 'skybridge',
          measurement: `SkyBridge: what ${TRAMPOLINE[kind]} adds to a round trip`,
          metric: 'overhead',
          params,
          value: r.roundTrip - plain.roundTrip,
          unit: 'cycles',
          note: `by phase: ${phaseDelta(r, plain)}`,
        });
    }
    // Every kernel-side mitigation on, the plain trampoline: the path pays for none of them
    // (and is protected by none of them).
    const allKernel: Mit = {
      ibpb: true,
      rsbFill: true,
      ibrs: 'entry-exit',
      verw: true,
      l1dFlush: true,
    };
    const rAll = runSkyBridgeBench(p, { bytes: 0, kpti: true, pcid: true, mitigations: allKernel });
    step();
    const allParams: RowParams = {
      kernel: 'seL4',
      mechanism: 'skybridge',
      mitigation: 'all',
      trampoline: 'plain',
      kpti: true,
      pcid: true,
    };
    add({
      group: 'skybridge',
      measurement: 'SkyBridge round trip, every kernel mitigation on, plain trampoline',
      metric: 'overhead',
      params: allParams,
      value: rAll.roundTrip - sb.get('plain')!.roundTrip,
      unit: 'cycles',
      note: 'KPTI, IBPB, RSB fill, IBRS on entry and exit, VERW and the L1D flush, all in the kernel or the Rootkernel: none is on the path, so none costs it and none protects it',
    });

    // The L1D flush where it does run: on a VM exit and entry (a hypercall).
    const hc: number[] = [];
    for (const l1dFlush of [false, true]) {
      const params: RowParams = {
        kernel: 'seL4',
        operation: 'vm-exit-entry',
        mitigation: l1dFlush ? 'l1d-flush' : 'none',
      };
      hc.push(hypercall(ctx, l1dFlush, params));
      step();
      add({
        group: 'vm-exit',
        measurement: `VMCALL round trip (no-op hypercall)${l1dFlush ? ', L1D flush before VM entry' : ''}`,
        metric: 'cycles',
        params,
        value: hc[hc.length - 1]!,
        unit: 'cycles',
        note: `mean of ${HYPERCALLS} after as many to warm up`,
      });
    }
    add({
      group: 'vm-exit',
      measurement: 'what the L1D flush adds to a VM exit and entry',
      metric: 'overhead',
      params: { kernel: 'seL4', operation: 'vm-exit-entry', mitigation: 'l1d-flush' },
      value: hc[1]! - hc[0]!,
      unit: 'cycles',
      note: `WRMSR IA32_FLUSH_CMD (ops.l1dFlush ${p.ops.l1dFlush}) and its 3 setup instructions, then the Rootkernel's next accesses miss the L1D`,
    });

    // Speed-ups, like for like.
    const speed = (k: KernelName, set: MitigationSet, kind: TrampolineKind, note: string): void => {
      const n = native.get(`${k} ${set}`);
      const s = sb.get(kind);
      if (n === undefined || s === undefined) return;
      add({
        group: 'speedup',
        measurement: `SkyBridge (${TRAMPOLINE[kind]}) against ${k} (${set})`,
        metric: 'speedup',
        params: { kernel: k, mitigation: set, trampoline: kind },
        value: n / s.roundTrip,
        unit: '× faster',
        note,
      });
    };
    for (const k of kernels) {
      speed(k, 'none', 'plain', 'neither side mitigated');
      speed(
        k,
        'matched',
        'hardened',
        'the same protections on both sides but IBPB, which the trampoline cannot issue (and which the native side does not do here either); KPTI on the native side only, which the VMFUNC path does not need',
      );
      speed(
        k,
        'shipped',
        'plain',
        'each as distributed: the kernel’s defaults against the paper’s trampoline, which keeps none of them',
      );
      speed(
        k,
        'shipped',
        'hardened',
        `the kernel’s defaults (${partsOf(KERNEL_SETS[k].shipped).join(', ')}) against the trampoline that fills the RSB and clears CPU buffers (VERW) on each switch`,
      );
    }
    return { id: this.id, title: this.title, notes: notes(p, native, sb, hc), rows };
  },
};

function notes(
  p: CpuProfile,
  native: Map<string, number>,
  sb: Map<TrampolineKind, SbResult>,
  hc: number[],
): string[] {
  const f = (x: number | undefined): string =>
    x === undefined ? '?' : x.toLocaleString('en-US', { maximumFractionDigits: 2 });
  const plain = sb.get('plain')?.roundTrip;
  const hard = sb.get('hardened')?.roundTrip;
  return [
    'Native rows: each kernel’s own round trip between two address spaces (empty message, PCID on) with one mitigation, the like-for-like set “matched” (KPTI, RSB fill, VERW), the kernel’s defaults on an affected CPU (“shipped”) and everything it offers (“all”); overhead rows are the difference from “none”. Each mitigation is its instructions at the sites where the kernel executes them (src/kernel/mitigations.ts cites the source of each), so the overhead is an exact multiple of its instruction’s cost: IBPB ' +
      `${p.ops.ibpb}, VERW ${p.ops.verw}, WRMSR ${p.ops.wrmsrBase} cycles (profile estimates; what they do to predictors and buffers is not modelled, nor what IBRS costs the code under it).`,
    `SkyBridge rows: the VMFUNC path has no kernel on it, so no kernel mitigation costs it anything or protects it (the “all” row: +0). Its trampoline can keep two protections itself, because neither is privileged: RSB filling after each switch and VERW before each VMFUNC. Round trip ${f(plain)} cycles plain, ${f(sb.get('rsb-fill')?.roundTrip)} with RSB filling, ${f(sb.get('verw')?.roundTrip)} with VERW, ${f(hard)} with both. IBPB it cannot issue (WRMSR is #GP at CPL 3): docs/mitigations.md lists what that leaves open.`,
    `Speed-ups: against seL4, ${f((native.get('seL4 none') ?? NaN) / (plain ?? NaN))}× with nothing mitigated, ${f((native.get('seL4 matched') ?? NaN) / (hard ?? NaN))}× with the same protections on both sides; VERW's two uses per round trip are ${f(2 * p.ops.verw)} cycles on either path, which is most of SkyBridge's round trip.`,
    `VM-exit rows: the L1D flush runs only on VM entries, which neither IPC path makes (its overhead rows are 0); a hypercall pays ${f((hc[1] ?? NaN) - (hc[0] ?? NaN))} cycles for it, the flush and the misses after it.`,
    'Not modelled: retpolines (Zircon’s kernel is built with them; the kernel paths here are instruction counts with no indirect branch identified, and branch mispredictions are not modelled), the predictor and buffer state the mitigations clear, and SMT (every protection here assumes the sibling thread does not run the other party).',
  ];
}
