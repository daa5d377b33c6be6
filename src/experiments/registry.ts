// Every experiment `skybridge reproduce` can run, in the order it runs them. catalog.ts
// names and describes them without loading them (for `skybridge list`);
// test/experiments/catalog.test.ts checks that it says what this file has.

import type { Experiment } from './experiment.ts';
import { primitives } from './primitives.ts';
import { ipc } from './ipc.ts';
import { indirect } from './indirect.ts';
import { sensitivity } from './sensitivity.ts';
import { sqlite } from './sqlite.ts';
import { rootkernelPrice } from './rootkernel-price.ts';
import { temporal } from './temporal.ts';
import { mitigations } from './mitigations.ts';
import { multicore } from './multicore.ts';
import { multicoreSqlite } from './multicore-sqlite.ts';
import { eptpScale } from './eptp-scale.ts';
import { worstCases } from './worst-cases.ts';

export const EXPERIMENTS: readonly Experiment[] = [
  primitives,
  ipc,
  indirect,
  sensitivity,
  sqlite,
  rootkernelPrice,
  temporal,
  mitigations,
  multicore,
  multicoreSqlite,
  eptpScale,
  worstCases,
];

export function findExperiment(id: string): Experiment | undefined {
  return EXPERIMENTS.find((e) => e.id === id);
}
