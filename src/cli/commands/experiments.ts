// `skybridge list` and `skybridge reproduce [ID…]`: run the experiments on the simulated
// machine and print what its counters measured.

import type { Command } from 'commander';
import cliProgress from 'cli-progress';
import { EXPERIMENTS, findExperiment } from '../../experiments/registry.ts';
import type { Experiment, ExperimentResult } from '../../experiments/experiment.ts';
import { SKYLAKE, loadProfile, type CpuProfile } from '../../hw/profile.ts';
import { renderResult, toJson } from '../../report/table.ts';
import { UsageError } from '../errors.ts';

function selectExperiments(ids: string[]): Experiment[] {
  if (ids.length === 0) return [...EXPERIMENTS];
  return ids.map((id) => {
    const e = findExperiment(id);
    if (e === undefined) {
      throw new UsageError(
        `unknown experiment '${id}' (known: ${EXPERIMENTS.map((x) => x.id).join(', ')}; see 'skybridge list')`,
      );
    }
    return e;
  });
}

function runAll(
  experiments: Experiment[],
  profile: CpuProfile,
  showProgress: boolean,
): ExperimentResult[] {
  const results: ExperimentResult[] = [];
  for (const e of experiments) {
    const bar = showProgress
      ? new cliProgress.SingleBar(
          {
            format: `${e.id} [{bar}] {value}/{total}`,
            stream: process.stderr,
            clearOnComplete: true,
          },
          cliProgress.Presets.shades_classic,
        )
      : undefined;
    let started = false;
    results.push(
      e.run({
        profile,
        progress: (done, total) => {
          if (!bar) return;
          if (!started) {
            bar.start(total, 0);
            started = true;
          }
          bar.update(done);
        },
      }),
    );
    bar?.stop();
  }
  return results;
}

export function registerExperimentCommands(program: Command): void {
  program
    .command('list')
    .description('list the experiments that reproduce runs')
    .action(() => {
      for (const e of EXPERIMENTS) process.stdout.write(`${e.id.padEnd(14)} ${e.description}\n`);
    });

  program
    .command('reproduce')
    .description(
      'run experiments on the simulated machine and print what it measured (all when no ID is given)',
    )
    .argument('[ids...]', "experiment IDs (see 'skybridge list')")
    .option('--json', 'print results as JSON: { experiments: [{ id, title, rows, notes }] }')
    .option(
      '--profile <file>',
      'a CPU profile (YAML or JSON) merged over the default Skylake profile',
    )
    .action((ids: string[], opts: { json?: boolean; profile?: string }) => {
      const experiments = selectExperiments(ids);
      const profile = opts.profile ? loadProfile(opts.profile) : SKYLAKE;
      const results = runAll(experiments, profile, !opts.json && process.stderr.isTTY === true);
      if (opts.json) process.stdout.write(toJson(results) + '\n');
      else process.stdout.write(results.map(renderResult).join('\n\n') + '\n');
    });
}
