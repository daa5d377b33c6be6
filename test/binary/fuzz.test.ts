// The fuzz target (fuzz-target.ts) on a few thousand mutants of small fixtures: no throw, the
// streamed scan agrees with the in-memory one, every rewritten output parses, re-scans clean,
// is laid out as documented, and readelf accepts the ones checked. The bench runs 100 k.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FUZZ_BASES, base, fuzz } from './fuzz-target.ts';
import { fixtureBytes, tempDir } from './fixtures.ts';

test('3,000 mutants of headers, tables and lengths: every property holds', () => {
  const bases = FUZZ_BASES.map((n) => base(n, fixtureBytes(n)));
  const rep = fuzz(bases, {
    count: 3000,
    seed: 15,
    readelfEvery: 100,
    scanFileEvery: 100,
    dir: tempDir(),
  });
  assert.deepEqual(rep.failures.slice(0, 3), []);
  // Each outcome is reached, so the properties were exercised on real rewrites.
  for (const k of ['invalid', 'unchanged', 'refused', 'rewritten', 'split'] as const)
    assert.ok(rep.outcomes[k] > 0, `${k}: ${JSON.stringify(rep.outcomes)}`);
  assert.ok(rep.readelfChecked >= 10, `${rep.readelfChecked} readelf checks`);
});
