// Renders experiment results for a terminal: one table per experiment, every value with its
// unit, published reference figures beside the simulated ones; a rule under the head only.

import Table from 'cli-table3';
import { style as pc } from './style.ts';
import { SCHEMA_VERSION, type ExperimentResult, type Provenance } from './schema.ts';

/** Formats a number for a table: integers as they are, others to one decimal. */
export function formatValue(v: number): string {
  if (Number.isInteger(v)) return v.toLocaleString('en-US');
  return v.toLocaleString('en-US', { minimumFractionDigits: 1, maximumFractionDigits: 1 });
}

export function renderResult(r: ExperimentResult): string {
  const hasRef = r.rows.some((row) => row.reference !== undefined);
  const head = [
    'measurement',
    'simulated',
    'unit',
    ...(hasRef ? ['published', 'basis'] : []),
    'how',
  ];
  const t = new Table({
    head: head.map((h) => pc.bold(h)),
    // compact: no rule under every row, only under the head.
    style: { head: [], border: [], compact: true },
    wordWrap: true,
    colWidths: [60, 11, 12, ...(hasRef ? [11, 12] : []), 40],
  });
  for (const row of r.rows) {
    const ref = row.reference === undefined ? '' : formatValue(row.reference);
    // A row with a published figure says whether agreeing with it was built in (calibrated)
    // or came out of independent inputs (reproduced); docs/calibration.md lists why.
    const basis = row.reference === undefined ? '' : (row.basis ?? '');
    t.push([
      row.measurement,
      { hAlign: 'right', content: formatValue(row.value) },
      row.unit,
      ...(hasRef ? [{ hAlign: 'right' as const, content: ref }, basis] : []),
      row.note ?? '',
    ]);
  }
  const sources = [
    ...new Set(
      r.rows.map((row) => row.referenceSource).filter((s): s is string => s !== undefined),
    ),
  ];
  const lines = [pc.bold(`${r.id}: ${r.title}`), t.toString()];
  for (const n of r.notes) lines.push(`  ${n}`);
  if (sources.length > 0) lines.push(`  published figures: ${sources.join('; ')}`);
  if (r.rows.some((row) => row.basis === 'calibrated'))
    lines.push(
      '  calibrated: a parameter was derived from that published figure, so agreement is by construction (docs/calibration.md)',
    );
  return lines.join('\n');
}

const indent = (text: string, by: string): string => text.replace(/\n/g, `\n${by}`);

/**
 * `reproduce --json` printed as the experiments finish: `begin` writes the schema version and
 * provenance, `experiment` each result, `end` closes the document. What it writes, joined, is
 * exactly `JSON.stringify(document, null, 2)` (one document, src/report/schema.ts), so a reader
 * that waits for the end sees ordinary JSON.
 */
export class JsonResultsWriter {
  private count = 0;
  constructor(private readonly write: (text: string) => void) {}

  begin(provenance: Provenance): void {
    const head = JSON.stringify({ schemaVersion: SCHEMA_VERSION, provenance }, null, 2);
    this.write(`${head.slice(0, -2)},\n  "experiments": [`);
  }

  experiment(r: ExperimentResult): void {
    this.write(
      `${this.count++ === 0 ? '' : ','}\n    ${indent(JSON.stringify(r, null, 2), '    ')}`,
    );
  }

  end(): void {
    this.write(this.count === 0 ? ']\n}\n' : '\n  ]\n}\n');
  }
}

/** The whole document at once (what JsonResultsWriter writes piece by piece). */
export function toJson(results: ExperimentResult[], provenance: Provenance): string {
  return JSON.stringify(
    { schemaVersion: SCHEMA_VERSION, provenance, experiments: results },
    null,
    2,
  );
}
