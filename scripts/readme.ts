// `npm run readme`: regenerates README.md's result tables (between its `<!-- generated: … -->`
// markers) from a run of the experiments they show, on the default profile; `-- --from
// FILE` takes them from a document `skybridge reproduce --json` wrote instead, and `--check`
// only says whether README.md is current (exit 1 when it is not).
// test/report/readme.test.ts runs the same experiments and fails when README.md is stale.

import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { kernelRows } from '../src/experiments/ipc.ts';
import { primitives } from '../src/experiments/primitives.ts';
import { SKYLAKE } from '../src/hw/profile.ts';
import { readResults } from '../src/report/read-results.ts';
import { readmeTables, updateReadme, type ReadmeTable } from '../src/report/readme-tables.ts';

export const README = fileURLToPath(new URL('../README.md', import.meta.url));

/** The tables as a run of this checkout draws them, on the default profile as the README's:
 *  the primitives experiment, and of the ipc experiment the rows the table shows (its first
 *  group; the whole experiment takes three times as long). */
export function currentTables(): Record<ReadmeTable, string> {
  const ctx = { profile: SKYLAKE };
  return readmeTables({
    experiments: [primitives.run(ctx), { id: 'ipc', title: '', rows: kernelRows(ctx), notes: [] }],
  });
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const args = process.argv.slice(2);
  const from = args.includes('--from') ? args[args.indexOf('--from') + 1] : undefined;
  const check = args.includes('--check');
  const tables = from === undefined ? currentTables() : readmeTables(readResults(from));
  const old = readFileSync(README, 'utf8');
  const text = updateReadme(old, tables);
  if (text === old) process.stdout.write(`${README}: up to date\n`);
  else if (check) {
    process.stderr.write(`${README}: stale; run 'npm run readme'\n`);
    process.exitCode = 1;
  } else {
    writeFileSync(README, text);
    process.stdout.write(`${README}: tables rewritten (${Object.keys(tables).join(', ')})\n`);
  }
}
