// A program some tests need from Debian's packages (Chromium for the report page, Redis for
// the sweep queue): present, or installed with apt-get when the tests run as root (as on CI
// and on a fresh machine), so that `npm test` sets up what it needs itself.

import { existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';

/** `path` once `pkg` is installed, or why it cannot be (not root). apt-get failing throws. */
export function debianProgram(path: string, pkg: string): { path: string } | { missing: string } {
  if (existsSync(path)) return { path };
  if (process.getuid?.() !== 0)
    return {
      missing: `${path} is missing and installing it needs root: run 'sudo apt-get install -y ${pkg}'`,
    };
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  for (const args of [
    ['update', '-qq'],
    ['install', '-y', '-qq', pkg],
  ]) {
    const r = spawnSync('apt-get', args, { encoding: 'utf8', env });
    if (r.status !== 0)
      throw new Error(`apt-get ${args.join(' ')} failed: ${r.error?.message ?? r.stderr}`);
  }
  if (!existsSync(path)) throw new Error(`apt-get installed ${pkg} but ${path} is still missing`);
  return { path };
}
