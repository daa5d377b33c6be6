// Independent cases of an experiment run in worker threads (piscina), one per core by
// default. A case is a task of parallel-tasks.ts: plain data in, plain data out, and a fresh
// simulated machine inside, so where and in which order cases run changes nothing in what
// they compute (the model is deterministic and a case shares no state with another); results
// come back in the order the cases were given, so the rows built from them are the
// sequential run's. With one thread the cases run here, one after another, without workers.
//
// API (for joining with other pools later):
//   const pool = new TaskPool({ threads });          // threads ≥ 1, default availableParallelism()
//   const r = await pool.all('ycsb', args, progress); // results in order of args
//   const one = await pool.run('ycsb', arg);
//   await pool.close();                              // always (finally)

import { availableParallelism } from 'node:os';
import { Piscina } from 'piscina';
import { runTask, type TaskArg, type TaskName, type TaskResult } from './parallel-tasks.ts';
import type { WorkerData } from './parallel-worker.ts';

/** From the sources (tsx) the worker and its tasks are .ts files and need tsx's loaders
 *  (parallel-worker.ts says how it uses them); from dist/ they are the compiled .js files
 *  beside this one. */
const FROM_SOURCE = import.meta.url.endsWith('.ts');
const EXT = FROM_SOURCE ? 'ts' : 'js';
const WORKER = new URL(`./parallel-worker.${EXT}`, import.meta.url).href;
const WORKER_DATA: WorkerData = {
  tasks: new URL(`./parallel-tasks.${EXT}`, import.meta.url).href,
  fromSource: FROM_SOURCE,
};

export interface PoolOptions {
  /** Worker threads (default: one per core); 1 runs every task in this thread. */
  threads?: number;
}

export class TaskPool {
  readonly threads: number;
  private readonly pool: Piscina | null;

  constructor(o: PoolOptions = {}) {
    const n = o.threads ?? availableParallelism();
    if (!Number.isInteger(n) || n < 1)
      throw new RangeError(`threads must be a whole number of at least 1, not ${n}`);
    this.threads = n;
    this.pool =
      n === 1
        ? null
        : new Piscina({
            filename: WORKER,
            minThreads: 0,
            maxThreads: n,
            // Kept between the batches of one experiment; close() ends them.
            idleTimeout: 60_000,
            execArgv: FROM_SOURCE ? ['--import', import.meta.resolve('tsx')] : [],
            workerData: WORKER_DATA,
          });
  }

  /** Runs task `name` on `arg` (in a worker, or here with one thread). */
  async run<N extends TaskName>(name: N, arg: TaskArg<N>): Promise<TaskResult<N>> {
    if (this.pool === null) return runTask(name, arg);
    return (await this.pool.run({ name, arg })) as TaskResult<N>;
  }

  /** Runs task `name` on every one of `args`, reporting each that finishes; the results are
   *  in the order of `args`. */
  async all<N extends TaskName>(
    name: N,
    args: readonly TaskArg<N>[],
    done?: () => void,
  ): Promise<TaskResult<N>[]> {
    if (this.pool === null) {
      const out: TaskResult<N>[] = [];
      for (const a of args) {
        out.push(runTask(name, a));
        done?.();
      }
      return out;
    }
    return Promise.all(
      args.map(async (a) => {
        const r = await this.run(name, a);
        done?.();
        return r;
      }),
    );
  }

  /** Ends the worker threads (waiting for none of their tasks). */
  async close(): Promise<void> {
    await this.pool?.destroy();
  }
}

/** Counts finished cases into `progress` (done of `total`). */
export function progressCounter(
  total: number,
  progress?: (done: number, total: number) => void,
): () => void {
  let done = 0;
  return () => progress?.(++done, total);
}
