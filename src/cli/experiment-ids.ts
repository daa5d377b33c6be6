// Experiment IDs on a command line: checked against the catalog, which loads nothing; an ID
// the catalog does not know (an experiment added to the registry but not yet to the catalog)
// is looked up in the registry before it is refused. The experiments themselves are loaded
// only once a command runs them.

import { CATALOG } from '../experiments/catalog.ts';
import type { Experiment } from '../experiments/experiment.ts';
import { ArgumentError } from './errors.ts';

const registry = () => import('../experiments/registry.ts');

function unknown(id: string, known: readonly { id: string }[]): ArgumentError {
  return new ArgumentError(
    `unknown experiment '${id}' (known: ${known.map((x) => x.id).join(', ')}; see 'skybridge list')`,
  );
}

/** Refuses (a usage error) an ID that names no experiment. */
export async function checkExperimentIds(ids: readonly string[]): Promise<void> {
  const strangers = ids.filter((id) => !CATALOG.some((e) => e.id === id));
  if (strangers.length === 0) return;
  const { EXPERIMENTS, findExperiment } = await registry();
  const bad = strangers.find((id) => findExperiment(id) === undefined);
  if (bad !== undefined) throw unknown(bad, EXPERIMENTS);
}

/** The experiments named by `ids` (all of them when there are none), loaded. */
export async function loadExperiments(ids: readonly string[]): Promise<Experiment[]> {
  await checkExperimentIds(ids);
  const { EXPERIMENTS, findExperiment } = await registry();
  if (ids.length === 0) return [...EXPERIMENTS];
  return ids.map(
    (id) =>
      findExperiment(id) ??
      (() => {
        throw unknown(id, EXPERIMENTS);
      })(),
  );
}
