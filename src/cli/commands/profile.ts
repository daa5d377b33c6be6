// `skybridge profile [--profile FILE]`: the effective CPU profile as YAML, each figure with its
// source: the default's (src/hw/profile.ts) or the file that set it. A bad file is reported
// with every problem it has at once.

import type { Command } from 'commander';

const EXIT_HELP = `
The output is itself a valid profile file (the sources are comments): edit a copy and pass it
to reproduce, report or trace with --profile.

Exit status:
  0  printed
  1  error: the profile could not be read or is invalid (every problem is listed)
  2  usage: a bad option`;

export function registerProfileCommand(program: Command): void {
  program
    .command('profile')
    .description(
      'print the effective CPU profile as YAML, with the source of every figure (the default Skylake profile, or --profile FILE merged over it)',
    )
    .option('--profile <file>', 'a CPU profile (YAML or JSON) merged over the default')
    .option('--json', 'print { profile, fields: [{ path, value, from, source }] } instead')
    .addHelpText('after', EXIT_HELP)
    .action(async (opts: { profile?: string; json?: boolean }) => {
      const { SKYLAKE, loadProfileFile } = await import('../../hw/profile.ts');
      const { profileSources, profileYaml } = await import('../../hw/profile-sources.ts');
      const loaded = opts.profile === undefined ? undefined : loadProfileFile(opts.profile);
      const profile = loaded?.profile ?? SKYLAKE;
      const fields = profileSources(profile, loaded?.data);
      process.stdout.write(
        opts.json
          ? `${JSON.stringify({ profile, fields }, null, 2)}\n`
          : profileYaml(profile, fields, opts.profile),
      );
    });
}
