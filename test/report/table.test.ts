import assert from 'node:assert/strict';
import { test } from 'node:test';
import { renderResult } from '../../src/report/table.ts';

test('a row with a published figure shows its basis, and a calibrated one is explained', () => {
  const out = renderResult({
    id: 'x',
    title: 't',
    rows: [
      {
        measurement: 'a',
        value: 1,
        unit: 'cycles',
        reference: 2,
        referenceSource: 'S',
        basis: 'calibrated',
      },
      {
        measurement: 'b',
        value: 3,
        unit: 'cycles',
        reference: 4,
        referenceSource: 'S',
        basis: 'reproduced',
      },
      { measurement: 'c', value: 5, unit: 'cycles' },
    ],
    notes: [],
  });
  assert.match(out, /basis/);
  assert.match(out, /calibrated/);
  assert.match(out, /reproduced/);
  assert.match(out, /agreement is by construction/);
});

test('without published figures there is no basis column', () => {
  const out = renderResult({
    id: 'x',
    title: 't',
    rows: [{ measurement: 'c', value: 5, unit: 'cycles' }],
    notes: [],
  });
  assert.doesNotMatch(out, /basis|published/);
});
