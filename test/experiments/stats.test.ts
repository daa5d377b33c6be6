import { test } from 'node:test';
import assert from 'node:assert/strict';
import { summarize } from '../../src/experiments/experiment.ts';
import { rowId } from '../../src/report/schema.ts';

test('summarize: n, min, median (middle pair averaged), max, sample standard deviation', () => {
  assert.deepEqual(summarize([5]), { n: 1, min: 5, median: 5, max: 5, stddev: 0 });
  const s = summarize([4, 1, 3, 2]);
  assert.deepEqual({ ...s, stddev: 0 }, { n: 4, min: 1, median: 2.5, max: 4, stddev: 0 });
  assert.ok(Math.abs(s.stddev - Math.sqrt(5 / 3)) < 1e-12);
  assert.throws(() => summarize([]), RangeError);
});

test('rowId renders each parameter one way, in one order, whatever order the fields come in', () => {
  const a = rowId('ipc', {
    group: 'sel4bench',
    metric: 'roundtrip',
    params: {
      words: 0,
      pcid: true,
      kpti: false,
      interAs: true,
      crossCore: false,
      kernel: 'seL4',
      mechanism: 'native',
    },
  });
  assert.equal(a, 'ipc.sel4bench.sel4.native.roundtrip.interAs.kpti-off.pcid-on.words-0');
  assert.equal(
    rowId('ipc', {
      metric: 'call',
      params: { kernel: 'Fiasco.OC', crossCore: true, interAs: false },
    }),
    'ipc.fiasco.call.intraAs.crossCore',
  );
});
