// A sweep's figures: every numeric result of its runs (an experiment's rows by id; a
// scenario's cycles, counters, and each process's instructions and VMFUNCs) drawn against the
// swept axes — the first axis that varies along x, the others as one curve per combination,
// one small panel per result that differs between runs. Results the same in every run are
// not drawn (the page lists them).

import type { TopLevelSpec } from 'vega-lite';
import { FIGURE_CONFIG, type Figure } from './figure.ts';
import type { SweepLine } from './sweep-schema.ts';

/** Panels per figure: more make a page no one reads. */
const PANELS = 12;

export interface Numeric {
  value: number;
  unit: string;
}

/** Every number a line's result holds, by a stable name. */
export function numbersOf(line: SweepLine): Map<string, Numeric> {
  const out = new Map<string, Numeric>();
  if (line.experiment !== undefined)
    for (const r of line.experiment.rows) out.set(r.id, { value: r.value, unit: r.unit });
  const s = line.scenario;
  if (s !== undefined) {
    out.set('cycles', { value: s.cycles, unit: 'cycles' });
    for (const c of s.counters) out.set(`counters.${c.name}`, { value: c.value, unit: c.unit });
    for (const p of s.processes) {
      out.set(`${p.name}.userInstructions`, { value: p.userInstructions, unit: 'instructions' });
      out.set(`${p.name}.vmfuncs`, { value: p.vmfuncs, unit: 'VMFUNCs' });
      if (p.ended.kind === 'exited')
        out.set(`${p.name}.exitStatus`, { value: p.ended.status, unit: 'status' });
    }
    for (const b of s.bindings)
      out.set(`${b.client}→${b.server}.failedKeyChecks`, {
        value: b.failedKeyChecks,
        unit: 'checks',
      });
  }
  return out;
}

const label = (v: unknown): string => (typeof v === 'string' ? v : JSON.stringify(v));

export interface SweepAnalysis {
  /** Axes whose value differs between runs, in the order the runs name them. */
  axes: string[];
  /** Results that differ between runs, in first-seen order, with their unit. */
  varying: { name: string; unit: string }[];
  /** Results with one value in every run that has them. */
  constant: { name: string; unit: string; value: number }[];
}

export function analyse(lines: readonly SweepLine[]): SweepAnalysis {
  const names: string[] = [];
  const axisNames: string[] = [];
  for (const l of lines)
    for (const a of Object.keys(l.params)) if (!axisNames.includes(a)) axisNames.push(a);
  const axes = axisNames.filter(
    (a) => new Set(lines.map((l) => JSON.stringify(l.params[a] ?? null))).size > 1,
  );
  const values = new Map<string, { unit: string; values: Set<number>; first: number }>();
  for (const l of lines)
    for (const [name, n] of numbersOf(l)) {
      let v = values.get(name);
      if (v === undefined) {
        v = { unit: n.unit, values: new Set(), first: n.value };
        values.set(name, v);
        names.push(name);
      }
      v.values.add(n.value);
    }
  const varying: SweepAnalysis['varying'] = [];
  const constant: SweepAnalysis['constant'] = [];
  for (const name of names) {
    const v = values.get(name)!;
    if (v.values.size > 1) varying.push({ name, unit: v.unit });
    else constant.push({ name, unit: v.unit, value: v.first });
  }
  return { axes, varying, constant };
}

/** The figures of a sweep: its varying results, PANELS to a figure. */
export function sweepFigures(lines: readonly SweepLine[], title: string): Figure[] {
  const { axes, varying } = analyse(lines);
  if (axes.length === 0 || varying.length === 0) return [];
  const [xAxis, ...others] = axes as [string, ...string[]];
  const numericX = lines.every((l) => typeof l.params[xAxis] === 'number');
  const sorted = [...lines].sort((a, b) => a.index - b.index);
  // The legend's title names the axes; an entry needs only their values.
  const series = (l: SweepLine): string =>
    others.map((a) => label(l.params[a] ?? null)).join(', ') || 'all runs';
  const figures: Figure[] = [];
  for (let at = 0; at < varying.length; at += PANELS) {
    const chunk = varying.slice(at, at + PANELS);
    const wanted = new Map(chunk.map((c) => [c.name, c.unit]));
    const values = sorted.flatMap((l) =>
      [...numbersOf(l)]
        .filter(([name]) => wanted.has(name))
        .map(([name, n]) => ({
          result: `${name} (${n.unit})`,
          value: n.value,
          x: numericX ? (l.params[xAxis] as number) : label(l.params[xAxis] ?? null),
          series: series(l),
          run: l.index,
          key: l.key,
        })),
    );
    const xOrder = [...new Set(sorted.map((l) => label(l.params[xAxis] ?? null)))];
    const spec: TopLevelSpec = {
      data: { values },
      facet: {
        field: 'result',
        type: 'nominal',
        sort: chunk.map((c) => `${c.name} (${c.unit})`),
        title: null,
        header: { labelLimit: 320, labelFontSize: 10 },
      },
      columns: 3,
      resolve: { scale: { y: 'independent' } },
      spec: {
        width: 220,
        height: 140,
        mark: { type: 'line', point: true, tooltip: true },
        encoding: {
          x: numericX
            ? { field: 'x', type: 'quantitative', title: xAxis, scale: { zero: false } }
            : { field: 'x', type: 'ordinal', title: xAxis, sort: xOrder },
          y: { field: 'value', type: 'quantitative', title: null, scale: { zero: false } },
          color: {
            field: 'series',
            type: 'nominal',
            title: others.length === 0 ? null : others.join(', '),
            legend: { labelLimit: 400 },
          },
        },
      },
      config: FIGURE_CONFIG,
    };
    const n = figures.length + 1;
    figures.push({
      name: `sweep-${n}`,
      title: `${title}: results ${at + 1}–${at + chunk.length} of ${varying.length} that differ between runs`,
      caption: `Each panel is one result of every run, against ${xAxis}${others.length === 0 ? '' : `, one curve per ${others.join(', ')}`}; its y scale is its own.`,
      rowIds: [],
      spec,
    });
  }
  return figures;
}
