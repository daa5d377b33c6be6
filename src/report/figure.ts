// What a figure of the report is, and what every figure shares: its look (one Vega-Lite
// config) and how parameters become labels. A figure's data are rows of the results document,
// each carried whole (id, value, unit, params) plus labels derived from its params, so every
// mark can be traced back to the row it draws.

import type { TopLevelSpec } from 'vega-lite';
import type { Config } from 'vega-lite';
import type { ResultRow, RowParams } from './schema.ts';

export interface Figure {
  /** File stem, unique in a report: `<experiment>-<name>`. */
  name: string;
  title: string;
  /** What is plotted and under which conditions, in words. */
  caption: string;
  /** The ids of the rows the figure draws, in the order given to it. */
  rowIds: string[];
  spec: TopLevelSpec;
}

/** Sans-serif on white, thin grid, as figures in systems papers are drawn. */
export const FIGURE_CONFIG: Config = {
  background: 'white',
  font: 'DejaVu Sans, Liberation Sans, Arial, sans-serif',
  padding: 8,
  view: { stroke: '#888' },
  axis: { labelFontSize: 11, titleFontSize: 12, gridColor: '#e4e4e4', domainColor: '#444' },
  legend: { labelFontSize: 11, titleFontSize: 11, orient: 'top' },
  header: { labelFontSize: 12, titleFontSize: 12 },
  title: { fontSize: 13, anchor: 'start' },
  range: { category: ['#4e79a7', '#f28e2b', '#59a14f', '#e15759', '#76b7b2', '#b07aa1'] },
};

/** `1 KiB`, `256 KiB`, `1 MiB`: working sets as the paper labels them. */
export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && v % 1024 === 0 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v} ${units[i]}`;
}

export const mechanismLabel = (p: RowParams): string =>
  p.mechanism === 'skybridge' ? 'SkyBridge' : p.mechanism === 'native' ? 'native IPC' : '';

export const kptiLabel = (p: RowParams): string =>
  p.kpti === undefined ? '' : p.kpti ? 'KPTI on' : 'KPTI off';

/** A curve's name from the parameters that tell curves apart, e.g. `seL4 + SkyBridge`,
 *  `seL4, PCID off`. */
export function seriesLabel(p: RowParams): string {
  let s = p.kernel ?? '';
  if (p.mechanism === 'skybridge') s = s === '' ? 'SkyBridge' : `${s} + SkyBridge`;
  if (p.pcid === false) s += ', PCID off';
  if (p.kpti === true) s += ', KPTI';
  if (p.crossCore === true) s += ', cross-core';
  return s;
}

/** The row as a Vega-Lite datum: the row's own fields, its params flattened beside them. */
export function datum(r: ResultRow, labels: Record<string, string | number>): object {
  return { id: r.id, value: r.value, unit: r.unit, ...r.params, ...labels };
}

/** The unit every row shares (an axis has one), or an error naming the rows that differ. */
export function commonUnit(rows: readonly ResultRow[]): string {
  const units = [...new Set(rows.map((r) => r.unit))];
  if (units.length !== 1)
    throw new Error(`rows of one figure have different units: ${units.join(', ')}`);
  return units[0]!;
}

/** The value of a parameter when every row has the same one, else undefined. */
export function shared<K extends keyof RowParams>(
  rows: readonly ResultRow[],
  key: K,
): RowParams[K] | undefined {
  const vs = distinct(rows.map((r) => r.params[key]));
  return vs.length === 1 ? vs[0] : undefined;
}

/** Values in first-seen order (the order the experiment produced them). */
export function distinct<T>(xs: readonly T[]): T[] {
  return [...new Set(xs)];
}
