// `skybridge report [ids…] -o DIR`: an HTML page with figures (SVG and PNG) and tables, from
// experiments run now or from a document `reproduce --json` wrote earlier. The work is in
// src/report; this file parses options, runs the experiments and prints where the page is.

import type { Command } from 'commander';
import type { Experiment } from '../../experiments/experiment.ts';
import { SKYLAKE, loadProfile } from '../../hw/profile.ts';
import { provenance } from '../../report/provenance.ts';
import { readResults, validateResults } from '../../report/read-results.ts';
import { outputDirProblem, writeReport } from '../../report/report.ts';
import { isSweepResultsFile } from '../../report/sweep-lines.ts';
import { SCHEMA_VERSION, type ResultsDocument } from '../../report/schema.ts';
import { ArgumentError } from '../errors.ts';
import { checkExperimentIds, loadExperiments } from '../experiment-ids.ts';

const EXIT_HELP = `
DIR receives index.html, each figure as .svg, .png and .vl.json (its Vega-Lite specification),
and results.json. DIR must be new, empty, or an earlier report (which is replaced); the report
is written beside it and moved into place at the end, so a failure leaves nothing behind.

Exit status:
  0  the report was written
  1  error: the profile or the --from file could not be read or is invalid, an experiment
     failed, or the report could not be written
  2  usage: an unknown experiment ID, IDs together with --from, a bad option, or a DIR that
     holds something other than an earlier report`;

interface ReportOptions {
  output: string;
  from?: string;
  profile?: string;
}

/** Runs the experiments as `reproduce --json` does and returns its document. */
function runExperiments(experiments: Experiment[], profileFile?: string): ResultsDocument {
  const profile = profileFile ? loadProfile(profileFile) : SKYLAKE;
  const prov = provenance(profile, profileFile ?? 'default');
  const results = experiments.map((e) => {
    if (process.stderr.isTTY) process.stderr.write(`running ${e.id}…\n`);
    return e.run({ profile });
  });
  // The same check a document read with --from gets.
  return validateResults(
    { schemaVersion: SCHEMA_VERSION, provenance: prov, experiments: results },
    'the experiments run now',
  );
}

async function report(ids: string[], opts: ReportOptions): Promise<void> {
  if (opts.from !== undefined && ids.length > 0)
    throw new ArgumentError('name experiment IDs or --from FILE, not both');
  if (opts.from !== undefined && opts.profile !== undefined)
    throw new ArgumentError('--profile applies to experiments run now, not to --from FILE');
  // Refused before any experiment runs.
  await checkExperimentIds(ids);
  const problem = outputDirProblem(opts.output);
  if (problem !== undefined) throw new ArgumentError(problem);
  if (opts.from !== undefined && isSweepResultsFile(opts.from)) {
    const { writeSweepReport } = await import('../../report/sweep-report.ts');
    const r = await writeSweepReport(opts.from, opts.output);
    process.stdout.write(`${r.index}: a sweep's runs, ${r.figures.length} figure(s)\n`);
    return;
  }
  const doc =
    opts.from !== undefined
      ? readResults(opts.from)
      : runExperiments(await loadExperiments(ids), opts.profile);
  const r = await writeReport(doc, opts.output);
  process.stdout.write(
    `${r.index}: ${doc.experiments.length} experiment(s), ${r.figures.length} figure(s)\n`,
  );
}

export function registerReportCommand(program: Command): void {
  program
    .command('report')
    .description(
      'write an HTML report with figures (SVG, PNG) and tables: of experiments run now (all when no ID is given), or of a reproduce --json document',
    )
    .argument('[ids...]', "experiment IDs (see 'skybridge list')")
    .requiredOption('-o, --output <dir>', 'the directory to write the report to')
    .option(
      '--from <file>',
      "a document written by 'skybridge reproduce --json', or a sweep's results (.jsonl: each numeric result drawn against the swept axes)",
    )
    .option(
      '--profile <file>',
      'a CPU profile (YAML or JSON) merged over the default Skylake profile',
    )
    .addHelpText('after', EXIT_HELP)
    .action(report);
}
