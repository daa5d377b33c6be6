// The `ipc` experiment's figure, as the paper draws its IPC comparison: the round trip per
// kernel, its own IPC beside SkyBridge built into it, a panel per KPTI setting.

import type { TopLevelSpec } from 'vega-lite';
import type { ExperimentResult, ResultRow } from './schema.ts';
import {
  FIGURE_CONFIG,
  commonUnit,
  datum,
  distinct,
  kptiLabel,
  mechanismLabel,
  shared,
  type Figure,
} from './figure.ts';

/** The rows compared kernel against kernel on one configuration (group `kernels`). */
function roundTrips(result: ExperimentResult): ResultRow[] {
  return result.rows.filter(
    (r) =>
      r.group === 'kernels' &&
      r.metric === 'roundtrip' &&
      r.params.kernel !== undefined &&
      r.params.mechanism !== undefined,
  );
}

export function ipcFigures(result: ExperimentResult): Figure[] {
  const rows = roundTrips(result);
  if (rows.length === 0) return [];
  const unit = commonUnit(rows);
  const values = rows.map((r) =>
    datum(r, { mechanismLabel: mechanismLabel(r.params), kptiLabel: kptiLabel(r.params) }),
  );
  const kernels = distinct(rows.map((r) => r.params.kernel!));
  const mechanisms = distinct(rows.map((r) => mechanismLabel(r.params)));
  const kptis = distinct(rows.map((r) => kptiLabel(r.params)));
  const x = {
    field: 'kernel',
    type: 'nominal',
    sort: kernels,
    title: null,
    axis: { labelAngle: 0 },
  } as const;
  const xOffset = { field: 'mechanismLabel', type: 'nominal', sort: mechanisms } as const;
  const y = {
    field: 'value',
    type: 'quantitative',
    title: `round trip (${unit})`,
    axis: { format: ',d' },
  } as const;
  const bars = {
    mark: { type: 'bar', tooltip: true },
    encoding: {
      x,
      xOffset,
      y,
      color: { field: 'mechanismLabel', type: 'nominal', sort: mechanisms, title: null },
    },
  } as const;
  // The value over each bar, as the paper prints it.
  const labels = {
    mark: { type: 'text', dy: -5, fontSize: 9, color: '#222' },
    encoding: { x, xOffset, y, text: { field: 'value', type: 'quantitative', format: ',~r' } },
  } as const;
  const size = { width: 80 * kernels.length, height: 240 };
  // One panel per KPTI setting when the rows have more than one.
  const spec: TopLevelSpec =
    kptis.length > 1
      ? {
          data: { values },
          facet: { column: { field: 'kptiLabel', type: 'nominal', sort: kptis, title: null } },
          spec: { ...size, layer: [bars, labels] },
          config: FIGURE_CONFIG,
        }
      : { data: { values }, ...size, layer: [bars, labels], config: FIGURE_CONFIG };
  const config = describeConfiguration(rows);
  return [
    {
      name: `${result.id}-roundtrip`,
      title: 'IPC round trip: each kernel natively and with SkyBridge',
      caption: `Round trip between two address spaces per kernel, its own IPC beside SkyBridge built into it${config}${kptis.length > 1 ? ', KPTI off and on' : ''}. Each bar is one row of the results (${rows.length} rows, beside the figure), a mean where the row gives statistics.`,
      rowIds: rows.map((r) => r.id),
      spec,
    },
  ];
}

/** The settings every row of the figure shares, in words. */
function describeConfiguration(rows: readonly ResultRow[]): string {
  const parts: string[] = [];
  const pcid = shared(rows, 'pcid');
  if (pcid !== undefined) parts.push(pcid ? 'PCID on' : 'PCID off');
  if (shared(rows, 'crossCore') === true) parts.push('server on another core');
  return parts.length === 0 ? '' : ` (${parts.join(', ')})`;
}
