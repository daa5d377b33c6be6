// A sweep's runs as tasks (task.ts): each run's values applied to the base — profile.* to the
// CPU profile, quick to the experiment's options, anything else to the scenario's document —
// and checked as the run itself would check them, before anything runs. A problem many runs
// share (one bad value in a cross product) is listed once, at the first run that has it.

import { resolve } from 'node:path';
import { ScenarioError } from '../experiments/scenario.ts';
import { SKYLAKE, mergeProfile, profileProblems } from '../hw/profile.ts';
import { profileSchema, type CpuProfile } from '../hw/profile-schema.ts';
import { canonicalJson } from '../report/provenance.ts';
import { imagesOf, loadScenarioRun, readScenarioDocument, setAtPath } from './scenario-base.ts';
import type { Problem } from './sweep-file.ts';
import { runKey, type RunTask } from './task.ts';

export interface RunsInput {
  /** The sweep file's folder: the base's paths are relative to it. */
  dir: string;
  base: { kind: 'experiment' | 'scenario'; experiment?: string; scenario?: string; quick: boolean };
  profile: { source: string; data: Record<string, unknown> };
  runs: readonly Record<string, unknown>[];
  /** An explicit list (problems name runs[i]) rather than a cross product. */
  listed: boolean;
}

type Obj = Record<string, unknown>;

/** Adds a problem: `at` is the dotted name it arose at (an axis, a profile or scenario field). */
type Add = (at: string | undefined, message: string) => void;

/** `over` with the run's profile.* values set in it. */
function profileOf(data: Obj, params: Obj, add: Add): CpuProfile | undefined {
  const over = structuredClone(data);
  for (const [name, v] of Object.entries(params))
    if (name.startsWith('profile.')) {
      const problem = setAtPath(over, name.split('.').slice(1), v);
      if (problem !== undefined) add(name, problem.replace('the scenario', 'the profile'));
    }
  const problems: string[] = [];
  const merged = mergeProfile(SKYLAKE, over, '', problems);
  problems.push(...profileProblems(merged));
  for (const p of problems) {
    const m = /^([^:]*): (.*)$/s.exec(p);
    if (m === null || m[1] === '(root)') add(undefined, `profile: ${p}`);
    else add(`profile.${m[1]}`, m[2]!);
  }
  return problems.length === 0 ? profileSchema.parse(merged) : undefined;
}

/** `processes[1].args` as an axis names it: `processes.1.args`. */
const dotted = (path: string): string => path.replace(/\[(\d+)\]/g, '.$1');

const describe = (params: Obj): string =>
  Object.entries(params)
    .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
    .join(', ');

export function buildRuns(input: RunsInput): { tasks: RunTask[]; problems: Problem[] } {
  const { base } = input;
  const scenarioFile = base.scenario === undefined ? undefined : resolve(input.dir, base.scenario);
  const document = scenarioFile === undefined ? undefined : readScenarioDocument(scenarioFile);
  if (typeof document === 'string')
    return { tasks: [], problems: [{ path: 'base.scenario', message: document }] };
  const baseName =
    base.kind === 'experiment' ? `experiment ${base.experiment}` : `scenario ${base.scenario}`;

  const found = new Map<string, { path: string; message: string; count: number }>();
  const checked = new Map<string, string[]>();
  const files = new Map<string, string | null>();
  const keys = new Map<string, string>();
  const tasks: RunTask[] = [];
  input.runs.forEach((params, index) => {
    const where = input.listed ? `runs[${index}]` : `run ${index} (${describe(params)})`;
    let bad = false;
    /** A problem at a field an axis sets is the axis value's (said once for every run that
     *  has it); any other is the run's. */
    const add: Add = (at, message) => {
      bad = true;
      const axis =
        at === undefined
          ? undefined
          : Object.keys(params).find((a) => at === a || at.startsWith(`${a}.`));
      const path =
        axis === undefined
          ? input.listed
            ? where
            : `axes, ${where}`
          : input.listed
            ? `runs[${index}].${axis}`
            : `axes.${axis}`;
      const text =
        axis === undefined
          ? `${at === undefined ? '' : `${at}: `}${message}`
          : `${JSON.stringify(params[axis])}: ${at === axis ? '' : `${at}: `}${message}`;
      const k = `${path}\0${text}`;
      const f = found.get(k);
      if (f === undefined) found.set(k, { path, message: text, count: 1 });
      else f.count++;
    };
    const profile = profileOf(input.profile.data, params, add);
    let run: RunTask['run'] | undefined;
    if (base.kind === 'experiment') {
      const quick = 'quick' in params ? params.quick : base.quick;
      if (typeof quick !== 'boolean') add('quick', 'not true or false');
      else run = { kind: 'experiment', id: base.experiment!, quick };
    } else {
      const doc = structuredClone(document!);
      for (const [name, v] of Object.entries(params)) {
        if (name.startsWith('profile.')) continue;
        const problem = setAtPath(doc, name.split('.'), v);
        if (problem !== undefined) add(name, problem);
      }
      const dir = resolve(scenarioFile!, '..');
      run = {
        kind: 'scenario',
        file: base.scenario!,
        document: doc,
        images: imagesOf(doc, dir, files),
      };
      const sig = canonicalJson(run);
      let problems = checked.get(sig);
      if (problems === undefined) {
        problems = [];
        try {
          loadScenarioRun(run, dir);
        } catch (e) {
          if (!(e instanceof ScenarioError)) throw e;
          problems = e.problems.map((p) => `${dotted(p.path)}\0${p.message}`);
        }
        checked.set(sig, problems);
      }
      for (const p of problems) {
        const [at, message] = p.split('\0') as [string, string];
        add(at === '' ? undefined : at, message);
      }
    }
    if (bad || run === undefined || profile === undefined) return;
    const key = runKey(run, profile);
    const same = keys.get(key);
    if (same !== undefined) {
      add(undefined, `the same run as ${same}`);
      return;
    }
    keys.set(key, where);
    tasks.push({
      key,
      index,
      base: baseName,
      params,
      profile: { source: input.profile.source, effective: profile },
      run,
    });
  });
  const problems = [...found.values()].map((f) => ({
    path: f.path,
    message:
      f.count > 1 && !f.path.startsWith('axes,') ? `${f.message} (in ${f.count} runs)` : f.message,
  }));
  return { tasks, problems };
}
