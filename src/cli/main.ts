// The `skybridge` command: one subcommand per job, each with --help.
import { Command, CommanderError } from 'commander';
import pc from 'picocolors';
import { registerBinaryCommands } from './commands/binary.ts';
import { registerExperimentCommands } from './commands/experiments.ts';
import { registerRunCommand } from './commands/run.ts';
import { registerReportCommand } from './commands/report.ts';
import { ArgumentError, EXIT } from './errors.ts';

export function buildProgram(): Command {
  const program = new Command();
  program
    .name('skybridge')
    .description(
      'SkyBridge (EuroSys 2019) on a simulated x86-64 machine: VMFUNC-based IPC, measured.',
    )
    .showHelpAfterError()
    // Commander's usage errors (unknown command or option, missing argument) throw instead of
    // exiting, so that main gives them exit status 2; subcommands inherit this.
    .exitOverride();
  // Subcommands register themselves here, one line each.
  registerExperimentCommands(program);
  registerBinaryCommands(program);
  registerRunCommand(program);
  registerReportCommand(program);
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
    await buildProgram().parseAsync(argv);
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
