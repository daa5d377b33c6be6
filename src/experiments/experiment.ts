// What an experiment is and what it returns. Every figure in a result is read from the
// machine's cycle and event counters after the modelled code ran; `reference` columns carry
// published figures for comparison only and never enter a computation.
//
// The row and result types are defined once, as a zod schema, in src/report/schema.ts: a row
// has a stable `id` derived from its parameters, the parameters as typed fields, its value
// and unit, statistics when the value is a mean of repetitions, and the published figure it
// is shown beside with the figure's source and `basis` ('calibrated' | 'reproduced',
// docs/calibration.md).

import type { CpuProfile } from '../hw/profile-schema.ts';
import { rowId, type ExperimentResult, type ResultRow, type Stats } from '../report/schema.ts';
import type { CounterLog } from './case-counters.ts';
import type { ExperimentInfo } from './catalog.ts';

export type { ExperimentResult, Metric, ResultRow, RowParams, Stats } from '../report/schema.ts';

/** Every seed a run of the experiments uses (SkyBridge's calling keys). */
export const SEEDS = { skybridge: 1 } as const;

export interface RunContext {
  profile: CpuProfile;
  /** Reports progress on long runs (done of total steps). */
  progress?: (done: number, total: number) => void;
  /** A smoke run (`reproduce --quick`): the long experiments run one small case of each
   *  kind, to show that they work and what their rows look like; not the reported figures. */
  quick?: boolean;
  /** When given, each case's counters across its measured repetitions go here. */
  counters?: CounterLog;
  /** Worker threads for `runParallel` (default: one per core). */
  threads?: number;
  /** YCSB's sizes for the experiments that run it (`--records`, `--operations`, `--full`). */
  ycsb?: YcsbSize;
}

/** Records loaded and operations run per YCSB case; `full`: the paper-scale size. */
export interface YcsbSize {
  records?: number;
  operations?: number;
  full?: boolean;
}

/** An experiment: its id, title and description (from catalog.ts) and how to run it. */
export interface Experiment extends ExperimentInfo {
  run(ctx: RunContext): ExperimentResult;
  /** The same result as `run`, its independent cases run in worker threads (parallel.ts);
   *  offered by experiments whose cases take long. */
  runParallel?(ctx: RunContext): Promise<ExperimentResult>;
}

/** Statistics of an IPC benchmark's measured round trips, per figure. */
export interface IpcStats {
  call: Stats;
  reply: Stats;
  roundTrip: Stats;
}

/** A row as an experiment states it; `row` adds the id. */
export type RowSpec = Omit<ResultRow, 'id'>;

/** A row with its id derived from the experiment, group, metric and parameters. */
export function row(experiment: string, spec: RowSpec): ResultRow {
  return { id: rowId(experiment, spec), ...spec };
}

/**
 * n, min, median, max and sample standard deviation of repetitions (the value a row shows is
 * their mean, computed where it always was; these describe its spread).
 */
export function summarize(xs: readonly number[]): Stats {
  const n = xs.length;
  if (n === 0) throw new RangeError('statistics of no repetitions');
  const s = [...xs].sort((a, b) => a - b);
  const median = n % 2 === 1 ? s[(n - 1) / 2]! : (s[n / 2 - 1]! + s[n / 2]!) / 2;
  const mean = s.reduce((a, b) => a + b, 0) / n;
  const ss = s.reduce((a, b) => a + (b - mean) ** 2, 0);
  return { n, min: s[0]!, median, max: s[n - 1]!, stddev: n > 1 ? Math.sqrt(ss / (n - 1)) : 0 };
}
