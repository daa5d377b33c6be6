// Experiment "eptp-scale": a client bound to more servers than its EPTP list holds. The
// kernel keeps every binding and 511 of them resident; a call to one that is not resident
// is a VMFUNC that exits, and the kernel refills a slot (LRU of what it observes) and resumes
// it (src/skybridge/dynamic-lists.ts). One client, bound to every server, calls the first N
// of them in a uniform or a Zipfian order; each call's cost is the client core's cycle
// counter across it (eptp-scale-scene.ts), after a warm-up in the same order.

import type { CpuProfile } from '../hw/profile-schema.ts';
import { experimentInfo } from './catalog.ts';
import {
  row,
  summarize,
  type Experiment,
  type ExperimentResult,
  type ResultRow,
  type RunContext,
} from './experiment.ts';
import { runAll, scaleScene, startCalls, uniform, zipf, type CallLog } from './eptp-scale-scene.ts';
import { percentile } from './temporal.ts';
import { MISS_INDEX } from '../skybridge/dynamic-lists.ts';

export const PATTERNS = ['uniform', 'zipfian'] as const;
export type Pattern = (typeof PATTERNS)[number];

export interface ScaleConfig {
  /** Resident slots (511: the whole list). */
  capacity: number;
  /** Servers touched, one case each (the client is bound to the largest number). */
  touched: readonly number[];
  calls: number;
  warmup: number;
}

export const FULL: ScaleConfig = {
  capacity: 511,
  touched: [1, 64, 256, 511, 512, 768, 1023],
  calls: 1200,
  warmup: 600,
};
/** --quick: a list of 15 slots (a kernel may keep fewer resident than the hardware holds),
 *  so that the same regimes appear with 64 servers. */
export const QUICK: ScaleConfig = {
  capacity: 15,
  touched: [1, 8, 15, 16, 32, 64],
  calls: 300,
  warmup: 150,
};

export interface ScalePoint {
  pattern: Pattern;
  touched: number;
  log: CallLog;
  mean: number;
  p50: number;
  p99: number;
  missRate: number;
  /** Mean cycles of the calls that missed (NaN if none). */
  missCost: number;
  wrong: number;
  /** The miss rate true LRU (seeing every call) would have on the same calls. */
  lruMissRate: number;
}

/** The miss rate of an LRU cache of `capacity` holding `initial` (oldest first) over `calls`
 *  after `warm`: the policy the kernel would follow if it saw every hit, for comparison. */
export function lruMisses(
  warm: readonly number[],
  calls: readonly number[],
  capacity: number,
  initial: readonly number[] = [],
): number {
  const cache = new Map<number, true>(initial.map((x) => [x, true]));
  let misses = 0;
  [...warm, ...calls].forEach((x, i) => {
    const hit = cache.delete(x);
    if (!hit && i >= warm.length) misses++;
    cache.set(x, true);
    if (cache.size > capacity) cache.delete(cache.keys().next().value!);
  });
  return misses / calls.length;
}

const order = (p: Pattern, n: number, count: number, seed: number): number[] =>
  p === 'uniform' ? uniform(n, count, seed) : zipf(n, count, seed);

/** Runs every case of `cfg` on one machine: one client bound to max(touched) servers. */
export function measureScale(
  profile: CpuProfile,
  cfg: ScaleConfig,
  progress?: () => void,
): ScalePoint[] {
  const servers = Math.max(...cfg.touched);
  const out: ScalePoint[] = [];
  // One machine (binding a thousand servers is most of the time): each case inherits the
  // last one's resident set, and its warm-up in its own pattern is what it starts from.
  const s = scaleScene({ profile, servers, capacity: cfg.capacity });
  for (const pattern of PATTERNS) {
    let seed = pattern === 'uniform' ? 1 : 1001;
    for (const n of cfg.touched) {
      const warm = order(pattern, n, cfg.warmup, ++seed);
      const calls = order(pattern, n, cfg.calls, ++seed);
      // What is resident as the case starts (by slot), for the true-LRU comparison.
      const initial = s.sb.bindings
        .filter((b) => b.index < MISS_INDEX)
        .sort((a, b) => a.index - b.index)
        .map((b) => b.server.id - 1);
      const log = startCalls(s, calls, { warmup: warm });
      runAll(s);
      const c = log.cycles;
      const missed = c.filter((_, i) => log.refills[i]! > 0);
      out.push({
        pattern,
        touched: n,
        log,
        mean: c.reduce((a, b) => a + b, 0) / c.length,
        p50: percentile(c, 50),
        p99: percentile(c, 99),
        missRate: missed.length / c.length,
        missCost: missed.length === 0 ? NaN : missed.reduce((a, b) => a + b, 0) / missed.length,
        wrong: log.right.filter((r) => !r).length,
        lruMissRate: lruMisses(warm, calls, cfg.capacity, initial),
      });
      progress?.();
    }
  }
  return out;
}

function run(ctx: RunContext): ExperimentResult {
  const cfg = ctx.quick ? QUICK : FULL;
  const rows: ResultRow[] = [];
  const total = cfg.touched.length * PATTERNS.length;
  let done = 0;
  const points = measureScale(ctx.profile, cfg, () => ctx.progress?.(++done, total));
  for (const p of points) {
    if (p.wrong > 0)
      throw new Error(
        `eptp-scale: ${p.wrong} calls answered by the wrong server (${p.pattern}, ${p.touched})`,
      );
    const params = {
      kernel: 'seL4',
      mechanism: 'skybridge',
      pattern: p.pattern,
      servers: p.touched,
      resident: cfg.capacity,
    } as const;
    const what = `${p.touched} server(s) touched, ${p.pattern}, ${cfg.capacity} resident`;
    rows.push(
      row('eptp-scale', {
        params,
        metric: 'cycles-per-call',
        measurement: `one call's cost (mean), ${what}`,
        value: p.mean,
        unit: 'cycles',
        stats: summarize(p.log.cycles),
      }),
      row('eptp-scale', {
        params,
        metric: 'p99',
        measurement: `one call's cost, 99th percentile, ${what}`,
        value: p.p99,
        unit: 'cycles',
      }),
      row('eptp-scale', {
        params,
        metric: 'miss-rate',
        measurement: `calls whose VMFUNC exited and were refilled, ${what}`,
        value: p.missRate * 100,
        unit: '%',
        ...(p.missRate > 0 && {
          note: `a call that missed costs ${Math.round(p.missCost).toLocaleString('en-US')} cycles on average`,
        }),
      }),
    );
  }
  const at = (pat: Pattern, n: number) => points.find((x) => x.pattern === pat && x.touched === n)!;
  const full = cfg.capacity;
  const over = cfg.touched.filter((n) => n > full);
  const top = cfg.touched[cfg.touched.length - 1]!;
  const fmt = (x: number) => Math.round(x).toLocaleString('en-US');
  const missCosts = points.filter((p) => p.missRate > 0).map((p) => p.missCost);
  return {
    id: 'eptp-scale',
    title: eptpScale.title,
    rows,
    notes: [
      `seL4 with SkyBridge's dynamic EPTP lists: one client bound to ${top} servers (handlers that answer their own number: every call's answer was checked), ${full} of them resident at a time; each case calls the first N servers ${cfg.calls} times after ${cfg.warmup} warm-up calls in the same pattern (uniform, or Zipfian with exponent 0.99 over a shuffled order of the servers), all on one machine in that order (each case starts from the resident set its warm-up leaves).${ctx.quick ? ` --quick: a list of ${full} slots and at most ${top} servers.` : ''}`,
      `Up to ${full} servers ${points.every((p) => p.touched > full || p.missRate === 0) ? 'nothing misses' : 'almost nothing misses'}, and a call costs ${fmt(at('uniform', 1).mean)} cycles with one server but ${fmt(at('uniform', full).mean)} with ${full} touched uniformly: no exit, but every call runs under another view's EP4TA, whose TLB entries (and the cache lines of its tables) the other views have evicted (the worst-cases experiment isolates this).`,
      over.length === 0
        ? 'No case touches more servers than the list holds.'
        : `Past ${full}, a call to a server that is not resident is a VMFUNC that exits (reason 59), an upcall to the Subkernel, a refill (the victim's record, tag and slot on every core, the newcomer's), and a VM entry back to the same VMFUNC: ${missCosts.length > 0 ? `${fmt(Math.min(...missCosts))}–${fmt(Math.max(...missCosts))}` : '—'} cycles per missing call. Uniformly ${over.map((n) => `${(at('uniform', n).missRate * 100).toFixed(1)} % of calls miss at ${n}`).join(', ')} (in the steady state 1 − ${full}/N; these start from the resident set the warm-up leaves); with Zipfian locality fewer miss (${over.map((n) => `${(at('zipfian', n).missRate * 100).toFixed(1)} %`).join(', ')}), against what true LRU would miss on the same calls from the same resident set (${over.map((n) => `${(at('zipfian', n).lruMissRate * 100).toFixed(1)} %`).join(', ')}; uniform: ${over.map((n) => `${(at('uniform', n).lruMissRate * 100).toFixed(1)} %`).join(', ')}): the kernel does not see hits (next note), which matters most when locality is high.`,
      'LRU here is LRU of what the kernel observes: a binding is stamped when it is placed and whenever a kernel entry finds the thread in its view or finds it was the last server called; hits on resident entries are invisible (no kernel on the path), so between kernel entries the order is that of placement (FIFO). With a timer the sampling refreshes hot views.',
    ],
  };
}

export const eptpScale: Experiment = { ...experimentInfo('eptp-scale'), run };
