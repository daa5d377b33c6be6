// The entry of parallel.ts's worker threads: piscina calls the default export with each task.
//
// piscina loads this file with require() before it tries import(). From the sources, tsx's
// CommonJS hook (the worker's --import tsx) then compiles it, and it would compile whatever
// this file imports statically the same way: as CommonJS, where every use of an imported
// binding reads a getter, which made the simulator 2 to 3 times slower in a worker than in
// the main thread. So the tasks come in through import(): from the sources through tsx's ES
// module loader (tsImport), which keeps ES modules as they are; from dist/ as the compiled
// module. parallel.ts says which, and where, in the pool's workerData.

import { workerData } from 'node:worker_threads';
import type { TaskName } from './parallel-tasks.ts';

type Tasks = typeof import('./parallel-tasks.ts');

/** What parallel.ts gives every worker. */
export interface WorkerData {
  /** parallel-tasks' URL (.ts from the sources, .js from dist/). */
  tasks: string;
  fromSource: boolean;
}

let tasks: Promise<Tasks> | undefined;

function load(): Promise<Tasks> {
  const w = workerData as WorkerData;
  if (!w.fromSource) return import(w.tasks) as Promise<Tasks>;
  return import('tsx/esm/api').then((api) => api.tsImport(w.tasks, w.tasks) as Promise<Tasks>);
}

export default async function run(t: { name: TaskName; arg: never }): Promise<unknown> {
  tasks ??= load();
  return (await tasks).runTask(t.name, t.arg);
}
