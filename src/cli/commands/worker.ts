// `skybridge worker --queue URL`: takes the runs of sweeps started with `skybridge sweep
// --queue URL` and runs them here on worker threads, until it is stopped (SIGINT or SIGTERM
// let the runs in hand finish; a second signal ends it at once, and its runs go to another
// worker once their locks run out). src/sweep/queue-worker.ts does the work.

import type { Command } from 'commander';
import { ArgumentError } from '../errors.ts';
import { positive } from './sweep.ts';

interface WorkerFlags {
  queue: string;
  jobs?: string;
  lockSeconds: string;
}

async function worker(flags: WorkerFlags): Promise<void> {
  const [{ parseQueueAddress }, { SweepArgumentError }, { startWorker }, { defaultThreads }] =
    await Promise.all([
      import('../../sweep/queue-address.ts'),
      import('../../sweep/errors.ts'),
      import('../../sweep/queue-worker.ts'),
      import('../../sweep/pool.ts'),
    ]);
  let address;
  try {
    address = parseQueueAddress(flags.queue);
  } catch (e) {
    if (e instanceof SweepArgumentError) throw new ArgumentError(e.message);
    throw e;
  }
  const threads = flags.jobs === undefined ? defaultThreads() : positive('--jobs', flags.jobs);
  const lockMs = positive('--lock-seconds', flags.lockSeconds) * 1000;
  const log = (line: string): void => {
    process.stdout.write(`${new Date().toISOString()} ${line}\n`);
  };
  const running = await startWorker(address, { threads, lockMs, log });
  await new Promise<void>((resolve) => {
    let stopping = false;
    const stop = (signal: NodeJS.Signals): void => {
      if (stopping) process.exit(130);
      stopping = true;
      log(`${signal}: finishing the runs in hand (again to stop at once)`);
      running.close().then(resolve, (e: unknown) => {
        log(`while stopping: ${e instanceof Error ? e.message : String(e)}`);
        resolve();
      });
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  log('stopped');
}

export function registerWorkerCommand(program: Command): void {
  program
    .command('worker')
    .description(
      "take runs from a sweep's Redis queue (skybridge sweep --queue) and run them on worker threads, until stopped",
    )
    .requiredOption('--queue <url>', 'the queue: redis://HOST:PORT[/DB[/NAME]]')
    .option('-j, --jobs <n>', 'runs at once, one worker thread each (default: one per core)')
    .option(
      '--lock-seconds <s>',
      "how long a run's lock lasts unless renewed: after this long a dead worker's runs go to another worker",
      '30',
    )
    .addHelpText(
      'after',
      '\ndocs/sweeps.md says how to start Redis and workers on several machines.',
    )
    .action(worker);
}
