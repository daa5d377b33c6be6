// `npm run build` (and `prepare`, which npm runs after `npm ci` and `npm install` in this
// checkout, and before `npm pack`): compiles src/ to dist/ (JavaScript and .d.ts, tsconfig.
// build.json), which bin/skybridge.js and the package's entry points run. Incremental: a
// build with nothing changed takes a few seconds. Outputs whose source is gone are removed,
// so dist/ never ships a module src/ no longer has.
//
// Nothing is done when no source changed since the last build began (--force builds anyway).
// A type error fails `npm run build`; with --prepare (npm's install hook) it is a warning,
// since tsc still writes the JavaScript and an install should not fail over a type error
// (`npm run check`, part of `npm test`, reports it).

import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const DIST = join(ROOT, 'dist');
const SRC = join(ROOT, 'src');

let tsc;
try {
  tsc = createRequire(join(ROOT, 'package.json')).resolve('typescript/bin/tsc');
} catch {
  // An install without development dependencies (npm ci --omit=dev) in a checkout: nothing
  // to build with. An installed package has dist/ already and never runs this.
  console.warn(
    'skybridge: typescript is not installed, dist/ not built (npm install, then npm run build)',
  );
  process.exit(0);
}

const prepare = process.argv.includes('--prepare');
const STAMP = join(DIST, '.built');

/** Whether anything under src/ (a file, or a folder a file was added to or removed from) or
 *  the build's configuration changed since the build that wrote dist/ began. */
function changedSinceBuild() {
  if (!existsSync(STAMP)) return true;
  const built = statSync(STAMP).mtimeMs;
  const newer = (path) => statSync(path).mtimeMs > built;
  return (
    [SRC, join(ROOT, 'tsconfig.json'), join(ROOT, 'tsconfig.build.json')].some(newer) ||
    readdirSync(SRC, { recursive: true }).some((f) => newer(join(SRC, f)))
  );
}

if (!process.argv.includes('--force') && !changedSinceBuild()) process.exit(0);

// Sources changed after this moment may not be in the build: the stamp written at the end
// carries this time, so bin/skybridge.js sees them as newer than dist/.
const started = new Date();
const r = spawnSync(process.execPath, [tsc, '-p', join(ROOT, 'tsconfig.build.json')], {
  stdio: 'inherit',
});
if (r.status !== 0) {
  if (!prepare || !existsSync(join(DIST, 'cli', 'main.js'))) process.exit(r.status ?? 1);
  console.warn('skybridge: dist/ was built with the type errors above (npm run check)');
}

/** dist/a/b.js, b.d.ts → src/a/b.ts; removes outputs whose source is gone. */
function prune(dir) {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, e.name);
    if (e.isDirectory()) {
      prune(path);
      if (readdirSync(path).length === 0) rmSync(path, { recursive: true });
      continue;
    }
    const m = /^(.*)\.(js|d\.ts)$/.exec(relative(DIST, path));
    if (m !== null && !existsSync(join(SRC, `${m[1]}.ts`))) rmSync(path);
  }
}
if (existsSync(DIST)) prune(DIST);

// dist/.built: its modification time is when the build that wrote dist/ began.
writeFileSync(STAMP, 'the time of this file is when the build that wrote dist/ began\n');
utimesSync(STAMP, started, started);
