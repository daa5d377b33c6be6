import assert from 'node:assert/strict';
import { test } from 'node:test';
import { renderResult } from '../../src/report/table.ts';
import { row, type RowSpec } from '../../src/experiments/experiment.ts';

const r = (measurement: string, value: number, more: Partial<RowSpec> = {}) =>
  row('x', {
    measurement,
    metric: 'cycles',
    params: { operation: 'vmfunc', words: value },
    value,
    unit: 'cycles',
    ...more,
  });

test('a row with a published figure shows its basis, and a calibrated one is explained', () => {
  const out = renderResult({
    id: 'x',
    title: 't',
    rows: [
      r('a', 1, { reference: 2, referenceSource: 'S', basis: 'calibrated' }),
      r('b', 3, { reference: 4, referenceSource: 'S', basis: 'reproduced' }),
      r('c', 5),
    ],
    notes: [],
  });
  assert.match(out, /basis/);
  assert.match(out, /calibrated/);
  assert.match(out, /reproduced/);
  assert.match(out, /agreement is by construction/);
});

test('without published figures there is no basis column', () => {
  const out = renderResult({ id: 'x', title: 't', rows: [r('c', 5)], notes: [] });
  assert.doesNotMatch(out, /basis|published/);
});

test('a rule under the head only, none between rows', () => {
  const out = renderResult({
    id: 'x',
    title: 't',
    rows: [r('a', 1), r('b', 2), r('c', 3)],
    notes: [],
  });
  assert.equal(out.split('\n').filter((l) => l.startsWith('├')).length, 1, out);
  assert.equal(out.split('\n').filter((l) => l.startsWith('│')).length, 4, out);
});
