// The YCSB experiments' sizes: the default, --quick's, --full's (YCSB's own workload files:
// recordcount=1000, operationcount=1000) and explicit counts, which win over both.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SKYLAKE } from '../../src/hw/profile.ts';
import { plan, ycsbSize } from '../../src/experiments/sqlite.ts';

const ctx = { profile: SKYLAKE };

test('YCSB sizes: default, --quick, --full, and explicit counts over either', () => {
  assert.deepEqual(ycsbSize(ctx, 20), { records: 100, operations: 100 });
  assert.deepEqual(ycsbSize({ ...ctx, quick: true }, 20), { records: 20, operations: 20 });
  assert.deepEqual(ycsbSize({ ...ctx, ycsb: { full: true } }, 20), {
    records: 1000,
    operations: 1000,
  });
  assert.deepEqual(ycsbSize({ ...ctx, quick: true, ycsb: { records: 7 } }, 20), {
    records: 7,
    operations: 20,
  });
  assert.deepEqual(ycsbSize({ ...ctx, ycsb: { full: true, operations: 3 } }, 20), {
    records: 1000,
    operations: 3,
  });
});

test('reproduce sqlite runs every case at the size asked for', () => {
  const p = plan({ ...ctx, quick: true, ycsb: { records: 9, operations: 4 } });
  assert.ok(p.cases.length > 0);
  for (const c of p.cases) assert.deepEqual([c.records, c.operations], [9, 4]);
});
