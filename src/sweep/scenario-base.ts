// A scenario as a sweep's base: the document read once, an axis's value set at its dotted
// path (`cores`, `servers.0.maxConcurrent`, `processes.1.args`), and the document turned back
// into a loaded scenario wherever the run happens. The scenario loader
// (experiments/scenario.ts) reads a file and the images it names relative to it, so a run's
// document is written with its images into a private temporary folder, loaded with every
// check a scenario gets, and the folder removed; the plan then names the file and images as
// the sweep does, so the result is the same on every host.

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { parseDocument, stringify } from 'yaml';
import { loadScenario, ScenarioError, type ScenarioPlan } from '../experiments/scenario.ts';
import type { ScenarioRun } from './task.ts';

type Obj = Record<string, unknown>;
const isObj = (x: unknown): x is Obj => typeof x === 'object' && x !== null && !Array.isArray(x);

/** The scenario file's document, or a message saying why there is none. */
export function readScenarioDocument(file: string): Obj | string {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return code === 'ENOENT' ? `cannot read ${file}: no such file` : `cannot read ${file}`;
  }
  const doc = parseDocument(text);
  if (doc.errors.length > 0) return `${file} is not valid YAML: ${doc.errors[0]!.message}`;
  const raw: unknown = doc.toJS();
  return isObj(raw) ? raw : `${file}: a scenario is a mapping at the top level`;
}

/**
 * Sets `value` at the dotted `path` of `doc` (a copy is the caller's business). Numeric
 * segments index lists and must name an item that exists; a missing mapping on the way is
 * made. Returns a problem, or undefined.
 */
export function setAtPath(doc: Obj, path: readonly string[], value: unknown): string | undefined {
  let at: unknown = doc;
  for (let i = 0; i < path.length; i++) {
    const seg = path[i]!;
    const last = i === path.length - 1;
    const where = path.slice(0, i).join('.') || 'the scenario';
    if (Array.isArray(at)) {
      if (!/^\d+$/.test(seg)) return `${where} is a list: the next name must be an index`;
      const n = Number(seg);
      if (n >= at.length)
        return `${where} has ${at.length} item${at.length === 1 ? '' : 's'}: no index ${n}`;
      if (last) at[n] = value;
      else at = at[n];
    } else if (isObj(at)) {
      if (last) at[seg] = value;
      else {
        if (at[seg] === undefined) at[seg] = /^\d+$/.test(path[i + 1]!) ? [] : {};
        at = at[seg];
      }
    } else return `${where} is a single value: it has no field '${seg}'`;
  }
  return undefined;
}

/** The bytes of every image the document names by path (not guest:NAME), as base64, read
 *  relative to the scenario's folder; an image that cannot be read is left out (loading the
 *  run names it). `cache` keeps files read once per sweep. */
export function imagesOf(doc: Obj, dir: string, cache: Map<string, string | null>) {
  const images: Record<string, string> = {};
  const processes = Array.isArray(doc.processes) ? doc.processes : [];
  for (const p of processes) {
    const label = isObj(p) && typeof p.image === 'string' ? p.image : undefined;
    if (label === undefined || label.startsWith('guest:') || label in images) continue;
    const path = resolve(dir, label);
    if (!cache.has(path)) {
      try {
        cache.set(path, readFileSync(path).toString('base64'));
      } catch {
        cache.set(path, null);
      }
    }
    const b64 = cache.get(path);
    if (b64 !== null && b64 !== undefined) images[label] = b64;
  }
  return images;
}

/**
 * Loads a run's scenario with every check `skybridge run` makes; throws ScenarioError (its
 * problems' paths are the document's) when the run's values make it invalid. `dir` resolves
 * an image the run does not carry (the sweep's own check, on the machine that has the files).
 */
export function loadScenarioRun(run: ScenarioRun, dir?: string): ScenarioPlan {
  const doc = structuredClone(run.document);
  const processes = Array.isArray(doc.processes) ? (doc.processes as unknown[]) : [];
  const tmp = mkdtempSync(join(tmpdir(), 'skybridge-sweep-'));
  try {
    const labels = Object.keys(run.images);
    labels.forEach((label, i) =>
      writeFileSync(join(tmp, `image-${i}`), Buffer.from(run.images[label]!, 'base64')),
    );
    const original = processes.map((p) => (isObj(p) ? p.image : undefined));
    processes.forEach((p) => {
      if (!isObj(p) || typeof p.image !== 'string' || p.image.startsWith('guest:')) return;
      const n = labels.indexOf(p.image);
      p.image = n >= 0 ? `./image-${n}` : resolve(dir ?? dirname(run.file), p.image);
    });
    const file = join(tmp, 'scenario.yaml');
    writeFileSync(file, stringify(doc));
    let plan: ScenarioPlan;
    try {
      plan = loadScenario(file);
    } catch (e) {
      if (e instanceof ScenarioError) throw new ScenarioError(run.file, e.problems);
      throw e;
    }
    // As the sweep names them: the result shows the scenario's own labels, not ours.
    plan.scenario.processes.forEach((p, i) => {
      if (typeof original[i] === 'string') p.image = original[i];
    });
    const images = new Map(
      [...plan.images].map(([name, img]) => {
        const i = plan.scenario.processes.findIndex((p) => p.name === name);
        return [name, { ...img, label: plan.scenario.processes[i]!.image }];
      }),
    );
    return { file: run.file, scenario: plan.scenario, images };
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
