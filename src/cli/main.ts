// The `skybridge` command: one subcommand per job, each with --help.
import { Command, CommanderError } from 'commander';
import pc from 'picocolors';
import { toolVersion } from '../report/version.ts';
import { ArgumentError, EXIT } from './errors.ts';

type Register = (program: Command) => void;

/**
 * The command modules, each with the commands it registers. Only the module a command line
 * names is loaded (the simulator, iced-x86 and the renderers take most of a second to load,
 * which `skybridge list` should not pay); help and unknown commands load them all.
 * Subcommands register themselves here, one line each.
 */
const COMMANDS: readonly { names: readonly string[]; load: () => Promise<Register> }[] = [
  {
    names: ['list', 'reproduce'],
    load: async () => (await import('./commands/experiments.ts')).registerExperimentCommands,
  },
  {
    names: ['profile'],
    load: async () => (await import('./commands/profile.ts')).registerProfileCommand,
  },
  {
    names: ['trace'],
    load: async () => (await import('./commands/trace.ts')).registerTraceCommand,
  },
  {
    names: ['scan', 'rewrite'],
    load: async () => (await import('./commands/binary.ts')).registerBinaryCommands,
  },
  { names: ['run'], load: async () => (await import('./commands/run.ts')).registerRunCommand },
  {
    names: ['report'],
    load: async () => (await import('./commands/report.ts')).registerReportCommand,
  },
  {
    names: ['sweep'],
    load: async () => (await import('./commands/sweep.ts')).registerSweepCommand,
  },
  {
    names: ['worker'],
    load: async () => (await import('./commands/worker.ts')).registerWorkerCommand,
  },
];

/** The program with the commands `argv` needs (all of them when `argv` names none we know). */
export async function buildProgram(argv: readonly string[] = []): Promise<Command> {
  const program = new Command();
  program
    .name('skybridge')
    .description(
      'SkyBridge (EuroSys 2019) on a simulated x86-64 machine: VMFUNC-based IPC, measured.',
    )
    .version(toolVersion().version, '-V, --version', 'print the version and exit')
    .showHelpAfterError()
    // Commander's usage errors (unknown command or option, missing argument) throw instead of
    // exiting, so that main gives them exit status 2; subcommands inherit this.
    .exitOverride();
  const args = argv.slice(2);
  const name = args.find((a) => !a.startsWith('-'));
  const named = COMMANDS.filter((c) => name !== undefined && c.names.includes(name));
  // `skybridge --version` needs no command at all.
  const version = name === undefined && args.some((a) => a === '-V' || a === '--version');
  if (!version) for (const c of named.length > 0 ? named : COMMANDS) (await c.load())(program);
  return program;
}

/**
 * Runs the CLI; any error becomes one line on stderr and a non-zero exit: 2 for a usage error
 * (commander's, or an ArgumentError), 1 for any other.
 */
export async function main(argv: string[]): Promise<void> {
  // Output piped into a reader that stops early (`| head`) is not an error.
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(0);
    throw e;
  });
  try {
    await (await buildProgram(argv)).parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      // Commander has printed its message (or the help) already.
      process.exitCode = err.exitCode === 0 ? EXIT.ok : EXIT.usage;
      return;
    }
    const msg = err instanceof Error ? err.message : String(err);
    // Colour only on a terminal: an error read by another program stays plain text.
    const red = process.stderr.isTTY ? pc.red : (t: string): string => t;
    process.stderr.write(`${red('skybridge: error:')} ${msg}\n`);
    process.exitCode = err instanceof ArgumentError ? EXIT.usage : EXIT.error;
  }
}

await main(process.argv);
