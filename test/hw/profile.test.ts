// The CPU profile: the default validates and names a source for every figure; a user's
// profile is merged over it and rejected with a message naming the offending field.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ProfileError,
  SKYLAKE,
  loadProfile,
  mergeProfile,
  validateProfile,
} from '../../src/hw/profile.ts';

const dir = mkdtempSync(join(tmpdir(), 'skybridge-profile-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
let n = 0;

/** Writes `text` to a fresh temporary file and returns its path. */
function file(text: string, ext = 'yaml'): string {
  const p = join(dir, `p${n++}.${ext}`);
  writeFileSync(p, text);
  return p;
}

/** Asserts that loading `text` fails with a ProfileError whose message matches `re`. */
function rejects(text: string, re: RegExp): void {
  const p = file(text);
  assert.throws(
    () => loadProfile(p),
    (e: unknown) => e instanceof ProfileError && re.test(e.message) && e.message.includes(p),
    `${text.trim()} → ${re}`,
  );
}

test('the default (Skylake) profile validates and is unchanged by validation', () => {
  assert.deepEqual(validateProfile(SKYLAKE), SKYLAKE);
  assert.deepEqual(loadProfile(file('{}')), SKYLAKE);
});

test('a cache whose size is not sets × ways × line is rejected, naming caches.l2.sizeBytes', () => {
  rejects('caches:\n  l2:\n    sizeBytes: 300000\n', /caches\.l2\.sizeBytes: 300000 is not sets/);
  // A whole number of sets that is not a power of two is rejected too.
  rejects('caches:\n  llc:\n    sizeBytes: 6291456\n', /caches\.llc\.sizeBytes: 6291456/);
});

test('a negative latency is rejected, naming the field', () => {
  rejects('caches:\n  l1d:\n    latency: -1\n', /^profile .*: caches\.l1d\.latency: /);
  rejects('ops:\n  vmfunc: -134\n', /: ops\.vmfunc: /);
});

test('a non-integer way count is rejected, naming the field', () => {
  rejects('caches:\n  l2:\n    ways: 4.5\n', /: caches\.l2\.ways: /);
  rejects('tlb:\n  stlb:\n    ways: 1.5\n', /: tlb\.stlb\.ways: /);
});

test('an unknown field is rejected, naming it', () => {
  rejects('caches:\n  l1d:\n    color: blue\n', /caches\.l1d\.color: unknown field/);
  rejects('bogus: 1\n', /: bogus: unknown field/);
  // The fitted CPI of earlier versions is gone: a profile that sets it is told why.
  rejects(
    'cpi: 0.6\n',
    /cpi: no longer a parameter: kernel code is charged by its instruction mix/,
  );
  rejects('caches:\n  l1d: 3\n', /: caches\.l1d: /);
});

test('a TLB whose entries are not a power-of-two number of sets × ways is rejected', () => {
  rejects('tlb:\n  dtlb4k:\n    entries: 48\n', /tlb\.dtlb4k\.entries: 48 is not a power-of-two/);
  rejects('psc:\n  pde:\n    entries: 30\n', /psc\.pde\.entries: 30/);
});

test('malformed YAML, a non-mapping top level and an unreadable file are ProfileErrors', () => {
  rejects('caches: [1, 2\n', /is not valid YAML\/JSON/);
  rejects('- 1\n- 2\n', /expected a mapping at the top level/);
  rejects('42\n', /expected a mapping at the top level/);
  const missing = join(dir, 'does-not-exist.yaml');
  assert.throws(
    () => loadProfile(missing),
    (e: unknown) =>
      e instanceof ProfileError && e.message.startsWith(`cannot read profile ${missing}`),
  );
});

test('a partial profile overrides only what it names (YAML and JSON)', () => {
  const p = loadProfile(
    file('name: mine\ncaches:\n  l2:\n    latency: 14\nops:\n  vmfunc: 100\nsources:\n  x: y\n'),
  );
  const expected = structuredClone(SKYLAKE);
  expected.name = 'mine';
  expected.caches.l2.latency = 14;
  expected.ops.vmfunc = 100;
  expected.sources.x = 'y';
  assert.deepEqual(p, expected);
  const j = loadProfile(file(JSON.stringify({ tlb: { stlbLatency: 7 } }), 'json'));
  assert.equal(j.tlb.stlbLatency, 7);
  assert.deepEqual({ ...j, tlb: SKYLAKE.tlb }, SKYLAKE);
  // The default itself is not modified by merging.
  assert.equal(SKYLAKE.caches.l2.latency, 12);
  assert.equal(
    (mergeProfile(SKYLAKE, { frequencyGHz: 3 }) as typeof SKYLAKE).caches,
    SKYLAKE.caches,
    'untouched subtrees are shared, not copied',
  );
});

test('every numeric figure of the default profile has a source (its own path or a parent’s)', () => {
  const keys = Object.keys(SKYLAKE.sources);
  const missing: string[] = [];
  const leaves: string[] = [];
  const walk = (o: object, path: string): void => {
    for (const [k, v] of Object.entries(o)) {
      const p = path ? `${path}.${k}` : k;
      if (p === 'sources') continue;
      if (typeof v === 'object' && v !== null) walk(v, p);
      else if (typeof v === 'number') {
        leaves.push(p);
        if (!keys.some((s) => p === s || p.startsWith(`${s}.`))) missing.push(p);
      }
    }
  };
  walk(SKYLAKE, '');
  assert.ok(leaves.length > 60, `walked ${leaves.length} leaves`);
  assert.deepEqual(missing, []);
  // And every source names something that exists.
  const paths = new Set<string>();
  const all = (o: object, path: string): void => {
    for (const [k, v] of Object.entries(o)) {
      const p = path ? `${path}.${k}` : k;
      paths.add(p);
      if (typeof v === 'object' && v !== null && p !== 'sources') all(v, p);
    }
  };
  all(SKYLAKE, '');
  assert.deepEqual(
    keys.filter((k) => !paths.has(k)),
    [],
  );
});

test('a profile with several problems reports every one of them at once', () => {
  const p = file(
    'ops:\n  vmfunc: -1\n  bogus: 2\ncaches:\n  l2:\n    sizeBytes: 300000\ntlb:\n  dtlb4k:\n    entries: 48\nnope: 1\n',
  );
  assert.throws(
    () => loadProfile(p),
    (e: unknown) => {
      assert.ok(e instanceof ProfileError);
      assert.match(e.message, new RegExp(`^profile ${p}: 5 problems:\\n`));
      assert.deepEqual([...e.problems].sort(), [
        'caches.l2.sizeBytes: 300000 is not sets × ways × lineBytes with a power-of-two number of sets (ways 4, lineBytes 64)',
        'nope: unknown field',
        'ops.bogus: unknown field',
        'ops.vmfunc: Too small: expected number to be >=0',
        'tlb.dtlb4k.entries: 48 is not a power-of-two number of sets × 4 ways',
      ]);
      return true;
    },
  );
  // A field with a bad type is reported once, not again by the consistency rules.
  assert.throws(
    () => loadProfile(file('caches:\n  l2:\n    ways: 4.5\n')),
    (e: unknown) => e instanceof ProfileError && e.problems.length === 1,
  );
});
