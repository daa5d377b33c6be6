// Experiment "temporal": temporal isolation under SkyBridge. A handler runs on its client's
// thread, so whose time does it use, what can a slow server (or a slow co-client) do to a
// client, what does a timer tick inside a handler cost, and how long may a call run before
// the server's budget ends it? All machine code (guest/skybridge/sb-temporal.c) on seL4 with
// SkyBridge; every time is a guest RDTSC on its own core. The timer period is scaled down
// (10,000 cycles, slices of 5 ticks) so the whole experiment runs in seconds; the findings
// are in tick periods and slices, which do not depend on the scale.

import type { CpuProfile } from '../hw/profile-schema.ts';
import { experimentInfo } from './catalog.ts';
import {
  row,
  summarize,
  type Experiment,
  type ExperimentResult,
  type ResultRow,
  type RowSpec,
  type RunContext,
  type Stats,
} from './experiment.ts';
import { TemporalScene, type Request } from './temporal-scene.ts';

export const TICK = 10_000;
export const SLICE_TICKS = 5;
const SLICE = TICK * SLICE_TICKS;
const KERNEL = 'seL4';
const SB_EBUSY = -1;
const SB_ETIMEOUT = -8;
/** (b)'s handlers: the fast client's and the slow clients' work per call. */
const FAST_CYCLES = 1_000;
const SLOW_CYCLES = 2 * TICK;
/** A handler that never returns within any budget. */
const FOREVER = 2 ** 40;

/** Nearest-rank percentile. */
export function percentile(xs: readonly number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.max(0, Math.ceil((p / 100) * s.length) - 1)]!;
}

const median = (xs: readonly number[]): number => percentile(xs, 50);

function scene(profile: CpuProfile, cores: number, names: string[], tick = TICK): TemporalScene {
  return new TemporalScene(
    { kernel: KERNEL, cores, tickCycles: tick, timesliceTicks: SLICE_TICKS },
    profile,
    names,
  );
}

/** Cycles of one round of work_handler's loop, from calls with the timer off. */
export function roundCycles(profile: CpuProfile): number {
  const s = scene(profile, 1, ['server', 'client'], 0);
  const sid = s.server('server', {});
  s.bind('client', sid);
  s.set('client', 'max_calls', 4);
  const t = s.start('client', 'client_main', [sid, 1000], 0);
  s.run(() => !t.alive);
  return Math.min(...s.requests('client').map((r) => r.value)) / 1000;
}

/** Rounds of work_handler that take about `cycles`. */
const roundsFor = (cycles: number, round: number) => Math.max(1, Math.round(cycles / round));

export interface WhoseTime {
  /** The client's calls per slice of its own running time. */
  callsPerSlice: number;
  /** The bystander's longest time without the core, in slices. */
  longestWait: number;
  /** The bystander's share of the core over its window. */
  share: number;
  latencies: number[];
}

/** (a) A client calling a handler of `handlerCycles` and a bystander of equal priority on
 *  one core for `window` cycles. */
export function whoseTime(
  profile: CpuProfile,
  round: number,
  handlerCycles: number,
  window = 40 * SLICE,
): WhoseTime {
  const s = scene(profile, 1, ['server', 'a', 'b']);
  const sid = s.server('server', {});
  s.bind('a', sid);
  s.set('a', 'run_cycles', window);
  s.set('b', 'gap_threshold', SLICE / 10);
  const a = s.start('a', 'client_main', [sid, roundsFor(handlerCycles, round)], 0);
  const b = s.start('b', 'bystander_main', [window], 0);
  s.run(() => !a.alive && !b.alive);
  const by = s.bystander('b');
  const done = s.requests('a').filter((r) => r.status === 0);
  // The client's own running time per call: its latency less the bystander's turns in it.
  const own = done.map((r) => {
    const away = by.gaps
      .filter((g) => g.at >= r.start && g.at < r.start + r.cycles)
      .reduce((x, g) => x + g.cycles, 0);
    return r.cycles - away;
  });
  const mean = own.reduce((x, y) => x + y, 0) / own.length;
  const away = by.gaps.reduce((x, g) => x + g.cycles, 0);
  return {
    callsPerSlice: SLICE / mean,
    longestWait: Math.max(...by.gaps.map((g) => g.cycles)) / SLICE,
    share: 1 - away / (by.to - by.from),
    latencies: done.map((r) => r.cycles),
  };
}

export interface SlowServer {
  /** The fast client's sb_calls answered SB_EBUSY, of all it made. */
  busy: number;
  /** Time until served (retries included), per request. */
  latencies: number[];
  unserved: number;
}

/** (b) A fast client on core 0 and `slow` clients on cores 1.. keeping a server of
 *  `maxConcurrent` stacks busy with long calls. The fast client retries SB_EBUSY answers. */
export function slowServer(
  profile: CpuProfile,
  round: number,
  slow: number,
  maxConcurrent: number,
  o: { fastCycles?: number; slowCycles?: number; requests?: number } = {},
): SlowServer {
  const slowNames = Array.from({ length: slow }, (_, i) => `slow${i + 1}`);
  const s = scene(profile, 1 + slow, ['server', 'fast', ...slowNames]);
  const sid = s.server('server', { maxConcurrent });
  s.bind('fast', sid);
  s.set('fast', 'max_calls', (o.requests ?? 100) + 1);
  s.set('fast', 'pause_max', 10_000);
  s.set('fast', 'retry_until', 1_000_000);
  slowNames.forEach((n, i) => {
    s.bind(n, sid);
    s.set(n, 'seed', 1000 + i);
    s.start(n, 'client_main', [sid, roundsFor(o.slowCycles ?? SLOW_CYCLES, round)], i + 1);
  });
  const fast = s.start(
    'fast',
    'client_main',
    [sid, roundsFor(o.fastCycles ?? FAST_CYCLES, round)],
    0,
  );
  s.run(() => !fast.alive);
  // The first request is cold (the server's pages, the view's TLB entries): left out.
  const rs = s.requests('fast').slice(1);
  const attempts = rs.reduce((x, r) => x + r.attempts, 0);
  const served = rs.filter((r) => r.status === 0).length;
  return {
    busy: (attempts - served) / attempts,
    latencies: rs.map((r) => r.cycles),
    unserved: rs.filter((r) => r.status === SB_EBUSY).length,
  };
}

export interface Preemption {
  /** Cycles a tick took out of a handler's loop (the gap less one normal round). */
  inServer: number[];
  /** The same for a client's loop in its own view. */
  inOwn: number[];
  /** Interrupted calls whose handler found itself in the server's view after the tick. */
  resumed: number;
}

/** (c) Ticks inside a handler (core 0) and in a client's own view (core 1). */
export function preemption(profile: CpuProfile, round: number, calls = 30): Preemption {
  const s = scene(profile, 2, ['server', 'client', 'own']);
  const sid = s.server('server', {});
  s.bind('client', sid);
  s.bind('own', sid);
  s.set('client', 'max_calls', calls + 1);
  s.set('own', 'gap_threshold', 200);
  const t = s.start('client', 'client_main', [sid, roundsFor(3 * TICK, round)], 0);
  const b = s.start('own', 'bystander_main', [30 * TICK], 1);
  s.run(() => !t.alive && !b.alive);
  const rs = s.requests('client').slice(1);
  const by = s.bystander('own');
  const away = by.gaps.reduce((x, g) => x + g.cycles, 0);
  const ownRound = (by.to - by.from - away) / (by.rounds - by.gaps.length);
  return {
    inServer: rs.map((r) => r.gap - round),
    inOwn: by.gaps.map((g) => g.cycles - ownRound),
    resumed: rs.filter((r) => r.view === sid).length / rs.length,
  };
}

/** (d) How long calls to a handler that never returns run before the budget ends them
 *  (each after a random wait of up to one tick period, so calls start at every phase). */
export function budgetEnds(profile: CpuProfile, budgetTicks: number, calls = 30): Request[] {
  const s = scene(profile, 1, ['server', 'client']);
  const sid = s.server('server', { budgetTicks });
  s.bind('client', sid);
  s.set('client', 'max_calls', calls);
  s.set('client', 'pause_max', TICK);
  const t = s.start('client', 'client_main', [sid, FOREVER], 0);
  s.run(() => !t.alive);
  return s.requests('client');
}

/** (d) Back-to-back calls of `handlerCycles` under a budget: the fraction ended. */
export function backToBack(
  profile: CpuProfile,
  round: number,
  handlerCycles: number,
  budgetTicks: number,
  calls = 40,
): number {
  const s = scene(profile, 1, ['server', 'client']);
  const sid = s.server('server', { budgetTicks });
  s.bind('client', sid);
  s.set('client', 'max_calls', calls + 1);
  s.set('client', 'pause_max', 500);
  const t = s.start('client', 'client_main', [sid, roundsFor(handlerCycles, round)], 0);
  s.run(() => !t.alive);
  const rs = s.requests('client').slice(1);
  return rs.filter((r) => r.status === SB_ETIMEOUT).length / rs.length;
}

const WHOSE_TIME = [1_000, 10_000, 50_000, 150_000];
const SLOW: readonly [number, number][] = [
  [0, 1],
  [1, 1],
  [1, 2],
  [2, 2],
  [2, 3],
];
const BUDGETS = [1, 2, 3, 5];
const BACK_TO_BACK = [0.5, 0.9, 1.5, 2.5, 3.5];
const BACK_TO_BACK_BUDGET = 3;

function run(ctx: RunContext): ExperimentResult {
  const { profile } = ctx;
  const rows: ResultRow[] = [];
  const add = (spec: RowSpec) => rows.push(row('temporal', spec));
  const base = { kernel: KERNEL, mechanism: 'skybridge' } as const;
  const pick = <T>(xs: readonly T[]): readonly T[] => (ctx.quick ? xs.slice(0, 1) : xs);
  const whose = pick(WHOSE_TIME);
  const slows = ctx.quick ? SLOW.slice(1, 2) : SLOW;
  const budgets = pick(BUDGETS);
  const backs = pick(BACK_TO_BACK);
  const total = 2 + whose.length + slows.length + budgets.length + backs.length;
  let done = 0;
  const step = () => ctx.progress?.(++done, total);
  const round = roundCycles(profile);
  step();

  for (const h of whose) {
    const r = whoseTime(profile, round, h);
    const params = { ...base, handlerCycles: h };
    const g = 'whose-time';
    add({
      group: g,
      metric: 'calls-per-slice',
      measurement: `calls a client completes per time slice of its own (${SLICE_TICKS} ticks), handler of ${h} cycles`,
      params,
      value: r.callsPerSlice,
      unit: 'calls',
    });
    add({
      group: g,
      metric: 'longest-wait',
      measurement: 'longest time a thread of equal priority on the same core went without it',
      params,
      value: r.longestWait,
      unit: 'slices',
    });
    add({
      group: g,
      metric: 'share',
      measurement: 'share of the core the other thread got',
      params,
      value: r.share,
      unit: 'fraction',
    });
    for (const p of [50, 99] as const)
      add({
        group: g,
        metric: p === 50 ? 'p50' : 'p99',
        measurement: `the client's call latency, percentile ${p} (the other thread's slices included)`,
        params,
        value: percentile(r.latencies, p),
        unit: 'cycles',
      });
    step();
  }

  for (const [slow, mc] of slows) {
    const r = slowServer(profile, round, slow, mc);
    const params = { ...base, slowClients: slow, maxConcurrent: mc };
    const g = 'slow-server';
    add({
      group: g,
      metric: 'busy-fraction',
      measurement: `a fast client's calls (handler ${FAST_CYCLES} cycles) answered SB_EBUSY, with ${slow} slow client(s) (${SLOW_CYCLES} cycles) on other cores and ${mc} stack(s)`,
      params,
      value: r.busy,
      unit: 'fraction',
      ...(r.unserved > 0 && { note: `${r.unserved} request(s) not served within 10^6 cycles` }),
    });
    for (const p of [50, 99] as const)
      add({
        group: g,
        metric: p === 50 ? 'p50' : 'p99',
        measurement: `the fast client's time until served (retrying SB_EBUSY), percentile ${p}`,
        params,
        value: percentile(r.latencies, p),
        unit: 'cycles',
      });
    step();
  }

  const pr = preemption(profile, round);
  for (const [view, xs] of [
    ['server', pr.inServer],
    ['own', pr.inOwn],
  ] as const)
    add({
      group: 'preemption',
      metric: 'tick-cost',
      measurement: `cycles a timer tick takes from a thread in ${view === 'own' ? 'its own' : "a server's"} view (median)`,
      params: { ...base, view },
      value: median(xs),
      unit: 'cycles',
    });
  add({
    group: 'preemption',
    metric: 'resumed-in-view',
    measurement: "calls interrupted by a tick whose handler went on in the server's view",
    params: { ...base, view: 'server' },
    value: pr.resumed,
    unit: 'fraction',
  });
  step();

  for (const b of budgets) {
    const ends = budgetEnds(profile, b).map((r) => r.cycles / TICK);
    const st: Stats = summarize(ends);
    add({
      group: 'budget',
      metric: 'ended-after',
      measurement: `how long a call that never returns runs before a budget of ${b} tick(s) ends it`,
      params: { ...base, budgetTicks: b },
      value: ends.reduce((x, y) => x + y, 0) / ends.length,
      unit: 'tick periods',
      stats: st,
      note: `${st.n} calls started at random phases: ended after ${st.min.toFixed(2)} to ${st.max.toFixed(2)} tick periods`,
    });
    step();
  }
  for (const f of backs) {
    const h = Math.round(f * TICK);
    add({
      group: 'budget',
      metric: 'timeout-fraction',
      measurement: `back-to-back calls of ${f} tick periods ended by a budget of ${BACK_TO_BACK_BUDGET} ticks`,
      params: { ...base, budgetTicks: BACK_TO_BACK_BUDGET, handlerCycles: h },
      value: backToBack(profile, round, h, BACK_TO_BACK_BUDGET),
      unit: 'fraction',
    });
    step();
  }

  return {
    id: 'temporal',
    title: temporal.title,
    rows,
    notes: [
      `seL4 with SkyBridge, timer every ${TICK.toLocaleString('en-US')} cycles, slices of ${SLICE_TICKS} ticks (${SLICE.toLocaleString('en-US')} cycles), threads of equal priority; the handler does a fixed amount of work (${round.toFixed(1)} cycles a round), so time spent elsewhere adds to its latency.${ctx.quick ? ' --quick: one case of each kind.' : ''}`,
      "whose-time: the handler runs on the client's thread, so its time comes out of the client's slice: calls per slice fall as the handler grows, while the other thread's share stays about one half and it never waits longer than about one slice, whatever the handler does. Natively (seL4 without MCS) the server is a thread with its own priority and slice: its work is charged to it, and a client with long calls does not use up its own slice (seL4's MCS passive servers charge the caller, as SkyBridge does).",
      'slow-server: a server has a fixed number of stacks and no queue: with as many slow clients as stacks, a fast client on another core is answered SB_EBUSY and, retrying, waits for the gap between two slow calls; with a stack to spare its latency is the same as with no slow client (each call runs on its own core). Natively, a single-threaded server queues the fast client behind the slow request instead.',
      "preemption: a tick inside a handler enters the kernel, which leaves the server's view for its own work and returns the thread to that view (the handler reads its tag after the gap); the extra cost over a tick in the thread's own view is the kernel's two VMFUNCs and the tag read.",
      `budget: the budget is per server (every binding to it gets the same) and counts ticks that find the thread running in a server's view since its outermost call began; a call that never returns ends between (B − 1) and B tick periods after it starts (a little over B: the timer is re-armed after each tick's entry work, and the unwinding adds its own), and ticks while the thread is not running do not count. Back-to-back calls shorter than (B − 1) periods are never ended; calls longer than B periods always are.`,
    ],
  };
}

export const temporal: Experiment = { ...experimentInfo('temporal'), run };
