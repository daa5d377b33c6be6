import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { row } from '../../src/experiments/experiment.ts';
import { SKYLAKE } from '../../src/hw/profile.ts';
import { provenance } from '../../src/report/provenance.ts';
import { validateResults } from '../../src/report/read-results.ts';
import { writeReport } from '../../src/report/report.ts';
import { SCHEMA_VERSION, type ResultRow, type ResultsDocument } from '../../src/report/schema.ts';
import { debianProgram } from '../debian-package.ts';

// A small document in the shape `reproduce --json` writes: the rows the two figures draw, and
// an experiment without a figure (shown as a table). Its values are test data, not results.
const KERNELS = ['seL4', 'Fiasco.OC', 'Zircon'] as const;
const ipcRows: ResultRow[] = [false, true].flatMap((kpti) =>
  KERNELS.flatMap((kernel, k) =>
    (['native', 'skybridge'] as const).map((mechanism) =>
      row('ipc', {
        group: 'kernels',
        metric: 'roundtrip',
        measurement: `${kernel} ${mechanism} round trip${kpti ? ', KPTI' : ''}`,
        params: { kernel, mechanism, interAs: true, kpti, pcid: true },
        value: mechanism === 'skybridge' ? 351.5 : 701 + 250 * k + (kpti ? 123.25 : 0),
        unit: 'cycles',
        stats: { n: 4, min: 300, median: 400, max: 3000, stddev: 2.5 },
      }),
    ),
  ),
);
const indirectRows = (unit: (i: number) => string): ResultRow[] =>
  (['native', 'skybridge'] as const).flatMap((mechanism, m) =>
    [0, 4096, 32768, 262144].map((workingSet, i) =>
      row('indirect', {
        metric: 'indirect-cycles',
        measurement: `seL4 ${mechanism}, W = ${workingSet}`,
        params: { kernel: 'seL4', mechanism, interAs: true, kpti: false, pcid: true, workingSet },
        value: (i * 97 + 13) * (2 - m),
        unit: unit(i),
      }),
    ),
  );
const other: ResultRow = row('primitives', {
  metric: 'cycles',
  measurement: 'VMFUNC <warm> & "quoted"',
  params: { operation: 'vmfunc', caches: 'warm' },
  value: 134,
  unit: 'cycles',
  reference: 134,
  referenceSource: 'SkyBridge, EuroSys 2019, Table 1',
  basis: 'calibrated',
});
function fixture(indirectUnit: (i: number) => string = () => 'cycles'): ResultsDocument {
  return validateResults(
    {
      schemaVersion: SCHEMA_VERSION,
      provenance: provenance(SKYLAKE, 'default'),
      experiments: [
        { id: 'primitives', title: 'primitives', rows: [other], notes: ['a note'] },
        { id: 'ipc', title: 'IPC', rows: ipcRows, notes: [] },
        { id: 'indirect', title: 'indirect', rows: indirectRows(indirectUnit), notes: [] },
      ],
    },
    'fixture',
  );
}

const work = mkdtempSync(join(tmpdir(), 'sb-report-'));
let built: Awaited<ReturnType<typeof writeReport>>;
before(async () => {
  built = await writeReport(fixture(), join(work, 'report'));
});
after(() => rmSync(work, { recursive: true, force: true }));

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

test('a figure for ipc and for indirect, each as well-formed SVG and PNG, its values the rows', () => {
  assert.deepEqual(
    built.figures.map((f) => f.name),
    ['ipc-roundtrip', 'indirect-working-set'],
  );
  for (const f of built.figures) {
    const svg = readFileSync(join(built.dir, f.files.svg), 'utf8');
    assert.match(svg, /^<svg [^>]*class="marks"/);
    assert.match(svg, /<\/svg>\s*$/);
    const png = readFileSync(join(built.dir, f.files.png));
    assert.deepEqual(png.subarray(0, 8), PNG_SIGNATURE);
    assert.equal(png.toString('latin1', 12, 16), 'IHDR');
    // The PNG is the SVG at twice its size.
    assert.equal(png.readUInt32BE(16), Math.round(f.width * 2));
    assert.equal(png.readUInt32BE(20), Math.round(f.height * 2));
    const spec = JSON.parse(readFileSync(join(built.dir, f.files.spec), 'utf8')) as {
      data: { values: { id: string; value: number }[] };
    };
    // The figure's data are exactly the rows it names, with their values.
    const rows = [...ipcRows, ...indirectRows(() => 'cycles')];
    assert.deepEqual(
      spec.data.values.map((v) => [v.id, v.value]),
      f.rowIds.map((id) => [id, rows.find((r) => r.id === id)!.value]),
    );
  }
  const bars = readFileSync(join(built.dir, 'ipc-roundtrip.svg'), 'utf8');
  assert.equal(bars.match(/<path [^>]*aria-roledescription="bar"/g)?.length, ipcRows.length);
  // Each bar is labelled with its row's value.
  for (const r of ipcRows)
    assert.ok(bars.includes(`>${r.value.toLocaleString('en-US')}</text>`), String(r.value));
  const lines = readFileSync(join(built.dir, 'indirect-working-set.svg'), 'utf8');
  // A line per series (native, SkyBridge) through a point per row.
  assert.equal(lines.match(/aria-roledescription="line mark"/g)?.length, 2);
  assert.equal(lines.match(/aria-roledescription="point"/g)?.length, 8);
});

test('the page: every figure, every row in a table, the provenance, text escaped', () => {
  const html = readFileSync(built.index, 'utf8');
  for (const f of built.figures) assert.ok(html.includes(`<img src="${f.files.svg}"`), f.name);
  for (const e of fixture().experiments)
    for (const r of e.rows) assert.ok(html.includes(`<tr id="${r.id}">`), r.id);
  const p = fixture().provenance;
  assert.ok(html.includes(p.profile.sha256));
  if (p.git !== null) assert.ok(html.includes(p.git.commit));
  assert.ok(html.includes('VMFUNC &lt;warm&gt; &amp; &quot;quoted&quot;'));
  assert.ok(!html.includes('<warm>'));
  // The document it was made from is beside it, whole.
  assert.deepEqual(JSON.parse(readFileSync(join(built.dir, 'results.json'), 'utf8')), fixture());
});

test('a failing report leaves nothing: no folder, no temporary files, no parents it made', async () => {
  const parent = join(work, 'fail');
  mkdirSync(parent);
  const target = join(parent, 'made', 'report');
  // One figure's rows in two units: the figure cannot be drawn (after the first one was).
  const bad = fixture((i) => (i === 2 ? 'ns' : 'cycles'));
  await assert.rejects(writeReport(bad, target), /different units/);
  assert.deepEqual(readdirSync(parent), []);
});

// --- the command ---

const BIN = join(import.meta.dirname, '../../bin/skybridge.js');
interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}
/** Runs the command; asynchronous, so that independent runs overlap. */
function cli(...args: string[]): Promise<Run> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      env: { ...process.env, NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', fail);
    child.on('close', (status) => done({ status, stdout, stderr }));
  });
}

test('report --from a reproduce --json document; an earlier report is replaced', async () => {
  const from = join(work, 'results.json');
  writeFileSync(from, JSON.stringify(fixture()));
  const out = join(work, 'cli-report');
  for (let i = 0; i < 2; i++) {
    const r = await cli('report', '--from', from, '-o', out);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /index\.html: 3 experiment\(s\), 2 figure\(s\)/);
  }
  assert.ok(existsSync(join(out, 'ipc-roundtrip.png')));
  assert.deepEqual(
    readdirSync(work).filter((f) => f.includes('.tmp-')),
    [],
  );
});

test('report runs the experiments it names, as reproduce does', async () => {
  const out = join(work, 'run-primitives');
  const r = await cli('report', 'primitives', '-o', out);
  assert.equal(r.status, 0, r.stderr);
  const html = readFileSync(join(out, 'index.html'), 'utf8');
  assert.match(html, /primitives\.vmfunc\.cycles\.warm/);
  assert.match(r.stdout, /1 experiment\(s\), 0 figure\(s\)/);
});

test('usage errors exit 2 and runtime errors 1, one line, and write nothing', async () => {
  const out = join(work, 'never');
  const bad = join(work, 'bad.json');
  const doc = fixture() as unknown as { experiments: { rows: Record<string, unknown>[] }[] };
  delete doc.experiments[1]!.rows[3]!.unit;
  writeFileSync(bad, JSON.stringify(doc));
  const full = join(work, 'full');
  mkdirSync(full);
  writeFileSync(join(full, 'keep.txt'), 'mine');
  const cases: [string[], number, RegExp][] = [
    [['report', 'nope', '-o', out], 2, /unknown experiment 'nope'/],
    [['report', 'ipc', '--from', bad, '-o', out], 2, /not both/],
    [['report', '--from', bad], 2, /required option/],
    [['report', '--from', bad, '-o', full], 2, /not a report written by 'skybridge report'/],
    [['report', '--from', bad, '-o', out], 1, /experiments\.1\.rows\.3\.unit/],
    [['report', '--from', join(work, 'missing.json'), '-o', out], 1, /cannot read .*ENOENT/],
  ];
  const runs = await Promise.all(cases.map(([args]) => cli(...args)));
  for (const [i, [args, status, message]] of cases.entries()) {
    const r = runs[i]!;
    assert.equal(r.status, status, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, message);
    assert.equal(r.stdout, '');
  }
  assert.ok(!existsSync(out));
  assert.deepEqual(readdirSync(full), ['keep.txt']);
});

// --- the page in a browser ---

const CHROMIUM = '/usr/bin/chromium';

/** Chromium's path, installing Debian's package when it is missing and we may; otherwise why
 *  the browser test cannot run. */
function chromium(): { path: string } | { skip: string } {
  const r = debianProgram(CHROMIUM, 'chromium');
  return 'path' in r ? r : { skip: r.missing };
}

test('in headless Chromium every figure of the page renders', (t) => {
  const browser = chromium();
  if ('skip' in browser) {
    t.skip(browser.skip);
    return;
  }
  // The page with a script that records each image's state once everything has loaded; a
  // copy beside index.html, so relative links resolve the same.
  const probe = join(built.dir, 'probe.html');
  const script = `<script>addEventListener('load', () => {
  const s = [...document.images].map((i) => ({ src: i.getAttribute('src'), w: i.naturalWidth, h: i.naturalHeight }));
  const p = document.createElement('pre'); p.id = 'probe'; p.textContent = JSON.stringify(s); document.body.append(p);
});</script>`;
  writeFileSync(probe, readFileSync(built.index, 'utf8').replace('</body>', `${script}</body>`));
  const r = spawnSync(
    browser.path,
    [
      '--headless',
      '--no-sandbox', // CI runs as root, where Chromium's sandbox refuses to start
      '--disable-gpu',
      `--user-data-dir=${mkdtempSync(join(work, 'chromium-'))}`,
      '--dump-dom',
      pathToFileURL(probe).href,
    ],
    { encoding: 'utf8', timeout: 120_000 },
  );
  assert.equal(r.status, 0, `chromium: ${r.error?.message ?? r.stderr}`);
  const m = /<pre id="probe">(.*?)<\/pre>/s.exec(r.stdout);
  assert.ok(m, `no probe in the DOM chromium dumped: ${r.stdout.slice(0, 500)}`);
  const images = JSON.parse(m[1]!.replace(/&quot;/g, '"').replace(/&amp;/g, '&')) as {
    src: string;
    w: number;
    h: number;
  }[];
  assert.deepEqual(
    images.map((i) => i.src),
    built.figures.map((f) => f.files.svg),
  );
  for (const i of images) assert.ok(i.w > 0 && i.h > 0, `${i.src} did not render`);
});
