// The `indirect` experiment's figure: what an IPC costs the code around it (extra cycles of the
// client's own loop per IPC) against the client's working set, a curve per kernel and
// configuration, as the paper plots indirect cost.

import type { TopLevelSpec } from 'vega-lite';
import type { ExperimentResult, ResultRow } from './schema.ts';
import {
  FIGURE_CONFIG,
  commonUnit,
  datum,
  distinct,
  formatBytes,
  seriesLabel,
  shared,
  type Figure,
} from './figure.ts';

function indirectRows(result: ExperimentResult): ResultRow[] {
  return result.rows.filter(
    (r) => r.metric === 'indirect-cycles' && r.params.workingSet !== undefined,
  );
}

export function indirectFigures(result: ExperimentResult): Figure[] {
  const rows = indirectRows(result);
  if (rows.length === 0) return [];
  const unit = commonUnit(rows);
  const values = rows.map((r) =>
    datum(r, { series: seriesLabel(r.params), ws: formatBytes(r.params.workingSet!) }),
  );
  // Working sets are spaced by powers of two and include 0, so the axis is ordinal (a log
  // scale has no place for 0), in increasing order.
  const sizes = distinct(rows.map((r) => r.params.workingSet!)).sort((a, b) => a - b);
  const series = distinct(rows.map((r) => seriesLabel(r.params)));
  const spec: TopLevelSpec = {
    data: { values },
    width: 56 * sizes.length,
    height: 260,
    encoding: {
      x: {
        field: 'ws',
        type: 'ordinal',
        sort: sizes.map(formatBytes),
        title: "client's working set",
        axis: { labelAngle: 0 },
      },
      y: {
        field: 'value',
        type: 'quantitative',
        title: `extra client ${unit} per IPC`,
        axis: { format: ',d' },
      },
      color: { field: 'series', type: 'nominal', sort: series, title: null },
      shape: { field: 'series', type: 'nominal', sort: series, title: null },
    },
    mark: { type: 'line', point: { size: 36, filled: true }, strokeWidth: 1.5, tooltip: true },
    config: FIGURE_CONFIG,
  };
  const inter = shared(rows, 'interAs');
  const kpti = shared(rows, 'kpti');
  const conditions = [
    inter === undefined ? undefined : inter ? 'between two address spaces' : 'in one address space',
    kpti === undefined ? undefined : kpti ? 'KPTI on' : 'KPTI off',
  ].filter((s): s is string => s !== undefined);
  return [
    {
      name: `${result.id}-working-set`,
      title: "Indirect cost of an IPC against the client's working set",
      caption: `Extra ${unit} the client's own loop takes per IPC round trip (with the IPCs minus without), against the bytes it touches between IPCs${conditions.length > 0 ? `; ${conditions.join(', ')}` : ''}. One curve per kernel and setting; each point is one row of the results (${rows.length} rows, beside the figure).`,
      rowIds: rows.map((r) => r.id),
      spec,
    },
  ];
}
