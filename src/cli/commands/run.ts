// `skybridge run PROGRAM [args...]`: runs a static x86-64 Linux executable on the simulated
// machine under one of the Subkernels. The program's output is passed through byte for byte;
// what the machine measured follows on stderr (or everything as one JSON document).
// `skybridge run SCENARIO.yaml` (decided by the extension) runs a scenario: scenario.ts.

import { Command } from 'commander';
import { isScenarioFile } from '../../experiments/scenario.ts';
import { scenarioOutput } from './scenario.ts';
import Table from 'cli-table3';
import { readInput } from '../../binary/file-io.ts';
import { ElfFormatError } from '../../binary/errors.ts';
import { SKYLAKE, loadProfile } from '../../hw/profile.ts';
import { LoadError } from '../../kernel/elf-loader.ts';
import { formatValue } from '../../report/table.ts';
import {
  RUN_KERNELS,
  runProgram,
  type RunExit,
  type RunKernel,
  type RunResult,
} from '../../experiments/run-program.ts';
import { ArgumentError, UsageError } from '../errors.ts';

interface RunFlags {
  kernel: string;
  maxInstructions?: string;
  seed?: string;
  profile?: string;
  kpti?: boolean;
  pcid: boolean;
  json?: boolean;
}

/** The counters the summary shows (all non-zero ones are in --json). */
const SUMMARY_COUNTERS = [
  'instructions',
  'cycles',
  'loads',
  'stores',
  'syscalls',
  'exceptions',
  'interrupts',
  'l1i.miss',
  'l1d.miss',
  'l2.miss',
  'llc.miss',
  'tlb.miss.fetch',
  'tlb.miss.data',
  'walk.count',
  'cr3.writes',
  'vmexits',
];

/** SDM Vol. 3 Table 6-1 mnemonics of the exceptions user code can take. */
const VECTORS: Record<string, string> = {
  '0': '#DE, divide error',
  '1': '#DB, debug',
  '3': '#BP, breakpoint',
  '4': '#OF, overflow',
  '5': '#BR, bound range',
  '6': '#UD, invalid opcode',
  '7': '#NM, device not available',
  '12': '#SS, stack fault',
  '13': '#GP, general protection',
  '14': '#PF, page fault',
  '16': '#MF, x87 error',
  '17': '#AC, alignment check',
  '19': '#XM, SIMD exception',
};

function integer(flag: string, text: string, min: number): number {
  const n = /^-?\d+$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(n) || n < min) {
    const what = min === 1 ? 'a positive integer' : 'an integer';
    throw new ArgumentError(`${flag} must be ${what}, got '${text}'`);
  }
  return n;
}

function kernelOf(name: string): RunKernel {
  if (!Object.hasOwn(RUN_KERNELS, name)) {
    throw new ArgumentError(
      `unknown kernel '${name}' (known: ${Object.keys(RUN_KERNELS).join(', ')})`,
    );
  }
  return name as RunKernel;
}

/** The kernel's kill reason with the exception's mnemonic added. */
export function describeFault(description: string): string {
  return description.replace(/^exception (\d+)/, (all, v: string) =>
    VECTORS[v] === undefined ? all : `${all} (${VECTORS[v]})`,
  );
}

/** One line saying how the program ended, or null when it exited. */
function failure(file: string, exit: RunExit, budget: number | undefined): string | null {
  if (exit.kind === 'exited') return null;
  if (exit.kind === 'limit')
    return `${file}: stopped after ${budget} user instructions (--max-instructions): it had not exited`;
  return `${file}: faulted: ${describeFault(exit.description)}`;
}

/** No lines between rows: the summary stays short. */
const COMPACT = { mid: '', 'left-mid': '', 'mid-mid': '', 'right-mid': '' };

function summary(kernel: RunKernel, r: RunResult): string {
  const e = r.exit;
  const how =
    e.kind === 'exited'
      ? `exit status ${e.status}`
      : e.kind === 'limit'
        ? 'instruction budget spent'
        : `fault: ${describeFault(e.description)}`;
  const t = new Table({
    head: ['counter', 'value', 'unit'],
    chars: COMPACT,
    style: { head: [], border: [] },
  });
  for (const name of SUMMARY_COUNTERS) {
    const c = r.counters.find((x) => x.name === name);
    if (c !== undefined)
      t.push([c.name, { hAlign: 'right', content: formatValue(c.value) }, c.unit]);
  }
  const lines = [
    `-- skybridge run on ${RUN_KERNELS[kernel]}: ${how}`,
    `cycles ${formatValue(r.cycles)}; instructions: user ${formatValue(r.instructions.user)}, kernel ${formatValue(r.instructions.kernel)}`,
    t.toString(),
    ...r.warnings.map((w) => `warning: ${w}`),
  ];
  return `${lines.join('\n')}\n`;
}

function runCommand(file: string, args: string[], o: RunFlags, cmd: Command): void {
  const kernel = kernelOf(o.kernel);
  const maxInstructions =
    o.maxInstructions === undefined
      ? undefined
      : integer('--max-instructions', o.maxInstructions, 1);
  const seed = o.seed === undefined ? 1 : integer('--seed', o.seed, -Infinity);
  if (isScenarioFile(file)) return runScenarioFile(file, args, o, cmd);
  const profile = o.profile ? loadProfile(o.profile) : SKYLAKE;
  const bytes = readInput(file);
  let r: RunResult;
  try {
    r = runProgram(bytes, {
      kernel,
      args: [file, ...args],
      seed,
      profile,
      pcid: o.pcid,
      ...(maxInstructions !== undefined && { maxInstructions }),
      ...(o.kpti !== undefined && { kpti: o.kpti }),
    });
  } catch (e) {
    // Bad input (not an executable we can load, arguments too long): one line.
    if (e instanceof LoadError || e instanceof ElfFormatError || e instanceof RangeError)
      throw new UsageError(`${file}: cannot run it: ${e.message}`);
    throw e;
  }
  if (o.json) {
    const text = new TextDecoder();
    const doc = {
      exit: r.exit,
      stdout: text.decode(r.stdout),
      stderr: text.decode(r.stderr),
      cycles: r.cycles,
      instructions: r.instructions,
      counters: r.counters,
      warnings: r.warnings,
    };
    process.stdout.write(`${JSON.stringify(doc, null, 2)}\n`);
  } else {
    // In the program's own order, so a terminal shows stdout and stderr interleaved as it
    // wrote them.
    for (const w of r.console) (w.fd === 1 ? process.stdout : process.stderr).write(w.bytes);
    process.stderr.write(summary(kernel, r));
  }
  const bad = failure(file, r.exit, maxInstructions);
  if (bad !== null) throw new UsageError(bad);
  if (r.exit.kind === 'exited') process.exitCode = r.exit.status;
}

/**
 * A scenario takes no arguments, so options after its file are run's own
 * (`run examples/echo.yaml --json`). Only options given explicitly override the file.
 */
function runScenarioFile(file: string, args: string[], first: RunFlags, cmd: Command): void {
  const after = withRunOptions(new Command('run'))
    .allowExcessArguments()
    .exitOverride()
    .parse(args, { from: 'user' });
  const later = after.opts<RunFlags>();
  const given = (k: keyof RunFlags): boolean =>
    cmd.getOptionValueSource(k) === 'cli' || after.getOptionValueSource(k) === 'cli';
  const pick = <K extends keyof RunFlags>(k: K): RunFlags[K] =>
    after.getOptionValueSource(k) === 'cli' ? later[k] : first[k];
  const [seed, max, kpti, profile, json] = [
    pick('seed'),
    pick('maxInstructions'),
    pick('kpti'),
    pick('profile'),
    pick('json'),
  ];
  const out = scenarioOutput(
    file,
    after.args,
    {
      ...(given('kernel') && { kernel: kernelOf(pick('kernel')) }),
      ...(seed !== undefined && { seed: integer('--seed', seed, -Infinity) }),
      ...(max !== undefined && { maxInstructions: integer('--max-instructions', max, 1) }),
      ...(kpti !== undefined && { kpti }),
      ...(given('pcid') && { pcid: pick('pcid') }),
      ...(profile !== undefined && { profile }),
      ...(json !== undefined && { json }),
    },
    describeFault,
  );
  // Written only once complete: a run that fails leaves no partial output.
  process.stdout.write(out);
}

/** run's options, on the command and again for what follows a scenario file. */
function withRunOptions(c: Command): Command {
  return c
    .option('--kernel <name>', `the Subkernel: ${Object.keys(RUN_KERNELS).join(', ')}`, 'sel4')
    .option(
      '--max-instructions <n>',
      'stop the program after this many user instructions (a scenario: per thread)',
    )
    .option(
      '--seed <n>',
      "seed of AT_RANDOM and getrandom, and of a scenario's calling keys (default 1)",
    )
    .option(
      '--profile <file>',
      'a CPU profile (YAML or JSON) merged over the default Skylake profile',
    )
    .option('--kpti', 'kernel page-table isolation')
    .option('--no-pcid', 'no PCIDs: every address-space switch flushes the TLB')
    .option(
      '--json',
      'print { exit, stdout, stderr, cycles, instructions, counters, warnings } (a scenario: its own document)',
    );
}

export function registerRunCommand(program: Command): void {
  // Options after PROGRAM belong to the program (`skybridge run --json ./a -v`); commander
  // needs positional options on the parent for that.
  program.enablePositionalOptions();
  const run = program
    .command('run')
    .description(
      'run a static x86-64 Linux executable on the simulated machine under a Subkernel; exit with its status. ' +
        'A file ending in .yaml or .yml is a scenario instead (processes, SkyBridge servers and bindings: docs/scenarios.md); ' +
        'options given with it override what it says',
    )
    .argument(
      '<program>',
      'the ELF file (static, not PIE; it is also argv[0]), or a scenario (.yaml/.yml)',
    )
    .argument(
      '[args...]',
      "its arguments (options after PROGRAM are passed to it; after a scenario they are run's)",
    )
    .passThroughOptions();
  withRunOptions(run).action(runCommand);
}
