// `skybridge sweep SWEEP.yaml`: loads and checks the sweep (every problem at once), finds the
// runs its results file has already, and runs the others — on worker threads here, or as jobs
// on a BullMQ queue that `skybridge worker`s take — writing each result as it comes. A run
// that fails is reported at the end and left out of the file, so a rerun tries it again.

import { createHash } from 'node:crypto';
import { hostname } from 'node:os';
import type { SweepLine } from '../report/sweep-schema.ts';
import { gitState, toolVersion } from '../report/provenance.ts';
import { createPool, defaultThreads } from './pool.ts';
import { progressBar } from './progress.ts';
import type { QueueAddress } from './queue-address.ts';
import { ResultsFile } from './results-file.ts';
import { loadSweep, type SweepPlan } from './sweep-file.ts';
import type { RunTask } from './task.ts';

export interface SweepOptions {
  /** Worker threads for local runs (default: one per core). */
  jobs?: number;
  /** Run on this queue's workers instead of here. */
  queue?: QueueAddress;
  /** The results file instead of the sweep's own. */
  output?: string;
  /** Draw progress on stderr. */
  progress?: boolean;
  /** Warnings and notes (a repaired file, results from another checkout). */
  warn?: (line: string) => void;
}

export interface SweepSummary {
  plan: SweepPlan;
  /** Runs whose lines the file had before. */
  already: number;
  /** Runs run now and written. */
  ran: number;
  failed: { task: RunTask; reason: string }[];
  /** Lines in the file that are no run of this sweep (kept). */
  foreign: number;
}

/** Calls back with each task's line or failure; resolves once every task has one. */
type Executor = (
  tasks: readonly RunTask[],
  line: (l: SweepLine) => void,
  failed: (t: RunTask, reason: string) => void,
) => Promise<void>;

function local(jobs: number): Executor {
  return async (tasks, line, failed) => {
    if (tasks.length === 0) return;
    const pool = createPool(Math.min(jobs, tasks.length));
    try {
      await Promise.all(
        tasks.map((t) =>
          pool
            .run(t)
            .then(line, (e: unknown) => failed(t, e instanceof Error ? e.message : String(e))),
        ),
      );
    } finally {
      await pool.close();
    }
  };
}

function onQueue(address: QueueAddress, sweepId: string): Executor {
  return async (tasks, line, failed) => {
    const { runOnQueue } = await import('./queue-sweep.ts');
    await runOnQueue(address, sweepId, tasks, { line, failed });
  };
}

/** The sweep's id on a queue: its results file on this host, so a rerun finds its jobs. */
function sweepId(plan: SweepPlan): string {
  return createHash('sha256').update(`${hostname()}\0${plan.output}`).digest('hex').slice(0, 16);
}

export async function runSweep(file: string, o: SweepOptions = {}): Promise<SweepSummary> {
  const warn = o.warn ?? ((): void => {});
  const plan = await loadSweep(file, o.output === undefined ? {} : { output: o.output });
  const results = ResultsFile.open(plan.output);
  try {
    if (results.repaired)
      warn(`${plan.output}: its last line was cut off (a run was being written): removed`);
    const keys = new Set(plan.tasks.map((t) => t.key));
    const have = new Set(results.earlier.map((l) => l.key));
    const todo = plan.tasks.filter((t) => !have.has(t.key));
    const foreign = results.earlier.filter((l) => !keys.has(l.key)).length;
    const mine = { version: toolVersion().version, commit: gitState()?.commit ?? null };
    const strangers = new Set<string>();
    const summary: SweepSummary = {
      plan,
      already: plan.tasks.length - todo.length,
      ran: 0,
      failed: [],
      foreign,
    };
    const progress = progressBar(o.progress === true && todo.length > 0);
    const execute =
      o.queue === undefined ? local(o.jobs ?? defaultThreads()) : onQueue(o.queue, sweepId(plan));
    progress.start(todo.length);
    try {
      await execute(
        todo,
        (line) => {
          results.append(line);
          summary.ran++;
          progress.tick();
          // A worker of another version or checkout ran it: said once per kind.
          const p = line.provenance;
          const theirs = `${p.tool.version} ${p.git?.commit ?? 'no git checkout'}`;
          if (
            (p.tool.version !== mine.version || (p.git?.commit ?? null) !== mine.commit) &&
            !strangers.has(theirs)
          ) {
            strangers.add(theirs);
            warn(
              `run ${line.index} was run by ${p.tool.name} ${theirs}, not by this checkout (${mine.version} ${mine.commit ?? 'no git checkout'}); its line says so`,
            );
          }
        },
        (task, reason) => {
          summary.failed.push({ task, reason });
          progress.tick();
        },
      );
    } finally {
      progress.stop();
    }
    summary.failed.sort((a, b) => a.task.index - b.task.index);
    return summary;
  } finally {
    results.close();
  }
}
