// The `skybridge` command: one subcommand per job, each with --help.
import { Command } from 'commander';

export function buildProgram(): Command {
  const program = new Command();
  program
    .name('skybridge')
    .description(
      'SkyBridge (EuroSys 2019) on a simulated x86-64 machine: VMFUNC-based IPC, measured.',
    )
    .showHelpAfterError()
    .configureOutput({ outputError: (str, write) => write(str) });
  return program;
}

const program = buildProgram();
program.parse(process.argv);
