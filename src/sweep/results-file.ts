// A sweep's results file: JSON Lines, one finished run a line, appended as each run finishes
// (one write a line), so a sweep that is stopped keeps every run it finished and a rerun
// skips them. A last line cut off by a kill is cut away before anything is appended.

import { closeSync, existsSync, ftruncateSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { readSweepLines } from '../report/sweep-lines.ts';
import type { SweepLine } from '../report/sweep-schema.ts';

export class ResultsFile {
  private fd: number | undefined;
  private constructor(
    readonly path: string,
    /** The lines already in the file when it was opened. */
    readonly earlier: readonly SweepLine[],
    /** Whether a cut-off last line was removed. */
    readonly repaired: boolean,
  ) {}

  /** Opens `path` for appending (made if missing), reading the lines it has. */
  static open(path: string): ResultsFile {
    let earlier: SweepLine[] = [];
    let repaired = false;
    mkdirSync(dirname(path), { recursive: true });
    if (existsSync(path)) {
      const read = readSweepLines(path);
      earlier = read.lines;
      if (read.partial) {
        const fd = openSync(path, 'r+');
        try {
          ftruncateSync(fd, read.completeBytes);
        } finally {
          closeSync(fd);
        }
        repaired = true;
      }
    }
    const file = new ResultsFile(path, earlier, repaired);
    try {
      file.fd = openSync(path, 'a');
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      throw new Error(`cannot write ${path}${code === undefined ? '' : ` (${code})`}`);
    }
    return file;
  }

  append(line: SweepLine): void {
    if (this.fd === undefined) throw new Error(`${this.path} is closed`);
    writeSync(this.fd, `${JSON.stringify(line)}\n`);
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}
