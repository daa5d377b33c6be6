// Writes a report folder: index.html, each figure as SVG, PNG and its Vega-Lite specification,
// and the results document itself. Everything is written into a temporary folder beside the
// target and renamed into place at the end, so a failure leaves no partial report behind and
// an earlier report at the same place stays until the new one is complete.

import {
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join, resolve } from 'node:path';
import type { Figure } from './figure.ts';
import { figuresFor } from './figures.ts';
import { GENERATOR, renderPage, type PlacedFigure } from './html.ts';
import { renderFigure } from './render-figure.ts';
import type { ResultsDocument } from './schema.ts';

const VEGA_LITE_SCHEMA = 'https://vega.github.io/schema/vega-lite/v6.json';

function isEarlierReport(dir: string): boolean {
  try {
    return readFileSync(join(dir, 'index.html'), 'utf8').includes(
      `<meta name="generator" content="${GENERATOR}">`,
    );
  } catch {
    return false;
  }
}

/**
 * Why `dir` cannot receive a report, or undefined when it can: it does not exist, is an empty
 * folder, or holds an earlier report (which is replaced). Anything else is left alone.
 */
export function outputDirProblem(dir: string): string | undefined {
  if (!existsSync(dir)) return undefined;
  if (!statSync(dir).isDirectory()) return `${dir} exists and is not a directory`;
  if (readdirSync(dir).length === 0 || isEarlierReport(dir)) return undefined;
  return `${dir} exists and is not a report written by 'skybridge report'; name a new or empty directory`;
}

export interface ReportSummary {
  dir: string;
  index: string;
  figures: PlacedFigure[];
}

/** Renders `f` into `into` as SVG, PNG and its Vega-Lite specification. */
export async function placeFigure(f: Figure, into: string): Promise<PlacedFigure> {
  const rendered = await renderFigure(f.spec);
  const files = { svg: `${f.name}.svg`, png: `${f.name}.png`, spec: `${f.name}.vl.json` };
  writeFileSync(join(into, files.svg), rendered.svg);
  writeFileSync(join(into, files.png), rendered.png);
  writeFileSync(
    join(into, files.spec),
    `${JSON.stringify({ $schema: VEGA_LITE_SCHEMA, ...f.spec }, null, 2)}\n`,
  );
  return { ...f, files, width: rendered.width, height: rendered.height };
}

/** Renders every figure into `into` and returns them per experiment. */
async function writeFigures(
  doc: ResultsDocument,
  into: string,
): Promise<Map<string, PlacedFigure[]>> {
  const placed = new Map<string, PlacedFigure[]>();
  const names = new Set<string>();
  for (const result of doc.experiments) {
    const list: PlacedFigure[] = [];
    for (const f of figuresFor(result)) {
      if (names.has(f.name)) throw new Error(`two figures named ${f.name}`);
      names.add(f.name);
      list.push(await placeFigure(f, into));
    }
    placed.set(result.id, list);
  }
  return placed;
}

/** Writes the report for `doc` to `dir` (see outputDirProblem for what `dir` may be). */
export async function writeReport(doc: ResultsDocument, dir: string): Promise<ReportSummary> {
  return inReportFolder(dir, async (tmp) => {
    const figures = await writeFigures(doc, tmp);
    writeFileSync(join(tmp, 'results.json'), `${JSON.stringify(doc, null, 2)}\n`);
    writeFileSync(join(tmp, 'index.html'), renderPage(doc, figures));
    return [...figures.values()].flat();
  });
}

/**
 * Has `fill` write a report into a temporary folder beside `dir`, then puts it at `dir`
 * (a report of experiments, or of a sweep: sweep-report.ts).
 */
export async function inReportFolder(
  dir: string,
  fill: (tmp: string) => Promise<PlacedFigure[]>,
): Promise<ReportSummary> {
  const target = resolve(dir);
  const problem = outputDirProblem(target);
  if (problem !== undefined) throw new Error(problem);
  const parent = dirname(target);
  // The first folder mkdir had to create, if any: removed again if the report fails.
  const created = mkdirSync(parent, { recursive: true });
  // Not mkdtemp: its folder is private (0700), and the report keeps the umask's mode.
  const tmp = join(parent, `.${basename(target)}.tmp-${randomBytes(6).toString('hex')}`);
  mkdirSync(tmp);
  try {
    const figures = await fill(tmp);
    replace(target, tmp);
    return { dir: target, index: join(target, 'index.html'), figures };
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    if (created !== undefined) rmSync(created, { recursive: true, force: true });
    throw e;
  }
}

/** Puts the finished folder `tmp` at `target`, moving an earlier report aside until then. */
function replace(target: string, tmp: string): void {
  if (!existsSync(target)) {
    renameSync(tmp, target);
    return;
  }
  // Checked again: the folder may have changed while the figures were drawn.
  const problem = outputDirProblem(target);
  if (problem !== undefined) throw new Error(problem);
  const aside = `${tmp}.old`;
  renameSync(target, aside);
  try {
    renameSync(tmp, target);
  } catch (e) {
    renameSync(aside, target);
    throw e;
  }
  rmSync(aside, { recursive: true, force: true });
}
