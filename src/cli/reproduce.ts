// What `skybridge reproduce` does once its options are parsed (commands/experiments.ts):
// runs each experiment, and hands each result, as soon as it is there, to the writer of the
// stdout format and to that of --out FILE.

import { closeSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import cliProgress from 'cli-progress';
import { CounterLog } from '../experiments/case-counters.ts';
import type { Experiment, ExperimentResult, RunContext } from '../experiments/experiment.ts';
import { SKYLAKE, loadProfile, type CpuProfile } from '../hw/profile.ts';
import { renderCaseCounters } from '../report/counters-table.ts';
import { formatOfFile, resultsWriter, type Format, type ResultsWriter } from '../report/export.ts';
import { describeProvenance, provenance } from '../report/provenance.ts';
import type { Provenance } from '../report/schema.ts';
import { style as pc } from '../report/style.ts';
import { renderResult } from '../report/table.ts';
import { ArgumentError } from './errors.ts';
import { loadExperiments } from './experiment-ids.ts';

export interface ReproduceOptions {
  json?: boolean;
  csv?: boolean;
  md?: boolean;
  out?: string;
  format?: Format;
  counters?: boolean;
  profile?: string;
  quick?: boolean;
  /** Worker threads (a whole number ≥ 1, as text from the command line). */
  threads?: string;
  /** YCSB's records and operations per case (whole numbers ≥ 1, as text), or --full. */
  records?: string;
  operations?: string;
  full?: boolean;
}

/** `text` as a whole number of at least 1, or a usage error naming `option`. */
function count(option: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  if (!/^\d+$/.test(text) || Number(text) < 1)
    throw new ArgumentError(`${option} must be a whole number of at least 1, got '${text}'`);
  return Number(text);
}

/** Runs `e` (its cases in worker threads when it offers that), with a progress bar and its
 *  ETA on stderr when `showProgress`. */
async function runOne(
  e: Experiment,
  profile: CpuProfile,
  showProgress: boolean,
  counters: boolean,
  sizes: Pick<RunContext, 'quick' | 'threads' | 'ycsb'>,
): Promise<ExperimentResult> {
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
  const log = counters ? new CounterLog(e.id) : undefined;
  try {
    const ctx: RunContext = {
      profile,
      ...sizes,
      ...(log === undefined ? {} : { counters: log }),
      progress: (done, total) => {
        if (!bar) return;
        if (!started) {
          bar.start(total, 0);
          started = true;
        }
        bar.update(done);
      },
    };
    const r = e.runParallel ? await e.runParallel(ctx) : e.run(ctx);
    return log === undefined ? r : { ...r, counters: log.cases };
  } finally {
    if (started) bar?.stop();
  }
}

/** The tables (and counters) for a terminal, as a ResultsWriter. */
class TableWriter implements ResultsWriter {
  constructor(private readonly write: (text: string) => void) {}
  begin(p: Provenance): void {
    this.write(`${pc.dim(describeProvenance(p))}\n`);
  }
  experiment(r: ExperimentResult): void {
    const counters = (r.counters ?? []).map((c) => `\n${renderCaseCounters(c)}\n`).join('');
    this.write(`\n${renderResult(r)}\n${counters}`);
  }
  end(): void {}
}

/** --out FILE: written beside FILE as the experiments finish, moved onto FILE at the end, and
 *  removed if anything fails, so FILE is complete or untouched. */
class OutputFile {
  private readonly tmp: string;
  private fd: number;
  constructor(readonly file: string) {
    this.tmp = join(dirname(file), `.${basename(file)}.${process.pid}.tmp`);
    try {
      this.fd = openSync(this.tmp, 'w');
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      throw new Error(`cannot write ${file}${code === undefined ? '' : ` (${code})`}`);
    }
  }
  write = (text: string): void => void writeSync(this.fd, text);
  commit(): void {
    closeSync(this.fd);
    renameSync(this.tmp, this.file);
  }
  abandon(): void {
    try {
      closeSync(this.fd);
    } catch {
      // closed already
    }
    rmSync(this.tmp, { force: true });
  }
}

function outFormat(opts: ReproduceOptions): Format | undefined {
  if (opts.out === undefined) {
    if (opts.format !== undefined) throw new ArgumentError('--format applies to --out FILE');
    return undefined;
  }
  const f = opts.format ?? formatOfFile(opts.out);
  if (f === undefined)
    throw new ArgumentError(
      `cannot tell the format of ${opts.out} from its extension: name it .json, .csv or .md, or give --format`,
    );
  return f;
}

export async function reproduce(ids: string[], opts: ReproduceOptions): Promise<void> {
  const experiments = await loadExperiments(ids);
  const threads = count('--threads', opts.threads);
  const records = count('--records', opts.records);
  const operations = count('--operations', opts.operations);
  if (opts.full === true && opts.quick === true)
    throw new ArgumentError('--full and --quick ask for opposite sizes: give one of them');
  const sizes: Pick<RunContext, 'quick' | 'threads' | 'ycsb'> = {
    ...(opts.quick === true && { quick: true }),
    ...(threads !== undefined && { threads }),
    ...((records !== undefined || operations !== undefined || opts.full === true) && {
      ycsb: {
        ...(records !== undefined && { records }),
        ...(operations !== undefined && { operations }),
        ...(opts.full === true && { full: true }),
      },
    }),
  };
  const fileFormat = outFormat(opts);
  const profile = opts.profile ? loadProfile(opts.profile) : SKYLAKE;
  const prov = provenance(profile, opts.profile ?? 'default');
  const stdoutFormat: Format | undefined = opts.json
    ? 'json'
    : opts.csv
      ? 'csv'
      : opts.md
        ? 'md'
        : undefined;
  const out = (text: string): void => void process.stdout.write(text);
  const writers: ResultsWriter[] = [
    stdoutFormat === undefined ? new TableWriter(out) : resultsWriter(stdoutFormat, out),
  ];
  const file = opts.out === undefined ? undefined : new OutputFile(opts.out);
  try {
    if (file !== undefined) writers.push(resultsWriter(fileFormat!, file.write));
    const showProgress = stdoutFormat === undefined && process.stderr.isTTY === true;
    for (const w of writers) w.begin(prov);
    for (const e of experiments) {
      const r = await runOne(e, profile, showProgress, opts.counters === true, sizes);
      for (const w of writers) w.experiment(r);
    }
    for (const w of writers) w.end();
    file?.commit();
  } catch (e) {
    file?.abandon();
    throw e;
  }
}
