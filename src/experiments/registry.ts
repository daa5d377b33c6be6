// Every experiment `skybridge reproduce` can run, in the order it runs them.

import type { Experiment } from './experiment.ts';
import { primitives } from './primitives.ts';
import { ipc } from './ipc.ts';
import { indirect } from './indirect.ts';
import { sensitivity } from './sensitivity.ts';
import { sqlite } from './sqlite.ts';
import { temporal } from './temporal.ts';

export const EXPERIMENTS: readonly Experiment[] = [primitives, ipc, indirect, sensitivity, sqlite, temporal];

export function findExperiment(id: string): Experiment | undefined {
  return EXPERIMENTS.find((e) => e.id === id);
}
