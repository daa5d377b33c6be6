// What an experiment may hand to a worker thread (parallel.ts): a task by name, with an
// argument and a result that survive structured cloning (plain data). The worker
// (parallel-worker.ts) and the in-thread fallback both run a task through this table, so a
// case computes the same thing wherever it runs.

import type { CpuProfile } from '../hw/profile-schema.ts';
import { runYcsb, type YcsbCase, type YcsbResult } from './sqlite-ycsb.ts';

export const TASKS = {
  /** One YCSB run of SQLite on the storage stack (sqlite-ycsb.ts). */
  ycsb: (a: { profile: CpuProfile; c: YcsbCase }): YcsbResult => runYcsb(a.profile, a.c),
} as const;

export type TaskName = keyof typeof TASKS;
export type TaskArg<N extends TaskName> = Parameters<(typeof TASKS)[N]>[0];
export type TaskResult<N extends TaskName> = ReturnType<(typeof TASKS)[N]>;

/** Runs task `name` on `arg` in this thread. */
export function runTask<N extends TaskName>(name: N, arg: TaskArg<N>): TaskResult<N> {
  return (TASKS[name] as (a: TaskArg<N>) => TaskResult<N>)(arg);
}
