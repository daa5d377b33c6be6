// The sweep's side of a BullMQ queue (`skybridge sweep --queue URL`): every run still to do
// becomes a job whose id is the sweep's id and the run's key, so a sweep started again adds
// no job twice and finds the results of jobs finished while it was away; results are
// collected as workers finish them (the queue's events, and a poll for what the events
// missed), each handed on and its job removed once it is written. A run whose worker died is
// BullMQ's to retry: its lock runs out and a live worker's stalled-job check puts it back.

import { Queue, QueueEvents, type Job } from 'bullmq';
import type { SweepLine } from '../report/sweep-schema.ts';
import type { QueueAddress } from './queue-address.ts';
import type { RunTask } from './task.ts';

/** How often the sweep looks for finished jobs the events did not announce. */
const POLL_MS = 2000;
/** How long the sweep waits for Redis to answer before it gives up. */
const CONNECT_MS = 10_000;

export interface QueueHandlers {
  line(line: SweepLine): void;
  failed(task: RunTask, reason: string): void;
}

/** Waits for the connection to Redis; an error names the address and why. */
async function reachable(queue: Queue, address: QueueAddress, lastError: () => string) {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new Error(
            `cannot reach Redis at ${address.display} in ${CONNECT_MS / 1000} s${lastError() ? `: ${lastError()}` : ''}`,
          ),
        ),
      CONNECT_MS,
    );
  });
  try {
    await Promise.race([queue.waitUntilReady(), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export async function runOnQueue(
  address: QueueAddress,
  sweepId: string,
  tasks: readonly RunTask[],
  on: QueueHandlers,
): Promise<void> {
  if (tasks.length === 0) return;
  let lastError = '';
  const noteError = (e: Error): void => {
    lastError = e.message;
  };
  const queue = new Queue(address.name, { connection: address.connection });
  queue.on('error', noteError);
  const events = new QueueEvents(address.name, { connection: address.connection });
  events.on('error', noteError);
  let poll: NodeJS.Timeout | undefined;
  try {
    await reachable(queue, address, () => lastError);
    await events.waitUntilReady();
    const byId = new Map(tasks.map((t) => [`${sweepId}-${t.key}`, t]));
    const handled = new Set<string>();
    let finish!: () => void;
    let fail!: (e: unknown) => void;
    const done = new Promise<void>((resolve, reject) => {
      finish = resolve;
      fail = reject;
    });

    /** Takes a finished job's result (once), then removes the job. */
    const settle = async (job: Job | undefined): Promise<void> => {
      if (job?.id === undefined || !byId.has(job.id) || handled.has(job.id)) return;
      const state = await job.getState();
      if (handled.has(job.id)) return;
      if (state === 'completed') {
        handled.add(job.id);
        on.line(job.returnvalue as SweepLine);
      } else if (state === 'failed') {
        handled.add(job.id);
        on.failed(byId.get(job.id)!, job.failedReason);
      } else return;
      await job.remove();
      if (handled.size === byId.size) finish();
    };
    const settleId = (id: string): void => {
      if (!byId.has(id) || handled.has(id)) return;
      queue.getJob(id).then(settle).catch(fail);
    };
    events.on('completed', ({ jobId }) => settleId(jobId));
    events.on('failed', ({ jobId }) => settleId(jobId));

    await queue.addBulk(
      tasks.map((t) => ({
        name: 'run',
        data: t,
        opts: {
          jobId: `${sweepId}-${t.key}`,
          // The sweep removes a job once its result is written, so none is lost.
          removeOnComplete: false,
          removeOnFail: false,
          // A run is deterministic: one that threw would throw again.
          attempts: 1,
        },
      })),
    );
    const sweepFinished = async (): Promise<void> => {
      const jobs = await queue.getJobs(['completed', 'failed']);
      for (const j of jobs) await settle(j);
    };
    const tick = (): void => {
      sweepFinished().then(() => {
        if (handled.size < byId.size) poll = setTimeout(tick, POLL_MS);
      }, fail);
    };
    tick();
    await done;
  } finally {
    clearTimeout(poll);
    await events.close();
    await queue.close();
  }
}
