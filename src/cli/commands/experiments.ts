// `skybridge list` and `skybridge reproduce [ID…]`: run the experiments on the simulated
// machine and print what its counters measured, each experiment as soon as it has finished.

import type { Command } from 'commander';
import cliProgress from 'cli-progress';
import { EXPERIMENTS, findExperiment } from '../../experiments/registry.ts';
import type { Experiment, ExperimentResult } from '../../experiments/experiment.ts';
import { SKYLAKE, loadProfile, type CpuProfile } from '../../hw/profile.ts';
import { describeProvenance, provenance } from '../../report/provenance.ts';
import { JsonResultsWriter, renderResult } from '../../report/table.ts';
import { style as pc } from '../../report/style.ts';
import { ArgumentError } from '../errors.ts';

const EXIT_HELP = `
Exit status:
  0  every experiment ran
  1  error: the profile could not be read or is invalid, or an experiment failed (with
     --json, what was printed before the failure is not a complete document)
  2  usage: an unknown experiment ID, a bad option`;

function selectExperiments(ids: string[]): Experiment[] {
  if (ids.length === 0) return [...EXPERIMENTS];
  return ids.map((id) => {
    const e = findExperiment(id);
    if (e === undefined) {
      throw new ArgumentError(
        `unknown experiment '${id}' (known: ${EXPERIMENTS.map((x) => x.id).join(', ')}; see 'skybridge list')`,
      );
    }
    return e;
  });
}

/** Runs `e`, with a progress bar and its ETA on stderr when `showProgress`. */
function runOne(
  e: Experiment,
  profile: CpuProfile,
  showProgress: boolean,
  quick = false,
): ExperimentResult {
  const bar = showProgress
    ? new cliProgress.SingleBar(
        {
          format: `${e.id} [{bar}] {value}/{total}, ETA {eta_formatted}`,
          stream: process.stderr,
          clearOnComplete: true,
          etaBuffer: 4,
        },
        cliProgress.Presets.shades_classic,
      )
    : undefined;
  let started = false;
  try {
    return e.run({
      profile,
      ...(quick && { quick }),
      progress: (done, total) => {
        if (!bar) return;
        if (!started) {
          bar.start(total, 0);
          started = true;
        }
        bar.update(done);
      },
    });
  } finally {
    if (started) bar?.stop();
  }
}

function reproduce(
  ids: string[],
  opts: { json?: boolean; profile?: string; quick?: boolean },
): void {
  const experiments = selectExperiments(ids);
  const profile = opts.profile ? loadProfile(opts.profile) : SKYLAKE;
  const prov = provenance(profile, opts.profile ?? 'default');
  const out = (text: string): void => void process.stdout.write(text);
  const showProgress = !opts.json && process.stderr.isTTY === true;
  if (opts.json) {
    const json = new JsonResultsWriter(out);
    json.begin(prov);
    for (const e of experiments) json.experiment(runOne(e, profile, false, opts.quick === true));
    json.end();
    return;
  }
  out(`${pc.dim(describeProvenance(prov))}\n`);
  for (const e of experiments) out(`\n${renderResult(runOne(e, profile, showProgress, opts.quick === true))}\n`);
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
      'run experiments on the simulated machine and print what it measured, each as it finishes (all when no ID is given)',
    )
    .argument('[ids...]', "experiment IDs (see 'skybridge list')")
    .option(
      '--json',
      'print one JSON document { schemaVersion, provenance, experiments: [{ id, title, rows, notes }] } (docs/results.schema.json)',
    )
    .option(
      '--profile <file>',
      'a CPU profile (YAML or JSON) merged over the default Skylake profile',
    )
    .option(
      '--quick',
      'small sizes for a smoke run (the long experiments run one case of each kind); the figures are not the ones reported',
    )
    .addHelpText('after', EXIT_HELP)
    .action(reproduce);
}
