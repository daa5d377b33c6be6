// A case's counters as `perf stat` prints them: one line per counter that is not zero, the
// total across the measured repetitions right-aligned, the same per repetition, the unit, the
// counter's name, and what it counts.

import { style } from './style.ts';
import type { CaseCounters } from './schema.ts';

/** Up to two decimals, thousands separated. */
function num(v: number): string {
  return v.toLocaleString('en-US', { maximumFractionDigits: 2 });
}

export function renderCaseCounters(c: CaseCounters, opts: { color?: boolean } = {}): string {
  const bold = opts.color === false ? (t: string): string => t : style.bold;
  const perHead = `per ${c.per}`;
  const rows = c.counters.map((k) => [
    num(k.value),
    num(k.value / c.repetitions),
    k.unit,
    k.name,
    k.description,
  ]);
  const head = ['value', perHead, 'unit', 'counter', 'description'];
  const width = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]): string =>
    cells
      .map((cell, i) => (i < 2 ? cell.padStart(width[i]!) : i < 4 ? cell.padEnd(width[i]!) : cell))
      .join('  ')
      .trimEnd();
  return [
    bold(
      `counters of ${c.case}, across ${num(c.repetitions)} measured repetition${c.repetitions === 1 ? '' : 's'} (one ${c.per} each):`,
    ),
    `  ${bold(line(head))}`,
    ...rows.map((r) => `  ${line(r)}`),
  ].join('\n');
}
