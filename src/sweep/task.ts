// One run of a sweep as it travels to whoever runs it (a worker thread here, or a
// `skybridge worker` on another machine through Redis): everything the run needs, resolved by
// the sweep before it starts — the experiment and its options, or the scenario's document with
// the axes' values already in it and the bytes of every image it names by path (a worker on
// another machine has not got the files), and the effective CPU profile. Nothing in a task
// depends on where it runs, so every worker gives the same line for it.

import { createHash } from 'node:crypto';
import { z } from 'zod';
import { profileSchema } from '../hw/profile-schema.ts';
import { canonicalJson } from '../report/provenance.ts';

const experimentRunSchema = z.strictObject({
  kind: z.literal('experiment'),
  id: z.string().min(1),
  quick: z.boolean(),
});

const scenarioRunSchema = z.strictObject({
  kind: z.literal('scenario'),
  /** The scenario file as the sweep names it (shown in the result, the same on every host). */
  file: z.string().min(1),
  /** The scenario document with the run's values set. */
  document: z.record(z.string(), z.unknown()),
  /** Image label (as processes[].image says it) → the file's bytes, base64; guest:NAME images
   *  are not here: each checkout builds its own from the same sources. */
  images: z.record(z.string(), z.string()),
});

export const runTaskSchema = z.strictObject({
  key: z.string().regex(/^[0-9a-f]{24}$/),
  index: z.number().int().nonnegative(),
  base: z.string(),
  params: z.record(z.string(), z.unknown()),
  profile: z.strictObject({ source: z.string(), effective: profileSchema }),
  run: z.discriminatedUnion('kind', [experimentRunSchema, scenarioRunSchema]),
});

export type RunTask = z.infer<typeof runTaskSchema>;
export type ExperimentRun = z.infer<typeof experimentRunSchema>;
export type ScenarioRun = z.infer<typeof scenarioRunSchema>;

const sha256 = (text: string | Uint8Array): string =>
  createHash('sha256').update(text).digest('hex');

/**
 * The key of a run: a hash of what it runs (the experiment or the scenario document and its
 * images' hashes, and the effective profile), not of how the sweep spelled it, so two runs
 * that are the same run have one key, and a rerun finds the lines of runs it made before.
 */
export function runKey(run: RunTask['run'], profile: RunTask['profile']['effective']): string {
  const what =
    run.kind === 'experiment'
      ? run
      : {
          ...run,
          images: Object.fromEntries(
            Object.entries(run.images).map(([k, b64]) => [k, sha256(Buffer.from(b64, 'base64'))]),
          ),
        };
  return sha256(canonicalJson({ run: what, profile })).slice(0, 24);
}
