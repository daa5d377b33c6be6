// One line of a sweep's results file (`skybridge sweep SWEEP.yaml` writes JSON Lines: one run
// a line), as a zod schema: what src/sweep writes, what a rerun reads to skip finished runs,
// and what `skybridge report --from FILE.jsonl` draws. A line is complete on its own: the
// run's key, its parameters (the swept axes' values), how it was made (provenance, as
// `reproduce --json` states it, without the effective profile: its SHA-256 names it) and
// what the run returned — an experiment's result or a scenario's.

import { z } from 'zod';
import { scenarioResultSchema } from '../experiments/scenario-schema.ts';
import { experimentResultSchema, provenanceSchema } from './schema.ts';

/** Bumped whenever a field of a line is renamed, removed or changes meaning. */
export const SWEEP_LINE_VERSION = 1;

/** A parameter's value: whatever YAML can say (numbers, strings, booleans, lists, maps). */
export const axisValueSchema: z.ZodType<unknown> = z.unknown();

export const sweepLineSchema = z
  .strictObject({
    sweepLine: z.literal(SWEEP_LINE_VERSION),
    key: z
      .string()
      .regex(/^[0-9a-f]{24}$/)
      .describe('SHA-256 (first 96 bits) of everything the run ran: base, parameters, profile'),
    index: z.number().int().nonnegative().describe("the run's place in the sweep's list of runs"),
    base: z.string().describe("what every run of the sweep starts from, e.g. 'experiment ipc'"),
    params: z.record(z.string(), axisValueSchema).describe('the swept axes, by dotted name'),
    provenance: provenanceSchema.extend({
      profile: provenanceSchema.shape.profile.omit({ effective: true }),
    }),
    experiment: experimentResultSchema.optional(),
    scenario: scenarioResultSchema.optional(),
  })
  .refine((l) => (l.experiment === undefined) !== (l.scenario === undefined), {
    message: 'a line holds an experiment result or a scenario result',
  });

export type SweepLine = z.infer<typeof sweepLineSchema>;
export type LineProvenance = SweepLine['provenance'];
