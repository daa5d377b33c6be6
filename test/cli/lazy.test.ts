// `skybridge list` and `--version` answer at once: they load the command line and the
// experiments' catalog, not the simulator, iced-x86, zod or the renderers (which take most of
// a second to load); `reproduce` loads them when it runs.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const BIN = join(import.meta.dirname, '../../bin/skybridge.js');
const HOOK = join(import.meta.dirname, 'fixtures/record-imports.mjs');

/** The modules `skybridge ARGS` imports. */
function imports(...args: string[]): string[] {
  const dir = mkdtempSync(join(tmpdir(), 'sb-imports-'));
  try {
    const file = join(dir, 'imports.txt');
    const r = spawnSync(process.execPath, ['--import', HOOK, BIN, ...args], {
      encoding: 'utf8',
      env: { ...process.env, RECORD_IMPORTS: file },
    });
    assert.equal(r.status, 0, r.stderr);
    return readFileSync(file, 'utf8').trim().split('\n');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// bin/skybridge.js runs dist/, or the sources when they are newer (another edit under way).
const HEAVY = [
  /iced-x86/,
  /\/(dist|src)\/(hw|kernel)\//,
  /registry\.[jt]s$/,
  /\/vega/,
  /\/zod\//,
  /\/yaml\//,
];

test('list and --version load neither the simulator nor iced-x86, zod or vega', () => {
  for (const args of [['list'], ['--version']]) {
    const loaded = imports(...args);
    assert.ok(
      loaded.some((u) => /\/(dist\/cli\/main\.js|src\/cli\/main\.ts)$/.test(u)),
      'runs the CLI',
    );
    const heavy = loaded.filter((u) => HEAVY.some((h) => h.test(u)));
    assert.deepEqual(heavy, [], `skybridge ${args.join(' ')}`);
  }
});

test('reproduce loads the experiments when it runs', () => {
  const loaded = imports('reproduce', 'primitives', '--csv');
  assert.ok(loaded.some((u) => /registry\.[jt]s$/.test(u)));
});
