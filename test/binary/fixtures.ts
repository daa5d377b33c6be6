// Builds the fixture programs from test/binary/fixtures with the machine's gcc, into a fresh
// temporary directory (never into the repo), once per test process.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = join(dirname(fileURLToPath(import.meta.url)), 'fixtures');
let dir: string | undefined;
const built = new Map<string, string>();

export const FIXTURES = [
  'vmfunc',
  'immediate',
  'displacement',
  'callrel',
  'riprel',
  'spanning',
  'data-in-text',
  'alu-imm',
  'store-disp',
  'callmid',
  'nopshift',
  'bigbss',
  'noseparate',
  'shared-page',
  'shared-page-switch',
  'switch-page',
  'switch-page-nopie',
  'switch-page-goto',
  'switch-page-goto-nopie',
] as const;
export type FixtureName = (typeof FIXTURES)[number];

// Options beyond gcc's defaults (Debian's ld separates code by default). shared-page keeps
// its functions in source order (-fno-toplevel-reorder) so that the last ones share a page
// with .rodata, gets unwind tables with cleanups (-fexceptions) and exports its functions.
const SHARED_PAGE = [
  '-fno-toplevel-reorder',
  '-fexceptions',
  '-rdynamic',
  '-Wl,-z,noseparate-code',
];
// switch-page: -O2, as programs are built, and its functions in source order so that the
// switches share a page with .rodata; a PIE, position-dependent, and with a computed goto.
const SWITCH_PAGE = ['-O2', '-fno-toplevel-reorder', '-Wl,-z,noseparate-code'];
const FLAGS: Partial<Record<FixtureName, string[]>> = {
  noseparate: ['-Wl,-z,noseparate-code'],
  'shared-page': SHARED_PAGE,
  'shared-page-switch': [...SHARED_PAGE, '-DJUMP_TABLE'],
  'switch-page': SWITCH_PAGE,
  'switch-page-nopie': [...SWITCH_PAGE, '-no-pie', '-fno-pic'],
  'switch-page-goto': [...SWITCH_PAGE, '-DCOMPUTED_GOTO'],
  'switch-page-goto-nopie': [...SWITCH_PAGE, '-DCOMPUTED_GOTO', '-no-pie', '-fno-pic'],
};
const SOURCE: Partial<Record<FixtureName, string>> = {
  spanning: 'spanning.S',
  'shared-page-switch': 'shared-page.c',
  'switch-page-nopie': 'switch-page.c',
  'switch-page-goto': 'switch-page.c',
  'switch-page-goto-nopie': 'switch-page.c',
};

export function tempDir(): string {
  dir ??= mkdtempSync(join(tmpdir(), 'skybridge-binary-'));
  return dir;
}

/** Path of the built fixture executable. */
export function fixture(name: FixtureName): string {
  const got = built.get(name);
  if (got) return got;
  const src = SOURCE[name] ?? `${name}.c`;
  const out = join(tempDir(), name);
  execFileSync('gcc', ['-O1', ...(FLAGS[name] ?? []), '-o', out, join(here, src)], {
    stdio: 'pipe',
  });
  built.set(name, out);
  return out;
}

export function fixtureBytes(name: FixtureName): Uint8Array {
  return readFileSync(fixture(name));
}

export interface RunResult {
  stdout: string;
  status: number | null;
}

export function run(path: string, args: string[] = []): RunResult {
  const r = spawnSync(path, args, { encoding: 'utf8' });
  return { stdout: r.stdout, status: r.status };
}
