import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const BIN = join(import.meta.dirname, '../../bin/skybridge.js');
function cli(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], {
    encoding: 'utf8',
    env: { ...process.env, NO_COLOR: '1' },
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('reproduce primitives --json: an experiments array, every row with a unit', () => {
  const r = cli('reproduce', 'primitives', '--json');
  assert.equal(r.status, 0, r.stderr);
  const j = JSON.parse(r.stdout) as {
    experiments: { id: string; rows: { unit: string; value: number }[] }[];
  };
  assert.equal(j.experiments.length, 1);
  assert.equal(j.experiments[0]!.id, 'primitives');
  assert.ok(j.experiments[0]!.rows.length >= 10);
  for (const row of j.experiments[0]!.rows) {
    assert.equal(typeof row.unit, 'string');
    assert.ok(row.unit.length > 0);
    assert.equal(typeof row.value, 'number');
  }
});

test('list names every experiment', () => {
  const r = cli('list');
  assert.equal(r.status, 0);
  assert.match(r.stdout, /^primitives /m);
});

test('an unknown experiment is a one-line usage error naming it, exit 2', () => {
  const r = cli('reproduce', 'nope');
  assert.equal(r.status, 2);
  assert.match(r.stderr, /unknown experiment 'nope'/);
  assert.equal(r.stdout, '');
});

function profileFile(text: string): string {
  const f = join(mkdtempSync(join(tmpdir(), 'sb-profile-')), 'p.yaml');
  writeFileSync(f, text);
  return f;
}

test('a profile whose cache size is not sets × ways × line is an error naming the field', () => {
  const r = cli(
    'reproduce',
    'primitives',
    '--profile',
    profileFile('caches:\n  l2:\n    sizeBytes: 300000\n'),
  );
  assert.equal(r.status, 1);
  assert.match(r.stderr, /caches\.l2\.sizeBytes/);
});

test('a negative latency is an error naming the field', () => {
  const r = cli('reproduce', 'primitives', '--profile', profileFile('ops:\n  vmfunc: -3\n'));
  assert.equal(r.status, 1);
  assert.match(r.stderr, /ops\.vmfunc/);
});

test('malformed YAML and a missing file are errors', () => {
  assert.equal(cli('reproduce', '--profile', profileFile('caches: [1, 2\n')).status, 1);
  const r = cli('reproduce', '--profile', '/nonexistent/profile.yaml');
  assert.equal(r.status, 1);
  assert.match(r.stderr, /cannot read profile/);
});

test('a user profile changes what is measured', () => {
  const r = cli(
    'reproduce',
    'primitives',
    '--json',
    '--profile',
    profileFile('ops:\n  vmfunc: 150\n'),
  );
  assert.equal(r.status, 0, r.stderr);
  const j = JSON.parse(r.stdout) as {
    experiments: { rows: { measurement: string; value: number }[] }[];
  };
  assert.equal(j.experiments[0]!.rows.find((x) => x.measurement.startsWith('VMFUNC'))!.value, 150);
});

test('--help on every subcommand', () => {
  for (const sub of ['list', 'reproduce', 'profile', 'trace', 'report', 'scan', 'rewrite']) {
    const r = cli(sub, '--help');
    assert.equal(r.status, 0, sub);
    assert.match(r.stdout, /Usage: skybridge/);
  }
});

test('--version prints the package version', () => {
  const r = cli('--version');
  assert.equal(r.status, 0);
  assert.match(r.stdout, /^\d+\.\d+\.\d+\n$/);
});

test('usage errors exit 2: an unknown option, an unknown command; runtime errors 1', () => {
  const opt = cli('reproduce', '--nope');
  assert.equal(opt.status, 2);
  assert.match(opt.stderr, /unknown option '--nope'/);
  assert.equal(cli('nope').status, 2);
  assert.equal(cli('reproduce', '--profile', '/nonexistent/profile.yaml').status, 1);
  assert.equal(cli('--help').status, 0);
  const both = cli('reproduce', 'sqlite', '--full', '--quick');
  assert.equal(both.status, 2);
  assert.match(both.stderr, /--full and --quick ask for opposite sizes/);
  const zero = cli('reproduce', 'sqlite', '--records', '0');
  assert.equal(zero.status, 2);
  assert.match(zero.stderr, /--records must be a whole number of at least 1, got '0'/);
});

test('reproduce prints each experiment as soon as it has finished', async () => {
  // primitives takes a fraction of a second, ipc seconds: primitives' table must reach the
  // reader before ipc's, in a chunk of its own, while the command still runs.
  const child = spawn(process.execPath, [BIN, 'reproduce', 'primitives', 'ipc'], {
    env: { ...process.env, NO_COLOR: '1' },
  });
  const chunks: string[] = [];
  child.stdout.setEncoding('utf8').on('data', (d: string) => chunks.push(d));
  const status = await new Promise<number | null>((res) => child.on('close', res));
  assert.equal(status, 0);
  const first = chunks.findIndex((c) => c.includes('primitives: '));
  const second = chunks.findIndex((c) => c.includes('ipc: '));
  assert.ok(first >= 0 && second > first, `chunks: ${chunks.length}`);
  assert.match(chunks.join(''), /^skybridge \d+\.\d+\.\d+.*default CPU profile/);
});
