// What an experiment is and what it returns. Every figure in a result is read from the
// machine's cycle and event counters after the modelled code ran; `reference` columns carry
// published figures for comparison only and never enter a computation.

import type { CpuProfile } from '../hw/profile-schema.ts';

export interface ResultRow {
  /** What was measured, in words. */
  measurement: string;
  value: number;
  unit: string;
  /** A published figure for the same thing, if there is one (shown beside, not used). */
  reference?: number;
  referenceSource?: string;
  /** How the value came about (the composition, the condition). */
  note?: string;
}

export interface ExperimentResult {
  id: string;
  title: string;
  rows: ResultRow[];
  notes: string[];
}

export interface RunContext {
  profile: CpuProfile;
  /** Reports progress on long runs (done of total steps). */
  progress?: (done: number, total: number) => void;
}

export interface Experiment {
  id: string;
  title: string;
  description: string;
  run(ctx: RunContext): ExperimentResult;
}
