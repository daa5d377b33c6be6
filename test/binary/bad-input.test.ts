// Bad input through the real command: one clear line on stderr, exit status 1, no output file.
// The commands are started together and awaited by each test (see cli-run.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cli } from './cli-run.ts';
import { fixtureBytes, tempDir } from './fixtures.ts';

function variant(name: string, edit: (b: Uint8Array, v: DataView) => Uint8Array | void): string {
  const b = new Uint8Array(fixtureBytes('immediate'));
  const v = new DataView(b.buffer);
  const out = edit(b, v) ?? b;
  const path = join(tempDir(), `bad-${name}`);
  writeFileSync(path, out);
  return path;
}

/** Offset of the program header of the n-th PT_LOAD. */
function loadPhdr(v: DataView, n: number): number {
  const phoff = Number(v.getBigUint64(32, true));
  let seen = 0;
  for (let i = 0; i < v.getUint16(56, true); i++) {
    const o = phoff + i * 56;
    if (v.getUint32(o, true) === 1 && seen++ === n) return o;
  }
  throw new Error('no such PT_LOAD');
}

const cases: [string, string, RegExp][] = [
  ['not ELF', variant('text', () => new TextEncoder().encode('hello\n')), /not an ELF file/],
  ['32-bit', variant('class32', (b) => void (b[4] = 1)), /only 64-bit/],
  ['big-endian', variant('msb', (b) => void (b[5] = 2)), /only little-endian/],
  ['truncated header', variant('trunc', (b) => b.subarray(0, 40)), /truncated ELF header/],
  [
    'segment past the end',
    variant('pastend', (b, v) => v.setBigUint64(loadPhdr(v, 1) + 32, BigInt(b.length) * 4n, true)),
    /segment \d+ .*extends past the end of the file/,
  ],
  [
    'overlapping segments',
    variant('overlap', (_b, v) =>
      v.setBigUint64(loadPhdr(v, 1) + 16, v.getBigUint64(loadPhdr(v, 0) + 16, true), true),
    ),
    /segments \d+ and \d+ overlap in memory/,
  ],
];

const runs = cases.map(([, path]) => cli(['rewrite', path, '-o', `${path}.out`]));
const scanBad = cli(['scan', cases[0][1]]);
const unwritableDir = join(tempDir(), 'no-such-dir');
const unwritable = cli([
  'rewrite',
  variant('good', () => undefined),
  '-o',
  join(unwritableDir, 'out'),
]);

for (const [k, [what, path, message]] of cases.entries()) {
  test(`rewrite rejects ${what}`, async () => {
    const out = `${path}.out`;
    const r = await runs[k];
    assert.equal(r.status, 1);
    assert.match(r.stderr, message);
    assert.equal(r.stderr.trim().split('\n').length, 1);
    assert.equal(existsSync(out), false);
  });
}

test('scan rejects a non-ELF file the same way', async () => {
  const r = await scanBad;
  assert.equal(r.status, 1);
  assert.match(r.stderr, /^skybridge: error: .*not an ELF file \(bad magic number\)\n$/);
});

test('an unwritable output path fails cleanly and leaves nothing behind', async () => {
  const r = await unwritable;
  assert.equal(r.status, 1);
  assert.match(r.stderr, /cannot write .*no-such-dir\/out: ENOENT/);
  assert.equal(existsSync(unwritableDir), false);
  assert.deepEqual(
    readdirSync(tempDir()).filter((f) => f.endsWith('.tmp')),
    [],
  );
});
