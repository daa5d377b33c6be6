// What a scenario file may say (`skybridge run SCENARIO.yaml`), and the document `--json`
// prints about its run, both as zod schemas: the one description of each shape, which the
// loader validates against and docs/scenarios.md explains field by field.

import { z } from 'zod';
import { RUN_KERNELS, type RunKernel } from './run-program.ts';

const KERNEL_KEYS = Object.keys(RUN_KERNELS) as [RunKernel, ...RunKernel[]];
const count = z.number().int().nonnegative();

/** A server's id, known only once the scenario registers it: `{ server: NAME }`. */
export const serverRefSchema = z
  .strictObject({ server: z.string().min(1) })
  .describe('the id of the server that process NAME is registered as');

/** A 64-bit word: an integer, or a server's id. */
const word = z.union([z.number().int().min(0).max(Number.MAX_SAFE_INTEGER), serverRefSchema]);

const threadSchema = z.strictObject({
  entry: z
    .string()
    .min(1)
    .optional()
    .describe(
      "a C function's symbol, given `args` in RDI, RSI, RDX; omitted: the program's entry (main with the process's args)",
    ),
  args: z.array(word).max(3).optional().describe('up to three arguments of the entry function'),
  core: count.optional().describe("the core it runs on (default: the process's)"),
  priority: z.number().int().min(0).max(255).optional().describe('higher runs first (default 100)'),
});

const processSchema = z.strictObject({
  name: z
    .string()
    .regex(/^[A-Za-z_][\w.-]*$/, 'a name is a letter or _, then letters, digits, _ . -'),
  image: z
    .string()
    .min(1)
    .describe(
      'an ELF file (a path relative to the scenario file) or guest:NAME, a built-in guest program',
    ),
  args: z
    .array(z.union([z.string(), z.number().int(), serverRefSchema]))
    .optional()
    .describe("argv[1..] of the program's main (argv[0] is the process's name)"),
  core: count.optional().describe("the core of the process's threads (default 0)"),
  priority: z.number().int().min(0).max(255).optional(),
  threads: z
    .array(threadSchema)
    .optional()
    .describe('default: one thread running main, or none for a process that is a server'),
  set: z
    .record(z.string().min(1), word)
    .optional()
    .describe('64-bit words written at these symbols of the image before anything runs'),
});

const serverSchema = z.strictObject({
  process: z.string().min(1),
  handler: z.string().min(1).describe("the handler's symbol in the process's image"),
  maxConcurrent: z.number().int().min(1).max(64).default(1).describe('calls served at once'),
  budgetTicks: z
    .number()
    .int()
    .positive()
    .default(100)
    .describe('timer ticks a call may run before the kernel unwinds it (SB_ETIMEOUT)'),
  lockAfter: z
    .number()
    .int()
    .positive()
    .default(8)
    .describe("failed key checks after which a caller's view is refused (SB_ELOCKED)"),
});

const bindingSchema = z.strictObject({
  client: z.string().min(1),
  server: z.string().min(1).describe('the process name of a server'),
  bufferBytes: z
    .number()
    .int()
    .min(0)
    .max(64 * 1024)
    .default(4096)
    .describe('the shared buffer (rounded up to whole pages, at least one)'),
});

export const scenarioSchema = z.strictObject({
  description: z.string().optional(),
  kernel: z.enum(KERNEL_KEYS).default('sel4'),
  cores: z.number().int().min(1).max(16).default(1),
  tickCycles: count
    .default(1_000_000)
    .describe('cycles between timer interrupts on each core (0: no timer)'),
  seed: z.number().int().default(1).describe('seed of calling keys, AT_RANDOM and getrandom'),
  maxInstructions: z
    .number()
    .int()
    .positive()
    .default(20_000_000)
    .describe('user instructions a thread may retire before its process is killed'),
  kpti: z.boolean().default(false),
  pcid: z.boolean().default(true),
  processes: z.array(processSchema).min(1),
  servers: z.array(serverSchema).default([]),
  bindings: z.array(bindingSchema).default([]),
});

export type Scenario = z.infer<typeof scenarioSchema>;
export type ScenarioProcess = z.infer<typeof processSchema>;
export type ScenarioThread = z.infer<typeof threadSchema>;
export type Word = z.infer<typeof word>;

// ---- The run, as --json prints it ---------------------------------------------------------

const endingSchema = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('exited'), status: z.number().int() }),
  z.strictObject({ kind: z.literal('killed'), reason: z.string() }),
  z.strictObject({ kind: z.literal('stopped'), reason: z.string() }),
  z.strictObject({ kind: z.literal('serving') }).describe('a server with no thread of its own'),
  z.strictObject({ kind: z.literal('idle') }).describe('no threads, and not a server'),
  z.strictObject({ kind: z.literal('blocked') }).describe('threads left that can never run'),
]);
export type Ending = z.infer<typeof endingSchema>;

export const scenarioResultSchema = z.strictObject({
  scenario: z.strictObject({
    file: z.string(),
    kernel: z.string(),
    cores: z.number().int(),
    tickCycles: z.number().int(),
    seed: z.number().int(),
    maxInstructions: z.number().int(),
    kpti: z.boolean(),
    pcid: z.boolean(),
  }),
  processes: z.array(
    z.strictObject({
      name: z.string(),
      image: z.string(),
      ended: endingSchema,
      threads: z.array(
        z.strictObject({
          name: z.string(),
          core: z.number().int(),
          ended: z.string().describe("the kernel's reason, or '' for a thread still alive"),
        }),
      ),
      stdout: z.string(),
      stderr: z.string(),
      userInstructions: z.number().describe('retired in user mode on its threads'),
      vmfuncs: z
        .number()
        .describe(
          'VMFUNCs executed in its view in user mode: a call counts one to the caller (leaving) and one to the server (returning)',
        ),
      warnings: z.array(z.string()),
    }),
  ),
  servers: z.array(
    z.strictObject({
      id: z.number().int(),
      process: z.string(),
      handler: z.string(),
      maxConcurrent: z.number().int(),
      budgetTicks: z.number().int(),
      lockAfter: z.number().int(),
      alive: z.boolean(),
    }),
  ),
  bindings: z.array(
    z.strictObject({
      client: z.string(),
      server: z.string(),
      serverId: z.number().int(),
      slot: z.number().int(),
      bufferBytes: z.number().int(),
      active: z.boolean(),
      failedKeyChecks: z.number().int().describe("counted by the server against the client's view"),
      locked: z.boolean(),
    }),
  ),
  events: z
    .array(
      z.strictObject({
        cycle: z.number(),
        core: z.number().int(),
        thread: z.string(),
        what: z.string(),
      }),
    )
    .describe('what the kernel did about calls: refused system calls, unwound calls'),
  cycles: z.number().describe("the latest core's clock at the end"),
  counters: z.array(z.strictObject({ name: z.string(), unit: z.string(), value: z.number() })),
});
export type ScenarioResult = z.infer<typeof scenarioResultSchema>;
