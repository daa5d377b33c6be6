// reproduce's output formats: --json, --csv and --md on stdout (one at most), --out FILE in
// the format its extension or --format names while the tables still print, --counters.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resultsDocumentSchema } from '../../src/report/schema.ts';
import { CSV_COLUMNS, csvField } from '../../src/report/export.ts';

const BIN = join(import.meta.dirname, '../../bin/skybridge.js');
function cli(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], {
    encoding: 'utf8',
    env: { ...process.env, NO_COLOR: '1' },
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const dir = mkdtempSync(join(tmpdir(), 'sb-export-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));

/** RFC 4180 parsing, enough for the test: quoted fields with doubled quotes, CRLF rows. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      row.push(field);
      field = '';
    } else if (c === '\r' && text[i + 1] === '\n') {
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
      i++;
    } else field += c;
  }
  return rows;
}

// One JSON run of the fast experiment: the other formats must say the same.
const json = cli('reproduce', 'primitives', '--json');
const doc = () => {
  assert.equal(json.status, 0, json.stderr);
  return resultsDocumentSchema.parse(JSON.parse(json.stdout));
};

test('--csv: a header of every column, then one row per result row with the same values', () => {
  const r = cli('reproduce', 'primitives', '--csv');
  assert.equal(r.status, 0, r.stderr);
  const [head, ...rows] = parseCsv(r.stdout);
  assert.deepEqual(head, [...CSV_COLUMNS]);
  const want = doc().experiments[0]!.rows;
  assert.equal(rows.length, want.length);
  const col = (name: (typeof CSV_COLUMNS)[number]): number => head!.indexOf(name);
  rows.forEach((row, i) => {
    assert.equal(row.length, head!.length);
    assert.equal(row[col('id')], want[i]!.id);
    assert.equal(Number(row[col('value')]), want[i]!.value);
    assert.equal(row[col('operation')], want[i]!.params.operation ?? '');
    assert.equal(row[col('n')], String(want[i]!.stats?.n ?? ''));
  });
  assert.equal(csvField('a "b", c'), '"a ""b"", c"');
});

test('--md: a GFM table per experiment with every row', () => {
  const r = cli('reproduce', 'primitives', '--md');
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^# skybridge reproduce\n/);
  assert.match(r.stdout, /\n## primitives: /);
  assert.match(
    r.stdout,
    /\n\| measurement \| simulated \| unit \| published \| basis \| how \|\n\| --- \| ---: \|/,
  );
  const lines = r.stdout.split('\n').filter((l) => l.startsWith('| ') && !l.startsWith('| ---'));
  assert.equal(lines.length, doc().experiments[0]!.rows.length + 1);
  assert.match(
    r.stdout,
    /\| VMFUNC \(EPTP switch\), warm \| 134 \| cycles \| 134 \| calibrated \|/,
  );
});

test('--out FILE writes the format of its extension while the table prints; --format overrides', () => {
  const file = join(dir, 'results.json');
  const r = cli('reproduce', 'primitives', '--out', file);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /primitives: Cost of the hardware primitives/);
  const written = resultsDocumentSchema.parse(JSON.parse(readFileSync(file, 'utf8')));
  assert.deepEqual(
    written.experiments[0]!.rows.map((x) => [x.id, x.value]),
    doc().experiments[0]!.rows.map((x) => [x.id, x.value]),
  );
  const md = join(dir, 'results.txt');
  const m = cli('reproduce', 'primitives', '--csv', '--out', md, '--format', 'md');
  assert.equal(m.status, 0, m.stderr);
  assert.match(m.stdout, /^experiment,id,/);
  assert.match(readFileSync(md, 'utf8'), /^# skybridge reproduce/);
  // Nothing but the two files is left in the directory (no temporary file).
  assert.deepEqual(readdirSync(dir).sort(), ['results.json', 'results.txt']);
});

test('usage errors exit 2 and write nothing: two stdout formats, an unknown extension', () => {
  const both = cli('reproduce', 'primitives', '--json', '--csv');
  assert.equal(both.status, 2);
  assert.match(both.stderr, /cannot be used with/);
  const bad = cli('reproduce', 'primitives', '--out', join(dir, 'x.txt'));
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /--format/);
  assert.equal(existsSync(join(dir, 'x.txt')), false);
  const nodir = cli('reproduce', 'primitives', '--out', join(dir, 'no/such/dir.json'));
  assert.equal(nodir.status, 1);
  assert.match(nodir.stderr, /cannot write/);
});

test('--counters: each case as perf stat prints it, and in the JSON document', () => {
  const r = cli('reproduce', 'primitives', '--counters');
  assert.equal(r.status, 0, r.stderr);
  assert.match(
    r.stdout,
    /counters of primitives\.vmfunc\.warm, across 16 measured repetitions \(one run each\):\n +value +per run +unit +counter +description\n +2,144 +134 +cycles +cycles +core clock cycles\n/,
  );
  assert.match(r.stdout, /\n +16 +1 +operations +vmfuncs +VMFUNC instructions executed\n/);
  const j = cli('reproduce', 'primitives', '--json', '--counters');
  assert.equal(j.status, 0, j.stderr);
  const e = resultsDocumentSchema.parse(JSON.parse(j.stdout)).experiments[0]!;
  const row = e.rows.find((x) => x.id === 'primitives.syscall.cycles.kpti-on.pcid-on')!;
  const c = e.counters!.find((x) => x.case === 'primitives.syscall.kpti-on.pcid-on')!;
  const get = (name: string) => c.counters.find((k) => k.name === name)!;
  // The counters add up to the row: cycles per run is the figure, two CR3 writes a run.
  assert.equal(get('cycles').value / c.repetitions, row.value);
  assert.equal(get('cr3.writes').value / c.repetitions, 2);
  assert.equal(get('syscalls').byMode.user, c.repetitions);
  assert.equal(get('cycles').byMode.user + get('cycles').byMode.kernel, get('cycles').value);
  // Without --counters the document has none.
  assert.equal(doc().experiments[0]!.counters, undefined);
});
