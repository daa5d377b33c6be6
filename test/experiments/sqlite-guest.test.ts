// SQLite in the simulator: the real amalgamation (better-sqlite3's sqlite3.c, fetched and
// compiled by guest/build.mjs) with our OS layer (guest/sqlite: a VFS over an in-memory file
// store), built as static Linux programs. Each prints the same bytes and exits with the same
// status as on this host, and retires exactly the user instructions valgrind counts. The
// binaries hold no x87 instruction (the interpreter has none), and a package that cannot be
// fetched stops the build with a message that says what to do.

import assert from 'node:assert/strict';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { before, test, type TestContext } from 'node:test';
import {
  buildGuests,
  guestPath,
  GUESTS,
  SQLITE_CACHE_DIR,
  SQLITE_PACKAGE,
  sqliteAmalgamation,
  sqliteVersion,
} from '../../guest/build.mjs';
import { valgrindInstructionCount } from '../../guest/count.mjs';
import { runProgram, type RunResult } from '../../src/experiments/run-program.ts';

before(async () => {
  await buildGuests({ quiet: true });
});

// The SQLite programs that run on Linux too (ycsb-sqlite is a microkernel client).
const PROGRAMS = GUESTS.filter((g) => g.sqlite && !g.kernelProgram).map((g) => g.name);
const HAVE_VALGRIND = spawnSync('valgrind', ['--version']).error === undefined;

const runs = new Map<string, { r: RunResult; seconds: number }>();
/** The program's run on seL4 (memoised), with the host time it took to simulate. */
function simulate(name: string): { r: RunResult; seconds: number } {
  let run = runs.get(name);
  if (run === undefined) {
    const file = readFileSync(guestPath(name));
    const started = performance.now();
    const r = runProgram(file, { kernel: 'sel4', args: [guestPath(name)] });
    run = { r, seconds: (performance.now() - started) / 1000 };
    runs.set(name, run);
  }
  return run;
}

function onHost(name: string): SpawnSyncReturns<Buffer> {
  const r = spawnSync(guestPath(name), [], { argv0: guestPath(name), timeout: 30_000 });
  if (r.error) throw r.error;
  return r;
}

test('the SQLite programs are in GUESTS, host-comparable', () => {
  assert.deepEqual(PROGRAMS, ['sqlite-demo', 'sqlite-vfs']);
  for (const name of PROGRAMS)
    assert.equal(GUESTS.find((g) => g.name === name)?.hostComparable, true);
});

for (const name of PROGRAMS) {
  test(`${name}: same output and exit status as on the host`, () => {
    const host = onHost(name);
    const { r } = simulate(name);
    assert.equal(host.signal, null);
    assert.equal(host.status, 0, host.stderr.toString());
    assert.deepEqual(r.exit, { kind: 'exited', status: 0 });
    assert.equal(Buffer.from(r.stdout).toString('latin1'), host.stdout.toString('latin1'));
    assert.equal(Buffer.from(r.stderr).toString('latin1'), host.stderr.toString('latin1'));
    assert.deepEqual(r.warnings, []); // nothing but the Linux layer's calls
  });

  test(`${name}: as many user instructions as valgrind counts`, (t: TestContext) => {
    const { r, seconds } = simulate(name);
    t.diagnostic(
      `${name}: ${r.instructions.user} user instructions, ${Math.round(r.cycles)} cycles, ` +
        `simulated in ${seconds.toFixed(1)} s`,
    );
    if (!HAVE_VALGRIND) return t.skip('valgrind not found on PATH: counts not compared');
    assert.equal(r.instructions.user, valgrindInstructionCount(guestPath(name), []));
  });
}

test('sqlite-demo: the results SQLite computed, from its own version line to "done"', () => {
  const out = Buffer.from(simulate('sqlite-demo').r.stdout).toString();
  const dir = join(SQLITE_CACHE_DIR, `${SQLITE_PACKAGE.name}-${SQLITE_PACKAGE.version}`);
  assert.ok(out.startsWith(`SQLite ${sqliteVersion(dir)}\n-- count\n600|480|24\n`), out);
  assert.match(out, /SEARCH orders USING INDEX orders_customer \(customer=\?\)/);
  assert.match(out, /-- update: 10% more on large quantities\n\d+ rows\n/);
  assert.match(out, /-- integrity\nok\n/);
  assert.ok(out.endsWith('\ndone\n'));
});

test('sqlite-vfs: every check of the file store and of SQLite on it passes', () => {
  const out = Buffer.from(simulate('sqlite-vfs').r.stdout).toString();
  assert.doesNotMatch(out, /^FAIL/m);
  assert.match(out, /^ok {3}rollback restores every row$/m);
  assert.ok(out.endsWith('\n0 failed\n'), out);
});

// x87 mnemonics all begin with f (fld, fstp, fild, fucomip, fnstcw, ...), and no other
// instruction gcc emits does; MMX would name %mm registers. The interpreter has neither.
test('no x87 or MMX instruction in the SQLite programs', (t: TestContext) => {
  if (spawnSync('objdump', ['--version']).error) return t.skip('objdump not found on PATH');
  for (const name of PROGRAMS) {
    const dis = spawnSync('objdump', ['-d', '--no-show-raw-insn', guestPath(name)], {
      encoding: 'utf8',
      maxBuffer: 256 * 1024 * 1024,
    });
    assert.equal(dis.status, 0, dis.stderr);
    const insns = dis.stdout
      .split('\n')
      .map((l) => /^\s*[0-9a-f]+:\t(\S+)\s*(.*)$/.exec(l))
      .filter((m) => m !== null);
    assert.ok(insns.length > 100_000, `${name}: ${insns.length} instructions disassembled`);
    const bad = insns.filter(([, op, args]) => /^f|^emms$/.test(op!) || /%(st|mm\d)/.test(args!));
    assert.deepEqual(
      bad.slice(0, 5).map((m) => m[0].trim()),
      [],
      `${name}: ${bad.length} x87/MMX instructions`,
    );
  }
});

test('a second build changes nothing: SQLite is neither fetched nor compiled again', async () => {
  const cached = (): string[] => readdirSync(SQLITE_CACHE_DIR).sort();
  const before = cached();
  const mtimes = PROGRAMS.map((n) => statSync(guestPath(n)).mtimeMs);
  const started = performance.now();
  await buildGuests({ quiet: true });
  assert.ok(performance.now() - started < 5000);
  assert.deepEqual(cached(), before);
  assert.deepEqual(
    PROGRAMS.map((n) => statSync(guestPath(n)).mtimeMs),
    mtimes,
  );
});

test('a package that cannot be fetched: the build says what failed and what to do', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'skybridge-sqlite-'));
  try {
    await assert.rejects(
      sqliteAmalgamation({
        cacheDir: dir,
        // Nothing listens on the loopback discard port; a private npm cache has no copy.
        env: {
          npm_config_registry: 'http://127.0.0.1:9/',
          npm_config_cache: join(dir, 'npm-cache'),
          npm_config_fetch_retries: '0',
        },
      }),
      (e: Error) => {
        const spec = `${SQLITE_PACKAGE.name}@${SQLITE_PACKAGE.version}`;
        assert.ok(e.message.startsWith(`cannot fetch SQLite: \`npm pack ${spec}\` failed: `));
        assert.match(e.message, /ECONNREFUSED/);
        assert.match(e.message, /Check that the npm registry can be reached/);
        return true;
      },
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
