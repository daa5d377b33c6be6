// `skybridge scan` and `skybridge rewrite`: find and remove stray VMFUNC bytes (0F 01 D4) in
// x86-64 ELF binaries. The work is in src/binary; this file only parses options and prints.
import { realpathSync } from 'node:fs';
import { Command, type CommanderError } from 'commander';
import { SingleBar } from 'cli-progress';
import Table from 'cli-table3';
import pc from 'picocolors';
import { style } from '../../report/style.ts';
import { UsageError } from '../errors.ts';
import { isBinaryToolError } from '../../binary/errors.ts';
import { isSameFile, readInputFile, writeOutputAtomically } from '../../binary/file-io.ts';
import { hex, toJson } from '../../binary/json.ts';
import { describeOccurrence, type Occurrence } from '../../binary/occurrence.ts';
import { rewriteElf } from '../../binary/rewriter.ts';
import { scanFile, type FileScan } from '../../binary/scan-file.ts';
import type { ProgressFn } from '../../binary/scanner.ts';

/** Exit statuses of scan and rewrite (documented in --help and docs/binary.md). */
export const EXIT = { clean: 0, error: 1, usage: 2, found: 3 } as const;

const EXIT_HELP = `
Exit status:
  0  every file scanned clean (rewrite: output written, or input already clean)
  3  scan: 0F 01 D4 found in at least one file, and every file was scanned
  1  error: a file could not be read, is not an ELF file we handle, or the rewrite was
     refused (one line on stderr per file; nothing is written)
  2  usage: bad options or arguments`;

const PROGRESS_MIN_BYTES = 16 << 20;

/** A progress bar on stderr, only for large scans and only when stderr is a terminal. */
function progress(): { update: ProgressFn | undefined; stop: () => void } {
  if (!process.stderr.isTTY) return { update: undefined, stop: () => {} };
  const bar = new SingleBar({
    stream: process.stderr,
    format: 'scanning {bar} {percentage}%',
    hideCursor: true,
  });
  let started = false;
  return {
    update: (done, total) => {
      if (!started && total < PROGRESS_MIN_BYTES) return;
      if (!started) bar.start(total, 0);
      started = true;
      bar.update(done);
    },
    stop: () => {
      if (started) bar.stop();
    },
  };
}

/** One line on stderr, as main.ts prints a thrown error, without ending the command. */
function reportError(message: string): void {
  const red = process.stderr.isTTY ? pc.red : (t: string): string => t;
  process.stderr.write(`${red('skybridge: error:')} ${message}\n`);
}

/** Usage errors exit with status 2 (commander's own, e.g. a missing argument, and ours). */
function usageExit(err: CommanderError): never {
  process.exit(err.exitCode === 0 ? 0 : EXIT.usage);
}

function short(s: string): string {
  return s.length > 40 ? `${s.slice(0, 24)}…${s.slice(-15)}` : s;
}

function occurrenceRows(file: string, occs: Occurrence[]): string[][] {
  return occs.map((o) => [
    file,
    hex(o.address),
    hex(o.fileOffset),
    o.section ?? '-',
    short(o.symbol ?? '-'),
    o.kind,
    describeOccurrence(o),
  ]);
}

type FileResult =
  | { file: string; status: 'clean' | 'found'; scan: FileScan }
  | { file: string; status: 'error'; error: string };

function scanOne(file: string): FileResult {
  const bar = progress();
  try {
    const r = scanFile(file, bar.update);
    if (r.kind === 'invalid') return { file, status: 'error', error: `${file}: ${r.message}` };
    return { file, status: r.kind, scan: r.scan };
  } catch (err) {
    // Unreadable files are reported and the others still scanned; anything else is a bug.
    if (!isBinaryToolError(err)) throw err;
    return { file, status: 'error', error: err.message };
  } finally {
    bar.stop();
  }
}

function scanCommand(files: string[], opts: { json?: boolean }): void {
  const results = files.map(scanOne);
  for (const r of results) if (r.status === 'error') reportError(r.error);
  process.exitCode = results.some((r) => r.status === 'error')
    ? EXIT.error
    : results.some((r) => r.status === 'found')
      ? EXIT.found
      : EXIT.clean;
  if (opts.json) {
    const out = results.map((r) =>
      r.status === 'error'
        ? { file: r.file, status: r.status, error: r.error }
        : {
            file: r.file,
            status: r.status,
            bytesScanned: r.scan.bytesScanned,
            segments: r.scan.segments,
            occurrences: r.scan.occurrences,
          },
    );
    process.stdout.write(`${toJson(out)}\n`);
    return;
  }
  const table = new Table({
    head: ['file', 'address', 'offset', 'section', 'symbol', 'kind', 'where'],
    // No colour codes in the borders or head: output may be piped or read by a program.
    style: { head: [], border: [] },
  });
  for (const r of results)
    if (r.status !== 'error') table.push(...occurrenceRows(r.file, r.scan.occurrences));
  if (table.length > 0) process.stdout.write(`${table.toString()}\n`);
  for (const r of results) {
    if (r.status === 'error') continue;
    const n = r.scan.occurrences.length;
    const what = n === 0 ? style.green('clean') : style.yellow(`${n} occurrence(s) of 0F 01 D4`);
    process.stdout.write(
      `${r.file}: ${what} in ${r.scan.bytesScanned} bytes of executable segments\n`,
    );
  }
}

interface RewriteOpts {
  output?: string;
  inPlace?: boolean;
  json?: boolean;
  strict?: boolean;
}

function rewriteCommand(input: string, opts: RewriteOpts, cmd: Command): void {
  const usage = (msg: string): never =>
    cmd.error(`error: ${msg}`, { exitCode: EXIT.usage, code: 'skybridge.usage' });
  if (!opts.output && !opts.inPlace) usage('give -o <out>, or --in-place to replace the input');
  const file = readInputFile(input);
  const same = opts.output !== undefined && isSameFile(file, opts.output);
  if (opts.inPlace && opts.output !== undefined && !same)
    usage(`--in-place replaces the input; -o ${opts.output} names another file`);
  if (same && !opts.inPlace)
    usage(`-o ${opts.output} is the input file; add --in-place to replace it`);
  // In place: replace the file a symlink points to, not the symlink.
  const output = opts.inPlace ? realpathSync(input) : opts.output!;
  const shown = opts.inPlace ? input : output;
  const bar = progress();
  const r = rewriteElf(file.bytes, bar.update, { strict: opts.strict });
  bar.stop();
  switch (r.kind) {
    case 'invalid':
      throw new UsageError(`${input}: ${r.message}`);
    case 'refused': {
      const where = r.occurrences
        .slice(0, 3)
        .map((o) => `${hex(o.address)} (${describeOccurrence(o)})`)
        .join(', ');
      throw new UsageError(
        `${input}: refused: ${r.reason}${where ? ` [${where}]` : ''}; no output written`,
      );
    }
    case 'unchanged':
      // In place, a clean input is left alone: nothing to write.
      if (!opts.inPlace) writeOutputAtomically(output, file.bytes, file.mode);
      if (opts.json) process.stdout.write(`${toJson({ input, output: shown, changes: [] })}\n`);
      else
        process.stdout.write(
          opts.inPlace
            ? `${input}: clean, left unchanged\n`
            : `${input}: clean, copied unchanged to ${output}\n`,
        );
      return;
    case 'rewritten': {
      writeOutputAtomically(output, r.bytes, file.mode);
      if (opts.json) {
        const { changes, nonExecutable, evacuated } = r;
        const remaining = r.after.occurrences.length;
        process.stdout.write(
          `${toJson({ input, output: shown, changes, nonExecutable, evacuated, remaining })}\n`,
        );
        return;
      }
      for (const c of r.changes) {
        const moved = c.movedTo === undefined ? '' : ` -> moved to ${hex(c.movedTo)}`;
        process.stdout.write(`${hex(c.address)} ${style.cyan(c.strategy)}${moved}\n`);
        process.stdout.write(`  before: ${c.before.join('; ')}\n`);
        process.stdout.write(
          `  after:  ${c.after.length > 0 ? c.after.join('; ') : '(same instruction, other encoding)'}\n`,
        );
        if (c.possiblyData)
          process.stdout.write(
            `  ${style.yellow('warning')}: rewritten as code, but may be data (${c.possiblyData}); --strict refuses this\n`,
          );
      }
      const ev = r.evacuated;
      if (ev)
        process.stdout.write(
          `${hex(ev.start)}-${hex(ev.end)} ${style.cyan('moved')} to ${hex(ev.movedTo)}: the code of page(s) ${ev.pages.map(hex).join(', ')}; ${ev.codeReferences} branch(es)/pointer(s) in code, ${ev.loaderReferences} loader field(s) re-pointed, ${ev.unwindEntries} FDE(s) copied${ev.jumpTables > 0 ? `, ${ev.jumpTables} jump table(s) given a copy` : ''}\n`,
        );
      for (const n of r.nonExecutable) {
        const moved = ev?.pages.some((p) => p >= n.start && p < n.end);
        process.stdout.write(
          `${hex(n.start)}-${hex(n.end)} ${style.cyan('non-executable')}: ${moved ? 'code moved out' : 'no code'}; data with 0F 01 D4 at ${n.occurrences.map(hex).join(', ') || '-'}\n`,
        );
      }
      process.stdout.write(
        `${input}: ${r.changes.length} change(s), ${r.nonExecutable.length} range(s) made non-executable${ev ? `, code moved off ${ev.pages.length} page(s)` : ''}; ${shown} re-scanned: ${style.green('clean')}\n`,
      );
    }
  }
}

export function registerBinaryCommands(program: Command): void {
  program
    .command('scan')
    .description(
      'find every 0F 01 D4 (VMFUNC) byte sequence in the executable segments of x86-64 ELF files',
    )
    .argument('<file...>', 'ELF64 little-endian x86-64 files (every one is reported)')
    .option('--json', 'print machine-readable JSON: one entry per file, errors included')
    .addHelpText('after', EXIT_HELP)
    .exitOverride(usageExit)
    .action(scanCommand);
  program
    .command('rewrite')
    .description(
      'rewrite an x86-64 ELF file so that no 0F 01 D4 remains executable (code rewritten, pages of data made non-executable), keeping its behaviour',
    )
    .argument('<in>', 'input ELF file')
    .option(
      '-o, --output <out>',
      'output file (written only if the rewrite is clean and verified; keeps the input mode)',
    )
    .option('--in-place', 'replace the input file itself (required when -o names the input)')
    .option('--json', 'print machine-readable JSON')
    .option('--strict', 'refuse occurrences that may be data instead of rewriting them as code')
    .addHelpText('after', EXIT_HELP)
    .exitOverride(usageExit)
    .action(rewriteCommand);
}
