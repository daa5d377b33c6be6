// `skybridge worker --queue URL`: takes runs from a sweep's BullMQ queue and runs them on its
// own worker threads (pool.ts), one job per thread, until it is stopped. The main thread only
// talks to Redis, so it renews the locks of the jobs it holds while the threads run; if the
// worker dies its locks run out, and another worker's stalled-job check puts those jobs
// back in the queue for someone else (BullMQ's stalled jobs: docs.bullmq.io, "Stalled Jobs").

import { Worker, type Job } from 'bullmq';
import type { SweepLine } from '../report/sweep-schema.ts';
import { createPool } from './pool.ts';
import type { QueueAddress } from './queue-address.ts';
import { runTaskSchema, type RunTask } from './task.ts';

export interface WorkerOptions {
  threads: number;
  /** How long a job's lock lasts unless renewed (renewed at half of it): how long a dead
   *  worker's runs wait before another worker takes them again. */
  lockMs: number;
  /** One line per event (a run taken, finished, failed), for the worker's log. */
  log: (line: string) => void;
}

export interface RunningWorker {
  /** Stops taking runs, lets the running ones finish, and closes the threads. */
  close(): Promise<void>;
}

/** How many times a run may lose its worker before BullMQ fails it. */
const MAX_STALLS = 10;

function label(t: RunTask): string {
  const params = Object.entries(t.params)
    .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
    .join(' ');
  return `run ${t.index} ${t.key} (${t.base}${params === '' ? '' : `; ${params}`})`;
}

export async function startWorker(address: QueueAddress, o: WorkerOptions): Promise<RunningWorker> {
  const pool = createPool(o.threads);
  const worker = new Worker<RunTask, SweepLine>(
    address.name,
    async (job: Job<RunTask, SweepLine>) => {
      const task = runTaskSchema.parse(job.data);
      o.log(`${label(task)}: started`);
      const line = await pool.run(task);
      o.log(`${label(task)}: done`);
      return line;
    },
    {
      connection: address.connection,
      concurrency: o.threads,
      lockDuration: o.lockMs,
      stalledInterval: o.lockMs,
      maxStalledCount: MAX_STALLS,
      autorun: false,
    },
  );
  worker.on('failed', (job, err) => {
    const what = job === undefined ? 'a run' : label(job.data);
    o.log(`${what}: failed: ${err.message.split('\n')[0]}`);
  });
  let lastError = '';
  worker.on('error', (e) => {
    // ioredis retries a lost connection itself; say so once per kind of error.
    if (e.message !== lastError) o.log(`queue error: ${e.message}`);
    lastError = e.message;
  });
  void worker.run();
  await worker.waitUntilReady();
  o.log(
    `taking runs from ${address.display} on ${o.threads} thread${o.threads === 1 ? '' : 's'} (lock ${o.lockMs / 1000} s)`,
  );
  return {
    async close() {
      await worker.close();
      await pool.close();
    },
  };
}
