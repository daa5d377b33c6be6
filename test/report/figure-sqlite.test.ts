// The SQLite figure draws exactly the throughput rows, a bar each, a panel per kernel.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { row } from '../../src/experiments/experiment.ts';
import { sqliteFigures } from '../../src/report/figure-sqlite.ts';
import { renderFigure } from '../../src/report/render-figure.ts';

test('sqlite: one figure of the ops-per-second rows, and nothing else', async () => {
  const rows = [];
  for (const kernel of ['seL4', 'Zircon'] as const)
    for (const mechanism of ['native', 'skybridge'] as const)
      for (const workload of ['a', 'c'] as const) {
        const params = { kernel, mechanism, workload };
        const value = (kernel === 'seL4' ? 100 : 50) * (mechanism === 'skybridge' ? 2 : 1);
        rows.push(
          row('sqlite', {
            measurement: 'x',
            metric: 'ops-per-second',
            params,
            value,
            unit: 'ops/s',
          }),
        );
        rows.push(
          row('sqlite', {
            measurement: 'y',
            metric: 'cycles-per-op',
            params: { ...params, component: 'client' },
            value: 1,
            unit: 'cycles',
          }),
        );
      }
  const figures = sqliteFigures({ id: 'sqlite', title: 't', notes: [], rows });
  assert.equal(figures.length, 1);
  const f = figures[0]!;
  assert.deepEqual(
    f.rowIds,
    rows.filter((r) => r.metric === 'ops-per-second').map((r) => r.id),
  );
  const svg = (await renderFigure(f.spec)).svg;
  assert.match(svg, /^<svg/);
  assert.equal((svg.match(/aria-roledescription="bar"/g) ?? []).length, 8, 'a bar per row');
});
