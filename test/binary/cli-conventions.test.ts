// The command's conventions: every file of a multi-file scan is reported (a bad one does not
// hide the others), exit status 0 clean / 3 found / 1 error / 2 usage, --json per file; rewrite
// keeps the input's mode, refuses -o equal to the input unless --in-place.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, readFileSync, statSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { Command } from 'commander';
import { scanElf } from '../../src/binary/scanner.ts';
import { registerBinaryCommands } from '../../src/cli/commands/binary.ts';
import { cli } from './cli-run.ts';
import { fixture, tempDir } from './fixtures.ts';

const dir = tempDir();
const found = fixture('immediate');
const clean = join(dir, 'clean');
execFileSync('gcc', ['-O1', '-o', clean, '-x', 'c', '-'], {
  input: 'int main(void) { return 0; }',
});
const fifo = join(dir, 'cli-fifo');
execFileSync('mkfifo', [fifo]);
const notElf = join(dir, 'fixtures.ts.txt');
copyFileSync(new URL('./fixtures.ts', import.meta.url), notElf);

function copy(name: string, mode: number): string {
  const p = join(dir, name);
  copyFileSync(found, p);
  chmodSync(p, mode);
  return p;
}
const same = copy('same', 0o755);
const inPlace = copy('in-place', 0o700);
const link = join(dir, 'in-place-link');
symlinkSync(inPlace, link);
const withMode = copy('with-mode', 0o750);

const runs = {
  mixed: cli(['scan', found, join(dir, 'missing'), fifo, '/dev/zero', notElf, clean], 60_000),
  foundOnly: cli(['scan', found]),
  json: cli(['scan', '--json', found, notElf]),
  missingArg: cli(['scan']),
  sameOut: cli(['rewrite', same, '-o', same]),
  inPlace: cli(['rewrite', '--in-place', link]),
  withMode: cli(['rewrite', withMode, '-o', `${withMode}.out`]),
  clean: cli(['scan', clean]),
};

test('scan of several files: every one reported, errors one line each, exit 1', async () => {
  const r = await runs.mixed;
  assert.equal(r.status, 1, 'an error outranks a find (the gate must fail either way)');
  assert.deepEqual(r.stderr.trim().split('\n'), [
    `skybridge: error: cannot read ${join(dir, 'missing')}: ENOENT`,
    `skybridge: error: cannot read ${fifo}: not a regular file (a FIFO)`,
    'skybridge: error: cannot read /dev/zero: not a regular file (a character device)',
    `skybridge: error: ${notElf}: not an ELF file (bad magic number)`,
  ]);
  assert.match(r.stdout, new RegExp(`│ ${found} +│ 0x113b`));
  assert.match(r.stdout, new RegExp(`${found}: 1 occurrence\\(s\\) of 0F 01 D4`));
  assert.match(r.stdout, new RegExp(`${clean}: clean in \\d+ bytes`));
});

test('scan exit status: 3 when found, 0 when clean, 2 on a usage error', async () => {
  assert.equal((await runs.foundOnly).status, 3);
  const c = await runs.clean;
  assert.equal(c.status, 0, c.stderr);
  const u = await runs.missingArg;
  assert.equal(u.status, 2);
  assert.match(u.stderr, /^error: missing required argument 'file'/);
});

test('scan --json: one entry per file, errors included', async () => {
  const r = await runs.json;
  assert.equal(r.status, 1);
  const j = JSON.parse(r.stdout) as { file: string; status: string; error?: string }[];
  assert.deepEqual(
    j.map((e) => [e.file, e.status]),
    [
      [found, 'found'],
      [notElf, 'error'],
    ],
  );
  assert.equal(j[1].error, `${notElf}: not an ELF file (bad magic number)`);
});

test('--help of scan and rewrite documents the exit statuses', () => {
  const program = new Command();
  registerBinaryCommands(program);
  for (const cmd of program.commands) {
    let text = '';
    cmd.configureOutput({ writeOut: (t) => (text += t) });
    cmd.outputHelp();
    assert.match(text, /Exit status:\n {2}0 .*\n {2}3 .*\n {2}1 .*\n( {5}.*\n)* {2}2 +usage/);
  }
});

test('rewrite -o naming the input is refused (exit 2) and the input left alone', async () => {
  const before = readFileSync(same);
  const r = await runs.sameOut;
  assert.equal(r.status, 2);
  assert.match(r.stderr, /^error: -o .*same is the input file; add --in-place to replace it/);
  assert.deepEqual(readFileSync(same), before);
});

test('rewrite --in-place replaces the file (through a symlink) and keeps its mode 0700', async () => {
  const r = await runs.inPlace;
  assert.equal(r.status, 0, r.stderr);
  assert.equal(statSync(inPlace).mode & 0o777, 0o700);
  assert.equal(scanElf(readFileSync(inPlace)).kind, 'clean');
  assert.ok(statSync(link).isFile()); // the link still points to it
});

test('rewrite -o keeps the input mode (0750), not 0755', async () => {
  const r = await runs.withMode;
  assert.equal(r.status, 0, r.stderr);
  assert.equal(statSync(`${withMode}.out`).mode & 0o777, 0o750);
});
