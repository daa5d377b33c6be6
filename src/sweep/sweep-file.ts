// What a sweep file may say (`skybridge sweep SWEEP.yaml`), as a zod schema, and its loader:
// YAML, checked against the schema and then against itself and every run it makes (an axis
// the base has no such field for, a value the experiment or scenario refuses, a profile
// value out of range), every problem collected with its path, so one run of the command
// lists them all. docs/sweeps.md explains each field.

import { readFileSync } from 'node:fs';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { parseDocument } from 'yaml';
import { z } from 'zod';
import { formatPath } from '../experiments/scenario.ts';
import { scenarioSchema } from '../experiments/scenario-schema.ts';
import { loadProfileFile, ProfileError } from '../hw/profile.ts';
import { buildRuns } from './runs.ts';
import type { RunTask } from './task.ts';
import { FileProblemsError } from '../experiments/file-problems.ts';

/** An axis: a dotted name (`kernel`, `servers.0.maxConcurrent`, `profile.ops.vmfunc`). */
const axisName = z
  .string()
  .regex(
    /^[A-Za-z_]\w*(\.\w+)*$/,
    'an axis is a dotted name: letters, digits and _, parts separated by .',
  );

export const sweepSchema = z.strictObject({
  description: z.string().optional(),
  base: z
    .strictObject({
      experiment: z
        .string()
        .min(1)
        .optional()
        .describe("an experiment's id (skybridge list); or scenario"),
      scenario: z
        .string()
        .min(1)
        .optional()
        .describe('a scenario file, relative to the sweep file; or experiment'),
      quick: z
        .boolean()
        .optional()
        .describe("an experiment's small runs (reproduce --quick); an axis may set it too"),
      profile: z
        .string()
        .min(1)
        .optional()
        .describe('a CPU profile file merged over the default, relative to the sweep file'),
    })
    .describe('what every run starts from'),
  axes: z
    .record(axisName, z.array(z.unknown()).min(1))
    .optional()
    .describe('values per axis; the runs are their cross product (the last axis varies fastest)'),
  runs: z
    .array(z.record(axisName, z.unknown()))
    .min(1)
    .optional()
    .describe('an explicit list of runs, each the values of its axes (instead of axes)'),
  output: z
    .string()
    .min(1)
    .optional()
    .describe('the results file (JSON Lines), relative to the sweep file; default SWEEP.jsonl'),
});

export type SweepFile = z.infer<typeof sweepSchema>;

import type { Problem } from '../experiments/file-problems.ts';
export type { Problem };

/** A sweep that cannot run as written: every problem found, for one message. */
export class SweepError extends FileProblemsError {
  override name = 'SweepError';
}

export interface SweepPlan {
  file: string;
  /** The axes, in the order the file gives them (for a list of runs: as first named). */
  axes: string[];
  /** Every run, in order; the key of each names it in the results file. */
  tasks: RunTask[];
  /** The results file. */
  output: string;
}

/** Axis names an experiment base takes besides profile.*: its run options. */
export const EXPERIMENT_AXES = ['quick'] as const;
const SCENARIO_FIELDS = Object.keys(scenarioSchema.shape);

/** Reads, parses and checks `file` and every run; throws SweepError listing every problem. */
export async function loadSweep(file: string, o: { output?: string } = {}): Promise<SweepPlan> {
  let source: string;
  try {
    source = readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'a directory' : code;
    throw new SweepError(file, [{ path: '', message: `cannot read it: ${why ?? String(e)}` }]);
  }
  const doc = parseDocument(source);
  if (doc.errors.length > 0)
    throw new SweepError(
      file,
      doc.errors.map((e) => ({ path: '', message: `not valid YAML: ${e.message.split('\n')[0]}` })),
    );
  const raw: unknown = doc.toJS();
  const problems: Problem[] = [];
  const add = (path: readonly PropertyKey[], message: string): void => {
    problems.push({ path: formatPath(path), message });
  };
  const parsed = sweepSchema.safeParse(raw);
  for (const i of parsed.success ? [] : parsed.error.issues) {
    if (i.code === 'unrecognized_keys')
      for (const k of i.keys) add([...i.path, k], 'unknown field');
    else add(i.path, i.message);
  }
  const dir = dirname(file);
  const sweep = (parsed.success ? parsed.data : raw) as Partial<SweepFile> | null;
  const base = typeof sweep?.base === 'object' && sweep.base !== null ? sweep.base : {};
  const isText = (x: unknown): x is string => typeof x === 'string' && x !== '';
  const kind = isText(base.experiment) ? 'experiment' : isText(base.scenario) ? 'scenario' : null;
  if (isText(base.experiment) && isText(base.scenario))
    add(['base'], 'name an experiment or a scenario, not both');
  else if (kind === null && typeof sweep?.base === 'object')
    add(['base'], 'name an experiment (base.experiment) or a scenario (base.scenario)');
  if (kind === 'scenario' && base.quick !== undefined)
    add(['base', 'quick'], 'quick is an option of an experiment, not of a scenario');
  const hasAxes = typeof sweep?.axes === 'object' && sweep.axes !== null;
  const hasRuns = Array.isArray(sweep?.runs);
  if (hasAxes === hasRuns && sweep !== null && typeof sweep === 'object')
    add(
      [],
      hasAxes ? 'give axes or runs, not both' : 'give axes (a cross product) or runs (a list)',
    );

  // Each axis name must be something the base has.
  const named = new Set<string>();
  /** Axes whose name is refused: left out of the runs' checks, which would only repeat it. */
  const refused = new Set<string>();
  const checkAxis = (name: string, at: PropertyKey[]): void => {
    if (named.has(name)) return;
    named.add(name);
    const refuse = (message: string): void => {
      refused.add(name);
      add(at, message);
    };
    if (name === 'profile')
      refuse("vary one profile field, by its dotted name (profile.ops.vmfunc), not 'profile'");
    else if (name.startsWith('profile.')) return;
    else if (kind === 'experiment' && !(EXPERIMENT_AXES as readonly string[]).includes(name))
      refuse(
        `an experiment takes ${EXPERIMENT_AXES.join(', ')} and profile.* (a profile field by its dotted name), not '${name}'`,
      );
    else if (kind === 'scenario' && !SCENARIO_FIELDS.includes(name.split('.')[0]!))
      refuse(
        `a scenario has no field '${name.split('.')[0]}' (fields: ${SCENARIO_FIELDS.join(', ')}; or profile.*)`,
      );
  };
  const axes: string[] = [];
  const axisOk = (n: string): boolean => {
    if (axisName.safeParse(n).success) return true;
    refused.add(n);
    return false;
  };
  if (hasAxes && sweep?.axes)
    for (const [name, values] of Object.entries(sweep.axes)) {
      if (!axisOk(name)) continue;
      axes.push(name);
      checkAxis(name, ['axes', name]);
      if (Array.isArray(values)) {
        const seen = new Map<string, number>();
        values.forEach((v, i) => {
          const k = JSON.stringify(v);
          if (seen.has(k)) add(['axes', name, i], `${k} is listed already (item ${seen.get(k)})`);
          else seen.set(k, i);
        });
      }
    }
  if (hasRuns && sweep?.runs)
    sweep.runs.forEach((r, i) => {
      if (typeof r !== 'object' || r === null) return;
      for (const name of Object.keys(r)) {
        if (!axisOk(name)) continue;
        if (!axes.includes(name)) axes.push(name);
        checkAxis(name, ['runs', i, name]);
      }
    });

  // The base: its experiment, scenario and profile files.
  let profileData: Record<string, unknown> = {};
  const profileSource = isText(base.profile) ? base.profile : 'default';
  if (isText(base.profile))
    try {
      profileData = loadProfileFile(resolve(dir, base.profile)).data;
    } catch (e) {
      if (!(e instanceof ProfileError)) throw e;
      add(['base', 'profile'], e.message);
    }
  if (kind === 'experiment') {
    const { findExperiment, EXPERIMENTS } = await import('../experiments/registry.ts');
    if (findExperiment(base.experiment!) === undefined)
      add(
        ['base', 'experiment'],
        `unknown experiment '${base.experiment}' (known: ${EXPERIMENTS.map((e) => e.id).join(', ')})`,
      );
  }
  const output = resolve(
    o.output ??
      join(
        dir,
        typeof sweep?.output === 'string' ? sweep.output : `${basename(file, extname(file))}.jsonl`,
      ),
  );
  // Every run, with its values applied and checked, unless the sweep's shape is too broken
  // to say what its runs are.
  const values = (x: unknown): x is unknown[] => Array.isArray(x) && x.length > 0;
  const usable = (r: unknown): r is Record<string, unknown> => typeof r === 'object' && r !== null;
  const keep = (r: Record<string, unknown>): Record<string, unknown> =>
    Object.fromEntries(Object.entries(r).filter(([k]) => !refused.has(k)));
  let tasks: RunTask[] = [];
  if (kind !== null && hasAxes !== hasRuns && !problems.some((p) => p.path === 'base.profile')) {
    const axisValues = hasAxes ? (sweep!.axes as Record<string, unknown>) : {};
    const runs = hasAxes
      ? product(
          axes.filter((a) => !refused.has(a) && values(axisValues[a])),
          axisValues as Record<string, unknown[]>,
        )
      : (sweep!.runs as unknown[]).filter(usable).map(keep);
    const built = buildRuns({
      dir,
      base: {
        kind,
        experiment: base.experiment,
        scenario: base.scenario,
        quick: base.quick === true,
      },
      profile: { source: profileSource, data: profileData },
      runs,
      listed: hasRuns,
    });
    tasks = built.tasks;
    problems.push(...built.problems);
  }
  if (problems.length > 0 || kind === null) throw new SweepError(file, problems);
  return { file, axes: axes.filter((a) => !refused.has(a)), tasks, output };
}

/** The cross product of the axes' values, the last axis varying fastest. */
export function product(
  axes: readonly string[],
  values: Record<string, readonly unknown[]>,
): Record<string, unknown>[] {
  let runs: Record<string, unknown>[] = [{}];
  for (const a of axes) runs = runs.flatMap((r) => values[a]!.map((v) => ({ ...r, [a]: v })));
  return runs;
}
