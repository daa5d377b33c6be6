// Reads a sweep's results file (JSON Lines, sweep-schema.ts), checking every line before
// anything is drawn from it or skipped because of it. A last line without its newline is a
// write that was cut off (the sweep was killed while writing it): it is left out and said so,
// and a rerun runs that run again.

import { readText } from './read-results.ts';
import { sweepLineSchema, SWEEP_LINE_VERSION, type SweepLine } from './sweep-schema.ts';

/** How many bad lines an error names (the first ones; the count says if there are more). */
const SHOWN = 5;

export interface SweepLines {
  lines: SweepLine[];
  /** Bytes of the file up to the end of its last complete line. */
  completeBytes: number;
  /** Whether text followed the last complete line (a cut-off write). */
  partial: boolean;
}

/** Whether `file` is named as a sweep's results (JSON Lines) rather than a JSON document. */
export function isSweepResultsFile(file: string): boolean {
  return /\.jsonl$/i.test(file);
}

export function parseSweepLines(text: string, source: string): SweepLines {
  const end = text.lastIndexOf('\n') + 1;
  const problems: string[] = [];
  const lines: SweepLine[] = [];
  text
    .slice(0, end)
    .split('\n')
    .forEach((raw, i) => {
      if (raw.trim() === '') return;
      const at = `line ${i + 1}`;
      let json: unknown;
      try {
        json = JSON.parse(raw);
      } catch (e) {
        problems.push(`${at}: not JSON (${e instanceof Error ? e.message : String(e)})`);
        return;
      }
      const version = (json as { sweepLine?: unknown } | null)?.sweepLine;
      if (version !== undefined && version !== SWEEP_LINE_VERSION) {
        problems.push(
          `${at}: written in sweep line version ${String(version)}; this tool reads version ${SWEEP_LINE_VERSION}`,
        );
        return;
      }
      const r = sweepLineSchema.safeParse(json);
      if (r.success) lines.push(r.data);
      else {
        const first = r.error.issues[0]!;
        problems.push(`${at}: ${first.path.join('.') || '(line)'}: ${first.message}`);
      }
    });
  if (problems.length > 0) {
    const more = problems.length > SHOWN ? `; and ${problems.length - SHOWN} more` : '';
    throw new Error(
      `${source}: not the results of 'skybridge sweep' (one run a line): ${problems.slice(0, SHOWN).join('; ')}${more}`,
    );
  }
  return {
    lines,
    completeBytes: Buffer.byteLength(text.slice(0, end)),
    partial: end < text.length,
  };
}

/** Reads `file`; a missing file is an error (the sweep checks for one itself). */
export function readSweepLines(file: string): SweepLines {
  return parseSweepLines(readText(file), file);
}
