// How a results document was made: the tool's version, the git checkout it ran from (if any),
// the effective CPU profile and its hash, the seeds, Node's version. Everything here is
// read, never guessed: a checkout git cannot describe is `git: null`.

import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { realpathSync } from 'node:fs';
import type { CpuProfile } from '../hw/profile-schema.ts';
import { SEEDS } from '../experiments/experiment.ts';
import type { Provenance } from './schema.ts';
import { PACKAGE_ROOT, toolVersion } from './version.ts';

export { toolVersion } from './version.ts';

function git(args: string[]): string {
  return execFileSync('git', ['-C', PACKAGE_ROOT, ...args], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'ignore'],
  }).trim();
}

/** The commit of the checkout the tool runs from, and whether its tree has changes (tracked
 *  or untracked files); null when the tool is not the top of a git work tree (e.g. installed
 *  into another project's node_modules) or git is missing. */
export function gitState(): Provenance['git'] {
  try {
    if (realpathSync(git(['rev-parse', '--show-toplevel'])) !== realpathSync(PACKAGE_ROOT))
      return null;
    const commit = git(['rev-parse', 'HEAD']);
    const dirty = git(['status', '--porcelain']) !== '';
    return { commit, dirty };
  } catch {
    return null;
  }
}

/** JSON with every object's keys sorted, so equal profiles hash equally. */
export function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o)
      .filter((k) => o[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v);
}

export function profileHash(profile: CpuProfile): string {
  return createHash('sha256').update(canonicalJson(profile)).digest('hex');
}

/** `source`: 'default', or the --profile file as given (merged over the default). */
export function provenance(profile: CpuProfile, source: string): Provenance {
  return {
    tool: toolVersion(),
    git: gitState(),
    profile: { source, name: profile.name, sha256: profileHash(profile), effective: profile },
    seeds: { ...SEEDS },
    node: process.version,
  };
}

/** One line for the top of the tables. */
export function describeProvenance(p: Provenance): string {
  const git =
    p.git === null ? '' : `, commit ${p.git.commit.slice(0, 12)}${p.git.dirty ? ' (dirty)' : ''}`;
  const profile =
    p.profile.source === 'default'
      ? `default CPU profile ${p.profile.name}`
      : `CPU profile ${p.profile.source} (over the default)`;
  return `${p.tool.name} ${p.tool.version}${git}; ${profile}, sha256 ${p.profile.sha256.slice(0, 12)}; Node ${p.node}`;
}
