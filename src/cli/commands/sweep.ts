// `skybridge sweep SWEEP.yaml`: many runs of an experiment or a scenario, one per point of the
// sweep's axes, into one JSON Lines file; on worker threads here (--jobs), or on any number
// of machines through a BullMQ queue in Redis (--queue, with `skybridge worker` on each).
// The work is in src/sweep; this file parses options and prints the summary.

import { relative } from 'node:path';
import type { Command } from 'commander';
import { ArgumentError } from '../errors.ts';

const HELP = `
The results go to the sweep's output (default: SWEEP.jsonl beside the sweep file), one run a
line, as each run finishes; a rerun skips the runs the file has. docs/sweeps.md describes the
sweep file, the results and how to start Redis and workers.

Exit status:
  0  every run of the sweep is in the results file
  1  error: a run failed (the others are written; a rerun tries it again), or the results
     file or Redis could not be used
  2  usage: the sweep file has problems (all are listed), or a bad option`;

interface SweepFlags {
  jobs?: string;
  queue?: string;
  out?: string;
}

/** A positive integer option, or a usage error naming it. */
export function positive(flag: string, text: string): number {
  const n = /^\d+$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(n) || n < 1)
    throw new ArgumentError(`${flag} must be a positive integer, got '${text}'`);
  return n;
}

async function sweep(file: string, flags: SweepFlags): Promise<void> {
  if (flags.jobs !== undefined && flags.queue !== undefined)
    throw new ArgumentError(
      "--jobs is for runs here; with --queue the workers run them ('skybridge worker --jobs N')",
    );
  const jobs = flags.jobs === undefined ? undefined : positive('--jobs', flags.jobs);
  const [{ runSweep }, { SweepError }, { SweepArgumentError }, { parseQueueAddress }] =
    await Promise.all([
      import('../../sweep/sweep.ts'),
      import('../../sweep/sweep-file.ts'),
      import('../../sweep/errors.ts'),
      import('../../sweep/queue-address.ts'),
    ]);
  try {
    const queue = flags.queue === undefined ? undefined : parseQueueAddress(flags.queue);
    const s = await runSweep(file, {
      ...(jobs !== undefined && { jobs }),
      ...(queue !== undefined && { queue }),
      ...(flags.out !== undefined && { output: flags.out }),
      progress: process.stderr.isTTY === true,
      warn: (line) => void process.stderr.write(`skybridge: warning: ${line}\n`),
    });
    const total = s.plan.tasks.length;
    const where = queue === undefined ? '' : ` by the workers of ${queue.display}`;
    const foreign = s.foreign === 0 ? '' : `; ${s.foreign} other line(s) in the file kept`;
    process.stdout.write(
      `${file}: ${total} run${total === 1 ? '' : 's'}: ${s.ran} run now${where}, ${s.already} there already${foreign} → ${relative(process.cwd(), s.plan.output) || s.plan.output}\n`,
    );
    if (s.failed.length > 0) {
      const lines = s.failed.map((f) => `  run ${f.task.index} (${f.task.key}): ${f.reason}`);
      throw new Error(
        `${s.failed.length} run(s) failed (not written; a rerun tries them again):\n${lines.join('\n')}`,
      );
    }
  } catch (e) {
    if (e instanceof SweepError || e instanceof SweepArgumentError)
      throw new ArgumentError(e.message);
    throw e;
  }
}

export function registerSweepCommand(program: Command): void {
  program
    .command('sweep')
    .description(
      'run an experiment or a scenario once per point of a sweep (axes, or a list of runs) into a JSON Lines file; here on worker threads, or across machines through Redis',
    )
    .argument('<sweep>', 'the sweep file (YAML; docs/sweeps.md)')
    .option('-j, --jobs <n>', 'worker threads for the runs (default: one per core)')
    .option(
      '--queue <url>',
      "enqueue the runs on Redis for 'skybridge worker's to take: redis://HOST:PORT[/DB[/NAME]]",
    )
    .option('-o, --out <file>', "the results file (default: the sweep's output, or SWEEP.jsonl)")
    .addHelpText('after', HELP)
    .action(sweep);
}
