// Experiment "indirect": the indirect cost of IPC (Mi et al., EuroSys 2019: IPC pollutes the
// caller's TLB and caches, beyond its own cycles). A client
// touches a working set of W bytes between IPCs; the same loop runs once with an IPC to a
// server after each pass (each kernel's own, or SkyBridge's) and once without. The extra cycles the client's own user-mode
// code takes per pass when IPCs interleave are the IPC's indirect cost; the client's TLB and
// cache misses say where they come from, and the eviction records say who evicted its lines
// (kernel code, kernel data, the server) and its TLB entries.

import { C, type CounterSnapshot } from '../hw/counters.ts';
import { Mode } from '../hw/counters.ts';
import { Machine } from '../hw/machine.ts';
import { EvictionLog, LEVEL_NAMES } from '../hw/memory-hierarchy.ts';
import type { CpuProfile } from '../hw/profile-schema.ts';
import type { Block } from '../kernel/code-layout.ts';
import { USER_DATA } from '../kernel/layout.ts';
import { echoPair } from './echo.ts';
import { bootKernel, type KernelName } from './kernels.ts';
import { callFromTs } from '../skybridge/ts-client.ts';
import { newSkyBridge } from './skybridge-setup.ts';
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

const WARMUP = 4;
const RUNS = 16;
export const WORKING_SETS = [0, 4 << 10, 16 << 10, 32 << 10, 64 << 10, 256 << 10, 1 << 20];

export interface IndirectResult {
  /** Client user-mode cycles per pass, with and without the IPC. */
  userCyclesWith: number;
  userCyclesWithout: number;
  /** Per pass, with minus without, of the client's user-mode counters. */
  extra: Record<string, number>;
  /** Cycles per IPC outside the client's user mode (kernel, server): the direct cost. */
  direct: number;
  /** Per IPC: client lines evicted, by level and evictor. */
  evictedBy: Record<string, number>;
  /** Per IPC: client TLB entries evicted by the kernel's (global) or the server's entries. */
  tlbEvictedBy: Record<string, number>;
  /** The spread over the measured passes: client user-mode cycles per pass without the IPC,
   *  and pass by pass, with minus without. */
  stats: { userCyclesWithout: Stats; extraCycles: Stats };
  /** The machine's counters across the measured passes with the IPC. */
  counters: CounterSnapshot;
  /** How many passes that is. */
  passes: number;
}

interface Run {
  user: Float64Array;
  /** The machine's counters across the measured passes. */
  counters: CounterSnapshot | null;
  /** Client user-mode cycles of each measured pass. */
  passCycles: number[];
  total: number;
  evictions: EvictionLog;
  tlb: Map<number, number>;
  names: {
    client: number;
    server: number;
    kernel: number;
    clientPcid: number;
    serverPcid: number;
    baseEp: number;
  };
}

/** Which IPC sits between the client's passes: a kernel's own, or SkyBridge built into it. */
export interface Mechanism {
  kernel: KernelName;
  skybridge: boolean;
}

/** The client's working set starts past the first 64 KiB of its data, where the kernels'
 *  user libraries keep their buffers. */
const WS_BASE = USER_DATA + 0x10000;
const NOP = new Uint8Array([0x90]);
const RETURN_ZERO = new Uint8Array([0x31, 0xc0, 0xc3]);

function once(
  profile: CpuProfile,
  bytes: number,
  withIpc: boolean,
  pcid: boolean,
  mech: Mechanism,
): Run {
  const m = new Machine({ cores: 1, memoryBytes: 1024 ** 3, profile });
  const sb = newSkyBridge();
  const k = bootKernel(mech.kernel, m, { pcid }, mech.skybridge ? [sb] : []);
  let loop!: Block;
  let back = 0;
  const pair = echoPair(
    mech.kernel,
    k,
    (t) => {
      loop = t.block(2, 6);
      back = t.raw(NOP);
    },
    0x10000 + Math.max(64 << 10, bytes),
  );
  const { client } = pair;
  let server = pair.server;
  let sid = 0;
  if (mech.skybridge) {
    // SkyBridge's server is its own process whose handler is machine code: xor eax, eax; ret.
    let handler = 0;
    server = k.createProcess('sb-server', (t) => (handler = t.raw(RETURN_ZERO)));
    sid = sb.registerServer(server, { handler });
    sb.registerClient(m.core(0), client, sid);
  }
  const log = new EvictionLog();
  const tlb = new Map<number, number>();
  let total0 = 0;
  let start: CounterSnapshot | null = null;
  const r: Run = {
    user: new Float64Array(64),
    counters: null,
    passCycles: [],
    total: 0,
    evictions: log,
    tlb,
    names: {
      client: client.owner,
      server: server.owner,
      kernel: k.kernelOwner,
      clientPcid: client.space.asid,
      serverPcid: server.space.asid,
      baseEp: m.ep4taId(k.rk.baseEptp - (k.rk.baseEptp % 4096)),
    },
  };
  k.createThread(
    client,
    'client',
    (u) =>
      (function* () {
        const slot = u.core.counters.slot(client.owner, Mode.User);
        const before = new Float64Array(slot.length);
        for (let i = 0; i < WARMUP + RUNS; i++) {
          if (i === WARMUP) {
            total0 = u.core.cycles;
            start = m.snapshot();
            m.caches.evictions = log;
            for (const s of Object.values(u.core.ts.tc)) s.evictions = tlb;
          }
          // Only the working-set loop is measured: the call's own user-mode part (the stub,
          // SYSCALL) is direct cost.
          before.set(slot);
          for (let a = 0; a < bytes; a += 64) {
            u.run(loop);
            u.load32(WS_BASE + a);
          }
          if (i >= WARMUP) {
            for (let j = 0; j < before.length; j++) r.user[j]! += slot[j]! - before[j]!;
            r.passCycles.push(slot[C.cycles]! - before[C.cycles]!);
          }
          if (withIpc && !mech.skybridge) yield* pair.call(u);
          if (withIpc && mech.skybridge) {
            const r = yield* callFromTs(m, u, sid, [0], back);
            if (r.status !== 0) throw new Error(`SkyBridge call failed: status ${r.status}`);
          }
        }
        m.caches.evictions = null;
        r.total = u.core.cycles - total0;
        r.counters = m.snapshot().minus(start!);
      })(),
    { priority: 100 },
  );
  k.run(1_000_000);
  return r;
}

export function measureIndirect(
  profile: CpuProfile,
  bytes: number,
  pcid = true,
  mech: Mechanism = { kernel: 'seL4', skybridge: false },
): IndirectResult {
  const w = once(profile, bytes, true, pcid, mech);
  const wo = once(profile, bytes, false, pcid, mech);
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
  };
  for (const [n, i] of Object.entries(names)) extra[n] = per(w.user[i]! - wo.user[i]!);
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
    userCyclesWith: per(w.user[C.cycles]!),
    userCyclesWithout: per(wo.user[C.cycles]!),
    extra,
    direct: per(w.total) - per(w.user[C.cycles]!),
    evictedBy,
    tlbEvictedBy,
    counters: w.counters!,
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
      'Indirect cost of seL4 IPC: a client working set between IPCs, with and without the IPCs',
    rows,
    notes: [
      'The client reads one word per 64-byte line of a W-byte working set, then (or not) calls a server that replies at once; inter-address-space, no KPTI; PCID on, then off (every address-space switch flushes the TLB).',
      "LRU caches: a cyclic working set larger than a level misses there on every pass with or without IPCs, so the indirect cost peaks when W is just below a level's size.",
      "Extra = (with IPCs − without) of the client's own user-mode counters, per pass, mean of 16 passes after 4 warm-up passes.",
      "Eviction records name who filled the line that replaced the client's: kernel code (fetches in kernel mode), kernel data, or the server.",
    ],
  };
}

export const indirect: Experiment = { ...experimentInfo('indirect'), run };
