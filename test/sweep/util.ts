// What the sweep tests share: fixture paths, a fresh folder, and lines compared without what
// may differ between two runs of the same checkout (its git state, read per run).

import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseSweepLines } from '../../src/report/sweep-lines.ts';

export const FIXTURES = new URL('./fixtures/', import.meta.url).pathname;
export const ECHO_SWEEP = join(FIXTURES, 'echo-sweep.yaml');
export const ECHO_LIST = join(FIXTURES, 'echo-list.yaml');
export const ROOT = new URL('../../', import.meta.url).pathname;

export const tempDir = (): string => mkdtempSync(join(tmpdir(), 'skybridge-sweep-test-'));

/** The file's lines by key, each without its git state. */
export function linesByKey(file: string): Map<string, string> {
  const { lines } = parseSweepLines(readFileSync(file, 'utf8'), file);
  return new Map(
    lines.map((l) => [l.key, JSON.stringify({ ...l, provenance: { ...l.provenance, git: null } })]),
  );
}
