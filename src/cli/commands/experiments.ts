// `skybridge list` and `skybridge reproduce [ID…]`: run the experiments on the simulated
// machine and print what its counters measured, each experiment as soon as it has finished.
// This file only declares the commands: the simulator is loaded when one runs (reproduce.ts),
// so `list` answers at once.

import { Option, type Command } from 'commander';
import { CATALOG } from '../../experiments/catalog.ts';
import type { ReproduceOptions } from '../reproduce.ts';

const EXIT_HELP = `
Output: the tables on stdout, or with --json, --csv or --md the results in that format
instead (one at most). --out FILE writes one format to FILE as well, while the tables (or the
chosen format) still go to stdout; the format is --format, or FILE's extension (.json, .csv,
.md). FILE appears only when every experiment has run.
  json  one document { schemaVersion, provenance, experiments: [{ id, title, rows, notes }] }
        (docs/results.schema.json), with each case's counters under --counters
  csv   one row per result row, every parameter a column (empty where it does not apply)
  md    a Markdown (GFM) table per experiment, with its notes

Exit status:
  0  every experiment ran
  1  error: the profile could not be read or is invalid, an experiment failed, or FILE could
     not be written (with --json, what was printed before the failure is not a complete
     document)
  2  usage: an unknown experiment ID, a bad option`;

export function registerExperimentCommands(program: Command): void {
  program
    .command('list')
    .description('list the experiments that reproduce runs')
    .action(() => {
      for (const e of CATALOG) process.stdout.write(`${e.id.padEnd(14)} ${e.description}\n`);
    });

  program
    .command('reproduce')
    .description(
      'run experiments on the simulated machine and print what it measured, each as it finishes (all when no ID is given)',
    )
    .argument('[ids...]', "experiment IDs (see 'skybridge list')")
    .addOption(
      new Option('--json', 'print the results as one JSON document').conflicts(['csv', 'md']),
    )
    .addOption(new Option('--csv', 'print the results as CSV').conflicts(['json', 'md']))
    .addOption(
      new Option('--md', 'print the results as Markdown tables').conflicts(['json', 'csv']),
    )
    .option(
      '-o, --out <file>',
      'also write the results to FILE (format: --format or its extension)',
    )
    .addOption(
      new Option('--format <format>', 'the format of --out FILE').choices(['json', 'csv', 'md']),
    )
    .option(
      '--counters',
      "print each case's named counters across its measured repetitions, as perf stat does (in the JSON document: experiments[].counters)",
    )
    .option(
      '--profile <file>',
      'a CPU profile (YAML or JSON) merged over the default Skylake profile',
    )
    .option(
      '--threads <n>',
      'worker threads for the experiments whose cases run in parallel (sqlite, rootkernel-price); default one per core, 1 runs them one after another here',
    )
    .option(
      '--records <n>',
      'YCSB records loaded per case (sqlite, rootkernel-price; default 100, --quick 20)',
    )
    .option(
      '--operations <n>',
      'YCSB operations run per case (sqlite, rootkernel-price; default 100, --quick 20)',
    )
    .option(
      '--full',
      "the paper-scale YCSB size: YCSB's own 1,000 records and 1,000 operations per case (hours on 2 cores)",
    )
    .option(
      '--quick',
      'small sizes for a smoke run (the long experiments run one case of each kind); the figures are not the ones reported',
    )
    .addHelpText('after', EXIT_HELP)
    .action(async (ids: string[], opts: ReproduceOptions) => {
      const { reproduce } = await import('../reproduce.ts');
      await reproduce(ids, opts);
    });
}
