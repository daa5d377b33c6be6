// Experiment "indirect": the indirect cost of IPC (Mi et al., EuroSys 2019: IPC pollutes the
// caller's TLB and caches, beyond its own cycles). A client touches a working set of W bytes
// between IPCs; the same loop runs once with an IPC to a server after each pass (each
// kernel's own, or SkyBridge's) and once without. Client and server are machine code
// (guest/indirect/indirect.c; the scene: indirect-scene.ts). The extra cycles the client's
// own loop takes per pass when IPCs interleave are the IPC's indirect cost; the client's TLB
// and cache misses say where they come from, and the eviction records say who evicted its
// lines (kernel code, kernel data, the server) and its TLB entries.

import { C, type CounterSnapshot } from '../hw/counters.ts';
import { EvictionLog, LEVEL_NAMES } from '../hw/memory-hierarchy.ts';
import type { CpuProfile } from '../hw/profile-schema.ts';
import { EVICTION_TAG_SPAN } from '../hw/tlb.ts';
import {
  row as makeRow,
  summarize,
  type Experiment,
  type ExperimentResult,
  type ResultRow,
  type RowParams,
  type RowSpec,
  type RunContext,
  type Stats,
} from './experiment.ts';
import { experimentInfo } from './catalog.ts';
import { RUNS, runPasses, WARMUP, type Mechanism } from './indirect-scene.ts';

export type { Mechanism } from './indirect-scene.ts';
export const WORKING_SETS = [0, 4 << 10, 16 << 10, 32 << 10, 64 << 10, 256 << 10, 1 << 20];

export interface IndirectResult {
  /** Client loop cycles per pass, with and without the IPC. */
  userCyclesWith: number;
  userCyclesWithout: number;
  /** Client instructions per pass in its loop (without the IPC; the same with it). */
  loopInstructions: number;
  /** Per pass, with minus without, of the client's user-mode counters over its loop. */
  extra: Record<string, number>;
  /** Cycles per IPC outside the client's loop (the call's user side, kernel, server), less
   *  what the client's code around its loop costs without the IPC: the direct cost. */
  direct: number;
  /** Per IPC: client lines evicted, by level and evictor. */
  evictedBy: Record<string, number>;
  /** Per IPC: client TLB entries evicted by the kernel's (global) or the server's entries. */
  tlbEvictedBy: Record<string, number>;
  /** The spread over the measured passes: client loop cycles per pass without the IPC,
   *  and pass by pass, with minus without. */
  stats: { userCyclesWithout: Stats; extraCycles: Stats };
  /** The machine's counters across the measured passes with the IPC. */
  counters: CounterSnapshot;
  /** How many passes that is. */
  passes: number;
}

export function measureIndirect(
  profile: CpuProfile,
  bytes: number,
  pcid = true,
  mech: Mechanism = { kernel: 'seL4', skybridge: false },
): IndirectResult {
  const w = runPasses(profile, bytes, true, pcid, mech, new EvictionLog());
  const wo = runPasses(profile, bytes, false, pcid, mech, new EvictionLog());
  const per = (v: number): number => v / RUNS;
  const extra: Record<string, number> = {};
  const names = {
    'tlb.miss.data': C.tlbMissData,
    'walk.cycles': C.walkCycles,
    'l1d.miss': C.l1dMiss,
    'l2.miss': C.l2Miss,
    'llc.miss': C.llcMiss,
    'l1i.miss': C.l1iMiss,
    'tlb.miss.fetch': C.tlbMissFetch,
    instructions: C.instructions,
  };
  for (const [n, i] of Object.entries(names)) extra[n] = per(w.loop[i]! - wo.loop[i]!);
  const evictedBy: Record<string, number> = {};
  const who = (owner: number, fetch: number): string =>
    owner === w.names.kernel
      ? fetch
        ? 'kernel code'
        : 'kernel data'
      : owner === w.names.server
        ? 'server'
        : owner === w.names.client
          ? 'client itself'
          : 'other';
  for (const e of w.evictions.entries()) {
    // Lines the client evicts itself (a working set larger than the level) are not the IPC's doing.
    if (e.victim !== w.names.client || e.victimFetch || e.evictor === w.names.client) continue;
    const key = `${LEVEL_NAMES[e.level]} by ${who(e.evictor, e.evictorFetch)}`;
    evictedBy[key] = (evictedBy[key] ?? 0) + e.count / RUNS;
  }
  const tlbEvictedBy: Record<string, number> = {};
  // Tags: (PCID, or 4096 for global) × 64 + EP4TA id; the client's own entries are its PCID
  // under the base EPT.
  const clientOwn = (tag: number): boolean =>
    Math.floor(tag / 64) === w.names.clientPcid && tag % 64 === w.names.baseEp;
  for (const [key, count] of w.tlb) {
    const victim = Math.floor(key / EVICTION_TAG_SPAN);
    const by = key % EVICTION_TAG_SPAN;
    if (!clientOwn(victim) || clientOwn(by)) continue;
    const byPcid = Math.floor(by / 64);
    const name =
      byPcid === 4096
        ? 'kernel (global entries)'
        : byPcid === w.names.serverPcid
          ? 'server'
          : byPcid === w.names.clientPcid
            ? "server (in the client's view of it)"
            : 'other';
    tlbEvictedBy[name] = (tlbEvictedBy[name] ?? 0) + count / RUNS;
  }
  return {
    userCyclesWith: per(w.loop[C.cycles]!),
    userCyclesWithout: per(wo.loop[C.cycles]!),
    loopInstructions: per(wo.loop[C.instructions]!),
    extra,
    direct: per(w.total - w.loop[C.cycles]! - (wo.total - wo.loop[C.cycles]!)),
    evictedBy,
    tlbEvictedBy,
    counters: w.counters,
    passes: RUNS,
    stats: {
      userCyclesWithout: summarize(wo.passCycles),
      extraCycles: summarize(w.passCycles.map((c, i) => c - wo.passCycles[i]!)),
    },
  };
}

function kib(b: number): string {
  return b >= 1 << 20 ? `${b >> 20} MiB` : b >= 1024 ? `${b >> 10} KiB` : `${b} B`;
}

function run(ctx: RunContext): ExperimentResult {
  const rows: ResultRow[] = [];
  const fmt = (o: Record<string, number>): string =>
    Object.entries(o)
      .filter(([, v]) => v >= 0.05)
      .sort((a, b) => b[1] - a[1])
      .map(([k, v]) => `${k} ${v.toFixed(1)}`)
      .join('; ') || 'none';
  let step = 0;
  const configs: [boolean, Mechanism][] = [
    [true, { kernel: 'seL4', skybridge: false }],
    [false, { kernel: 'seL4', skybridge: false }],
    [true, { kernel: 'Fiasco.OC', skybridge: false }],
    [true, { kernel: 'Zircon', skybridge: false }],
    [true, { kernel: 'seL4', skybridge: true }],
  ];
  const add = (spec: RowSpec): void => void rows.push(makeRow('indirect', spec));
  for (const [pcid, mech] of configs) {
    for (const bytes of WORKING_SETS) {
      const r = measureIndirect(ctx.profile, bytes, pcid, mech);
      const name = mech.skybridge ? `SkyBridge (${mech.kernel})` : mech.kernel;
      const ws = `${name}, W = ${kib(bytes)}${pcid ? '' : ', PCID off'}`;
      const params: RowParams = {
        kernel: mech.kernel,
        mechanism: mech.skybridge ? 'skybridge' : 'native',
        interAs: true,
        crossCore: false,
        kpti: false,
        pcid,
        workingSet: bytes,
      };
      ctx.counters?.add({
        params,
        repetitions: r.passes,
        per: 'pass with an IPC',
        snapshot: r.counters,
      });
      add({
        measurement: `${ws}: client loop cycles per pass, no IPC`,
        metric: 'loop-cycles',
        params,
        value: r.userCyclesWithout,
        unit: 'cycles',
        stats: r.stats.userCyclesWithout,
      });
      add({
        measurement: `${ws}: extra client loop cycles per IPC (indirect)`,
        metric: 'indirect-cycles',
        params,
        value: r.userCyclesWith - r.userCyclesWithout,
        unit: 'cycles',
        stats: r.stats.extraCycles,
        note: `direct cost of each IPC round trip: ${r.direct.toFixed(0)} cycles`,
      });
      add({
        measurement: `${ws}: extra data TLB misses per IPC`,
        metric: 'extra-dtlb-misses',
        params,
        value: r.extra['tlb.miss.data']!,
        unit: 'misses',
        note: `+${r.extra['walk.cycles']!.toFixed(1)} walk cycles; client TLB entries evicted by: ${fmt(r.tlbEvictedBy)}`,
      });
      add({
        measurement: `${ws}: extra L1D misses per IPC`,
        metric: 'extra-l1d-misses',
        params,
        value: r.extra['l1d.miss']!,
        unit: 'misses',
        note: `L2 ${r.extra['l2.miss']!.toFixed(1)}, LLC ${r.extra['llc.miss']!.toFixed(1)}; client lines evicted by: ${fmt(r.evictedBy)}`,
      });
      ctx.progress?.(++step, configs.length * WORKING_SETS.length);
    }
  }
  return {
    id: 'indirect',
    title:
      'Indirect cost of IPC (each kernel’s own, and SkyBridge): a client working set between IPCs, with and without the IPCs',
    rows,
    notes: [
      'Machine code (guest/indirect/indirect.c, built by gcc): the client reads one word per 64-byte line of a W-byte working set (ws_touch: 3 instructions to set up, 4 per line), then (or not) makes one empty round trip to a server that replies at once: seL4_Call / ReplyRecv, l4_ipc_call / reply_and_wait through an IPC gate, zx_channel_call of the 4-byte txid / wait, read, write, or sb_call into a handler that returns 0. Inter-address-space, no KPTI; PCID on, then off (every address-space switch flushes the TLB).',
      "LRU caches: a cyclic working set larger than a level misses there on every pass with or without IPCs, so the indirect cost peaks when W is just below a level's size.",
      `Extra = (with IPCs − without) of the client's own user-mode counters between the labels ws_touch and ws_touch_done (read there by the harness, at no simulated cost), per pass, mean of ${RUNS} passes after ${WARMUP} warm-up passes. The direct cost is the rest of a pass (the call's user side, the kernel, the server) less what the same code around the loop costs without the IPC.`,
      "Eviction records name who filled the line that replaced the client's: kernel code (fetches in kernel mode), kernel data, or the server.",
    ],
  };
}

export const indirect: Experiment = { ...experimentInfo('indirect'), run };
