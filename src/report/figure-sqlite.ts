// The `sqlite` experiment's figure, as the paper draws its SQLite result: YCSB throughput per
// workload, each kernel's own IPC beside SkyBridge, a panel per kernel.

import type { TopLevelSpec } from 'vega-lite';
import type { ExperimentResult } from './schema.ts';
import {
  FIGURE_CONFIG,
  commonUnit,
  datum,
  distinct,
  mechanismLabel,
  type Figure,
} from './figure.ts';

export function sqliteFigures(result: ExperimentResult): Figure[] {
  const rows = result.rows.filter(
    (r) =>
      r.metric === 'ops-per-second' &&
      r.params.kernel !== undefined &&
      r.params.mechanism !== undefined &&
      r.params.workload !== undefined,
  );
  if (rows.length === 0) return [];
  const unit = commonUnit(rows);
  const values = rows.map((r) =>
    datum(r, {
      mechanismLabel: mechanismLabel(r.params),
      workloadLabel: r.params.workload!.toUpperCase(),
    }),
  );
  const kernels = distinct(rows.map((r) => r.params.kernel!));
  const mechanisms = distinct(rows.map((r) => mechanismLabel(r.params)));
  const workloads = distinct(values.map((v) => (v as { workloadLabel: string }).workloadLabel));
  const spec: TopLevelSpec = {
    data: { values },
    facet: { column: { field: 'kernel', type: 'nominal', sort: kernels, title: null } },
    spec: {
      width: 36 * workloads.length,
      height: 240,
      mark: { type: 'bar', tooltip: true },
      encoding: {
        x: {
          field: 'workloadLabel',
          type: 'nominal',
          sort: workloads,
          title: 'YCSB workload',
          axis: { labelAngle: 0 },
        },
        xOffset: { field: 'mechanismLabel', type: 'nominal', sort: mechanisms },
        y: {
          field: 'value',
          type: 'quantitative',
          title: `throughput (${unit})`,
          axis: { format: ',d' },
        },
        color: { field: 'mechanismLabel', type: 'nominal', sort: mechanisms, title: null },
      },
    },
    config: FIGURE_CONFIG,
  };
  return [
    {
      name: `${result.id}-throughput`,
      title: 'SQLite with YCSB: throughput per kernel, natively and with SkyBridge',
      caption: `Operations per simulated second of SQLite over the file-system and RAM-disk servers, per YCSB workload, each kernel's own IPC beside SkyBridge. Each bar is one row of the results (${rows.length} rows, beside the figure).`,
      rowIds: rows.map((r) => r.id),
      spec,
    },
  ];
}
