// The formats `reproduce` writes besides its tables: JSON (table.ts's JsonResultsWriter), CSV
// and Markdown. Each is a ResultsWriter, written piece by piece as experiments finish, so a
// pipe sees each experiment when it is done; what a writer writes, joined, is the whole file.

import { formatValue } from './table.ts';
import { JsonResultsWriter } from './table.ts';
import {
  paramsSchema,
  type ExperimentResult,
  type Provenance,
  type ResultRow,
  type RowParams,
} from './schema.ts';
import { describeProvenance } from './provenance.ts';
import { renderCaseCounters } from './counters-table.ts';

/** What every output format implements: the document's head, each experiment, its end. */
export interface ResultsWriter {
  begin(provenance: Provenance): void;
  experiment(r: ExperimentResult): void;
  end(): void;
}

export const FORMATS = ['json', 'csv', 'md'] as const;
export type Format = (typeof FORMATS)[number];

/** The format a file name's extension names, if any. */
export function formatOfFile(file: string): Format | undefined {
  const ext = /\.([A-Za-z]+)$/.exec(file)?.[1]?.toLowerCase();
  if (ext === 'json') return 'json';
  if (ext === 'csv') return 'csv';
  if (ext === 'md' || ext === 'markdown') return 'md';
  return undefined;
}

export function resultsWriter(format: Format, write: (text: string) => void): ResultsWriter {
  switch (format) {
    case 'json':
      return new JsonResultsWriter(write);
    case 'csv':
      return new CsvResultsWriter(write);
    case 'md':
      return new MarkdownResultsWriter(write);
  }
}

// ---- CSV ----------------------------------------------------------------------------------

/** Every parameter a row may carry, in the schema's order: one column each. */
export const PARAM_COLUMNS = Object.keys(paramsSchema.shape) as (keyof RowParams)[];

const STAT_COLUMNS = ['n', 'min', 'median', 'max', 'stddev'] as const;

/** The CSV's columns: one file for every experiment, the same columns whichever ran. */
export const CSV_COLUMNS = [
  'experiment',
  'id',
  'group',
  'metric',
  'measurement',
  ...PARAM_COLUMNS,
  'value',
  'unit',
  ...STAT_COLUMNS,
  'reference',
  'referenceSource',
  'basis',
  'note',
] as const;

/** One CSV field (RFC 4180): quoted when it holds a comma, a quote or a line break. */
export function csvField(v: string | number | boolean | undefined): string {
  if (v === undefined) return '';
  const s = String(v);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function csvRow(experiment: string, r: ResultRow): string {
  const fields: (string | number | boolean | undefined)[] = [
    experiment,
    r.id,
    r.group,
    r.metric,
    r.measurement.trim(),
    ...PARAM_COLUMNS.map((k) => r.params[k]),
    r.value,
    r.unit,
    ...STAT_COLUMNS.map((k) => r.stats?.[k]),
    r.reference,
    r.referenceSource,
    r.basis,
    r.note,
  ];
  return fields.map(csvField).join(',');
}

/**
 * One table of every row of every experiment, a header line first, CRLF line ends (RFC 4180).
 * Rows only: the notes, the provenance and the counters are in the JSON document.
 */
export class CsvResultsWriter implements ResultsWriter {
  constructor(private readonly write: (text: string) => void) {}

  begin(): void {
    this.write(`${CSV_COLUMNS.join(',')}\r\n`);
  }

  experiment(r: ExperimentResult): void {
    if (r.rows.length > 0) this.write(r.rows.map((row) => `${csvRow(r.id, row)}\r\n`).join(''));
  }

  end(): void {}
}

// ---- Markdown -----------------------------------------------------------------------------

/** Text for a Markdown table cell: pipes escaped, no line breaks. */
export function mdCell(s: string): string {
  return s.replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');
}

/** A Markdown (GFM) table; `right[i]` right-aligns column i. */
export function mdTable(head: string[], rows: string[][], right: boolean[]): string {
  const line = (cells: string[]): string => `| ${cells.map(mdCell).join(' | ')} |`;
  return [
    line(head),
    `| ${head.map((_, i) => (right[i] ? '---:' : '---')).join(' | ')} |`,
    ...rows.map(line),
  ].join('\n');
}

/** One experiment as Markdown: a heading, its table (as the terminal's), notes, counters. */
export function renderMarkdown(r: ExperimentResult): string {
  const hasRef = r.rows.some((row) => row.reference !== undefined);
  const head = [
    'measurement',
    'simulated',
    'unit',
    ...(hasRef ? ['published', 'basis'] : []),
    'how',
  ];
  const right = [false, true, false, ...(hasRef ? [true, false] : []), false];
  const rows = r.rows.map((row) => [
    row.measurement.trim(),
    formatValue(row.value),
    row.unit,
    ...(hasRef
      ? [
          row.reference === undefined ? '' : formatValue(row.reference),
          row.reference === undefined ? '' : (row.basis ?? ''),
        ]
      : []),
    row.note ?? '',
  ]);
  const parts = [`## ${r.id}: ${r.title}`, mdTable(head, rows, right)];
  const sources = [
    ...new Set(r.rows.map((row) => row.referenceSource).filter((s) => s !== undefined)),
  ];
  const notes = [
    ...r.notes,
    ...(sources.length > 0 ? [`Published figures: ${sources.join('; ')}.`] : []),
  ];
  if (notes.length > 0) parts.push(notes.map((n) => `- ${n}`).join('\n'));
  if (r.counters !== undefined)
    parts.push(
      ...r.counters.map((c) => `\`\`\`\n${renderCaseCounters(c, { color: false })}\n\`\`\``),
    );
  return parts.join('\n\n');
}

/** A Markdown document: the provenance line, then each experiment as it finishes. */
export class MarkdownResultsWriter implements ResultsWriter {
  constructor(private readonly write: (text: string) => void) {}

  begin(p: Provenance): void {
    this.write(`# skybridge reproduce\n\n${mdCell(describeProvenance(p))}\n`);
  }

  experiment(r: ExperimentResult): void {
    this.write(`\n${renderMarkdown(r)}\n`);
  }

  end(): void {}
}
