// `skybridge profile`: the effective profile as YAML that is itself a valid profile, every
// figure's source as a comment; a file's own figures marked; a bad file's problems all listed.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { SKYLAKE, loadProfile } from '../../src/hw/profile.ts';
import { profileSources } from '../../src/hw/profile-sources.ts';

const BIN = join(import.meta.dirname, '../../bin/skybridge.js');
const dir = mkdtempSync(join(tmpdir(), 'sb-profile-cli-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
function cli(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}
function write(name: string, text: string): string {
  const f = join(dir, name);
  writeFileSync(f, text);
  return f;
}

test('profile prints the default as YAML that loads back to the same profile', () => {
  const r = cli('profile');
  assert.equal(r.status, 0, r.stderr);
  const { sources: _s, ...figures } = SKYLAKE;
  assert.deepEqual(parse(r.stdout), figures);
  assert.deepEqual(loadProfile(write('default.yaml', r.stdout)), SKYLAKE);
  // Sources as comments: one above VMFUNC's figure, one above the whole insn group.
  assert.ok(
    r.stdout.includes(
      '  # SkyBridge (Mi et al., EuroSys 2019), Table 1, its Intel test machine: VMFUNC (EPTP switching)\n  # 134 ± 3 cycles\n  vmfunc: 134\n',
    ),
  );
  assert.match(r.stdout, /\n# reciprocal throughputs on Skylake[^\n]*\n(# [^\n]*\n)+insn:\n/);
});

test("a file's figures are marked with the file and the default they replace", () => {
  const f = write('mine.yaml', 'ops:\n  vmfunc: 200\nsources:\n  ops.vmfunc: measured on my i7\n');
  const r = cli('profile', '--profile', f);
  assert.equal(r.status, 0, r.stderr);
  assert.ok(r.stdout.includes(`  vmfunc: 200 # set by ${f}, default 134: measured on my i7\n`));
  assert.equal(parse(r.stdout).ops.vmfunc, 200);
  const j = JSON.parse(cli('profile', '--profile', f, '--json').stdout) as {
    fields: { path: string; from: string; source?: string }[];
  };
  const vmfunc = j.fields.find((x) => x.path === 'ops.vmfunc')!;
  assert.deepEqual([vmfunc.from, vmfunc.source], ['file', 'measured on my i7']);
  // Every figure has a source but the name.
  const none = profileSources(SKYLAKE)
    .filter((x) => x.source === undefined)
    .map((x) => x.path);
  assert.deepEqual(none, ['name']);
});

test('a bad profile: exit 1, every problem listed', () => {
  const f = write(
    'bad.yaml',
    'ops:\n  vmfunc: -1\ncaches:\n  l2:\n    sizeBytes: 300000\nbogus: 1\n',
  );
  const r = cli('profile', '--profile', f);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /3 problems:/);
  for (const field of ['ops.vmfunc', 'caches.l2.sizeBytes', 'bogus'])
    assert.ok(r.stderr.includes(`\n  ${field}: `), field);
});
