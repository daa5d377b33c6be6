// Runs one task (task.ts) and returns its results line: the experiment or the scenario on the
// task's profile, the result checked against its schema, and the provenance of this run as
// the machine that ran it knows it (its tool version and git checkout). Synchronous and
// deterministic: the same task gives the same line on every worker of the same checkout.

import { runScenario } from '../experiments/scenario-run.ts';
import { scenarioResultSchema } from '../experiments/scenario-schema.ts';
import { SEEDS } from '../experiments/experiment.ts';
import { findExperiment } from '../experiments/registry.ts';
import { validateProfile } from '../hw/profile.ts';
import { gitState, profileHash, toolVersion } from '../report/provenance.ts';
import { experimentResultSchema } from '../report/schema.ts';
import { SWEEP_LINE_VERSION, type LineProvenance, type SweepLine } from '../report/sweep-schema.ts';
import { loadScenarioRun } from './scenario-base.ts';
import { runTaskSchema, type RunTask } from './task.ts';

/** Read once per thread: git takes a few milliseconds a call. */
let checkout: { tool: LineProvenance['tool']; git: LineProvenance['git'] } | undefined;

export function runTask(input: RunTask): SweepLine {
  // A task may come over the network: checked as a file would be.
  const task = runTaskSchema.parse(input);
  const profile = validateProfile(task.profile.effective);
  checkout ??= { tool: toolVersion(), git: gitState() };
  const provenance = (seeds: Record<string, number>): LineProvenance => ({
    ...checkout!,
    profile: { source: task.profile.source, name: profile.name, sha256: profileHash(profile) },
    seeds,
    node: process.version,
  });
  const line = {
    sweepLine: SWEEP_LINE_VERSION,
    key: task.key,
    index: task.index,
    base: task.base,
    params: task.params,
  } as const;
  const run = task.run;
  if (run.kind === 'experiment') {
    const e = findExperiment(run.id);
    if (e === undefined) throw new Error(`this checkout has no experiment '${run.id}'`);
    const result = experimentResultSchema.parse(e.run({ profile, quick: run.quick }));
    return { ...line, provenance: provenance({ ...SEEDS }), experiment: result };
  }
  const plan = loadScenarioRun(run);
  const result = scenarioResultSchema.parse(runScenario(plan, { profile }));
  return {
    ...line,
    provenance: provenance({ scenario: plan.scenario.seed }),
    scenario: result,
  };
}
