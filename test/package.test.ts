// The package as another project sees it: `npm pack` (of the dist/ that `npm run build`
// made; test:unit builds first), installed into a fresh directory, then the examples of
// docs/library.md run from there (example.mjs, which builds a guest program with gcc inside
// the installed package) and type-checked (typed.ts) against its declarations, and its
// `skybridge` command run. The install needs the dependencies from the npm cache or the
// registry; without either the test is skipped with a message.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const ROOT = join(import.meta.dirname, '..');
const NPM = process.platform === 'win32' ? 'npm.cmd' : 'npm';

function run(
  cmd: string,
  args: string[],
  cwd: string,
  timeout = 120_000,
): SpawnSyncReturns<string> {
  return spawnSync(cmd, args, {
    cwd,
    encoding: 'utf8',
    timeout,
    env: { ...process.env, NO_COLOR: '1', npm_config_update_notifier: 'false' },
  });
}

/** The code blocks docs/library.md marks `<!-- tested: NAME … -->`, by name. */
function taggedBlocks(markdown: string): Map<string, string> {
  const out = new Map<string, string>();
  const re = /<!-- tested: (\S+)[^>]*-->\s*```\w*\n([\s\S]*?)```/g;
  for (const m of markdown.matchAll(re)) out.set(m[1]!, m[2]!);
  return out;
}

/** The output docs/library.md shows for `node example.mjs`. */
function documentedOutput(markdown: string): string {
  const m = /```console\n\$ node example\.mjs\n([\s\S]*?)```/.exec(markdown);
  assert.ok(m, 'docs/library.md shows the output of node example.mjs');
  return m[1]!;
}

test('npm pack, install in another project, run and type-check the documented examples', (t) => {
  if (!existsSync(join(ROOT, 'dist/api/index.js'))) {
    assert.fail("dist/ is not built: run 'npm run build' (test:unit does)");
  }
  const doc = readFileSync(join(ROOT, 'docs/library.md'), 'utf8');
  const blocks = taggedBlocks(doc);
  assert.deepEqual([...blocks.keys()].sort(), ['example.mjs', 'typed.ts']);
  const dir = mkdtempSync(join(tmpdir(), 'sb-package-'));
  try {
    // dist/ is current (test:unit built it), so packing skips `prepare`.
    const pack = run(
      NPM,
      ['pack', '--ignore-scripts', '--silent', '--pack-destination', dir],
      ROOT,
    );
    assert.equal(pack.status, 0, pack.stderr);
    const tarball = readdirSync(dir).find((f) => f.endsWith('.tgz'));
    assert.ok(tarball, pack.stdout);
    const files = run('tar', ['-tzf', join(dir, tarball)], dir).stdout.split('\n');
    for (const f of [
      'dist/api/index.js',
      'dist/api/machine.d.ts',
      'dist/cli/main.js',
      'bin/skybridge.js',
      'guest/build.mjs',
    ])
      assert.ok(files.includes(`package/${f}`), `the package has ${f}`);
    assert.ok(!files.some((f) => f.startsWith('package/src/') || f.startsWith('package/test/')));

    const project = join(dir, 'project');
    mkdirSync(project);
    writeFileSync(
      join(project, 'package.json'),
      JSON.stringify({ name: 'uses-skybridge', private: true, type: 'module' }),
    );
    const install = run(
      NPM,
      [
        'install',
        '--prefer-offline',
        '--no-audit',
        '--no-fund',
        '--ignore-scripts',
        join(dir, tarball),
      ],
      project,
    );
    if (install.status !== 0) {
      const why = `${install.stderr}${install.error?.message ?? ''}`;
      if (/ENOTCACHED|ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ETIMEDOUT|network/i.test(why)) {
        t.skip(
          `cannot install the package's dependencies (offline, and not in the npm cache): ${why.split('\n')[0]}`,
        );
        return;
      }
      assert.fail(`npm install failed:\n${why}`);
    }

    writeFileSync(join(project, 'example.mjs'), blocks.get('example.mjs')!);
    const ex = run(process.execPath, ['example.mjs'], project);
    assert.equal(ex.status, 0, ex.stderr);
    assert.equal(ex.stdout, documentedOutput(doc));
    // The guest program was built inside the installed package.
    assert.ok(existsSync(join(project, 'node_modules/skybridge/build/guest/sel4-ipcbench')));

    writeFileSync(join(project, 'typed.ts'), blocks.get('typed.ts')!);
    writeFileSync(
      join(project, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'ES2022',
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          strict: true,
          noEmit: true,
          skipLibCheck: true,
          types: [],
        },
        files: ['typed.ts'],
      }),
    );
    const tsc = run(
      process.execPath,
      [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', '.'],
      project,
    );
    assert.equal(tsc.status, 0, `${tsc.stdout}${tsc.stderr}`);
    // A type error is caught: the declarations are really consulted.
    writeFileSync(
      join(project, 'typed.ts'),
      `${blocks.get('typed.ts')!}\nconst n: number = SKYLAKE.name;\n`,
    );
    const bad = run(
      process.execPath,
      [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', '.'],
      project,
    );
    assert.notEqual(bad.status, 0);
    assert.match(bad.stdout, /typed\.ts.*Type 'string' is not assignable to type 'number'/);

    const bin = run(join(project, 'node_modules/.bin/skybridge'), ['--version'], project);
    assert.equal(bin.status, 0, bin.stderr);
    assert.equal(
      bin.stdout.trim(),
      JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version,
    );
    const listed = run(join(project, 'node_modules/.bin/skybridge'), ['list'], project);
    assert.match(listed.stdout, /^primitives /m);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
