// Bad input through the real command: one clear line on stderr, exit status 1, no output file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fixtureBytes, tempDir } from './fixtures.ts';

const main = new URL('../../src/cli/main.ts', import.meta.url).pathname;

function cli(args: string[]): { status: number | null; stderr: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', main, ...args], { encoding: 'utf8' });
  return { status: r.status, stderr: r.stderr };
}

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

for (const [what, path, message] of cases) {
  test(`rewrite rejects ${what}`, () => {
    const out = `${path}.out`;
    const r = cli(['rewrite', path, '-o', out]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, message);
    assert.equal(r.stderr.trim().split('\n').length, 1);
    assert.equal(existsSync(out), false);
  });
}

test('scan rejects a non-ELF file the same way', () => {
  const r = cli(['scan', cases[0][1]]);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /^skybridge: error: .*not an ELF file \(bad magic number\)\n$/);
});

test('an unwritable output path fails cleanly and leaves nothing behind', () => {
  const input = variant('good', () => undefined);
  const dir = join(tempDir(), 'no-such-dir');
  const r = cli(['rewrite', input, '-o', join(dir, 'out')]);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /cannot write .*no-such-dir\/out: ENOENT/);
  assert.equal(existsSync(dir), false);
  assert.deepEqual(
    readdirSync(tempDir()).filter((f) => f.endsWith('.tmp')),
    [],
  );
});
