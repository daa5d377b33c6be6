// The tool's name and version, from the package.json beside src/ (or dist/): one small module,
// so `skybridge --version` loads nothing else.

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** The directory holding the tool's package.json (src/ and dist/ sit at the same depth). */
export const PACKAGE_ROOT = fileURLToPath(new URL('../../', import.meta.url));

export function toolVersion(): { name: string; version: string } {
  const pkg = JSON.parse(readFileSync(`${PACKAGE_ROOT}package.json`, 'utf8')) as {
    name: string;
    version: string;
  };
  return { name: pkg.name, version: pkg.version };
}
