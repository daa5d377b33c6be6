// Worker threads for runs (piscina): the sweep's local runs and each `skybridge worker`'s
// runs go through one. A run is synchronous and takes seconds to minutes, so it runs off the
// main thread, which stays free to write lines, draw progress and (in a queue worker) renew
// the locks on its jobs. The threads load run-worker: the compiled .js under dist/, or the
// TypeScript source through tsx when the sweep itself runs from the sources (tsx is then
// loaded in each thread, as `node --import tsx` loads it in the main one).

import { availableParallelism } from 'node:os';
import { Piscina } from 'piscina';
import type { SweepLine } from '../report/sweep-schema.ts';
import type { RunTask } from './task.ts';

const fromSource = import.meta.url.endsWith('.ts');

export interface RunPool {
  run(task: RunTask): Promise<SweepLine>;
  readonly threads: number;
  close(): Promise<void>;
}

/** One thread per core unless told otherwise. */
export function defaultThreads(): number {
  return availableParallelism();
}

export function createPool(threads = defaultThreads()): RunPool {
  const pool = new Piscina<RunTask, SweepLine>({
    filename: new URL(`./run-worker.${fromSource ? 'ts' : 'js'}`, import.meta.url).href,
    minThreads: threads,
    maxThreads: threads,
    // A thread takes one run at a time; the others wait in the pool's queue.
    concurrentTasksPerWorker: 1,
    // A thread kept between runs keeps its loaded modules and built guest images.
    idleTimeout: Number.MAX_SAFE_INTEGER,
    // Resolved from this package, not from the working directory the command runs in.
    execArgv: fromSource ? ['--import', import.meta.resolve('tsx')] : [],
  });
  return {
    threads,
    run: (task) => pool.run(task),
    close: () => pool.destroy(),
  };
}
