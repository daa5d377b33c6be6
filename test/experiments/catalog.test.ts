// The catalog (what `skybridge list` prints without loading the simulator) says what the
// registry has: the same experiments, in the same order, with the same titles and
// descriptions. An experiment added to registry.ts goes into catalog.ts too.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CATALOG } from '../../src/experiments/catalog.ts';
import { EXPERIMENTS } from '../../src/experiments/registry.ts';

test('src/experiments/catalog.ts describes every experiment of registry.ts as it is, in order', () => {
  assert.deepEqual(
    CATALOG.map((e) => ({ id: e.id, title: e.title, description: e.description })),
    EXPERIMENTS.map((e) => ({ id: e.id, title: e.title, description: e.description })),
  );
});
