// The report of a sweep (`skybridge report --from RESULTS.jsonl -o DIR`): one page with the
// sweep's figures (sweep-figures.ts), its runs and their parameters, the results the same in
// every run, and how the runs were made; the results file itself beside it. Written the way
// an experiments report is (report.ts): into a folder beside DIR, moved into place at the end.

import { copyFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { esc, htmlPage, type PlacedFigure } from './html.ts';
import { inReportFolder, placeFigure, type ReportSummary } from './report.ts';
import { analyse, sweepFigures } from './sweep-figures.ts';
import { readSweepLines } from './sweep-lines.ts';
import type { SweepLine } from './sweep-schema.ts';

const num = (v: number): string => v.toLocaleString('en-US', { maximumFractionDigits: 3 });
const show = (v: unknown): string => esc(typeof v === 'string' ? v : JSON.stringify(v ?? null));

function runsTable(lines: readonly SweepLine[]): string {
  const axes = [...new Set(lines.flatMap((l) => Object.keys(l.params)))];
  const head = ['run', ...axes, 'key', 'made by'];
  const body = lines.map((l) => {
    const p = l.provenance;
    const by = `${esc(p.tool.version)}${p.git === null ? '' : ` ${esc(p.git.commit.slice(0, 12))}${p.git.dirty ? ' (dirty)' : ''}`}, profile ${esc(p.profile.sha256.slice(0, 12))}`;
    const cells = [
      num(l.index),
      ...axes.map((a) => show(l.params[a])),
      `<code>${l.key}</code>`,
      by,
    ];
    return `<tr>${cells.map((c) => `<td>${c}</td>`).join('')}</tr>`;
  });
  return `<table><thead><tr>${head.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>
${body.join('\n')}
</tbody></table>`;
}

function figureHtml(f: PlacedFigure, n: number): string {
  return `<figure id="${esc(f.name)}">
<img src="${esc(f.files.svg)}" width="${Math.round(f.width)}" height="${Math.round(f.height)}" alt="${esc(f.title)}">
<figcaption><b>Figure ${n}.</b> ${esc(f.title)}. ${esc(f.caption)}
<span class="files"><a href="${esc(f.files.png)}">PNG</a> · <a href="${esc(f.files.svg)}">SVG</a> · <a href="${esc(f.files.spec)}">Vega-Lite</a></span></figcaption>
</figure>`;
}

export function renderSweepPage(
  lines: readonly SweepLine[],
  source: string,
  figures: readonly PlacedFigure[],
): string {
  const { axes, varying, constant } = analyse(lines);
  const bases = [...new Set(lines.map((l) => l.base))];
  const title = `Sweep of ${bases.join(', ')}`;
  const constants =
    constant.length === 0
      ? ''
      : `<details><summary>${constant.length} results the same in every run</summary>
<table><thead><tr><th>result</th><th>value</th><th>unit</th></tr></thead><tbody>
${constant.map((c) => `<tr><td>${esc(c.name)}</td><td class="n">${num(c.value)}</td><td>${esc(c.unit)}</td></tr>`).join('\n')}
</tbody></table></details>`;
  const none =
    figures.length > 0
      ? ''
      : `<p>No figure: ${axes.length === 0 ? 'no axis has more than one value in these runs' : 'no result differs between the runs'}.</p>`;
  return htmlPage(
    title,
    `<p>${lines.length} run(s) from <a href="${esc(basename(source))}">${esc(basename(source))}</a> (the sweep's results, one run a line). Axes that vary: ${axes.length === 0 ? 'none' : axes.map((a) => `<code>${esc(a)}</code>`).join(', ')}; ${varying.length} result(s) differ between runs. Every value is what the simulated machine's counters read after the run, as its line records it.</p>
${none}
${figures.map((f, i) => figureHtml(f, i + 1)).join('\n')}
${constants}
<h2>Runs</h2>
<details${lines.length <= 60 ? ' open' : ''}><summary>All ${lines.length} runs, by their place in the sweep</summary>
${runsTable(lines)}
</details>`,
  );
}

/** The report of the sweep results in `file`, written to `dir`. */
export async function writeSweepReport(file: string, dir: string): Promise<ReportSummary> {
  const { lines, partial } = readSweepLines(file);
  if (lines.length === 0)
    throw new Error(`${file}: no finished runs${partial ? ' (one cut off)' : ''}`);
  const sorted = [...lines].sort((a, b) => a.index - b.index);
  const bases = [...new Set(sorted.map((l) => l.base))];
  return inReportFolder(dir, async (tmp) => {
    const placed: PlacedFigure[] = [];
    for (const f of sweepFigures(sorted, `Sweep of ${bases.join(', ')}`))
      placed.push(await placeFigure(f, tmp));
    copyFileSync(file, join(tmp, basename(file)));
    writeFileSync(join(tmp, 'index.html'), renderSweepPage(sorted, file, placed));
    return placed;
  });
}
