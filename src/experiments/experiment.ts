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
  /**
   * What agreement with `reference` would mean (docs/calibration.md):
   * - 'calibrated': a parameter of the profile or of a kernel path was derived from this very
   *   figure (or chosen with it in view), so agreement is by construction;
   * - 'reproduced': computed from inputs independent of the figure, then compared with it.
   * Required when `reference` is given; a row without a reference is a prediction.
   */
  basis?: 'calibrated' | 'reproduced';
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
