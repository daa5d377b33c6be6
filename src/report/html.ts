// The report's page: provenance first, then per experiment its figures (each with the rows
// it draws beside it), its notes and the table of all its rows. One self-contained HTML file
// with no script and no remote resource, so it opens from disk and prints.

import type { Figure } from './figure.ts';
import { describeProvenance } from './provenance.ts';
import type { ExperimentResult, Provenance, ResultRow, ResultsDocument } from './schema.ts';

/** The page says it was written by this tool, so a later report may replace its folder. */
export const GENERATOR = 'skybridge report';

/** A figure as written to the report's folder. */
export interface PlacedFigure extends Figure {
  files: { svg: string; png: string; spec: string };
  width: number;
  height: number;
}

const ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};
export const esc = (s: string): string => s.replace(/[&<>"']/g, (c) => ESCAPES[c]!);

/** Full precision up to three decimals (the terminal table rounds to one). */
const num = (v: number): string => v.toLocaleString('en-US', { maximumFractionDigits: 3 });

const td = (content: string, cls = ''): string =>
  cls === '' ? `<td>${content}</td>` : `<td class="${cls}">${content}</td>`;

function rowsTable(rows: readonly ResultRow[]): string {
  const hasStats = rows.some((r) => r.stats !== undefined);
  const hasRef = rows.some((r) => r.reference !== undefined);
  const head = [
    'measurement',
    'value',
    'unit',
    ...(hasStats ? ['n', 'median', 'min', 'max', 'stddev'] : []),
    ...(hasRef ? ['published', 'basis'] : []),
    'how',
    'id',
  ];
  const body = rows.map((r) => {
    const s = r.stats;
    const cells = [
      td(esc(r.measurement)),
      td(num(r.value), 'n'),
      td(esc(r.unit)),
      ...(hasStats
        ? [s?.n, s?.median, s?.min, s?.max, s?.stddev].map((v) =>
            td(v === undefined ? '' : num(v), 'n'),
          )
        : []),
      ...(hasRef
        ? [td(r.reference === undefined ? '' : num(r.reference), 'n'), td(esc(r.basis ?? ''))]
        : []),
      td(esc(r.note ?? '')),
      td(`<code>${esc(r.id)}</code>`, 'id'),
    ];
    return `<tr id="${esc(r.id)}">${cells.join('')}</tr>`;
  });
  return `<table><thead><tr>${head.map((h) => `<th>${h}</th>`).join('')}</tr></thead>
<tbody>
${body.join('\n')}
</tbody></table>`;
}

/** The rows a figure draws, beside it: what each mark's value is. */
function figureRows(f: PlacedFigure, rows: readonly ResultRow[]): string {
  const byId = new Map(rows.map((r) => [r.id, r]));
  const lines = f.rowIds.map((id) => {
    const r = byId.get(id)!;
    return `<tr>${td(`<a href="#${esc(id)}">${esc(r.measurement)}</a>`)}${td(num(r.value), 'n')}${td(esc(r.unit))}</tr>`;
  });
  return `<table class="beside"><thead><tr><th>row</th><th>value</th><th>unit</th></tr></thead><tbody>
${lines.join('\n')}
</tbody></table>`;
}

function figureHtml(f: PlacedFigure, n: number, rows: readonly ResultRow[]): string {
  return `<div class="figure-row">
<figure id="${esc(f.name)}">
<img src="${esc(f.files.svg)}" width="${Math.round(f.width)}" height="${Math.round(f.height)}" alt="${esc(f.title)}">
<figcaption><b>Figure ${n}.</b> ${esc(f.title)}. ${esc(f.caption)}
<span class="files"><a href="${esc(f.files.png)}">PNG</a> · <a href="${esc(f.files.svg)}">SVG</a> · <a href="${esc(f.files.spec)}">Vega-Lite</a></span></figcaption>
</figure>
${figureRows(f, rows)}
</div>`;
}

function experimentHtml(r: ExperimentResult, figures: readonly PlacedFigure[], first: number) {
  const sources = [
    ...new Set(r.rows.map((x) => x.referenceSource).filter((s): s is string => s !== undefined)),
  ];
  const notes = [...r.notes];
  if (sources.length > 0) notes.push(`Published figures: ${sources.join('; ')}.`);
  if (r.rows.some((x) => x.basis === 'calibrated'))
    notes.push(
      'Calibrated: a parameter was derived from that published figure, so agreement is by construction (docs/calibration.md).',
    );
  return `<section id="experiment-${esc(r.id)}">
<h2>${esc(r.id)}: ${esc(r.title)}</h2>
${figures.map((f, i) => figureHtml(f, first + i, r.rows)).join('\n')}
${notes.length > 0 ? `<ul class="notes">${notes.map((x) => `<li>${esc(x)}</li>`).join('')}</ul>` : ''}
<details${r.rows.length <= 40 ? ' open' : ''}><summary>All ${r.rows.length} rows of ${esc(r.id)}</summary>
${rowsTable(r.rows)}
</details>
</section>`;
}

function provenanceHtml(p: Provenance, schemaVersion: number): string {
  const items: [string, string][] = [
    ['tool', `${esc(p.tool.name)} ${esc(p.tool.version)}`],
    [
      'git commit',
      p.git === null
        ? 'not a git checkout'
        : `<code>${esc(p.git.commit)}</code>${p.git.dirty ? ' (uncommitted changes)' : ''}`,
    ],
    [
      'CPU profile',
      `${esc(p.profile.name)} from ${p.profile.source === 'default' ? 'the default' : `${esc(p.profile.source)}, merged over the default`}`,
    ],
    ['profile SHA-256', `<code>${esc(p.profile.sha256)}</code>`],
    [
      'seeds',
      Object.entries(p.seeds)
        .map(([k, v]) => `${esc(k)} ${v}`)
        .join(', '),
    ],
    ['Node.js', esc(p.node)],
    ['results schema', `version ${schemaVersion} (docs/results.schema.json)`],
  ];
  return `<section id="provenance">
<h2>How these results were made</h2>
<dl>${items.map(([k, v]) => `<dt>${k}</dt><dd>${v}</dd>`).join('')}</dl>
<details><summary>The effective CPU profile</summary><pre>${esc(JSON.stringify(p.profile.effective, null, 2))}</pre></details>
<p>The results document the page was made from is <a href="results.json">results.json</a>.</p>
</section>`;
}

const CSS = `
body { font: 15px/1.45 "DejaVu Sans", "Liberation Sans", Arial, sans-serif; margin: 2em auto; max-width: 1400px; padding: 0 1.5em; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 2em; border-bottom: 1px solid #ccc; }
.figure-row { display: flex; flex-wrap: wrap; gap: 1.5em; align-items: flex-start; margin: 1em 0; }
figure { margin: 0; max-width: 100%; } figure img { max-width: 100%; height: auto; }
figcaption { font-size: 0.9em; max-width: 40em; } .files { white-space: nowrap; margin-left: 0.5em; }
table { border-collapse: collapse; font-size: 0.85em; } th { text-align: left; border-bottom: 1px solid #888; }
td, th { padding: 0.15em 0.6em; vertical-align: top; } td.n { text-align: right; font-variant-numeric: tabular-nums; }
tbody tr:nth-child(even) { background: #f5f5f5; } td.id code { font-size: 0.85em; color: #555; }
table.beside { font-size: 0.8em; } .notes { font-size: 0.9em; } dt { font-weight: bold; float: left; clear: left; width: 10em; }
dd { margin-left: 11em; } pre { font-size: 0.8em; max-height: 30em; overflow: auto; background: #f5f5f5; padding: 0.5em; }
`;

/** The whole page; `figures` maps an experiment id to its figures as written. */
export function renderPage(
  doc: ResultsDocument,
  figures: ReadonlyMap<string, readonly PlacedFigure[]>,
): string {
  let n = 1;
  const sections = doc.experiments.map((r) => {
    const fs = figures.get(r.id) ?? [];
    const html = experimentHtml(r, fs, n);
    n += fs.length;
    return html;
  });
  const toc = doc.experiments
    .map((r) => `<a href="#experiment-${esc(r.id)}">${esc(r.id)}</a>`)
    .join(' · ');
  return htmlPage(
    'SkyBridge on a simulated machine: results',
    `<p>Every value below is a row of the results document (<a href="results.json">results.json</a>): what the simulated machine's counters read after the modelled code ran, or a ratio of such figures; published figures appear only beside them, for comparison. ${esc(describeProvenance(doc.provenance))}.</p>
<nav>Experiments: ${toc} · <a href="#provenance">provenance</a></nav>
${sections.join('\n')}
${provenanceHtml(doc.provenance, doc.schemaVersion)}`,
  );
}

/** A whole report page: the document head (charset, generator, viewport, the stylesheet),
 *  `title` as its title and first heading, then `body`. */
export function htmlPage(title: string, body: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="generator" content="${GENERATOR}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)}</title>
<style>${CSS}</style>
</head>
<body>
<h1>${esc(title)}</h1>
${body}
</body>
</html>
`;
}
