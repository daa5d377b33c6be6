// The named counters of each experiment case, as `perf stat` prints them: what `reproduce
// --counters` shows. An experiment hands over a snapshot of the machine's counters across the
// measured part of a case (the measured runs minus a warm-up-only twin, or the counters'
// difference across the measured loop); this turns it into rows of the results document.

import { COUNTERS, MODE_NAMES, type CounterSnapshot } from '../hw/counters.ts';
import { caseId, type CaseCounters, type RowParams } from '../report/schema.ts';

export type { CaseCounters } from '../report/schema.ts';

export interface CaseSpec {
  group?: string;
  params: RowParams;
  /** How many operations the counters cover (the measured round trips, runs, passes). */
  repetitions: number;
  /** What one repetition is ("round trip"). */
  per: string;
  /** The counters across exactly the measured repetitions. */
  snapshot: CounterSnapshot;
}

/** Collects the counters of every case an experiment runs (RunContext.counters). */
export class CounterLog {
  readonly cases: CaseCounters[] = [];

  constructor(private readonly experiment: string) {}

  add(spec: CaseSpec): void {
    this.cases.push(caseCounters(this.experiment, spec));
  }
}

/** Every counter that is not zero, with its split by mode. */
export function caseCounters(experiment: string, spec: CaseSpec): CaseCounters {
  const s = spec.snapshot;
  const counters = COUNTERS.map((c) => {
    const byMode = Object.fromEntries(
      MODE_NAMES.map((m, mode) => [m, s.get(c.name, { mode })]),
    ) as Record<(typeof MODE_NAMES)[number], number>;
    return {
      name: c.name,
      value: s.get(c.name),
      unit: c.unit,
      description: c.description,
      byMode,
    };
  }).filter((c) => c.value !== 0);
  return {
    case: caseId(experiment, spec.group, spec.params),
    ...(spec.group === undefined ? {} : { group: spec.group }),
    params: spec.params,
    repetitions: spec.repetitions,
    per: spec.per,
    counters,
  };
}
