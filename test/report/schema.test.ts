import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  resultsDocumentSchema,
  rowId,
  SCHEMA_VERSION,
  type ResultsDocument,
} from '../../src/report/schema.ts';
import { profileHash } from '../../src/report/provenance.ts';
import { JsonResultsWriter, toJson } from '../../src/report/table.ts';
import { jsonSchemaText, SCHEMA_FILE } from '../../src/report/write-json-schema.ts';
import { SKYLAKE } from '../../src/hw/profile.ts';
import { EXPERIMENTS } from '../../src/experiments/registry.ts';
import type { ExperimentResult } from '../../src/experiments/experiment.ts';

const ROOT = join(import.meta.dirname, '../..');
const BIN = join(ROOT, 'bin/skybridge.js');
function cli(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], {
    encoding: 'utf8',
    env: { ...process.env, NO_COLOR: '1' },
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

// Every experiment once (a few seconds); the tests below read this one document.
// --quick: the long experiments run one small case of each kind (their rows, not their
// reported figures, are what this file checks).
const all = cli('reproduce', '--json', '--quick');
const doc = (): ResultsDocument => {
  assert.equal(all.status, 0, all.stderr);
  return resultsDocumentSchema.parse(JSON.parse(all.stdout));
};

test('reproduce --json prints one document the results schema accepts, every experiment in it', () => {
  const d = doc();
  assert.equal(d.schemaVersion, SCHEMA_VERSION);
  assert.deepEqual(
    d.experiments.map((e) => e.id),
    EXPERIMENTS.map((e) => e.id),
  );
});

test('every row has a unique id derived from its experiment, group, metric and parameters alone', () => {
  const ids = new Set<string>();
  for (const e of doc().experiments) {
    for (const r of e.rows) {
      assert.equal(r.id, rowId(e.id, r), r.measurement);
      assert.ok(!ids.has(r.id), `duplicate id ${r.id}`);
      ids.add(r.id);
    }
  }
  // The scheme, by example.
  assert.ok(ids.has('ipc.sel4bench.sel4.native.roundtrip.interAs.kpti-off.pcid-on.words-0'));
  assert.ok(ids.has('ipc.kernels.zircon.native.roundtrip.interAs.kpti-on.pcid-on.bytes-4'));
  assert.ok(ids.has('primitives.tlb-miss-walk.references.ept-4k.cold'));
  assert.ok(ids.has('indirect.fiasco.native.extra-l1d-misses.interAs.kpti-off.pcid-on.ws-32768'));
});

test('parameters are fields: the rows of a plot are found without reading any English', () => {
  const ipc = doc().experiments.find((e) => e.id === 'ipc')!;
  const roundTrips = ipc.rows.filter(
    (r) =>
      r.group === 'kernels' && r.metric === 'roundtrip' && r.params.kpti === false && r.params.pcid,
  );
  assert.deepEqual(
    roundTrips.map((r) => `${r.params.kernel}/${r.params.mechanism}`),
    [
      'seL4/native',
      'seL4/skybridge',
      'Fiasco.OC/native',
      'Fiasco.OC/skybridge',
      'Zircon/native',
      'Zircon/skybridge',
    ],
  );
  const indirect = doc().experiments.find((e) => e.id === 'indirect')!;
  const ws = indirect.rows
    .filter((r) => r.metric === 'indirect-cycles' && r.params.kernel === 'seL4')
    .filter((r) => r.params.mechanism === 'native' && r.params.pcid === true)
    .map((r) => r.params.workingSet);
  assert.deepEqual(ws, [0, 4 << 10, 16 << 10, 32 << 10, 64 << 10, 256 << 10, 1 << 20]);
});

test('statistics go with the means of repetitions: n, and the mean lies between min and max', () => {
  const rows = doc().experiments.flatMap((e) => e.rows);
  const withStats = rows.filter((r) => r.stats !== undefined);
  // Every IPC benchmark figure (64 round trips) and every primitive cycle mean (16 runs).
  for (const r of rows.filter((x) => x.id.startsWith('ipc.') && x.metric !== 'speedup'))
    assert.equal(r.stats?.n, 64, r.id);
  assert.equal(rows.find((r) => r.id === 'primitives.vmfunc.cycles.warm')!.stats!.n, 16);
  for (const r of withStats) {
    const s = r.stats!;
    assert.ok(s.min <= s.median && s.median <= s.max, r.id);
    assert.ok(s.min - 1e-9 <= r.value && r.value <= s.max + 1e-9, `${r.id}: ${r.value}`);
  }
  // A single walk is not a mean: no statistics.
  assert.equal(
    rows.find((r) => r.id === 'primitives.tlb-miss-walk.cycles.ept-4k.cold')!.stats,
    undefined,
  );
});

test('provenance: tool version, git commit, the effective profile and its hash, seeds, Node', () => {
  const p = doc().provenance;
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
  assert.equal(p.tool.version, pkg.version);
  assert.equal(p.node, process.version);
  assert.equal(p.profile.source, 'default');
  assert.equal(p.profile.sha256, profileHash(SKYLAKE));
  assert.deepEqual(p.profile.effective, JSON.parse(JSON.stringify(SKYLAKE)));
  assert.deepEqual(p.seeds, { skybridge: 1 });
  let head: string | undefined;
  try {
    head = execFileSync('git', ['-C', ROOT, 'rev-parse', 'HEAD'], { encoding: 'utf8' }).trim();
  } catch {
    head = undefined; // not a checkout
  }
  assert.equal(p.git?.commit, head);
});

test('--profile: provenance names the file and hashes what was run; no title claims the default profile', () => {
  const f = join(mkdtempSync(join(tmpdir(), 'sb-profile-')), 'p.yaml');
  writeFileSync(f, 'ops:\n  vmfunc: 150\n');
  const r = cli('reproduce', 'primitives', '--json', '--profile', f);
  assert.equal(r.status, 0, r.stderr);
  const d = resultsDocumentSchema.parse(JSON.parse(r.stdout));
  assert.equal(d.provenance.profile.source, f);
  assert.equal(d.provenance.profile.effective.ops.vmfunc, 150);
  assert.notEqual(d.provenance.profile.sha256, profileHash(SKYLAKE));
  const text = cli('reproduce', 'primitives', '--profile', f);
  assert.equal(text.status, 0, text.stderr);
  assert.doesNotMatch(text.stdout, /default CPU profile/);
  assert.match(text.stdout, /CPU profile .*p\.yaml/);
});

test('docs/results.schema.json is the JSON Schema of the zod schema (npm run schema rewrites it)', async () => {
  assert.equal(readFileSync(SCHEMA_FILE, 'utf8'), await jsonSchemaText());
});

test('the JSON streamed experiment by experiment is exactly the document', () => {
  const d = doc();
  for (const n of [0, 1, 3]) {
    const experiments: ExperimentResult[] = d.experiments.slice(0, n);
    let text = '';
    const w = new JsonResultsWriter((t) => (text += t));
    w.begin(d.provenance);
    for (const e of experiments) w.experiment(e);
    w.end();
    assert.equal(text, `${toJson(experiments, d.provenance)}\n`, `${n} experiments`);
  }
  // What the command printed, too (compared as parsed, keys in the order they were printed).
  const raw = JSON.parse(all.stdout) as ResultsDocument;
  assert.equal(all.stdout, `${toJson(raw.experiments, raw.provenance)}\n`);
});

test('the schema refuses a row without parameters, an unknown parameter, and a reference without basis', () => {
  const good = doc().experiments[0]!.rows[0]!;
  const bad = [
    { ...good, params: undefined },
    { ...good, params: { ...good.params, colour: 'red' } },
    { ...good, basis: undefined },
  ];
  for (const b of bad)
    assert.equal(
      resultsDocumentSchema.shape.experiments.element.shape.rows.element.safeParse(b).success,
      false,
    );
});
