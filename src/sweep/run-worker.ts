// The module each worker thread of a sweep's pool loads (pool.ts): one task in, its results
// line out. Kept apart from run-task.ts so that the pool names one small file.

import type { SweepLine } from '../report/sweep-schema.ts';
import { runTask } from './run-task.ts';
import type { RunTask } from './task.ts';

export default function runInThread(task: RunTask): SweepLine {
  return runTask(task);
}
