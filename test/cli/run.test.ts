// `skybridge run` as a user meets it: the program's output passed through, its exit status
// as ours, --json, and one-line errors (never a stack trace) for everything that goes wrong.

import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildGuests, guestPath } from '../../guest/build.mjs';
import { runProgram } from '../../src/experiments/run-program.ts';

const ROOT = join(import.meta.dirname, '../..');

before(async () => {
  await buildGuests({ quiet: true });
});

function cli(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'run', ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...process.env, NO_COLOR: '1' },
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** stderr is exactly one line, our error line, with no stack trace. */
function oneLineError(stderr: string, message: RegExp): void {
  assert.equal(stderr.split('\n').filter((l) => l !== '').length, 1, stderr);
  assert.match(stderr, /^skybridge: error: /);
  assert.match(stderr.trimEnd(), message);
}

test('hello: its stdout and stderr byte for byte, then the summary; exit status 3', () => {
  const r = cli(guestPath('hello'));
  assert.equal(r.status, 3, r.stderr);
  assert.equal(r.stdout, 'Hello from a skybridge guest!\n');
  const [programLine, ...summary] = r.stderr.split('\n');
  assert.equal(programLine, 'hello: this line goes to stderr');
  assert.equal(summary[0], '-- skybridge run on seL4: exit status 3');
  assert.match(summary[1]!, /^cycles [\d,.]+; instructions: user 28, kernel [\d,]+$/);
  assert.match(r.stderr, /│ syscalls +│ +3 │ operations +│/);
});

test('--json: one document with what the library measures for the same run', () => {
  const path = guestPath('hello');
  const r = cli('--json', '--kernel', 'zircon', path);
  assert.equal(r.status, 3, r.stderr);
  assert.equal(r.stderr, '');
  const doc = JSON.parse(r.stdout) as Record<string, unknown>;
  assert.deepEqual(Object.keys(doc), [
    'exit',
    'stdout',
    'stderr',
    'cycles',
    'instructions',
    'counters',
    'warnings',
  ]);
  const lib = runProgram(readFileSync(path), { kernel: 'zircon', args: [path] });
  assert.deepEqual(doc, {
    exit: { kind: 'exited', status: 3 },
    stdout: 'Hello from a skybridge guest!\n',
    stderr: 'hello: this line goes to stderr\n',
    cycles: lib.cycles,
    instructions: lib.instructions,
    counters: lib.counters,
    warnings: [],
  });
});

test('options after PROGRAM are the program’s arguments', () => {
  const path = guestPath('args');
  const r = cli(path, '-x', '--json');
  assert.equal(r.status, 0, r.stderr);
  assert.equal(
    r.stdout,
    `argc=3\nargv[0]="${path}" (${path.length} bytes)\nargv[1]="-x" (2 bytes)\n` +
      'argv[2]="--json" (6 bytes)\nargv[argc] is NULL: yes\n',
  );
});

test('an unknown --kernel is a one-line usage error (exit 2) naming the known ones', () => {
  const r = cli('--kernel', 'linux', guestPath('hello'));
  assert.equal(r.status, 2);
  assert.equal(r.stdout, '');
  oneLineError(r.stderr, /unknown kernel 'linux' \(known: sel4, fiasco, zircon\)$/);
});

test('a bad --max-instructions is a one-line usage error (exit 2)', () => {
  const r = cli('--max-instructions', '0', guestPath('hello'));
  assert.equal(r.status, 2);
  oneLineError(r.stderr, /--max-instructions must be a positive integer, got '0'/);
});

test('a missing file is a one-line error', () => {
  const r = cli('/nonexistent/program');
  assert.equal(r.status, 1);
  assert.equal(r.stdout, '');
  oneLineError(r.stderr, /cannot read \/nonexistent\/program: ENOENT/);
});

test('a file that is not an executable is a one-line error', () => {
  const r = cli('README.md');
  assert.equal(r.status, 1);
  oneLineError(r.stderr, /README\.md: cannot run it: not an ELF file/);
});

test('a fault: exit 1, the line the program printed, one line naming the fault', () => {
  const r = cli(guestPath('ud2'));
  assert.equal(r.status, 1);
  assert.equal(r.stdout, 'executing ud2\n');
  const last = r.stderr.trimEnd().split('\n').at(-1)!;
  assert.match(
    last,
    /^skybridge: error: \S+\/ud2: faulted: exception 6 \(#UD, invalid opcode\) at [0-9a-f]+$/,
  );
  assert.doesNotMatch(r.stderr, /^\s+at /m); // no stack trace
});

test('the budget running out: exit 1 and one line saying so', () => {
  const r = cli('--max-instructions', '5000', guestPath('forever'));
  assert.equal(r.status, 1);
  assert.equal(r.stdout, 'spinning forever\n');
  assert.match(r.stderr, /^-- skybridge run on seL4: instruction budget spent$/m);
  assert.match(
    r.stderr.trimEnd().split('\n').at(-1)!,
    /^skybridge: error: \S+\/forever: stopped after 5000 user instructions \(--max-instructions\): it had not exited$/,
  );
});
