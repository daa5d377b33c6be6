// Each fixture runs the same before and after rewriting, and the output scans clean.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { rewriteElf } from '../../src/binary/rewriter.ts';
import { scanElf } from '../../src/binary/scanner.ts';
import { fixture, fixtureBytes, run, tempDir, type FixtureName } from './fixtures.ts';

const expected: [FixtureName, string][] = [
  ['vmfunc', 'vmfunc-to-ud2'],
  ['immediate', 'relocated'],
  ['displacement', 'relocated'],
  ['callrel', 'relocated'],
  ['riprel', 'relocated'],
  ['spanning', 'swap-operand-form'],
];

for (const [name, strategy] of expected) {
  test(`${name}: rewritten by ${strategy}, same output and status, scans clean`, () => {
    const r = rewriteElf(fixtureBytes(name));
    assert.equal(r.kind, 'rewritten');
    if (r.kind !== 'rewritten') return;
    assert.deepEqual(
      r.changes.map((c) => c.strategy),
      [strategy],
    );
    const out = join(tempDir(), `${name}.rewritten`);
    writeFileSync(out, r.bytes);
    chmodSync(out, 0o755);
    assert.deepEqual(run(out), run(fixture(name)));
    assert.equal(scanElf(r.bytes).kind, 'clean');
    // binutils accepts the output without complaint.
    const re = execFileSync('readelf', ['-lSW', out], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    if (strategy === 'relocated') assert.match(re, /\.skybridge\.text/);
  });
}

test('call rel32 moves as push/lea/xchg/jmp so the return address stays the original', () => {
  const r = rewriteElf(fixtureBytes('callrel'));
  assert.equal(r.kind, 'rewritten');
  if (r.kind !== 'rewritten') return;
  assert.deepEqual(
    r.changes[0].after.map((t) => t.split(' ')[0]),
    ['push', 'lea', 'xchg', 'jmp'],
  );
});

test('data inside .text is reported and the rewrite refused', () => {
  const r = rewriteElf(fixtureBytes('data-in-text'));
  assert.equal(r.kind, 'refused');
  if (r.kind !== 'refused') return;
  assert.match(r.reason, /not in decodable code; data is never changed/);
  assert.deepEqual(
    r.occurrences.map((o) => o.kind),
    ['data'],
  );
});

test('a clean file is left unchanged', () => {
  const once = rewriteElf(fixtureBytes('spanning'));
  if (once.kind !== 'rewritten') throw new Error('expected a rewrite');
  assert.equal(rewriteElf(once.bytes).kind, 'unchanged');
});
