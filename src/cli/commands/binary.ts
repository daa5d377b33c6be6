// `skybridge scan` and `skybridge rewrite`: find and remove stray VMFUNC bytes (0F 01 D4) in
// x86-64 ELF binaries. The work is in src/binary; this file only parses options and prints.
import { Command } from 'commander';
import { SingleBar } from 'cli-progress';
import Table from 'cli-table3';
import { style as pc } from '../../report/style.ts';
import { UsageError } from '../errors.ts';
import { readInput, writeOutputAtomically } from '../../binary/file-io.ts';
import { hex, toJson } from '../../binary/json.ts';
import { describeOccurrence, type Occurrence } from '../../binary/occurrence.ts';
import { rewriteElf } from '../../binary/rewriter.ts';
import { scanElf, type ProgressFn } from '../../binary/scanner.ts';

const PROGRESS_MIN_BYTES = 16 << 20;

/** A progress bar on stderr, only for large files and only when stderr is a terminal. */
function progress(size: number): { update: ProgressFn | undefined; stop: () => void } {
  if (!process.stderr.isTTY || size < PROGRESS_MIN_BYTES)
    return { update: undefined, stop: () => {} };
  const bar = new SingleBar({
    stream: process.stderr,
    format: 'scanning {bar} {percentage}%',
    hideCursor: true,
  });
  let started = false;
  return {
    update: (done, total) => {
      if (!started) bar.start(total, 0);
      started = true;
      bar.update(done);
    },
    stop: () => {
      if (started) bar.stop();
    },
  };
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

function scanCommand(files: string[], opts: { json?: boolean }): void {
  const results = files.map((file) => {
    const bytes = readInput(file);
    const bar = progress(bytes.length);
    const r = scanElf(bytes, bar.update);
    bar.stop();
    if (r.kind === 'invalid') throw new UsageError(`${file}: ${r.message}`);
    return { file, scan: r.scan };
  });
  if (opts.json) {
    const out = results.map(({ file, scan }) => ({
      file,
      bytesScanned: scan.bytesScanned,
      segments: scan.segments,
      occurrences: scan.occurrences,
    }));
    process.stdout.write(`${toJson(out)}\n`);
    return;
  }
  const table = new Table({
    head: ['file', 'address', 'offset', 'section', 'symbol', 'kind', 'where'],
    // No colour codes in the borders or head: output may be piped or read by a program.
    style: { head: [], border: [] },
  });
  for (const { file, scan } of results) table.push(...occurrenceRows(file, scan.occurrences));
  if (table.length > 0) process.stdout.write(`${table.toString()}\n`);
  for (const { file, scan } of results) {
    const n = scan.occurrences.length;
    const what = n === 0 ? pc.green('clean') : pc.yellow(`${n} occurrence(s) of 0F 01 D4`);
    process.stdout.write(`${file}: ${what} in ${scan.bytesScanned} bytes of executable segments\n`);
  }
}

function rewriteCommand(
  input: string,
  opts: { output: string; json?: boolean; strict?: boolean },
): void {
  const bytes = readInput(input);
  const bar = progress(bytes.length);
  const r = rewriteElf(bytes, bar.update, { strict: opts.strict });
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
      writeOutputAtomically(opts.output, bytes);
      if (opts.json)
        process.stdout.write(`${toJson({ input, output: opts.output, changes: [] })}\n`);
      else process.stdout.write(`${input}: clean, copied unchanged to ${opts.output}\n`);
      return;
    case 'rewritten':
      writeOutputAtomically(opts.output, r.bytes);
      if (opts.json) {
        process.stdout.write(
          `${toJson({ input, output: opts.output, changes: r.changes, remaining: r.after.occurrences.length })}\n`,
        );
        return;
      }
      for (const c of r.changes) {
        const moved = c.movedTo === undefined ? '' : ` -> moved to ${hex(c.movedTo)}`;
        process.stdout.write(`${hex(c.address)} ${pc.cyan(c.strategy)}${moved}\n`);
        process.stdout.write(`  before: ${c.before.join('; ')}\n`);
        process.stdout.write(
          `  after:  ${c.after.length > 0 ? c.after.join('; ') : '(same instruction, other encoding)'}\n`,
        );
        if (c.possiblyData)
          process.stdout.write(
            `  ${pc.yellow('warning')}: rewritten as code, but may be data (${c.possiblyData}); --strict refuses this\n`,
          );
      }
      process.stdout.write(
        `${input}: ${r.changes.length} change(s); ${opts.output} re-scanned: ${pc.green('clean')}\n`,
      );
  }
}

export function registerBinaryCommands(program: Command): void {
  program
    .command('scan')
    .description(
      'find every 0F 01 D4 (VMFUNC) byte sequence in the executable segments of x86-64 ELF files',
    )
    .argument('<file...>', 'ELF64 little-endian x86-64 files')
    .option('--json', 'print machine-readable JSON')
    .action(scanCommand);
  program
    .command('rewrite')
    .description(
      'rewrite an x86-64 ELF file so that no 0F 01 D4 remains in its code, keeping its behaviour',
    )
    .argument('<in>', 'input ELF file')
    .requiredOption(
      '-o, --output <out>',
      'output file (written only if the rewrite is clean and verified)',
    )
    .option('--json', 'print machine-readable JSON')
    .option('--strict', 'refuse occurrences that may be data instead of rewriting them as code')
    .action(rewriteCommand);
}
